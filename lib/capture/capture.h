/* SPDX-License-Identifier: MIT */
/*
 * capture.h - packet capture out of a vmm, as pure logic.
 *
 * A vmm copies the frames a capture asked for into a region of shared
 * memory (one sealed memfd per vmm, made by the supervisor); the capture
 * client (`vqnet capture`) maps the same region, reads the records and
 * writes pcapng.  The region is a single-producer, single-consumer ring
 * of records, bounded: when it is full the vmm drops the capture copy and
 * counts it, so a slow reader never slows or stops the datapath.
 *
 *   ctl     written by the supervisor, read by the vmm when it is told
 *           (its control pipe): which of its interfaces and links to
 *           capture, under which pcapng interface number, the snap length
 *           and the BPF program (classic BPF, from pcap_compile)
 *   head    written by the vmm only: bytes produced; also its counters
 *   tail    written by the reader only: bytes consumed
 *   data    CAP_DATA bytes of records, each 32-byte aligned
 *
 * Each side treats what the other writes as untrusted: the vmm checks the
 * program (bpf_validate) and every point, and takes the reader's tail only
 * when it is consistent; the reader checks every record it takes.  No
 * system calls here: times come in as arguments.
 */
#ifndef VQNET_CAPTURE_H
#define VQNET_CAPTURE_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAP_MAGIC 0x50414356u       /* "VCAP" */
#define CAP_DATA (4u << 20)         /* ring bytes: a power of two */
#define CAP_PROG_MAX 256            /* BPF instructions */
#define CAP_POINTS_MAX 256          /* capture points in one vmm */
#define CAP_NODES_MAX 250           /* nodes one capture spans: a region each, all handed
                                       over in one SCM_RIGHTS message (Linux takes 253) */
#define CAP_SNAP_MAX 262144u        /* tcpdump's default snap length */

/* A capture point: one of the vmm's interfaces (the guest's side of it) or
 * links, and the pcapng interface its frames are recorded under. */
enum { CAP_IFACE = 1, CAP_LINK = 2 };
struct cap_point {
	uint8_t kind;        /* CAP_IFACE, CAP_LINK */
	uint8_t pad;
	uint16_t id;         /* the pcapng interface number */
	uint32_t index;      /* the vmm's interface number, or the lab's link index */
};

/* One classic BPF instruction, laid out as struct bpf_insn. */
struct cap_insn {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};

struct cap_ctl {
	uint32_t magic;
	uint32_t gen;        /* the session; 0: none yet */
	uint32_t snaplen;    /* 1 .. CAP_SNAP_MAX */
	uint32_t n_insns;    /* 0: every frame */
	uint32_t n_points;   /* 0: capture off */
	uint32_t pad;
	struct cap_point points[CAP_POINTS_MAX];
	struct cap_insn prog[CAP_PROG_MAX];
};

struct cap_region {
	struct cap_ctl ctl;
	/* the vmm's */
	alignas(64) uint64_t head;
	uint64_t gen_seen;   /* the session the vmm follows (release, after head) */
	uint64_t frames;     /* records written this session */
	uint64_t lost;       /* records dropped this session: the ring was full */
	/* the reader's */
	alignas(64) uint64_t tail;
	alignas(64) uint8_t data[CAP_DATA];
};

/* Record flags: the frame's direction as seen from its point (a guest
 * interface: out = the guest sent it; a link: out = this vmm sent it),
 * and whether a filter node dropped it. */
enum { CAP_OUT = 1, CAP_IN = 2, CAP_DROPPED = 4 };
/* rule when CAP_DROPPED: the rule's number (from 0), or one of these */
enum { CAP_BY_POLICY = -1, CAP_BY_MALFORMED = -2 };

/* A record, 32-byte aligned in data (so a pad record always fits before
 * the end), followed by caplen bytes of frame
 * (Ethernet, no virtio-net header).  A record with id CAP_PAD fills the
 * end of data before the ring wraps. */
#define CAP_PAD 0xffffu
struct cap_rec {
	uint32_t len;        /* the whole record, header and padding: a multiple of 32 */
	uint16_t id;         /* pcapng interface, or CAP_PAD */
	uint8_t flags;
	uint8_t pad;
	uint64_t ts_ns;      /* CLOCK_REALTIME */
	uint32_t caplen, origlen;
	int32_t rule;
	uint32_t lost_before; /* records of this ring lost just before this one */
};

static inline uint32_t cap_rec_len(uint32_t caplen)
{
	return (uint32_t)((sizeof(struct cap_rec) + caplen + 31) & ~(size_t)31);
}
_Static_assert(sizeof(struct cap_rec) == 32, "a record header is one alignment unit");

/* ---- the vmm's side ------------------------------------------------------------ */

/* What a vmm keeps of the session it follows (private, checked). */
struct cap_session {
	uint32_t gen;
	uint32_t snaplen;
	uint32_t n_insns;
	struct cap_insn prog[CAP_PROG_MAX];
	uint64_t head;       /* ours; the region's copy is only published */
	uint64_t frames, lost;
	uint32_t lost_run;   /* lost since the last record written */
};

/*
 * Take the session the region's ctl describes into *s, checking it
 * (validate(prog, n) is the caller's BPF validator, libpcap's
 * bpf_validate: this library does not link libpcap).  Starts the ring at
 * the reader's tail, so it holds nothing; publishes gen_seen.  Then
 * point(kind, index, id) is called for each point to turn on (after the
 * caller turned every point off).  0, or -EINVAL when the session is
 * malformed (nothing turned on; the region is left alone).
 */
int cap_adopt(struct cap_region *r, struct cap_session *s,
	      int (*validate)(const struct cap_insn *prog, int n),
	      void (*point)(void *arg, unsigned kind, uint32_t index, uint16_t id), void *arg);

/*
 * Write one record: the frame f (len bytes, Ethernet) at point id with
 * flags and rule, cut to the snap length.  0, or -ENOSPC when the ring has
 * no room (counted as lost; the reader is slow) or the reader's tail is
 * not consistent with our head (a reader that wrote nonsense loses
 * everything).  Publishes head and the counters.
 */
int cap_put(struct cap_region *r, struct cap_session *s, uint16_t id, unsigned flags, int32_t rule,
	    uint64_t ts_ns, const uint8_t *f, uint32_t len);

/* ---- the reader's side ------------------------------------------------------------- */

/* A record as the reader takes it: points into the region (copy it out). */
struct cap_view {
	uint16_t id;
	unsigned flags;
	int32_t rule;
	uint64_t ts_ns;
	uint32_t caplen, origlen, lost_before;
	const uint8_t *data;
};

/*
 * The next record between *tail and the head the vmm published: 1 with *v
 * filled and *tail moved past it (the caller stores it into r->tail once
 * it has copied the frame out), 0 when there is none, -EPROTO when the
 * vmm wrote something that is not a record (the capture of this vmm
 * cannot go on).  Pad records are skipped.
 */
int cap_next(const struct cap_region *r, uint64_t *tail, struct cap_view *v);

/* ---- pcapng ------------------------------------------------------------------------ */
/*
 * Blocks of pcapng (the IETF draft, little-endian as written by this
 * host), each built in buf[cap]: the block's length, or 0 when cap is too
 * small.  Strings are cut at 255 bytes.  Times are ns since the epoch
 * (interfaces say if_tsresol 9).
 */
enum { PCAPNG_LINKTYPE_ETHERNET = 1 };
size_t pcapng_shb(uint8_t *buf, size_t cap, const char *app);
size_t pcapng_idb(uint8_t *buf, size_t cap, uint32_t snaplen, const char *name,
		  const char *desc);
/* flags: CAP_OUT/CAP_IN (epb_flags' direction); comment may be NULL;
 * dropcount 0 leaves epb_dropcount out */
size_t pcapng_epb(uint8_t *buf, size_t cap, uint32_t ifid, uint64_t ts_ns, const uint8_t *data,
		  uint32_t caplen, uint32_t origlen, unsigned flags, const char *comment,
		  uint64_t dropcount);
/* Interface statistics: frames received and dropped by the capture */
size_t pcapng_isb(uint8_t *buf, size_t cap, uint32_t ifid, uint64_t ts_ns, uint64_t recv,
		  uint64_t drop);

#endif
