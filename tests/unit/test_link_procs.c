/*
 * Two processes, one link: parent and child map one sealed memfd, ring each
 * other through eventfds, and exchange FRAMES frames of mixed sizes in both
 * directions at once.  Every frame carries a sequence number and a checksum
 * of its payload; the receiver checks both, so a frame lost, duplicated,
 * reordered or corrupted fails the test.
 *
 * Midway each process restarts once, as a killed vmm replaced by a new one
 * would (the child a third of the way in, the parent at two thirds): its
 * port is thrown away with frames in flight both ways, a fresh one joins the
 * region and resets the link with the peer, and the stream goes on.  Frames
 * in flight then are lost (no more than a ring's worth each way), so across
 * a reset, and only there, a receiver may see its sequence skip; never go
 * back, repeat or change.  Both use the link as a vmm does: poll on every
 * doorbell and by the poll's deadline, ring the peer when it says kick.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "link.h"
#include "sys.h"

#define FRAMES 1000000ull
#define BATCH 32u
#define STALL_MS 20000   /* no progress for this long: the test hangs, fail */

struct hdr {
	uint64_t seq;
	uint32_t len;
	uint32_t csum;
};

static int fail(const char *who, const char *what, unsigned long long seq)
{
	fprintf(stderr, "%s: frame %llu: %s\n", who, seq, what);
	return 1;
}

/* Sizes: mostly small, a quarter up to an MTU, one in a hundred up to 64 KiB. */
static uint32_t frame_len(uint64_t seq)
{
	uint64_t x = seq * 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	unsigned kind = (unsigned)(x % 100);
	uint32_t r = (uint32_t)(x >> 32);
	if (kind < 74)
		return 60 + r % 140;
	if (kind < 99)
		return 200 + r % 1315;
	return 1515 + r % (VQ_FRAME_MAX - 1515 + 1);
}

static uint32_t checksum(const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void make_frame(uint8_t *buf, uint64_t seq, uint32_t len)
{
	uint64_t x = seq + 1;
	for (uint32_t i = sizeof(struct hdr); i < len; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	struct hdr h = { seq, len, checksum(buf + sizeof(h), len - sizeof(h)) };
	memcpy(buf, &h, sizeof(h));
}

struct side {
	const char *who;
	unsigned side;
	void *mem;
	size_t len;
	int my_bell, peer_bell;
	struct vq_port p;
	uint64_t deadline;     /* poll by then (0: on doorbells only) */
	unsigned ups;          /* times the link came (back) up */
	uint64_t restarted_at, gap_ns;
};

static int act(struct side *s, const struct vq_poll *r, unsigned long long seq)
{
	if (r->kick)
		sys_ring(s->peer_bell);
	if (r->status == VQ_LINK_DEAD || r->status == VQ_LINK_BROKEN)
		return fail(s->who, vq_strerror(vq_port_error(&s->p)), seq);
	if (r->changed && r->status == VQ_LINK_UP) {
		s->ups++;
		if (s->restarted_at && !s->gap_ns)
			s->gap_ns = sys_now_ns() - s->restarted_at;
	}
	s->deadline = r->deadline;
	return 0;
}

/* The vmm was killed: its port goes, frames in flight with it; a new one
 * joins the region as that side, which resets the link. */
static int restart(struct side *s, unsigned long long seq)
{
	memset(&s->p, 0xa5, sizeof(s->p));
	struct vq_poll r;
	s->restarted_at = sys_now_ns();
	int err = vq_port_join(&s->p, s->mem, s->len, s->side, s->restarted_at, &r);
	if (err)
		return fail(s->who, vq_strerror(err), seq);
	if (r.status != VQ_LINK_RESETTING || !r.kick)
		return fail(s->who, "a restarted side does not reset the link", seq);
	s->ups++;   /* our numbering may skip from here */
	return act(s, &r, seq);
}

static int run_side(struct side *s, uint64_t restart_at)
{
	const char *who = s->who;
	struct vq_poll r;
	int err = vq_port_join(&s->p, s->mem, s->len, s->side, sys_now_ns(), &r);
	if (err)
		return fail(who, vq_strerror(err), 0);
	if (r.status != VQ_LINK_UP)
		return fail(who, "a fresh region needs no reset", 0);

	static uint8_t out[VQ_FRAME_MAX], in[VQ_FRAME_MAX];
	uint64_t sent = 0, next = 0, got = 0, lost = 0;
	unsigned ups_at_last = s->ups;
	uint32_t out_len = frame_len(0);
	make_frame(out, 0, out_len);
	bool tx_full = false, restarted = false;

	while (sent < FRAMES || next < FRAMES) {
		bool progress = false;
		if (restart_at && !restarted && got >= restart_at) {
			restarted = true;
			if (restart(s, next))
				return 1;
		}

		/* send up to a batch, one publish and at most one kick */
		for (unsigned n = 0; vq_port_up(&s->p) && n < BATCH && sent < FRAMES; n++) {
			err = vq_port_send(&s->p, out, out_len);
			if (err == -VQ_ENOSPC) {
				tx_full = true;
				break;
			}
			if (err)
				return fail(who, vq_strerror(err), sent);
			tx_full = false;
			progress = true;
			if (++sent < FRAMES) {
				out_len = frame_len(sent);
				make_frame(out, sent, out_len);
			}
		}
		if (vq_port_up(&s->p)) {
			err = vq_port_tx_publish(&s->p);
			if (err < 0)
				return fail(who, vq_strerror(err), sent);
			if (err)
				sys_ring(s->peer_bell);
		}

		/* receive a batch, check each, give them back together */
		struct vq_frame f[BATCH];
		int n = vq_port_up(&s->p) ? vq_port_recv(&s->p, f, BATCH) : 0;
		if (n < 0)
			return fail(who, vq_strerror(n), next);
		for (int i = 0; i < n; i++, got++) {
			size_t off = 0;
			for (unsigned k = 0; k < f[i].niov; k++) {
				memcpy(in + off, f[i].iov[k].iov_base, f[i].iov[k].iov_len);
				off += f[i].iov[k].iov_len;
			}
			struct hdr h;
			if (off < sizeof(h))
				return fail(who, "runt frame", next);
			memcpy(&h, in, sizeof(h));
			if (h.seq < next)
				return fail(who, "duplicated or reordered", h.seq);
			if (h.seq >= FRAMES)
				return fail(who, "sequence number out of range", h.seq);
			if (h.seq > next && s->ups == ups_at_last)
				return fail(who, "lost without a reset", next);
			if (h.len != off || h.len != frame_len(h.seq))
				return fail(who, "wrong length", h.seq);
			if (h.csum != checksum(in + sizeof(h), off - sizeof(h)))
				return fail(who, "bad checksum", h.seq);
			lost += h.seq - next;
			next = h.seq + 1;
			ups_at_last = s->ups;
		}
		if (n > 0) {
			progress = true;
			if ((err = vq_port_recv_done(&s->p, f, (unsigned)n)) < 0)
				return fail(who, vq_strerror(err), next);
			err = vq_port_rx_publish(&s->p);
			if (err < 0)
				return fail(who, vq_strerror(err), next);
			if (err)
				sys_ring(s->peer_bell);
		}
		if (progress)
			continue;

		/* Nothing moved: ask for kicks, re-check, then sleep until a
		 * doorbell or the reset's deadline; poll after either. */
		bool ready = vq_port_rx_wait(&s->p);
		if (tx_full)
			ready |= vq_port_tx_wait(&s->p);
		if (!ready) {
			int ms = STALL_MS;
			uint64_t now = sys_now_ns();
			if (s->deadline)
				ms = s->deadline > now ? (int)((s->deadline - now) / 1000000 + 1) : 0;
			struct pollfd pfd = { .fd = s->my_bell, .events = POLLIN };
			int rc = poll(&pfd, 1, ms);
			if (rc == 0 && !s->deadline)
				return fail(who, "stalled: no kick for 20 s", next);
			if (rc > 0 && sys_clear(s->my_bell) < 0)
				return fail(who, "doorbell read failed", next);
			vq_port_poll(&s->p, sys_now_ns(), &r);
			if (act(s, &r, next))
				return 1;
		}
		vq_port_rx_nowait(&s->p);
		vq_port_tx_nowait(&s->p);
	}
	const struct vq_reset_stats *st = vq_port_reset_stats(&s->p);
	if (lost > 2 * VQ_LINK_NUM_DEFAULT)
		return fail(who, "lost more than two rings' worth in two resets", lost);
	if (st->violations || st->timeouts)
		return fail(who, "a reset saw a violation or a timeout", next);
	printf("%s: sent %llu and received %llu frames, in order and intact; %llu lost "
	       "in resets (the link came back up %u times; %.1f us from our restart)\n",
	       who, (unsigned long long)sent, (unsigned long long)got,
	       (unsigned long long)lost, s->ups, (double)s->gap_ns / 1000);
	fflush(stdout);   /* the child leaves by _exit */
	return 0;
}

int main(void)
{
	size_t len = vq_link_bytes(VQ_LINK_NUM_DEFAULT, VQ_LINK_CHUNK_DEFAULT);
	int err;
	int fd = sys_memfd_sealed("vqnet-test-link", len);
	if (fd < 0) {
		fprintf(stderr, "memfd: %s\n", strerror(-fd));
		return 1;
	}
	/* the seals hold: the peer cannot shrink the region under our mapping */
	if (ftruncate(fd, (off_t)len / 2) == 0 || errno != EPERM) {
		fprintf(stderr, "sealed memfd could be shrunk\n");
		return 1;
	}
	void *mem = sys_map_sealed(fd, &len, &err);
	if (!mem) {
		fprintf(stderr, "map: %s\n", strerror(-err));
		return 1;
	}
	err = vq_link_format(mem, len, VQ_LINK_NUM_DEFAULT, VQ_LINK_CHUNK_DEFAULT, true);
	if (err) {
		fprintf(stderr, "format: %s\n", vq_strerror(err));
		return 1;
	}
	/* Doorbells here are eventfds, one per side, as a plain virtio
	 * transport would use; vqnet's vmms use pipes (sys_bell): the ring
	 * does not care, and sys_ring/sys_clear serve both. */
	int bell[2] = { eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
			eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) };
	if (bell[0] < 0 || bell[1] < 0) {
		perror("eventfd");
		return 1;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		static struct side child = { .who = "child", .side = 1 };
		child.mem = mem, child.len = len, child.my_bell = bell[1], child.peer_bell = bell[0];
		_exit(run_side(&child, FRAMES / 3));
	}
	static struct side parent = { .who = "parent", .side = 0 };
	parent.mem = mem, parent.len = len, parent.my_bell = bell[0], parent.peer_bell = bell[1];
	int rc = run_side(&parent, 2 * FRAMES / 3);
	if (rc)
		kill(pid, SIGKILL);
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "child failed (status %#x)\n", status);
		rc = 1;
	}
	munmap(mem, len);
	close(fd);
	return rc;
}
