/* SPDX-License-Identifier: MIT */
/*
 * impair.h - link impairments as pure logic: delay with jitter, random and
 * bursty (Gilbert-Elliott) loss, duplication, reordering, corruption, a
 * token-bucket rate limit with a bounded queue, and an MTU; their text form
 * (lab-file keys and the runtime `vqnet impair` spec); and an ordered queue
 * of the frames a vmm holds until their departure time.
 *
 * Contract:
 *  - No system calls, no printing, no clock: time comes in as `now`, in
 *    nanoseconds of a monotonic clock.  Randomness comes from a seed and is
 *    a pure function of (seed, frame number, purpose), so the same seed and
 *    the same frames give the same decisions (see "Determinism" below).
 *  - Text is untrusted.  The parsers are strict and bounded; on error they
 *    leave their output unchanged and write a one-line message (no
 *    trailing newline, no file:line prefix; the caller adds those) into a
 *    caller buffer, which may be NULL.  Messages quote the bad value, cut
 *    to IMP_QUOTE_MAX bytes with unprintable bytes shown as '?'.
 *  - Frames are untrusted: imp_frame() reads at most the virtio-net header
 *    and the Ethernet, IP and TCP headers of [frame, frame + len), checking
 *    every offset first.  Give it the vmm's private copy of the frame.
 *  - Memory is allocated only by imp_dir_set() (when a frame-count queue
 *    limit is set) and imp_queue_init(); imp_frame() and the queue's push
 *    and pop never allocate or block.
 *  - Errors are negative errno values.  Nothing here is thread-safe: one
 *    datapath thread owns a struct imp_dir and its struct imp_queue.
 *
 * The syntax, the models and the reasons are in lib/impair/README.md.
 */
#ifndef VQNET_IMPAIR_H
#define VQNET_IMPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- parameters --------------------------------------------------------- */

#define IMP_VNET_HDR 12u       /* struct virtio_net_hdr_v1 before each frame */
#define IMP_ETH_HLEN 14u

/* Probabilities are in millionths of a percent: 1% = 1000000. */
#define IMP_PCT 1000000u
#define IMP_PCT_ONE (100u * IMP_PCT)        /* 100% */

#define IMP_NS_PER_S 1000000000ull
#define IMP_DELAY_MAX_NS (60 * IMP_NS_PER_S)  /* delay and jitter: 0-60 s */
#define IMP_RATE_MIN 1000ull                  /* bit/s: 1kbit ... */
#define IMP_RATE_MAX 1000000000000ull         /* ... 1tbit */
#define IMP_SIZE_MAX (1ull << 30)             /* rate burst and queue bytes: 1gib */
#define IMP_QUEUE_FRAMES_MAX 65536u
#define IMP_BURST_ONE 1000u                   /* mean loss burst, thousandths of a frame */
#define IMP_BURST_MAX (1000000u * IMP_BURST_ONE)
#define IMP_MTU_MIN 68u
#define IMP_MTU_MAX 65535u

/* Without an explicit queue limit a rate keeps what it carries in
 * IMP_QUEUE_DEFAULT_NS, clamped to [IMP_QUEUE_DEFAULT_MIN, _MAX] bytes. */
#define IMP_QUEUE_DEFAULT_NS (50 * 1000000ull)
#define IMP_QUEUE_DEFAULT_MIN (128u * 1024u)
#define IMP_QUEUE_DEFAULT_MAX (16u * 1024u * 1024u)

#define IMP_ERR_MAX 160        /* enough for any message of this module */
#define IMP_TEXT_MAX 256       /* enough for any imp_format() output */
#define IMP_SPEC_MAX 4096      /* longest spec imp_parse_spec() reads */
#define IMP_QUOTE_MAX 40       /* longest quoted token in a message */

enum imp_dist {
	IMP_DIST_NORMAL = 0,   /* normal, sigma = jitter/2, cut at +-2 sigma */
	IMP_DIST_UNIFORM = 1,  /* flat over [-jitter, +jitter] */
};

enum imp_loss_model {
	IMP_LOSS_NONE = 0,
	IMP_LOSS_RANDOM,       /* `loss 1%`: each frame lost with probability pct */
	IMP_LOSS_BURST,        /* `loss 1% burst 5`: Gilbert, mapped from pct and burst */
	IMP_LOSS_GE,           /* `loss ge P R H K`: Gilbert-Elliott as given */
};

struct imp_loss {
	enum imp_loss_model model;
	uint32_t pct;          /* RANDOM, BURST: the loss rate, IMP_PCT units */
	uint32_t burst;        /* BURST: mean burst length, IMP_BURST_ONE units */
	uint32_t p, r, h, k;   /* GE, IMP_PCT units: good->bad, bad->good,
	                        * loss in the bad state, loss in the good state */
};

/*
 * One direction of one link.  All zero: no impairment.  Fields that belong
 * to a model or option not in use are zero (the parser keeps them so);
 * imp_params_equal() ignores them anyway.
 */
struct imp_params {
	uint64_t delay_ns;
	uint64_t jitter_ns;        /* <= delay_ns, so the delay never goes negative */
	enum imp_dist jitter_dist;
	struct imp_loss loss;
	uint32_t duplicate;        /* IMP_PCT units */
	uint32_t reorder;          /* needs a delay: reordered frames skip it */
	uint32_t corrupt;
	uint64_t rate_bps;         /* 0: no limit */
	uint64_t rate_burst;       /* bytes sent at once beyond the rate */
	uint64_t queue_bytes;      /* at most one of these two; both 0: the default */
	uint32_t queue_frames;
	uint32_t mtu;              /* largest IP packet (Ethernet payload); 0: none */
};

/*
 * Set one lab-file key: key is `delay`, `jitter`, `loss`, `duplicate`,
 * `reorder`, `corrupt`, `rate` or `mtu`, value what follows `=`:
 *
 *   delay     TIME | off                 TIME = N[.N](ns|us|ms|s), 0-60s, or 0
 *   jitter    TIME [normal|uniform] | off
 *   loss      PCT [burst N] | ge PCT PCT [PCT [PCT]] | off   PCT = N[.N]%, or 0
 *   duplicate PCT | off
 *   reorder   PCT | off
 *   corrupt   PCT | off
 *   rate      RATE [burst SIZE] [queue N|SIZE] | off
 *             RATE = N[.N](bit|kbit|mbit|gbit|tbit)[/s], 1kbit-1tbit
 *             SIZE = N[.N](b|kb|kib|mb|mib|gb|gib); queue N = frames
 *   mtu       68-65535 | off
 *
 * Units are case-insensitive, keywords lower case.  The key's previous
 * setting in *p is replaced; other keys are kept.  Checks that involve
 * two keys (jitter <= delay, reorder needs a delay) are left to
 * imp_params_check(), which a lab reader calls once the section is read.
 *
 * Returns 0, -ENOENT for a key that is not an impairment (message
 * `unknown impairment "foo"`), or -EINVAL with a message such as
 *   bad delay "10mss" (e.g. 10ms)
 *   loss "120%" out of range (0-100%)
 * On error *p is unchanged.
 */
int imp_parse_kv(struct imp_params *p, const char *key, const char *value,
		 char *err, size_t errlen);

/*
 * Apply a runtime spec: blank-separated `KEY VALUE...` as above, e.g.
 * `delay 10ms jitter 2ms loss 1% rate 100mbit`.  The keys given replace
 * their settings in *p and the others are kept, unless the spec starts
 * with `clear`, which starts from no impairment (`clear` alone clears).
 * A key may appear once.  The result must pass imp_params_check().
 *
 * Returns 0, -ENODATA for a blank spec ("nothing to change"), -ENOENT for
 * an unknown key, -EINVAL otherwise; on error *p is unchanged.  A spec
 * longer than IMP_SPEC_MAX is refused.
 */
int imp_parse_spec(struct imp_params *p, const char *text, char *err, size_t errlen);

/* Is the whole set consistent and in range?  (The parsers' output of a
 * key always is in range; the two-key rules are checked here.)  Returns 0
 * or -EINVAL with a message in canonical terms, e.g.
 *   jitter 5ms exceeds delay 2ms (the delay would go negative) */
int imp_params_check(const struct imp_params *p, char *err, size_t errlen);

/* Does p impair anything? */
bool imp_params_active(const struct imp_params *p);

/* Same effect (fields a model does not use are ignored). */
bool imp_params_equal(const struct imp_params *a, const struct imp_params *b);

/*
 * Canonical text of a checked set: keys in the order of imp_parse_kv's
 * table, each once, off keys left out, numbers in the largest unit that
 * holds them exactly (`1500us`, `64kib`), `normal` left out.
 * imp_parse_spec() of the result into a zeroed set gives an equal set.  No
 * impairment is the empty string.  Returns the length written (excluding
 * the NUL), -ENOSPC if buf is too small (buf then holds a truncated,
 * NUL-terminated prefix), or -EINVAL for a set that fails the check.
 */
int imp_format(const struct imp_params *p, char *buf, size_t len);

/* ---- the engine of one direction ---------------------------------------- */

struct imp_stats {
	uint64_t frames;       /* given to imp_frame() */
	uint64_t sent;         /* copies handed back to send (duplicates included) */
	uint64_t drop_loss;    /* lost by the loss model */
	uint64_t drop_queue;   /* the rate's queue was full (a duplicate alone counts too) */
	uint64_t drop_mtu;     /* IP packet (or GSO segment) larger than the MTU */
	uint64_t duplicated;   /* extra copies sent */
	uint64_t reordered;    /* frames that skipped the delay */
	uint64_t corrupted;    /* copies with a bit flipped */
	uint64_t delayed;      /* copies to send later than now */
};

/* Streams of the PRNG, one per purpose (engine.c says why). */
enum { IMP_STREAMS = 10 };

/*
 * The state of one direction.  All zero is a valid, unimpaired direction
 * (seed 0); imp_dir_init() gives it its seed.  Every field but `stats` is
 * private: read `stats`, call the functions.
 */
struct imp_dir {
	bool active;           /* first: imp_active() is one load and test */
	bool impaired;         /* imp_params_active(&params) */
	struct imp_params params;
	uint64_t seed;
	uint64_t key[IMP_STREAMS];
	uint64_t n;            /* frames since the parameters were set */
	bool ge_bad;           /* Gilbert-Elliott state */
	uint64_t thr_loss, thr_p, thr_r, thr_h, thr_k;
	uint64_t thr_dup, thr_reorder, thr_corrupt;
	uint64_t tb_v, tb_rem; /* token bucket: virtual finish time, remainder */
	uint64_t burst_ns, limit_ns;
	uint64_t *ring;        /* departure times of frames in the rate queue */
	uint32_t ring_cap, ring_head, ring_len;
	uint64_t last_due;     /* departure of the last delayed copy: keeps order */
	struct imp_stats stats;
};

/* The seed of one direction of one link, from the lab's seed: the one
 * derivation every vmm uses, so runs with one lab seed agree. */
uint64_t imp_seed(uint64_t lab_seed, unsigned link, unsigned dir);

/* Zero *d and give it a seed.  The direction is unimpaired. */
void imp_dir_init(struct imp_dir *d, uint64_t seed);

/*
 * Apply a parameter set (checked here: -EINVAL with a message).  Keeps the
 * seed, the counters, and the order of frames already delayed (a frame
 * never overtakes one delayed before the change); restarts the frame
 * numbering and the loss model's state, so the k-th frame after a setting
 * is applied meets the same decisions every time; keeps the token bucket
 * if the rate, burst and queue are unchanged, else starts it full.
 * -ENOMEM (a frame-count queue) changes nothing.
 */
int imp_dir_set(struct imp_dir *d, const struct imp_params *p, char *err, size_t errlen);

/* Free what imp_dir_set allocated; *d is left unimpaired.  NULL is fine. */
void imp_dir_free(struct imp_dir *d);

/*
 * The datapath's fast path: false means send the frame as if there were
 * no impairment code at all.  It stays true after the parameters are
 * cleared until a frame finds every delayed frame gone, so new frames
 * cannot overtake those.
 */
static inline bool imp_active(const struct imp_dir *d)
{
	return d->active;
}

enum imp_verdict {
	IMP_SEND = 0,          /* send copy[0 .. n-1] */
	IMP_DROP_LOSS,
	IMP_DROP_QUEUE,
	IMP_DROP_MTU,
};

#define IMP_CSUM_FILL 1u       /* imp_corrupt() fills the offloaded checksum first */

struct imp_copy {
	uint64_t due;          /* send at this time (ns); <= now: at once */
	uint32_t flip_off;     /* corrupt: byte of the frame whose bit flips; 0: intact */
	uint8_t flip_bit;      /* 0-7 */
	uint8_t flags;         /* IMP_CSUM_FILL */
};

struct imp_decision {
	enum imp_verdict verdict;
	unsigned n;            /* copies: 0 when dropped, else 1 or 2 */
	struct imp_copy copy[2];
};

/*
 * Decide the fate of one frame entering this direction at `now`: frame is
 * the whole link frame (virtio-net header, then Ethernet), len its length.
 * Call it once per frame, when the frame first arrives for this direction
 * (never again when it is retried), in arrival order.  Returns out->n (0,
 * 1 or 2), or -EINVAL for NULL arguments.
 *
 * Copies are in departure order (copy[1].due >= copy[0].due).  A copy with
 * flip_off set must go through imp_corrupt() on its own bytes before it is
 * sent.  An unimpaired direction (imp_active() false) returns one intact
 * copy due now.
 */
int imp_frame(struct imp_dir *d, const uint8_t *frame, size_t len, uint64_t now,
	      struct imp_decision *out);

/*
 * Corrupt one copy in place as decided: fill an offloaded checksum if
 * IMP_CSUM_FILL (and clear "checksum needed"), clear "checksum valid", flip
 * the bit.  The virtio-net header stays valid.  The receiver's checksums
 * then see the damage, as with a real bad frame (README: corrupt).  Does
 * nothing when c->flip_off is 0 or not inside the frame.
 */
void imp_corrupt(uint8_t *frame, size_t len, const struct imp_copy *c);

/* ---- the queue of delayed frames ---------------------------------------- */

/* One held frame: the vmm owns its bytes; cookie says where they are. */
struct imp_item {
	uint64_t due;          /* departure time, ns */
	uint64_t seq;          /* push order: FIFO among equal times */
	uint64_t cookie;
	uint32_t len;
};

struct imp_queue_stats {
	uint64_t pushed;
	uint64_t popped;
	uint64_t overflow;     /* pushes refused: the queue was full */
	uint32_t high_frames;  /* most frames held at once */
	uint64_t high_bytes;
};

/* A binary min-heap on (due, seq), bounded by frames and bytes. */
struct imp_queue {
	struct imp_item *heap;
	uint32_t n, max_frames;
	uint64_t bytes, max_bytes;
	uint64_t seq;
	struct imp_queue_stats stats;
};

/* Allocate room for max_frames (1 .. 2^24) holding at most max_bytes (> 0).
 * -EINVAL, -ENOMEM. */
int imp_queue_init(struct imp_queue *q, uint32_t max_frames, uint64_t max_bytes);

/* Free the queue (its items are forgotten: free their bytes first).  A
 * zeroed or NULL queue is fine. */
void imp_queue_free(struct imp_queue *q);

/* Add a frame.  -ENOBUFS (counted as overflow) when it holds max_frames
 * frames, or the bytes would exceed max_bytes. */
int imp_queue_push(struct imp_queue *q, uint64_t due, uint64_t cookie, uint32_t len);

/* The earliest frame (FIFO among equal times), or NULL when empty. */
const struct imp_item *imp_queue_peek(const struct imp_queue *q);

/* Remove the earliest frame into *out (may be NULL).  -ENOENT when empty. */
int imp_queue_pop(struct imp_queue *q, struct imp_item *out);

/* When the event loop must wake for this queue: the earliest due time, or
 * UINT64_MAX when empty. */
uint64_t imp_queue_deadline(const struct imp_queue *q);

static inline bool imp_queue_empty(const struct imp_queue *q)
{
	return q->n == 0;
}

#endif
