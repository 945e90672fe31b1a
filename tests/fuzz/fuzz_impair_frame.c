/* SPDX-License-Identifier: MIT */
/*
 * fuzz_impair_frame.c - arbitrary link frames (virtio-net header and all,
 * as a hostile guest or peer could write them) through imp_frame() and
 * imp_corrupt().
 *
 * The first input byte picks the MTU and the frame is the rest, in an
 * exactly-sized buffer so AddressSanitizer sees any read or write past it.
 * Properties: at most two copies, none due before now, the MTU verdict
 * only with an MTU set, flips inside [IMP_VNET_HDR, len), and corrupt
 * never touching the header except its two checksum flags.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "impair.h"

static void trap_unless(int ok)
{
	if (!ok)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const char *const specs[] = {
		"corrupt 100% mtu 1400 rate 1gbit duplicate 50% delay 1ms jitter 1ms reorder 10%",
		"corrupt 100% mtu 68 rate 1kbit queue 2",
		"corrupt 100% loss 50% burst 3 rate 10mbit burst 64kib",
	};
	const char *spec = specs[data[0] % 3];
	size_t len = size - 1;
	uint8_t *f = malloc(len ? len : 1), *orig = malloc(len ? len : 1);
	trap_unless(f && orig);
	memcpy(orig, data + 1, len);

	struct imp_params p = { 0 };
	struct imp_dir d;
	struct imp_decision out;
	trap_unless(imp_parse_spec(&p, spec, NULL, 0) == 0);
	imp_dir_init(&d, data[0]);
	trap_unless(imp_dir_set(&d, &p, NULL, 0) == 0);
	uint64_t now = 5000000;
	for (unsigned i = 0; i < 4; i++, now += 1000) {
		int n = imp_frame(&d, orig, len, now, &out);
		trap_unless(n >= 0 && n <= 2 && (unsigned)n == out.n);
		for (int c = 0; c < n; c++) {
			const struct imp_copy *cp = &out.copy[c];
			trap_unless(cp->due >= now);
			trap_unless(!cp->flip_off || (cp->flip_off >= IMP_VNET_HDR && cp->flip_off < len));
			memcpy(f, orig, len);
			imp_corrupt(f, len, cp);
			if (len >= IMP_VNET_HDR) {
				/* only NEEDS_CSUM and DATA_VALID may change in the header */
				trap_unless((f[0] & ~3u) == (orig[0] & ~3u));
				trap_unless(memcmp(f + 1, orig + 1, IMP_VNET_HDR - 1) == 0);
			}
		}
	}
	imp_dir_free(&d);
	free(f);
	free(orig);
	return 0;
}
