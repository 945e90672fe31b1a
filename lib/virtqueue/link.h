/* SPDX-License-Identifier: MIT */
/*
 * link.h - a point-to-point Ethernet link in one shared region.
 *
 * A link is one memory region (a sealed memfd) that exactly two processes
 * map, "side 0" and "side 1".  It holds a header and, for each direction, a
 * split virtqueue and the pool of buffer chunks its sender owns:
 *
 *   [header][ring 0->1][ring 1->0][pool of side 0][pool of side 1]
 *
 * The sender of a direction is the virtio driver: it copies a frame into its
 * own chunks (one chunk per descriptor, descriptor i always uses chunk i),
 * chains them and makes the chain available.  The receiver is the device: it
 * takes the chain, reads the frame in place and returns it used.
 *
 * Memory: a link costs vq_link_bytes(num, chunk).  With the defaults (256
 * entries of 2 KiB per direction) that is 1,064,960 bytes: two 6.6 KiB rings
 * and two 512 KiB pools, enough for 8 frames of 64 KiB or 256 of 1500 bytes
 * in flight each way.  The sender reclaims returned chunks before every
 * send and reuses the most recently freed first, so a link that carries
 * one frame at a time touches a few pages of its pools (memfd pages are
 * allocated on first touch); a saturated one touches all of them.
 *
 * Untrusted: everything in the region, the header included.  attach reads
 * the header once, recomputes the layout from num and chunk and refuses any
 * region that disagrees; afterwards only the private copy is used.
 * Received frames are handed out as iovecs into the peer's pool, checked to
 * lie inside it; their bytes may change under the reader (the peer can
 * always write its own pool), so copy before parsing if that matters.
 */
#ifndef VQNET_LINK_H
#define VQNET_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtqueue.h"

#define VQ_LINK_MAGIC 0x4b4c5156u /* "VQLK" */
#define VQ_LINK_VERSION 2u        /* 2: frames up to 64 KiB + 64 */
/* Largest frame a link carries: 64 KiB, the most a TAP hands over with
 * segmentation offload, and room for the virtio-net header before it. */
#define VQ_FRAME_MAX (65536u + 64u)
#define VQ_LINK_NUM_DEFAULT 256u
#define VQ_LINK_CHUNK_DEFAULT 2048u
#define VQ_LINK_F_EVENT_IDX 1u

/* What each side says about itself in the header (written by that side). */
enum { VQ_SIDE_ABSENT = 0, VQ_SIDE_ATTACHED = 1, VQ_SIDE_BROKEN = 2 };

struct vq_link_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t num;         /* ring entries per direction */
	uint32_t chunk;       /* bytes per chunk */
	uint32_t flags;       /* VQ_LINK_F_* */
	uint64_t size;        /* bytes in the whole region */
	uint64_t ring_off[2]; /* ring carrying frames from side i */
	uint64_t pool_off[2]; /* chunks owned by side i */
	uint32_t state[2];    /* VQ_SIDE_* of side i */
};

/* Bytes a link with these parameters needs, or 0 if they are unacceptable:
 * num a power of two in [2, VQ_NUM_MAX], chunk a multiple of 64 in
 * [VQ_FRAME_MAX / VQ_CHAIN_MAX, VQ_FRAME_MAX], num * chunk >= VQ_FRAME_MAX. */
size_t vq_link_bytes(unsigned num, unsigned chunk);

/* Lay out a fresh link in mem (len >= vq_link_bytes, 64-byte aligned). */
int vq_link_format(void *mem, size_t len, unsigned num, unsigned chunk,
		   bool event_idx);

/* One side's view of a link.  Private; the region pointer is the only
 * thing shared. */
struct vq_port {
	uint8_t *base;
	size_t size;
	unsigned side;
	uint32_t chunk;
	uint64_t tx_pool;      /* offset of our own pool */
	struct vq_driver tx;   /* frames we send */
	struct vq_device rx;   /* frames the peer sends */
	int error;             /* first peer error, 0 while healthy */
};

/* A received frame: iovecs pointing into the peer's pool. */
struct vq_frame {
	uint16_t head;
	uint16_t niov;
	uint32_t len;
	struct iovec iov[VQ_CHAIN_MAX];
};

/* Attach as side (0 or 1) to a formatted region of len bytes.  The region
 * must stay mapped and its size fixed (seal it) while the port is used. */
int vq_port_attach(struct vq_port *p, void *mem, size_t len, unsigned side);

/* Queue one frame (1..VQ_FRAME_MAX bytes) for the peer, copying it into our
 * chunks; reclaims returned chunks first, always, and uses the most
 * recently returned.  -VQ_ENOSPC when the peer
 * has not returned enough: call vq_port_tx_wait and try again later.
 * Nothing is visible to the peer before vq_port_tx_publish. */
int vq_port_send(struct vq_port *p, const void *frame, size_t len);

/* Publish queued frames: 1 if the peer needs a kick, 0 if not, or error. */
int vq_port_tx_publish(struct vq_port *p);

/* Reclaim chunks the peer has returned; count of frames or error. */
int vq_port_reclaim(struct vq_port *p);

/* Frames sent and not returned, as of the last reclaim (or send): 0 when
 * the peer has caught up with everything we gave it. */
static inline unsigned vq_port_tx_pending(const struct vq_port *p)
{
	return vq_drv_outstanding(&p->tx);
}

/* Ask for a kick when the peer returns chunks (true: some already are,
 * so retry now).  tx_nowait stops asking. */
bool vq_port_tx_wait(struct vq_port *p);
void vq_port_tx_nowait(struct vq_port *p);

/* Take up to max received frames; count (0 when none) or error.  Each must
 * be given back with vq_port_recv_done, in any order, once consumed. */
int vq_port_recv(struct vq_port *p, struct vq_frame *f, unsigned max);
int vq_port_recv_done(struct vq_port *p, const struct vq_frame *f, unsigned n);

/* Publish returned frames: 1 if the peer needs a kick, 0 if not, or error. */
int vq_port_rx_publish(struct vq_port *p);

/* Ask for a kick on new frames (true: frames already wait, take them now).
 * rx_nowait stops asking, for while we are busy polling. */
bool vq_port_rx_wait(struct vq_port *p);
void vq_port_rx_nowait(struct vq_port *p);

/* First protocol violation seen on this link (negative VQ_E*), or 0. */
static inline int vq_port_error(const struct vq_port *p)
{
	return p->error;
}

#endif
