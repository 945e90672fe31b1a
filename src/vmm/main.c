/* SPDX-License-Identifier: MIT */
/*
 * vqnet-vmm - the datapath of one node of a lab.
 *
 * For a guest it lives inside the guest's network namespace, owns one TAP
 * device per interface and one side of each of the interface's links, and
 * moves frames between them: TAP -> vswitch -> link(s), link -> TAP.
 * For a filter node it has links only, in an empty namespace of its own:
 * link -> vswitch (bridging) -> filter rules -> other link(s).
 * It is started by the supervisor (src/vqnet/supervisor.c) with the lab
 * text and every shared object it may touch passed as file descriptors;
 * it maps only its own links, and drops its privileges before the first
 * frame.
 *
 * Back-pressure: when a unicast frame cannot go out because its link's ring
 * is full, the frame is held and its TAP is not read until the peer returns
 * buffers (it rings our doorbell, which we asked for).  The kernel then
 * queues or drops at the TAP, as it would at any slow NIC.  A frame held
 * longer than STALL_NS (a dead or stopped peer) is dropped, and the link is
 * marked stalled: its frames are dropped (and counted) at once, without
 * holding anything, until it takes one again, so one stuck peer does not
 * freeze the others.  Broadcast and multicast frames are never held.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "filter.h"
#include "lab.h"
#include "link.h"
#include "netdev.h"
#include "netns.h"
#include "vmm_stats.h"
#include "sys.h"
#include "vswitch.h"

#define BATCH 32
#define STALL_NS (500 * 1000000ull)
#define SYNC_NS (20 * 1000000ull)
#define LAB_TEXT_MAX (1u << 20)

#define ADD(field, n) __atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)

/* A frame waiting for full links. */
struct pending {
	bool active;
	uint64_t ports;      /* still to deliver */
	uint64_t since;
	size_t len;
	uint8_t *buf;        /* VQ_FRAME_MAX bytes, allocated once */
};

struct iface;

struct link {
	unsigned index;      /* in lab->links */
	unsigned side;
	unsigned port;       /* vswitch port on its interface */
	struct iface *ifc;
	struct vq_port vq;
	void *mem;
	size_t len;
	int bell, peer_bell; /* ours (we wait on it), the peer's (we ring it) */
	bool dirty;          /* frames sent since the last publish */
	bool more;           /* the receive side may hold more frames */
	bool dead;           /* the peer broke the protocol */
	bool stalled;        /* held a frame for STALL_NS: do not wait for it */
	struct pending pend; /* filter nodes: a frame waiting for full links */
	struct vmm_link_stats *st;
};

struct iface {
	const struct lab_iface *li;
	int tap;             /* -1: none (a filter) or gone (deleted in the guest) */
	struct vsw sw;
	struct link *port[VSW_LINKS];
	struct pending pend;
	struct vmm_if_stats *st;
};

struct vmm {
	struct lab *lab;
	const struct lab_node *node;
	struct iface *ifc;
	unsigned n_ifc;
	struct link *links;
	unsigned n_links;
	struct vmm_stats *stats;
	size_t stats_len;
	struct flt *flt;     /* filter nodes only */
	unsigned n_rules;
	uint64_t synced;     /* when the filter's counters were last published */
	int epfd, sigfd;
	uint8_t buf[VQ_FRAME_MAX + 1];
};

static const char *prog = "vqnet-vmm";
static int ready_fd = -1;

/* Setup failures go to the supervisor through the ready pipe, then we exit. */
__attribute__((format(printf, 1, 2), noreturn))
static void fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ready_fd >= 0) {
		dprintf(ready_fd, "error: %s\n", msg);
		close(ready_fd);
	}
	fprintf(stderr, "%s: %s\n", prog, msg);
	exit(1);
}

/* A small decimal number ending at NUL, ',' or '=': an fd or link index. */
static int parse_fd(const char *s)
{
	long v = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9' && v <= 65535; p++)
		v = v * 10 + (*p - '0');
	if (p == s || v > 65535 || (*p && *p != ',' && *p != '='))
		return -1;
	return (int)v;
}

/* ---- datapath ------------------------------------------------------------ */

/* What an epoll event is about: a kind and an index, not a pointer (so
 * telling them apart compares numbers, not pointers to unrelated objects). */
enum { EV_SIGNAL, EV_LINK, EV_TAP };
#define EV(kind, i) ((uint64_t)(kind) << 32 | (uint32_t)(i))
#define EV_KIND(u) ((unsigned)((u) >> 32))
#define EV_INDEX(u) ((unsigned)(uint32_t)(u))

static void tap_pause(struct vmm *m, struct iface *ifc, bool pause)
{
	struct epoll_event ev = { .events = pause ? 0 : EPOLLIN,
				  .data.u64 = EV(EV_TAP, ifc - m->ifc) };
	epoll_ctl(m->epfd, EPOLL_CTL_MOD, ifc->tap, &ev);
}

static void link_dead(struct vmm *m, struct link *l, int err)
{
	if (l->dead)
		return;
	l->dead = true;
	__atomic_store_n(&l->st->error, err, __ATOMIC_RELAXED);
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, l->bell, NULL);
	fprintf(stderr, "%s: %s: link %u: %s; link disabled\n", prog, m->node->name,
		l->index, vq_strerror(err));
}

/* f is a link frame: the virtio-net header, then the Ethernet frame. */
static void to_guest(struct iface *ifc, const uint8_t *f, size_t len)
{
	if (write(ifc->tap, f, len) == (ssize_t)len) {
		ADD(ifc->st->to_guest_frames, 1);
		ADD(ifc->st->to_guest_bytes, len - VSW_VNET_HDR);
	} else {
		ADD(ifc->st->to_guest_drops, 1);
	}
}

/* Send f out of every port in ports; returns the ports whose ring is full
 * and worth waiting for.  A stalled link is not: its frame is dropped and
 * counted here. */
static uint64_t deliver(struct vmm *m, struct iface *ifc, const uint8_t *f,
			size_t len, uint64_t ports)
{
	uint64_t full = 0;
	if (ports & VSW_PORT_BIT(VSW_LOCAL)) {
		if (ifc->tap >= 0)
			to_guest(ifc, f, len);
		ports &= ~VSW_PORT_BIT(VSW_LOCAL);
	}
	while (ports) {
		unsigned p = (unsigned)__builtin_ctzll(ports);
		ports &= ports - 1;
		struct link *l = ifc->port[p];
		if (l->dead)
			continue;
		int err = vq_port_send(&l->vq, f, len);
		/* Full: ask for a kick when buffers come back, and try again
		 * as long as some have come back meanwhile (a 64 KiB frame may
		 * need more than one return; each round reclaims at least one
		 * descriptor, so this ends).  Otherwise the kick we asked for
		 * could be the one the peer already decided not to send. */
		while (err == -VQ_ENOSPC && vq_port_tx_wait(&l->vq))
			err = vq_port_send(&l->vq, f, len);
		if (err == -VQ_ENOSPC && l->stalled) {
			ADD(l->st->drop_stalled, 1);
		} else if (err == -VQ_ENOSPC) {
			full |= VSW_PORT_BIT(p);
		} else if (err) {
			link_dead(m, l, err);
		} else {
			l->dirty = true;
			l->stalled = false;
			ADD(l->st->tx_frames, 1);
			ADD(l->st->tx_bytes, len);
		}
	}
	return full;
}

/* Hold a frame only for its one destination: a broadcast or multicast
 * frame goes where it can and is dropped (counted) where it cannot. */
static bool worth_holding(struct iface *ifc, uint64_t ports, uint64_t full)
{
	if (!(ports & (ports - 1)))
		return true;
	for (; full; full &= full - 1)
		ADD(ifc->port[__builtin_ctzll(full)]->st->drop_full, 1);
	return false;
}

/* The guest deleted its interface (or the TAP failed): stop watching it
 * rather than spin on its error. */
static void tap_gone(struct vmm *m, struct iface *ifc, int err)
{
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, ifc->tap, NULL);
	close(ifc->tap);
	ifc->tap = -1;
	ifc->pend.active = false;
	fprintf(stderr, "%s: %s: %s is gone (%s); frames for it are dropped\n", prog,
		m->node->name, ifc->li->name, strerror(err));
}

static void hold(struct pending *pd, const uint8_t *f, size_t len, uint64_t ports)
{
	memcpy(pd->buf, f, len);
	pd->len = len;
	pd->ports = ports;
	pd->since = sys_now_ns();
	pd->active = true;
}

/* Frames the guest sent: TAP -> vswitch -> links. */
static void pump_tap(struct vmm *m, struct iface *ifc)
{
	for (int n = 0; n < BATCH && !ifc->pend.active && ifc->tap >= 0; n++) {
		ssize_t r = read(ifc->tap, m->buf, sizeof(m->buf));
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			tap_gone(m, ifc, errno);
		if (r <= 0)
			break;
		if ((size_t)r < VSW_VNET_HDR || (size_t)r > VQ_FRAME_MAX) {
			ifc->sw.stats.runts++;
			continue;
		}
		ADD(ifc->st->from_guest_frames, 1);
		ADD(ifc->st->from_guest_bytes, (uint64_t)r - VSW_VNET_HDR);
		/* the header is the guest kernel's own: nothing to check */
		uint64_t ports = vsw_forward(&ifc->sw, VSW_LOCAL, m->buf + VSW_VNET_HDR,
					     (size_t)r - VSW_VNET_HDR);
		uint64_t full = ports ? deliver(m, ifc, m->buf, (size_t)r, ports) : 0;
		if (full && worth_holding(ifc, ports, full)) {
			hold(&ifc->pend, m->buf, (size_t)r, full);
			tap_pause(m, ifc, true);
		}
	}
}

/* Frames the peer sent: copied out of shared memory before anything looks
 * at them (the peer can rewrite its buffers at any time), then switched. */
static void pump_link(struct vmm *m, struct link *l)
{
	struct iface *ifc = l->ifc;
	struct vq_frame f;
	uint64_t now = m->flt ? sys_now_ns() : 0;
	int n = 0;
	l->more = false;
	while (!l->dead && !l->pend.active) {
		if (n == BATCH) {
			l->more = true;
			break;
		}
		int r = vq_port_recv(&l->vq, &f, 1);
		if (r < 0) {
			link_dead(m, l, r);
			return;
		}
		if (r == 0) {
			/* idle: ask for a kick, unless frames slipped in */
			l->more = vq_port_rx_wait(&l->vq);
			break;
		}
		n++;
		size_t len = 0;
		for (unsigned k = 0; k < f.niov; k++) {
			memcpy(m->buf + len, f.iov[k].iov_base, f.iov[k].iov_len);
			len += f.iov[k].iov_len;
		}
		vq_port_recv_done(&l->vq, &f, 1);
		ADD(l->st->rx_frames, 1);
		ADD(l->st->rx_bytes, len);
		if (!vsw_vnet_ok(m->buf, len)) {
			ADD(ifc->st->bad_header, 1);
			continue;
		}
		const uint8_t *eth = m->buf + VSW_VNET_HDR;
		size_t eth_len = len - VSW_VNET_HDR;
		uint64_t ports = vsw_forward(&ifc->sw, l->port, eth, eth_len);
		/* a filter decides on the private copy, which is what it sends */
		if (ports && m->flt && flt_decide(m->flt, eth, eth_len, now) != FLT_ALLOW)
			ports = 0;
		uint64_t full = ports ? deliver(m, ifc, m->buf, len, ports) : 0;
		/* stop taking from this link until the frame is out */
		if (full && worth_holding(ifc, ports, full))
			hold(&l->pend, m->buf, len, full);
	}
	int kick = n ? vq_port_rx_publish(&l->vq) : 0;
	if (kick < 0) {
		link_dead(m, l, kick);
	} else if (kick) {
		sys_ring(l->peer_bell);
		ADD(l->st->kicks, 1);
	}
}

/* Retry a held frame; drop it if held too long.  True once it is gone. */
static bool retry(struct vmm *m, struct iface *ifc, struct pending *pd, uint64_t now)
{
	pd->ports = deliver(m, ifc, pd->buf, pd->len, pd->ports);
	if (pd->ports && now - pd->since > STALL_NS) {
		for (uint64_t p = pd->ports; p; p &= p - 1) {
			ifc->port[__builtin_ctzll(p)]->stalled = true;
			ADD(ifc->port[__builtin_ctzll(p)]->st->drop_stalled, 1);
		}
		pd->ports = 0;
	}
	pd->active = pd->ports != 0;
	return !pd->active;
}

static void retry_pending(struct vmm *m, uint64_t now)
{
	for (unsigned i = 0; i < m->n_ifc; i++) {
		struct iface *ifc = &m->ifc[i];
		if (ifc->pend.active && retry(m, ifc, &ifc->pend, now) && ifc->tap >= 0)
			tap_pause(m, ifc, false);
	}
	for (unsigned i = 0; i < m->n_links; i++) {
		struct link *l = &m->links[i];
		if (l->pend.active && retry(m, l->ifc, &l->pend, now))
			l->more = true;   /* resume taking from it */
	}
}

static void publish_all(struct vmm *m)
{
	for (unsigned i = 0; i < m->n_links; i++) {
		struct link *l = &m->links[i];
		if (!l->dirty || l->dead)
			continue;
		l->dirty = false;
		int kick = vq_port_tx_publish(&l->vq);
		if (kick < 0) {
			link_dead(m, l, kick);
		} else if (kick) {
			sys_ring(l->peer_bell);
			ADD(l->st->kicks, 1);
		}
	}
}

#define PUT(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

static void sync_counter(struct vmm_counter *to, const struct flt_counter *from)
{
	PUT(to->frames, from->frames);
	PUT(to->bytes, from->bytes);
}

/* Publish what the switch and the filter counted.  The filter's counters
 * (one pair per rule) are copied at most every SYNC_NS while busy, and
 * always before sleeping. */
static void sync_stats(struct vmm *m, bool idle)
{
	for (unsigned i = 0; i < m->n_ifc; i++) {
		struct iface *ifc = &m->ifc[i];
		PUT(ifc->st->spoofed, ifc->sw.stats.spoofed);
		PUT(ifc->st->unknown, ifc->sw.stats.unknown);
		PUT(ifc->st->runts, ifc->sw.stats.runts);
	}
	uint64_t now = m->flt ? sys_now_ns() : 0;
	if (!m->flt || (!idle && now - m->synced < SYNC_NS))
		return;
	m->synced = now;
	struct flt_stats fs;
	flt_stats(m->flt, &fs);
	struct vmm_filter_stats *t = &m->stats->filter;
	sync_counter(&t->allowed, &fs.allowed);
	sync_counter(&t->dropped, &fs.dropped);
	sync_counter(&t->policy, &fs.policy);
	sync_counter(&t->malformed, &fs.malformed);
	sync_counter(&t->ct_hit, &fs.ct_hit);
	PUT(t->ct_created, fs.ct_created);
	PUT(t->ct_expired, fs.ct_expired);
	PUT(t->ct_full, fs.ct_full);
	PUT(t->ct_entries, fs.ct_entries);
	PUT(t->ct_capacity, fs.ct_capacity);
	for (unsigned r = 0; r < m->n_rules; r++) {
		struct flt_counter c;
		if (flt_rule_stats(m->flt, r, &c) == 0)
			sync_counter(vmm_stats_rule(m->stats, m->n_ifc, m->n_links, r), &c);
	}
}

static void run(struct vmm *m)
{
	struct epoll_event ev[64];
	for (;;) {
		publish_all(m);
		bool busy = false, held = false;
		for (unsigned i = 0; i < m->n_links; i++) {
			busy |= m->links[i].more && !m->links[i].dead;
			held |= m->links[i].pend.active;
		}
		for (unsigned i = 0; i < m->n_ifc; i++)
			held |= m->ifc[i].pend.active;
		sync_stats(m, !busy);
		int n = epoll_wait(m->epfd, ev, 64, busy ? 0 : held ? 10 : -1);
		if (n < 0 && errno != EINTR)
			fail("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			uint64_t u = ev[i].data.u64;
			if (EV_KIND(u) == EV_SIGNAL) {
				struct signalfd_siginfo si;
				if (read(m->sigfd, &si, sizeof(si)) == sizeof(si))
					return;
			} else if (EV_KIND(u) == EV_LINK && EV_INDEX(u) < m->n_links) {
				struct link *l = &m->links[EV_INDEX(u)];
				sys_clear(l->bell);
				l->more = true;
			}
		}
		for (unsigned i = 0; i < m->n_links; i++)
			if (m->links[i].more)
				pump_link(m, &m->links[i]);
		if (held)
			retry_pending(m, sys_now_ns());
		for (int i = 0; i < n; i++) {
			uint64_t u = ev[i].data.u64;
			if (EV_KIND(u) != EV_TAP || EV_INDEX(u) >= m->n_ifc)
				continue;
			struct iface *ifc = &m->ifc[EV_INDEX(u)];
			if (ifc->tap < 0)
				continue;
			if (ev[i].events & (EPOLLERR | EPOLLHUP))
				tap_gone(m, ifc, EIO);
			else if (!ifc->pend.active)
				pump_tap(m, ifc);
		}
	}
}

/* ---- setup ---------------------------------------------------------------- */

static char *read_all(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			return NULL;
		if (n == cap) {
			if (cap >= LAB_TEXT_MAX) {
				free(buf);
				return NULL;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				free(buf);
			buf = nb, cap *= 2;
			continue;
		}
		ssize_t r = pread(fd, buf + n, cap - n, (off_t)n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

struct link_arg {
	unsigned index;
	int mem, bell, peer_bell;
};

static void usage(FILE *to)
{
	fprintf(to,
		"usage: %s --supervisor PID --uid UID --lab-fd FD --node NAME --ready-fd FD --stats-fd FD\n"
		"          [--netns NAME | --rules-fd FD] [--link INDEX=MEMFD,BELL,PEERBELL ...]\n"
		"Started by the vqnet supervisor, not by hand: moves one node's frames\n"
		"between its TAP devices (a guest, in namespace NAME) or through its\n"
		"rules (a filter) and its shared-memory links.\n", prog);
}

static void setup_guest_netns(struct vmm *m, const char *netns)
{
	int fd = netns_open(netns);
	if (fd < 0)
		fail("namespace %s: %s", netns, strerror(-fd));
	int err = netns_enter(fd);
	close(fd);
	if (err)
		fail("cannot enter namespace %s: %s", netns, strerror(-err));
	/* Addresses in a lab are unique by construction: skip duplicate
	 * address detection so IPv6 is usable at once. */
	netdev_sysctl("net/ipv6/conf/all/accept_dad", "0");
	netdev_sysctl("net/ipv6/conf/default/accept_dad", "0");
	if ((err = netdev_up("lo")))
		fail("cannot bring lo up: %s", strerror(-err));

	for (unsigned i = 0; i < m->n_ifc; i++) {
		struct iface *ifc = &m->ifc[i];
		const struct lab_iface *li = ifc->li;
		const char *what = "create TAP";
		ifc->tap = netdev_tap(li->name);
		err = ifc->tap < 0 ? ifc->tap : 0;
		if (!err && (what = "set MAC of", err = netdev_set_mac(li->name, li->mac)) == 0 &&
		    li->has_ip4)
			what = "set IPv4 address of", err = netdev_set_ip4(li->name, li->ip4, li->prefix4);
		if (!err)
			what = "bring up", err = netdev_up(li->name);
		if (!err && li->has_ip6)
			what = "set IPv6 address of", err = netdev_set_ip6(li->name, li->ip6, li->prefix6);
		if (err)
			fail("cannot %s %s: %s", what, li->name, strerror(-err));
	}
}

/* A filter node: its rules in order (lab lines and rules file), compiled
 * once; the node gets an empty network namespace of its own, since it
 * needs none (best effort: isolation, not function). */
static void setup_filter(struct vmm *m, const struct lab_rule *file, unsigned n_file)
{
	const struct lab_filter *lf = &m->node->filter;
	const struct lab_rule **order = calloc(lf->n_rules + n_file + 1, sizeof(*order));
	struct flt_rule *rules = calloc(lf->n_rules + n_file + 1, sizeof(*rules));
	if (!order || !rules)
		fail("out of memory");
	unsigned n = lab_filter_rules(lf, file, n_file, order);
	for (unsigned i = 0; i < n; i++) {
		char why[FLT_ERR_MAX];
		if (flt_rule_parse(order[i]->text, &rules[i], why, sizeof(why)))
			fail("rule at line %u: %s", order[i]->line, why);
	}
	struct flt_config cfg = {
		.rules = rules,
		.nrules = n,
		.policy = lf->policy == LAB_POLICY_ALLOW ? FLT_ALLOW : FLT_DROP,
		.stateful = lf->stateful,
	};
	/* a random key, so peers cannot aim their flows at one bucket */
	if (getrandom(cfg.hash_key, sizeof(cfg.hash_key), 0) != sizeof(cfg.hash_key))
		fail("getrandom: %s", strerror(errno));
	if (!(m->flt = flt_new(&cfg)))
		fail("cannot set up the filter: %s", strerror(errno));
	free(rules);
	free(order);
	if (unshare(CLONE_NEWNET) < 0)
		fprintf(stderr, "%s: %s: no namespace of its own: %s\n", prog, m->node->name,
			strerror(errno));
}

static void setup(struct vmm *m, const char *node_name, const char *netns,
		  int lab_fd, int stats_fd, int rules_fd, struct link_arg *la, unsigned n_la)
{
	size_t len;
	char *text = read_all(lab_fd, &len);
	if (!text)
		fail("cannot read the lab from fd %d", lab_fd);
	close(lab_fd);
	struct lab_error le;
	if (lab_parse(text, len, "lab", &m->lab, &le) < 0)
		fail("lab: line %u: %s", le.line, le.msg);
	free(text);
	int ni = lab_node_find(m->lab, node_name);
	if (ni < 0)
		fail("no node \"%s\" in the lab", node_name);
	m->node = &m->lab->nodes[ni];
	bool guest = m->node->kind == LAB_GUEST;
	if (guest != (netns != NULL))
		fail(guest ? "a guest needs --netns" : "a filter has no namespace to enter");
	if (!guest && (m->node->filter.rules_file != NULL) != (rules_fd >= 0))
		fail("--rules-fd goes with, and only with, a rules file");
	struct lab_rule *file_rules = NULL;
	unsigned n_file = 0;
	if (rules_fd >= 0) {
		char *rt = read_all(rules_fd, &len);
		if (!rt || lab_parse_rules(rt, len, &file_rules, &n_file, &le))
			fail("rules file: line %u: %s", rt ? le.line : 0, rt ? le.msg : "unreadable");
		free(rt);
		close(rules_fd);
	}
	if (!guest)
		m->n_rules = m->node->filter.n_rules + n_file;

	m->n_ifc = m->node->n_ifaces;
	m->ifc = calloc(m->n_ifc ? m->n_ifc : 1, sizeof(*m->ifc));
	m->n_links = lab_node_links(m->node);
	m->links = calloc(m->n_links ? m->n_links : 1, sizeof(*m->links));
	if (!m->ifc || !m->links)
		fail("out of memory");
	if (n_la != m->n_links)
		fail("%u links given, %s has %u", n_la, node_name, m->n_links);

	int err;
	m->stats = sys_map_sealed(stats_fd, &m->stats_len, &err);
	if (!m->stats)
		fail("cannot map stats: %s", strerror(-err));
	close(stats_fd);
	if (m->stats_len < vmm_stats_bytes(m->n_ifc, m->n_links, m->n_rules) ||
	    m->stats->n_ifaces != m->n_ifc || m->stats->n_links != m->n_links ||
	    m->stats->n_rules != m->n_rules)
		fail("stats region does not fit this node");
	m->stats->pid = (uint64_t)getpid();

	unsigned k = 0;
	for (unsigned i = 0; i < m->n_ifc; i++) {
		struct iface *ifc = &m->ifc[i];
		ifc->li = &m->node->ifaces[i];
		ifc->tap = -1;
		ifc->st = vmm_stats_if(m->stats, i);
		ifc->pend.buf = malloc(VQ_FRAME_MAX);
		if (!ifc->pend.buf)
			fail("out of memory");
		vsw_init(&ifc->sw, !guest);   /* a filter bridges its links */
		if (guest && vsw_add(&ifc->sw, ifc->li->mac, VSW_LOCAL))
			fail("%s: bad MAC", ifc->li->name);
		for (unsigned j = 0; j < ifc->li->n_links; j++, k++) {
			struct link *l = &m->links[k];
			const struct lab_link *ll = &m->lab->links[ifc->li->links[j]];
			struct link_arg *a = NULL;
			for (unsigned x = 0; x < n_la; x++)
				if (la[x].index == ifc->li->links[j])
					a = &la[x];
			if (!a)
				fail("no --link for link %u", ifc->li->links[j]);
			l->index = a->index;
			l->side = ll->end[0].node == (unsigned)ni && ll->end[0].iface == i ? 0 : 1;
			l->port = j;
			l->ifc = ifc;
			l->bell = a->bell;
			l->peer_bell = a->peer_bell;
			l->st = vmm_stats_link(m->stats, m->n_ifc, k);
			if (!guest && !(l->pend.buf = malloc(VQ_FRAME_MAX)))
				fail("out of memory");
			l->mem = sys_map_sealed(a->mem, &l->len, &err);
			if (!l->mem)
				fail("link %u: cannot map: %s", l->index, strerror(-err));
			close(a->mem);
			if ((err = vq_port_attach(&l->vq, l->mem, l->len, l->side)))
				fail("link %u: %s", l->index, vq_strerror(err));
			ifc->port[j] = l;

			uint8_t macs[VSW_MACS_MAX][6];
			size_t nm;
			if (lab_link_macs(m->lab, l->index, l->side, macs, VSW_MACS_MAX, &nm))
				fail("link %u: too many MACs behind it", l->index);
			for (size_t x = 0; x < nm; x++)
				if ((err = vsw_add(&ifc->sw, macs[x], j)))
					fail("link %u: MAC table: %s", l->index, strerror(-err));
		}
	}

	if (guest)
		setup_guest_netns(m, netns);
	else
		setup_filter(m, file_rules, n_file);
	lab_rules_free(file_rules, n_file);

	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	m->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (m->epfd < 0 || m->sigfd < 0)
		fail("epoll/signalfd: %s", strerror(errno));
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV(EV_SIGNAL, 0) };
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->sigfd, &ev) < 0)
		fail("epoll: %s", strerror(errno));
	for (unsigned i = 0; i < m->n_ifc && guest; i++) {
		ev.data.u64 = EV(EV_TAP, i);
		if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->ifc[i].tap, &ev) < 0)
			fail("epoll: %s", strerror(errno));
	}
	for (unsigned i = 0; i < m->n_links; i++) {
		ev.data.u64 = EV(EV_LINK, i);
		if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->links[i].bell, &ev) < 0)
			fail("epoll: %s", strerror(errno));
		m->links[i].more = true;   /* look once: the peer may be ahead */
	}
}

/* Everything privileged is done (TAPs made, namespace entered, memory
 * mapped): become nobody, for good, before the first frame from a peer is
 * looked at.  Changing credentials clears the parent-death signal, so it is
 * set (and the parent checked) again afterwards. */
static void drop_privileges(pid_t supervisor, uid_t uid)
{
	gid_t gid = (gid_t)uid;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail("cannot drop privileges: %s", strerror(errno));
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != supervisor)
		fail("the supervisor is gone");
}

int main(int argc, char **argv)
{
	const char *node = NULL, *netns = NULL;
	int lab_fd = -1, stats_fd = -1, rules_fd = -1, supervisor = -1;
	long uid = -1;
	static struct link_arg la[LAB_MAX_NODES * LAB_MAX_IFACES];
	unsigned n_la = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (!v) {
			usage(stderr);
			return 2;
		}
		i++;
		if (!strcmp(a, "--node")) {
			node = v;
		} else if (!strcmp(a, "--netns")) {
			netns = v;
		} else if (!strcmp(a, "--lab-fd")) {
			lab_fd = parse_fd(v);
		} else if (!strcmp(a, "--ready-fd")) {
			ready_fd = parse_fd(v);
		} else if (!strcmp(a, "--stats-fd")) {
			stats_fd = parse_fd(v);
		} else if (!strcmp(a, "--rules-fd")) {
			rules_fd = parse_fd(v);
		} else if (!strcmp(a, "--uid")) {
			char *end;
			uid = strtol(v, &end, 10);
			if (*end || uid <= 0 || uid >= INT32_MAX)
				uid = -1;
		} else if (!strcmp(a, "--supervisor")) {
			char *end;
			long pid = strtol(v, &end, 10);
			supervisor = *end || pid <= 1 || pid > INT32_MAX ? -1 : (int)pid;
		} else if (!strcmp(a, "--link") && n_la < sizeof(la) / sizeof(la[0])) {
			struct link_arg *l = &la[n_la++];
			const char *eq = strchr(v, '='), *c1 = eq ? strchr(eq, ',') : NULL,
				   *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
			int idx = parse_fd(v);
			if (idx < 0 || !eq || !c1 || !c2 || (l->mem = parse_fd(eq + 1)) < 0 ||
			    (l->bell = parse_fd(c1 + 1)) < 0 || (l->peer_bell = parse_fd(c2 + 1)) < 0) {
				fprintf(stderr, "%s: bad --link \"%s\" (INDEX=MEMFD,BELL,PEERBELL)\n", prog, v);
				return 2;
			}
			l->index = (unsigned)idx;
		} else {
			fprintf(stderr, "%s: unknown or bad option %s\n", prog, a);
			usage(stderr);
			return 2;
		}
	}
	if (!node || lab_fd < 0 || stats_fd < 0 || ready_fd < 0 || supervisor < 0 || uid < 0) {
		usage(stderr);
		return 2;
	}
	/* die with the supervisor, never linger on our own (TERM reaches us
	 * through the signalfd even if whoever started us ignored it) */
	signal(SIGTERM, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != supervisor)
		return 1;

	static struct vmm m;
	setup(&m, node, netns, lab_fd, stats_fd, rules_fd, la, n_la);
	drop_privileges(supervisor, (uid_t)uid);
	if (write(ready_fd, "ok\n", 3) != 3)
		fail("cannot report ready");
	close(ready_fd);
	ready_fd = -1;
	run(&m);
	return 0;
}
