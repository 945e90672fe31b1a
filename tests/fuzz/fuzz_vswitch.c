/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vswitch.c - a switch node's forwarding and MLD snooping against
 * hostile guests (lib/vswitch).
 *
 * Input: records of [port byte][length byte][that many frame bytes], each
 * a frame from one of 8 guests (port byte & 7; & 8: that port's link
 * starts over first).  Whatever the frames say, the switch must read none
 * past a frame's end (ASan), keep its memberships sorted, within room and
 * counted per port, and send a group's frame to each port at most once,
 * never back where it came from.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vswitch.h"

enum { PORTS = 8, ROOM = 24 };

static void trap_unless(int ok)
{
	if (!ok)
		__builtin_trap();
}

static void check(const struct vsw *sw)
{
	unsigned per[PORTS] = { 0 }, all = 0;
	trap_unless(sw->n_mem <= sw->cap_mem);
	for (unsigned i = 0; i < sw->n_mem; i++) {
		trap_unless(sw->mem[i].port < PORTS);
		per[sw->mem[i].port]++;
		if (i) {
			int c = memcmp(sw->mem[i - 1].group, sw->mem[i].group, 16);
			trap_unless(c < 0 || (c == 0 && sw->mem[i - 1].port < sw->mem[i].port));
		}
	}
	for (unsigned p = 0; p < PORTS; p++) {
		if (sw->joined[p] >= VSW_ASKED) {
			all += sw->joined[p] != VSW_SILENT;
			trap_unless(per[p] == 0);
		} else {
			trap_unless(sw->joined[p] == per[p] && per[p] <= VSW_GROUPS_PER_PORT);
		}
	}
	trap_unless(all == sw->n_all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t key[PORTS];
	static uint16_t port[PORTS];
	static struct vsw_member mem[ROOM];
	static uint8_t joined[PORTS];
	struct vsw sw;
	vsw_init(&sw, true, PORTS, key, port, PORTS);
	for (unsigned g = 0; g < PORTS; g++) {
		const uint8_t m[6] = { 0x02, 0, 0x0a, 0, 0, (uint8_t)g };
		vsw_add(&sw, m, g);
	}
	vsw_snoop(&sw, mem, ROOM, joined);
	while (size >= 2) {
		unsigned in = data[0] & (PORTS - 1), len = data[1];
		if (data[0] & PORTS)
			vsw_snoop_reset(&sw, in);
		data += 2;
		size -= 2;
		if (len > size)
			len = (unsigned)size;
		uint8_t *f = malloc(len ? len : 1);   /* exactly the frame: ASan sees past it */
		if (!f)
			return 0;
		memcpy(f, data, len);
		/* the guest's own MAC as source, so the frame gets past spoofing */
		if (len >= 12) {
			const uint8_t m[6] = { 0x02, 0, 0x0a, 0, 0, (uint8_t)in };
			memcpy(f + 6, m, 6);
		}
		int out = vsw_forward(&sw, in, f, len);
		if (out == VSW_GROUP) {
			uint16_t to[PORTS];
			unsigned n = vsw_group_ports(&sw, in, f, len, to), seen = 0;
			trap_unless(n < PORTS);
			for (unsigned i = 0; i < n; i++) {
				trap_unless(to[i] < PORTS && to[i] != in && !(seen & 1u << to[i]));
				seen |= 1u << to[i];
			}
		}
		free(f);
		check(&sw);
		data += len;
		size -= len;
	}
	return 0;
}
