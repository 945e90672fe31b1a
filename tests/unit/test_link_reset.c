/*
 * Unit tests for the link reset of lib/virtqueue/link.c: every step of the
 * handshake from both roles, a side restarting mid-traffic, a violation
 * healed by a reset, and hostile peers (request storms, no answer, no
 * ready, an answer without zeroing).  Both sides live in one process; the
 * clock is ours; a "doorbell" is a poll of the other side.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "link.h"

#define MS 1000000ull
#define T0 (1000 * MS)   /* any clock will do; not 0, which means "no deadline" */

struct link {
	uint8_t *mem;
	size_t len;
	struct vq_port p[2];
};

static struct link *link_new(void)
{
	struct link *l = calloc(1, sizeof(*l));
	assert_non_null(l);
	l->len = vq_link_bytes(64, 2048);
	l->mem = aligned_alloc(4096, l->len);
	assert_non_null(l->mem);
	assert_int_equal(vq_link_format(l->mem, l->len, 64, 2048, true), 0);
	struct vq_poll r;
	for (unsigned s = 0; s < 2; s++) {
		assert_int_equal(vq_port_join(&l->p[s], l->mem, l->len, s, T0, &r), 0);
		assert_int_equal(r.status, VQ_LINK_UP);   /* a fresh region: no reset */
		assert_false(r.kick);
		assert_int_equal(r.deadline, 0);
	}
	return l;
}

static void link_free(struct link *l)
{
	free(l->mem);
	free(l);
}

static struct vq_link_hdr *hdr(struct link *l)
{
	return (struct vq_link_hdr *)l->mem;
}

/* The peer's doorbell: poll the other side whenever one side says kick,
 * until nobody does (bounded). */
static void ring_until_quiet(struct link *l, unsigned first, bool kick, uint64_t now)
{
	unsigned s = first ^ 1u;
	for (int i = 0; kick && i < 16; i++, s ^= 1u) {
		struct vq_poll r;
		vq_port_poll(&l->p[s], now, &r);
		kick = r.kick;
	}
	assert_false(kick);
}

/* ---- frames with a sequence number and a checked payload ------------------ */

static size_t frame_len(uint32_t seq)
{
	return 60 + (seq * 977u) % 3000;   /* one or two chunks */
}

static void send_seq(struct vq_port *p, uint32_t seq)
{
	uint8_t f[4096];
	size_t len = frame_len(seq);
	memcpy(f, &seq, 4);
	for (size_t i = 4; i < len; i++)
		f[i] = (uint8_t)(seq * 7 + i);
	assert_int_equal(vq_port_send(p, f, len), 0);
}

/* Check one received frame: intact, and later than any before it. */
static void check_frame(const struct vq_frame *f, uint32_t *next)
{
	uint8_t b[4096] = { 0 };
	size_t off = 0;
	for (unsigned k = 0; k < f->niov; k++) {
		assert_true(off + f->iov[k].iov_len <= sizeof(b));
		memcpy(b + off, f->iov[k].iov_base, f->iov[k].iov_len);
		off += f->iov[k].iov_len;
	}
	uint32_t seq;
	memcpy(&seq, b, 4);
	assert_true(seq >= *next);          /* never again, never older */
	assert_int_equal(off, frame_len(seq));
	for (size_t i = 4; i < off; i++)
		assert_int_equal(b[i], (uint8_t)(seq * 7 + i));
	*next = seq + 1;
}

/* Take and check every waiting frame; returns how many. */
static unsigned drain(struct vq_port *p, uint32_t *next)
{
	unsigned n = 0;
	struct vq_frame f[8];
	int got;
	while ((got = vq_port_recv(p, f, 8)) > 0) {
		for (int i = 0; i < got; i++)
			check_frame(&f[i], next);
		assert_int_equal(vq_port_recv_done(p, f, (unsigned)got), 0);
		assert_true(vq_port_rx_publish(p) >= 0);
		n += (unsigned)got;
	}
	assert_int_equal(got, 0);
	return n;
}

/* n frames from s to its peer, every one arriving in order. */
static void traffic(struct link *l, unsigned s, uint32_t *seq, uint32_t *next, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint32_t want = *seq;
		send_seq(&l->p[s], (*seq)++);
		assert_true(vq_port_tx_publish(&l->p[s]) >= 0);
		assert_int_equal(drain(&l->p[s ^ 1u], next), 1);
		assert_int_equal(*next, want + 1);
	}
}

static bool zero(const void *mem, size_t len)
{
	const uint8_t *b = mem;
	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* The fields side s writes: its sending ring's descriptors and available
 * ring, its receiving ring's used ring. */
static bool own_fields_zero(struct vq_port *p)
{
	unsigned num = p->tx.r.num;
	return zero(p->tx.r.desc, 16u * num) && zero(p->tx.r.avail, 2u * (3 + num)) &&
	       zero(p->rx.r.used, 4u + 8u * num + 2u);
}

/* ---- the steps ---------------------------------------------------------- */

static void snapshot(struct link *l, uint8_t *copy)
{
	memcpy(copy, l->mem, l->len);
}

static int by_start(const void *x, const void *y)
{
	const uint8_t *const *a = x, *const *b = y;
	return (a[0] > b[0]) - (a[0] < b[0]);
}

/* Since the snapshot, side s wrote only its own words and fields. */
static bool only_own(struct link *l, const uint8_t *copy, unsigned s)
{
	struct vq_port *p = &l->p[s];
	struct vq_link_hdr *h = hdr(l);
	unsigned num = p->tx.r.num;
	const uint8_t *own[][2] = {
		{ (uint8_t *)&h->state[s], (uint8_t *)&h->state[s] + 4 },
		{ (uint8_t *)&h->reset_req[s], (uint8_t *)&h->reset_req[s] + 4 },
		{ (uint8_t *)&h->reset_ack[s], (uint8_t *)&h->reset_ack[s] + 4 },
		{ (uint8_t *)p->tx.r.desc, (uint8_t *)p->tx.r.desc + 16u * num },
		{ (uint8_t *)p->tx.r.avail, (uint8_t *)p->tx.r.avail + 2u * (3 + num) },
		{ (uint8_t *)p->rx.r.used, (uint8_t *)p->rx.r.used + 4u + 8u * num + 2u },
	};
	size_t n = sizeof(own) / sizeof(own[0]);
	qsort(own, n, sizeof(own[0]), by_start);
	/* the gaps between our ranges must be as they were */
	const uint8_t *from = l->mem;
	for (size_t k = 0; k <= n; k++) {
		const uint8_t *to = k < n ? own[k][0] : l->mem + l->len;
		size_t off = (size_t)(from - l->mem);
		if (to > from && memcmp(l->mem + off, copy + off, (size_t)(to - from)))
			return false;
		if (k < n && own[k][1] > from)
			from = own[k][1];
	}
	return true;
}


/* Side r restarts (its struct thrown away) on a link that carried frames;
 * every step of the handshake, from both roles. */
static void restart_steps(unsigned rs)
{
	struct link *l = link_new();
	struct vq_link_hdr *h = hdr(l);
	unsigned ps = rs ^ 1u;
	struct vq_port *R = &l->p[rs], *P = &l->p[ps];
	uint32_t seq[2] = { 0, 0 }, next[2] = { 0, 0 };
	traffic(l, 0, &seq[0], &next[0], 10);
	traffic(l, 1, &seq[1], &next[1], 10);
	assert_false(own_fields_zero(R));
	assert_false(own_fields_zero(P));

	/* R: a new process on the same side asks */
	memset(R, 0xdb, sizeof(*R));
	struct vq_poll r;
	assert_int_equal(vq_port_join(R, l->mem, l->len, rs, T0, &r), 0);
	assert_int_equal(r.status, VQ_LINK_RESETTING);
	assert_true(r.kick && r.changed);
	assert_int_equal(r.deadline, T0 + VQ_RESET_TIMEOUT_NS);
	uint32_t e = h->reset_req[rs];
	assert_true(e & 1u);
	assert_int_equal(h->state[rs], VQ_SIDE_RESETTING);
	assert_int_equal(vq_port_send(R, "x", 1), -VQ_ERESETTING);
	assert_false(own_fields_zero(R));   /* not before the peer has stopped */

	/* P: answers, having zeroed its own fields, and waits for the ready */
	uint8_t *copy = malloc(l->len);
	assert_non_null(copy);
	snapshot(l, copy);
	assert_int_equal(vq_port_poll(P, T0 + MS, &r), VQ_LINK_RESETTING);
	assert_true(only_own(l, copy, ps));
	assert_true(r.kick && r.changed);
	assert_int_equal(r.deadline, T0 + MS + VQ_RESET_TIMEOUT_NS);
	assert_int_equal(h->reset_ack[ps], e);
	assert_true(own_fields_zero(P));
	assert_false(own_fields_zero(R));
	assert_int_equal(h->state[ps], VQ_SIDE_RESETTING);
	assert_int_equal(vq_port_send(P, "x", 1), -VQ_ERESETTING);
	struct vq_frame f;
	assert_int_equal(vq_port_recv(P, &f, 1), -VQ_ERESETTING);
	/* polled again, nothing new */
	assert_int_equal(vq_port_poll(P, T0 + MS, &r), VQ_LINK_RESETTING);
	assert_false(r.kick || r.changed);

	/* R: sees the answer, zeroes its fields, is ready and up */
	snapshot(l, copy);
	assert_int_equal(vq_port_poll(R, T0 + 2 * MS, &r), VQ_LINK_UP);
	assert_true(only_own(l, copy, rs));
	free(copy);
	assert_true(r.kick && r.changed);
	assert_int_equal(r.deadline, 0);
	assert_int_equal(h->reset_req[rs], e + 1);
	assert_true(own_fields_zero(R));
	assert_true(own_fields_zero(P));
	assert_int_equal(h->state[rs], VQ_SIDE_ATTACHED);

	/* R may send at once; P takes it once it has seen the ready */
	send_seq(R, seq[rs]++);
	assert_int_equal(vq_port_tx_publish(R), 1);
	assert_int_equal(vq_port_poll(P, T0 + 3 * MS, &r), VQ_LINK_UP);
	assert_true(r.changed);
	assert_false(r.kick);
	assert_int_equal(h->state[ps], VQ_SIDE_ATTACHED);
	assert_int_equal(drain(P, &next[rs]), 1);

	const struct vq_reset_stats *sr = vq_port_reset_stats(R), *sp = vq_port_reset_stats(P);
	assert_int_equal(sr->resets, 1);
	assert_int_equal(sr->asked, 1);
	assert_int_equal(sr->answered, 0);
	assert_int_equal(sr->last_why, VQ_WHY_RESTART);
	assert_int_equal(sp->resets, 1);
	assert_int_equal(sp->asked, 0);
	assert_int_equal(sp->answered, 1);
	assert_int_equal(sp->last_why, VQ_WHY_PEER);
	assert_int_equal(vq_port_error(R), 0);
	assert_int_equal(vq_port_error(P), 0);

	/* and the link carries frames both ways as new */
	traffic(l, rs, &seq[rs], &next[rs], 300);
	traffic(l, ps, &seq[ps], &next[ps], 300);
	link_free(l);
}

static void test_restart_side0(void **state)
{
	(void)state;
	restart_steps(0);
}

static void test_restart_side1(void **state)
{
	(void)state;
	restart_steps(1);
}

/* Side 0 is killed mid-traffic, frames in flight both ways (published and
 * not taken, taken and not returned, queued and not published); a fresh
 * port takes its place.  Frames may be lost; none comes twice or changed. */
static void test_restart_mid_traffic(void **state)
{
	(void)state;
	for (unsigned victim = 0; victim < 2; victim++) {
		struct link *l = link_new();
		unsigned other = victim ^ 1u;
		uint32_t seq[2] = { 0, 0 }, next[2] = { 0, 0 };
		traffic(l, 0, &seq[0], &next[0], 5);
		traffic(l, 1, &seq[1], &next[1], 5);
		for (unsigned s = 0; s < 2; s++) {
			for (int i = 0; i < 12; i++)
				send_seq(&l->p[s], seq[s]++);
			assert_true(vq_port_tx_publish(&l->p[s]) >= 0);
			send_seq(&l->p[s], seq[s]++);   /* queued, never published */
		}
		/* each side takes some, checks them, holds three */
		struct vq_frame held[2][3];
		for (unsigned s = 0; s < 2; s++) {
			struct vq_frame f[4];
			assert_int_equal(vq_port_recv(&l->p[s], f, 4), 4);
			check_frame(&f[0], &next[s ^ 1u]);
			assert_int_equal(vq_port_recv_done(&l->p[s], f, 1), 0);
			for (int i = 0; i < 3; i++) {
				check_frame(&f[1 + i], &next[s ^ 1u]);
				held[s][i] = f[1 + i];
			}
			assert_true(vq_port_rx_publish(&l->p[s]) >= 0);
		}

		memset(&l->p[victim], 0x5c, sizeof(l->p[victim]));
		struct vq_poll r;
		assert_int_equal(vq_port_join(&l->p[victim], l->mem, l->len, victim, T0, &r), 0);
		assert_true(r.kick);
		ring_until_quiet(l, victim, true, T0);
		assert_true(vq_port_up(&l->p[0]) && vq_port_up(&l->p[1]));

		/* the survivor gives back what it held before the reset: void,
		 * skipped, and the used ring stays as the reset left it */
		assert_int_equal(vq_port_recv_done(&l->p[other], held[other], 3), 0);
		assert_int_equal(vq_port_rx_publish(&l->p[other]), 0);
		assert_int_equal(l->p[other].rx.r.used[1], 0);

		/* nothing of the old rings comes through */
		assert_int_equal(drain(&l->p[0], &next[1]), 0);
		assert_int_equal(drain(&l->p[1], &next[0]), 0);
		/* the guests' numbering goes on; frames in flight were lost */
		traffic(l, 0, &seq[0], &next[0], 200);
		traffic(l, 1, &seq[1], &next[1], 200);
		/* and a burst that fills the ring, all returned */
		for (unsigned s = 0; s < 2; s++) {
			uint32_t first = seq[s];
			int sent = 0;
			while (sent < 64) {
				uint8_t f[64] = { 0 };
				memcpy(f, &seq[s], 4);
				if (vq_port_send(&l->p[s], f, 60) != 0)
					break;
				seq[s]++, sent++;
			}
			assert_true(sent >= 32);
			vq_port_tx_publish(&l->p[s]);
			struct vq_frame f[64];
			assert_int_equal(vq_port_recv(&l->p[s ^ 1u], f, 64), sent);
			for (int i = 0; i < sent; i++) {
				uint32_t got;
				memcpy(&got, f[i].iov[0].iov_base, 4);
				assert_int_equal(got, first + (uint32_t)i);
			}
			assert_int_equal(vq_port_recv_done(&l->p[s ^ 1u], f, (unsigned)sent), 0);
			vq_port_rx_publish(&l->p[s ^ 1u]);
			assert_int_equal(vq_port_reclaim(&l->p[s]), sent);
			assert_int_equal(vq_port_tx_pending(&l->p[s]), 0);
			next[s] = seq[s];
		}
		link_free(l);
	}
}

/* The peer breaks the ring: our side resets, says why, and the link works. */
static void test_violation_resets(void **state)
{
	(void)state;
	struct link *l = link_new();
	struct vq_port *a = &l->p[0], *b = &l->p[1];
	uint32_t seq[2] = { 0, 0 }, next[2] = { 0, 0 };
	traffic(l, 1, &seq[1], &next[1], 3);
	/* b moves its available index by more than the ring */
	b->tx.r.avail[1] = (uint16_t)(b->tx.r.avail[1] + 100);
	struct vq_frame f;
	assert_int_equal(vq_port_recv(a, &f, 1), -VQ_EAVAILIDX);
	assert_false(vq_port_up(a));
	assert_int_equal(vq_port_error(a), -VQ_EAVAILIDX);
	assert_int_equal(vq_port_send(a, "x", 1), -VQ_ERESETTING);

	struct vq_poll r;
	assert_int_equal(vq_port_poll(a, T0, &r), VQ_LINK_RESETTING);
	assert_true(r.kick);
	ring_until_quiet(l, 0, true, T0);
	assert_true(vq_port_up(a) && vq_port_up(b));
	const struct vq_reset_stats *st = vq_port_reset_stats(a);
	assert_int_equal(st->resets, 1);
	assert_int_equal(st->violations, 1);
	assert_int_equal(st->asked, 1);
	assert_int_equal(st->last_why, VQ_WHY_VIOLATION);
	assert_int_equal(st->last_error, -VQ_EAVAILIDX);
	assert_int_equal(vq_port_error(a), 0);
	assert_int_equal(vq_port_reset_stats(b)->answered, 1);
	traffic(l, 0, &seq[0], &next[0], 100);
	traffic(l, 1, &seq[1], &next[1], 100);
	link_free(l);
}

/* Both ask at once, the requests crossing (each side wrote its own before
 * it could see the other's): each answers the other (free: the same
 * reset), both come up without waiting for the limit. */
static void test_both_ask(void **state)
{
	(void)state;
	struct link *l = link_new();
	struct vq_port *a = &l->p[0], *b = &l->p[1];
	struct vq_link_hdr *h = hdr(l);
	struct vq_poll r;
	assert_int_equal(vq_port_reset_request(a, T0, &r), VQ_LINK_RESETTING);
	uint32_t ra = h->reset_req[0];
	h->reset_req[0] = 0;   /* not yet visible to b */
	assert_int_equal(vq_port_reset_request(b, T0, &r), VQ_LINK_RESETTING);
	h->reset_req[0] = ra;
	assert_true(h->reset_req[1] & 1u);
	assert_int_equal(vq_port_poll(a, T0, &r), VQ_LINK_RESETTING);   /* answers b */
	assert_true(r.kick);
	assert_int_equal(vq_port_poll(b, T0, &r), VQ_LINK_RESETTING);   /* answers a, is ready */
	assert_int_equal(h->reset_req[1] & 1u, 0);
	assert_int_equal(vq_port_poll(a, T0, &r), VQ_LINK_UP);          /* ready, sees b's */
	assert_int_equal(vq_port_poll(b, T0, &r), VQ_LINK_UP);
	for (unsigned s = 0; s < 2; s++) {
		const struct vq_reset_stats *st = vq_port_reset_stats(&l->p[s]);
		assert_int_equal(st->resets, 1);
		assert_int_equal(st->asked, 1);
		assert_int_equal(st->answered, 1);
		assert_int_equal(st->last_why, VQ_WHY_LOCAL);
		assert_true(own_fields_zero(&l->p[s]));
	}
	uint32_t seq[2] = { 0, 0 }, next[2] = { 0, 0 };
	traffic(l, 0, &seq[0], &next[0], 70);
	traffic(l, 1, &seq[1], &next[1], 70);

	/* not crossing: b sees a's request first and answers it instead of
	 * asking (one reset starts both sides over) */
	vq_port_reset_request(a, T0 + 1000 * MS, &r);
	uint32_t rb = h->reset_req[1];
	vq_port_reset_request(b, T0 + 1000 * MS, &r);
	assert_int_equal(h->reset_req[1], rb);
	assert_int_equal(h->reset_ack[1], h->reset_req[0]);
	ring_until_quiet(l, 1, r.kick, T0 + 1000 * MS);
	assert_true(vq_port_up(a) && vq_port_up(b));
	assert_int_equal(vq_port_reset_stats(b)->asked, 1);
	assert_int_equal(vq_port_reset_stats(b)->answered, 2);
	traffic(l, 0, &seq[0], &next[0], 70);
	traffic(l, 1, &seq[1], &next[1], 70);
	link_free(l);
}

/* A request the peer makes while ours waits for the limit: answering it
 * resets both sides, so ours is never sent. */
static void test_peer_request_covers_ours(void **state)
{
	(void)state;
	struct link *l = link_new();
	struct vq_port *a = &l->p[0], *b = &l->p[1];
	struct vq_poll r;
	vq_port_reset_request(a, T0, &r);
	ring_until_quiet(l, 0, r.kick, T0);
	/* b's limit forgotten (a fresh struct over the rings as the reset
	 * left them), so that b can ask while a may not */
	assert_int_equal(vq_port_attach(b, l->mem, l->len, 1), 0);
	/* a violation 10 ms later: a's request must wait 50 ms */
	b->tx.r.avail[1] = 1000;
	struct vq_frame f;
	assert_int_equal(vq_port_recv(a, &f, 1), -VQ_EAVAILIDX);
	assert_int_equal(vq_port_poll(a, T0 + 10 * MS, &r), VQ_LINK_RESETTING);
	assert_false(r.kick);
	assert_int_equal(r.deadline, T0 + VQ_RESET_GAP_NS);
	uint32_t req = hdr(l)->reset_req[0];
	/* b asks meanwhile: a's answer waits for the limit as well, then
	 * stands for both */
	vq_port_reset_request(b, T0 + 20 * MS, &r);
	assert_int_equal(vq_port_poll(a, T0 + 30 * MS, &r), VQ_LINK_RESETTING);
	assert_false(r.kick);
	assert_int_equal(vq_port_poll(a, T0 + VQ_RESET_GAP_NS, &r), VQ_LINK_RESETTING);
	assert_true(r.kick);
	ring_until_quiet(l, 0, true, T0 + VQ_RESET_GAP_NS);
	assert_true(vq_port_up(a) && vq_port_up(b));
	assert_int_equal(hdr(l)->reset_req[0], req);   /* never asked */
	assert_int_equal(vq_port_reset_stats(a)->asked, 1);
	assert_int_equal(vq_port_reset_stats(a)->answered, 1);
	assert_int_equal(vq_port_reset_stats(a)->resets, 2);
	link_free(l);
}

/* ---- hostile peers --------------------------------------------------------- */

/* The peer asks again and again, never finishing: answers are spaced
 * 50, 100, 200, 400, 800 ms, then 1 s apart, and the 17th request in
 * the window kills the link for good. */
static void test_request_storm(void **state)
{
	(void)state;
	struct link *l = link_new();
	struct vq_port *a = &l->p[0];
	struct vq_link_hdr *h = hdr(l);
	uint8_t *copy = malloc(l->len);
	assert_non_null(copy);
	uint64_t now = T0, last = 0;
	uint32_t req = 1;
	unsigned answered = 0;
	struct vq_poll r;
	for (int step = 0; step < 100000 && !a->rs.dead; step++, now += MS) {
		h->reset_req[1] = req;   /* a new request every millisecond */
		req += 2;
		snapshot(l, copy);
		int st = vq_port_poll(a, now, &r);
		assert_true(only_own(l, copy, 0));
		if (st == VQ_LINK_DEAD)
			break;
		assert_int_equal(st, VQ_LINK_RESETTING);
		assert_true(r.deadline > now);
		if (vq_port_reset_stats(a)->answered > answered) {
			answered++;
			assert_int_equal(h->reset_ack[0], req - 2);
			assert_true(r.kick);
			if (answered > 1) {
				uint64_t want = VQ_RESET_GAP_NS << (answered - 2);
				if (want > VQ_RESET_GAP_MAX_NS)
					want = VQ_RESET_GAP_MAX_NS;
				assert_int_equal(now - last, want);
			}
			last = now;
		} else {
			assert_false(r.kick);
		}
	}
	assert_int_equal(answered, VQ_RESET_BUDGET);
	assert_true(a->rs.dead);
	/* (and the check above can fail: a byte of the peer's word) */
	snapshot(l, copy);
	((uint8_t *)&h->reset_ack[1])[3] ^= 1;
	assert_false(only_own(l, copy, 0));
	((uint8_t *)&h->reset_ack[1])[3] ^= 1;
	/* the 16th 0.05 + 0.1 + 0.2 + 0.4 + 0.8 + 10 x 1 s after the first,
	 * and the next request, a millisecond later, is refused at once */
	assert_int_equal(now - T0, 11550 * MS + MS);
	assert_int_equal(vq_port_error(a), -VQ_ERESETS);
	assert_int_equal(vq_port_send(a, "x", 1), -VQ_ERESETS);
	assert_int_equal(h->state[0], VQ_SIDE_BROKEN);
	/* dead is dead: more requests, a ready, anything: nothing written */
	h->reset_req[1] = req;
	snapshot(l, copy);
	assert_int_equal(vq_port_poll(a, now + 100 * VQ_RESET_WINDOW_NS, &r), VQ_LINK_DEAD);
	assert_false(r.kick);
	assert_int_equal(r.deadline, 0);
	assert_int_equal(vq_port_reset_request(a, now, &r), VQ_LINK_DEAD);
	assert_memory_equal(copy, l->mem, l->len);
	free(copy);
	link_free(l);
}

/* Resets spread out are not a storm: one every 4 s for ten minutes. */
static void test_resets_spread_out(void **state)
{
	(void)state;
	struct link *l = link_new();
	struct vq_poll r;
	uint64_t now = T0;
	for (int i = 0; i < 150; i++, now += 4000 * MS) {
		vq_port_reset_request(&l->p[i & 1], now, &r);
		assert_true(r.kick);   /* never held back */
		ring_until_quiet(l, (unsigned)(i & 1), true, now);
		assert_true(vq_port_up(&l->p[0]) && vq_port_up(&l->p[1]));
	}
	assert_int_equal(vq_port_reset_stats(&l->p[0])->resets, 150);
	link_free(l);
}

/* The peer never answers: resetting until the timeout, then broken; a
 * peer vmm restarted later still heals the link. */
static void test_never_answers(void **state)
{
	(void)state;
	struct link *l = link_new();
	struct vq_port *a = &l->p[0];
	struct vq_poll r;
	assert_int_equal(vq_port_reset_request(a, T0, &r), VQ_LINK_RESETTING);
	assert_int_equal(r.deadline, T0 + VQ_RESET_TIMEOUT_NS);
	assert_int_equal(vq_port_poll(a, T0 + VQ_RESET_TIMEOUT_NS - 1, &r), VQ_LINK_RESETTING);
	assert_int_equal(r.deadline, T0 + VQ_RESET_TIMEOUT_NS);
	assert_int_equal(vq_port_poll(a, T0 + VQ_RESET_TIMEOUT_NS, &r), VQ_LINK_BROKEN);
	assert_true(r.changed);
	assert_int_equal(r.deadline, 0);   /* no timer: doorbells only */
	assert_int_equal(vq_port_error(a), -VQ_ERESETTIMEOUT);
	assert_int_equal(vq_port_send(a, "x", 1), -VQ_ERESETTIMEOUT);
	assert_int_equal(vq_port_reset_stats(a)->timeouts, 1);
	assert_int_equal(hdr(l)->state[0], VQ_SIDE_BROKEN);
	assert_int_equal(vq_port_poll(a, T0 + 60000 * MS, &r), VQ_LINK_BROKEN);
	assert_false(r.changed);

	/* side 1's vmm comes back (a fresh process): it answers our request,
	 * which starts both sides over (so it need not ask); both come up */
	uint64_t now = T0 + 60000 * MS;
	memset(&l->p[1], 0, sizeof(l->p[1]));
	assert_int_equal(vq_port_join(&l->p[1], l->mem, l->len, 1, now, &r), 0);
	assert_int_equal(r.status, VQ_LINK_RESETTING);
	ring_until_quiet(l, 1, r.kick, now);
	assert_true(vq_port_up(a) && vq_port_up(&l->p[1]));
	assert_int_equal(vq_port_error(a), 0);
	uint32_t seq[2] = { 0, 0 }, next[2] = { 0, 0 };
	traffic(l, 0, &seq[0], &next[0], 10);
	traffic(l, 1, &seq[1], &next[1], 10);
	link_free(l);
}

/* The peer answers late: the broken link comes up on the next doorbell. */
static void test_late_answer(void **state)
{
	(void)state;
	struct link *l = link_new();
	struct vq_port *a = &l->p[0];
	struct vq_poll r;
	vq_port_reset_request(a, T0, &r);
	assert_int_equal(vq_port_poll(a, T0 + VQ_RESET_TIMEOUT_NS, &r), VQ_LINK_BROKEN);
	assert_int_equal(vq_port_poll(&l->p[1], T0 + 3000 * MS, &r), VQ_LINK_RESETTING);
	assert_true(r.kick);
	assert_int_equal(vq_port_poll(a, T0 + 3000 * MS, &r), VQ_LINK_UP);
	assert_int_equal(vq_port_poll(&l->p[1], T0 + 3000 * MS, &r), VQ_LINK_UP);
	link_free(l);
}

/* The peer asks and is answered, but never says ready: broken after the
 * timeout; its ready, however late, brings the link up. */
static void test_never_ready(void **state)
{
	(void)state;
	struct link *l = link_new();
	struct vq_port *a = &l->p[0];
	struct vq_link_hdr *h = hdr(l);
	struct vq_poll r;
	h->reset_req[1] = 7;
	assert_int_equal(vq_port_poll(a, T0, &r), VQ_LINK_RESETTING);
	assert_int_equal(h->reset_ack[0], 7);
	h->reset_req[1] = 10;   /* not 7 + 1: not a ready */
	assert_int_equal(vq_port_poll(a, T0 + VQ_RESET_TIMEOUT_NS - 1, &r), VQ_LINK_RESETTING);
	assert_int_equal(vq_port_poll(a, T0 + VQ_RESET_TIMEOUT_NS, &r), VQ_LINK_BROKEN);
	assert_int_equal(vq_port_error(a), -VQ_ERESETTIMEOUT);
	h->reset_req[1] = 8;
	assert_int_equal(vq_port_poll(a, T0 + 5000 * MS, &r), VQ_LINK_UP);
	assert_int_equal(vq_port_reset_stats(a)->resets, 1);
	link_free(l);
}

/* The peer answers without zeroing its fields (its old available index
 * stays): the checks catch it once we are up, and we reset again, which
 * the limit spaces out and the budget ends. */
static void test_answer_without_zeroing(void **state)
{
	(void)state;
	struct link *l = link_new();
	struct vq_port *a = &l->p[0];
	struct vq_link_hdr *h = hdr(l);
	uint16_t *peer_avail_idx = &l->p[1].tx.r.avail[1];
	uint64_t now = T0;
	struct vq_poll r;
	vq_port_reset_request(a, now, &r);
	for (int round = 0; round < 100 && !a->rs.dead; round++) {
		*peer_avail_idx = 5000;             /* stale, never zeroed */
		h->reset_ack[1] = h->reset_req[0];  /* "answered" */
		int st = vq_port_poll(a, now, &r);
		if (st == VQ_LINK_UP) {
			struct vq_frame f;
			assert_int_equal(vq_port_recv(a, &f, 1), -VQ_EAVAILIDX);
			st = vq_port_poll(a, now, &r);
		}
		assert_true(st == VQ_LINK_RESETTING || st == VQ_LINK_DEAD);
		if (r.deadline)
			now = r.deadline;
	}
	assert_true(a->rs.dead);
	const struct vq_reset_stats *st = vq_port_reset_stats(a);
	assert_int_equal(st->asked, VQ_RESET_BUDGET);
	assert_int_equal(st->violations, VQ_RESET_BUDGET);
	link_free(l);
}

/* A region whose side had a user before: join never trusts its rings. */
static void test_join_used_side(void **state)
{
	(void)state;
	struct link *l = link_new();
	uint32_t seq = 0, next = 0;
	traffic(l, 0, &seq, &next, 5);
	/* the old vmm of side 0 dies mid-request (its word odd, unanswered) */
	hdr(l)->reset_req[0] = 41;
	memset(&l->p[0], 0, sizeof(l->p[0]));
	struct vq_poll r;
	assert_int_equal(vq_port_join(&l->p[0], l->mem, l->len, 0, T0, &r), 0);
	assert_int_equal(r.status, VQ_LINK_RESETTING);
	assert_int_equal(hdr(l)->reset_req[0], 43);   /* new to the peer */
	ring_until_quiet(l, 0, r.kick, T0);
	assert_true(vq_port_up(&l->p[0]) && vq_port_up(&l->p[1]));
	/* the plain attach takes the region as it is */
	struct vq_port q;
	assert_int_equal(vq_port_attach(&q, l->mem, l->len, 0), 0);
	assert_true(vq_port_up(&q));
	assert_string_equal(vq_link_status_name(VQ_LINK_BROKEN), "broken");
	assert_string_equal(vq_reset_why_name(VQ_WHY_RESTART), "restart");
	assert_string_equal(vq_reset_why_name(99), "?");
	assert_string_equal(vq_strerror(-VQ_ERESETS), "peer forced too many link resets");
	link_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_side0),
		cmocka_unit_test(test_restart_side1),
		cmocka_unit_test(test_restart_mid_traffic),
		cmocka_unit_test(test_violation_resets),
		cmocka_unit_test(test_both_ask),
		cmocka_unit_test(test_peer_request_covers_ours),
		cmocka_unit_test(test_request_storm),
		cmocka_unit_test(test_resets_spread_out),
		cmocka_unit_test(test_never_answers),
		cmocka_unit_test(test_late_answer),
		cmocka_unit_test(test_never_ready),
		cmocka_unit_test(test_answer_without_zeroing),
		cmocka_unit_test(test_join_used_side),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
