/* SPDX-License-Identifier: MIT */
/*
 * test_filter_parse.c - flt_parse(): every layer, every truncation, the
 * bounds (VLAN tags, IPv6 extension headers, 64 KiB frames).
 *
 * Frames under test are copied into exactly-sized heap buffers so that
 * AddressSanitizer reports any read past `len`.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "test_filter_frames.c"

/* Parse the first len bytes of buf from an exactly-sized copy. */
static int parse_exact(const uint8_t *buf, size_t len, struct flt_pkt *p)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, buf, len);
	int rc = flt_parse(copy, len, p);
	free(copy);
	return rc;
}

static int parse_spec(const struct spec *s, struct flt_pkt *p)
{
	uint8_t buf[FRAME_MAX];
	return parse_exact(buf, build(s, buf), p);
}

static void test_args(void **state)
{
	(void)state;
	struct flt_pkt p;
	uint8_t b[64] = { 0 };

	assert_int_equal(flt_parse(NULL, 64, &p), -EINVAL);
	assert_int_equal(flt_parse(b, sizeof(b), NULL), -EINVAL);
}

static void test_runts(void **state)
{
	(void)state;
	uint8_t buf[FRAME_MAX];
	struct flt_pkt p;
	size_t n = build(&(struct spec){ .ethertype = 0x88cc }, buf);

	assert_int_equal(n, 14);
	for (size_t len = 0; len < 14; len++)
		assert_int_equal(parse_exact(buf, len, &p), -EBADMSG);
	assert_int_equal(parse_exact(buf, 14, &p), 0);
	assert_int_equal(p.ethertype, 0x88cc);
	assert_int_equal(p.ipver, 0);
	assert_int_equal(p.l3_off, 14);
	assert_memory_equal(p.dst_mac, MAC_B, 6);
	assert_memory_equal(p.src_mac, MAC_A, 6);
}

static void test_vlan(void **state)
{
	(void)state;
	struct flt_pkt p;

	/* one 802.1Q tag: VID is the low 12 bits of the TCI */
	struct spec s = udp4(NULL, 1, NULL, 2);
	s.vlans = 1;
	s.vid[0] = 0xe000 | 42;   /* PCP 7 */
	assert_int_equal(parse_spec(&s, &p), 0);
	assert_int_equal(p.vlan_tags, 1);
	assert_int_equal(p.vlan, 42);
	assert_int_equal(p.ethertype, FLT_ETH_IP4);
	assert_int_equal(p.l3_off, 18);
	assert_int_equal(p.dport, 2);

	/* QinQ: 802.1ad outer, 802.1Q inner; the outer VID is recorded */
	s = udp6(NULL, 1, NULL, 2);
	s.vlans = 2;
	s.tpid[0] = FLT_ETH_QINQ;
	s.vid[0] = 100;
	s.vid[1] = 200;
	assert_int_equal(parse_spec(&s, &p), 0);
	assert_int_equal(p.vlan_tags, 2);
	assert_int_equal(p.vlan, 100);
	assert_int_equal(p.ipver, 6);
	assert_int_equal(p.l3_off, 22);

	/* a priority tag (VID 0) counts as untagged for `vlan` */
	s = udp4(NULL, 1, NULL, 2);
	s.vlans = 1;
	s.vid[0] = 0x6000;
	assert_int_equal(parse_spec(&s, &p), 0);
	assert_int_equal(p.vlan_tags, 1);
	assert_int_equal(p.vlan, 0);

	/* a third tag is beyond the bound */
	s.vlans = 3;
	s.vid[0] = 1;
	s.vid[1] = 2;
	s.vid[2] = 3;
	assert_int_equal(parse_spec(&s, &p), -ELOOP);

	/* a tag cut short */
	uint8_t buf[FRAME_MAX];
	s.vlans = 1;
	build(&s, buf);
	for (size_t len = 14; len < 18; len++)
		assert_int_equal(parse_exact(buf, len, &p), -EBADMSG);
}

static void test_arp(void **state)
{
	(void)state;
	uint8_t buf[FRAME_MAX];
	struct flt_pkt p;
	size_t n = build(&(struct spec){ .ethertype = FLT_ETH_ARP,
					 .dst_mac = MAC_BCAST }, buf);

	assert_int_equal(n, 42);
	assert_int_equal(parse_exact(buf, n, &p), 0);
	assert_int_equal(p.ethertype, FLT_ETH_ARP);
	assert_int_equal(p.ipver, 0);
	assert_false(p.l4);
	/* padded to the Ethernet minimum: fine */
	memset(buf + n, 0, 60 - n);
	assert_int_equal(parse_exact(buf, 60, &p), 0);
	/* addresses longer than the frame */
	buf[14 + 4] = 200;
	assert_int_equal(parse_exact(buf, 60, &p), -EBADMSG);
}

static void test_ip4_tcp(void **state)
{
	(void)state;
	struct flt_pkt p;
	struct spec s = tcp4("192.168.1.1", 40000, "192.168.1.2", 5555,
			     FLT_TCP_SYN);

	assert_int_equal(parse_spec(&s, &p), 0);
	assert_int_equal(p.ipver, 4);
	assert_int_equal(p.proto, FLT_PROTO_TCP);
	assert_true(p.l4);
	assert_false(p.frag);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.dport, 5555);
	assert_int_equal(p.tcp_flags, FLT_TCP_SYN);
	assert_int_equal(p.l3_off, 14);
	assert_int_equal(p.l4_off, 34);
	const uint8_t src[16] = { 192, 168, 1, 1 }, dst[16] = { 192, 168, 1, 2 };
	assert_memory_equal(p.src_ip, src, 16);
	assert_memory_equal(p.dst_ip, dst, 16);
}

static void test_ip4_options(void **state)
{
	(void)state;
	struct flt_pkt p;

	for (unsigned words = 0; words <= 10; words++) {
		struct spec s = udp4(NULL, 53, NULL, 5353);
		s.ip4_opt_words = words;
		assert_int_equal(parse_spec(&s, &p), 0);
		assert_int_equal(p.l4_off, 14 + 20 + 4 * words);
		assert_int_equal(p.sport, 53);
		assert_int_equal(p.dport, 5353);
	}
}

static void test_ip4_bad_header(void **state)
{
	(void)state;
	uint8_t buf[FRAME_MAX];
	struct flt_pkt p;
	struct spec s = udp4(NULL, 1, NULL, 2);
	size_t n = build(&s, buf);
	uint8_t *ip = buf + 14;

	assert_int_equal(parse_exact(buf, n, &p), 0);
	ip[0] = 0x55;   /* version 5 */
	assert_int_equal(parse_exact(buf, n, &p), -EBADMSG);
	ip[0] = 0x44;   /* IHL 4 < 5 */
	assert_int_equal(parse_exact(buf, n, &p), -EBADMSG);
	ip[0] = 0x4f;   /* IHL 15 (60 bytes) > total length 28 */
	assert_int_equal(parse_exact(buf, n, &p), -EBADMSG);
	ip[0] = 0x45;
	put16(ip + 2, 19);   /* total length < IHL */
	assert_int_equal(parse_exact(buf, n, &p), -EBADMSG);
	put16(ip + 2, (uint16_t)(n - 14 + 1));   /* longer than the frame */
	assert_int_equal(parse_exact(buf, n, &p), -EBADMSG);
	put16(ip + 2, (uint16_t)(n - 14));
	assert_int_equal(parse_exact(buf, n, &p), 0);

	/* Ethernet padding after the packet is ignored ... */
	memset(buf + n, 0xee, 20);
	assert_int_equal(parse_exact(buf, n + 20, &p), 0);
	/* ... but the L4 header may not borrow from it */
	put16(ip + 2, 20 + 4);
	assert_int_equal(parse_exact(buf, n + 20, &p), -EBADMSG);
}

static void test_ip4_fragments(void **state)
{
	(void)state;
	struct flt_pkt p;

	/* first fragment: L4 header present, UDP length covers more */
	struct spec s = udp4(NULL, 1000, NULL, 2000);
	s.mf = true;
	s.payload = 16;
	uint8_t buf[FRAME_MAX];
	size_t n = build(&s, buf);
	put16(buf + 14 + 20 + 4, 3000);
	assert_int_equal(parse_exact(buf, n, &p), 0);
	assert_false(p.frag);
	assert_true(p.l4);
	assert_int_equal(p.dport, 2000);
	/* the same UDP length without MF is inconsistent */
	buf[14 + 6] = 0;
	assert_int_equal(parse_exact(buf, n, &p), -EBADMSG);

	/* non-first fragment: protocol, no ports */
	s.frag_off = 185;
	s.mf = false;
	s.payload = 100;
	assert_int_equal(parse_spec(&s, &p), 0);
	assert_true(p.frag);
	assert_false(p.l4);
	assert_int_equal(p.proto, FLT_PROTO_UDP);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.dport, 0);
	assert_int_equal(p.l4_off, 0);

	/* a first fragment too short for a TCP header is rejected */
	s = tcp4(NULL, 1, NULL, 2, FLT_TCP_SYN);
	s.mf = true;
	n = build(&s, buf);
	put16(buf + 14 + 2, 20 + 8);
	assert_int_equal(parse_exact(buf, 14 + 28, &p), -EBADMSG);
}

static void test_tcp_data_offset(void **state)
{
	(void)state;
	uint8_t buf[FRAME_MAX];
	struct flt_pkt p;
	struct spec s = tcp4(NULL, 1, NULL, 2, FLT_TCP_ACK);

	s.tcp_doff = 15;   /* 40 bytes of options */
	assert_int_equal(parse_spec(&s, &p), 0);
	assert_int_equal(p.dport, 2);

	s.tcp_doff = 5;
	size_t n = build(&s, buf);
	uint8_t *tcp = buf + 34;
	tcp[12] = 4 << 4;   /* below the minimum */
	assert_int_equal(parse_exact(buf, n, &p), -EBADMSG);
	tcp[12] = 6 << 4;   /* past the end of the packet */
	assert_int_equal(parse_exact(buf, n, &p), -EBADMSG);
}

static void test_udp_length(void **state)
{
	(void)state;
	uint8_t buf[FRAME_MAX];
	struct flt_pkt p;
	struct spec s = udp4(NULL, 1, NULL, 2);
	s.payload = 10;
	size_t n = build(&s, buf);
	uint8_t *udp = buf + 34;

	assert_int_equal(parse_exact(buf, n, &p), 0);
	put16(udp + 4, 7);
	assert_int_equal(parse_exact(buf, n, &p), -EBADMSG);
	put16(udp + 4, 19);
	assert_int_equal(parse_exact(buf, n, &p), -EBADMSG);
	put16(udp + 4, 18);
	assert_int_equal(parse_exact(buf, n, &p), 0);
}

static void test_icmp(void **state)
{
	(void)state;
	struct flt_pkt p;

	struct spec s = { .ipver = 4, .proto = FLT_PROTO_ICMP, .icmp_type = 8,
			  .icmp_id = 0x1234 };
	assert_int_equal(parse_spec(&s, &p), 0);
	assert_true(p.l4);
	assert_int_equal(p.icmp_type, 8);
	assert_int_equal(p.icmp_id, 0x1234);

	s.icmp_type = 3;   /* unreachable: no identifier */
	s.icmp_code = 4;
	assert_int_equal(parse_spec(&s, &p), 0);
	assert_int_equal(p.icmp_code, 4);
	assert_int_equal(p.icmp_id, 0);

	s = (struct spec){ .ipver = 6, .proto = FLT_PROTO_ICMP6,
			   .icmp_type = 129, .icmp_id = 7 };
	assert_int_equal(parse_spec(&s, &p), 0);
	assert_int_equal(p.icmp_type, 129);
	assert_int_equal(p.icmp_id, 7);

	/* the IP packet ends inside the ICMP header */
	uint8_t buf[FRAME_MAX];
	s = (struct spec){ .ipver = 4, .proto = FLT_PROTO_ICMP, .icmp_type = 8 };
	size_t n = build(&s, buf);
	put16(buf + 14 + 2, 20 + 4);
	assert_int_equal(parse_exact(buf, n, &p), -EBADMSG);

	s = (struct spec){ .ipver = 6, .proto = FLT_PROTO_ICMP6,
			   .icmp_type = 129, .icmp_id = 7 };
	/* ICMP (v4) inside IPv6 is just a protocol number */
	s.proto = FLT_PROTO_ICMP;
	assert_int_equal(parse_spec(&s, &p), 0);
	assert_false(p.l4);
	assert_int_equal(p.proto, FLT_PROTO_ICMP);
}

static void test_ip6_basic(void **state)
{
	(void)state;
	uint8_t buf[FRAME_MAX];
	struct flt_pkt p;
	struct spec s = tcp6("fe80::1", 22, "fe80::2", 33000, FLT_TCP_ACK);
	size_t n = build(&s, buf);
	uint8_t *ip = buf + 14;

	assert_int_equal(parse_exact(buf, n, &p), 0);
	assert_int_equal(p.ipver, 6);
	assert_int_equal(p.l4_off, 54);
	assert_int_equal(p.sport, 22);
	assert_int_equal(p.src_ip[0], 0xfe);
	assert_int_equal(p.src_ip[15], 1);
	assert_int_equal(p.dst_ip[15], 2);

	put16(ip + 4, (uint16_t)(n - 54 + 1));   /* payload past the frame */
	assert_int_equal(parse_exact(buf, n, &p), -EBADMSG);
	put16(ip + 4, (uint16_t)(n - 54));
	ip[0] = 0x40;   /* version 4 under EtherType IPv6 */
	assert_int_equal(parse_exact(buf, n, &p), -EBADMSG);
}

static void test_ip6_ext_chain(void **state)
{
	(void)state;
	struct flt_pkt p;
	static const uint8_t chain[] = { 0, 60, 43, 51, 44, 60 };
	struct spec s = udp6(NULL, 546, NULL, 547);

	s.ext = chain;
	s.next = sizeof(chain);
	assert_int_equal(parse_spec(&s, &p), 0);
	assert_int_equal(p.ip6_ext, 6);
	assert_int_equal(p.proto, FLT_PROTO_UDP);
	assert_int_equal(p.l4_off, 14 + 40 + 8 + 8 + 8 + 16 + 8 + 8);
	assert_int_equal(p.dport, 547);
	assert_false(p.frag);

	/* exactly at the bound, and one past it */
	static const uint8_t eight[] = { 0, 60, 43, 43, 43, 43, 43, 60 };
	static const uint8_t nine[] = { 0, 60, 43, 43, 43, 43, 43, 43, 60 };
	s.ext = eight;
	s.next = sizeof(eight);
	assert_int_equal(parse_spec(&s, &p), 0);
	assert_int_equal(p.ip6_ext, FLT_IP6_EXT_MAX);
	s.ext = nine;
	s.next = sizeof(nine);
	assert_int_equal(parse_spec(&s, &p), -ELOOP);

	/* a long chain far beyond the bound stops at the bound */
	static uint8_t many[100];
	memset(many, 60, sizeof(many));
	s.ext = many;
	s.next = sizeof(many);
	assert_int_equal(parse_spec(&s, &p), -ELOOP);

	/* hop-by-hop anywhere but first */
	static const uint8_t late_hbh[] = { 60, 0 };
	s.ext = late_hbh;
	s.next = sizeof(late_hbh);
	assert_int_equal(parse_spec(&s, &p), -EBADMSG);

	/* the payload ends before an extension header's first 8 bytes */
	uint8_t buf[FRAME_MAX];
	static const uint8_t one[] = { 60 };
	s.ext = one;
	s.next = 1;
	size_t n = build(&s, buf);
	put16(buf + 14 + 4, 4);
	assert_int_equal(parse_exact(buf, n, &p), -EBADMSG);

	/* an extension header longer than the payload */
	n = build(&s, buf);
	buf[54 + 1] = 3;   /* claims 32 bytes, 8 + 8 present */
	assert_int_equal(parse_exact(buf, n, &p), -EBADMSG);
}

static void test_ip6_stop_headers(void **state)
{
	(void)state;
	struct flt_pkt p;

	/* ESP: nothing after it is readable */
	struct spec s = { .ipver = 6, .proto = 50, .payload = 32 };
	assert_int_equal(parse_spec(&s, &p), 0);
	assert_int_equal(p.proto, 50);
	assert_false(p.l4);

	/* no next header, after a destination options header */
	static const uint8_t dst[] = { 60 };
	s = (struct spec){ .ipver = 6, .proto = 59, .ext = dst, .next = 1 };
	assert_int_equal(parse_spec(&s, &p), 0);
	assert_int_equal(p.proto, 59);
	assert_int_equal(p.ip6_ext, 1);
	assert_false(p.l4);

	/* an unknown upper layer: recorded, no L4 fields */
	s = (struct spec){ .ipver = 6, .proto = 132, .payload = 12 };
	assert_int_equal(parse_spec(&s, &p), 0);
	assert_int_equal(p.proto, 132);
	assert_false(p.l4);
}

static void test_ip6_fragments(void **state)
{
	(void)state;
	struct flt_pkt p;
	static const uint8_t frag[] = { 44 };

	/* first fragment: ports, even though UDP length is bigger */
	struct spec s = udp6(NULL, 5000, NULL, 6000);
	s.ext = frag;
	s.next = 1;
	s.mf = true;
	uint8_t buf[FRAME_MAX];
	size_t n = build(&s, buf);
	put16(buf + 62 + 4, 4000);
	assert_int_equal(parse_exact(buf, n, &p), 0);
	assert_true(p.l4);
	assert_false(p.frag);
	assert_int_equal(p.sport, 5000);

	/* later fragment: protocol from the fragment header, no ports */
	s.frag_off = 100;
	s.payload = 64;
	assert_int_equal(parse_spec(&s, &p), 0);
	assert_true(p.frag);
	assert_false(p.l4);
	assert_int_equal(p.proto, FLT_PROTO_UDP);
}

/* Every proper prefix of a well-formed frame is rejected, with no overread. */
static void check_truncations(const struct spec *s)
{
	uint8_t buf[FRAME_MAX];
	struct flt_pkt p;
	size_t n = build(s, buf);

	assert_int_equal(parse_exact(buf, n, &p), 0);
	for (size_t len = 0; len < n; len++) {
		int rc = parse_exact(buf, len, &p);
		if (rc != -EBADMSG)
			fail_msg("length %zu of %zu parsed with %d", len, n, rc);
	}
}

static void test_truncated_everywhere(void **state)
{
	(void)state;
	static const uint8_t chain[] = { 0, 43, 51, 44, 60 };

	struct spec s = tcp4(NULL, 1, NULL, 2, FLT_TCP_SYN);
	s.ip4_opt_words = 3;
	s.tcp_doff = 8;
	check_truncations(&s);
	check_truncations(&(struct spec){ .ipver = 4, .proto = FLT_PROTO_ICMP,
					  .icmp_type = 8 });
	s = udp6(NULL, 1, NULL, 2);
	s.ext = chain;
	s.next = sizeof(chain);
	check_truncations(&s);
	s.vlans = 2;
	s.tpid[0] = FLT_ETH_QINQ;
	check_truncations(&s);
	check_truncations(&(struct spec){ .ipver = 6, .proto = FLT_PROTO_ICMP6,
					  .icmp_type = 135, .payload = 16 });
	check_truncations(&(struct spec){ .ethertype = FLT_ETH_ARP });
	s = udp4(NULL, 1, NULL, 2);
	s.frag_off = 8;
	s.payload = 24;
	check_truncations(&s);
}

/* The largest IP packets fit in 64 KiB-and-a-bit frames. */
static void test_64k_frames(void **state)
{
	(void)state;
	struct flt_pkt p;
	size_t cap = 14 + 40 + 65535;
	uint8_t *buf = calloc(1, cap);
	assert_non_null(buf);

	/* IPv4, total length 65535 */
	struct spec s = udp4(NULL, 9, NULL, 9);
	size_t n = build(&s, buf);
	assert_int_equal(n, 14 + 28);
	put16(buf + 14 + 2, 65535);
	put16(buf + 34 + 4, 65535 - 20);
	assert_int_equal(parse_exact(buf, 14 + 65535, &p), 0);
	assert_int_equal(p.dport, 9);
	assert_int_equal(parse_exact(buf, 14 + 65534, &p), -EBADMSG);

	/* IPv6, payload length 65535 */
	memset(buf, 0, cap);
	s = udp6(NULL, 9, NULL, 10);
	build(&s, buf);
	put16(buf + 14 + 4, 65535);
	put16(buf + 54 + 4, 65535);
	assert_int_equal(parse_exact(buf, cap, &p), 0);
	assert_int_equal(p.dport, 10);
	assert_int_equal(parse_exact(buf, cap - 1, &p), -EBADMSG);

	/* a small packet followed by ~64 KiB of padding */
	s = tcp4(NULL, 1, NULL, 2, FLT_TCP_ACK);
	build(&s, buf);
	assert_int_equal(parse_exact(buf, cap, &p), 0);
	assert_int_equal(p.dport, 2);
	free(buf);
}

/* Arbitrary bytes under every EtherType we parse never read out of bounds. */
static void test_garbage(void **state)
{
	(void)state;
	static const uint16_t types[] = { FLT_ETH_IP4, FLT_ETH_IP6, FLT_ETH_ARP,
					  FLT_ETH_VLAN, FLT_ETH_QINQ, 0x1234 };
	uint8_t buf[256];
	uint32_t x = 12345;
	struct flt_pkt p;

	for (unsigned iter = 0; iter < 20000; iter++) {
		size_t len = 14 + iter % 200;
		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (uint8_t)(x >> 16);
		}
		put16(buf + 12, types[iter % 6]);
		/* give IPv4/IPv6 a plausible version nibble half the time */
		if (iter & 1)
			buf[14] = (uint8_t)((types[iter % 6] == FLT_ETH_IP6 ? 0x60
									     : 0x45));
		int rc = parse_exact(buf, len, &p);
		assert_true(rc == 0 || rc == -EBADMSG || rc == -ELOOP);
		if (rc == 0 && p.l4)
			assert_true(p.l4_off < len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_runts),
		cmocka_unit_test(test_vlan),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_ip4_tcp),
		cmocka_unit_test(test_ip4_options),
		cmocka_unit_test(test_ip4_bad_header),
		cmocka_unit_test(test_ip4_fragments),
		cmocka_unit_test(test_tcp_data_offset),
		cmocka_unit_test(test_udp_length),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_ip6_basic),
		cmocka_unit_test(test_ip6_ext_chain),
		cmocka_unit_test(test_ip6_stop_headers),
		cmocka_unit_test(test_ip6_fragments),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_64k_frames),
		cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
