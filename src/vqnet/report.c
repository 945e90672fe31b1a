/* SPDX-License-Identifier: MIT */
#include "report.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "table.h"

/* A number or "-" (null, absent). */
static const char *num(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);
	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%.1f", json_real_value(v));
	else
		snprintf(buf, len, "-");
	return buf;
}

json_t *lab_status(const char *lab, struct lab_probe *p)
{
	if (p->health == LAB_UP) {
		json_t *o = json_loads(p->reply, 0, NULL);
		if (json_is_object(o))
			return o;
		json_decref(o);
	}
	char log[256], hint[256] = "";
	lab_log_path(log, sizeof(log), lab);
	switch (p->health) {
	case LAB_DEAD:
		snprintf(hint, sizeof(hint), "its supervisor died, leaving %u namespace%s: "
			 "'vqnet down %s' cleans up", p->leftovers, p->leftovers == 1 ? "" : "s", lab);
		break;
	case LAB_STUCK:
		snprintf(hint, sizeof(hint), "its supervisor does not answer: 'vqnet down %s' stops it", lab);
		break;
	case LAB_UP:
		snprintf(hint, sizeof(hint), "its supervisor gave an unreadable status");
		break;
	default:
		break;
	}
	json_t *o = json_pack("{s:s,s:s,s:s}", "lab", lab, "state",
			      p->health == LAB_UP ? "not answering" : lab_health_name(p->health),
			      "log", log);
	if (!o)
		return NULL;
	json_object_set_new(o, "file", p->state.file[0] ? json_string(p->state.file) : json_null());
	json_object_set_new(o, "supervisor", p->state.supervisor
			    ? json_pack("{s:I}", "pid", (json_int_t)p->state.supervisor) : json_null());
	json_object_set_new(o, "hint", hint[0] ? json_string(hint) : json_null());
	if (p->health == LAB_DEAD)
		json_object_set_new(o, "leftovers", json_integer(p->leftovers));
	return o;
}

static void iface_table(FILE *f, json_t *nodes)
{
	struct table t;
	table_init(&t, 5);
	table_row(&t, (const char *[]){ "GUEST", "IFACE", "MAC", "IP", "PEERS" });
	size_t i, j, k;
	json_t *n, *ifc, *peer;
	json_array_foreach(nodes, i, n) {
		if (strcmp(js(n, "kind", ""), "guest"))
			continue;
		json_t *ifaces = json_object_get(n, "ifaces");
		if (!json_array_size(ifaces))
			table_row(&t, (const char *[]){ js(n, "name", "?"), "-", "-", "-", "-" });
		json_array_foreach(ifaces, j, ifc) {
			char peers[1024] = "";
			size_t used = 0;
			json_array_foreach(json_object_get(ifc, "peers"), k, peer) {
				int w = snprintf(peers + used, sizeof(peers) - used, "%s%s", k ? " " : "",
						 json_is_string(peer) ? json_string_value(peer) : "?");
				if (w < 0 || (size_t)w >= sizeof(peers) - used)
					break;
				used += (size_t)w;
			}
			table_row(&t, (const char *[]){ j ? "" : js(n, "name", "?"), js(ifc, "name", "?"),
							js(ifc, "mac", "-"), js(ifc, "ip", "-"), peers });
			if (json_is_string(json_object_get(ifc, "ip6")))
				table_row(&t, (const char *[]){ "", "", "", js(ifc, "ip6", "-"), "" });
		}
	}
	table_print(f, &t);
	table_free(&t);
}

static const char *plural(long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* "3 guests, 1 filter, 3 links" */
static void counts(json_t *st, char *buf, size_t len)
{
	json_t *c = json_object_get(st, "counts");
	long long g = jint(c, "guests", 0), fl = jint(c, "filters", 0), sw = jint(c, "switches", 0);
	long long l = jint(c, "links", 0);
	int n = snprintf(buf, len, "%lld %s, ", g, plural(g, "guest", "guests"));
	if (fl && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, "%lld %s, ", fl, plural(fl, "filter", "filters"));
	if (sw && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, "%lld %s, ", sw, plural(sw, "switch", "switches"));
	if (n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "%lld %s", l, plural(l, "link", "links"));
}

void report_up(FILE *f, const char *status_json)
{
	json_t *st = json_loads(status_json, 0, NULL);
	char c[128];
	counts(st, c, sizeof(c));
	/* the slowest vmm says how long it took */
	double slowest = 0;
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(st, "nodes"), i, n) {
		json_t *r = json_object_get(n, "ready_ms");
		if (json_is_number(r) && json_number_value(r) > slowest)
			slowest = json_number_value(r);
	}
	fprintf(f, "lab %s is up: %s; every vmm ready within %.1f ms\n", js(st, "lab", "?"), c, slowest);
	/* VMs: how long each took to boot, to its agent's hello */
	bool any = false;
	json_array_foreach(json_object_get(st, "nodes"), i, n) {
		json_t *vm = json_object_get(n, "vm"), *boot = json_object_get(vm, "boot_ms");
		if (!json_is_number(boot))
			continue;
		if (!any)
			fprintf(f, "VMs ready (%s):", js(vm, "accel", "?"));
		fprintf(f, "%s %s in %.1f s", any ? "," : "", js(n, "name", "?"),
			json_number_value(boot) / 1000);
		any = true;
	}
	fprintf(f, "%s\n", any ? "\n" : "");
	iface_table(f, json_object_get(st, "nodes"));
	json_decref(st);
}

/* "running, pid 12", "killed by signal 9"; a vmm's restarts, and when
 * the next start is due ("running, pid 14, restarted 2x (last killed by
 * signal 9)", "restarting in 0.4 s (exited with status 1, 3 in a row)") */
static void vmm_text(json_t *vmm, char *buf, size_t len)
{
	const char *state = js(vmm, "state", "unknown"), *last = js(vmm, "last_exit", NULL);
	long long restarts = jint(vmm, "restarts", 0);
	json_t *next = json_object_get(vmm, "next_start_ms");
	int n;
	if (!strcmp(state, "running"))
		n = snprintf(buf, len, "running, pid %lld", jint(vmm, "pid", 0));
	else if (!strcmp(state, "killed"))
		n = snprintf(buf, len, "killed by signal %lld", jint(vmm, "signal", 0));
	else if (!strcmp(state, "exited"))
		n = snprintf(buf, len, "exited with status %lld", jint(vmm, "exit_status", 0));
	else if (!strcmp(state, "restarting") && json_is_number(next))
		n = snprintf(buf, len, "restarting in %.1f s (%s, %lld in a row)",
			     json_number_value(next) / 1000, last ? last : "?",
			     jint(vmm, "crashes_in_a_row", 0));
	else
		n = snprintf(buf, len, "%s", state);
	if (n > 0 && (size_t)n < len && restarts && !strcmp(state, "running"))
		snprintf(buf + n, len - (size_t)n, ", restarted %lldx (last %s)", restarts,
			 last ? last : "?");
}

/* "QEMU running, pid 5 (tcg), agent ready in 9.8 s" */
static void vm_text(json_t *vm, char *buf, size_t len)
{
	if (!json_is_object(vm)) {
		snprintf(buf, len, "-");
		return;
	}
	char q[64];
	vmm_text(json_object_get(vm, "qemu"), q, sizeof(q));
	json_t *boot = json_object_get(vm, "boot_ms");
	const char *agent = js(vm, "agent", "?"), *why = js(vm, "agent_error", NULL);
	int n = snprintf(buf, len, "QEMU %s (%s), agent %s", q, js(vm, "accel", "?"), agent);
	if (n > 0 && (size_t)n < len && json_is_number(boot) && !strcmp(agent, "ready"))
		snprintf(buf + n, len - (size_t)n, " in %.1f s", json_number_value(boot) / 1000);
	else if (n > 0 && (size_t)n < len && why)
		snprintf(buf + n, len - (size_t)n, " (%s)", why);
}

static void node_table(FILE *f, json_t *nodes)
{
	struct table t;
	table_init(&t, 6);
	table_row(&t, (const char *[]){ "NODE", "KIND", "NAMESPACE", "VMM", "READY-MS", "VM" });
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n) {
		char vmm[224], ready[32], vm[256];
		vmm_text(json_object_get(n, "vmm"), vmm, sizeof(vmm));
		json_t *cap = json_object_get(n, "capture");
		size_t l = strlen(vmm);
		if (json_is_object(cap) && l < sizeof(vmm))
			snprintf(vmm + l, sizeof(vmm) - l, ", capturing (%lld frames, %lld lost)",
				 jint(cap, "frames", 0), jint(cap, "lost", 0));
		vm_text(json_object_get(n, "vm"), vm, sizeof(vm));
		const char *kind = !strcmp(js(n, "kind", "?"), "guest") ? js(n, "guest_kind", "?")
				   : js(n, "kind", "?");
		table_row(&t, (const char *[]){ js(n, "name", "?"), kind, js(n, "netns", "-"),
						vmm, num(n, "ready_ms", ready, sizeof(ready)), vm });
	}
	table_print(f, &t);
	table_free(&t);
}

static void counter_table(FILE *f, json_t *nodes)
{
	static const char *const keys[] = { "from_guest_frames", "to_guest_frames", "spoofed",
					    "unknown", "runts", "bad_header", "to_guest_drops" };
	struct table t;
	table_init(&t, 9);
	table_row(&t, (const char *[]){ "INTERFACE", "FROM-GUEST", "TO-GUEST", "SPOOFED", "UNKNOWN",
					"RUNTS", "BAD-HEADER", "GUEST-DROPS", "PORT" });
	size_t i, j;
	json_t *n, *ifc;
	json_array_foreach(nodes, i, n) {
		json_array_foreach(json_object_get(n, "ifaces"), j, ifc) {
			char who[128], v[7][32], port[256] = "-";
			const char *row[9] = { who };
			json_t *c = json_object_get(ifc, "counters"), *p = json_object_get(ifc, "port");
			snprintf(who, sizeof(who), "%s.%s", js(n, "name", "?"), js(ifc, "name", "?"));
			for (int k = 0; k < 7; k++)
				row[k + 1] = num(c, keys[k], v[k], sizeof(v[k]));
			if (json_is_object(p)) {
				const char *err = js(p, "error", NULL);
				snprintf(port, sizeof(port), "%s %s%s%s%s", js(p, "kind", "?"), js(p, "state", "?"),
					 err ? " (" : "", err ? err : "", err ? ")" : "");
			}
			row[8] = port;
			table_row(&t, row);
		}
	}
	table_print(f, &t);
	table_free(&t);
}

static long long sum(json_t *link, const char *key)
{
	long long a = jint(json_object_get(link, "a"), key, 0), b = jint(json_object_get(link, "b"), key, 0);
	return a + b;
}

static void link_table(FILE *f, json_t *links)
{
	struct table t;
	table_init(&t, 12);
	table_row(&t, (const char *[]){ "LINK", "ENDS", "TOPOLOGY", "A->B", "B->A", "KICKS",
					"DROP-FULL", "DROP-STALLED", "DROP-BROKEN", "DROP-DOWN", "RESETS",
					"STATE" });
	size_t i;
	json_t *l;
	json_array_foreach(links, i, l) {
		json_t *a = json_object_get(l, "a"), *b = json_object_get(l, "b");
		char idx[16], ends[160], ab[24], ba[24], kicks[24], df[24], ds[24], db[24], dd[24],
		     rs[24], state[320];
		snprintf(idx, sizeof(idx), "%lld", jint(l, "index", -1));
		snprintf(ends, sizeof(ends), "%s.%s-%s.%s", js(a, "node", "?"), js(a, "iface", "?"),
			 js(b, "node", "?"), js(b, "iface", "?"));
		/* frames that crossed: what each end took off the link */
		snprintf(ab, sizeof(ab), "%lld", jint(b, "rx_frames", 0));
		snprintf(ba, sizeof(ba), "%lld", jint(a, "rx_frames", 0));
		snprintf(kicks, sizeof(kicks), "%lld", sum(l, "kicks"));
		snprintf(df, sizeof(df), "%lld", sum(l, "drop_full"));
		snprintf(ds, sizeof(ds), "%lld", sum(l, "drop_stalled"));
		snprintf(db, sizeof(db), "%lld", sum(l, "drop_broken"));
		snprintf(dd, sizeof(dd), "%lld", sum(l, "drop_down"));
		/* both ends count each reset they took part in */
		long long ra = jint(a, "resets", 0), rb = jint(b, "resets", 0);
		snprintf(rs, sizeof(rs), "%lld", ra > rb ? ra : rb);
		const char *why = js(l, "reason", NULL);
		snprintf(state, sizeof(state), "%s%s%s%s", js(l, "state", "?"), why ? " (" : "",
			 why ? why : "", why ? ")" : "");
		table_row(&t, (const char *[]){ idx, ends, js(l, "topology", "?"), ab, ba, kicks,
						df, ds, db, dd, rs, state });
	}
	table_print(f, &t);
	table_free(&t);
}

/* Each impaired direction: what it does, and what it did. */
static void impair_list(FILE *f, json_t *links)
{
	bool any = false;
	size_t i;
	json_t *l;
	json_array_foreach(links, i, l) {
		json_t *imp = json_object_get(l, "impair");
		for (int e = 0; e < 2; e++) {
			const char *text = js(imp, e ? "b" : "a", NULL);
			json_t *end = json_object_get(l, e ? "b" : "a"), *far = json_object_get(l, e ? "a" : "b");
			json_t *c = json_object_get(end, "impaired");
			if (!text)
				continue;
			if (!any)
				fprintf(f, "\nIMPAIRMENTS\n");
			any = true;
			fprintf(f, "%s -> %s: %s\n    lost %lld, queue full %lld, too big %lld, duplicated %lld, "
				"reordered %lld, corrupted %lld, delayed %lld\n", js(end, "node", "?"),
				js(far, "node", "?"), text, jint(c, "loss", 0), jint(c, "queue", 0) + jint(c, "overflow", 0),
				jint(c, "mtu", 0), jint(c, "duplicated", 0), jint(c, "reordered", 0),
				jint(c, "corrupted", 0), jint(c, "delayed", 0));
		}
	}
}

static void filter_text(FILE *f, json_t *n)
{
	json_t *fl = json_object_get(n, "filter");
	char a[32], b[32];
	fprintf(f, "\nFILTER %s (policy %s%s)\n", js(n, "name", "?"), js(fl, "policy", "?"),
		json_is_true(json_object_get(fl, "stateful")) ? ", stateful" : "");
	struct table t;
	table_init(&t, 4);
	table_row(&t, (const char *[]){ "#", "RULE", "FRAMES", "BYTES" });
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(fl, "rules"), i, r) {
		char no[24];
		snprintf(no, sizeof(no), "%zu", i + 1);
		table_row(&t, (const char *[]){ no, js(r, "rule", "?"), num(r, "frames", a, sizeof(a)),
						num(r, "bytes", b, sizeof(b)) });
	}
	char pol[32];
	snprintf(pol, sizeof(pol), "policy %s", js(fl, "policy", "?"));
	json_t *ph = json_object_get(fl, "policy_hits");
	table_row(&t, (const char *[]){ "-", pol, num(ph, "frames", a, sizeof(a)), num(ph, "bytes", b, sizeof(b)) });
	table_print(f, &t);
	table_free(&t);
	fprintf(f, "allowed %lld, dropped %lld, malformed %lld",
		jint(json_object_get(fl, "allowed"), "frames", 0),
		jint(json_object_get(fl, "dropped"), "frames", 0),
		jint(json_object_get(fl, "malformed"), "frames", 0));
	json_t *ct = json_object_get(fl, "conntrack");
	if (json_is_true(json_object_get(fl, "stateful")))
		fprintf(f, "; conntrack: %lld flows of %lld, %lld replies admitted, %lld created, "
			"%lld expired, %lld evicted", jint(ct, "entries", 0), jint(ct, "capacity", 0),
			jint(json_object_get(fl, "conntrack_hit"), "frames", 0), jint(ct, "created", 0),
			jint(ct, "expired", 0), jint(ct, "evicted", 0));
	fputc('\n', f);
}

void report_status(FILE *f, json_t *st)
{
	const char *state = js(st, "state", "?"), *lab = js(st, "lab", "?");
	if (strcmp(state, "up")) {
		fprintf(f, "lab %s: %s", lab, state);
		json_t *sup = json_object_get(st, "supervisor");
		if (json_is_object(sup))
			fprintf(f, " (supervisor pid %lld)", jint(sup, "pid", 0));
		const char *hint = js(st, "hint", NULL);
		fprintf(f, "%s%s\n  log: %s\n", hint ? ": " : "", hint ? hint : "", js(st, "log", "-"));
		return;
	}
	long long up = jint(st, "uptime_s", 0);
	char c[128];
	counts(st, c, sizeof(c));
	fprintf(f, "lab %s: up %lld:%02lld:%02lld, %s, supervisor pid %lld\n  file %s\n  log  %s\n"
		"  seed %s\n\n", lab, up / 3600, up / 60 % 60, up % 60, c,
		jint(json_object_get(st, "supervisor"), "pid", 0), js(st, "file", "-"), js(st, "log", "-"),
		js(st, "seed", "-"));
	json_t *nodes = json_object_get(st, "nodes");
	iface_table(f, nodes);
	fputc('\n', f);
	node_table(f, nodes);
	fputc('\n', f);
	counter_table(f, nodes);
	fputc('\n', f);
	link_table(f, json_object_get(st, "links"));
	impair_list(f, json_object_get(st, "links"));
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n)
		if (!strcmp(js(n, "kind", ""), "filter"))
			filter_text(f, n);
	json_t *events = json_object_get(st, "events");
	if (json_array_size(events)) {
		fprintf(f, "\nEVENTS (the last %zu; 'vqnet events %s' for more, as they happen)\n",
			json_array_size(events), lab);
		json_array_foreach(events, i, n)
			report_event(f, n, lab);
	}
}

void report_event(FILE *f, json_t *ev, const char *lab)
{
	char when[32] = "--:--:--.---", who[2 * 40 + 2];
	json_t *ms = json_object_get(ev, "wall_ms"), *link = json_object_get(ev, "link");
	if (json_is_integer(ms) && json_integer_value(ms) >= 0) {
		long long v = (long long)json_integer_value(ms);
		time_t t = (time_t)(v / 1000);
		struct tm tm;
		char hms[16];
		if (localtime_r(&t, &tm) && strftime(hms, sizeof(hms), "%H:%M:%S", &tm))
			snprintf(when, sizeof(when), "%s.%03lld", hms, v % 1000);
	}
	if (json_is_object(link))
		snprintf(who, sizeof(who), "%.40s-%.40s", js(link, "a", "?"), js(link, "b", "?"));
	else
		snprintf(who, sizeof(who), "%.40s", js(ev, "node", lab));
	fprintf(f, "%s %s ", when, who);
	/* the supervisor's text, and nothing a terminal would act on */
	for (const char *p = js(ev, "text", js(ev, "kind", "?")); *p; p++)
		fputc(*p >= 0x20 && *p < 0x7f ? *p : '?', f);
	fputc('\n', f);
}
