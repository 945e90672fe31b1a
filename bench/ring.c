/*
 * bench/ring - one-way frame rate between two processes: a vqnet link
 * (sealed memfd, two virtqueues, pipe doorbells) against an AF_UNIX
 * SOCK_SEQPACKET socketpair doing the same work, in the same run.
 *
 * For each frame size and batch size the producer sends FRAMES frames; the
 * consumer copies each frame out (a socket's recv copies too) and times
 * from its first frame to its last.  Batch 32 means 32 frames per publish
 * and kick decision on the link, and sendmmsg/recvmmsg of 32 on the socket.
 * A link consumer that finds the ring empty polls it for up to --spin-us
 * before it asks for a kick and sleeps, yielding the CPU between looks, as
 * the vmm does ([lab] poll, 50 us by default): one that sleeps at once
 * pays a wake-up for every batch it catches up on, which made batch 32
 * slower than batch 1 across CPUs.  --spin-us 0 shows that.
 *
 * Where the two processes run decides the result, so each table is for one
 * placement, both processes pinned (sched_setaffinity): "same", both on one
 * CPU (each sleep hands the CPU to the other side, and a batch is whatever
 * one time slice fills), and "cross", one on each of two CPUs (every
 * wake-up is an inter-processor interrupt, and every ring index a cache
 * line moving between CPUs).  csw/kfr counts both processes' voluntary
 * context switches (getrusage: sleeps on a doorbell, or in recv/send) per
 * thousand frames (a yield that lets the peer run is not one).
 *
 * Then a latency table: round trips of one 64-byte frame (ping-pong) on a
 * link whose receivers sleep on the doorbell at once, on the same link with
 * receivers polling the ring for up to --spin-us first, as the vmm does
 * (what polling buys, and what it costs on a shared CPU), and on the
 * socketpair.
 *
 * usage: vq_ring_bench [--frames N] [--rounds N] [--cpus same|cross|both]
 *                      [--size N] [--batch N] [--link-only] [--rtts N]
 *                      [--spin-us N] [--throughput-only | --latency-only]
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "link.h"
#include "sys.h"

#define MAXBATCH 32u

static unsigned long long frames = 1000000;
static unsigned long long rtts = 20000;

/* What each process tells the parent when it is done. */
struct result {
	int side;
	uint64_t ns;        /* the consumer's time, first frame to last (ping-pong: side 0's) */
	uint64_t csw;       /* voluntary context switches */
};

static void die(const char *what, int err)
{
	fprintf(stderr, "vq_ring_bench: %s: %s\n", what, err > 0 ? strerror(err) : vq_strerror(err));
	exit(1);
}

/* Run on one CPU only (cpu < 0: wherever the scheduler likes). */
static void pin(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		die("sched_setaffinity", errno);
}

/* Sleep on a doorbell (bounded: a lost kick must not hang the bench). */
static void wait_bell(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, 10000) == 0)
		die("stalled", ETIMEDOUT);
	sys_clear(fd);
}

/* Nothing to do: keep polling (true) until spin_ns have passed since
 * *idle_since (0: idle from now), then sleep (false).  Between looks the
 * CPU goes to anyone who wants it, as in the vmm's poll_events: a peer on
 * this CPU runs, an idle CPU keeps looking. */
static bool keep_polling(uint64_t *idle_since, uint64_t spin_ns)
{
	if (!spin_ns)
		return false;
	uint64_t now = sys_now_ns();
	if (!*idle_since)
		*idle_since = now;
	sched_yield();
	return now - *idle_since < spin_ns;
}

/* A producer that finds the ring full takes room the consumer has already
 * returned, or else sleeps until it has returned 3/4 of the ring
 * (tx_wait_room).  It does not poll: that pulls the used ring's cache
 * lines away from the consumer that writes them (at 1500 B in batches of
 * 32 the rate swung from 6 M to 1.5 M frames/s across CPUs).  Nor does it
 * ask for a kick at the first returned chunk: on a shared CPU that wakes
 * it for every batch (2 M frames/s instead of 13 M). */
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
		if (n == 0 && !vq_port_tx_wait_room(p)) {
			wait_bell(my_bell);
			vq_port_tx_nowait(p);
		}
	}
}

static uint64_t vq_consume(struct vq_port *p, int peer_bell, int my_bell,
			   unsigned batch, uint64_t spin_ns)
{
	static uint8_t buf[VQ_FRAME_MAX];
	struct vq_frame f[MAXBATCH];
	unsigned long long got = 0;
	uint64_t t0 = 0, idle = 0;
	while (got < frames) {
		int n = vq_port_recv(p, f, batch);
		if (n < 0)
			die("recv", n);
		if (n == 0) {
			if (keep_polling(&idle, spin_ns))
				continue;
			if (!vq_port_rx_wait(p))
				wait_bell(my_bell);
			vq_port_rx_nowait(p);
			idle = 0;
			continue;
		}
		idle = 0;
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
	static uint8_t buf[MAXBATCH][VQ_FRAME_MAX];
	struct iovec iov[MAXBATCH];
	struct mmsghdr m[MAXBATCH];
	for (unsigned i = 0; i < batch; i++) {
		iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
		m[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	unsigned long long got = 0;
	uint64_t t0 = 0;
	while (got < frames) {
		/* a blocking recvmmsg waits for all it asks for: never more
		 * than are still to come */
		unsigned want = frames - got < batch ? (unsigned)(frames - got) : batch;
		int r = batch == 1 ? (int)(recv(fd, buf[0], sizeof(buf[0]), 0) > 0)
				   : recvmmsg(fd, m, want, 0, NULL);
		if (r <= 0)
			die("recv", errno);
		if (!t0)
			t0 = sys_now_ns();
		got += (unsigned)r;
	}
	return sys_now_ns() - t0;
}

/* ---- latency: one 64-byte frame back and forth --------------------------- */

static void vq_send_one(struct vq_port *p, int peer_bell, const uint8_t *frame)
{
	int err = vq_port_send(p, frame, 64);
	if (err)
		die("send", err);
	int kick = vq_port_tx_publish(p);
	if (kick < 0)
		die("publish", kick);
	if (kick)
		sys_ring(peer_bell);
}

/* Wait for one frame: first polling the ring for up to spin_ns without
 * asking for a kick (so the sender makes no system call either), then
 * asking for one and sleeping on the doorbell. */
static void vq_recv_one(struct vq_port *p, int peer_bell, int my_bell, uint64_t spin_ns)
{
	static uint8_t buf[VQ_FRAME_MAX];
	struct vq_frame f;
	uint64_t idle = 0;
	for (;;) {
		int n = vq_port_recv(p, &f, 1);
		if (n < 0)
			die("recv", n);
		if (n)
			break;
		if (keep_polling(&idle, spin_ns))
			continue;
		if (!vq_port_rx_wait(p))
			wait_bell(my_bell);
		vq_port_rx_nowait(p);
		idle = 0;
	}
	memcpy(buf, f.iov[0].iov_base, f.iov[0].iov_len);
	vq_port_recv_done(p, &f, 1);
	int kick = vq_port_rx_publish(p);
	if (kick < 0)
		die("publish", kick);
	if (kick)
		sys_ring(peer_bell);
}

/* rtts round trips; side 0 starts each and returns the time they took. */
static uint64_t vq_pingpong(struct vq_port *p, int peer_bell, int my_bell, int side,
			    uint64_t spin_ns)
{
	static uint8_t frame[64];
	memset(frame, 0xab, sizeof(frame));
	vq_port_rx_nowait(p);
	uint64_t t0 = sys_now_ns();
	for (unsigned long long i = 0; i < rtts; i++) {
		if (side == 0)
			vq_send_one(p, peer_bell, frame);
		vq_recv_one(p, peer_bell, my_bell, spin_ns);
		if (side == 1)
			vq_send_one(p, peer_bell, frame);
	}
	return sys_now_ns() - t0;
}

static uint64_t sock_pingpong(int fd, int side)
{
	static uint8_t buf[2048];
	memset(buf, 0xab, 64);
	uint64_t t0 = sys_now_ns();
	for (unsigned long long i = 0; i < rtts; i++) {
		if (side == 0 && send(fd, buf, 64, 0) != 64)
			die("send", errno);
		if (recv(fd, buf, sizeof(buf), 0) <= 0)
			die("recv", errno);
		if (side == 1 && send(fd, buf, 64, 0) != 64)
			die("send", errno);
	}
	return sys_now_ns() - t0;
}

/* Run producer and consumer as two processes, the producer on cpu[0] and
 * the consumer on cpu[1], a link's consumer polling up to spin_ns before
 * it sleeps; returns the consumer's ns, and in *csw both processes' voluntary
 * context switches.  With pingpong the two play ping-pong instead (rtts
 * round trips of 64 bytes), and it returns side 0's ns. */
static uint64_t run(bool vq, size_t size, unsigned batch, const int cpu[2], uint64_t *csw,
		    bool pingpong, uint64_t spin_ns)
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
		pin(cpu[side]);
		struct rusage ru0, ru1;
		getrusage(RUSAGE_SELF, &ru0);
		uint64_t ns = 0;
		if (vq) {
			int err;
			void *mem = sys_map_sealed(mfd, &len, &err);
			struct vq_port p;
			if (!mem)
				die("mmap", -err);
			if ((err = vq_port_attach(&p, mem, len, (unsigned)side)))
				die("attach", err);
			if (pingpong)
				ns = vq_pingpong(&p, bell[side ^ 1][1], bell[side][0], side, spin_ns);
			else if (side == 0)
				vq_produce(&p, bell[1][1], bell[0][0], size, batch);
			else
				ns = vq_consume(&p, bell[0][1], bell[1][0], batch, spin_ns);
		} else if (pingpong) {
			ns = sock_pingpong(sv[side], side);
		} else if (side == 0) {
			sock_produce(sv[0], size, batch);
		} else {
			ns = sock_consume(sv[1], batch);
		}
		getrusage(RUSAGE_SELF, &ru1);
		struct result r = { .side = side, .ns = ns,
				    .csw = (uint64_t)(ru1.ru_nvcsw - ru0.ru_nvcsw) };
		/* smaller than PIPE_BUF: the two writes do not mix */
		if (write(res[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	/* a child that dies without a word: EOF, not a hang */
	close(res[1]);
	res[1] = -1;
	uint64_t ns = 0;
	*csw = 0;
	for (int i = 0; i < 2; i++) {
		struct result r;
		if (read(res[0], &r, sizeof(r)) != sizeof(r))
			die("producer or consumer failed", EIO);
		if (r.side == (pingpong ? 0 : 1))
			ns = r.ns;
		*csw += r.csw;
	}
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

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The median of rounds runs of one cell (time, and its context switches). */
static uint64_t median_run(bool vq, size_t size, unsigned batch, const int cpu[2],
			   unsigned rounds, uint64_t *csw, bool pingpong, uint64_t spin_ns)
{
	uint64_t ns[16], sw[16];
	for (unsigned r = 0; r < rounds; r++)
		ns[r] = run(vq, size, batch, cpu, &sw[r], pingpong, spin_ns);
	qsort(ns, rounds, sizeof(ns[0]), cmp_u64);
	qsort(sw, rounds, sizeof(sw[0]), cmp_u64);
	*csw = sw[rounds / 2];
	return ns[rounds / 2];
}

static unsigned long parse_ul(const char *s, unsigned long min, unsigned long max, const char *opt)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || end == s || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "vq_ring_bench: bad %s \"%s\"\n", opt, s);
		exit(2);
	}
	return v;
}

static void usage(FILE *to)
{
	fprintf(to, "usage: vq_ring_bench [--frames N] [--rounds N] [--cpus same|cross|both]\n"
		    "                     [--size N] [--batch N] [--link-only]\n"
		    "                     [--rtts N] [--spin-us N] [--throughput-only | --latency-only]\n"
		    "  defaults: 1000000 frames, median of 3 rounds, both placements,\n"
		    "  sizes 64 and 1500, batches 1 and 32, link and socketpair;\n"
		    "  link receivers poll the ring up to --spin-us (50) before they sleep, as the\n"
		    "  vmm does (0: sleep at once); latency: 20000 round trips, receivers sleeping\n"
		    "  at once and polling --spin-us first\n");
}

int main(int argc, char **argv)
{
	unsigned long only_size = 0, only_batch = 0, rounds = 3, spin_us = 50;
	bool same = true, cross = true, sock = true, tput = true, lat = true;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--frames") && v) {
			frames = parse_ul(argv[++i], 1, 1000000000ul, a);
		} else if (!strcmp(a, "--rounds") && v) {
			rounds = parse_ul(argv[++i], 1, 15, a);
		} else if (!strcmp(a, "--size") && v) {
			only_size = parse_ul(argv[++i], 1, 65536, a);   /* <= VQ_FRAME_MAX */
		} else if (!strcmp(a, "--batch") && v) {
			only_batch = parse_ul(argv[++i], 1, MAXBATCH, a);
		} else if (!strcmp(a, "--cpus") && v) {
			v = argv[++i];
			same = !strcmp(v, "same") || !strcmp(v, "both");
			cross = !strcmp(v, "cross") || !strcmp(v, "both");
			if (!same && !cross) {
				fprintf(stderr, "vq_ring_bench: bad --cpus \"%s\" (same, cross or both)\n", v);
				return 2;
			}
		} else if (!strcmp(a, "--rtts") && v) {
			rtts = parse_ul(argv[++i], 1, 100000000ul, a);
		} else if (!strcmp(a, "--spin-us") && v) {
			spin_us = parse_ul(argv[++i], 0, 1000000ul, a);
		} else if (!strcmp(a, "--link-only")) {
			sock = false;
		} else if (!strcmp(a, "--throughput-only")) {
			lat = false;
		} else if (!strcmp(a, "--latency-only")) {
			tput = false;
		} else {
			usage(strcmp(a, "--help") && strcmp(a, "-h") ? stderr : stdout);
			return strcmp(a, "--help") && strcmp(a, "-h") ? 2 : 0;
		}
	}
	/* the first two CPUs we may run on */
	cpu_set_t allowed;
	int cpus[2] = { -1, -1 }, ncpu = 0;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		die("sched_getaffinity", errno);
	for (int c = 0; c < CPU_SETSIZE && ncpu < 2; c++)
		if (CPU_ISSET(c, &allowed))
			cpus[ncpu++] = c;
	if (cross && ncpu < 2) {
		fprintf(stderr, "vq_ring_bench: one CPU only: no cross-CPU table\n");
		cross = false;
	}
	uint64_t spin_ns = (uint64_t)spin_us * 1000;

	printf("One-way frames between two processes, %llu frames per cell, median of %lu rounds\n",
	       frames, rounds);
	printf("(vqnet link: %zu-byte sealed memfd, %u x %u B chunks per direction, pipe doorbells;\n"
	       " socket: AF_UNIX SOCK_SEQPACKET socketpair; csw/kfr: voluntary context switches\n"
	       " of both processes per 1000 frames; a link consumer finding the ring empty\n"
	       " polls it for up to %lu us before it sleeps, as the vmm does)\n",
	       vq_link_bytes(VQ_LINK_NUM_DEFAULT, VQ_LINK_CHUNK_DEFAULT),
	       VQ_LINK_NUM_DEFAULT, VQ_LINK_CHUNK_DEFAULT, spin_us);
	/* --size and --batch replace the defaults' lists */
	size_t sizes[] = { 64, 1500 };
	unsigned batches[] = { 1, 32 };
	int n_sizes = 2, n_batches = 2;
	if (only_size)
		sizes[0] = only_size, n_sizes = 1;
	if (only_batch)
		batches[0] = (unsigned)only_batch, n_batches = 1;
	for (int place = 0; place < 2 && tput; place++) {
		if (!(place ? cross : same))
			continue;
		/* producer, consumer */
		int cpu[2] = { cpus[0], place ? cpus[1] : cpus[0] };
		if (place)
			printf("\ncross-CPU: producer on CPU %d, consumer on CPU %d\n", cpu[0], cpu[1]);
		else
			printf("\nsame CPU: producer and consumer both on CPU %d\n", cpu[0]);
		printf("%6s %6s | %11s %8s %7s | %11s %8s %7s | %7s\n", "size", "batch",
		       "link fr/s", "ns/fr", "csw/kfr", "sock fr/s", "ns/fr", "csw/kfr", "ratio");
		printf("--------------+------------------------------+------------------------------+--------\n");
		for (int s = 0; s < n_sizes; s++) {
			for (int b = 0; b < n_batches; b++) {
				uint64_t vsw, ssw = 0;
				double vq = (double)median_run(true, sizes[s], batches[b], cpu,
							       (unsigned)rounds, &vsw, false, spin_ns);
				double so = sock ? (double)median_run(false, sizes[s], batches[b],
								      cpu, (unsigned)rounds, &ssw, false, 0)
						 : 0;
				double vq_rate = (double)frames * 1e9 / vq;
				double so_rate = sock ? (double)frames * 1e9 / so : 0;
				printf("%6zu %6u | %11.0f %8.1f %7.1f", sizes[s], batches[b], vq_rate,
				       vq / (double)frames, (double)vsw * 1000.0 / (double)frames);
				if (sock)
					printf(" | %11.0f %8.1f %7.1f | %6.2fx\n", so_rate,
					       so / (double)frames, (double)ssw * 1000.0 / (double)frames,
					       vq_rate / so_rate);
				else
					printf(" |\n");
				fflush(stdout);
			}
		}
	}
	if (!lat)
		return 0;
	printf("\nRound trip of one 64 B frame, %llu round trips, median of %lu rounds: a link whose\n"
	       "receivers sleep on the doorbell at once, the same polling the ring for up to %lu us\n"
	       "first (as the vmm does), and the socketpair (blocking recv)\n", rtts, rounds, spin_us);
	printf("%-10s | %10s %7s | %10s %7s | %10s %7s\n", "placement", "link us", "csw/rt",
	       "poll us", "csw/rt", "sock us", "csw/rt");
	printf("-----------+--------------------+--------------------+-------------------\n");
	for (int place = 0; place < 2; place++) {
		if (!(place ? cross : same))
			continue;
		int cpu[2] = { cpus[0], place ? cpus[1] : cpus[0] };
		uint64_t spins[3] = { 0, spin_ns, 0 };
		printf("%-10s", place ? "cross-CPU" : "same CPU");
		for (int k = 0; k < 3; k++) {
			uint64_t sw;
			if (k == 2 && !sock)
				break;
			double ns = (double)median_run(k < 2, 64, 1, cpu, (unsigned)rounds, &sw, true, spins[k]);
			printf(" | %10.2f %7.2f", ns / (double)rtts / 1000.0, (double)sw / (double)rtts);
			fflush(stdout);
		}
		printf("\n");
	}
	return 0;
}
