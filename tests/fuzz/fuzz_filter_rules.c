/* SPDX-License-Identifier: MIT */
/*
 * fuzz_filter_rules.c - arbitrary text through flt_rule_parse(), one rule
 * per line.
 *
 * Properties checked for every line:
 *  - the result is 0, -EINVAL or -ENODATA, and the message is a
 *    NUL-terminated string that fits the buffer (even a tiny one);
 *  - a failed parse leaves the rule all zero;
 *  - a parsed rule passes flt_rule_check(), formats within
 *    FLT_RULE_TEXT_MAX, parses back to an equal rule, and formats to the
 *    same text again;
 *  - the rules that parse make a filter that decides a few fixed frames.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "fuzz.h"

#define MAX_RULES 16

static void trap_unless(int ok)
{
	if (!ok)
		__builtin_trap();
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static int check_line(const char *line, struct flt_rule *out)
{
	char err[FLT_ERR_MAX], tiny[5];
	char txt[FLT_RULE_TEXT_MAX], txt2[FLT_RULE_TEXT_MAX];
	struct flt_rule back;

	memset(err, 0x7f, sizeof(err));
	int rc = flt_rule_parse(line, out, err, sizeof(err));
	trap_unless(rc == 0 || rc == -EINVAL || rc == -ENODATA);
	if (rc != 0) {
		trap_unless(memchr(err, '\0', sizeof(err)) != NULL && err[0]);
		trap_unless(all_zero(out, sizeof(*out)));
		int rc2 = flt_rule_parse(line, &back, tiny, sizeof(tiny));
		trap_unless(rc2 == rc && memchr(tiny, '\0', sizeof(tiny)));
		return rc;
	}
	trap_unless(flt_rule_check(out, NULL, 0) == 0);
	int n = flt_rule_format(out, txt, sizeof(txt));
	trap_unless(n > 0 && (size_t)n == strlen(txt) && n < FLT_RULE_TEXT_MAX);
	trap_unless(flt_rule_parse(txt, &back, err, sizeof(err)) == 0);
	trap_unless(flt_rule_equal(out, &back));
	trap_unless(flt_rule_format(&back, txt2, sizeof(txt2)) == n);
	trap_unless(strcmp(txt, txt2) == 0);
	return 0;
}

/* A few frames for the filter built from the parsed rules. */
static const uint8_t frame_tcp4[] = {
	0x02, 0, 0, 0, 0xaa, 0x02, 0x02, 0, 0, 0, 0xaa, 0x01, 0x08, 0x00,
	0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
	0x9c, 0x40, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 0, 0, 0, 0, 0, 0,
};
static const uint8_t frame_arp[] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0xaa, 0x01, 0x08, 0x06,
	0, 1, 0x08, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0xaa, 0x01, 10, 0, 0, 1,
	0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flt_rule rules[MAX_RULES];
	size_t nrules = 0;
	size_t off = 0;

	while (off < size) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
		char *line = malloc(len + 1);   /* exact size: overreads show */

		trap_unless(line != NULL);
		memcpy(line, data + off, len);
		line[len] = '\0';
		struct flt_rule r;
		if (check_line(line, &r) == 0 && nrules < MAX_RULES)
			rules[nrules++] = r;
		free(line);
		off += len + 1;
	}

	struct flt_config cfg = { .rules = rules, .nrules = nrules,
				  .stateful = true, .ct_capacity = 4 };
	struct flt *f = flt_new(&cfg);
	trap_unless(f != NULL);
	flt_decide(f, frame_tcp4, sizeof(frame_tcp4), 0);
	flt_decide(f, frame_arp, sizeof(frame_arp), 1);
	trap_unless(flt_selfcheck(f) == 0);
	flt_free(f);
	return 0;
}
