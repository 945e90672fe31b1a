/* SPDX-License-Identifier: MIT */
/*
 * topology.c - [topology] entries ("NODE = PEER PEER ..."), checked as they
 * arrive; in stage 2, the interfaces they give each node, the links between
 * nodes that list each other, and the paths a filter must not duplicate.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "NODE = PEER PEER ..." */
int lp_topology_key(struct parser *ps, const char *key, const char *value)
{
	char peers[LAB_MAX_NODES][LAB_NAME_MAX + 1];
	unsigned n = 0;
	if (lp_check_name(ps, key, strlen(key)))
		return ps->rc;
	for (unsigned i = ps->first; i < ps->n_entries; i++)
		if (!strcmp(ps->entries[i].name, key))
			return fail(ps, "duplicate entry \"%s\" in %s (first at line %u)",
				    key, ps->label, ps->entries[i].line);
	if (ps->n_entries - ps->first >= LAB_MAX_NODES)
		return fail(ps, "too many entries in %s (max %d)", ps->label, LAB_MAX_NODES);

	for (const char *p = value; *p;) {
		if (lp_is_blank(*p)) {
			p++;
			continue;
		}
		const char *q = p;
		while (*q && !lp_is_blank(*q))
			q++;
		size_t len = (size_t)(q - p);
		if (lp_check_name(ps, p, len))
			return ps->rc;
		if (strlen(key) == len && !memcmp(key, p, len))
			return fail(ps, "%s lists itself", key);
		for (unsigned i = 0; i < n; i++)
			if (strlen(peers[i]) == len && !memcmp(peers[i], p, len))
				return fail(ps, "%s lists %s twice", key, peers[i]);
		if (n == LAB_MAX_NODES - 1)
			return fail(ps, "too many peers (max %d)", LAB_MAX_NODES - 1);
		memcpy(peers[n], p, len);
		peers[n++][len] = '\0';
		p = q;
	}

	if (GROW(ps, ps->entries, ps->n_entries))
		return ps->rc;
	struct entry *e = &ps->entries[ps->n_entries];
	*e = (struct entry){ .topo = ps->cur, .line = ps->line, .n_peers = n };
	strcpy(e->name, key);
	e->peers = malloc(n * sizeof(*e->peers) + 1);
	e->peer_node = malloc(n * sizeof(*e->peer_node) + 1);
	ps->n_entries++;        /* counted now, so parser_free frees both */
	if (!e->peers || !e->peer_node)
		return lp_nomem(ps);
	memcpy(e->peers, peers, n * sizeof(*e->peers));
	return 0;
}


/* The node's interface in topology t, added after its others if new:
 * topologies are visited in file order, so eth numbers follow it. */
static int add_iface(struct parser *ps, unsigned node, unsigned t)
{
	struct lab_node *nd = &ps->lab->nodes[node];
	int i = lab_iface_find(nd, t);
	if (i >= 0)
		return 0;
	if (GROW(ps, nd->ifaces, nd->n_ifaces))
		return ps->rc;
	struct lab_iface *it = &nd->ifaces[nd->n_ifaces];
	*it = (struct lab_iface){ .topology = t };
	snprintf(it->name, sizeof(it->name), "eth%u", nd->n_ifaces++);
	return 0;
}

/* A filter forwards between its links, so the guests it joins must have no
 * other path between them in that topology: broadcasts would arrive twice
 * and, through two filters, loop. */
static int check_loops(struct parser *ps, bool lists[][LAB_MAX_NODES],
		       const int *entry_of)
{
	const struct lab *lab = ps->lab;
	unsigned char via[LAB_MAX_NODES][LAB_MAX_NODES] = { { 0 } };
	for (unsigned f = 0; f < lab->n_nodes; f++) {
		if (lab->nodes[f].kind != LAB_FILTER || entry_of[f] < 0)
			continue;
		unsigned fline = ps->entries[entry_of[f]].line;
		for (unsigned a = 0; a < lab->n_nodes; a++) {
			if (!lists[f][a])
				continue;
			for (unsigned b = a + 1; b < lab->n_nodes; b++) {
				if (!lists[f][b])
					continue;
				const char *an = lab->nodes[a].name, *bn = lab->nodes[b].name;
				if (lists[a][b])
					return lp_fail_at(ps, ps->entries[entry_of[a]].line,
						       "%s reaches %s both directly and through %s (line %u)",
						       an, bn, lab->nodes[f].name, fline);
				if (via[a][b]) {
					unsigned g = via[a][b] - 1u;
					return lp_fail_at(ps, fline,
						       "%s reaches %s through both %s (line %u) and %s",
						       an, bn, lab->nodes[g].name,
						       ps->entries[entry_of[g]].line,
						       lab->nodes[f].name);
				}
				via[a][b] = (unsigned char)(f + 1);
			}
		}
	}
	return 0;
}

/* Topology t's entries are entries[b..e): resolve them, give each node its
 * interface, and make a link of every pair that lists each other. */
static int build_topology(struct parser *ps, unsigned t, unsigned b, unsigned e)
{
	struct lab *lab = ps->lab;
	bool lists[LAB_MAX_NODES][LAB_MAX_NODES] = { { false } };
	int entry_of[LAB_MAX_NODES];
	for (unsigned n = 0; n < LAB_MAX_NODES; n++)
		entry_of[n] = -1;

	for (unsigned i = b; i < e; i++) {
		struct entry *en = &ps->entries[i];
		int n = lab_node_find(lab, en->name);
		if (n < 0)
			return lp_fail_at(ps, en->line, "unknown node \"%s\" (not a [vm] or [filter])",
				       en->name);
		en->node = (unsigned)n;
		entry_of[n] = (int)i;
		for (unsigned k = 0; k < en->n_peers; k++) {
			int p = lab_node_find(lab, en->peers[k]);
			if (p < 0)
				return lp_fail_at(ps, en->line, "unknown node \"%s\" (not a [vm] or [filter])",
					       en->peers[k]);
			en->peer_node[k] = (unsigned)p;
			lists[n][p] = true;
		}
	}
	for (unsigned i = b; i < e; i++) {
		const struct entry *en = &ps->entries[i];
		if (add_iface(ps, en->node, t))
			return ps->rc;
		for (unsigned k = 0; k < en->n_peers; k++)
			if (add_iface(ps, en->peer_node[k], t))
				return ps->rc;
	}
	for (unsigned i = b; i < e; i++) {
		const struct entry *en = &ps->entries[i];
		unsigned a = en->node;
		const char *an = lab->nodes[a].name;
		for (unsigned k = 0; k < en->n_peers; k++) {
			unsigned p = en->peer_node[k];
			const char *pn = lab->nodes[p].name;
			if (lab->nodes[a].kind == LAB_FILTER && lab->nodes[p].kind == LAB_FILTER)
				return lp_fail_at(ps, en->line, "link between filters %s and %s", an, pn);
			if (entry_of[p] < 0)
				return lp_fail_at(ps, en->line, "%s lists %s but %s has no line in [topology %s]",
					       an, pn, pn, lab->topologies[t].name);
			const struct entry *pe = &ps->entries[entry_of[p]];
			if (!lists[p][a])
				return lp_fail_at(ps, en->line, "%s lists %s but %s (line %u) does not list %s",
					       an, pn, pn, pe->line, an);
			if (entry_of[p] < (int)i)
				continue;       /* made when p's line was visited */
			if (GROW(ps, lab->links, lab->n_links))
				return ps->rc;
			lab->links[lab->n_links++] = (struct lab_link){
				.end = {
					{ a, (unsigned)lab_iface_find(&lab->nodes[a], t), en->line },
					{ p, (unsigned)lab_iface_find(&lab->nodes[p], t), pe->line },
				},
				.topology = t,
			};
		}
	}
	return check_loops(ps, lists, entry_of);
}

int lp_build_topologies(struct parser *ps)
{
	/* a topology's entries are contiguous, topologies in file order */
	for (unsigned t = 0, b = 0; t < ps->lab->n_topologies; t++) {
		unsigned e = b;
		while (e < ps->n_entries && ps->entries[e].topo == t)
			e++;
		if (build_topology(ps, t, b, e))
			return ps->rc;
		b = e;
	}
	/* a guest in no topology still runs programs; a filter would do nothing */
	for (unsigned i = 0; i < ps->lab->n_nodes; i++) {
		const struct lab_node *nd = &ps->lab->nodes[i];
		if (nd->kind == LAB_FILTER && !nd->n_ifaces)
			return lp_fail_at(ps, nd->line, "[filter %s] is in no topology", nd->name);
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
