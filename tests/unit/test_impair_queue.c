/* SPDX-License-Identifier: MIT */
/*
 * test_impair_queue.c - the queue of delayed frames: earliest first, FIFO
 * among equal times, bounded by frames and bytes with overflow counted,
 * the deadline for the event loop, and a long random run against a
 * sorted reference.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "impair.h"

static void test_init(void **state)
{
	(void)state;
	struct imp_queue q;
	assert_int_equal(imp_queue_init(&q, 0, 100), -EINVAL);
	assert_int_equal(imp_queue_init(&q, 10, 0), -EINVAL);
	assert_int_equal(imp_queue_init(&q, (1u << 24) + 1, 100), -EINVAL);
	assert_int_equal(imp_queue_init(NULL, 10, 100), -EINVAL);
	assert_int_equal(imp_queue_init(&q, 10, 100), 0);
	assert_true(imp_queue_empty(&q));
	assert_null(imp_queue_peek(&q));
	assert_int_equal(imp_queue_deadline(&q), UINT64_MAX);
	assert_int_equal(imp_queue_pop(&q, NULL), -ENOENT);
	imp_queue_free(&q);
	imp_queue_free(&q);   /* twice, and NULL, are fine */
	imp_queue_free(NULL);
	struct imp_queue zero = { 0 };
	imp_queue_free(&zero);
}

static void test_order(void **state)
{
	(void)state;
	struct imp_queue q;
	struct imp_item it;
	assert_int_equal(imp_queue_init(&q, 16, 1 << 20), 0);
	const uint64_t due[] = { 50, 10, 30, 10, 20, 50, 10, 40 };
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(imp_queue_push(&q, due[i], i, 100), 0);
	assert_int_equal(imp_queue_deadline(&q), 10);
	assert_int_equal(imp_queue_peek(&q)->cookie, 1);
	/* by time, and among equal times in the order pushed */
	const uint64_t want[] = { 1, 3, 6, 4, 2, 7, 0, 5 };
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(imp_queue_pop(&q, &it), 0);
		assert_int_equal(it.cookie, want[i]);
		assert_int_equal(it.due, due[want[i]]);
		assert_int_equal(it.len, 100);
	}
	assert_true(imp_queue_empty(&q));
	assert_int_equal(q.bytes, 0);
	imp_queue_free(&q);
}

static void test_bounds(void **state)
{
	(void)state;
	struct imp_queue q;
	assert_int_equal(imp_queue_init(&q, 3, 1000), 0);
	assert_int_equal(imp_queue_push(&q, 1, 1, 400), 0);
	assert_int_equal(imp_queue_push(&q, 2, 2, 600), 0);
	/* bytes full: even an empty frame fits, one byte does not */
	assert_int_equal(imp_queue_push(&q, 3, 3, 1), -ENOBUFS);
	assert_int_equal(imp_queue_push(&q, 3, 3, 0), 0);
	/* frames full */
	assert_int_equal(imp_queue_push(&q, 4, 4, 0), -ENOBUFS);
	assert_int_equal(q.stats.overflow, 2);
	assert_int_equal(q.stats.pushed, 3);
	assert_int_equal(q.stats.high_frames, 3);
	assert_int_equal(q.stats.high_bytes, 1000);
	assert_int_equal(imp_queue_pop(&q, NULL), 0);
	assert_int_equal(q.bytes, 600);
	assert_int_equal(imp_queue_push(&q, 5, 5, 400), 0);
	assert_int_equal(imp_queue_push(&q, 5, 6, UINT32_MAX), -ENOBUFS);
	assert_int_equal(q.stats.popped, 1);
	imp_queue_free(&q);
	/* a frame larger than the whole queue never fits */
	assert_int_equal(imp_queue_init(&q, 3, 100), 0);
	assert_int_equal(imp_queue_push(&q, 1, 1, 101), -ENOBUFS);
	imp_queue_free(&q);
}

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct ref {
	uint64_t due, cookie;
};

/* Random pushes and pops against a reference kept sorted by (due, push
 * order): a new frame goes after every frame due no later than it. */
static void test_random(void **state)
{
	(void)state;
	enum { CAP = 512, STEPS = 200000 };
	static struct ref ref[CAP];
	unsigned nref = 0;
	uint64_t seq = 0;
	struct imp_queue q;
	assert_int_equal(imp_queue_init(&q, CAP, UINT64_MAX), 0);
	for (unsigned s = 0; s < STEPS; s++) {
		uint64_t r = next_rand();
		bool push = nref == 0 || (nref < CAP && (r & 3) != 0 && (s / 5000) % 2 == 0) ||
			    (nref < CAP && (r & 3) == 0 && (s / 5000) % 2 == 1);
		if (push) {
			uint64_t due = (r >> 8) % 64;   /* many ties */
			assert_int_equal(imp_queue_push(&q, due, seq, 1), 0);
			unsigned at = nref;
			while (at > 0 && ref[at - 1].due > due)
				at--;
			memmove(ref + at + 1, ref + at, (nref - at) * sizeof(ref[0]));
			ref[at] = (struct ref){ due, seq++ };
			nref++;
		} else {
			struct imp_item it;
			assert_int_equal(imp_queue_deadline(&q), ref[0].due);
			assert_int_equal(imp_queue_pop(&q, &it), 0);
			assert_int_equal(it.cookie, ref[0].cookie);
			assert_int_equal(it.due, ref[0].due);
			memmove(ref, ref + 1, (nref - 1) * sizeof(ref[0]));
			nref--;
		}
		assert_int_equal(q.n, nref);
	}
	imp_queue_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
