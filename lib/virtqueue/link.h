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
 *
 * Reset.  Either side can start the link over: a side that (re)starts and
 * finds its half of the region used before (its predecessor died with the
 * private ring state), a side that saw its peer break the protocol (a VQ_E*
 * error from any call below), or a caller that asks.  Each side writes only
 * its own header words (state, reset_req, reset_ack) and its own ring fields
 * (as driver of its sending ring: descriptors, available ring, used_event;
 * as device of its receiving ring: used ring, avail_event), so no word ever
 * has two writers.  reset_req is odd while its side asks, and one more (even)
 * once that side is ready again; reset_ack is the peer's request its side
 * answered.  R asks, P answers:
 *
 *   R: stops using the link; reset_req[R] = e (odd, new)          kick P
 *   P: sees e, stops using the link, forgets its private state of both
 *      directions, zeroes the ring fields it writes; reset_ack[P] = e  kick R
 *   R: sees the ack, forgets its private state, zeroes its own ring fields;
 *      reset_req[R] = e + 1 (ready) and uses the link again            kick P
 *   P: sees e + 1, uses the link again.
 *
 * Both then start at index 0 with every descriptor free, as on a fresh
 * region.  A side zeroes its fields only while the other is not reading the
 * ring (R has stopped when P zeroes, P waits for e + 1 when R does), and
 * reads the other's fields again only after they were zeroed (the ack and
 * the ready are release stores after the zeroing).  Both may ask at once:
 * each answers the other, and each is usable once its own request is done
 * and the peer's request it answered is ready.  Frames in flight are lost,
 * never delivered twice: nothing of the old rings survives.  Frames taken
 * and not yet given back are void after a reset (recv_done skips them).
 *
 * A hostile peer may ask in a loop, never answer, answer without zeroing, or
 * scribble anywhere meanwhile.  During the handshake we read only its two
 * header words and write only our own words and fields; every ring check
 * applies again once we use the link.  Each reset we take part in (asking,
 * or answering a new request) is charged to a budget: VQ_RESET_BUDGET per
 * VQ_RESET_WINDOW_NS, beyond which the link is dead for good (VQ_ERESETS);
 * after the first in a window each waits VQ_RESET_GAP_NS after the one
 * before, doubling with each, up to VQ_RESET_GAP_MAX_NS (answering the
 * peer's request while ours is out is free, once per request of ours).  A
 * peer that does not answer within VQ_RESET_TIMEOUT_NS leaves the link
 * broken (VQ_ERESETTIMEOUT) but listening: a late answer, or a new request
 * (a peer vmm restarted later), still brings it back, at the budget's price.
 *
 * How a vmm uses it (the library makes no system call: the caller rings
 * doorbells and keeps the timer; now_ns is CLOCK_MONOTONIC in ns):
 *  - attach with vq_port_join (not vq_port_attach, which takes the region
 *    as it is: tools and tests), then act on its struct vq_poll;
 *  - on every doorbell, before taking frames: vq_port_poll;
 *  - whenever a struct vq_poll says kick, ring the peer's doorbell; when it
 *    has a deadline, poll again by then if no doorbell came;
 *  - a VQ_E* error (vq_is_peer_error) from send, recv, publish or reclaim:
 *    the link is already down and wants a reset; poll now (it asks);
 *  - while not VQ_LINK_UP, send and recv return -VQ_ERESETTING (or the
 *    error that broke the link): drop or hold frames for it;
 *  - changed to VQ_LINK_UP: the rings are new; take frames, retry what
 *    waited, ask for kicks again (rx_wait, tx_wait);
 *  - VQ_LINK_DEAD: the peer is hostile; stop polling the link.
 */
#ifndef VQNET_LINK_H
#define VQNET_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtqueue.h"

#define VQ_LINK_MAGIC 0x4b4c5156u /* "VQLK" */
#define VQ_LINK_VERSION 3u        /* 2: frames up to 64 KiB + 64; 3: reset words */
/* Largest frame a link carries: 64 KiB, the most a TAP hands over with
 * segmentation offload, and room for the virtio-net header before it. */
#define VQ_FRAME_MAX (65536u + 64u)
#define VQ_LINK_NUM_DEFAULT 256u
#define VQ_LINK_CHUNK_DEFAULT 2048u
#define VQ_LINK_F_EVENT_IDX 1u

/* What each side says about itself in the header (written by that side;
 * for observers: the handshake never trusts it). ABSENT: never attached. */
enum { VQ_SIDE_ABSENT = 0, VQ_SIDE_ATTACHED = 1, VQ_SIDE_BROKEN = 2, VQ_SIDE_RESETTING = 3 };

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
	/* the reset handshake (see above); word i written by side i only */
	uint32_t reset_req[2]; /* odd: side i asks for a reset; +1: it is done */
	uint32_t reset_ack[2]; /* the peer's request side i has answered */
	uint32_t reserved[12];
};

/* Reset limits (see above; DESIGN.md "Link reset" says why these). */
#define VQ_RESET_GAP_NS (50ull * 1000000)           /* second reset in a window */
#define VQ_RESET_GAP_MAX_NS (1000ull * 1000000)     /* then at most one a second */
#define VQ_RESET_WINDOW_NS (60ull * 1000000000)
#define VQ_RESET_BUDGET 16u                         /* resets per window */
#define VQ_RESET_TIMEOUT_NS (2000ull * 1000000)     /* for an answer, or a ready */

/* What vq_port_poll says about a link. */
enum vq_link_status {
	VQ_LINK_UP,         /* usable */
	VQ_LINK_RESETTING,  /* handshake under way: poll on doorbells and by the deadline */
	VQ_LINK_BROKEN,     /* the peer did not answer in time: poll on doorbells only */
	VQ_LINK_DEAD,       /* too many resets: for good */
};

/* Why the link was (last) reset. */
enum vq_reset_why {
	VQ_WHY_NONE,
	VQ_WHY_RESTART,     /* we joined a region whose side had a previous user */
	VQ_WHY_VIOLATION,   /* the peer broke the protocol: last_error says how */
	VQ_WHY_LOCAL,       /* our caller asked (vq_port_reset_request) */
	VQ_WHY_PEER,        /* the peer asked */
};

struct vq_reset_stats {
	uint32_t resets;      /* times the link came back up after a reset */
	uint32_t asked;       /* requests we made */
	uint32_t answered;    /* requests of the peer we answered */
	uint32_t violations;  /* peer errors that took the link down */
	uint32_t timeouts;    /* answers or readies the peer did not give in time */
	int last_why;         /* VQ_WHY_* of the last reset */
	int last_error;       /* the last violation (negative VQ_E*), or 0 */
};

/* Private reset bookkeeping of a port. */
enum { VQ_ROLE_NONE, VQ_ROLE_DUE, VQ_ROLE_SENT, VQ_ROLE_LATE };
struct vq_reset {
	uint32_t req;         /* our reset_req as we last wrote it */
	uint32_t acked;       /* our reset_ack as we last wrote it */
	uint32_t seen;        /* the peer request we owe an answer */
	uint8_t ask;          /* VQ_ROLE_* of our request: DUE waits for the */
	uint8_t answer;       /* limit, SENT for the peer, LATE missed it */
	uint8_t reported;     /* status at the last poll */
	uint8_t shown;        /* VQ_SIDE_* we last wrote */
	bool free_answer;
	bool dead;
	uint64_t ask_by, answer_by;          /* deadlines while SENT */
	uint64_t when[VQ_RESET_BUDGET];      /* starts of the last resets (a ring) */
	unsigned n_when, next_when;
	struct vq_reset_stats st;
};

/* What the caller must do after a poll. */
struct vq_poll {
	int status;           /* VQ_LINK_* */
	bool kick;            /* ring the peer's doorbell now */
	bool changed;         /* status differs from the last reported one */
	uint64_t deadline;    /* poll again by then (now_ns's clock) unless a
			       * doorbell comes first; 0: only on doorbells */
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
	bool up;               /* usable: the one test on the hot path */
	uint32_t gen;          /* bumped at each reset: frames carry it */
	uint8_t *base;
	size_t size;
	unsigned side;
	uint32_t chunk;
	uint64_t tx_pool;      /* offset of our own pool */
	struct vq_driver tx;   /* frames we send */
	struct vq_device rx;   /* frames the peer sends */
	int error;             /* why the link is down (negative VQ_E*), 0 while up */
	struct vq_reset rs;
};

/* A received frame: iovecs pointing into the peer's pool. */
struct vq_frame {
	uint16_t head;
	uint16_t niov;
	uint32_t len;
	uint32_t gen;          /* the port's gen when taken */
	struct iovec iov[VQ_CHAIN_MAX];
};

/* Attach as side (0 or 1) to a formatted region of len bytes, taking the
 * rings as they are: usable at once, no reset (a fresh region, or a tool
 * that takes over a stopped side on purpose).  The region must stay mapped
 * and its size fixed (seal it) while the port is used.  On an error the
 * port is dead (VQ_LINK_DEAD; every call fails with that error). */
int vq_port_attach(struct vq_port *p, void *mem, size_t len, unsigned side);

/* Attach as a vmm does, first start or restart alike: if our side of the
 * region had a user before (its state word is not ABSENT), trust none of
 * its ring state and reset the link with the peer first.  0 or a negative
 * error (as attach); *r says what to do (kick, deadline) and whether the
 * link is usable yet. */
int vq_port_join(struct vq_port *p, void *mem, size_t len, unsigned side,
		 uint64_t now_ns, struct vq_poll *r);

/* Move the reset handshake on: answer a peer's request, send ours once the
 * limit allows, finish when answered, time out.  Call on every doorbell,
 * after any peer error, and by r->deadline.  Never blocks; reads only the
 * peer's two reset words and, when resetting, writes only our own words and
 * ring fields.  Returns r->status. */
int vq_port_poll(struct vq_port *p, uint64_t now_ns, struct vq_poll *r);

/* Ask for a reset now (the peer seems stuck, or our caller lost track of
 * the ring), then poll.  A reset already under way covers it. */
int vq_port_reset_request(struct vq_port *p, uint64_t now_ns, struct vq_poll *r);

static inline bool vq_port_up(const struct vq_port *p)
{
	return p->up;
}

static inline const struct vq_reset_stats *vq_port_reset_stats(const struct vq_port *p)
{
	return &p->rs.st;
}

/* A word for a VQ_LINK_* status and for a VQ_WHY_* reason ("?" if none). */
const char *vq_link_status_name(int status);
const char *vq_reset_why_name(int why);

/* Queue one frame (1..VQ_FRAME_MAX bytes) for the peer, copying it into our
 * chunks; reclaims returned chunks first, always, and uses the most
 * recently returned.  -VQ_ENOSPC when the peer
 * has not returned enough: call vq_port_tx_wait and try again later.
 * Nothing is visible to the peer before vq_port_tx_publish.
 * Every call below returns -VQ_ERESETTING (or the error that broke the
 * link) while the link is not up, and a peer error takes the link down:
 * then poll. */
int vq_port_send(struct vq_port *p, const void *frame, size_t len);

/* Publish queued frames: 1 if the peer needs a kick, 0 if not, or error. */
int vq_port_tx_publish(struct vq_port *p);

/* Reclaim chunks the peer has returned; count of frames or error. */
int vq_port_reclaim(struct vq_port *p);

/* Frames sent and not returned, as of the last reclaim (or send): 0 when
 * the peer has caught up with everything we gave it. */
static inline unsigned vq_port_tx_pending(const struct vq_port *p)
{
	return p->up ? vq_drv_outstanding(&p->tx) : 0;
}

/* Chunks of our pool in use (as of the last send or reclaim). */
static inline unsigned vq_port_tx_chunks(const struct vq_port *p)
{
	return p->up ? (unsigned)(p->tx.r.num - p->tx.num_free) : 0;
}

/* Our own pool, the chunks our frames are copied into: [*off, *off + *len)
 * of the region, page-aligned.  Once the peer has returned every frame
 * (vq_port_tx_pending is 0 after a reclaim) none of it is in use, and its
 * pages may be given back to the kernel (the caller's madvise
 * MADV_REMOVE): the next frames fault fresh, zeroed ones in.  A burst
 * that filled the ring need not keep half a megabyte resident for good. */
static inline void vq_port_tx_pool(const struct vq_port *p, size_t *off, size_t *len)
{
	*off = (size_t)p->tx_pool;
	*len = (size_t)p->tx.r.num * p->chunk;
}

/* Ask for a kick when the peer returns chunks (true: some already are,
 * so retry now).  tx_nowait stops asking. */
bool vq_port_tx_wait(struct vq_port *p);
void vq_port_tx_nowait(struct vq_port *p);
/* As tx_wait (true: some chunks are back, so retry now), for a sender
 * that found the ring full: the kick comes once the peer has returned
 * more than 3/4 of what it holds (what was published: call tx_publish
 * first). */
bool vq_port_tx_wait_room(struct vq_port *p);

/* Take up to max received frames; count (0 when none) or error.  Each must
 * be given back with vq_port_recv_done, in any order, once consumed; a
 * frame taken before a reset is void (its bytes belong to the peer again)
 * and recv_done skips it. */
int vq_port_recv(struct vq_port *p, struct vq_frame *f, unsigned max);
int vq_port_recv_done(struct vq_port *p, const struct vq_frame *f, unsigned n);

/* Publish returned frames: 1 if the peer needs a kick, 0 if not, or error. */
int vq_port_rx_publish(struct vq_port *p);

/* Ask for a kick on new frames (true: frames already wait, take them now).
 * rx_nowait stops asking, for while we are busy polling. */
bool vq_port_rx_wait(struct vq_port *p);
void vq_port_rx_nowait(struct vq_port *p);

/* Why the link is down: the violation that took it down, VQ_ERESETTIMEOUT
 * or VQ_ERESETS (negative); 0 while up. */
static inline int vq_port_error(const struct vq_port *p)
{
	return p->error;
}

#endif
