/* SPDX-License-Identifier: MIT */
/*
 * agent_client.h - running a command in a VM through its vqnet-agentd.
 *
 * The host side's client: one unix-socket connection to a VM's agentd is
 * one command.  The wire format is lib/agent's frames with channel 0: the
 * client sends EXEC (or HELLO to wait for the agent), then STDIN frames,
 * STDIN_EOF and SIGNALs; agentd answers STDOUT, STDERR, ERROR and EXIT
 * (or HELLO), then closes.  Frames from agentd are decoded as strictly as
 * the guest's (agentd relays the guest's bytes, so they are untrusted
 * too).
 *
 * These functions block (they are for `vqnet exec`, the supervisor and
 * tests); they never print or exit.
 */
#ifndef VQNET_AGENT_CLIENT_H
#define VQNET_AGENT_CLIENT_H

#include <signal.h>

#include "agent.h"

enum agentc_how {
	AGENTC_EXITED,   /* value: its exit code */
	AGENTC_KILLED,   /* value: the signal that killed it */
	AGENTC_FAILED,   /* it did not run or was lost: error says why */
};

struct agentc_status {
	enum agentc_how how;
	int value;
	/* the last ERROR text (printable ASCII), "" if none: set with
	 * AGENTC_FAILED, and also when the agent could not run the program
	 * (EXITED 127 or 126 with "cannot run X: ...") */
	char error[AGENT_ERROR_MAX + 1];
};

struct agentc_cmd {
	char *const *argv;        /* argv[0] is looked up in the guest's PATH */
	char *const *envp;        /* NULL or "NAME=value" added to the guest's defaults */
	const char *cwd;          /* NULL (/) or an absolute path in the guest */
	int in_fd;                /* its stdin is read from here; -1: empty stdin */
	int out_fd, err_fd;       /* its stdout, stderr are written here; -1: dropped */
	const sigset_t *forward;  /* NULL, or signals passed on to the command: they
				   * are blocked during the call and read with a signalfd */
};

/* Connect to an agentd's client socket: a close-on-exec fd or -errno. */
int agentc_connect(const char *path);

/* Wait until the VM's agent is ready (agentd answers HELLO): 0, -ETIMEDOUT
 * after timeout_ms (< 0: no limit), -ENOENT/-ECONNREFUSED when no agentd
 * listens there, -EPROTO if agentd answered something else (the error
 * text, if any, in why[0..len)). */
int agentc_wait_ready(const char *path, int timeout_ms, char *why, size_t len);

/* Run a command in the VM and pass its stdin, stdout, stderr and exit
 * status through.  Returns 0 with *st saying how it ended, or -errno when
 * the host side failed (cannot connect, I/O error on our fds, -EPROTO for a
 * malformed stream from agentd).  in_fd is read until EOF, then STDIN_EOF
 * is sent; a command that exits first stops the reading. */
int agentc_run(const char *path, const struct agentc_cmd *cmd, struct agentc_status *st);

#endif
