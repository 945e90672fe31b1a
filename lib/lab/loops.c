/* SPDX-License-Identifier: MIT */
/*
 * loops.c - paths through bridging nodes.  A filter or a switch forwards
 * between its links, so two guests it joins must have no other path in
 * that topology: a broadcast would arrive twice and, through two bridges,
 * loop.  Bridges never link to bridges (topology.c), so the other paths
 * are a direct link, or a second bridge both guests link to.
 *
 * No nodes x nodes table: the topology's guest-bridge links, sorted by
 * guest and by bridge, answer both questions in O(links log links) plus,
 * for the second, at most one visit per pair of bridges.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* A guest-bridge link of the topology, with both ends' entry lines. */
struct member {
	unsigned guest, bridge, gline, bline;
};

static int by_guest(const void *x, const void *y)
{
	const struct member *a = x, *b = y;
	if (a->guest != b->guest)
		return a->guest < b->guest ? -1 : 1;
	return (a->bridge > b->bridge) - (a->bridge < b->bridge);
}

static int by_bridge(const void *x, const void *y)
{
	const struct member *a = x, *b = y;
	if (a->bridge != b->bridge)
		return a->bridge < b->bridge ? -1 : 1;
	return (a->guest > b->guest) - (a->guest < b->guest);
}

/* The bridges of guest g: m[*lo .. *hi), m sorted by guest. */
static void bridges_of(const struct member *m, size_t n, unsigned g, size_t *lo, size_t *hi)
{
	size_t a = 0, b = n;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (m[mid].guest < g)
			a = mid + 1;
		else
			b = mid;
	}
	*lo = a;
	for (b = a; b < n && m[b].guest == g; b++)
		;
	*hi = b;
}

static bool has_bridge(const struct member *m, size_t lo, size_t hi, unsigned bridge)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m[mid].bridge == bridge)
			return true;
		if (m[mid].bridge < bridge)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* A direct link u-v whose guests share a bridge: the lowest such bridge
 * and pair, as the nodes x nodes version found first.  Each link costs
 * the smaller of its guests' bridge counts. */
static int direct_and_bridged(struct parser *ps, unsigned l0, const struct member *m, size_t n)
{
	const struct lab *lab = ps->lab;
	const struct member *best = NULL;
	unsigned ba = 0, bb = 0, bline = 0;
	for (unsigned l = l0; l < lab->n_links; l++) {
		const struct lab_end *e = lab->links[l].end;
		if (lab->nodes[e[0].node].kind != LAB_GUEST || lab->nodes[e[1].node].kind != LAB_GUEST)
			continue;
		size_t lo[2], hi[2];
		bridges_of(m, n, e[0].node, &lo[0], &hi[0]);
		bridges_of(m, n, e[1].node, &lo[1], &hi[1]);
		int s = hi[0] - lo[0] <= hi[1] - lo[1] ? 0 : 1;
		for (size_t i = lo[s]; i < hi[s]; i++) {
			if (!has_bridge(m, lo[!s], hi[!s], m[i].bridge))
				continue;
			int a = e[0].node < e[1].node ? 0 : 1;
			if (!best || m[i].bridge < best->bridge ||
			    (m[i].bridge == best->bridge &&
			     (e[a].node < ba || (e[a].node == ba && e[!a].node < bb)))) {
				best = &m[i];
				ba = e[a].node;
				bb = e[!a].node;
				bline = e[a].line;
			}
			break;          /* the lowest common bridge of this pair */
		}
	}
	if (!best)
		return 0;
	return lp_fail_at(ps, bline, "%s reaches %s both directly and through %s (line %u)",
			  lab->nodes[ba].name, lab->nodes[bb].name, lab->nodes[best->bridge].name,
			  best->bline);
}

/* Two bridges sharing two guests.  For each bridge B, its guests mark the
 * earlier bridges they are in; a bridge marked twice for B shares two.
 * Without that, each earlier bridge is marked at most once per B. */
static int two_bridges(struct parser *ps, const struct member *mg, const struct member *mb,
		       size_t n)
{
	const struct lab *lab = ps->lab;
	unsigned *stamp = calloc(lab->n_nodes, sizeof(*stamp));
	unsigned *first = malloc(lab->n_nodes * sizeof(*first) + 1);
	if (!stamp || !first) {
		free(stamp);
		free(first);
		return lp_nomem(ps);
	}
	for (size_t i = 0; i < n && !ps->rc; i++) {
		const struct member *g = &mb[i];
		size_t lo, hi;
		bridges_of(mg, n, g->guest, &lo, &hi);
		for (size_t k = lo; k < hi && mg[k].bridge < g->bridge; k++) {
			unsigned other = mg[k].bridge;
			if (stamp[other] != g->bridge + 1) {
				stamp[other] = g->bridge + 1;
				first[other] = g->guest;
				continue;
			}
			lp_fail_at(ps, g->bline, "%s reaches %s through both %s (line %u) and %s",
				   lab->nodes[first[other]].name, lab->nodes[g->guest].name,
				   lab->nodes[other].name, mg[k].bline, lab->nodes[g->bridge].name);
			break;
		}
	}
	free(stamp);
	free(first);
	return ps->rc;
}

int lp_check_loops(struct parser *ps, unsigned l0)
{
	const struct lab *lab = ps->lab;
	size_t n = 0;
	for (unsigned l = l0; l < lab->n_links; l++)
		n += lab->nodes[lab->links[l].end[0].node].kind != LAB_GUEST ||
		     lab->nodes[lab->links[l].end[1].node].kind != LAB_GUEST;
	if (n < 2)
		return 0;       /* a path through a bridge takes two of its links */
	struct member *mg = malloc(2 * n * sizeof(*mg)), *mb = mg + n;
	if (!mg)
		return lp_nomem(ps);
	n = 0;
	for (unsigned l = l0; l < lab->n_links; l++) {
		const struct lab_end *e = lab->links[l].end;
		int b = lab->nodes[e[0].node].kind != LAB_GUEST ? 0 :
			lab->nodes[e[1].node].kind != LAB_GUEST ? 1 : -1;
		if (b >= 0)
			mg[n++] = (struct member){ e[!b].node, e[b].node, e[!b].line, e[b].line };
	}
	memcpy(mb, mg, n * sizeof(*mg));
	qsort(mg, n, sizeof(*mg), by_guest);
	qsort(mb, n, sizeof(*mb), by_bridge);
	if (!direct_and_bridged(ps, l0, mg, n))
		two_bridges(ps, mg, mb, n);
	free(mg);
	return ps->rc;
}
