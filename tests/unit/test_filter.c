/* SPDX-License-Identifier: MIT */
/*
 * test_filter.c - rules (parse, check, format), matching, first-match
 * order, default policy, counters and the connection tracker.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "test_filter_frames.c"

#define SEC 1000000000ull
#define MAX_RULES 32

/* ---- helpers -------------------------------------------------------------- */

/* A filter from newline-separated rule text; blank lines are skipped. */
static struct flt *mk_cfg(const char *rules, struct flt_config cfg)
{
	struct flt_rule r[MAX_RULES];
	char line[512], err[FLT_ERR_MAX];
	size_t n = 0;

	for (const char *p = rules; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		assert_true(len < sizeof(line) && n < MAX_RULES);
		memcpy(line, p, len);
		line[len] = '\0';
		int rc = flt_rule_parse(line, &r[n], err, sizeof(err));
		if (rc != -ENODATA) {
			if (rc != 0)
				fail_msg("'%s': %s", line, err);
			n++;
		}
		p += len + (nl ? 1 : 0);
	}
	cfg.rules = r;
	cfg.nrules = n;
	struct flt *f = flt_new(&cfg);
	assert_non_null(f);
	return f;
}

static struct flt *mk(const char *rules, enum flt_verdict policy)
{
	return mk_cfg(rules, (struct flt_config){ .policy = policy });
}

static enum flt_verdict run_at(struct flt *f, struct spec s, uint64_t now)
{
	uint8_t buf[FRAME_MAX];
	return flt_decide(f, buf, build(&s, buf), now);
}

#define assert_allow(f, s, now) assert_int_equal(run_at((f), (s), (now)), FLT_ALLOW)
#define assert_drop(f, s, now) assert_int_equal(run_at((f), (s), (now)), FLT_DROP)

static uint64_t rule_frames(const struct flt *f, size_t i)
{
	struct flt_counter c;
	assert_int_equal(flt_rule_stats(f, i, &c), 0);
	return c.frames;
}

static struct flt_stats stats(const struct flt *f)
{
	struct flt_stats st;
	flt_stats(f, &st);
	return st;
}

static void done(struct flt *f)
{
	assert_int_equal(flt_selfcheck(f), 0);
	flt_free(f);
}

/* ---- one test per match kind ---------------------------------------------- */

static void test_match_mac(void **state)
{
	(void)state;
	struct flt *f = mk("allow src-mac 02:00:00:00:AA:01\n"
			   "allow dst-mac broadcast\n",
			   FLT_DROP);
	struct spec s = udp4(NULL, 1, NULL, 2);

	assert_allow(f, s, 0);            /* src MAC_A */
	s.src_mac = MAC_B;
	s.dst_mac = MAC_A;
	assert_drop(f, s, 0);
	s.dst_mac = MAC_BCAST;
	assert_allow(f, s, 0);
	assert_int_equal(rule_frames(f, 0), 1);
	assert_int_equal(rule_frames(f, 1), 1);
	done(f);
}

static void test_match_ethertype(void **state)
{
	(void)state;
	struct flt *f = mk("allow ethertype 0x88cc\nallow ip6\n", FLT_DROP);

	assert_allow(f, ((struct spec){ .ethertype = 0x88cc, .payload = 46 }), 0);
	assert_drop(f, ((struct spec){ .ethertype = 0x88cd, .payload = 46 }), 0);
	assert_allow(f, udp6(NULL, 1, NULL, 2), 0);
	assert_drop(f, udp4(NULL, 1, NULL, 2), 0);
	done(f);

	f = mk("allow ip\n", FLT_DROP);
	assert_allow(f, udp4(NULL, 1, NULL, 2), 0);
	assert_drop(f, udp6(NULL, 1, NULL, 2), 0);
	assert_drop(f, ((struct spec){ .ethertype = FLT_ETH_ARP }), 0);
	done(f);
}

static void test_match_vlan(void **state)
{
	(void)state;
	struct flt *f = mk("allow vlan 5\n", FLT_DROP);
	struct spec s = udp4(NULL, 1, NULL, 2);

	assert_drop(f, s, 0);
	s.vlans = 1;
	s.vid[0] = 5;
	assert_allow(f, s, 0);
	s.vid[0] = 6;
	assert_drop(f, s, 0);
	/* QinQ: the outer tag decides */
	s.vlans = 2;
	s.tpid[0] = FLT_ETH_QINQ;
	s.vid[0] = 5;
	s.vid[1] = 6;
	assert_allow(f, s, 0);
	s.vid[0] = 6;
	s.vid[1] = 5;
	assert_drop(f, s, 0);
	done(f);

	f = mk("allow vlan none\n", FLT_DROP);
	s = udp4(NULL, 1, NULL, 2);
	assert_allow(f, s, 0);
	s.vlans = 1;
	s.vid[0] = 0x2000;   /* priority tag only */
	assert_allow(f, s, 0);
	s.vid[0] = 7;
	assert_drop(f, s, 0);
	done(f);
}

static void test_match_ip4_prefix(void **state)
{
	(void)state;
	struct flt *f = mk("allow src 10.1.0.0/17\n"
			   "allow dst 192.168.1.7\n",
			   FLT_DROP);

	assert_allow(f, udp4("10.1.0.1", 1, "1.1.1.1", 2), 0);
	assert_allow(f, udp4("10.1.127.255", 1, "1.1.1.1", 2), 0);
	assert_drop(f, udp4("10.1.128.0", 1, "1.1.1.1", 2), 0);
	assert_drop(f, udp4("10.0.255.255", 1, "1.1.1.1", 2), 0);
	assert_allow(f, udp4("1.1.1.1", 1, "192.168.1.7", 2), 0);
	assert_drop(f, udp4("1.1.1.1", 1, "192.168.1.8", 2), 0);
	/* an IPv4 prefix never matches IPv6, whatever the bytes */
	assert_drop(f, udp6("a01:1::", 1, "::1", 2), 0);
	done(f);

	f = mk("allow src 0.0.0.0/0\n", FLT_DROP);
	assert_allow(f, udp4("255.255.255.255", 1, NULL, 2), 0);
	assert_drop(f, ((struct spec){ .ethertype = FLT_ETH_ARP }), 0);
	done(f);
}

static void test_match_ip6_prefix(void **state)
{
	(void)state;
	struct flt *f = mk("allow dst 2001:db8:1::/48\n"
			   "allow src fe80::/10\n"
			   "allow src ::1\n",
			   FLT_DROP);

	assert_allow(f, udp6("2001:db8::5", 1, "2001:db8:1:ffff::1", 2), 0);
	assert_drop(f, udp6("2001:db8::5", 1, "2001:db8:2::1", 2), 0);
	assert_allow(f, udp6("febf:ffff::1", 1, "::2", 2), 0);
	assert_drop(f, udp6("fec0::1", 1, "::2", 2), 0);
	assert_allow(f, udp6("::1", 1, "::2", 2), 0);
	assert_drop(f, udp6("::2", 1, "::2", 2), 0);
	assert_drop(f, udp4("1.1.1.1", 1, "32.1.13.184", 2), 0);
	done(f);
}

static void test_match_proto(void **state)
{
	(void)state;
	struct flt *f = mk("allow tcp\nallow proto 47\n", FLT_DROP);

	assert_allow(f, tcp4(NULL, 1, NULL, 2, FLT_TCP_SYN), 0);
	assert_allow(f, tcp6(NULL, 1, NULL, 2, FLT_TCP_SYN), 0);
	assert_drop(f, udp4(NULL, 1, NULL, 2), 0);
	assert_allow(f, ((struct spec){ .ipver = 4, .proto = 47, .payload = 8 }), 0);
	assert_allow(f, ((struct spec){ .ipver = 6, .proto = 47, .payload = 8 }), 0);
	/* protocol is in the IP header, so later fragments match too */
	struct spec s = tcp4(NULL, 1, NULL, 2, FLT_TCP_ACK);
	s.frag_off = 10;
	s.payload = 40;
	assert_allow(f, s, 0);
	done(f);

	f = mk("allow icmp\nallow icmp6\n", FLT_DROP);
	assert_allow(f, ((struct spec){ .ipver = 4, .proto = 1, .icmp_type = 8 }), 0);
	assert_allow(f, ((struct spec){ .ipver = 6, .proto = 58, .icmp_type = 128 }), 0);
	/* `icmp` is IPv4's ICMP: protocol 1 inside IPv6 does not match */
	assert_drop(f, ((struct spec){ .ipver = 6, .proto = 1, .payload = 8 }), 0);
	done(f);
}

static void test_match_ports(void **state)
{
	(void)state;
	struct flt *f = mk("allow tcp dport 1000-2000\n"
			   "allow udp sport 53\n",
			   FLT_DROP);

	assert_drop(f, tcp4(NULL, 5, NULL, 999, 0), 0);
	assert_allow(f, tcp4(NULL, 5, NULL, 1000, 0), 0);
	assert_allow(f, tcp6(NULL, 5, NULL, 2000, 0), 0);
	assert_drop(f, tcp4(NULL, 5, NULL, 2001, 0), 0);
	assert_drop(f, udp4(NULL, 5, NULL, 1500), 0);
	assert_allow(f, udp4(NULL, 53, NULL, 1500), 0);
	assert_drop(f, udp4(NULL, 54, NULL, 53), 0);
	/* a later fragment has no ports: port rules cannot match it */
	struct spec s = udp4(NULL, 53, NULL, 1);
	s.frag_off = 3;
	s.payload = 16;
	assert_drop(f, s, 0);
	done(f);
}

static void test_match_icmp_type(void **state)
{
	(void)state;
	struct flt *f = mk("allow icmp icmp-type 8\n"
			   "allow icmp6 icmp-type 128\n",
			   FLT_DROP);

	assert_allow(f, ((struct spec){ .ipver = 4, .proto = 1, .icmp_type = 8 }), 0);
	assert_drop(f, ((struct spec){ .ipver = 4, .proto = 1, .icmp_type = 0 }), 0);
	assert_allow(f, ((struct spec){ .ipver = 6, .proto = 58, .icmp_type = 128 }), 0);
	assert_drop(f, ((struct spec){ .ipver = 6, .proto = 58, .icmp_type = 8 }), 0);
	assert_drop(f, ((struct spec){ .ipver = 4, .proto = 1, .icmp_type = 128 }), 0);
	done(f);
}

static void test_match_nd(void **state)
{
	(void)state;
	struct flt *f = mk("allow nd\n", FLT_DROP);

	for (unsigned t = 130; t <= 140; t++) {
		struct spec s = { .ipver = 6, .proto = 58, .icmp_type = (uint8_t)t,
				  .payload = 16 };
		assert_int_equal(run_at(f, s, 0),
				 t >= 133 && t <= 137 ? FLT_ALLOW : FLT_DROP);
	}
	/* the same type numbers in ICMPv4 are not ND */
	assert_drop(f, ((struct spec){ .ipver = 4, .proto = 1, .icmp_type = 135 }), 0);
	done(f);
}

static void test_match_arp(void **state)
{
	(void)state;
	struct spec arp = { .ethertype = FLT_ETH_ARP, .dst_mac = MAC_BCAST };

	/* nothing is allowed implicitly: no rule, no ARP */
	struct flt *f = mk("allow ip\n", FLT_DROP);
	assert_drop(f, arp, 0);
	done(f);

	f = mk("allow arp\n", FLT_DROP);
	assert_allow(f, arp, 0);
	assert_drop(f, udp4(NULL, 1, NULL, 2), 0);
	done(f);
}

static void test_match_frag(void **state)
{
	(void)state;
	struct flt *f = mk("drop frag\nallow udp\n", FLT_DROP);
	struct spec s = udp4(NULL, 1, NULL, 2);

	assert_allow(f, s, 0);
	s.mf = true;   /* the first fragment is not `frag` */
	assert_allow(f, s, 0);
	s.mf = false;
	s.frag_off = 1;
	s.payload = 8;
	assert_drop(f, s, 0);
	assert_int_equal(rule_frames(f, 0), 1);
	done(f);
}

static void test_rule_match_direct(void **state)
{
	(void)state;
	struct flt_rule r;
	struct flt_pkt p;
	uint8_t buf[FRAME_MAX];
	struct spec s = tcp6("2001:db8::1", 1, "2001:db8::2", 443, FLT_TCP_SYN);

	assert_int_equal(flt_parse(buf, build(&s, buf), &p), 0);
	assert_int_equal(flt_rule_parse("allow tcp dport 443", &r, NULL, 0), 0);
	assert_true(flt_rule_match(&r, &p));
	assert_int_equal(flt_rule_parse("allow ip tcp dport 443", &r, NULL, 0), 0);
	assert_false(flt_rule_match(&r, &p));
	assert_int_equal(flt_rule_parse("allow", &r, NULL, 0), 0);
	assert_true(flt_rule_match(&r, &p));
}

/* ---- order, policy, counters ---------------------------------------------- */

static void test_first_match_wins(void **state)
{
	(void)state;
	struct flt *f = mk("drop tcp dport 22\nallow tcp\n", FLT_DROP);

	assert_drop(f, tcp4(NULL, 5, NULL, 22, 0), 0);
	assert_allow(f, tcp4(NULL, 5, NULL, 80, 0), 0);
	assert_int_equal(rule_frames(f, 0), 1);
	assert_int_equal(rule_frames(f, 1), 1);
	done(f);

	/* the other order: the broad rule shadows the narrow one */
	f = mk("allow tcp\ndrop tcp dport 22\n", FLT_DROP);
	assert_allow(f, tcp4(NULL, 5, NULL, 22, 0), 0);
	assert_int_equal(rule_frames(f, 0), 1);
	assert_int_equal(rule_frames(f, 1), 0);
	done(f);
}

static void test_default_policy(void **state)
{
	(void)state;
	struct flt *f = mk("", FLT_ALLOW);
	assert_allow(f, udp4(NULL, 1, NULL, 2), 0);
	assert_allow(f, ((struct spec){ .ethertype = FLT_ETH_ARP }), 0);
	assert_int_equal(stats(f).policy.frames, 2);
	done(f);

	f = mk("drop udp\n", FLT_ALLOW);
	assert_drop(f, udp4(NULL, 1, NULL, 2), 0);
	assert_allow(f, tcp4(NULL, 1, NULL, 2, 0), 0);
	assert_int_equal(stats(f).policy.frames, 1);
	done(f);

	/* a zeroed config fails closed */
	f = mk("", 0);
	assert_drop(f, udp4(NULL, 1, NULL, 2), 0);
	done(f);
}

static void test_counters(void **state)
{
	(void)state;
	struct flt *f = mk("allow udp dport 53\ndrop tcp\n", FLT_DROP);
	uint8_t buf[FRAME_MAX];
	struct spec dns = udp4(NULL, 1, NULL, 53);
	size_t ndns = build(&dns, buf);

	assert_int_equal(flt_decide(f, buf, ndns, 0), FLT_ALLOW);
	assert_int_equal(flt_decide(f, buf, ndns, 0), FLT_ALLOW);
	assert_drop(f, tcp4(NULL, 1, NULL, 2, 0), 0);       /* 54 bytes */
	assert_drop(f, ((struct spec){ .ethertype = FLT_ETH_ARP }), 0);  /* 42 */
	assert_int_equal(flt_decide(f, buf, 13, 0), FLT_DROP);          /* runt */
	assert_int_equal(flt_decide(f, NULL, 0, 0), FLT_DROP);

	struct flt_counter c;
	assert_int_equal(flt_rule_stats(f, 0, &c), 0);
	assert_int_equal(c.frames, 2);
	assert_int_equal(c.bytes, 2 * ndns);
	assert_int_equal(flt_rule_stats(f, 1, &c), 0);
	assert_int_equal(c.frames, 1);
	assert_int_equal(c.bytes, 54);
	assert_int_equal(flt_rule_stats(f, 2, &c), -ERANGE);

	struct flt_stats st = stats(f);
	assert_int_equal(st.policy.frames, 1);
	assert_int_equal(st.policy.bytes, 42);
	assert_int_equal(st.malformed.frames, 2);
	assert_int_equal(st.malformed.bytes, 13);
	assert_int_equal(st.allowed.frames, 2);
	assert_int_equal(st.dropped.frames, 4);
	assert_int_equal(st.dropped.bytes, 54 + 42 + 13);
	assert_int_equal(st.ct_capacity, 0);

	assert_int_equal(flt_rule_count(f), 2);
	char txt[FLT_RULE_TEXT_MAX];
	assert_int_equal(flt_rule_format(flt_rule_get(f, 1), txt, sizeof(txt)), 8);
	assert_string_equal(txt, "drop tcp");
	assert_null(flt_rule_get(f, 2));
	done(f);

	/* malformed frames are dropped even under an allow policy */
	f = mk("allow\n", FLT_ALLOW);
	assert_int_equal(flt_decide(f, buf, 20, 0), FLT_DROP);
	assert_int_equal(stats(f).malformed.frames, 1);
	assert_int_equal(rule_frames(f, 0), 0);
	done(f);

	assert_int_equal(flt_decide(NULL, buf, ndns, 0), FLT_DROP);
	assert_int_equal(flt_rule_count(NULL), 0);
	assert_null(flt_rule_get(NULL, 0));
	assert_int_equal(flt_rule_stats(NULL, 0, &c), -ERANGE);
	assert_int_equal(flt_selfcheck(NULL), 0);
	st = stats(NULL);
	assert_int_equal(st.allowed.frames, 0);
	flt_free(NULL);
}

static void test_new_bad_config(void **state)
{
	(void)state;
	struct flt_rule bad = { .action = FLT_ALLOW, .match = FLT_M_VLAN,
				.vlan = 5000 };

	errno = 0;
	assert_null(flt_new(NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(flt_new(&(struct flt_config){ .nrules = 1 }));
	assert_null(flt_new(&(struct flt_config){ .policy = 2 }));
	assert_null(flt_new(&(struct flt_config){
		.stateful = true, .ct_capacity = FLT_CT_CAPACITY_MAX + 1 }));
	errno = 0;
	assert_null(flt_new(&(struct flt_config){ .rules = &bad, .nrules = 1 }));
	assert_int_equal(errno, EINVAL);
}

/* ---- stateful ------------------------------------------------------------- */

static struct flt *mk_ct(const char *rules, uint32_t cap)
{
	return mk_cfg(rules, (struct flt_config){
				     .policy = FLT_DROP,
				     .stateful = true,
				     .ct_capacity = cap,
				     .tcp_established_s = 100,
				     .tcp_closing_s = 5,
				     .udp_s = 10,
				     .other_s = 3,
				     .hash_key = { 1, 2 },
			     });
}

static void test_ct_reply_needs_forward(void **state)
{
	(void)state;
	struct flt *f = mk_ct("allow tcp dst 10.0.0.2 dport 80\n", 0);
	struct spec fwd = tcp4("10.0.0.1", 40000, "10.0.0.2", 80, FLT_TCP_SYN);
	struct spec rep = tcp4("10.0.0.2", 80, "10.0.0.1", 40000,
			       FLT_TCP_SYN | FLT_TCP_ACK);

	assert_int_equal(stats(f).ct_capacity, FLT_CT_CAPACITY_DEFAULT);
	/* a reply before anything was allowed is just unsolicited */
	assert_drop(f, rep, 0);
	assert_allow(f, fwd, 1 * SEC);
	assert_int_equal(stats(f).ct_created, 1);
	assert_allow(f, rep, 2 * SEC);
	assert_int_equal(stats(f).ct_hit.frames, 1);

	/* only the exact reverse tuple */
	struct spec s = rep;
	s.sport = 81;
	assert_drop(f, s, 3 * SEC);
	s = rep;
	s.dport = 40001;
	assert_drop(f, s, 3 * SEC);
	s = rep;
	s.src = "10.0.0.3";
	assert_drop(f, s, 3 * SEC);
	s = rep;
	s.dst = "10.0.0.4";
	assert_drop(f, s, 3 * SEC);
	s = rep;
	s.proto = FLT_PROTO_UDP;
	assert_drop(f, s, 3 * SEC);
	s = rep;
	s.vlans = 1;
	s.vid[0] = 9;
	assert_drop(f, s, 3 * SEC);
	/* the forward tuple sent the other way is not a reply */
	s = tcp4("10.0.0.2", 40000, "10.0.0.1", 80, FLT_TCP_SYN);
	assert_drop(f, s, 3 * SEC);
	assert_int_equal(stats(f).ct_hit.frames, 1);
	assert_int_equal(rule_frames(f, 0), 1);
	done(f);
}

static void test_ct_ipv6_and_udp(void **state)
{
	(void)state;
	struct flt *f = mk_ct("allow udp dport 53\n", 0);
	struct spec fwd = udp6("2001:db8::1", 5000, "2001:db8::53", 53);
	struct spec rep = udp6("2001:db8::53", 53, "2001:db8::1", 5000);

	assert_drop(f, rep, 0);
	assert_allow(f, fwd, 0);
	assert_allow(f, rep, 0);
	/* same addresses and ports, other IP version: another flow */
	assert_drop(f, udp4("0.0.0.0", 53, "0.0.0.0", 5000), 0);
	done(f);
}

static void test_ct_only_rules_create_state(void **state)
{
	(void)state;
	struct spec fwd = udp4("10.0.0.1", 1, "10.0.0.2", 2);
	struct spec rep = udp4("10.0.0.2", 2, "10.0.0.1", 1);

	/* the default policy never creates state ... */
	struct flt *f = mk_cfg("drop src 10.0.0.2\n",
			       (struct flt_config){ .policy = FLT_ALLOW,
						    .stateful = true });
	assert_allow(f, fwd, 0);
	assert_drop(f, rep, 0);
	assert_int_equal(stats(f).ct_created, 0);
	done(f);

	/* ... a final catch-all `allow` rule does */
	f = mk_cfg("drop src 10.0.0.2\nallow\n",
		   (struct flt_config){ .policy = FLT_ALLOW, .stateful = true });
	assert_allow(f, fwd, 0);
	assert_allow(f, rep, 0);
	done(f);

	/* a dropped packet creates nothing */
	f = mk_ct("drop udp\n", 0);
	assert_drop(f, fwd, 0);
	assert_int_equal(stats(f).ct_created, 0);
	done(f);
}

/* State admits replies only; the forward direction always meets the rules. */
static void test_ct_forward_still_ruled(void **state)
{
	(void)state;
	static const uint8_t evil[6] = { 0x02, 0, 0, 0, 0xee, 0xee };
	struct flt *f = mk_ct("drop src-mac 02:00:00:00:ee:ee\nallow udp\n", 0);
	struct spec fwd = udp4("10.0.0.1", 1, "10.0.0.2", 2);

	assert_allow(f, fwd, 0);
	fwd.src_mac = evil;
	assert_drop(f, fwd, 0);
	assert_int_equal(rule_frames(f, 0), 1);
	assert_int_equal(rule_frames(f, 1), 1);
	assert_int_equal(stats(f).ct_hit.frames, 0);
	done(f);
}

static void test_ct_udp_expiry(void **state)
{
	(void)state;
	struct flt *f = mk_ct("allow udp dport 9\n", 0);   /* UDP: 10 s */
	struct spec fwd = udp4("10.0.0.1", 7, "10.0.0.2", 9);
	struct spec rep = udp4("10.0.0.2", 9, "10.0.0.1", 7);

	assert_allow(f, fwd, 0);
	assert_allow(f, rep, 9 * SEC);           /* refresh: now until 19 s */
	assert_allow(f, rep, 19 * SEC - 1);      /* until 29 s - 1 ns */
	assert_drop(f, rep, 29 * SEC - 1);
	struct flt_stats st = stats(f);
	assert_int_equal(st.ct_expired, 1);
	assert_int_equal(st.ct_entries, 0);
	assert_int_equal(st.ct_hit.frames, 2);

	/* a forward packet refreshes too */
	assert_allow(f, fwd, 100 * SEC);
	assert_allow(f, fwd, 108 * SEC);
	assert_allow(f, rep, 117 * SEC);
	assert_drop(f, rep, 128 * SEC);
	done(f);
}

static void test_ct_tcp_close(void **state)
{
	(void)state;
	/* established 100 s, closing 5 s */
	struct flt *f = mk_ct("allow tcp dport 80\n", 0);
	struct spec syn = tcp4("10.0.0.1", 1234, "10.0.0.2", 80, FLT_TCP_SYN);
	struct spec fin = tcp4("10.0.0.1", 1234, "10.0.0.2", 80,
			       FLT_TCP_FIN | FLT_TCP_ACK);
	struct spec rep = tcp4("10.0.0.2", 80, "10.0.0.1", 1234, FLT_TCP_ACK);

	struct spec ack = syn;
	ack.tcp_flags = FLT_TCP_ACK;

	assert_allow(f, syn, 0);
	assert_allow(f, rep, 50 * SEC);          /* established: 100 s */
	assert_allow(f, ack, 60 * SEC);          /* still established */
	assert_allow(f, rep, 149 * SEC);
	assert_allow(f, fin, 150 * SEC);         /* now closing: 5 s */
	assert_allow(f, rep, 154 * SEC);         /* refreshes, stays closing */
	assert_drop(f, rep, 159 * SEC);
	assert_int_equal(stats(f).ct_entries, 0);

	/* RST from the reply side shortens as well */
	assert_allow(f, syn, 200 * SEC);
	struct spec rst = rep;
	rst.tcp_flags = FLT_TCP_RST;
	assert_allow(f, rst, 201 * SEC);
	assert_drop(f, rep, 206 * SEC);

	/* a new SYN on a closing flow reopens it with the long timeout */
	assert_allow(f, syn, 300 * SEC);
	assert_allow(f, fin, 301 * SEC);
	assert_allow(f, syn, 302 * SEC);
	assert_allow(f, rep, 350 * SEC);
	done(f);
}

static void test_ct_tcp_rst_creates_nothing(void **state)
{
	(void)state;
	struct flt *f = mk_ct("allow tcp\n", 0);
	struct spec rst = tcp4("10.0.0.1", 1, "10.0.0.2", 2, FLT_TCP_RST);
	struct spec fin = tcp4("10.0.0.1", 3, "10.0.0.2", 4, FLT_TCP_FIN);

	assert_allow(f, rst, 0);
	assert_int_equal(stats(f).ct_created, 0);
	/* a FIN does, with the short timeout */
	assert_allow(f, fin, 0);
	assert_int_equal(stats(f).ct_created, 1);
	done(f);

	f = mk_ct("allow tcp dport 4\n", 0);
	assert_allow(f, fin, 0);
	assert_allow(f, tcp4("10.0.0.2", 4, "10.0.0.1", 3, FLT_TCP_ACK), 4 * SEC);
	assert_drop(f, tcp4("10.0.0.2", 4, "10.0.0.1", 3, FLT_TCP_ACK), 10 * SEC);
	done(f);
}

static void test_ct_icmp_echo(void **state)
{
	(void)state;
	struct flt *f = mk_ct("allow icmp icmp-type 8\nallow icmp6 icmp-type 128\n", 0);
	struct spec req = { .ipver = 4, .proto = 1, .icmp_type = 8,
			    .icmp_id = 77, .src = "10.0.0.1", .dst = "10.0.0.2" };
	struct spec rep = { .ipver = 4, .proto = 1, .icmp_type = 0,
			    .icmp_id = 77, .src = "10.0.0.2", .dst = "10.0.0.1" };

	assert_drop(f, rep, 0);
	assert_allow(f, req, 0);
	assert_allow(f, rep, 1 * SEC);
	struct spec s = rep;
	s.icmp_id = 78;
	assert_drop(f, s, 1 * SEC);
	/* the responder may not start its own pings on the strength of it */
	s = rep;
	s.icmp_type = 8;
	assert_allow(f, s, 1 * SEC);   /* allowed by rule 0, not by state */
	assert_int_equal(stats(f).ct_hit.frames, 1);
	/* other-protocol timeout: 3 s */
	assert_drop(f, rep, 5 * SEC);

	struct spec req6 = { .ipver = 6, .proto = 58, .icmp_type = 128,
			     .icmp_id = 5 };
	struct spec rep6 = { .ipver = 6, .proto = 58, .icmp_type = 129,
			     .icmp_id = 5, .src = "2001:db8::2",
			     .dst = "2001:db8::1" };
	assert_drop(f, rep6, 10 * SEC);
	assert_allow(f, req6, 10 * SEC);
	assert_allow(f, rep6, 10 * SEC);
	done(f);
}

static void test_ct_table_full(void **state)
{
	(void)state;
	struct flt *f = mk_ct("allow udp\n", 4);
	char src[32];

	for (unsigned i = 0; i < 4; i++) {
		snprintf(src, sizeof(src), "10.0.0.%u", 10 + i);
		assert_allow(f, udp4(src, 1000, "10.0.0.1", 53), i * SEC);
	}
	assert_int_equal(stats(f).ct_entries, 4);
	assert_int_equal(stats(f).ct_full, 0);
	/* a fifth flow evicts the one that expires first: the oldest */
	assert_allow(f, udp4("10.0.0.20", 1000, "10.0.0.1", 53), 4 * SEC);
	struct flt_stats st = stats(f);
	assert_int_equal(st.ct_entries, 4);
	assert_int_equal(st.ct_full, 1);
	assert_int_equal(st.ct_created, 5);
	done(f);

	/* which flow went: replies tell (the rule does not match them) */
	f = mk_ct("allow udp dport 53\n", 4);
	for (unsigned i = 0; i < 5; i++) {
		snprintf(src, sizeof(src), "10.0.0.%u", 10 + i);
		assert_allow(f, udp4(src, 1000, "10.0.0.1", 53), i * SEC);
	}
	assert_drop(f, udp4("10.0.0.1", 53, "10.0.0.10", 1000), 5 * SEC);
	for (unsigned i = 1; i < 5; i++) {
		snprintf(src, sizeof(src), "10.0.0.%u", 10 + i);
		assert_allow(f, udp4("10.0.0.1", 53, src, 1000), 5 * SEC);
	}
	assert_int_equal(stats(f).ct_full, 1);

	/* once they have expired, new flows reuse their slots quietly */
	for (unsigned i = 0; i < 20; i++) {
		snprintf(src, sizeof(src), "10.0.1.%u", i);
		assert_allow(f, udp4(src, 1000, "10.0.0.1", 53), (100 + 20 * i) * SEC);
		assert_int_equal(flt_selfcheck(f), 0);
	}
	st = stats(f);
	assert_int_equal(st.ct_full, 1);
	assert_true(st.ct_entries <= 4);
	assert_int_equal(st.ct_expired, 4 + 19);
	done(f);
}

/* Under pressure, short-lived flows give way before established TCP. */
static void test_ct_full_evicts_soonest(void **state)
{
	(void)state;
	struct flt *f = mk_ct("allow tcp dport 22\nallow udp dport 53\n", 2);
	struct spec ssh = tcp4("10.0.0.1", 5000, "10.0.0.2", 22, FLT_TCP_SYN);
	struct spec ssh_rep = tcp4("10.0.0.2", 22, "10.0.0.1", 5000, FLT_TCP_ACK);

	assert_allow(f, ssh, 0);   /* expires at 100 s */
	assert_allow(f, udp4("10.0.0.1", 1, "10.0.0.3", 53), 1 * SEC);  /* 11 s */
	assert_allow(f, udp4("10.0.0.1", 2, "10.0.0.3", 53), 2 * SEC);  /* full */
	assert_int_equal(stats(f).ct_full, 1);
	assert_allow(f, ssh_rep, 3 * SEC);
	assert_drop(f, udp4("10.0.0.3", 53, "10.0.0.1", 1), 3 * SEC);
	assert_allow(f, udp4("10.0.0.3", 53, "10.0.0.1", 2), 3 * SEC);
	done(f);
}

/* More flows expire at once than one frame's cleanup budget removes: the
 * lookup itself must refuse (and drop) the stale ones. */
static void test_ct_lazy_expiry(void **state)
{
	(void)state;
	struct flt *f = mk_ct("allow udp dport 53\n", 0);
	char src[32];

	for (unsigned i = 0; i < 8; i++) {
		snprintf(src, sizeof(src), "10.0.0.%u", 10 + i);
		assert_allow(f, udp4(src, 1000, "10.0.0.1", 53), 0);
	}
	assert_drop(f, udp4("10.0.0.1", 53, "10.0.0.17", 1000), 100 * SEC);
	struct flt_stats st = stats(f);
	assert_int_equal(st.ct_expired, 5);
	assert_int_equal(st.ct_entries, 3);
	done(f);
}

/* Only TCP, UDP and ICMP echo make flows. */
static void test_ct_untracked(void **state)
{
	(void)state;
	struct flt *f = mk_ct("allow icmp\nallow proto 47\nallow arp\n", 0);

	assert_allow(f, ((struct spec){ .ipver = 4, .proto = 1, .icmp_type = 3 }), 0);
	assert_allow(f, ((struct spec){ .ipver = 4, .proto = 47, .payload = 4 }), 0);
	assert_allow(f, ((struct spec){ .ethertype = FLT_ETH_ARP }), 0);
	assert_int_equal(stats(f).ct_created, 0);
	done(f);
}

/* Many flows through a small table keep it consistent. */
static void test_ct_churn(void **state)
{
	(void)state;
	struct flt *f = mk_ct("allow tcp\nallow udp\nallow icmp icmp-type 8\n", 16);
	uint32_t x = 1;
	uint64_t now = 0;

	for (unsigned i = 0; i < 5000; i++) {
		char a[32], b[32];
		x = x * 1103515245u + 12345u;
		snprintf(a, sizeof(a), "10.0.%u.%u", x >> 28, (x >> 20) & 7);
		snprintf(b, sizeof(b), "10.1.0.%u", (x >> 12) & 3);
		uint16_t sp = (uint16_t)(x & 7), dp = (uint16_t)((x >> 3) & 3);
		struct spec s;
		switch (x >> 30) {
		case 0:
			s = tcp4(a, sp, b, dp, (uint8_t)((x >> 8) & 0x17));
			break;
		case 1:
			s = udp4(a, sp, b, dp);
			break;
		case 2:
			s = udp4(b, dp, a, sp);
			break;
		default:
			s = (struct spec){ .ipver = 4, .proto = 1, .src = a, .dst = b,
					   .icmp_type = (x & 1) ? 8 : 0,
					   .icmp_id = sp };
			break;
		}
		run_at(f, s, now);
		now += (x & 0xff) * (SEC / 64);
		if (i % 97 == 0)
			assert_int_equal(flt_selfcheck(f), 0);
	}
	struct flt_stats st = stats(f);
	assert_true(st.ct_entries <= 16);
	assert_true(st.ct_created > 16);
	done(f);
}

/* ---- rule text ------------------------------------------------------------ */

static void test_rule_parse_canonical(void **state)
{
	(void)state;
	static const struct {
		const char *in, *canon;
	} cases[] = {
		{ "allow", "allow" },
		{ "drop ip4 tcp dport 22", "drop ip tcp dport 22" },
		{ "allow ethertype ip6 proto udp sport 53", "allow ip6 udp sport 53" },
		{ "allow ethertype 0x0806", "allow arp" },
		{ "allow ethertype 0x88CC", "allow ethertype 0x88cc" },
		{ "allow dst-mac ff:ff:ff:ff:ff:ff", "allow dst-mac broadcast" },
		{ "allow src-mac 02:00:00:00:AA:01", "allow src-mac 02:00:00:00:aa:01" },
		{ "allow src 10.0.0.1", "allow src 10.0.0.1" },
		{ "allow src 10.0.0.1/32", "allow src 10.0.0.1" },
		{ "allow src 10.0.0.0/8", "allow src 10.0.0.0/8" },
		{ "allow dst 2001:DB8:0:0::0/32", "allow dst 2001:db8::/32" },
		{ "allow src ::/0", "allow src ::/0" },
		{ "allow proto 47", "allow proto 47" },
		{ "allow proto 6 dport 80-80", "allow tcp dport 80" },
		{ "allow dport 1000-2000 udp", "allow udp dport 1000-2000" },
		{ "allow nd", "allow nd" },
		{ "allow nd icmp6 ip6", "allow ip6 icmp6 nd" },
		{ "allow vlan none arp", "allow arp vlan none" },
		{ "allow vlan 4094", "allow vlan 4094" },
		{ "  allow   tcp\tdport 1-2   # web", "allow tcp dport 1-2" },
		{ "drop frag", "drop frag" },
		{ "drop ip udp frag", "drop ip udp frag" },
		{ "allow icmp-type 0 icmp", "allow icmp icmp-type 0" },
		{ "allow icmp6 icmp-type 2", "allow icmp6 icmp-type 2" },
		{ "allow dst-mac 33:33:00:00:00:01 ip6 dst ff02::1 src fe80::/64 udp "
		  "sport 0-65535 dport 5353 vlan 7 src-mac 02:00:00:00:00:01",
		  "allow ip6 vlan 7 src-mac 02:00:00:00:00:01 dst-mac "
		  "33:33:00:00:00:01 src fe80::/64 dst ff02::1 udp sport 0-65535 "
		  "dport 5353" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct flt_rule r, again;
		char err[FLT_ERR_MAX], txt[FLT_RULE_TEXT_MAX];

		int rc = flt_rule_parse(cases[i].in, &r, err, sizeof(err));
		if (rc != 0)
			fail_msg("'%s': %s", cases[i].in, err);
		assert_int_equal(flt_rule_check(&r, err, sizeof(err)), 0);
		rc = flt_rule_format(&r, txt, sizeof(txt));
		assert_int_equal(rc, (int)strlen(cases[i].canon));
		assert_string_equal(txt, cases[i].canon);
		/* round trip: the canonical text gives the same rule back */
		assert_int_equal(flt_rule_parse(txt, &again, err, sizeof(err)), 0);
		assert_true(flt_rule_equal(&r, &again));
	}
}

static void test_rule_parse_errors(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc;
		const char *msg;
	} cases[] = {
		{ "", -ENODATA, "empty rule" },
		{ "   # only a comment", -ENODATA, "empty rule" },
		{ "accept tcp", -EINVAL, "expected 'allow' or 'drop', got 'accept'" },
		{ "ALLOW", -EINVAL, "expected 'allow' or 'drop', got 'ALLOW'" },
		{ "allow foo", -EINVAL, "unknown match 'foo'" },
		{ "allow tcp dport", -EINVAL, "'dport' needs a value" },
		{ "allow tcp dport # 80", -EINVAL, "'dport' needs a value" },
		{ "allow tcp dport 70000", -EINVAL, "bad port '70000' (0-65535 or N-M)" },
		{ "allow tcp dport 80-", -EINVAL, "bad port '80-' (0-65535 or N-M)" },
		{ "allow tcp dport -80", -EINVAL, "bad port '-80' (0-65535 or N-M)" },
		{ "allow tcp dport 0x50", -EINVAL, "bad port '0x50' (0-65535 or N-M)" },
		{ "allow tcp sport 90-80", -EINVAL, "bad port range '90-80' (start > end)" },
		{ "allow dport 80", -EINVAL, "'dport 80' needs 'tcp' or 'udp'" },
		{ "allow icmp sport 1", -EINVAL, "'sport 1' needs 'tcp' or 'udp'" },
		{ "allow icmp-type 8", -EINVAL, "'icmp-type 8' needs 'icmp' or 'icmp6'" },
		{ "allow tcp icmp-type 8", -EINVAL, "'icmp-type 8' needs 'icmp' or 'icmp6'" },
		{ "allow icmp icmp-type 256", -EINVAL, "bad ICMP type '256' (0-255)" },
		{ "allow vlan 0", -EINVAL, "bad VLAN '0' (1-4094 or none)" },
		{ "allow vlan 4095", -EINVAL, "bad VLAN '4095' (1-4094 or none)" },
		{ "allow vlan any", -EINVAL, "bad VLAN 'any' (1-4094 or none)" },
		{ "allow src-mac 02:00:00:00:aa", -EINVAL, "bad MAC address '02:00:00:00:aa'" },
		{ "allow src-mac 02-00-00-00-aa-01", -EINVAL, "bad MAC address '02-00-00-00-aa-01'" },
		{ "allow src-mac 02:00:00:00:aa:0g", -EINVAL, "bad MAC address '02:00:00:00:aa:0g'" },
		{ "allow src-mac broadcast", -EINVAL, "bad MAC address 'broadcast'" },
		{ "allow src 10.0.0.256", -EINVAL, "bad address '10.0.0.256'" },
		{ "allow src 10.0.0", -EINVAL, "bad address '10.0.0'" },
		{ "allow dst 2001:db8::g", -EINVAL, "bad address '2001:db8::g'" },
		{ "allow src 10.0.0.0/33", -EINVAL, "bad prefix length '10.0.0.0/33' (0-32)" },
		{ "allow src 10.0.0.0/", -EINVAL, "bad prefix length '10.0.0.0/' (0-32)" },
		{ "allow src 2001:db8::/129", -EINVAL, "bad prefix length '2001:db8::/129' (0-128)" },
		{ "allow src 10.0.0.1/8", -EINVAL, "host bits set in '10.0.0.1/8' (network is 10.0.0.0/8)" },
		{ "allow dst 2001:db8::1/64", -EINVAL, "host bits set in '2001:db8::1/64' (network is 2001:db8::/64)" },
		{ "allow src 10.0.0.0/8 src 10.0.0.1", -EINVAL, "'src' given twice" },
		{ "allow ip src 2001:db8::/32", -EINVAL, "'src 2001:db8::/32' conflicts with 'ip'" },
		{ "allow src 10.0.0.0/8 dst 2001:db8::1", -EINVAL, "'dst 2001:db8::1' conflicts with 'src 10.0.0.0/8'" },
		{ "allow ip ip6", -EINVAL, "'ip6' conflicts with 'ip'" },
		{ "allow ip ip", -EINVAL, "'ip' given twice" },
		{ "allow tcp udp", -EINVAL, "'udp' conflicts with 'tcp'" },
		{ "allow proto tcp tcp", -EINVAL, "'tcp' conflicts with 'proto tcp'" },
		{ "allow arp tcp", -EINVAL, "'tcp' conflicts with 'arp'" },
		{ "allow ethertype 0x88cc frag", -EINVAL, "'frag' conflicts with 'ethertype 0x88cc'" },
		{ "allow arp dst 10.0.0.1", -EINVAL, "'dst 10.0.0.1' conflicts with 'arp'" },
		{ "allow ip6 icmp", -EINVAL, "'icmp' conflicts with 'ip6'" },
		{ "allow src 10.0.0.1 icmp6", -EINVAL, "'icmp6' conflicts with 'src 10.0.0.1'" },
		{ "allow nd ip", -EINVAL, "'nd' conflicts with 'ip'" },
		{ "allow nd tcp", -EINVAL, "'nd' conflicts with 'tcp'" },
		{ "allow nd nd", -EINVAL, "'nd' given twice" },
		{ "allow nd icmp-type 135", -EINVAL, "'icmp-type 135' conflicts with 'nd'" },
		{ "allow frag udp dport 53", -EINVAL, "'frag' conflicts with 'dport 53'" },
		{ "allow frag nd", -EINVAL, "'frag' conflicts with 'nd'" },
		{ "allow ethertype 0x8100", -EINVAL, "EtherType '0x8100' is a VLAN tag; use 'vlan'" },
		{ "allow ethertype 0x88a8", -EINVAL, "EtherType '0x88a8' is a VLAN tag; use 'vlan'" },
		{ "allow ethertype 0x05dc", -EINVAL, "bad EtherType '0x05dc' (0x0600-0xffff, arp, ip or ip6)" },
		{ "allow ethertype 0x12345", -EINVAL, "bad EtherType '0x12345' (0x0600-0xffff, arp, ip or ip6)" },
		{ "allow ethertype 2048", -EINVAL, "bad EtherType '2048' (0x0600-0xffff, arp, ip or ip6)" },
		{ "allow proto 256", -EINVAL, "bad protocol '256' (tcp, udp, icmp, icmp6 or 0-255)" },
		{ "allow proto sctp", -EINVAL, "bad protocol 'sctp' (tcp, udp, icmp, icmp6 or 0-255)" },
		{ "allow f\001o", -EINVAL, "unknown match 'f?o'" },
		{ "allow xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		  -EINVAL, "unknown match 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct flt_rule r;
		char err[FLT_ERR_MAX];

		memset(err, 'z', sizeof(err));
		int rc = flt_rule_parse(cases[i].in, &r, err, sizeof(err));
		if (rc != cases[i].rc || strcmp(err, cases[i].msg) != 0)
			fail_msg("'%s': got %d '%s', want %d '%s'", cases[i].in,
				 rc, err, cases[i].rc, cases[i].msg);
		/* the rule is left empty */
		assert_int_equal(r.match, 0);
	}
}

static void test_rule_parse_err_buffer(void **state)
{
	(void)state;
	struct flt_rule r;
	char small[8];

	assert_int_equal(flt_rule_parse("allow foo", &r, NULL, 0), -EINVAL);
	assert_int_equal(flt_rule_parse("allow foo", &r, small, sizeof(small)),
			 -EINVAL);
	assert_string_equal(small, "unknown");
	assert_int_equal(flt_rule_parse(NULL, &r, small, sizeof(small)), -EINVAL);
	assert_int_equal(flt_rule_parse("allow", NULL, NULL, 0), -EINVAL);
}

static void test_rule_check_built_in_code(void **state)
{
	(void)state;
	static const struct {
		struct flt_rule r;
		const char *msg;
	} cases[] = {
		{ { .action = 3 }, "bad action 3" },
		{ { .match = 1u << 20 }, "unknown match bits 0x100000" },
		{ { .match = FLT_M_VLAN, .vlan = 5000 }, "bad VLAN '5000' (1-4094 or none)" },
		{ { .match = FLT_M_ETHERTYPE, .ethertype = 0x8100 },
		  "EtherType '0x8100' is a VLAN tag; use 'vlan'" },
		{ { .match = FLT_M_SRC, .src = { .ipver = 5 } }, "bad address family 5 in 'src'" },
		{ { .match = FLT_M_DST, .dst = { .ipver = 4, .len = 40 } },
		  "bad prefix length '0.0.0.0/40' (0-32)" },
		{ { .match = FLT_M_SRC, .src = { .ipver = 4, .len = 8, .addr = { 10, 1 } } },
		  "host bits set in '10.1.0.0/8' (network is 10.0.0.0/8)" },
		{ { .match = FLT_M_DST, .dst = { .ipver = 4, .len = 32, .addr = { 1, 2, 3, 4, 5 } } },
		  "stray bytes after the IPv4 address in 'dst'" },
		{ { .match = FLT_M_PROTO | FLT_M_DPORT, .proto = 6, .dport = { 9, 8 } },
		  "bad port range '9-8' (start > end)" },
		{ { .match = FLT_M_DPORT, .dport = { 80, 80 } }, "'dport 80' needs 'tcp' or 'udp'" },
		{ { .match = FLT_M_ETHERTYPE | FLT_M_SRC, .ethertype = FLT_ETH_IP6,
		    .src = { .ipver = 4, .len = 0 } },
		  "'src 0.0.0.0/0' conflicts with 'ip6'" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[FLT_ERR_MAX], txt[FLT_RULE_TEXT_MAX];
		int rc = flt_rule_check(&cases[i].r, err, sizeof(err));
		if (rc != -EINVAL || strcmp(err, cases[i].msg) != 0)
			fail_msg("case %zu: got %d '%s', want '%s'", i, rc, err,
				 cases[i].msg);
		assert_int_equal(flt_rule_format(&cases[i].r, txt, sizeof(txt)),
				 -EINVAL);
	}

	/* a good one built in code formats and parses back */
	struct flt_rule r = { .action = FLT_ALLOW,
			      .match = FLT_M_PROTO | FLT_M_SPORT | FLT_M_DST,
			      .proto = 17, .sport = { 67, 68 },
			      .dst = { .ipver = 4, .len = 32, .addr = { 255, 255, 255, 255 } } };
	char txt[FLT_RULE_TEXT_MAX];
	struct flt_rule back;
	assert_int_equal(flt_rule_check(&r, NULL, 0), 0);
	assert_true(flt_rule_format(&r, txt, sizeof(txt)) > 0);
	assert_string_equal(txt, "allow dst 255.255.255.255 udp sport 67-68");
	assert_int_equal(flt_rule_parse(txt, &back, NULL, 0), 0);
	assert_true(flt_rule_equal(&r, &back));
}

static void test_rule_format_space(void **state)
{
	(void)state;
	struct flt_rule r;
	char small[10], big[FLT_RULE_TEXT_MAX];
	/* about the longest rule there is */
	const char *longest =
		"allow ip6 vlan 4094 src-mac 02:00:00:00:00:01 dst-mac "
		"02:00:00:00:00:02 src 2001:db8:1111:2222:3333:4444:5555:6666 "
		"dst 2001:db8:1111:2222:3333:4444:5555:7777 tcp sport 65534-65535 "
		"dport 65534-65535";

	assert_int_equal(flt_rule_parse(longest, &r, NULL, 0), 0);
	int n = flt_rule_format(&r, big, sizeof(big));
	assert_int_equal(n, (int)strlen(longest));
	assert_string_equal(big, longest);
	assert_true(n < FLT_RULE_TEXT_MAX);

	assert_int_equal(flt_rule_format(&r, small, sizeof(small)), -ENOSPC);
	assert_string_equal(small, "allow ip6");
	assert_int_equal(flt_rule_format(&r, NULL, 0), -ENOSPC);
	assert_int_equal(flt_rule_format(NULL, big, sizeof(big)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_mac),
		cmocka_unit_test(test_match_ethertype),
		cmocka_unit_test(test_match_vlan),
		cmocka_unit_test(test_match_ip4_prefix),
		cmocka_unit_test(test_match_ip6_prefix),
		cmocka_unit_test(test_match_proto),
		cmocka_unit_test(test_match_ports),
		cmocka_unit_test(test_match_icmp_type),
		cmocka_unit_test(test_match_nd),
		cmocka_unit_test(test_match_arp),
		cmocka_unit_test(test_match_frag),
		cmocka_unit_test(test_rule_match_direct),
		cmocka_unit_test(test_first_match_wins),
		cmocka_unit_test(test_default_policy),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_new_bad_config),
		cmocka_unit_test(test_ct_reply_needs_forward),
		cmocka_unit_test(test_ct_ipv6_and_udp),
		cmocka_unit_test(test_ct_only_rules_create_state),
		cmocka_unit_test(test_ct_forward_still_ruled),
		cmocka_unit_test(test_ct_udp_expiry),
		cmocka_unit_test(test_ct_tcp_close),
		cmocka_unit_test(test_ct_tcp_rst_creates_nothing),
		cmocka_unit_test(test_ct_icmp_echo),
		cmocka_unit_test(test_ct_table_full),
		cmocka_unit_test(test_ct_full_evicts_soonest),
		cmocka_unit_test(test_ct_lazy_expiry),
		cmocka_unit_test(test_ct_untracked),
		cmocka_unit_test(test_ct_churn),
		cmocka_unit_test(test_rule_parse_canonical),
		cmocka_unit_test(test_rule_parse_errors),
		cmocka_unit_test(test_rule_parse_err_buffer),
		cmocka_unit_test(test_rule_check_built_in_code),
		cmocka_unit_test(test_rule_format_space),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
