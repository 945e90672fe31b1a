/* SPDX-License-Identifier: MIT */
/*
 * graph_dot.c - a lab's model as DOT (graph.h): guests and filters as
 * tables of their interfaces, links as edges between those, each drawn
 * the way its state looks, and a legend of the looks.
 *
 * Every string of the model is untrusted text: names become DOT
 * identifiers only when they are valid lab names, and every other string
 * reaches DOT through put_text(), never as a format or an attribute of
 * its own.
 */
#include "graph.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab.h"
#include "report.h"

/* ---- escaping --------------------------------------------------------- */

/* Untrusted text into an HTML-like label.  lab_escape() first (control
 * bytes, malformed UTF-8, bidirectional controls become \xNN), then XML's
 * entities; a backslash goes out doubled, since graphviz expands \N, \G,
 * \E ... in labels after decoding entities; U+FFFE and U+FFFF, which XML
 * does not allow, as \xNN too, so the SVG stays well formed. */
static void put_text(FILE *f, const char *s)
{
	size_t len = strlen(s);
	int need = lab_escape(s, len, NULL, 0);
	char *e = need >= 0 ? malloc((size_t)need + 1) : NULL;
	if (!e) {
		fputc('?', f);
		return;
	}
	lab_escape(s, len, e, (size_t)need + 1);
	for (const unsigned char *p = (const unsigned char *)e; *p; p++) {
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		case '\\': fputs("\\\\", f); break;
		default:
			if (p[0] == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf)) {
				fprintf(f, "\\\\xef\\\\xbf\\\\x%02x", p[2]);
				p += 2;
			} else {
				fputc(*p, f);
			}
		}
	}
	free(e);
}

/* A node's DOT identifier (and SVG id): its name when it is a valid lab
 * name (letters, digits, _ and -: nothing DOT or XML would read), else one
 * made from its place with a '.', which no name has; so is the legend's,
 * LEGEND_ID.  Quoted wherever it is used. */
#define LEGEND_ID "vqnet.legend"
static const char *node_id(json_t *node, size_t i, char *buf, size_t len)
{
	const char *name = js(node, "name", "");
	if (lab_name_valid(name))
		return name;
	snprintf(buf, len, "node.%zu", i);
	return buf;
}

/* Is s an interface name we made, eth0 ... eth99999: a safe port name? */
static bool port_ok(const char *s)
{
	if (strncmp(s, "eth", 3))
		return false;
	size_t n = strspn(s + 3, "0123456789");
	return n >= 1 && n <= 5 && !s[3 + n];
}

/* ---- looks ------------------------------------------------------------ */

/* How a link looks: by its state (docs/status.md), and "impaired" for an
 * ok link that has impairments.  The legend lists these in this order. */
static const struct look {
	const char *key, *color, *style;   /* style: one a table cell takes too */
	int width;
	const char *meaning;
} looks[] = {
	{ "ok",        "#404040", "solid",  2, "ok" },
	{ "impaired",  "#e66101", "solid",  4, "impaired (delay, loss, rate ...)" },
	{ "full",      "#b8860b", "solid",  3, "full: frames wait for the peer" },
	{ "stalled",   "#7b3294", "dotted", 3, "stalled: the peer takes nothing" },
	{ "resetting", "#2b83ba", "dashed", 2, "resetting: an end starts it over" },
	{ "broken",    "#d7191c", "solid",  4, "broken: a reset went unanswered" },
	{ "down",      "#9e9e9e", "dashed", 2, "down: cut by a fault" },
	{ "dead",      "#d7191c", "dotted", 3, "dead: a vmm at one end is not running" },
	{ "invalid",   "#d01c8b", "solid",  4, "invalid: a state no vmm writes" },
};
#define N_LOOKS (sizeof(looks) / sizeof(looks[0]))

static const struct look *look_of(const char *key)
{
	for (size_t i = 0; i < N_LOOKS; i++)
		if (!strcmp(looks[i].key, key))
			return &looks[i];
	return &looks[N_LOOKS - 1];     /* a state we do not know is shown as one */
}

/* Node kinds: header colour, border colour. */
#define NETNS_HEAD "#9fc5e8"
#define NETNS_EDGE "#3d85c6"
#define QEMU_HEAD "#f9cb9c"
#define QEMU_EDGE "#e69138"
#define FILTER_HEAD "#cccccc"
#define FILTER_EDGE "#666666"
#define VMM_DOWN "#cc0000"
#define FAINT "#666666"

/* Interface cells take their topology's colour. */
static const char *const topo_colors[] = {
	"#d9ead3", "#fff2cc", "#d9d2e9", "#d0e0e3", "#ead1dc", "#f3e6d8",
};
#define N_TOPO_COLORS (sizeof(topo_colors) / sizeof(topo_colors[0]))

/* The topologies of a model, in order of first mention, as a JSON array. */
static json_t *topologies(json_t *m)
{
	json_t *t = json_array();
	size_t i, j, k;
	json_t *n, *ifc, *seen;
	json_array_foreach(json_object_get(m, "nodes"), i, n) {
		json_array_foreach(json_object_get(n, "ifaces"), j, ifc) {
			const char *name = js(ifc, "topology", NULL);
			bool known = !name;
			json_array_foreach(t, k, seen)
				known = known || !strcmp(json_string_value(seen), name);
			if (!known)
				json_array_append_new(t, json_string(name));
		}
	}
	return t;
}

static const char *topo_color(json_t *topos, const char *name)
{
	size_t k;
	json_t *seen;
	json_array_foreach(topos, k, seen)
		if (name && !strcmp(json_string_value(seen), name))
			return topo_colors[k % N_TOPO_COLORS];
	return "#ffffff";
}

/* ---- DOT -------------------------------------------------------------- */

static void put_bytes(FILE *f, long long b)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	if (b < 1024) {
		fprintf(f, "%lld B", b);
		return;
	}
	double v = (double)b / 1024;
	size_t u = 0;
	for (; v >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0]); u++)
		v /= 1024;
	fprintf(f, "%.1f %s", v, unit[u]);
}

/* One line in a node: "vmm running, pid 12, restarted 2x" and the like.
 * Returns whether the vmm runs. */
static bool vmm_line(FILE *f, json_t *vmm)
{
	const char *state = js(vmm, "state", "unknown"), *last = js(vmm, "last_exit", NULL);
	bool running = !strcmp(state, "running");
	long long restarts = jint(vmm, "restarts", 0);
	json_t *next = json_object_get(vmm, "next_start_ms");
	fprintf(f, "<TR><TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"9\" COLOR=\"%s\">vmm ",
		running ? FAINT : VMM_DOWN);
	put_text(f, state);
	if (running && json_is_integer(json_object_get(vmm, "pid")))
		fprintf(f, ", pid %lld", jint(vmm, "pid", 0));
	if (!running && json_is_number(next))
		fprintf(f, " in %.1f s", json_number_value(next) / 1000);
	if (restarts)
		fprintf(f, ", restarted %lldx", restarts);
	if (last) {
		fputs(" (last ", f);
		put_text(f, last);
		fputc(')', f);
	}
	fputs("</FONT></TD></TR>\n", f);
	return running;
}

/* What kind of node, in its second line; live: how its QEMU or filter does. */
static void kind_line(FILE *f, json_t *n, bool live)
{
	const char *kind = js(n, "kind", "?"), *gk = js(n, "guest_kind", "");
	json_t *vm = json_object_get(n, "vm"), *fl = json_object_get(n, "filter");
	fputs("<TR><TD ALIGN=\"LEFT\" BALIGN=\"LEFT\"><FONT POINT-SIZE=\"9\">", f);
	if (!strcmp(kind, "guest") && !strcmp(gk, "qemu")) {
		fputs("QEMU VM", f);
		if (json_is_integer(json_object_get(vm, "memory_mib")))
			fprintf(f, ", %lld MiB, %lld CPU%s", jint(vm, "memory_mib", 0), jint(vm, "cpus", 1),
				jint(vm, "cpus", 1) == 1 ? "" : "s");
		if (live && json_is_object(vm)) {
			fputs("<BR ALIGN=\"LEFT\"/>QEMU ", f);
			put_text(f, js(json_object_get(vm, "qemu"), "state", "?"));
			fputs(" (", f);
			put_text(f, js(vm, "accel", "?"));
			fputs("), agent ", f);
			put_text(f, js(vm, "agent", "?"));
		}
	} else if (!strcmp(kind, "guest")) {
		fputs("namespace guest", f);
	} else if (!strcmp(kind, "filter")) {
		size_t rules = json_array_size(json_object_get(fl, "rules"));
		fputs("filter, policy ", f);
		put_text(f, js(fl, "policy", "?"));
		fprintf(f, "%s, %zu rule%s", json_is_true(json_object_get(fl, "stateful")) ? ", stateful" : "",
			rules, rules == 1 ? "" : "s");
		if (live)
			fprintf(f, "<BR ALIGN=\"LEFT\"/>allowed %lld, dropped %lld frames",
				jint(json_object_get(fl, "allowed"), "frames", 0),
				jint(json_object_get(fl, "dropped"), "frames", 0));
	} else {
		put_text(f, kind);
	}
	fputs("</FONT></TD></TR>\n", f);
}

static void iface_row(FILE *f, json_t *ifc, json_t *topos, bool live)
{
	const char *name = js(ifc, "name", "?"), *port = js(json_object_get(ifc, "port"), "state", NULL);
	fprintf(f, "<TR><TD ALIGN=\"LEFT\" BALIGN=\"LEFT\" BGCOLOR=\"%s\"", topo_color(topos, js(ifc, "topology", NULL)));
	if (port_ok(name))
		fprintf(f, " PORT=\"%s\"", name);
	/* one run of text: SVG viewers drop a run's leading blanks */
	fputc('>', f);
	put_text(f, name);
	fputs(" \u00b7 ", f);
	put_text(f, js(ifc, "topology", "?"));
	const char *addr[] = { js(ifc, "ip", NULL), js(ifc, "ip6", NULL), js(ifc, "mac", NULL) };
	for (size_t i = 0; i < 3; i++) {
		if (!addr[i])
			continue;
		fputs("<BR ALIGN=\"LEFT\"/><FONT POINT-SIZE=\"8\">", f);
		put_text(f, addr[i]);
		fputs("</FONT>", f);
	}
	/* a port that is not serving its guest (gone, waiting, broken ...) */
	if (live && port && strcmp(port, "up") && strcmp(port, "running")) {
		fprintf(f, "<BR ALIGN=\"LEFT\"/><FONT POINT-SIZE=\"8\" COLOR=\"%s\">port ", VMM_DOWN);
		put_text(f, port);
		fputs("</FONT>", f);
	}
	fputs("</TD></TR>\n", f);
}

static void node_dot(FILE *f, json_t *n, size_t i, json_t *topos, bool live)
{
	char idbuf[32];
	const char *id = node_id(n, i, idbuf, sizeof(idbuf));
	const char *kind = js(n, "kind", "?");
	bool qemu = !strcmp(kind, "guest") && !strcmp(js(n, "guest_kind", ""), "qemu");
	bool netns = !strcmp(kind, "guest") && !qemu;
	const char *head = qemu ? QEMU_HEAD : netns ? NETNS_HEAD : FILTER_HEAD;
	const char *edge = qemu ? QEMU_EDGE : netns ? NETNS_EDGE : FILTER_EDGE;
	/* live, the vmm's line goes first: its colour says whether the
	 * border does too, so the node is written into a buffer */
	char *rows = NULL;
	size_t len = 0;
	FILE *r = open_memstream(&rows, &len);
	bool running = true;
	if (!r)
		return;
	kind_line(r, n, live);
	if (live)
		running = vmm_line(r, json_object_get(n, "vmm"));
	size_t k;
	json_t *ifc;
	json_array_foreach(json_object_get(n, "ifaces"), k, ifc)
		iface_row(r, ifc, topos, live);
	if (fclose(r) || !rows) {
		free(rows);
		return;
	}
	fprintf(f, "  \"%s\" [id=\"node-%s\", class=\"%s%s\", label=<\n"
		"<TABLE BORDER=\"%d\" CELLBORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"3\" COLOR=\"%s\">\n"
		"<TR><TD BGCOLOR=\"%s\"><B>", id, id,
		qemu ? "guest qemu" : netns ? "guest netns" : !strcmp(kind, "filter") ? "filter"
		: !strcmp(kind, "switch") ? "switch" : "other",
		running ? "" : " vmm-down", qemu ? 3 : 1, running ? edge : VMM_DOWN, head);
	put_text(f, js(n, "name", "?"));
	fprintf(f, "</B></TD></TR>\n%s</TABLE>>];\n", rows);
	free(rows);
}

/* The index of the node called name, or -1. */
static long find_node(json_t *nodes, const char *name)
{
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n)
		if (name && !strcmp(js(n, "name", ""), name))
			return (long)i;
	return -1;
}

/* "vm0 → vm1" */
static void put_dir(FILE *f, json_t *from, json_t *to)
{
	put_text(f, js(from, "node", "?"));
	fputs(" \u2192 ", f);
	put_text(f, js(to, "node", "?"));
}

static void label_row(FILE *f, const char *color, int size)
{
	fprintf(f, "<TR><TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"%d\" COLOR=\"%s\">", size, color);
}

/* A link's label: why it is not ok, its impairments, what crossed it.
 * Written into a buffer: an empty label is no label at all. */
static void link_label(FILE *f, json_t *l, bool live)
{
	json_t *a = json_object_get(l, "a"), *b = json_object_get(l, "b");
	json_t *imp = json_object_get(l, "impair");
	const char *state = js(l, "state", "ok"), *why = js(l, "reason", NULL);
	const char *ia = js(imp, "a", NULL), *ib = js(imp, "b", NULL);
	if (live && strcmp(state, "ok")) {
		label_row(f, look_of(state)->color, 9);
		fputs("<B>", f);
		put_text(f, state);
		fputs("</B>", f);
		if (why) {
			fputs(": ", f);
			put_text(f, why);
		}
		fputs("</FONT></TD></TR>\n", f);
	}
	if (ia && ib && !strcmp(ia, ib)) {
		label_row(f, look_of("impaired")->color, 9);
		fputs("both ways: ", f);
		put_text(f, ia);
		fputs("</FONT></TD></TR>\n", f);
	} else {
		for (int e = 0; e < 2; e++) {
			const char *text = e ? ib : ia;
			if (!text)
				continue;
			label_row(f, look_of("impaired")->color, 9);
			put_dir(f, e ? b : a, e ? a : b);
			fputs(": ", f);
			put_text(f, text);
			fputs("</FONT></TD></TR>\n", f);
		}
	}
	for (int e = 0; live && e < 2; e++) {
		json_t *from = e ? b : a, *to = e ? a : b;
		if (!json_is_integer(json_object_get(from, "tx_frames")))
			continue;
		label_row(f, FAINT, 8);
		put_dir(f, from, to);
		fprintf(f, ": %lld frames, ", jint(from, "tx_frames", 0));
		put_bytes(f, jint(from, "tx_bytes", 0));
		fputs("</FONT></TD></TR>\n", f);
	}
}

/* "vm0":"eth0", or the node alone when it has no such port */
static void put_end(FILE *f, json_t *nodes, long i, json_t *end)
{
	char idbuf[32];
	json_t *node = json_array_get(nodes, (size_t)i), *ifc;
	const char *name = js(end, "iface", "");
	fprintf(f, "\"%s\"", node_id(node, (size_t)i, idbuf, sizeof(idbuf)));
	size_t k;
	json_array_foreach(json_object_get(node, "ifaces"), k, ifc)
		if (port_ok(name) && !strcmp(js(ifc, "name", ""), name)) {
			fprintf(f, ":\"%s\"", name);
			return;
		}
}

static void link_dot(FILE *f, json_t *nodes, json_t *l, size_t i, bool live)
{
	json_t *a = json_object_get(l, "a"), *b = json_object_get(l, "b");
	json_t *imp = json_object_get(l, "impair");
	long na = find_node(nodes, js(a, "node", NULL)), nb = find_node(nodes, js(b, "node", NULL));
	if (na < 0 || nb < 0)
		return;         /* a link to no node we know: nothing to draw it to */
	const char *state = live ? js(l, "state", "?") : "ok";
	bool impaired = js(imp, "a", NULL) || js(imp, "b", NULL);
	/* a link that is not ok looks like its state; an ok one, impaired or not */
	const struct look *lk = look_of(strcmp(state, "ok") ? state : impaired ? "impaired" : "ok");
	char *label = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&label, &len);
	if (!m)
		return;
	link_label(m, l, live);
	if (fclose(m) || !label) {
		free(label);
		return;
	}
	fputs("  ", f);
	put_end(f, nodes, na, a);
	fputs(" -- ", f);
	put_end(f, nodes, nb, b);
	fprintf(f, " [id=\"link-%zu\", class=\"link%s%s%s\", color=\"%s\", fontcolor=\"%s\", "
		"style=\"%s\", penwidth=%d", i, live ? " " : "", live ? look_of(state)->key : "",
		impaired ? " impaired" : "", lk->color, lk->color, lk->style, lk->width);
	if (len)
		fprintf(f, ", label=<<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"0\" "
			"CELLPADDING=\"1\">\n%s</TABLE>>", label);
	fputs("];\n", f);
	free(label);
}

/* What each look means, in one node at the far right: node kinds and
 * topologies as coloured cells, each link look as a line drawn in its
 * colour, style and width (a cell's bottom border). */
static void legend_dot(FILE *f, json_t *topos, bool live)
{
	fputs("  { rank=sink; \"" LEGEND_ID "\" [id=\"legend\", label=<\n"
	      "<TABLE BORDER=\"1\" COLOR=\"#999999\" CELLBORDER=\"0\" CELLSPACING=\"3\" "
	      "CELLPADDING=\"3\">\n<TR><TD COLSPAN=\"2\"><B>legend</B></TD></TR>\n", f);
	fprintf(f, "<TR><TD COLSPAN=\"2\" BORDER=\"1\" BGCOLOR=\"%s\" COLOR=\"%s\">namespace guest</TD></TR>\n"
		"<TR><TD COLSPAN=\"2\" BORDER=\"3\" BGCOLOR=\"%s\" COLOR=\"%s\">QEMU VM</TD></TR>\n"
		"<TR><TD COLSPAN=\"2\" BORDER=\"1\" BGCOLOR=\"%s\" COLOR=\"%s\">filter</TD></TR>\n",
		NETNS_HEAD, NETNS_EDGE, QEMU_HEAD, QEMU_EDGE, FILTER_HEAD, FILTER_EDGE);
	if (live)
		fprintf(f, "<TR><TD COLSPAN=\"2\" BORDER=\"2\" COLOR=\"%s\"><FONT COLOR=\"%s\">"
			"vmm not running</FONT></TD></TR>\n", VMM_DOWN, VMM_DOWN);
	size_t k;
	json_t *t;
	json_array_foreach(topos, k, t) {
		fprintf(f, "<TR><TD COLSPAN=\"2\" BGCOLOR=\"%s\">topology ", topo_colors[k % N_TOPO_COLORS]);
		put_text(f, json_string_value(t));
		fputs("</TD></TR>\n", f);
	}
	/* a file has no states: only the plain and the impaired look */
	for (size_t i = 0; i < (live ? N_LOOKS : 2); i++)
		fprintf(f, "<TR><TD ALIGN=\"RIGHT\">%s</TD><TD WIDTH=\"48\" SIDES=\"B\" BORDER=\"%d\" "
			"COLOR=\"%s\" STYLE=\"%s\"></TD></TR>\n", live ? looks[i].meaning
			: i ? "impaired ([link] section)" : "link", looks[i].width, looks[i].color,
			looks[i].style);
	fputs("</TABLE>>]; }\n", f);
}

/* The graph's title: the lab, where it comes from, and live, its age. */
static void title_dot(FILE *f, json_t *m, bool live)
{
	fputs("  label=<<B>", f);
	put_text(f, js(m, "lab", "?"));
	fputs("</B>", f);
	if (live) {
		long long up = jint(m, "uptime_s", 0);
		fprintf(f, ", up %lld:%02lld:%02lld, seed ", up / 3600, up / 60 % 60, up % 60);
		put_text(f, js(m, "seed", "?"));
	}
	if (js(m, "file", NULL)) {
		fputs("<BR ALIGN=\"LEFT\"/><FONT POINT-SIZE=\"9\">", f);
		put_text(f, js(m, "file", ""));
		fputs("</FONT>", f);
	}
	fputs("<BR ALIGN=\"LEFT\"/>>;\n", f);
}

void graph_dot(FILE *f, json_t *m, bool live)
{
	json_t *nodes = json_object_get(m, "nodes"), *topos = topologies(m);
	fputs("graph vqnet {\n"
	      "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=12, labelloc=t, labeljust=l,\n"
	      "         nodesep=0.4, ranksep=1.2, pad=0.3, bgcolor=\"white\"];\n"
	      "  node [shape=plain, fontname=\"Helvetica\", fontsize=10];\n"
	      "  edge [fontname=\"Helvetica\", fontsize=9];\n", f);
	title_dot(f, m, live);
	size_t i;
	json_t *x;
	json_array_foreach(nodes, i, x)
		node_dot(f, x, i, topos, live);
	json_array_foreach(json_object_get(m, "links"), i, x)
		link_dot(f, nodes, x, i, live);
	legend_dot(f, topos, live);
	fputs("}\n", f);
	json_decref(topos);
}

