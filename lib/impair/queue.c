/* SPDX-License-Identifier: MIT */
/*
 * queue.c - the frames a vmm holds until their departure time: a binary
 * min-heap on (due, seq), bounded by frames and bytes.
 *
 * A heap rather than a FIFO because departures are not pushed in order: a
 * reordered frame leaves before frames delayed earlier.  The push sequence
 * breaks ties, so frames due at the same time leave in the order they
 * came, and a link without reorder keeps its order exactly.
 */
#include "impair.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_FRAMES_MAX (1u << 24)

int imp_queue_init(struct imp_queue *q, uint32_t max_frames, uint64_t max_bytes)
{
	if (!q || max_frames == 0 || max_frames > QUEUE_FRAMES_MAX || max_bytes == 0)
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	q->heap = calloc(max_frames, sizeof(*q->heap));
	if (!q->heap)
		return -ENOMEM;
	q->max_frames = max_frames;
	q->max_bytes = max_bytes;
	return 0;
}

void imp_queue_free(struct imp_queue *q)
{
	if (!q)
		return;
	free(q->heap);
	memset(q, 0, sizeof(*q));
}

static bool before(const struct imp_item *a, const struct imp_item *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

int imp_queue_push(struct imp_queue *q, uint64_t due, uint64_t cookie, uint32_t len)
{
	if (q->n >= q->max_frames || len > q->max_bytes - q->bytes) {
		q->stats.overflow++;
		return -ENOBUFS;
	}
	struct imp_item it = { .due = due, .seq = q->seq++, .cookie = cookie, .len = len };
	uint32_t i = q->n++;
	while (i > 0) {
		uint32_t up = (i - 1) / 2;
		if (!before(&it, &q->heap[up]))
			break;
		q->heap[i] = q->heap[up];
		i = up;
	}
	q->heap[i] = it;
	q->bytes += len;
	q->stats.pushed++;
	if (q->n > q->stats.high_frames)
		q->stats.high_frames = q->n;
	if (q->bytes > q->stats.high_bytes)
		q->stats.high_bytes = q->bytes;
	return 0;
}

const struct imp_item *imp_queue_peek(const struct imp_queue *q)
{
	return q->n ? &q->heap[0] : NULL;
}

int imp_queue_pop(struct imp_queue *q, struct imp_item *out)
{
	if (!q->n)
		return -ENOENT;
	if (out)
		*out = q->heap[0];
	q->bytes -= q->heap[0].len;
	q->stats.popped++;
	struct imp_item last = q->heap[--q->n];
	uint32_t i = 0;
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= q->n)
			break;
		if (c + 1 < q->n && before(&q->heap[c + 1], &q->heap[c]))
			c++;
		if (!before(&q->heap[c], &last))
			break;
		q->heap[i] = q->heap[c];
		i = c;
	}
	if (q->n)
		q->heap[i] = last;
	return 0;
}

uint64_t imp_queue_deadline(const struct imp_queue *q)
{
	return q->n ? q->heap[0].due : UINT64_MAX;
}
