/* SPDX-License-Identifier: MIT */
/*
 * addresses.c - MACs and IPs: the [vm] values and [topology] subnets, then
 * in stage 2 their interfaces, the addresses subnets derive, their
 * uniqueness and the MACs derived for the rest.
 */
#include "internal.h"
#include "vswitch.h"

#include <arpa/inet.h>  /* inet_pton/inet_ntop: string conversions only */
#include <limits.h>
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

/* "ADDRESS/PREFIX" with prefix 1..max: the syntax ip and subnet share;
 * what is "IP", "IPv6", "subnet" or "subnet6" in the messages. */
static int parse_prefixed(struct parser *ps, const char *s, int af, const char *what,
			  unsigned max, uint8_t *addr, unsigned *prefix)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : 0;
	if (slash && n < sizeof(buf)) {
		memcpy(buf, s, n);
		buf[n] = '\0';
	}
	if (!slash || n >= sizeof(buf) || inet_pton(af, buf, addr) != 1)
		return fail(ps, "bad %s \"%s\" (expected %s/PREFIX)", what, s,
			    af == AF_INET ? "a.b.c.d" : "ADDRESS");
	/* inet_pton refuses "010." (octal or decimal?); refuse "/024" alike */
	if (slash[1] == '0' && slash[2])
		return fail(ps, "bad %s \"%s\" (leading zero in prefix)", what, s);
	if (!lp_parse_uint(slash + 1, 1, max, prefix))
		return fail(ps, "bad %s \"%s\" (prefix must be 1-%u)", what, s, max);
	return 0;
}

static uint32_t ip4_of(const uint8_t a[4])
{
	return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
}

int lp_parse_ip(struct parser *ps, const char *s, int af, uint8_t *addr,
		unsigned *prefix)
{
	const char *what = af == AF_INET ? "IP" : "IPv6";
	if (parse_prefixed(ps, s, af, what, af == AF_INET ? 32 : 128, addr, prefix))
		return ps->rc;
	if (af == AF_INET) {
		uint32_t a = ip4_of(addr);
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
not_host:
	return fail(ps, "bad %s \"%s\" (not a unicast host address)", what, s);
}

/* addr (network order, 16 bytes) without its host bits */
static void mask_to(uint8_t *addr, unsigned prefix)
{
	for (unsigned b = prefix; b < 128; b++)
		addr[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
}

/* "subnet = 10.0.0.0/16", "subnet6 = fd00::/64": a network address, whose
 * hosts network + 1, + 2 ... the topology's guests get (lp_derive_ips).
 * IPv4 up to /30: a subnet has a network and a broadcast address, and
 * neither is ever given. */
int lp_subnet_key(struct parser *ps, const char *key, const char *value)
{
	struct lab_topology *t = &ps->lab->topologies[ps->cur];
	bool v6 = key[6] == '6';
	int af = v6 ? AF_INET6 : AF_INET;
	unsigned *line = v6 ? &t->subnet6_line : &t->subnet4_line;
	uint8_t a[16] = { 0 }, net[16];
	unsigned prefix = 0;
	if (*line)
		return fail(ps, "duplicate key \"%s\" in %s (first at line %u)", key, ps->label, *line);
	if (parse_prefixed(ps, value, af, key, v6 ? 127 : 30, a, &prefix))
		return ps->rc;
	static const uint8_t zero[16];
	if (v6 ? a[0] == 0xff || !memcmp(a, zero, 16) : a[0] == 0 || a[0] == 127 || a[0] >= 224)
		return fail(ps, "bad %s \"%s\" (not a unicast range)", key, value);
	memcpy(net, a, 16);
	mask_to(net, prefix);      /* an IPv4 one is in a[0..4), the rest zero */
	if (memcmp(net, a, 16)) {
		char text[INET6_ADDRSTRLEN];
		inet_ntop(af, net, text, sizeof(text));
		return fail(ps, "bad %s \"%s\" (host bits set: the network is %s/%u)", key, value,
			    text, prefix);
	}
	*line = ps->line;
	if (v6) {
		memcpy(t->subnet6, a, 16);
		t->prefix6 = prefix;
	} else {
		t->subnet4 = ip4_of(a);
		t->prefix4 = prefix;
	}
	return 0;
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

/* ---- addresses from a topology's subnet ---- */

/* Do a and b (network order) agree on their first bits bits? */
static bool same_prefix(const uint8_t *a, const uint8_t *b, unsigned bits);

/* How many hosts a subnet holds: IPv4 without network and broadcast
 * addresses, IPv6 without the network (subnet-router anycast) address. */
static unsigned subnet_size(unsigned bits, unsigned reserved)
{
	return bits >= 32 ? UINT_MAX : (1u << bits) - reserved;
}

static void ip4_bytes(uint32_t ip, uint8_t a[16])
{
	memset(a, 0, 16);
	for (int i = 0; i < 4; i++)
		a[i] = (uint8_t)(ip >> (24 - 8 * i));
}

/* net + k, in network order */
static void ip6_plus(const uint8_t net[16], unsigned k, uint8_t out[16])
{
	uint64_t carry = k;
	for (int i = 15; i >= 0; i--) {
		carry += net[i];
		out[i] = (uint8_t)carry;
		carry >>= 8;
	}
}

static int too_small(struct parser *ps, unsigned line, const char *key, const char *net,
		     unsigned prefix, unsigned size, const char *topo, unsigned guests)
{
	return lp_fail_at(ps, line, "%s %s/%u has %u address%s, but [topology %s] has %u guests",
			  key, net, prefix, size, size == 1 ? "" : "es", topo, guests);
}

/* A topology whose guests outnumber its subnet's hosts. */
static int check_sizes(struct parser *ps, const unsigned *guests)
{
	const struct lab *lab = ps->lab;
	char text[INET6_ADDRSTRLEN];
	uint8_t a[16];
	for (unsigned t = 0; t < lab->n_topologies; t++) {
		const struct lab_topology *tp = &lab->topologies[t];
		if (tp->subnet4_line && guests[t] > subnet_size(32 - tp->prefix4, 2)) {
			ip4_bytes(tp->subnet4, a);
			inet_ntop(AF_INET, a, text, sizeof(text));
			return too_small(ps, tp->subnet4_line, "subnet", text, tp->prefix4,
					 subnet_size(32 - tp->prefix4, 2), tp->name, guests[t]);
		}
		if (tp->subnet6_line && guests[t] > subnet_size(128 - tp->prefix6, 1)) {
			inet_ntop(AF_INET6, tp->subnet6, text, sizeof(text));
			return too_small(ps, tp->subnet6_line, "subnet6", text, tp->prefix6,
					 subnet_size(128 - tp->prefix6, 1), tp->name, guests[t]);
		}
	}
	return 0;
}

/* An explicit address in a topology with a subnet is one of its hosts,
 * with its prefix (else the guest would not reach the others). */
static int check_inside(struct parser *ps, const struct lab_node *nd, const struct lab_iface *it,
			enum field f)
{
	const struct lab_topology *tp = &ps->lab->topologies[it->topology];
	bool v4 = f == F_IP4;
	uint8_t a[16], net[16];
	unsigned prefix = v4 ? it->prefix4 : it->prefix6, want = v4 ? tp->prefix4 : tp->prefix6;
	char at[INET6_ADDRSTRLEN], nt[INET6_ADDRSTRLEN];
	if (v4) {
		ip4_bytes(it->ip4, a);
		ip4_bytes(tp->subnet4, net);
	} else {
		memcpy(a, it->ip6, 16);
		memcpy(net, tp->subnet6, 16);
	}
	bool inside = same_prefix(a, net, want);
	if (inside && prefix == want)
		return 0;
	inet_ntop(v4 ? AF_INET : AF_INET6, a, at, sizeof(at));
	inet_ntop(v4 ? AF_INET : AF_INET6, net, nt, sizeof(nt));
	return lp_fail_at(ps, v4 ? it->ip4_line : it->ip6_line,
			  "%s's %s %s/%u %s [topology %s]'s subnet %s/%u (line %u)",
			  nd->name, lp_field_what[f], at, prefix,
			  inside ? "has another prefix than" : "is outside", tp->name, nt, want,
			  v4 ? tp->subnet4_line : tp->subnet6_line);
}

/* Every guest interface without an address in a topology with a subnet
 * gets network + k: k is the guest's place (from 1) among the topology's
 * guests in file order, whether or not they have their own address, so
 * that one guest's address never moves another's. */
int lp_derive_ips(struct parser *ps)
{
	struct lab *lab = ps->lab;
	unsigned *pos = calloc(lab->n_topologies + 1, sizeof(*pos));
	if (!pos)
		return lp_nomem(ps);
	for (unsigned i = 0; i < lab->n_nodes; i++)
		for (unsigned j = 0; lab->nodes[i].kind == LAB_GUEST && j < lab->nodes[i].n_ifaces; j++)
			pos[lab->nodes[i].ifaces[j].topology]++;
	if (check_sizes(ps, pos))
		goto out;
	memset(pos, 0, lab->n_topologies * sizeof(*pos));
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct lab_node *nd = &lab->nodes[i];
		for (unsigned j = 0; nd->kind == LAB_GUEST && j < nd->n_ifaces; j++) {
			struct lab_iface *it = &nd->ifaces[j];
			const struct lab_topology *tp = &lab->topologies[it->topology];
			unsigned k = ++pos[it->topology];
			if (tp->subnet4_line && it->ip4_line && check_inside(ps, nd, it, F_IP4))
				goto out;
			if (tp->subnet6_line && it->ip6_line && check_inside(ps, nd, it, F_IP6))
				goto out;
			if (tp->subnet4_line && !it->ip4_line) {
				it->has_ip4 = true;
				it->ip4 = tp->subnet4 + k;
				it->prefix4 = tp->prefix4;
			}
			if (tp->subnet6_line && !it->ip6_line) {
				it->has_ip6 = true;
				ip6_plus(tp->subnet6, k, it->ip6);
				it->prefix6 = tp->prefix6;
			}
		}
	}
out:
	free(pos);
	return ps->rc;
}

/* Where an interface's address comes from: its key's line, or its
 * topology's subnet line when derived; 0 = none. */
static unsigned source_line(const struct lab *lab, struct lab_iface *it, enum field f)
{
	const struct lab_topology *tp = &lab->topologies[it->topology];
	if (*addr_line(it, f) || f == F_MAC)
		return *addr_line(it, f);
	if (f == F_IP4)
		return it->has_ip4 ? tp->subnet4_line : 0;
	return it->has_ip6 ? tp->subnet6_line : 0;
}

/* ---- uniqueness ---- */

struct addr_item {
	enum field field;
	unsigned topo, line;            /* line 0: derived from the subnet */
	unsigned node;
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

static int report_dup(struct parser *ps, const struct addr_item *first, const struct addr_item *dup)
{
	const struct lab *lab = ps->lab;
	char text[INET6_ADDRSTRLEN], where[LAB_NAME_MAX + 16] = "";
	if (dup->field == F_MAC)
		lab_mac_format(dup->addr, text);
	else
		inet_ntop(dup->field == F_IP4 ? AF_INET : AF_INET6, dup->addr,
			  text, sizeof(text));
	if (!first->line) {
		const struct lab_topology *tp = &lab->topologies[dup->topo];
		return lp_fail_at(ps, dup->line, "%s's %s %s is the one %s gets from [topology %s]'s subnet (line %u)",
				  lab->nodes[dup->node].name, lp_field_what[dup->field], text,
				  lab->nodes[first->node].name, tp->name,
				  dup->field == F_IP4 ? tp->subnet4_line : tp->subnet6_line);
	}
	if (first->topo == dup->topo)
		snprintf(where, sizeof(where), " in topology %s",
			 lab->topologies[dup->topo].name);
	return lp_fail_at(ps, dup->line, "duplicate %s %s%s (first at line %u)",
			  lp_field_what[dup->field], text, where, first->line);
}

/* Explicit MACs are unique in the lab (each vswitch keys on them), IPs in
 * each topology, derived ones included.  Reported at the earliest line
 * that repeats one. */
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
				bool has = f == F_MAC ? it->mac_line : f == F_IP4 ? it->has_ip4 : it->has_ip6;
				if (!has)
					continue;
				m->field = (enum field)f;
				m->line = *addr_line(it, m->field);
				m->topo = it->topology;
				m->node = i;
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
	if (dup)
		report_dup(ps, dup - 1, dup);
	free(items);
	return ps->rc;
}

static bool same_prefix(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, whole))
		return false;
	return !rest || !((a[whole] ^ b[whole]) & (uint8_t)(0xff00u >> rest));
}

/* One address of a guest as its subnet: network (16 bytes, IPv4 in the
 * first 4) and prefix. */
struct net_item {
	uint8_t net[16];
	unsigned prefix;
};

static int net_cmp(const void *x, const void *y)
{
	const struct net_item *a = x, *b = y;
	int c = memcmp(a->net, b->net, 16);
	return c ? c : (a->prefix > b->prefix) - (a->prefix < b->prefix);
}

/* Are two of nd's subnets of family f nested?  Subnets are nested or
 * disjoint, so sorted by network (the wider first) two are nested iff two
 * neighbours are: O(k log k) where the pairs are O(k^2), for the common
 * case of a guest without the mistake. */
static bool any_nested(const struct lab *lab, const struct lab_node *nd, enum field f)
{
	struct net_item items[LAB_MAX_IFACES];
	unsigned k = 0;
	for (unsigned i = 0; i < nd->n_ifaces && k < LAB_MAX_IFACES; i++) {
		struct lab_iface *it = &nd->ifaces[i];
		if (!source_line(lab, it, f))
			continue;
		get_addr(it, f, items[k].net, &items[k].prefix);
		mask_to(items[k].net, items[k].prefix);
		k++;
	}
	if (k < 2)
		return false;
	qsort(items, k, sizeof(*items), net_cmp);
	for (unsigned i = 1; i < k; i++)
		if (same_prefix(items[i - 1].net, items[i].net, items[i - 1].prefix))
			return true;
	return false;
}

struct subnet_clash {
	const char *node;
	struct lab_iface *later, *earlier;
	enum field f;
	unsigned line, earlier_line;    /* 0 = none found */
};

/* The pair of nd's interfaces in one subnet with the earliest later line. */
static void find_clash(const struct lab *lab, const struct lab_node *nd, enum field f,
		       struct subnet_clash *bad)
{
	for (unsigned i = 0; i < nd->n_ifaces; i++)
		for (unsigned j = i + 1; j < nd->n_ifaces; j++) {
			struct lab_iface *a = &nd->ifaces[i], *b = &nd->ifaces[j];
			unsigned la = source_line(lab, a, f), lb = source_line(lab, b, f);
			uint8_t x[16], y[16];
			unsigned px, py;
			if (!la || !lb)
				continue;
			get_addr(a, f, x, &px);
			get_addr(b, f, y, &py);
			if (!same_prefix(x, y, px < py ? px : py) ||
			    (bad->line && (la > lb ? la : lb) >= bad->line))
				continue;
			*bad = (struct subnet_clash){
				.node = nd->name, .f = f,
				.later = la > lb ? a : b, .earlier = la > lb ? b : a,
				.line = la > lb ? la : lb, .earlier_line = la > lb ? lb : la,
			};
		}
}

/* Two interfaces of one guest in one subnet (one's prefix holds the other's
 * address) give the guest two routes to it, and the kernel uses one: the
 * other interface's peers are unreachable.  Reported at the earliest line
 * that makes such a pair (a derived address's is its subnet's), naming
 * both interfaces and the wider subnet. */
int lp_check_subnets(struct parser *ps)
{
	const struct lab *lab = ps->lab;
	struct subnet_clash bad = { .line = 0 };
	for (unsigned n = 0; n < lab->n_nodes; n++)
		for (int f = F_IP4; f <= F_IP6; f++)
			if (lab->nodes[n].n_ifaces > 1 && any_nested(lab, &lab->nodes[n], (enum field)f))
				find_clash(lab, &lab->nodes[n], (enum field)f, &bad);
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
	mask_to(net, prefix);   /* the network address */
	char text[INET6_ADDRSTRLEN];
	inet_ntop(bad.f == F_IP4 ? AF_INET : AF_INET6, net, text, sizeof(text));
	return lp_fail_at(ps, bad.line,
			  "%s's %s and %s (line %u) are both in subnet %s/%u (one would be unreachable)",
			  bad.node, bad.later->name, bad.earlier->name,
			  bad.earlier_line, text, prefix);
}

/* ---- derived MACs ---- */

static uint64_t fnv1a(uint64_t h, const char *s)
{
	do {    /* the NUL too, as a separator */
		h ^= (uint8_t)*s;
		h *= 0x100000001b3u;
	} while (*s++);
	return h;
}

/* The MACs taken so far, as 48-bit numbers (0, all-zero, is never one). */
struct mac_set {
	uint64_t *slot;
	size_t mask;
};

static size_t mac_slot(const struct mac_set *set, uint64_t v)
{
	size_t i = (size_t)((v * 0x9e3779b97f4a7c15u) >> 20) & set->mask;
	while (set->slot[i] && set->slot[i] != v)
		i = (i + 1) & set->mask;
	return i;
}

static bool mac_taken(const struct mac_set *set, uint64_t v)
{
	return set->slot[mac_slot(set, v)] == v;
}

static void mac_take(struct mac_set *set, uint64_t v)
{
	set->slot[mac_slot(set, v)] = v;
}

static uint64_t mac_value(const uint8_t mac[6])
{
	uint64_t v = 0;
	for (int i = 0; i < 6; i++)
		v = v << 8 | mac[i];
	return v;
}

/* A guest interface without a MAC gets, in a topology with a subnet,
 * 02:00 + its IPv4 address (02:00:0a:00:00:05 for 10.0.0.5: readable, and
 * stable when guests are added after it).  Otherwise, or when that one is
 * taken, 02:xx:xx:xx:xx:xx (locally administered, unicast) from a hash of
 * lab, guest and topology names, stepping to the next value while it
 * clashes.  Explicit MACs are taken first, so they win whatever the file
 * order. */
int lp_derive_macs(struct parser *ps)
{
	struct lab *lab = ps->lab;
	size_t total = 0, cap = 16;
	for (unsigned i = 0; i < lab->n_nodes; i++)
		total += lab->nodes[i].n_ifaces;
	while (cap < 2 * total)
		cap *= 2;
	struct mac_set set = { .slot = calloc(cap, sizeof(uint64_t)), .mask = cap - 1 };
	if (!set.slot)
		return lp_nomem(ps);
	for (unsigned i = 0; i < lab->n_nodes; i++)
		for (unsigned j = 0; j < lab->nodes[i].n_ifaces; j++)
			if (lab->nodes[i].ifaces[j].mac_line)
				mac_take(&set, mac_value(lab->nodes[i].ifaces[j].mac));
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct lab_node *nd = &lab->nodes[i];
		if (nd->kind != LAB_GUEST)
			continue;
		for (unsigned j = 0; j < nd->n_ifaces; j++) {
			struct lab_iface *it = &nd->ifaces[j];
			if (it->mac_line)
				continue;
			uint64_t v = 0x02ull << 40 | it->ip4;
			if (!lab->topologies[it->topology].subnet4_line || !it->has_ip4 ||
			    mac_taken(&set, v)) {
				uint64_t h = fnv1a(0xcbf29ce484222325u, lab->name);
				h = fnv1a(h, nd->name);
				h = fnv1a(h, lab->topologies[it->topology].name);
				uint64_t low = (h ^ h >> 40) & 0xffffffffffu;
				for (;; low = (low + 1) & 0xffffffffffu)
					if (!mac_taken(&set, v = 0x02ull << 40 | low))
						break;
			}
			for (int b = 0; b < 6; b++)
				it->mac[b] = (uint8_t)(v >> (40 - 8 * b));
			mac_take(&set, v);
		}
	}
	free(set.slot);
	return 0;
}
