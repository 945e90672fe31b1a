/* Unit tests for lib/vswitch: the forwarding decision of one interface. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vswitch.h"

static const uint8_t VM0[6] = { 0x02, 0, 0, 0, 0xaa, 0x01 };
static const uint8_t VM1[6] = { 0x02, 0, 0, 0, 0xaa, 0x02 };
static const uint8_t VM2[6] = { 0x02, 0, 0, 0, 0xaa, 0x03 };
static const uint8_t EVIL[6] = { 0x02, 0, 0, 0, 0xaa, 0x66 };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t ND6[6] = { 0x33, 0x33, 0xff, 0x00, 0x00, 0x02 };

static const uint8_t *frame(const uint8_t dst[6], const uint8_t src[6])
{
	static uint8_t f[60];
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	return f;
}

#define CAP 16
static uint64_t keys[CAP];
static uint16_t ports[CAP];

/* vm0's interface: itself on its TAP, vm1 on link 0, vm2 on link 1. */
static void vm0_switch(struct vsw *sw)
{
	vsw_init(sw, false, 2, keys, ports, CAP);
	assert_int_equal(vsw_add(sw, VM0, VSW_LOCAL), 0);
	assert_int_equal(vsw_add(sw, VM1, 0), 0);
	assert_int_equal(vsw_add(sw, VM2, 1), 0);
}

static void test_unicast_to_owner_only(void **state)
{
	(void)state;
	struct vsw sw;
	vm0_switch(&sw);
	assert_int_equal(vsw_forward(&sw, VSW_LOCAL, frame(VM1, VM0), 60), 0);
	assert_int_equal(vsw_forward(&sw, VSW_LOCAL, frame(VM2, VM0), 60), 1);
	/* arriving from a link: to our TAP */
	assert_int_equal(vsw_forward(&sw, 0, frame(VM0, VM1), 60), VSW_LOCAL);
	assert_int_equal(sw.stats.unknown + sw.stats.spoofed + sw.stats.runts, 0);
}

static void test_broadcast_and_multicast(void **state)
{
	(void)state;
	struct vsw sw;
	vm0_switch(&sw);
	assert_int_equal(vsw_forward(&sw, VSW_LOCAL, frame(BCAST, VM0), 60), VSW_FLOOD);
	assert_int_equal(vsw_forward(&sw, VSW_LOCAL, frame(ND6, VM0), 60), VSW_FLOOD);
	/* a guest is not a switch: from a link, only to the TAP */
	assert_int_equal(vsw_forward(&sw, 1, frame(BCAST, VM2), 60), VSW_LOCAL);
}

static void test_unknown_dropped(void **state)
{
	(void)state;
	struct vsw sw;
	vm0_switch(&sw);
	assert_int_equal(vsw_forward(&sw, VSW_LOCAL, frame(EVIL, VM0), 60), VSW_DROP);
	assert_int_equal(sw.stats.unknown, 1);
	/* to ourselves via the TAP: nowhere to go */
	assert_int_equal(vsw_forward(&sw, VSW_LOCAL, frame(VM0, VM0), 60), VSW_DROP);
	/* a peer sending us a frame for a third guest: not ours to forward */
	assert_int_equal(vsw_forward(&sw, 0, frame(VM2, VM1), 60), VSW_DROP);
	assert_int_equal(sw.stats.unknown, 3);
}

static void test_spoofing_dropped(void **state)
{
	(void)state;
	struct vsw sw;
	vm0_switch(&sw);
	/* the guest changed its MAC */
	assert_int_equal(vsw_forward(&sw, VSW_LOCAL, frame(VM1, EVIL), 60), VSW_DROP);
	assert_int_equal(vsw_forward(&sw, VSW_LOCAL, frame(BCAST, EVIL), 60), VSW_DROP);
	/* the guest claims to be vm2 */
	assert_int_equal(vsw_forward(&sw, VSW_LOCAL, frame(VM1, VM2), 60), VSW_DROP);
	/* vm1's side of link 0 sends as vm2 */
	assert_int_equal(vsw_forward(&sw, 0, frame(VM0, VM2), 60), VSW_DROP);
	/* a multicast source address */
	assert_int_equal(vsw_forward(&sw, 0, frame(VM0, BCAST), 60), VSW_DROP);
	assert_int_equal(sw.stats.spoofed, 5);
	assert_int_equal(sw.stats.unknown, 0);
}

static void test_runts(void **state)
{
	(void)state;
	struct vsw sw;
	vm0_switch(&sw);
	assert_int_equal(vsw_forward(&sw, VSW_LOCAL, frame(VM1, VM0), 13), VSW_DROP);
	assert_int_equal(vsw_forward(&sw, VSW_LOCAL, frame(VM1, VM0), 0), VSW_DROP);
	assert_int_equal(sw.stats.runts, 2);
	assert_int_equal(vsw_forward(&sw, VSW_LOCAL, frame(VM1, VM0), 14), 0);
}

/* A filter node bridges: vm0 behind link 0, vm1 and vm2 behind link 1. */
static void test_bridge(void **state)
{
	(void)state;
	struct vsw sw;
	vsw_init(&sw, true, 2, keys, ports, CAP);
	assert_int_equal(vsw_add(&sw, VM0, 0), 0);
	assert_int_equal(vsw_add(&sw, VM1, 1), 0);
	assert_int_equal(vsw_add(&sw, VM2, 1), 0);
	assert_int_equal(vsw_forward(&sw, 0, frame(VM1, VM0), 60), 1);
	assert_int_equal(vsw_forward(&sw, 1, frame(VM0, VM2), 60), 0);
	assert_int_equal(vsw_forward(&sw, 0, frame(BCAST, VM0), 60), VSW_FLOOD);
	/* no hairpin: vm1 to vm2 both behind link 1 */
	assert_int_equal(vsw_forward(&sw, 1, frame(VM2, VM1), 60), VSW_DROP);
	assert_int_equal(sw.stats.unknown, 1);
	/* no local port, so nothing can enter as local */
	assert_int_equal(vsw_forward(&sw, VSW_LOCAL, frame(VM1, VM0), 60), VSW_DROP);
	assert_int_equal(sw.stats.spoofed, 1);
}

static void test_table(void **state)
{
	(void)state;
	enum { N = 1024, LINKS = 4000 };
	static uint64_t k2[N];
	static uint16_t p2[N];
	struct vsw sw;
	vsw_init(&sw, false, LINKS, k2, p2, N);
	assert_int_equal(vsw_add(&sw, BCAST, 0), -EINVAL);
	assert_int_equal(vsw_add(&sw, VM0, LINKS), -EINVAL);
	assert_int_equal(vsw_add(&sw, VM0, 3), 0);
	assert_int_equal(vsw_add(&sw, VM0, 4), -EEXIST);
	/* fill it in a scrambled order, over ports past any 64-bit mask;
	 * lookups still find every MAC */
	for (unsigned i = 1; i < N; i++) {
		unsigned k = (i * 97) % N;
		uint8_t m[6] = { 0x02, 0x10, 0, 0, (uint8_t)(k >> 8), (uint8_t)k };
		assert_int_equal(vsw_add(&sw, m, (k * 7) % LINKS), 0);
	}
	uint8_t more[6] = { 0x02, 0x20, 0, 0, 0, 1 };
	assert_int_equal(vsw_add(&sw, more, 0), -ENOSPC);
	for (unsigned k = 1; k < N; k++) {
		uint8_t m[6] = { 0x02, 0x10, 0, 0, (uint8_t)(k >> 8), (uint8_t)k };
		/* guest switch: from a link only to the TAP, which is nobody's here */
		assert_int_equal(vsw_forward(&sw, 3, frame(m, VM0), 60), VSW_DROP);
		assert_int_equal(vsw_forward(&sw, (k * 7) % LINKS, frame(BCAST, m), 60), VSW_LOCAL);
	}
	assert_int_equal(sw.stats.spoofed, 0);
}

/* A switch node: 4000 guests, one per link; unicast goes to the owner's
 * port (above 63, where a mask would have ended), broadcast floods. */
static void test_switch_many_ports(void **state)
{
	(void)state;
	enum { G = 4000 };
	static uint64_t k3[G];
	static uint16_t p3[G];
	struct vsw sw;
	vsw_init(&sw, true, G, k3, p3, G);
	for (unsigned g = 0; g < G; g++) {
		uint8_t m[6] = { 0x02, 0, 0x0a, 0, (uint8_t)(g >> 8), (uint8_t)g };
		assert_int_equal(vsw_add(&sw, m, g), 0);
	}
	uint8_t a[6] = { 0x02, 0, 0x0a, 0, 3999 >> 8, 3999 & 0xff };
	uint8_t b[6] = { 0x02, 0, 0x0a, 0, 70 >> 8, 70 };
	assert_int_equal(vsw_forward(&sw, 3999, frame(b, a), 60), 70);
	assert_int_equal(vsw_forward(&sw, 70, frame(a, b), 60), 3999);
	assert_int_equal(vsw_forward(&sw, 70, frame(BCAST, b), 60), VSW_FLOOD);
	/* b on a's port: spoofed; to itself: nowhere */
	assert_int_equal(vsw_forward(&sw, 3999, frame(a, b), 60), VSW_DROP);
	assert_int_equal(vsw_forward(&sw, 70, frame(b, b), 60), VSW_DROP);
	assert_int_equal(sw.stats.spoofed, 1);
	assert_int_equal(sw.stats.unknown, 1);

	/* membership reports: flooded by a filter's bridge, not by a switch */
	static const uint8_t MLD2[6] = { 0x33, 0x33, 0, 0, 0, 0x16 };
	static const uint8_t IGMP3[6] = { 0x01, 0x00, 0x5e, 0, 0, 0x16 };
	static const uint8_t ALLR[6] = { 0x33, 0x33, 0, 0, 0, 0x02 };
	assert_int_equal(vsw_forward(&sw, 70, frame(MLD2, b), 60), VSW_FLOOD);
	sw.snooping = true;
	assert_int_equal(vsw_forward(&sw, 70, frame(MLD2, b), 60), VSW_DROP);
	assert_int_equal(vsw_forward(&sw, 70, frame(IGMP3, b), 60), VSW_DROP);
	assert_int_equal(sw.stats.reports, 2);
	/* router solicitations (a guest may be a router) and the rest flood */
	assert_int_equal(vsw_forward(&sw, 70, frame(ALLR, b), 60), VSW_FLOOD);
	assert_int_equal(vsw_forward(&sw, 70, frame(BCAST, b), 60), VSW_FLOOD);
	assert_int_equal(sw.stats.unknown + sw.stats.spoofed, 2);
}

/* A link frame: virtio-net header, then an Ethernet frame of type
 * ethertype (len bytes in all, at most sizeof(buf)). */
static uint8_t *lframe(uint8_t flags, uint8_t gso, unsigned gso_size, unsigned csum_start,
		       unsigned csum_offset, unsigned ethertype)
{
	static uint8_t f[VSW_VNET_HDR + 9014];
	memset(f, 0, sizeof(f));
	f[0] = flags;
	f[1] = gso;
	f[2] = 66;   /* hdr_len: a hint, not checked */
	f[4] = (uint8_t)gso_size, f[5] = (uint8_t)(gso_size >> 8);
	f[6] = (uint8_t)csum_start, f[7] = (uint8_t)(csum_start >> 8);
	f[8] = (uint8_t)csum_offset, f[9] = (uint8_t)(csum_offset >> 8);
	f[VSW_VNET_HDR + 12] = (uint8_t)(ethertype >> 8);
	f[VSW_VNET_HDR + 13] = (uint8_t)ethertype;
	return f;
}

static void test_vnet_header(void **state)
{
	(void)state;
	const size_t n = VSW_VNET_HDR + 9014;
	assert_true(vsw_vnet_ok(lframe(0, 0, 0, 0, 0, 0x0800), 72));          /* plain */
	assert_true(vsw_vnet_ok(lframe(2, 0, 0, 0, 0, 0x0806), 72));          /* checksum valid */
	assert_true(vsw_vnet_ok(lframe(1, 0, 0, 34, 16, 0x0800), 1526));      /* TCP checksum */
	assert_true(vsw_vnet_ok(lframe(1, 0, 0, 34, 6, 0x0800), 100));        /* UDP checksum */
	assert_false(vsw_vnet_ok(lframe(1, 0, 0, 34, 16, 0x0800), 63));       /* ... past the end */
	assert_false(vsw_vnet_ok(lframe(1, 0, 0, 20, 16, 0x0800), 1526));     /* ... inside IP */
	assert_false(vsw_vnet_ok(lframe(1, 0, 0, 34, 10, 0x0800), 1526));     /* odd offset */
	assert_false(vsw_vnet_ok(lframe(1, 0, 0, 0xffff, 0xffff, 0x0800), n));
	assert_true(vsw_vnet_ok(lframe(1, 1, 1448, 34, 16, 0x0800), n));      /* TSO, IPv4 */
	assert_true(vsw_vnet_ok(lframe(1, 4 | 0x80, 1428, 54, 16, 0x86dd), n)); /* TSO, IPv6, ECN */
	assert_false(vsw_vnet_ok(lframe(1, 4, 1428, 54, 16, 0x0800), n));     /* TSO6 of IPv4 */
	assert_false(vsw_vnet_ok(lframe(1, 1, 1448, 54, 16, 0x86dd), n));     /* TSO4 of IPv6 */
	assert_false(vsw_vnet_ok(lframe(1, 1, 1448, 34, 6, 0x0800), n));      /* TSO, UDP offset */
	assert_false(vsw_vnet_ok(lframe(1, 1, 0, 34, 16, 0x0800), n));        /* no segment size */
	assert_false(vsw_vnet_ok(lframe(0, 1, 1448, 34, 16, 0x0800), n));     /* no checksum to fill */
	assert_false(vsw_vnet_ok(lframe(1, 3, 1472, 34, 6, 0x0800), n));      /* UFO: not from a TAP */
	assert_false(vsw_vnet_ok(lframe(0, 0x80, 0, 0, 0, 0x0800), 72));      /* ECN, no segmentation */
	assert_false(vsw_vnet_ok(lframe(4, 0, 0, 0, 0, 0x0800), 72));         /* RSC: host to guest */
	assert_false(vsw_vnet_ok(lframe(0x80, 0, 0, 0, 0, 0x0800), 72));      /* unknown flag */
	assert_false(vsw_vnet_ok(lframe(0, 0, 0, 0, 0, 0x0800), 25));         /* runt */
	/* behind a VLAN tag */
	uint8_t *f = lframe(1, 1, 1448, 38, 16, 0x8100);
	f[VSW_VNET_HDR + 16] = 0x08;
	assert_true(vsw_vnet_ok(f, n));
	assert_false(vsw_vnet_ok(lframe(1, 1, 1448, 38, 16, 0x8100), n));     /* tag, not IP */
}

static void test_mac_parse(void **state)
{
	(void)state;
	uint8_t m[6];
	assert_true(vsw_mac_parse("02:00:00:00:AA:01", 17, m));
	assert_memory_equal(m, VM0, 6);
	assert_true(vsw_mac_parse("02:00:00:00:aa:01", 17, m));
	assert_false(vsw_mac_parse("02:00:00:00:aa:0", 16, m));
	assert_false(vsw_mac_parse("02:00:00:00:aa:01:", 18, m));
	assert_false(vsw_mac_parse("02-00-00-00-aa-01", 17, m));
	assert_false(vsw_mac_parse("02:00:00:00:ag:01", 17, m));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unicast_to_owner_only),
		cmocka_unit_test(test_broadcast_and_multicast),
		cmocka_unit_test(test_unknown_dropped),
		cmocka_unit_test(test_spoofing_dropped),
		cmocka_unit_test(test_runts),
		cmocka_unit_test(test_bridge),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_switch_many_ports),
		cmocka_unit_test(test_vnet_header),
		cmocka_unit_test(test_mac_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
