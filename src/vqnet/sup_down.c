/* SPDX-License-Identifier: MIT */
/* Teardown: everything the supervisor made goes, its log stays. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "sup.h"
#include "sys.h"
#include "uidslot.h"

#define STOP_GRACE_MS 2000

static bool wait_exit(pid_t pid, int *status, int ms)
{
	for (int t = 0; t <= ms; t += 5) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return true;
		struct timespec ts = { 0, 5 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return false;
}

void sup_teardown(void)
{
	struct lab *lab = S.lab;
	if (!lab || !S.nodes)
		return;
	if (S.state.supervisor)
		sup_set_phase("stopping");
	sup_capture_teardown();
	/* VMs first: their QEMUs stop while their devices still answer */
	sup_vm_stop();
	/* vmms first (through their pidfds: never a recycled pid), then
	 * each guest's init, which takes its PID namespace with it */
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct sup_node *n = &S.nodes[i];
		if (n->pidfd >= 0 && !n->exited)
			pidfd_send_signal(n->pidfd, SIGTERM, NULL, 0);
	}
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct sup_node *n = &S.nodes[i];
		if (n->pid > 0 && !n->exited && !wait_exit(n->pid, &n->status, STOP_GRACE_MS)) {
			pidfd_send_signal(n->pidfd, SIGKILL, NULL, 0);
			wait_exit(n->pid, &n->status, STOP_GRACE_MS);
		}
		n->exited = true;
		if (n->ctl_fd >= 0)
			close(n->ctl_fd);
		n->ctl_fd = -1;
		if (n->pidfd >= 0)
			close(n->pidfd);
		n->pidfd = -1;
		if (n->init_fd >= 0) {
			pidfd_send_signal(n->init_fd, SIGKILL, NULL, 0);
			if (n->init > 0)
				wait_exit(n->init, NULL, STOP_GRACE_MS);
			close(n->init_fd);
			n->init_fd = -1;
			n->init = 0;
		}
	}
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct sup_node *n = &S.nodes[i];
		if (n->netns_made) {
			/* whatever joined it from outside (ip netns exec) */
			netns_kill_all(n->netns);
			int err = netns_delete(n->netns);
			if (err)
				sup_log("cannot delete namespace %s: %s", n->netns, strerror(-err));
			n->netns_made = false;
		}
		if (n->stats)
			munmap(n->stats, n->stats_len);
		n->stats = NULL;
	}
	if (S.slot_fd >= 0) {
		uid_slot_release(UID_SLOT_DIR, S.slot, S.slot_fd);
		S.slot_fd = -1;
	}
	/* we hold the lab's lock: the files go, the lock last */
	lab_remove_files(lab->name);
	if (S.lock_fd >= 0)
		lab_unlock(lab->name, S.lock_fd, true);
	S.lock_fd = -1;
	sup_log("lab %s is down", lab->name);
	/* the streams hear it last, once it is true */
	sup_events_end();
}
