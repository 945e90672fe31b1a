/* SPDX-License-Identifier: MIT */
/*
 * fuzz_filter.c - frames through flt_decide() with a rule set, policy and
 * flow-table size chosen by the input, and a clock that moves forward.
 *
 * Input:
 *   byte 0      bit 0 stateful, bit 1 policy allow, bits 2-4 capacity index
 *   bytes 1-2   which of the 16 rules below are in the rule set (bit mask)
 *   then records:
 *     byte      bits 0-6: advance the clock by that many quarter-seconds;
 *               bit 7: ignore the frame bytes and send the reverse of the
 *               previous frame instead (so replies actually happen)
 *     2 bytes   frame length (big-endian), then that many bytes
 *
 * Each frame is copied into an exactly-sized buffer so any read past its
 * end is caught by ASan.  The filter's self-check runs along the way.
 */
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "fuzz.h"

static const char *const rule_text[16] = {
	"allow arp",
	"allow nd",
	"drop frag",
	"allow tcp dport 80",
	"allow udp dport 53",
	"allow icmp icmp-type 8",
	"allow icmp6 icmp-type 128",
	"drop src 10.0.0.0/8 tcp dport 22",
	"allow ip6 dst 2001:db8::/32 udp sport 1000-2000",
	"allow vlan 5",
	"drop vlan none dst-mac broadcast",
	"allow src-mac 02:00:00:00:aa:01",
	"allow ethertype 0x88cc",
	"drop proto 47",
	"allow tcp",
	"allow",
};

static const uint32_t capacities[8] = { 1, 2, 3, 4, 8, 16, 64, 0 };

#define MAX_FRAME 4096

static void trap_unless(int ok)
{
	if (!ok)
		__builtin_trap();
}

static void swap(uint8_t *a, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t t = a[i];
		a[i] = b[i];
		b[i] = t;
	}
}

/* Turn a parsed frame into its reply: MACs, addresses, ports swapped;
 * an echo request becomes an echo reply. */
static void reverse(uint8_t *f, const struct flt_pkt *p)
{
	swap(f, f + 6, 6);
	if (p->ipver == 4)
		swap(f + p->l3_off + 12, f + p->l3_off + 16, 4);
	else if (p->ipver == 6)
		swap(f + p->l3_off + 8, f + p->l3_off + 24, 16);
	if (!p->l4)
		return;
	if (p->proto == 6 || p->proto == 17)
		swap(f + p->l4_off, f + p->l4_off + 2, 2);
	else if (p->icmp_type == 8)
		f[p->l4_off] = 0;
	else if (p->icmp_type == 128)
		f[p->l4_off] = 129;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flt_rule rules[16];
	size_t nrules = 0;

	if (size < 3)
		return 0;
	uint16_t mask = (uint16_t)(data[1] << 8 | data[2]);
	for (unsigned i = 0; i < 16; i++) {
		if (!(mask & (1u << i)))
			continue;
		trap_unless(flt_rule_parse(rule_text[i], &rules[nrules], NULL, 0) == 0);
		nrules++;
	}
	struct flt_config cfg = {
		.rules = rules,
		.nrules = nrules,
		.policy = (data[0] & 2) ? FLT_ALLOW : FLT_DROP,
		.stateful = data[0] & 1,
		.ct_capacity = capacities[(data[0] >> 2) & 7],
		.tcp_established_s = 20,
		.tcp_closing_s = 2,
		.udp_s = 5,
		.other_s = 1,
		.hash_key = { 0x0123456789abcdefull, 0xfedcba9876543210ull },
	};
	struct flt *f = flt_new(&cfg);
	trap_unless(f != NULL);

	uint8_t prev[MAX_FRAME];
	size_t prev_len = 0;
	uint64_t now = 0;
	unsigned n = 0;
	size_t off = 3;

	while (size - off >= 3) {
		uint8_t ctl = data[off];
		size_t len = (size_t)(data[off + 1] << 8 | data[off + 2]);
		off += 3;
		if (len > size - off)
			len = size - off;
		const uint8_t *src = data + off;
		off += len;

		now += (uint64_t)(ctl & 0x7f) * 250000000ull;
		if (ctl & 0x80) {
			struct flt_pkt p;
			if (!prev_len || flt_parse(prev, prev_len, &p) != 0)
				continue;
			reverse(prev, &p);
			src = prev;
			len = prev_len;
		}
		if (len > MAX_FRAME)
			len = MAX_FRAME;

		uint8_t *frame = malloc(len ? len : 1);
		trap_unless(frame != NULL);
		memcpy(frame, src, len);

		struct flt_pkt p;
		if (flt_parse(frame, len, &p) == 0) {
			trap_unless(p.l3_off <= len);
			trap_unless(!p.l4 || (p.l4_off >= p.l3_off && p.l4_off < len));
			trap_unless(p.vlan_tags <= FLT_VLAN_TAGS_MAX);
			trap_unless(p.ip6_ext <= FLT_IP6_EXT_MAX);
			trap_unless(!(p.frag && p.l4));
		}
		enum flt_verdict v = flt_decide(f, frame, len, now);
		trap_unless(v == FLT_ALLOW || v == FLT_DROP);

		if (src != prev)
			memcpy(prev, frame, len);
		prev_len = len;
		free(frame);
		if (++n % 16 == 0)
			trap_unless(flt_selfcheck(f) == 0);
	}

	struct flt_stats st;
	flt_stats(f, &st);
	trap_unless(st.ct_entries <= st.ct_capacity);
	trap_unless(st.allowed.frames + st.dropped.frames == n);
	trap_unless(flt_selfcheck(f) == 0);
	flt_free(f);
	return 0;
}
