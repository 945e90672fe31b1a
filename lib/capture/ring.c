/* SPDX-License-Identifier: MIT */
/*
 * ring.c - the capture ring: a vmm writes records, the reader takes them.
 *
 * head and tail count bytes since the session began (they never wrap in
 * practice: 2^64 bytes); a position in data is the count modulo CAP_DATA.
 * A record never straddles the end of data: the producer fills the rest
 * with a pad record and goes on at 0.  The producer stores head with
 * release after writing a record, the consumer loads it with acquire; the
 * consumer stores tail with release after copying a record out, and the
 * producer loads it with acquire before reusing that space.
 */
#include "capture.h"

#include <errno.h>
#include <string.h>

#define LOAD(p) __atomic_load_n(&(p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
#define PUT(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELAXED)

int cap_adopt(struct cap_region *r, struct cap_session *s,
	      int (*validate)(const struct cap_insn *prog, int n),
	      void (*point)(void *arg, unsigned kind, uint32_t index, uint16_t id), void *arg)
{
	/* copy first, then check the copy: the supervisor's words may change */
	struct cap_ctl c;
	memcpy(&c, (const void *)&r->ctl, sizeof(c));
	if (c.magic != CAP_MAGIC || c.n_points > CAP_POINTS_MAX || c.n_insns > CAP_PROG_MAX ||
	    c.snaplen == 0 || c.snaplen > CAP_SNAP_MAX)
		return -EINVAL;
	if (c.n_insns && (!validate || !validate(c.prog, (int)c.n_insns)))
		return -EINVAL;
	for (uint32_t i = 0; i < c.n_points; i++)
		if ((c.points[i].kind != CAP_IFACE && c.points[i].kind != CAP_LINK) ||
		    c.points[i].id == CAP_PAD)
			return -EINVAL;
	s->gen = c.gen;
	s->snaplen = c.snaplen;
	s->n_insns = c.n_insns;
	memcpy(s->prog, c.prog, c.n_insns * sizeof(c.prog[0]));
	/* empty: start where the reader is (a reader's tail is a record's start) */
	uint64_t tail = LOAD(r->tail);
	if (tail % 32)
		return -EINVAL;
	s->head = tail;
	s->frames = s->lost = 0;
	s->lost_run = 0;
	PUT(r->frames, 0);
	PUT(r->lost, 0);
	STORE(r->head, s->head);
	STORE(r->gen_seen, (uint64_t)c.gen);
	for (uint32_t i = 0; i < c.n_points; i++)
		point(arg, c.points[i].kind, c.points[i].index, c.points[i].id);
	return 0;
}

static int lose(struct cap_region *r, struct cap_session *s)
{
	s->lost++;
	if (s->lost_run < UINT32_MAX)
		s->lost_run++;
	PUT(r->lost, s->lost);
	return -ENOSPC;
}

int cap_put(struct cap_region *r, struct cap_session *s, uint16_t id, unsigned flags, int32_t rule,
	    uint64_t ts_ns, const uint8_t *f, uint32_t len)
{
	uint32_t caplen = len < s->snaplen ? len : s->snaplen;
	uint32_t need = cap_rec_len(caplen);
	uint64_t tail = LOAD(r->tail);
	uint64_t used = s->head - tail;
	if (tail > s->head || used > CAP_DATA || (tail | s->head) % 32)
		return lose(r, s);   /* a reader's tail we cannot believe */
	uint32_t pos = (uint32_t)(s->head % CAP_DATA);
	uint32_t to_end = CAP_DATA - pos;
	uint64_t pad = to_end < need ? to_end : 0;
	if (CAP_DATA - used < pad + need)
		return lose(r, s);
	if (pad) {
		struct cap_rec p = { .len = (uint32_t)pad, .id = CAP_PAD };
		memcpy(r->data + pos, &p, sizeof(p));
		pos = 0;
	}
	struct cap_rec h = {
		.len = need, .id = id, .flags = (uint8_t)flags, .ts_ns = ts_ns,
		.caplen = caplen, .origlen = len, .rule = rule, .lost_before = s->lost_run,
	};
	memcpy(r->data + pos, &h, sizeof(h));
	memcpy(r->data + pos + sizeof(h), f, caplen);
	s->head += pad + need;
	s->frames++;
	s->lost_run = 0;
	PUT(r->frames, s->frames);
	STORE(r->head, s->head);
	return 0;
}

int cap_next(const struct cap_region *r, uint64_t *tail, struct cap_view *v)
{
	for (;;) {
		uint64_t head = LOAD(r->head), t = *tail;
		if (head == t)
			return 0;
		if (head < t || head - t > CAP_DATA || t % 32)
			return -EPROTO;
		uint32_t pos = (uint32_t)(t % CAP_DATA);
		uint64_t avail = head - t;
		struct cap_rec h;
		if (avail < sizeof(h))
			return -EPROTO;
		memcpy(&h, r->data + pos, sizeof(h));
		/* a record lies inside what was published and inside data */
		if (h.len < sizeof(h) || h.len % 32 || h.len > avail || h.len > CAP_DATA - pos)
			return -EPROTO;
		if (h.id == CAP_PAD) {
			*tail = t + h.len;
			continue;
		}
		if (h.caplen > h.len - sizeof(h) || h.caplen > h.origlen || h.caplen > CAP_SNAP_MAX)
			return -EPROTO;
		*v = (struct cap_view){
			.id = h.id, .flags = h.flags, .rule = h.rule, .ts_ns = h.ts_ns,
			.caplen = h.caplen, .origlen = h.origlen, .lost_before = h.lost_before,
			.data = r->data + pos + sizeof(h),
		};
		*tail = t + h.len;
		return 1;
	}
}
