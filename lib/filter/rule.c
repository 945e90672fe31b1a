/* SPDX-License-Identifier: MIT */
/*
 * rule.c - rule text <-> struct flt_rule, rule checks, and matching.
 *
 * Parsing is staged like wireguard-tools' config reader: each token goes
 * through a strict little parser whose error echoes the token, then a finish
 * step (check_rule) looks at the rule as a whole for matches that contradict
 * each other.  The same finish step validates rules built in code; it then
 * names matches by their canonical text instead of what the user typed.
 */
#include "internal.h"
#include "vswitch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NKIND 12              /* bits in FLT_M_ALL; index = bit number */
#define SHOW_MAX 40           /* longest token echoed in a message */

/* ---- small helpers -------------------------------------------------------- */

struct tok {
	const char *p;
	size_t n;
};

/* A bounded output buffer that remembers whether it overflowed. */
struct sbuf {
	char *s;
	size_t cap, len;
	bool over;
};

static struct sbuf sb_init(char *s, size_t cap)
{
	struct sbuf b = { .s = s, .cap = s ? cap : 0 };
	if (b.cap)
		b.s[0] = '\0';
	return b;
}

__attribute__((format(printf, 2, 3)))
static void sb_put(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room = b->cap > b->len ? b->cap - b->len : 0;

	va_start(ap, fmt);
	int n = vsnprintf(room ? b->s + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->over = true;
		return;
	}
	if ((size_t)n >= room) {
		b->over = true;
		b->len = b->cap;
	} else {
		b->len += (size_t)n;
	}
}

/* Replace the message (errors say one thing). */
__attribute__((format(printf, 2, 3)))
static int fail(struct sbuf *e, const char *fmt, ...)
{
	va_list ap;

	if (e->cap) {
		va_start(ap, fmt);
		vsnprintf(e->s, e->cap, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A token made safe to echo: bounded, and no control bytes for a terminal. */
struct shown {
	char s[SHOW_MAX + 4];
};

static struct shown show_bytes(const char *p, size_t n)
{
	struct shown o;
	size_t i, k = n < SHOW_MAX ? n : SHOW_MAX;

	for (i = 0; i < k; i++) {
		unsigned char c = (unsigned char)p[i];
		o.s[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (n > SHOW_MAX) {
		memcpy(o.s + i, "...", 3);
		i += 3;
	}
	o.s[i] = '\0';
	return o;
}

static struct shown show(const struct tok *t)
{
	return show_bytes(t->p, t->n);
}

static bool tok_is(const struct tok *t, const char *word)
{
	size_t n = strlen(word);
	return t->p && t->n == n && memcmp(t->p, word, n) == 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

/* Next blank-separated token; a token starting with '#' ends the line. */
static bool next_tok(const char **pp, struct tok *t)
{
	const char *p = *pp;

	while (is_space(*p))
		p++;
	if (*p == '\0' || *p == '#') {
		*pp = p;
		return false;
	}
	t->p = p;
	while (*p && !is_space(*p))
		p++;
	t->n = (size_t)(p - t->p);
	*pp = p;
	return true;
}

/* Decimal, digits only, at most max. */
static bool dec(const char *p, size_t n, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(p[i] - '0');
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

static unsigned kind_index(uint32_t kind)
{
	return (unsigned)__builtin_ctz(kind);
}

/* ---- one parser per value ------------------------------------------------- */

static const struct {
	const char *name;
	uint16_t type;
} l3_names[] = {
	{ "arp", FLT_ETH_ARP },
	{ "ip", FLT_ETH_IP4 },
	{ "ip4", FLT_ETH_IP4 },
	{ "ip6", FLT_ETH_IP6 },
};

static const struct {
	const char *name;
	uint8_t proto;
} proto_names[] = {
	{ "tcp", FLT_PROTO_TCP },
	{ "udp", FLT_PROTO_UDP },
	{ "icmp", FLT_PROTO_ICMP },
	{ "icmp6", FLT_PROTO_ICMP6 },
};

static int p_ethertype(struct flt_rule *r, uint32_t kind, const struct tok *v,
		       struct sbuf *e)
{
	unsigned long x = 0;
	size_t i;

	(void)kind;
	for (i = 0; i < sizeof(l3_names) / sizeof(l3_names[0]); i++) {
		if (tok_is(v, l3_names[i].name)) {
			r->ethertype = l3_names[i].type;
			return 0;
		}
	}
	if (v->n < 3 || v->n > 6 || v->p[0] != '0' || v->p[1] != 'x')
		goto bad;
	for (i = 2; i < v->n; i++) {
		int h = vsw_hexval(v->p[i]);
		if (h < 0)
			goto bad;
		x = x << 4 | (unsigned)h;
	}
	if (x < 0x0600)
		goto bad;
	if (x == FLT_ETH_VLAN || x == FLT_ETH_QINQ)
		return fail(e, "EtherType '%s' is a VLAN tag; use 'vlan'",
			    show(v).s);
	r->ethertype = (uint16_t)x;
	return 0;
bad:
	return fail(e, "bad EtherType '%s' (0x0600-0xffff, arp, ip or ip6)",
		    show(v).s);
}

static int p_vlan(struct flt_rule *r, uint32_t kind, const struct tok *v,
		  struct sbuf *e)
{
	unsigned long x;

	(void)kind;
	if (tok_is(v, "none")) {
		r->vlan = 0;
		return 0;
	}
	if (!dec(v->p, v->n, 4094, &x) || x == 0)
		return fail(e, "bad VLAN '%s' (1-4094 or none)", show(v).s);
	r->vlan = (uint16_t)x;
	return 0;
}

static const uint8_t broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static int p_mac(struct flt_rule *r, uint32_t kind, const struct tok *v,
		 struct sbuf *e)
{
	uint8_t *mac = kind == FLT_M_SRC_MAC ? r->src_mac : r->dst_mac;

	if (kind == FLT_M_DST_MAC && tok_is(v, "broadcast")) {
		memcpy(mac, broadcast, 6);
		return 0;
	}
	if (!vsw_mac_parse(v->p, v->n, mac))
		return fail(e, "bad MAC address '%s'", show(v).s);
	return 0;
}

static void prefix_mask(struct flt_prefix *pf)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = pf->len > 8 * i ? pf->len - 8 * i : 0;
		if (bits < 8)
			pf->addr[i] &= (uint8_t)(0xff00u >> bits);
	}
}

static int p_prefix(struct flt_rule *r, uint32_t kind, const struct tok *v,
		    struct sbuf *e)
{
	struct flt_prefix *pf = kind == FLT_M_SRC ? &r->src : &r->dst;
	const char *slash = memchr(v->p, '/', v->n);
	size_t alen = slash ? (size_t)(slash - v->p) : v->n;
	char addr[INET6_ADDRSTRLEN];

	if (alen >= sizeof(addr))
		return fail(e, "bad address '%s'", show(v).s);
	memcpy(addr, v->p, alen);
	addr[alen] = '\0';
	memset(pf, 0, sizeof(*pf));
	pf->ipver = memchr(addr, ':', alen) ? 6 : 4;
	if (inet_pton(pf->ipver == 6 ? AF_INET6 : AF_INET, addr, pf->addr) != 1)
		return fail(e, "bad address '%s'", show(v).s);

	unsigned long max = pf->ipver == 6 ? 128 : 32, len = max;
	if (slash && !dec(slash + 1, v->n - alen - 1, max, &len))
		return fail(e, "bad prefix length '%s' (0-%lu)", show(v).s, max);
	pf->len = (uint8_t)len;

	struct flt_prefix net = *pf;
	prefix_mask(&net);
	if (memcmp(net.addr, pf->addr, sizeof(net.addr)) != 0) {
		char txt[INET6_ADDRSTRLEN];
		inet_ntop(pf->ipver == 6 ? AF_INET6 : AF_INET, net.addr, txt,
			  sizeof(txt));
		return fail(e, "host bits set in '%s' (network is %s/%u)",
			    show(v).s, txt, pf->len);
	}
	return 0;
}

static int p_proto(struct flt_rule *r, uint32_t kind, const struct tok *v,
		   struct sbuf *e)
{
	unsigned long x;

	(void)kind;
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++) {
		if (tok_is(v, proto_names[i].name)) {
			r->proto = proto_names[i].proto;
			return 0;
		}
	}
	if (!dec(v->p, v->n, 255, &x))
		return fail(e, "bad protocol '%s' (tcp, udp, icmp, icmp6 or 0-255)",
			    show(v).s);
	r->proto = (uint8_t)x;
	return 0;
}

static int p_ports(struct flt_rule *r, uint32_t kind, const struct tok *v,
		   struct sbuf *e)
{
	struct flt_port_range *pr = kind == FLT_M_SPORT ? &r->sport : &r->dport;
	const char *dash = memchr(v->p, '-', v->n);
	size_t n1 = dash ? (size_t)(dash - v->p) : v->n;
	unsigned long lo, hi;

	if (!dec(v->p, n1, 65535, &lo))
		goto bad;
	hi = lo;
	if (dash && !dec(dash + 1, v->n - n1 - 1, 65535, &hi))
		goto bad;
	if (lo > hi)
		return fail(e, "bad port range '%s' (start > end)", show(v).s);
	pr->lo = (uint16_t)lo;
	pr->hi = (uint16_t)hi;
	return 0;
bad:
	return fail(e, "bad port '%s' (0-65535 or N-M)", show(v).s);
}

static int p_icmp_type(struct flt_rule *r, uint32_t kind, const struct tok *v,
		       struct sbuf *e)
{
	unsigned long x;

	(void)kind;
	if (!dec(v->p, v->n, 255, &x))
		return fail(e, "bad ICMP type '%s' (0-255)", show(v).s);
	r->icmp_type = (uint8_t)x;
	return 0;
}

/* ---- keywords ------------------------------------------------------------- */

typedef int (*value_fn)(struct flt_rule *r, uint32_t kind, const struct tok *v,
			struct sbuf *e);

/*
 * A keyword either takes the next token as its value, or is a flag whose
 * own name is the value handed to fn ("tcp" -> p_proto("tcp")); nd and
 * frag have no value at all (fn NULL).
 */
static const struct kw {
	const char *name;
	uint32_t kind;
	value_fn fn;
	bool takes_value;
} keywords[] = {
	{ "arp", FLT_M_ETHERTYPE, p_ethertype, false },
	{ "ip", FLT_M_ETHERTYPE, p_ethertype, false },
	{ "ip4", FLT_M_ETHERTYPE, p_ethertype, false },
	{ "ip6", FLT_M_ETHERTYPE, p_ethertype, false },
	{ "ethertype", FLT_M_ETHERTYPE, p_ethertype, true },
	{ "vlan", FLT_M_VLAN, p_vlan, true },
	{ "src-mac", FLT_M_SRC_MAC, p_mac, true },
	{ "dst-mac", FLT_M_DST_MAC, p_mac, true },
	{ "src", FLT_M_SRC, p_prefix, true },
	{ "dst", FLT_M_DST, p_prefix, true },
	{ "proto", FLT_M_PROTO, p_proto, true },
	{ "tcp", FLT_M_PROTO, p_proto, false },
	{ "udp", FLT_M_PROTO, p_proto, false },
	{ "icmp", FLT_M_PROTO, p_proto, false },
	{ "icmp6", FLT_M_PROTO, p_proto, false },
	{ "sport", FLT_M_SPORT, p_ports, true },
	{ "dport", FLT_M_DPORT, p_ports, true },
	{ "icmp-type", FLT_M_ICMP_TYPE, p_icmp_type, true },
	{ "nd", FLT_M_ND, NULL, false },
	{ "frag", FLT_M_FRAG, NULL, false },
};

static const struct kw *kw_find(const struct tok *t)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (tok_is(t, keywords[i].name))
			return &keywords[i];
	return NULL;
}

/* ---- canonical text ------------------------------------------------------- */

static void put_prefix(struct sbuf *b, const struct flt_prefix *pf, bool bare)
{
	char txt[INET6_ADDRSTRLEN];

	if ((pf->ipver != 4 && pf->ipver != 6) ||
	    !inet_ntop(pf->ipver == 6 ? AF_INET6 : AF_INET, pf->addr, txt,
		       sizeof(txt))) {
		sb_put(b, "?");
		return;
	}
	if (bare && pf->len == (pf->ipver == 6 ? 128 : 32))
		sb_put(b, "%s", txt);
	else
		sb_put(b, "%s/%u", txt, pf->len);
}

static void put_ports(struct sbuf *b, const struct flt_port_range *pr)
{
	if (pr->lo == pr->hi)
		sb_put(b, "%u", pr->lo);
	else
		sb_put(b, "%u-%u", pr->lo, pr->hi);
}

static void put_mac(struct sbuf *b, const uint8_t *m)
{
	sb_put(b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
	       m[5]);
}

/* The canonical text of one match of r. */
static void put_match(struct sbuf *b, const struct flt_rule *r, unsigned i)
{
	size_t k;

	switch (1u << i) {
	case FLT_M_ETHERTYPE:
		if (r->ethertype == FLT_ETH_ARP)
			sb_put(b, "arp");
		else if (r->ethertype == FLT_ETH_IP4)
			sb_put(b, "ip");
		else if (r->ethertype == FLT_ETH_IP6)
			sb_put(b, "ip6");
		else
			sb_put(b, "ethertype 0x%04x", r->ethertype);
		break;
	case FLT_M_VLAN:
		if (r->vlan)
			sb_put(b, "vlan %u", r->vlan);
		else
			sb_put(b, "vlan none");
		break;
	case FLT_M_SRC_MAC:
		sb_put(b, "src-mac ");
		put_mac(b, r->src_mac);
		break;
	case FLT_M_DST_MAC:
		sb_put(b, "dst-mac ");
		if (memcmp(r->dst_mac, broadcast, 6) == 0)
			sb_put(b, "broadcast");
		else
			put_mac(b, r->dst_mac);
		break;
	case FLT_M_SRC:
		sb_put(b, "src ");
		put_prefix(b, &r->src, true);
		break;
	case FLT_M_DST:
		sb_put(b, "dst ");
		put_prefix(b, &r->dst, true);
		break;
	case FLT_M_PROTO:
		for (k = 0; k < sizeof(proto_names) / sizeof(proto_names[0]); k++)
			if (proto_names[k].proto == r->proto)
				break;
		if (k < sizeof(proto_names) / sizeof(proto_names[0]))
			sb_put(b, "%s", proto_names[k].name);
		else
			sb_put(b, "proto %u", r->proto);
		break;
	case FLT_M_SPORT:
		sb_put(b, "sport ");
		put_ports(b, &r->sport);
		break;
	case FLT_M_DPORT:
		sb_put(b, "dport ");
		put_ports(b, &r->dport);
		break;
	case FLT_M_ICMP_TYPE:
		sb_put(b, "icmp-type %u", r->icmp_type);
		break;
	case FLT_M_ND:
		sb_put(b, "nd");
		break;
	case FLT_M_FRAG:
		sb_put(b, "frag");
		break;
	}
}

/* ---- whole-rule checks ---------------------------------------------------- */

/* What the user wrote for each match (keyword and value), when parsing. */
struct seen {
	struct tok kw, val;
};

/* A match as the user typed it, for a message. */
static struct shown name_seen(const struct seen *s)
{
	char raw[2 * SHOW_MAX + 8];
	struct sbuf b = sb_init(raw, sizeof(raw));

	/* one char past SHOW_MAX still tells show_bytes to add "..." */
	sb_put(&b, "%.*s", (int)(s->kw.n <= SHOW_MAX ? s->kw.n : SHOW_MAX + 1),
	       s->kw.p);
	if (s->val.p)
		sb_put(&b, " %.*s",
		       (int)(s->val.n <= SHOW_MAX ? s->val.n : SHOW_MAX + 1),
		       s->val.p);
	return show_bytes(raw, b.len);
}

/* Name match i of r for a message: as typed, or canonical. */
static struct shown name_of(const struct flt_rule *r, const struct seen *seen,
			    unsigned i)
{
	char raw[FLT_RULE_TEXT_MAX];
	struct sbuf b = sb_init(raw, sizeof(raw));

	if (seen)
		return name_seen(&seen[i]);
	put_match(&b, r, i);
	return show_bytes(raw, b.len);
}

static int conflict(struct sbuf *e, const struct flt_rule *r,
		    const struct seen *seen, uint32_t a, uint32_t b)
{
	return fail(e, "'%s' conflicts with '%s'",
		    name_of(r, seen, kind_index(a)).s,
		    name_of(r, seen, kind_index(b)).s);
}

static bool prefix_equal(const struct flt_prefix *a, const struct flt_prefix *b)
{
	return a->ipver == b->ipver && a->len == b->len &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* Rules built in code: run each value through its text parser. */
static int check_values(const struct flt_rule *r, struct sbuf *e)
{
	static const struct {
		uint32_t kind;
		value_fn fn;
	} checks[] = {
		{ FLT_M_ETHERTYPE, p_ethertype },
		{ FLT_M_VLAN, p_vlan },
		{ FLT_M_SRC, p_prefix },
		{ FLT_M_DST, p_prefix },
		{ FLT_M_SPORT, p_ports },
		{ FLT_M_DPORT, p_ports },
	};

	if (r->action != FLT_ALLOW && r->action != FLT_DROP)
		return fail(e, "bad action %d", (int)r->action);
	if (r->match & ~(uint32_t)FLT_M_ALL)
		return fail(e, "unknown match bits 0x%x",
			    r->match & ~(uint32_t)FLT_M_ALL);
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		uint32_t kind = checks[i].kind;
		const struct flt_prefix *pf = kind == FLT_M_SRC ? &r->src : &r->dst;
		char txt[64];
		struct sbuf b = sb_init(txt, sizeof(txt));
		struct flt_rule scratch;

		if (!(r->match & kind))
			continue;
		switch (kind) {
		case FLT_M_ETHERTYPE:
			sb_put(&b, "0x%04x", r->ethertype);
			break;
		case FLT_M_VLAN:
			if (r->vlan)
				sb_put(&b, "%u", r->vlan);
			else
				sb_put(&b, "none");
			break;
		case FLT_M_SRC:
		case FLT_M_DST:
			if (pf->ipver != 4 && pf->ipver != 6)
				return fail(e, "bad address family %u in '%s'",
					    pf->ipver, kind == FLT_M_SRC ? "src" : "dst");
			put_prefix(&b, pf, false);
			break;
		default:
			if (kind == FLT_M_SPORT)
				sb_put(&b, "%u-%u", r->sport.lo, r->sport.hi);
			else
				sb_put(&b, "%u-%u", r->dport.lo, r->dport.hi);
			break;
		}
		struct tok t = { txt, b.len };
		memset(&scratch, 0, sizeof(scratch));
		int rc = checks[i].fn(&scratch, kind, &t, e);
		if (rc)
			return rc;
		/* text has 4 bytes of an IPv4 address; the other 12 must be 0
		 * or the rule would not survive a format/parse round trip */
		if ((kind & (FLT_M_SRC | FLT_M_DST)) &&
		    !prefix_equal(kind == FLT_M_SRC ? &scratch.src : &scratch.dst, pf))
			return fail(e, "stray bytes after the IPv4 address in '%s'",
				    kind == FLT_M_SRC ? "src" : "dst");
	}
	return 0;
}

/* Address family a match implies. */
enum { FAM_ANY = 0, FAM_IP = 1, FAM_IP4 = 4, FAM_IP6 = 6, FAM_NONIP = 7 };

static unsigned family_of(const struct flt_rule *r, uint32_t kind)
{
	switch (kind) {
	case FLT_M_ETHERTYPE:
		return r->ethertype == FLT_ETH_IP4   ? FAM_IP4
		       : r->ethertype == FLT_ETH_IP6 ? FAM_IP6
						     : FAM_NONIP;
	case FLT_M_SRC:
		return r->src.ipver;
	case FLT_M_DST:
		return r->dst.ipver;
	case FLT_M_PROTO:
		return r->proto == FLT_PROTO_ICMP    ? FAM_IP4
		       : r->proto == FLT_PROTO_ICMP6 ? FAM_IP6
						     : FAM_IP;
	case FLT_M_ND:
		return FAM_IP6;
	case FLT_M_FRAG:
		return FAM_IP;
	default:
		return FAM_ANY;
	}
}

/*
 * The finish step.  seen is what the user typed (NULL for rules built in
 * code).  Order of the checks fixes which message a rule with several
 * problems gets: families, then nd/frag exclusions, then prerequisites.
 */
static int check_rule(const struct flt_rule *r, const struct seen *seen,
		      struct sbuf *e)
{
	uint32_t m = r->match;
	unsigned fam = FAM_ANY;
	uint32_t anchor = 0;   /* the match that fixed fam */

	for (unsigned i = 0; i < NKIND; i++) {
		uint32_t kind = 1u << i;
		unsigned f;

		if (!(m & kind) || (f = family_of(r, kind)) == FAM_ANY)
			continue;
		if (fam == FAM_ANY || (fam == FAM_IP && f != FAM_NONIP)) {
			fam = f;
			anchor = kind;
		} else if (f == FAM_IP ? fam == FAM_NONIP : f != fam) {
			return conflict(e, r, seen, kind, anchor);
		}
	}

	if (m & FLT_M_ND) {
		if ((m & FLT_M_PROTO) && r->proto != FLT_PROTO_ICMP6)
			return conflict(e, r, seen, FLT_M_ND, FLT_M_PROTO);
		if (m & FLT_M_ICMP_TYPE)
			return conflict(e, r, seen, FLT_M_ICMP_TYPE, FLT_M_ND);
	}
	if (m & FLT_M_FRAG) {
		/* a non-first fragment carries no L4 header */
		static const uint32_t l4[] = { FLT_M_SPORT, FLT_M_DPORT,
					       FLT_M_ICMP_TYPE, FLT_M_ND };
		for (size_t i = 0; i < sizeof(l4) / sizeof(l4[0]); i++)
			if (m & l4[i])
				return conflict(e, r, seen, FLT_M_FRAG, l4[i]);
	}

	bool ports = (m & FLT_M_PROTO) &&
		     (r->proto == FLT_PROTO_TCP || r->proto == FLT_PROTO_UDP);
	bool icmp = (m & FLT_M_PROTO) &&
		    (r->proto == FLT_PROTO_ICMP || r->proto == FLT_PROTO_ICMP6);
	if ((m & FLT_M_SPORT) && !ports)
		return fail(e, "'%s' needs 'tcp' or 'udp'",
			    name_of(r, seen, kind_index(FLT_M_SPORT)).s);
	if ((m & FLT_M_DPORT) && !ports)
		return fail(e, "'%s' needs 'tcp' or 'udp'",
			    name_of(r, seen, kind_index(FLT_M_DPORT)).s);
	if ((m & FLT_M_ICMP_TYPE) && !icmp)
		return fail(e, "'%s' needs 'icmp' or 'icmp6'",
			    name_of(r, seen, kind_index(FLT_M_ICMP_TYPE)).s);
	return 0;
}

/* ---- public --------------------------------------------------------------- */

static int parse_rule(const char *text, struct flt_rule *out, struct sbuf *e)
{
	struct seen seen[NKIND];
	struct tok t;

	memset(seen, 0, sizeof(seen));
	if (!next_tok(&text, &t)) {
		fail(e, "empty rule");
		return -ENODATA;
	}
	if (tok_is(&t, "allow"))
		out->action = FLT_ALLOW;
	else if (tok_is(&t, "drop"))
		out->action = FLT_DROP;
	else
		return fail(e, "expected 'allow' or 'drop', got '%s'", show(&t).s);

	while (next_tok(&text, &t)) {
		const struct kw *k = kw_find(&t);
		struct tok v = t;   /* flags are their own value: "tcp" */

		if (!k)
			return fail(e, "unknown match '%s'", show(&t).s);
		if (k->takes_value && !next_tok(&text, &v))
			return fail(e, "'%s' needs a value", k->name);

		unsigned i = kind_index(k->kind);
		struct seen now = { t, k->takes_value ? v : (struct tok){ 0 } };
		if (out->match & k->kind) {
			if (tok_is(&seen[i].kw, k->name))
				return fail(e, "'%s' given twice", k->name);
			return fail(e, "'%s' conflicts with '%s'", name_seen(&now).s,
				    name_seen(&seen[i]).s);
		}
		if (k->fn) {
			int rc = k->fn(out, k->kind, &v, e);
			if (rc)
				return rc;
		}
		out->match |= k->kind;
		seen[i] = now;
	}
	return check_rule(out, seen, e);
}

int flt_rule_parse(const char *text, struct flt_rule *out, char *err,
		   size_t errlen)
{
	struct sbuf e = sb_init(err, errlen);

	if (!out)
		return fail(&e, "no rule to fill");
	memset(out, 0, sizeof(*out));
	if (!text)
		return fail(&e, "no rule text");
	int rc = parse_rule(text, out, &e);
	if (rc)
		memset(out, 0, sizeof(*out));   /* no half rules */
	return rc;
}

int flt_rule_check(const struct flt_rule *r, char *err, size_t errlen)
{
	struct sbuf e = sb_init(err, errlen);

	if (!r)
		return fail(&e, "no rule");
	int rc = check_values(r, &e);
	return rc ? rc : check_rule(r, NULL, &e);
}

int flt_rule_format(const struct flt_rule *r, char *buf, size_t len)
{
	struct sbuf b = sb_init(buf, len);

	if (!r || flt_rule_check(r, NULL, 0) != 0)
		return -EINVAL;
	sb_put(&b, "%s", r->action == FLT_ALLOW ? "allow" : "drop");
	for (unsigned i = 0; i < NKIND; i++) {
		if (!(r->match & (1u << i)))
			continue;
		sb_put(&b, " ");
		put_match(&b, r, i);
	}
	if (b.over)
		return -ENOSPC;
	return (int)b.len;
}

bool flt_rule_equal(const struct flt_rule *a, const struct flt_rule *b)
{
	uint32_t m = a->match;

	if (a->action != b->action || m != b->match)
		return false;
	return (!(m & FLT_M_ETHERTYPE) || a->ethertype == b->ethertype) &&
	       (!(m & FLT_M_VLAN) || a->vlan == b->vlan) &&
	       (!(m & FLT_M_SRC_MAC) || memcmp(a->src_mac, b->src_mac, 6) == 0) &&
	       (!(m & FLT_M_DST_MAC) || memcmp(a->dst_mac, b->dst_mac, 6) == 0) &&
	       (!(m & FLT_M_SRC) || prefix_equal(&a->src, &b->src)) &&
	       (!(m & FLT_M_DST) || prefix_equal(&a->dst, &b->dst)) &&
	       (!(m & FLT_M_PROTO) || a->proto == b->proto) &&
	       (!(m & FLT_M_SPORT) || (a->sport.lo == b->sport.lo &&
				       a->sport.hi == b->sport.hi)) &&
	       (!(m & FLT_M_DPORT) || (a->dport.lo == b->dport.lo &&
				       a->dport.hi == b->dport.hi)) &&
	       (!(m & FLT_M_ICMP_TYPE) || a->icmp_type == b->icmp_type);
}

/* ---- matching ------------------------------------------------------------- */

unsigned rule_need(const struct flt_rule *r)
{
	uint32_t m = r->match;

	/* most specific first; check_rule made them agree */
	if (m & FLT_M_SRC)
		return r->src.ipver;
	if (m & FLT_M_DST)
		return r->dst.ipver;
	if (m & FLT_M_ND)
		return NEED_IP6;
	if (m & FLT_M_PROTO)
		return r->proto == FLT_PROTO_ICMP    ? NEED_IP4
		       : r->proto == FLT_PROTO_ICMP6 ? NEED_IP6
						     : NEED_IP;
	if (m & FLT_M_FRAG)
		return NEED_IP;
	return NEED_NONE;
}

static bool prefix_match(const struct flt_prefix *pf, const uint8_t *a)
{
	unsigned bytes = pf->len / 8u, bits = pf->len % 8u;

	if (memcmp(pf->addr, a, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	return ((pf->addr[bytes] ^ a[bytes]) & (0xff00u >> bits)) == 0;
}

static bool in_range(const struct flt_port_range *pr, uint16_t port)
{
	return port >= pr->lo && port <= pr->hi;
}

bool rule_match_need(const struct flt_rule *r, unsigned need,
		     const struct flt_pkt *p)
{
	uint32_t m = r->match;

	if (need == NEED_IP ? p->ipver == 0 : need != NEED_NONE && p->ipver != need)
		return false;
	if ((m & FLT_M_ETHERTYPE) && p->ethertype != r->ethertype)
		return false;
	if ((m & FLT_M_VLAN) && p->vlan != r->vlan)
		return false;
	if ((m & FLT_M_SRC_MAC) && memcmp(p->src_mac, r->src_mac, 6) != 0)
		return false;
	if ((m & FLT_M_DST_MAC) && memcmp(p->dst_mac, r->dst_mac, 6) != 0)
		return false;
	if ((m & FLT_M_SRC) && !prefix_match(&r->src, p->src_ip))
		return false;
	if ((m & FLT_M_DST) && !prefix_match(&r->dst, p->dst_ip))
		return false;
	if ((m & FLT_M_PROTO) && p->proto != r->proto)
		return false;
	/* rules with L4 matches never match frames without an L4 header */
	if ((m & (FLT_M_SPORT | FLT_M_DPORT | FLT_M_ICMP_TYPE | FLT_M_ND)) &&
	    !p->l4)
		return false;
	if ((m & FLT_M_SPORT) && !in_range(&r->sport, p->sport))
		return false;
	if ((m & FLT_M_DPORT) && !in_range(&r->dport, p->dport))
		return false;
	if ((m & FLT_M_ICMP_TYPE) && p->icmp_type != r->icmp_type)
		return false;
	if ((m & FLT_M_ND) && (p->proto != FLT_PROTO_ICMP6 ||
			       p->icmp_type < 133 || p->icmp_type > 137))
		return false;
	if ((m & FLT_M_FRAG) && !p->frag)
		return false;
	return true;
}

bool flt_rule_match(const struct flt_rule *r, const struct flt_pkt *p)
{
	return rule_match_need(r, rule_need(r), p);
}
