/* SPDX-License-Identifier: MIT */
/*
 * bench/tapfwd - the floor of any TAP datapath: one process, one thread,
 * copying whole frames between two TAP devices, each created inside a
 * guest's network namespace.
 *
 * The TAPs are set up as vqnet's vmm sets up its own (src/vmm/tap.c):
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, a 12-byte virtio-net header
 * (TUNSETVNETHDRSZ), checksum and TCP segmentation offload on
 * (TUNSETOFFLOAD csum, tso4, tso6, ecn), non-blocking.  A frame read from
 * one TAP, header included, is written unchanged to the other: a 64 KiB
 * TCP segment with its checksum left to the receiver crosses as one frame,
 * as it does on a vqnet link.  No switching, no checks, no second process:
 * whatever vqnet costs beyond this is vqnet's, not the TAP's.
 *
 * Each TAP is made by entering its namespace (setns on /run/netns/NAME),
 * opening /dev/net/tun there, and coming back; the device lives in that
 * namespace and disappears with the forwarder (not persistent).  Nothing
 * is created in the namespace the forwarder runs in.  The caller gives the
 * TAPs their MACs and addresses (ip -n NS ...).
 *
 * usage: vq_tapfwd [--ifname NAME] [--seconds N] [--cpu N] NETNS_A NETNS_B
 *
 * Runs until SIGINT or SIGTERM, or for --seconds (default 3600: a
 * benchmark that forgets it does not leave it running for ever), then
 * prints what it forwarded each way on stdout.  --cpu pins it.
 */
#include "fwd.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>

#define VNET_HDR 12         /* struct virtio_net_hdr_v1, as on a vqnet link */
#define FRAME_MAX (VNET_HDR + 65536)
#define BATCH 32            /* frames per TAP per wake-up, as in the vmm */

struct side {
	int fd;
	const char *ns;
	unsigned long long frames, bytes, drops;
};

/* A TAP called ifname inside network namespace ns, as vqnet's vmm makes
 * one; we come back to our own namespace (home) before returning. */
static int tap_in(const char *ns, const char *ifname, int home)
{
	fwd_enter(ns);

	struct ifreq ifr;
	fwd_ifreq(&ifr, ifname);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	int hdr = VNET_HDR;
	unsigned offload = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		fwd_die("open /dev/net/tun in", ns, errno);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		fwd_die("TUNSETIFF in", ns, errno);
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)
		fwd_die("TUNSETVNETHDRSZ in", ns, errno);
	if (ioctl(fd, TUNSETOFFLOAD, offload) < 0)
		fwd_die("TUNSETOFFLOAD in", ns, errno);
	fwd_home(home);
	return fd;
}

/* Up to BATCH frames from one TAP to the other.  A TAP write is taken or
 * dropped at once (never "full" for long), so a refused frame is counted
 * and lost, as the vmm's to_guest_drops. */
static void pump(struct side *from, struct side *to, uint8_t *buf)
{
	for (int n = 0; n < BATCH; n++) {
		ssize_t r = read(from->fd, buf, FRAME_MAX);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r < 0)
			fwd_die("read from the TAP in", from->ns, errno);
		if (r < VNET_HDR)
			continue;
		ssize_t w = write(to->fd, buf, (size_t)r);
		if (w != r) {
			to->drops++;
			continue;
		}
		from->frames++;
		from->bytes += (unsigned long long)r - VNET_HDR;
	}
}

int main(int argc, char **argv)
{
	fwd_prog = "vq_tapfwd";
	const char *ifname = "eth0", *ns[2] = { NULL, NULL };
	long seconds = 3600, cpu = -1;
	int nns = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ifname") && i + 1 < argc) {
			ifname = argv[++i];
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = fwd_parse_num(argv[++i], 1, 86400, "--seconds");
		} else if (!strcmp(argv[i], "--cpu") && i + 1 < argc) {
			cpu = fwd_parse_num(argv[++i], 0, CPU_SETSIZE - 1, "--cpu");
		} else if (argv[i][0] != '-' && nns < 2) {
			ns[nns++] = argv[i];
		} else {
			fprintf(stderr, "usage: vq_tapfwd [--ifname NAME] [--seconds N] [--cpu N] NETNS_A NETNS_B\n");
			return strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? 2 : 0;
		}
	}
	if (nns != 2) {
		fprintf(stderr, "usage: vq_tapfwd [--ifname NAME] [--seconds N] [--cpu N] NETNS_A NETNS_B\n");
		return 2;
	}
	fwd_signals();
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET((int)cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			fwd_die("sched_setaffinity", NULL, errno);
	}

	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0)
		fwd_die("open /proc/self/ns/net", NULL, errno);
	struct side s[2];
	for (int i = 0; i < 2; i++)
		s[i] = (struct side){ .fd = tap_in(ns[i], ifname, home), .ns = ns[i] };
	close(home);

	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		fwd_die("epoll_create1", NULL, errno);
	for (int i = 0; i < 2; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, s[i].fd, &ev) < 0)
			fwd_die("epoll_ctl", NULL, errno);
	}
	static uint8_t buf[FRAME_MAX];
	while (fwd_running(seconds)) {
		struct epoll_event ev[2];
		/* wake up at least once a second to notice the deadline */
		int n = epoll_wait(ep, ev, 2, 1000);
		if (n < 0 && errno != EINTR)
			fwd_die("epoll_wait", NULL, errno);
		for (int i = 0; i < n; i++) {
			unsigned k = ev[i].data.u32;
			if (ev[i].events & (EPOLLERR | EPOLLHUP))
				fwd_die("TAP gone in", s[k].ns, EIO);
			pump(&s[k], &s[k ^ 1], buf);
		}
	}
	for (int i = 0; i < 2; i++)
		printf("%s -> %s: %llu frames, %llu bytes, %llu dropped\n", s[i].ns, s[i ^ 1].ns,
		       s[i].frames, s[i].bytes, s[i ^ 1].drops);
	return 0;
}
