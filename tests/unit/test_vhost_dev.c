/* Unit tests for lib/vhost's device state machine: QEMU 7.2's real
 * vhost-user-net negotiation (as captured from qemu-system-x86_64 7.2 with a
 * Debian 6.1 guest loading, unloading and reloading virtio_net), the order
 * rules, every refusal, and the fd and mapping bookkeeping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vhost.h"

#define MB (1ull << 20)
#define GUEST (64 * MB)
#define UVA 0x7f9baffff000ull   /* where QEMU had guest RAM */
#define ACKED 0x16000bb83ull    /* what QEMU 7.2 acked for a Linux 6.1 guest */
#define FD_MAX 256

struct fx {
	struct vhost_dev d;
	struct vhost_reply reply;
	struct vhost_action act;
	uint8_t *guest;
	int next_fd;
	bool open[FD_MAX];        /* fds handed to the device and not closed */
	bool fail_map;
	int mem_err;
	unsigned maps, unmaps;
	uint16_t stop_at[VHOST_NQUEUES]; /* where our fake ring says it stopped */
	bool running[VHOST_NQUEUES];
	struct vhost_ring_action ring[VHOST_NQUEUES];
	int kick[VHOST_NQUEUES], call[VHOST_NQUEUES], err[VHOST_NQUEUES];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->guest = aligned_alloc(4096, GUEST);
	assert_non_null(f->guest);
	f->next_fd = 10;
	vhost_dev_init(&f->d);
	for (unsigned q = 0; q < VHOST_NQUEUES; q++)
		f->kick[q] = f->call[q] = f->err[q] = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	free(f->guest);
	free(f);
	return 0;
}

static void fd_close(struct fx *f, int fd)
{
	assert_true(fd >= 0 && fd < FD_MAX);
	assert_true(f->open[fd]);   /* never an fd we did not give, never twice */
	f->open[fd] = false;
}

/* Do what an action says, as vqnet-vmm would (completions included). */
static void apply(struct fx *f, struct vhost_action *a)
{
	for (unsigned q = 0; q < VHOST_NQUEUES; q++)
		if (a->ring[q].ops & VHOST_RING_STOP) {
			assert_true(f->running[q]);
			f->running[q] = false;
			assert_int_equal(vhost_dev_ring_stopped(&f->d, q, f->stop_at[q], &f->reply), 0);
		}
	for (unsigned q = 0; q < VHOST_NQUEUES; q++) {
		if (a->ring[q].ops & VHOST_RING_KICK)
			f->kick[q] = a->ring[q].kick_fd;
		if (a->ring[q].ops & VHOST_RING_CALL)
			f->call[q] = a->ring[q].call_fd;
		if (a->ring[q].ops & VHOST_RING_ERR)
			f->err[q] = a->ring[q].err_fd;
	}
	for (unsigned i = 0; i < a->nclose; i++)
		fd_close(f, a->close[i]);
	for (unsigned i = 0; i < a->nunmap; i++) {
		assert_ptr_equal(a->unmap[i].base, f->guest);
		f->unmaps++;
	}
	if (a->nmap) {
		void *bases[VHOST_MEMORY_MAX_NREGIONS];
		for (unsigned i = 0; i < a->nmap; i++) {
			assert_true(a->map[i].len <= GUEST);
			bases[i] = f->fail_map ? NULL : f->guest;
			if (!f->fail_map)
				f->maps++;
			fd_close(f, a->map[i].fd);   /* closed once mapped */
		}
		struct vhost_action a2;
		f->mem_err = vhost_dev_mem_mapped(&f->d, bases, a->nmap, &f->reply, &a2);
		apply(f, &a2);
	}
	for (unsigned q = 0; q < VHOST_NQUEUES; q++) {
		if (a->ring[q].ops & VHOST_RING_START) {
			assert_false(f->running[q]);
			f->running[q] = true;
			f->ring[q] = a->ring[q];
		}
		if (a->ring[q].ops & VHOST_RING_ENABLE)
			f->ring[q].enabled = a->ring[q].enabled;
	}
}

static uint8_t wire[VHOST_MSG_MAX];

/* Send one message with nfds new fds (each fd_size bytes): parse it (it
 * must parse), handle it, apply the action.  Returns handle's result. */
static int send_fds(struct fx *f, uint32_t req, uint32_t flags, const void *p, uint32_t size,
		    unsigned nfds, uint64_t fd_size)
{
	uint32_t h[3] = { req, VHOST_VERSION | flags, size };
	memcpy(wire, h, sizeof(h));
	if (size)
		memcpy(wire + VHOST_HDR_SIZE, p, size);
	int fds[VHOST_FDS_MAX] = { 0 };
	for (unsigned i = 0; i < nfds; i++) {
		fds[i] = f->next_fd++;
		assert_true(fds[i] < FD_MAX);
		f->open[fds[i]] = true;
	}
	struct vhost_msg m;
	assert_int_equal(vhost_msg_parse(wire, VHOST_HDR_SIZE + size, fds, nfds, &m), 0);
	for (unsigned i = 0; i < nfds; i++)
		m.fd_size[i] = fd_size;
	int err = vhost_dev_handle(&f->d, &m, &f->reply, &f->act);
	/* every fd of the message is installed, mapped or closed */
	for (unsigned i = 0; i < nfds; i++) {
		unsigned seen = 0;
		for (unsigned k = 0; k < f->act.nclose; k++)
			seen += f->act.close[k] == fds[i];
		for (unsigned k = 0; k < f->act.nmap; k++)
			seen += f->act.map[k].fd == fds[i];
		for (unsigned q = 0; q < VHOST_NQUEUES; q++) {
			const struct vhost_ring_action *r = &f->act.ring[q];
			seen += (r->ops & VHOST_RING_KICK) && r->kick_fd == fds[i];
			seen += (r->ops & VHOST_RING_CALL) && r->call_fd == fds[i];
			seen += (r->ops & VHOST_RING_ERR) && r->err_fd == fds[i];
		}
		assert_int_equal(seen, 1);
	}
	if (err)
		assert_true(f->act.why[0] != 0);
	apply(f, &f->act);
	return err;
}

static int send0(struct fx *f, uint32_t req, const void *p, uint32_t size)
{
	return send_fds(f, req, 0, p, size, 0, 0);
}

static int u64msg(struct fx *f, uint32_t req, uint64_t v)
{
	unsigned nfds = 0;
	if ((req == VHOST_USER_SET_VRING_KICK || req == VHOST_USER_SET_VRING_CALL ||
	     req == VHOST_USER_SET_VRING_ERR) && !(v & VHOST_VRING_NOFD))
		nfds = 1;
	return send_fds(f, req, 0, &v, 8, nfds, 0);
}

static int vstate(struct fx *f, uint32_t req, uint32_t index, uint32_t num)
{
	uint32_t s[2] = { index, num };
	return send0(f, req, s, 8);
}

static int addr(struct fx *f, uint32_t index, uint64_t desc, uint64_t used, uint64_t avail)
{
	uint8_t a[40] = { 0 };
	memcpy(a, &index, 4);
	memcpy(a + 8, &desc, 8);
	memcpy(a + 16, &used, 8);
	memcpy(a + 24, &avail, 8);
	return send0(f, VHOST_USER_SET_VRING_ADDR, a, 40);
}

static int mem_table(struct fx *f, uint32_t flags, const struct vhost_mem_region *r, unsigned n,
		     uint64_t fd_size)
{
	uint8_t p[8 + 32 * VHOST_MEMORY_MAX_NREGIONS] = { 0 };
	uint32_t nr = n;
	memcpy(p, &nr, 4);
	memcpy(p + 8, r, 32 * n);
	return send_fds(f, VHOST_USER_SET_MEM_TABLE, flags, p, 8 + 32 * n, n, fd_size);
}

static int one_region(struct fx *f, uint32_t flags)
{
	struct vhost_mem_region r = { 0, GUEST, UVA, 0 };
	return mem_table(f, flags, &r, 1, GUEST);
}

static uint64_t reply_u64(const struct fx *f, uint32_t req)
{
	uint32_t h[3];
	uint64_t v;
	assert_true(f->reply.send);
	assert_int_equal(f->reply.len, 20);
	memcpy(h, f->reply.bytes, 12);
	assert_int_equal(h[0], req);
	assert_int_equal(h[1], VHOST_VERSION | VHOST_FLAG_REPLY);
	assert_int_equal(h[2], 8);
	memcpy(&v, f->reply.bytes + 12, 8);
	return v;
}

static void reply_state(const struct fx *f, uint32_t index, uint32_t num)
{
	uint32_t h[3], s[2];
	assert_true(f->reply.send);
	memcpy(h, f->reply.bytes, 12);
	memcpy(s, f->reply.bytes + 12, 8);
	assert_int_equal(h[0], VHOST_USER_GET_VRING_BASE);
	assert_int_equal(s[0], index);
	assert_int_equal(s[1], num);
}

/* QEMU 7.2's connection-time messages, as sent. */
static void qemu_init(struct fx *f)
{
	assert_int_equal(send0(f, VHOST_USER_GET_FEATURES, NULL, 0), 0);
	assert_int_equal(reply_u64(f, VHOST_USER_GET_FEATURES), VHOST_NET_FEATURES);
	assert_int_equal(send0(f, VHOST_USER_GET_PROTOCOL_FEATURES, NULL, 0), 0);
	assert_int_equal(reply_u64(f, VHOST_USER_GET_PROTOCOL_FEATURES), 0x8);
	assert_int_equal(u64msg(f, VHOST_USER_SET_PROTOCOL_FEATURES, 0x8), 0);
	assert_false(f->reply.send);
	assert_int_equal(send0(f, VHOST_USER_SET_OWNER, NULL, 0), 0);
	assert_int_equal(send0(f, VHOST_USER_GET_FEATURES, NULL, 0), 0);
	for (unsigned q = 0; q < 2; q++) {
		assert_int_equal(u64msg(f, VHOST_USER_SET_VRING_CALL, q), 0);
		assert_int_equal(u64msg(f, VHOST_USER_SET_VRING_ERR, q), 0);
	}
	assert_int_equal(f->call[1], f->next_fd - 2);
	assert_int_equal(f->err[1], f->next_fd - 1);
	for (unsigned k = 0; k < 5; k++)
		for (unsigned q = 0; q < 2; q++)
			assert_int_equal(vstate(f, VHOST_USER_SET_VRING_ENABLE, q, 1), 0);
	assert_false(f->running[0] || f->running[1]);
}

/* QEMU 7.2's vhost_dev_start: features, memory (with REPLY_ACK), then per
 * ring NUM, BASE, ADDR, KICK, CALL.  off[q]: the ring's offset in RAM. */
static void qemu_start(struct fx *f, const uint64_t off[2])
{
	assert_int_equal(u64msg(f, VHOST_USER_SET_FEATURES, ACKED), 0);
	assert_int_equal(one_region(f, VHOST_FLAG_NEED_REPLY), 0);
	assert_int_equal(f->mem_err, 0);
	assert_int_equal(reply_u64(f, VHOST_USER_SET_MEM_TABLE), 0);
	for (unsigned q = 0; q < 2; q++) {
		assert_int_equal(vstate(f, VHOST_USER_SET_VRING_NUM, q, 256), 0);
		assert_int_equal(vstate(f, VHOST_USER_SET_VRING_BASE, q, 0), 0);
		assert_int_equal(addr(f, q, UVA + off[q], UVA + off[q] + 0x1240, UVA + off[q] + 0x1000), 0);
		assert_false(f->running[q]);
		assert_int_equal(u64msg(f, VHOST_USER_SET_VRING_KICK, q), 0);
		assert_true(f->running[q]);
		assert_int_equal(f->kick[q], f->next_fd - 1);
		const struct vhost_ring_action *r = &f->ring[q];
		assert_ptr_equal(r->desc, f->guest + off[q]);
		assert_ptr_equal(r->avail, f->guest + off[q] + 0x1000);
		assert_ptr_equal(r->used, f->guest + off[q] + 0x1240);
		assert_int_equal(r->num, 256);
		assert_int_equal(r->base, 0);
		assert_true(r->event_idx);
		assert_true(r->enabled);
		assert_int_equal(u64msg(f, VHOST_USER_SET_VRING_CALL, q), 0);
		assert_int_equal(f->call[q], f->next_fd - 1);
	}
}

/* The guest resets its NIC (rmmod virtio_net): GET_VRING_BASE per ring. */
static void qemu_stop(struct fx *f)
{
	for (unsigned q = 0; q < 2; q++) {
		f->stop_at[q] = (uint16_t)(17 + q);
		assert_int_equal(vstate(f, VHOST_USER_GET_VRING_BASE, q, 0), 0);
		assert_false(f->running[q]);
		reply_state(f, q, 17 + q);
		assert_int_equal(f->kick[q], -1);
	}
}

static void test_qemu_negotiation(void **state)
{
	struct fx *f = *state;
	qemu_init(f);
	static const uint64_t round1[2] = { 0x2836000, 0x294e000 }, round2[2] = { 0x2954000, 0x2b66000 };
	qemu_start(f, round1);
	qemu_stop(f);
	assert_int_equal(f->d.vq[0].base, 17);
	/* virtio_net loaded again: the same again, with a new table */
	for (unsigned k = 0; k < 4; k++)
		for (unsigned q = 0; q < 2; q++)
			assert_int_equal(vstate(f, VHOST_USER_SET_VRING_ENABLE, q, 1), 0);
	qemu_start(f, round2);
	assert_int_equal(f->maps, 2);
	assert_int_equal(f->unmaps, 1);
	/* QEMU goes away */
	vhost_dev_disconnect(&f->d, &f->act);
	assert_true(f->act.ring[0].ops & VHOST_RING_STOP);
	assert_true(f->act.ring[1].ops & VHOST_RING_STOP);
	f->running[0] = f->running[1] = false;
	for (unsigned q = 0; q < 2; q++)
		f->act.ring[q].ops &= ~(unsigned)VHOST_RING_STOP;
	apply(f, &f->act);
	assert_int_equal(f->unmaps, 2);
	for (int fd = 0; fd < FD_MAX; fd++)
		assert_false(f->open[fd]);
	/* and comes back: a fresh session */
	qemu_init(f);
}

static void test_order(void **state)
{
	struct fx *f = *state;
	/* before SET_OWNER: only features and protocol features */
	assert_int_equal(u64msg(f, VHOST_USER_SET_FEATURES, ACKED), -EPROTO);
	assert_non_null(strstr(f->act.why, "before SET_OWNER"));
	assert_int_equal(one_region(f, 0), -EPROTO);
	assert_int_equal(u64msg(f, VHOST_USER_SET_VRING_CALL, 0), -EPROTO);
	assert_int_equal(send0(f, VHOST_USER_GET_QUEUE_NUM, NULL, 0), 0);
	assert_int_equal(reply_u64(f, VHOST_USER_GET_QUEUE_NUM), 1);
	assert_int_equal(send0(f, VHOST_USER_SET_OWNER, NULL, 0), 0);
	assert_int_equal(send0(f, VHOST_USER_SET_OWNER, NULL, 0), -EBUSY);
	/* rings before features */
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_NUM, 0, 256), -EPROTO);
	assert_non_null(strstr(f->act.why, "before SET_FEATURES"));
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_BASE, 0, 0), -EPROTO);
	assert_int_equal(u64msg(f, VHOST_USER_SET_VRING_KICK, 0), -EPROTO);
	assert_int_equal(u64msg(f, VHOST_USER_SET_FEATURES, ACKED), 0);
	/* addresses before the size, before memory */
	assert_int_equal(addr(f, 0, UVA, UVA + 0x1240, UVA + 0x1000), -EPROTO);
	assert_non_null(strstr(f->act.why, "before SET_VRING_NUM"));
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_NUM, 0, 256), 0);
	assert_int_equal(addr(f, 0, UVA, UVA + 0x1240, UVA + 0x1000), -EPROTO);
	assert_non_null(strstr(f->act.why, "before SET_MEM_TABLE"));
	assert_int_equal(one_region(f, 0), 0);
	/* kick before addresses: the ring starts when they come */
	assert_int_equal(u64msg(f, VHOST_USER_SET_VRING_KICK, 0), 0);
	assert_false(f->running[0]);
	assert_int_equal(addr(f, 0, UVA, UVA + 0x1240, UVA + 0x1000), 0);
	assert_true(f->running[0]);
	/* a running ring cannot be resized, rebased, moved or re-featured */
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_NUM, 0, 512), -EBUSY);
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_BASE, 0, 5), -EBUSY);
	assert_int_equal(addr(f, 0, UVA + 0x4000, UVA + 0x5240, UVA + 0x5000), -EBUSY);
	assert_int_equal(addr(f, 0, UVA, UVA + 0x1240, UVA + 0x1000), 0); /* the same: fine */
	assert_int_equal(u64msg(f, VHOST_USER_SET_FEATURES, ACKED & ~VHOST_BIT(VIRTIO_RING_F_EVENT_IDX)),
			 -EBUSY);
	assert_int_equal(u64msg(f, VHOST_USER_SET_FEATURES, ACKED), 0);
	assert_int_equal(u64msg(f, VHOST_USER_SET_PROTOCOL_FEATURES, 0x8), -EBUSY);
	/* a new kick fd for a running ring replaces the old one */
	int old = f->kick[0];
	assert_int_equal(u64msg(f, VHOST_USER_SET_VRING_KICK, 0), 0);
	assert_int_equal(f->act.nclose, 1);
	assert_int_equal(f->act.close[0], old);
	assert_false(f->act.ring[0].ops & VHOST_RING_START);
	assert_true(f->running[0]);
	/* RESET_OWNER stops both rings; a new kick starts ring 0 again where
	 * it stopped */
	f->stop_at[0] = 99;
	assert_int_equal(send0(f, VHOST_USER_RESET_OWNER, NULL, 0), 0);
	assert_false(f->running[0]);
	assert_int_equal(f->kick[0], -1);
	assert_int_equal(u64msg(f, VHOST_USER_SET_VRING_KICK, 0), 0);
	assert_true(f->running[0]);
	assert_int_equal(f->ring[0].base, 99);
}

/* An owner with features, memory and ring 0 running. */
static void ready0(struct fx *f)
{
	assert_int_equal(send0(f, VHOST_USER_SET_OWNER, NULL, 0), 0);
	assert_int_equal(u64msg(f, VHOST_USER_SET_PROTOCOL_FEATURES, 0x8), 0);
	assert_int_equal(u64msg(f, VHOST_USER_SET_FEATURES, ACKED), 0);
	assert_int_equal(one_region(f, 0), 0);
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_NUM, 0, 256), 0);
	assert_int_equal(addr(f, 0, UVA, UVA + 0x1240, UVA + 0x1000), 0);
	assert_int_equal(u64msg(f, VHOST_USER_SET_VRING_KICK, 0), 0);
	assert_true(f->running[0]);
}

static void test_ring_checks(void **state)
{
	struct fx *f = *state;
	assert_int_equal(send0(f, VHOST_USER_SET_OWNER, NULL, 0), 0);
	assert_int_equal(u64msg(f, VHOST_USER_SET_FEATURES, ACKED), 0);
	assert_int_equal(one_region(f, 0), 0);
	/* sizes: powers of two from 2 to 1024 */
	static const uint32_t bad_num[] = { 0, 1, 3, 255, 257, 1000, 2048, 65536, UINT32_MAX };
	for (size_t i = 0; i < sizeof(bad_num) / sizeof(bad_num[0]); i++)
		assert_int_equal(vstate(f, VHOST_USER_SET_VRING_NUM, 1, bad_num[i]), -EPROTO);
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_NUM, 1, 2), 0);
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_NUM, 1, 1024), 0);
	/* queues: two, no multiqueue */
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_NUM, 2, 256), -EPROTO);
	assert_non_null(strstr(f->act.why, "queue 2"));
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_BASE, UINT32_MAX, 0), -EPROTO);
	assert_int_equal(u64msg(f, VHOST_USER_SET_VRING_CALL, 2), -EPROTO);
	assert_int_equal(u64msg(f, VHOST_USER_SET_VRING_KICK, 0xff), -EPROTO);
	assert_int_equal(vstate(f, VHOST_USER_GET_VRING_BASE, 2, 0), -EPROTO);
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_ENABLE, 2, 1), -EPROTO);
	/* bases: 16 bits */
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_BASE, 1, 0x10000), -EPROTO);
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_BASE, 1, 0xffff), 0);
	/* enable: 0 or 1 */
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_ENABLE, 1, 2), -EPROTO);
	/* addresses: inside memory, whole, aligned, apart */
	uint64_t end = UVA + GUEST;
	uint64_t dlen = 16 * 1024, ulen = 6 + 8 * 1024;
	assert_true(ulen < 0x3000);
	assert_int_equal(addr(f, 1, end - dlen - 0x4000, end - 0x3000, end - 0x4000), 0);
	assert_int_equal(addr(f, 1, end - dlen + 16, UVA + 0x10000, UVA + 0x20000), -EPROTO);
	assert_non_null(strstr(f->act.why, "descriptor table"));
	assert_int_equal(addr(f, 1, UVA, end - 0x2000, UVA + 0x20000), -EPROTO);
	assert_non_null(strstr(f->act.why, "used ring"));
	assert_int_equal(addr(f, 1, UVA, UVA + 0x10000, end - 2), -EPROTO);
	assert_int_equal(addr(f, 1, UVA - 0x1000, UVA + 0x10000, UVA + 0x20000), -EPROTO);
	assert_int_equal(addr(f, 1, 0x1000, UVA + 0x10000, UVA + 0x20000), -EPROTO); /* a gpa */
	assert_int_equal(addr(f, 1, UINT64_MAX - 15, UVA + 0x10000, UVA + 0x20000), -EPROTO);
	assert_int_equal(addr(f, 1, UVA + 8, UVA + 0x10000, UVA + 0x20000), -EPROTO);
	assert_non_null(strstr(f->act.why, "aligned"));
	assert_int_equal(addr(f, 1, UVA, UVA + 0x10002, UVA + 0x20000), -EPROTO);
	assert_int_equal(addr(f, 1, UVA, UVA + 0x10000, UVA + 0x20001), -EPROTO);
	assert_int_equal(addr(f, 1, UVA, UVA + 0x3ff0, UVA + 0x20000), -EPROTO);
	assert_non_null(strstr(f->act.why, "overlap"));
	assert_int_equal(addr(f, 1, UVA, UVA + 0x10000, UVA + 0x10000 - 16), -EPROTO);
	/* logging was never offered */
	uint8_t a[40] = { 1 };
	uint32_t fl = 1;
	memcpy(a + 4, &fl, 4);
	assert_int_equal(send0(f, VHOST_USER_SET_VRING_ADDR, a, 40), -EPROTO);
	assert_non_null(strstr(f->act.why, "logging"));
	/* growing the ring must still fit the addresses it has */
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_NUM, 1, 512), 0);
	assert_int_equal(addr(f, 1, UVA, UVA + 0x10000, UVA + 0x2000), 0);
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_NUM, 1, 1024), -EPROTO);
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_NUM, 1, 256), 0);
	/* polling is not supported */
	assert_int_equal(u64msg(f, VHOST_USER_SET_VRING_KICK, 1 | VHOST_VRING_NOFD), -ENOTSUP);
	/* a call or err fd may be taken away */
	assert_int_equal(u64msg(f, VHOST_USER_SET_VRING_CALL, 1), 0);
	int old = f->call[1];
	assert_int_equal(u64msg(f, VHOST_USER_SET_VRING_CALL, 1 | VHOST_VRING_NOFD), 0);
	assert_int_equal(f->call[1], -1);
	assert_int_equal(f->act.close[0], old);
	assert_false(f->open[old]);
}

static void test_features(void **state)
{
	struct fx *f = *state;
	assert_int_equal(send0(f, VHOST_USER_SET_OWNER, NULL, 0), 0);
	assert_int_equal(u64msg(f, VHOST_USER_SET_FEATURES, ACKED | VHOST_BIT(VIRTIO_RING_F_INDIRECT_DESC)),
			 -EPROTO);
	assert_non_null(strstr(f->act.why, "not offered"));
	assert_int_equal(u64msg(f, VHOST_USER_SET_FEATURES, ACKED & ~VHOST_BIT(VIRTIO_F_VERSION_1)),
			 -EPROTO);
	assert_non_null(strstr(f->act.why, "VERSION_1"));
	assert_int_equal(u64msg(f, VHOST_USER_SET_FEATURES, ACKED & ~VHOST_BIT(VIRTIO_NET_F_GUEST_CSUM)),
			 -EPROTO);
	assert_int_equal(u64msg(f, VHOST_USER_SET_FEATURES, ACKED & ~VHOST_BIT(VIRTIO_NET_F_CSUM)),
			 -EPROTO);
	assert_int_equal(u64msg(f, VHOST_USER_SET_FEATURES,
				ACKED & ~(VHOST_BIT(VIRTIO_NET_F_HOST_TSO4) | VHOST_BIT(VIRTIO_NET_F_HOST_TSO6))),
			 -EPROTO);
	assert_non_null(strstr(f->act.why, "ECN"));
	assert_false(f->d.features_set);
	/* the bare minimum: virtio 1.x alone */
	assert_int_equal(u64msg(f, VHOST_USER_SET_FEATURES, VHOST_BIT(VIRTIO_F_VERSION_1)), 0);
	assert_int_equal(u64msg(f, VHOST_USER_SET_FEATURES, VHOST_NET_FEATURES), 0);
	assert_int_equal(u64msg(f, VHOST_USER_SET_PROTOCOL_FEATURES, VHOST_BIT(VHOST_USER_PROTOCOL_F_MQ)),
			 -EPROTO);
	assert_int_equal(u64msg(f, VHOST_USER_SET_PROTOCOL_FEATURES, 0), 0);
	/* without PROTOCOL_FEATURES acked, rings start enabled */
	assert_int_equal(u64msg(f, VHOST_USER_SET_FEATURES, VHOST_BIT(VIRTIO_F_VERSION_1)), 0);
	assert_int_equal(one_region(f, 0), 0);
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_NUM, 0, 256), 0);
	assert_int_equal(addr(f, 0, UVA, UVA + 0x1240, UVA + 0x1000), 0);
	assert_int_equal(u64msg(f, VHOST_USER_SET_VRING_KICK, 0), 0);
	assert_true(f->ring[0].enabled);
	assert_false(f->ring[0].event_idx);
}

static void test_enable(void **state)
{
	struct fx *f = *state;
	ready0(f);
	/* never enabled: with PROTOCOL_FEATURES the ring starts disabled */
	assert_false(f->ring[0].enabled);
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_ENABLE, 0, 1), 0);
	assert_true(f->act.ring[0].ops & VHOST_RING_ENABLE);
	assert_true(f->ring[0].enabled);
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_ENABLE, 0, 0), 0);
	assert_false(f->ring[0].enabled);
	/* a stopped ring just remembers */
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_ENABLE, 1, 1), 0);
	assert_int_equal(f->act.ring[1].ops, 0);
}

static void test_refused(void **state)
{
	struct fx *f = *state;
	ready0(f);
	static const uint32_t reqs[] = {
		VHOST_USER_SET_LOG_BASE, VHOST_USER_SET_LOG_FD, VHOST_USER_SEND_RARP,
		VHOST_USER_NET_SET_MTU, VHOST_USER_SET_SLAVE_REQ_FD, VHOST_USER_IOTLB_MSG,
		VHOST_USER_SET_VRING_ENDIAN, VHOST_USER_GET_CONFIG, VHOST_USER_SET_CONFIG,
		VHOST_USER_CREATE_CRYPTO_SESSION, VHOST_USER_CLOSE_CRYPTO_SESSION,
		VHOST_USER_POSTCOPY_ADVISE, VHOST_USER_POSTCOPY_LISTEN, VHOST_USER_POSTCOPY_END,
		VHOST_USER_GET_INFLIGHT_FD, VHOST_USER_SET_INFLIGHT_FD, VHOST_USER_GPU_SET_SOCKET,
		VHOST_USER_RESET_DEVICE, VHOST_USER_VRING_KICK, VHOST_USER_GET_MAX_MEM_SLOTS,
		VHOST_USER_ADD_MEM_REG, VHOST_USER_REM_MEM_REG, VHOST_USER_SET_STATUS,
		VHOST_USER_GET_STATUS, 0, 41, 1000, UINT32_MAX,
	};
	static const uint8_t p[64];
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		/* with fds (closed), and a REPLY_ACK failure when asked */
		assert_int_equal(send_fds(f, reqs[i], VHOST_FLAG_NEED_REPLY, p, 8, 2, 0), -EPROTO);
		assert_non_null(strstr(f->act.why, "refused"));
		if (reqs[i] && reqs[i] < VHOST_USER_REQUEST_MAX)
			assert_non_null(strstr(f->act.why, vhost_request_name(reqs[i])));
		assert_int_equal(f->act.nclose, 2);
		assert_int_not_equal(reply_u64(f, reqs[i]), 0);
		/* nothing changed */
		assert_true(f->running[0]);
		assert_int_equal(f->act.ring[0].ops, 0);
	}
}

static void test_reply_ack(void **state)
{
	struct fx *f = *state;
	assert_int_equal(send0(f, VHOST_USER_SET_OWNER, NULL, 0), 0);
	/* not negotiated: no ack even when asked */
	assert_int_equal(send_fds(f, VHOST_USER_SET_VRING_ENABLE, VHOST_FLAG_NEED_REPLY,
				  (uint32_t[2]){ 0, 1 }, 8, 0, 0), 0);
	assert_false(f->reply.send);
	assert_int_equal(u64msg(f, VHOST_USER_SET_PROTOCOL_FEATURES, 0x8), 0);
	assert_int_equal(send_fds(f, VHOST_USER_SET_VRING_ENABLE, VHOST_FLAG_NEED_REPLY,
				  (uint32_t[2]){ 0, 1 }, 8, 0, 0), 0);
	assert_int_equal(reply_u64(f, VHOST_USER_SET_VRING_ENABLE), 0);
	assert_int_equal(send_fds(f, VHOST_USER_SET_VRING_ENABLE, VHOST_FLAG_NEED_REPLY,
				  (uint32_t[2]){ 0, 7 }, 8, 0, 0), -EPROTO);
	assert_int_equal(reply_u64(f, VHOST_USER_SET_VRING_ENABLE), EPROTO);
	/* not asked: nothing */
	assert_int_equal(vstate(f, VHOST_USER_SET_VRING_ENABLE, 0, 1), 0);
	assert_false(f->reply.send);
	/* requests with a reply of their own get only that */
	assert_int_equal(send_fds(f, VHOST_USER_GET_FEATURES, VHOST_FLAG_NEED_REPLY, NULL, 0, 0, 0), 0);
	assert_int_equal(reply_u64(f, VHOST_USER_GET_FEATURES), VHOST_NET_FEATURES);
	/* SET_MEM_TABLE acks after mapping: failure when a map fails */
	assert_int_equal(u64msg(f, VHOST_USER_SET_FEATURES, ACKED), 0);
	f->fail_map = true;
	assert_int_equal(one_region(f, VHOST_FLAG_NEED_REPLY), 0);
	assert_int_equal(f->mem_err, -ENOMEM);
	assert_int_equal(reply_u64(f, VHOST_USER_SET_MEM_TABLE), ENOMEM);
	assert_false(vhost_mem_mapped(&f->d.mem));
	f->fail_map = false;
	assert_int_equal(one_region(f, VHOST_FLAG_NEED_REPLY), 0);
	assert_int_equal(reply_u64(f, VHOST_USER_SET_MEM_TABLE), 0);
	/* a refused table is acked as refused at once */
	struct vhost_mem_region r = { 0, GUEST, UVA, 4096 };
	assert_int_equal(mem_table(f, VHOST_FLAG_NEED_REPLY, &r, 1, GUEST), -EPROTO);
	assert_non_null(strstr(f->act.why, "SET_MEM_TABLE: region 0"));
	assert_int_equal(reply_u64(f, VHOST_USER_SET_MEM_TABLE), EPROTO);
	assert_true(vhost_mem_mapped(&f->d.mem));   /* the old one stays */
}

static void test_mem_table_while_running(void **state)
{
	struct fx *f = *state;
	ready0(f);
	/* the table changes under a running ring: stop, unmap, map, restart
	 * where it stopped */
	f->stop_at[0] = 1234;
	assert_int_equal(one_region(f, 0), 0);
	assert_true(f->act.ring[0].ops & VHOST_RING_STOP);
	assert_int_equal(f->act.nunmap, 1);
	assert_int_equal(f->mem_err, 0);
	assert_true(f->running[0]);
	assert_int_equal(f->ring[0].base, 1234);
	assert_int_equal(f->kick[0], f->next_fd - 2);   /* the kick stays */
	/* a new table without the ring's memory: the ring stays stopped */
	struct vhost_mem_region r = { 0, GUEST, UVA + GUEST, 0 };
	assert_int_equal(mem_table(f, 0, &r, 1, GUEST), 0);
	assert_int_equal(f->mem_err, -EPROTO);
	assert_false(f->running[0]);
	assert_false(f->d.vq[0].addr_set);
	assert_int_equal(addr(f, 0, UVA + GUEST, UVA + GUEST + 0x1240, UVA + GUEST + 0x1000), 0);
	assert_true(f->running[0]);
	assert_int_equal(f->ring[0].base, 1234);
}

static void test_misuse(void **state)
{
	struct fx *f = *state;
	ready0(f);
	/* a completion still owed: the next message is refused */
	uint32_t s[2] = { 0, 0 };
	uint32_t h[3] = { VHOST_USER_GET_VRING_BASE, 1, 8 };
	memcpy(wire, h, 12);
	memcpy(wire + 12, s, 8);
	struct vhost_msg m;
	assert_int_equal(vhost_msg_parse(wire, 20, NULL, 0, &m), 0);
	assert_int_equal(vhost_dev_handle(&f->d, &m, &f->reply, &f->act), 0);
	assert_true(f->act.ring[0].ops & VHOST_RING_STOP);
	assert_false(f->reply.send);   /* the reply waits for the stop */
	assert_int_equal(vhost_dev_handle(&f->d, &m, &f->reply, &f->act), -EINVAL);
	assert_non_null(strstr(f->act.why, "still owed"));
	assert_int_equal(vhost_dev_ring_stopped(&f->d, 1, 0, &f->reply), -EINVAL);
	assert_int_equal(vhost_dev_ring_stopped(&f->d, 0, 5, NULL), -EINVAL);
	assert_int_equal(vhost_dev_ring_stopped(&f->d, 0, 5, &f->reply), 0);
	reply_state(f, 0, 5);
	assert_int_equal(vhost_dev_ring_stopped(&f->d, 0, 5, &f->reply), -EINVAL);
	/* a stopped ring answers at once, with where it stopped */
	assert_int_equal(vhost_dev_handle(&f->d, &m, &f->reply, &f->act), 0);
	reply_state(f, 0, 5);
	/* mem_mapped with nothing to complete */
	void *b = f->guest;
	assert_int_equal(vhost_dev_mem_mapped(&f->d, &b, 1, &f->reply, &f->act), -EINVAL);
	assert_int_equal(vhost_dev_handle(&f->d, NULL, &f->reply, &f->act), -EINVAL);
	assert_int_equal(vhost_dev_handle(&f->d, &m, NULL, &f->act), -EINVAL);
	f->running[0] = false;
	/* leave nothing open for the fixture's accounting */
	vhost_dev_disconnect(&f->d, &f->act);
	for (unsigned i = 0; i < f->act.nclose; i++)
		fd_close(f, f->act.close[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_qemu_negotiation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mem_table_while_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_misuse, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
