/* SPDX-License-Identifier: MIT */
/*
 * report.h - a lab's status for people: text rendered from the JSON the
 * supervisor gives (docs/status.md), so text and --json never disagree.
 */
#ifndef VQNET_REPORT_H
#define VQNET_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "rundir.h"

/* The status object of lab in any state: the supervisor's when it is up,
 * else one made from what RUN_DIR says (state, supervisor, hint).  NULL
 * only when out of memory.  json_decref it. */
json_t *lab_status(const char *lab, struct lab_probe *p);

/* What `vqnet up` prints: a line, then the guests' interfaces. */
void report_up(FILE *f, const char *status_json);
/* What `vqnet status LAB` prints. */
void report_status(FILE *f, json_t *status);
/* One event (docs/status.md) of lab as a line: local time, the node or
 * link it concerns (else the lab), its text. */
void report_event(FILE *f, json_t *event, const char *lab);

/* JSON helpers that never fail on a missing or mistyped member. */
const char *js(json_t *o, const char *key, const char *dflt);
long long jint(json_t *o, const char *key, long long dflt);

#endif
