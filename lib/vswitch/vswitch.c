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

/* ---- MLD snooping: who is in which IPv6 group ---------------------------- */

static unsigned be16at(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* A group we forward by membership: multicast, of link scope or wider,
 * not all-nodes (ff02::1, which no one reports). */
static bool group_routed(const uint8_t g[16])
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
	return g[0] == 0xff && (g[1] & 0x0f) >= 2 && memcmp(g, all_nodes, 16);
}

/* Index of the first membership >= (g, port). */
static unsigned mem_lower(const struct vsw *sw, const uint8_t g[16], unsigned port)
{
	unsigned lo = 0, hi = sw->n_mem;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = memcmp(sw->mem[mid].group, g, 16);
		if (c < 0 || (c == 0 && sw->mem[mid].port < port))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool takes_all(const struct vsw *sw, unsigned port)
{
	uint8_t st = sw->joined[port];
	return st == VSW_ASKED || st == VSW_UNHEARD || st == VSW_ALL;
}

/* Drop port's memberships and give it state st (a VSW_ state, or 0). */
static void port_all(struct vsw *sw, unsigned port, uint8_t st)
{
	unsigned k = 0;
	for (unsigned i = 0; i < sw->n_mem; i++)
		if (sw->mem[i].port != port)
			sw->mem[k++] = sw->mem[i];
	sw->n_mem = k;
	if (takes_all(sw, port))
		sw->n_all--;
	sw->joined[port] = st;
	if (takes_all(sw, port))
		sw->n_all++;
}

/* A frame from port: a silent one has spoken (and takes every group's
 * frames until it reports). */
static void spoke(struct vsw *sw, unsigned port)
{
	if (sw->mem && port < sw->n_links && sw->joined[port] == VSW_SILENT) {
		sw->joined[port] = VSW_UNHEARD;
		sw->n_all++;
	}
}

/* join and leave: whether the table changed (each change moves the
 * part of it behind the entry) */
static bool join(struct vsw *sw, unsigned port, const uint8_t g[16])
{
	if (sw->joined[port] == VSW_UNHEARD) {   /* its first report: it is heard */
		sw->joined[port] = 0;
		sw->n_all--;
	}
	if (sw->joined[port] == VSW_ALL || !group_routed(g))
		return false;
	unsigned i = mem_lower(sw, g, port);
	if (i < sw->n_mem && sw->mem[i].port == port && !memcmp(sw->mem[i].group, g, 16))
		return false;
	if (sw->joined[port] >= VSW_GROUPS_PER_PORT || sw->n_mem == sw->cap_mem) {
		port_all(sw, port, VSW_ALL);
		return true;
	}
	memmove(&sw->mem[i + 1], &sw->mem[i], (sw->n_mem - i) * sizeof(sw->mem[0]));
	memcpy(sw->mem[i].group, g, 16);
	sw->mem[i].port = (uint16_t)port;
	sw->n_mem++;
	sw->joined[port]++;
	return true;
}

static bool leave(struct vsw *sw, unsigned port, const uint8_t g[16])
{
	if (sw->joined[port] > VSW_GROUPS_PER_PORT)
		return false;
	unsigned i = mem_lower(sw, g, port);
	if (i == sw->n_mem || sw->mem[i].port != port || memcmp(sw->mem[i].group, g, 16))
		return false;
	memmove(&sw->mem[i], &sw->mem[i + 1], (sw->n_mem - i - 1) * sizeof(sw->mem[0]));
	sw->n_mem--;
	sw->joined[port]--;
	return true;
}

/* An untagged IPv6 frame's ICMPv6 message (*mlen bytes), past hop-by-hop
 * and destination options headers; NULL if it has none. */
static const uint8_t *icmp6_of(const uint8_t *f, size_t len, size_t *mlen)
{
	if (len < 54 || be16at(f + 12) != 0x86dd)
		return NULL;
	size_t left = be16at(f + 18);   /* the payload length */
	if (left > len - 54)
		return NULL;
	const uint8_t *p = f + 54;
	unsigned next = f[20];
	for (int i = 0; i < 4 && (next == 0 || next == 60); i++) {
		if (left < 8 || ((size_t)p[1] + 1) * 8 > left)
			return NULL;
		size_t hl = ((size_t)p[1] + 1) * 8;
		next = p[0];
		p += hl;
		left -= hl;
	}
	if (next != 58 || left < 4)
		return NULL;
	*mlen = left;
	return p;
}

/* An MLDv2 record's bytes: 20, its sources' and its auxiliary data's. */
static size_t record_len(const uint8_t *rec)
{
	return 20 + 16 * (size_t)be16at(rec + 2) + 4 * (size_t)rec[1];
}

/* MLDv2 (RFC 3810, 5.2): records of a type, a length of auxiliary data in
 * 32-bit words, a count of sources, a group, the sources, the data.  In
 * exclude mode, or including some source, the guest is in the group;
 * including none, it has left it. */
static void learn_v2(struct vsw *sw, unsigned port, const uint8_t *m, size_t len)
{
	if (len < 8 || sw->joined[port] == VSW_ALL)   /* it takes all: nothing to learn */
		return;
	unsigned n = be16at(m + 6);
	if (sw->joined[port] == VSW_ASKED) {
		/* changes mean nothing without the state they change: wait
		 * for the answer to the query, which has it all */
		bool state = false;
		size_t off = 8;
		for (unsigned r = 0; r < n && len - off >= 20 && !state; r++) {
			const uint8_t *rec = m + off;
			size_t rl = record_len(rec);
			if (rl > len - off)
				return;
			state = rec[0] == 1 || rec[0] == 2;
			off += rl;
		}
		if (!state)
			return;
		port_all(sw, port, 0);
	}
	size_t off = 8;
	unsigned changes = 0;
	for (unsigned r = 0; r < n && len - off >= 20; r++) {
		const uint8_t *rec = m + off;
		unsigned type = rec[0], nsrc = be16at(rec + 2);
		size_t rl = record_len(rec);
		if (rl > len - off)
			return;
		if (type == 2 || type == 4 || ((type == 1 || type == 3 || type == 5) && nsrc))
			changes += join(sw, port, rec + 4);
		else if ((type == 1 || type == 3) && !nsrc)
			changes += leave(sw, port, rec + 4);
		/* no host in at most VSW_GROUPS_PER_PORT groups changes more in
		 * one report; one that churns (each change moves the table) is
		 * put where reports cost nothing: it takes every group's frames */
		if (changes > VSW_CHANGES_PER_REPORT) {
			port_all(sw, port, VSW_ALL);
			return;
		}
		off += rl;
	}
}

/* An MLD report or done: learn from it (with memberships); true if it was
 * one (not to be flooded). */
static bool mld_report(struct vsw *sw, unsigned port, const uint8_t *f, size_t len)
{
	size_t ml;
	const uint8_t *m = icmp6_of(f, len, &ml);
	if (!m || (m[0] != 131 && m[0] != 132 && m[0] != 143))
		return false;
	if (!sw->mem || port >= sw->n_links)
		return true;
	if (m[0] == 143) {
		learn_v2(sw, port, m, ml);
	} else if (ml >= 24 && m[0] == 131) {   /* MLDv1 (RFC 2710): the group at 8 */
		/* a host in MLDv1 mode answers a query a group at a time, the
		 * others following within the query's delay: its first report
		 * ends the wait (and a done, below, does not) */
		if (sw->joined[port] == VSW_ASKED)
			port_all(sw, port, 0);
		join(sw, port, m + 8);
	} else if (ml >= 24) {
		leave(sw, port, m + 8);
	}
	return true;
}

/* A frame for a group we forward by membership: untagged IPv6, to a
 * routed group, and to the MAC that group maps to (RFC 2464, 7). */
static bool to_group(const uint8_t *f, size_t len)
{
	return len >= 54 && f[0] == 0x33 && f[1] == 0x33 && be16at(f + 12) == 0x86dd &&
	       group_routed(f + 38) && !memcmp(f + 2, f + 38 + 12, 4);
}

void vsw_snoop(struct vsw *sw, struct vsw_member *mem, unsigned cap, uint8_t *joined)
{
	sw->snooping = true;
	sw->mem = mem;
	sw->cap_mem = cap;
	sw->n_mem = 0;
	sw->joined = joined;
	memset(joined, VSW_SILENT, sw->n_links);
	sw->n_all = 0;
}

void vsw_snoop_reset(struct vsw *sw, unsigned port)
{
	if (sw->mem && port < sw->n_links)
		port_all(sw, port, VSW_ASKED);
}

/* The ones' complement sum of len bytes at p (RFC 1071), added to sum. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += be16at(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

size_t vsw_mld_query(uint8_t *frame, size_t cap, unsigned max_resp_ms)
{
	if (cap < VSW_MLD_QUERY_LEN || max_resp_ms > 32767)
		return 0;
	memset(frame, 0, VSW_MLD_QUERY_LEN);   /* the virtio-net header too */
	uint8_t *eth = frame + VSW_VNET_HDR, *ip = eth + 14, *q = ip + 40 + 8;
	static const uint8_t head[] = {
		0x33, 0x33, 0, 0, 0, 1,              /* to ff02::1's MAC */
		0x02, 0, 0, 0, 0, 0,                 /* from the querier's */
		0x86, 0xdd,
		0x60, 0, 0, 0, 0, 8 + 28, 0, 1,      /* IPv6; hop-by-hop next; hop limit 1 */
		0xfe, 0x80, [33] = 0xff, 0xfe,       /* fe80::ff:fe00:0 */
		[38] = 0xff, 0x02, [53] = 1,         /* ff02::1 */
		58, 0, 5, 2, 0, 0, 1, 0,             /* router alert: MLD; PadN */
	};
	memcpy(eth, head, sizeof(head));
	q[0] = 130;                                  /* a query; code 0 */
	q[4] = (uint8_t)(max_resp_ms >> 8);
	q[5] = (uint8_t)max_resp_ms;
	/* general: group :: and no sources; S 0, QRV 2, QQIC 125 s */
	q[24] = 2;
	q[25] = 125;
	/* over the pseudo-header: addresses, length, next header */
	uint32_t sum = csum_add(0, ip + 8, 32) + 28 + 58;
	sum = csum_add(sum, q, 28);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint16_t c = (uint16_t)~sum;
	q[2] = (uint8_t)(c >> 8);
	q[3] = (uint8_t)c;
	return VSW_MLD_QUERY_LEN;
}

unsigned vsw_group_ports(const struct vsw *sw, unsigned in, const uint8_t *frame, size_t len,
			 uint16_t *out)
{
	if (!sw->mem || !to_group(frame, len))
		return 0;
	const uint8_t *g = frame + 38;
	unsigned k = 0;
	for (unsigned i = mem_lower(sw, g, 0); i < sw->n_mem && !memcmp(sw->mem[i].group, g, 16); i++)
		if (sw->mem[i].port != in)
			out[k++] = sw->mem[i].port;
	for (unsigned p = 0; sw->n_all && p < sw->n_links; p++)
		if (p != in && takes_all(sw, p))
			out[k++] = (uint16_t)p;
	return k;
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
	spoke(sw, in);
	/* a guest's interface takes what comes from a link for itself only */
	bool to_local_only = in != VSW_LOCAL && !sw->bridge;
	if (frame[0] & 1) {   /* broadcast and multicast: the I/G bit */
		/* to ff02::16 (MLDv2 reports) and 224.0.0.22 (IGMPv3 reports) */
		static const uint8_t mld[6] = { 0x33, 0x33, 0, 0, 0, 0x16 };
		static const uint8_t igmp[6] = { 0x01, 0x00, 0x5e, 0, 0, 0x16 };
		if (sw->snooping && (mld_report(sw, in, frame, len) || !memcmp(frame, mld, 6) ||
				     !memcmp(frame, igmp, 6))) {
			sw->stats.reports++;
			return VSW_DROP;
		}
		if (sw->mem && to_group(frame, len))
			return VSW_GROUP;
		return to_local_only ? (int)VSW_LOCAL : VSW_FLOOD;
	}
	int out = lookup(sw, mac_key(frame));
	if (out < 0 || out == (int)in || (to_local_only && out != (int)VSW_LOCAL)) {
		sw->stats.unknown++;
		return VSW_DROP;
	}
	return out;
}
