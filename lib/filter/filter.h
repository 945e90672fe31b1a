/* SPDX-License-Identifier: MIT */
/*
 * filter.h - the filter node's pure logic: an Ethernet frame parser, a small
 * rule language, first-match rule evaluation with counters, and an optional
 * bounded connection tracker that admits reply traffic.
 *
 * Contract:
 *  - No system calls, no printing, no clock: the caller passes `now` in
 *    nanoseconds of a monotonic clock.  If `now` goes backwards, expiry
 *    becomes approximate but nothing else breaks.
 *  - Memory is allocated only by flt_new() (rule copy, counters, and the
 *    fixed-size flow table); flt_decide() never allocates or blocks.
 *  - Frames are untrusted.  flt_parse() never reads outside
 *    [frame, frame + len) and rejects anything truncated or inconsistent.
 *  - A struct flt is not thread-safe; give each datapath thread its own, or
 *    serialise calls to flt_decide().
 *  - Errors are negative errno values; functions that can fail on user input
 *    also write a one-line message (no trailing newline, no file:line
 *    prefix) into a caller buffer, which may be NULL.
 *
 * The rule grammar and the stateful semantics are described in
 * lib/filter/README.md; the summary is next to flt_rule_parse() below.
 */
#ifndef VQNET_FILTER_H
#define VQNET_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- frames ------------------------------------------------------------- */

#define FLT_ETH_IP4 0x0800u
#define FLT_ETH_ARP 0x0806u
#define FLT_ETH_VLAN 0x8100u   /* 802.1Q tag */
#define FLT_ETH_IP6 0x86ddu
#define FLT_ETH_QINQ 0x88a8u   /* 802.1ad service tag */

#define FLT_PROTO_ICMP 1u
#define FLT_PROTO_TCP 6u
#define FLT_PROTO_UDP 17u
#define FLT_PROTO_ICMP6 58u

#define FLT_TCP_FIN 0x01u
#define FLT_TCP_SYN 0x02u
#define FLT_TCP_RST 0x04u
#define FLT_TCP_ACK 0x10u

#define FLT_VLAN_TAGS_MAX 2u   /* more tags: -ELOOP */
#define FLT_IP6_EXT_MAX 8u     /* more IPv6 extension headers: -ELOOP */

/*
 * One parsed frame.  Filled by flt_parse(); every field not set by the
 * layers present is zero.  Multi-byte values are in host order.
 */
struct flt_pkt {
	uint8_t dst_mac[6];
	uint8_t src_mac[6];
	uint16_t ethertype;   /* after the VLAN tags */
	uint16_t vlan;        /* outer VID; 0 = untagged or priority-tagged */
	uint8_t vlan_tags;    /* 0..FLT_VLAN_TAGS_MAX */
	uint8_t ipver;        /* 4 or 6; 0 when not IP (ARP, others) */
	uint8_t proto;        /* IPv4 protocol, or the IPv6 header that follows
	                       * the extension headers walked (ESP 50 and
	                       * no-next-header 59 end the walk) */
	uint8_t ip6_ext;      /* IPv6 extension headers walked */
	bool frag;            /* non-first fragment: no L4 header, no ports */
	bool l4;              /* TCP/UDP ports or ICMP fields below are valid */
	uint8_t src_ip[16];   /* IPv4 uses the first 4 bytes, the rest is 0 */
	uint8_t dst_ip[16];
	uint16_t sport, dport;         /* TCP, UDP */
	uint8_t tcp_flags;             /* FLT_TCP_* */
	uint8_t icmp_type, icmp_code;  /* ICMP (IPv4), ICMPv6 */
	uint16_t icmp_id;              /* identifier of echo request/reply */
	size_t l3_off;        /* offset of the ARP/IP header (or payload) */
	size_t l4_off;        /* offset of the L4 header when l4, else 0 */
};

/*
 * Parse one Ethernet II frame: up to two VLAN tags (0x8100, 0x88a8), then
 * ARP, IPv4 or IPv6 (walking hop-by-hop, routing, fragment, destination
 * options and AH headers), then TCP, UDP, ICMP or ICMPv6.  Other EtherTypes
 * and other IP protocols are accepted with only the outer fields filled.
 * Trailing bytes after the IP packet (Ethernet padding) are ignored.
 *
 * Returns 0, -EBADMSG for a truncated or inconsistent frame (runt, bad IP
 * version or lengths, L4 header cut short, hop-by-hop not first), -ELOOP for
 * more than FLT_VLAN_TAGS_MAX tags or FLT_IP6_EXT_MAX extension headers, or
 * -EINVAL for NULL arguments.  On error `out` may hold the outer layers
 * parsed before the fault; do not use it.
 */
int flt_parse(const uint8_t *frame, size_t len, struct flt_pkt *out);

/* ---- rules -------------------------------------------------------------- */

enum flt_verdict {
	FLT_DROP = 0,   /* zero, so a zeroed config fails closed */
	FLT_ALLOW = 1,
};

/* Which matches a rule has (struct flt_rule.match). */
enum {
	FLT_M_ETHERTYPE = 1u << 0,  /* ethertype, arp, ip, ip4, ip6 */
	FLT_M_VLAN = 1u << 1,       /* vlan ID | vlan none */
	FLT_M_SRC_MAC = 1u << 2,
	FLT_M_DST_MAC = 1u << 3,
	FLT_M_SRC = 1u << 4,        /* src PREFIX */
	FLT_M_DST = 1u << 5,        /* dst PREFIX */
	FLT_M_PROTO = 1u << 6,      /* proto, tcp, udp, icmp, icmp6 */
	FLT_M_SPORT = 1u << 7,
	FLT_M_DPORT = 1u << 8,
	FLT_M_ICMP_TYPE = 1u << 9,
	FLT_M_ND = 1u << 10,        /* ICMPv6 types 133..137 */
	FLT_M_FRAG = 1u << 11,      /* non-first IP fragment */
	FLT_M_ALL = (1u << 12) - 1,
};

struct flt_prefix {
	uint8_t ipver;     /* 4 or 6 */
	uint8_t len;       /* 0..32 or 0..128 */
	uint8_t addr[16];  /* IPv4 in the first 4 bytes; host bits zero */
};

struct flt_port_range {
	uint16_t lo, hi;   /* inclusive, lo <= hi */
};

/*
 * A rule: an action and the matches it has.  Fields of matches not in
 * `match` are ignored (flt_rule_parse zeroes them).  Only explicit matches
 * are stored; what they imply (an IPv4 prefix implies IPv4, `nd` implies
 * ICMPv6, ...) is derived when the rule is checked and matched.
 */
struct flt_rule {
	enum flt_verdict action;
	uint32_t match;               /* FLT_M_* */
	uint16_t ethertype;           /* >= 0x0600, not a VLAN TPID */
	uint16_t vlan;                /* 1..4094, or 0 for `vlan none` */
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
	struct flt_prefix src, dst;
	uint8_t proto;
	struct flt_port_range sport, dport;
	uint8_t icmp_type;
};

#define FLT_ERR_MAX 128        /* enough for any message of this module */
#define FLT_RULE_TEXT_MAX 256  /* enough for any flt_rule_format() output */

/*
 * Parse one rule from one line of text:
 *
 *   rule   = ACTION *MATCH [ "#" comment ]
 *   ACTION = allow | drop
 *   MATCH  = arp | ip | ip4 | ip6 | ethertype (0xNNNN | arp | ip | ip6)
 *          | vlan (1..4094 | none)
 *          | src-mac MAC | dst-mac (MAC | broadcast)
 *          | src PREFIX | dst PREFIX          (a.b.c.d[/n], x:y::z[/n])
 *          | proto (tcp | udp | icmp | icmp6 | 0..255) | tcp | udp | icmp | icmp6
 *          | sport PORTS | dport PORTS       (N or N-M; needs tcp or udp)
 *          | icmp-type 0..255                (needs icmp or icmp6)
 *          | nd                              (ICMPv6 types 133..137)
 *          | frag                            (non-first IP fragments)
 *
 * Tokens are separated by blanks; matches may come in any order; a rule
 * matches a frame when all its matches hold.  Each match kind may appear
 * once, and matches that contradict each other (an IPv4 prefix with `ip6`,
 * `dport` without tcp/udp, `frag` with ports ...) are errors.
 *
 * Returns 0, -ENODATA for a blank or comment-only line ("empty rule"), or
 * -EINVAL with a message in err that quotes the offending token, e.g.
 *   bad port '70000' (0-65535 or N-M)
 *   'src 2001:db8::/32' conflicts with 'ip'
 * On error `out` is left all zero.
 */
int flt_rule_parse(const char *text, struct flt_rule *out, char *err,
		   size_t errlen);

/*
 * Validate a rule built in code (flt_rule_parse output always passes).
 * Returns 0 or -EINVAL with a message naming the match in canonical text.
 */
int flt_rule_check(const struct flt_rule *r, char *err, size_t errlen);

/*
 * Canonical text of a checked rule: matches in a fixed order, aliases
 * folded (`ip4`, `ethertype ip`, `ethertype 0x0800` -> `ip`; `proto tcp` ->
 * `tcp`), lower-case MACs, RFC 5952 IPv6.  flt_rule_parse() of the result
 * gives an equal rule.  Returns the length written (excluding the NUL),
 * -ENOSPC if buf is too small (buf then holds a truncated, NUL-terminated
 * prefix), or -EINVAL for a rule that fails flt_rule_check().
 */
int flt_rule_format(const struct flt_rule *r, char *buf, size_t len);

/* Same action and same matches (fields of absent matches are ignored). */
bool flt_rule_equal(const struct flt_rule *a, const struct flt_rule *b);

/* Does the checked rule r match the parsed packet p?  (Stateless.) */
bool flt_rule_match(const struct flt_rule *r, const struct flt_pkt *p);

/* ---- the filter --------------------------------------------------------- */

#define FLT_RULES_MAX 4096u
#define FLT_CT_CAPACITY_DEFAULT 4096u
#define FLT_CT_CAPACITY_MAX (1u << 20)
#define FLT_TCP_ESTABLISHED_DEFAULT_S 3600u
#define FLT_TCP_CLOSING_DEFAULT_S 60u
#define FLT_UDP_DEFAULT_S 60u
#define FLT_OTHER_DEFAULT_S 30u

struct flt_config {
	const struct flt_rule *rules;  /* copied by flt_new() */
	size_t nrules;                 /* <= FLT_RULES_MAX */
	enum flt_verdict policy;       /* when no rule matches */
	bool stateful;                 /* track flows allowed by rules */
	uint32_t ct_capacity;          /* flows; 0 = FLT_CT_CAPACITY_DEFAULT */
	/* Timeouts in seconds since a flow's last packet; 0 = the default. */
	uint32_t tcp_established_s;
	uint32_t tcp_closing_s;        /* after FIN or RST in either direction */
	uint32_t udp_s;
	uint32_t other_s;              /* ICMP echo */
	/* Key of the flow-table hash.  Fill it from getrandom() so peers
	 * cannot aim many flows at one bucket; all zero still works. */
	uint64_t hash_key[2];
};

struct flt;

/*
 * Create a filter.  Checks every rule (flt_rule_check) and the config, and
 * allocates everything the filter will ever use.  Returns NULL with errno
 * EINVAL (bad config or rule) or ENOMEM.
 */
struct flt *flt_new(const struct flt_config *cfg);

/* flt_free(NULL) is a no-op. */
void flt_free(struct flt *f);

/*
 * Decide one frame.  Order:
 *  1. a frame flt_parse() rejects is dropped (counted as malformed);
 *  2. stateful: a frame in the reply direction of a tracked flow is allowed
 *     (counted as a conntrack hit) and refreshes the flow;
 *  3. the first rule that matches decides (counted on that rule); an
 *     `allow` of a TCP, UDP or ICMP echo request frame records or
 *     refreshes its flow;
 *  4. otherwise the default policy decides (counted; never creates flows).
 * A NULL filter drops.
 */
enum flt_verdict flt_decide(struct flt *f, const uint8_t *frame, size_t len,
			    uint64_t now_ns);

/* What decided the last frame flt_decide() saw: the number of the rule
 * that matched (from 0), or one of these. */
enum { FLT_BY_POLICY = -1, FLT_BY_MALFORMED = -2, FLT_BY_STATE = -3 };
int flt_decided_by(const struct flt *f);

struct flt_counter {
	uint64_t frames;
	uint64_t bytes;
};

struct flt_stats {
	struct flt_counter allowed;    /* totals of every verdict */
	struct flt_counter dropped;
	struct flt_counter policy;     /* decided by the default policy */
	struct flt_counter malformed;  /* dropped because flt_parse failed */
	struct flt_counter ct_hit;     /* reply frames admitted by state */
	uint64_t ct_created;           /* flows recorded */
	uint64_t ct_expired;           /* flows removed after their timeout */
	uint64_t ct_full;              /* table full: a live flow was evicted */
	uint32_t ct_entries;           /* flows in the table now */
	uint32_t ct_capacity;          /* 0 when not stateful */
};

void flt_stats(const struct flt *f, struct flt_stats *out);

size_t flt_rule_count(const struct flt *f);

/* The filter's copy of rule i, or NULL when i is out of range. */
const struct flt_rule *flt_rule_get(const struct flt *f, size_t i);

/* Counters of rule i; -ERANGE when i is out of range. */
int flt_rule_stats(const struct flt *f, size_t i, struct flt_counter *out);

/*
 * Walk the internal structures (flow table chains, expiry lists, free list,
 * counts) and check they agree.  O(capacity); for tests and fuzzing.
 * Returns 0 or -EUCLEAN.
 */
int flt_selfcheck(const struct flt *f);

#endif
