/* SPDX-License-Identifier: MIT */
/*
 * bench/xdpfwd - a datapath that is not a TAP: one process, one thread,
 * copying frames between two veth devices through AF_XDP sockets.
 *
 * Each guest's eth0 is one end of a veth pair whose other end (IF_A, IF_B)
 * lives in the namespace the forwarder runs in.  On each of those an XDP
 * program (six instructions, loaded here with bpf(2), attached in driver
 * mode with a BPF link that goes when we exit) redirects every frame to an
 * AF_XDP socket in copy mode; the forwarder takes a batch from one
 * socket's RX ring, copies each frame into the other's UMEM, puts it on
 * that socket's TX ring and kicks it with one sendto.  No system call per
 * frame, but no offloads either: AF_XDP carries no checksum state, so the
 * guests' eth0 compute their checksums themselves (tx checksum offload
 * turned off with SIOCETHTOOL, and with it TSO: TCP crosses in frames of
 * the MTU, not 64 KiB segments).
 *
 * usage: vq_xdpfwd [--seconds N] [--ifname NAME] IF_A NETNS_A IF_B NETNS_B
 *
 * NAME (default eth0) is the guests' end in NETNS_A and NETNS_B.  Runs
 * until SIGINT or SIGTERM, or for --seconds (default 3600), then prints
 * what it forwarded each way on stdout.
 */
#include "fwd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

#define NFRAMES 4096u   /* per UMEM: half for the fill ring, half for TX */
#define FSIZE 2048u     /* one frame of up to the MTU */
#define RSIZE 2048u     /* entries in each of the four rings */
#define BATCH 64u

struct ring {
	_Atomic uint32_t *prod, *cons;
	void *desc;
};

struct side {
	const char *ifname;
	int fd;
	uint8_t *umem;
	struct ring rx, tx, fill, comp;
	uint64_t free[NFRAMES / 2];   /* our frames not on the TX ring */
	unsigned nfree;
	unsigned long long frames, bytes, drops;
};

static int sys_bpf(int cmd, union bpf_attr *a)
{
	return (int)syscall(__NR_bpf, cmd, a, sizeof(*a));
}

/* Turn off tx checksum offload (TSO goes with it) on ifname in netns ns. */
static void no_csum_offload(const char *ns, const char *ifname, int home)
{
	fwd_enter(ns);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		fwd_die("socket in", ns, errno);
	struct ethtool_value v = { .cmd = ETHTOOL_STXCSUM, .data = 0 };
	struct ifreq ifr;
	fwd_ifreq(&ifr, ifname);
	ifr.ifr_data = (void *)&v;
	if (ioctl(s, SIOCETHTOOL, &ifr) < 0)
		fwd_die("ETHTOOL_STXCSUM in", ns, errno);
	close(s);
	fwd_home(home);
}

/* XDP: return bpf_redirect_map(&xsks, 0, XDP_PASS); a veth has one queue. */
static int load_redirect(int map)
{
	struct bpf_insn prog[] = {
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_PSEUDO_MAP_FD, .imm = map },
		{ .code = 0 },   /* the second half of the 64-bit load */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_3, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_redirect_map },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	static char log[4096];
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uint64_t)(uintptr_t)prog;
	a.insn_cnt = sizeof(prog) / sizeof(prog[0]);
	a.license = (uint64_t)(uintptr_t)"GPL";
	a.log_buf = (uint64_t)(uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	int fd = sys_bpf(BPF_PROG_LOAD, &a);
	if (fd < 0) {
		int err = errno;
		fprintf(stderr, "%s", log);
		fwd_die("loading the XDP program", NULL, err);
	}
	return fd;
}

static void map_ring(struct side *s, off_t pgoff, const struct xdp_ring_offset *o, size_t esz,
		     struct ring *r)
{
	size_t len = o->desc + RSIZE * esz;
	uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, s->fd, pgoff);
	if (m == MAP_FAILED)
		fwd_die("mmap a ring of", s->ifname, errno);
	r->prod = (_Atomic uint32_t *)(void *)(m + o->producer);
	r->cons = (_Atomic uint32_t *)(void *)(m + o->consumer);
	r->desc = m + o->desc;
}

static void side_open(struct side *s)
{
	unsigned ifindex = if_nametoindex(s->ifname);
	if (!ifindex)
		fwd_die("no interface", s->ifname, errno);
	s->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		fwd_die("socket(AF_XDP) for", s->ifname, errno);
	size_t len = (size_t)NFRAMES * FSIZE;
	s->umem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		       -1, 0);
	if (s->umem == MAP_FAILED)
		fwd_die("mmap the UMEM of", s->ifname, errno);
	struct xdp_umem_reg reg = { .addr = (uint64_t)(uintptr_t)s->umem, .len = len,
				    .chunk_size = FSIZE };
	int n = RSIZE;
	if (setsockopt(s->fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) < 0 ||
	    setsockopt(s->fd, SOL_XDP, XDP_UMEM_FILL_RING, &n, sizeof(n)) < 0 ||
	    setsockopt(s->fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &n, sizeof(n)) < 0 ||
	    setsockopt(s->fd, SOL_XDP, XDP_RX_RING, &n, sizeof(n)) < 0 ||
	    setsockopt(s->fd, SOL_XDP, XDP_TX_RING, &n, sizeof(n)) < 0)
		fwd_die("setting up the UMEM and rings of", s->ifname, errno);
	struct xdp_mmap_offsets off;
	socklen_t ol = sizeof(off);
	if (getsockopt(s->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &ol) < 0)
		fwd_die("XDP_MMAP_OFFSETS of", s->ifname, errno);
	map_ring(s, XDP_PGOFF_RX_RING, &off.rx, sizeof(struct xdp_desc), &s->rx);
	map_ring(s, XDP_PGOFF_TX_RING, &off.tx, sizeof(struct xdp_desc), &s->tx);
	map_ring(s, (off_t)XDP_UMEM_PGOFF_FILL_RING, &off.fr, sizeof(uint64_t), &s->fill);
	map_ring(s, (off_t)XDP_UMEM_PGOFF_COMPLETION_RING, &off.cr, sizeof(uint64_t), &s->comp);
	uint64_t *fill = s->fill.desc;
	for (unsigned i = 0; i < NFRAMES / 2; i++)
		fill[i] = (uint64_t)i * FSIZE;
	atomic_store_explicit(s->fill.prod, NFRAMES / 2, memory_order_release);
	for (unsigned i = NFRAMES / 2; i < NFRAMES; i++)
		s->free[s->nfree++] = (uint64_t)i * FSIZE;
	struct sockaddr_xdp sa = { .sxdp_family = AF_XDP, .sxdp_ifindex = ifindex,
				   .sxdp_flags = XDP_COPY };
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fwd_die("binding an AF_XDP socket to", s->ifname, errno);

	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_XSKMAP;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 1;
	int map = sys_bpf(BPF_MAP_CREATE, &a);
	if (map < 0)
		fwd_die("creating the XSK map of", s->ifname, errno);
	uint32_t key = 0, val = (uint32_t)s->fd;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)map;
	a.key = (uint64_t)(uintptr_t)&key;
	a.value = (uint64_t)(uintptr_t)&val;
	if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a) < 0)
		fwd_die("filling the XSK map of", s->ifname, errno);
	int prog = load_redirect(map);
	memset(&a, 0, sizeof(a));
	a.link_create.prog_fd = (uint32_t)prog;
	a.link_create.target_ifindex = ifindex;
	a.link_create.attach_type = BPF_XDP;
	a.link_create.flags = XDP_FLAGS_DRV_MODE;
	if (sys_bpf(BPF_LINK_CREATE, &a) < 0)
		fwd_die("attaching XDP (driver mode) to", s->ifname, errno);
}

/* Up to BATCH frames from one side's RX ring to the other's TX ring; the
 * RX frames go back to the fill ring at once.  A frame with no TX room is
 * dropped and counted, as tapfwd counts a refused TAP write. */
static unsigned pump(struct side *from, struct side *to)
{
	const uint32_t mask = RSIZE - 1;
	uint32_t cc = atomic_load_explicit(to->comp.cons, memory_order_relaxed);
	uint32_t cp = atomic_load_explicit(to->comp.prod, memory_order_acquire);
	const uint64_t *done = to->comp.desc;
	for (; cc != cp && to->nfree < NFRAMES / 2; cc++)
		to->free[to->nfree++] = done[cc & mask];
	atomic_store_explicit(to->comp.cons, cc, memory_order_release);

	uint32_t rc = atomic_load_explicit(from->rx.cons, memory_order_relaxed);
	uint32_t rp = atomic_load_explicit(from->rx.prod, memory_order_acquire);
	uint32_t tp = atomic_load_explicit(to->tx.prod, memory_order_relaxed);
	uint32_t tc = atomic_load_explicit(to->tx.cons, memory_order_acquire);
	uint32_t fp = atomic_load_explicit(from->fill.prod, memory_order_relaxed);
	const struct xdp_desc *rx = from->rx.desc;
	struct xdp_desc *tx = to->tx.desc;
	uint64_t *fill = from->fill.desc;
	unsigned n = 0;
	for (; rc != rp && n < BATCH; rc++, n++) {
		struct xdp_desc d = rx[rc & mask];
		uint64_t base = d.addr & ~(uint64_t)(FSIZE - 1);
		if (to->nfree && (uint32_t)(tp - tc) < RSIZE && base < (uint64_t)NFRAMES * FSIZE &&
		    d.len <= FSIZE - (d.addr - base)) {
			uint64_t f = to->free[--to->nfree];
			memcpy(to->umem + f, from->umem + d.addr, d.len);
			tx[tp++ & mask] = (struct xdp_desc){ .addr = f, .len = d.len };
			from->frames++;
			from->bytes += d.len;
		} else {
			to->drops++;
		}
		fill[fp++ & mask] = base;
	}
	if (!n)
		return 0;
	atomic_store_explicit(to->tx.prod, tp, memory_order_release);
	atomic_store_explicit(from->fill.prod, fp, memory_order_release);
	atomic_store_explicit(from->rx.cons, rc, memory_order_release);
	/* copy mode sends in sendmsg: one call per batch */
	if (sendto(to->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN &&
	    errno != EBUSY && errno != ENOBUFS)
		fwd_die("sendto on", to->ifname, errno);
	return n;
}

static unsigned pump_both(void *ctx)
{
	struct side *s = ctx;
	return pump(&s[0], &s[1]) + pump(&s[1], &s[0]);
}

#define USAGE "usage: vq_xdpfwd [--seconds N] [--ifname NAME] IF_A NETNS_A IF_B NETNS_B\n"

int main(int argc, char **argv)
{
	fwd_prog = "vq_xdpfwd";
	const char *ifname = "eth0", *arg[4];
	long seconds = 3600;
	int nargs = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = fwd_parse_num(argv[++i], 1, 86400, "--seconds");
		} else if (!strcmp(argv[i], "--ifname") && i + 1 < argc) {
			ifname = argv[++i];
		} else if (argv[i][0] != '-' && nargs < 4) {
			arg[nargs++] = argv[i];
		} else {
			fputs(USAGE, stderr);
			return strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? 2 : 0;
		}
	}
	if (nargs != 4) {
		fputs(USAGE, stderr);
		return 2;
	}
	fwd_signals();

	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0)
		fwd_die("open /proc/self/ns/net", NULL, errno);
	no_csum_offload(arg[1], ifname, home);
	no_csum_offload(arg[3], ifname, home);
	close(home);
	static struct side s[2];
	s[0].ifname = arg[0];
	s[1].ifname = arg[2];
	side_open(&s[0]);
	side_open(&s[1]);
	fwd_serve(seconds, s[0].fd, s[1].fd, pump_both, s);
	for (int i = 0; i < 2; i++)
		fwd_report(s[i].ifname, s[i ^ 1].ifname, s[i].frames, s[i].bytes, s[i ^ 1].drops);
	return 0;
}
