/* SPDX-License-Identifier: MIT */
/*
 * vmm_stats.h - the counters a vmm publishes to its supervisor: an
 * interface between two programs, so it lives here and not in either.
 *
 * The supervisor creates one memfd per vmm of vmm_stats_bytes() bytes and
 * writes the header; the vmm is the only writer afterwards (relaxed
 * stores).  To the supervisor and the CLI the region is untrusted input (a
 * compromised vmm may write anything): sizes come from the lab, never from
 * the region; counters are only printed; state and error words go through
 * vmm_link_state_name() / vmm_link_error_name(), which accept any value.
 *
 *   [struct vmm_stats][if_stats x n_ifaces][link_stats x n_links]
 *   [rule counters x n_rules]   (filters only)
 */
#ifndef VQNET_VMM_STATS_H
#define VQNET_VMM_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "impair.h"

#define VMM_STATS_MAGIC 0x5354514du /* "MQTS" */

struct vmm_if_stats {
	uint64_t from_guest_frames, from_guest_bytes; /* read from the TAP */
	uint64_t to_guest_frames, to_guest_bytes;     /* written to the TAP */
	/* frames dropped on this interface, by cause */
	uint64_t to_guest_drops;     /* the TAP refused a frame, or is gone */
	uint64_t spoofed;            /* source MAC not the sender's own */
	uint64_t unknown;            /* unicast to no one reachable */
	uint64_t runts;              /* shorter than a header, or too long */
	uint64_t bad_header;         /* a peer's offload header we refused */
	uint64_t reports;            /* a switch's: membership reports not flooded */
	uint64_t groups;             /* a switch's: IPv6 group memberships it knows now */
	uint64_t queries;            /* a guest's: MLD queries for its groups, after resets */
	uint32_t port_state;         /* enum vmm_port_state */
	int32_t port_error;          /* BROKEN: the guest's violation (-VQ_E*) */
};

/* How an interface's guest port is (vmm_if_stats.port_state). */
enum vmm_port_state {
	VMM_PORT_NONE = 0,   /* no port: a filter's interface, or not yet made */
	VMM_PORT_UP,         /* a TAP, up */
	VMM_PORT_GONE,       /* the TAP was deleted in the guest */
	VMM_PORT_WAITING,    /* vhost-user: no QEMU connected */
	VMM_PORT_CONNECTED,  /* vhost-user: QEMU connected, rings not running */
	VMM_PORT_RUNNING,    /* vhost-user: both rings served */
	VMM_PORT_BROKEN,     /* vhost-user: the guest broke a ring (port_error) */
	VMM_PORT_STATES
};

/* What a link is doing, as its vmm sees it (vmm_link_stats.state). */
enum vmm_link_state {
	VMM_LINK_OK = 0,
	VMM_LINK_FULL,       /* its ring is full and a frame waits for room */
	VMM_LINK_STALLED,    /* a frame waited too long: frames for it are dropped
				when its ring is full, until the peer has
				returned everything it was given */
	VMM_LINK_BROKEN,     /* the peer broke the protocol (see error), or did not
				answer a reset in time; a reset may still bring it
				back, unless it forced too many (VQ_ERESETS) */
	VMM_LINK_RESETTING,  /* being reset with the peer (lib/virtqueue link.h):
				frames for it are dropped (drop_broken) */
	VMM_LINK_STATES
};

struct vmm_link_stats {
	uint64_t tx_frames, tx_bytes;
	uint64_t rx_frames, rx_bytes;
	uint64_t kicks;              /* doorbells rung for the peer */
	/* frames for this link we dropped, by cause */
	uint64_t drop_full;          /* a broadcast or multicast frame found its ring
					full (those are never held) */
	uint64_t drop_stalled;       /* held too long, or for a stalled link */
	uint64_t drop_broken;        /* the link is broken or being reset */
	int64_t error;               /* last peer violation (-VQ_E*), or why the link
					is down; 0 = healthy */
	uint32_t state;              /* enum vmm_link_state */
	uint32_t down;               /* the supervisor cut it (link down, partition, stop) */
	uint64_t drop_down;          /* frames for it dropped while it was cut */
	/* its impairments (lib/impair: frames this end sends) */
	uint64_t imp_loss, imp_queue, imp_mtu;   /* dropped: loss model, rate queue, MTU */
	uint64_t imp_duplicated, imp_reordered, imp_corrupted, imp_delayed;
	uint64_t imp_overflow;       /* dropped: the delay queue was full */
	/* link resets (both vmms of a link count the ones they took part in;
	 * these go on across restarts of this vmm) */
	uint64_t resets;             /* times the link came back after a reset */
	uint64_t violations;         /* peer violations that took it down */
	uint32_t reset_why;          /* VQ_WHY_* of the last reset */
	uint32_t reserved;
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
	uint64_t wakeups;            /* event-loop iterations: a spinning vmm shows;
					an idle one wakes only for doorbells,
					signals, held frames' deadlines and, after
					a full batch of 32, once more */
	uint64_t trims;              /* link pools handed back after a burst */
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

/*
 * What the supervisor tells a running vmm, on a pipe only it writes (one
 * message per write, smaller than PIPE_BUF, so never torn).  link is the
 * lab's link index; the message concerns the frames this vmm sends on it.
 * The vmm checks every field anyway.
 */
#define VMM_CTL_MAGIC 0x4c54434du /* "MCTL" */
enum { VMM_CTL_IMPAIR = 1, VMM_CTL_DOWN = 2,
       VMM_CTL_CAPTURE = 3 /* follow what the capture region says now (lib/capture) */ };

struct vmm_ctl {
	uint32_t magic;
	uint32_t type;
	uint32_t link;
	uint32_t down;               /* VMM_CTL_DOWN: 1 cut, 0 restored */
	struct imp_params params;    /* VMM_CTL_IMPAIR: the whole set, checked again */
};

/* "ok", "full", "stalled", "broken", "resetting", or NULL for a value no vmm should
 * write (the caller says so rather than trusting it). */
const char *vmm_link_state_name(uint64_t state);

/* "tap", "gone", "waiting", "negotiating", "running", "broken", or NULL
 * for a value no vmm writes. */
const char *vmm_port_state_name(uint64_t state);

/* The sentence for a link's error word: NULL for 0 (healthy), vq_strerror's
 * text for a real VQ_E* code, and "invalid error value" for anything else. */
const char *vmm_link_error_name(int64_t error);

#endif
