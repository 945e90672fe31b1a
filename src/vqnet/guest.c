/* SPDX-License-Identifier: MIT */
#include "guest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "agent_client.h"
#include "ctl.h"
#include "rundir.h"
#include "sys.h"

int guest_open(const char *lab, const char *guest, struct guest_handle *h, char *why,
	       size_t len, int *not_up)
{
	char req[CTL_REQUEST_MAX], *reply = NULL;
	*h = (struct guest_handle){ .pidfd = -1 };
	*not_up = 0;
	if (!lab_name_ok(lab) || !lab_name_ok(guest)) {
		snprintf(why, len, "bad lab or guest name \"%s\" \"%s\"", lab, guest);
		return -1;
	}
	snprintf(req, sizeof(req), "guest %s", guest);
	int err = ctl_request(lab, req, &reply, &h->pidfd, 10000);
	if (err) {
		*not_up = err == -ENOENT;
		snprintf(why, len, err == -ENOENT ? "lab %s is not up (see 'vqnet list')"
			 : "lab %s: its supervisor does not answer: %s", lab, strerror(-err));
		return -1;
	}
	reply[strcspn(reply, "\n")] = 0;
	int rc = 0;
	if (!strncmp(reply, "vm ", 3) && h->pidfd < 0 && strlen(reply + 3) < sizeof(h->agent)) {
		snprintf(h->agent, sizeof(h->agent), "%s", reply + 3);
	} else if (strncmp(reply, "ok", 2) || h->pidfd < 0) {
		snprintf(why, len, "lab %s: %s", lab,
			 strncmp(reply, "error: ", 7) ? "no handle for the guest" : reply + 7);
		guest_close(h);
		rc = -1;
	}
	free(reply);
	return rc;
}

void guest_close(struct guest_handle *h)
{
	if (h->pidfd >= 0)
		close(h->pidfd);
	h->pidfd = -1;
	h->agent[0] = 0;
}

int guest_join(int pidfd)
{
	char cwd[PATH_MAX];
	bool have_cwd = getcwd(cwd, sizeof(cwd)) != NULL;
	if (setns(pidfd, CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID) < 0)
		return -errno;
	/* joining a mount namespace moves us to its root: come back to the
	 * same path (the guest sees the host's files, but /proc, /sys) */
	if (!have_cwd || chdir(cwd) < 0)
		(void)!chdir("/");
	return 0;
}

static pid_t program;

static void pass_on(int sig)
{
	if (program > 0)
		kill(program, sig);
}

/* In the relay: run the program in the guest, wait, pass its status on. */
__attribute__((noreturn)) static void relay(int handle, char *const argv[])
{
	int err = guest_join(handle);
	if (err) {
		err_msg("cannot enter the guest: %s", strerror(-err));
		_exit(126);
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(handle);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], argv);
		err_msg("cannot run %s in the guest: %s", argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (pid < 0)
		_exit(126);
	/* A terminal's signals reach the program directly (it is in our
	 * group); TERM and HUP sent to us are passed on.  Either way we only
	 * wait for the program. */
	program = pid;
	struct sigaction sa = { .sa_handler = pass_on };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			_exit(126);
	if (WIFSIGNALED(st)) {
		/* die the same way, so our parent sees what killed it */
		signal(WTERMSIG(st), SIG_DFL);
		raise(WTERMSIG(st));
		_exit(128 + WTERMSIG(st));
	}
	_exit(WEXITSTATUS(st));
}

/* In the relay of a VM guest: the program runs through its agent, with
 * our stdin, stdout and stderr; TERM, HUP and INT sent to us go to it. */
__attribute__((noreturn)) static void relay_vm(const char *agent, char *const argv[])
{
	sigset_t fwd;
	sigemptyset(&fwd);
	sigaddset(&fwd, SIGTERM);
	sigaddset(&fwd, SIGHUP);
	sigaddset(&fwd, SIGINT);
	struct agentc_cmd cmd = { .argv = argv, .in_fd = 0, .out_fd = 1, .err_fd = 2, .forward = &fwd };
	struct agentc_status st;
	int err = agentc_run(agent, &cmd, &st);
	if (err || st.how == AGENTC_FAILED) {
		err_msg("cannot run %s in the VM: %s", argv[0], err ? strerror(-err) : st.error);
		_exit(126);
	}
	if (st.error[0])
		err_msg("%s", st.error);   /* could not run it: exit 126/127 follows */
	if (st.how == AGENTC_KILLED) {
		signal(st.value, SIG_DFL);
		sigset_t all;
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		raise(st.value);
		_exit(128 + st.value);
	}
	_exit(st.value);
}

pid_t guest_spawn(const struct guest_handle *h, char *const argv[], int in, int out, int err_fd,
		  bool own_group)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid > 0 && own_group)
		setpgid(pid, pid);   /* here too: no race with a kill(-pid) */
	if (pid != 0)
		return pid < 0 ? -errno : pid;
	if (own_group)
		setpgid(0, 0);
	/* the defaults, whatever the caller blocks or ignores (the program
	 * gets the empty mask after the relay has set itself up) */
	const int sigs[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (in != 0)
		dup2(in >= 0 ? in : null, 0);
	if (out != 1)
		dup2(out >= 0 ? out : null, 1);
	if (err_fd != 2)
		dup2(err_fd >= 0 ? err_fd : null, 2);
	/* no descriptor of ours but the three, and the handle until exec */
	if (h->pidfd < 0) {
		sys_close_all_but(NULL, 0);
		relay_vm(h->agent, argv);
	}
	int keep[1] = { h->pidfd };
	sys_close_all_but(keep, 1);
	relay(h->pidfd, argv);
}
