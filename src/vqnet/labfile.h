/* SPDX-License-Identifier: MIT */
/* labfile.h - a lab file read, checked and modelled, for the commands. */
#ifndef VQNET_LABFILE_H
#define VQNET_LABFILE_H

#include <stddef.h>

#include "lab.h"


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

/* Read and check path (and each filter's rules file).  0, or the exit
 * status after printing what is wrong (file:line: for mistakes). */
int labfile_load(const char *path, struct labfile *lf);
void labfile_free(struct labfile *lf);

/* Print "file:line: msg" for a mistake at line (0: "file: msg"). */
__attribute__((format(printf, 3, 4)))
void labfile_error(const struct labfile *lf, unsigned line, const char *fmt, ...);

#endif
