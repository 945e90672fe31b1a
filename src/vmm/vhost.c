/* SPDX-License-Identifier: MIT */
/*
 * vhost.c - the vhost-user guest port: a QEMU guest's virtio-net NIC,
 * whose device this vmm is.
 *
 * QEMU connects to a unix socket the supervisor made (one per NIC) and
 * drives the device with vhost-user messages; lib/vhost checks each one
 * and says what to do (map guest memory, watch kick eventfds, start and
 * stop rings), and this file does it.  The guest's two queues are served
 * by lib/virtqueue's device side, the same code (and the same checks)
 * that serves a link: TX chains are device-readable (frames the guest
 * sends: the port's recv), RX chains device-writable (frames for the
 * guest: its send), every buffer inside one region of guest memory.
 *
 * The guest is as untrusted as a link peer.  A ring it breaks breaks this
 * device only: the port says BROKEN with the cause (status shows it), the
 * vmm's links and other ports go on, and QEMU hears of it on the ring's
 * err eventfd.  The guest resetting its NIC (QEMU stops and restarts the
 * rings) brings a broken device back.  QEMU going away (it died, or was
 * stopped) leaves the port WAITING for the next connection; its frames
 * are dropped meanwhile, counted.
 *
 * Frames are link frames as everywhere in the vmm: the 12-byte
 * virtio_net_hdr_v1, then Ethernet.  With VIRTIO_NET_F_MRG_RXBUF a frame
 * for the guest may fill several RX chains (num_buffers says how many), so
 * a 64 KiB TCP segment fits a ring of page-sized buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys.h"
#include "vhost.h"
#include "vmm.h"

/* the descriptors of a port, as epoll sub-indices */
enum { SUB_LISTEN, SUB_CONN, SUB_KICK_RX, SUB_KICK_TX };

#define RX_CHAINS_MAX 64u   /* RX chains one frame may fill (mergeable) */

struct vq_state {
	struct vq_device vq;
	bool running, enabled, dirty;
	int kick, call, err;
};

struct vhost_port {
	const struct lab_iface *li;
	int lfd, conn;
	struct vhost_dev dev;
	struct vq_state q[VHOST_NQUEUES];
	unsigned broken;         /* bit q: the guest broke ring q */
	unsigned ev;             /* PORT_EV_* owed to the datapath */
	/* a message being read */
	uint8_t in[VHOST_MSG_MAX];
	size_t in_len;
	uint32_t want;           /* its whole length, once the header is in */
	int fds[VHOST_FDS_MAX];
	unsigned nfds;
	struct vq_chain chain[RX_CHAINS_MAX];
};

#define PUT(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

static struct vhost_port *vp_of(struct port *p)
{
	return p->priv;
}

__attribute__((format(printf, 2, 3)))
static void say(const struct vhost_port *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: %s: vhost-user: ", vmm_prog, v->li->name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* What status shows: running when both rings are served. */
static void publish_state(struct port *p)
{
	struct vhost_port *v = vp_of(p);
	uint32_t s = v->broken ? VMM_PORT_BROKEN : v->conn < 0 ? VMM_PORT_WAITING
		     : v->q[VHOST_RX].running && v->q[VHOST_TX].running ? VMM_PORT_RUNNING
		     : VMM_PORT_CONNECTED;
	PUT(p->st->port_state, s);
}

static void watch(struct port *p, int fd, unsigned sub, bool on)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = EV(EV_PORT, p->index, sub) };
	if (fd >= 0)
		epoll_ctl(p->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &e);
}

/* The guest broke ring q: stop serving it, say why, tell QEMU. */
static void ring_broken(struct port *p, unsigned q, int err)
{
	struct vhost_port *v = vp_of(p);
	if (!(v->broken & (1u << q))) {
		char what[160];
		snprintf(what, sizeof(what), "the guest broke its %s ring: %s",
			 q == VHOST_RX ? "RX" : "TX", vq_strerror(err));
		say(v, "%s; device stopped until the guest resets it", what);
		PUT(p->st->port_error, err);
	}
	v->broken |= 1u << q;
	v->q[q].running = false;
	publish_state(p);   /* status first: QEMU may look as soon as it hears */
	if (v->q[q].err >= 0)
		sys_ring(v->q[q].err);
}

/* ---- actions: what lib/vhost says to do, in its order ---------------------- */

static void do_action(struct port *p, struct vhost_action *a);

static void send_reply(struct vhost_port *v, const struct vhost_reply *r)
{
	if (r->send && v->conn >= 0 && send(v->conn, r->bytes, r->len, MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)r->len)
		say(v, "cannot reply: %s", strerror(errno));
}

static void ring_start(struct port *p, unsigned q, const struct vhost_ring_action *ra)
{
	struct vhost_port *v = vp_of(p);
	struct vq_state *s = &v->q[q];
	int err = vq_device_init_split(&s->vq, ra->desc, ra->avail, ra->used, ra->num, ra->event_idx);
	for (unsigned i = 0; !err && i < v->dev.mem.n; i++)
		err = vq_dev_add_window(&s->vq, v->dev.mem.r[i].gpa, v->dev.mem.r[i].size);
	if (err) {
		say(v, "cannot serve the %s ring: %s", q == VHOST_TX ? "TX" : "RX", vq_strerror(err));
		ring_broken(p, q, err);
		return;
	}
	vq_dev_set_limits(&s->vq, q == VHOST_TX ? VQ_FRAME_MAX : UINT32_MAX,
			  q == VHOST_TX ? VQ_CHAIN_READ : VQ_CHAIN_WRITE);
	vq_dev_set_base(&s->vq, ra->base);
	s->running = true;
	s->enabled = ra->enabled;
	/* a guest that reset its NIC starts the ring afresh: what it broke
	 * before is forgotten */
	v->broken &= ~(1u << q);
	if (!v->broken)
		PUT(p->st->port_error, 0);
	/* the guest may be ahead of us: look once */
	v->ev |= q == VHOST_TX ? PORT_EV_FRAMES : PORT_EV_ROOM;
}

/* A kick, call or err fd from the front-end: it must be an eventfd (an
 * anonymous inode: not a pipe, socket or file that could make our reads
 * and writes block or mean something else), and we use it non-blocking,
 * so a front-end that fills its counter cannot stall the whole vmm (and
 * its links) in a write.  -1 (and closed) if refused. */
static int take_eventfd(const struct vhost_port *v, int fd, const char *what)
{
	struct stat st;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		say(v, "refused a %s fd that is not an eventfd", what);
		close(fd);
		return -1;
	}
	return fd;
}

static void do_ring_ops(struct port *p, struct vhost_action *a, unsigned phase)
{
	struct vhost_port *v = vp_of(p);
	for (unsigned q = 0; q < VHOST_NQUEUES; q++) {
		struct vhost_ring_action *ra = &a->ring[q];
		struct vq_state *s = &v->q[q];
		if (phase == 0 && (ra->ops & VHOST_RING_STOP)) {
			s->running = false;
			s->dirty = false;
			struct vhost_reply r = { 0 };
			if (vhost_dev_ring_stopped(&v->dev, q, vq_dev_base(&s->vq), &r) == 0)
				send_reply(v, &r);
		}
		if (phase == 1) {
			if (ra->ops & VHOST_RING_KICK) {
				watch(p, s->kick, q == VHOST_RX ? SUB_KICK_RX : SUB_KICK_TX, false);
				s->kick = take_eventfd(v, ra->kick_fd, "kick");
				watch(p, s->kick, q == VHOST_RX ? SUB_KICK_RX : SUB_KICK_TX, true);
			}
			if (ra->ops & VHOST_RING_CALL)
				s->call = take_eventfd(v, ra->call_fd, "call");
			if (ra->ops & VHOST_RING_ERR)
				s->err = take_eventfd(v, ra->err_fd, "err");
		}
		if (phase == 2) {
			if (ra->ops & VHOST_RING_START)
				ring_start(p, q, ra);
			if (ra->ops & VHOST_RING_ENABLE) {
				s->enabled = ra->enabled;
				if (s->enabled)   /* what waited while it was off */
					v->ev |= q == VHOST_TX ? PORT_EV_FRAMES : PORT_EV_ROOM;
			}
		}
	}
}

static void do_action(struct port *p, struct vhost_action *a)
{
	struct vhost_port *v = vp_of(p);
	do_ring_ops(p, a, 0);
	do_ring_ops(p, a, 1);
	for (unsigned i = 0; i < a->nclose; i++)
		close(a->close[i]);
	for (unsigned i = 0; i < a->nunmap; i++)
		munmap(a->unmap[i].base, a->unmap[i].len);
	if (a->nmap) {
		void *bases[VHOST_MEMORY_MAX_NREGIONS];
		for (unsigned i = 0; i < a->nmap; i++) {
			void *b = mmap(NULL, a->map[i].len, PROT_READ | PROT_WRITE, MAP_SHARED,
				       a->map[i].fd, 0);
			bases[i] = b == MAP_FAILED ? NULL : b;
			close(a->map[i].fd);
		}
		struct vhost_reply r = { 0 };
		struct vhost_action next;
		memset(&next, 0, sizeof(next));
		if (vhost_dev_mem_mapped(&v->dev, bases, a->nmap, &r, &next))
			say(v, "guest memory: %s", next.why);
		send_reply(v, &r);
		do_action(p, &next);
	}
	do_ring_ops(p, a, 2);
	publish_state(p);
}

/* QEMU is gone (or broke the protocol): forget it, wait for the next. */
static void disconnect(struct port *p)
{
	struct vhost_port *v = vp_of(p);
	struct vhost_action a;
	memset(&a, 0, sizeof(a));
	vhost_dev_disconnect(&v->dev, &a);
	do_action(p, &a);
	for (unsigned q = 0; q < VHOST_NQUEUES; q++)
		v->q[q] = (struct vq_state){ .kick = -1, .call = -1, .err = -1 };
	for (unsigned i = 0; i < v->nfds; i++)
		close(v->fds[i]);
	v->nfds = 0;
	v->in_len = v->want = 0;
	watch(p, v->conn, SUB_CONN, false);
	close(v->conn);
	v->conn = -1;
	v->broken = 0;
	PUT(p->st->port_error, 0);
	publish_state(p);
}

/* ---- messages --------------------------------------------------------------- */

/* One whole message is in: parse it, handle it, do what it says. */
static int handle(struct port *p)
{
	struct vhost_port *v = vp_of(p);
	struct vhost_msg msg;
	struct vhost_reply r = { 0 };
	struct vhost_action a;
	memset(&a, 0, sizeof(a));
	unsigned nfds = v->nfds;
	v->nfds = 0;   /* from here on the library (or we) own them */
	if (vhost_msg_parse(v->in, v->in_len, v->fds, nfds, &msg)) {
		say(v, "%s; disconnecting", msg.why);
		for (unsigned i = 0; i < nfds; i++)
			close(v->fds[i]);
		return -EPROTO;
	}
	/* guest memory must be a memfd sealed against shrinking: else QEMU
	 * could truncate it under our mapping and our next access would be a
	 * SIGBUS.  A size of 0 makes lib/vhost refuse the region. */
	if (msg.request == VHOST_USER_SET_MEM_TABLE)
		for (unsigned i = 0; i < msg.nfds; i++) {
			struct stat st;
			int seals = fcntl(msg.fds[i], F_GET_SEALS);
			msg.fd_size[i] = seals >= 0 && (seals & F_SEAL_SHRINK) && fstat(msg.fds[i], &st) == 0 &&
					 st.st_size > 0 ? (uint64_t)st.st_size : 0;
			if (!msg.fd_size[i])
				say(v, "guest memory fd %u is not a memfd sealed against shrinking", i);
		}
	int err = vhost_dev_handle(&v->dev, &msg, &r, &a);
	if (err)
		say(v, "%s", a.why);
	send_reply(v, &r);
	do_action(p, &a);
	/* lib/vhost refuses a message without changing state; QEMU ends the
	 * connection on a refusal too, so we do not wait for it */
	return err;
}

/* Read what QEMU sent: messages (and the fds with them) in whatever
 * pieces the socket gives them. */
static int read_messages(struct port *p)
{
	struct vhost_port *v = vp_of(p);
	for (;;) {
		size_t need = v->want ? v->want : VHOST_HDR_SIZE;
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int) * VHOST_FDS_MAX)];
		} c;
		struct iovec iov = { v->in + v->in_len, need - v->in_len };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
				    .msg_controllen = sizeof(c.buf) };
		ssize_t r = recvmsg(v->conn, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		for (struct cmsghdr *h = r > 0 ? CMSG_FIRSTHDR(&m) : NULL; h; h = CMSG_NXTHDR(&m, h)) {
			if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
				continue;
			size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t k = 0; k < n; k++) {
				int fd;
				memcpy(&fd, CMSG_DATA(h) + k * sizeof(int), sizeof(int));
				if (v->nfds < VHOST_FDS_MAX)
					v->fds[v->nfds++] = fd;
				else
					close(fd), r = -1, errno = E2BIG;
			}
		}
		if (r > 0 && (m.msg_flags & MSG_CTRUNC))
			r = -1, errno = E2BIG;
		if (r <= 0) {
			if (r < 0)
				say(v, "socket: %s; disconnecting", strerror(errno));
			return -EPIPE;
		}
		v->in_len += (size_t)r;
		if (!v->want && v->in_len == VHOST_HDR_SIZE) {
			uint32_t payload;
			struct vhost_msg hm;
			if (vhost_msg_header(v->in, v->in_len, &payload, &hm)) {
				say(v, "%s; disconnecting", hm.why);
				return -EPROTO;
			}
			v->want = VHOST_HDR_SIZE + payload;
		}
		if (v->want && v->in_len == v->want) {
			int err = handle(p);
			v->in_len = v->want = 0;
			if (err)
				return err;
		}
	}
}

/* ---- frames ------------------------------------------------------------------- */

/* The frame the guest sent next, from its TX ring, copied out (the guest
 * may rewrite its buffers at any time). */
static ssize_t vhost_recv(struct port *p, uint8_t *buf, size_t cap)
{
	struct vhost_port *v = vp_of(p);
	struct vq_state *s = &v->q[VHOST_TX];
	for (;;) {
		/* a disabled queue is left alone until it is enabled again */
		if (!s->running || !s->enabled || v->broken)
			return 0;
		struct vq_chain *c = &v->chain[0];
		int n = vq_dev_take(&s->vq, c, 1);
		if (n < 0) {
			ring_broken(p, VHOST_TX, n);
			return 0;
		}
		if (n == 0) {
			if (vq_dev_enable_notify(&s->vq))
				continue;   /* one slipped in */
			return 0;
		}
		size_t len = 0;
		for (unsigned k = 0; k < c->n; k++) {
			const uint8_t *src = vhost_gpa_to_ptr(&v->dev.mem, c->seg[k].addr, c->seg[k].len);
			if (!src) {   /* the windows said yes: tables disagree */
				ring_broken(p, VHOST_TX, -VQ_EADDR);
				return 0;
			}
			size_t l = c->seg[k].len < cap - len ? c->seg[k].len : cap - len;
			memcpy(buf + len, src, l);
			len += l;
		}
		vq_dev_put(&s->vq, &c->head, NULL, 1);
		s->dirty = true;
		/* a frame longer than cap is cut: the caller sees cap and drops it */
		return (ssize_t)len;
	}
}

/* l bytes of the frame from off on, its header taken from hdr. */
static void frame_bytes(uint8_t *dst, const uint8_t *hdr, const uint8_t *f, size_t off, size_t l)
{
	for (; l && off < VSW_VNET_HDR; l--)
		*dst++ = hdr[off++];
	memcpy(dst, f + off, l);
}

/* Can the guest take this frame's offloads?  A segmentation or checksum
 * offload it did not negotiate would be dropped by its driver. */
static bool guest_takes(const struct vhost_port *v, const uint8_t *f)
{
	uint64_t feat = v->dev.features;
	uint8_t flags = f[0], gso = f[1] & 0x7f;
	if ((flags & 1) && !(feat & VHOST_BIT(VIRTIO_NET_F_GUEST_CSUM)))
		return false;
	if (gso == 1 && !(feat & VHOST_BIT(VIRTIO_NET_F_GUEST_TSO4)))
		return false;
	if (gso == 4 && !(feat & VHOST_BIT(VIRTIO_NET_F_GUEST_TSO6)))
		return false;
	return !(f[1] & 0x80) || (feat & VHOST_BIT(VIRTIO_NET_F_GUEST_ECN));
}

/* A frame for the guest, into as many RX chains as it needs. */
static int vhost_send(struct port *p, const uint8_t *f, size_t len)
{
	struct vhost_port *v = vp_of(p);
	struct vq_state *s = &v->q[VHOST_RX];
	if (!s->running || !s->enabled || v->broken || len < VSW_VNET_HDR)
		return -ENOTCONN;
	if (!guest_takes(v, f))
		return -EPROTONOSUPPORT;
	bool mrg = v->dev.features & VHOST_BIT(VIRTIO_NET_F_MRG_RXBUF);
	unsigned n = 0;
	uint64_t room = 0;
	while (room < len) {
		if (n == (mrg ? RX_CHAINS_MAX : 1u)) {
			vq_dev_untake(&s->vq, n);
			return -EMSGSIZE;   /* the guest's buffers cannot hold it */
		}
		int r = vq_dev_take(&s->vq, &v->chain[n], 1);
		if (r < 0) {
			ring_broken(p, VHOST_RX, r);
			return -EIO;
		}
		if (r == 0) {
			vq_dev_untake(&s->vq, n);
			/* full: hear when the guest adds buffers, unless it just did */
			if (vq_dev_enable_notify(&s->vq))
				v->ev |= PORT_EV_ROOM;
			return -EAGAIN;
		}
		room += v->chain[n++].write_len;
	}
	/* the header as the guest reads it: how many buffers the frame fills */
	uint8_t hdr[VSW_VNET_HDR];
	memcpy(hdr, f, VSW_VNET_HDR);
	hdr[10] = (uint8_t)n;
	hdr[11] = 0;
	size_t off = 0;
	uint16_t heads[RX_CHAINS_MAX];
	uint32_t lens[RX_CHAINS_MAX];
	for (unsigned i = 0; i < n; i++) {
		const struct vq_chain *c = &v->chain[i];
		heads[i] = c->head;
		lens[i] = 0;
		for (unsigned k = 0; k < c->n && off < len; k++) {
			uint8_t *dst = vhost_gpa_to_ptr(&v->dev.mem, c->seg[k].addr, c->seg[k].len);
			if (!dst) {   /* the windows said yes: tables disagree */
				vq_dev_untake(&s->vq, n);
				ring_broken(p, VHOST_RX, -VQ_EADDR);
				return -EIO;
			}
			size_t l = c->seg[k].len < len - off ? c->seg[k].len : len - off;
			frame_bytes(dst, hdr, f, off, l);
			off += l;
			lens[i] += (uint32_t)l;
		}
	}
	vq_dev_put(&s->vq, heads, lens, n);
	s->dirty = true;
	return 0;
}

static void vhost_flush(struct port *p)
{
	struct vhost_port *v = vp_of(p);
	for (unsigned q = 0; q < VHOST_NQUEUES; q++) {
		struct vq_state *s = &v->q[q];
		if (!s->dirty || !s->running)
			continue;
		s->dirty = false;
		int kick = vq_dev_publish(&s->vq);
		if (kick < 0)
			ring_broken(p, q, kick);
		else if (kick && s->call >= 0)
			sys_ring(s->call);
	}
}

static void vhost_pause(struct port *p, bool pause)
{
	p->paused = pause;
	if (!pause)
		vp_of(p)->ev |= PORT_EV_FRAMES;
}

static unsigned vhost_event(struct port *p, unsigned sub, uint32_t events)
{
	struct vhost_port *v = vp_of(p);
	(void)events;
	if (sub == SUB_LISTEN) {
		int c = accept4(v->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c >= 0 && v->conn >= 0) {
			say(v, "a second front-end refused: QEMU is connected");
			close(c);
		} else if (c >= 0) {
			v->conn = c;
			vhost_dev_init(&v->dev);
			watch(p, c, SUB_CONN, true);
			publish_state(p);
		}
	} else if (sub == SUB_CONN && v->conn >= 0) {
		if (read_messages(p))
			disconnect(p);
	} else if (sub == SUB_KICK_RX || sub == SUB_KICK_TX) {
		struct vq_state *s = &v->q[sub == SUB_KICK_RX ? VHOST_RX : VHOST_TX];
		uint64_t count;
		if (s->kick >= 0 && read(s->kick, &count, sizeof(count)) < 0 && errno != EAGAIN)
			say(v, "kick fd: %s", strerror(errno));
		v->ev |= sub == SUB_KICK_RX ? PORT_EV_ROOM : PORT_EV_FRAMES;
	}
	unsigned ev = v->ev;
	v->ev = 0;
	if (p->paused)
		ev &= ~(unsigned)PORT_EV_FRAMES;
	return ev;
}

static void vhost_close(struct port *p)
{
	struct vhost_port *v = vp_of(p);
	if (v->conn >= 0)
		disconnect(p);
	watch(p, v->lfd, SUB_LISTEN, false);
	close(v->lfd);
	free(v);
	p->priv = NULL;
	p->ops = NULL;
}

static const struct port_ops vhost_ops = {
	.kind = "vhost-user",
	.recv = vhost_recv,
	.send = vhost_send,
	.pause = vhost_pause,
	.event = vhost_event,
	.flush = vhost_flush,
	.close = vhost_close,
};

int vhost_port_open(struct port *p, const struct lab_iface *li, int lfd, int epfd,
		    unsigned index)
{
	struct vhost_port *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->li = li;
	v->lfd = lfd;
	v->conn = -1;
	vhost_dev_init(&v->dev);
	for (unsigned q = 0; q < VHOST_NQUEUES; q++)
		v->q[q] = (struct vq_state){ .kick = -1, .call = -1, .err = -1 };
	struct vmm_if_stats *st = p->st;
	*p = (struct port){ .ops = &vhost_ops, .epfd = epfd, .index = index, .fd = -1,
			    .priv = v, .st = st };
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = EV(EV_PORT, index, SUB_LISTEN) };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &e) < 0) {
		int err = -errno;
		free(v);
		p->ops = NULL;
		p->priv = NULL;
		return err;
	}
	publish_state(p);
	return 0;
}
