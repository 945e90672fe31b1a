/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what every vqnet command shares: its name in messages, exit
 * statuses, and the few facts about the host it runs on.
 *
 * Exit statuses (documented in `vqnet --help`):
 *   0  success
 *   1  failure at run time (a lab could not come up, a command failed)
 *   2  bad usage, or a mistake in a lab file (file:line: what is wrong)
 *   3  the lab is not up (status, down, exec of a lab that does not exist)
 *   4  needs root (it creates namespaces and TAP devices)
 *   130 and up: interrupted by a signal (128 + its number)
 */
#ifndef VQNET_CLI_H
#define VQNET_CLI_H

#include <stdbool.h>
#include <stddef.h>

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_NOT_UP 3
#define EXIT_NOT_ROOT 4

extern const char *prog;

/* "vqnet: " + message on stderr. */
__attribute__((format(printf, 1, 2))) void err_msg(const char *fmt, ...);

/* Directory holding the vqnet binaries (vqnet-vmm, the samples). */
const char *self_dir(void);

/* One command's usage line and help text, from the dispatch table in
 * main.c; every command prints its own with cmd_help(). */
void cmd_help(const char *name, bool to_stdout);
/* Is argv[1] (the first argument after the command) --help or -h? */
bool wants_help(int argc, char **argv);
/* Print "usage: vqnet NAME USAGE" on stderr; returns EXIT_USAGE. */
int cmd_usage(const char *name);

/* The commands, one file each. */
int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_supervise(int argc, char **argv);
int cmd_impair(int argc, char **argv);
int cmd_link(int argc, char **argv);
int cmd_partition(int argc, char **argv);
int cmd_heal(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_graph(int argc, char **argv);

#endif
