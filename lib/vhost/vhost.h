/* SPDX-License-Identifier: MIT */
/*
 * vhost.h - the pure-logic core of a vhost-user virtio-net back-end.
 *
 * QEMU (the front-end) drives the back-end with messages on a unix socket
 * (docs/interop/vhost-user.rst in QEMU's tree).  This library takes the
 * bytes and the fd numbers the caller received and returns decisions; it
 * makes no system call, never blocks, never allocates, never prints.  The
 * caller (vqnet-vmm) reads the socket, does what an action says (map, unmap,
 * close, start and stop rings, watch and signal eventfds) and writes the
 * reply.
 *
 * Trust: the front-end and the guest are untrusted.  Every size, count,
 * index, address and length in a message is checked here before it is
 * stored; every guest address a ring holds must go through
 * vhost_gpa_to_ptr(), and the ring addresses SET_VRING_ADDR gives have been
 * translated (and sized, and aligned) through vhost_uva_to_ptr() before any
 * action names them.
 *
 * Errors: 0 or a negative errno.  -EPROTO: the front-end broke the protocol
 * or asked for something this device does not offer; -EBUSY: it tried to
 * reconfigure a running ring; -ENOTSUP: a legal mode we do not implement;
 * -ENOMEM: a mapping failed; -EINVAL: the caller misused the API.  Each
 * failing call writes a sentence naming the cause into the `why` buffer of
 * its output (the caller logs it).  A refused message changes no state, so
 * the device stays consistent; vqnet-vmm still ends the connection after an
 * error (QEMU does the same on its side), through vhost_dev_disconnect().
 *
 * fds: every fd the caller received with a message is, after
 * vhost_msg_parse() and vhost_dev_handle(), named in exactly one place of
 * the action (installed as a ring's kick/call/err fd, mapped, or closed).
 * The device remembers the fds it installed and names them again (in a
 * later action's close list) when they are replaced or the connection ends.
 * No action ever names an fd the caller did not hand over.
 */
#ifndef VQNET_VHOST_H
#define VQNET_VHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- wire format ------------------------------------------------------- */

/* Header: request u32, flags u32, size u32, all in the host's byte order
 * (vhost-user is native-endian; both ends run on this host). */
#define VHOST_HDR_SIZE 12u
#define VHOST_VERSION 1u
#define VHOST_FLAG_VERSION_MASK 3u
#define VHOST_FLAG_REPLY (1u << 2)
#define VHOST_FLAG_NEED_REPLY (1u << 3)

#define VHOST_MEMORY_MAX_NREGIONS 8u  /* QEMU's VHOST_MEMORY_BASELINE_NREGIONS */
#define VHOST_FDS_MAX 8u              /* most fds one message may carry */
/* Largest payload we read at all: enough for every request QEMU may send
 * (a full memory table is 264 bytes, a config space access 268), so a
 * refused request is read whole and the stream stays in step. */
#define VHOST_PAYLOAD_MAX 512u
#define VHOST_MSG_MAX (VHOST_HDR_SIZE + VHOST_PAYLOAD_MAX)

/* SET_VRING_KICK/CALL/ERR's u64: queue index in bits 0-7, bit 8 = no fd. */
#define VHOST_VRING_IDX_MASK 0xffu
#define VHOST_VRING_NOFD (1u << 8)

#define VHOST_WHY_MAX 160u            /* room for one error sentence */

enum vhost_request {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SEND_RARP = 19,
	VHOST_USER_NET_SET_MTU = 20,
	VHOST_USER_SET_SLAVE_REQ_FD = 21,
	VHOST_USER_IOTLB_MSG = 22,
	VHOST_USER_SET_VRING_ENDIAN = 23,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_CREATE_CRYPTO_SESSION = 26,
	VHOST_USER_CLOSE_CRYPTO_SESSION = 27,
	VHOST_USER_POSTCOPY_ADVISE = 28,
	VHOST_USER_POSTCOPY_LISTEN = 29,
	VHOST_USER_POSTCOPY_END = 30,
	VHOST_USER_GET_INFLIGHT_FD = 31,
	VHOST_USER_SET_INFLIGHT_FD = 32,
	VHOST_USER_GPU_SET_SOCKET = 33,
	VHOST_USER_RESET_DEVICE = 34,
	VHOST_USER_VRING_KICK = 35,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_ADD_MEM_REG = 37,
	VHOST_USER_REM_MEM_REG = 38,
	VHOST_USER_SET_STATUS = 39,
	VHOST_USER_GET_STATUS = 40,
	VHOST_USER_REQUEST_MAX
};

/* "SET_MEM_TABLE" for a known request, "unknown" otherwise. */
const char *vhost_request_name(uint32_t request);

struct vhost_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vhost_vring_addr {
	uint32_t index;
	uint32_t flags;          /* bit 0: log used ring writes (never offered) */
	uint64_t desc;           /* QEMU user addresses of the three parts */
	uint64_t used;
	uint64_t avail;
	uint64_t log;            /* guest address for logging: ignored */
};

/* One SET_MEM_TABLE region, as QEMU sends it. */
struct vhost_mem_region {
	uint64_t gpa;            /* guest physical address */
	uint64_t size;
	uint64_t uva;            /* QEMU's own (user) address of it */
	uint64_t mmap_offset;    /* where it starts in its fd */
};

/* A parsed message.  Only the payload member its request uses is set. */
struct vhost_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	union {
		uint64_t u64;
		struct vhost_vring_state state;
		struct vhost_vring_addr addr;
		struct {
			uint32_t nregions;
			struct vhost_mem_region region[VHOST_MEMORY_MAX_NREGIONS];
		} mem;
	} p;
	unsigned nfds;
	int fds[VHOST_FDS_MAX];
	/* SET_MEM_TABLE only: the caller fills fd_size[i] with fstat(fds[i])'s
	 * st_size before vhost_dev_handle().  Left at 0 (parse's value), every
	 * region is refused as lying past the end of its fd: fail closed. */
	uint64_t fd_size[VHOST_FDS_MAX];
	char why[VHOST_WHY_MAX];
};

/*
 * Check a header (the first VHOST_HDR_SIZE bytes) so the caller knows how
 * many payload bytes to read: *payload_len.  0, or -EPROTO (bad version,
 * reply or unknown flag bits, payload over VHOST_PAYLOAD_MAX) with msg->why
 * set; then the stream cannot be trusted to be in step: end the connection.
 * msg may be NULL (no reason given then).
 */
int vhost_msg_header(const uint8_t *hdr, size_t len, uint32_t *payload_len,
		     struct vhost_msg *msg);

/*
 * Parse one whole message (header and payload, len bytes) and the fds that
 * came with it (all fds of all the recvmsg() calls that read it, in order;
 * the caller treats MSG_CTRUNC as an error of its own).  Checks the header
 * as above, that len is exactly VHOST_HDR_SIZE + size, the payload size each
 * known request must have, the memory table's region count, the reserved
 * bits of the kick/call/err u64, and the number of fds: SET_MEM_TABLE one per
 * region, SET_VRING_KICK/CALL/ERR one unless VHOST_VRING_NOFD is set, other
 * requests we implement none (a request we refuse anyway may carry up to
 * VHOST_FDS_MAX: the device closes them).
 *
 * 0: msg holds the message and the fds, which now go to vhost_dev_handle()
 * (or are closed by the caller).  Negative (-EPROTO): msg->why says why,
 * and the caller closes every one of the nfds fds it passed: none is kept.
 */
int vhost_msg_parse(const uint8_t *bytes, size_t len, const int *fds,
		    unsigned nfds, struct vhost_msg *msg);

/* A reply to send back, if send is true: len bytes of bytes. */
struct vhost_reply {
	bool send;
	size_t len;
	uint8_t bytes[VHOST_HDR_SIZE + sizeof(struct vhost_vring_state) + 8];
};

/* Encode a reply to request: a u64, or a vring state. */
void vhost_reply_u64(struct vhost_reply *r, uint32_t request, uint64_t v);
void vhost_reply_state(struct vhost_reply *r, uint32_t request, uint32_t index,
		       uint32_t num);

/* ---- guest memory table ------------------------------------------------ */

/* Sum of all mapping lengths a table may ask for: a bound on what a front-end
 * can make us map (address space, not memory: the fds are QEMU's). */
#define VHOST_MEM_MAX_BYTES (1ull << 40)

struct vhost_mem {
	unsigned n;
	struct vhost_mem_slot {
		uint64_t gpa, size, uva, offset;  /* as the front-end gave them */
		uint64_t map_len;      /* the caller maps [0, offset + size) of the fd */
		uint8_t *base;         /* that mapping, NULL until mapped */
	} r[VHOST_MEMORY_MAX_NREGIONS];
};

/*
 * Validate a memory table: 1..VHOST_MEMORY_MAX_NREGIONS regions, exactly one
 * fd per region with fd_size[i] its size; no region of size zero; no
 * region whose guest-physical or user range wraps past 2^64; no two
 * regions overlapping in guest-physical space or in user space;
 * mmap_offset + size within the fd; total mapping within
 * VHOST_MEM_MAX_BYTES.  On success m describes the table, nothing mapped
 * yet; on failure m is empty and why (if not NULL) says which region and
 * why.  Pure: the fds are not touched.
 */
int vhost_mem_build(struct vhost_mem *m, const struct vhost_mem_region *r,
		    unsigned n, const uint64_t *fd_size, unsigned nfds,
		    char *why, size_t why_len);

/* Record that slot i is mapped at base: map_len bytes from fd offset 0. */
int vhost_mem_set_base(struct vhost_mem *m, unsigned i, void *base);

/* Is every slot mapped? */
bool vhost_mem_mapped(const struct vhost_mem *m);

/*
 * The one checked translation of guest-physical addresses: a pointer to
 * [gpa, gpa + len) in our mapping, or NULL unless that whole range lies
 * inside one mapped region (len 0 is refused too; no arithmetic wraps).
 *
 * A buffer that spans two regions, even two adjacent ones, is refused, not
 * split.  QEMU 7.2 with one memory-backend-memfd (`-machine
 * memory-backend=`) sends one region for all of guest RAM below 4 GiB (a
 * 256 MiB guest: gpa 0, size 256 MiB, offset 0, seen on the wire), so a
 * real guest's buffer never spans; regions only become adjacent with
 * several memory backends (NUMA nodes, DIMMs), which vqnet does not
 * create.  lib/virtqueue's windows (one per region) refuse the same
 * buffers, so a guest that offers one breaks its ring, named.
 */
void *vhost_gpa_to_ptr(const struct vhost_mem *m, uint64_t gpa, uint64_t len);

/* The same for QEMU user addresses (SET_VRING_ADDR's desc, avail, used). */
void *vhost_uva_to_ptr(const struct vhost_mem *m, uint64_t uva, uint64_t len);

/* ---- the device: features ---------------------------------------------- */

#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX 29
#define VHOST_USER_F_PROTOCOL_FEATURES 30
#define VIRTIO_F_VERSION_1 32

#define VHOST_USER_PROTOCOL_F_MQ 0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3

#define VHOST_BIT(b) (1ull << (b))

/*
 * What we offer: virtio 1.x only, checksum and TSO offload both ways (with
 * ECN), mergeable RX buffers (so a 64 KiB frame fits a guest's ring of
 * small buffers), event-index notification suppression, and vhost-user
 * protocol features.  Not offered, and why: INDIRECT_DESC (lib/virtqueue
 * refuses indirect tables: one walk, one set of checks), UFO (Linux guests
 * no longer use it and our TAPs are opened without it), MQ (one queue
 * pair), MTU, GUEST_ANNOUNCE and LOG_ALL (migration: none), RING_PACKED,
 * IN_ORDER, NOTIFICATION_DATA, ACCESS_PLATFORM (no vIOMMU: guest addresses
 * are physical), RSS/HASH_REPORT; ANY_LAYOUT is implied by VERSION_1.
 * STATUS, CTRL_VQ and MAC are QEMU's business (it serves the control queue
 * itself), not the back-end's.
 */
#define VHOST_NET_FEATURES                                                     \
	(VHOST_BIT(VIRTIO_F_VERSION_1) | VHOST_BIT(VIRTIO_NET_F_CSUM) |          \
	 VHOST_BIT(VIRTIO_NET_F_GUEST_CSUM) | VHOST_BIT(VIRTIO_NET_F_GUEST_TSO4) | \
	 VHOST_BIT(VIRTIO_NET_F_GUEST_TSO6) | VHOST_BIT(VIRTIO_NET_F_GUEST_ECN) |  \
	 VHOST_BIT(VIRTIO_NET_F_HOST_TSO4) | VHOST_BIT(VIRTIO_NET_F_HOST_TSO6) |   \
	 VHOST_BIT(VIRTIO_NET_F_HOST_ECN) | VHOST_BIT(VIRTIO_NET_F_MRG_RXBUF) |    \
	 VHOST_BIT(VIRTIO_RING_F_EVENT_IDX) | VHOST_BIT(VHOST_USER_F_PROTOCOL_FEATURES))

/* Protocol features: only REPLY_ACK (no MQ, no slave channel, no log, no
 * config space, no inflight tracking, no in-band notifications). */
#define VHOST_NET_PROTOCOL_FEATURES VHOST_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK)

/* ---- the device: state and actions ------------------------------------- */

#define VHOST_NQUEUES 2u         /* one queue pair, no multiqueue */
enum { VHOST_RX = 0, VHOST_TX = 1 };
#define VHOST_VRING_NUM_MAX 1024u /* = VQ_NUM_MAX, QEMU's virtio-net maximum */

struct vhost_vring {
	uint16_t num;            /* 0 until SET_VRING_NUM */
	uint16_t base;           /* next available entry to take when started */
	bool addr_set;
	struct vhost_vring_addr addr; /* the user addresses, as given */
	int kick_fd, call_fd, err_fd; /* -1: none */
	bool kick_set;           /* SET_VRING_KICK seen since the last stop */
	bool enabled;            /* SET_VRING_ENABLE's last word */
	bool started;
	bool stopping;           /* stop asked; waiting for vhost_dev_ring_stopped */
	bool base_owed;          /* ... and GET_VRING_BASE's reply with it */
};

struct vhost_dev {
	bool owner;
	bool features_set;
	uint64_t features;       /* acked (SET_FEATURES) */
	uint64_t protocol_features;
	bool mem_pending;        /* SET_MEM_TABLE waits for vhost_dev_mem_mapped */
	struct vhost_mem mem;    /* the table in use (mapped) */
	struct vhost_mem next;   /* validated, being mapped */
	struct vhost_vring vq[VHOST_NQUEUES];
	bool ack_pending;        /* SET_MEM_TABLE's REPLY_ACK is owed */
};

/* What a ring must do.  ops is a set of these, carried out in this order. */
enum {
	VHOST_RING_STOP = 1u << 0,   /* stop serving (untake held chains), then
				      * vhost_dev_ring_stopped(q, last avail) */
	VHOST_RING_KICK = 1u << 1,   /* kick_fd is the fd to watch now (-1: none);
				      * stop watching the previous one */
	VHOST_RING_CALL = 1u << 2,   /* call_fd is the fd to signal now (-1: none) */
	VHOST_RING_ERR = 1u << 3,    /* err_fd is the fd to signal on error (-1: none) */
	VHOST_RING_START = 1u << 4,  /* serve it: parts, num, base, event_idx */
	VHOST_RING_ENABLE = 1u << 5, /* `enabled` is its state now */
};

struct vhost_ring_action {
	unsigned ops;
	void *desc, *avail, *used;  /* START: translated, sized, aligned */
	uint16_t num, base;
	bool event_idx;
	bool enabled;               /* START, ENABLE: a disabled RX ring gets no
				     * frames, a disabled TX ring's are dropped */
	int kick_fd, call_fd, err_fd;
};

/* mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), then close
 * fd whatever happened, then vhost_dev_mem_mapped() with the bases. */
struct vhost_map {
	int fd;
	uint64_t len;
};

struct vhost_unmap {
	void *base;
	uint64_t len;
};

#define VHOST_CLOSE_MAX (VHOST_FDS_MAX + 3u * VHOST_NQUEUES)

/*
 * Carry out in this order: 1. each ring's STOP (and report it), 2. each
 * ring's KICK/CALL/ERR (the new fds replace the old, which are in close[]),
 * 3. close close[] (fds replaced, or refused with their message), 4. munmap
 * unmap[], 5. map map[] and call vhost_dev_mem_mapped() (nmap > 0 only for
 * SET_MEM_TABLE), 6. each ring's START and ENABLE.  A field no op names is
 * meaningless.
 */
struct vhost_action {
	struct vhost_ring_action ring[VHOST_NQUEUES];
	unsigned nclose;
	int close[VHOST_CLOSE_MAX];
	unsigned nunmap;
	struct vhost_unmap unmap[VHOST_MEMORY_MAX_NREGIONS];
	unsigned nmap;
	struct vhost_map map[VHOST_MEMORY_MAX_NREGIONS];
	char why[VHOST_WHY_MAX];
};

/* A device in its initial state: no owner, no features, no memory, both
 * rings stopped, no fds. */
void vhost_dev_init(struct vhost_dev *d);

/*
 * Handle one parsed message: reply (reply->send says whether there is one to
 * write now) and action (what to do, in the order above).  The message's fds
 * all end up in the action.  Returns 0 or a negative errno with act->why
 * set; on error the device is as it was, every fd of the message is in
 * act->close, and reply holds a REPLY_ACK failure if one was asked for.
 *
 * Two replies wait for the caller: SET_MEM_TABLE's (written by
 * vhost_dev_mem_mapped) and GET_VRING_BASE's of a running ring (written by
 * vhost_dev_ring_stopped, with the index where the ring stopped).  Until
 * the action's completions are made, vhost_dev_handle refuses the next
 * message with -EINVAL.
 *
 * The messages: GET/SET_FEATURES, SET_OWNER, RESET_OWNER (stops both
 * rings), GET/SET_PROTOCOL_FEATURES, GET_QUEUE_NUM (1 queue pair),
 * SET_MEM_TABLE, SET_VRING_NUM/ADDR/BASE, GET_VRING_BASE (stops the ring),
 * SET_VRING_KICK/CALL/ERR, SET_VRING_ENABLE.  Every other request is
 * refused with -EPROTO and its name.  Order: GET_FEATURES, GET_QUEUE_NUM
 * and the protocol-feature messages at any time; everything else after
 * SET_OWNER; SET_VRING_NUM/BASE/ADDR/KICK after SET_FEATURES (CALL, ERR and
 * ENABLE may come before it: QEMU sends them at init); SET_VRING_ADDR after
 * SET_VRING_NUM and SET_MEM_TABLE.  A ring starts when it has its size, its
 * addresses, memory, features and a kick fd (QEMU's order makes that
 * SET_VRING_KICK); it stops at GET_VRING_BASE or RESET_OWNER, after which it
 * needs a new SET_VRING_KICK.
 */
int vhost_dev_handle(struct vhost_dev *d, const struct vhost_msg *msg,
		     struct vhost_reply *reply, struct vhost_action *act);

/*
 * After the maps of a SET_MEM_TABLE action: bases[i] is where map[i] was
 * mapped, or NULL if that mmap failed.  On success the table is in use, the
 * previous one was in the action's unmap list, and rings that were running
 * are restarted (act: START) where they stopped.  On failure (-ENOMEM, or
 * -EPROTO if a running ring's addresses are not in the new table) act lists
 * the mappings to undo, and rings stay stopped.  Either way the pending
 * reply (REPLY_ACK) is written.
 */
int vhost_dev_mem_mapped(struct vhost_dev *d, void *const *bases, unsigned n,
			 struct vhost_reply *reply, struct vhost_action *act);

/* After a STOP: ring q stopped with last_avail as its next available entry
 * (lib/virtqueue: vq_dev_base() after vq_dev_untake() of the chains it
 * held).  If GET_VRING_BASE stopped it, reply gets its answer (send it).
 * -EINVAL if q was not stopping. */
int vhost_dev_ring_stopped(struct vhost_dev *d, unsigned q, uint16_t last_avail,
			   struct vhost_reply *reply);

/* The connection is gone (or we end it): act stops both rings (nothing to
 * report: their state is forgotten), closes every fd the device holds and
 * unmaps the table in use or being mapped; then d is as vhost_dev_init left
 * it, ready for the front-end to reconnect.  Safe in any state, a stop
 * still to report included; but complete an outstanding map first
 * (vhost_dev_mem_mapped), or its mappings are not in the unmap list. */
void vhost_dev_disconnect(struct vhost_dev *d, struct vhost_action *act);

#endif
