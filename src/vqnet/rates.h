/* SPDX-License-Identifier: MIT */
/*
 * rates.h - what moved during an interval: the rates between two status
 * objects of one lab (docs/status.md), as `vqnet stats` shows them, and
 * their text.  Pure: no clock, no socket; the caller takes the snapshots
 * and measures the time between them.
 *
 * The counters in a status object are what vmms wrote: untrusted.  A rate
 * is given only when both snapshots hold its counter, the counter did not
 * go down, the vmm that wrote it is the same one in both (same pid, same
 * restart count) and still running, and the rate is one a datapath can
 * reach; otherwise it is null and the object's "state" says why.  A
 * counter that is null in the status (never published) gives a null rate.
 */
#ifndef VQNET_RATES_H
#define VQNET_RATES_H

#include <jansson.h>
#include <stdio.h>

/* More frames (or drops) a second than any vmm moves: a link alone does
 * about 2 * 10^7 here.  Past it a counter is "implausible". */
#define RATES_FRAMES_MAX 1e9

/* The object `vqnet stats --json` prints for one interval (its schema is
 * in docs/status.md): the rates between prev and cur, two status objects
 * of one lab taken dt seconds apart (by CLOCK_MONOTONIC), cur at wall
 * clock time `at` (Unix seconds).  NULL when cur is not an up lab's
 * status, dt is not positive, or out of memory.  json_decref it. */
json_t *rates_between(json_t *prev, json_t *cur, double dt, double at);

/* What `vqnet stats` prints for one interval: a line, then a table of
 * interfaces and one of link ends. */
void report_rates(FILE *f, json_t *rates);

/* "0", "950", "12.3k", "11.8G": three significant digits, SI prefixes. */
void rates_si(double v, char *buf, size_t len);

#endif
