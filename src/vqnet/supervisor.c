/* SPDX-License-Identifier: MIT */
/*
 * The per-lab supervisor: `vqnet up` starts it as `vqnet __supervise`.
 *
 * It creates the guests' namespaces, one sealed memfd and two doorbells per
 * link, one stats memfd per node, starts one vqnet-vmm per guest with only
 * its own objects, waits until every vmm reports its interfaces up, then
 * answers on RUN_DIR/LAB.sock (status, down) until told to stop.  If
 * anything fails on the way up, everything made so far is removed.
 *
 * It holds RUN_DIR/LAB.lock for its whole life: that lock is what "the lab
 * is up" means, so a second `vqnet up` cannot race it.  RUN_DIR/LAB.state
 * lists what it made, for `vqnet down` to clean up after a supervisor that
 * died.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "link.h"
#include "netns.h"
#include "vmm_stats.h"
#include "supervisor.h"
#include "sys.h"
#include "vqnet.h"

#define READY_TIMEOUT_MS 15000
#define STOP_GRACE_MS 2000

struct sup_link {
	int mem;
	int bell[2][2];       /* bell[i]: side i waits on [0], its peer rings [1] */
};

struct sup {
	char pid_arg[16];     /* our pid, for the vmms' --supervisor */
	struct lab *lab;
	const char *file;
	int lab_fd;
	int rules_fd[LAB_MAX_NODES];   /* from `vqnet up`, -1 for none */
	struct lab_rule *file_rules[LAB_MAX_NODES];
	unsigned n_file_rules[LAB_MAX_NODES];
	struct sup_link *links;
	struct sup_node *nodes;
	int lsock, sigfd, epfd;
	int lock_fd;          /* the lab's lock, from `vqnet up`: held till teardown */
	int slot_fd;          /* our uid slot's lock (RUN_DIR/uids/SLOT): held for life */
	unsigned slot;
	time_t started;
};

static struct sup S;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	char ts[32];
	time_t t = time(NULL);
	strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&t));
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s supervisor: ", ts);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- teardown ------------------------------------------------------------- */

static bool wait_exit(pid_t pid, int *status, int ms)
{
	for (int t = 0; t <= ms; t += 10) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return true;
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return false;
}

static void teardown(void)
{
	struct lab *lab = S.lab;
	if (!lab || !S.nodes)
		return;
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct sup_node *n = &S.nodes[i];
		if (n->pid > 0 && !n->exited)
			kill(n->pid, SIGTERM);
	}
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct sup_node *n = &S.nodes[i];
		if (n->pid > 0 && !n->exited && !wait_exit(n->pid, &n->status, STOP_GRACE_MS)) {
			kill(n->pid, SIGKILL);
			wait_exit(n->pid, &n->status, STOP_GRACE_MS);
		}
		n->exited = true;
		if (n->netns_made) {
			netns_kill_all(n->netns);
			int err = netns_delete(n->netns);
			if (err)
				logf_("cannot delete namespace %s: %s", n->netns, strerror(-err));
			n->netns_made = false;
		}
		if (n->stats)
			munmap(n->stats, n->stats_len);
		n->stats = NULL;
	}
	if (S.slot_fd >= 0) {
		char slot[PATH_MAX];
		snprintf(slot, sizeof(slot), RUN_DIR "/uids/%u", S.slot);
		unlink(slot);
		close(S.slot_fd);
		S.slot_fd = -1;
		rmdir(RUN_DIR "/uids");   /* only if empty */
	}
	/* we hold the lab's lock: the files go, the lock last */
	lab_remove_files(lab->name);
	if (S.lock_fd >= 0)
		lab_unlock(lab->name, S.lock_fd, true);
	S.lock_fd = -1;
}

/* ---- bring-up --------------------------------------------------------------- */

static int make_links(char *msg, size_t len)
{
	struct lab *lab = S.lab;
	size_t bytes = vq_link_bytes(VQ_LINK_NUM_DEFAULT, VQ_LINK_CHUNK_DEFAULT);
	for (unsigned i = 0; i < lab->n_links; i++) {
		struct sup_link *l = &S.links[i];
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
		struct stat st;
		char *text = NULL;
		struct lab_error le = { .line = 0, .msg = "unreadable" };
		if (fstat(n->rules_fd, &st) < 0 || !(text = malloc((size_t)st.st_size + 1)) ||
		    pread(n->rules_fd, text, (size_t)st.st_size, 0) != st.st_size ||
		    lab_parse_rules(text, (size_t)st.st_size, &S.file_rules[idx],
				    &S.n_file_rules[idx], &le)) {
			snprintf(msg, len, "rules of %s: line %u: %s", S.lab->nodes[idx].name, le.line, le.msg);
			free(text);
			return -1;
		}
		free(text);
	}
	n->rules = calloc(f->n_rules + S.n_file_rules[idx] + 1, sizeof(*n->rules));
	if (!n->rules) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	n->n_rules = lab_filter_rules(f, S.file_rules[idx], S.n_file_rules[idx], n->rules);
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

/*
 * Every vmm runs under a uid of its own, so that no vmm (nor any other
 * unprivileged process) can signal, trace or read another: uid =
 * VMM_UID_BASE + slot * VMM_UIDS_PER_LAB + node.  A lab's slot is a file
 * in RUN_DIR/uids that its supervisor keeps locked for its whole life, so
 * two live labs never share one; a dead supervisor's vmms die with it, so
 * its slot is free again.  The range is far above any uid a distribution
 * hands out (Debian's dynamic users stop at 65519, subuid ranges at a few
 * million).
 */
#define VMM_UID_BASE 0x60000000u
#define VMM_UIDS_PER_LAB 65536u
#define VMM_UID_SLOTS 4096u

static int take_uid_slot(char *msg, size_t len)
{
	char path[sizeof(RUN_DIR) + 32];
	if (mkdir(RUN_DIR "/uids", 0700) < 0 && errno != EEXIST) {
		snprintf(msg, len, "%s/uids: %s", RUN_DIR, strerror(errno));
		return -1;
	}
	/* start where the lab's name points, so labs rarely probe far */
	unsigned h = 2166136261u;
	for (const char *c = S.lab->name; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	for (unsigned k = 0; k < VMM_UID_SLOTS; k++) {
		unsigned s = (h + k) % VMM_UID_SLOTS;
		snprintf(path, sizeof(path), RUN_DIR "/uids/%u", s);
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			snprintf(msg, len, "%s: %s", path, strerror(errno));
			return -1;
		}
		struct stat held, now;
		/* a slot file unlinked by its last holder is no slot: check
		 * that the path still names what we locked (as lab_lock does) */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &held) == 0 &&
		    stat(path, &now) == 0 && held.st_ino == now.st_ino && held.st_dev == now.st_dev) {
			S.slot_fd = fd;
			S.slot = s;
			return 0;
		}
		close(fd);
	}
	snprintf(msg, len, "all %u uid slots are taken (%u labs up?)", VMM_UID_SLOTS, VMM_UID_SLOTS);
	return -1;
}

/* Let fd survive exec in the child we are about to become. */
static void keep_fd(int fd)
{
	fcntl(fd, F_SETFD, 0);
}

static int spawn_vmm(unsigned idx, char *msg, size_t len)
{
	struct sup_node *n = &S.nodes[idx];
	const struct lab_node *node = &S.lab->nodes[idx];
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(msg, len, "pipe: %s", strerror(errno));
		return -1;
	}
	/* argv, built before fork: exec is all the child does */
	enum { FIXED = 16 };
	unsigned nl = lab_node_links(node);
	char **argv = calloc(FIXED + 2 * nl + 1, sizeof(char *));
	char (*num)[64] = calloc(5 + nl, sizeof(*num));
	char exe[PATH_MAX];
	if (!argv || !num) {
		free(argv);
		free(num);
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
	snprintf(num[4], sizeof(num[4]), "%u", VMM_UID_BASE + S.slot * VMM_UIDS_PER_LAB + idx);
	argv[a++] = "--uid";
	argv[a++] = num[4];
	if (node->kind == LAB_GUEST) {
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
	unsigned k = 5;
	for (unsigned i = 0; i < node->n_ifaces; i++) {
		for (unsigned j = 0; j < node->ifaces[i].n_links; j++, k++) {
			unsigned li = node->ifaces[i].links[j];
			const struct lab_link *ll = &S.lab->links[li];
			unsigned side = ll->end[0].node == idx && ll->end[0].iface == i ? 0 : 1;
			struct sup_link *sl = &S.links[li];
			snprintf(num[k], sizeof(num[k]), "%u=%d,%d,%d", li, sl->mem,
				 sl->bell[side][0], sl->bell[side ^ 1][1]);
			argv[a++] = "--link";
			argv[a++] = num[k];
		}
	}
	argv[a] = NULL;

	pid_t pid = fork();
	if (pid == 0) {
		keep_fd(S.lab_fd);
		keep_fd(pfd[1]);
		keep_fd(n->stats_fd);
		if (n->rules_fd >= 0)
			keep_fd(n->rules_fd);
		for (unsigned i = 0; i < node->n_ifaces; i++) {
			for (unsigned j = 0; j < node->ifaces[i].n_links; j++) {
				unsigned li = node->ifaces[i].links[j];
				const struct lab_link *ll = &S.lab->links[li];
				unsigned side = ll->end[0].node == idx && ll->end[0].iface == i ? 0 : 1;
				struct sup_link *sl = &S.links[li];
				keep_fd(sl->mem);
				keep_fd(sl->bell[side][0]);
				keep_fd(sl->bell[side ^ 1][1]);
			}
		}
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(exe, argv);
		dprintf(pfd[1], "error: cannot run %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	int saved = errno;
	free(argv);
	free(num);
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		snprintf(msg, len, "fork: %s", strerror(saved));
		return -1;
	}
	n->pid = pid;
	n->ready = pfd[0];
	logf_("started vmm of %s (pid %d)", node->name, (int)pid);
	return 0;
}

/* Wait until every vmm has said "ok" (or one has failed). */
static int wait_ready(char *msg, size_t len)
{
	struct lab *lab = S.lab;
	uint64_t deadline = sys_now_ns() + READY_TIMEOUT_MS * 1000000ull;
	for (;;) {
		struct pollfd pfd[LAB_MAX_NODES + 1];
		unsigned idx[LAB_MAX_NODES], np = 0;
		for (unsigned i = 0; i < lab->n_nodes; i++) {
			if (S.nodes[i].ready >= 0) {
				pfd[np] = (struct pollfd){ .fd = S.nodes[i].ready, .events = POLLIN };
				idx[np++] = i;
			}
		}
		if (!np)
			return 0;
		uint64_t now = sys_now_ns();
		if (now >= deadline) {
			snprintf(msg, len, "%s: vmm not ready after %d s",
				 lab->nodes[idx[0]].name, READY_TIMEOUT_MS / 1000);
			return -1;
		}
		/* a `down` (SIGTERM) while we come up: stop and clean up */
		pfd[np] = (struct pollfd){ .fd = S.sigfd, .events = POLLIN };
		if (poll(pfd, np + 1, (int)((deadline - now) / 1000000) + 1) < 0 && errno != EINTR) {
			snprintf(msg, len, "poll: %s", strerror(errno));
			return -1;
		}
		struct signalfd_siginfo si;
		if (pfd[np].revents && read(S.sigfd, &si, sizeof(si)) == sizeof(si) &&
		    si.ssi_signo != SIGCHLD) {
			snprintf(msg, len, "interrupted by signal %u while coming up", si.ssi_signo);
			return -1;
		}
		for (unsigned p = 0; p < np; p++) {
			if (!pfd[p].revents)
				continue;
			struct sup_node *n = &S.nodes[idx[p]];
			char line[600] = "";
			ssize_t r = read(n->ready, line, sizeof(line) - 1);
			close(n->ready);
			n->ready = -1;
			line[r > 0 ? r : 0] = 0;
			line[strcspn(line, "\n")] = 0;
			if (strcmp(line, "ok")) {
				snprintf(msg, len, "%s: %s", lab->nodes[idx[p]].name,
					 r > 0 ? line + (strncmp(line, "error: ", 7) ? 0 : 7)
					       : "vmm exited before it was ready");
				return -1;
			}
		}
	}
}

static int write_state(void)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	if (lab_path(path, sizeof(path), S.lab->name, ".state") ||
	    lab_path(tmp, sizeof(tmp), S.lab->name, ".state.tmp"))
		return -ENAMETOOLONG;
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "supervisor %d\nfile %s\n", (int)getpid(), S.file);
	for (unsigned i = 0; i < S.lab->n_nodes; i++) {
		if (S.nodes[i].netns_made)
			fprintf(f, "netns %s\n", S.nodes[i].netns);
		if (S.nodes[i].pid > 0)
			fprintf(f, "vmm %s %d\n", S.lab->nodes[i].name, (int)S.nodes[i].pid);
	}
	int err = fclose(f) ? -errno : 0;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	return err;
}

static int listen_ctl(char *msg, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (lab_path(sa.sun_path, sizeof(sa.sun_path), S.lab->name, ".sock")) {
		snprintf(msg, len, "socket path too long");
		return -1;
	}
	unlink(sa.sun_path);   /* stale: we hold the lab's lock */
	S.lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (S.lsock < 0 || bind(S.lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(sa.sun_path, 0600) < 0 || listen(S.lsock, 16) < 0) {
		snprintf(msg, len, "control socket %s: %s", sa.sun_path, strerror(errno));
		return -1;
	}
	return 0;
}

static int bring_up(char *msg, size_t len)
{
	struct lab *lab = S.lab;
	S.links = calloc(lab->n_links ? lab->n_links : 1, sizeof(*S.links));
	S.nodes = calloc(lab->n_nodes, sizeof(*S.nodes));
	if (!S.links || !S.nodes) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < lab->n_links; i++)
		S.links[i] = (struct sup_link){ -1, { { -1, -1 }, { -1, -1 } } };
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct sup_node *n = &S.nodes[i];
		n->stats_fd = n->ready = -1;
		n->rules_fd = S.rules_fd[i];
		guest_netns(n->netns, sizeof(n->netns), lab->name, lab->nodes[i].name);
		if (lab->nodes[i].kind == LAB_FILTER && load_rules(i, msg, len))
			return -1;
	}
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct sup_node *n = &S.nodes[i];
		if (lab->nodes[i].kind != LAB_GUEST)
			continue;
		int err = netns_create(n->netns);
		if (err) {
			snprintf(msg, len, "cannot create namespace %s: %s", n->netns,
				 err == -EEXIST ? "it already exists" : strerror(-err));
			return -1;
		}
		n->netns_made = true;
	}
	if (take_uid_slot(msg, len) || make_links(msg, len))
		return -1;
	for (unsigned i = 0; i < lab->n_nodes; i++)
		if (make_stats(i, msg, len) || spawn_vmm(i, msg, len))
			return -1;
	int err = write_state();
	if (!err && (wait_ready(msg, len) || listen_ctl(msg, len)))
		return -1;
	if (!err)
		err = write_state();
	if (err) {
		snprintf(msg, len, "state file: %s", strerror(-err));
		return -1;
	}
	return 0;
}

/* ---- serving ---------------------------------------------------------------- */

static void serve(int c)
{
	char req[256];
	struct timeval tv = { 2, 0 };
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ssize_t r = recv(c, req, sizeof(req) - 1, 0);
	if (r <= 0)
		return;
	req[r] = 0;
	req[strcspn(req, "\r\n")] = 0;

	if (!strcmp(req, "down")) {
		logf_("down requested");
		teardown();
		/* answer only once everything is gone */
		if (send(c, "ok\n", 3, MSG_NOSIGNAL) < 0)
			logf_("could not confirm down: %s", strerror(errno));
		close(c);
		exit(0);
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return;
	if (!strcmp(req, "status"))
		sup_status(f, S.lab, S.nodes, S.started, false);
	else if (!strcmp(req, "status-json"))
		sup_status(f, S.lab, S.nodes, S.started, true);
	else
		fprintf(f, "error: unknown request \"%s\"\n", req);
	fclose(f);
	for (size_t off = 0; off < len;) {
		ssize_t w = send(c, text + off, len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(text);
}

static void reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (unsigned i = 0; i < S.lab->n_nodes; i++) {
			struct sup_node *n = &S.nodes[i];
			if (n->pid != pid)
				continue;
			n->exited = true;
			n->status = status;
			if (WIFSIGNALED(status))
				logf_("vmm of %s (pid %d) killed by signal %d", S.lab->nodes[i].name,
				      (int)pid, WTERMSIG(status));
			else
				logf_("vmm of %s (pid %d) exited with status %d", S.lab->nodes[i].name,
				      (int)pid, WEXITSTATUS(status));
		}
	}
}

static void loop(void)
{
	S.epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = S.lsock };
	epoll_ctl(S.epfd, EPOLL_CTL_ADD, S.lsock, &ev);
	ev.data.fd = S.sigfd;
	epoll_ctl(S.epfd, EPOLL_CTL_ADD, S.sigfd, &ev);
	for (;;) {
		struct epoll_event evs[8];
		int n = epoll_wait(S.epfd, evs, 8, -1);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == S.sigfd) {
				struct signalfd_siginfo si;
				while (read(S.sigfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGCHLD)
						continue;
					logf_("signal %u: taking the lab down", si.ssi_signo);
					teardown();
					exit(0);
				}
				reap();
			} else {
				int c = accept4(S.lsock, NULL, NULL, SOCK_CLOEXEC);
				if (c >= 0) {
					serve(c);
					close(c);
				}
			}
		}
	}
}

/* vqnet __supervise LAB LAB_FD STATUS_FD LOCK_FD FILE [NODE=RULES_FD ...] */
int cmd_supervise(int argc, char **argv)
{
	if (argc < 6 || argc > 6 + LAB_MAX_NODES) {
		err_msg("__supervise is internal to 'vqnet up'");
		return EXIT_USAGE;
	}
	/* only what we are handed below may reach a vmm */
	close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
	const char *name = argv[1];
	argv++;
	argc--;
	for (unsigned i = 0; i < LAB_MAX_NODES; i++)
		S.rules_fd[i] = -1;
	for (int i = 5; i < argc; i++) {
		unsigned node;
		int fd;
		if (sscanf(argv[i], "%u=%d", &node, &fd) != 2 || node >= LAB_MAX_NODES || fd < 0) {
			err_msg("__supervise: bad rules argument \"%s\"", argv[i]);
			return EXIT_USAGE;
		}
		S.rules_fd[node] = fd;
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	S.lab_fd = atoi(argv[1]);
	int status_fd = atoi(argv[2]);
	S.file = argv[4];
	S.started = time(NULL);
	snprintf(S.pid_arg, sizeof(S.pid_arg), "%d", (int)getpid());
	fcntl(S.lab_fd, F_SETFD, FD_CLOEXEC);
	fcntl(status_fd, F_SETFD, FD_CLOEXEC);
	S.lock_fd = atoi(argv[3]);
	S.slot_fd = -1;
	fcntl(S.lock_fd, F_SETFD, FD_CLOEXEC);   /* the lock: held till teardown */

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	S.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	setsid();

	char msg[700] = "";
	struct stat st;
	char *text = NULL;
	struct lab_error le;
	if (fstat(S.lab_fd, &st) < 0 || !(text = malloc((size_t)st.st_size + 1)) ||
	    pread(S.lab_fd, text, (size_t)st.st_size, 0) != st.st_size ||
	    lab_parse(text, (size_t)st.st_size, S.file, &S.lab, &le) || strcmp(S.lab->name, name)) {
		dprintf(status_fd, "error: supervisor cannot read the lab\n");
		return 1;
	}
	free(text);

	/* from here on our output goes to the lab's log (or nowhere), never
	 * to whatever `vqnet up` was writing to, which may be waiting for us
	 * to let go of it */
	char path[PATH_MAX];
	if (chdir("/") < 0)
		return 1;
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	if (lab_path(path, sizeof(path), S.lab->name, ".log") == 0 &&
	    (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	logf_("bringing up lab %s from %s", S.lab->name, S.file);
	if (S.sigfd < 0 || bring_up(msg, sizeof(msg))) {
		logf_("failed: %s", msg);
		teardown();
		dprintf(status_fd, "error: %s\n", msg);
		return 1;
	}
	logf_("lab %s is up", S.lab->name);
	dprintf(status_fd, "ok\n");
	close(status_fd);
	loop();
	return 0;
}
