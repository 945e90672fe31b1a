/* SPDX-License-Identifier: MIT */
/*
 * topology.c - [topology] entries ("NODE = PEER PEER ..."), checked as they
 * arrive, ranges expanded; in stage 2, the interfaces they give each node
 * and the links between nodes that list each other (loops.c then checks
 * the paths through filters and switches).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *entry_name(const void *ps, unsigned i)
{
	return ((const struct parser *)ps)->entries[i].name;
}

static const char *list_name(const void *pl, unsigned i)
{
	return ((const struct peer_list *)pl)->names[i];
}

void lp_free_lists(struct parser *ps)
{
	for (unsigned i = 0; i < ps->n_lists; i++) {
		struct peer_list *pl = &ps->lists[i];
		free(pl->names);
		free(pl->ranges);
		free(pl->node);
		free(pl->sorted);
	}
	free(ps->lists);
}

/* The key of a topology line: one name, or a range; each must be new in
 * this topology. */
struct line_key {
	const char *text;
	size_t len;
	bool is_range;
	struct range r;
	unsigned count;
};

static size_t key_name(const struct line_key *k, unsigned i, char buf[LAB_NAME_MAX + 1])
{
	if (k->is_range)
		return lp_range_name(&k->r, i, buf);
	memcpy(buf, k->text, k->len + 1);
	return k->len;
}

static int check_key(struct parser *ps, struct line_key *k)
{
	if (k->is_range ? lp_parse_range(ps, k->text, k->len, &k->r)
			: lp_check_name(ps, k->text, k->len))
		return ps->rc;
	k->count = k->is_range ? lp_range_count(&k->r) : 1;
	for (unsigned i = 0; i < k->count; i++) {
		char name[LAB_NAME_MAX + 1];
		size_t n = key_name(k, i, name);
		int o = lp_names_find(&ps->entry_names, name, n, entry_name, ps);
		if (o < 0)
			continue;
		if (k->is_range)
			return fail(ps, "duplicate entry \"%s\" (from %s) in %s (first at line %u)",
				    name, k->text, ps->label, ps->entries[o].line);
		return fail(ps, "duplicate entry \"%s\" in %s (first at line %u)",
			    name, ps->label, ps->entries[o].line);
	}
	if (ps->n_entries - ps->first + k->count > LAB_MAX_NODES)
		return fail(ps, "too many entries in %s (max %d)", ps->label, LAB_MAX_NODES);
	return 0;
}

/* One peer of the line, in line order: not the key, not twice. */
static int add_peer(struct parser *ps, const struct line_key *k, struct peer_list *pl,
		    struct lab_names *seen, const char *name, size_t len)
{
	if (k->is_range ? lp_range_has(&k->r, name, len)
			: len == k->len && !memcmp(name, k->text, len))
		return k->is_range ? fail(ps, "%.*s lists itself (%s includes it)", (int)len, name, k->text)
				   : fail(ps, "%s lists itself", k->text);
	if (lp_names_find(seen, name, len, list_name, pl) >= 0)
		return fail(ps, "%s lists %.*s twice", k->text, (int)len, name);
	if (pl->n == LAB_MAX_NODES - 1)
		return fail(ps, "too many peers (max %d)", LAB_MAX_NODES - 1);
	if (GROW(ps, pl->names, pl->n))
		return ps->rc;
	memcpy(pl->names[pl->n], name, len);
	pl->names[pl->n][len] = '\0';
	return lp_names_add(ps, seen, pl->n++, list_name, pl);
}

/* A range among the peers: its names, and where they are for messages. */
static int add_peer_range(struct parser *ps, const struct line_key *k, struct peer_list *pl,
			  struct lab_names *seen, const char *s, size_t len)
{
	struct range r;
	if (lp_parse_range(ps, s, len, &r))
		return ps->rc;
	if (GROW(ps, pl->ranges, pl->n_ranges))
		return ps->rc;
	struct list_range *lr = &pl->ranges[pl->n_ranges++];
	*lr = (struct list_range){ .first = pl->n, .count = lp_range_count(&r) };
	memcpy(lr->text, s, len);       /* two names and "..": fits */
	lr->text[len] = '\0';
	for (unsigned i = 0; i < lr->count; i++) {
		char name[LAB_NAME_MAX + 1];
		size_t n = lp_range_name(&r, i, name);
		if (add_peer(ps, k, pl, seen, name, n))
			return ps->rc;
	}
	return 0;
}

static int parse_peers(struct parser *ps, const struct line_key *k, const char *value,
		       struct peer_list *pl)
{
	struct lab_names seen = { .cap = 0 };
	for (const char *p = value; *p && !ps->rc;) {
		if (lp_is_blank(*p)) {
			p++;
			continue;
		}
		const char *q = p;
		while (*q && !lp_is_blank(*q))
			q++;
		size_t len = (size_t)(q - p);
		if (lp_is_range(p, len))
			add_peer_range(ps, k, pl, &seen, p, len);
		else if (!lp_check_name(ps, p, len))
			add_peer(ps, k, pl, &seen, p, len);
		p = q;
	}
	lp_names_free(&seen);
	return ps->rc;
}

/* "NODE = PEER PEER ...": NODE and each PEER a name or a range (g1..g9);
 * a range as NODE makes one entry per guest, all of this line. */
int lp_topology_key(struct parser *ps, const char *key, const char *value)
{
	if (!strcmp(key, "subnet") || !strcmp(key, "subnet6"))
		return lp_subnet_key(ps, key, value);
	struct line_key k = { .text = key, .len = strlen(key) };
	k.is_range = lp_is_range(key, k.len);
	if (check_key(ps, &k))
		return ps->rc;
	struct peer_list pl = { .line = ps->line, .key_range = k.is_range };
	memcpy(pl.key, key, k.len + 1);   /* checked: at most RANGE_TEXT_MAX */
	if (parse_peers(ps, &k, value, &pl))
		goto fail;
	/* every link is listed from both ends: bounded here, before stage 2
	 * makes them (a full mesh of ranges is short to write) */
	ps->n_listings += (size_t)k.count * pl.n;
	if (ps->n_listings > 2 * (size_t)LAB_MAX_LINKS) {
		fail(ps, "too many links (max %d)", LAB_MAX_LINKS);
		goto fail;
	}
	if (GROW(ps, ps->lists, ps->n_lists))
		goto fail;
	unsigned list = ps->n_lists++;
	ps->lists[list] = pl;           /* parser_free frees it from now on */
	for (unsigned i = 0; i < k.count; i++) {
		if (GROW(ps, ps->entries, ps->n_entries))
			return ps->rc;
		struct entry *e = &ps->entries[ps->n_entries];
		*e = (struct entry){ .topo = ps->cur, .line = ps->line, .list = list };
		key_name(&k, i, e->name);
		if (lp_names_add(ps, &ps->entry_names, ps->n_entries++, entry_name, ps))
			return ps->rc;
	}
	return 0;
fail:
	free(pl.names);
	free(pl.ranges);
	return ps->rc;
}

/* The node's interface in topology t, added after its others if new:
 * topologies are visited in file order, so eth numbers follow it, and
 * while t is built its interface is the node's last. */
static int add_iface(struct parser *ps, unsigned node, unsigned t)
{
	struct lab_node *nd = &ps->lab->nodes[node];
	if (nd->n_ifaces && nd->ifaces[nd->n_ifaces - 1].topology == t)
		return 0;       /* the newest one: topology t is being built */
	if (GROW(ps, nd->ifaces, nd->n_ifaces))
		return ps->rc;
	struct lab_iface *it = &nd->ifaces[nd->n_ifaces];
	*it = (struct lab_iface){ .topology = t };
	snprintf(it->name, sizeof(it->name), "eth%u", nd->n_ifaces++);
	return 0;
}

static int cmp_unsigned(const void *x, const void *y)
{
	unsigned a = *(const unsigned *)x, b = *(const unsigned *)y;
	return (a > b) - (a < b);
}

static bool list_has(const struct peer_list *pl, unsigned node)
{
	return bsearch(&node, pl->sorted, pl->n, sizeof(*pl->sorted), cmp_unsigned) != NULL;
}

/* "(not a [vm] ...)", or which range named it */
static int unknown_node(struct parser *ps, unsigned line, const char *name, const char *range)
{
	if (range)
		return lp_fail_at(ps, line, "unknown node \"%s\" (from %s)", name, range);
	return lp_fail_at(ps, line, "unknown node \"%s\" (not a [vm], [filter] or [switch])", name);
}

/* Names to nodes, once per line (the entries of a range key share it). */
static int resolve_list(struct parser *ps, struct peer_list *pl)
{
	if (pl->node)
		return 0;
	if (!(pl->node = malloc(pl->n * sizeof(*pl->node) + 1)) ||
	    !(pl->sorted = malloc(pl->n * sizeof(*pl->sorted) + 1)))
		return lp_nomem(ps);
	for (unsigned k = 0, r = 0; k < pl->n; k++) {
		int p = lab_node_find(ps->lab, pl->names[k]);
		while (r < pl->n_ranges && k >= pl->ranges[r].first + pl->ranges[r].count)
			r++;
		bool ranged = r < pl->n_ranges && k >= pl->ranges[r].first;
		if (p < 0)
			return unknown_node(ps, pl->line, pl->names[k], ranged ? pl->ranges[r].text : NULL);
		pl->node[k] = (unsigned)p;
	}
	memcpy(pl->sorted, pl->node, pl->n * sizeof(*pl->node));
	qsort(pl->sorted, pl->n, sizeof(*pl->sorted), cmp_unsigned);
	return 0;
}

/* Filters and switches join guests only: what a bridging node forwards to
 * is the guests it links to (lab_link_macs), not a chain of others. */
static int bridge_link(struct parser *ps, unsigned line, unsigned a, unsigned p)
{
	const struct lab_node *na = &ps->lab->nodes[a], *np = &ps->lab->nodes[p];
	if (na->kind == LAB_FILTER && np->kind == LAB_FILTER)
		return lp_fail_at(ps, line, "link between filters %s and %s", na->name, np->name);
	if (na->kind == LAB_SWITCH && np->kind == LAB_SWITCH)
		return lp_fail_at(ps, line, "link between switches %s and %s", na->name, np->name);
	return lp_fail_at(ps, line, "link between %s %s and %s %s", lab_kind_name(na->kind),
			  na->name, lab_kind_name(np->kind), np->name);
}

/* Entries b..e: their nodes, and their peers' */
static int resolve_entries(struct parser *ps, unsigned b, unsigned e, int *entry_of)
{
	for (unsigned i = b; i < e; i++) {
		struct entry *en = &ps->entries[i];
		struct peer_list *pl = &ps->lists[en->list];
		int n = lab_node_find(ps->lab, en->name);
		if (n < 0)
			return unknown_node(ps, en->line, en->name, pl->key_range ? pl->key : NULL);
		en->node = (unsigned)n;
		entry_of[n] = (int)i;
		if (resolve_list(ps, pl))
			return ps->rc;
	}
	return 0;
}

/* Topology t's entries are entries[b..e): resolve them, give each node its
 * interface, and make a link of every pair that lists each other.
 * entry_of (per node, -1 = none) is all -1 on entry and on return. */
static int build_topology(struct parser *ps, unsigned t, unsigned b, unsigned e, int *entry_of)
{
	struct lab *lab = ps->lab;
	unsigned l0 = lab->n_links;
	if (resolve_entries(ps, b, e, entry_of))
		return ps->rc;
	for (unsigned i = b; i < e; i++) {
		const struct entry *en = &ps->entries[i];
		const struct peer_list *pl = &ps->lists[en->list];
		if (add_iface(ps, en->node, t))
			return ps->rc;
		for (unsigned k = 0; k < pl->n; k++)
			if (add_iface(ps, pl->node[k], t))
				return ps->rc;
	}
	for (unsigned i = b; i < e; i++) {
		const struct entry *en = &ps->entries[i];
		const struct peer_list *pl = &ps->lists[en->list];
		unsigned a = en->node;
		const char *an = lab->nodes[a].name;
		for (unsigned k = 0; k < pl->n; k++) {
			unsigned p = pl->node[k];
			const char *pn = lab->nodes[p].name;
			if (lab->nodes[a].kind != LAB_GUEST && lab->nodes[p].kind != LAB_GUEST)
				return bridge_link(ps, en->line, a, p);
			if (entry_of[p] < 0)
				return lp_fail_at(ps, en->line, "%s lists %s but %s has no line in [topology %s]",
					       an, pn, pn, lab->topologies[t].name);
			const struct entry *pe = &ps->entries[entry_of[p]];
			if (!list_has(&ps->lists[pe->list], a))
				return lp_fail_at(ps, en->line, "%s lists %s but %s (line %u) does not list %s",
					       an, pn, pn, pe->line, an);
			if (entry_of[p] < (int)i)
				continue;       /* made when p's line was visited */
			if (lab->n_links == LAB_MAX_LINKS)
				return lp_fail_at(ps, en->line, "too many links (max %d)", LAB_MAX_LINKS);
			if (GROW(ps, lab->links, lab->n_links))
				return ps->rc;
			lab->links[lab->n_links++] = (struct lab_link){
				.end = {
					{ a, lab->nodes[a].n_ifaces - 1, en->line },    /* add_iface */
					{ p, lab->nodes[p].n_ifaces - 1, pe->line },
				},
				.topology = t,
				.impair = lp_no_impair,
			};
		}
	}
	for (unsigned i = b; i < e; i++)
		entry_of[ps->entries[i].node] = -1;
	return lp_check_loops(ps, l0);
}

int lp_build_topologies(struct parser *ps)
{
	struct lab *lab = ps->lab;
	int *entry_of = malloc(lab->n_nodes * sizeof(*entry_of) + 1);
	if (!entry_of)
		return lp_nomem(ps);
	for (unsigned n = 0; n < lab->n_nodes; n++)
		entry_of[n] = -1;
	/* a topology's entries are contiguous, topologies in file order */
	for (unsigned t = 0, b = 0; t < lab->n_topologies && !ps->rc; t++) {
		unsigned e = b;
		while (e < ps->n_entries && ps->entries[e].topo == t)
			e++;
		build_topology(ps, t, b, e, entry_of);
		b = e;
	}
	free(entry_of);
	if (ps->rc)
		return ps->rc;
	/* a guest in no topology still runs programs; a filter or a switch
	 * would do nothing */
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		const struct lab_node *nd = &lab->nodes[i];
		if (nd->kind != LAB_GUEST && !nd->n_ifaces)
			return lp_fail_at(ps, nd->line, "[%s %s] is in no topology",
					  lab_kind_name(nd->kind), nd->name);
	}
	return 0;
}

int lp_index_links(struct parser *ps)
{
	struct lab *lab = ps->lab;
	for (unsigned l = 0; l < lab->n_links; l++)
		for (int s = 0; s < 2; s++) {
			const struct lab_end *end = &lab->links[l].end[s];
			lab->nodes[end->node].ifaces[end->iface].n_links++;
		}
	for (unsigned i = 0; i < lab->n_nodes; i++)
		for (unsigned j = 0; j < lab->nodes[i].n_ifaces; j++) {
			struct lab_iface *it = &lab->nodes[i].ifaces[j];
			if (!(it->links = malloc(it->n_links * sizeof(*it->links) + 1)))
				return lp_nomem(ps);
			it->n_links = 0;
		}
	for (unsigned l = 0; l < lab->n_links; l++)
		for (int s = 0; s < 2; s++) {
			const struct lab_end *end = &lab->links[l].end[s];
			struct lab_iface *it = &lab->nodes[end->node].ifaces[end->iface];
			it->links[it->n_links++] = l;
		}
	return 0;
}
