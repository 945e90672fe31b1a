/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the files of lib/filter share and nobody else sees.
 */
#ifndef VQNET_FILTER_INTERNAL_H
#define VQNET_FILTER_INTERNAL_H

#include "filter.h"

/* ---- rule.c ------------------------------------------------------------- */

/*
 * What a rule's matches imply about the packet's network layer, so the
 * per-frame check is one comparison: NEED_IP4/NEED_IP6 are the IP versions
 * (their values are flt_pkt.ipver), NEED_IP is either version.
 */
enum { NEED_NONE = 0, NEED_IP = 1, NEED_IP4 = 4, NEED_IP6 = 6 };

/* The NEED_* of a checked rule. */
unsigned rule_need(const struct flt_rule *r);

/* flt_rule_match() with the rule's NEED_* computed once by the caller. */
bool rule_match_need(const struct flt_rule *r, unsigned need,
		     const struct flt_pkt *p);

/* ---- conntrack.c -------------------------------------------------------- */

/* Timeout classes; each has its own expiry list, ordered by expiry. */
enum { CT_TCP_EST, CT_TCP_CLOSING, CT_UDP, CT_OTHER, CT_NCLASS };

#define CT_NONE UINT32_MAX

/*
 * A flow as its first allowed packet saw it.  ICMP echo uses sport = the
 * echo identifier and dport = 0.  40 bytes, no padding, so it can be
 * hashed and compared as bytes.
 */
struct ct_key {
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	uint16_t vlan;
	uint8_t ipver;
	uint8_t proto;
};

struct ct_entry {
	struct ct_key key;
	uint64_t expires;    /* ns; expired when now >= expires */
	uint32_t hash;
	uint32_t hnext;      /* next in bucket chain, or in the free list */
	uint32_t prev, next; /* neighbours in the expiry list of its class */
	uint8_t cls;         /* CT_* class, or CT_FREE */
};

struct ct_list {
	uint32_t head, tail; /* head expires first */
};

struct ct {
	struct ct_entry *e;      /* capacity entries */
	uint32_t *bucket;        /* nbucket chain heads */
	uint32_t cap;
	uint32_t bmask;          /* nbucket - 1, nbucket a power of two */
	uint32_t free_head;
	uint32_t used;
	struct ct_list list[CT_NCLASS];
	uint64_t timeout[CT_NCLASS];   /* ns */
	uint64_t key[2];
	uint64_t created, expired, full;
};

/* Allocate a table of cap flows.  0 or -ENOMEM. */
int ct_init(struct ct *ct, uint32_t cap, const uint64_t timeout_ns[CT_NCLASS],
	    const uint64_t key[2]);
void ct_fini(struct ct *ct);

/* Is p a reply to a live tracked flow?  If so, refresh that flow. */
bool ct_reply(struct ct *ct, const struct flt_pkt *p, uint64_t now);

/* p was allowed by a rule: record its flow or refresh it. */
void ct_forward(struct ct *ct, const struct flt_pkt *p, uint64_t now);

/* Remove at most budget expired flows (keeps ct_entries honest). */
void ct_expire(struct ct *ct, uint64_t now, unsigned budget);

/* 0 or -EUCLEAN; see flt_selfcheck(). */
int ct_check(const struct ct *ct);

#endif
