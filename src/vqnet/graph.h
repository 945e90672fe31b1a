/* SPDX-License-Identifier: MIT */
/*
 * graph.h - a lab as DOT text, for `vqnet graph`.
 *
 * The model is a lab's status object as docs/status.md describes it: the
 * supervisor's, of a lab that is up (live), or one made from a lab file
 * with the same members less the live ones (the vmms, link states and
 * reasons, counters), and with a QEMU guest's `vm` giving `memory_mib`
 * and `cpus`.  Nothing in it is trusted: a member that is missing or of
 * the wrong type is drawn as unknown, a link to a node that is not there
 * is left out, and every string is escaped for DOT and for the SVG or PNG
 * graphviz makes of it.
 */
#ifndef VQNET_GRAPH_H
#define VQNET_GRAPH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* Write the DOT text of model to f; the caller checks f for errors. */
void graph_dot(FILE *f, json_t *model, bool live);

#endif
