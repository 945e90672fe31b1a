/* SPDX-License-Identifier: MIT */
/* vqnet impair | link | partition | heal | stop | start LAB ...: faults at
 * run time, checked and applied by the lab's supervisor (sup_faults.c),
 * which says what changed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ctl.h"
#include "rundir.h"

static int fault(const char *cmd, int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		cmd_help(cmd, true);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-')
		return cmd_usage(cmd);
	if (!lab_name_ok(argv[1])) {
		err_msg("bad lab name \"%s\"", argv[1]);
		return EXIT_USAGE;
	}
	char req[CTL_REQUEST_MAX];
	int n = snprintf(req, sizeof(req), "fault %s", cmd);
	for (int i = 2; i < argc; i++) {
		/* one word each: the request is one line, split on blanks */
		if (!argv[i][0] || strpbrk(argv[i], " \t\r\n")) {
			err_msg("%s: bad argument \"%s\"", cmd, argv[i]);
			return EXIT_USAGE;
		}
		n += snprintf(req + n, sizeof(req) - (size_t)n, " %s", argv[i]);
		if ((size_t)n >= sizeof(req)) {
			err_msg("%s: too many arguments", cmd);
			return EXIT_USAGE;
		}
	}
	char *reply = NULL;
	int err = ctl_request(argv[1], req, &reply, NULL, 10000);
	if (err) {
		err_msg("lab %s %s", argv[1], err == -ENOENT ? "is not up (see 'vqnet list')" : strerror(-err));
		return err == -ENOENT ? EXIT_NOT_UP : EXIT_FAIL;
	}
	int rc = 0;
	if (!strncmp(reply, "error: ", 7)) {
		reply[strcspn(reply, "\n")] = 0;
		/* the lab library's messages may name the command already */
		const char *why = reply + 7;
		size_t len = strlen(cmd);
		bool named = !strncmp(why, cmd, len) && why[len] == ':';
		err_msg("%s%s%s", named ? "" : cmd, named ? "" : ": ", why);
		rc = EXIT_USAGE;
	} else {
		fputs(reply, stdout);
	}
	free(reply);
	return rc;
}

int cmd_impair(int argc, char **argv) { return fault("impair", argc, argv); }
int cmd_link(int argc, char **argv) { return fault("link", argc, argv); }
int cmd_partition(int argc, char **argv) { return fault("partition", argc, argv); }
int cmd_heal(int argc, char **argv) { return fault("heal", argc, argv); }
int cmd_stop(int argc, char **argv) { return fault("stop", argc, argv); }
int cmd_start(int argc, char **argv) { return fault("start", argc, argv); }
