/* Unit tests for lib/vhost's guest memory table: what SET_MEM_TABLE may
 * describe, and the two translations at every boundary. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vhost.h"

#define MB (1ull << 20)

static char why[VHOST_WHY_MAX];

static int build(struct vhost_mem *m, const struct vhost_mem_region *r, unsigned n,
		 const uint64_t *sizes)
{
	why[0] = 0;
	return vhost_mem_build(m, r, n, sizes, n, why, sizeof(why));
}

static void test_one_region(void **state)
{
	(void)state;
	/* QEMU 7.2, -m 256M, one memory-backend-memfd: what it really sent */
	struct vhost_mem_region r = { 0, 256 * MB, 0x7f9baffff000ull, 0 };
	uint64_t size = 256 * MB;
	struct vhost_mem m;
	assert_int_equal(build(&m, &r, 1, &size), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.r[0].map_len, 256 * MB);
	assert_false(vhost_mem_mapped(&m));
	/* nothing translates before it is mapped */
	assert_null(vhost_gpa_to_ptr(&m, 0, 1));
	static uint8_t fake[64];
	assert_int_equal(vhost_mem_set_base(&m, 0, fake), 0);
	assert_true(vhost_mem_mapped(&m));
	assert_int_equal(vhost_mem_set_base(&m, 1, fake), -EINVAL);
	assert_int_equal(vhost_mem_set_base(&m, 0, NULL), -EINVAL);
}

static void test_zero_sized(void **state)
{
	(void)state;
	struct vhost_mem_region r[2] = { { 0, MB, 0x1000000, 0 }, { 2 * MB, 0, 0x2000000, 0 } };
	uint64_t sizes[2] = { MB, MB };
	struct vhost_mem m;
	assert_int_equal(build(&m, r, 2, sizes), -EPROTO);
	assert_string_equal(why, "region 1 has size 0");
	assert_int_equal(m.n, 0);
}

static void test_overlaps(void **state)
{
	(void)state;
	uint64_t sizes[2] = { 4 * MB, 4 * MB };
	struct vhost_mem m;
	/* guest-physical: by one byte, and one inside the other */
	struct vhost_mem_region a[2] = { { 0, MB, 0x10000000, 0 }, { MB - 1, MB, 0x20000000, 0 } };
	assert_int_equal(build(&m, a, 2, sizes), -EPROTO);
	assert_non_null(strstr(why, "guest-physical"));
	struct vhost_mem_region b[2] = { { 0, 4 * MB, 0x10000000, 0 }, { MB, 4096, 0x20000000, 0 } };
	assert_int_equal(build(&m, b, 2, sizes), -EPROTO);
	/* user space */
	struct vhost_mem_region c[2] = { { 0, MB, 0x10000000, 0 }, { 2 * MB, MB, 0x10000000 + MB - 1, 0 } };
	assert_int_equal(build(&m, c, 2, sizes), -EPROTO);
	assert_non_null(strstr(why, "user space"));
	/* adjacent is fine in both */
	struct vhost_mem_region d[2] = { { 0, MB, 0x10000000, 0 }, { MB, MB, 0x10000000 + MB, 0 } };
	assert_int_equal(build(&m, d, 2, sizes), 0);
	/* the same fd mapped twice (QEMU sends one fd per region) is fine */
	struct vhost_mem_region e[2] = { { 0, MB, 0x10000000, 0 }, { 2 * MB, MB, 0x20000000, MB } };
	assert_int_equal(build(&m, e, 2, sizes), 0);
}

static void test_past_end(void **state)
{
	(void)state;
	struct vhost_mem m;
	uint64_t size = 4 * MB;
	struct vhost_mem_region r = { 0, 4 * MB, 0x10000000, 0 };
	assert_int_equal(build(&m, &r, 1, &size), 0);
	r.mmap_offset = 1;
	assert_int_equal(build(&m, &r, 1, &size), -EPROTO);
	assert_non_null(strstr(why, "past the end"));
	r = (struct vhost_mem_region){ 0, MB, 0x10000000, 3 * MB };
	assert_int_equal(build(&m, &r, 1, &size), 0);
	assert_int_equal(m.r[0].map_len, 4 * MB);
	r.size = MB + 1;
	assert_int_equal(build(&m, &r, 1, &size), -EPROTO);
	/* offset + size wrapping past 2^64 */
	r = (struct vhost_mem_region){ 0, 2 * MB, 0x10000000, UINT64_MAX - MB };
	assert_int_equal(build(&m, &r, 1, &size), -EPROTO);
	/* a zero-sized fd: every region is past its end (the caller forgot) */
	uint64_t zero = 0;
	r = (struct vhost_mem_region){ 0, 4096, 0x10000000, 0 };
	assert_int_equal(build(&m, &r, 1, &zero), -EPROTO);
	/* the bound on what one table maps */
	uint64_t huge[2] = { VHOST_MEM_MAX_BYTES, VHOST_MEM_MAX_BYTES };
	struct vhost_mem_region h[2] = { { 0, VHOST_MEM_MAX_BYTES, 0, 0 },
					 { VHOST_MEM_MAX_BYTES, 4096, VHOST_MEM_MAX_BYTES, 0 } };
	assert_int_equal(build(&m, h, 1, huge), 0);
	assert_int_equal(build(&m, h, 2, huge), -EPROTO);
}

static void test_wrap(void **state)
{
	(void)state;
	struct vhost_mem m;
	uint64_t size = 8 * MB;
	/* ends exactly at 2^64: allowed; one byte more wraps */
	struct vhost_mem_region r = { UINT64_MAX - MB + 1, MB, 0x10000000, 0 };
	assert_int_equal(build(&m, &r, 1, &size), 0);
	r.size = MB + 1;
	assert_int_equal(build(&m, &r, 1, &size), -EPROTO);
	assert_non_null(strstr(why, "guest address"));
	r = (struct vhost_mem_region){ 0, MB, UINT64_MAX, 0 };
	assert_int_equal(build(&m, &r, 1, &size), -EPROTO);
	assert_non_null(strstr(why, "user address"));
}

static void test_counts(void **state)
{
	(void)state;
	struct vhost_mem_region r[VHOST_MEMORY_MAX_NREGIONS + 1];
	uint64_t sizes[VHOST_MEMORY_MAX_NREGIONS + 1];
	for (unsigned i = 0; i <= VHOST_MEMORY_MAX_NREGIONS; i++) {
		r[i] = (struct vhost_mem_region){ i * MB, MB, 0x10000000 + i * MB, 0 };
		sizes[i] = MB;
	}
	struct vhost_mem m;
	assert_int_equal(build(&m, r, VHOST_MEMORY_MAX_NREGIONS, sizes), 0);
	assert_int_equal(build(&m, r, VHOST_MEMORY_MAX_NREGIONS + 1, sizes), -EPROTO);
	assert_int_equal(build(&m, r, 0, sizes), -EPROTO);
	/* fds missing or extra */
	assert_int_equal(vhost_mem_build(&m, r, 2, sizes, 1, why, sizeof(why)), -EPROTO);
	assert_string_equal(why, "memory table of 2 regions with 1 fds");
	assert_int_equal(vhost_mem_build(&m, r, 2, sizes, 3, why, sizeof(why)), -EPROTO);
	assert_int_equal(vhost_mem_build(&m, r, 2, NULL, 2, NULL, 0), -EPROTO);
}

/* ---- translation ---------------------------------------------------------- */

static uint8_t g0[4096] __attribute__((aligned(4096)));
static uint8_t g1[8192] __attribute__((aligned(4096)));

/* Two regions: [0x10000, +4 KiB) at fd offset 0, and [0x11000, +4 KiB)
 * right after it in guest space but from offset 4 KiB of its fd. */
static void two(struct vhost_mem *m)
{
	struct vhost_mem_region r[2] = { { 0x10000, 4096, 0x7f0000000000ull, 0 },
					 { 0x11000, 4096, 0x7f1000000000ull, 4096 } };
	uint64_t sizes[2] = { 4096, 8192 };
	assert_int_equal(build(m, r, 2, sizes), 0);
	assert_int_equal(vhost_mem_set_base(m, 0, g0), 0);
	assert_int_equal(vhost_mem_set_base(m, 1, g1), 0);
}

static void test_gpa_boundaries(void **state)
{
	(void)state;
	struct vhost_mem m;
	two(&m);
	/* first byte, last byte, one past, one before */
	assert_ptr_equal(vhost_gpa_to_ptr(&m, 0x10000, 1), g0);
	assert_ptr_equal(vhost_gpa_to_ptr(&m, 0x10fff, 1), g0 + 4095);
	assert_ptr_equal(vhost_gpa_to_ptr(&m, 0x10000, 4096), g0);
	assert_null(vhost_gpa_to_ptr(&m, 0x10000, 4097));
	assert_null(vhost_gpa_to_ptr(&m, 0xffff, 1));
	assert_null(vhost_gpa_to_ptr(&m, 0xffff, 2));
	/* the second region starts at its offset in the fd */
	assert_ptr_equal(vhost_gpa_to_ptr(&m, 0x11000, 1), g1 + 4096);
	assert_ptr_equal(vhost_gpa_to_ptr(&m, 0x11fff, 1), g1 + 8191);
	assert_null(vhost_gpa_to_ptr(&m, 0x12000, 1));
	/* a buffer across the two adjacent regions is refused, not split */
	assert_null(vhost_gpa_to_ptr(&m, 0x10fff, 2));
	assert_null(vhost_gpa_to_ptr(&m, 0x10000, 8192));
	/* zero length, huge lengths, wrap-around at 2^64 */
	assert_null(vhost_gpa_to_ptr(&m, 0x10000, 0));
	assert_null(vhost_gpa_to_ptr(&m, 0x10000, UINT64_MAX));
	assert_null(vhost_gpa_to_ptr(&m, 0x10001, UINT64_MAX));
	assert_null(vhost_gpa_to_ptr(&m, UINT64_MAX, 1));
	assert_null(vhost_gpa_to_ptr(&m, UINT64_MAX, 0x10002));
	assert_null(vhost_gpa_to_ptr(&m, UINT64_MAX - 0xfff, 0x12000));
	assert_null(vhost_gpa_to_ptr(NULL, 0x10000, 1));
}

static void test_gpa_top(void **state)
{
	(void)state;
	/* a region that ends exactly at 2^64: its last byte translates, and
	 * nothing wraps round to address 0 */
	struct vhost_mem m;
	struct vhost_mem_region r = { UINT64_MAX - 4095, 4096, 0x7f0000000000ull, 0 };
	uint64_t size = 4096;
	assert_int_equal(build(&m, &r, 1, &size), 0);
	assert_int_equal(vhost_mem_set_base(&m, 0, g0), 0);
	assert_ptr_equal(vhost_gpa_to_ptr(&m, UINT64_MAX, 1), g0 + 4095);
	assert_ptr_equal(vhost_gpa_to_ptr(&m, UINT64_MAX - 4095, 4096), g0);
	assert_null(vhost_gpa_to_ptr(&m, UINT64_MAX, 2));
	assert_null(vhost_gpa_to_ptr(&m, UINT64_MAX - 4095, 4097));
	assert_null(vhost_gpa_to_ptr(&m, 0, 1));
}

static void test_uva(void **state)
{
	(void)state;
	struct vhost_mem m;
	two(&m);
	assert_ptr_equal(vhost_uva_to_ptr(&m, 0x7f0000000000ull, 1), g0);
	assert_ptr_equal(vhost_uva_to_ptr(&m, 0x7f0000000fffull, 1), g0 + 4095);
	assert_null(vhost_uva_to_ptr(&m, 0x7f0000001000ull, 1));
	assert_null(vhost_uva_to_ptr(&m, 0x7effffffffffull, 1));
	assert_null(vhost_uva_to_ptr(&m, 0x7f0000000fffull, 2));
	assert_ptr_equal(vhost_uva_to_ptr(&m, 0x7f1000000000ull, 4096), g1 + 4096);
	assert_null(vhost_uva_to_ptr(&m, 0x7f1000000000ull, 4097));
	/* guest-physical and user addresses are separate spaces */
	assert_null(vhost_uva_to_ptr(&m, 0x10000, 1));
	assert_null(vhost_gpa_to_ptr(&m, 0x7f0000000000ull, 1));
	assert_null(vhost_uva_to_ptr(&m, UINT64_MAX, 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_region),
		cmocka_unit_test(test_zero_sized),
		cmocka_unit_test(test_overlaps),
		cmocka_unit_test(test_past_end),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_gpa_boundaries),
		cmocka_unit_test(test_gpa_top),
		cmocka_unit_test(test_uva),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
