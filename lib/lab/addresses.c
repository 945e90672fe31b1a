/* SPDX-License-Identifier: MIT */
/*
 * addresses.c - MACs and IPs: the [vm] values, then in stage 2 their
 * interfaces, their uniqueness and the MACs derived for the rest.
 */
#include "internal.h"
#include "vswitch.h"

#include <arpa/inet.h>  /* inet_pton/inet_ntop: string conversions only */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const lp_field_key[] = { "mac", "ip", "ip6" };
const char *const lp_field_what[] = { "MAC", "IP", "IPv6" };

int lp_parse_mac(struct parser *ps, const char *s, uint8_t mac[6])
{
	static const uint8_t zero[6];
	if (!vsw_mac_parse(s, strlen(s), mac))
		return fail(ps, "bad MAC \"%s\"", s);
	if (!memcmp(mac, zero, 6))
		return fail(ps, "all-zero MAC \"%s\"", s);
	if (mac[0] & 1)
		return fail(ps, "multicast MAC \"%s\"", s);
	return 0;
}

int lp_parse_ip(struct parser *ps, const char *s, int af, uint8_t *addr,
		unsigned *prefix)
{
	const char *what = af == AF_INET ? "IP" : "IPv6";
	unsigned max = af == AF_INET ? 32 : 128;
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : 0;
	if (!slash || n >= sizeof(buf))
		goto bad;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(af, buf, addr) != 1)
		goto bad;
	/* inet_pton refuses "010." (octal or decimal?); refuse "/024" alike */
	if (slash[1] == '0' && slash[2])
		return fail(ps, "bad %s \"%s\" (leading zero in prefix)", what, s);
	if (!lp_parse_uint(slash + 1, 1, max, prefix))
		return fail(ps, "bad %s \"%s\" (prefix must be 1-%u)", what, s, max);
	if (af == AF_INET) {
		uint32_t a = (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 |
			     (uint32_t)addr[2] << 8 | addr[3];
		uint32_t host = *prefix == 32 ? 0 : 0xffffffffu >> *prefix;
		if (addr[0] == 0 || addr[0] == 127 || addr[0] >= 224)
			goto not_host;
		if (*prefix <= 30 && (a & host) == 0)
			return fail(ps, "bad IP \"%s\" (a network address)", s);
		if (*prefix <= 30 && (a & host) == host)
			return fail(ps, "bad IP \"%s\" (a broadcast address)", s);
	} else {
		static const uint8_t zero[16];
		if (addr[0] == 0xff || (!memcmp(addr, zero, 15) && addr[15] <= 1))
			goto not_host;
	}
	return 0;
bad:
	return fail(ps, "bad %s \"%s\" (expected %s/PREFIX)", what, s,
		    af == AF_INET ? "a.b.c.d" : "ADDRESS");
not_host:
	return fail(ps, "bad %s \"%s\" (not a unicast host address)", what, s);
}

static void get_addr(const struct lab_iface *it, enum field f, uint8_t a[16],
		     unsigned *prefix)
{
	memset(a, 0, 16);
	*prefix = 0;
	if (f == F_MAC) {
		memcpy(a, it->mac, 6);
	} else if (f == F_IP4) {
		for (int i = 0; i < 4; i++)
			a[i] = (uint8_t)(it->ip4 >> (24 - 8 * i));
		*prefix = it->prefix4;
	} else {
		memcpy(a, it->ip6, 16);
		*prefix = it->prefix6;
	}
}

static unsigned *addr_line(struct lab_iface *it, enum field f)
{
	return f == F_MAC ? &it->mac_line : f == F_IP4 ? &it->ip4_line : &it->ip6_line;
}

/* Put each [vm] address on its interface: plain keys on the first one,
 * ".TOPOLOGY" keys on the one in that topology. */
int lp_apply_keys(struct parser *ps)
{
	struct lab *lab = ps->lab;
	for (unsigned i = 0; i < ps->n_keys; i++) {
		const struct addr_key *k = &ps->keys[i];
		const char *key = lp_field_key[k->field];
		struct lab_node *nd = &lab->nodes[k->node];
		int ifc = 0;
		if (!k->topo[0] && !nd->n_ifaces)
			return lp_fail_at(ps, k->line, "%s is in no topology, so \"%s\" has no interface",
				       nd->name, key);
		if (k->topo[0]) {
			int t = lab_topology_find(lab, k->topo);
			if (t < 0)
				return lp_fail_at(ps, k->line, "unknown topology \"%s\" in \"%s.%s\"",
					       k->topo, key, k->topo);
			if ((ifc = lab_iface_find(nd, (unsigned)t)) < 0)
				return lp_fail_at(ps, k->line, "%s is not in topology %s",
					       nd->name, k->topo);
		}
		struct lab_iface *it = &nd->ifaces[ifc];
		unsigned *line = addr_line(it, k->field);
		uint8_t cur[16];
		unsigned prefix;
		get_addr(it, k->field, cur, &prefix);
		if (*line && (memcmp(cur, k->addr, 16) || prefix != k->prefix))
			return lp_fail_at(ps, k->line, "conflicting %s for %s (first set at line %u)",
				       lp_field_what[k->field], it->name, *line);
		if (*line)
			continue;       /* the same value twice ("mac" and "mac.lan") */
		*line = k->line;
		if (k->field == F_MAC) {
			memcpy(it->mac, k->addr, 6);
		} else if (k->field == F_IP4) {
			it->has_ip4 = true;
			it->ip4 = (uint32_t)k->addr[0] << 24 | (uint32_t)k->addr[1] << 16 |
				  (uint32_t)k->addr[2] << 8 | k->addr[3];
			it->prefix4 = k->prefix;
		} else {
			it->has_ip6 = true;
			memcpy(it->ip6, k->addr, 16);
			it->prefix6 = k->prefix;
		}
	}
	return 0;
}

struct addr_item {
	enum field field;
	unsigned topo, line;
	uint8_t addr[16];
};

/* Equal addresses adjacent, by line; IPs only clash within a topology. */
static int item_cmp(const void *x, const void *y)
{
	const struct addr_item *a = x, *b = y;
	if (a->field != b->field)
		return a->field < b->field ? -1 : 1;
	int c = memcmp(a->addr, b->addr, 16);
	if (c)
		return c;
	if (a->field != F_MAC && a->topo != b->topo)
		return a->topo < b->topo ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

/* Explicit MACs are unique in the lab (each vswitch keys on them), IPs in
 * each topology.  Reported at the earliest line that repeats one. */
int lp_check_unique(struct parser *ps)
{
	const struct lab *lab = ps->lab;
	size_t n = 0, total = 0;
	for (unsigned i = 0; i < lab->n_nodes; i++)
		total += lab->nodes[i].n_ifaces;
	struct addr_item *items = malloc(3 * total * sizeof(*items) + 1);
	if (!items)
		return lp_nomem(ps);
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		for (unsigned j = 0; j < lab->nodes[i].n_ifaces; j++) {
			struct lab_iface *it = &lab->nodes[i].ifaces[j];
			for (int f = F_MAC; f <= F_IP6; f++) {
				struct addr_item *m = &items[n];
				if (!(m->line = *addr_line(it, (enum field)f)))
					continue;
				m->field = (enum field)f;
				m->topo = it->topology;
				get_addr(it, m->field, m->addr, &(unsigned){ 0 });
				n++;
			}
		}
	}
	qsort(items, n, sizeof(*items), item_cmp);
	const struct addr_item *dup = NULL;
	for (size_t i = 1; i < n; i++) {
		const struct addr_item *a = &items[i - 1], *b = &items[i];
		if (a->field == b->field && !memcmp(a->addr, b->addr, 16) &&
		    (a->field == F_MAC || a->topo == b->topo) &&
		    (!dup || b->line < dup[0].line))
			dup = b;
	}
	if (dup) {
		const struct addr_item *first = dup - 1;
		char text[INET6_ADDRSTRLEN], where[LAB_NAME_MAX + 16] = "";
		if (dup->field == F_MAC)
			lab_mac_format(dup->addr, text);
		else
			inet_ntop(dup->field == F_IP4 ? AF_INET : AF_INET6, dup->addr,
				  text, sizeof(text));
		if (first->topo == dup->topo)
			snprintf(where, sizeof(where), " in topology %s",
				 lab->topologies[dup->topo].name);
		lp_fail_at(ps, dup->line, "duplicate %s %s%s (first at line %u)",
			lp_field_what[dup->field], text, where, first->line);
	}
	free(items);
	return ps->rc;
}

/* Do a and b (network order) agree on their first bits bits? */
static bool same_prefix(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, whole))
		return false;
	return !rest || !((a[whole] ^ b[whole]) & (uint8_t)(0xff00u >> rest));
}

/* Two interfaces of one guest in one subnet (one's prefix holds the other's
 * address) give the guest two routes to it, and the kernel uses one: the
 * other interface's peers are unreachable.  Reported at the earliest line
 * that makes such a pair, naming both interfaces and the wider subnet. */
int lp_check_subnets(struct parser *ps)
{
	const struct lab *lab = ps->lab;
	struct {
		const char *node;
		struct lab_iface *later, *earlier;
		enum field f;
		unsigned line;          /* the later one's; 0 = none found */
	} bad = { .line = 0 };
	for (unsigned n = 0; n < lab->n_nodes; n++) {
		const struct lab_node *nd = &lab->nodes[n];
		for (unsigned i = 0; i < nd->n_ifaces; i++)
			for (unsigned j = i + 1; j < nd->n_ifaces; j++)
				for (int f = F_IP4; f <= F_IP6; f++) {
					struct lab_iface *a = &nd->ifaces[i], *b = &nd->ifaces[j];
					unsigned la = *addr_line(a, (enum field)f);
					unsigned lb = *addr_line(b, (enum field)f);
					uint8_t x[16], y[16];
					unsigned px, py;
					if (!la || !lb)
						continue;
					get_addr(a, (enum field)f, x, &px);
					get_addr(b, (enum field)f, y, &py);
					if (!same_prefix(x, y, px < py ? px : py) ||
					    (bad.line && (la > lb ? la : lb) >= bad.line))
						continue;
					bad.node = nd->name;
					bad.later = la > lb ? a : b;
					bad.earlier = la > lb ? b : a;
					bad.f = (enum field)f;
					bad.line = la > lb ? la : lb;
				}
	}
	if (!bad.line)
		return 0;
	uint8_t net[16], other[16];
	unsigned prefix, p2;
	get_addr(bad.later, bad.f, net, &prefix);
	get_addr(bad.earlier, bad.f, other, &p2);
	if (p2 < prefix) {
		memcpy(net, other, 16);
		prefix = p2;
	}
	for (unsigned b = prefix; b < 128; b++)         /* the network address */
		net[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
	char text[INET6_ADDRSTRLEN];
	inet_ntop(bad.f == F_IP4 ? AF_INET : AF_INET6, net, text, sizeof(text));
	return lp_fail_at(ps, bad.line,
			  "%s's %s and %s (line %u) are both in subnet %s/%u (one would be unreachable)",
			  bad.node, bad.later->name, bad.earlier->name,
			  *addr_line(bad.earlier, bad.f), text, prefix);
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
	do {    /* the NUL too, as a separator */
		h ^= (uint8_t)*s;
		h *= 0x100000001b3u;
	} while (*s++);
	return h;
}

static bool mac_taken(uint8_t (*taken)[6], size_t n, const uint8_t mac[6])
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(taken[i], mac, 6))
			return true;
	return false;
}

/* A guest interface without a MAC gets 02:xx:xx:xx:xx:xx (locally
 * administered, unicast) from a hash of lab, guest and topology names;
 * while that clashes with a MAC already taken, it steps to the next value.
 * Explicit MACs are taken first, so they win whatever the file order. */
int lp_derive_macs(struct parser *ps)
{
	struct lab *lab = ps->lab;
	size_t n = 0, total = 0;
	for (unsigned i = 0; i < lab->n_nodes; i++)
		total += lab->nodes[i].n_ifaces;
	uint8_t (*taken)[6] = malloc(total * sizeof(*taken) + 1);
	if (!taken)
		return lp_nomem(ps);
	for (unsigned i = 0; i < lab->n_nodes; i++)
		for (unsigned j = 0; j < lab->nodes[i].n_ifaces; j++)
			if (lab->nodes[i].ifaces[j].mac_line)
				memcpy(taken[n++], lab->nodes[i].ifaces[j].mac, 6);
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct lab_node *nd = &lab->nodes[i];
		if (nd->kind != LAB_GUEST)
			continue;
		for (unsigned j = 0; j < nd->n_ifaces; j++) {
			struct lab_iface *it = &nd->ifaces[j];
			if (it->mac_line)
				continue;
			uint64_t h = fnv1a(0xcbf29ce484222325u, lab->name);
			h = fnv1a(h, nd->name);
			h = fnv1a(h, lab->topologies[it->topology].name);
			uint64_t v = (h ^ h >> 40) & 0xffffffffffu;
			for (;; v = (v + 1) & 0xffffffffffu) {
				for (int b = 0; b < 5; b++)
					it->mac[1 + b] = (uint8_t)(v >> (32 - 8 * b));
				it->mac[0] = 0x02;
				if (!mac_taken(taken, n, it->mac))
					break;
			}
			memcpy(taken[n++], it->mac, 6);
		}
	}
	free(taken);
	return 0;
}
