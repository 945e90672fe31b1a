/* SPDX-License-Identifier: MIT */
/*
 * test_filter_frames.c - hand-built frames for the filter tests.
 *
 * Not compiled on its own: test_filter.c and test_filter_parse.c #include
 * it (the helpers are static inline so each test uses what it needs).
 *
 * A frame is described by a struct spec with designated initialisers; what
 * is left zero gets a sensible default (MACs, addresses, TTL ...).  The
 * parser checks no checksums, so none are computed.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "filter.h"

#define FRAME_MAX 2048

static const uint8_t MAC_A[6] = { 0x02, 0x00, 0x00, 0x00, 0xaa, 0x01 };
static const uint8_t MAC_B[6] = { 0x02, 0x00, 0x00, 0x00, 0xaa, 0x02 };
static const uint8_t MAC_BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

struct spec {
	const uint8_t *dst_mac, *src_mac;   /* default MAC_B <- MAC_A */
	unsigned vlans;                     /* 0..3 tags */
	uint16_t tpid[3];                   /* default 0x8100 */
	uint16_t vid[3];
	uint16_t ethertype;                 /* when ipver == 0 */
	unsigned ipver;                     /* 4, 6, or 0 for raw ethertype */
	const char *src, *dst;              /* default 10.0.0.1 -> 10.0.0.2 or
	                                     * 2001:db8::1 -> 2001:db8::2 */
	uint8_t proto;
	uint16_t sport, dport;
	uint8_t tcp_flags;                  /* default ACK */
	uint8_t tcp_doff;                   /* words; default 5 */
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id;
	unsigned ip4_opt_words;             /* IPv4 options, 4 bytes each */
	uint16_t frag_off;                  /* fragment offset, 8-byte units */
	bool mf;                            /* more fragments */
	const uint8_t *ext;                 /* IPv6 extension header types */
	unsigned next;
	size_t payload;                     /* L4 payload bytes */
};

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* L4 header (and payload) at b; returns its length. */
static inline size_t build_l4(const struct spec *s, uint8_t *b)
{
	size_t n;

	switch (s->proto) {
	case FLT_PROTO_TCP: {
		unsigned doff = s->tcp_doff ? s->tcp_doff : 5;
		n = doff * 4u;
		memset(b, 0, n);
		put16(b, s->sport);
		put16(b + 2, s->dport);
		b[12] = (uint8_t)(doff << 4);
		b[13] = s->tcp_flags ? s->tcp_flags : FLT_TCP_ACK;
		break;
	}
	case FLT_PROTO_UDP:
		n = 8;
		put16(b, s->sport);
		put16(b + 2, s->dport);
		put16(b + 4, (uint16_t)(8 + s->payload));
		put16(b + 6, 0);
		break;
	case FLT_PROTO_ICMP:
	case FLT_PROTO_ICMP6:
		n = 8;
		memset(b, 0, n);
		b[0] = s->icmp_type;
		b[1] = s->icmp_code;
		put16(b + 4, s->icmp_id);
		put16(b + 6, 1);
		break;
	default:
		n = 0;
		break;
	}
	memset(b + n, 0x5a, s->payload);
	return n + s->payload;
}

/* IPv6 extension headers from s->ext; returns their length. */
static inline size_t build_ext(const struct spec *s, uint8_t *b,
			       uint8_t *first_nh)
{
	size_t off = 0;

	*first_nh = s->next ? s->ext[0] : s->proto;
	for (unsigned i = 0; i < s->next; i++) {
		uint8_t t = s->ext[i];
		uint8_t nh = i + 1 < s->next ? s->ext[i + 1] : s->proto;
		size_t n = t == 51 ? 16 : 8;   /* AH: (len 2 + 2) * 4 */
		uint8_t *h = b + off;

		memset(h, 0, n);
		h[0] = nh;
		if (t == 51)
			h[1] = 2;
		if (t == 44)
			put16(h + 2, (uint16_t)(s->frag_off << 3 | (s->mf ? 1 : 0)));
		off += n;
	}
	return off;
}

/* Build the frame; returns its length (no padding to 60 bytes). */
static inline size_t build(const struct spec *s, uint8_t *buf)
{
	size_t off = 0;

	memcpy(buf, s->dst_mac ? s->dst_mac : MAC_B, 6);
	memcpy(buf + 6, s->src_mac ? s->src_mac : MAC_A, 6);
	off = 12;
	for (unsigned i = 0; i < s->vlans; i++) {
		put16(buf + off, s->tpid[i] ? s->tpid[i] : FLT_ETH_VLAN);
		put16(buf + off + 2, s->vid[i]);
		off += 4;
	}
	uint16_t type = s->ipver == 4   ? FLT_ETH_IP4
			: s->ipver == 6 ? FLT_ETH_IP6
					: s->ethertype;
	put16(buf + off, type);
	off += 2;

	if (s->ipver == 4) {
		uint8_t *h = buf + off;
		size_t ihl = 20 + 4u * s->ip4_opt_words;
		memset(h, 0, ihl);
		h[0] = (uint8_t)(0x40 | ihl / 4);
		put16(h + 6, (uint16_t)((s->mf ? 0x2000 : 0) | s->frag_off));
		h[8] = 64;
		h[9] = s->proto;
		inet_pton(AF_INET, s->src ? s->src : "10.0.0.1", h + 12);
		inet_pton(AF_INET, s->dst ? s->dst : "10.0.0.2", h + 16);
		memset(h + 20, 1, ihl - 20);   /* NOP options */
		size_t l4 = s->frag_off ? (memset(h + ihl, 0x5a, s->payload),
					   s->payload)
					: build_l4(s, h + ihl);
		put16(h + 2, (uint16_t)(ihl + l4));
		off += ihl + l4;
	} else if (s->ipver == 6) {
		uint8_t *h = buf + off;
		uint8_t nh;
		memset(h, 0, 40);
		h[0] = 0x60;
		h[7] = 64;
		inet_pton(AF_INET6, s->src ? s->src : "2001:db8::1", h + 8);
		inet_pton(AF_INET6, s->dst ? s->dst : "2001:db8::2", h + 24);
		size_t ext = build_ext(s, h + 40, &nh);
		h[6] = nh;
		size_t l4 = s->frag_off ? (memset(h + 40 + ext, 0x5a, s->payload),
					   s->payload)
					: build_l4(s, h + 40 + ext);
		put16(h + 4, (uint16_t)(ext + l4));
		off += 40 + ext + l4;
	} else if (type == FLT_ETH_ARP) {
		uint8_t *h = buf + off;
		memset(h, 0, 28);
		put16(h, 1);
		put16(h + 2, FLT_ETH_IP4);
		h[4] = 6;
		h[5] = 4;
		put16(h + 6, 1);
		off += 28;
	} else {
		memset(buf + off, 0, s->payload);
		off += s->payload;
	}
	return off;
}

/* Common shapes */
static inline struct spec tcp4(const char *src, uint16_t sport, const char *dst,
			       uint16_t dport, uint8_t flags)
{
	return (struct spec){ .ipver = 4, .proto = FLT_PROTO_TCP, .src = src,
			      .dst = dst, .sport = sport, .dport = dport,
			      .tcp_flags = flags };
}

static inline struct spec udp4(const char *src, uint16_t sport, const char *dst,
			       uint16_t dport)
{
	return (struct spec){ .ipver = 4, .proto = FLT_PROTO_UDP, .src = src,
			      .dst = dst, .sport = sport, .dport = dport };
}

static inline struct spec tcp6(const char *src, uint16_t sport, const char *dst,
			       uint16_t dport, uint8_t flags)
{
	return (struct spec){ .ipver = 6, .proto = FLT_PROTO_TCP, .src = src,
			      .dst = dst, .sport = sport, .dport = dport,
			      .tcp_flags = flags };
}

static inline struct spec udp6(const char *src, uint16_t sport, const char *dst,
			       uint16_t dport)
{
	return (struct spec){ .ipver = 6, .proto = FLT_PROTO_UDP, .src = src,
			      .dst = dst, .sport = sport, .dport = dport };
}
