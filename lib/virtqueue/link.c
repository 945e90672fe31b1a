/* SPDX-License-Identifier: MIT */
/* link.c - two virtqueues and two chunk pools in one shared region, and the
 * handshake that resets them (protocol in link.h). */
#include "link.h"

#include <endian.h>
#include <string.h>

#define ALIGN(x, a) (((x) + ((a) - 1)) & ~(uint64_t)((a) - 1))
#define PAGE 4096u

_Static_assert(sizeof(struct vq_link_hdr) == 128, "the header is two cache lines");

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


static struct vq_link_hdr *hdr(const struct vq_port *p)
{
	return (struct vq_link_hdr *)p->base;
}

/* A word of the peer's: one load, acquire, so that the ring fields it
 * zeroed before writing it are seen zeroed. */
static uint32_t ld_peer(const uint32_t *w)
{
	return le32toh(__atomic_load_n(w, __ATOMIC_ACQUIRE));
}

/* A word of ours: the ring fields we zeroed are visible before it. */
static void st_own(uint32_t *w, uint32_t v)
{
	__atomic_store_n(w, htole32(v), __ATOMIC_RELEASE);
}

/* ---- reset ------------------------------------------------------------------ */

static bool pending(uint8_t role)
{
	return role == VQ_ROLE_DUE || role == VQ_ROLE_SENT;
}

static int status(const struct vq_port *p)
{
	const struct vq_reset *rs = &p->rs;
	if (rs->dead)
		return VQ_LINK_DEAD;
	if (p->up)
		return VQ_LINK_UP;
	if ((rs->ask == VQ_ROLE_LATE || rs->answer == VQ_ROLE_LATE) &&
	    !pending(rs->ask) && !pending(rs->answer))
		return VQ_LINK_BROKEN;
	return VQ_LINK_RESETTING;
}

/* Our state word says what status() says; written only when that changes. */
static void show(struct vq_port *p)
{
	static const uint8_t side_state[] = {
		[VQ_LINK_UP] = VQ_SIDE_ATTACHED, [VQ_LINK_RESETTING] = VQ_SIDE_RESETTING,
		[VQ_LINK_BROKEN] = VQ_SIDE_BROKEN, [VQ_LINK_DEAD] = VQ_SIDE_BROKEN,
	};
	uint8_t s = side_state[status(p)];
	if (s != p->rs.shown && p->base) {
		p->rs.shown = s;
		st_own(&hdr(p)->state[p->side], s);
	}
}

/* Stop using the link: a reset for `why` begins. */
static void stop(struct vq_port *p, int why)
{
	if (!p->up)
		return;
	p->up = false;
	p->rs.st.last_why = why;
	p->rs.st.last_error = 0;
}

/* Forget both directions and zero the ring fields we write; only while the
 * peer is not reading them (it asked, or it waits for our ready). */
static void forget(struct vq_port *p)
{
	vq_drv_restart(&p->tx);
	vq_dev_restart(&p->rx);
	p->gen++;
}

static void die(struct vq_port *p)
{
	p->up = false;
	p->rs.dead = true;
	p->rs.ask = p->rs.answer = VQ_ROLE_NONE;
	p->error = -VQ_ERESETS;
}

static void late(struct vq_port *p, uint8_t *role)
{
	*role = VQ_ROLE_LATE;
	p->rs.st.timeouts++;
	p->error = -VQ_ERESETTIMEOUT;
}

static uint64_t since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;   /* a clock stepping back waits less */
}

/*
 * May a reset start now?  0: yes; 1: not before *at; -1: never again, the
 * window's budget is spent.  With k resets in the window already, the next
 * waits VQ_RESET_GAP_NS << (k - 1) after the last, at most VQ_RESET_GAP_MAX_NS.
 */
static int limit(const struct vq_reset *rs, uint64_t now, uint64_t *at)
{
	unsigned n = 0;
	for (unsigned i = 0; i < rs->n_when; i++)
		if (since(now, rs->when[i]) < VQ_RESET_WINDOW_NS)
			n++;
	if (n >= VQ_RESET_BUDGET)
		return -1;
	if (n == 0)
		return 0;
	uint64_t gap = VQ_RESET_GAP_NS;
	for (unsigned k = 1; k < n && gap < VQ_RESET_GAP_MAX_NS; k++)
		gap *= 2;
	if (gap > VQ_RESET_GAP_MAX_NS)
		gap = VQ_RESET_GAP_MAX_NS;
	uint64_t last = rs->when[(rs->next_when + VQ_RESET_BUDGET - 1) % VQ_RESET_BUDGET];
	if (since(now, last) >= gap)
		return 0;
	*at = last + gap;
	return 1;
}

static void charge(struct vq_reset *rs, uint64_t now)
{
	rs->when[rs->next_when] = now;
	rs->next_when = (rs->next_when + 1) % VQ_RESET_BUDGET;
	if (rs->n_when < VQ_RESET_BUDGET)
		rs->n_when++;
}

static void sooner(uint64_t *deadline, uint64_t t)
{
	if (*deadline == 0 || t < *deadline)
		*deadline = t;
}

/* Our answer to the peer's requests. */
static int answer(struct vq_port *p, uint32_t preq, uint64_t now, bool *kick,
		  uint64_t *deadline)
{
	struct vq_reset *rs = &p->rs;
	/* A request is odd and not the one we last answered; the request we
	 * answered is done when its word moves on by one. */
	if ((preq & 1u) && preq != rs->acked) {
		stop(p, VQ_WHY_PEER);
		rs->answer = VQ_ROLE_DUE;
		rs->seen = preq;
	} else if ((rs->answer == VQ_ROLE_SENT || rs->answer == VQ_ROLE_LATE) &&
		   preq == rs->acked + 1u) {
		rs->answer = VQ_ROLE_NONE;
	} else if (rs->answer == VQ_ROLE_SENT && now >= rs->answer_by) {
		late(p, &rs->answer);
	}
	if (rs->answer != VQ_ROLE_DUE)
		return 0;

	/* the peer's reset while ours is out is the same reset: free, once */
	bool free = rs->free_answer && rs->ask == VQ_ROLE_SENT;
	uint64_t at = 0;
	int lim = free ? 0 : limit(rs, now, &at);
	if (lim < 0)
		return -1;
	if (lim > 0) {
		sooner(deadline, at);
		return 0;
	}
	if (free)
		rs->free_answer = false;
	else
		charge(rs, now);
	forget(p);
	rs->acked = rs->seen;
	st_own(&hdr(p)->reset_ack[p->side], rs->acked);
	rs->answer = VQ_ROLE_SENT;
	rs->answer_by = now + VQ_RESET_TIMEOUT_NS;
	rs->st.answered++;
	*kick = true;
	/* this reset starts both sides over: ours, not yet sent, is moot */
	if (rs->ask == VQ_ROLE_DUE)
		rs->ask = VQ_ROLE_NONE;
	return 0;
}

/* Our own request: send it once the limit allows, finish it once answered. */
static int ask(struct vq_port *p, uint32_t pack, uint64_t now, bool *kick,
	       uint64_t *deadline)
{
	struct vq_reset *rs = &p->rs;
	if (rs->ask == VQ_ROLE_DUE) {
		uint64_t at = 0;
		int lim = limit(rs, now, &at);
		if (lim < 0)
			return -1;
		if (lim > 0) {
			sooner(deadline, at);
			return 0;
		}
		charge(rs, now);
		rs->req += (rs->req & 1u) ? 2u : 1u;   /* odd, and new to the peer */
		st_own(&hdr(p)->reset_req[p->side], rs->req);
		rs->ask = VQ_ROLE_SENT;
		rs->ask_by = now + VQ_RESET_TIMEOUT_NS;
		rs->free_answer = true;
		rs->st.asked++;
		*kick = true;
	} else if (rs->ask == VQ_ROLE_SENT || rs->ask == VQ_ROLE_LATE) {
		if (pack == rs->req) {
			/* the peer has stopped and zeroed its fields: ours now */
			forget(p);
			rs->req++;
			st_own(&hdr(p)->reset_req[p->side], rs->req);
			rs->ask = VQ_ROLE_NONE;
			*kick = true;
		} else if (rs->ask == VQ_ROLE_SENT && now >= rs->ask_by) {
			late(p, &rs->ask);
		}
	}
	return 0;
}

int vq_port_poll(struct vq_port *p, uint64_t now, struct vq_poll *r)
{
	struct vq_reset *rs = &p->rs;
	bool kick = false;
	uint64_t deadline = 0;

	if (!rs->dead) {
		/* the only words of the peer's a poll reads: once each */
		unsigned peer = p->side ^ 1u;
		uint32_t preq = ld_peer(&hdr(p)->reset_req[peer]);
		uint32_t pack = ld_peer(&hdr(p)->reset_ack[peer]);
		if (answer(p, preq, now, &kick, &deadline) < 0 ||
		    ask(p, pack, now, &kick, &deadline) < 0) {
			die(p);
			deadline = 0;
		}
	}
	if (!rs->dead) {
		if (rs->ask == VQ_ROLE_SENT)
			sooner(&deadline, rs->ask_by);
		if (rs->answer == VQ_ROLE_SENT)
			sooner(&deadline, rs->answer_by);
		if (!p->up && rs->ask == VQ_ROLE_NONE && rs->answer == VQ_ROLE_NONE) {
			p->up = true;
			p->error = 0;
			rs->st.resets++;
		}
	}
	show(p);
	int st = status(p);
	if (r)
		*r = (struct vq_poll){ .status = st, .kick = kick, .deadline = deadline,
				       .changed = st != rs->reported };
	rs->reported = (uint8_t)st;
	return st;
}

int vq_port_reset_request(struct vq_port *p, uint64_t now, struct vq_poll *r)
{
	if (p->up) {
		stop(p, VQ_WHY_LOCAL);
		p->rs.ask = VQ_ROLE_DUE;
	} else if (p->rs.ask == VQ_ROLE_LATE) {
		p->rs.ask = VQ_ROLE_DUE;    /* ask again, at the budget's price */
	}
	return vq_port_poll(p, now, r);
}

const char *vq_link_status_name(int status)
{
	static const char *const names[] = {
		[VQ_LINK_UP] = "up", [VQ_LINK_RESETTING] = "resetting",
		[VQ_LINK_BROKEN] = "broken", [VQ_LINK_DEAD] = "dead",
	};
	return status >= 0 && status <= VQ_LINK_DEAD ? names[status] : "?";
}

const char *vq_reset_why_name(int why)
{
	static const char *const names[] = {
		[VQ_WHY_NONE] = "none", [VQ_WHY_RESTART] = "restart",
		[VQ_WHY_VIOLATION] = "violation", [VQ_WHY_LOCAL] = "asked",
		[VQ_WHY_PEER] = "peer",
	};
	return why >= 0 && why <= VQ_WHY_PEER ? names[why] : "?";
}

/* Not usable: say why (the cold path of every call below). */
static int port_down(const struct vq_port *p)
{
	if (p->rs.dead)
		return p->error;   /* VQ_ERESETS, or why attach failed */
	return status(p) == VQ_LINK_BROKEN ? -VQ_ERESETTIMEOUT : -VQ_ERESETTING;
}

/* A peer error takes the whole link down; the next poll asks for a reset
 * (and applies the limits). */
static int port_fail(struct vq_port *p, int err)
{
	if (vq_is_peer_error(err) && p->up) {
		stop(p, VQ_WHY_VIOLATION);
		p->error = err;
		p->rs.ask = VQ_ROLE_DUE;
		p->rs.st.violations++;
		p->rs.st.last_error = err;
		show(p);
	}
	return err;
}

static int port_setup_(struct vq_port *p, void *mem, size_t len, unsigned side,
		       uint32_t *was);

/* Check the region and set up both directions; writes nothing into it.  A
 * port that fails is dead: every call on it fails, and touches nothing. */
static int port_setup(struct vq_port *p, void *mem, size_t len, unsigned side,
		      uint32_t *was)
{
	if (!p)
		return -VQ_EINVAL;
	memset(p, 0, sizeof(*p));
	int err = port_setup_(p, mem, len, side, was);
	if (err) {
		memset(p, 0, sizeof(*p));
		p->rs.dead = true;
		p->error = err;
	}
	return err;
}

static int port_setup_(struct vq_port *p, void *mem, size_t len, unsigned side,
		       uint32_t *was)
{
	if (!mem || side > 1 || ((uintptr_t)mem & 63u) || len < sizeof(struct vq_link_hdr))
		return -VQ_EINVAL;

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
	/* Our own words as a predecessor left them (or as the peer scribbled
	 * them: a reset comes sooner, no more).  Our next request goes on
	 * from there, so the peer sees it as new. */
	p->rs.req = le32toh(h.reset_req[side]);
	p->rs.acked = le32toh(h.reset_ack[side]);
	p->rs.shown = 0xff;    /* unknown: the first show() writes it */
	p->rs.reported = VQ_LINK_UP;
	*was = le32toh(h.state[side]);
	return 0;
}

int vq_port_attach(struct vq_port *p, void *mem, size_t len, unsigned side)
{
	uint32_t was;
	int err = port_setup(p, mem, len, side, &was);
	if (err)
		return err;
	p->up = true;
	show(p);
	return 0;
}

int vq_port_join(struct vq_port *p, void *mem, size_t len, unsigned side,
		 uint64_t now_ns, struct vq_poll *r)
{
	uint32_t was;
	int err = port_setup(p, mem, len, side, &was);
	if (err)
		return err;
	if (was == VQ_SIDE_ABSENT) {
		p->up = true;    /* nobody used our side: the rings are as formatted */
	} else {
		/* a predecessor's rings, and its private state died with it */
		p->rs.ask = VQ_ROLE_DUE;
		p->rs.st.last_why = VQ_WHY_RESTART;
	}
	vq_port_poll(p, now_ns, r);
	return 0;
}

/* ---- frames ------------------------------------------------------------------ */

static int reclaim(struct vq_port *p)
{
	uint16_t ids[64];
	int total = 0, n;
	while ((n = vq_drv_reap(&p->tx, ids, NULL, 64)) > 0)
		total += n;
	return n < 0 ? port_fail(p, n) : total;
}

int vq_port_reclaim(struct vq_port *p)
{
	if (!p->up)
		return port_down(p);
	return reclaim(p);
}

int vq_port_send(struct vq_port *p, const void *frame, size_t len)
{
	if (!p->up)
		return port_down(p);
	if (len == 0 || len > VQ_FRAME_MAX)
		return -VQ_ETOOBIG;
	unsigned n = (unsigned)((len + p->chunk - 1) / p->chunk);
	/* Reclaim first, every time, not only when the free list runs dry:
	 * the driver pushes freed chains at the head of its free list, so the
	 * chunks the peer just returned (still in cache, already backed by
	 * pages) are the next ones used, and a quiet link keeps touching the
	 * same few pages instead of walking its whole pool (hardening #19).
	 * It costs one load of the used index when nothing came back. */
	int err = reclaim(p);
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
	if (!p->up)
		return port_down(p);
	return port_fail(p, vq_drv_publish(&p->tx));
}

bool vq_port_tx_wait(struct vq_port *p)
{
	return p->up && vq_drv_enable_notify(&p->tx);
}

bool vq_port_tx_wait_room(struct vq_port *p)
{
	return p->up && vq_drv_enable_notify_delayed(&p->tx);
}

void vq_port_tx_nowait(struct vq_port *p)
{
	if (p->up)
		vq_drv_disable_notify(&p->tx);
}

int vq_port_recv(struct vq_port *p, struct vq_frame *f, unsigned max)
{
	if (!p->up)
		return port_down(p);
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
		fr->gen = p->gen;
		/* The device checked every segment against the peer's pool,
		 * which lies inside our mapping (checked at attach). */
		for (unsigned k = 0; k < c.n; k++)
			fr->iov[k] = (struct iovec){ p->base + c.seg[k].addr, c.seg[k].len };
	}
	return (int)got;
}

int vq_port_recv_done(struct vq_port *p, const struct vq_frame *f, unsigned n)
{
	if (!p->up)
		return 0;    /* whatever was taken went with the reset */
	for (unsigned k = 0; k < n; k++) {
		if (f[k].gen != p->gen)
			continue;    /* taken before a reset: not ours to return */
		int err = vq_dev_put(&p->rx, &f[k].head, NULL, 1);
		if (err)
			return port_fail(p, err);
	}
	return 0;
}

int vq_port_rx_publish(struct vq_port *p)
{
	if (!p->up)
		return port_down(p);
	return port_fail(p, vq_dev_publish(&p->rx));
}

bool vq_port_rx_wait(struct vq_port *p)
{
	return p->up && vq_dev_enable_notify(&p->rx);
}

void vq_port_rx_nowait(struct vq_port *p)
{
	if (p->up)
		vq_dev_disable_notify(&p->rx);
}
