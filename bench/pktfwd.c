/* SPDX-License-Identifier: MIT */
/*
 * bench/pktfwd - a datapath that is not a TAP and keeps the offloads: one
 * process, one thread, copying frames between two veth devices through
 * AF_PACKET sockets with memory-mapped receive rings and vnet headers.
 *
 * Each guest's eth0 is one end of a veth pair whose other end (IF_A, IF_B)
 * lives in the namespace the forwarder runs in.  On each of those a packet
 * socket with PACKET_VNET_HDR and a TPACKET_V2 receive ring takes every
 * frame the guest sends, with its offload state (GSO type and size,
 * partial checksum) in the virtio-net header the kernel writes in front of
 * it.  The forwarder takes what is in one ring, hands it to the other
 * socket in one sendmmsg (each message the header and the frame, straight
 * from the ring: the kernel's copy into a new skb is the only one) and
 * gives the slots back.  So a batch of frames costs a system call each
 * way, and nothing per frame; the kernel copies each frame twice, as
 * through a TAP.  A slot holds a TSO segment (64 KiB); a frame longer
 * still would be queued whole on the socket as well (PACKET_COPY_THRESH),
 * read with recv and sent alone.  Version 2 and not 3:
 * a version-3 block reaches the reader only when it is full or its timer
 * (1 ms at least) runs out, a millisecond on every ping.
 *
 * usage: vq_pktfwd [--seconds N] IF_A IF_B
 *
 * Runs until SIGINT or SIGTERM, or for --seconds (default 3600), then
 * prints what it forwarded each way on stdout.
 */
#include "fwd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define BATCH 64u
#define BIG (65536u + 256u)  /* a whole TSO segment, read from the socket */
#define VNET ((unsigned)sizeof(struct virtio_net_hdr))

/* The ring: 256 slots of 72 KiB, each its own block (a multiple of any
 * page size), big enough for a slot's header, a vnet header and a TSO
 * segment.  (2048 slots of 2 KiB, with every segment going through recv,
 * moved TCP a fifth slower; docs/performance.md, 8i.) */
#define FSIZE (72u * 1024)
#define NSLOTS 256u

struct side {
	const char *ifname;
	int fd;
	uint8_t *ring;
	unsigned head;   /* the next slot to look at */
	uint8_t big[BIG];
	unsigned long long frames, bytes, drops;
};

static struct tpacket2_hdr *slot(const struct side *s, unsigned i)
{
	return (struct tpacket2_hdr *)(s->ring + (size_t)(i % NSLOTS) * FSIZE);
}

static _Atomic uint32_t *status(struct tpacket2_hdr *h)
{
	return (_Atomic uint32_t *)&h->tp_status;
}

static void setopt(int fd, int opt, int val, const char *what, const char *ifname)
{
	if (setsockopt(fd, SOL_PACKET, opt, &val, sizeof(val)) < 0)
		fwd_die(what, ifname, errno);
}

static void side_open(struct side *s)
{
	unsigned ifindex = if_nametoindex(s->ifname);
	if (!ifindex)
		fwd_die("no interface", s->ifname, errno);
	/* protocol 0: nothing arrives until bind names the device and all */
	s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		fwd_die("AF_PACKET socket for", s->ifname, errno);
	setopt(s->fd, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR on", s->ifname);
	setopt(s->fd, PACKET_VERSION, TPACKET_V2, "PACKET_VERSION on", s->ifname);
	setopt(s->fd, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING on", s->ifname);
	setopt(s->fd, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS on", s->ifname);
	/* a frame longer than a slot is cut there, and a whole copy of it
	 * queued on the socket (TP_STATUS_COPY), for recv */
	setopt(s->fd, PACKET_COPY_THRESH, 1, "PACKET_COPY_THRESH on", s->ifname);
	int rcvbuf = 8 << 20;
	if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		fwd_die("SO_RCVBUFFORCE on", s->ifname, errno);
	struct tpacket_req req = { .tp_block_size = FSIZE, .tp_block_nr = NSLOTS,
				   .tp_frame_size = FSIZE, .tp_frame_nr = NSLOTS };
	if (setsockopt(s->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
		fwd_die("PACKET_RX_RING on", s->ifname, errno);
	s->ring = mmap(NULL, (size_t)FSIZE * NSLOTS, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (s->ring == MAP_FAILED)
		fwd_die("mmap of the ring of", s->ifname, errno);
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = (int)ifindex };
	if (bind(s->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		fwd_die("bind to", s->ifname, errno);
}

/* Up to BATCH frames from one side's ring out of the other side, in one
 * sendmmsg; the slots go back to the kernel after it.  A frame the kernel
 * cut short (longer than a slot) or would not take is dropped and counted. */
static unsigned pump(struct side *from, struct side *to)
{
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	unsigned n = 0, sent = 0;
	for (; n < BATCH; n++) {
		struct tpacket2_hdr *h = slot(from, from->head + n);
		if (!(atomic_load_explicit(status(h), memory_order_acquire) & TP_STATUS_USER))
			break;
		m[n] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[n], .msg_iovlen = 1 } };
		if (h->tp_status & TP_STATUS_COPY) {
			/* a segment longer than a slot: whole on the socket, in
			 * order; it goes alone, from the one buffer (an empty
			 * message, which the kernel refuses, if it is longer) */
			if (n)
				break;
			ssize_t len = recv(from->fd, from->big, sizeof(from->big), MSG_DONTWAIT | MSG_TRUNC);
			iov[0] = (struct iovec){ .iov_base = from->big,
						 .iov_len = len > 0 && (size_t)len <= sizeof(from->big) ? (size_t)len : 0 };
			n = 1;
			break;
		}
		/* a cut frame: an empty message, which the kernel refuses */
		if (h->tp_snaplen < h->tp_len || h->tp_mac < VNET)
			iov[n] = (struct iovec){ .iov_base = h, .iov_len = 0 };
		else
			iov[n] = (struct iovec){ .iov_base = (uint8_t *)h + h->tp_mac - VNET,
						 .iov_len = h->tp_snaplen + VNET };
	}
	if (!n)
		return 0;
	while (sent < n) {
		int r = sendmmsg(to->fd, m + sent, n - sent, MSG_DONTWAIT);
		if (r < 0) {
			if (errno != EAGAIN && errno != ENOBUFS && errno != EINVAL && errno != EMSGSIZE)
				fwd_die("sendmmsg on", to->ifname, errno);
			to->drops++;   /* the frame at m[sent] */
			sent++;
			continue;
		}
		for (int i = 0; i < r; i++) {
			from->frames++;
			from->bytes += iov[sent + (unsigned)i].iov_len - VNET;   /* sent: >= VNET */
		}
		sent += (unsigned)r;
	}
	for (unsigned i = 0; i < n; i++)
		atomic_store_explicit(status(slot(from, from->head + i)), TP_STATUS_KERNEL,
				      memory_order_release);
	from->head = (from->head + n) % NSLOTS;
	return n;
}

static unsigned pump_both(void *ctx)
{
	struct side *s = ctx;
	return pump(&s[0], &s[1]) + pump(&s[1], &s[0]);
}

#define USAGE "usage: vq_pktfwd [--seconds N] IF_A IF_B\n"

/* Frames the kernel had no ring slot for, on top of those we dropped. */
static unsigned long long ring_drops(const struct side *s)
{
	struct tpacket_stats st;
	socklen_t len = sizeof(st);
	return getsockopt(s->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) ? 0 : st.tp_drops;
}

int main(int argc, char **argv)
{
	fwd_prog = "vq_pktfwd";
	const char *arg[2];
	long seconds = 3600;
	int nargs = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = fwd_parse_num(argv[++i], 1, 86400, "--seconds");
		} else if (argv[i][0] != '-' && nargs < 2) {
			arg[nargs++] = argv[i];
		} else {
			fputs(USAGE, stderr);
			return strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? 2 : 0;
		}
	}
	if (nargs != 2) {
		fputs(USAGE, stderr);
		return 2;
	}
	fwd_signals();
	static struct side s[2];
	s[0].ifname = arg[0];
	s[1].ifname = arg[1];
	side_open(&s[0]);
	side_open(&s[1]);
	fwd_serve(seconds, s[0].fd, s[1].fd, pump_both, s);
	for (int i = 0; i < 2; i++)
		fwd_report(s[i].ifname, s[i ^ 1].ifname, s[i].frames, s[i].bytes,
			   s[i ^ 1].drops + ring_drops(&s[i]));
	return 0;
}
