/* SPDX-License-Identifier: MIT */
#include "sys.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int sys_memfd_sealed(const char *name, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int sys_memfd_text(const char *name, const void *data, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0 || pwrite(fd, data, len, 0) != (ssize_t)len ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		int err = errno ? -errno : -EIO;
		close(fd);
		return err;
	}
	return fd;
}

void *sys_map_sealed(int fd, size_t *len, int *err)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || fstat(fd, &st) < 0) {
		*err = -errno;
		return NULL;
	}
	if (!(seals & F_SEAL_SHRINK) || st.st_size <= 0) {
		*err = -EPERM;
		return NULL;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	*len = (size_t)st.st_size;
	*err = 0;
	return p;
}

int sys_bell(int bell[2])
{
	return pipe2(bell, O_NONBLOCK | O_CLOEXEC) < 0 ? -errno : 0;
}

int sys_ring(int fd)
{
	/* eight bytes: an eventfd's counter increment, or a pipe's "look" */
	uint64_t one = 1;
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

int sys_clear(int fd)
{
	/* bounded: a peer ringing without pause must not keep us here; what
	 * is left wakes us again */
	char buf[256];
	ssize_t n = 0;
	for (int i = 0; i < 16; i++)
		if ((n = read(fd, buf, sizeof(buf))) != (ssize_t)sizeof(buf))
			break;
	return n < 0 && errno != EAGAIN ? -errno : 0;
}

char *sys_read_fd(int fd, size_t max, size_t *len, int *err)
{
	struct stat st;
	bool seekable = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	*err = 0;
	while (buf) {
		if (n + 1 >= cap) {
			if (n > max)
				break;
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		ssize_t r = seekable ? pread(fd, buf + n, cap - n - 1, (off_t)n)
				     : read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*err = -errno;
			break;
		}
		if (r == 0) {
			if (n > max)
				break;
			buf[n] = 0;
			*len = n;
			return buf;
		}
		n += (size_t)r;
	}
	if (!*err)
		*err = buf && n > max ? -EFBIG : -ENOMEM;
	free(buf);
	return NULL;
}

int sys_close_all_but(const int *keep, unsigned n)
{
	/* the gaps between the kept descriptors, lowest first: no copy to
	 * sort, so no limit on n (n^2 looks, for a few thousand at most) */
	unsigned lo = 3;
	for (;;) {
		int next = -1;
		for (unsigned i = 0; i < n; i++)
			if (keep[i] >= (int)lo && (next < 0 || keep[i] < next))
				next = keep[i];
		if (next < 0)
			break;
		if ((unsigned)next > lo && syscall(SYS_close_range, lo, (unsigned)next - 1, 0) < 0)
			return -errno;
		lo = (unsigned)next + 1;
	}
	return syscall(SYS_close_range, lo, ~0u, 0) < 0 ? -errno : 0;
}

pid_t sys_fork_ns(uint64_t flags, int *pidfd)
{
	struct clone_args args;
	memset(&args, 0, sizeof(args));
	args.flags = flags | CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)pidfd;
	args.exit_signal = SIGCHLD;
	long pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0)
		return -errno;
	return (pid_t)pid;   /* the kernel made the pidfd close-on-exec */
}

pid_t sys_spawn(int (*fn)(void *), void *arg, void *stack, size_t size, int *pidfd)
{
	/* the stack grows down from its end, kept 16-byte aligned */
	uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
	int pid = clone(fn, (void *)top, CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_PIDFD | SIGCHLD,
			arg, pidfd);
	return pid < 0 ? -errno : pid;
}

int sys_spawn_keep(pid_t parent, const int *keep, unsigned n)
{
	/* a table of our own with only 0-2 in it: nothing else is copied */
	if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_UNSHARE) < 0)
		return -errno;
	int from = (int)syscall(SYS_pidfd_open, parent, 0);
	if (from < 0)
		return -errno;
	/* the parent we were given, not a reaper that took us over since */
	int err = getppid() == parent ? 0 : -ESRCH;
	for (unsigned i = 0; !err && i < n; i++) {
		int fd = keep[i];
		if (fd < 0)
			continue;
		if (fd < 3 || (fd != from && fcntl(fd, F_GETFD) >= 0)) {
			/* there already (0-2, or a repeat): ours now, to keep */
			if (fcntl(fd, F_SETFD, 0) < 0)
				err = -errno;
			continue;
		}
		if (fd == from) {
			/* our pidfd is in the way: to the lowest free number */
			int moved = fcntl(from, F_DUPFD_CLOEXEC, 3);
			if (moved < 0) {
				err = -errno;
				break;
			}
			close(from);
			from = moved;
		}
		/* at the lowest free number: fd itself, or one to move it from */
		int t = (int)syscall(SYS_pidfd_getfd, from, fd, 0);
		if (t < 0)
			err = -errno;
		else if (t == fd ? fcntl(fd, F_SETFD, 0) < 0 : dup3(t, fd, 0) < 0)
			err = -errno;
		if (t >= 0 && t != fd)
			close(t);
	}
	close(from);
	return err;
}

int sys_raise_nofile(unsigned long *soft)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	*soft = (unsigned long)rl.rlim_cur;
	return 0;
}

int sys_fd_is_at(int fd, int dirfd, const char *path, int flags)
{
	struct stat held, now;
	return fstat(fd, &held) == 0 && fstatat(dirfd, path, &now, flags) == 0 &&
	       held.st_dev == now.st_dev && held.st_ino == now.st_ino;
}

uint64_t sys_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
