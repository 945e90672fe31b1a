/* SPDX-License-Identifier: MIT */
/*
 * setup.c - everything a vmm does before the first frame, while it still
 * has the privileges for it: read the lab, map the stats region and the
 * links, enter the guest's namespace and open its ports (or compile a
 * filter's rules), and build the event loop.  Any failure is final
 * (vmm_fail): the supervisor reports it and takes the lab down.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "filter.h"
#include "netns.h"
#include "sys.h"
#include "vmm.h"

#define LAB_TEXT_MAX (1u << 20)

/* A guest's vmm enters its namespace before it creates anything, so a TAP
 * is never made in the host's. */
static void setup_guest_netns(struct vmm *m, const char *netns)
{
	int fd = netns_open(netns);
	if (fd < 0)
		vmm_fail("namespace %s: %s", netns, strerror(-fd));
	int err = netns_enter(fd);
	close(fd);
	if (err)
		vmm_fail("cannot enter namespace %s: %s", netns, strerror(-err));
	/* Addresses in a lab are unique by construction: skip duplicate
	 * address detection so IPv6 is usable at once. */
	netdev_sysctl("net/ipv6/conf/all/accept_dad", "0");
	netdev_sysctl("net/ipv6/conf/default/accept_dad", "0");
	if ((err = netdev_up("lo")))
		vmm_fail("cannot bring lo up: %s", strerror(-err));

	for (unsigned i = 0; i < m->n_ifc; i++) {
		const char *what;
		if ((err = tap_port_open(&m->ifc[i].port, m->ifc[i].li, m->epfd, i, &what)))
			vmm_fail("cannot %s %s: %s", what, m->ifc[i].li->name, strerror(-err));
	}
}

/* A node whose guest has no namespace here (a VM), or that has no guest
 * (a filter, a switch), gets an empty network namespace of its own, since it needs
 * none (best effort: isolation, not function). */
static void empty_netns(const struct vmm *m)
{
	if (unshare(CLONE_NEWNET) < 0)
		fprintf(stderr, "%s: %s: no namespace of its own: %s\n", vmm_prog, m->node->name,
			strerror(errno));
}

/* A QEMU guest: one vhost-user device per interface, on the listening
 * socket the supervisor made for it; the vmm needs no network of its own,
 * so it takes an empty namespace (isolation, not function). */
static void setup_vm(struct vmm *m, const struct vhost_arg *va, unsigned n_va)
{
	if (n_va != m->n_ifc)
		vmm_fail("%u --vhost sockets given, %s has %u interfaces", n_va, m->node->name, m->n_ifc);
	for (unsigned i = 0; i < m->n_ifc; i++) {
		const struct vhost_arg *a = NULL;
		for (unsigned x = 0; x < n_va; x++)
			if (va[x].iface == i)
				a = &va[x];
		if (!a)
			vmm_fail("no --vhost for %s", m->ifc[i].li->name);
		int err = vhost_port_open(&m->ifc[i].port, m->ifc[i].li, a->fd, m->epfd, i);
		if (err)
			vmm_fail("%s: cannot serve its device: %s", m->ifc[i].li->name, strerror(-err));
	}
	empty_netns(m);
}

/* A filter node: its rules in order (lab lines and rules file), compiled
 * once. */
static void setup_filter(struct vmm *m, const struct lab_rule *file, unsigned n_file)
{
	const struct lab_filter *lf = &m->node->filter;
	const struct lab_rule **order = calloc(lf->n_rules + n_file + 1, sizeof(*order));
	struct flt_rule *rules = calloc(lf->n_rules + n_file + 1, sizeof(*rules));
	if (!order || !rules)
		vmm_fail("out of memory");
	unsigned n = lab_filter_rules(lf, file, n_file, order);
	for (unsigned i = 0; i < n; i++) {
		char why[FLT_ERR_MAX];
		if (flt_rule_parse(order[i]->text, &rules[i], why, sizeof(why)))
			vmm_fail("rule at line %u: %s", order[i]->line, why);
	}
	struct flt_config cfg = {
		.rules = rules,
		.nrules = n,
		.policy = lf->policy == LAB_POLICY_ALLOW ? FLT_ALLOW : FLT_DROP,
		.stateful = lf->stateful,
	};
	/* a random key, so peers cannot aim their flows at one bucket */
	if (getrandom(cfg.hash_key, sizeof(cfg.hash_key), 0) != sizeof(cfg.hash_key))
		vmm_fail("getrandom: %s", strerror(errno));
	if (!(m->flt = flt_new(&cfg)))
		vmm_fail("cannot set up the filter: %s", strerror(errno));
	free(rules);
	free(order);
}

/* The lab text and the rules file come as sealed memfds: read whole. */
static char *read_text(int fd, const char *what, size_t *len)
{
	int err;
	char *text = sys_read_fd(fd, LAB_TEXT_MAX, len, &err);
	if (!text)
		vmm_fail("cannot read the %s from fd %d: %s", what, fd, strerror(-err));
	close(fd);
	return text;
}

static void setup_stats(struct vmm *m, int stats_fd)
{
	int err;
	m->stats = sys_map_sealed(stats_fd, &m->stats_len, &err);
	if (!m->stats)
		vmm_fail("cannot map stats: %s", strerror(-err));
	close(stats_fd);
	if (m->stats_len < vmm_stats_bytes(m->n_ifc, m->n_links, m->n_rules) ||
	    m->stats->n_ifaces != m->n_ifc || m->stats->n_links != m->n_links ||
	    m->stats->n_rules != m->n_rules)
		vmm_fail("stats region does not fit this node");
	m->stats->pid = (uint64_t)getpid();
}

/* Link k, the j-th of interface i: map it, attach as our side, and teach
 * the interface's switch the MACs behind it. */
static void setup_link(struct vmm *m, unsigned ni, unsigned i, unsigned j, unsigned k,
		       const struct link_arg *la, unsigned n_la)
{
	struct iface *ifc = &m->ifc[i];
	struct link *l = &m->links[k];
	unsigned index = ifc->li->links[j];
	/* the supervisor passes them in our order: look there first */
	const struct link_arg *a = k < n_la && la[k].index == index ? &la[k] : NULL;
	for (unsigned x = 0; !a && x < n_la; x++)
		if (la[x].index == index)
			a = &la[x];
	if (!a)
		vmm_fail("no --link for link %u", index);
	int side = lab_link_side(m->lab, index, ni, i);
	if (side < 0)
		vmm_fail("link %u does not end at %s.%s", index, m->node->name, ifc->li->name);
	l->index = index;
	l->side = (unsigned)side;
	l->port = j;
	l->ifc = ifc;
	l->bell = a->bell;
	l->peer_bell = a->peer_bell;
	l->st = vmm_stats_link(m->stats, m->n_ifc, k);
	l->st->state = VMM_LINK_OK;
	/* a link's frame waits while its destinations are full (a filter's
	 * other links, a VM guest without RX buffers) */
	if (!(l->pend.buf = malloc(VQ_FRAME_MAX)))
		vmm_fail("out of memory");
	int err;
	l->mem = sys_map_sealed(a->mem, &l->len, &err);
	if (!l->mem)
		vmm_fail("link %u: cannot map: %s", l->index, strerror(-err));
	close(a->mem);
	/* a restarted vmm finds its side used before: the link is reset with
	 * the peer first (both start over), which join asks for */
	if ((err = vq_port_join(&l->vq, l->mem, l->len, l->side, sys_now_ns(), &l->joined)))
		vmm_fail("link %u: %s", l->index, vq_strerror(err));
	l->status = VQ_LINK_UP;
	ifc->link[j] = l;
	link_impair_init(m, l);

	/* setup_switch sized the table for every link's MACs: the room left
	 * holds this one's */
	size_t room = ifc->sw.cap - ifc->sw.n, nm = 0;
	uint8_t (*macs)[6] = malloc(room * sizeof(*macs) + 1);
	if (!macs)
		vmm_fail("out of memory");
	if (lab_link_macs(m->lab, l->index, l->side, macs, room, &nm))
		vmm_fail("link %u: more MACs behind it than its switch has room for", l->index);
	for (size_t x = 0; x < nm; x++)
		if ((err = vsw_add(&ifc->sw, macs[x], j)))
			vmm_fail("link %u: MAC table: %s", l->index, strerror(-err));
	free(macs);
}

/* Interface i's switch, with room for every MAC it will hold: its own (a
 * guest's) and those behind each of its links. */
static void setup_switch(struct vmm *m, unsigned ni, struct iface *ifc, unsigned i, bool guest)
{
	const struct lab_iface *li = ifc->li;
	size_t cap = guest;
	for (unsigned j = 0; j < li->n_links; j++) {
		size_t nm = 0;
		int side = lab_link_side(m->lab, li->links[j], ni, i);
		if (side >= 0)
			lab_link_macs(m->lab, li->links[j], (unsigned)side, NULL, 0, &nm);
		cap += nm;
	}
	if (li->n_links > VSW_LINKS_MAX)
		vmm_fail("%s: %u links: more than a switch has ports", li->name, li->n_links);
	ifc->sw_key = malloc(cap * sizeof(*ifc->sw_key) + 1);
	ifc->sw_port = malloc(cap * sizeof(*ifc->sw_port) + 1);
	ifc->link = calloc(li->n_links + 1, sizeof(*ifc->link));
	if (!ifc->sw_key || !ifc->sw_port || !ifc->link)
		vmm_fail("out of memory");
	/* a filter or switch node bridges its links */
	vsw_init(&ifc->sw, !guest, li->n_links, ifc->sw_key, ifc->sw_port, (unsigned)cap);
	if (m->node->kind == LAB_SWITCH) {
		size_t n = li->n_links ? li->n_links : 1, cap_mem = VSW_GROUPS_PER_PORT * n;
		ifc->sw_mem = malloc(cap_mem * sizeof(*ifc->sw_mem));
		ifc->sw_joined = malloc(n);
		ifc->sw_out = malloc(n * sizeof(*ifc->sw_out));
		if (!ifc->sw_mem || !ifc->sw_joined || !ifc->sw_out)
			vmm_fail("out of memory");
		vsw_snoop(&ifc->sw, ifc->sw_mem, (unsigned)cap_mem, ifc->sw_joined);
	}
	if (guest && vsw_add(&ifc->sw, li->mac, VSW_LOCAL))
		vmm_fail("%s: bad MAC", li->name);
}

/* One epoll set for everything; the signals that end us arrive as events. */
static void setup_loop(struct vmm *m)
{
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	m->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (m->epfd < 0 || m->sigfd < 0)
		vmm_fail("epoll/signalfd: %s", strerror(errno));
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV(EV_SIGNAL, 0, 0) };
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->sigfd, &ev) < 0)
		vmm_fail("epoll: %s", strerror(errno));
	/* impaired links' delayed frames: a timer at nanosecond resolution */
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	m->armed = UINT64_MAX;
	ev.data.u64 = EV(EV_TIMER, 0, 0);
	if (m->timer_fd < 0 || epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->timer_fd, &ev) < 0)
		vmm_fail("timerfd: %s", strerror(errno));
	ev.data.u64 = EV(EV_CTL, 0, 0);
	if (m->ctl_fd >= 0 && epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->ctl_fd, &ev) < 0)
		vmm_fail("epoll: %s", strerror(errno));
	for (unsigned i = 0; i < m->n_links; i++) {
		ev.data.u64 = EV(EV_LINK, i, 0);
		if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->links[i].bell, &ev) < 0)
			vmm_fail("epoll: %s", strerror(errno));
		m->links[i].more = true;   /* look once: the peer may be ahead */
		link_apply(m, &m->links[i], &m->links[i].joined);
	}
}

void vmm_setup(struct vmm *m, const char *lab_name, const char *node_name, const char *netns,
	       int lab_fd, int stats_fd, int rules_fd, const struct link_arg *la, unsigned n_la,
	       const struct vhost_arg *va, unsigned n_va)
{
	size_t len;
	char *text = read_text(lab_fd, "lab", &len);
	struct lab_error le;
	/* parsed under the lab's name, as the supervisor parsed its file: a
	 * lab without [lab] name is named by it, and MACs derive from it */
	if (lab_parse(text, len, lab_name, &m->lab, &le) < 0)
		vmm_fail("lab: line %u: %s", le.line, le.msg);
	free(text);
	if (strcmp(m->lab->name, lab_name))
		vmm_fail("the lab is %s, not %s", m->lab->name, lab_name);
	int ni = lab_node_find(m->lab, node_name);
	if (ni < 0)
		vmm_fail("no node \"%s\" in the lab", node_name);
	m->node = &m->lab->nodes[ni];
	m->poll_ns = m->lab->poll_ns;
	bool guest = m->node->kind == LAB_GUEST;
	bool vm = guest && m->node->guest_kind == LAB_KIND_QEMU;
	if ((guest && !vm) != (netns != NULL))
		vmm_fail(guest && !vm ? "a namespace guest needs --netns" : "only a namespace guest has --netns");
	if (!vm && n_va)
		vmm_fail("--vhost is for QEMU guests");
	if (!guest && (m->node->filter.rules_file != NULL) != (rules_fd >= 0))
		vmm_fail("--rules-fd goes with, and only with, a rules file");
	struct lab_rule *file_rules = NULL;
	unsigned n_file = 0;
	if (rules_fd >= 0) {
		char *rt = read_text(rules_fd, "rules file", &len);
		if (lab_parse_rules(rt, len, &file_rules, &n_file, &le))
			vmm_fail("rules file: line %u: %s", le.line, le.msg);
		free(rt);
	}
	if (m->node->kind == LAB_FILTER)
		m->n_rules = m->node->filter.n_rules + n_file;

	m->n_ifc = m->node->n_ifaces;
	m->ifc = calloc(m->n_ifc ? m->n_ifc : 1, sizeof(*m->ifc));
	m->n_links = lab_node_links(m->node);
	m->links = calloc(m->n_links ? m->n_links : 1, sizeof(*m->links));
	if (!m->ifc || !m->links)
		vmm_fail("out of memory");
	if (n_la != m->n_links)
		vmm_fail("%u links given, %s has %u", n_la, node_name, m->n_links);
	setup_stats(m, stats_fd);

	unsigned k = 0;
	for (unsigned i = 0; i < m->n_ifc; i++) {
		struct iface *ifc = &m->ifc[i];
		ifc->li = &m->node->ifaces[i];
		ifc->port.fd = -1;
		ifc->st = vmm_stats_if(m->stats, i);
		ifc->port.st = ifc->st;
		ifc->pend.buf = malloc(VQ_FRAME_MAX);
		if (!ifc->pend.buf)
			vmm_fail("out of memory");
		setup_switch(m, (unsigned)ni, ifc, i, guest);
		for (unsigned j = 0; j < ifc->li->n_links; j++, k++)
			setup_link(m, (unsigned)ni, i, j, k, la, n_la);
	}

	setup_loop(m);
	if (vm)
		setup_vm(m, va, n_va);
	else if (guest)
		setup_guest_netns(m, netns);
	if (m->node->kind == LAB_FILTER)
		setup_filter(m, file_rules, n_file);
	if (!guest)
		empty_netns(m);
	lab_rules_free(file_rules, n_file);
}
