/* SPDX-License-Identifier: MIT */
/* supervisor.h - what the supervisor knows of each node, for status. */
#ifndef VQNET_SUPERVISOR_H
#define VQNET_SUPERVISOR_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "lab.h"
#include "vmm_stats.h"

struct sup_node {
	pid_t pid;
	int status;           /* wait status once exited */
	bool exited;
	bool netns_made;
	int stats_fd;
	struct vmm_stats *stats;
	size_t stats_len;
	int ready;            /* read end of its ready pipe, until it reports */
	int rules_fd;         /* filters with a rules file: its text */
	const struct lab_rule **rules;   /* filters: the rules in force, in order */
	unsigned n_rules;
	char netns[LAB_NAME_MAX * 2 + 2];
};

/* `vqnet status` of one lab, as text or as one JSON object. */
void sup_status(FILE *f, const struct lab *lab, const struct sup_node *nodes,
		time_t started, bool json);

#endif
