/*
 * Two processes, one link: parent and child map one sealed memfd, ring each
 * other through eventfds, and exchange FRAMES frames of mixed sizes in both
 * directions at once.  Every frame carries a sequence number and a checksum
 * of its payload; the receiver checks both, so a frame lost, duplicated,
 * reordered or corrupted fails the test.
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

static int run_side(void *mem, size_t len, unsigned side, int my_bell, int peer_bell)
{
	const char *who = side ? "child" : "parent";
	struct vq_port p;
	int err = vq_port_attach(&p, mem, len, side);
	if (err)
		return fail(who, vq_strerror(err), 0);

	static uint8_t out[VQ_FRAME_MAX], in[VQ_FRAME_MAX];
	uint64_t sent = 0, got = 0;
	uint32_t out_len = frame_len(0);
	make_frame(out, 0, out_len);
	bool tx_full = false;

	while (sent < FRAMES || got < FRAMES) {
		bool progress = false;

		/* send up to a batch, one publish and at most one kick */
		for (unsigned n = 0; n < BATCH && sent < FRAMES; n++) {
			err = vq_port_send(&p, out, out_len);
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
		err = vq_port_tx_publish(&p);
		if (err < 0)
			return fail(who, vq_strerror(err), sent);
		if (err)
			sys_ring(peer_bell);

		/* receive a batch, check each, give them back together */
		struct vq_frame f[BATCH];
		int n = vq_port_recv(&p, f, BATCH);
		if (n < 0)
			return fail(who, vq_strerror(n), got);
		for (int i = 0; i < n; i++, got++) {
			size_t off = 0;
			for (unsigned k = 0; k < f[i].niov; k++) {
				memcpy(in + off, f[i].iov[k].iov_base, f[i].iov[k].iov_len);
				off += f[i].iov[k].iov_len;
			}
			struct hdr h;
			if (off < sizeof(h))
				return fail(who, "runt frame", got);
			memcpy(&h, in, sizeof(h));
			if (h.seq != got)
				return fail(who, "out of sequence (lost, duplicated or reordered)", got);
			if (h.len != off || h.len != frame_len(got))
				return fail(who, "wrong length", got);
			if (h.csum != checksum(in + sizeof(h), off - sizeof(h)))
				return fail(who, "bad checksum", got);
		}
		if (n > 0) {
			progress = true;
			if ((err = vq_port_recv_done(&p, f, (unsigned)n)) < 0)
				return fail(who, vq_strerror(err), got);
			err = vq_port_rx_publish(&p);
			if (err < 0)
				return fail(who, vq_strerror(err), got);
			if (err)
				sys_ring(peer_bell);
		}
		if (progress)
			continue;

		/* Nothing moved: ask for kicks, re-check, then sleep. */
		bool ready = vq_port_rx_wait(&p);
		if (tx_full)
			ready |= vq_port_tx_wait(&p);
		if (!ready) {
			struct pollfd pfd = { .fd = my_bell, .events = POLLIN };
			int r = poll(&pfd, 1, STALL_MS);
			if (r == 0)
				return fail(who, "stalled: no kick for 20 s", got);
			if (r > 0 && sys_clear(my_bell) < 0)
				return fail(who, "doorbell read failed", got);
		}
		vq_port_rx_nowait(&p);
		vq_port_tx_nowait(&p);
	}
	printf("%s: sent %llu and received %llu frames, all in order and intact\n",
	       who, (unsigned long long)sent, (unsigned long long)got);
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
	if (pid == 0)
		_exit(run_side(mem, len, 1, bell[1], bell[0]));

	int rc = run_side(mem, len, 0, bell[0], bell[1]);
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
