/* SPDX-License-Identifier: MIT */
/*
 * dev.c - the vhost-user net device's state machine.
 *
 * Each handler checks everything first and changes state only once nothing
 * can fail, so a refused message leaves the device exactly as it was (and
 * vhost_dev_handle then hands the message's fds back for closing).  What the
 * caller must do is written into the action; the device keeps the fd numbers
 * it installed so it can name them for closing when they are replaced.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

#define WHY(act, ...) vhost_why((act)->why, sizeof((act)->why), __VA_ARGS__)

static void ring_init(struct vhost_vring *v)
{
	memset(v, 0, sizeof(*v));
	v->kick_fd = v->call_fd = v->err_fd = -1;
}

void vhost_dev_init(struct vhost_dev *d)
{
	memset(d, 0, sizeof(*d));
	for (unsigned q = 0; q < VHOST_NQUEUES; q++)
		ring_init(&d->vq[q]);
}

static void act_init(struct vhost_action *a)
{
	memset(a, 0, sizeof(*a));
	for (unsigned q = 0; q < VHOST_NQUEUES; q++)
		a->ring[q].kick_fd = a->ring[q].call_fd = a->ring[q].err_fd = -1;
}

/* Sized so that no message can overflow it (VHOST_CLOSE_MAX: a message's
 * fds, or every fd the device holds); the bound check only guards that. */
static void act_close(struct vhost_action *a, int fd)
{
	if (fd >= 0 && a->nclose < VHOST_CLOSE_MAX)
		a->close[a->nclose++] = fd;
}

static bool pending(const struct vhost_dev *d)
{
	if (d->mem_pending)
		return true;
	for (unsigned q = 0; q < VHOST_NQUEUES; q++)
		if (d->vq[q].stopping)
			return true;
	return false;
}

static bool any_running(const struct vhost_dev *d)
{
	for (unsigned q = 0; q < VHOST_NQUEUES; q++)
		if (d->vq[q].started || d->vq[q].stopping)
			return true;
	return false;
}

/* Without VHOST_USER_F_PROTOCOL_FEATURES a ring is enabled as it starts
 * (vhost-user.rst, "Ring states"). */
static bool effective_enabled(const struct vhost_dev *d, unsigned q)
{
	if (!(d->features & VHOST_BIT(VHOST_USER_F_PROTOCOL_FEATURES)))
		return true;
	return d->vq[q].enabled;
}

/* ---- ring parts ---------------------------------------------------------- */

struct parts {
	void *desc, *avail, *used;
};

/* Translate one part of a ring: inside one region, aligned both as a user
 * address and as our pointer (the loads are 16 and 32 bits wide). */
static int part(const struct vhost_dev *d, struct vhost_action *act, unsigned q,
		const char *what, uint64_t uva, uint64_t len, uintptr_t align, void **out)
{
	if (uva & (align - 1)) {
		WHY(act, "queue %u: %s at %#llx is not %u-byte aligned", q, what,
		    (unsigned long long)uva, (unsigned)align);
		return -EPROTO;
	}
	void *p = vhost_uva_to_ptr(&d->mem, uva, len);
	if (!p) {
		WHY(act, "queue %u: %s [%#llx, +%#llx) is not inside one memory region", q, what,
		    (unsigned long long)uva, (unsigned long long)len);
		return -EPROTO;
	}
	if ((uintptr_t)p & (align - 1)) {
		WHY(act, "queue %u: %s maps to a pointer that is not %u-byte aligned", q, what,
		    (unsigned)align);
		return -EPROTO;
	}
	*out = p;
	return 0;
}

static bool ranges_meet(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	/* both ranges were translated, so neither wraps */
	return a < b + blen && b < a + alen;
}

/* The three parts of ring q with num entries at addr, checked against the
 * memory table in use: virtio 1.x sizes (event fields included, whether or
 * not EVENT_IDX is negotiated, as every driver allocates them), alignment,
 * and no two parts overlapping (we write the used ring: it must not be the
 * guest's descriptors). */
static int ring_parts(const struct vhost_dev *d, struct vhost_action *act, unsigned q,
		      const struct vhost_vring_addr *addr, unsigned num, struct parts *p)
{
	uint64_t dlen = 16ull * num, alen = 6 + 2ull * num, ulen = 6 + 8ull * num;
	int err;
	if ((err = part(d, act, q, "descriptor table", addr->desc, dlen, 16, &p->desc)) ||
	    (err = part(d, act, q, "available ring", addr->avail, alen, 2, &p->avail)) ||
	    (err = part(d, act, q, "used ring", addr->used, ulen, 4, &p->used)))
		return err;
	if (ranges_meet(addr->desc, dlen, addr->avail, alen) ||
	    ranges_meet(addr->desc, dlen, addr->used, ulen) ||
	    ranges_meet(addr->avail, alen, addr->used, ulen)) {
		WHY(act, "queue %u: descriptor table, available and used rings overlap", q);
		return -EPROTO;
	}
	return 0;
}

static bool ready(const struct vhost_dev *d, unsigned q)
{
	const struct vhost_vring *v = &d->vq[q];
	return !v->started && !v->stopping && d->features_set && v->num && v->addr_set &&
	       v->kick_set && vhost_mem_mapped(&d->mem);
}

/* Start ring q if it has all it needs (p: its parts, already checked). */
static void start(struct vhost_dev *d, unsigned q, const struct parts *p,
		  struct vhost_action *act)
{
	struct vhost_vring *v = &d->vq[q];
	struct vhost_ring_action *r = &act->ring[q];
	r->ops |= VHOST_RING_START;
	r->desc = p->desc;
	r->avail = p->avail;
	r->used = p->used;
	r->num = v->num;
	r->base = v->base;
	r->event_idx = d->features & VHOST_BIT(VIRTIO_RING_F_EVENT_IDX);
	r->enabled = effective_enabled(d, q);
	v->started = true;
}

/* If ring q is ready, check its parts and start it: 0 (started or not
 * ready), or the parts' error with nothing changed. */
static int try_start(struct vhost_dev *d, unsigned q, struct vhost_action *act)
{
	if (!ready(d, q))
		return 0;
	struct parts p;
	int err = ring_parts(d, act, q, &d->vq[q].addr, d->vq[q].num, &p);
	if (err)
		return err;
	start(d, q, &p, act);
	return 0;
}

/* Stop ring q if it runs; forget its kick (a new SET_VRING_KICK starts it
 * again), closing the fd. */
static void stop(struct vhost_dev *d, unsigned q, struct vhost_action *act, bool forget_kick)
{
	struct vhost_vring *v = &d->vq[q];
	if (v->started) {
		act->ring[q].ops |= VHOST_RING_STOP;
		v->started = false;
		v->stopping = true;
	}
	if (forget_kick && v->kick_set) {
		act->ring[q].ops |= VHOST_RING_KICK;
		act->ring[q].kick_fd = -1;
		act_close(act, v->kick_fd);
		v->kick_fd = -1;
		v->kick_set = false;
	}
}

/* ---- handlers ---------------------------------------------------------- */

static int queue_index(struct vhost_action *act, const char *name, uint64_t index,
		       unsigned *q)
{
	if (index >= VHOST_NQUEUES) {
		WHY(act, "%s: queue %llu, but this device has %u (one queue pair, no multiqueue)",
		    name, (unsigned long long)index, VHOST_NQUEUES);
		return -EPROTO;
	}
	*q = (unsigned)index;
	return 0;
}

/* The virtio-net driver requirements on feature combinations (virtio 1.x,
 * 5.1.3.1): the datapath relies on them when it reads a header. */
static int features_ok(struct vhost_action *act, uint64_t f)
{
#define HAS(b) ((f & VHOST_BIT(b)) != 0)
	if (f & ~(uint64_t)VHOST_NET_FEATURES) {
		WHY(act, "SET_FEATURES: %#llx includes features not offered (%#llx)",
		    (unsigned long long)f, (unsigned long long)(f & ~(uint64_t)VHOST_NET_FEATURES));
		return -EPROTO;
	}
	if (!HAS(VIRTIO_F_VERSION_1)) {
		WHY(act, "SET_FEATURES: %#llx lacks VIRTIO_F_VERSION_1 (legacy virtio is not served)",
		    (unsigned long long)f);
		return -EPROTO;
	}
	if ((HAS(VIRTIO_NET_F_GUEST_TSO4) || HAS(VIRTIO_NET_F_GUEST_TSO6) ||
	     HAS(VIRTIO_NET_F_GUEST_ECN)) && !HAS(VIRTIO_NET_F_GUEST_CSUM)) {
		WHY(act, "SET_FEATURES: %#llx: guest TSO without GUEST_CSUM", (unsigned long long)f);
		return -EPROTO;
	}
	if ((HAS(VIRTIO_NET_F_HOST_TSO4) || HAS(VIRTIO_NET_F_HOST_TSO6) ||
	     HAS(VIRTIO_NET_F_HOST_ECN)) && !HAS(VIRTIO_NET_F_CSUM)) {
		WHY(act, "SET_FEATURES: %#llx: host TSO without CSUM", (unsigned long long)f);
		return -EPROTO;
	}
	if ((HAS(VIRTIO_NET_F_GUEST_ECN) &&
	     !(HAS(VIRTIO_NET_F_GUEST_TSO4) || HAS(VIRTIO_NET_F_GUEST_TSO6))) ||
	    (HAS(VIRTIO_NET_F_HOST_ECN) &&
	     !(HAS(VIRTIO_NET_F_HOST_TSO4) || HAS(VIRTIO_NET_F_HOST_TSO6)))) {
		WHY(act, "SET_FEATURES: %#llx: ECN without TSO", (unsigned long long)f);
		return -EPROTO;
	}
	return 0;
#undef HAS
}

static int set_features(struct vhost_dev *d, const struct vhost_msg *m, struct vhost_action *act)
{
	uint64_t f = m->p.u64;
	int err = features_ok(act, f);
	if (err)
		return err;
	/* EVENT_IDX and the enable rule change how a running ring behaves */
	if (any_running(d) && (!d->features_set || f != d->features)) {
		WHY(act, "SET_FEATURES: %#llx while a ring runs with %#llx", (unsigned long long)f,
		    (unsigned long long)d->features);
		return -EBUSY;
	}
	d->features = f;
	d->features_set = true;
	return 0;
}

static int set_protocol_features(struct vhost_dev *d, const struct vhost_msg *m,
				 struct vhost_action *act)
{
	uint64_t f = m->p.u64;
	if (f & ~(uint64_t)VHOST_NET_PROTOCOL_FEATURES) {
		WHY(act, "SET_PROTOCOL_FEATURES: %#llx includes protocol features not offered (%#llx)",
		    (unsigned long long)f,
		    (unsigned long long)(f & ~(uint64_t)VHOST_NET_PROTOCOL_FEATURES));
		return -EPROTO;
	}
	if (any_running(d) && f != d->protocol_features) {
		WHY(act, "SET_PROTOCOL_FEATURES: changed while a ring runs");
		return -EBUSY;
	}
	d->protocol_features = f;
	return 0;
}

static int set_mem_table(struct vhost_dev *d, const struct vhost_msg *m, struct vhost_action *act,
			 bool ack)
{
	int err = vhost_mem_build(&d->next, m->p.mem.region, m->p.mem.nregions, m->fd_size,
				  m->nfds, act->why, sizeof(act->why));
	if (err) {
		/* vhost_mem_build's sentence, named after its message */
		char why[VHOST_WHY_MAX];
		memcpy(why, act->why, sizeof(why));
		WHY(act, "SET_MEM_TABLE: %s", why);
		return err;
	}
	/* the rings' pointers go with the old mappings: stop them, restart
	 * them (vhost_dev_mem_mapped) where they stopped */
	for (unsigned q = 0; q < VHOST_NQUEUES; q++)
		stop(d, q, act, false);
	for (unsigned i = 0; i < d->mem.n && i < VHOST_MEMORY_MAX_NREGIONS; i++)
		if (d->mem.r[i].base)
			act->unmap[act->nunmap++] = (struct vhost_unmap){
				.base = d->mem.r[i].base, .len = d->mem.r[i].map_len,
			};
	memset(&d->mem, 0, sizeof(d->mem));
	for (unsigned i = 0; i < d->next.n; i++)
		act->map[act->nmap++] = (struct vhost_map){
			.fd = m->fds[i], .len = d->next.r[i].map_len,
		};
	d->mem_pending = true;
	d->ack_pending = ack;
	return 0;
}

static int set_vring_num(struct vhost_dev *d, const struct vhost_msg *m, struct vhost_action *act)
{
	unsigned q;
	int err = queue_index(act, "SET_VRING_NUM", m->p.state.index, &q);
	if (err)
		return err;
	uint32_t num = m->p.state.num;
	if (d->vq[q].started || d->vq[q].stopping) {
		WHY(act, "SET_VRING_NUM: queue %u is running", q);
		return -EBUSY;
	}
	if (num < 2 || num > VHOST_VRING_NUM_MAX || (num & (num - 1))) {
		WHY(act, "SET_VRING_NUM: queue %u size %u is not a power of two from 2 to %u", q, num,
		    VHOST_VRING_NUM_MAX);
		return -EPROTO;
	}
	/* addresses set for a smaller ring must still hold the larger one */
	if (d->vq[q].addr_set) {
		struct parts p;
		if ((err = ring_parts(d, act, q, &d->vq[q].addr, num, &p)))
			return err;
	}
	d->vq[q].num = (uint16_t)num;
	return 0;
}

static int set_vring_base(struct vhost_dev *d, const struct vhost_msg *m, struct vhost_action *act)
{
	unsigned q;
	int err = queue_index(act, "SET_VRING_BASE", m->p.state.index, &q);
	if (err)
		return err;
	if (d->vq[q].started || d->vq[q].stopping) {
		WHY(act, "SET_VRING_BASE: queue %u is running", q);
		return -EBUSY;
	}
	/* split rings index with 16 bits (packed rings would use bit 15 as a
	 * wrap counter: not offered) */
	if (m->p.state.num > UINT16_MAX) {
		WHY(act, "SET_VRING_BASE: queue %u base %u does not fit 16 bits", q, m->p.state.num);
		return -EPROTO;
	}
	d->vq[q].base = (uint16_t)m->p.state.num;
	return 0;
}

static bool same_addr(const struct vhost_vring_addr *a, const struct vhost_vring_addr *b)
{
	return a->desc == b->desc && a->avail == b->avail && a->used == b->used &&
	       a->flags == b->flags;
}

static int set_vring_addr(struct vhost_dev *d, const struct vhost_msg *m, struct vhost_action *act)
{
	unsigned q;
	int err = queue_index(act, "SET_VRING_ADDR", m->p.addr.index, &q);
	if (err)
		return err;
	struct vhost_vring *v = &d->vq[q];
	if (m->p.addr.flags) {
		WHY(act, "SET_VRING_ADDR: queue %u flags %#x ask for logging, which is not offered",
		    q, m->p.addr.flags);
		return -EPROTO;
	}
	if (!v->num) {
		WHY(act, "SET_VRING_ADDR: queue %u before SET_VRING_NUM", q);
		return -EPROTO;
	}
	if (!vhost_mem_mapped(&d->mem)) {
		WHY(act, "SET_VRING_ADDR: queue %u before SET_MEM_TABLE", q);
		return -EPROTO;
	}
	if (v->started || v->stopping) {
		if (v->addr_set && same_addr(&v->addr, &m->p.addr))
			return 0;
		WHY(act, "SET_VRING_ADDR: queue %u is running at other addresses", q);
		return -EBUSY;
	}
	struct parts p;
	if ((err = ring_parts(d, act, q, &m->p.addr, v->num, &p))) {
		char why[VHOST_WHY_MAX];
		memcpy(why, act->why, sizeof(why));
		WHY(act, "SET_VRING_ADDR: %s", why);
		return err;
	}
	v->addr = m->p.addr;
	v->addr_set = true;
	if (ready(d, q))
		start(d, q, &p, act);
	return 0;
}

static int set_vring_fd(struct vhost_dev *d, const struct vhost_msg *m, struct vhost_action *act)
{
	const char *name = vhost_request_name(m->request);
	unsigned q;
	int err = queue_index(act, name, m->p.u64 & VHOST_VRING_IDX_MASK, &q);
	if (err)
		return err;
	struct vhost_vring *v = &d->vq[q];
	bool nofd = m->p.u64 & VHOST_VRING_NOFD;
	int fd = nofd ? -1 : m->fds[0];
	struct vhost_ring_action *r = &act->ring[q];

	if (m->request == VHOST_USER_SET_VRING_KICK) {
		if (nofd) {
			WHY(act, "SET_VRING_KICK: queue %u without an fd (polling) is not supported", q);
			return -ENOTSUP;
		}
		/* the parts must hold if this kick starts the ring */
		struct parts p;
		bool starts = !v->started && !v->stopping && d->features_set && v->num &&
			      v->addr_set && vhost_mem_mapped(&d->mem);
		if (starts && (err = ring_parts(d, act, q, &v->addr, v->num, &p)))
			return err;
		r->ops |= VHOST_RING_KICK;
		r->kick_fd = fd;
		act_close(act, v->kick_fd);
		v->kick_fd = fd;
		v->kick_set = true;
		if (starts)
			start(d, q, &p, act);
		return 0;
	}
	if (m->request == VHOST_USER_SET_VRING_CALL) {
		r->ops |= VHOST_RING_CALL;
		r->call_fd = fd;
		act_close(act, v->call_fd);
		v->call_fd = fd;
		return 0;
	}
	r->ops |= VHOST_RING_ERR;
	r->err_fd = fd;
	act_close(act, v->err_fd);
	v->err_fd = fd;
	return 0;
}

static int set_vring_enable(struct vhost_dev *d, const struct vhost_msg *m,
			    struct vhost_action *act)
{
	unsigned q;
	int err = queue_index(act, "SET_VRING_ENABLE", m->p.state.index, &q);
	if (err)
		return err;
	if (m->p.state.num > 1) {
		WHY(act, "SET_VRING_ENABLE: queue %u: %u is neither 0 nor 1", q, m->p.state.num);
		return -EPROTO;
	}
	/* QEMU sends it before SET_FEATURES (virtio_net_set_queue_pairs at
	 * reset), so it is kept for whenever the ring starts */
	d->vq[q].enabled = m->p.state.num;
	if (d->vq[q].started) {
		act->ring[q].ops |= VHOST_RING_ENABLE;
		act->ring[q].enabled = effective_enabled(d, q);
	}
	return 0;
}

static int get_vring_base(struct vhost_dev *d, const struct vhost_msg *m,
			  struct vhost_reply *reply, struct vhost_action *act)
{
	unsigned q;
	int err = queue_index(act, "GET_VRING_BASE", m->p.state.index, &q);
	if (err)
		return err;
	struct vhost_vring *v = &d->vq[q];
	bool running = v->started;
	stop(d, q, act, true);
	if (running)
		v->base_owed = true;   /* vhost_dev_ring_stopped answers */
	else
		vhost_reply_state(reply, VHOST_USER_GET_VRING_BASE, q, v->base);
	return 0;
}

/* Why a request we do not serve is refused: the feature it needs and that
 * we never offered, so the front-end had no business sending it. */
static const char *refusal(uint32_t request)
{
	switch (request) {
	case VHOST_USER_SET_LOG_BASE:
	case VHOST_USER_SET_LOG_FD:
		return "dirty logging (migration) needs VHOST_F_LOG_ALL, not offered";
	case VHOST_USER_SEND_RARP:
		return "needs protocol feature RARP, not offered";
	case VHOST_USER_NET_SET_MTU:
		return "needs protocol feature NET_MTU, not offered";
	case VHOST_USER_SET_SLAVE_REQ_FD:
		return "needs protocol feature SLAVE_REQ (a back-end channel), not offered";
	case VHOST_USER_IOTLB_MSG:
		return "needs VIRTIO_F_IOMMU_PLATFORM, not offered";
	case VHOST_USER_SET_VRING_ENDIAN:
		return "needs protocol feature CROSS_ENDIAN, not offered (virtio 1.x only)";
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_SET_CONFIG:
		return "needs protocol feature CONFIG, not offered (QEMU serves the config space)";
	case VHOST_USER_CREATE_CRYPTO_SESSION:
	case VHOST_USER_CLOSE_CRYPTO_SESSION:
		return "this is a net device, not a crypto device";
	case VHOST_USER_POSTCOPY_ADVISE:
	case VHOST_USER_POSTCOPY_LISTEN:
	case VHOST_USER_POSTCOPY_END:
		return "needs protocol feature PAGEFAULT (postcopy migration), not offered";
	case VHOST_USER_GET_INFLIGHT_FD:
	case VHOST_USER_SET_INFLIGHT_FD:
		return "needs protocol feature INFLIGHT_SHMFD, not offered";
	case VHOST_USER_GPU_SET_SOCKET:
		return "this is a net device, not a GPU";
	case VHOST_USER_RESET_DEVICE:
		return "needs protocol feature RESET_DEVICE, not offered";
	case VHOST_USER_VRING_KICK:
		return "needs protocol feature INBAND_NOTIFICATIONS, not offered";
	case VHOST_USER_GET_MAX_MEM_SLOTS:
	case VHOST_USER_ADD_MEM_REG:
	case VHOST_USER_REM_MEM_REG:
		return "needs protocol feature CONFIGURE_MEM_SLOTS, not offered";
	case VHOST_USER_SET_STATUS:
	case VHOST_USER_GET_STATUS:
		return "needs protocol feature STATUS, not offered";
	default:
		return NULL;
	}
}

/* Requests with a reply of their own (REPLY_ACK adds none to these). */
static bool has_reply(uint32_t request)
{
	return request == VHOST_USER_GET_FEATURES || request == VHOST_USER_GET_PROTOCOL_FEATURES ||
	       request == VHOST_USER_GET_QUEUE_NUM || request == VHOST_USER_GET_VRING_BASE;
}

/* Served before SET_OWNER: QEMU negotiates protocol features first. */
static bool before_owner(uint32_t request)
{
	return request == VHOST_USER_GET_FEATURES || request == VHOST_USER_GET_PROTOCOL_FEATURES ||
	       request == VHOST_USER_SET_PROTOCOL_FEATURES || request == VHOST_USER_GET_QUEUE_NUM ||
	       request == VHOST_USER_SET_OWNER;
}

static bool needs_features(uint32_t request)
{
	return request == VHOST_USER_SET_VRING_NUM || request == VHOST_USER_SET_VRING_BASE ||
	       request == VHOST_USER_SET_VRING_ADDR || request == VHOST_USER_SET_VRING_KICK;
}

static int dispatch(struct vhost_dev *d, const struct vhost_msg *m, struct vhost_reply *reply,
		    struct vhost_action *act, bool ack)
{
	const char *name = vhost_request_name(m->request);
	const char *no = refusal(m->request);
	if (no) {
		WHY(act, "%s refused: %s", name, no);
		return -EPROTO;
	}
	if (m->request == 0 || m->request >= VHOST_USER_REQUEST_MAX) {
		WHY(act, "request %u refused: unknown", m->request);
		return -EPROTO;
	}
	if (!d->owner && !before_owner(m->request)) {
		WHY(act, "%s before SET_OWNER", name);
		return -EPROTO;
	}
	if (!d->features_set && needs_features(m->request)) {
		WHY(act, "%s before SET_FEATURES", name);
		return -EPROTO;
	}
	switch (m->request) {
	case VHOST_USER_GET_FEATURES:
		vhost_reply_u64(reply, m->request, VHOST_NET_FEATURES);
		return 0;
	case VHOST_USER_SET_FEATURES:
		return set_features(d, m, act);
	case VHOST_USER_SET_OWNER:
		if (d->owner) {
			WHY(act, "SET_OWNER again: this session has its front-end");
			return -EBUSY;
		}
		d->owner = true;
		return 0;
	case VHOST_USER_RESET_OWNER:
		/* deprecated; vhost-user.rst recommends reading it as "disable
		 * all rings", and no more (dropping the session's state with it
		 * led to bugs elsewhere) */
		for (unsigned q = 0; q < VHOST_NQUEUES; q++)
			stop(d, q, act, true);
		return 0;
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		vhost_reply_u64(reply, m->request, VHOST_NET_PROTOCOL_FEATURES);
		return 0;
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		return set_protocol_features(d, m, act);
	case VHOST_USER_GET_QUEUE_NUM:
		/* queue pairs, as QEMU's vhost-user-net compares it */
		vhost_reply_u64(reply, m->request, 1);
		return 0;
	case VHOST_USER_SET_MEM_TABLE:
		return set_mem_table(d, m, act, ack);
	case VHOST_USER_SET_VRING_NUM:
		return set_vring_num(d, m, act);
	case VHOST_USER_SET_VRING_ADDR:
		return set_vring_addr(d, m, act);
	case VHOST_USER_SET_VRING_BASE:
		return set_vring_base(d, m, act);
	case VHOST_USER_GET_VRING_BASE:
		return get_vring_base(d, m, reply, act);
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		return set_vring_fd(d, m, act);
	case VHOST_USER_SET_VRING_ENABLE:
		return set_vring_enable(d, m, act);
	default:
		WHY(act, "%s (%u) refused: not served by this device", name, m->request);
		return -EPROTO;
	}
}

static void ack_reply(struct vhost_reply *reply, uint32_t request, int err)
{
	/* vhost-user.rst: zero on success, non-zero on failure */
	vhost_reply_u64(reply, request, (uint64_t)(err < 0 ? -err : 0));
}

int vhost_dev_handle(struct vhost_dev *d, const struct vhost_msg *msg,
		     struct vhost_reply *reply, struct vhost_action *act)
{
	if (!act || !reply)
		return -EINVAL;
	act_init(act);
	memset(reply, 0, sizeof(*reply));
	if (!d || !msg) {
		WHY(act, "no device or no message");
		return -EINVAL;
	}
	unsigned nfds = msg->nfds <= VHOST_FDS_MAX ? msg->nfds : VHOST_FDS_MAX;
	int err;
	/* a front-end may only count on REPLY_ACK once it was negotiated */
	bool ack = (msg->flags & VHOST_FLAG_NEED_REPLY) &&
		   (d->protocol_features & VHOST_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK)) &&
		   !has_reply(msg->request);
	if (pending(d)) {
		WHY(act, "%s: the previous action's completion (vhost_dev_mem_mapped or "
			 "vhost_dev_ring_stopped) is still owed",
		    vhost_request_name(msg->request));
		err = -EINVAL;
	} else {
		err = dispatch(d, msg, reply, act, ack);
	}
	if (err) {
		/* nothing changed: undo the action, hand the fds back */
		char why[VHOST_WHY_MAX];
		memcpy(why, act->why, sizeof(why));
		act_init(act);
		memcpy(act->why, why, sizeof(why));
		memset(reply, 0, sizeof(*reply));
		for (unsigned i = 0; i < nfds; i++)
			act_close(act, msg->fds[i]);
		if (ack)
			ack_reply(reply, msg->request, err);
		return err;
	}
	if (ack && msg->request != VHOST_USER_SET_MEM_TABLE)
		ack_reply(reply, msg->request, 0);
	return 0;
}

int vhost_dev_mem_mapped(struct vhost_dev *d, void *const *bases, unsigned n,
			 struct vhost_reply *reply, struct vhost_action *act)
{
	if (!act || !reply)
		return -EINVAL;
	act_init(act);
	memset(reply, 0, sizeof(*reply));
	if (!d || !d->mem_pending) {
		WHY(act, "vhost_dev_mem_mapped without a SET_MEM_TABLE to complete");
		return -EINVAL;
	}
	for (unsigned q = 0; q < VHOST_NQUEUES; q++)
		if (d->vq[q].stopping) {
			WHY(act, "vhost_dev_mem_mapped before queue %u's stop was reported", q);
			return -EINVAL;
		}
	int err = 0;
	unsigned failed = 0;
	if (!bases || n != d->next.n) {
		WHY(act, "SET_MEM_TABLE: %u mappings reported for %u regions", n, d->next.n);
		err = -EINVAL;
	} else {
		for (unsigned i = 0; i < n; i++)
			if (!bases[i] || vhost_mem_set_base(&d->next, i, bases[i])) {
				failed = i;
				err = -ENOMEM;
				break;
			}
	}
	if (err) {
		if (err == -ENOMEM)
			WHY(act, "SET_MEM_TABLE: mapping region %u (%#llx bytes) failed", failed,
			    (unsigned long long)d->next.r[failed].map_len);
		unsigned k = bases && n < d->next.n ? n : d->next.n;
		for (unsigned i = 0; bases && i < k; i++)
			if (bases[i])
				act->unmap[act->nunmap++] = (struct vhost_unmap){
					.base = bases[i], .len = d->next.r[i].map_len,
				};
	} else {
		d->mem = d->next;
		/* restart what ran (it kept its kick), where it stopped; a ring
		 * whose addresses the new table no longer holds stays stopped
		 * until new ones come */
		for (unsigned q = 0; q < VHOST_NQUEUES; q++) {
			struct vhost_action tmp;
			act_init(&tmp);
			int e = try_start(d, q, &tmp);
			if (e) {
				d->vq[q].addr_set = false;
				memcpy(act->why, tmp.why, sizeof(act->why));
				err = e;
				continue;
			}
			act->ring[q] = tmp.ring[q];
		}
	}
	memset(&d->next, 0, sizeof(d->next));
	d->mem_pending = false;
	if (d->ack_pending)
		ack_reply(reply, VHOST_USER_SET_MEM_TABLE, err);
	d->ack_pending = false;
	return err;
}

int vhost_dev_ring_stopped(struct vhost_dev *d, unsigned q, uint16_t last_avail,
			   struct vhost_reply *reply)
{
	if (!d || q >= VHOST_NQUEUES || !d->vq[q].stopping || (d->vq[q].base_owed && !reply))
		return -EINVAL;
	struct vhost_vring *v = &d->vq[q];
	v->stopping = false;
	v->base = last_avail;
	if (v->base_owed) {
		memset(reply, 0, sizeof(*reply));
		vhost_reply_state(reply, VHOST_USER_GET_VRING_BASE, q, last_avail);
		v->base_owed = false;
	}
	return 0;
}

void vhost_dev_disconnect(struct vhost_dev *d, struct vhost_action *act)
{
	act_init(act);
	for (unsigned q = 0; q < VHOST_NQUEUES; q++) {
		struct vhost_vring *v = &d->vq[q];
		struct vhost_ring_action *r = &act->ring[q];
		if (v->started || v->stopping)
			r->ops |= VHOST_RING_STOP;
		if (v->kick_fd >= 0)
			r->ops |= VHOST_RING_KICK;
		if (v->call_fd >= 0)
			r->ops |= VHOST_RING_CALL;
		if (v->err_fd >= 0)
			r->ops |= VHOST_RING_ERR;
		act_close(act, v->kick_fd);
		act_close(act, v->call_fd);
		act_close(act, v->err_fd);
	}
	for (unsigned i = 0; i < d->mem.n && i < VHOST_MEMORY_MAX_NREGIONS; i++)
		if (d->mem.r[i].base)
			act->unmap[act->nunmap++] = (struct vhost_unmap){
				.base = d->mem.r[i].base, .len = d->mem.r[i].map_len,
			};
	vhost_dev_init(d);
}
