/* SPDX-License-Identifier: MIT */
/*
 * reader.c - stage 1's lines and sections.  inih calls read_line once per
 * line (so ps->line numbers them for the handler's own errors) and sees
 * only what read_line lets through: no leading blanks, no section headers
 * (those are parsed here, so that empty sections count and each has its
 * line), nothing it would silently mangle.
 */
#include "internal.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <string.h>

static const char *const section_kind[] = {
	[SEC_LAB] = "lab", [SEC_VM] = "vm", [SEC_TOPOLOGY] = "topology",
	[SEC_SCENARIO] = "scenario", [SEC_FILTER] = "filter", [SEC_LINK] = "link",
	[SEC_SWITCH] = "switch",
};

static int add_topology(struct parser *ps, const char *name)
{
	struct lab *lab = ps->lab;
	int i = lab_topology_find(lab, name);
	if (i >= 0)
		return fail(ps, "duplicate %s (first at line %u)", ps->label,
			    lab->topologies[i].line);
	if (lab->n_topologies == LAB_MAX_TOPOLOGIES)
		return fail(ps, "too many topologies (max %d)", LAB_MAX_TOPOLOGIES);
	if (GROW(ps, lab->topologies, lab->n_topologies))
		return ps->rc;
	struct lab_topology *t = &lab->topologies[lab->n_topologies];
	*t = (struct lab_topology){ .line = ps->line };
	strcpy(t->name, name);
	ps->cur = lab->n_topologies++;
	ps->first = ps->n_entries;
	lp_names_free(&ps->entry_names);        /* entries are per topology */
	return 0;
}

static int add_scenario(struct parser *ps, const char *name)
{
	struct lab *lab = ps->lab;
	int i = lab_scenario_find(lab, name);
	if (i >= 0)
		return fail(ps, "duplicate %s (first at line %u)", ps->label,
			    lab->scenarios[i].line);
	if (lab->n_scenarios == LAB_MAX_SCENARIOS)
		return fail(ps, "too many scenarios (max %d)", LAB_MAX_SCENARIOS);
	if (GROW(ps, lab->scenarios, lab->n_scenarios))
		return ps->rc;
	struct lab_scenario *sc = &lab->scenarios[lab->n_scenarios];
	*sc = (struct lab_scenario){ .line = ps->line, .timeout_s = LAB_TIMEOUT_DEFAULT };
	strcpy(sc->name, name);
	ps->cur = lab->n_scenarios++;
	return 0;
}

/* "[KIND NAME]" or "[lab]", then nothing but an optional comment. */
static int section_begin(struct parser *ps, const char *s, size_t len)
{
	const char *end = s + len, *close = memchr(s, ']', len);
	if (!close)
		return fail(ps, "missing \"]\" in \"%.*s\"", (int)len, s);
	int hlen = (int)(close + 1 - s);
	const char *rest = close + 1;
	while (rest < end && lp_is_blank(*rest))
		rest++;
	if (rest < end && *rest != ';' && *rest != '#')
		return fail(ps, "unexpected \"%.*s\" after \"%.*s\"",
			    (int)(end - rest), rest, hlen, s);

	const char *word[4] = { "", "", "", "" };
	size_t wlen[4] = { 0, 0, 0, 0 };
	unsigned nw = 0;
	for (const char *p = s + 1; p < close;) {
		if (lp_is_blank(*p)) {
			p++;
			continue;
		}
		const char *q = p;
		while (q < close && !lp_is_blank(*q))
			q++;
		if (nw < 4) {
			word[nw] = p;
			wlen[nw] = (size_t)(q - p);
		}
		nw++;
		p = q;
	}
	enum section sec = SEC_NONE;
	for (int k = SEC_LAB; k <= SEC_SWITCH; k++)
		if (strlen(section_kind[k]) == wlen[0] &&
		    !memcmp(word[0], section_kind[k], wlen[0]))
			sec = (enum section)k;
	if (sec == SEC_NONE)
		return fail(ps, "unknown section \"%.*s\"", hlen, s);
	if (sec == SEC_LINK) {
		if (nw != 3 && nw != 4)
			return fail(ps, "bad section \"%.*s\" (expected [link A B] or [link A B TOPOLOGY])",
				    hlen, s);
		ps->sec = sec;
		memset(ps->once, 0, sizeof(ps->once));
		ps->key_line = 0;
		snprintf(ps->label, sizeof(ps->label), "%.*s", hlen > 79 ? 79 : hlen, s);
		return lp_add_link_sec(ps, word, wlen, nw);
	}
	if (nw != (sec == SEC_LAB ? 1u : 2u))
		return fail(ps, "bad section \"%.*s\" (expected [%s%s])", hlen, s,
			    section_kind[sec], sec == SEC_LAB ? "" : " NAME");
	/* a [vm] range's name is checked as one (ranges.c) */
	if (sec != SEC_VM && lp_is_range(word[1], wlen[1]))
		return fail(ps, "bad section \"%.*s\" (a range is for [vm] sections only)", hlen, s);
	if (sec != SEC_LAB && sec != SEC_VM && lp_check_name(ps, word[1], wlen[1]))
		return ps->rc;

	ps->sec = sec;
	memset(ps->once, 0, sizeof(ps->once));
	ps->key_line = 0;       /* an indented line after this is a key */
	int nlen = (int)(wlen[1] > RANGE_TEXT_MAX ? RANGE_TEXT_MAX : wlen[1]);
	snprintf(ps->label, sizeof(ps->label), "[%s%s%.*s]", section_kind[sec],
		 sec == SEC_LAB ? "" : " ", nlen, word[1]);
	char name[LAB_NAME_MAX + 1] = "";     /* of a topology or a scenario */
	if (sec == SEC_TOPOLOGY || sec == SEC_SCENARIO) {
		memcpy(name, word[1], wlen[1]);
		name[wlen[1]] = '\0';
	}
	switch (sec) {
	case SEC_LAB:
		if (ps->lab_line)
			return fail(ps, "duplicate [lab] (first at line %u)", ps->lab_line);
		ps->lab_line = ps->line;
		return 0;
	case SEC_VM:
		return lp_add_nodes(ps, LAB_GUEST, word[1], wlen[1]);
	case SEC_FILTER:
		return lp_add_nodes(ps, LAB_FILTER, word[1], wlen[1]);
	case SEC_SWITCH:
		return lp_add_nodes(ps, LAB_SWITCH, word[1], wlen[1]);
	case SEC_TOPOLOGY:
		return add_topology(ps, name);
	default:
		return add_scenario(ps, name);
	}
}

/* inih's split: '=' or ':' before any ';' that follows a blank. */
static bool has_separator(const char *s, size_t len)
{
	bool was_blank = false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '=' || s[i] == ':')
			return true;
		if (s[i] == ';' && was_blank)
			return false;
		was_blank = lp_is_blank(s[i]);
	}
	return false;
}

/* inih's fgets-style reader: one line per call, so ps->line numbers them.
 * inih gets the line without its leading blanks, or a blank line in place
 * of a section header or a continuation line (both handled here). */
static char *read_line(char *buf, int num, void *stream)
{
	struct parser *ps = stream;
	if (ps->rc || ps->p >= ps->end)
		return NULL;
	const char *s = ps->p, *nl = memchr(s, '\n', (size_t)(ps->end - s));
	size_t len = nl ? (size_t)(nl - s) : (size_t)(ps->end - s);
	ps->p = nl ? nl + 1 : ps->end;
	ps->line++;
	if (len && s[len - 1] == '\r')
		len--;
	size_t raw = len;       /* the whole line, leading blanks included */
	bool indented = len && lp_is_blank(*s);
	while (len && lp_is_blank(*s))
		s++, len--;
	bool comment = !len || *s == ';' || *s == '#';
	/* inih's multi-line rule: an indented line after a key of the section
	 * continues it -- except a section header, which always starts one */
	bool cont = indented && !comment && *s != '[' && ps->key_line;
	/* a pending key is complete at the first line that does not continue
	 * it: process it now, so that mistakes are reported in line order */
	if (!cont && !comment && lp_flush_key(ps))
		return NULL;
	if (memchr(s, '\0', len)) {
		fail(ps, "NUL byte in line");
		return NULL;
	}
	/* inih would cut an overlong line and parse the rest as a new line */
	int max = num - 2 < LAB_LINE_MAX ? num - 2 : LAB_LINE_MAX;
	if (max < 1 || raw > (size_t)max) {
		fail(ps, "line too long (max %d characters)", max);
		return NULL;
	}
	if (cont) {
		if (lp_continue_key(ps, s, len))
			return NULL;
		len = 0;        /* inih sees a blank line: continuations are ours */
	} else if (len && *s == '[') {
		if (section_begin(ps, s, len))
			return NULL;
		len = 0;        /* inih sees a blank line: sections are ours */
	} else if (!comment && !has_separator(s, len)) {
		fail(ps, "expected \"key = value\", not \"%.*s\"", (int)len, s);
		return NULL;
	}
	memcpy(buf, s, len);
	buf[len] = '\n';
	buf[len + 1] = '\0';
	return buf;
}

int lp_read(struct parser *ps)
{
	int r = ini_parse_stream(read_line, ps, lp_on_key, ps);
	if (!ps->rc && r > 0)   /* read_line pre-empts inih's own errors */
		lp_fail_at(ps, (unsigned)r, "syntax error");
	else if (!ps->rc && r < 0)
		lp_nomem(ps);
	return lp_flush_key(ps);        /* the last key */
}
