/* SPDX-License-Identifier: MIT */
/*
 * datapath.c - the event loop of a vmm: frames from guest ports and links,
 * through the switch (and a filter's rules), out to links and ports.
 *
 * Back-pressure, and no head-of-line blocking (hardening #14): when a
 * unicast frame cannot go out because its link's ring is full, the frame is
 * held and its source (guest port, or a filter's link) is not read until
 * the peer returns buffers (it rings our doorbell, which we asked for).
 * The guest's frames then wait in its own kernel, as at any slow NIC, and
 * TCP to a busy but healthy peer loses nothing.  But while one frame waits,
 * frames for every other link wait behind it, so the wait is bounded from
 * when the frame was held, not from the last buffer returned: a frame held
 * STALL_NS is dropped and its link declared stalled.  Nothing waits for a
 * stalled link: its frames go while its ring has room and are dropped
 * (drop_stalled) when it has none, until the peer has returned everything
 * we gave it (it has caught up).  So a slow or hostile peer delays the
 * others' frames once, by at most STALL_NS, and a trickle of returned
 * buffers does not make it worth waiting for again.  Broadcast and
 * multicast frames are never held.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "filter.h"
#include "sys.h"
#include "vmm.h"

/* over 15 times the longest a healthy peer kept a frame waiting here (under
 * 6 ms, TCP at full speed, with and without CPU hogs beside it) */
#define STALL_NS (100 * 1000000ull)
#define SYNC_NS (20 * 1000000ull)
/* what pump_link copies of every frame before the switch looks */
#define HEAD_COPY 128u
_Static_assert(HEAD_COPY >= VSW_HEAD, "the switch's checks read the copy only");
/* A link whose ring held more chunks than this gives its pool's pages
 * back after TRIM_MS of idleness, once the peer has returned them all. */
#define TRIM_CHUNKS 32u
#define TRIM_MS 1000

#define ADD(field, n) __atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)
#define PUT(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

/* The state word says what the flags say, at every change of them. */
static void link_state(struct link *l)
{
	int st = l->dead || l->status == VQ_LINK_BROKEN ? VMM_LINK_BROKEN
		 : l->status != VQ_LINK_UP ? VMM_LINK_RESETTING
		 : l->stalled ? VMM_LINK_STALLED : l->waiting ? VMM_LINK_FULL : VMM_LINK_OK;
	PUT(l->st->state, st);
}

static int to_guest(struct vmm *m, struct iface *ifc, const uint8_t *f, size_t len);

#define MLD_ASK_MS 1000   /* the guest answers within a second */

/* Hand ifc's guest the owed query for its groups.  A NIC that cannot take
 * it now (a TAP that is down, a VM with no buffers) gets it once its guest
 * sends a frame again: an interface coming up does, and only then can it
 * answer. */
static void ask_guest(struct vmm *m, struct iface *ifc)
{
	uint8_t q[VSW_MLD_QUERY_LEN];
	size_t len = vsw_mld_query(q, sizeof(q), MLD_ASK_MS);
	if (to_guest(m, ifc, q, len) == 0) {
		ifc->ask_owed = false;
		ADD(ifc->st->queries, 1);
	}
}

/* l is back after a reset: a vmm at one end restarted, or a peer broke
 * the rings.  The guests behind it are still running and in their
 * multicast groups, and report only changes unless asked: a switch
 * forgets what l's guest reported and takes it every group's frames
 * again, and a guest's vmm whose link leads to a switch asks its guest
 * for all its groups, which the switch learns from the answer. */
static void ask_groups(struct vmm *m, struct link *l)
{
	vsw_snoop_reset(&l->ifc->sw, l->port);
	const struct lab_end *far = &m->lab->links[l->index].end[l->side ^ 1];
	if (!port_open(&l->ifc->port) || m->lab->nodes[far->node].kind != LAB_SWITCH)
		return;
	l->ifc->ask_owed = true;
	ask_guest(m, l->ifc);
}

void link_apply(struct vmm *m, struct link *l, const struct vq_poll *rp)
{
	struct vq_poll r = *rp;
	if (r.kick) {
		sys_ring(l->peer_bell);
		ADD(l->st->kicks, 1);
	}
	l->poll_at = r.deadline;
	bool differs = l->status != r.status;
	l->status = r.status;
	if (!r.changed && !differs)
		return;
	const struct vq_reset_stats *rs = vq_port_reset_stats(&l->vq);
	int why = rs->last_why;
	PUT(l->st->resets, rs->resets);
	PUT(l->st->violations, rs->violations);
	PUT(l->st->reset_why, (uint32_t)why);
	if (vq_port_error(&l->vq))
		PUT(l->st->error, vq_port_error(&l->vq));
	switch (r.status) {
	case VQ_LINK_UP:
		/* new rings: nothing of the old ones is owed or waited for */
		l->more = true;
		l->stalled = false;
		if (rs->resets)   /* not the first start: groups to learn again */
			ask_groups(m, l);
		fprintf(stderr, "%s: %s: link %u: reset done (%s)\n", vmm_prog, m->node->name,
			l->index, vq_reset_why_name(why));
		break;
	case VQ_LINK_RESETTING:
		fprintf(stderr, "%s: %s: link %u: resetting (%s%s%s)\n", vmm_prog, m->node->name,
			l->index, vq_reset_why_name(why), why == VQ_WHY_VIOLATION ? ": " : "",
			why == VQ_WHY_VIOLATION ? vq_strerror(vq_port_error(&l->vq)) : "");
		break;
	case VQ_LINK_BROKEN:
		fprintf(stderr, "%s: %s: link %u: %s; waiting for the peer\n", vmm_prog,
			m->node->name, l->index, vq_strerror(vq_port_error(&l->vq)));
		break;
	default:
		/* a peer that forced too many resets: for good */
		l->dead = true;
		l->poll_at = 0;
		epoll_ctl(m->epfd, EPOLL_CTL_DEL, l->bell, NULL);
		fprintf(stderr, "%s: %s: link %u: %s; link disabled\n", vmm_prog, m->node->name,
			l->index, vq_strerror(vq_port_error(&l->vq)));
		break;
	}
	link_state(l);
}

void link_poll(struct vmm *m, struct link *l, uint64_t now)
{
	if (l->dead)
		return;
	struct vq_poll r;
	vq_port_poll(&l->vq, now, &r);
	link_apply(m, l, &r);
}

/* A call on l's rings failed: the peer broke the protocol (the library
 * took the link down and wants a reset: poll now, which asks), or the
 * link is already being reset. */
static void link_error(struct vmm *m, struct link *l, int err)
{
	if (vq_is_peer_error(err))
		link_poll(m, l, sys_now_ns());
}

/* A held frame now waits for port (or, active false, is gone); keeps
 * each link's count of frames waiting for it, and its state word, true. */
static void pend_set(struct iface *ifc, struct pending *pd, bool active, unsigned port)
{
	if (pd->active && pd->port != VSW_LOCAL && (!active || port != pd->port)) {
		struct link *l = ifc->link[pd->port];
		l->waiting--;
		link_state(l);
	}
	if (active && port != VSW_LOCAL && (!pd->active || port != pd->port)) {
		struct link *l = ifc->link[port];
		l->waiting++;
		link_state(l);
	}
	pd->port = port;
	pd->active = active;
}

/* The guest deleted its interface (or its port failed): stop watching it
 * rather than spin on its error.  A frame it sent and we hold still goes. */
static void port_gone(struct vmm *m, struct iface *ifc, int err)
{
	ifc->port.ops->close(&ifc->port);
	fprintf(stderr, "%s: %s: %s is gone (%s); frames for it are dropped\n", vmm_prog,
		m->node->name, ifc->li->name, strerror(err));
}

/* f is a link frame: the virtio-net header, then the Ethernet frame.  A
 * port that is gone or refuses it drops it (counted); one that is full
 * (a guest with no RX buffers: a TAP never is) says so, -EAGAIN, and the
 * frame is held as for a full link. */
static int to_guest(struct vmm *m, struct iface *ifc, const uint8_t *f, size_t len)
{
	int err = port_open(&ifc->port) ? ifc->port.ops->send(&ifc->port, f, len) : -ENODEV;
	if (err == 0) {
		if (ifc->cap)
			vmm_capture(m, ifc->cap - 1, CAP_IN, 0, f, len);
		ADD(ifc->st->to_guest_frames, 1);
		ADD(ifc->st->to_guest_bytes, len - VSW_VNET_HDR);
	} else if (err != -EAGAIN) {
		ADD(ifc->st->to_guest_drops, 1);
	}
	return err;
}

/* A stalled link is waited for again once its peer has caught up: every
 * frame we gave it has come back.  Until then we ask to hear of each
 * return, so the state word turns back to ok when it happens, not at the
 * next frame for the link (each round reclaims something, so this ends). */
static void link_catch_up(struct vmm *m, struct link *l)
{
	while (l->stalled && vq_port_up(&l->vq)) {
		int r = vq_port_reclaim(&l->vq);
		if (r < 0) {
			link_error(m, l, r);
		} else if (vq_port_tx_pending(&l->vq) == 0) {
			l->stalled = false;
			link_state(l);
		} else if (!vq_port_tx_wait(&l->vq)) {
			return;
		}
	}
}

int link_send_now(struct vmm *m, struct link *l, const uint8_t *f, size_t len)
{
	int err = vq_port_send(&l->vq, f, len);
	/* Full: ask for a kick when buffers come back, and try again as long
	 * as some have come back meanwhile (a 64 KiB frame may need more than
	 * one return; each round reclaims at least one descriptor, so this
	 * ends).  Otherwise the kick we asked for could be the one the peer
	 * already decided not to send. */
	while (err == -VQ_ENOSPC && vq_port_tx_wait(&l->vq))
		err = vq_port_send(&l->vq, f, len);
	if (err == -VQ_ENOSPC)
		return err;
	if (err) {
		/* a link being reset (or broken) drops what is sent on it */
		link_error(m, l, err);
		ADD(l->st->drop_broken, 1);
		return err;
	}
	l->dirty = true;
	if (!l->trim && vq_port_tx_chunks(&l->vq) > TRIM_CHUNKS)
		l->trim = m->trim = true;
	if (l->cap)
		vmm_capture(m, l->cap - 1, CAP_OUT, 0, f, len);
	ADD(l->st->tx_frames, 1);
	ADD(l->st->tx_bytes, len);
	return 0;
}

/* Send f out of port p; true when p is full and worth waiting for.  A
 * stalled link is not: its frame is dropped and counted here. */
static bool deliver(struct vmm *m, struct iface *ifc, const uint8_t *f, size_t len, unsigned p)
{
	if (p == VSW_LOCAL)
		return to_guest(m, ifc, f, len) == -EAGAIN;
	struct link *l = ifc->link[p];
	if (!vq_port_up(&l->vq)) {
		ADD(l->st->drop_broken, 1);
		return false;
	}
	if (link_special(l)) {
		/* impaired or cut: its own queue decides, never "full" */
		link_send_impaired(m, l, f, len, sys_now_ns());
		return false;
	}
	link_catch_up(m, l);
	int err = link_send_now(m, l, f, len);
	if (err == -VQ_ENOSPC && l->stalled)
		ADD(l->st->drop_stalled, 1);
	return err == -VQ_ENOSPC && !l->stalled;
}

/* Send f where the switch said (out: a port, VSW_FLOOD: every link but
 * in, or VSW_GROUP: its group's links, maybe none).  A frame is held only
 * for its one destination, so the port to hold it for is returned (-1:
 * none); a flood or a group's frame goes where it can and is dropped
 * (counted) where it cannot, unless it has only one link to go to. */
static int forward(struct vmm *m, struct iface *ifc, const uint8_t *f, size_t len,
		   int out, unsigned in)
{
	if (out == VSW_DROP)
		return -1;
	if (out == VSW_GROUP) {
		unsigned k = vsw_group_ports(&ifc->sw, in, f + VSW_VNET_HDR, len - VSW_VNET_HDR,
					     ifc->sw_out);
		if (k == 1)
			return deliver(m, ifc, f, len, ifc->sw_out[0]) ? ifc->sw_out[0] : -1;
		for (unsigned i = 0; i < k; i++)
			if (deliver(m, ifc, f, len, ifc->sw_out[i]))
				ADD(ifc->link[ifc->sw_out[i]]->st->drop_full, 1);
		return -1;
	}
	unsigned n = ifc->li->n_links;
	if (out == VSW_FLOOD && n - (in < n) == 1)
		out = in == 0 ? 1 : 0;   /* the one link it can take */
	if (out != VSW_FLOOD)
		return deliver(m, ifc, f, len, (unsigned)out) ? out : -1;
	for (unsigned p = 0; p < n; p++)
		if (p != in && deliver(m, ifc, f, len, p))
			ADD(ifc->link[p]->st->drop_full, 1);
	return -1;
}

static void hold(struct iface *ifc, struct pending *pd, const uint8_t *f, size_t len,
		 unsigned port)
{
	memcpy(pd->buf, f, len);
	pd->len = len;
	pd->since = sys_now_ns();
	pend_set(ifc, pd, true, port);
}

/* Frames the guest sent: port -> vswitch -> links. */
static void pump_port(struct vmm *m, struct iface *ifc)
{
	struct port *pt = &ifc->port;
	ifc->resumed = false;
	if (ifc->ask_owed && port_open(pt))
		ask_guest(m, ifc);
	for (int n = 0;; n++) {
		if (ifc->pend.active || !port_open(pt))
			break;
		if (n == BATCH) {
			/* more may wait, and a port whose frames sit in shared
			 * memory will not tell us: come back without sleeping */
			ifc->resumed = true;
			break;
		}
		ssize_t r = pt->ops->recv(pt, m->buf, sizeof(m->buf));
		if (r < 0)
			port_gone(m, ifc, (int)-r);
		if (r <= 0)
			break;
		if ((size_t)r < VSW_VNET_HDR || (size_t)r > VQ_FRAME_MAX) {
			ifc->sw.stats.runts++;
			continue;
		}
		ADD(ifc->st->from_guest_frames, 1);
		ADD(ifc->st->from_guest_bytes, (uint64_t)r - VSW_VNET_HDR);
		if (ifc->cap)
			vmm_capture(m, ifc->cap - 1, CAP_OUT, 0, m->buf, (size_t)r);
		/* the guest wrote the header: whoever takes the frame off the link
		 * checks it (vsw_vnet_ok) before a kernel sees it */
		int out = vsw_forward(&ifc->sw, VSW_LOCAL, m->buf + VSW_VNET_HDR,
				      (size_t)r - VSW_VNET_HDR);
		int full = forward(m, ifc, m->buf, (size_t)r, out, VSW_LOCAL);
		if (full >= 0) {
			hold(ifc, &ifc->pend, m->buf, (size_t)r, (unsigned)full);
			pt->ops->pause(pt, true);
		}
	}
}

/* Bytes [off, off + max) of a received frame (fewer at its end) into to;
 * how many. */
static size_t copy_out(uint8_t *to, const struct vq_frame *f, size_t off, size_t max)
{
	size_t n = 0;
	for (unsigned k = 0; k < f->niov && n < max; k++) {
		size_t il = f->iov[k].iov_len;
		if (off >= il) {
			off -= il;
			continue;
		}
		size_t take = il - off < max - n ? il - off : max - n;
		memcpy(to + n, (const uint8_t *)f->iov[k].iov_base + off, take);
		n += take;
		off = 0;
	}
	return n;
}

/* A frame for our guest whose header (head bytes, in m->buf) the switch
 * has checked: the header goes from our copy, the rest straight from the
 * peer's chunks into the kernel, which copies it once and parses its own
 * copy; nothing of ours looks at those bytes, so the peer changing them
 * meanwhile changes only what it sent.  One copy fewer per frame. */
static void to_guest_direct(struct vmm *m, struct iface *ifc, const struct vq_frame *f,
			    size_t head)
{
	struct iovec iov[VQ_CHAIN_MAX + 1] = { { m->buf, head } };
	int n = 1;
	size_t off = head;
	for (unsigned k = 0; k < f->niov; k++) {
		size_t il = f->iov[k].iov_len;
		if (off >= il) {
			off -= il;
			continue;
		}
		iov[n].iov_base = (uint8_t *)f->iov[k].iov_base + off;
		iov[n++].iov_len = il - off;
		off = 0;
	}
	int err = ifc->port.ops->sendv(&ifc->port, iov, n, f->len);
	if (err == 0) {
		ADD(ifc->st->to_guest_frames, 1);
		ADD(ifc->st->to_guest_bytes, f->len - VSW_VNET_HDR);
	} else {
		ADD(ifc->st->to_guest_drops, 1);
	}
}

/* Frames the peer sent: their header copied out of shared memory before
 * anything looks at it, and, unless it goes straight to our guest's TAP,
 * the rest (the peer can rewrite its buffers at any time, and a filter
 * must forward exactly what it checked), then switched. */
static void pump_link(struct vmm *m, struct link *l)
{
	struct iface *ifc = l->ifc;
	struct vq_frame f;
	uint64_t now = m->flt ? sys_now_ns() : 0;
	int n = 0;
	l->more = false;
	while (vq_port_up(&l->vq) && !l->pend.active) {
		if (n == BATCH) {
			l->more = true;
			break;
		}
		int r = vq_port_recv(&l->vq, &f, 1);
		if (r < 0) {
			link_error(m, l, r);
			return;
		}
		if (r == 0) {
			/* idle: ask for a kick, unless frames slipped in */
			l->more = vq_port_rx_wait(&l->vq);
			break;
		}
		n++;
		/* the header first: what the switch decides on (a bridge's frame
		 * goes on from a copy anyway, and a switch reads reports whole) */
		size_t len = f.len, head = copy_out(m->buf, &f, 0, ifc->sw.bridge ? len : HEAD_COPY);
		ADD(l->st->rx_frames, 1);
		ADD(l->st->rx_bytes, len);
		if (!vsw_vnet_ok(m->buf, len)) {
			vq_port_recv_done(&l->vq, &f, 1);
			ADD(ifc->st->bad_header, 1);
			continue;
		}
		const uint8_t *eth = m->buf + VSW_VNET_HDR;
		size_t eth_len = len - VSW_VNET_HDR;
		int out = vsw_forward(&ifc->sw, l->port, eth, eth_len);
		if (out == (int)VSW_LOCAL && head < len && !m->flt && !l->cap && !ifc->cap &&
		    port_open(&ifc->port) && ifc->port.ops->sendv) {
			to_guest_direct(m, ifc, &f, head);
			vq_port_recv_done(&l->vq, &f, 1);
			continue;
		}
		copy_out(m->buf + head, &f, head, len - head);
		vq_port_recv_done(&l->vq, &f, 1);
		/* a filter decides on the private copy, which is what it sends */
		bool dropped = false;
		if (out != VSW_DROP && m->flt && flt_decide(m->flt, eth, eth_len, now) != FLT_ALLOW) {
			out = VSW_DROP;
			dropped = true;
		}
		if (l->cap)
			vmm_capture(m, l->cap - 1, CAP_IN | (dropped ? CAP_DROPPED : 0),
				    dropped ? flt_decided_by(m->flt) : 0, m->buf, len);
		int full = forward(m, ifc, m->buf, len, out, l->port);
		/* stop taking from this link until the frame is out */
		if (full >= 0)
			hold(ifc, &l->pend, m->buf, len, (unsigned)full);
	}
	int kick = n ? vq_port_rx_publish(&l->vq) : 0;
	if (kick < 0) {
		link_error(m, l, kick);
	} else if (kick) {
		sys_ring(l->peer_bell);
		ADD(l->st->kicks, 1);
	}
}

/* Retry a held frame; drop it if held too long.  True once it is gone. */
static bool retry(struct vmm *m, struct iface *ifc, struct pending *pd, uint64_t now)
{
	bool full = deliver(m, ifc, pd->buf, pd->len, pd->port);
	if (full && now - pd->since >= STALL_NS) {
		/* a guest that takes nothing for that long loses the frame */
		if (pd->port == VSW_LOCAL) {
			ADD(ifc->st->to_guest_drops, 1);
		} else {
			struct link *l = ifc->link[pd->port];
			l->stalled = true;
			ADD(l->st->drop_stalled, 1);
		}
		full = false;
	}
	pend_set(ifc, pd, full, pd->port);   /* and the stalled link's state word */
	return !pd->active;
}

static void retry_pending(struct vmm *m, uint64_t now)
{
	for (unsigned i = 0; i < m->n_ifc; i++) {
		struct iface *ifc = &m->ifc[i];
		if (ifc->pend.active && retry(m, ifc, &ifc->pend, now) && port_open(&ifc->port)) {
			ifc->port.ops->pause(&ifc->port, false);
			/* and read it now: a port whose frames wait in shared memory
			 * (vhost-user) will not tell us again */
			ifc->resumed = true;
		}
	}
	for (unsigned i = 0; i < m->n_links; i++) {
		struct link *l = &m->links[i];
		if (l->pend.active && retry(m, l->ifc, &l->pend, now))
			l->more = true;   /* resume taking from it */
	}
}

static void publish_all(struct vmm *m)
{
	for (unsigned i = 0; i < m->n_ifc; i++) {
		struct port *pt = &m->ifc[i].port;
		if (port_open(pt) && pt->ops->flush)
			pt->ops->flush(pt);
	}
	for (unsigned i = 0; i < m->n_links; i++) {
		struct link *l = &m->links[i];
		if (!l->dirty || !vq_port_up(&l->vq))
			continue;
		l->dirty = false;
		int kick = vq_port_tx_publish(&l->vq);
		if (kick < 0) {
			link_error(m, l, kick);
		} else if (kick) {
			sys_ring(l->peer_bell);
			ADD(l->st->kicks, 1);
		}
	}
}

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
		PUT(ifc->st->reports, ifc->sw.stats.reports);
		PUT(ifc->st->groups, ifc->sw.n_mem);
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

/* How long to sleep: not at all when busy, else until the first held
 * frame's time is up or a link's reset wants polling (doorbells wake us
 * before), else for ever. */
static int sleep_ms(const struct vmm *m, bool busy, uint64_t now)
{
	if (busy)
		return 0;
	uint64_t first = UINT64_MAX;
	for (unsigned i = 0; i < m->n_ifc; i++)
		if (m->ifc[i].pend.active && m->ifc[i].pend.since + STALL_NS < first)
			first = m->ifc[i].pend.since + STALL_NS;
	for (unsigned i = 0; i < m->n_links; i++) {
		const struct link *l = &m->links[i];
		if (l->pend.active && l->pend.since + STALL_NS < first)
			first = l->pend.since + STALL_NS;
		if (l->poll_at && l->poll_at < first)
			first = l->poll_at;
	}
	if (first == UINT64_MAX)
		return -1;
	if (first <= now)
		return 0;
	return (int)((first - now + 999999) / 1000000);
}

/* After a burst (a thousand guests' multicasts coming up through a switch
 * fill every ring), hand back the pool pages of each link that had many
 * chunks in flight, once its peer has returned them all; a link whose
 * peer has not yet waits for the next burst's trim.  The memory is shared:
 * the pages go for both ends, and the next frames fault in fresh ones. */
static void trim_pools(struct vmm *m)
{
	m->trim = false;
	for (unsigned i = 0; i < m->n_links; i++) {
		struct link *l = &m->links[i];
		if (!l->trim || !vq_port_up(&l->vq))
			continue;
		int r = vq_port_reclaim(&l->vq);
		if (r < 0) {
			link_error(m, l, r);
			continue;
		}
		if (vq_port_tx_pending(&l->vq))
			continue;
		size_t off, len;
		vq_port_tx_pool(&l->vq, &off, &len);
		if (off <= l->len && len <= l->len - off &&
		    madvise((uint8_t *)l->mem + off, len, MADV_REMOVE) == 0)
			ADD(m->stats->trims, 1);
		l->trim = false;
	}
}

/* Before sleeping, look for events a while, giving the CPU to anyone
 * else who wants it between looks (sched_yield: a peer on this CPU runs,
 * an idle CPU keeps looking).  A frame that comes meanwhile is taken
 * without the 25-45 us a sleeping vmm takes to be woken from another CPU,
 * which is most of a round trip here (docs/performance.md). */
static int poll_events(struct vmm *m, struct epoll_event *ev, int max)
{
	uint64_t until = sys_now_ns() + m->poll_ns;
	do {
		int n = epoll_wait(m->epfd, ev, max, 0);
		if (n != 0)
			return n;
		sched_yield();
	} while (sys_now_ns() < until);
	return 0;
}

void vmm_run(struct vmm *m)
{
	struct epoll_event ev[64];
	for (;;) {
		links_flush_due(m, sys_now_ns());
		publish_all(m);
		bool busy = false, held = false;
		for (unsigned i = 0; i < m->n_links; i++) {
			busy |= m->links[i].more && vq_port_up(&m->links[i].vq);
			held |= m->links[i].pend.active || m->links[i].poll_at;
		}
		for (unsigned i = 0; i < m->n_ifc; i++) {
			held |= m->ifc[i].pend.active;
			busy |= m->ifc[i].resumed;
		}
		sync_stats(m, !busy);
		/* a port that has room again: retry what waits for it at once */
		busy |= m->room;
		m->room = false;
		int ms = sleep_ms(m, busy, held ? sys_now_ns() : 0);
		bool trim_wait = m->trim && !busy && (ms < 0 || ms > TRIM_MS);
		int n = ms == 0 || !m->poll_ns ? 0 : poll_events(m, ev, 64);
		if (n == 0)
			n = epoll_wait(m->epfd, ev, 64, trim_wait ? TRIM_MS : ms);
		if (n < 0 && errno != EINTR)
			vmm_fail("epoll_wait: %s", strerror(errno));
		if (n == 0 && trim_wait)
			trim_pools(m);
		ADD(m->stats->wakeups, 1);
		for (int i = 0; i < n; i++) {
			uint64_t u = ev[i].data.u64;
			if (EV_KIND(u) == EV_SIGNAL) {
				struct signalfd_siginfo si;
				if (read(m->sigfd, &si, sizeof(si)) == sizeof(si))
					return;
			} else if (EV_KIND(u) == EV_CTL) {
				vmm_ctl_read(m);
			} else if (EV_KIND(u) == EV_TIMER) {
				uint64_t ticks;
				if (read(m->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
					vmm_fail("timerfd: %s", strerror(errno));
				m->armed = UINT64_MAX;   /* fired: flush re-arms it */
			} else if (EV_KIND(u) == EV_LINK && EV_INDEX(u) < m->n_links) {
				struct link *l = &m->links[EV_INDEX(u)];
				sys_clear(l->bell);
				/* the peer may be asking for, or answering, a reset */
				link_poll(m, l, sys_now_ns());
				l->more = true;
				link_catch_up(m, l);   /* the ring may have come back */
			}
		}
		uint64_t now = held ? sys_now_ns() : 0;
		for (unsigned i = 0; held && i < m->n_links; i++)
			if (m->links[i].poll_at && m->links[i].poll_at <= now)
				link_poll(m, &m->links[i], now);
		for (unsigned i = 0; i < m->n_links; i++)
			if (m->links[i].more)
				pump_link(m, &m->links[i]);
		if (held)
			retry_pending(m, now);
		for (unsigned i = 0; i < m->n_ifc; i++)
			if (m->ifc[i].resumed && !m->ifc[i].pend.active)
				pump_port(m, &m->ifc[i]);
		for (int i = 0; i < n; i++) {
			uint64_t u = ev[i].data.u64;
			if (EV_KIND(u) != EV_PORT || EV_INDEX(u) >= m->n_ifc)
				continue;
			struct iface *ifc = &m->ifc[EV_INDEX(u)];
			if (!port_open(&ifc->port))
				continue;
			unsigned what = ifc->port.ops->event(&ifc->port, EV_SUB(u), ev[i].events);
			if (what & PORT_EV_GONE) {
				port_gone(m, ifc, EIO);
				continue;
			}
			if (what & PORT_EV_ROOM)
				m->room = true;
			if ((what & PORT_EV_FRAMES) && !ifc->pend.active)
				pump_port(m, ifc);
		}
	}
}
