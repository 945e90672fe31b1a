/* SPDX-License-Identifier: MIT */
/*
 * The lab's status as one JSON object (schema: docs/status.md), built with
 * jansson.  Everything read from a vmm's stats memory is untrusted: sizes
 * come from the lab, counters past what JSON's integers hold become null,
 * and state and error words are named through lib/stats, which accepts any
 * value.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "filter.h"
#include "link.h"
#include "capture.h"
#include "sup.h"
#include "sys.h"

#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define SUP_STATUS_EVENTS 5

/* A counter a vmm wrote: a JSON integer, or null past INT64_MAX. */
static json_t *count(uint64_t v)
{
	return v > INT64_MAX ? json_null() : json_integer((json_int_t)v);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *ip4_of(const struct lab_iface *li)
{
	char buf[32];
	uint32_t a = li->ip4;
	if (!li->has_ip4)
		return json_null();
	snprintf(buf, sizeof(buf), "%u.%u.%u.%u/%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
		 a & 255, li->prefix4);
	return json_string(buf);
}

static json_t *ip6_of(const struct lab_iface *li)
{
	char a[INET6_ADDRSTRLEN], buf[INET6_ADDRSTRLEN + 8];
	if (!li->has_ip6 || !inet_ntop(AF_INET6, li->ip6, a, sizeof(a)))
		return json_null();
	snprintf(buf, sizeof(buf), "%s/%u", a, li->prefix6);
	return json_string(buf);
}

static bool vmm_running(const struct sup_node *n)
{
	return n->pid > 0 && !n->exited;
}

static json_t *vmm_json(unsigned i)
{
	const struct sup_node *n = &S.nodes[i];
	const char *state = n->pid <= 0 ? "not started" : !n->exited ? "running"
			    : n->restart_at ? "restarting"
			    : WIFSIGNALED(n->status) ? "killed" : "exited";
	json_t *o = json_pack("{s:s}", "state", state);
	json_object_set_new(o, "pid", n->pid > 0 ? json_integer(n->pid) : json_null());
	json_object_set_new(o, "exit_status", n->exited && WIFEXITED(n->status)
			    ? json_integer(WEXITSTATUS(n->status)) : json_null());
	json_object_set_new(o, "signal", n->exited && WIFSIGNALED(n->status)
			    ? json_integer(WTERMSIG(n->status)) : json_null());
	json_object_set_new(o, "wakeups", n->stats ? count(LD(n->stats->wakeups)) : json_null());
	json_object_set_new(o, "trims", n->stats ? count(LD(n->stats->trims)) : json_null());
	/* healing: restarts, how the last one died, its gap, the next start */
	json_object_set_new(o, "restarts", json_integer(n->restarts));
	json_object_set_new(o, "last_exit", n->last_exit[0] ? json_string(n->last_exit) : json_null());
	json_object_set_new(o, "last_gap_ms", n->restarts && n->gap_ns && n->gap_ns < UINT64_MAX / 2
			    ? json_real((double)n->gap_ns / 1e6) : json_null());
	json_object_set_new(o, "crashes_in_a_row", json_integer(n->crashes));
	uint64_t now = sys_now_ns();
	json_object_set_new(o, "next_start_ms", n->restart_at ? json_real(n->restart_at > now
			    ? (double)(n->restart_at - now) / 1e6 : 0) : json_null());
	return o;
}

/* "running, pid 12", "killed by signal 9": for reasons, as text shows it */
static void vmm_words(const struct sup_node *n, char *buf, size_t len)
{
	if (n->pid <= 0)
		snprintf(buf, len, "not started");
	else if (!n->exited)
		snprintf(buf, len, "running");
	else if (n->restart_at)
		snprintf(buf, len, "%s, restarting", n->last_exit);
	else if (WIFSIGNALED(n->status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(n->status));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(n->status));
}

/* How an interface's guest port is: a TAP, or a VM's vhost-user device. */
static json_t *port_json(const struct lab_node *node, const struct sup_node *n, unsigned j)
{
	if (node->kind != LAB_GUEST)
		return json_null();
	json_t *o = json_pack("{s:s}", "kind", n->vm ? "vhost-user" : "tap");
	struct vmm_if_stats *s = n->stats && j < node->n_ifaces ? vmm_stats_if(n->stats, j) : NULL;
	const char *state = s ? vmm_port_state_name(LD(s->port_state)) : NULL;
	int32_t err = s ? LD(s->port_error) : 0;
	if (!vmm_running(n))   /* what it last wrote is stale: no one serves the port */
		state = "unserved", err = 0;
	json_object_set_new(o, "state", s ? json_string(state ? state : "invalid") : json_null());
	json_object_set_new(o, "error", str_or_null(err ? vmm_link_error_name(err) : NULL));
	if (n->vm)
		json_object_set_new(o, "socket", json_string(n->vm->vhost_path[j]));
	return o;
}

/* A VM's QEMU and agent. */
static json_t *vm_json(const struct sup_node *n)
{
	const struct sup_vm *vm = n->vm;
	if (!vm)
		return json_null();
	const char *qs = vm->qemu <= 0 ? "not started" : !vm->qemu_exited ? "running"
			 : WIFSIGNALED(vm->qemu_status) ? "killed" : "exited";
	static const char *const agent[] = { [VM_BOOTING] = "booting", [VM_READY] = "ready",
					     [VM_LOST] = "lost" };
	json_t *q = json_pack("{s:s}", "state", qs);
	json_object_set_new(q, "pid", vm->qemu > 0 ? json_integer(vm->qemu) : json_null());
	json_object_set_new(q, "exit_status", vm->qemu_exited && WIFEXITED(vm->qemu_status)
			    ? json_integer(WEXITSTATUS(vm->qemu_status)) : json_null());
	json_object_set_new(q, "signal", vm->qemu_exited && WIFSIGNALED(vm->qemu_status)
			    ? json_integer(WTERMSIG(vm->qemu_status)) : json_null());
	json_t *o = json_pack("{s:s,s:o,s:s,s:s}", "accel", sup_accel, "qemu", q,
			      "agent", agent[vm->agent], "console", vm->console);
	json_object_set_new(o, "agent_error", vm->agent_why[0] ? json_string(vm->agent_why) : json_null());
	json_object_set_new(o, "boot_ms", vm->agent != VM_BOOTING
			    ? json_real((double)vm->boot_ns / 1e6) : json_null());
	return o;
}

static json_t *iface_counters(const struct lab_node *node, const struct sup_node *n, unsigned j)
{
	if (!n->stats || j >= node->n_ifaces)
		return json_null();
	struct vmm_if_stats *s = vmm_stats_if(n->stats, j);
	bool guest = node->kind == LAB_GUEST;
	json_t *o = json_object();
	json_object_set_new(o, "from_guest_frames", guest ? count(LD(s->from_guest_frames)) : json_null());
	json_object_set_new(o, "from_guest_bytes", guest ? count(LD(s->from_guest_bytes)) : json_null());
	json_object_set_new(o, "to_guest_frames", guest ? count(LD(s->to_guest_frames)) : json_null());
	json_object_set_new(o, "to_guest_bytes", guest ? count(LD(s->to_guest_bytes)) : json_null());
	json_object_set_new(o, "to_guest_drops", guest ? count(LD(s->to_guest_drops)) : json_null());
	json_object_set_new(o, "spoofed", count(LD(s->spoofed)));
	json_object_set_new(o, "unknown", count(LD(s->unknown)));
	json_object_set_new(o, "runts", count(LD(s->runts)));
	json_object_set_new(o, "bad_header", count(LD(s->bad_header)));
	json_object_set_new(o, "reports", count(LD(s->reports)));
	json_object_set_new(o, "groups", count(LD(s->groups)));
	json_object_set_new(o, "queries", guest ? count(LD(s->queries)) : json_null());
	return o;
}

/* Stats of (node, link li) as its vmm publishes them, or NULL. */
static struct vmm_link_stats *link_stats(unsigned node, unsigned li)
{
	const struct lab_node *n = &S.lab->nodes[node];
	struct vmm_stats *s = S.nodes[node].stats;
	unsigned k = 0;
	for (unsigned i = 0; s && i < n->n_ifaces; i++)
		for (unsigned j = 0; j < n->ifaces[i].n_links; j++, k++)
			if (n->ifaces[i].links[j] == li)
				return vmm_stats_link(s, n->n_ifaces, k);
	return NULL;
}

static json_t *counter_json(const struct vmm_counter *c)
{
	json_t *o = json_object();
	json_object_set_new(o, "frames", count(LD(c->frames)));
	json_object_set_new(o, "bytes", count(LD(c->bytes)));
	return o;
}

/* A rule's canonical text (what the filter understood). */
static void rule_text(const struct lab_rule *r, char *buf, size_t len)
{
	struct flt_rule fr;
	if (flt_rule_parse(r->text, &fr, NULL, 0) || flt_rule_format(&fr, buf, len) < 0)
		snprintf(buf, len, "%s", r->text);
}

static json_t *filter_json(unsigned i)
{
	const struct lab_filter *lf = &S.lab->nodes[i].filter;
	const struct sup_node *n = &S.nodes[i];
	static const struct vmm_filter_stats zero;
	static const struct vmm_counter zero_rule;
	const struct vmm_filter_stats *fs = n->stats ? &n->stats->filter : &zero;
	json_t *rules = json_array();
	for (unsigned r = 0; r < n->n_rules; r++) {
		char text[FLT_RULE_TEXT_MAX];
		rule_text(n->rules[r], text, sizeof(text));
		/* sizes from the lab, never from the region its vmm writes */
		const struct vmm_counter *c = n->stats
			? vmm_stats_rule(n->stats, S.lab->nodes[i].n_ifaces,
					 lab_node_links(&S.lab->nodes[i]), r) : &zero_rule;
		json_t *o = json_pack("{s:s,s:I}", "rule", text, "line", (json_int_t)n->rules[r]->line);
		json_object_set_new(o, "frames", count(LD(c->frames)));
		json_object_set_new(o, "bytes", count(LD(c->bytes)));
		json_array_append_new(rules, o);
	}
	json_t *ct = json_object();
	json_object_set_new(ct, "entries", count(LD(fs->ct_entries)));
	json_object_set_new(ct, "capacity", count(LD(fs->ct_capacity)));
	json_object_set_new(ct, "created", count(LD(fs->ct_created)));
	json_object_set_new(ct, "expired", count(LD(fs->ct_expired)));
	json_object_set_new(ct, "evicted", count(LD(fs->ct_full)));
	return json_pack("{s:s,s:b,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
			 "policy", lf->policy == LAB_POLICY_ALLOW ? "allow" : "drop",
			 "stateful", lf->stateful, "rules", rules,
			 "policy_hits", counter_json(&fs->policy),
			 "allowed", counter_json(&fs->allowed), "dropped", counter_json(&fs->dropped),
			 "malformed", counter_json(&fs->malformed),
			 "conntrack_hit", counter_json(&fs->ct_hit), "conntrack", ct);
}

static json_t *node_json(unsigned i)
{
	const struct lab_node *node = &S.lab->nodes[i];
	const struct sup_node *n = &S.nodes[i];
	bool guest = node->kind == LAB_GUEST;
	json_t *ifaces = json_array();
	for (unsigned j = 0; j < node->n_ifaces; j++) {
		const struct lab_iface *li = &node->ifaces[j];
		json_t *peers = json_array();
		for (unsigned k = 0; k < li->n_links; k++) {
			const struct lab_link *l = &S.lab->links[li->links[k]];
			int side = lab_link_side(S.lab, li->links[k], i, j);
			json_array_append_new(peers, json_string(S.lab->nodes[l->end[side ^ 1].node].name));
		}
		char mac[LAB_MAC_STRLEN];
		lab_mac_format(li->mac, mac);
		json_t *o = json_pack("{s:s,s:s}", "name", li->name,
				      "topology", S.lab->topologies[li->topology].name);
		json_object_set_new(o, "mac", guest ? json_string(mac) : json_null());
		json_object_set_new(o, "ip", ip4_of(li));
		json_object_set_new(o, "ip6", ip6_of(li));
		json_object_set_new(o, "peers", peers);
		json_object_set_new(o, "port", port_json(node, n, j));
		json_object_set_new(o, "counters", iface_counters(node, n, j));
		json_array_append_new(ifaces, o);
	}
	json_t *o = json_pack("{s:s,s:s}", "name", node->name, "kind", lab_kind_name(node->kind));
	json_object_set_new(o, "guest_kind", !guest ? json_null()
			    : json_string(n->vm ? "qemu" : "netns"));
	json_object_set_new(o, "netns", guest && !n->vm ? json_string(n->netns) : json_null());
	json_object_set_new(o, "vm", vm_json(n));
	json_object_set_new(o, "ready_ms", n->ready_ns ? json_real((double)n->ready_ns / 1e6) : json_null());
	json_object_set_new(o, "vmm", vmm_json(i));
	json_object_set_new(o, "ifaces", ifaces);
	if (!guest)
		json_object_set_new(o, "filter", filter_json(i));
	/* a capture in progress: what its vmm copied and lost (its words) */
	const struct sup_node *sn = &S.nodes[i];
	json_object_set_new(o, "capture", sn->cap && sup_capture_active(i)
			    ? json_pack("{s:o,s:o}", "frames", count(LD(sn->cap->frames)),
					"lost", count(LD(sn->cap->lost)))
			    : json_null());
	return o;
}

static json_t *end_json(const struct lab_end *end, unsigned li, const struct vmm_link_stats *s)
{
	const struct lab_node *node = &S.lab->nodes[end->node];
	json_t *o = json_pack("{s:s,s:s}", "node", node->name, "iface", node->ifaces[end->iface].name);
	if (!s) {
		json_object_set_new(o, "state", json_null());
		return o;
	}
	(void)li;
	uint32_t state = LD(s->state);
	const char *name = vmm_link_state_name(state);
	json_object_set_new(o, "state", json_string(name ? name : "invalid"));
	json_object_set_new(o, "error", str_or_null(vmm_link_error_name(LD(s->error))));
	json_object_set_new(o, "tx_frames", count(LD(s->tx_frames)));
	json_object_set_new(o, "tx_bytes", count(LD(s->tx_bytes)));
	json_object_set_new(o, "rx_frames", count(LD(s->rx_frames)));
	json_object_set_new(o, "rx_bytes", count(LD(s->rx_bytes)));
	json_object_set_new(o, "kicks", count(LD(s->kicks)));
	json_object_set_new(o, "drop_full", count(LD(s->drop_full)));
	json_object_set_new(o, "drop_stalled", count(LD(s->drop_stalled)));
	json_object_set_new(o, "drop_broken", count(LD(s->drop_broken)));
	json_object_set_new(o, "drop_down", count(LD(s->drop_down)));
	json_object_set_new(o, "resets", count(LD(s->resets)));
	json_object_set_new(o, "violations", count(LD(s->violations)));
	uint32_t why = LD(s->reset_why);
	json_object_set_new(o, "last_reset", why ? json_string(vq_reset_why_name((int)why)) : json_null());
	json_t *imp = json_object();
	json_object_set_new(imp, "loss", count(LD(s->imp_loss)));
	json_object_set_new(imp, "queue", count(LD(s->imp_queue)));
	json_object_set_new(imp, "mtu", count(LD(s->imp_mtu)));
	json_object_set_new(imp, "overflow", count(LD(s->imp_overflow)));
	json_object_set_new(imp, "duplicated", count(LD(s->imp_duplicated)));
	json_object_set_new(imp, "reordered", count(LD(s->imp_reordered)));
	json_object_set_new(imp, "corrupted", count(LD(s->imp_corrupted)));
	json_object_set_new(imp, "delayed", count(LD(s->imp_delayed)));
	json_object_set_new(o, "impaired", imp);
	return o;
}

/* A link's state: dead when a vmm at either end is not running, else the
 * worse of what its two ends say, with the reason. */
static json_t *link_json(unsigned i)
{
	const struct lab_link *l = &S.lab->links[i];
	/* by how bad: what a vmm writes is untrusted, anything else is "invalid" */
	static const char *const rank[] = { "ok", "full", "stalled", "resetting", "broken", "invalid" };
	static const unsigned severity[VMM_LINK_STATES] = {
		[VMM_LINK_OK] = 0, [VMM_LINK_FULL] = 1, [VMM_LINK_STALLED] = 2,
		[VMM_LINK_RESETTING] = 3, [VMM_LINK_BROKEN] = 4,
	};
	unsigned worst = 0;
	char reason[256] = "";
	json_t *ends[2];
	for (int e = 0; e < 2; e++) {
		unsigned node = l->end[e].node;
		const struct sup_node *n = &S.nodes[node];
		const struct vmm_link_stats *s = link_stats(node, i);
		ends[e] = end_json(&l->end[e], i, s);
		if (!vmm_running(n) && !reason[0]) {
			char words[64];
			vmm_words(n, words, sizeof(words));
			snprintf(reason, sizeof(reason), "the vmm of %s is not running (%s)",
				 S.lab->nodes[node].name, words);
		}
		if (!s)
			continue;
		uint32_t st = LD(s->state);
		unsigned r = st < VMM_LINK_STATES ? severity[st] : 5;
		if (r > worst) {
			worst = r;
			const char *why = vmm_link_error_name(LD(s->error));
			if (st == VMM_LINK_BROKEN && why)
				snprintf(reason, sizeof(reason), "%s saw: %s", S.lab->nodes[node].name, why);
			else if (st == VMM_LINK_RESETTING)
				snprintf(reason, sizeof(reason), "%s is resetting it (%s)",
					 S.lab->nodes[node].name, vq_reset_why_name((int)LD(s->reset_why)));
		}
	}
	bool dead = !vmm_running(&S.nodes[l->end[0].node]) || !vmm_running(&S.nodes[l->end[1].node]);
	const struct sup_flink *fl = &S.flinks[i];
	if (!dead && fl->told_down)
		snprintf(reason, sizeof(reason), "cut by a fault: %s", fl->link_down ? "link down"
			 : S.stopped[l->end[0].node] || S.stopped[l->end[1].node] ? "guest stopped" : "partition");
	json_t *o = json_pack("{s:I,s:s,s:s}", "index", (json_int_t)i,
			      "topology", S.lab->topologies[l->topology].name,
			      "state", dead ? "dead" : fl->told_down ? "down" : rank[worst]);
	/* impairments: of the frames each end sends */
	json_t *imp = json_object();
	for (int e = 0; e < 2; e++) {
		char text[IMP_TEXT_MAX];
		bool on = imp_params_active(&fl->impair[e]) && imp_format(&fl->impair[e], text, sizeof(text)) >= 0;
		json_object_set_new(imp, e ? "b" : "a", on ? json_string(text) : json_null());
	}
	json_object_set_new(o, "impair", imp);
	json_object_set_new(o, "reason", reason[0] ? json_string(reason) : json_null());
	json_object_set_new(o, "a", ends[0]);
	json_object_set_new(o, "b", ends[1]);
	return o;
}

char *sup_status_json(void)
{
	const struct lab *lab = S.lab;
	char log[256];
	lab_log_path(log, sizeof(log), lab->name);
	unsigned guests = 0, switches = 0;
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		guests += lab->nodes[i].kind == LAB_GUEST;
		switches += lab->nodes[i].kind == LAB_SWITCH;
	}
	json_t *nodes = json_array(), *links = json_array();
	for (unsigned i = 0; i < lab->n_nodes; i++)
		json_array_append_new(nodes, node_json(i));
	for (unsigned i = 0; i < lab->n_links; i++)
		json_array_append_new(links, link_json(i));
	json_t *root = json_pack("{s:s,s:s,s:s,s:{s:I,s:I,s:I},s:I,s:s,s:{s:I,s:I,s:I,s:I},s:o,s:o}",
				 "lab", lab->name, "state", "up", "file", S.file,
				 "supervisor", "pid", (json_int_t)getpid(),
				 "wakeups", (json_int_t)(S.wakeups & INT64_MAX),
				 "event_streams", (json_int_t)sup_events_streams(),
				 "uptime_s", (json_int_t)(time(NULL) - S.started), "log", log,
				 "counts", "guests", (json_int_t)guests,
				 "filters", (json_int_t)(lab->n_nodes - guests - switches),
				 "switches", (json_int_t)switches,
				 "links", (json_int_t)lab->n_links,
				 "nodes", nodes, "links", links);
	/* as text: a JSON number would lose digits past 2^53 */
	char seed[24];
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)S.seed);
	json_object_set_new(root, "seed", json_string(seed));
	/* the last few of what happened (sup_events.c; `vqnet events` for all) */
	json_object_set_new(root, "events", sup_events_json(SUP_STATUS_EVENTS));
	char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	if (!text)
		return NULL;
	size_t n = strlen(text);
	char *line = realloc(text, n + 2);   /* one line, newline-terminated */
	if (!line) {
		free(text);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = 0;
	return line;
}
