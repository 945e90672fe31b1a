/* SPDX-License-Identifier: MIT */
/*
 * vswitch.h - the forwarding decision of one interface, as pure logic.
 *
 * An interface has ports: up to VSW_LINKS links (0..VSW_LINKS-1) and, for a
 * guest, the local port VSW_LOCAL (its TAP).  The table maps every MAC the
 * interface may talk to onto the one port it lives behind, as the lab file
 * says; there is no learning, so nothing a guest sends can change it.
 *
 * A frame entering on port `in`:
 *  - whose source MAC does not live behind `in` is dropped (spoofed): a guest
 *    cannot send as someone else, a peer cannot inject as a third party;
 *  - to a broadcast or multicast address goes to every other port it may
 *    reach: a guest delivers what comes from a link to its TAP only (guests
 *    are hosts, not switches: a sender reaches each peer directly); a bridge
 *    (a filter node, which has no TAP) forwards between its links;
 *  - to a known unicast address goes to that port only, if it may reach it;
 *  - to any other unicast address is dropped.
 * Drops are counted, never logged.  No syscalls, no allocation.
 */
#ifndef VQNET_VSWITCH_H
#define VQNET_VSWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSW_LINKS 63u          /* link ports 0..62 */
#define VSW_LOCAL 63u          /* the interface's own port (its TAP) */
#define VSW_MACS_MAX 256u
#define VSW_PORT_BIT(p) (UINT64_C(1) << (p))

struct vsw_stats {
	uint64_t spoofed;       /* source MAC not behind the ingress port */
	uint64_t unknown;       /* unicast to a MAC not reachable from the ingress port */
	uint64_t runts;         /* shorter than an Ethernet header */
};

struct vsw {
	unsigned n;
	uint64_t key[VSW_MACS_MAX];   /* MACs as 48-bit numbers, sorted */
	uint8_t port[VSW_MACS_MAX];
	uint64_t ports;               /* every port that exists */
	bool bridge;                  /* forward between links */
	struct vsw_stats stats;
};

void vsw_init(struct vsw *sw, bool bridge);

/* Say that mac lives behind port (a link number or VSW_LOCAL).  -EINVAL for
 * a multicast MAC or bad port, -EEXIST if the MAC is already placed,
 * -ENOSPC when the table is full. */
int vsw_add(struct vsw *sw, const uint8_t mac[6], unsigned port);

/* Every frame on a link, as in virtio-net, starts with this header
 * (struct virtio_net_hdr_v1, little-endian): segmentation and checksum
 * offload, so a TAP can hand over 64 KiB of TCP in one frame. */
#define VSW_VNET_HDR 12u

/* Is the header of a link frame (len bytes: header, then Ethernet) one we
 * pass on to a kernel?  Only what a TAP produces: flags "checksum needed"
 * and "checksum valid"; a checksum to fill in at a TCP or UDP offset, from
 * an offset past the Ethernet and IP headers and inside the frame; TCPv4/v6
 * segmentation (ECN allowed) only of IPv4/IPv6 frames (after up to two
 * VLAN tags), with a TCP checksum to fill in and a segment size.  The
 * kernel checks too; a peer's header is untrusted all the same. */
bool vsw_vnet_ok(const uint8_t *frame, size_t len);

/* "hh:hh:hh:hh:hh:hh" (either case) of exactly len characters into mac;
 * false if it is anything else.  The one MAC parser of the project. */
bool vsw_mac_parse(const char *s, size_t len, uint8_t mac[6]);

/* The value 0-15 of one hex digit (either case), or -1.  The one hex digit
 * of the project: the MAC parser above and lib/filter's EtherTypes. */
int vsw_hexval(char c);

/* The ports a frame entering on port `in` goes out of (a bitmask of
 * VSW_PORT_BIT), or 0 if it is dropped (and counted). */
uint64_t vsw_forward(struct vsw *sw, unsigned in, const uint8_t *frame, size_t len);

#endif
