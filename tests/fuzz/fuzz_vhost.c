/*
 * Fuzz lib/vhost with a hostile front-end: a stream of vhost-user messages
 * with fds, run through vhost_msg_parse and vhost_dev_handle, every action
 * carried out against fake fds and real (heap) mappings, as vqnet-vmm would.
 *
 * Input: records, each
 *   ctl     1 byte: bits 0-3 the number of fds (up to 15: too many is a case
 *           too), bit 4 every mmap of this message fails, bit 5 probe
 *           translations afterwards, bit 6 the connection drops afterwards
 *   len     2 bytes, little-endian: the message's length
 *   per fd  2 bytes: its number (bumped to the next one not open, as the
 *           kernel never hands out an open number) and its size in 4 KiB
 *   message len bytes
 *   stop    1 byte: where a ring stops (times 257), for STOP actions
 *   probe   (bit 5) 8 bytes: region, mode, offset u32, length u16
 *
 * Invariants (abort): every fd of a message ends up in exactly one place of
 * the action; no action names an fd that is not open (given and not yet
 * closed), closes one twice, or maps one beyond its size; an unmap names a
 * live mapping exactly; ring parts and translations lie inside live
 * mappings (and ASan checks we may touch them); STOP only for running
 * rings, START only for stopped ones; after the last disconnect no fd and
 * no mapping is left.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vhost.h"

#define FD_LIMIT 256
#define MAPS_MAX (2 * VHOST_MEMORY_MAX_NREGIONS)

struct input {
	const uint8_t *p;
	size_t left;
};

static unsigned take(struct input *in, unsigned bytes)
{
	unsigned v = 0;
	for (unsigned i = 0; i < bytes && in->left; i++, in->left--)
		v |= (unsigned)*in->p++ << (8 * i);
	return v;
}

static void check(bool ok)
{
	if (!ok)
		abort();
}

static struct {
	bool open[FD_LIMIT];
	uint64_t size[FD_LIMIT];
	struct {
		uint8_t *base;
		uint64_t len;
	} map[MAPS_MAX];
	bool running[VHOST_NQUEUES];
	struct vhost_dev d;
} w;

static bool in_maps(const void *p, uint64_t len)
{
	const uint8_t *b = p;
	for (unsigned i = 0; i < MAPS_MAX; i++)
		if (w.map[i].base && b >= w.map[i].base && b < w.map[i].base + w.map[i].len &&
		    len <= (uint64_t)(w.map[i].base + w.map[i].len - b))
			return true;
	return false;
}

static void touch(void *p, uint64_t len)
{
	check(in_maps(p, len));
	memset(p, 0xa5, len);
}

static void fd_close(int fd)
{
	check(fd >= 0 && fd < FD_LIMIT && w.open[fd]);
	w.open[fd] = false;
}

static void *do_map(int fd, uint64_t len, bool fail)
{
	check(fd >= 0 && fd < FD_LIMIT && w.open[fd] && len > 0 && len <= w.size[fd]);
	fd_close(fd);   /* vqnet-vmm closes a memory fd once mapped */
	if (fail)
		return NULL;
	for (unsigned i = 0; i < MAPS_MAX; i++)
		if (!w.map[i].base) {
			w.map[i].base = malloc(len);
			check(w.map[i].base != NULL);
			w.map[i].len = len;
			return w.map[i].base;
		}
	check(false);   /* more live mappings than two tables */
	return NULL;
}

static void do_unmap(void *base, uint64_t len)
{
	for (unsigned i = 0; i < MAPS_MAX; i++)
		if (w.map[i].base && w.map[i].base == base) {
			check(w.map[i].len == len);
			free(w.map[i].base);
			w.map[i].base = NULL;
			return;
		}
	check(false);
}

static void apply(struct vhost_action *a, uint16_t stop_at, bool fail, bool disconnecting)
{
	struct vhost_reply r;
	for (unsigned q = 0; q < VHOST_NQUEUES; q++) {
		const struct vhost_ring_action *ra = &a->ring[q];
		if (ra->ops & VHOST_RING_STOP) {
			check(w.running[q]);
			w.running[q] = false;
			if (!disconnecting)
				check(vhost_dev_ring_stopped(&w.d, q, stop_at, &r) == 0);
		}
		if (ra->ops & VHOST_RING_KICK)
			check(ra->kick_fd == -1 || (ra->kick_fd < FD_LIMIT && w.open[ra->kick_fd]));
		if (ra->ops & VHOST_RING_CALL)
			check(ra->call_fd == -1 || (ra->call_fd < FD_LIMIT && w.open[ra->call_fd]));
		if (ra->ops & VHOST_RING_ERR)
			check(ra->err_fd == -1 || (ra->err_fd < FD_LIMIT && w.open[ra->err_fd]));
	}
	check(a->nclose <= VHOST_CLOSE_MAX && a->nunmap <= VHOST_MEMORY_MAX_NREGIONS &&
	      a->nmap <= VHOST_MEMORY_MAX_NREGIONS);
	for (unsigned i = 0; i < a->nclose; i++)
		fd_close(a->close[i]);
	for (unsigned i = 0; i < a->nunmap; i++)
		do_unmap(a->unmap[i].base, a->unmap[i].len);
	if (a->nmap) {
		check(!disconnecting);
		void *bases[VHOST_MEMORY_MAX_NREGIONS];
		for (unsigned i = 0; i < a->nmap; i++)
			bases[i] = do_map(a->map[i].fd, a->map[i].len, fail);
		struct vhost_action a2;
		vhost_dev_mem_mapped(&w.d, bases, a->nmap, &r, &a2);
		check(a2.nmap == 0);
		apply(&a2, stop_at, fail, false);
	}
	for (unsigned q = 0; q < VHOST_NQUEUES; q++) {
		const struct vhost_ring_action *ra = &a->ring[q];
		if (ra->ops & VHOST_RING_START) {
			check(!w.running[q] && !disconnecting);
			unsigned num = ra->num;
			check(num >= 2 && num <= VHOST_VRING_NUM_MAX && !(num & (num - 1)));
			check(!((uintptr_t)ra->desc & 15) && !((uintptr_t)ra->avail & 1) &&
			      !((uintptr_t)ra->used & 3));
			touch(ra->desc, 16ull * num);
			touch(ra->avail, 6 + 2ull * num);
			touch(ra->used, 6 + 8ull * num);
			w.running[q] = true;
		}
		if (ra->ops & VHOST_RING_ENABLE)
			check(w.running[q]);
	}
}

/* Every fd of the message in exactly one place of the action. */
static void accounted(const struct vhost_msg *m, const struct vhost_action *a)
{
	for (unsigned i = 0; i < m->nfds; i++) {
		unsigned seen = 0;
		for (unsigned k = 0; k < a->nclose; k++)
			seen += a->close[k] == m->fds[i];
		for (unsigned k = 0; k < a->nmap; k++)
			seen += a->map[k].fd == m->fds[i];
		for (unsigned q = 0; q < VHOST_NQUEUES; q++) {
			const struct vhost_ring_action *r = &a->ring[q];
			seen += (r->ops & VHOST_RING_KICK) && r->kick_fd == m->fds[i];
			seen += (r->ops & VHOST_RING_CALL) && r->call_fd == m->fds[i];
			seen += (r->ops & VHOST_RING_ERR) && r->err_fd == m->fds[i];
		}
		check(seen == 1);
	}
}

static void probe(struct input *in)
{
	unsigned region = take(in, 1), mode = take(in, 1);
	uint64_t off = take(in, 4), len = take(in, 2);
	const struct vhost_mem *m = &w.d.mem;
	uint64_t gpa = off;
	if (m->n) {
		const struct vhost_mem_slot *s = &m->r[region % m->n];
		/* near a region's start or its end, or anywhere */
		gpa = (mode & 3) == 0 ? s->gpa + off : (mode & 3) == 1 ? s->gpa + s->size - off : off;
		if (mode & 4)
			gpa = UINT64_MAX - off;
	}
	void *p = vhost_gpa_to_ptr(m, gpa, len);
	if (p)
		touch(p, len);
	if (m->n) {
		const struct vhost_mem_slot *s = &m->r[region % m->n];
		p = vhost_uva_to_ptr(m, (mode & 8) ? s->uva + s->size - off : s->uva + off, len);
		if (p)
			touch(p, len);
	}
}

static void disconnect(void)
{
	struct vhost_action a;
	vhost_dev_disconnect(&w.d, &a);
	apply(&a, 0, false, true);
	for (unsigned q = 0; q < VHOST_NQUEUES; q++)
		w.running[q] = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msgbuf[VHOST_MSG_MAX + 64];
	struct input in = { data, size };
	memset(&w, 0, sizeof(w));
	vhost_dev_init(&w.d);

	for (unsigned steps = 0; in.left && steps < 256; steps++) {
		unsigned ctl = take(&in, 1), len = take(&in, 2);
		unsigned nfds = ctl & 15;
		int fds[16];
		for (unsigned i = 0; i < nfds; i++) {
			unsigned fd = take(&in, 1), pages = take(&in, 1);
			for (unsigned k = 0; k < FD_LIMIT && w.open[fd % FD_LIMIT]; k++)
				fd++;
			fd %= FD_LIMIT;
			check(!w.open[fd]);
			w.open[fd] = true;
			w.size[fd] = (uint64_t)pages * 4096;
			fds[i] = (int)fd;
		}
		if (len > sizeof(msgbuf))
			len = sizeof(msgbuf);
		if (len > in.left)
			len = (unsigned)in.left;
		memcpy(msgbuf, in.p, len);
		in.p += len;
		in.left -= len;
		uint16_t stop_at = (uint16_t)(take(&in, 1) * 257);

		/* as the caller reads a stream: the header says how much follows */
		uint32_t plen;
		struct vhost_msg m;
		if (vhost_msg_header(msgbuf, len, &plen, &m) == 0)
			check(plen <= VHOST_PAYLOAD_MAX);
		int err = vhost_msg_parse(msgbuf, len, fds, nfds, &m);
		if (err) {
			check(err < 0 && m.nfds == 0);
			for (unsigned i = 0; i < nfds; i++)
				fd_close(fds[i]);
		} else {
			check(m.nfds == nfds && nfds <= VHOST_FDS_MAX);
			for (unsigned i = 0; i < nfds; i++)
				m.fd_size[i] = w.size[fds[i]];
			struct vhost_reply r;
			struct vhost_action a;
			err = vhost_dev_handle(&w.d, &m, &r, &a);
			check(err <= 0 && r.len <= sizeof(r.bytes));
			if (err)
				check(a.why[0] != 0);
			accounted(&m, &a);
			apply(&a, stop_at, ctl & 16, false);
		}
		if (ctl & 32)
			probe(&in);
		if (ctl & 64)
			disconnect();
	}
	disconnect();
	for (unsigned fd = 0; fd < FD_LIMIT; fd++)
		check(!w.open[fd]);
	for (unsigned i = 0; i < MAPS_MAX; i++)
		check(!w.map[i].base);
	return 0;
}
