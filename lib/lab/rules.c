/* SPDX-License-Identifier: MIT */
/*
 * rules.c - a filter's rules file ("rules = FILE"): one rule per line, in
 * lib/filter's grammar; blank lines and lines starting with '#' or ';' are
 * skipped.  Pure: the caller reads the file and passes its text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "lab.h"

#define RULE_LINE_MAX 512

void lab_rules_free(struct lab_rule *rules, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(rules[i].text);
	free(rules);
}

static int bad(struct lab_error *err, unsigned line, const char *what, const char *detail)
{
	if (err) {
		char raw[2 * LAB_MSG_MAX];
		err->line = line;
		snprintf(raw, sizeof(raw), "%s%s", what, detail);
		/* echoed bytes reach a terminal */
		lab_escape(raw, strlen(raw), err->msg, sizeof(err->msg));
	}
	return -EINVAL;
}

int lab_parse_rules(const char *text, size_t len, struct lab_rule **out,
		    unsigned *n_out, struct lab_error *err)
{
	struct lab_rule *rules = NULL;
	unsigned n = 0, line = 0;
	int rc = 0;
	*out = NULL;
	*n_out = 0;
	if (len > LAB_FILE_MAX)
		return bad(err, 0, "larger than 1 MiB", "");
	for (size_t pos = 0; pos < len && !rc;) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - s) : len - pos;
		pos += l + (nl != NULL);
		line++;
		if (l && s[l - 1] == '\r')
			l--;
		if (memchr(s, 0, l)) {
			rc = bad(err, line, "NUL byte in a rules file", "");
			break;
		}
		if (l >= RULE_LINE_MAX) {
			rc = bad(err, line, "line too long (max 511 characters)", "");
			break;
		}
		char buf[RULE_LINE_MAX], why[FLT_ERR_MAX];
		memcpy(buf, s, l);
		buf[l] = 0;
		const char *t = buf + strspn(buf, " \t");
		if (*t == ';')
			continue;
		struct flt_rule r;
		int e = flt_rule_parse(t, &r, why, sizeof(why));
		if (e == -ENODATA)
			continue;
		if (e) {
			rc = bad(err, line, "bad rule: ", why);
			break;
		}
		if (n == LAB_MAX_RULES) {
			rc = bad(err, line, "too many rules (max 1024)", "");
			break;
		}
		struct lab_rule *nr = realloc(rules, (n + 1) * sizeof(*rules));
		if (!nr || !(nr[n].text = strdup(t))) {
			rules = nr ? nr : rules;
			rc = -ENOMEM;
			if (err) {
				err->line = 0;
				snprintf(err->msg, sizeof(err->msg), "out of memory");
			}
			break;
		}
		rules = nr;
		rules[n].line = line;
		n++;
	}
	if (rc) {
		lab_rules_free(rules, n);
		return rc;
	}
	*out = rules;
	*n_out = n;
	return 0;
}

unsigned lab_filter_rules(const struct lab_filter *f, const struct lab_rule *file,
			  unsigned n_file, const struct lab_rule **out)
{
	unsigned n = 0, i = 0;
	for (; i < f->n_rules && (!f->rules_file || f->rules[i].line < f->rules_file_line); i++)
		out[n++] = &f->rules[i];
	for (unsigned k = 0; k < n_file; k++)
		out[n++] = &file[k];
	for (; i < f->n_rules; i++)
		out[n++] = &f->rules[i];
	return n;
}
