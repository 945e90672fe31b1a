/* SPDX-License-Identifier: MIT */
/*
 * vqnet-agentc SOCKET [--wait MS] [--cwd DIR] [--env NAME=VALUE]... [-- CMD ARG...]
 *
 * Runs CMD in a VM through its vqnet-agentd's client socket, with our
 * stdin, stdout and stderr, and exits as it did (its code, or 128 + the
 * signal that killed it, as `vqnet exec` does); 255 when it could not run
 * or was lost, with the reason on stderr.  --wait MS first waits for the
 * agent to be ready (then without CMD just reports that).  SIGINT, SIGTERM,
 * SIGHUP and SIGQUIT are passed on to the command.  For tests and for
 * people; `vqnet exec` calls the same agentc_run().
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_client.h"

#define ENV_MAX 64

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: vqnet-agentc SOCKET [--wait MS] [--cwd DIR] [--env N=V]... [-- CMD ARG...]\n");
		return 2;
	}
	const char *sock = argv[1], *cwd = NULL;
	char *envp[ENV_MAX + 1] = { NULL };
	unsigned envc = 0;
	long wait_ms = -1;
	int i = 2;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "--wait") && i + 1 < argc) {
			wait_ms = strtol(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--cwd") && i + 1 < argc) {
			cwd = argv[++i];
		} else if (!strcmp(argv[i], "--env") && i + 1 < argc && envc < ENV_MAX) {
			envp[envc++] = argv[++i];
		} else {
			break;
		}
	}
	if (wait_ms >= 0) {
		char why[AGENT_ERROR_MAX + 1];
		int err = agentc_wait_ready(sock, (int)wait_ms, why, sizeof(why));
		if (err) {
			fprintf(stderr, "vqnet-agentc: the agent is not ready: %s%s%s\n", strerror(-err),
				why[0] ? ": " : "", why);
			return 255;
		}
	}
	if (i >= argc)
		return wait_ms >= 0 ? 0 : 2;
	sigset_t fwd;
	sigemptyset(&fwd);
	sigaddset(&fwd, SIGINT);
	sigaddset(&fwd, SIGTERM);
	sigaddset(&fwd, SIGHUP);
	sigaddset(&fwd, SIGQUIT);
	struct agentc_cmd cmd = {
		.argv = argv + i, .envp = envc ? envp : NULL, .cwd = cwd,
		.in_fd = 0, .out_fd = 1, .err_fd = 2, .forward = &fwd,
	};
	struct agentc_status st;
	int err = agentc_run(sock, &cmd, &st);
	if (err) {
		fprintf(stderr, "vqnet-agentc: %s: %s\n", argv[i], strerror(-err));
		return 255;
	}
	if (st.error[0])
		fprintf(stderr, "vqnet-agentc: %s\n", st.error);
	if (st.how == AGENTC_EXITED)
		return st.value;
	if (st.how == AGENTC_KILLED)
		return 128 + st.value;
	return 255;
}
