/* SPDX-License-Identifier: MIT */
/*
 * sandbox.c - what a vmm gives up before the first frame from a peer or a
 * guest is looked at.  Everything privileged (TAPs, the namespace, the
 * mappings) is done by then; what is left is a loop of reads and writes
 * on descriptors it already holds, and that is all it may still do.
 *
 * In order: an empty capability bounding set (while we still have
 * CAP_SETPCAP to empty it), a uid and gid of this vmm's own, no
 * capabilities in any set, no_new_privs, and a seccomp allow-list that
 * kills the whole process on anything else.  A compromised vmm can then
 * ring its peers' doorbells, write its own TAPs and scribble on its own
 * links, all of which it could anyway, and nothing more: no new
 * descriptor of any kind (no open, socket, pipe, dup, mmap of a file it
 * does not have), no exec, no ptrace, no signal to anyone, not even to
 * another vmm (each has its own uid).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm.h"

/* The descriptors the datapath reads, writes and watches. */
struct fdset {
	int *fd;
	unsigned n, cap;
};

static void fd_add(struct fdset *s, int fd)
{
	if (fd >= 0 && s->n < s->cap)
		s->fd[s->n++] = fd;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* Syscall nr allowed when its first argument is one of s's descriptors.
 * A rule per descriptor would not fit a filter (BPF programs end at 4096
 * instructions) for a switch with a thousand links, so runs of numbers
 * (main.c renumbers the doorbells into two) are covered by aligned
 * power-of-two blocks, each one masked compare: exactly the set, in
 * O(log n) rules per run. */
static int allow_on(scmp_filter_ctx ctx, int nr, struct fdset *s)
{
	qsort(s->fd, s->n, sizeof(s->fd[0]), cmp_int);
	for (unsigned i = 0; i < s->n;) {
		unsigned j = i;
		while (j + 1 < s->n && s->fd[j + 1] <= s->fd[j] + 1)
			j++;
		uint64_t lo = (uint64_t)s->fd[i], hi = (uint64_t)s->fd[j];
		while (lo <= hi) {
			uint64_t size = 1;
			while ((lo & (size * 2 - 1)) == 0 && lo + size * 2 - 1 <= hi)
				size *= 2;
			struct scmp_arg_cmp in = { .arg = 0, .op = SCMP_CMP_MASKED_EQ,
						   .datum_a = ~(size - 1), .datum_b = lo };
			int err = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &in);
			if (err)
				return err;
			lo += size;
		}
		i = j + 1;
	}
	return 0;
}

/*
 * The allow-list: what strace shows a running vmm doing, release and ASan
 * builds alike, carrying frames, losing a TAP and going down (read, write,
 * epoll_wait, epoll_ctl, close, exit_group), and what malloc and the C
 * library may need on a path strace did not happen to see (memory, never
 * executable; the clock if the vDSO falls back; signal masks and
 * returns).  Not yet: timerfd (impairments), recvmsg and eventfd
 * (vhost-user) - each comes with the code that needs it.  A sanitizer
 * report needs more (it opens /proc/self/maps, runs a symbolizer): in a
 * sanitizer build a vmm that trips one dies of SIGSYS partway through
 * its report.
 */
static int build_filter(scmp_filter_ctx ctx, const struct vmm *m, int ready_fd,
			struct fdset *rd, struct fdset *wr)
{
	struct fdset ep = { .fd = (int[1]){ 0 }, .cap = 1 };
	fd_add(rd, m->sigfd);
	fd_add(rd, m->timer_fd);
	fd_add(rd, m->ctl_fd);
	fd_add(wr, 2);              /* our messages, into the supervisor's log */
	fd_add(wr, ready_fd);
	fd_add(&ep, m->epfd);
	for (unsigned i = 0; i < m->n_links; i++) {
		fd_add(rd, m->links[i].bell);
		fd_add(wr, m->links[i].peer_bell);
	}
	for (unsigned i = 0; i < m->n_ifc; i++) {
		fd_add(rd, m->ifc[i].port.fd);
		fd_add(wr, m->ifc[i].port.fd);
	}
	int err = 0;
	/* A QEMU guest's device gets new descriptors all along (the
	 * connection, the eventfds and memory fds QEMU sends), whose numbers
	 * no filter can know now: for it, read, write and the socket calls on
	 * any descriptor.  It still cannot make one itself (no open, socket,
	 * pipe), exec, or signal anyone. */
	if (m->node->kind == LAB_GUEST && m->node->guest_kind == LAB_KIND_QEMU) {
		static const int vhost[] = {
			SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(accept4), SCMP_SYS(recvmsg),
			SCMP_SYS(sendmsg), SCMP_SYS(sendto), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
		};
		/* fcntl: only to read a memory fd's seals and make eventfds
		 * non-blocking */
		static const int fcntl_ops[] = { F_GET_SEALS, F_SETFL };
		for (size_t i = 0; !err && i < 2; i++) {
			struct scmp_arg_cmp op = { .arg = 1, .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)fcntl_ops[i] };
			err = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1, &op);
		}
		for (size_t i = 0; !err && i < sizeof(vhost) / sizeof(vhost[0]); i++)
			err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, vhost[i], 0);
	}
	if (!err) err = allow_on(ctx, SCMP_SYS(read), rd);
	if (!err) err = allow_on(ctx, SCMP_SYS(readv), rd);
	if (!err) err = allow_on(ctx, SCMP_SYS(write), wr);
	if (!err) err = allow_on(ctx, SCMP_SYS(writev), wr);
	if (!err) err = allow_on(ctx, SCMP_SYS(epoll_wait), &ep);
	if (!err) err = allow_on(ctx, SCMP_SYS(epoll_pwait), &ep);
	if (!err) err = allow_on(ctx, SCMP_SYS(epoll_ctl), &ep);
	struct fdset tm = { .fd = (int[1]){ 0 }, .cap = 1 };
	fd_add(&tm, m->timer_fd);
	if (!err) err = allow_on(ctx, SCMP_SYS(timerfd_settime), &tm);
	/* memory for malloc: anonymous or our own mappings, never executable */
	struct scmp_arg_cmp no_exec = { .arg = 2, .op = SCMP_CMP_MASKED_EQ,
					.datum_a = PROT_EXEC, .datum_b = 0 };
	if (!err) err = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, &no_exec);
	if (!err) err = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, &no_exec);
	static const int plain[] = {
		SCMP_SYS(close),          /* a TAP that is gone; the ready pipe */
		SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(brk),
		SCMP_SYS(clock_gettime), SCMP_SYS(sched_yield),
		SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
		SCMP_SYS(exit_group), SCMP_SYS(exit),
	};
	for (size_t i = 0; !err && i < sizeof(plain) / sizeof(plain[0]); i++)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, plain[i], 0);
	return err;
}

static void seccomp_enter(const struct vmm *m, int ready_fd)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		vmm_fail("seccomp: cannot set up a filter");
	unsigned cap = 2 * m->n_links + 2 * m->n_ifc + 8;
	struct fdset rd = { .fd = malloc(cap * sizeof(int)), .cap = cap };
	struct fdset wr = { .fd = malloc(cap * sizeof(int)), .cap = cap };
	if (!rd.fd || !wr.fd)
		vmm_fail("seccomp: out of memory");
	int err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (!err)
		err = build_filter(ctx, m, ready_fd, &rd, &wr);
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	free(rd.fd);
	free(wr.fd);
	if (err)
		vmm_fail("seccomp: %s", strerror(-err));
}

/* Every capability out of the bounding set, so nothing we could ever exec
 * or gain (file capabilities, a setuid binary) brings one back.  Needs
 * CAP_SETPCAP: before the uid change. */
static void drop_bounding_set(void)
{
	for (unsigned long cap = 0;; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		if (errno == EINVAL && cap > 0)   /* past the kernel's last one */
			return;
		vmm_fail("cannot drop capability %lu from the bounding set: %s", cap,
			 strerror(errno));
	}
}

/* The uid change empties the permitted and effective sets; the
 * inheritable and ambient ones we empty ourselves. */
static void drop_capabilities(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) < 0)
		vmm_fail("capset: %s", strerror(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		vmm_fail("cannot clear ambient capabilities: %s", strerror(errno));
}

void vmm_sandbox(const struct vmm *m, pid_t supervisor, uid_t uid, int ready_fd)
{
	gid_t gid = (gid_t)uid;
	drop_bounding_set();
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		vmm_fail("cannot drop privileges: %s", strerror(errno));
	drop_capabilities();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		vmm_fail("no_new_privs: %s", strerror(errno));
	/* changing credentials cleared the parent-death signal: set it, and
	 * check the parent did not go meanwhile */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != supervisor)
		vmm_fail("the supervisor is gone");
	seccomp_enter(m, ready_fd);
}
