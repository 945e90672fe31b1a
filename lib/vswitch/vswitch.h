/* SPDX-License-Identifier: MIT */
/*
 * vswitch.h - the forwarding decision of one interface, as pure logic.
 *
 * An interface has ports: its links (0..n_links-1, at most VSW_LINKS_MAX)
 * and, for a guest, the local port VSW_LOCAL (its TAP or virtio-net
 * device).  The table maps every MAC the interface may talk to onto the one
 * port it lives behind, as the lab file says; there is no learning, so
 * nothing a guest sends can change it.  The table's memory is the
 * caller's, sized for the MACs it will hold (a switch node's interface has
 * one per guest it joins, a guest's one per peer it can reach).
 *
 * A frame entering on port `in`:
 *  - whose source MAC does not live behind `in` is dropped (spoofed): a guest
 *    cannot send as someone else, a peer cannot inject as a third party;
 *  - to a broadcast or multicast address goes to every other port it may
 *    reach: a guest delivers what comes from a link to its TAP only (guests
 *    are hosts, not switches: a sender reaches each peer directly); a bridge
 *    (a filter or switch node, which has no local port) forwards between
 *    its links;
 *  - to a known unicast address goes to that port only, if it may reach it;
 *  - to any other unicast address is dropped.
 * The decision is one port, "flood" or, on a snooping switch, "the ports
 * of this IPv6 group" (a list, from the memberships it learned), never a
 * mask: so the port count is not bounded by a mask's width.  Drops are
 * counted, never logged.  No syscalls, no allocation.
 */
#ifndef VQNET_VSWITCH_H
#define VQNET_VSWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSW_LINKS_MAX 4096u    /* link ports 0..VSW_LINKS_MAX-1 (a lab's nodes) */
#define VSW_LOCAL VSW_LINKS_MAX /* the interface's own port (its guest) */
#define VSW_DROP (-1)          /* vsw_forward: nowhere (counted) */
#define VSW_FLOOD (-2)         /* ... every link port but the one it came in on */
#define VSW_GROUP (-3)         /* ... the ports of a multicast group (vsw_group_ports) */

struct vsw_stats {
	uint64_t spoofed;       /* source MAC not behind the ingress port */
	uint64_t unknown;       /* unicast to a MAC not reachable from the ingress port */
	uint64_t runts;         /* shorter than an Ethernet header */
	uint64_t reports;       /* multicast membership reports not flooded (snooping) */
};

/* One port's membership of an IPv6 multicast group, learned from its
 * reports (MLD snooping). */
struct vsw_member {
	uint8_t group[16];
	uint16_t port;
};

#define VSW_GROUPS_PER_PORT 16u  /* a port in more takes every group's frames */
#define VSW_CHANGES_PER_REPORT (2 * VSW_GROUPS_PER_PORT) /* ... as does one whose
					   report changes more of the table */
#define VSW_ASKED 0xfcu          /* a port's joined[]: forgotten at a reset, asked again */
#define VSW_SILENT 0xfdu         /* ... no frame since the lab started */
#define VSW_UNHEARD 0xfeu        /* ... frames, but no report */
#define VSW_ALL 0xffu            /* ... more groups than VSW_GROUPS_PER_PORT, or no room */

struct vsw {
	unsigned n, cap;
	uint64_t *key;                /* cap MACs as 48-bit numbers, sorted */
	uint16_t *port;               /* ... and the port each lives behind */
	unsigned n_links;             /* link ports 0..n_links-1 */
	bool bridge;                  /* forward between links; no local port */
	bool snooping;                /* a switch node's: see vsw_forward */
	/* memberships (vsw_snoop; none: IPv6 multicast floods) */
	struct vsw_member *mem;       /* n_mem of cap_mem, sorted by group, then port */
	unsigned n_mem, cap_mem;
	uint8_t *joined;              /* by link port: its groups, or VSW_ASKED, _SILENT, _UNHEARD, _ALL */
	unsigned n_all;               /* ports that take every group's frames */
	struct vsw_stats stats;
};

/* An interface with n_links links (at most VSW_LINKS_MAX), bridging or
 * not, whose table is key[0..cap) and port[0..cap) (the caller's; they
 * must outlive sw). */
void vsw_init(struct vsw *sw, bool bridge, unsigned n_links, uint64_t *key, uint16_t *port,
	      unsigned cap);

/* Say that mac lives behind port (a link number, or VSW_LOCAL when not a
 * bridge).  -EINVAL for a multicast MAC or bad port, -EEXIST if the MAC is
 * already placed, -ENOSPC when the table is full. */
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
 * kernel checks too; a peer's header is untrusted all the same.  It reads
 * no more than the first VSW_HEAD bytes of frame, whatever len is, and
 * vsw_forward no more than its first 12: so a caller may check a private
 * copy of that much and let the rest go unread. */
#define VSW_HEAD (VSW_VNET_HDR + 14 + 8)
bool vsw_vnet_ok(const uint8_t *frame, size_t len);

/* "hh:hh:hh:hh:hh:hh" (either case) of exactly len characters into mac;
 * false if it is anything else.  The one MAC parser of the project. */
bool vsw_mac_parse(const char *s, size_t len, uint8_t mac[6]);

/* The value 0-15 of one hex digit (either case), or -1.  The one hex digit
 * of the project: the MAC parser above and lib/filter's EtherTypes. */
int vsw_hexval(char c);

/* Where a frame entering on port `in` goes: one port (a link number or
 * VSW_LOCAL), VSW_FLOOD (out of every link but `in`: a broadcast or
 * multicast from a guest or through a bridge), VSW_GROUP (see below) or
 * VSW_DROP (counted).
 *
 * A bridge with snooping set (a switch node) acts as an MLD/IGMP-snooping
 * switch with no multicast router on any port (RFC 4541, 2.1.1: reports
 * go to router ports only): MLD reports and dones, and IGMPv3 reports,
 * which only routers listen to, are not flooded (counted as reports).  A
 * thousand guests coming up send a few each; flooded, every guest would
 * get every other's: millions of frames for nobody.  With memberships
 * (vsw_snoop) it also learns from the MLD ones which groups each port's
 * guest is in, and an IPv6 multicast to a group of link scope or wider,
 * but for all-nodes (ff02::1, which no one reports: RFC 4541, 3), goes to
 * that group's ports only: VSW_GROUP.  That is what a guest's neighbour
 * and router solicitations are sent to; flooded, a thousand guests'
 * start-up is a million frames.  A snooping switch reads the whole frame
 * (a report's records); any other vsw_forward no more than its first 12
 * bytes, and VSW_GROUP's decision no more than its first 54. */
int vsw_forward(struct vsw *sw, unsigned in, const uint8_t *frame, size_t len);

/* A switch's memberships: room for cap of them in mem, and a state per
 * link port in joined[0..n_links) (the caller's; they must outlive sw).
 * A port whose guest has sent nothing yet takes no group's frames (a
 * guest joins a group by sending a report; before it is running, such
 * frames would only fill its ring with others' stale solicitations).
 * Once it has sent something, and until it reports, it takes every
 * group's frames, as it does once it is in more than VSW_GROUPS_PER_PORT
 * groups or mem is full (so a guest cannot crowd others out), or once one
 * report of its changes the table more than VSW_CHANGES_PER_REPORT times
 * (each change moves the table's tail: a report of joins and leaves of
 * one group over and over would cost the switch a move of the whole
 * table per record). */
void vsw_snoop(struct vsw *sw, struct vsw_member *mem, unsigned cap, uint8_t *joined);

/* Forget what port's guest reported: its link was reset (a vmm at either
 * end restarted, or a peer broke the rings), so the guest, still running
 * and in its groups, may report next only what changes.  Until it
 * answers a General Query (vsw_mld_query: the vmm at its end sends one
 * once the link is back) with a report of every group it is in (current
 * state records; or an MLDv1 report, as such a host answers a group at a
 * time), the port takes every group's frames, and MLDv2 reports of
 * changes are not learned. */
void vsw_snoop_reset(struct vsw *sw, unsigned port);

/* An MLDv2 General Query (RFC 3810, 5.1) to all nodes, as a link frame
 * (the virtio-net header, then Ethernet): what a vmm hands its own guest
 * when that guest's link to a switch was reset, so the guest reports
 * all its groups again within max_resp_ms (at most 32767).  From the
 * link-local fe80::ff:fe00:0 of 02:00:00:00:00:00 (a query must come
 * from a link-local address, with hop limit 1 and a router alert, or a
 * host drops it).  Its length, or 0 if cap is too small. */
#define VSW_MLD_QUERY_LEN (VSW_VNET_HDR + 14 + 40 + 8 + 28)
size_t vsw_mld_query(uint8_t *frame, size_t cap, unsigned max_resp_ms);

/* The ports a frame vsw_forward sent to VSW_GROUP goes out of, in out
 * (room for n_links): its group's, and those that take every group's,
 * but for in.  How many. */
unsigned vsw_group_ports(const struct vsw *sw, unsigned in, const uint8_t *frame, size_t len,
			 uint16_t *out);

#endif
