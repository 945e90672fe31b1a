/* SPDX-License-Identifier: MIT */
/* vqnet down LAB: ask the supervisor, or clean up after a dead one. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "vqnet.h"

/* The supervisor is gone (its lock is free): remove what its state file
 * says it made. */
static int clean_leftovers(const char *lab)
{
	char path[PATH_MAX];
	lab_path(path, sizeof(path), lab, ".state");
	FILE *f = fopen(path, "re");
	if (!f)
		return -ENOENT;
	char line[256], name[128];
	int rc = 0;
	while (fgets(line, sizeof(line), f)) {
		/* only namespaces of this lab: never act on a hand-edited file
		 * beyond what the lab's own names allow */
		if (sscanf(line, "netns %127s", name) != 1 || strncmp(name, lab, strlen(lab)) ||
		    name[strlen(lab)] != '-' || !netns_exists(name))
			continue;
		netns_kill_all(name);
		int err = netns_delete(name);
		if (err) {
			err_msg("cannot delete namespace %s: %s", name, strerror(-err));
			rc = err;
		}
	}
	fclose(f);
	return rc;
}

/* The pid of the lab's supervisor from its state file, if that process
 * is still this lab's supervisor ("vqnet __supervise LAB ..."). */
static pid_t supervisor_pid(const char *lab)
{
	char path[PATH_MAX], line[512];
	int pid = 0;
	lab_path(path, sizeof(path), lab, ".state");
	FILE *f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "supervisor %d", &pid) == 1)
			break;
	if (f)
		fclose(f);
	if (pid <= 1)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	f = fopen(path, "re");
	size_t n = f ? fread(line, 1, sizeof(line) - 1, f) : 0;
	if (f)
		fclose(f);
	line[n] = 0;
	/* argv[0], then "__supervise", then the lab's name */
	const char *arg[3] = { line, NULL, NULL };
	for (int k = 1; k < 3; k++) {
		size_t used = (size_t)(arg[k - 1] - line) + strlen(arg[k - 1]) + 1;
		if (used >= n)
			return 0;
		arg[k] = line + used;
	}
	return !strcmp(arg[1], "__supervise") && !strcmp(arg[2], lab) ? (pid_t)pid : 0;
}

int lab_down(const char *lab)
{
	char *reply = NULL;
	int err = ctl_request(lab, "down", &reply);
	if (!err) {
		bool ok = !strncmp(reply, "ok", 2);
		if (!ok)
			err_msg("lab %s: %s", lab, reply);
		free(reply);
		return ok ? 0 : -EIO;
	}
	/* No answer.  Take the lab's lock: then no supervisor is alive and
	 * no `up` of it is under way while we clean. */
	int lock = lab_lock(lab, 0, false);
	if (lock == -EWOULDBLOCK) {
		/* alive but not answering (starting, or stuck): TERM makes it
		 * take the lab down itself; wait for its lock */
		pid_t pid = supervisor_pid(lab);
		if (pid)
			kill(pid, SIGTERM);
		lock = lab_lock(lab, 30000, false);
		if (lock == -ENOENT)
			return 0;   /* it cleaned up and removed its lock */
		if (lock < 0) {
			err_msg("lab %s: supervisor%s does not answer", lab, pid ? "" : " (unknown pid)");
			return -ETIMEDOUT;
		}
	} else if (lock < 0 && lock != -ENOENT) {
		err_msg("lab %s: lock: %s", lab, strerror(-lock));
		return lock;
	}
	err = clean_leftovers(lab);
	if (err == -ENOENT && lock < 0) {
		err_msg("lab %s is not up", lab);
		return -ENOENT;
	}
	lab_remove_files(lab);
	if (lock >= 0)
		lab_unlock(lab, lock, true);
	return err == -ENOENT ? 0 : err;
}

int cmd_down(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-') {
		err_msg("usage: vqnet down LAB");
		return EXIT_USAGE;
	}
	if (!lab_name_ok(argv[1])) {
		err_msg("bad lab name \"%s\"", argv[1]);
		return EXIT_USAGE;
	}
	return lab_down(argv[1]) ? 1 : 0;
}
