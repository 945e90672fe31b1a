/* SPDX-License-Identifier: MIT */
/* vqnet exec LAB GUEST [--] CMD [ARG...]: run a command inside a guest. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "guest.h"

static pid_t child;

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

int cmd_exec(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		cmd_help("exec", true);
		return 0;
	}
	/* everything after GUEST is the command's, its options included */
	int cmd = argc > 3 && !strcmp(argv[3], "--") ? 4 : 3;
	if (argc <= cmd || argv[1][0] == '-')
		return cmd_usage("exec");
	char why[512];
	int not_up;
	struct guest_handle h;
	if (guest_open(argv[1], argv[2], &h, why, sizeof(why), &not_up) < 0) {
		err_msg("%s", why);
		return not_up ? EXIT_NOT_UP : EXIT_USAGE;
	}
	/* Ctrl-C and Ctrl-\ reach the command through the terminal (it stays
	 * in our process group); a signal sent to us alone is passed on */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	struct sigaction sa = { .sa_handler = forward };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	child = guest_spawn(&h, argv + cmd, 0, 1, 2, false);
	guest_close(&h);
	if (child < 0) {
		err_msg("cannot start %s in %s: %s", argv[cmd], argv[2], strerror(-child));
		return EXIT_FAIL;
	}
	int st;
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			return EXIT_FAIL;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
