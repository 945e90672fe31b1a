/* SPDX-License-Identifier: MIT */
/*
 * Bring-up: guests (namespaces and their init), links, stats, vmms.
 *
 * Every step checks whether the lab should stop coming up: a signal (a
 * `down`, or Ctrl-C relayed by `up`) or `vqnet up` gone (its end of the
 * status pipe closed): either way the caller tears down what is made.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "link.h"
#include "netns.h"
#include "sup.h"
#include "sys.h"
#include "uidslot.h"

#define READY_TIMEOUT_MS 15000

/* Should we stop coming up?  Drains the signalfd (reaping on SIGCHLD). */
static bool interrupted(char *msg, size_t len)
{
	struct signalfd_siginfo si;
	bool stop = false;
	while (read(S.sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			sup_reap();
		} else if (!stop) {
			snprintf(msg, len, "interrupted by signal %u while coming up", si.ssi_signo);
			stop = true;
		}
	}
	struct pollfd p = { .fd = S.status_fd, .events = 0 };
	if (!stop && S.status_fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP))) {
		snprintf(msg, len, "vqnet up went away while the lab came up");
		stop = true;
	}
	return stop;
}

/* ---- uids ------------------------------------------------------------------ */

/*
 * Every vmm runs under a uid of its own, so that no vmm (nor any other
 * unprivileged process) can signal, trace or read another: uid =
 * VMM_UID_BASE + slot * VMM_UIDS_PER_LAB + role * SUP_ROLE_UIDS + node,
 * where the role is the vmm's, a VM's QEMU's or its agentd's.  A lab's slot is a file
 * in RUN_DIR/uids that its supervisor keeps locked for its whole life, so
 * two live labs never share one; a dead supervisor's vmms die with it, so
 * its slot is free again.  The range is far above any uid a distribution
 * hands out (Debian's dynamic users stop at 65519, subuid ranges at a few
 * million).
 */
#define VMM_UID_BASE 0x60000000u
#define VMM_UIDS_PER_LAB 65536u
#define VMM_UID_SLOTS 4096u

uid_t sup_uid(unsigned role, unsigned node)
{
	return VMM_UID_BASE + S.slot * VMM_UIDS_PER_LAB + role * SUP_ROLE_UIDS + node;
}

static int take_uid_slot(char *msg, size_t len)
{
	if (S.lab->n_nodes > SUP_ROLE_UIDS) {
		snprintf(msg, len, "more than %u nodes", SUP_ROLE_UIDS);
		return -1;
	}
	/* start where the lab's name points, so labs rarely probe far */
	unsigned h = 2166136261u;
	for (const char *c = S.lab->name; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	int fd = uid_slot_take(UID_SLOT_DIR, h % VMM_UID_SLOTS, VMM_UID_SLOTS, &S.slot);
	if (fd == -EBUSY) {
		snprintf(msg, len, "all %u uid slots are taken", VMM_UID_SLOTS);
		return -1;
	}
	if (fd < 0) {
		snprintf(msg, len, "uid slot in %s: %s", UID_SLOT_DIR, strerror(-fd));
		return -1;
	}
	S.slot_fd = fd;
	return 0;
}

/* ---- guests: a network, PID and mount namespace each ------------------------- */

/*
 * pid 1 of a guest: the namespaces it was cloned into are the guest's.
 * It gives the guest its own /proc (its processes only: nothing of
 * vqnet's can be seen, opened or signalled from inside) and /sys (its
 * interfaces), hides RUN_DIR and the named namespaces under empty
 * tmpfs, then reaps whatever is orphaned inside until it is killed.
 * This is a fence against mistakes, not a security boundary: the guest's
 * programs are root, and root can leave a namespace (docs/DESIGN.md).
 */
/* Hide the named namespaces from the guest.  Its copy of NETNS_DIR, a
 * shared mount as iproute2 makes it, is first detached: left a slave of
 * the host's, every namespace named after this guest (the next guests',
 * other labs') would be mounted into it too, so guest k of a lab would
 * cost k mounts (a thousand guests, half a million), and it would hold
 * every namespace named before it.  Then an empty tmpfs goes on top. */
static int hide_netns_dir(void)
{
	umount2(NETNS_DIR, MNT_DETACH);   /* EINVAL: not a mount here, nothing to do */
	return mount("tmpfs", NETNS_DIR, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		     "mode=0755,size=16k");
}

__attribute__((noreturn)) static void guest_init(int ready)
{
	const char *what = NULL;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "vqnet-init");   /* what ps -o comm shows inside */
	if (mount("", "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		what = "make / a slave";
	else if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		what = "mount /proc";
	else if (mount("tmpfs", RUN_DIR, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700,size=16k") < 0)
		what = "hide " RUN_DIR;
	else if (access(NETNS_DIR, F_OK) == 0 && hide_netns_dir() < 0)
		what = "hide " NETNS_DIR;
	/* /sys shows the namespace of whoever mounts it: cosmetic, if it fails */
	if (!what && umount2("/sys", MNT_DETACH) == 0)
		mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	if (what) {
		dprintf(ready, "error: cannot %s: %s\n", what, strerror(errno));
		_exit(1);
	}
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	if (write(ready, "ok\n", 3) != 3)
		_exit(1);
	sys_close_all_but(NULL, 0);
	sigset_t all, chld;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		sigwaitinfo(&chld, NULL);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

/* Clone every guest's init, then name each one's network namespace once
 * it reports ready. */
static int make_guests(char *msg, size_t len)
{
	const struct lab *lab = S.lab;
	int *ready = calloc(lab->n_nodes, sizeof(*ready));
	if (!ready) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	int rc = 0;
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct sup_node *n = &S.nodes[i];
		ready[i] = -1;
		if (lab->nodes[i].kind != LAB_GUEST || lab->nodes[i].guest_kind != LAB_KIND_NETNS)
			continue;
		int pfd[2];
		if (interrupted(msg, len) || pipe2(pfd, O_CLOEXEC) < 0) {
			if (!msg[0])
				snprintf(msg, len, "pipe: %s", strerror(errno));
			rc = -1;
			break;
		}
		pid_t pid = sys_fork_ns(CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWNS, &n->init_fd);
		if (pid == 0) {
			close(pfd[0]);
			guest_init(pfd[1]);
		}
		close(pfd[1]);
		if (pid < 0) {
			close(pfd[0]);
			snprintf(msg, len, "%s: cannot make its namespaces: %s", lab->nodes[i].name,
				 strerror(-pid));
			rc = -1;
			break;
		}
		n->init = pid;
		ready[i] = pfd[0];
	}
	uint64_t deadline = sys_now_ns() + READY_TIMEOUT_MS * 1000000ull;
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		if (ready[i] < 0)
			continue;
		char line[300] = "";
		struct pollfd p = { .fd = ready[i], .events = POLLIN };
		uint64_t now = sys_now_ns();
		int r = rc ? -1 : poll(&p, 1, now >= deadline ? 0 : (int)((deadline - now) / 1000000) + 1);
		ssize_t got = r > 0 ? read(ready[i], line, sizeof(line) - 1) : -1;
		close(ready[i]);
		line[got > 0 ? got : 0] = 0;
		line[strcspn(line, "\n")] = 0;
		if (rc)
			continue;
		if (strcmp(line, "ok")) {
			snprintf(msg, len, "%s: %s", lab->nodes[i].name,
				 got > 0 ? line + (strncmp(line, "error: ", 7) ? 0 : 7)
				 : r == 0 ? "its init did not report" : "its init died");
			rc = -1;
			continue;
		}
		struct sup_node *n = &S.nodes[i];
		int err = netns_attach(n->netns, n->init);
		if (err) {
			snprintf(msg, len, "cannot create namespace %s: %s", n->netns,
				 err == -EEXIST ? "it already exists" : strerror(-err));
			rc = -1;
			continue;
		}
		n->netns_made = true;
	}
	free(ready);
	return rc;
}

/* ---- links and stats ----------------------------------------------------------- */

static int make_links(char *msg, size_t len)
{
	struct lab *lab = S.lab;
	size_t bytes = vq_link_bytes(VQ_LINK_NUM_DEFAULT, VQ_LINK_CHUNK_DEFAULT);
	for (unsigned i = 0; i < lab->n_links; i++) {
		struct sup_link *l = &S.links[i];
		if (interrupted(msg, len))
			return -1;
		l->mem = sys_memfd_sealed("vqnet-link", bytes);
		int err = l->mem < 0 ? l->mem : sys_bell(l->bell[0]);
		if (!err)
			err = sys_bell(l->bell[1]);
		if (err < 0) {
			snprintf(msg, len, "link %u: %s", i, strerror(-err));
			return -1;
		}
		size_t mlen;
		void *mem = sys_map_sealed(l->mem, &mlen, &err);
		if (!mem || (err = vq_link_format(mem, mlen, VQ_LINK_NUM_DEFAULT,
						  VQ_LINK_CHUNK_DEFAULT, true))) {
			snprintf(msg, len, "link %u: %s", i, mem ? vq_strerror(err) : strerror(-err));
			if (mem)
				munmap(mem, mlen);
			return -1;
		}
		munmap(mem, mlen);
	}
	return 0;
}

/* A filter's rules in force: its lab lines and its rules file, in order. */
static int load_rules(unsigned idx, char *msg, size_t len)
{
	struct sup_node *n = &S.nodes[idx];
	const struct lab_filter *f = &S.lab->nodes[idx].filter;
	if (n->rules_fd >= 0) {
		size_t tlen;
		int err;
		char *text = sys_read_fd(n->rules_fd, 1u << 24, &tlen, &err);
		struct lab_error le = { .line = 0, .msg = "unreadable" };
		if (!text || lab_parse_rules(text, tlen, &n->file_rules, &n->n_file_rules, &le)) {
			snprintf(msg, len, "rules of %s: line %u: %s", S.lab->nodes[idx].name, le.line, le.msg);
			free(text);
			return -1;
		}
		free(text);
	}
	n->rules = calloc(f->n_rules + n->n_file_rules + 1, sizeof(*n->rules));
	if (!n->rules) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	n->n_rules = lab_filter_rules(f, n->file_rules, n->n_file_rules, n->rules);
	return 0;
}

static int make_stats(unsigned idx, char *msg, size_t len)
{
	struct sup_node *n = &S.nodes[idx];
	const struct lab_node *node = &S.lab->nodes[idx];
	unsigned nl = lab_node_links(node);
	int err;
	n->stats_fd = sys_memfd_sealed("vqnet-stats", vmm_stats_bytes(node->n_ifaces, nl, n->n_rules));
	if (n->stats_fd < 0 || !(n->stats = sys_map_sealed(n->stats_fd, &n->stats_len, &err))) {
		snprintf(msg, len, "stats of %s: %s", node->name,
			 strerror(n->stats_fd < 0 ? -n->stats_fd : -err));
		return -1;
	}
	n->stats->magic = VMM_STATS_MAGIC;
	n->stats->n_ifaces = node->n_ifaces;
	n->stats->n_links = nl;
	n->stats->n_rules = n->n_rules;
	return 0;
}

/* ---- vmms ---------------------------------------------------------------------- */

/* The descriptors node idx's vmm gets for its k-th link: the link's memfd,
 * the read end of its own doorbell, the write end of its peer's. */
static void link_fds(unsigned idx, unsigned iface, unsigned li, int fds[3])
{
	int side = lab_link_side(S.lab, li, idx, iface);
	const struct sup_link *sl = &S.links[li];
	fds[0] = sl->mem;
	fds[1] = sl->bell[side][0];
	fds[2] = sl->bell[side ^ 1][1];
}

/* What the child of sup_spawn_vmm does, sharing our memory until it
 * execs (sys_spawn): a descriptor table of its own with only what the vmm
 * gets, signals unblocked, exec. */
struct vmm_exec {
	const char *exe;
	char **argv;
	const int *keep;
	unsigned n_keep;
	pid_t parent;        /* us */
	/* what failed in the child, told through the memory it shares with
	 * us (its descriptors may be what it could not get): errno, at the
	 * exec or before it */
	int err;
	bool at_exec;
};

static int vmm_exec(void *arg)
{
	struct vmm_exec *x = arg;
	int err = sys_spawn_keep(x->parent, x->keep, x->n_keep);
	if (err) {
		x->err = -err;
		_exit(127);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(x->exe, x->argv);
	x->err = errno;
	x->at_exec = true;
	_exit(127);
}

int sup_spawn_vmm(unsigned idx, char *msg, size_t len)
{
	struct sup_node *n = &S.nodes[idx];
	const struct lab_node *node = &S.lab->nodes[idx];
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(msg, len, "pipe: %s", strerror(errno));
		return -1;
	}
	/* argv, built before fork: exec is all the child does */
	enum { FIXED = 24, NUMS = 8 };
	unsigned nl = lab_node_links(node);
	char **argv = calloc(FIXED + 2 * (nl + node->n_ifaces) + 1, sizeof(char *));
	char (*num)[64] = calloc(NUMS + nl + node->n_ifaces, sizeof(*num));
	char exe[PATH_MAX];
	if (!argv || !num) {
		free(argv);
		free(num);
		close(pfd[0]);
		close(pfd[1]);
		snprintf(msg, len, "out of memory");
		return -1;
	}
	snprintf(exe, sizeof(exe), "%s/vqnet-vmm", self_dir());
	unsigned a = 0;
	argv[a++] = "vqnet-vmm";
	argv[a++] = "--supervisor";
	argv[a++] = S.pid_arg;
	argv[a++] = "--node";
	argv[a++] = (char *)node->name;
	/* the lab's name, which the file need not say: MACs are derived from it */
	argv[a++] = "--lab";
	argv[a++] = S.lab->name;
	snprintf(num[4], sizeof(num[4]), "%u", (unsigned)sup_uid(SUP_ROLE_VMM, idx));
	argv[a++] = "--uid";
	argv[a++] = num[4];
	/* its control pipe: we write (never blocking), it reads */
	int cp[2];
	if (pipe2(cp, O_CLOEXEC | O_NONBLOCK) < 0) {   /* both ends: neither of us ever waits */
		snprintf(msg, len, "pipe: %s", strerror(errno));
		free(argv);
		free(num);
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	snprintf(num[5], sizeof(num[5]), "%d", cp[0]);
	argv[a++] = "--ctl-fd";
	argv[a++] = num[5];
	snprintf(num[6], sizeof(num[6]), "%llu", (unsigned long long)S.seed);
	argv[a++] = "--seed";
	argv[a++] = num[6];
	if (n->vm) {
		for (unsigned i = 0; i < node->n_ifaces; i++) {
			snprintf(num[NUMS + nl + i], sizeof(num[0]), "%u=%d", i, n->vm->vhost_fd[i]);
			argv[a++] = "--vhost";
			argv[a++] = num[NUMS + nl + i];
		}
	} else if (node->kind == LAB_GUEST) {
		argv[a++] = "--netns";
		argv[a++] = n->netns;
	} else if (n->rules_fd >= 0) {
		snprintf(num[3], sizeof(num[3]), "%d", n->rules_fd);
		argv[a++] = "--rules-fd";
		argv[a++] = num[3];
	}
	snprintf(num[0], sizeof(num[0]), "%d", S.lab_fd);
	snprintf(num[1], sizeof(num[1]), "%d", pfd[1]);
	snprintf(num[2], sizeof(num[2]), "%d", n->stats_fd);
	argv[a++] = "--lab-fd";
	argv[a++] = num[0];
	argv[a++] = "--ready-fd";
	argv[a++] = num[1];
	argv[a++] = "--stats-fd";
	argv[a++] = num[2];
	if (n->cap_fd >= 0) {
		snprintf(num[7], sizeof(num[7]), "%d", n->cap_fd);
		argv[a++] = "--capture-fd";
		argv[a++] = num[7];
	}
	/* the descriptors it gets (everything we hold is close-on-exec): its
	 * own, its NICs' sockets, three per link */
	int *keep = calloc(6 + node->n_ifaces + 3 * nl, sizeof(*keep));
	unsigned nk = 0;
	int fixed[6] = { pfd[1], S.lab_fd, n->stats_fd, n->rules_fd, cp[0], n->cap_fd };
	for (unsigned i = 0; keep && i < 6; i++)
		keep[nk++] = fixed[i];
	for (unsigned i = 0; keep && n->vm && i < node->n_ifaces; i++)
		keep[nk++] = n->vm->vhost_fd[i];
	unsigned k = NUMS;
	for (unsigned i = 0; keep && i < node->n_ifaces; i++) {
		for (unsigned j = 0; j < node->ifaces[i].n_links; j++, k++, nk += 3) {
			unsigned li = node->ifaces[i].links[j];
			int *fds = keep + nk;
			link_fds(idx, i, li, fds);
			snprintf(num[k], sizeof(num[k]), "%u=%d,%d,%d", li, fds[0], fds[1], fds[2]);
			argv[a++] = "--link";
			argv[a++] = num[k];
		}
	}
	argv[a] = NULL;

	int pidfd = -1;
	pid_t pid = -ENOMEM;
	bool told = false;   /* msg says why already */
	if (keep) {
		/* a stack for the child while it borrows our memory */
		static _Alignas(16) char stack[1 << 18];
		struct vmm_exec x = { exe, argv, keep, nk, getpid(), 0, false };
		pid = sys_spawn(vmm_exec, &x, stack, sizeof(stack), &pidfd);
		if (pid > 0 && x.err) {
			/* it has exited, as a vfork child does before we go on */
			waitpid(pid, NULL, 0);
			close(pidfd);
			if (x.at_exec)
				snprintf(msg, len, "cannot start the vmm of %s: cannot run %s: %s",
					 node->name, exe, strerror(x.err));
			else
				snprintf(msg, len, "cannot start the vmm of %s: cannot hand it its "
					 "descriptors: %s", node->name, strerror(x.err));
			told = true;
		}
	}
	free(keep);
	free(argv);
	free(num);
	close(pfd[1]);
	close(cp[0]);
	if (n->ctl_fd >= 0)
		close(n->ctl_fd);
	n->ctl_fd = cp[1];
	if (pid < 0 || told) {
		close(pfd[0]);
		if (!told)
			snprintf(msg, len, "cannot start the vmm of %s: %s", node->name, strerror(-pid));
		return -1;
	}
	n->pid = pid;
	n->pidfd = pidfd;
	n->ready = pfd[0];
	n->started_ns = sys_now_ns();
	sup_log("started vmm of %s (pid %d)", node->name, (int)pid);
	return 0;
}

/* Wait until every vmm has said "ok" (or one has failed). */
static int wait_ready(char *msg, size_t len)
{
	struct lab *lab = S.lab;
	uint64_t t0 = sys_now_ns(), deadline = t0 + READY_TIMEOUT_MS * 1000000ull;
	struct pollfd *pfd = calloc(lab->n_nodes + 2, sizeof(*pfd));
	unsigned *idx = calloc(lab->n_nodes + 1, sizeof(*idx));
	int rc = -1;
	if (!pfd || !idx) {
		snprintf(msg, len, "out of memory");
		goto out;
	}
	for (;;) {
		unsigned np = 0;
		for (unsigned i = 0; i < lab->n_nodes; i++) {
			if (S.nodes[i].ready >= 0) {
				pfd[np] = (struct pollfd){ .fd = S.nodes[i].ready, .events = POLLIN };
				idx[np++] = i;
			}
		}
		if (!np) {
			rc = 0;
			goto out;
		}
		uint64_t now = sys_now_ns();
		if (now >= deadline) {
			snprintf(msg, len, "%s: vmm not ready after %d s",
				 lab->nodes[idx[0]].name, READY_TIMEOUT_MS / 1000);
			goto out;
		}
		pfd[np] = (struct pollfd){ .fd = S.sigfd, .events = POLLIN };
		pfd[np + 1] = (struct pollfd){ .fd = S.status_fd, .events = 0 };
		if (poll(pfd, np + 2, (int)((deadline - now) / 1000000) + 1) < 0 && errno != EINTR) {
			snprintf(msg, len, "poll: %s", strerror(errno));
			goto out;
		}
		if (interrupted(msg, len))
			goto out;
		for (unsigned p = 0; p < np; p++) {
			if (!pfd[p].revents)
				continue;
			struct sup_node *n = &S.nodes[idx[p]];
			char line[600] = "";
			ssize_t r = read(n->ready, line, sizeof(line) - 1);
			close(n->ready);
			n->ready = -1;
			n->ready_ns = sys_now_ns() - t0;
			line[r > 0 ? r : 0] = 0;
			line[strcspn(line, "\n")] = 0;
			if (strcmp(line, "ok")) {
				snprintf(msg, len, "%s: %s", lab->nodes[idx[p]].name,
					 r > 0 ? line + (strncmp(line, "error: ", 7) ? 0 : 7)
					       : "vmm exited before it was ready");
				goto out;
			}
			sup_event("vmm_ready", (int)idx[p], -1,
				  json_pack("{s:i,s:f}", "pid", (int)n->pid, "ready_ms", (double)n->ready_ns / 1e6),
				  "vmm ready (pid %d) in %.1f ms", (int)n->pid,
				  (double)n->ready_ns / 1e6);
		}
	}
out:
	free(pfd);
	free(idx);
	return rc;
}

void sup_set_phase(const char *phase)
{
	snprintf(S.state.phase, sizeof(S.state.phase), "%s", phase);
	int err = lab_state_write(S.lab->name, &S.state);
	if (err)
		sup_log("cannot write the state file: %s", strerror(-err));
}

int sup_bring_up(char *msg, size_t len)
{
	struct lab *lab = S.lab;
	S.links = calloc(lab->n_links ? lab->n_links : 1, sizeof(*S.links));
	S.state.netns = calloc(lab->n_nodes, sizeof(*S.state.netns));
	if (!S.links || !S.state.netns) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < lab->n_links; i++)
		S.links[i] = (struct sup_link){ -1, { { -1, -1 }, { -1, -1 } } };
	/* the state file first, naming what we are about to make: a `down`
	 * that comes now finds us, and one after our death cleans up */
	S.state.supervisor = getpid();
	snprintf(S.state.file, sizeof(S.state.file), "%s", S.file);
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct sup_node *n = &S.nodes[i];
		n->stats_fd = n->ready = n->pidfd = n->init_fd = n->ctl_fd = n->cap_fd = -1;
		guest_netns(n->netns, sizeof(n->netns), lab->name, lab->nodes[i].name);
		if (lab->nodes[i].kind == LAB_GUEST && lab->nodes[i].guest_kind == LAB_KIND_NETNS)
			snprintf(S.state.netns[S.state.n_netns++], sizeof(S.state.netns[0]), "%s", n->netns);
	}
	sup_set_phase("starting");
	if (sup_faults_init(msg, len))
		return -1;
	for (unsigned i = 0; i < lab->n_nodes; i++)
		if (lab->nodes[i].kind == LAB_FILTER && load_rules(i, msg, len))
			return -1;
	if (take_uid_slot(msg, len) || sup_vm_prepare(msg, len) || make_guests(msg, len) ||
	    make_links(msg, len))
		return -1;
	for (unsigned i = 0; i < lab->n_nodes; i++)
		if (interrupted(msg, len) || make_stats(i, msg, len) || sup_capture_init(i, msg, len) ||
		    sup_spawn_vmm(i, msg, len))
			return -1;
	if (wait_ready(msg, len) || sup_vm_boot(msg, len, interrupted) || sup_ctl_listen(msg, len))
		return -1;
	return 0;
}

void sup_reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (sup_vm_reaped(pid, status))
			continue;
		for (unsigned i = 0; i < S.lab->n_nodes; i++) {
			struct sup_node *n = &S.nodes[i];
			const char *name = S.lab->nodes[i].name;
			if (n->init == pid) {
				n->init = 0;
				sup_log("init of guest %s (pid %d) ended", name, (int)pid);
				if (!strcmp(S.state.phase, "up"))
					sup_event("guest_gone", (int)i, -1, NULL, "guest init (pid %d) ended: "
						  "the guest's programs are gone", (int)pid);
				continue;
			}
			if (n->pid != pid)
				continue;
			n->exited = true;
			n->status = status;
			if (WIFSIGNALED(status))
				sup_log("vmm of %s (pid %d) killed by signal %d", name, (int)pid,
					WTERMSIG(status));
			else
				sup_log("vmm of %s (pid %d) exited with status %d", name, (int)pid,
					WEXITSTATUS(status));
			sup_heal_died(i);
		}
	}
}
