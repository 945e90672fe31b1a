/* SPDX-License-Identifier: MIT */
#include "vswitch.h"

#include <errno.h>
#include <string.h>

static uint64_t mac_key(const uint8_t m[6])
{
	return (uint64_t)m[0] << 40 | (uint64_t)m[1] << 32 | (uint64_t)m[2] << 24 |
	       (uint64_t)m[3] << 16 | (uint64_t)m[4] << 8 | m[5];
}

/* Index of the first key >= k. */
static unsigned lower_bound(const struct vsw *sw, uint64_t k)
{
	unsigned lo = 0, hi = sw->n;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (sw->key[mid] < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Port a MAC lives behind, or -1. */
static int lookup(const struct vsw *sw, uint64_t k)
{
	unsigned i = lower_bound(sw, k);
	return i < sw->n && sw->key[i] == k ? sw->port[i] : -1;
}

int vsw_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool vsw_mac_parse(const char *s, size_t len, uint8_t mac[6])
{
	if (len != 17)
		return false;
	for (size_t i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		int hi = vsw_hexval(p[0]), lo = vsw_hexval(p[1]);
		if (hi < 0 || lo < 0 || (i < 5 && p[2] != ':'))
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* virtio 1.x, 5.1.6: the fields of struct virtio_net_hdr_v1 */
#define VNET_F_NEEDS_CSUM 1u
#define VNET_F_DATA_VALID 2u
#define VNET_GSO_NONE 0u
#define VNET_GSO_TCPV4 1u
#define VNET_GSO_TCPV6 4u
#define VNET_GSO_ECN 0x80u

static unsigned le16at(const uint8_t *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

bool vsw_vnet_ok(const uint8_t *frame, size_t len)
{
	if (len < VSW_VNET_HDR + 14)
		return false;
	const uint8_t *hdr = frame, *eth = frame + VSW_VNET_HDR;
	size_t eth_len = len - VSW_VNET_HDR;
	unsigned flags = hdr[0], gso = hdr[1] & ~VNET_GSO_ECN, ecn = hdr[1] & VNET_GSO_ECN;
	unsigned gso_size = le16at(hdr + 4);
	unsigned csum_start = le16at(hdr + 6), csum_offset = le16at(hdr + 8);

	/* the EtherType after up to two VLAN tags, and where L3 starts */
	size_t l3 = 12;
	unsigned type = (unsigned)eth[l3] << 8 | eth[l3 + 1];
	for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2; tags++) {
		l3 += 4;
		if (l3 + 2 > eth_len)
			return false;
		type = (unsigned)eth[l3] << 8 | eth[l3 + 1];
	}
	l3 += 2;

	if (flags & ~(VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID))
		return false;
	if (flags & VNET_F_NEEDS_CSUM) {
		size_t min_l4 = l3 + (type == 0x86dd ? 40 : 20);
		if ((csum_offset != 16 && csum_offset != 6) || csum_start < min_l4 ||
		    (size_t)csum_start + csum_offset + 2 > eth_len)
			return false;
	}
	if (gso == VNET_GSO_NONE)
		return !ecn;
	bool v4 = gso == VNET_GSO_TCPV4 && type == 0x0800, v6 = gso == VNET_GSO_TCPV6 && type == 0x86dd;
	return (v4 || v6) && gso_size > 0 && (flags & VNET_F_NEEDS_CSUM) && csum_offset == 16 &&
	       (size_t)csum_start + 20 <= eth_len;
}

void vsw_init(struct vsw *sw, bool bridge, unsigned n_links, uint64_t *key, uint16_t *port,
	      unsigned cap)
{
	*sw = (struct vsw){ .cap = cap, .key = key, .port = port, .bridge = bridge,
			    .n_links = n_links <= VSW_LINKS_MAX ? n_links : VSW_LINKS_MAX };
}

static bool port_valid(const struct vsw *sw, unsigned port)
{
	return port < sw->n_links || (port == VSW_LOCAL && !sw->bridge);
}

int vsw_add(struct vsw *sw, const uint8_t mac[6], unsigned port)
{
	if ((mac[0] & 1) || !port_valid(sw, port))
		return -EINVAL;
	uint64_t k = mac_key(mac);
	unsigned i = lower_bound(sw, k);
	if (i < sw->n && sw->key[i] == k)
		return -EEXIST;
	if (sw->n == sw->cap)
		return -ENOSPC;
	memmove(&sw->key[i + 1], &sw->key[i], (sw->n - i) * sizeof(sw->key[0]));
	memmove(&sw->port[i + 1], &sw->port[i], (sw->n - i) * sizeof(sw->port[0]));
	sw->key[i] = k;
	sw->port[i] = (uint16_t)port;
	sw->n++;
	return 0;
}

int vsw_forward(struct vsw *sw, unsigned in, const uint8_t *frame, size_t len)
{
	if (len < 14) {
		sw->stats.runts++;
		return VSW_DROP;
	}
	if (!port_valid(sw, in) || lookup(sw, mac_key(frame + 6)) != (int)in) {
		sw->stats.spoofed++;
		return VSW_DROP;
	}
	/* a guest's interface takes what comes from a link for itself only */
	bool to_local_only = in != VSW_LOCAL && !sw->bridge;
	if (frame[0] & 1) {   /* broadcast and multicast: the I/G bit */
		/* to ff02::16 (MLDv2 reports) and 224.0.0.22 (IGMPv3 reports) */
		static const uint8_t mld[6] = { 0x33, 0x33, 0, 0, 0, 0x16 };
		static const uint8_t igmp[6] = { 0x01, 0x00, 0x5e, 0, 0, 0x16 };
		if (sw->snooping && (!memcmp(frame, mld, 6) || !memcmp(frame, igmp, 6))) {
			sw->stats.reports++;
			return VSW_DROP;
		}
		return to_local_only ? (int)VSW_LOCAL : VSW_FLOOD;
	}
	int out = lookup(sw, mac_key(frame));
	if (out < 0 || out == (int)in || (to_local_only && out != (int)VSW_LOCAL)) {
		sw->stats.unknown++;
		return VSW_DROP;
	}
	return out;
}
