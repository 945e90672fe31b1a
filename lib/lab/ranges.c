/* SPDX-License-Identifier: MIT */
/*
 * ranges.c - "g1..g100": one prefix and a decimal range, both ends written
 * in full, so that a lab of a thousand guests is a few lines: as a [vm]
 * name, a topology entry's key and a peer.  Expanded into names as they
 * are read, so every later check sees plain names.  Numbers are plain
 * (g1..g100: no leading zero) or zero-padded to one width (g001..g100:
 * both ends of that width, every name too).
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#define RANGE_DIGITS_MAX 9      /* 999999999 fits an unsigned */

static const char *dots_in(const char *s, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (s[i] == '.' && s[i + 1] == '.')
			return s + i;
	return NULL;
}

bool lp_is_range(const char *s, size_t len)
{
	return dots_in(s, len) != NULL;
}

static size_t trailing_digits(const char *s, size_t len)
{
	size_t d = 0;
	while (d < len && s[len - 1 - d] >= '0' && s[len - 1 - d] <= '9')
		d++;
	return d;
}

static unsigned digits_value(const char *s, size_t n)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	return v;
}

int lp_parse_range(struct parser *ps, const char *s, size_t len, struct range *r)
{
	const char *dots = dots_in(s, len), *a = s, *b = dots + 2;
	size_t al = (size_t)(dots - s), bl = (size_t)(s + len - b);
	int w = (int)(len > 80 ? 80 : len);
	if (!al || !bl || memchr(b, '.', bl))
		return fail(ps, "bad range \"%.*s\" (expected e.g. g1..g100)", w, s);
	if (lp_check_name(ps, a, al) || lp_check_name(ps, b, bl))
		return ps->rc;
	size_t ad = trailing_digits(a, al), bd = trailing_digits(b, bl);
	if (!ad || !bd)
		return fail(ps, "bad range \"%.*s\" (both ends end in a number, e.g. g1..g100)", w, s);
	if (al - ad != bl - bd || memcmp(a, b, al - ad))
		return fail(ps, "bad range \"%.*s\" (both ends have one prefix, e.g. g1..g100)", w, s);
	if (ad > RANGE_DIGITS_MAX || bd > RANGE_DIGITS_MAX)
		return fail(ps, "bad range \"%.*s\" (numbers of at most %d digits)", w, s,
			    RANGE_DIGITS_MAX);
	bool padded = (ad > 1 && a[al - ad] == '0') || (bd > 1 && b[bl - bd] == '0');
	if (padded && ad != bd)
		return fail(ps, "bad range \"%.*s\" (zero-padded ends have one width, e.g. g01..g10)",
			    w, s);
	*r = (struct range){
		.lo = digits_value(a + al - ad, ad),
		.hi = digits_value(b + bl - bd, bd),
		.width = padded ? (unsigned)ad : 0,
	};
	memcpy(r->prefix, a, al - ad);
	r->prefix[al - ad] = '\0';
	if (r->lo > r->hi)
		return fail(ps, "bad range \"%.*s\" (it counts down: the first end is the smaller)", w, s);
	if (r->hi - r->lo >= LAB_MAX_NODES)
		return fail(ps, "bad range \"%.*s\" (%u names, max %d)", w, s, r->hi - r->lo + 1,
			    LAB_MAX_NODES);
	return 0;
}

size_t lp_range_name(const struct range *r, unsigned k, char buf[LAB_NAME_MAX + 1])
{
	char digits[RANGE_DIGITS_MAX + 1];
	unsigned v = r->lo + k, n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < r->width)
		digits[n++] = '0';
	size_t p = strlen(r->prefix);
	memcpy(buf, r->prefix, p);
	while (n)
		buf[p++] = digits[--n];
	buf[p] = '\0';
	return p;
}

bool lp_range_has(const struct range *r, const char *s, size_t len)
{
	size_t d = trailing_digits(s, len), p = strlen(r->prefix);
	if (!d || d > RANGE_DIGITS_MAX || len - d != p || memcmp(s, r->prefix, p))
		return false;
	const char *num = s + p;
	if (r->width ? d != r->width : d > 1 && num[0] == '0')
		return false;
	unsigned v = digits_value(num, d);
	return v >= r->lo && v <= r->hi;
}

/* The [vm] range that made node i, or NULL: ranges are in node order. */
static const struct vm_range *range_of(const struct parser *ps, unsigned i)
{
	unsigned lo = 0, hi = ps->n_ranges;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct vm_range *vr = &ps->ranges[mid];
		if (i < vr->first)
			hi = mid;
		else if (i >= vr->first + vr->count)
			lo = mid + 1;
		else
			return vr;
	}
	return NULL;
}

void lp_node_label(const struct parser *ps, unsigned i, char *buf, size_t size)
{
	const struct lab_node *nd = &ps->lab->nodes[i];
	const struct vm_range *vr = range_of(ps, i);
	static const char *const section[] = {
		[LAB_GUEST] = "vm", [LAB_FILTER] = "filter", [LAB_SWITCH] = "switch",
	};
	snprintf(buf, size, "[%s %s]", section[nd->kind], vr ? vr->text : nd->name);
}

static bool reserved(const char *name)
{
	/* keys of [scenario] and [topology] sections, where node names are keys too */
	return !strcmp(name, "timeout") || !strcmp(name, "subnet") || !strcmp(name, "subnet6");
}

/* name, which the current section makes, is node o's already. */
static int clash(struct parser *ps, enum lab_node_kind kind, const struct range *r,
		 const char *name, unsigned o)
{
	const struct lab_node *on = &ps->lab->nodes[o];
	const struct vm_range *vr = range_of(ps, o);
	char other[96];
	lp_node_label(ps, o, other, sizeof(other));
	if (r)
		return fail(ps, "%s makes %s, which %s (line %u) already %s", ps->label, name,
			    other, on->line, vr ? "makes" : "is");
	if (vr)
		return fail(ps, "duplicate %s (first at line %u, by %s)", ps->label, on->line, other);
	if (on->kind == kind)
		return fail(ps, "duplicate %s (first at line %u)", ps->label, on->line);
	return fail(ps, "duplicate name \"%s\" (first at line %u)", name, on->line);
}

static int add_node(struct parser *ps, enum lab_node_kind kind, const struct range *r,
		    const char *name, size_t len)
{
	struct lab *lab = ps->lab;
	int o = lp_node_find(lab, name, len);
	if (o >= 0)
		return clash(ps, kind, r, name, (unsigned)o);
	if (reserved(name))
		return r ? fail(ps, "%s makes %s, a reserved name", ps->label, name)
			 : fail(ps, "name \"%s\" is reserved", name);
	if (lab->n_nodes == LAB_MAX_NODES)
		return fail(ps, "too many nodes (max %d)", LAB_MAX_NODES);
	if (GROW(ps, lab->nodes, lab->n_nodes))
		return ps->rc;
	struct lab_node *nd = &lab->nodes[lab->n_nodes];
	*nd = (struct lab_node){ .kind = kind, .line = ps->line };
	memcpy(nd->name, name, len);
	nd->name[len] = '\0';
	return lp_names_add(ps, &lab->node_names, lab->n_nodes++, lp_node_name, lab);
}

int lp_add_nodes(struct parser *ps, enum lab_node_kind kind, const char *s, size_t len)
{
	struct lab *lab = ps->lab;
	struct range r;
	bool is_range = kind == LAB_GUEST && lp_is_range(s, len);
	if (is_range ? lp_parse_range(ps, s, len, &r) : lp_check_name(ps, s, len))
		return ps->rc;
	unsigned count = is_range ? lp_range_count(&r) : 1;
	if (is_range && count > LAB_MAX_NODES - lab->n_nodes)
		return fail(ps, "too many nodes (max %d): %s makes %u", LAB_MAX_NODES,
			    ps->label, count);
	ps->cur = lab->n_nodes;
	ps->cur_count = count;
	ps->first = ps->n_keys;
	for (unsigned k = 0; k < count; k++) {
		char name[LAB_NAME_MAX + 1];
		size_t n = is_range ? lp_range_name(&r, k, name) : len;
		if (!is_range)
			memcpy(name, s, len);
		name[n] = '\0';
		if (add_node(ps, kind, is_range ? &r : NULL, name, n))
			return ps->rc;
	}
	if (!is_range)
		return 0;
	if (GROW(ps, ps->ranges, ps->n_ranges))
		return ps->rc;
	struct vm_range *vr = &ps->ranges[ps->n_ranges++];
	*vr = (struct vm_range){ .first = ps->cur, .count = count, .line = ps->line };
	memcpy(vr->text, s, len);   /* two names and "..": fits */
	vr->text[len] = '\0';
	return 0;
}
