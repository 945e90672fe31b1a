/* SPDX-License-Identifier: MIT */
/* lib/stats: naming the words a vmm writes, whatever it writes
 * (hardening #9: an error of INT_MIN made vq_strerror(-err) overflow, and
 * values past INT_MAX printed "success"). */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "virtqueue.h"
#include "vmm_stats.h"

static void test_error_words(void **state)
{
	(void)state;
	assert_null(vmm_link_error_name(0));
	assert_string_equal(vmm_link_error_name(-VQ_EHEAD), vq_strerror(-VQ_EHEAD));
	const int64_t bad[] = { INT_MIN, (int64_t)INT_MIN - 1, INT64_MIN, INT64_MAX, INT_MAX,
				(int64_t)INT_MAX + 1, 1, -1, -VQ_EAGAIN, -VQ_ELAST, -VQ_EBASE + 1,
				(int64_t)UINT32_MAX, -(int64_t)UINT32_MAX };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_string_equal(vmm_link_error_name(bad[i]), "invalid error value");
}

static void test_strerror_any_int(void **state)
{
	(void)state;
	assert_string_equal(vq_strerror(INT_MIN), "unknown error");
	assert_string_equal(vq_strerror(INT_MAX), "unknown error");
	assert_string_equal(vq_strerror(0), "success");
	assert_string_equal(vq_strerror(-VQ_ELAST), "unknown error");
	assert_string_equal(vq_strerror(-VQ_ENOSPC), "ring is full");
}

static void test_state_words(void **state)
{
	(void)state;
	assert_string_equal(vmm_link_state_name(VMM_LINK_OK), "ok");
	assert_string_equal(vmm_link_state_name(VMM_LINK_BROKEN), "broken");
	assert_null(vmm_link_state_name(VMM_LINK_STATES));
	assert_null(vmm_link_state_name(UINT64_MAX));
	assert_null(vmm_link_state_name(1ull << 32));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_words),
		cmocka_unit_test(test_strerror_any_int),
		cmocka_unit_test(test_state_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
