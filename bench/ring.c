/*
 * bench/ring - one-way frame rate between two processes: a vqnet link
 * (sealed memfd, two virtqueues, pipe doorbells) against an AF_UNIX
 * SOCK_SEQPACKET socketpair doing the same work, in the same run.
 *
 * For each frame size and batch size the producer sends FRAMES frames; the
 * consumer copies each frame out (a socket's recv copies too) and times
 * from its first frame to its last.  Batch 32 means 32 frames per publish
 * and kick decision on the link, and sendmmsg/recvmmsg of 32 on the socket.
 *
 * usage: vq_ring_bench [--frames N]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "link.h"
#include "sys.h"

#define MAXBATCH 32u

static unsigned long long frames = 1000000;

static void die(const char *what, int err)
{
	fprintf(stderr, "vq_ring_bench: %s: %s\n", what, err > 0 ? strerror(err) : vq_strerror(err));
	exit(1);
}

/* Sleep on a doorbell (bounded: a lost kick must not hang the bench). */
static void wait_bell(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, 10000) == 0)
		die("stalled", ETIMEDOUT);
	sys_clear(fd);
}

static void vq_produce(struct vq_port *p, int peer_bell, int my_bell,
		       size_t size, unsigned batch)
{
	static uint8_t frame[VQ_FRAME_MAX];
	memset(frame, 0xab, size);
	unsigned long long sent = 0;
	while (sent < frames) {
		unsigned n = 0;
		while (n < batch && sent < frames) {
			int err = vq_port_send(p, frame, size);
			if (err == -VQ_ENOSPC)
				break;
			if (err)
				die("send", err);
			n++, sent++;
		}
		int kick = vq_port_tx_publish(p);
		if (kick < 0)
			die("publish", kick);
		if (kick)
			sys_ring(peer_bell);
		if (n == 0 && !vq_port_tx_wait(p)) {
			wait_bell(my_bell);
			vq_port_tx_nowait(p);
		}
	}
}

static uint64_t vq_consume(struct vq_port *p, int peer_bell, int my_bell,
			   unsigned batch)
{
	static uint8_t buf[VQ_FRAME_MAX];
	struct vq_frame f[MAXBATCH];
	unsigned long long got = 0;
	uint64_t t0 = 0;
	while (got < frames) {
		int n = vq_port_recv(p, f, batch);
		if (n < 0)
			die("recv", n);
		if (n == 0) {
			if (!vq_port_rx_wait(p))
				wait_bell(my_bell);
			vq_port_rx_nowait(p);
			continue;
		}
		if (!t0)
			t0 = sys_now_ns();
		for (int i = 0; i < n; i++) {
			size_t off = 0;
			for (unsigned k = 0; k < f[i].niov; k++) {
				memcpy(buf + off, f[i].iov[k].iov_base, f[i].iov[k].iov_len);
				off += f[i].iov[k].iov_len;
			}
		}
		got += (unsigned)n;
		vq_port_recv_done(p, f, (unsigned)n);
		int kick = vq_port_rx_publish(p);
		if (kick < 0)
			die("publish", kick);
		if (kick)
			sys_ring(peer_bell);
	}
	return sys_now_ns() - t0;
}

static void sock_produce(int fd, size_t size, unsigned batch)
{
	static uint8_t frame[VQ_FRAME_MAX];
	memset(frame, 0xab, size);
	struct iovec iov = { frame, size };
	struct mmsghdr m[MAXBATCH];
	for (unsigned i = 0; i < batch; i++)
		m[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1 } };
	unsigned long long sent = 0;
	while (sent < frames) {
		unsigned n = frames - sent < batch ? (unsigned)(frames - sent) : batch;
		int r = batch == 1 ? (int)(send(fd, frame, size, 0) == (ssize_t)size)
				   : sendmmsg(fd, m, n, 0);
		if (r <= 0)
			die("send", errno);
		sent += (unsigned)r;
	}
}

static uint64_t sock_consume(int fd, unsigned batch)
{
	static uint8_t buf[MAXBATCH][2048];
	struct iovec iov[MAXBATCH];
	struct mmsghdr m[MAXBATCH];
	for (unsigned i = 0; i < batch; i++) {
		iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
		m[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	unsigned long long got = 0;
	uint64_t t0 = 0;
	while (got < frames) {
		int r = batch == 1 ? (int)(recv(fd, buf[0], sizeof(buf[0]), 0) > 0)
				   : recvmmsg(fd, m, batch, 0, NULL);
		if (r <= 0)
			die("recv", errno);
		if (!t0)
			t0 = sys_now_ns();
		got += (unsigned)r;
	}
	return sys_now_ns() - t0;
}

/* Run producer and consumer as two processes; returns the consumer's ns. */
static uint64_t run(bool vq, size_t size, unsigned batch)
{
	int res[2];
	if (pipe(res) < 0)
		die("pipe", errno);
	int sv[2] = { -1, -1 }, bell[2][2] = { { -1, -1 }, { -1, -1 } }, mfd = -1;
	size_t len = vq_link_bytes(VQ_LINK_NUM_DEFAULT, VQ_LINK_CHUNK_DEFAULT);
	if (vq) {
		mfd = sys_memfd_sealed("vq-ring-bench", len);
		if (mfd < 0 || sys_bell(bell[0]) || sys_bell(bell[1]))
			die("memfd/doorbells", mfd < 0 ? -mfd : errno);
		int err;
		void *mem = sys_map_sealed(mfd, &len, &err);
		if (!mem)
			die("mmap", -err);
		if ((err = vq_link_format(mem, len, VQ_LINK_NUM_DEFAULT, VQ_LINK_CHUNK_DEFAULT, true)))
			die("format", err);
		munmap(mem, len);
	} else if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		die("socketpair", errno);
	}

	pid_t pid[2];
	for (int side = 0; side < 2; side++) {
		pid[side] = fork();
		if (pid[side] < 0)
			die("fork", errno);
		if (pid[side])
			continue;
		uint64_t ns = 0;
		if (vq) {
			int err;
			void *mem = sys_map_sealed(mfd, &len, &err);
			struct vq_port p;
			if (!mem)
				die("mmap", -err);
			if ((err = vq_port_attach(&p, mem, len, (unsigned)side)))
				die("attach", err);
			if (side == 0)
				vq_produce(&p, bell[1][1], bell[0][0], size, batch);
			else
				ns = vq_consume(&p, bell[0][1], bell[1][0], batch);
		} else if (side == 0) {
			sock_produce(sv[0], size, batch);
		} else {
			ns = sock_consume(sv[1], batch);
		}
		if (side == 1 && write(res[1], &ns, sizeof(ns)) != sizeof(ns))
			_exit(1);
		_exit(0);
	}
	uint64_t ns = 0;
	if (read(res[0], &ns, sizeof(ns)) != sizeof(ns))
		die("consumer failed", EIO);
	for (int side = 0; side < 2; side++) {
		int st;
		waitpid(pid[side], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			die("child failed", EIO);
	}
	int fds[] = { res[0], res[1], sv[0], sv[1], bell[0][0], bell[0][1],
		      bell[1][0], bell[1][1], mfd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return ns;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--frames") && i + 1 < argc) {
			char *end;
			errno = 0;
			frames = strtoull(argv[++i], &end, 10);
			if (errno || *end || frames == 0 || frames > 1000000000ull) {
				fprintf(stderr, "vq_ring_bench: bad --frames \"%s\"\n", argv[i]);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: vq_ring_bench [--frames N]   (default 1000000)\n");
			return strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? 2 : 0;
		}
	}
	printf("One-way frames between two processes, %llu frames per cell\n", frames);
	printf("(vqnet link: %zu-byte sealed memfd, %u x %u B chunks per direction, pipe doorbells)\n\n",
	       vq_link_bytes(VQ_LINK_NUM_DEFAULT, VQ_LINK_CHUNK_DEFAULT),
	       VQ_LINK_NUM_DEFAULT, VQ_LINK_CHUNK_DEFAULT);
	printf("%6s %6s | %12s %9s | %12s %9s | %7s\n", "size", "batch",
	       "link fr/s", "ns/frame", "sock fr/s", "ns/frame", "ratio");
	printf("--------------+------------------------+------------------------+--------\n");
	const size_t sizes[] = { 64, 1500 };
	const unsigned batches[] = { 1, 32 };
	for (int s = 0; s < 2; s++) {
		for (int b = 0; b < 2; b++) {
			double vq = (double)run(true, sizes[s], batches[b]);
			double so = (double)run(false, sizes[s], batches[b]);
			double vq_rate = (double)frames * 1e9 / vq, so_rate = (double)frames * 1e9 / so;
			printf("%6zu %6u | %12.0f %9.1f | %12.0f %9.1f | %6.2fx\n",
			       sizes[s], batches[b], vq_rate, vq / (double)frames,
			       so_rate, so / (double)frames, vq_rate / so_rate);
			fflush(stdout);
		}
	}
	return 0;
}
