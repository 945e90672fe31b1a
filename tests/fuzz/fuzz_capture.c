/* SPDX-License-Identifier: MIT */
/*
 * fuzz_capture.c - the capture reader against a hostile vmm, and the vmm
 * against a hostile reader (lib/capture/ring.c).
 *
 * Input: 8 bytes of head, 8 of tail, then the ring's first bytes as a vmm
 * might have written them.  cap_next() must only ever return records
 * inside what was published and inside data, and stop (-EPROTO) on
 * anything else; then cap_put() with that tail must never write outside
 * data, whatever the reader wrote.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "fuzz.h"

static void trap_unless(int ok)
{
	if (!ok)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cap_region *r;
	if (!r && !(r = aligned_alloc(64, sizeof(*r))))
		return 0;
	if (size < 16)
		return 0;
	memset(r, 0, offsetof(struct cap_region, data));
	uint64_t head, tail;
	memcpy(&head, data, 8);
	memcpy(&tail, data + 8, 8);
	size_t n = size - 16 < CAP_DATA ? size - 16 : CAP_DATA;
	memcpy(r->data, data + 16, n);
	/* heads near the start, and anywhere */
	r->head = head & 1 ? head >> 1 : (head >> 1) % (2 * n + 64);
	uint64_t t = tail & 1 ? (tail >> 1) & ~31ull : 0;
	struct cap_view v;
	int rc;
	for (unsigned k = 0; k < 1000 && (rc = cap_next(r, &t, &v)) == 1; k++) {
		trap_unless(v.data >= r->data && v.data + v.caplen <= r->data + CAP_DATA);
		trap_unless(v.caplen <= v.origlen && v.id != CAP_PAD);
		trap_unless(t <= r->head);
	}
	/* the producer, against the tail a reader wrote */
	struct cap_session s = { .snaplen = 1 + (uint32_t)(head % CAP_SNAP_MAX) };
	s.head = r->head;
	r->tail = tail;
	uint8_t frame[128];
	memset(frame, 0x5a, sizeof(frame));
	for (int k = 0; k < 4; k++) {
		int e = cap_put(r, &s, (uint16_t)k, CAP_OUT, -1, 0, frame, sizeof(frame));
		trap_unless(e == 0 || e == -ENOSPC);
	}
	return 0;
}
