/* SPDX-License-Identifier: MIT */
/*
 * vmm.h - the parts of vqnet-vmm and what they share.
 *
 *   main.c      arguments, and the order of start-up
 *   setup.c     the lab, the stats region, the links, the namespace, a filter's rules
 *   sandbox.c   giving up privileges before the first frame
 *   datapath.c  the event loop: forwarding and back-pressure
 *   tap.c       the TAP guest port (a namespace guest's interfaces)
 *
 * A node has interfaces; each interface has at most one guest port (none in
 * a filter) and links to peers, numbered as ports of its switch.  Setup
 * fills these structs; the datapath only moves frames between them.
 */
#ifndef VQNET_VMM_H
#define VQNET_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "lab.h"
#include "link.h"
#include "vmm_stats.h"
#include "vswitch.h"
#include "impair.h"
#include "capture.h"

struct flt;

#define BATCH 32             /* frames per source per wake-up */

/* What an epoll event is about: a kind, an index (interface or link) and a
 * sub-index (which of a port's descriptors), not a pointer, so telling
 * them apart compares numbers, not pointers to unrelated objects. */
enum { EV_SIGNAL, EV_LINK, EV_PORT, EV_CTL, EV_TIMER };
#define EV(kind, i, sub) ((uint64_t)(kind) << 48 | (uint64_t)(uint16_t)(sub) << 32 | (uint32_t)(i))
#define EV_KIND(u) ((unsigned)((u) >> 48))
#define EV_SUB(u) ((unsigned)(uint16_t)((u) >> 32))
#define EV_INDEX(u) ((unsigned)(uint32_t)(u))

/* ---- guest ports ------------------------------------------------------------ */
/*
 * A guest port is where one interface's guest meets the vmm: a TAP device
 * (tap.c) for a namespace guest; a vhost-user virtio-net device for a QEMU
 * guest fits the same shape (its TX queue is recv, its RX queue is send,
 * its socket and kick eventfds are its descriptors).  Frames crossing a
 * port are link frames: the 12-byte virtio-net header, then Ethernet.
 *
 * The datapath knows a port only through these operations.  A port
 * registers its own descriptors with the event loop (tagged
 * EV(EV_PORT, interface, sub)) and turns their events into PORT_EV_* bits.
 * None of them blocks.
 */
enum {
	PORT_EV_FRAMES = 1,  /* the guest may have sent frames: call recv */
	PORT_EV_ROOM = 2,    /* a port that said "full" can take frames again */
	PORT_EV_GONE = 4,    /* the port is dead: close it */
};

struct port;

struct port_ops {
	const char *kind;
	/* The next frame the guest sent, copied into buf (cap bytes): its
	 * length (which may be out of bounds; the caller checks), 0 when
	 * there is none now, or -errno when the port is gone. */
	ssize_t (*recv)(struct port *p, uint8_t *buf, size_t cap);
	/* A frame for the guest: 0 when taken; -EAGAIN when the port is full
	 * (it reports PORT_EV_ROOM once it has room; a TAP never is, the
	 * kernel queues or drops behind it); another -errno: dropped. */
	int (*send)(struct port *p, const uint8_t *f, size_t len);
	/* The same from pieces (NULL: the port has no such call): a frame
	 * whose header is a private copy and whose payload is still where
	 * the peer put it, handed to the kernel without a copy of ours. */
	int (*sendv)(struct port *p, const struct iovec *iov, int n, size_t len);
	/* Stop (true) or resume (false) reporting PORT_EV_FRAMES: the
	 * guest's frames then wait on its side (back-pressure). */
	void (*pause)(struct port *p, bool pause);
	/* An event on its descriptor sub: PORT_EV_* bits. */
	unsigned (*event)(struct port *p, unsigned sub, uint32_t events);
	/* Make what recv took and send gave visible to the guest, and notify
	 * it if it asked: once per batch (NULL: nothing to do, as a TAP). */
	void (*flush)(struct port *p);
	/* Let go of everything; the port is unused afterwards. */
	void (*close)(struct port *p);
};

struct port {
	const struct port_ops *ops;  /* NULL: no port (a filter), or closed */
	int epfd;                    /* the event loop it registers with */
	unsigned index;              /* its interface's, for its event tags */
	bool paused;
	int fd;                      /* TAP: the device (the sandbox lets the
					datapath read and write it) */
	void *priv;                  /* vhost-user: its device state */
	struct vmm_if_stats *st;     /* where it says how it is (port_state) */
};

static inline bool port_open(const struct port *p)
{
	return p->ops != NULL;
}

/* tap.c: a TAP device called li->name in the current namespace, with the
 * lab's MAC and addresses, up, registered with epfd.  0 or -errno, with
 * *what saying which step failed. */
int tap_port_open(struct port *p, const struct lab_iface *li, int epfd, unsigned index,
		  const char **what);

/* vhost.c: a vhost-user virtio-net device for a QEMU guest's NIC li,
 * served on the listening unix socket lfd (QEMU connects to it), its
 * descriptors registered with epfd.  0 or -errno. */
int vhost_port_open(struct port *p, const struct lab_iface *li, int lfd, int epfd,
		    unsigned index);

/* tap.c: bring interface name up; write /proc/sys/<key> (this namespace's
 * net.* keys).  0 or -errno. */
int netdev_up(const char *name);
int netdev_sysctl(const char *key, const char *value);

/* ---- interfaces and links ----------------------------------------------------- */

/* A frame waiting for full links. */
struct pending {
	bool active;
	unsigned port;       /* the switch port it waits for (one: only a
				frame with one destination is held) */
	uint64_t since;
	size_t len;
	uint8_t *buf;        /* VQ_FRAME_MAX bytes, allocated once */
};

struct iface;

struct link {
	unsigned index;      /* in lab->links */
	unsigned side;
	unsigned port;       /* vswitch port on its interface */
	struct iface *ifc;
	struct vq_port vq;
	void *mem;
	size_t len;
	int bell, peer_bell; /* ours (we wait on it), the peer's (we ring it) */
	bool dirty;          /* frames sent since the last publish */
	bool more;           /* the receive side may hold more frames */
	int status;          /* VQ_LINK_*: usable, being reset, broken (a peer that
				does not answer), dead (one that forced too many
				resets: for good) */
	bool dead;           /* VQ_LINK_DEAD: its doorbell is no longer watched */
	uint64_t poll_at;    /* poll its reset by then (0: on doorbells only) */
	struct vq_poll joined; /* what vq_port_join said, until the loop acts on it */
	bool stalled;        /* held a frame for STALL_NS: do not wait for it */
	unsigned waiting;    /* held frames (of any source) waiting for it */
	struct pending pend; /* filter nodes: a frame waiting for full links */
	bool down;           /* cut by the supervisor: frames for it are dropped */
	bool trim;           /* many chunks were in flight: give the pool's pages
				back once all are returned (datapath.c) */
	struct imp_dir imp;  /* the impairments of the frames we send on it */
	struct imp_queue q;  /* ... and the frames they hold back (cookies: buffers) */
	uint16_t cap;        /* captured: its pcapng interface + 1; 0: not */
	struct vmm_link_stats *st;
};

struct iface {
	const struct lab_iface *li;
	struct port port;    /* the guest's end; none in a filter */
	struct vsw sw;
	uint64_t *sw_key;    /* the switch's table (lib/vswitch keeps none) */
	uint16_t *sw_port;
	struct vsw_member *sw_mem; /* a switch's memberships, and each port's count */
	uint8_t *sw_joined;
	uint16_t *sw_out;    /* where a group's frame goes (a port per link) */
	struct link **link;  /* by switch port: li->n_links of them */
	struct pending pend; /* a guest frame waiting for full links */
	bool resumed;        /* its frame went: read the port again now */
	bool ask_owed;       /* a query for its guest's groups, not taken yet
				(ask_groups: given at the guest's next frame) */
	uint16_t cap;        /* captured: its pcapng interface + 1; 0: not */
	struct vmm_if_stats *st;
};

struct vmm {
	struct lab *lab;
	const struct lab_node *node;
	struct iface *ifc;
	unsigned n_ifc;
	struct link *links;
	unsigned n_links;
	struct vmm_stats *stats;
	size_t stats_len;
	struct flt *flt;     /* filter nodes only */
	unsigned n_rules;
	uint64_t synced;     /* when the filter's counters were last published */
	bool room;           /* a port has room again: retry held frames now */
	bool trim;           /* some link wants its pool trimmed when idle */
	uint64_t poll_ns;    /* look for events this long before sleeping (0: never) */
	int epfd, sigfd;
	int ctl_fd;          /* the supervisor's messages (struct vmm_ctl), -1: none */
	int timer_fd;        /* wakes us for impaired links' delayed frames */
	uint64_t armed;      /* when timer_fd is set to fire, UINT64_MAX: not set */
	uint64_t seed;       /* the lab's: every link direction's derives from it */
	struct cap_region *cap;       /* the capture region, NULL: none */
	struct cap_session *capses;   /* the capture we follow (allocated at the first) */
	uint8_t buf[VQ_FRAME_MAX + 1];
};

/* One --link argument: which link, and the descriptors for it. */
struct link_arg {
	unsigned index;
	int mem, bell, peer_bell;
};

/* One --vhost argument: an interface of a QEMU guest, and the listening
 * socket its device is served on. */
struct vhost_arg {
	unsigned iface;
	int fd;
};

/* main.c: our name, for messages. */
extern const char *vmm_prog;

/* main.c: a failure before the datapath runs: said to the supervisor
 * (through the ready pipe) and on stderr, then exit. */
__attribute__((format(printf, 1, 2), noreturn))
void vmm_fail(const char *fmt, ...);

/* setup.c: everything before the first frame; fails through vmm_fail. */
void vmm_setup(struct vmm *m, const char *lab, const char *node, const char *netns, int lab_fd,
	       int stats_fd, int rules_fd, const struct link_arg *la, unsigned n_la,
	       const struct vhost_arg *va, unsigned n_va);

/* sandbox.c: become uid (and gid uid) with no capabilities, for good, and
 * allow only the system calls the datapath makes, on m's descriptors (and
 * ready_fd, for the one report still to write); fails through vmm_fail. */
void vmm_sandbox(const struct vmm *m, pid_t supervisor, uid_t uid, int ready_fd);

/* impair.c: the frames a vmm sends on an impaired or cut link.
 *   link_impair_init   its seed and the lab file's impairments (setup)
 *   link_send_impaired deliver() for a link that is impaired or cut: 0
 *                      (sent, queued or dropped, counted); never "full"
 *   link_flush_due     send what is due on every link; the next deadline
 *   vmm_ctl_read       apply what the supervisor says */
void link_impair_init(struct vmm *m, struct link *l);
void link_send_impaired(struct vmm *m, struct link *l, const uint8_t *f, size_t len, uint64_t now);
void links_flush_due(struct vmm *m, uint64_t now);
void vmm_ctl_read(struct vmm *m);

/* capture.c: follow the session the capture region describes (the
 * supervisor said VMM_CTL_CAPTURE); copy one link frame f for point id */
void vmm_capture_ctl(struct vmm *m);
void vmm_capture(struct vmm *m, uint16_t id, unsigned flags, int32_t rule, const uint8_t *f,
		 size_t len);
/* The datapath's part in it: send f on l now (0, -VQ_ENOSPC, or it is
 * dropped and counted), and the link's fate on a peer error. */
int link_send_now(struct vmm *m, struct link *l, const uint8_t *f, size_t len);
static inline bool link_special(const struct link *l)
{
	return imp_active(&l->imp) || l->down;
}

/* datapath.c: a link's reset (lib/virtqueue link.h).  link_apply acts on
 * what join or poll said: rings the peer, keeps the deadline, and on a
 * change of status says so in the log and the stats; link_poll moves the
 * handshake on (on doorbells, by the deadline, after a peer error). */
void link_apply(struct vmm *m, struct link *l, const struct vq_poll *r);
void link_poll(struct vmm *m, struct link *l, uint64_t now);

/* datapath.c: move frames until SIGTERM, SIGINT or SIGHUP. */
void vmm_run(struct vmm *m);

#endif
