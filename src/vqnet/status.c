/* SPDX-License-Identifier: MIT */
/* vqnet status / list, and the tables they and `vqnet up` print. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "filter.h"
#include "supervisor.h"
#include "virtqueue.h"
#include "vqnet.h"

#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static void fmt_ip4(const struct lab_iface *li, char *buf, size_t len)
{
	if (!li->has_ip4) {
		snprintf(buf, len, "-");
		return;
	}
	uint32_t a = li->ip4;
	snprintf(buf, len, "%u.%u.%u.%u/%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
		 a & 255, li->prefix4);
}

static void fmt_ip6(const struct lab_iface *li, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	if (!li->has_ip6 || !inet_ntop(AF_INET6, li->ip6, a, sizeof(a)))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%s/%u", a, li->prefix6);
}

/* The node at the far end of link li from (node, iface). */
static const struct lab_end *far_end(const struct lab *lab, unsigned li, unsigned node,
				     unsigned iface)
{
	const struct lab_link *l = &lab->links[li];
	bool a = l->end[0].node == node && l->end[0].iface == iface;
	return &l->end[a ? 1 : 0];
}

void lab_table(FILE *f, const struct lab *lab)
{
	fprintf(f, "%-12s %-6s %-18s %-18s %s\n", "GUEST", "IFACE", "MAC", "IP", "PEERS");
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		const struct lab_node *n = &lab->nodes[i];
		if (n->kind != LAB_GUEST)
			continue;
		if (!n->n_ifaces)
			fprintf(f, "%-12s %-6s %-18s %-18s %s\n", n->name, "-", "-", "-", "-");
		for (unsigned j = 0; j < n->n_ifaces; j++) {
			const struct lab_iface *li = &n->ifaces[j];
			char mac[LAB_MAC_STRLEN], ip[64], ip6[80];
			lab_mac_format(li->mac, mac);
			fmt_ip4(li, ip, sizeof(ip));
			fprintf(f, "%-12s %-6s %-18s %-18s", j ? "" : n->name, li->name, mac, ip);
			for (unsigned k = 0; k < li->n_links; k++)
				fprintf(f, " %s", lab->nodes[far_end(lab, li->links[k], i, j)->node].name);
			fputc('\n', f);
			if (li->has_ip6) {
				fmt_ip6(li, ip6, sizeof(ip6));
				fprintf(f, "%-12s %-6s %-18s %s\n", "", "", "", ip6);
			}
		}
	}
}

static void vmm_state(const struct sup_node *n, char *buf, size_t len)
{
	if (n->pid <= 0)
		snprintf(buf, len, "not started");
	else if (!n->exited)
		snprintf(buf, len, "running, pid %d", (int)n->pid);
	else if (WIFSIGNALED(n->status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(n->status));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(n->status));
}

/* Stats of (node, link li) as seen by that node's vmm, or NULL. */
static const struct vmm_link_stats *link_stats(const struct lab *lab, const struct sup_node *nodes,
					       unsigned node, unsigned li)
{
	const struct lab_node *n = &lab->nodes[node];
	struct vmm_stats *s = nodes[node].stats;
	if (!s)
		return NULL;
	unsigned k = 0;
	for (unsigned i = 0; i < n->n_ifaces; i++)
		for (unsigned j = 0; j < n->ifaces[i].n_links; j++, k++)
			if (n->ifaces[i].links[j] == li)
				return vmm_stats_link(s, n->n_ifaces, k);
	return NULL;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* A rule's canonical text (what the filter understood). */
static void rule_text(const struct lab_rule *r, char *buf, size_t len)
{
	struct flt_rule fr;
	if (flt_rule_parse(r->text, &fr, NULL, 0) || flt_rule_format(&fr, buf, len) < 0)
		snprintf(buf, len, "%s", r->text);
}

static const struct vmm_counter *rule_stats(const struct lab *lab, const struct sup_node *nodes,
					    unsigned i, unsigned r)
{
	static const struct vmm_counter zero;
	struct vmm_stats *s = nodes[i].stats;
	if (!s || r >= nodes[i].n_rules)
		return &zero;
	/* sizes from the lab, never from the region its vmm writes */
	return vmm_stats_rule(s, lab->nodes[i].n_ifaces, lab_node_links(&lab->nodes[i]), r);
}

static const struct vmm_filter_stats *filter_stats(const struct sup_node *n)
{
	static const struct vmm_filter_stats zero;
	return n->stats ? &n->stats->filter : &zero;
}

static void text_filters(FILE *f, const struct lab *lab, const struct sup_node *nodes)
{
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		const struct lab_node *n = &lab->nodes[i];
		if (n->kind != LAB_FILTER)
			continue;
		const struct vmm_filter_stats *fs = filter_stats(&nodes[i]);
		fprintf(f, "\nFILTER %s (policy %s%s)\n%4s  %-52s %10s %12s\n", n->name,
			n->filter.policy == LAB_POLICY_ALLOW ? "allow" : "drop",
			n->filter.stateful ? ", stateful" : "", "#", "RULE", "FRAMES", "BYTES");
		for (unsigned r = 0; r < nodes[i].n_rules; r++) {
			char text[FLT_RULE_TEXT_MAX];
			const struct vmm_counter *c = rule_stats(lab, nodes, i, r);
			rule_text(nodes[i].rules[r], text, sizeof(text));
			fprintf(f, "%4u  %-52s %10llu %12llu\n", r + 1, text,
				(unsigned long long)LD(c->frames), (unsigned long long)LD(c->bytes));
		}
		fprintf(f, "%4s  %-52s %10llu %12llu\n", "-", n->filter.policy == LAB_POLICY_ALLOW
			? "policy allow" : "policy drop", (unsigned long long)LD(fs->policy.frames),
			(unsigned long long)LD(fs->policy.bytes));
		fprintf(f, "      allowed %llu, dropped %llu, malformed %llu",
			(unsigned long long)LD(fs->allowed.frames), (unsigned long long)LD(fs->dropped.frames),
			(unsigned long long)LD(fs->malformed.frames));
		if (n->filter.stateful)
			fprintf(f, "; conntrack: %llu flows of %llu, %llu replies admitted, "
				"%llu created, %llu expired, %llu evicted",
				(unsigned long long)LD(fs->ct_entries), (unsigned long long)LD(fs->ct_capacity),
				(unsigned long long)LD(fs->ct_hit.frames), (unsigned long long)LD(fs->ct_created),
				(unsigned long long)LD(fs->ct_expired), (unsigned long long)LD(fs->ct_full));
		fputc('\n', f);
	}
}

static void json_counter(FILE *f, const char *name, const struct vmm_counter *c)
{
	fprintf(f, "\"%s\": {\"frames\": %llu, \"bytes\": %llu}", name,
		(unsigned long long)LD(c->frames), (unsigned long long)LD(c->bytes));
}

static void json_filters(FILE *f, const struct lab *lab, const struct sup_node *nodes)
{
	fprintf(f, ",\n \"filters\": [");
	bool first = true;
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		const struct lab_node *n = &lab->nodes[i];
		if (n->kind != LAB_FILTER)
			continue;
		const struct vmm_filter_stats *fs = filter_stats(&nodes[i]);
		fprintf(f, "%s\n  {\"name\": ", first ? "" : ",");
		first = false;
		json_str(f, n->name);
		fprintf(f, ", \"policy\": \"%s\", \"stateful\": %s, \"rules\": [",
			n->filter.policy == LAB_POLICY_ALLOW ? "allow" : "drop",
			n->filter.stateful ? "true" : "false");
		for (unsigned r = 0; r < nodes[i].n_rules; r++) {
			char text[FLT_RULE_TEXT_MAX];
			const struct vmm_counter *c = rule_stats(lab, nodes, i, r);
			rule_text(nodes[i].rules[r], text, sizeof(text));
			fprintf(f, "%s{\"rule\": ", r ? ", " : "");
			json_str(f, text);
			fprintf(f, ", \"line\": %u, \"frames\": %llu, \"bytes\": %llu}", nodes[i].rules[r]->line,
				(unsigned long long)LD(c->frames), (unsigned long long)LD(c->bytes));
		}
		fprintf(f, "], ");
		json_counter(f, "policy", &fs->policy);
		fprintf(f, ", ");
		json_counter(f, "allowed", &fs->allowed);
		fprintf(f, ", ");
		json_counter(f, "dropped", &fs->dropped);
		fprintf(f, ", ");
		json_counter(f, "malformed", &fs->malformed);
		fprintf(f, ", ");
		json_counter(f, "conntrack_hit", &fs->ct_hit);
		fprintf(f, ", \"conntrack\": {\"entries\": %llu, \"capacity\": %llu, \"created\": %llu, "
			"\"expired\": %llu, \"evicted\": %llu}}",
			(unsigned long long)LD(fs->ct_entries), (unsigned long long)LD(fs->ct_capacity),
			(unsigned long long)LD(fs->ct_created), (unsigned long long)LD(fs->ct_expired),
			(unsigned long long)LD(fs->ct_full));
	}
	fprintf(f, "]");
}

static void text_status(FILE *f, const struct lab *lab, const struct sup_node *nodes,
			time_t started)
{
	long up = (long)(time(NULL) - started);
	unsigned filters = 0;
	for (unsigned i = 0; i < lab->n_nodes; i++)
		filters += lab->nodes[i].kind == LAB_FILTER;
	fprintf(f, "lab %s: %u guests, ", lab->name, lab->n_nodes - filters);
	if (filters)
		fprintf(f, "%u filter%s, ", filters, filters > 1 ? "s" : "");
	fprintf(f, "%u links, up %ld:%02ld:%02ld\n\n", lab->n_links, up / 3600, up / 60 % 60, up % 60);
	lab_table(f, lab);

	fprintf(f, "\n%-12s %-8s %-24s %-10s %-10s %-7s %-7s %-7s %-7s\n", "NODE", "NAMESPACE",
		"VMM", "FROM-GUEST", "TO-GUEST", "SPOOFED", "UNKNOWN", "STALLED", "TAPDROP");
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		const struct lab_node *n = &lab->nodes[i];
		char st[64];
		vmm_state(&nodes[i], st, sizeof(st));
		for (unsigned j = 0; j < n->n_ifaces || j == 0; j++) {
			struct vmm_if_stats z = { 0 }, *s = nodes[i].stats && j < n->n_ifaces
				? vmm_stats_if(nodes[i].stats, j) : &z;
			char who[64];
			snprintf(who, sizeof(who), "%s.%s", n->name, j < n->n_ifaces ? n->ifaces[j].name : "-");
			if (n->kind == LAB_FILTER) {   /* no guest, no namespace */
				fprintf(f, "%-12s %-8s %-24s %-10s %-10s %-7s %-7s %-7s %-7s\n", who, "-",
					j ? "" : st, "-", "-", "-", "-", "-", "-");
				continue;
			}
			fprintf(f, "%-12s %-8s %-24s %-10llu %-10llu %-7llu %-7llu %-7llu %-7llu\n", who,
				j ? "" : nodes[i].netns, j ? "" : st,
				(unsigned long long)LD(s->from_guest_frames),
				(unsigned long long)LD(s->to_guest_frames),
				(unsigned long long)LD(s->spoofed), (unsigned long long)LD(s->unknown),
				(unsigned long long)0, (unsigned long long)LD(s->to_guest_drops));
			if (!n->n_ifaces)
				break;
		}
	}

	fprintf(f, "\n%-5s %-28s %-10s %-12s %-12s %-7s %s\n", "LINK", "ENDS", "TOPOLOGY",
		"A->B", "B->A", "KICKS", "STATE");
	for (unsigned i = 0; i < lab->n_links; i++) {
		const struct lab_link *l = &lab->links[i];
		const struct vmm_link_stats *a = link_stats(lab, nodes, l->end[0].node, i);
		const struct vmm_link_stats *b = link_stats(lab, nodes, l->end[1].node, i);
		char ends[2 * (LAB_NAME_MAX + LAB_IFNAME_MAX) + 8];
		snprintf(ends, sizeof(ends), "%s.%s-%s.%s", lab->nodes[l->end[0].node].name,
			 lab->nodes[l->end[0].node].ifaces[l->end[0].iface].name,
			 lab->nodes[l->end[1].node].name,
			 lab->nodes[l->end[1].node].ifaces[l->end[1].iface].name);
		int64_t ea = a ? LD(a->error) : 0, eb = b ? LD(b->error) : 0;
		fprintf(f, "%-5u %-28s %-10s %-12llu %-12llu %-7llu %s\n", i, ends,
			lab->topologies[l->topology].name,
			(unsigned long long)(b ? LD(b->rx_frames) : 0),
			(unsigned long long)(a ? LD(a->rx_frames) : 0),
			(unsigned long long)((a ? LD(a->kicks) : 0) + (b ? LD(b->kicks) : 0)),
			ea ? vq_strerror((int)ea) : eb ? vq_strerror((int)eb) : "ok");
	}
	text_filters(f, lab, nodes);
}


static void json_status(FILE *f, const struct lab *lab, const struct sup_node *nodes,
			time_t started)
{
	fprintf(f, "{\"lab\": ");
	json_str(f, lab->name);
	fprintf(f, ", \"uptime_s\": %ld, \"nodes\": [", (long)(time(NULL) - started));
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		const struct lab_node *n = &lab->nodes[i];
		char st[64];
		vmm_state(&nodes[i], st, sizeof(st));
		fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
		json_str(f, n->name);
		fprintf(f, ", \"kind\": \"%s\", \"netns\": ", n->kind == LAB_GUEST ? "guest" : "filter");
		if (n->kind == LAB_GUEST)
			json_str(f, nodes[i].netns);
		else
			fprintf(f, "null");
		fprintf(f, ", \"pid\": %d, \"running\": %s, \"vmm\": ", (int)nodes[i].pid,
			nodes[i].pid > 0 && !nodes[i].exited ? "true" : "false");
		json_str(f, st);
		fprintf(f, ", \"ifaces\": [");
		for (unsigned j = 0; j < n->n_ifaces; j++) {
			const struct lab_iface *li = &n->ifaces[j];
			struct vmm_if_stats z = { 0 }, *s = nodes[i].stats ? vmm_stats_if(nodes[i].stats, j) : &z;
			char mac[LAB_MAC_STRLEN], ip[64], ip6[80];
			lab_mac_format(li->mac, mac);
			fmt_ip4(li, ip, sizeof(ip));
			fmt_ip6(li, ip6, sizeof(ip6));
			fprintf(f, "%s{\"name\": \"%s\", \"mac\": \"%s\", \"ip\": \"%s\", \"ip6\": \"%s\", "
				"\"peers\": [", j ? ", " : "", li->name, mac, ip, ip6);
			for (unsigned k = 0; k < li->n_links; k++) {
				fprintf(f, "%s", k ? ", " : "");
				json_str(f, lab->nodes[far_end(lab, li->links[k], i, j)->node].name);
			}
			fprintf(f, "], \"from_guest_frames\": %llu, \"from_guest_bytes\": %llu, "
				"\"to_guest_frames\": %llu, \"to_guest_bytes\": %llu, \"to_guest_drops\": %llu, "
				"\"spoofed\": %llu, \"unknown\": %llu, \"runts\": %llu, \"stalled\": %llu, "
				"\"bad_header\": %llu}",
				(unsigned long long)LD(s->from_guest_frames),
				(unsigned long long)LD(s->from_guest_bytes),
				(unsigned long long)LD(s->to_guest_frames),
				(unsigned long long)LD(s->to_guest_bytes),
				(unsigned long long)LD(s->to_guest_drops),
				(unsigned long long)LD(s->spoofed), (unsigned long long)LD(s->unknown),
				(unsigned long long)LD(s->runts), (unsigned long long)0,
				(unsigned long long)LD(s->bad_header));
		}
		fprintf(f, "]}");
	}
	fprintf(f, "],\n \"links\": [");
	for (unsigned i = 0; i < lab->n_links; i++) {
		const struct lab_link *l = &lab->links[i];
		fprintf(f, "%s\n  {\"index\": %u, \"topology\": ", i ? "," : "", i);
		json_str(f, lab->topologies[l->topology].name);
		for (int e = 0; e < 2; e++) {
			const struct lab_end *end = &l->end[e];
			const struct vmm_link_stats *s = link_stats(lab, nodes, end->node, i);
			struct vmm_link_stats z = { 0 };
			if (!s)
				s = &z;
			int64_t err = LD(s->error);
			fprintf(f, ", \"%s\": {\"node\": ", e ? "b" : "a");
			json_str(f, lab->nodes[end->node].name);
			fprintf(f, ", \"iface\": \"%s\", \"tx_frames\": %llu, \"tx_bytes\": %llu, "
				"\"rx_frames\": %llu, \"rx_bytes\": %llu, \"kicks\": %llu, \"error\": ",
				lab->nodes[end->node].ifaces[end->iface].name,
				(unsigned long long)LD(s->tx_frames), (unsigned long long)LD(s->tx_bytes),
				(unsigned long long)LD(s->rx_frames), (unsigned long long)LD(s->rx_bytes),
				(unsigned long long)LD(s->kicks));
			if (err)
				json_str(f, vq_strerror((int)err));
			else
				fprintf(f, "null");
			fprintf(f, "}");
		}
		fprintf(f, "}");
	}
	fprintf(f, "]");
	json_filters(f, lab, nodes);
	fprintf(f, "}\n");
}

void sup_status(FILE *f, const struct lab *lab, const struct sup_node *nodes,
		time_t started, bool json)
{
	if (json)
		json_status(f, lab, nodes, started);
	else
		text_status(f, lab, nodes, started);
}

/* Names of the labs that have a control socket, sorted. */
static int lab_names(char ***out)
{
	DIR *d = opendir(RUN_DIR);
	char **names = NULL;
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len <= 5 || strcmp(e->d_name + len - 5, ".sock"))
			continue;
		char **nn = realloc(names, (size_t)(n + 1) * sizeof(*names));
		if (!nn)
			break;
		names = nn;
		names[n++] = strndup(e->d_name, len - 5);
	}
	if (d)
		closedir(d);
	for (int i = 1; i < n; i++)   /* few labs: insertion sort */
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	*out = names;
	return n;
}

static void free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int cmd_status(int argc, char **argv)
{
	bool json = false;
	const char *only = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!only && argv[i][0] != '-')
			only = argv[i];
		else {
			err_msg("usage: vqnet status [--json] [LAB]");
			return EXIT_USAGE;
		}
	}
	if (only && !lab_name_ok(only)) {
		err_msg("bad lab name \"%s\"", only);
		return EXIT_USAGE;
	}
	char **names = NULL;
	int n = only ? 1 : lab_names(&names);
	int rc = 0;
	if (json && !only)
		printf("[");
	for (int i = 0; i < n; i++) {
		const char *name = only ? only : names[i];
		char *reply = NULL;
		int err = ctl_request(name, json ? "status-json" : "status", &reply);
		if (err) {
			err_msg("lab %s: %s", name, err == -ENOENT ? "not up" : strerror(-err));
			rc = 1;
			continue;
		}
		if (json && !only && i)
			printf(",");
		fputs(reply, stdout);
		if (!json && i + 1 < n)
			putchar('\n');
		free(reply);
	}
	if (json && !only)
		printf("]\n");
	if (!only && n == 0 && !json)
		printf("no labs are up\n");
	free_names(names, only ? 0 : n);
	return rc;
}

int cmd_list(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		err_msg("usage: vqnet list");
		return EXIT_USAGE;
	}
	char **names;
	int n = lab_names(&names);
	for (int i = 0; i < n; i++) {
		char *reply = NULL;
		bool alive = ctl_request(names[i], "status", &reply) == 0;
		/* first line: "lab NAME: N guests, M links, up H:MM:SS" */
		if (alive) {
			reply[strcspn(reply, "\n")] = 0;
			printf("%s\n", reply + 4);
		} else {
			printf("%s: supervisor not answering (try 'vqnet down %s')\n", names[i], names[i]);
		}
		free(reply);
	}
	free_names(names, n);
	return 0;
}
