/* SPDX-License-Identifier: MIT */
/*
 * stats.h - counters a vmm publishes to its supervisor.
 *
 * The supervisor creates one memfd per vmm of vmm_stats_bytes() bytes; the
 * vmm is its only writer (relaxed stores, single writer), the supervisor
 * reads it for `vqnet status`.  The supervisor trusts nothing in it beyond
 * printing the numbers: counts are re-checked against the lab it holds.
 *
 *   [struct vmm_stats][if_stats x n_ifaces][link_stats x n_links]
 *   [rule counters x n_rules]   (filters only)
 */
#ifndef VQNET_VMM_STATS_H
#define VQNET_VMM_STATS_H

#include <stddef.h>
#include <stdint.h>

#define VMM_STATS_MAGIC 0x5354514du /* "MQTS" */

struct vmm_if_stats {
	uint64_t from_guest_frames, from_guest_bytes; /* read from the TAP */
	uint64_t to_guest_frames, to_guest_bytes;     /* written to the TAP */
	uint64_t to_guest_drops;     /* the TAP refused a frame */
	uint64_t spoofed;            /* source MAC not the sender's own */
	uint64_t unknown;            /* unicast to no one reachable */
	uint64_t runts;
	uint64_t stalled;            /* dropped after a link stayed full */
	uint64_t bad_header;         /* a peer's offload header we refused */
};

struct vmm_link_stats {
	uint64_t tx_frames, tx_bytes;
	uint64_t rx_frames, rx_bytes;
	uint64_t kicks;              /* doorbells rung for the peer */
	int64_t error;               /* first peer violation (-VQ_E*), 0 = healthy */
};

struct vmm_counter {
	uint64_t frames, bytes;
};

/* Filter totals (flt_stats), then one vmm_counter per rule. */
struct vmm_filter_stats {
	struct vmm_counter allowed, dropped, policy, malformed, ct_hit;
	uint64_t ct_created, ct_expired, ct_full, ct_entries, ct_capacity;
};

struct vmm_stats {
	uint32_t magic;
	uint32_t n_ifaces, n_links, n_rules;
	uint64_t pid;
	struct vmm_filter_stats filter;
};

static inline size_t vmm_stats_bytes(unsigned n_ifaces, unsigned n_links, unsigned n_rules)
{
	return sizeof(struct vmm_stats) + n_ifaces * sizeof(struct vmm_if_stats) +
	       n_links * sizeof(struct vmm_link_stats) + n_rules * sizeof(struct vmm_counter);
}

static inline struct vmm_if_stats *vmm_stats_if(struct vmm_stats *s, unsigned i)
{
	return (struct vmm_if_stats *)(s + 1) + i;
}

static inline struct vmm_link_stats *vmm_stats_link(struct vmm_stats *s, unsigned n_ifaces, unsigned i)
{
	return (struct vmm_link_stats *)(vmm_stats_if(s, n_ifaces)) + i;
}

static inline struct vmm_counter *vmm_stats_rule(struct vmm_stats *s, unsigned n_ifaces,
						 unsigned n_links, unsigned i)
{
	return (struct vmm_counter *)(vmm_stats_link(s, n_ifaces, n_links)) + i;
}

#endif
