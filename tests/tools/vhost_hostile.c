/* SPDX-License-Identifier: MIT */
/*
 * vqnet-vhost-hostile - a test tool (root only): play QEMU on a vmm's
 * vhost-user socket, with guest memory of its own, and be a hostile guest.
 *
 *   vqnet-vhost-hostile SOCKET MODE [ARGS]
 *
 *   outside [far|edge]     a TX buffer outside guest memory (at 1 GiB; or
 *                          its last byte one past the end)
 *   loop [self|pair]       a TX chain that loops (NEXT to itself; 0 -> 1 -> 0)
 *   huge [len|wrap|chain]  a TX buffer of 0xffffffff bytes; one whose
 *                          addr + len wraps past 2^64; a chain of two 64 KiB
 *                          buffers, each inside memory, more than a frame
 *   jump                   the TX available index moved by the ring size + 1
 *   rx-read                a device-readable buffer in the RX ring (seen
 *                          only when a frame for the guest arrives)
 *   good SRC_MAC SRC_IP DST_MAC DST_IP
 *                          a well-behaved guest: RX buffers posted, one
 *                          ICMP echo request sent, its reply awaited
 *   block-err              the TX err eventfd is blocking and full (one
 *                          more write would block), then a TX buffer
 *                          outside memory: the vmm must not hang signalling
 *   block-call             the TX call eventfd likewise, then a valid frame:
 *                          the vmm must not hang saying it used it
 *
 * It negotiates as QEMU 7.2 does (lib/vhost/README.md, "QEMU 7.2 on the
 * wire"; tests/unit/test_vhost_dev.c replays it): GET_FEATURES,
 * GET/SET_PROTOCOL_FEATURES, SET_OWNER, GET_FEATURES, SET_VRING_CALL/ERR,
 * SET_VRING_ENABLE, SET_FEATURES, SET_MEM_TABLE (REPLY_ACK), then per ring
 * NUM, BASE, ADDR, KICK, CALL.  Guest memory is a 2 MiB memfd sealed
 * against shrinking and growing, at guest-physical 0, mapped here too (the
 * user address it declares is this mapping's).  Kick, call and err of both
 * rings are eventfds.
 *
 * The conversation on stdout and stdin, one line each, so a test acts on
 * events, never on sleeps:
 *   "ready"             the vmm has handled the whole negotiation (a
 *                       GET_FEATURES answered after it): both rings run.
 *                       The tool waits for a line on stdin (or EOF).
 *   "attacked RX|TX"    the bad ring is written and kicked.
 *   "broken RX|TX"      the vmm signalled that ring's err eventfd; checked
 *                       too: it returned nothing of the bad chain (TX), it
 *                       did not write the read-only buffer (RX).  The tool
 *                       keeps the connection until a line on stdin (or
 *                       EOF), then disconnects and exits 0.
 *   "reply ..."         (good) the echo reply came back in the RX ring;
 *                       then the same wait, disconnect, exit 0.
 *   "alive"             (block-*) after "attacked", a line on stdin (the
 *                       test saw the vmm reach the write: its stats), then
 *                       a GET_FEATURES was answered: the vmm did not hang
 *                       on our eventfd.  Then the same wait, exit 0.
 * Exit 1, with the reason on stderr: no err within 10 s (the vmm
 * did not notice), err on the other ring, the vmm closing the connection,
 * any failing system call or reply.  Every wait is bounded.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vhost.h"
#include "virtqueue.h"

#define PROG "vqnet-vhost-hostile"
#define MEM_SIZE (2u << 20)        /* guest memory: 2 MiB at gpa 0 */
#define NUM 256u                   /* both rings, as QEMU's virtio-net */
#define RING_OFF_RX 0x0000u        /* vq_ring_bytes(256) = 6784 */
#define RING_OFF_TX 0x4000u
#define RX_BUF 0x10000u            /* RX buffers: RX_BUFS of BUF_SIZE */
#define TX_BUF 0x40000u            /* TX buffers */
#define BUF_SIZE 2048u
#define RX_BUFS 32u
#define REPLY_TIMEOUT_MS 5000      /* the vmm answers a message */
#define ERR_TIMEOUT_MS 10000       /* the vmm notices a bad ring / a reply comes */
#define HOLD_TIMEOUT_MS 120000     /* the test tells us to go on */
#define PATTERN 0xa5

static const uint16_t ring_off[VHOST_NQUEUES] = { RING_OFF_RX, RING_OFF_TX };
static const char *const ring_name[VHOST_NQUEUES] = { "RX", "TX" };

struct fe {
	int sock;
	uint8_t *mem;
	int kick[VHOST_NQUEUES], call[VHOST_NQUEUES], err[VHOST_NQUEUES];
	struct vq_driver drv[VHOST_NQUEUES];
	uint64_t features;
	const char *mode, *variant;
	char what[40];                /* "mode variant", for messages */
	bool block_err, block_call;   /* TX err / call: blocking and full */
};

__attribute__((format(printf, 1, 2)))
static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
	int64_t l = deadline - now_ms();
	return l < 0 ? 0 : (int)l;
}

/* ---- the vhost-user wire, as a front-end ------------------------------------ */

static int send_msg(struct fe *f, uint32_t req, uint32_t flags, const void *payload,
		    uint32_t size, const int *fds, unsigned nfds)
{
	uint8_t buf[VHOST_MSG_MAX];
	uint32_t hdr[3] = { req, VHOST_VERSION | flags, size };
	memcpy(buf, hdr, sizeof(hdr));
	if (size)
		memcpy(buf + VHOST_HDR_SIZE, payload, size);
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * VHOST_FDS_MAX)];
	} c;
	memset(&c, 0, sizeof(c));
	struct iovec iov = { buf, VHOST_HDR_SIZE + size };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds) {
		m.msg_control = c.b;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(h), fds, sizeof(int) * nfds);
	}
	ssize_t r = sendmsg(f->sock, &m, MSG_NOSIGNAL);
	if (r != (ssize_t)iov.iov_len)
		return fail("%s: sendmsg: %s", vhost_request_name(req),
			    r < 0 ? strerror(errno) : "short write");
	return 0;
}

/* Read exactly len bytes within the deadline. */
static int read_full(struct fe *f, void *buf, size_t len, int64_t deadline, const char *what)
{
	size_t got = 0;
	while (got < len) {
		struct pollfd p = { .fd = f->sock, .events = POLLIN };
		int n = poll(&p, 1, left_ms(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail("%s: poll: %s", what, strerror(errno));
		if (n == 0)
			return fail("%s: no reply within %d ms", what, REPLY_TIMEOUT_MS);
		ssize_t r = recv(f->sock, (uint8_t *)buf + got, len - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return fail("%s: the vmm %s", what,
				    r < 0 ? strerror(errno) : "closed the connection (see the lab's log)");
		got += (size_t)r;
	}
	return 0;
}

/* The reply to req: a u64. */
static int recv_u64(struct fe *f, uint32_t req, uint64_t *v)
{
	const char *name = vhost_request_name(req);
	int64_t deadline = now_ms() + REPLY_TIMEOUT_MS;
	uint32_t hdr[3];
	if (read_full(f, hdr, sizeof(hdr), deadline, name))
		return 1;
	if (hdr[0] != req || hdr[1] != (VHOST_VERSION | VHOST_FLAG_REPLY) || hdr[2] != 8)
		return fail("%s: reply %u flags %#x size %u", name, hdr[0], hdr[1], hdr[2]);
	return read_full(f, v, 8, deadline, name);
}

static int get_u64(struct fe *f, uint32_t req, uint64_t *v)
{
	return send_msg(f, req, 0, NULL, 0, NULL, 0) || recv_u64(f, req, v);
}

static int set_u64(struct fe *f, uint32_t req, uint64_t v, int fd)
{
	return send_msg(f, req, 0, &v, 8, &fd, fd >= 0 ? 1 : 0);
}

static int set_state(struct fe *f, uint32_t req, uint32_t index, uint32_t num)
{
	struct vhost_vring_state s = { index, num };
	return send_msg(f, req, 0, &s, sizeof(s), NULL, 0);
}

/* ---- guest memory and rings ------------------------------------------------- */

/* An eventfd as QEMU makes them (non-blocking); or, if hostile, blocking
 * with its counter at the most it holds, so that the next write blocks. */
static int blocking_full(bool hostile)
{
	int fd = eventfd(0, hostile ? EFD_CLOEXEC : EFD_NONBLOCK | EFD_CLOEXEC);
	uint64_t full = UINT64_MAX - 1;
	if (fd >= 0 && hostile && write(fd, &full, sizeof(full)) != (ssize_t)sizeof(full)) {
		fail("eventfd: write: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int make_memory(struct fe *f, int *memfd)
{
	*memfd = memfd_create("vqnet-hostile-guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (*memfd < 0)
		return fail("memfd_create: %s", strerror(errno));
	if (ftruncate(*memfd, MEM_SIZE) < 0)
		return fail("ftruncate: %s", strerror(errno));
	/* the vmm refuses memory that could shrink under its mapping */
	if (fcntl(*memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		return fail("F_ADD_SEALS: %s", strerror(errno));
	void *m = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, *memfd, 0);
	if (m == MAP_FAILED)
		return fail("mmap: %s", strerror(errno));
	f->mem = m;
	for (unsigned q = 0; q < VHOST_NQUEUES; q++) {
		size_t len = vq_ring_bytes(NUM);
		int e = vq_ring_reset(f->mem + ring_off[q], len, NUM);
		if (!e)
			e = vq_driver_init(&f->drv[q], f->mem + ring_off[q], len, NUM, true);
		if (e)
			return fail("%s ring: %s", ring_name[q], vq_strerror(e));
	}
	for (unsigned q = 0; q < VHOST_NQUEUES; q++) {
		bool tx = q == VHOST_TX;
		f->kick[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		f->call[q] = blocking_full(tx && f->block_call);
		f->err[q] = blocking_full(tx && f->block_err);
		if (f->kick[q] < 0 || f->call[q] < 0 || f->err[q] < 0)
			return fail("eventfd: %s", strerror(errno));
	}
	return 0;
}

/* The user address we declare for a part of guest memory: our own. */
static uint64_t uva(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static int ring_eventfd(int fd, const char *what)
{
	uint64_t one = 1;
	if (write(fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		return fail("%s: write: %s", what, strerror(errno));
	return 0;
}

static void drain(int fd)
{
	uint64_t v;
	while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
}

static int kick(struct fe *f, unsigned q)
{
	return ring_eventfd(f->kick[q], q == VHOST_RX ? "RX kick" : "TX kick");
}

/* QEMU 7.2's negotiation, then a GET_FEATURES whose answer means the vmm
 * has handled everything before it. */
static int negotiate(struct fe *f, int memfd)
{
	uint64_t offered, proto;
	if (get_u64(f, VHOST_USER_GET_FEATURES, &offered) ||
	    get_u64(f, VHOST_USER_GET_PROTOCOL_FEATURES, &proto))
		return 1;
	uint64_t want = VHOST_BIT(VIRTIO_F_VERSION_1) | VHOST_BIT(VIRTIO_NET_F_CSUM) |
			VHOST_BIT(VIRTIO_NET_F_GUEST_CSUM) | VHOST_BIT(VIRTIO_NET_F_GUEST_TSO4) |
			VHOST_BIT(VIRTIO_NET_F_GUEST_TSO6) | VHOST_BIT(VIRTIO_NET_F_GUEST_ECN) |
			VHOST_BIT(VIRTIO_NET_F_HOST_TSO4) | VHOST_BIT(VIRTIO_NET_F_HOST_TSO6) |
			VHOST_BIT(VIRTIO_NET_F_HOST_ECN) | VHOST_BIT(VIRTIO_NET_F_MRG_RXBUF) |
			VHOST_BIT(VIRTIO_RING_F_EVENT_IDX) | VHOST_BIT(VHOST_USER_F_PROTOCOL_FEATURES);
	uint64_t need = VHOST_BIT(VIRTIO_F_VERSION_1) | VHOST_BIT(VIRTIO_NET_F_MRG_RXBUF) |
			VHOST_BIT(VIRTIO_RING_F_EVENT_IDX) | VHOST_BIT(VHOST_USER_F_PROTOCOL_FEATURES);
	if ((offered & need) != need)
		return fail("GET_FEATURES: %#llx lacks %#llx", (unsigned long long)offered,
			    (unsigned long long)(need & ~offered));
	if (!(proto & VHOST_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK)))
		return fail("GET_PROTOCOL_FEATURES: %#llx lacks REPLY_ACK", (unsigned long long)proto);
	f->features = offered & want;
	uint64_t dummy;
	if (set_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES,
		    VHOST_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK), -1) ||
	    send_msg(f, VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0) ||
	    get_u64(f, VHOST_USER_GET_FEATURES, &dummy))
		return 1;
	for (unsigned q = 0; q < VHOST_NQUEUES; q++)
		if (set_u64(f, VHOST_USER_SET_VRING_CALL, q, f->call[q]) ||
		    set_u64(f, VHOST_USER_SET_VRING_ERR, q, f->err[q]))
			return 1;
	for (unsigned q = 0; q < VHOST_NQUEUES; q++)
		if (set_state(f, VHOST_USER_SET_VRING_ENABLE, q, 1))
			return 1;
	if (set_u64(f, VHOST_USER_SET_FEATURES, f->features, -1))
		return 1;
	struct {
		uint32_t n, pad;
		struct vhost_mem_region r;
	} mt = { 1, 0, { 0, MEM_SIZE, uva(f->mem), 0 } };
	uint64_t ack;
	if (send_msg(f, VHOST_USER_SET_MEM_TABLE, VHOST_FLAG_NEED_REPLY, &mt, sizeof(mt), &memfd, 1) ||
	    recv_u64(f, VHOST_USER_SET_MEM_TABLE, &ack))
		return 1;
	if (ack)
		return fail("SET_MEM_TABLE refused (%#llx): see the lab's log", (unsigned long long)ack);
	for (unsigned q = 0; q < VHOST_NQUEUES; q++) {
		const struct vq_ring *r = &f->drv[q].r;
		struct vhost_vring_addr a = { .index = q, .desc = uva(r->desc),
					      .used = uva(r->used), .avail = uva(r->avail) };
		if (set_state(f, VHOST_USER_SET_VRING_NUM, q, NUM) ||
		    set_state(f, VHOST_USER_SET_VRING_BASE, q, 0) ||
		    send_msg(f, VHOST_USER_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0) ||
		    set_u64(f, VHOST_USER_SET_VRING_KICK, q, f->kick[q]) ||
		    set_u64(f, VHOST_USER_SET_VRING_CALL, q, f->call[q]))
			return 1;
	}
	return get_u64(f, VHOST_USER_GET_FEATURES, &dummy);
}

/* ---- waiting ---------------------------------------------------------------- */

/* A line on stdin, or its end, or the hold timeout: the test says go on. */
static int hold(struct fe *f, const char *why)
{
	int64_t deadline = now_ms() + HOLD_TIMEOUT_MS;
	for (;;) {
		struct pollfd p[2] = { { .fd = 0, .events = POLLIN }, { .fd = f->sock, .events = POLLIN } };
		int n = poll(p, 2, left_ms(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail("poll: %s", strerror(errno));
		if (n == 0)
			return fail("%s: nothing on stdin within %d s", why, HOLD_TIMEOUT_MS / 1000);
		if (p[1].revents)
			return fail("%s: the vmm closed the connection (or sent what no front-end asked for)",
				    why);
		if (p[0].revents) {
			char line[64];
			ssize_t r = read(0, line, sizeof(line));
			if (r < 0 && errno == EINTR)
				continue;
			return 0;   /* a line, or EOF: either way, go on */
		}
	}
}

/* Wait for ring q's err eventfd.  The other ring's err, or the vmm closing
 * the connection, is a failure; so is the timeout. */
static int wait_err(struct fe *f, unsigned q)
{
	int64_t deadline = now_ms() + ERR_TIMEOUT_MS;
	for (;;) {
		struct pollfd p[3] = { { .fd = f->err[q], .events = POLLIN },
				       { .fd = f->err[!q], .events = POLLIN },
				       { .fd = f->sock, .events = POLLIN } };
		int n = poll(p, 3, left_ms(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail("poll: %s", strerror(errno));
		if (n == 0)
			return fail("%s: the vmm did not signal the %s ring's err eventfd within %d s: "
				    "it did not notice the bad ring", f->what, ring_name[q],
				    ERR_TIMEOUT_MS / 1000);
		if (p[0].revents) {
			drain(f->err[q]);
			return 0;
		}
		if (p[1].revents)
			return fail("%s: the vmm signalled the %s ring's err, not the %s ring's", f->what,
				    ring_name[!q], ring_name[q]);
		return fail("%s: the vmm closed the connection instead of marking the ring broken "
			    "(did it die?)", f->what);
	}
}

/* Does the vmm still answer?  (It handles messages in order, in the loop
 * that would be stuck.) */
static int alive(struct fe *f)
{
	uint64_t v;
	if (get_u64(f, VHOST_USER_GET_FEATURES, &v))
		return fail("%s: the vmm does not answer: it hangs on our blocking %s eventfd",
			    f->what, f->block_err ? "err" : "call");
	return 0;
}

/* ---- the attacks ------------------------------------------------------------ */

static void put_desc(struct fe *f, unsigned q, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct vq_desc *d = &f->drv[q].r.desc[i];
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

/* Make `head` available at entry 0 and move the index to idx (1, unless
 * the attack is the index itself). */
static void offer(struct fe *f, unsigned q, uint16_t head, uint16_t idx)
{
	uint16_t *avail = f->drv[q].r.avail;
	avail[2] = htole16(head);
	/* the descriptors and the entry are visible before the index */
	__atomic_store_n(&avail[1], htole16(idx), __ATOMIC_RELEASE);
}

/* Write the bad ring (its index in *q) and make it available: 0, or 1
 * (message printed).  Descriptors the attack does not name stay zero. */
static int attack(struct fe *f, unsigned *q)
{
	const char *m = f->mode, *v = f->variant;
	uint16_t idx = 1;
	*q = VHOST_TX;
	if ((!strcmp(m, "outside") && !strcmp(v, "far")) || !strcmp(m, "block-err")) {
		put_desc(f, VHOST_TX, 0, 1ull << 30, 64, 0, 0);
	} else if (!strcmp(m, "outside") && !strcmp(v, "edge")) {
		/* its last byte is one past the end; one byte less would be fine */
		put_desc(f, VHOST_TX, 0, MEM_SIZE - 63, 64, 0, 0);
	} else if (!strcmp(m, "loop") && !strcmp(v, "self")) {
		put_desc(f, VHOST_TX, 0, TX_BUF, 64, VQ_DESC_F_NEXT, 0);
	} else if (!strcmp(m, "loop") && !strcmp(v, "pair")) {
		put_desc(f, VHOST_TX, 0, TX_BUF, 64, VQ_DESC_F_NEXT, 1);
		put_desc(f, VHOST_TX, 1, TX_BUF + 64, 64, VQ_DESC_F_NEXT, 0);
	} else if (!strcmp(m, "huge") && !strcmp(v, "len")) {
		put_desc(f, VHOST_TX, 0, TX_BUF, 0xffffffffu, 0, 0);
	} else if (!strcmp(m, "huge") && !strcmp(v, "wrap")) {
		/* addr + len is 2048 modulo 2^64: inside memory, to a naive check */
		put_desc(f, VHOST_TX, 0, UINT64_MAX - 2047, 4096, 0, 0);
	} else if (!strcmp(m, "huge") && !strcmp(v, "chain")) {
		/* 128 KiB in two buffers, each inside memory: more than a frame */
		put_desc(f, VHOST_TX, 0, TX_BUF, 65536, VQ_DESC_F_NEXT, 1);
		put_desc(f, VHOST_TX, 1, TX_BUF + 65536, 65536, 0, 0);
	} else if (!strcmp(m, "jump")) {
		/* every entry a valid little frame: only the index is wrong */
		for (uint16_t i = 0; i < NUM; i++) {
			put_desc(f, VHOST_TX, i, TX_BUF + 64u * i, 64, 0, 0);
			f->drv[VHOST_TX].r.avail[2 + i] = htole16(i);
		}
		idx = NUM + 1;
	} else if (!strcmp(m, "block-call")) {
		/* a runt of zeros: the switch drops it, the vmm returns its buffer */
		memset(f->mem + TX_BUF, 0, 12 + 60);
		put_desc(f, VHOST_TX, 0, TX_BUF, 12 + 60, 0, 0);
	} else if (!strcmp(m, "rx-read")) {
		*q = VHOST_RX;
		memset(f->mem + RX_BUF, PATTERN, BUF_SIZE);
		put_desc(f, VHOST_RX, 0, RX_BUF, BUF_SIZE, 0, 0);   /* no WRITE flag */
	} else {
		return fail("%s: no variant %s", m, v);
	}
	offer(f, *q, 0, idx);
	return 0;
}

/* After the err: what the vmm must not have done. */
static int after_break(struct fe *f, unsigned q)
{
	uint16_t used = le16toh(__atomic_load_n(&f->drv[q].r.used[1], __ATOMIC_ACQUIRE));
	if (used != 0)
		return fail("%s: the vmm returned %u chain(s) of the bad %s ring as used", f->what,
			    used, ring_name[q]);
	if (q == VHOST_RX)
		for (unsigned i = 0; i < BUF_SIZE; i++)
			if (f->mem[RX_BUF + i] != PATTERN)
				return fail("rx-read: the vmm wrote into the device-readable buffer "
					    "(byte %u is %#x)", i, f->mem[RX_BUF + i]);
	return 0;
}

/* ---- a good guest: one ping ------------------------------------------------- */

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char end;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6 || strlen(s) != 17)
		return fail("bad MAC address: %s", s);
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int parse_ip(const char *s, uint8_t ip[4])
{
	if (inet_pton(AF_INET, s, ip) != 1)
		return fail("bad IPv4 address: %s", s);
	return 0;
}

/* RFC 1071's sum over len bytes. */
static uint16_t csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

#define ETH 14u
#define IP4 20u
#define ICMP_HDR 8u
#define ICMP_DATA 56u
#define VNET_HDR 12u              /* virtio_net_hdr_v1 */
#define FRAME (VNET_HDR + ETH + IP4 + ICMP_HDR + ICMP_DATA)

struct ping {
	uint8_t src_mac[6], dst_mac[6], src_ip[4], dst_ip[4];
	uint16_t id, seq;
	uint64_t rx_addr[NUM];     /* head -> its buffer's guest address */
};

/* 12 zero bytes of virtio_net_hdr_v1, then Ethernet, IPv4, ICMP echo. */
static size_t echo_request(const struct ping *pg, uint8_t *b)
{
	memset(b, 0, FRAME);
	uint8_t *e = b + VNET_HDR, *ip = e + ETH, *ic = ip + IP4;
	memcpy(e, pg->dst_mac, 6);
	memcpy(e + 6, pg->src_mac, 6);
	put16(e + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, IP4 + ICMP_HDR + ICMP_DATA);
	put16(ip + 4, pg->id);
	put16(ip + 6, 0x4000);   /* DF */
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, pg->src_ip, 4);
	memcpy(ip + 16, pg->dst_ip, 4);
	put16(ip + 10, csum(ip, IP4));
	ic[0] = 8;
	put16(ic + 4, pg->id);
	put16(ic + 6, pg->seq);
	for (unsigned i = 0; i < ICMP_DATA; i++)
		ic[ICMP_HDR + i] = (uint8_t)(0x10 + i);
	put16(ic + 2, csum(ic, ICMP_HDR + ICMP_DATA));
	return FRAME;
}

/* Is this RX buffer (len bytes, header first) our echo's reply? */
static bool is_reply(const struct ping *pg, const uint8_t *b, uint32_t len)
{
	if (len < VNET_HDR + ETH + IP4 + ICMP_HDR)
		return false;
	const uint8_t *e = b + VNET_HDR, *ip = e + ETH;
	if (memcmp(e, pg->src_mac, 6) || memcmp(e + 6, pg->dst_mac, 6) || get16(e + 12) != 0x0800 ||
	    ip[0] != 0x45 || ip[9] != 1 || memcmp(ip + 12, pg->dst_ip, 4) ||
	    memcmp(ip + 16, pg->src_ip, 4) || csum(ip, IP4) != 0)
		return false;
	uint16_t tot = get16(ip + 2);
	if (tot < IP4 + ICMP_HDR || VNET_HDR + ETH + tot > len)
		return false;
	const uint8_t *ic = ip + IP4;
	return ic[0] == 0 && ic[1] == 0 && get16(ic + 4) == pg->id && get16(ic + 6) == pg->seq &&
	       csum(ic, tot - IP4) == 0;
}

static int post_rx(struct fe *f, struct ping *pg, uint64_t addr)
{
	struct vq_seg s = { .addr = addr, .len = BUF_SIZE, .write = true };
	uint16_t head;
	int e = vq_drv_add(&f->drv[VHOST_RX], &s, 1, &head);
	if (e)
		return fail("RX ring: %s", vq_strerror(e));
	pg->rx_addr[head] = addr;
	return 0;
}

static int publish(struct fe *f, unsigned q)
{
	int k = vq_drv_publish(&f->drv[q]);
	if (k < 0)
		return fail("%s ring: %s", ring_name[q], vq_strerror(k));
	return k ? kick(f, q) : 0;
}

/* Buffers before the negotiation, so the ring has room when it starts. */
static int good_prepare(struct fe *f, struct ping *pg)
{
	for (unsigned i = 0; i < RX_BUFS; i++)
		if (post_rx(f, pg, RX_BUF + i * BUF_SIZE))
			return 1;
	return vq_drv_publish(&f->drv[VHOST_RX]) < 0 ? fail("RX ring: publish") : 0;
}

static int good_ping(struct fe *f, struct ping *pg)
{
	size_t len = echo_request(pg, f->mem + TX_BUF);
	struct vq_seg s = { .addr = TX_BUF, .len = (uint32_t)len, .write = false };
	uint16_t tx_head;
	int e = vq_drv_add(&f->drv[VHOST_TX], &s, 1, &tx_head);
	if (e)
		return fail("TX ring: %s", vq_strerror(e));
	if (publish(f, VHOST_TX))
		return 1;
	printf("sent echo request id %u seq %u\n", pg->id, pg->seq);
	bool tx_back = false, replied = false;
	unsigned others = 0;
	int64_t deadline = now_ms() + ERR_TIMEOUT_MS;
	while (!replied || !tx_back) {
		/* reap what is there, then sleep only if nothing slipped in */
		uint16_t ids[NUM];
		uint32_t lens[NUM];
		int n = vq_drv_reap(&f->drv[VHOST_TX], ids, lens, NUM);
		if (n < 0)
			return fail("TX ring: the vmm broke it: %s", vq_strerror(n));
		for (int i = 0; i < n; i++)
			tx_back |= ids[i] == tx_head;
		n = vq_drv_reap(&f->drv[VHOST_RX], ids, lens, NUM);
		if (n < 0)
			return fail("RX ring: the vmm broke it: %s", vq_strerror(n));
		for (int i = 0; i < n; i++) {
			const uint8_t *b = f->mem + pg->rx_addr[ids[i]];
			if (is_reply(pg, b, lens[i])) {
				if (b[10] != 1 || b[11] != 0)
					return fail("the reply's num_buffers is %u, not 1", b[10] | b[11] << 8);
				replied = true;
			} else {
				others++;
			}
			if (post_rx(f, pg, pg->rx_addr[ids[i]]))
				return 1;
		}
		if (n > 0 && publish(f, VHOST_RX))
			return 1;
		if (replied && tx_back)
			break;
		bool rx_more = vq_drv_enable_notify(&f->drv[VHOST_RX]);
		bool tx_more = vq_drv_enable_notify(&f->drv[VHOST_TX]);
		if (rx_more || tx_more)
			continue;
		struct pollfd p[5] = { { .fd = f->call[VHOST_RX], .events = POLLIN },
				       { .fd = f->call[VHOST_TX], .events = POLLIN },
				       { .fd = f->err[VHOST_RX], .events = POLLIN },
				       { .fd = f->err[VHOST_TX], .events = POLLIN },
				       { .fd = f->sock, .events = POLLIN } };
		int r = poll(p, 5, left_ms(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fail("poll: %s", strerror(errno));
		if (r == 0)
			return fail("good: %s within %d s (%u other frames came)",
				    !replied ? "no echo reply" : "the echo request's buffer not returned",
				    ERR_TIMEOUT_MS / 1000, others);
		if (p[2].revents || p[3].revents)
			return fail("good: the vmm signalled the %s ring's err on a well-behaved guest",
				    p[2].revents ? "RX" : "TX");
		if (p[4].revents)
			return fail("good: the vmm closed the connection");
		drain(f->call[VHOST_RX]);
		drain(f->call[VHOST_TX]);
	}
	printf("reply id %u seq %u (%u other frames came)\n", pg->id, pg->seq, others);
	return 0;
}

/* ---- main ------------------------------------------------------------------- */

static int usage(void)
{
	fprintf(stderr,
		"usage: " PROG " SOCKET MODE [ARGS]\n"
		"  outside [far|edge]  loop [self|pair]  huge [len|wrap|chain]  jump  rx-read\n"
		"  good SRC_MAC SRC_IP DST_MAC DST_IP\n"
		"  block-err  block-call\n");
	return 2;
}

static int connect_to(struct fe *f, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return fail("%s: path too long", path);
	memcpy(sa.sun_path, path, strlen(path));
	f->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->sock < 0)
		return fail("socket: %s", strerror(errno));
	if (connect(f->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fail("connect %s: %s", path, strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct fe f = { .sock = -1, .mode = argv[2], .variant = "" };
	static struct ping pg;
	bool good = !strcmp(f.mode, "good");
	if (good) {
		if (argc != 7)
			return usage();
		if (parse_mac(argv[3], pg.src_mac) || parse_ip(argv[4], pg.src_ip) ||
		    parse_mac(argv[5], pg.dst_mac) || parse_ip(argv[6], pg.dst_ip))
			return 2;
		snprintf(f.what, sizeof(f.what), "good");
		pg.id = (uint16_t)getpid();
		pg.seq = 1;
	} else {
		static const char *const dflt[][2] = { { "outside", "far" }, { "loop", "self" },
						       { "huge", "len" }, { "jump", "" },
						       { "rx-read", "" }, { "block-err", "" },
						       { "block-call", "" } };
		bool known = false;
		for (size_t i = 0; i < sizeof(dflt) / sizeof(dflt[0]); i++)
			if (!strcmp(f.mode, dflt[i][0])) {
				known = true;
				f.variant = argc > 3 ? argv[3] : dflt[i][1];
				if (argc > (dflt[i][1][0] ? 4 : 3))
					return usage();
			}
		if (!known)
			return usage();
		snprintf(f.what, sizeof(f.what), "%s%s%s", f.mode, f.variant[0] ? " " : "", f.variant);
		f.block_err = !strcmp(f.mode, "block-err");
		f.block_call = !strcmp(f.mode, "block-call");
	}
	int memfd;
	if (make_memory(&f, &memfd))
		return 1;
	if (good && good_prepare(&f, &pg))
		return 1;
	if (connect_to(&f, argv[1]) || negotiate(&f, memfd))
		return 1;
	if (close(memfd) < 0)   /* the vmm has its own mapping now */
		return fail("close: %s", strerror(errno));
	printf("ready\n");
	if (hold(&f, "ready"))
		return 1;
	if (good) {
		if (good_ping(&f, &pg))
			return 1;
	} else {
		unsigned q;
		if (attack(&f, &q) || kick(&f, q))
			return 1;
		printf("attacked %s\n", ring_name[q]);
		if (f.block_err || f.block_call) {
			if (hold(&f, "attacked") || alive(&f))
				return 1;
			printf("alive\n");
		} else {
			if (wait_err(&f, q) || after_break(&f, q))
				return 1;
			printf("broken %s\n", ring_name[q]);
		}
	}
	if (hold(&f, good ? "reply" : f.block_err || f.block_call ? "alive" : "broken"))
		return 1;
	if (close(f.sock) < 0)
		return fail("close: %s", strerror(errno));
	return 0;
}
