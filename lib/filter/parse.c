/* SPDX-License-Identifier: MIT */
/*
 * parse.c - Ethernet / VLAN / ARP / IPv4 / IPv6 / TCP / UDP / ICMP parser.
 *
 * Each layer gets the frame, its offset and `end`, the first byte past what
 * that layer may use (the frame length, then the IP packet's own length).
 * Invariant: off <= end <= len, so `end - off` is the bytes left and every
 * read is checked against it before it happens.
 */
#include "filter.h"

#include <errno.h>
#include <string.h>

#define ETH_HLEN 14u
#define ARP_HLEN 8u
#define IP4_HLEN 20u
#define IP6_HLEN 40u
#define TCP_HLEN 20u
#define UDP_HLEN 8u
#define ICMP_HLEN 8u     /* type, code, checksum, 4 bytes (id/seq for echo) */
#define IP6_EXT_MIN 8u

/* IPv6 next-header values of the extension headers we walk or stop at */
#define NH_HOPOPTS 0u
#define NH_ROUTING 43u
#define NH_FRAGMENT 44u
#define NH_ESP 50u
#define NH_AH 51u
#define NH_NONE 59u
#define NH_DSTOPTS 60u

#define ICMP_ECHO_REPLY 0u
#define ICMP_ECHO_REQUEST 8u
#define ICMP6_ECHO_REQUEST 128u
#define ICMP6_ECHO_REPLY 129u

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static bool is_echo(const struct flt_pkt *p)
{
	if (p->ipver == 4)
		return p->icmp_type == ICMP_ECHO_REQUEST ||
		       p->icmp_type == ICMP_ECHO_REPLY;
	return p->icmp_type == ICMP6_ECHO_REQUEST ||
	       p->icmp_type == ICMP6_ECHO_REPLY;
}

/*
 * more_frags: the IP packet is the first fragment of a larger datagram, so
 * lengths inside the L4 header describe more than we have.
 */
static int parse_l4(const uint8_t *f, size_t end, size_t off, bool more_frags,
		    struct flt_pkt *p)
{
	const uint8_t *h = f + off;
	size_t left = end - off;

	switch (p->proto) {
	case FLT_PROTO_TCP: {
		if (left < TCP_HLEN)
			return -EBADMSG;
		size_t doff = (size_t)(h[12] >> 4) * 4u;
		if (doff < TCP_HLEN || doff > left)
			return -EBADMSG;
		p->sport = rd16(h);
		p->dport = rd16(h + 2);
		p->tcp_flags = h[13];
		break;
	}
	case FLT_PROTO_UDP: {
		if (left < UDP_HLEN)
			return -EBADMSG;
		size_t ulen = rd16(h + 4);
		if (!more_frags && (ulen < UDP_HLEN || ulen > left))
			return -EBADMSG;
		p->sport = rd16(h);
		p->dport = rd16(h + 2);
		break;
	}
	case FLT_PROTO_ICMP:
	case FLT_PROTO_ICMP6:
		/* ICMP in IPv6 or ICMPv6 in IPv4 is nobody's protocol:
		 * leave it to rules on `proto` alone. */
		if (p->ipver != (p->proto == FLT_PROTO_ICMP ? 4 : 6))
			return 0;
		if (left < ICMP_HLEN)
			return -EBADMSG;
		p->icmp_type = h[0];
		p->icmp_code = h[1];
		if (is_echo(p))
			p->icmp_id = rd16(h + 4);
		break;
	default:
		return 0;
	}
	p->l4 = true;
	p->l4_off = off;
	return 0;
}

static int parse_arp(size_t end, size_t off, const uint8_t *f)
{
	if (end - off < ARP_HLEN)
		return -EBADMSG;
	/* sender and target hardware and protocol addresses */
	size_t addrs = 2u * ((size_t)f[off + 4] + f[off + 5]);
	if (end - off - ARP_HLEN < addrs)
		return -EBADMSG;
	return 0;
}

static int parse_ip4(const uint8_t *f, size_t end, size_t off,
		     struct flt_pkt *p)
{
	const uint8_t *h = f + off;

	if (end - off < IP4_HLEN || h[0] >> 4 != 4)
		return -EBADMSG;
	size_t ihl = (size_t)(h[0] & 0x0f) * 4u;
	size_t total = rd16(h + 2);
	if (ihl < IP4_HLEN || total < ihl || total > end - off)
		return -EBADMSG;
	end = off + total;   /* Ethernet padding after the packet is not ours */

	p->ipver = 4;
	p->proto = h[9];
	memcpy(p->src_ip, h + 12, 4);
	memcpy(p->dst_ip, h + 16, 4);

	uint16_t frag = rd16(h + 6);
	bool more_frags = frag & 0x2000u;
	if (frag & 0x1fffu) {
		p->frag = true;   /* the L4 header is in the first fragment */
		return 0;
	}
	return parse_l4(f, end, off + ihl, more_frags, p);
}

static int parse_ip6(const uint8_t *f, size_t end, size_t off,
		     struct flt_pkt *p)
{
	const uint8_t *h = f + off;

	if (end - off < IP6_HLEN || h[0] >> 4 != 6)
		return -EBADMSG;
	size_t plen = rd16(h + 4);
	if (plen > end - off - IP6_HLEN)
		return -EBADMSG;
	end = off + IP6_HLEN + plen;

	p->ipver = 6;
	memcpy(p->src_ip, h + 8, 16);
	memcpy(p->dst_ip, h + 24, 16);

	uint8_t nh = h[6];
	bool more_frags = false;
	off += IP6_HLEN;
	for (;;) {
		size_t hlen;

		if (nh != NH_HOPOPTS && nh != NH_ROUTING && nh != NH_FRAGMENT &&
		    nh != NH_DSTOPTS && nh != NH_AH)
			break;   /* upper layer, ESP or no-next-header */
		if (p->ip6_ext == FLT_IP6_EXT_MAX)
			return -ELOOP;
		/* RFC 8200 4.3: hop-by-hop only right after the IPv6 header */
		if (nh == NH_HOPOPTS && p->ip6_ext != 0)
			return -EBADMSG;
		if (end - off < IP6_EXT_MIN)
			return -EBADMSG;
		if (nh == NH_FRAGMENT)
			hlen = 8;
		else if (nh == NH_AH)
			hlen = ((size_t)f[off + 1] + 2) * 4u;  /* RFC 4302 */
		else
			hlen = ((size_t)f[off + 1] + 1) * 8u;  /* RFC 8200 */
		if (end - off < hlen)
			return -EBADMSG;
		p->ip6_ext++;
		if (nh == NH_FRAGMENT) {
			uint16_t fo = rd16(f + off + 2);
			if (fo >> 3) {
				p->proto = f[off];
				p->frag = true;
				return 0;
			}
			more_frags = fo & 1u;
		}
		nh = f[off];
		off += hlen;
	}
	p->proto = nh;
	if (nh == NH_ESP || nh == NH_NONE)
		return 0;
	return parse_l4(f, end, off, more_frags, p);
}

int flt_parse(const uint8_t *frame, size_t len, struct flt_pkt *out)
{
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!frame)
		return -EINVAL;
	if (len < ETH_HLEN)
		return -EBADMSG;

	memcpy(out->dst_mac, frame, 6);
	memcpy(out->src_mac, frame + 6, 6);
	uint16_t type = rd16(frame + 12);
	size_t off = ETH_HLEN;
	while (type == FLT_ETH_VLAN || type == FLT_ETH_QINQ) {
		if (out->vlan_tags == FLT_VLAN_TAGS_MAX)
			return -ELOOP;
		if (len - off < 4)
			return -EBADMSG;
		if (out->vlan_tags == 0)
			out->vlan = rd16(frame + off) & 0x0fffu;
		out->vlan_tags++;
		type = rd16(frame + off + 2);
		off += 4;
	}
	out->ethertype = type;
	out->l3_off = off;

	switch (type) {
	case FLT_ETH_ARP:
		return parse_arp(len, off, frame);
	case FLT_ETH_IP4:
		return parse_ip4(frame, len, off, out);
	case FLT_ETH_IP6:
		return parse_ip6(frame, len, off, out);
	default:
		return 0;
	}
}
