/* SPDX-License-Identifier: MIT */
/*
 * sys.h - the few system calls around shared links, in one place.
 *
 * Unlike the other libraries under lib/, this one talks to the kernel; it
 * still never prints or exits.  Functions return 0 / a value, or -errno.
 */
#ifndef VQNET_SYS_H
#define VQNET_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A memfd of len bytes sealed against shrinking and growing (and against
 * further sealing), so a peer mapping it can never be cut short: returns
 * the fd (close-on-exec) or -errno. */
int sys_memfd_sealed(const char *name, size_t len);

/* A memfd holding exactly data[0..len), sealed against any change: for
 * text we hand to another process as "what was checked".  fd or -errno. */
int sys_memfd_text(const char *name, const void *data, size_t len);

/* Map a memfd someone else created, read-write and shared.  Refuses one
 * that is not sealed against shrinking (a peer could otherwise truncate it
 * and turn our next access into SIGBUS).  *len gets its size. */
void *sys_map_sealed(int fd, size_t *len, int *err);

/* A doorbell: a non-blocking, close-on-exec pipe.  bell[0] is what its
 * owner waits on (and clears), bell[1] what the peer rings; each side gets
 * only its end.  A pipe rather than an eventfd because a pipe write is a
 * "sync" wakeup: the scheduler prefers to run the woken side on the ringing
 * CPU, which saves an inter-processor interrupt per kick (a large share of
 * the round trip on a virtual machine).  Returns 0 or -errno. */
int sys_bell(int bell[2]);

/* Ring a doorbell; a full pipe or counter (EAGAIN) already means "rung".
 * Works on an eventfd as well as on a pipe. */
int sys_ring(int fd);

/* Clear a doorbell (a pipe or an eventfd); 0 even if it was not rung. */
int sys_clear(int fd);

/* The whole content of fd (a regular file or memfd from offset 0, anything
 * else until EOF) in a malloc'd, NUL-terminated buffer of *len bytes; NULL
 * with *err = -EFBIG when it holds more than max bytes, or -errno.  The
 * one whole-fd reader of the project. */
char *sys_read_fd(int fd, size_t max, size_t *len, int *err);

/* Close every descriptor from 3 up except the n in keep (any order):
 * really closed, not merely marked close-on-exec, so a process that never
 * execs holds nothing it was not handed.  0 or -errno. */
int sys_close_all_but(const int *keep, unsigned n);

/* fork(2) into new namespaces (CLONE_NEW* flags): clone3 without a new
 * stack, so the child runs on a copy of ours, as after fork.  *pidfd gets
 * a pidfd of the child (close-on-exec).  Child: 0; parent: its pid (as
 * our namespace sees it); -errno on failure. */
pid_t sys_fork_ns(uint64_t flags, int *pidfd);

/* Start a child to exec something, as vfork(2) does: it shares our memory
 * and we wait until it has exec'd (or exited), so none of our page tables
 * are copied, which a supervisor holding thousands of mappings would pay
 * for every child.  It shares our descriptor table too, so that is not
 * copied either (nor closed again at exec, one descriptor at a time: for
 * a supervisor holding ten thousand, that was most of what a child cost).
 * fn(arg) runs on stack[0..size), must first call sys_spawn_keep (before
 * that, any descriptor it opens or closes is ours), then only set up
 * signals and exec or _exit; it may not return.  *pidfd gets a pidfd of
 * the child (close-on-exec).  The child's pid, or -errno. */
pid_t sys_spawn(int (*fn)(void *), void *arg, void *stack, size_t size, int *pidfd);

/* In sys_spawn's child: a descriptor table of its own holding 0-2 and the
 * n descriptors in keep (-1s skipped), at the numbers they have in
 * parent's (the caller of sys_spawn: pass its getpid()) and not
 * close-on-exec.  Each is taken from the parent with pidfd_getfd(2), which
 * needs the right to ptrace it (root has).  0, -ESRCH if parent is gone
 * (we may have been handed to a reaper meanwhile: nothing is taken from
 * that), or -errno; on failure the child holds those before the failed
 * one, and none of the parent's others. */
int sys_spawn_keep(pid_t parent, const int *keep, unsigned n);

/* Raise RLIMIT_NOFILE's soft limit to the hard one; *soft gets the limit
 * now in force.  0 or -errno. */
int sys_raise_nofile(unsigned long *soft);

/* Monotonic clock in nanoseconds. */
uint64_t sys_now_ns(void);

/* Does path (relative to dirfd, or AT_FDCWD) still name the file fd has
 * open?  flags as fstatat's (AT_SYMLINK_NOFOLLOW).  For a lock file: once
 * locked, a file its last holder unlinked is no longer the lock. */
int sys_fd_is_at(int fd, int dirfd, const char *path, int flags);

#endif
