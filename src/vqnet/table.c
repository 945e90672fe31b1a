/* SPDX-License-Identifier: MIT */
#include "table.h"

#include <stdlib.h>
#include <string.h>

void table_init(struct table *t, unsigned cols)
{
	*t = (struct table){ .cols = cols > TABLE_COLS ? TABLE_COLS : cols };
}

void table_row(struct table *t, const char *const *cells)
{
	if (t->rows == t->cap) {
		unsigned cap = t->cap ? 2 * t->cap : 16;
		char **c = realloc(t->cell, (size_t)cap * t->cols * sizeof(*c));
		if (!c)
			return;   /* out of memory: the row is left out */
		t->cell = c;
		t->cap = cap;
	}
	for (unsigned i = 0; i < t->cols; i++)
		t->cell[t->rows * t->cols + i] = strdup(cells[i] ? cells[i] : "");
	t->rows++;
}

void table_print(FILE *f, const struct table *t)
{
	size_t w[TABLE_COLS] = { 0 };
	for (unsigned r = 0; r < t->rows; r++)
		for (unsigned c = 0; c < t->cols; c++) {
			const char *s = t->cell[r * t->cols + c];
			size_t l = s ? strlen(s) : 0;
			if (l > w[c])
				w[c] = l;
		}
	for (unsigned r = 0; r < t->rows; r++) {
		unsigned last = t->cols;
		while (last > 1 && !(t->cell[r * t->cols + last - 1] && t->cell[r * t->cols + last - 1][0]))
			last--;   /* no trailing blanks */
		for (unsigned c = 0; c < last; c++) {
			const char *s = t->cell[r * t->cols + c];
			if (c + 1 < last)
				fprintf(f, "%-*s  ", (int)w[c], s ? s : "");
			else
				fputs(s ? s : "", f);
		}
		fputc('\n', f);
	}
}

void table_free(struct table *t)
{
	for (unsigned i = 0; i < t->rows * t->cols; i++)
		free(t->cell[i]);
	free(t->cell);
	t->cell = NULL;
	t->rows = t->cap = 0;
}
