/* SPDX-License-Identifier: MIT */
/*
 * vqnet.h - the CLI's commands and the helpers they share.
 *
 * Exit statuses: 0 success, 1 failure at run time, 2 bad usage or a mistake
 * in a lab file (reported as file:line: what is wrong).
 */
#ifndef VQNET_CLI_H
#define VQNET_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "lab.h"

#define RUN_DIR "/run/vqnet"
#define EXIT_USAGE 2

/* One subcommand: wireguard-tools style dispatch. */
int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_supervise(int argc, char **argv);

extern const char *prog;

/* "vqnet: " + message on stderr. */
__attribute__((format(printf, 1, 2))) void err_msg(const char *fmt, ...);

/* A loaded lab file: text and model.  Returns 0, or the exit status after
 * printing what is wrong (file:line: for mistakes in the file). */
struct labfile {
	const char *path;
	char *text;
	size_t len;
	struct lab *lab;
	struct rulesfile {       /* per node: its "rules = FILE", checked */
		char *text;
		size_t len;
	} *rules;
};
int labfile_load(const char *path, struct labfile *lf);
void labfile_free(struct labfile *lf);
/* Print "file:line: msg" for a mistake at line (0: "file: msg"). */
__attribute__((format(printf, 3, 4)))
void labfile_error(const struct labfile *lf, unsigned line, const char *fmt, ...);

/* Lab and namespace names. */
int lab_path(char *buf, size_t len, const char *lab, const char *suffix);
int guest_netns(char *buf, size_t len, const char *lab, const char *guest);
bool lab_name_ok(const char *name);

/* Take the lab's lock (RUN_DIR/LAB.lock), waiting up to wait_ms for it,
 * creating it if asked: an fd, -EWOULDBLOCK when someone holds it,
 * -ENOENT when there is none (and create is false), or -errno. */
int lab_lock(const char *lab, int wait_ms, bool create);
/* Let go of it; remove: delete it (and RUN_DIR if empty) first. */
void lab_unlock(const char *lab, int fd, bool remove);
/* Remove the lab's files but its lock (hold the lock to do this; the lock
 * goes last, with lab_unlock). */
void lab_remove_files(const char *lab);

/* Bring a loaded lab up: start its supervisor and wait until every
 * interface is up (quiet: no table).  0, or the exit status after an error
 * message; on failure nothing of the lab is left. */
int lab_up(struct labfile *lf, bool quiet);

/* Ask a lab's supervisor: request a line, collect the reply into a
 * malloc'd string (NULL + message on failure; -ENOENT if not up). */
int ctl_request(const char *lab, const char *request, char **reply);

/* Take down a lab by name: via its supervisor, or by cleaning what a dead
 * supervisor left.  0 or -errno (message printed). */
int lab_down(const char *lab);

/* Run argv inside a guest's namespace (fork+exec); returns the child pid,
 * or -errno.  fds 0/1/2 of the child are in/out/err (-1: /dev/null). */
pid_t guest_spawn(const char *lab, const char *guest, char *const argv[],
		  int in, int out, int err_fd);

/* Enter a guest's network namespace in this process (and give it its own
 * /sys view); never falls back to the host's.  0 or -errno. */
int guest_enter(const char *lab, const char *guest);

/* GUEST IFACE MAC IP PEERS, one line per interface. */
void lab_table(FILE *f, const struct lab *lab);

/* Directory holding the vqnet binaries (for vqnet-vmm and the samples). */
const char *self_dir(void);

#endif
