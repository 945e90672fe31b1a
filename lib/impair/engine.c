/* SPDX-License-Identifier: MIT */
/*
 * engine.c - the per-direction engine: what happens to each frame.
 *
 * A frame goes through, in order: the MTU; the loss model; the duplicate
 * and reorder draws; then each copy through the rate's token bucket (which
 * may drop it: queue full) and the delay line (delay plus jitter, order
 * kept), unless the frame is reordered, in which case it leaves when the
 * bucket lets it and skips the delay line.  Corruption is decided per copy.
 *
 * Randomness is counter-based: every draw is mix64(key[stream] + (n+1) *
 * GAMMA), a splitmix64 output picked by the frame's number n since the
 * parameters were set and by its purpose.  So each frame's decisions are a
 * pure function of the seed, the frame number and the frames before it (the
 * loss model's state), never of the time or of which other impairments
 * are on: turning duplicate on does not change which frames are lost,
 * and two runs that see the same frames in the same order lose the same
 * ones even when their timing differs.  Only departure times (rate,
 * delay) and the rate's queue overflow depend on `now`.
 */
#include "impair.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GAMMA 0x9e3779b97f4a7c15ull   /* 2^64 / golden ratio, splitmix64's step */

#define VNET_F_NEEDS_CSUM 1u
#define VNET_F_DATA_VALID 2u
#define VNET_GSO_TCPV4 1u
#define VNET_GSO_UDP 3u
#define VNET_GSO_TCPV6 4u
#define VNET_GSO_UDP_L4 5u
#define VNET_GSO_ECN 0x80u

#define TCP_HLEN_MIN 20u
#define UDP_HLEN 8u

/* Cap on the bytes one frame costs the bucket, so cost arithmetic stays
 * inside 64 bits (a hostile GSO header can claim many tiny segments). */
#define WIRE_MAX (1ull << 30)
/* Latest finish time the bucket may reach: 2^62 ns is 146 years. */
#define HORIZON (1ull << 62)

enum {
	S_GE,          /* Gilbert-Elliott state transition */
	S_LOSS,        /* lost or not (in the current state) */
	S_DUP,
	S_REORDER,
	S_CORRUPT,     /* + copy */
	S_CORRUPT1,
	S_POS,         /* + copy: which byte and bit */
	S_POS1,
	S_JITTER,      /* + copy */
	S_JITTER1,
};
_Static_assert(S_JITTER1 + 1 == IMP_STREAMS, "one key per stream");

/* splitmix64's output function: a bijection that mixes every input bit
 * into every output bit. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t draw(const struct imp_dir *d, unsigned stream, uint64_t n)
{
	return mix64(d->key[stream] + (n + 1) * GAMMA);
}

/* Probabilities are thresholds on 63 bits, so that 1 is representable:
 * an event happens when (x >> 1) < thr, always when thr is 2^63. */
#define THR_ONE (1ull << 63)

static uint64_t thr_of(double p)
{
	if (!(p > 0))
		return 0;
	if (p >= 1)
		return THR_ONE;
	return (uint64_t)(p * 9223372036854775808.0);
}

static uint64_t thr_pct(uint32_t units)
{
	return thr_of((double)units / IMP_PCT_ONE);
}

static bool hit(uint64_t x, uint64_t thr)
{
	return (x >> 1) < thr;
}

uint64_t imp_seed(uint64_t lab_seed, unsigned link, unsigned dir)
{
	uint64_t id = ((uint64_t)link << 1 | (dir & 1u)) + 1;
	return mix64(mix64(lab_seed + GAMMA) + id * GAMMA);
}

void imp_dir_init(struct imp_dir *d, uint64_t seed)
{
	memset(d, 0, sizeof(*d));
	d->seed = seed;
}

/* ---- jitter ------------------------------------------------------------- */

#define PHI_MINUS_2 0.022750131948179207   /* P(Z < -2) for a standard normal Z */

/*
 * The standard normal quantile, by P. J. Acklam's rational approximation
 * (relative error under 1.2e-9), enough for nanosecond delays.  An inverse
 * CDF turns one uniform draw into one normal value, so a jittered frame
 * costs a fixed number of draws (a rejection method would not).
 */
static double inv_phi(double p)
{
	static const double a[] = { -3.969683028665376e+01, 2.209460984245205e+02,
				    -2.759285104469687e+02, 1.383577518672690e+02,
				    -3.066479806614716e+01, 2.506628277459239e+00 };
	static const double b[] = { -5.447609879822406e+01, 1.615858368580409e+02,
				    -1.556989798598866e+02, 6.680131188771972e+01,
				    -1.328068155288572e+01 };
	static const double c[] = { -7.784894002430293e-03, -3.223964580411365e-01,
				    -2.400758277161838e+00, -2.549732539343734e+00,
				    4.374664141464968e+00, 2.938163982698783e+00 };
	static const double e[] = { 7.784695709041462e-03, 3.224671290700398e-01,
				    2.445134137142996e+00, 3.754408661907416e+00 };
	const double lo = 0.02425;
	if (p < lo || p > 1 - lo) {
		double q = sqrt(-2 * log(p < lo ? p : 1 - p));
		double x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
			   ((((e[0] * q + e[1]) * q + e[2]) * q + e[3]) * q + 1);
		return p < lo ? x : -x;
	}
	double q = p - 0.5, r = q * q;
	return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
	       (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/* Exposed for the unit tests only (not in impair.h). */
double imp_inv_phi(double p);
double imp_inv_phi(double p)
{
	return inv_phi(p);
}

/* The jitter of one copy, in [-jitter, +jitter]: normal with sigma =
 * jitter/2 cut at +-2 sigma (the uniform draw is mapped into the quantiles
 * of [-2, 2], so nothing is clamped onto the edges), or uniform. */
static int64_t jitter(const struct imp_params *p, uint64_t x)
{
	uint64_t j = p->jitter_ns;
	if (!j)
		return 0;
	if (p->jitter_dist == IMP_DIST_UNIFORM)
		return (int64_t)(x % (2 * j + 1)) - (int64_t)j;
	double u = (double)(x >> 11) * 0x1p-53;   /* [0, 1) */
	double z = inv_phi(PHI_MINUS_2 + u * (1 - 2 * PHI_MINUS_2));
	double v = z * ((double)j / 2);
	int64_t o = (int64_t)(v < 0 ? v - 0.5 : v + 0.5);
	if (o > (int64_t)j)
		o = (int64_t)j;
	if (o < -(int64_t)j)
		o = -(int64_t)j;
	return o;
}

/* ---- parameters --------------------------------------------------------- */

static bool same_rate(const struct imp_params *a, const struct imp_params *b)
{
	return a->rate_bps == b->rate_bps && a->rate_burst == b->rate_burst &&
	       a->queue_bytes == b->queue_bytes && a->queue_frames == b->queue_frames;
}

/* bytes * 8 s / rate, in ns, rounded down */
static uint64_t bytes_ns(uint64_t bytes, uint64_t rate)
{
	/* bytes <= 2^30, so bytes * 8e9 < 2^63 */
	return bytes * 8 * IMP_NS_PER_S / rate;
}

static void derive(struct imp_dir *d)
{
	const struct imp_params *p = &d->params;
	const struct imp_loss *l = &p->loss;
	d->thr_loss = d->thr_p = d->thr_r = d->thr_h = d->thr_k = 0;
	switch (l->model) {
	case IMP_LOSS_NONE:
		break;
	case IMP_LOSS_RANDOM:
		d->thr_loss = thr_pct(l->pct);
		break;
	case IMP_LOSS_BURST: {
		/* Gilbert: every frame in the bad state is lost, none in the
		 * good one.  A burst is a stay in the bad state, geometric
		 * with mean 1/r, so r = 1/B; the share of time in the bad
		 * state is p/(p+r), which must be L, so p = L r / (1 - L). */
		double loss = (double)l->pct / IMP_PCT_ONE;
		double burst = (double)l->burst / IMP_BURST_ONE;
		d->thr_r = thr_of(1 / burst);
		d->thr_p = thr_of(loss / (burst * (1 - loss)));
		d->thr_h = THR_ONE;
		break;
	}
	case IMP_LOSS_GE:
		d->thr_p = thr_pct(l->p);
		d->thr_r = thr_pct(l->r);
		d->thr_h = thr_pct(l->h);
		d->thr_k = thr_pct(l->k);
		break;
	}
	d->thr_dup = thr_pct(p->duplicate);
	d->thr_reorder = thr_pct(p->reorder);
	d->thr_corrupt = thr_pct(p->corrupt);
	d->burst_ns = d->limit_ns = 0;
	if (p->rate_bps) {
		uint64_t limit = p->queue_bytes;
		if (!limit) {
			/* IMP_QUEUE_DEFAULT_NS of the rate, bit/s * ns / 8e9 */
			limit = p->rate_bps / 8 * IMP_QUEUE_DEFAULT_NS / IMP_NS_PER_S;
			if (limit < IMP_QUEUE_DEFAULT_MIN)
				limit = IMP_QUEUE_DEFAULT_MIN;
			if (limit > IMP_QUEUE_DEFAULT_MAX)
				limit = IMP_QUEUE_DEFAULT_MAX;
		}
		d->burst_ns = bytes_ns(p->rate_burst, p->rate_bps);
		d->limit_ns = bytes_ns(limit, p->rate_bps);
	}
	for (unsigned s = 0; s < IMP_STREAMS; s++)
		d->key[s] = mix64(d->seed + (s + 1) * GAMMA);
}

int imp_dir_set(struct imp_dir *d, const struct imp_params *p, char *err, size_t errlen)
{
	if (!d || !p) {
		if (err && errlen)
			snprintf(err, errlen, "no direction or parameters");
		return -EINVAL;
	}
	int rc = imp_params_check(p, err, errlen);
	if (rc)
		return rc;
	bool keep_bucket = same_rate(&d->params, p);
	uint32_t cap = p->rate_bps ? p->queue_frames : 0;
	if (cap != d->ring_cap) {
		uint64_t *ring = NULL;
		if (cap && !(ring = calloc(cap, sizeof(*ring)))) {
			if (err && errlen)
				snprintf(err, errlen, "no memory for a queue of %u frames", cap);
			return -ENOMEM;
		}
		free(d->ring);
		d->ring = ring;
		d->ring_cap = cap;
	}
	if (!keep_bucket) {
		d->tb_v = d->tb_rem = 0;   /* 0 is "long ago": the bucket is full */
		d->ring_head = d->ring_len = 0;
	}
	d->params = *p;
	derive(d);
	d->n = 0;
	d->ge_bad = false;
	d->impaired = imp_params_active(p);
	/* frames delayed before must not be overtaken: stay on the slow
	 * path until a frame finds them gone (imp_frame) */
	d->active = d->impaired || d->last_due != 0;
	return 0;
}

void imp_dir_free(struct imp_dir *d)
{
	if (!d)
		return;
	free(d->ring);
	d->ring = NULL;
	d->ring_cap = d->ring_head = d->ring_len = 0;
	d->params = (struct imp_params){ 0 };
	d->impaired = d->active = false;
	d->last_due = 0;
}

/* ---- frames ------------------------------------------------------------- */

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* What the engine needs to know of a frame. */
struct geom {
	uint64_t l3;       /* the IP packet (of each GSO segment), for the MTU */
	uint64_t wire;     /* Ethernet bytes on the wire, GSO headers repeated */
	size_t lo, hi;     /* bytes corrupt may flip: [lo, hi) */
	bool fill;         /* fill the offloaded checksum before flipping */
};

/*
 * A GSO frame stands for the segments the receiver's kernel would cut from
 * it: each carries the headers up to the L4 payload (sh bytes) and up to
 * gso_size bytes of it.  False if the header does not describe that
 * consistently (the receiver's vsw_vnet_ok refuses such a frame anyway);
 * the frame is then measured whole.
 */
static bool gso_geom(const uint8_t *f, size_t el, size_t eh, struct geom *g)
{
	const uint8_t *e = f + IMP_VNET_HDR;
	unsigned gso = f[1] & ~VNET_GSO_ECN;
	size_t gsz = le16(f + 4), cs = le16(f + 6), l4;
	if (gso == 0 || gsz == 0 || !(f[0] & VNET_F_NEEDS_CSUM) || cs < eh || cs >= el)
		return false;
	if (gso == VNET_GSO_TCPV4 || gso == VNET_GSO_TCPV6) {
		if (cs + 13 >= el)
			return false;
		l4 = (size_t)(e[cs + 12] >> 4) * 4u;
		if (l4 < TCP_HLEN_MIN)
			return false;
	} else if (gso == VNET_GSO_UDP_L4) {
		l4 = UDP_HLEN;
	} else {
		l4 = 0;   /* UFO and the unknown: IP fragments of gso_size */
	}
	size_t sh = cs + l4;
	if (sh >= el)
		return false;
	size_t data = el - sh;
	uint64_t segs = (data + gsz - 1) / gsz;
	g->l3 = sh - eh + (data < gsz ? data : gsz);
	g->wire = el + (segs - 1) * sh;
	/* The receiver takes a GSO frame's L4 checksums on trust (they are
	 * computed per segment, or never for local delivery), so a flipped
	 * payload bit would reach the application unnoticed.  Flip in the
	 * Ethernet and IP headers, where the damage is seen. */
	g->hi = IMP_VNET_HDR + cs;
	return true;
}

static void geom(const uint8_t *f, size_t len, struct geom *g)
{
	*g = (struct geom){ 0 };
	if (len <= IMP_VNET_HDR)
		return;
	size_t el = len - IMP_VNET_HDR;
	g->wire = el;
	g->lo = IMP_VNET_HDR;
	g->hi = len;
	if (el < IMP_ETH_HLEN)
		return;
	/* up to two VLAN tags do not count against the MTU, as on Linux */
	size_t eh = IMP_ETH_HLEN;
	for (int t = 0; t < 2 && eh + 4 <= el; t++) {
		uint16_t type = be16(f + IMP_VNET_HDR + eh - 2);
		if (type != 0x8100 && type != 0x88a8)
			break;
		eh += 4;
	}
	g->l3 = el - eh;
	if (gso_geom(f, el, eh, g))
		return;
	/* An offloaded checksum (the guest left it to the receiver) would
	 * be computed over the flipped bit: fill it first, so the receiver
	 * checks real data against it. */
	size_t cs = le16(f + 6), co = le16(f + 8);
	g->fill = (f[0] & VNET_F_NEEDS_CSUM) && cs >= eh && cs < el && cs + co + 2 <= el;
}

static bool lose(struct imp_dir *d, uint64_t n)
{
	switch (d->params.loss.model) {
	case IMP_LOSS_NONE:
		return false;
	case IMP_LOSS_RANDOM:
		return hit(draw(d, S_LOSS, n), d->thr_loss);
	default: {
		/* move first, then lose by the state moved to */
		uint64_t x = draw(d, S_GE, n);
		if (d->ge_bad ? hit(x, d->thr_r) : hit(x, d->thr_p))
			d->ge_bad = !d->ge_bad;
		return hit(draw(d, S_LOSS, n), d->ge_bad ? d->thr_h : d->thr_k);
	}
	}
}

/*
 * The token bucket, kept as a virtual finish time v: the bucket is in
 * debt until v, and holds (now - v) worth of tokens, at most the burst,
 * when v is past.  A frame leaves as soon as the bucket is out of debt
 * (so a frame of any size passes, and a 64 KiB GSO frame is not stuck
 * behind a small burst), then pays for its bytes.  The backlog is v - now:
 * the time the link needs for what it accepted and has not sent.
 * False: the queue is full, the frame is dropped and nothing changes.
 */
static bool shape(struct imp_dir *d, uint64_t now, uint64_t wire, uint64_t *leave)
{
	const struct imp_params *p = &d->params;
	if (!p->rate_bps) {
		*leave = now;
		return true;
	}
	uint64_t v = d->tb_v, rem = d->tb_rem;
	uint64_t floor = now > d->burst_ns ? now - d->burst_ns : 0;
	if (v < floor) {
		v = floor;   /* credit is capped at the burst */
		rem = 0;
	}
	if (wire > WIRE_MAX)
		wire = WIRE_MAX;
	uint64_t num = wire * 8 * IMP_NS_PER_S + rem;
	uint64_t cost = num / p->rate_bps;
	uint64_t backlog = v > now ? v - now : 0;
	/* a frame-count queue bounds the backlog only by frames times their
	 * cost, and a hostile GSO header can make each cost a gibibyte: keep
	 * the finish time (and departures, 60 s of delay later) far from
	 * wrapping */
	if (cost > HORIZON || v > HORIZON - cost)
		return false;
	if (d->ring_cap) {
		while (d->ring_len && d->ring[d->ring_head] <= now) {
			d->ring_head = (d->ring_head + 1) % d->ring_cap;
			d->ring_len--;
		}
		if (d->ring_len >= d->ring_cap)
			return false;
	} else if (backlog && backlog + cost > d->limit_ns) {
		/* an empty queue takes any frame, or a frame larger than the
		 * limit could never pass */
		return false;
	}
	*leave = v > now ? v : now;
	d->tb_v = v + cost;
	d->tb_rem = num % p->rate_bps;
	if (d->ring_cap) {
		d->ring[(d->ring_head + d->ring_len) % d->ring_cap] = *leave;
		d->ring_len++;
	}
	return true;
}

int imp_frame(struct imp_dir *d, const uint8_t *frame, size_t len, uint64_t now,
	      struct imp_decision *out)
{
	if (!d || !out || (!frame && len))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	d->stats.frames++;
	if (!d->impaired) {
		/* nothing to do but keep behind what was delayed before */
		uint64_t due = d->last_due > now ? d->last_due : now;
		if (d->last_due <= now) {
			d->active = false;
			d->last_due = 0;
		} else {
			d->stats.delayed++;
		}
		out->n = 1;
		out->copy[0].due = due;
		d->stats.sent++;
		return 1;
	}
	const struct imp_params *p = &d->params;
	uint64_t n = d->n++;
	struct geom g;
	geom(frame, len, &g);
	if (p->mtu && g.l3 > p->mtu) {
		d->stats.drop_mtu++;
		out->verdict = IMP_DROP_MTU;
		return 0;
	}
	if (lose(d, n)) {
		d->stats.drop_loss++;
		out->verdict = IMP_DROP_LOSS;
		return 0;
	}
	bool dup = hit(draw(d, S_DUP, n), d->thr_dup);
	bool skip = hit(draw(d, S_REORDER, n), d->thr_reorder);
	unsigned k = 0;
	for (unsigned c = 0; c < 1u + dup; c++) {
		uint64_t leave;
		if (!shape(d, now, g.wire, &leave)) {
			d->stats.drop_queue++;
			if (c == 0) {
				out->verdict = IMP_DROP_QUEUE;
				return 0;
			}
			break;
		}
		struct imp_copy *cp = &out->copy[k++];
		if (skip) {
			cp->due = leave;
		} else {
			/* jitter <= delay (checked), so this stays >= leave */
			int64_t j = jitter(p, draw(d, S_JITTER + c, n));
			uint64_t due = leave + p->delay_ns + (uint64_t)j;
			/* order is kept: no frame leaves before the one before it */
			if (due < d->last_due)
				due = d->last_due;
			d->last_due = due;
			cp->due = due;
		}
		if (cp->due > now)
			d->stats.delayed++;
		if (g.hi > g.lo && hit(draw(d, S_CORRUPT + c, n), d->thr_corrupt)) {
			uint64_t x = draw(d, S_POS + c, n);
			cp->flip_off = (uint32_t)(g.lo + x % (g.hi - g.lo));
			cp->flip_bit = (uint8_t)(x >> 61);
			cp->flags = g.fill ? IMP_CSUM_FILL : 0;
			d->stats.corrupted++;
		}
	}
	out->n = k;
	d->stats.sent += k;
	d->stats.duplicated += k - 1;
	d->stats.reordered += skip;
	return (int)k;
}

/* ---- corruption --------------------------------------------------------- */

/* What a NIC does for an offloaded checksum: the one's complement sum
 * from csum_start to the end (the field holds the pseudo-header's sum),
 * stored at csum_start + csum_offset. */
static void csum_fill(uint8_t *f, size_t len)
{
	if (len < IMP_VNET_HDR || !(f[0] & VNET_F_NEEDS_CSUM))
		return;
	size_t start = IMP_VNET_HDR + (size_t)le16(f + 6), at = start + le16(f + 8);
	if (start >= len || at + 2 > len)
		return;
	uint64_t sum = 0;
	size_t i = start;
	for (; i + 1 < len; i += 2)
		sum += be16(f + i);
	if (i < len)
		sum += (uint64_t)f[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint16_t c = (uint16_t)~sum;
	if (!c)
		c = 0xffff;   /* the same in one's complement, and UDP reads 0 as "none" */
	f[at] = (uint8_t)(c >> 8);
	f[at + 1] = (uint8_t)c;
	f[0] &= (uint8_t)~VNET_F_NEEDS_CSUM;
}

void imp_corrupt(uint8_t *frame, size_t len, const struct imp_copy *c)
{
	if (!frame || !c || c->flip_off < IMP_VNET_HDR || c->flip_off >= len)
		return;
	if (c->flags & IMP_CSUM_FILL)
		csum_fill(frame, len);
	/* "checksum valid" would make the receiver skip its check */
	frame[0] &= (uint8_t)~VNET_F_DATA_VALID;
	frame[c->flip_off] ^= (uint8_t)(1u << (c->flip_bit & 7));
}
