/* SPDX-License-Identifier: MIT */
/*
 * agentd.h - vqnet-agentd, the host side of one VM's agent.
 *
 * It holds the one connection to QEMU's agent chardev (a unix socket QEMU
 * serves) and listens for clients on a unix socket of its own: each client
 * connection is one command, mapped to a channel of the serial link
 * (lib/agent/agent.h).  Everything from the guest is untrusted: a stream
 * that breaks the protocol closes the connection with its reason in the
 * log and fails every open command with that reason; memory is bounded by
 * the per-channel windows, never by what the guest or a client sends.
 *
 * It needs no privileges (only its two sockets) and uses few system calls
 * (poll, read, write, accept4, connect, close, clock_gettime, getrandom,
 * socket), so it can run as an unprivileged uid under a seccomp allow-list
 * (--seccomp).
 */
#ifndef VQNET_AGENTD_H
#define VQNET_AGENTD_H

#include <stdbool.h>

struct agentd_config {
	const char *qemu_path;   /* QEMU's agent socket to connect to (reconnects), or */
	int qemu_fd;             /* an already connected stream (-1: none); its end is final */
	const char *listen_path; /* where to bind the client socket, or */
	int listen_fd;           /* a listening socket (-1: none) */
	int ready_fd;            /* -1, or gets "ready\n" / "lost REASON\n" lines */
	bool seccomp;            /* install the allow-list once set up */
};

/* Run until SIGTERM/SIGINT (0), or until a qemu_fd connection ends (1).
 * Logs to stderr, one line per event. */
int agentd_run(const struct agentd_config *cfg);

/* Install agentd's seccomp allow-list (0 or -errno). */
int agentd_seccomp(void);

#endif
