/* Unit tests for lib/virtqueue/link.c: layout, frames both ways, full pools,
 * and a hostile peer or header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "link.h"
#include "sys.h"

struct link {
	void *mem;
	size_t len;
	struct vq_port a, b;
};

static struct link *link_new(unsigned num, unsigned chunk)
{
	struct link *l = calloc(1, sizeof(*l));
	assert_non_null(l);
	l->len = vq_link_bytes(num, chunk);
	assert_true(l->len > 0);
	l->mem = aligned_alloc(4096, l->len);
	assert_non_null(l->mem);
	memset(l->mem, 0xa5, l->len); /* format must not rely on zeroed memory */
	assert_int_equal(vq_link_format(l->mem, l->len, num, chunk, true), 0);
	assert_int_equal(vq_port_attach(&l->a, l->mem, l->len, 0), 0);
	assert_int_equal(vq_port_attach(&l->b, l->mem, l->len, 1), 0);
	return l;
}

static void link_free(struct link *l)
{
	free(l->mem);
	free(l);
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 31 + i * 7);
}

/* Gather a received frame into buf. */
static size_t gather(const struct vq_frame *f, uint8_t *buf)
{
	size_t off = 0;
	for (unsigned k = 0; k < f->niov; k++) {
		memcpy(buf + off, f->iov[k].iov_base, f->iov[k].iov_len);
		off += f->iov[k].iov_len;
	}
	return off;
}

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(vq_link_bytes(VQ_LINK_NUM_DEFAULT, VQ_LINK_CHUNK_DEFAULT), 1064960);
	assert_int_equal(vq_link_bytes(256, 1000), 0);   /* not a multiple of 64 */
	assert_int_equal(vq_link_bytes(256, 512), 0);    /* 64 KiB needs > 64 descs */
	assert_int_equal(vq_link_bytes(16, 2048), 0);    /* pool below 64 KiB */
	assert_int_equal(vq_link_bytes(255, 2048), 0);
	assert_int_equal(vq_link_bytes(32, 2048), 0);    /* 64 KiB, not the header room */
	assert_true(vq_link_bytes(64, 2048) > 0);
}

static void test_frames_both_ways(void **state)
{
	(void)state;
	struct link *l = link_new(256, 2048);
	static uint8_t out[VQ_FRAME_MAX], in[VQ_FRAME_MAX];
	const size_t sizes[] = { 1, 60, 1514, 2047, 2048, 2049, 9000, 65535, 65536, VQ_FRAME_MAX };
	const size_t nsizes = sizeof(sizes) / sizeof(sizes[0]);

	for (int dir = 0; dir < 2; dir++) {
		struct vq_port *tx = dir ? &l->b : &l->a, *rx = dir ? &l->a : &l->b;
		for (size_t i = 0; i < nsizes; i++) {
			fill(out, sizes[i], (unsigned)i);
			assert_int_equal(vq_port_send(tx, out, sizes[i]), 0);
			assert_true(vq_port_tx_publish(tx) >= 0);
			struct vq_frame f;
			assert_int_equal(vq_port_recv(rx, &f, 1), 1);
			assert_int_equal(f.len, sizes[i]);
			assert_int_equal(f.niov, (sizes[i] + 2047) / 2048);  /* 33 at most */
			assert_int_equal(gather(&f, in), sizes[i]);
			assert_memory_equal(in, out, sizes[i]);
			assert_int_equal(vq_port_recv_done(rx, &f, 1), 0);
			assert_true(vq_port_rx_publish(rx) >= 0);
		}
		/* send reclaims as it goes: the last frame is still to collect,
		 * then the whole pool is free again */
		assert_int_equal(vq_port_reclaim(tx), 1);
		assert_int_equal(vq_drv_num_free(&tx->tx), 256);
	}
	assert_int_equal(vq_port_send(&l->a, out, 0), -VQ_ETOOBIG);
	assert_int_equal(vq_port_send(&l->a, out, VQ_FRAME_MAX + 1), -VQ_ETOOBIG);
	assert_int_equal(vq_port_error(&l->a), 0);
	assert_int_equal(vq_port_error(&l->b), 0);
	link_free(l);
}

static void test_full_pool(void **state)
{
	(void)state;
	struct link *l = link_new(64, 2048);
	uint8_t frame[1500];
	fill(frame, sizeof(frame), 1);
	for (int i = 0; i < 64; i++)
		assert_int_equal(vq_port_send(&l->a, frame, sizeof(frame)), 0);
	assert_int_equal(vq_port_send(&l->a, frame, sizeof(frame)), -VQ_ENOSPC);
	assert_false(vq_port_tx_wait(&l->a));
	assert_int_equal(vq_port_tx_publish(&l->a), 1);

	struct vq_frame f[64];
	assert_int_equal(vq_port_recv(&l->b, f, 64), 64);
	assert_int_equal(vq_port_recv_done(&l->b, f, 1), 0);
	assert_int_equal(vq_port_rx_publish(&l->b), 1); /* the sender waits */
	assert_true(vq_port_tx_wait(&l->a));
	/* send reclaims by itself */
	assert_int_equal(vq_port_send(&l->a, frame, sizeof(frame)), 0);
	assert_int_equal(vq_port_send(&l->a, frame, sizeof(frame)), -VQ_ENOSPC);
	link_free(l);
}

static void test_bad_header(void **state)
{
	(void)state;
	size_t len = vq_link_bytes(64, 2048);
	uint8_t *mem = aligned_alloc(4096, len);
	assert_non_null(mem);
	struct vq_link_hdr *h = (struct vq_link_hdr *)mem;
	struct vq_port p;

	struct { size_t off; uint32_t val; size_t width; } pokes[] = {
		{ offsetof(struct vq_link_hdr, magic), 0x12345678, 4 },
		{ offsetof(struct vq_link_hdr, version), VQ_LINK_VERSION + 1, 2 },
		{ offsetof(struct vq_link_hdr, num), 128, 2 },
		{ offsetof(struct vq_link_hdr, num), 33, 2 },
		{ offsetof(struct vq_link_hdr, chunk), 4096, 4 },
		{ offsetof(struct vq_link_hdr, size), 12, 4 },
		{ offsetof(struct vq_link_hdr, ring_off), 0, 4 },
		{ offsetof(struct vq_link_hdr, pool_off) + 8, 4096, 4 },
	};
	for (size_t i = 0; i < sizeof(pokes) / sizeof(pokes[0]); i++) {
		assert_int_equal(vq_link_format(mem, len, 64, 2048, true), 0);
		memcpy(mem + pokes[i].off, &pokes[i].val, pokes[i].width);
		assert_int_equal(vq_port_attach(&p, mem, len, 0), -VQ_ELAYOUT);
	}
	/* a region shorter than its header claims */
	assert_int_equal(vq_link_format(mem, len, 64, 2048, true), 0);
	assert_int_equal(vq_port_attach(&p, mem, len - 1, 0), -VQ_ELAYOUT);
	assert_int_equal(vq_port_attach(&p, mem, len, 2), -VQ_EINVAL);
	assert_int_equal(vq_port_attach(&p, mem, len, 1), 0);
	assert_int_equal(h->state[1], VQ_SIDE_ATTACHED);
	free(mem);
}

/* Side b, hostile, points a descriptor at side a's own pool: a must refuse
 * to read it (no reading frames that are not the peer's to send). */
static void test_peer_points_into_our_pool(void **state)
{
	(void)state;
	struct link *l = link_new(64, 2048);
	struct vq_link_hdr *h = l->mem;
	struct vq_desc *d = l->b.tx.r.desc;
	d[0] = (struct vq_desc){ h->pool_off[0], 64, 0, 0 };
	l->b.tx.r.avail[2] = 0;
	l->b.tx.r.avail[1] = 1;
	struct vq_frame f;
	assert_int_equal(vq_port_recv(&l->a, &f, 1), -VQ_EADDR);
	assert_int_equal(vq_port_error(&l->a), -VQ_EADDR);
	/* the whole link is down, waiting to be reset (test_link_reset.c)
	 * by a poll that this test never makes */
	assert_false(vq_port_up(&l->a));
	assert_int_equal(h->state[0], VQ_SIDE_RESETTING);
	assert_int_equal(vq_port_recv(&l->a, &f, 1), -VQ_ERESETTING);
	assert_int_equal(vq_port_send(&l->a, &f, 60), -VQ_ERESETTING);
	assert_int_equal(vq_port_error(&l->a), -VQ_EADDR);
	link_free(l);
}

static void test_peer_bad_chains(void **state)
{
	(void)state;
	/* a writable buffer in a frame chain */
	struct link *l = link_new(64, 2048);
	struct vq_link_hdr *h = l->mem;
	struct vq_desc *d = l->b.tx.r.desc;
	d[0] = (struct vq_desc){ h->pool_off[1], 64, VQ_DESC_F_WRITE, 0 };
	l->b.tx.r.avail[2] = 0;
	l->b.tx.r.avail[1] = 1;
	struct vq_frame f;
	assert_int_equal(vq_port_recv(&l->a, &f, 1), -VQ_EFLAGS);
	link_free(l);

	/* a frame longer than VQ_FRAME_MAX, all inside the peer's pool */
	l = link_new(64, 2048);
	h = l->mem;
	d = l->b.tx.r.desc;
	for (unsigned i = 0; i < 33; i++)
		d[i] = (struct vq_desc){ h->pool_off[1] + i * 2048ull, 2048,
					 i < 32 ? VQ_DESC_F_NEXT : 0, (uint16_t)(i + 1) };
	l->b.tx.r.avail[2] = 0;
	l->b.tx.r.avail[1] = 1;
	assert_int_equal(vq_port_recv(&l->a, &f, 1), -VQ_ELEN);
	link_free(l);
}

/* Hardening #19: a quiet link touched all 256 chunks of each pool (~512 KiB
 * per direction), because the sender reclaimed only when its free list ran
 * out and so walked all of it.  Over a real memfd (pages allocated on first
 * touch), N frames each way, each returned before the next, must touch only
 * the header and rings plus a few pool pages per direction. */
static void test_quiet_link_touches_few_pages(void **state)
{
	(void)state;
	size_t len = vq_link_bytes(VQ_LINK_NUM_DEFAULT, VQ_LINK_CHUNK_DEFAULT);
	int fd = sys_memfd_sealed("test-quiet-link", len);
	assert_true(fd >= 0);
	int err;
	uint8_t *mem = sys_map_sealed(fd, &len, &err);
	assert_non_null(mem);
	assert_int_equal(vq_link_format(mem, len, VQ_LINK_NUM_DEFAULT, VQ_LINK_CHUNK_DEFAULT, true), 0);
	struct vq_port a, b;
	assert_int_equal(vq_port_attach(&a, mem, len, 0), 0);
	assert_int_equal(vq_port_attach(&b, mem, len, 1), 0);
	const struct vq_link_hdr *h = (const struct vq_link_hdr *)mem;
	size_t rings = (size_t)h->pool_off[0];   /* header and rings, all written by format */

	uint8_t frame[1514], in[VQ_FRAME_MAX];
	for (unsigned i = 0; i < 3 * VQ_LINK_NUM_DEFAULT; i++) {
		/* a ping and its reply */
		for (int dir = 0; dir < 2; dir++) {
			struct vq_port *tx = dir ? &b : &a, *rx = dir ? &a : &b;
			fill(frame, sizeof(frame), i);
			assert_int_equal(vq_port_send(tx, frame, sizeof(frame)), 0);
			assert_true(vq_port_tx_publish(tx) >= 0);
			struct vq_frame f;
			assert_int_equal(vq_port_recv(rx, &f, 1), 1);
			assert_int_equal(gather(&f, in), sizeof(frame));
			assert_memory_equal(in, frame, sizeof(frame));
			assert_int_equal(vq_port_recv_done(rx, &f, 1), 0);
			assert_true(vq_port_rx_publish(rx) >= 0);
		}
	}
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	size_t pages = (size_t)st.st_blocks * 512 / 4096;
	size_t bound = rings / 4096 + 2 * 4;
	if (pages > bound)
		fail_msg("a ping-pong link touched %zu pages, at most %zu expected "
			 "(%zu of header and rings, 4 per pool)", pages, bound, rings / 4096);
	munmap(mem, len);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_frames_both_ways),
		cmocka_unit_test(test_full_pool),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_peer_points_into_our_pool),
		cmocka_unit_test(test_peer_bad_chains),
		cmocka_unit_test(test_quiet_link_touches_few_pages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
