/* SPDX-License-Identifier: MIT */
/* link.c - two virtqueues and two chunk pools in one shared region. */
#include "link.h"

#include <endian.h>
#include <string.h>

#define ALIGN(x, a) (((x) + ((a) - 1)) & ~(uint64_t)((a) - 1))
#define PAGE 4096u

struct layout {
	uint64_t ring_off[2], pool_off[2], ring_len, pool_len, size;
};

static bool layout(unsigned num, unsigned chunk, struct layout *l)
{
	size_t ring = vq_ring_bytes(num);
	if (!ring || chunk % 64 || chunk < VQ_FRAME_MAX / VQ_CHAIN_MAX ||
	    chunk > VQ_FRAME_MAX || (uint64_t)num * chunk < VQ_FRAME_MAX)
		return false;
	l->ring_len = ring;
	l->pool_len = (uint64_t)num * chunk;
	l->ring_off[0] = ALIGN(sizeof(struct vq_link_hdr), 64);
	l->ring_off[1] = l->ring_off[0] + ring;
	/* pools start on a page so chunks never share a page with the rings */
	l->pool_off[0] = ALIGN(l->ring_off[1] + ring, PAGE);
	l->pool_off[1] = l->pool_off[0] + l->pool_len;
	l->size = l->pool_off[1] + l->pool_len;
	return true;
}

size_t vq_link_bytes(unsigned num, unsigned chunk)
{
	struct layout l;
	return layout(num, chunk, &l) ? (size_t)l.size : 0;
}

int vq_link_format(void *mem, size_t len, unsigned num, unsigned chunk,
		   bool event_idx)
{
	struct layout l;
	if (!mem || ((uintptr_t)mem & 63u) || !layout(num, chunk, &l) || len < l.size)
		return -VQ_EINVAL;
	uint8_t *m = mem;
	memset(m, 0, l.pool_off[0]);  /* header and rings; pools need no init */
	for (int i = 0; i < 2; i++) {
		int err = vq_ring_reset(m + l.ring_off[i], l.ring_len, num);
		if (err)
			return err;
	}
	struct vq_link_hdr h = {
		.magic = htole32(VQ_LINK_MAGIC),
		.version = htole16(VQ_LINK_VERSION),
		.num = htole16((uint16_t)num),
		.chunk = htole32(chunk),
		.flags = htole32(event_idx ? VQ_LINK_F_EVENT_IDX : 0),
		.size = htole64(l.size),
		.ring_off = { htole64(l.ring_off[0]), htole64(l.ring_off[1]) },
		.pool_off = { htole64(l.pool_off[0]), htole64(l.pool_off[1]) },
	};
	memcpy(m, &h, sizeof(h));
	return 0;
}

static void set_state(struct vq_port *p, uint32_t state)
{
	struct vq_link_hdr *h = (struct vq_link_hdr *)p->base;
	__atomic_store_n(&h->state[p->side], htole32(state), __ATOMIC_RELEASE);
}

/* Record the first peer error and say so in our state word. */
static int port_fail(struct vq_port *p, int err)
{
	if (vq_is_peer_error(err) && !p->error) {
		p->error = err;
		set_state(p, VQ_SIDE_BROKEN);
	}
	return err;
}

int vq_port_attach(struct vq_port *p, void *mem, size_t len, unsigned side)
{
	if (!p || !mem || side > 1 || ((uintptr_t)mem & 63u) ||
	    len < sizeof(struct vq_link_hdr))
		return -VQ_EINVAL;
	memset(p, 0, sizeof(*p));

	/* One copy of the header; the peer may rewrite the original. */
	struct vq_link_hdr h;
	memcpy(&h, mem, sizeof(h));
	unsigned num = le16toh(h.num);
	uint32_t chunk = le32toh(h.chunk);
	struct layout l;
	if (le32toh(h.magic) != VQ_LINK_MAGIC || le16toh(h.version) != VQ_LINK_VERSION ||
	    !layout(num, chunk, &l) || le64toh(h.size) != l.size || l.size > len)
		return -VQ_ELAYOUT;
	for (int i = 0; i < 2; i++)
		if (le64toh(h.ring_off[i]) != l.ring_off[i] ||
		    le64toh(h.pool_off[i]) != l.pool_off[i])
			return -VQ_ELAYOUT;
	bool event_idx = le32toh(h.flags) & VQ_LINK_F_EVENT_IDX;

	uint8_t *m = mem;
	unsigned peer = side ^ 1u;
	int err = vq_driver_init(&p->tx, m + l.ring_off[side], l.ring_len, num, event_idx);
	if (!err)
		err = vq_device_init(&p->rx, m + l.ring_off[peer], l.ring_len, num,
				     event_idx, l.pool_off[peer], l.pool_len);
	if (err)
		return err;
	/* our peer only sends frames: no writable buffers, none oversized */
	vq_dev_set_limits(&p->rx, VQ_FRAME_MAX, VQ_CHAIN_READ);
	p->base = m;
	p->size = len;
	p->side = side;
	p->chunk = chunk;
	p->tx_pool = l.pool_off[side];
	set_state(p, VQ_SIDE_ATTACHED);
	return 0;
}

int vq_port_reclaim(struct vq_port *p)
{
	uint16_t ids[64];
	int total = 0, n;
	while ((n = vq_drv_reap(&p->tx, ids, NULL, 64)) > 0)
		total += n;
	return n < 0 ? port_fail(p, n) : total;
}

int vq_port_send(struct vq_port *p, const void *frame, size_t len)
{
	if (len == 0 || len > VQ_FRAME_MAX)
		return -VQ_ETOOBIG;
	unsigned n = (unsigned)((len + p->chunk - 1) / p->chunk);
	/* Reclaim first, every time, not only when the free list runs dry:
	 * the driver pushes freed chains at the head of its free list, so the
	 * chunks the peer just returned (still in cache, already backed by
	 * pages) are the next ones used, and a quiet link keeps touching the
	 * same few pages instead of walking its whole pool (hardening #19).
	 * It costs one load of the used index when nothing came back. */
	int err = vq_port_reclaim(p);
	if (err < 0)
		return err;
	uint16_t ids[VQ_CHAIN_MAX];
	err = vq_drv_peek_free(&p->tx, n, ids);
	if (err)
		return port_fail(p, err);

	struct vq_seg seg[VQ_CHAIN_MAX];
	const uint8_t *src = frame;
	size_t left = len;
	for (unsigned k = 0; k < n; k++) {
		uint32_t l = left < p->chunk ? (uint32_t)left : p->chunk;
		uint64_t off = p->tx_pool + (uint64_t)ids[k] * p->chunk;
		memcpy(p->base + off, src, l);
		seg[k] = (struct vq_seg){ .addr = off, .len = l, .write = false };
		src += l;
		left -= l;
	}
	uint16_t head;
	return port_fail(p, vq_drv_add(&p->tx, seg, n, &head));
}

int vq_port_tx_publish(struct vq_port *p)
{
	return port_fail(p, vq_drv_publish(&p->tx));
}

bool vq_port_tx_wait(struct vq_port *p)
{
	return vq_drv_enable_notify(&p->tx);
}

void vq_port_tx_nowait(struct vq_port *p)
{
	vq_drv_disable_notify(&p->tx);
}

int vq_port_recv(struct vq_port *p, struct vq_frame *f, unsigned max)
{
	struct vq_chain c;
	unsigned got = 0;
	while (got < max) {
		int n = vq_dev_take(&p->rx, &c, 1);
		if (n < 0)
			return port_fail(p, n);
		if (n == 0)
			break;
		struct vq_frame *fr = &f[got++];
		fr->head = c.head;
		fr->niov = c.n;
		fr->len = c.read_len;
		/* The device checked every segment against the peer's pool,
		 * which lies inside our mapping (checked at attach). */
		for (unsigned k = 0; k < c.n; k++)
			fr->iov[k] = (struct iovec){ p->base + c.seg[k].addr, c.seg[k].len };
	}
	return (int)got;
}

int vq_port_recv_done(struct vq_port *p, const struct vq_frame *f, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		int err = vq_dev_put(&p->rx, &f[k].head, NULL, 1);
		if (err)
			return port_fail(p, err);
	}
	return 0;
}

int vq_port_rx_publish(struct vq_port *p)
{
	return port_fail(p, vq_dev_publish(&p->rx));
}

bool vq_port_rx_wait(struct vq_port *p)
{
	return vq_dev_enable_notify(&p->rx);
}

void vq_port_rx_nowait(struct vq_port *p)
{
	vq_dev_disable_notify(&p->rx);
}
