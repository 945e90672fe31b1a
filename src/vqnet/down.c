/* SPDX-License-Identifier: MIT */
/* vqnet down LAB: ask the supervisor, or clean up after a dead one. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

static void remove_files(const char *lab)
{
	const char *const suffixes[] = { ".sock", ".state", ".state.tmp", ".log", ".lock" };
	char path[PATH_MAX];
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (lab_path(path, sizeof(path), lab, suffixes[i]) == 0)
			unlink(path);
	rmdir(RUN_DIR);
}

/* Is the lab's lock held (a supervisor alive)? */
static bool locked(const char *lab)
{
	char path[PATH_MAX];
	lab_path(path, sizeof(path), lab, ".lock");
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool held = flock(fd, LOCK_EX | LOCK_NB) < 0;
	close(fd);
	return held;
}

/* The supervisor's pid from the state file, if it is still a supervisor. */
static pid_t supervisor_pid(const char *lab)
{
	char path[PATH_MAX], line[256];
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
	/* argv[0]="vqnet" argv[1]="__supervise" */
	return n > 6 && !strcmp(line + strlen(line) + 1, "__supervise") ? (pid_t)pid : 0;
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
	if (locked(lab)) {
		/* alive but not answering (still starting, or stuck): TERM it,
		 * which makes it tear the lab down, and wait for its lock */
		pid_t pid = supervisor_pid(lab);
		if (pid)
			kill(pid, SIGTERM);
		for (int i = 0; i < 300 && locked(lab); i++) {
			struct timespec ts = { 0, 100 * 1000000 };
			nanosleep(&ts, NULL);
		}
		if (locked(lab)) {
			err_msg("lab %s: supervisor%s does not answer", lab, pid ? "" : " (unknown pid)");
			return -ETIMEDOUT;
		}
	}
	err = clean_leftovers(lab);
	if (err == -ENOENT) {
		char path[PATH_MAX];
		lab_path(path, sizeof(path), lab, ".lock");
		if (access(path, F_OK) < 0) {
			err_msg("lab %s is not up", lab);
			return -ENOENT;
		}
		err = 0;
	}
	remove_files(lab);
	return err;
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
