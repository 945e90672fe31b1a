/* SPDX-License-Identifier: MIT */
/* The supervisor's entry point, descriptors, log and main loop. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sup.h"
#include "sys.h"

struct sup S;

void sup_log(const char *fmt, ...)
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

/* A descriptor number handed to us on the command line. */
static int arg_fd(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	return *end || end == s || v < 3 || v > INT_MAX ? -1 : (int)v;
}

/* Our output goes to the lab's log (or nowhere) from now on, never to
 * whatever `vqnet up` was writing to, which may wait for us to let go. */
static void open_log(void)
{
	char path[PATH_MAX];
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	if (mkdir(RUN_DIR, 0700) < 0 && errno != EEXIST)
		return;
	if (mkdir(LOG_DIR, 0700) < 0 && errno != EEXIST)
		return;
	if (lab_log_path(path, sizeof(path), S.lab->name) == 0 &&
	    (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
}

/* Descriptors: links (a memfd and four pipe ends each), and per node its
 * stats, ready pipe, pidfds and rules; a vmm inherits the numbers it is
 * given, which may be as high as ours, and renumbers its two doorbells
 * per link above them.  Say how many the lab needs when the hard limit is
 * short of it. */
static int check_fd_budget(char *msg, size_t len)
{
	unsigned long soft = 0, most = 0;
	int err = sys_raise_nofile(&soft);
	for (unsigned i = 0; i < S.lab->n_nodes; i++)
		if (lab_node_links(&S.lab->nodes[i]) > most)
			most = lab_node_links(&S.lab->nodes[i]);
	unsigned long need = 64 + 5ul * S.lab->n_links + 6ul * S.lab->n_nodes + 2 * most;
	if (err) {
		snprintf(msg, len, "cannot raise RLIMIT_NOFILE: %s", strerror(-err));
		return -1;
	}
	if (soft < need) {
		snprintf(msg, len, "this lab needs %lu file descriptors, RLIMIT_NOFILE allows %lu "
			 "(raise the hard limit: ulimit -Hn %lu, or prlimit)", need, soft, need);
		return -1;
	}
	return 0;
}

/* The sooner of two timeouts in ms, -1 being none. */
static int earliest(int a, int b)
{
	return a < 0 || (b >= 0 && b < a) ? b : a;
}

static void loop(void)
{
	for (;;) {
		struct epoll_event evs[16];
		int t = earliest(earliest(sup_ctl_timeout(), sup_heal_timeout()), sup_watch_timeout());
		int n = epoll_wait(S.epfd, evs, 16, t);
		S.wakeups++;
		if (n < 0 && errno != EINTR) {
			sup_log("epoll_wait: %s; taking the lab down", strerror(errno));
			sup_events_stopping("the supervisor's epoll_wait failed");
			return;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 >> 32 == SUP_EV_CAPTURE) {
				sup_capture_event((unsigned)(uint32_t)evs[i].data.u64);
				continue;
			}
			if (evs[i].data.u64 >> 32 == SUP_EV_READY) {
				sup_heal_ready((unsigned)(uint32_t)evs[i].data.u64);
				continue;
			}
			if (evs[i].data.u64 >> 32 == SUP_EV_STREAM) {
				sup_events_io((unsigned)(uint32_t)evs[i].data.u64, evs[i].events);
				continue;
			}
			if (evs[i].data.u64 >> 32 == SUP_EV_AGENT) {
				sup_vm_agent_event((unsigned)(uint32_t)evs[i].data.u64);
				continue;
			}
			if (evs[i].data.u64 >> 32 != SUP_EV_SIGNAL) {
				sup_ctl_event(evs[i].data.u64, evs[i].events);
				continue;
			}
			struct signalfd_siginfo si;
			while (read(S.sigfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo != SIGCHLD) {
					char why[32];
					sup_log("signal %u: taking the lab down", si.ssi_signo);
					snprintf(why, sizeof(why), "signal %u", si.ssi_signo);
					sup_events_stopping(why);
					return;
				}
			}
			sup_reap();
		}
		sup_ctl_expire();
		sup_heal_due();
		sup_watch_due();
	}
}

/* vqnet __supervise LAB LAB_FD STATUS_FD LOCK_FD FILE SEED|- [NODE=RULES_FD ...] */
int cmd_supervise(int argc, char **argv)
{
	if (argc < 7) {
		err_msg("__supervise is internal to 'vqnet up'");
		return EXIT_USAGE;
	}
	S.lab_fd = arg_fd(argv[2]);
	S.status_fd = arg_fd(argv[3]);
	S.lock_fd = arg_fd(argv[4]);
	S.file = argv[5];
	S.slot_fd = S.lsock = S.epfd = -1;
	int nkeep = argc - 7 + 3;
	int *keep = calloc((size_t)nkeep, sizeof(*keep));
	unsigned *rules_node = calloc((size_t)nkeep, sizeof(*rules_node));
	if (!keep || !rules_node || S.lab_fd < 0 || S.status_fd < 0 || S.lock_fd < 0) {
		err_msg("__supervise is internal to 'vqnet up'");
		free(keep);
		free(rules_node);
		return EXIT_USAGE;
	}
	keep[0] = S.lab_fd, keep[1] = S.status_fd, keep[2] = S.lock_fd;
	/* the seed `up --seed` gave, or "-" */
	S.seed_given = strcmp(argv[6], "-") != 0;
	if (S.seed_given) {
		char *end;
		errno = 0;
		S.seed = strtoull(argv[6], &end, 10);
		if (*end || errno || argv[6][0] == '-') {
			err_msg("__supervise: bad seed \"%s\"", argv[6]);
			free(keep);
			free(rules_node);
			return EXIT_USAGE;
		}
	}
	for (int i = 7; i < argc; i++) {
		unsigned node;
		char fd[16];
		if (sscanf(argv[i], "%u=%15s", &node, fd) != 2 || (keep[i - 4] = arg_fd(fd)) < 0) {
			err_msg("__supervise: bad rules argument \"%s\"", argv[i]);
			free(keep);
			free(rules_node);
			return EXIT_USAGE;
		}
		rules_node[i - 7] = node;
	}
	/* Only what we were handed, really closed: a descriptor we inherited
	 * (a terminal, a $(...) pipe) would otherwise stay open for the
	 * lab's whole life, and whoever waits on it with it. */
	int err = sys_close_all_but(keep, (unsigned)nkeep);
	if (err) {
		dprintf(S.status_fd, "error: supervisor: cannot close inherited descriptors: %s\n",
			strerror(-err));
		free(keep);
		free(rules_node);
		return EXIT_FAIL;
	}
	for (int i = 0; i < nkeep; i++)
		fcntl(keep[i], F_SETFD, FD_CLOEXEC);

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	S.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	S.started = time(NULL);
	snprintf(S.pid_arg, sizeof(S.pid_arg), "%d", (int)getpid());
	/* `up` learns who we are first: it may need to stop us */
	dprintf(S.status_fd, "pid %d\n", (int)getpid());

	size_t len;
	char *text = sys_read_fd(S.lab_fd, 1u << 24, &len, &err);
	struct lab_error le;
	if (S.sigfd < 0 || !text || lab_parse(text, len, S.file, &S.lab, &le) ||
	    strcmp(S.lab->name, argv[1])) {
		dprintf(S.status_fd, "error: supervisor cannot read the lab\n");
		return EXIT_FAIL;
	}
	free(text);
	if (chdir("/") < 0)
		return EXIT_FAIL;
	open_log();
	sup_log("bringing up lab %s from %s", S.lab->name, S.file);

	S.nodes = calloc(S.lab->n_nodes, sizeof(*S.nodes));
	char msg[800] = "out of memory";
	bool ok = S.nodes != NULL;
	for (unsigned i = 0; ok && i < S.lab->n_nodes; i++)
		S.nodes[i].rules_fd = -1;
	for (int i = 7; ok && i < argc; i++) {
		if (rules_node[i - 7] >= S.lab->n_nodes) {
			snprintf(msg, sizeof(msg), "rules for node %u, which does not exist", rules_node[i - 7]);
			ok = false;
		} else {
			S.nodes[rules_node[i - 7]].rules_fd = keep[i - 4];
		}
	}
	free(keep);
	free(rules_node);
	if (!ok || check_fd_budget(msg, sizeof(msg)) || sup_bring_up(msg, sizeof(msg)) ||
	    sup_watch_init(msg, sizeof(msg))) {
		sup_log("failed: %s", msg);
		sup_teardown();
		dprintf(S.status_fd, "error: %s\n", msg);
		return EXIT_FAIL;
	}
	sup_set_phase("up");
	sup_log("lab %s is up", S.lab->name);
	sup_event("lab_up", -1, -1, NULL, "lab up: %u node%s, %u link%s, seed %llu", S.lab->n_nodes,
		  S.lab->n_nodes == 1 ? "" : "s", S.lab->n_links, S.lab->n_links == 1 ? "" : "s",
		  (unsigned long long)S.seed);
	dprintf(S.status_fd, "ok\n");
	close(S.status_fd);
	S.status_fd = -1;
	loop();
	sup_teardown();
	return 0;
}
