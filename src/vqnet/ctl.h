/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - the lab's control socket, RUN_DIR/LAB.sock: one request line,
 * one reply, then the supervisor closes.  Requests:
 *
 *   status          the lab's status as one JSON object (docs/status.md)
 *   down            take the lab down; "ok" once everything is gone
 *   guest NAME      "ok" and, as SCM_RIGHTS, a pidfd of the guest's init:
 *                   the handle `exec` and `run` join a guest through
 *                   (a VM: "vm PATH", its agentd's socket)
 *   fault CMD ...   a fault (impair, link, partition, heal, stop, start,
 *                   or reset): what changed, a line each
 *   events          the lab's recent events, then each new one as it
 *                   happens, one JSON object a line (docs/status.md), until
 *                   the lab goes down ("lab_down", then the end); the
 *                   connection stays open, with no deadline
 *   note scenario NAME one-vm|across started
 *   note scenario NAME one-vm|across ended passed|failed|interrupted
 *                   an event from `vqnet run`: "ok"
 *
 * A reply that starts with "error: " says what went wrong.
 */
#ifndef VQNET_CTL_H
#define VQNET_CTL_H

#define CTL_REQUEST_MAX 4608   /* a capture's filter: 256 instructions in hex */

/* Send request, collect the reply into a malloc'd string (and, if fd is
 * not NULL, a descriptor passed with it, or -1).  0, -ENOENT when no
 * supervisor listens, -ETIMEDOUT after timeout_ms without an answer, or
 * -errno. */
int ctl_request(const char *lab, const char *request, char **reply, int *fd, int timeout_ms);

/* Connect and send request, for a reply that goes on (events): the
 * connected socket, -ENOENT when no supervisor listens, or -errno. */
int ctl_open(const char *lab, const char *request);

#endif
