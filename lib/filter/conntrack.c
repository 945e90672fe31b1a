/* SPDX-License-Identifier: MIT */
/*
 * conntrack.c - a bounded flow table.
 *
 * Layout: a pool of `cap` entries allocated once; a power-of-two array of
 * bucket heads chaining entries by a keyed hash (SipHash-1-3, so a peer
 * that does not know the key cannot aim flows at one bucket); a free list;
 * and one doubly-linked expiry list per timeout class.  Within a class all
 * flows have the same timeout, so appending on every refresh keeps each list
 * sorted by expiry: the head is always the next flow to expire.  Expiry and
 * eviction therefore look at CT_NCLASS heads instead of scanning the table.
 *
 * When the pool is empty, the flow that expires first (the earliest of the
 * class heads) is reused; if it has not expired yet, that is counted as a
 * "table full" event.  Short-lived classes (UDP, closing TCP) thus give way
 * before established TCP connections.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CT_FREE 0xffu

_Static_assert(sizeof(struct ct_key) == 40, "ct_key must have no padding");

/* ---- SipHash-1-3 over the 40-byte key ------------------------------------ */

static inline uint64_t rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                           \
	do {                                                               \
		v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);  \
		v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;                     \
		v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;                     \
		v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);  \
	} while (0)

static uint32_t key_hash(const struct ct *ct, const struct ct_key *k)
{
	uint64_t v0 = ct->key[0] ^ 0x736f6d6570736575ull;
	uint64_t v1 = ct->key[1] ^ 0x646f72616e646f6dull;
	uint64_t v2 = ct->key[0] ^ 0x6c7967656e657261ull;
	uint64_t v3 = ct->key[1] ^ 0x7465646279746573ull;
	const uint8_t *p = (const uint8_t *)k;
	uint64_t m;

	for (size_t i = 0; i < sizeof(*k); i += 8) {
		memcpy(&m, p + i, 8);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	m = (uint64_t)sizeof(*k) << 56;
	v3 ^= m;
	SIPROUND;
	v0 ^= m;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	uint64_t h = v0 ^ v1 ^ v2 ^ v3;
	return (uint32_t)(h ^ (h >> 32));
}

/* ---- lists ---------------------------------------------------------------- */

static void list_unlink(struct ct *ct, uint32_t i)
{
	struct ct_entry *e = &ct->e[i];
	struct ct_list *l = &ct->list[e->cls];

	if (e->prev != CT_NONE)
		ct->e[e->prev].next = e->next;
	else
		l->head = e->next;
	if (e->next != CT_NONE)
		ct->e[e->next].prev = e->prev;
	else
		l->tail = e->prev;
}

static void list_append(struct ct *ct, uint32_t i, unsigned cls)
{
	struct ct_entry *e = &ct->e[i];
	struct ct_list *l = &ct->list[cls];

	e->cls = (uint8_t)cls;
	e->next = CT_NONE;
	e->prev = l->tail;
	if (l->tail != CT_NONE)
		ct->e[l->tail].next = i;
	else
		l->head = i;
	l->tail = i;
}

static bool expired(const struct ct_entry *e, uint64_t now)
{
	return now >= e->expires;
}

/* Unlink entry i from its bucket and list and give it back to the pool. */
static void ct_remove(struct ct *ct, uint32_t i)
{
	struct ct_entry *e = &ct->e[i];
	uint32_t *link = &ct->bucket[e->hash & ct->bmask];

	while (*link != i)
		link = &ct->e[*link].hnext;
	*link = e->hnext;
	list_unlink(ct, i);
	e->cls = CT_FREE;
	e->hnext = ct->free_head;
	ct->free_head = i;
	ct->used--;
}

static uint64_t deadline(const struct ct *ct, unsigned cls, uint64_t now)
{
	uint64_t t = ct->timeout[cls];
	return now > UINT64_MAX - t ? UINT64_MAX : now + t;
}

/* Move entry i to the tail of class cls with a fresh timeout. */
static void ct_touch(struct ct *ct, uint32_t i, unsigned cls, uint64_t now)
{
	list_unlink(ct, i);
	ct->e[i].expires = deadline(ct, cls, now);
	list_append(ct, i, cls);
}

/* The live entry for k, or CT_NONE.  An expired match is removed. */
static uint32_t ct_find(struct ct *ct, const struct ct_key *k, uint32_t h,
			uint64_t now)
{
	for (uint32_t i = ct->bucket[h & ct->bmask]; i != CT_NONE;
	     i = ct->e[i].hnext) {
		struct ct_entry *e = &ct->e[i];
		if (e->hash != h || memcmp(&e->key, k, sizeof(*k)) != 0)
			continue;
		if (expired(e, now)) {
			ct_remove(ct, i);
			ct->expired++;
			return CT_NONE;
		}
		return i;
	}
	return CT_NONE;
}

/* The entry that expires first: the earliest of the class heads. */
static uint32_t ct_victim(const struct ct *ct)
{
	uint32_t best = CT_NONE;

	for (unsigned c = 0; c < CT_NCLASS; c++) {
		uint32_t i = ct->list[c].head;
		if (i != CT_NONE &&
		    (best == CT_NONE || ct->e[i].expires < ct->e[best].expires))
			best = i;
	}
	return best;
}

static void ct_insert(struct ct *ct, const struct ct_key *k, uint32_t h,
		      unsigned cls, uint64_t now)
{
	if (ct->free_head == CT_NONE) {
		uint32_t v = ct_victim(ct);
		if (expired(&ct->e[v], now))
			ct->expired++;
		else
			ct->full++;
		ct_remove(ct, v);
	}
	uint32_t i = ct->free_head;
	struct ct_entry *e = &ct->e[i];

	ct->free_head = e->hnext;
	e->key = *k;
	e->hash = h;
	e->hnext = ct->bucket[h & ct->bmask];
	ct->bucket[h & ct->bmask] = i;
	e->expires = deadline(ct, cls, now);
	list_append(ct, i, cls);
	ct->used++;
	ct->created++;
}

/* ---- keys from packets ---------------------------------------------------- */

static bool echo_request(const struct flt_pkt *p)
{
	return p->ipver == 4 ? p->icmp_type == 8 : p->icmp_type == 128;
}

static bool echo_reply(const struct flt_pkt *p)
{
	return p->ipver == 4 ? p->icmp_type == 0 : p->icmp_type == 129;
}

static bool is_icmp(const struct flt_pkt *p)
{
	return p->proto == (p->ipver == 4 ? FLT_PROTO_ICMP : FLT_PROTO_ICMP6);
}

/*
 * The key of the flow p starts or continues (forward), or of the flow p
 * would answer (reply: addresses and ports swapped; an echo reply answers
 * the echo request with its identifier).  False when p is not trackable.
 */
static bool make_key(const struct flt_pkt *p, bool reply, struct ct_key *k)
{
	memset(k, 0, sizeof(*k));
	if (!p->ipver || !p->l4)
		return false;
	if (p->proto == FLT_PROTO_TCP || p->proto == FLT_PROTO_UDP) {
		k->sport = reply ? p->dport : p->sport;
		k->dport = reply ? p->sport : p->dport;
	} else if (is_icmp(p) && (reply ? echo_reply(p) : echo_request(p))) {
		k->sport = p->icmp_id;
	} else {
		return false;
	}
	memcpy(k->src, reply ? p->dst_ip : p->src_ip, 16);
	memcpy(k->dst, reply ? p->src_ip : p->dst_ip, 16);
	k->vlan = p->vlan;
	k->ipver = p->ipver;
	k->proto = p->proto;
	return true;
}

static bool tcp_closing(const struct flt_pkt *p)
{
	return p->tcp_flags & (FLT_TCP_FIN | FLT_TCP_RST);
}

/* ---- public (to the module) ----------------------------------------------- */

int ct_init(struct ct *ct, uint32_t cap, const uint64_t timeout_ns[CT_NCLASS],
	    const uint64_t key[2])
{
	uint32_t nb = 16;

	memset(ct, 0, sizeof(*ct));
	while (nb < cap)
		nb <<= 1;
	ct->e = calloc(cap, sizeof(*ct->e));
	ct->bucket = malloc(nb * sizeof(*ct->bucket));
	if (!ct->e || !ct->bucket) {
		ct_fini(ct);
		return -ENOMEM;
	}
	ct->cap = cap;
	ct->bmask = nb - 1;
	for (uint32_t b = 0; b < nb; b++)
		ct->bucket[b] = CT_NONE;
	for (uint32_t i = 0; i < cap; i++) {
		ct->e[i].cls = CT_FREE;
		ct->e[i].hnext = i + 1 < cap ? i + 1 : CT_NONE;
	}
	ct->free_head = cap ? 0 : CT_NONE;
	for (unsigned c = 0; c < CT_NCLASS; c++) {
		ct->list[c].head = ct->list[c].tail = CT_NONE;
		ct->timeout[c] = timeout_ns[c];
	}
	ct->key[0] = key[0];
	ct->key[1] = key[1];
	return 0;
}

void ct_fini(struct ct *ct)
{
	free(ct->e);
	free(ct->bucket);
	ct->e = NULL;
	ct->bucket = NULL;
}

bool ct_reply(struct ct *ct, const struct flt_pkt *p, uint64_t now)
{
	struct ct_key k;

	if (!ct->cap || !make_key(p, true, &k))
		return false;
	uint32_t i = ct_find(ct, &k, key_hash(ct, &k), now);
	if (i == CT_NONE)
		return false;
	unsigned cls = ct->e[i].cls;
	if (p->proto == FLT_PROTO_TCP && tcp_closing(p))
		cls = CT_TCP_CLOSING;
	ct_touch(ct, i, cls, now);
	return true;
}

void ct_forward(struct ct *ct, const struct flt_pkt *p, uint64_t now)
{
	struct ct_key k;
	unsigned cls;

	if (!ct->cap || !make_key(p, false, &k))
		return;
	uint32_t h = key_hash(ct, &k);
	uint32_t i = ct_find(ct, &k, h, now);

	if (p->proto == FLT_PROTO_TCP) {
		if (i == CT_NONE) {
			/* a reset ends the flow it belongs to, starts none */
			if (p->tcp_flags & FLT_TCP_RST)
				return;
			cls = tcp_closing(p) ? CT_TCP_CLOSING : CT_TCP_EST;
		} else if (tcp_closing(p)) {
			cls = CT_TCP_CLOSING;
		} else if ((p->tcp_flags & (FLT_TCP_SYN | FLT_TCP_ACK)) ==
			   FLT_TCP_SYN) {
			cls = CT_TCP_EST;   /* a new connection reuses the tuple */
		} else {
			cls = ct->e[i].cls;
		}
	} else {
		cls = p->proto == FLT_PROTO_UDP ? CT_UDP : CT_OTHER;
	}
	if (i == CT_NONE)
		ct_insert(ct, &k, h, cls, now);
	else
		ct_touch(ct, i, cls, now);
}

void ct_expire(struct ct *ct, uint64_t now, unsigned budget)
{
	for (unsigned c = 0; c < CT_NCLASS && budget; c++) {
		uint32_t i;
		while (budget && (i = ct->list[c].head) != CT_NONE &&
		       expired(&ct->e[i], now)) {
			ct_remove(ct, i);
			ct->expired++;
			budget--;
		}
	}
}

int ct_check(const struct ct *ct)
{
	uint32_t nfree = 0, nlisted = 0, nchained = 0;

	if (!ct->cap)
		return 0;
	for (uint32_t i = ct->free_head; i != CT_NONE; i = ct->e[i].hnext) {
		if (i >= ct->cap || ct->e[i].cls != CT_FREE || ++nfree > ct->cap)
			return -EUCLEAN;
	}
	for (unsigned c = 0; c < CT_NCLASS; c++) {
		uint32_t prev = CT_NONE;
		for (uint32_t i = ct->list[c].head; i != CT_NONE;
		     i = ct->e[i].next) {
			const struct ct_entry *e = &ct->e[i];
			if (i >= ct->cap || e->cls != c || e->prev != prev ||
			    ++nlisted > ct->cap)
				return -EUCLEAN;
			prev = i;
		}
		if (ct->list[c].tail != prev)
			return -EUCLEAN;
	}
	for (uint32_t b = 0; b <= ct->bmask; b++) {
		for (uint32_t i = ct->bucket[b]; i != CT_NONE;
		     i = ct->e[i].hnext) {
			const struct ct_entry *e = &ct->e[i];
			if (i >= ct->cap || e->cls >= CT_NCLASS ||
			    (e->hash & ct->bmask) != b ||
			    e->hash != key_hash(ct, &e->key) ||
			    ++nchained > ct->cap)
				return -EUCLEAN;
			/* one entry per flow */
			uint32_t hops = 0;
			for (uint32_t j = e->hnext; j != CT_NONE;
			     j = ct->e[j].hnext)
				if (j >= ct->cap || ++hops > ct->cap ||
				    memcmp(&ct->e[j].key, &e->key,
					   sizeof(e->key)) == 0)
					return -EUCLEAN;
		}
	}
	if (nfree + nlisted != ct->cap || nchained != nlisted ||
	    nlisted != ct->used)
		return -EUCLEAN;
	return 0;
}
