/* SPDX-License-Identifier: MIT */
/* table.h - text tables whose columns fit their widest cell. */
#ifndef VQNET_TABLE_H
#define VQNET_TABLE_H

#include <stdio.h>

#define TABLE_COLS 12

struct table {
	unsigned cols, rows, cap;
	char **cell;             /* rows * cols, malloc'd strings */
};

void table_init(struct table *t, unsigned cols);
/* Add a row of t->cols cells (printf-formatted each: pass plain strings
 * through "%s"); a NULL cell prints as empty. */
void table_row(struct table *t, const char *const *cells);
void table_print(FILE *f, const struct table *t);
void table_free(struct table *t);

#endif
