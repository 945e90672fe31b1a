/* SPDX-License-Identifier: MIT */
/*
 * virtqueue.c - split virtqueue, driver and device sides.
 *
 * Rules kept throughout:
 *  - shared fields are read once (ld16/ld32/ld64) into locals and checked;
 *  - our own indices are free-running u16 shadows, masked only at the array;
 *  - a peer violation marks the ring broken (bad()) and every entry point
 *    tests `broken` first.
 */
#include "virtqueue.h"

#include <endian.h>
#include <string.h>

/* ---- shared memory access: one load or store each, little-endian ------- */

static inline uint16_t ld16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline uint32_t ld32(const uint32_t *p)
{
	return le32toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline uint64_t ld64(const uint64_t *p)
{
	return le64toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline void st16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

static inline void st32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, htole32(v), __ATOMIC_RELAXED);
}

static inline void st64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, htole64(v), __ATOMIC_RELAXED);
}

/* Ring contents written before this are visible before the index after it. */
static inline void publish_barrier(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/* The index read before this is read before the ring entries after it. */
static inline void consume_barrier(void)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

/* Our index store is visible before we read the peer's event or flags
 * (store->load ordering; the only place a full fence is needed). */
static inline void full_barrier(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* ---- layout -------------------------------------------------------------- */

#define ALIGN64(x) (((x) + 63u) & ~(size_t)63u)

static bool num_ok(unsigned num)
{
	return num >= 2 && num <= VQ_NUM_MAX && (num & (num - 1)) == 0;
}

static size_t avail_off(unsigned num)
{
	return sizeof(struct vq_desc) * num;
}

static size_t used_off(unsigned num)
{
	return ALIGN64(avail_off(num) + sizeof(uint16_t) * (3 + num));
}

size_t vq_ring_bytes(unsigned num)
{
	if (!num_ok(num))
		return 0;
	return ALIGN64(used_off(num) + 2 * sizeof(uint16_t) +
		       sizeof(struct vq_used_elem) * num + sizeof(uint16_t));
}

static int ring_setup(struct vq_ring *r, void *mem, size_t len, unsigned num)
{
	if (!mem || !num_ok(num) || len < vq_ring_bytes(num) ||
	    ((uintptr_t)mem & 15u) != 0)
		return -VQ_EINVAL;
	uint8_t *m = mem;
	r->desc = mem;
	r->avail = (uint16_t *)(m + avail_off(num));
	r->used = (uint16_t *)(m + used_off(num));
	r->elem = (struct vq_used_elem *)(r->used + 2);
	r->used_event = &r->avail[2 + num];
	r->avail_event = (uint16_t *)(r->elem + num);
	r->num = (uint16_t)num;
	r->mask = (uint16_t)(num - 1);
	return 0;
}

int vq_ring_reset(void *mem, size_t len, unsigned num)
{
	struct vq_ring r;
	int err = ring_setup(&r, mem, len, num);
	if (err)
		return err;
	memset(mem, 0, vq_ring_bytes(num));
	return 0;
}

const char *vq_strerror(int err)
{
	static const char *const msg[] = {
		[VQ_EAGAIN] = "nothing to do now",
		[VQ_ENOSPC] = "ring is full",
		[VQ_EINVAL] = "invalid argument",
		[VQ_ETOOBIG] = "frame too large for one descriptor chain",
		[VQ_ERESETTING] = "link is being reset",
	};
	static const char *const peer[] = {
		[VQ_EBROKEN - VQ_EBASE] = "ring is broken",
		[VQ_EAVAILIDX - VQ_EBASE] = "peer moved the available index by more than the ring size",
		[VQ_EUSEDIDX - VQ_EBASE] = "peer moved the used index past the buffers published",
		[VQ_EHEAD - VQ_EBASE] = "peer gave a descriptor index out of range",
		[VQ_ELOOP - VQ_EBASE] = "peer's descriptor chain loops or is too long",
		[VQ_EADDR - VQ_EBASE] = "peer's buffer lies outside the shared window",
		[VQ_ELEN - VQ_EBASE] = "peer gave a zero or oversized length",
		[VQ_EFLAGS - VQ_EBASE] = "peer used unsupported or misordered descriptor flags",
		[VQ_EUSEDID - VQ_EBASE] = "peer returned a buffer id that was not outstanding",
		[VQ_EUSEDLEN - VQ_EBASE] = "peer's used length exceeds the writable buffer",
		[VQ_ELAYOUT - VQ_EBASE] = "shared region is not laid out as its header says",
		[VQ_ERESETS - VQ_EBASE] = "peer forced too many link resets",
		[VQ_ERESETTIMEOUT - VQ_EBASE] = "peer did not answer a link reset in time",
	};
	/* err is negative by convention, but any int may arrive here (a
	 * vmm's stats word is untrusted): never negate what cannot be */
	int e = err < 0 && err > -VQ_ELAST ? -err : 0;
	if (e > 0 && e < VQ_EBASE && (size_t)e < sizeof(msg) / sizeof(msg[0]) && msg[e])
		return msg[e];
	if (e >= VQ_EBASE && e < VQ_ELAST)
		return peer[e - VQ_EBASE];
	return err == 0 ? "success" : "unknown error";
}

/* ---- driver side ---------------------------------------------------------- */

static int drv_bad(struct vq_driver *d, int err)
{
	d->broken = true;
	return -err;
}

/* Private state of a driver with every descriptor free (r, event_idx kept). */
static void drv_fresh(struct vq_driver *d)
{
	unsigned num = d->r.num;
	d->broken = false;
	d->avail_idx = d->avail_kicked = d->last_used = 0;
	d->free_head = 0;
	d->num_free = (uint16_t)num;
	d->outstanding = 0;
	for (unsigned i = 0; i < num; i++) {
		d->next[i] = (uint16_t)((i + 1) & (num - 1));
		d->chain_len[i] = 0;
		d->write_len[i] = 0;
	}
}

int vq_driver_init(struct vq_driver *d, void *mem, size_t len, unsigned num,
		   bool event_idx)
{
	if (!d)
		return -VQ_EINVAL;
	memset(d, 0, sizeof(*d));
	int err = ring_setup(&d->r, mem, len, num);
	if (err)
		return err;
	d->event_idx = event_idx;
	drv_fresh(d);
	return 0;
}

void vq_drv_restart(struct vq_driver *d)
{
	drv_fresh(d);
	/* The device is not reading the ring now (the caller's handshake), so
	 * plain stores do; whoever reads next is ordered after them by the
	 * handshake's release store. */
	memset(d->r.desc, 0, sizeof(struct vq_desc) * d->r.num);
	memset(d->r.avail, 0, sizeof(uint16_t) * (3u + d->r.num));  /* flags, idx, ring, used_event */
}

int vq_drv_peek_free(const struct vq_driver *d, unsigned n, uint16_t *ids)
{
	if (d->broken)
		return -VQ_EBROKEN;
	if (n == 0 || n > VQ_CHAIN_MAX)
		return -VQ_EINVAL;
	if (n > d->num_free)
		return -VQ_ENOSPC;
	uint16_t i = d->free_head;
	for (unsigned k = 0; k < n; k++) {
		ids[k] = i;
		i = d->next[i];
	}
	return 0;
}

int vq_drv_add(struct vq_driver *d, const struct vq_seg *seg, unsigned n,
	       uint16_t *head)
{
	if (d->broken)
		return -VQ_EBROKEN;
	if (n == 0 || n > VQ_CHAIN_MAX)
		return -VQ_EINVAL;
	if (n > d->num_free)
		return -VQ_ENOSPC;

	uint64_t wlen = 0;
	bool seen_write = false;
	for (unsigned k = 0; k < n; k++) {
		/* virtio: device-readable buffers precede device-writable ones */
		if (seg[k].len == 0 || (seen_write && !seg[k].write))
			return -VQ_EINVAL;
		seen_write = seg[k].write;
		if (seg[k].write)
			wlen += seg[k].len;
	}
	if (wlen > UINT32_MAX)
		return -VQ_EINVAL;

	/* The chain takes the first n entries of the free list, which our
	 * private next[] already links in order. */
	uint16_t h = d->free_head, i = h;
	for (unsigned k = 0; k < n; k++) {
		struct vq_desc *desc = &d->r.desc[i];
		uint16_t flags = seg[k].write ? VQ_DESC_F_WRITE : 0;
		if (k + 1 < n)
			flags |= VQ_DESC_F_NEXT;
		st64(&desc->addr, seg[k].addr);
		st32(&desc->len, seg[k].len);
		st16(&desc->flags, flags);
		st16(&desc->next, k + 1 < n ? d->next[i] : 0);
		i = d->next[i];
	}
	d->free_head = i;
	d->num_free -= (uint16_t)n;
	d->chain_len[h] = (uint16_t)n;
	d->write_len[h] = (uint32_t)wlen;

	st16(&d->r.avail[2 + (d->avail_idx & d->r.mask)], h);
	d->avail_idx++;
	d->outstanding++;
	*head = h;
	return 0;
}

/*
 * Both sides publish the same way: make the ring entries visible, then our
 * index; then (after a full barrier, so the peer cannot have missed the
 * index while we read its stale wish) decide whether the peer asked to be
 * woken for the entries from *signalled up to new_idx: by its event index,
 * or by the absence of its "don't notify me" flag.
 */
static int publish(uint16_t *idx, uint16_t *signalled, uint16_t new_idx, bool event_idx,
		   const uint16_t *peer_event, const uint16_t *peer_flags, uint16_t quiet)
{
	uint16_t old = *signalled;
	if (old == new_idx)
		return 0;
	publish_barrier();
	st16(idx, new_idx);
	*signalled = new_idx;
	full_barrier();
	if (event_idx)
		return vq_need_event(ld16(peer_event), new_idx, old);
	return !(ld16(peer_flags) & quiet);
}

int vq_drv_publish(struct vq_driver *d)
{
	if (d->broken)
		return -VQ_EBROKEN;
	return publish(&d->r.avail[1], &d->avail_kicked, d->avail_idx, d->event_idx,
		       d->r.avail_event, &d->r.used[0], VQ_USED_F_NO_NOTIFY);
}

/* Return the chain at head to the free list (private state only). */
static void drv_free_chain(struct vq_driver *d, uint16_t head)
{
	uint16_t n = d->chain_len[head], i = head;
	for (uint16_t k = 1; k < n; k++)
		i = d->next[i];
	d->next[i] = d->free_head;
	d->free_head = head;
	d->num_free += n;
	d->chain_len[head] = 0;
	d->write_len[head] = 0;
	d->outstanding--;
}

int vq_drv_reap(struct vq_driver *d, uint16_t *ids, uint32_t *lens,
		unsigned max)
{
	if (d->broken)
		return -VQ_EBROKEN;
	uint16_t used_idx = ld16(&d->r.used[1]);
	consume_barrier();
	/* no more than was published: a chain added since is ours still, and
	 * the device cannot have seen it */
	uint16_t pending = (uint16_t)(used_idx - d->last_used);
	if (pending > (uint16_t)(d->avail_kicked - d->last_used))
		return drv_bad(d, VQ_EUSEDIDX);

	unsigned n = pending < max ? pending : max;
	for (unsigned k = 0; k < n; k++) {
		struct vq_used_elem *e = &d->r.elem[d->last_used & d->r.mask];
		uint32_t id = ld32(&e->id), len = ld32(&e->len);
		if (id >= d->r.num || d->chain_len[id] == 0)
			return drv_bad(d, VQ_EUSEDID);
		if (len > d->write_len[id])
			return drv_bad(d, VQ_EUSEDLEN);
		drv_free_chain(d, (uint16_t)id);
		d->last_used++;
		ids[k] = (uint16_t)id;
		if (lens)
			lens[k] = len;
	}
	return (int)n;
}

/*
 * Both sides ask to be woken the same way: say "wake me after entry `seen`"
 * (event index) or clear our "don't notify" flag, then (after a full
 * barrier) look again: true if the peer published meanwhile, in which case
 * the caller must not sleep, since that publish may have read our old wish.
 */
static bool arm(bool event_idx, uint16_t *event, uint16_t *flags,
		const uint16_t *peer_idx, uint16_t seen)
{
	if (event_idx)
		st16(event, seen);
	else
		st16(flags, 0);
	full_barrier();
	return ld16(peer_idx) != seen;
}

bool vq_drv_enable_notify(struct vq_driver *d)
{
	return !d->broken && arm(d->event_idx, d->r.used_event, &d->r.avail[0],
				 &d->r.used[1], d->last_used);
}

bool vq_drv_enable_notify_delayed(struct vq_driver *d)
{
	if (d->broken || !d->event_idx)
		return vq_drv_enable_notify(d);
	/* of what the device has: published, not merely added */
	uint16_t bufs = (uint16_t)((uint16_t)(d->avail_kicked - d->last_used) * 3u / 4u);
	st16(d->r.used_event, (uint16_t)(d->last_used + bufs));
	full_barrier();
	/* as enable: true if anything is back already (reap it rather than
	 * sleep; the index is only compared, reap checks it).  Else the kick
	 * comes when the device's used index passes last_used + bufs. */
	return ld16(&d->r.used[1]) != d->last_used;
}

void vq_drv_disable_notify(struct vq_driver *d)
{
	/* With event index a stale used_event already suppresses interrupts
	 * (at worst one spurious one per 2^16 buffers). */
	if (!d->event_idx && !d->broken)
		st16(&d->r.avail[0], VQ_AVAIL_F_NO_INTERRUPT);
}

/* ---- device side ---------------------------------------------------------- */

static int dev_bad(struct vq_device *v, int err)
{
	v->broken = true;
	return -err;
}

int vq_device_init(struct vq_device *v, void *mem, size_t len, unsigned num,
		   bool event_idx, uint64_t win_lo, uint64_t win_len)
{
	if (!v)
		return -VQ_EINVAL;
	memset(v, 0, sizeof(*v));
	int err = ring_setup(&v->r, mem, len, num);
	if (err)
		return err;
	v->event_idx = event_idx;
	v->max_len = UINT32_MAX;
	return vq_dev_add_window(v, win_lo, win_len);
}

int vq_device_init_split(struct vq_device *v, void *desc, void *avail, void *used,
			 unsigned num, bool event_idx)
{
	if (!v)
		return -VQ_EINVAL;
	memset(v, 0, sizeof(*v));
	if (!desc || !avail || !used || !num_ok(num) || ((uintptr_t)desc & 15u) ||
	    ((uintptr_t)avail & 1u) || ((uintptr_t)used & 3u))
		return -VQ_EINVAL;
	v->r.desc = desc;
	v->r.avail = avail;
	v->r.used = used;
	v->r.elem = (struct vq_used_elem *)(v->r.used + 2);
	v->r.used_event = &v->r.avail[2 + num];
	v->r.avail_event = (uint16_t *)(v->r.elem + num);
	v->r.num = (uint16_t)num;
	v->r.mask = (uint16_t)(num - 1);
	v->event_idx = event_idx;
	v->max_len = UINT32_MAX;
	return 0;
}

int vq_dev_add_window(struct vq_device *v, uint64_t lo, uint64_t len)
{
	if (len == 0 || lo > UINT64_MAX - len || v->n_win == VQ_WINDOWS_MAX)
		return -VQ_EINVAL;
	v->win[v->n_win].lo = lo;
	v->win[v->n_win].hi = lo + len;
	v->n_win++;
	return 0;
}

void vq_dev_set_limits(struct vq_device *v, uint32_t max_len, enum vq_chain_kind kind)
{
	v->max_len = max_len;
	v->kind = kind;
}

void vq_dev_restart(struct vq_device *v)
{
	v->broken = false;
	v->last_avail = v->used_idx = v->used_signalled = 0;
	/* flags, idx, the elements and avail_event lie end to end (virtio's
	 * used ring); as in vq_drv_restart, the driver is not reading them */
	memset(v->r.used, 0, 2 * sizeof(uint16_t) + sizeof(struct vq_used_elem) * v->r.num +
			     sizeof(uint16_t));
}

void vq_dev_set_base(struct vq_device *v, uint16_t last_avail)
{
	v->last_avail = v->used_idx = v->used_signalled = last_avail;
}

int vq_dev_untake(struct vq_device *v, unsigned n)
{
	if (v->broken)
		return -VQ_EBROKEN;
	if (n > (uint16_t)(v->last_avail - v->used_idx))
		return -VQ_EINVAL;
	v->last_avail = (uint16_t)(v->last_avail - n);
	return 0;
}

/* Does [addr, addr + len) lie inside one window? */
static bool in_window(const struct vq_device *v, uint64_t addr, uint32_t len)
{
	for (unsigned w = 0; w < v->n_win; w++)
		if (addr >= v->win[w].lo && addr <= v->win[w].hi && len <= v->win[w].hi - addr)
			return true;
	return false;
}

/* Walk and check one chain starting at head.  Each descriptor is read once
 * into locals; nothing in c is used unless the whole chain checks out. */
static int dev_walk(struct vq_device *v, uint16_t head, struct vq_chain *c)
{
	if (head >= v->r.num)
		return VQ_EHEAD;
	unsigned limit = v->r.num < VQ_CHAIN_MAX ? v->r.num : VQ_CHAIN_MAX;
	uint64_t rlen = 0, wlen = 0;
	uint16_t i = head;
	unsigned n = 0;
	for (;;) {
		if (n == limit)
			return VQ_ELOOP;
		const struct vq_desc *desc = &v->r.desc[i];
		uint64_t addr = ld64(&desc->addr);
		uint32_t len = ld32(&desc->len);
		uint16_t flags = ld16(&desc->flags);
		uint16_t next = ld16(&desc->next);

		if (flags & ~(VQ_DESC_F_NEXT | VQ_DESC_F_WRITE))
			return VQ_EFLAGS;
		bool write = flags & VQ_DESC_F_WRITE;
		if ((!write && wlen) || (write && v->kind == VQ_CHAIN_READ) ||
		    (!write && v->kind == VQ_CHAIN_WRITE))
			return VQ_EFLAGS;
		if (len == 0)
			return VQ_ELEN;
		if (!in_window(v, addr, len))
			return VQ_EADDR;
		if (write)
			wlen += len;
		else
			rlen += len;
		c->seg[n++] = (struct vq_seg){ .addr = addr, .len = len, .write = write };
		if (!(flags & VQ_DESC_F_NEXT))
			break;
		if (next >= v->r.num)
			return VQ_EHEAD;
		i = next;
	}
	/* n <= VQ_CHAIN_MAX segments each within the window: sums fit u64 */
	if (rlen + wlen > v->max_len)
		return VQ_ELEN;
	c->head = head;
	c->n = (uint16_t)n;
	c->read_len = (uint32_t)rlen;
	c->write_len = (uint32_t)wlen;
	return 0;
}

int vq_dev_take(struct vq_device *v, struct vq_chain *chains, unsigned max)
{
	if (v->broken)
		return -VQ_EBROKEN;
	uint16_t avail_idx = ld16(&v->r.avail[1]);
	consume_barrier();
	uint16_t pending = (uint16_t)(avail_idx - v->last_avail);
	if (pending > v->r.num)
		return dev_bad(v, VQ_EAVAILIDX);

	unsigned n = pending < max ? pending : max;
	for (unsigned k = 0; k < n; k++) {
		uint16_t head = ld16(&v->r.avail[2 + (v->last_avail & v->r.mask)]);
		int err = dev_walk(v, head, &chains[k]);
		if (err)
			return dev_bad(v, err);
		v->last_avail++;
	}
	return (int)n;
}

int vq_dev_put(struct vq_device *v, const uint16_t *heads,
	       const uint32_t *lens, unsigned n)
{
	if (v->broken)
		return -VQ_EBROKEN;
	/* only what we took can go back */
	if (n > (uint16_t)(v->last_avail - v->used_idx))
		return -VQ_EINVAL;
	for (unsigned k = 0; k < n; k++)
		if (heads[k] >= v->r.num)
			return -VQ_EINVAL;
	for (unsigned k = 0; k < n; k++) {
		struct vq_used_elem *e = &v->r.elem[v->used_idx & v->r.mask];
		st32(&e->id, heads[k]);
		st32(&e->len, lens ? lens[k] : 0);
		v->used_idx++;
	}
	return 0;
}

int vq_dev_publish(struct vq_device *v)
{
	if (v->broken)
		return -VQ_EBROKEN;
	return publish(&v->r.used[1], &v->used_signalled, v->used_idx, v->event_idx,
		       v->r.used_event, &v->r.avail[0], VQ_AVAIL_F_NO_INTERRUPT);
}

bool vq_dev_enable_notify(struct vq_device *v)
{
	return !v->broken && arm(v->event_idx, v->r.avail_event, &v->r.used[0],
				 &v->r.avail[1], v->last_avail);
}

void vq_dev_disable_notify(struct vq_device *v)
{
	if (!v->event_idx && !v->broken)
		st16(&v->r.used[0], VQ_USED_F_NO_NOTIFY);
}
