/* SPDX-License-Identifier: MIT */
/*
 * sup_watch.c - noticing what the vmms say of their links and ports, for
 * the lab's events (sup_events.c).
 *
 * A vmm rewrites a link's state word (ok, full, stalled, resetting,
 * broken) and a guest port's (up, gone, waiting, running, broken ...) in
 * its stats memory as they change, and tells no one: the supervisor
 * samples them.  A vmm writes them only in its event loop, whose every
 * turn it counts (wakeups), so while no vmm's count moved between two
 * samples no word can have changed: the interval is WATCH_FAST_NS while
 * some datapath moves and doubles up to WATCH_SLOW_NS while all are
 * quiet.  An idle lab costs its supervisor about one wake-up a second; a
 * change is seen within WATCH_FAST_NS while traffic flows, within
 * WATCH_SLOW_NS after a quiet spell.
 *
 * Everything read here is untrusted (a vmm may write anything):
 *   - a state is reported once two samples in a row agree on it, so a ring
 *     full for a moment under load is not news;
 *   - each link and port may report WATCH_BURST changes, then one every
 *     WATCH_REFILL_NS: a vmm that flips its words cannot flood the ring
 *     (it is said once that changes go unreported, and how many were when
 *     reporting resumes);
 *   - a word no vmm writes is shown as "invalid", with its value.
 * The words a vmm that is not running left behind are not read.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "link.h"
#include "sup.h"
#include "sys.h"

#define WATCH_FAST_NS (100 * 1000000ull)
#define WATCH_SLOW_NS (1000 * 1000000ull)
#define WATCH_BURST 5u
#define WATCH_REFILL_NS (2 * 1000000000ull)

#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

struct watched {
	int seen;                /* the last sample, -1: none */
	int steady;              /* what the last two samples agreed on, -1: none */
	int said;                /* the last one reported, -1: none yet */
	unsigned budget, muted;  /* changes it may report now; not reported */
	uint64_t refilled;
};

/* a link: the worst of what its running ends say */
enum { L_OK, L_FULL, L_STALLED, L_RESETTING, L_BROKEN, L_INVALID };
static const char *const link_word[] = { "ok", "full", "stalled", "resetting", "broken", "invalid" };

static struct watched *wlink, *wport;   /* per link; per guest interface */
static unsigned *port_base;             /* per node: its first interface in wport */
static uint64_t *wake;                  /* per node: its vmm's wakeups when last sampled */
static uint64_t next_at, interval;
static bool on;

static bool running(unsigned node)
{
	const struct sup_node *n = &S.nodes[node];
	return n->pid > 0 && !n->exited && n->stats;
}

/* The stats of node's end of link li, or NULL. */
static struct vmm_link_stats *end_stats(unsigned node, unsigned li)
{
	const struct lab_node *n = &S.lab->nodes[node];
	unsigned k = 0;
	for (unsigned i = 0; i < n->n_ifaces; i++)
		for (unsigned j = 0; j < n->ifaces[i].n_links; j++, k++)
			if (n->ifaces[i].links[j] == li)
				return vmm_stats_link(S.nodes[node].stats, n->n_ifaces, k);
	return NULL;
}

static int rank(uint32_t st)
{
	switch (st) {
	case VMM_LINK_OK: return L_OK;
	case VMM_LINK_FULL: return L_FULL;
	case VMM_LINK_STALLED: return L_STALLED;
	case VMM_LINK_RESETTING: return L_RESETTING;
	case VMM_LINK_BROKEN: return L_BROKEN;
	default: return L_INVALID;
	}
}

/* Link li's state (-1: no end's vmm runs), and why, from the worst end. */
static int link_state(unsigned li, char *why, size_t len)
{
	const struct lab_link *l = &S.lab->links[li];
	int worst = -1;
	if (why)
		why[0] = 0;
	for (int e = 0; e < 2; e++) {
		unsigned node = l->end[e].node, peer = l->end[e ^ 1].node;
		struct vmm_link_stats *s = running(node) ? end_stats(node, li) : NULL;
		if (!s)
			continue;
		uint32_t st = LD(s->state);
		int r = rank(st);
		if (r <= worst)
			continue;
		worst = r;
		if (!why)
			continue;
		const char *me = S.lab->nodes[node].name, *other = S.lab->nodes[peer].name;
		const char *err = vmm_link_error_name(LD(s->error));
		switch (r) {
		case L_FULL:
			snprintf(why, len, "frames from %s wait for room", me);
			break;
		case L_STALLED:
			snprintf(why, len, "%s takes nothing from %s: its frames are dropped", other, me);
			break;
		case L_RESETTING:
			snprintf(why, len, "%s is resetting it (%s)", me, vq_reset_why_name((int)LD(s->reset_why)));
			break;
		case L_BROKEN:
			snprintf(why, len, "%s saw: %s", me, err ? err : "no answer to a reset");
			break;
		case L_INVALID:
			snprintf(why, len, "%s wrote state word %u", me, (unsigned)st);
			break;
		default:
			why[0] = 0;
		}
	}
	return worst;
}

/* Interface j of guest node's port (-1: none to read, or not yet made). */
static int port_state(unsigned node, unsigned j)
{
	if (!running(node))
		return -1;
	uint32_t st = LD(vmm_stats_if(S.nodes[node].stats, j)->port_state);
	if (st == VMM_PORT_NONE)
		return -1;
	return st < VMM_PORT_STATES ? (int)st : VMM_PORT_STATES;
}

static const char *port_word(int v)
{
	const char *n = v >= 0 && v < VMM_PORT_STATES ? vmm_port_state_name((uint64_t)v) : NULL;
	return n ? n : "invalid";
}

enum verdict { QUIET, REPORT, MUTED };

static enum verdict settle(struct watched *w, int v, uint64_t now)
{
	bool changed = false;
	if (v >= 0 && v == w->seen && v != w->steady) {
		w->steady = v;
		changed = true;
	}
	w->seen = v;
	if (w->budget >= WATCH_BURST)
		w->refilled = now;
	while (w->budget < WATCH_BURST && now - w->refilled >= WATCH_REFILL_NS) {
		w->budget++;
		w->refilled += WATCH_REFILL_NS;
	}
	if (w->steady < 0 || w->steady == w->said)
		return QUIET;
	if (w->said < 0) {   /* its first state: nothing changed */
		w->said = w->steady;
		return QUIET;
	}
	if (!w->budget)
		return changed && w->muted++ == 0 ? MUTED : QUIET;
	w->budget--;
	return REPORT;
}

/* " (3 changes not reported)" */
static void muted_words(struct watched *w, char *buf, size_t len)
{
	buf[0] = 0;
	if (w->muted)
		snprintf(buf, len, " (%u change%s not reported)", w->muted, w->muted == 1 ? "" : "s");
	w->muted = 0;
}

static void sample(uint64_t now)
{
	const struct lab *lab = S.lab;
	bool moved = false;
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		uint64_t w = running(i) ? LD(S.nodes[i].stats->wakeups) : wake[i];
		moved |= w != wake[i];
		wake[i] = w;
	}
	for (unsigned l = 0; l < lab->n_links; l++) {
		struct watched *w = &wlink[l];
		int was = w->said;
		switch (settle(w, link_state(l, NULL, 0), now)) {
		case QUIET:
			break;
		case MUTED:
			sup_event("link_state", -1, (int)l, NULL,
				  "link changes state too often: not reported for a while");
			break;
		case REPORT: {
			char why[160], more[48];
			w->said = w->steady;
			link_state(l, why, sizeof(why));
			muted_words(w, more, sizeof(more));
			const struct lab_link *ln = &lab->links[l];
			sup_log("link %s-%s: %s (was %s)%s%s%s", lab->nodes[ln->end[0].node].name,
				lab->nodes[ln->end[1].node].name, link_word[w->said], link_word[was],
				why[0] ? ": " : "", why, more);
			sup_event("link_state", -1, (int)l,
				  json_pack("{s:s,s:s,s:s?}", "state", link_word[w->said], "was", link_word[was],
					    "reason", why[0] ? why : NULL),
				  "link %s (was %s)%s%s%s", link_word[w->said], link_word[was],
				  why[0] ? ": " : "", why, more);
			break;
		}
		}
	}
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		const struct lab_node *node = &lab->nodes[i];
		if (node->kind != LAB_GUEST)
			continue;
		for (unsigned j = 0; j < node->n_ifaces; j++) {
			struct watched *w = &wport[port_base[i] + j];
			int was = w->said;
			switch (settle(w, port_state(i, j), now)) {
			case QUIET:
				break;
			case MUTED:
				sup_event("port_state", (int)i, -1, json_pack("{s:s}", "iface", node->ifaces[j].name),
					  "%s port changes state too often: not reported for a while",
					  node->ifaces[j].name);
				break;
			case REPORT: {
				char more[48], what[64] = "";
				w->said = w->steady;
				muted_words(w, more, sizeof(more));
				const char *err = NULL;
				if (w->said == VMM_PORT_BROKEN)
					err = vmm_link_error_name(LD(vmm_stats_if(S.nodes[i].stats, j)->port_error));
				else if (w->said == VMM_PORT_STATES)
					snprintf(what, sizeof(what), ": state word %u",
						 (unsigned)LD(vmm_stats_if(S.nodes[i].stats, j)->port_state));
				sup_log("%s.%s port: %s (was %s)%s%s%s", node->name, node->ifaces[j].name,
					port_word(w->said), port_word(was), err ? ": " : what, err ? err : "", more);
				sup_event("port_state", (int)i, -1,
					  json_pack("{s:s,s:s,s:s,s:s?}", "iface", node->ifaces[j].name,
						    "state", port_word(w->said), "was", port_word(was), "error", err),
					  "%s port %s (was %s)%s%s%s", node->ifaces[j].name, port_word(w->said),
					  port_word(was), err ? ": " : what, err ? err : "", more);
				break;
			}
			}
		}
	}
	interval = moved ? WATCH_FAST_NS : interval * 2 > WATCH_SLOW_NS ? WATCH_SLOW_NS : interval * 2;
	next_at = now + interval;
}

int sup_watch_init(char *msg, size_t len)
{
	const struct lab *lab = S.lab;
	unsigned ports = 0;
	port_base = calloc(lab->n_nodes + 1, sizeof(*port_base));
	wake = calloc(lab->n_nodes + 1, sizeof(*wake));
	for (unsigned i = 0; port_base && i < lab->n_nodes; i++) {
		port_base[i] = ports;
		ports += lab->nodes[i].n_ifaces;
	}
	wlink = calloc(lab->n_links + 1, sizeof(*wlink));
	wport = calloc(ports + 1, sizeof(*wport));
	if (!port_base || !wake || !wlink || !wport) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	uint64_t now = sys_now_ns();
	/* the states at up are the starting point, not news */
	for (unsigned l = 0; l < lab->n_links; l++) {
		int v = link_state(l, NULL, 0);
		wlink[l] = (struct watched){ .seen = v, .steady = v, .said = v, .budget = WATCH_BURST,
					     .refilled = now };
	}
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		for (unsigned j = 0; j < lab->nodes[i].n_ifaces; j++) {
			int v = lab->nodes[i].kind == LAB_GUEST ? port_state(i, j) : -1;
			wport[port_base[i] + j] = (struct watched){ .seen = v, .steady = v, .said = v,
								    .budget = WATCH_BURST, .refilled = now };
		}
		wake[i] = running(i) ? LD(S.nodes[i].stats->wakeups) : 0;
	}
	interval = WATCH_FAST_NS;
	next_at = now + interval;
	on = true;
	sup_vm_watch();   /* and what each VM's agent says */
	return 0;
}

int sup_watch_timeout(void)
{
	if (!on)
		return -1;
	uint64_t now = sys_now_ns();
	return next_at <= now ? 0 : (int)((next_at - now + 999999) / 1000000);
}

void sup_watch_due(void)
{
	uint64_t now = sys_now_ns();
	if (on && now >= next_at)
		sample(now);
}
