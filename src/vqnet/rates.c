/* SPDX-License-Identifier: MIT */
/*
 * Rates from two status snapshots (rates.h), and their text.  What a
 * frame counts: an interface counts Ethernet frames as its guest's NIC
 * sends and takes them (the virtio-net header left out); a link end
 * counts what crossed its ring, each frame with its 12-byte virtio-net
 * header.  Either counts a segmentation-offload (GSO) frame once, with
 * its headers once, however many MTU-sized segments it stands for.
 */
#include "rates.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "link.h"
#include "report.h"
#include "table.h"

enum role { FRAMES, BYTES, DROPS };

/* One counter: member key of the object (of its member sub, if any).  A
 * BYTES counter follows the FRAMES counter it belongs to. */
struct spec {
	const char *sub, *key;
	enum role role;
};

/* An interface's, in iface.counters */
static const struct spec iface_spec[] = {
	{ NULL, "from_guest_frames", FRAMES }, { NULL, "from_guest_bytes", BYTES },
	{ NULL, "to_guest_frames", FRAMES },   { NULL, "to_guest_bytes", BYTES },
	{ NULL, "to_guest_drops", DROPS },     { NULL, "spoofed", DROPS },
	{ NULL, "unknown", DROPS },            { NULL, "runts", DROPS },
	{ NULL, "bad_header", DROPS },
};
#define IFACE_N (sizeof(iface_spec) / sizeof(iface_spec[0]))

/* A link end's, in the end object */
static const struct spec end_spec[] = {
	{ NULL, "tx_frames", FRAMES },     { NULL, "tx_bytes", BYTES },
	{ NULL, "rx_frames", FRAMES },     { NULL, "rx_bytes", BYTES },
	{ NULL, "drop_full", DROPS },      { NULL, "drop_stalled", DROPS },
	{ NULL, "drop_broken", DROPS },    { NULL, "drop_down", DROPS },
	{ "impaired", "loss", DROPS },     { "impaired", "queue", DROPS },
	{ "impaired", "mtu", DROPS },      { "impaired", "overflow", DROPS },
};
#define END_N (sizeof(end_spec) / sizeof(end_spec[0]))
#define SPEC_MAX END_N

struct delta {
	bool known;
	uint64_t d;
};

/* A counter of o: a non-negative JSON integer, else unknown (null, absent,
 * or anything else a status could hold). */
static bool counter(json_t *o, const struct spec *s, uint64_t *v)
{
	json_t *c = json_object_get(s->sub ? json_object_get(o, s->sub) : o, s->key);
	if (!json_is_integer(c) || json_integer_value(c) < 0)
		return false;
	*v = (uint64_t)json_integer_value(c);
	return true;
}

/* The deltas of n counters between p and c; NULL, or the state that makes
 * them worthless: "reset" (one went down: its vmm started counting over,
 * or wrote nonsense) or "implausible" (more than a datapath can move). */
static const char *deltas(json_t *p, json_t *c, const struct spec *sp, unsigned n, double dt,
			  struct delta *d)
{
	const char *bad = NULL;
	for (unsigned i = 0; i < n; i++) {
		uint64_t a, b;
		d[i].known = counter(p, &sp[i], &a) && counter(c, &sp[i], &b);
		if (!d[i].known)
			continue;
		if (b < a)
			return "reset";
		d[i].d = b - a;
	}
	for (unsigned i = 0; i < n && !bad; i++) {
		if (!d[i].known)
			continue;
		/* doubles: no product of untrusted integers can overflow */
		if (sp[i].role != BYTES && (double)d[i].d > RATES_FRAMES_MAX * dt)
			bad = "implausible";
		else if (sp[i].role == BYTES && i > 0 && d[i - 1].known &&
			 (double)d[i].d > (double)d[i - 1].d * VQ_FRAME_MAX)
			bad = "implausible";
	}
	return bad;
}

static json_t *rate(const struct delta *d, double dt, double scale, bool ok)
{
	return ok && d->known ? json_real((double)d->d * scale / dt) : json_null();
}

/* {"frames": F/s, "bits": B/s} of the FRAMES counter at i and its BYTES
 * after it; bits only when both are known (bytes are checked against
 * frames) */
static json_t *pair(const struct delta *d, unsigned i, double dt, bool ok)
{
	json_t *o = json_object();
	json_object_set_new(o, "frames", rate(&d[i], dt, 1, ok));
	json_object_set_new(o, "bits", rate(&d[i + 1], dt, 8, ok && d[i].known));
	return o;
}

/* Drops by cause (counters from..n-1; those with a sub go in an object of
 * that name), and their total over the known ones */
static json_t *drops(const struct spec *sp, const struct delta *d, unsigned from, unsigned n,
		     double dt, bool ok)
{
	json_t *o = json_object();
	double total = 0;
	bool any = false;
	json_object_set_new(o, "total", json_null());   /* first, set below */
	for (unsigned i = from; i < n; i++) {
		json_t *in = o;
		if (sp[i].sub) {
			in = json_object_get(o, sp[i].sub);
			if (!in) {
				in = json_object();
				json_object_set_new(o, sp[i].sub, in);
			}
		}
		json_object_set_new(in, sp[i].key, rate(&d[i], dt, 1, ok));
		if (ok && d[i].known) {
			total += (double)d[i].d / dt;
			any = true;
		}
	}
	json_object_set_new(o, "total", any ? json_real(total) : json_null());
	return o;
}

static json_t *find_named(json_t *arr, const char *key, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
		if (!strcmp(js(v, key, ""), name))
			return v;
	return NULL;
}

/* A snapshot's nodes by name (a jansson object is a hash table), made once
 * per interval: a lab of thousands looks each one up several times. */
static json_t *nodes_by_name(json_t *snap)
{
	json_t *map = json_object(), *v;
	size_t i;
	json_array_foreach(json_object_get(snap, "nodes"), i, v) {
		const char *name = js(v, "name", "");
		if (!json_object_get(map, name))   /* the first, as a search finds */
			json_object_set(map, name, v);
	}
	return map;
}

/* Two snapshots, and their nodes by name. */
struct snaps {
	json_t *prev, *cur, *pnodes, *cnodes;
};

/* Is node (of cur) counted by the same running vmm in both snapshots?
 * NULL if so, else its state for this interval. */
static const char *node_state(const struct snaps *s, const char *name)
{
	json_t *cn = json_object_get(s->cnodes, name);
	json_t *pn = json_object_get(s->pnodes, name);
	json_t *cv = json_object_get(cn, "vmm"), *pv = json_object_get(pn, "vmm");
	if (strcmp(js(cv, "state", ""), "running"))
		return "not running";
	/* a supervisor of its own: the lab itself was brought up again */
	if (!pn || jint(json_object_get(s->prev, "supervisor"), "pid", -1) !=
		   jint(json_object_get(s->cur, "supervisor"), "pid", -2))
		return "restarted";
	if (strcmp(js(pv, "state", ""), "running") || jint(pv, "pid", -1) != jint(cv, "pid", -2) ||
	    jint(pv, "restarts", -1) != jint(cv, "restarts", -2))
		return "restarted";
	return NULL;
}

/* The rates of one interface or link end (node name's iface) from the
 * counters was to now: {node, iface, state, k0, k1, drops}, k0 and k1
 * from spec's deltas 0-1 and 2-3.  No rates, and the state says why,
 * when its vmm is not the one that counted both, when it has published
 * no counters (counted false), or when it is new to this lab (known
 * false). */
static json_t *rates_of(const struct snaps *s, const char *name, const char *iface,
			bool counted, bool known, json_t *was, json_t *now,
			const struct spec *spec, unsigned n, const char *k0, const char *k1, double dt)
{
	struct delta d[SPEC_MAX] = { 0 };
	const char *state = node_state(s, name);
	if (!state && !counted)
		state = "no counters";
	if (!state && !known)
		state = "restarted";
	if (!state)
		state = deltas(was, now, spec, n, dt, d);
	bool ok = !state;
	json_t *o = json_pack("{s:s,s:s,s:s}", "node", name, "iface", iface, "state", ok ? "ok" : state);
	json_object_set_new(o, k0, pair(d, 0, dt, ok));
	json_object_set_new(o, k1, pair(d, 2, dt, ok));
	json_object_set_new(o, "drops", drops(spec, d, 4, n, dt, ok));
	return o;
}

static json_t *iface_rates(const struct snaps *s, json_t *node, json_t *ifc, double dt)
{
	const char *name = js(node, "name", "?");
	json_t *pn = json_object_get(s->pnodes, name);
	json_t *pi = find_named(json_object_get(pn, "ifaces"), "name", js(ifc, "name", "?"));
	json_t *cc = json_object_get(ifc, "counters");
	return rates_of(s, name, js(ifc, "name", "?"), json_is_object(cc), pi != NULL,
			json_object_get(pi, "counters"), cc, iface_spec, IFACE_N, "from_guest",
			"to_guest", dt);
}

/* The link of prev that is cur's link l: same index, same ends */
static json_t *same_link(json_t *prev, json_t *l)
{
	json_t *pl = json_array_get(json_object_get(prev, "links"), (size_t)jint(l, "index", -1));
	for (int e = 0; e < 2 && pl; e++) {
		json_t *a = json_object_get(pl, e ? "b" : "a"), *b = json_object_get(l, e ? "b" : "a");
		if (strcmp(js(a, "node", "?"), js(b, "node", "")) || strcmp(js(a, "iface", "?"), js(b, "iface", "")))
			pl = NULL;
	}
	if (pl && jint(pl, "index", -1) != jint(l, "index", -2))
		pl = NULL;
	return pl;
}

static json_t *end_rates(const struct snaps *s, json_t *pl, json_t *end, const char *side, double dt)
{
	json_t *pe = json_object_get(pl, side);
	/* no state word: its vmm has published no counters */
	return rates_of(s, js(end, "node", "?"), js(end, "iface", "?"),
			json_is_string(json_object_get(end, "state")), pe != NULL, pe, end, end_spec,
			END_N, "tx", "rx", dt);
}

json_t *rates_between(json_t *prev, json_t *cur, double dt, double at)
{
	if (!json_is_object(cur) || strcmp(js(cur, "state", ""), "up") || !(dt > 0))
		return NULL;
	struct snaps s = { prev, cur, nodes_by_name(prev), nodes_by_name(cur) };
	json_t *ifaces = json_array(), *links = json_array();
	size_t i, j;
	json_t *n, *ifc, *l;
	json_array_foreach(json_object_get(cur, "nodes"), i, n)
		json_array_foreach(json_object_get(n, "ifaces"), j, ifc)
			json_array_append_new(ifaces, iface_rates(&s, n, ifc, dt));
	json_array_foreach(json_object_get(cur, "links"), i, l) {
		json_t *pl = same_link(prev, l);
		json_t *o = json_pack("{s:I,s:s}", "index", (json_int_t)jint(l, "index", -1),
				      "topology", js(l, "topology", "?"));
		json_object_set_new(o, "a", end_rates(&s, pl, json_object_get(l, "a"), "a", dt));
		json_object_set_new(o, "b", end_rates(&s, pl, json_object_get(l, "b"), "b", dt));
		json_array_append_new(links, o);
	}
	json_decref(s.pnodes);
	json_decref(s.cnodes);
	return json_pack("{s:s,s:f,s:f,s:o,s:o}", "lab", js(cur, "lab", "?"), "time", at,
			 "interval_s", dt, "ifaces", ifaces, "links", links);
}

/* ---- text ------------------------------------------------------------------------ */

void rates_si(double v, char *buf, size_t len)
{
	static const char prefix[] = " kMGTPE";
	unsigned p = 0;
	if (!(v >= 0 && v < 1e21)) {   /* never happens: no such rate is made */
		snprintf(buf, len, "?");
		return;
	}
	while (v >= 999.5 && p + 1 < sizeof(prefix) - 1) {
		v /= 1000;
		p++;
	}
	if (p == 0)
		snprintf(buf, len, v == 0 ? "0" : v < 9.95 ? "%.1f" : "%.0f", v);
	else
		snprintf(buf, len, v < 9.995 ? "%.2f%c" : v < 99.95 ? "%.1f%c" : "%.0f%c", v, prefix[p]);
}

/* A rate of o, as text: "-" for a counter not published, "?" for one
 * unknown this interval (ok false: see the row's note) */
static const char *rtext(json_t *o, const char *key, bool ok, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);
	if (json_is_number(v))
		rates_si(json_number_value(v), buf, len);
	else
		snprintf(buf, len, ok ? "-" : "?");
	return buf;
}

/* "spoofed 3.0/s, unknown 1.0/s": the causes of drops that happened, or
 * why there are no rates */
static void why(json_t *o, const struct spec *sp, unsigned from, unsigned n, char *buf, size_t len)
{
	const char *state = js(o, "state", "?");
	json_t *dr = json_object_get(o, "drops");
	size_t used = 0;
	buf[0] = 0;
	if (strcmp(state, "ok")) {
		snprintf(buf, len, "%s", !strcmp(state, "restarted") ? "restarted: its vmm was replaced"
			 : !strcmp(state, "reset") ? "reset: its counters went back"
			 : !strcmp(state, "implausible") ? "implausible: its counters moved more than a vmm can"
			 : !strcmp(state, "not running") ? "its vmm is not running"
			 : !strcmp(state, "no counters") ? "no counters published yet" : state);
		return;
	}
	for (unsigned i = from; i < n; i++) {
		json_t *v = json_object_get(sp[i].sub ? json_object_get(dr, sp[i].sub) : dr, sp[i].key);
		char r[32];
		if (!json_is_number(v) || json_number_value(v) <= 0)
			continue;
		rates_si(json_number_value(v), r, sizeof(r));
		int w = snprintf(buf + used, len - used, "%s%s%s%s %s/s", used ? ", " : "",
				 sp[i].sub ? sp[i].sub : "", sp[i].sub ? " " : "", sp[i].key, r);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
}

void report_rates(FILE *f, json_t *r)
{
	char when[32] = "?";
	json_t *at = json_object_get(r, "time");
	if (json_is_number(at) && json_number_value(at) >= 0 && json_number_value(at) < 1e15) {
		time_t s = (time_t)json_number_value(at);
		struct tm tm;
		if (localtime_r(&s, &tm))
			strftime(when, sizeof(when), "%H:%M:%S", &tm);
	}
	json_t *dt = json_object_get(r, "interval_s");
	fprintf(f, "lab %s: frames, bits and drops per second over %.2f s, to %s\n\n", js(r, "lab", "?"),
		json_is_number(dt) ? json_number_value(dt) : 0.0, when);

	struct table t;
	table_init(&t, 7);
	table_row(&t, (const char *[]){ "INTERFACE", "FROM-GUEST/S", "BIT/S", "TO-GUEST/S", "BIT/S",
					"DROPS/S", "" });
	size_t i;
	json_t *o, *l;
	json_array_foreach(json_object_get(r, "ifaces"), i, o) {
		char who[128], v[5][32], w[512];
		snprintf(who, sizeof(who), "%s.%s", js(o, "node", "?"), js(o, "iface", "?"));
		why(o, iface_spec, 4, IFACE_N, w, sizeof(w));
		bool ok = !strcmp(js(o, "state", "?"), "ok");
		table_row(&t, (const char *[]){ who,
			rtext(json_object_get(o, "from_guest"), "frames", ok, v[0], sizeof(v[0])),
			rtext(json_object_get(o, "from_guest"), "bits", ok, v[1], sizeof(v[1])),
			rtext(json_object_get(o, "to_guest"), "frames", ok, v[2], sizeof(v[2])),
			rtext(json_object_get(o, "to_guest"), "bits", ok, v[3], sizeof(v[3])),
			rtext(json_object_get(o, "drops"), "total", ok, v[4], sizeof(v[4])), w });
	}
	table_print(f, &t);
	table_free(&t);
	fputc('\n', f);

	table_init(&t, 9);
	table_row(&t, (const char *[]){ "LINK", "END", "PEER", "TX/S", "BIT/S", "RX/S", "BIT/S",
					"DROPS/S", "" });
	json_array_foreach(json_object_get(r, "links"), i, l) {
		for (int e = 0; e < 2; e++) {
			json_t *end = json_object_get(l, e ? "b" : "a"), *far = json_object_get(l, e ? "a" : "b");
			char idx[24] = "", who[128], peer[128], v[5][32], w[512];
			if (!e)
				snprintf(idx, sizeof(idx), "%lld", jint(l, "index", -1));
			snprintf(who, sizeof(who), "%s.%s", js(end, "node", "?"), js(end, "iface", "?"));
			snprintf(peer, sizeof(peer), "%s", js(far, "node", "?"));
			why(end, end_spec, 4, END_N, w, sizeof(w));
			bool ok = !strcmp(js(end, "state", "?"), "ok");
			table_row(&t, (const char *[]){ idx, who, peer,
				rtext(json_object_get(end, "tx"), "frames", ok, v[0], sizeof(v[0])),
				rtext(json_object_get(end, "tx"), "bits", ok, v[1], sizeof(v[1])),
				rtext(json_object_get(end, "rx"), "frames", ok, v[2], sizeof(v[2])),
				rtext(json_object_get(end, "rx"), "bits", ok, v[3], sizeof(v[3])),
				rtext(json_object_get(end, "drops"), "total", ok, v[4], sizeof(v[4])), w });
		}
	}
	table_print(f, &t);
	table_free(&t);
}
