/* SPDX-License-Identifier: MIT */
/*
 * lab.c - lab_parse(): the two stages (internal.h tells the story), and what
 * every stage uses: errors, memory, names.
 */
#include "internal.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static_assert(LAB_MAX_IFACES >= LAB_MAX_TOPOLOGIES, "one iface per topology");
static_assert(LAB_NETNS_MAX <= 256, "a namespace is a file name in /run/netns");
static_assert(LAB_FILE_MAX == 1u << 20, "the messages say 1 MiB");

int lp_fail_at(struct parser *ps, unsigned line, const char *fmt, ...)
{
	if (ps->rc)
		return ps->rc;
	char raw[4 * LAB_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* the file's bytes echoed in raw reach a terminal */
	lab_escape(raw, strlen(raw), ps->err->msg, sizeof(ps->err->msg));
	ps->err->line = line;
	return ps->rc = -EINVAL;
}

struct imp_params lp_no_impair[2];

int lp_nomem(struct parser *ps)
{
	if (!ps->rc) {
		snprintf(ps->err->msg, sizeof(ps->err->msg), "out of memory");
		ps->err->line = 0;
		ps->rc = -ENOMEM;
	}
	return ps->rc;
}

int lp_grow(struct parser *ps, void *arrp, unsigned n, size_t size)
{
	void *arr;
	if (n & (n - 1))
		return 0;
	memcpy(&arr, arrp, sizeof(arr));
	if (!(arr = realloc(arr, (n ? 2 * (size_t)n : 1) * size)))
		return lp_nomem(ps);
	memcpy(arrp, &arr, sizeof(arr));
	return 0;
}

/* FNV-1a: names are short, and a hostile file gains nothing by collisions
 * but a slower parse of its own, still bounded by LAB_MAX_NODES. */
uint32_t lp_hash(const char *s, size_t len)
{
	uint32_t h = 0x811c9dc5u;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 0x01000193u;
	}
	return h;
}

static bool name_is(const char *name, const char *s, size_t len)
{
	return !strncmp(name, s, len) && !name[len];
}

int lp_names_find(const struct lab_names *ix, const char *s, size_t len,
		  lp_name_of *name_of, const void *ctx)
{
	if (!ix->cap)
		return -ENOENT;
	for (uint32_t h = lp_hash(s, len);; h++) {
		unsigned v = ix->slot[h & (ix->cap - 1)];
		if (!v)
			return -ENOENT;
		if (name_is(name_of(ctx, v - 1), s, len))
			return (int)(v - 1);
	}
}

static void names_put(unsigned *slot, unsigned cap, unsigned i, const char *name)
{
	uint32_t h = lp_hash(name, strlen(name));
	while (slot[h & (cap - 1)])
		h++;
	slot[h & (cap - 1)] = i + 1;
}

/* At most half full, so that a probe ends soon. */
int lp_names_add(struct parser *ps, struct lab_names *ix, unsigned i,
		 lp_name_of *name_of, const void *ctx)
{
	if (2 * (ix->n + 1) > ix->cap) {
		unsigned cap = ix->cap ? 2 * ix->cap : 16;
		unsigned *slot = calloc(cap, sizeof(*slot));
		if (!slot)
			return lp_nomem(ps);
		for (unsigned k = 0; k < ix->cap; k++)
			if (ix->slot[k])
				names_put(slot, cap, ix->slot[k] - 1, name_of(ctx, ix->slot[k] - 1));
		free(ix->slot);
		ix->slot = slot;
		ix->cap = cap;
	}
	names_put(ix->slot, ix->cap, i, name_of(ctx, i));
	ix->n++;
	return 0;
}

void lp_names_free(struct lab_names *ix)
{
	free(ix->slot);
	*ix = (struct lab_names){ .cap = 0 };
}

bool lp_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

bool lp_name_ok(const char *s, size_t len)
{
	if (len < 1 || len > LAB_NAME_MAX || !is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

int lp_check_name(struct parser *ps, const char *s, size_t len)
{
	if (len > LAB_NAME_MAX)
		return fail(ps, "name \"%.*s\" is too long (max %d characters)",
			    (int)len, s, LAB_NAME_MAX);
	if (!lp_name_ok(s, len))
		return fail(ps, "bad name \"%.*s\" (use A-Z a-z 0-9 _ -, starting with a letter or digit)",
			    (int)len, s);
	return 0;
}

bool lp_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return false;
	}
	if (v < min)
		return false;
	*out = (unsigned)v;
	return true;
}

static int name_from_file(struct parser *ps, const char *filename)
{
	const char *base = filename ? filename : "";
	const char *slash = strrchr(base, '/');
	if (slash)
		base = slash + 1;
	const char *dot = strrchr(base, '.');
	size_t len = dot && dot > base ? (size_t)(dot - base) : strlen(base);
	if (!lp_name_ok(base, len))
		return lp_fail_at(ps, 0, "no [lab] name, and the file name gives no valid one (\"%.*s\")",
			       (int)(len > 64 ? 64 : len), base);
	memcpy(ps->lab->name, base, len);
	ps->lab->name[len] = '\0';
	return 0;
}

/* Every guest's namespace name fits LAB_NETNS_MAX (it always does with
 * names of LAB_NAME_MAX; checked here so that the invariant has one place). */
static int check_netns(struct parser *ps)
{
	char ns[LAB_NETNS_MAX];
	for (unsigned i = 0; i < ps->lab->n_nodes; i++) {
		const struct lab_node *nd = &ps->lab->nodes[i];
		if (nd->kind == LAB_GUEST && lab_netns_name(ps->lab, i, ns, sizeof(ns)))
			return lp_fail_at(ps, nd->line, "namespace name of %s.%s too long (max %d characters)",
					  ps->lab->name, nd->name, LAB_NETNS_MAX - 1);
	}
	return 0;
}

/* Each guest's kind: its own "kind", else the lab's; memory and cpus
 * describe a VM, so a namespace guest with them is a mistake. */
static int resolve_kinds(struct parser *ps)
{
	struct lab *lab = ps->lab;
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct lab_node *nd = &lab->nodes[i];
		if (nd->kind != LAB_GUEST)
			continue;
		if (!nd->kind_line)
			nd->guest_kind = lab->default_kind;
		if (nd->guest_kind == LAB_KIND_NETNS && nd->vm_key_line)
			return lp_fail_at(ps, nd->vm_key_line, "memory and cpus are for kind = qemu; "
					  "%s is a namespace guest", nd->name);
		if (!nd->memory_mib)
			nd->memory_mib = LAB_MEMORY_DEFAULT;
		if (!nd->cpus)
			nd->cpus = 1;
	}
	return 0;
}

static int finish(struct parser *ps, const char *filename)
{
	struct lab *lab = ps->lab;
	if (!lab->name_line && name_from_file(ps, filename))
		return ps->rc;
	if (check_netns(ps))
		return ps->rc;
	if (lab_first_guest(lab) < 0)
		return lp_fail_at(ps, 0, "no guests (a lab needs a [vm NAME] section)");
	if (resolve_kinds(ps))
		return ps->rc;
	if (lp_build_topologies(ps) || lp_apply_keys(ps) || lp_derive_ips(ps) ||
	    lp_check_unique(ps) || lp_check_subnets(ps) || lp_derive_macs(ps) ||
	    lp_check_scenarios(ps) || lp_index_links(ps) || lp_apply_links(ps) ||
	    lp_check_events(ps))
		return ps->rc;
	return 0;
}

static void parser_free(struct parser *ps)
{
	lp_free_lists(ps);
	free(ps->entries);
	lp_names_free(&ps->entry_names);
	free(ps->ranges);
	free(ps->keys);
	free(ps->refs);
	lp_free_links(ps);
}

int lab_parse(const char *text, size_t len, const char *filename,
	      struct lab **out, struct lab_error *err)
{
	struct lab_error ignored;
	if (!err)
		err = &ignored;
	*err = (struct lab_error){ .file = filename };
	if (!out || (!text && len)) {
		snprintf(err->msg, sizeof(err->msg), "invalid argument");
		return -EINVAL;
	}
	*out = NULL;
	if (!text)
		text = "";
	struct parser ps = { .err = err, .p = text, .end = text + len };
	if (len > LAB_FILE_MAX)
		return lp_fail_at(&ps, 0, "larger than 1 MiB");
	if ((ps.lab = calloc(1, sizeof(*ps.lab))))
		ps.lab->poll_ns = LAB_POLL_DEFAULT_NS;
	if (!ps.lab)
		return lp_nomem(&ps);
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		ps.p += 3;      /* UTF-8 BOM */

	if (!lp_read(&ps))
		finish(&ps, filename);
	parser_free(&ps);
	if (ps.rc) {
		lab_free(ps.lab);
		return ps.rc;
	}
	*out = ps.lab;
	return 0;
}

void lab_free(struct lab *lab)
{
	if (!lab)
		return;
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct lab_node *nd = &lab->nodes[i];
		for (unsigned j = 0; j < nd->n_ifaces; j++)
			free(nd->ifaces[j].links);
		free(nd->ifaces);
		for (unsigned j = 0; j < nd->filter.n_rules; j++)
			free(nd->filter.rules[j].text);
		free(nd->filter.rules);
		free(nd->filter.rules_file);
	}
	for (unsigned i = 0; i < lab->n_scenarios; i++) {
		struct lab_scenario *sc = &lab->scenarios[i];
		for (unsigned j = 0; j < sc->n_programs; j++)
			lp_free_argv(sc->programs[j].argv);
		free(sc->programs);
		for (unsigned j = 0; j < sc->n_events; j++)
			lp_free_argv(sc->events[j].argv);
		free(sc->events);
	}
	free(lab->nodes);
	lp_names_free(&lab->node_names);
	free(lab->topologies);
	for (unsigned i = 0; i < lab->n_links; i++)
		if (lab->links[i].impair != lp_no_impair)
			free(lab->links[i].impair);
	free(lab->links);
	free(lab->scenarios);
	free(lab);
}
