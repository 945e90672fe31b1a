/* SPDX-License-Identifier: MIT */
/*
 * virtqueue.h - a virtio 1.x split virtqueue over caller-provided memory.
 *
 * The ring (descriptor table, available ring, used ring, event indices) lives
 * in memory shared with a peer process.  Everything this library reads from
 * that memory is untrusted: each shared field is read once into a local,
 * checked, and only the local is used.  Our own bookkeeping (free list,
 * chain lengths, shadow indices) lives in the private struct and is never
 * re-read from the ring.
 *
 * A peer that breaks the protocol gets a VQ_E* error back and the ring is
 * marked broken: every later call returns VQ_EBROKEN until the owner
 * re-initialises it.  The library never touches memory outside the ring and
 * the buffer window it was given, never blocks, never allocates, prints or
 * makes a system call.  Notification is the caller's job: the publish calls
 * say whether the peer needs a kick; enable_notify says whether to sleep.
 *
 * Ownership: the driver side writes descriptors and the available ring, the
 * device side writes the used ring.  Buffer "addresses" are offsets, not
 * pointers; turning them into pointers is the caller's (see link.h).
 */
#ifndef VQNET_VIRTQUEUE_H
#define VQNET_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VQ_NUM_MAX 1024u     /* largest ring we accept (QEMU's virtio-net max) */
#define VQ_CHAIN_MAX 64u     /* longest descriptor chain we accept */

/* virtio 1.x flags */
#define VQ_DESC_F_NEXT 1u
#define VQ_DESC_F_WRITE 2u
#define VQ_DESC_F_INDIRECT 4u
#define VQ_AVAIL_F_NO_INTERRUPT 1u
#define VQ_USED_F_NO_NOTIFY 1u

/*
 * Errors: negative return values.  Values below VQ_EBASE are errno-style
 * conditions of our own making; from VQ_EBASE up they name how a peer broke
 * the ring.  vq_strerror() gives a sentence for each.
 */
enum {
	VQ_EAGAIN = 1,   /* nothing to take or reap now */
	VQ_ENOSPC,       /* not enough free descriptors */
	VQ_EINVAL,       /* caller passed a bad argument */
	VQ_ETOOBIG,      /* frame larger than a chain can carry */
	VQ_ERESETTING,   /* link is being reset: poll it (link.h) */
	VQ_EBASE = 100,
	VQ_EBROKEN = VQ_EBASE, /* ring was already marked broken */
	VQ_EAVAILIDX,    /* available index moved by more than the ring size */
	VQ_EUSEDIDX,     /* used index moved past what was published */
	VQ_EHEAD,        /* descriptor index out of range */
	VQ_ELOOP,        /* descriptor chain loops or is longer than allowed */
	VQ_EADDR,        /* buffer lies outside the shared window */
	VQ_ELEN,         /* zero, oversized or overflowing length */
	VQ_EFLAGS,       /* unsupported flags (indirect, write in a read chain) */
	VQ_EUSEDID,      /* used id that was never offered, or returned twice */
	VQ_EUSEDLEN,     /* used length larger than the writable buffer */
	VQ_ELAYOUT,      /* region or header not laid out as declared */
	VQ_ERESETS,      /* peer forced too many link resets: broken for good */
	VQ_ERESETTIMEOUT, /* peer did not answer a link reset in time */
	VQ_ELAST
};

const char *vq_strerror(int err);

/* Is err a protocol violation by the peer (as opposed to full/empty)? */
static inline bool vq_is_peer_error(int err)
{
	return err <= -VQ_EBASE;
}

/* Shared layout (virtio 1.x split ring, little-endian). */
struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vq_used_elem {
	uint32_t id;
	uint32_t len;
};

/* One buffer of a chain: offset into the buffer window, length, direction. */
struct vq_seg {
	uint64_t addr;
	uint32_t len;
	bool write;   /* device writes into it (else device reads) */
};

/* Bytes a ring of `num` entries needs (num a power of two <= VQ_NUM_MAX),
 * or 0 if num is not acceptable.  Descriptor table, then the available ring,
 * then the used ring on its own cache line (the two sides write different
 * lines), rounded up to 64 bytes. */
size_t vq_ring_bytes(unsigned num);

/* Put a ring into its initial state (all zero).  Whoever creates the shared
 * memory does this once; the init calls below never write the ring, so the
 * two sides may attach in either order. */
int vq_ring_reset(void *mem, size_t len, unsigned num);

/* Pointers into one ring's shared memory (computed once, never re-read). */
struct vq_ring {
	struct vq_desc *desc;
	uint16_t *avail;           /* flags, idx, ring[num], used_event */
	uint16_t *used;            /* flags, idx, then the elements */
	struct vq_used_elem *elem; /* used ring[num]; avail_event follows */
	uint16_t *used_event;
	uint16_t *avail_event;
	uint16_t num;
	uint16_t mask;
};

/* ------------------------------------------------------------------------ */
/* Driver side: offers buffers, reaps them once used.                        */

struct vq_driver {
	struct vq_ring r;
	bool event_idx;
	bool broken;
	uint16_t avail_idx;      /* next avail idx we will publish (shadow) */
	uint16_t avail_kicked;   /* avail idx when we last decided on a kick */
	uint16_t last_used;      /* next used entry we will reap */
	uint16_t free_head;
	uint16_t num_free;
	uint16_t outstanding;    /* chains offered and not yet reaped */
	/* private per-descriptor state, never read back from the ring */
	uint16_t next[VQ_NUM_MAX];
	uint16_t chain_len[VQ_NUM_MAX];   /* at the head: descriptors in chain; 0 = free */
	uint32_t write_len[VQ_NUM_MAX];   /* at the head: writable bytes in chain */
};

/*
 * Initialise the driver side over `mem` (vq_ring_bytes(num) bytes, 16-byte
 * aligned, put in its initial state by vq_ring_reset; this call writes
 * nothing there).  The device side must agree on num and event_idx (link.h
 * carries both in the region header).
 */
int vq_driver_init(struct vq_driver *d, void *mem, size_t len, unsigned num,
		   bool event_idx);

/* Start the driver side over, as if just initialised over a fresh ring:
 * every descriptor free, indices at 0, not broken; and zero the fields the
 * driver writes (descriptor table, available ring, used_event), and only
 * those.  The device must not be using the ring meanwhile (link.h's reset
 * handshake sees to it); it then starts over with vq_dev_restart. */
void vq_drv_restart(struct vq_driver *d);

/* Indices of the next n free descriptors, head first, as vq_drv_add will
 * use them (so callers with one buffer per descriptor can fill it first). */
int vq_drv_peek_free(const struct vq_driver *d, unsigned n, uint16_t *ids);

/* Add one chain of n segments (not yet visible to the device); *head gets
 * the chain's id, which vq_drv_reap returns when the device is done. */
int vq_drv_add(struct vq_driver *d, const struct vq_seg *seg, unsigned n,
	       uint16_t *head);

/* Make every added chain visible.  Returns 1 if the device must be kicked,
 * 0 if not, or a negative error. */
int vq_drv_publish(struct vq_driver *d);

/* Reap up to max used chains: ids[i], lens[i] (lens may be NULL).
 * Returns the count (0 when none), or a negative error. */
int vq_drv_reap(struct vq_driver *d, uint16_t *ids, uint32_t *lens,
		unsigned max);

/* Ask for (enable) or stop asking for (disable) a notification when the
 * device returns buffers.  enable returns true if used buffers are already
 * pending: reap instead of sleeping. */
bool vq_drv_enable_notify(struct vq_driver *d);
void vq_drv_disable_notify(struct vq_driver *d);
/* As enable (true: used buffers are already pending), but ask to be told
 * only once the device has returned more than three quarters of what is
 * published and not yet reaped (the ring's event index; without it, as
 * enable): a producer that found the ring full then wakes once per big
 * batch of room, not once per returned chain. */
bool vq_drv_enable_notify_delayed(struct vq_driver *d);

static inline unsigned vq_drv_num_free(const struct vq_driver *d)
{
	return d->num_free;
}

/* Chains offered and not yet reaped: 0 once the device has returned all. */
static inline unsigned vq_drv_outstanding(const struct vq_driver *d)
{
	return d->outstanding;
}

/* ------------------------------------------------------------------------ */
/* Device side: takes available chains, returns them used.                   */

#define VQ_WINDOWS_MAX 8u   /* as many as vhost-user's memory regions */

/* Which buffers a chain may have (virtio-net: TX chains are all
 * device-readable, RX chains all device-writable). */
enum vq_chain_kind { VQ_CHAIN_ANY, VQ_CHAIN_READ, VQ_CHAIN_WRITE };

struct vq_device {
	struct vq_ring r;
	bool event_idx;
	bool broken;
	uint16_t last_avail;     /* next avail entry we will take */
	uint16_t used_idx;       /* next used idx we will publish (shadow) */
	uint16_t used_signalled; /* used idx when we last decided on a kick */
	unsigned n_win;          /* each buffer must lie inside one window */
	struct { uint64_t lo, hi; } win[VQ_WINDOWS_MAX];
	uint32_t max_len;        /* longest chain in bytes we accept */
	enum vq_chain_kind kind;
};

/* A chain taken from the ring: every segment checked against the window. */
struct vq_chain {
	uint16_t head;
	uint16_t n;
	uint32_t read_len;       /* total device-readable bytes */
	uint32_t write_len;      /* total device-writable bytes */
	struct vq_seg seg[VQ_CHAIN_MAX];
};

/* Attach to a ring the driver initialised.  Buffers offered by the driver
 * must lie inside [win_lo, win_lo + win_len) or are rejected. */
int vq_device_init(struct vq_device *v, void *mem, size_t len, unsigned num,
		   bool event_idx, uint64_t win_lo, uint64_t win_len);

/* Attach to a ring whose three parts lie apart, as a guest's do (virtio's
 * desc, driver and device areas, already translated into our memory:
 * 16 * num, 6 + 2 * num and 6 + 8 * num bytes, aligned 16, 2 and 4).  It
 * has no window yet: add them before taking anything. */
int vq_device_init_split(struct vq_device *v, void *desc, void *avail, void *used,
			 unsigned num, bool event_idx);

/* Start the device side over: indices at 0, not broken (windows and limits
 * kept); and zero the fields the device writes (used ring, avail_event),
 * and only those.  The driver must not be using the ring meanwhile. */
void vq_dev_restart(struct vq_device *v);

/* Accept buffers inside [lo, lo + len) too (up to VQ_WINDOWS_MAX); a
 * buffer must lie inside one window.  0 or -VQ_EINVAL. */
int vq_dev_add_window(struct vq_device *v, uint64_t lo, uint64_t len);

/* Narrow what a chain may be: at most max_len bytes in all, and only
 * buffers of kind.  A chain outside these breaks the ring. */
void vq_dev_set_limits(struct vq_device *v, uint32_t max_len, enum vq_chain_kind kind);

/* Where the device side starts (vhost-user's SET_VRING_BASE), and where
 * it is: the next available entry it would take (GET_VRING_BASE). */
void vq_dev_set_base(struct vq_device *v, uint16_t last_avail);
static inline uint16_t vq_dev_base(const struct vq_device *v)
{
	return v->last_avail;
}

/* Give back the last n chains taken and not yet put: a frame that needs
 * more buffers than are there waits for them (mergeable RX buffers). */
int vq_dev_untake(struct vq_device *v, unsigned n);

/* Take up to max available chains.  Returns the count (0 when none), or a
 * negative error; after a peer error the ring is broken and nothing taken
 * in that call may be used. */
int vq_dev_take(struct vq_device *v, struct vq_chain *chains, unsigned max);

/* Return n chains as used: heads[i] with lens[i] bytes written (lens NULL:
 * all zero).  Not visible to the driver until vq_dev_publish. */
int vq_dev_put(struct vq_device *v, const uint16_t *heads,
	       const uint32_t *lens, unsigned n);

/* Publish the used index.  Returns 1 if the driver must be notified, 0 if
 * not, or a negative error. */
int vq_dev_publish(struct vq_device *v);

/* Ask for (enable) or stop asking for (disable) kicks on new chains.  enable
 * returns true if chains are already available: take instead of sleeping. */
bool vq_dev_enable_notify(struct vq_device *v);
void vq_dev_disable_notify(struct vq_device *v);

/* The wrap-safe event-index test: has idx moved from old to new_idx across
 * event?  (virtio 1.x 2.7.10, same as Linux's vring_need_event). */
static inline bool vq_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

#endif
