/* SPDX-License-Identifier: MIT */
/* vqnet up FILE: validate, start the lab's supervisor, print the table. */
#include "up.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "netns.h"
#include "report.h"
#include "rundir.h"
#include "sys.h"

int signals_to_fd(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	/* a background job may have inherited SIG_IGN: we want to hear it */
	signal(SIGINT, SIG_DFL);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

/* Refuse a lab that is up, coming up, or left things behind, before
 * creating anything.  Returns an open, locked lock fd, or -1 after the
 * message (*rc gets the exit status). */
static int claim(struct labfile *lf, int *rc)
{
	const struct lab *lab = lf->lab;
	*rc = EXIT_FAIL;
	int fd = lab_lock(lab->name, 0, true);
	if (fd == -EWOULDBLOCK) {
		labfile_error(lf, lab->name_line, "lab \"%s\" is already up or coming up "
			      "(see 'vqnet status %s')", lab->name, lab->name);
		return -1;
	}
	if (fd < 0) {
		err_msg("%s/%s.lock: %s", RUN_DIR, lab->name, strerror(-fd));
		return -1;
	}
	/* we hold the lock: a state file is a dead supervisor's */
	struct lab_state st;
	if (lab_state_read(lab->name, &st) == 0) {
		err_msg("lab %s: its supervisor (pid %d) died and left it half up: "
			"'vqnet down %s' cleans up", lab->name, (int)st.supervisor, lab->name);
		lab_state_free(&st);
		lab_unlock(lab->name, fd, false);
		return -1;
	}
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		char ns[LAB_NETNS_MAX];
		if (lab->nodes[i].kind != LAB_GUEST)
			continue;
		guest_netns(ns, sizeof(ns), lab->name, lab->nodes[i].name);
		if (netns_exists(ns)) {
			labfile_error(lf, lab->nodes[i].line,
				      "namespace %s already exists, and not as this lab's "
				      "(remove it: 'ip netns del %s')", ns, ns);
			lab_unlock(lab->name, fd, true);
			*rc = EXIT_USAGE;
			return -1;
		}
	}
	return fd;
}

/* The supervisor's lines: "pid N", then "ok" or "error: why".  A signal
 * meanwhile is passed on to it as SIGTERM; it then rolls back, says so
 * and exits, closing the pipe.  0 on "ok"; -1 with why in err. */
static int supervise(int pipe_fd, int sigfd, char *err, size_t err_len, int *signo)
{
	char buf[1024];
	size_t n = 0;
	int pidfd = -1, rc = -1;
	*signo = 0;
	err[0] = 0;
	for (;;) {
		struct pollfd p[2] = { { .fd = pipe_fd, .events = POLLIN },
				       { .fd = sigfd, .events = POLLIN } };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		struct signalfd_siginfo si;
		/* SIGPIPE: our output is gone, which need not stop the lab */
		if (p[1].revents && read(sigfd, &si, sizeof(si)) == sizeof(si) &&
		    si.ssi_signo != SIGPIPE && !*signo) {
			*signo = (int)si.ssi_signo;
			if (pidfd >= 0)
				pidfd_send_signal(pidfd, SIGTERM, NULL, 0);
		}
		if (!p[0].revents)
			continue;
		ssize_t r = read(pipe_fd, buf + n, sizeof(buf) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = 0;
		char *line = buf, *nl;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			int pid;
			if (sscanf(line, "pid %d", &pid) == 1 && pidfd < 0) {
				pidfd = pidfd_open(pid, 0);
				if (*signo && pidfd >= 0)
					pidfd_send_signal(pidfd, SIGTERM, NULL, 0);
			} else if (!strcmp(line, "ok")) {
				rc = 0;
				goto out;
			} else if (!strncmp(line, "error: ", 7)) {
				snprintf(err, err_len, "%s", line + 7);
			}
			line = nl + 1;
		}
		n -= (size_t)(line - buf);
		memmove(buf, line, n + 1);
		if (n == sizeof(buf) - 1)
			n = 0;   /* an overlong line: not one of ours */
	}
out:
	if (pidfd >= 0)
		close(pidfd);
	return rc;
}

int lab_up(struct labfile *lf, int sigfd, bool quiet, const char *seed)
{
	const struct lab *lab = lf->lab;
	int rc;
	int lock = claim(lf, &rc);
	if (lock < 0)
		return rc;

	/* the supervisor gets the exact text we validated, and each filter's
	 * rules file as read and checked */
	int lab_fd = sys_memfd_text("vqnet-lab", lf->text, lf->len);
	int pfd[2] = { -1, -1 };
	int *rules_fd = calloc(lab->n_nodes, sizeof(*rules_fd));
	char (*rules_arg)[32] = calloc(lab->n_nodes, sizeof(*rules_arg));
	char **argv = calloc(8 + lab->n_nodes + 1, sizeof(*argv));
	bool ok = lab_fd >= 0 && rules_fd && rules_arg && argv && pipe2(pfd, O_CLOEXEC) == 0;
	unsigned a = 8;
	for (unsigned i = 0; ok && i < lab->n_nodes; i++) {
		rules_fd[i] = -1;
		if (!lf->rules[i].text)
			continue;
		rules_fd[i] = sys_memfd_text("vqnet-rules", lf->rules[i].text, lf->rules[i].len);
		ok = rules_fd[i] >= 0;
		snprintf(rules_arg[i], sizeof(rules_arg[i]), "%u=%d", i, rules_fd[i]);
		argv[a++] = rules_arg[i];
	}
	char exe[PATH_MAX], a1[16], a2[16], a3[16];
	pid_t pid = -1;
	int fork_err = 0;
	if (ok) {
		snprintf(exe, sizeof(exe), "%s/vqnet", self_dir());
		snprintf(a1, sizeof(a1), "%d", lab_fd);
		snprintf(a2, sizeof(a2), "%d", pfd[1]);
		snprintf(a3, sizeof(a3), "%d", lock);
		argv[0] = "vqnet";
		argv[1] = "__supervise";
		argv[2] = (char *)lab->name;   /* so `down` can recognise it */
		argv[3] = a1;
		argv[4] = a2;
		argv[5] = a3;
		argv[6] = (char *)lf->path;
		argv[7] = (char *)(seed ? seed : "-");
		/* Fork twice, with a new session between: the supervisor is
		 * nobody's child but init's, and no terminal's signal (a Ctrl-C
		 * meant for us) ever reaches it: we relay what it must know. */
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			setsid();
			if (fork() != 0)
				_exit(0);
			fcntl(lab_fd, F_SETFD, 0);
			fcntl(pfd[1], F_SETFD, 0);
			fcntl(lock, F_SETFD, 0);
			for (unsigned i = 0; i < lab->n_nodes; i++)
				if (rules_fd[i] >= 0)
					fcntl(rules_fd[i], F_SETFD, 0);
			execv(exe, argv);
			dprintf(pfd[1], "error: cannot run %s: %s\n", exe, strerror(errno));
			_exit(127);
		}
		fork_err = errno;
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (lab_fd >= 0)
		close(lab_fd);
	for (unsigned i = 0; rules_fd && i < lab->n_nodes; i++)
		if (rules_fd[i] >= 0)
			close(rules_fd[i]);
	free(rules_fd);
	free(rules_arg);
	free(argv);
	if (!ok || pid < 0) {
		err_msg("lab %s: cannot start its supervisor: %s", lab->name,
			strerror(ok ? fork_err : errno ? errno : ENOMEM));
		if (pfd[0] >= 0)
			close(pfd[0]);
		lab_unlock(lab->name, lock, true);
		return EXIT_FAIL;
	}
	close(lock);   /* the supervisor holds the lock now */

	char line[1024];
	int signo;
	int err = supervise(pfd[0], sigfd, line, sizeof(line), &signo);
	close(pfd[0]);
	if (signo && !err)
		lab_down(lab->name);   /* it came up just as the signal came */
	if (err || signo) {
		if (signo)
			err_msg("lab %s: interrupted (signal %d): rolled back, nothing is left", lab->name, signo);
		else
			err_msg("lab %s: %s", lab->name, line[0] ? line : "its supervisor died");
		/* a supervisor that failed removes what it made; one that never
		 * ran (exec failed) leaves its lock file, which we remove */
		int l = lab_lock(lab->name, 5000, false);
		if (l >= 0)
			lab_unlock(lab->name, l, true);
		return signo ? 128 + signo : EXIT_FAIL;
	}
	if (!quiet) {
		char *reply = NULL;
		if (ctl_request(lab->name, "status", &reply, NULL, 10000) == 0)
			report_up(stdout, reply);
		else
			printf("lab %s is up\n", lab->name);
		free(reply);
		fflush(stdout);
	}
	return 0;
}

bool seed_ok(const char *s)
{
	char *end;
	errno = 0;
	strtoull(s, &end, 10);
	return *s >= '0' && *s <= '9' && !*end && !errno && (s[0] != '0' || !s[1]);
}

int cmd_up(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		cmd_help("up", true);
		return 0;
	}
	const char *seed = NULL, *file = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc && seed_ok(argv[i + 1]))
			seed = argv[++i];
		else if (!file && argv[i][0] != '-')
			file = argv[i];
		else
			return cmd_usage("up");
	}
	if (!file)
		return cmd_usage("up");
	struct labfile lf;
	int rc = labfile_load(file, &lf);
	if (rc)
		return rc;
	int sigfd = signals_to_fd();
	if (sigfd < 0) {
		err_msg("signalfd: %s", strerror(-sigfd));
		labfile_free(&lf);
		return EXIT_FAIL;
	}
	rc = lab_up(&lf, sigfd, false, seed);
	labfile_free(&lf);
	close(sigfd);
	return rc;
}
