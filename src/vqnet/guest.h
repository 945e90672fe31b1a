/* SPDX-License-Identifier: MIT */
/*
 * guest.h - entering a guest of a lab that is up.
 *
 * A namespace guest is a network, a PID and a mount namespace whose pid 1
 * the lab's supervisor started; the supervisor hands out a pidfd of that
 * init over the control socket, and that handle is the only way in: a
 * name in /run/netns proves nothing (anyone may create "LAB.GUEST"), the
 * supervisor's answer does.
 */
#ifndef VQNET_GUEST_H
#define VQNET_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A way into a guest: the pidfd of a namespace guest's init, or the
 * agentd socket of a VM guest (whose programs run in its own kernel). */
struct guest_handle {
	int pidfd;               /* >= 0: a namespace guest */
	char agent[108];         /* else: a VM's agentd socket */
};

/* Ask lab's supervisor for guest's handle: 0, or -1 with why saying what
 * is wrong ("lab x is not up", "fw is a filter node ...").  *not_up is set
 * when the lab itself is not up.  guest_close lets go of it. */
int guest_open(const char *lab, const char *guest, struct guest_handle *h, char *why,
	       size_t len, int *not_up);
void guest_close(struct guest_handle *h);

/* Move this (single-threaded) process into a namespace guest's network,
 * mount and PID namespaces (the PID namespace takes effect for children),
 * keeping the working directory's path.  0 or -errno. */
int guest_join(int pidfd);

/* Run argv inside the guest: a relay child joins the guest and forks the
 * program there (a VM: runs it through the VM's agent), then exits with
 * its status (or dies of its signal), so the caller never enters a
 * namespace itself.  With own_group the relay leads a process group of its
 * own (a namespace guest's program is in it too), so kill(-pid) reaches
 * both; without, both stay in the caller's (a terminal's Ctrl-C reaches
 * the program).  fds 0/1/2 are in/out/err (-1: /dev/null).  pid or
 * -errno. */
pid_t guest_spawn(const struct guest_handle *h, char *const argv[], int in, int out, int err_fd,
		  bool own_group);

#endif
