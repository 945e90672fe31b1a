/* SPDX-License-Identifier: MIT */
/* up.h - bringing a lab up and down, for up, run and down. */
#ifndef VQNET_UP_H
#define VQNET_UP_H

#include <stdbool.h>

#include "labfile.h"

/* Bring a loaded lab up: start its supervisor and wait until every
 * interface is up; print the table unless quiet.  Signals that arrive on
 * sigfd meanwhile (the caller blocks them) make the supervisor roll back
 * and are answered with 128 + their number, once nothing of the lab is
 * left.  seed: `--seed`'s, or NULL for the lab file's (or one of chance).
 * 0, or the exit status after an error message. */
int lab_up(struct labfile *lf, int sigfd, bool quiet, const char *seed);

/* A seed as `--seed` takes it: a decimal 0 .. 2^64-1. */
bool seed_ok(const char *s);

/* Take down a lab by name, via its supervisor or by cleaning what a dead
 * one left; waits out one that is still coming up.  0, or the exit
 * status after a message. */
int lab_down(const char *lab);

/* Block SIGINT, SIGTERM, SIGHUP and SIGPIPE and return a signalfd for
 * them (or -errno): how up and run see Ctrl-C, kill, a hangup or a
 * closed pipe, and clean up instead of dying. */
int signals_to_fd(void);

#endif
