/* SPDX-License-Identifier: MIT */
/* lib/capture: the ring between a vmm and a capture reader, and pcapng blocks. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "capture.h"

static struct cap_region *region(void)
{
	struct cap_region *r = aligned_alloc(64, sizeof(*r));
	assert_non_null(r);
	memset(r, 0, sizeof(*r));
	r->ctl.magic = CAP_MAGIC;
	r->ctl.gen = 7;
	r->ctl.snaplen = 100;
	r->ctl.n_points = 2;
	r->ctl.points[0] = (struct cap_point){ .kind = CAP_IFACE, .index = 0, .id = 0 };
	r->ctl.points[1] = (struct cap_point){ .kind = CAP_LINK, .index = 5, .id = 1 };
	return r;
}

static unsigned turned_on;
static void on(void *arg, unsigned kind, uint32_t index, uint16_t id)
{
	(void)arg;
	turned_on |= 1u << id;
	assert_true(kind == (id ? CAP_LINK : CAP_IFACE));
	assert_int_equal(index, id ? 5 : 0);
}
static int valid(const struct cap_insn *p, int n) { (void)p; return n == 1; }

static void adopt_checks(void **state)
{
	(void)state;
	struct cap_region *r = region();
	struct cap_session s;
	turned_on = 0;
	assert_int_equal(cap_adopt(r, &s, valid, on, NULL), 0);
	assert_int_equal(turned_on, 3);
	assert_int_equal(r->gen_seen, 7);
	/* each malformed field is refused, and nothing is turned on */
	struct cap_ctl good = r->ctl;
	r->ctl.snaplen = 0;
	assert_int_equal(cap_adopt(r, &s, valid, on, NULL), -EINVAL);
	r->ctl = good;
	r->ctl.snaplen = CAP_SNAP_MAX + 1;
	assert_int_equal(cap_adopt(r, &s, valid, on, NULL), -EINVAL);
	r->ctl = good;
	r->ctl.n_points = CAP_POINTS_MAX + 1;
	assert_int_equal(cap_adopt(r, &s, valid, on, NULL), -EINVAL);
	r->ctl = good;
	r->ctl.points[1].kind = 9;
	assert_int_equal(cap_adopt(r, &s, valid, on, NULL), -EINVAL);
	r->ctl = good;
	r->ctl.n_insns = 2;   /* the validator refuses it */
	assert_int_equal(cap_adopt(r, &s, valid, on, NULL), -EINVAL);
	r->ctl = good;
	r->ctl.magic = 0;
	assert_int_equal(cap_adopt(r, &s, valid, on, NULL), -EINVAL);
	r->ctl = good;
	r->tail = 12;         /* a reader's tail in the middle of a record */
	assert_int_equal(cap_adopt(r, &s, valid, on, NULL), -EINVAL);
	free(r);
}

static void round_trip_and_wrap(void **state)
{
	(void)state;
	struct cap_region *r = region();
	struct cap_session s;
	assert_int_equal(cap_adopt(r, &s, NULL, on, NULL), 0);
	uint8_t f[1500];
	for (unsigned i = 0; i < sizeof(f); i++)
		f[i] = (uint8_t)i;
	uint64_t tail = 0;
	struct cap_view v;
	/* far more than the ring holds, read as it goes: every record comes
	 * back in order, cut to the snap length, across many wraps */
	unsigned n = 3 * CAP_DATA / cap_rec_len(100) + 17;
	for (unsigned i = 0; i < n; i++) {
		f[0] = (uint8_t)i;
		assert_int_equal(cap_put(r, &s, (uint16_t)(i & 1), CAP_OUT, -1, i, f, 60 + i % 1000), 0);
		assert_int_equal(cap_next(r, &tail, &v), 1);
		assert_int_equal(v.id, i & 1);
		assert_int_equal(v.ts_ns, i);
		assert_int_equal(v.origlen, 60 + i % 1000);
		assert_int_equal(v.caplen, 60 + i % 1000 < 100 ? 60 + i % 1000 : 100);
		assert_int_equal(v.data[0], (uint8_t)i);
		assert_memory_equal(v.data + 1, f + 1, v.caplen - 1);
		r->tail = tail;
	}
	assert_int_equal(cap_next(r, &tail, &v), 0);
	assert_int_equal(r->frames, n);
	free(r);
}

static void full_ring_loses_and_counts(void **state)
{
	(void)state;
	struct cap_region *r = region();
	struct cap_session s;
	assert_int_equal(cap_adopt(r, &s, NULL, on, NULL), 0);
	uint8_t f[100] = { 0 };
	unsigned fit = CAP_DATA / cap_rec_len(100), i;
	for (i = 0; i < fit; i++)
		assert_int_equal(cap_put(r, &s, 0, CAP_IN, -1, i, f, 100), 0);
	/* no reader: the next three are lost, and the next record says so */
	for (int k = 0; k < 3; k++)
		assert_int_equal(cap_put(r, &s, 0, CAP_IN, -1, 0, f, 100), -ENOSPC);
	assert_int_equal(r->lost, 3);
	uint64_t tail = 0;
	struct cap_view v;
	assert_int_equal(cap_next(r, &tail, &v), 1);
	r->tail = tail;
	assert_int_equal(cap_put(r, &s, 0, CAP_IN, 3, 1ull << 40, f, 100), 0);
	unsigned got = 1;
	while (cap_next(r, &tail, &v) == 1) {
		got++;
		if (v.ts_ns == 1ull << 40) {
			assert_int_equal(v.lost_before, 3);
			assert_int_equal(v.rule, 3);
		} else {
			assert_int_equal(v.lost_before, 0);
		}
	}
	assert_int_equal(got, fit + 1);
	free(r);
}

static void hostile_peers(void **state)
{
	(void)state;
	struct cap_region *r = region();
	struct cap_session s;
	assert_int_equal(cap_adopt(r, &s, NULL, on, NULL), 0);
	uint8_t f[64] = { 0 };
	/* a reader's tail ahead of our head, or far behind: nothing written */
	r->tail = 1u << 20;
	assert_int_equal(cap_put(r, &s, 0, CAP_OUT, -1, 0, f, 64), -ENOSPC);
	r->tail = 0;
	assert_int_equal(cap_put(r, &s, 0, CAP_OUT, -1, 0, f, 64), 0);
	s.head += 2ull * CAP_DATA;   /* (as if the reader had gone far back) */
	assert_int_equal(cap_put(r, &s, 0, CAP_OUT, -1, 0, f, 64), -ENOSPC);
	/* a vmm's records the reader refuses */
	uint64_t tail = 0;
	struct cap_view v;
	struct cap_rec *h = (struct cap_rec *)r->data;
	r->head = h->len;
	struct cap_rec good = *h;
	h->len = 0;
	assert_int_equal(cap_next(r, &tail, &v), -EPROTO);
	*h = good;
	h->len = CAP_DATA + 32;
	assert_int_equal(cap_next(r, &tail, &v), -EPROTO);
	*h = good;
	h->caplen = 5000;
	assert_int_equal(cap_next(r, &tail, &v), -EPROTO);
	*h = good;
	h->origlen = 1;
	assert_int_equal(cap_next(r, &tail, &v), -EPROTO);
	*h = good;
	r->head = 8;   /* a head inside a record */
	assert_int_equal(cap_next(r, &tail, &v), -EPROTO);
	r->head = good.len;
	assert_int_equal(cap_next(r, &tail, &v), 1);
	free(r);
}

static uint32_t le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static void pcapng_blocks(void **state)
{
	(void)state;
	uint8_t b[512], frame[61];
	memset(frame, 0xab, sizeof(frame));
	size_t n = pcapng_shb(b, sizeof(b), "vqnet test");
	assert_true(n && n % 4 == 0);
	assert_int_equal(le32(b), 0x0a0d0d0a);
	assert_int_equal(le32(b + 4), n);
	assert_int_equal(le32(b + n - 4), n);
	n = pcapng_idb(b, sizeof(b), 65535, "vm0.eth0", "guest vm0's eth0");
	assert_true(n && n % 4 == 0);
	assert_int_equal(le32(b + n - 4), n);
	n = pcapng_epb(b, sizeof(b), 3, 0x123456789ull, frame, 61, 1514, CAP_IN, "dropped", 2);
	assert_true(n && n % 4 == 0);
	assert_int_equal(le32(b), 6);
	assert_int_equal(le32(b + 8), 3);
	assert_int_equal(le32(b + 12), 1);
	assert_int_equal(le32(b + 16), 0x23456789);
	assert_int_equal(le32(b + 20), 61);
	assert_int_equal(le32(b + 24), 1514);
	assert_memory_equal(b + 28, frame, 61);
	assert_int_equal(le32(b + n - 4), n);
	/* too small: nothing, not a cut block */
	assert_int_equal(pcapng_epb(b, 60, 3, 0, frame, 61, 61, 0, NULL, 0), 0);
	assert_int_equal(pcapng_shb(b, 8, NULL), 0);
	n = pcapng_isb(b, sizeof(b), 1, 5, 10, 2);
	assert_true(n && n % 4 == 0);
	assert_int_equal(le32(b + n - 4), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(adopt_checks),
		cmocka_unit_test(round_trip_and_wrap),
		cmocka_unit_test(full_ring_loses_and_counts),
		cmocka_unit_test(hostile_peers),
		cmocka_unit_test(pcapng_blocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
