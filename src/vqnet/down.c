/* SPDX-License-Identifier: MIT */
/* vqnet down LAB: ask the supervisor, stop one that is still starting, or
 * clean up after a dead one. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "netns.h"
#include "rundir.h"
#include "sys.h"
#include "up.h"
#include "uidslot.h"

#define DOWN_WAIT_MS 30000

/* A pidfd of the lab's supervisor, if pid is still that process ("vqnet
 * __supervise LAB ...").  Pinned first, then checked, then found alive:
 * so the cmdline we read was its own, never a recycled pid's. */
static int supervisor_pidfd(const char *lab, pid_t pid)
{
	char path[64], line[512];
	int fd = pid > 1 ? pidfd_open(pid, 0) : -1;
	if (fd < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	FILE *f = fopen(path, "re");
	size_t n = f ? fread(line, 1, sizeof(line) - 1, f) : 0;
	if (f)
		fclose(f);
	line[n] = 0;
	/* argv[0], then "__supervise", then the lab's name */
	const char *arg[3] = { line, NULL, NULL };
	for (int k = 1; k < 3; k++) {
		size_t used = (size_t)(arg[k - 1] - line) + strlen(arg[k - 1]) + 1;
		if (used >= n) {
			close(fd);
			return -1;
		}
		arg[k] = line + used;
	}
	if (strcmp(arg[1], "__supervise") || strcmp(arg[2], lab) ||
	    pidfd_send_signal(fd, 0, NULL, 0) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The supervisor is gone and we hold the lab's lock: remove what its
 * state file says it may have made. */
static int clean_leftovers(const char *lab, const struct lab_state *st)
{
	int rc = 0;
	unsigned removed = 0;
	for (unsigned i = 0; i < st->n_netns; i++) {
		if (!netns_exists(st->netns[i]))
			continue;
		netns_kill_all(st->netns[i]);
		int err = netns_delete(st->netns[i]);
		if (err) {
			err_msg("cannot delete namespace %s: %s", st->netns[i], strerror(-err));
			rc = EXIT_FAIL;
		} else {
			removed++;
		}
	}
	/* its uid slot: which one was its is not recorded, but every slot
	 * no live lab holds is a dead lab's */
	uid_slots_free_dead(UID_SLOT_DIR);
	char log[PATH_MAX];
	lab_log_path(log, sizeof(log), lab);
	printf("lab %s: its supervisor (pid %d) had died; removed %u namespace%s it left "
	       "(its log: %s)\n", lab, (int)st->supervisor, removed, removed == 1 ? "" : "s", log);
	return rc;
}

int lab_down(const char *lab)
{
	char *reply = NULL;
	if (ctl_request(lab, "down", &reply, NULL, DOWN_WAIT_MS) == 0) {
		bool ok = !strncmp(reply, "ok", 2);
		if (!ok)
			err_msg("lab %s: %s", lab, reply);
		free(reply);
		return ok ? 0 : EXIT_FAIL;
	}
	/* No answer: it is starting, stopping, stuck, dead or not there.
	 * While someone holds the lock, ask its supervisor (once) to stop
	 * and wait for the lock: a lab coming up goes down, whatever stage
	 * it is at.  What is left is cleaned up only under the lock, made if
	 * there is none: without it, an up could take the lock and write its
	 * state between our look and our clean-up, and we would delete a
	 * live lab's namespaces as a dead one's. */
	uint64_t deadline = sys_now_ns() + DOWN_WAIT_MS * 1000000ull;
	bool asked = false;
	int lock;
	while ((lock = lab_lock(lab, 0, true)) == -EWOULDBLOCK) {
		struct lab_state st;
		if (!asked && lab_state_read(lab, &st) == 0) {
			int fd = supervisor_pidfd(lab, st.supervisor);
			if (fd >= 0) {
				asked = pidfd_send_signal(fd, SIGTERM, NULL, 0) == 0;
				close(fd);
			}
			lab_state_free(&st);
		}
		if (sys_now_ns() > deadline) {
			err_msg("lab %s: its supervisor does not answer, and its lock is still held "
				"after %d s", lab, DOWN_WAIT_MS / 1000);
			return EXIT_FAIL;
		}
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
	if (lock < 0) {
		err_msg("lab %s: lock: %s", lab, strerror(-lock));
		return EXIT_FAIL;
	}
	struct lab_state st;
	int rc;
	if (lab_state_read(lab, &st) == 0) {
		rc = clean_leftovers(lab, &st);
		lab_state_free(&st);
	} else if (asked) {
		rc = 0;   /* the supervisor we stopped cleaned up after itself */
	} else {
		err_msg("lab %s is not up", lab);
		rc = EXIT_NOT_UP;
	}
	lab_remove_files(lab);
	lab_unlock(lab, lock, true);
	return rc;
}

int cmd_down(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		cmd_help("down", true);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-')
		return cmd_usage("down");
	if (!lab_name_ok(argv[1])) {
		err_msg("bad lab name \"%s\"", argv[1]);
		return EXIT_USAGE;
	}
	return lab_down(argv[1]);
}
