/*
 * Fuzz the link reset against a hostile peer.
 *
 * Port A is the code under attack, used as a vmm uses it: join, poll,
 * reset requests, restarts, traffic, on a clock the input moves.  Port B is
 * the peer: step by step the input has it follow the protocol through the
 * library (join, poll, send, receive, restart) or rewrite any bytes of the
 * region, the header and its reset words included, between any two of A's
 * steps, in the middle of a handshake or of traffic.  Whatever happens, A:
 *  - never reads or writes outside the region (ASan), and hands out frames
 *    only inside B's pool;
 *  - writes only its own header words, its own ring fields and its own
 *    pool (header and rings are compared before and after each of A's
 *    steps; B's pool is read-only to this process except while B writes);
 *  - keeps its private books balanced while up, and says why while down;
 *  - once dead stays dead and writes nothing more;
 *  - takes part in at most 2 x VQ_RESET_BUDGET resets in any window
 *    (one charged and one free answer per charged request at most);
 *  - never loops (every call returns; libFuzzer's -timeout catches a hang).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fuzz.h"
#include "link.h"

#define NUM 32u
#define CHUNK 2176u   /* 32 of them carry VQ_FRAME_MAX, and a pool is 17 pages */
#define MS 1000000ull

static uint8_t *mem, *copy;
static size_t len;
static struct vq_link_hdr h0;   /* the header as formatted: offsets we trust */

/* Every frame A receives lies in B's pool and adds up. */
static void consume(const struct vq_frame *f)
{
	const uint8_t *lo = mem + h0.pool_off[1];
	const uint8_t *hi = lo + (size_t)NUM * CHUNK;
	size_t total = 0;
	volatile uint8_t sink = 0;
	for (unsigned k = 0; k < f->niov; k++) {
		const uint8_t *b = f->iov[k].iov_base;
		fuzz_check(b >= lo && b < hi && f->iov[k].iov_len <= (size_t)(hi - b));
		for (size_t i = 0; i < f->iov[k].iov_len; i += 61)
			sink ^= b[i];
		total += f->iov[k].iov_len;
	}
	(void)sink;
	fuzz_check(total == f->len && total >= 1 && total <= VQ_FRAME_MAX && f->niov <= VQ_CHAIN_MAX);
}

static bool tx_consistent(const struct vq_driver *d)
{
	unsigned in_chains = 0, chains = 0;
	for (unsigned i = 0; i < NUM; i++) {
		in_chains += d->chain_len[i];
		chains += d->chain_len[i] != 0;
	}
	return in_chains + vq_drv_num_free(d) == NUM && chains == vq_drv_outstanding(d);
}

/* Ranges of the region side 0 may write, in address order. */
struct range {
	size_t lo, hi;
};

static unsigned own_ranges(struct range *r)
{
	size_t ring0 = h0.ring_off[0], ring1 = h0.ring_off[1];
	size_t avail = 16u * NUM, used = (16u * NUM + 2u * (3 + NUM) + 63) & ~(size_t)63;
	unsigned n = 0;
	r[n++] = (struct range){ offsetof(struct vq_link_hdr, state), offsetof(struct vq_link_hdr, state) + 4 };
	r[n++] = (struct range){ offsetof(struct vq_link_hdr, reset_req), offsetof(struct vq_link_hdr, reset_req) + 4 };
	r[n++] = (struct range){ offsetof(struct vq_link_hdr, reset_ack), offsetof(struct vq_link_hdr, reset_ack) + 4 };
	/* our sending ring: descriptors, available ring and used_event */
	r[n++] = (struct range){ ring0, ring0 + avail + 2u * (3 + NUM) };
	/* our receiving ring: used ring and avail_event */
	r[n++] = (struct range){ ring1 + used, ring1 + used + 4u + 8u * NUM + 2u };
	/* our pool */
	r[n++] = (struct range){ h0.pool_off[0], h0.pool_off[0] + (size_t)NUM * CHUNK };
	return n;
}

/* Between the snapshot and now, A wrote nothing outside its ranges in the
 * header and rings (and nothing at all, its pool included, when `none`).
 * B's pool needs no comparing: it is read-only while A runs. */
static void wrote_only_own(bool none)
{
	if (none) {
		fuzz_check(!memcmp(mem, copy, len));
		return;
	}
	struct range r[8];
	unsigned n = own_ranges(r);
	size_t meta = h0.pool_off[0];
	size_t from = 0;
	for (unsigned k = 0; k < n && from < meta; k++) {
		size_t to = r[k].lo < meta ? r[k].lo : meta;
		if (to > from)
			fuzz_check(!memcmp(mem + from, copy + from, to - from));
		from = r[k].hi;
	}
	if (from < meta)
		fuzz_check(!memcmp(mem + from, copy + from, meta - from));
}

/* B's pool: writable only while B (or the scribbler) runs. */
static void b_pool(bool writable)
{
	fuzz_check(mprotect(mem + h0.pool_off[1], (size_t)NUM * CHUNK,
		       writable ? PROT_READ | PROT_WRITE : PROT_READ) == 0);
}

/* Resets A took part in (asked or answered), with their times, since A's
 * last (re)start: at most 2 x budget in any window. */
static uint64_t starts[4 * VQ_RESET_BUDGET];
static unsigned n_starts;

static void count_starts(const struct vq_port *a, uint32_t before, uint64_t now)
{
	const struct vq_reset_stats *st = vq_port_reset_stats(a);
	uint32_t after = st->asked + st->answered;
	fuzz_check(after >= before && after - before <= 2);
	for (uint32_t i = before; i < after; i++) {
		if (n_starts == sizeof(starts) / sizeof(starts[0])) {
			memmove(starts, starts + 1, sizeof(starts) - sizeof(starts[0]));
			n_starts--;
		}
		starts[n_starts++] = now;
		unsigned in_window = 0;
		for (unsigned k = 0; k < n_starts; k++)
			in_window += now - starts[k] < VQ_RESET_WINDOW_NS;
		fuzz_check(in_window <= 2 * VQ_RESET_BUDGET);
	}
}

static void check_poll(const struct vq_port *a, const struct vq_poll *r, int st, uint64_t now)
{
	fuzz_check(st == r->status && st >= VQ_LINK_UP && st <= VQ_LINK_DEAD);
	fuzz_check(r->deadline == 0 || r->deadline > now);
	fuzz_check((st == VQ_LINK_UP) == vq_port_up(a));
	if (st == VQ_LINK_DEAD)   /* or the join that failed */
		fuzz_check((vq_port_error(a) == -VQ_ERESETS || !a->base) && r->deadline == 0 &&
		      !r->kick);
	if (st == VQ_LINK_BROKEN)
		fuzz_check(vq_port_error(a) == -VQ_ERESETTIMEOUT && r->deadline == 0);
	if (st == VQ_LINK_RESETTING)
		fuzz_check(r->deadline != 0);   /* a timer is always due: nothing waits for ever */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[VQ_FRAME_MAX];
	static struct vq_port a, b;
	static struct vq_frame fa[8], fb[8], scratch;

	if (!mem) {
		len = vq_link_bytes(NUM, CHUNK);
		mem = aligned_alloc(4096, len);
		copy = malloc(len);
		fuzz_check(mem && copy);
		memset(frame, 0x5a, sizeof(frame));
	}
	struct fuzz_input in = { data, size };
	bool event_idx = fuzz_take(&in, 1) & 1;
	fuzz_check(vq_link_format(mem, len, NUM, CHUNK, event_idx) == 0);
	memcpy(&h0, mem, sizeof(h0));
	fuzz_check(h0.pool_off[1] % 4096 == 0 && ((size_t)NUM * CHUNK) % 4096 == 0);
	b_pool(false);
	uint64_t now = 1000 * MS;
	struct vq_poll r;
	fuzz_check(vq_port_join(&a, mem, len, 0, now, &r) == 0 && r.status == VQ_LINK_UP);
	fuzz_check(vq_port_join(&b, mem, len, 1, now, &r) == 0 && r.status == VQ_LINK_UP);
	n_starts = 0;
	unsigned held_a = 0, held_b = 0;
	bool dead = false;

	while (in.left) {
		unsigned op = fuzz_take(&in, 1) % 20;
		int rc;
		if (op < 9) {
			/* one step of A's, watched (all of the region when dead) */
			memcpy(copy, mem, dead ? len : h0.pool_off[0]);
			const struct vq_reset_stats *st = vq_port_reset_stats(&a);
			uint32_t before = st->asked + st->answered;
			uint32_t gen = a.gen;
			switch (op) {
			case 0: { /* send a frame */
				size_t flen = 1 + fuzz_take(&in, 2) % VQ_FRAME_MAX;
				rc = vq_port_send(&a, frame, flen);
				/* queued or full while up; a violation now takes the
				 * link down and is the error; down, it says so */
				if (rc == 0 || rc == -VQ_ENOSPC)
					fuzz_check(vq_port_up(&a) && tx_consistent(&a.tx));
				else if (rc == -VQ_ERESETTING || rc == -VQ_ERESETS ||
					 rc == -VQ_ERESETTIMEOUT)
					fuzz_check(!vq_port_up(&a));
				else
					fuzz_check(vq_is_peer_error(rc) && !vq_port_up(&a) &&
					      vq_port_error(&a) == rc);
				break;
			}
			case 1:
				rc = vq_port_tx_publish(&a);
				fuzz_check(rc <= 1);
				rc = vq_port_reclaim(&a);
				fuzz_check(rc <= (int)NUM);
				break;
			case 2: /* receive, check, hold */
				if (held_a == 0) {
					rc = vq_port_recv(&a, fa, 1 + fuzz_take(&in, 1) % 8);
					fuzz_check(rc <= 8);
					for (int i = 0; i < rc; i++)
						consume(&fa[i]);
					held_a = rc > 0 ? (unsigned)rc : 0;
				}
				break;
			case 3: /* give back what we hold (perhaps from before a reset) */
				fuzz_check(vq_port_recv_done(&a, fa, held_a) == 0);
				held_a = 0;
				rc = vq_port_rx_publish(&a);
				fuzz_check(rc <= 1);
				break;
			case 4:
				switch (fuzz_take(&in, 1) % 4) {
				case 0: vq_port_tx_wait(&a); break;
				case 1: vq_port_tx_nowait(&a); break;
				case 2: vq_port_rx_wait(&a); break;
				default: vq_port_rx_nowait(&a); break;
				}
				break;
			case 5:
			case 6: /* a doorbell, or the timer */
				check_poll(&a, &r, vq_port_poll(&a, now, &r), now);
				break;
			case 7:
				check_poll(&a, &r, vq_port_reset_request(&a, now, &r), now);
				break;
			default: /* A's vmm dies and a new one joins */
				memset(&a, 0xa5, sizeof(a));
				rc = vq_port_join(&a, mem, len, 0, now, &r);
				if (rc == 0) {
					check_poll(&a, &r, r.status, now);
				} else {
					/* B rewrote the layout: refused, and the
					 * port is dead, touching nothing */
					fuzz_check(rc == -VQ_ELAYOUT && a.rs.dead && !a.base &&
					      vq_port_error(&a) == rc);
					fuzz_check(vq_port_poll(&a, now, &r) == VQ_LINK_DEAD);
					fuzz_check(vq_port_send(&a, frame, 1) == rc);
				}
				held_a = 0;
				n_starts = 0;
				dead = false;
				before = 0;
				gen = a.gen;
				break;
			}
			wrote_only_own(dead);
			count_starts(&a, before, now);
			fuzz_check(a.gen - gen <= 2);   /* at most two forgets a step */
			if (vq_port_up(&a))
				fuzz_check(vq_port_error(&a) == 0 && tx_consistent(&a.tx) && !a.tx.broken &&
				      !a.rx.broken);
			else
				fuzz_check(vq_port_send(&a, frame, 1) < 0 && vq_port_recv(&a, &scratch, 1) < 0 &&
				      vq_port_tx_pending(&a) == 0 && !vq_port_rx_wait(&a));
			if (dead)
				fuzz_check(a.rs.dead);
			dead = a.rs.dead;
			continue;
		}
		switch (op) {
		case 9: /* time passes: up to a minute, mostly less */
			now += (uint64_t)fuzz_take(&in, 2) * (fuzz_take(&in, 1) & 1 ? MS : 1000);
			break;
		case 10: { /* the peer scribbles anywhere in the region */
			size_t off = fuzz_take(&in, 3) % len;
			unsigned n = 1 + fuzz_take(&in, 1) % 16;
			b_pool(true);
			for (unsigned i = 0; i < n && off + i < len; i++)
				mem[off + i] = (uint8_t)fuzz_take(&in, 1);
			b_pool(false);
			break;
		}
		case 11: { /* the peer writes a header word: its reset words, ours, any */
			size_t off = (fuzz_take(&in, 1) % (sizeof(struct vq_link_hdr) / 4)) * 4;
			uint32_t v = fuzz_take(&in, 4);
			memcpy(mem + off, &v, 4);
			break;
		}
		case 12: { /* the peer pokes a u16 in either ring */
			unsigned ring = fuzz_take(&in, 1) & 1;
			size_t off = h0.ring_off[ring] + (fuzz_take(&in, 2) % vq_ring_bytes(NUM)) / 2 * 2;
			uint16_t v = (uint16_t)fuzz_take(&in, 2);
			memcpy(mem + off, &v, 2);
			break;
		}
		case 13: /* B behaves: a doorbell */
			vq_port_poll(&b, now, &r);
			break;
		case 14: /* B behaves: sends */
			b_pool(true);
			vq_port_send(&b, frame, 1 + fuzz_take(&in, 2) % VQ_FRAME_MAX);
			b_pool(false);
			vq_port_tx_publish(&b);
			break;
		case 15: /* B behaves: receives and returns */
			if (held_b == 0) {
				rc = vq_port_recv(&b, fb, 8);
				held_b = rc > 0 ? (unsigned)rc : 0;
			} else {
				vq_port_recv_done(&b, fb, held_b);
				held_b = 0;
				vq_port_rx_publish(&b);
				vq_port_reclaim(&b);
			}
			break;
		case 16: /* B's vmm restarts */
			memset(&b, 0x3c, sizeof(b));
			held_b = 0;
			vq_port_join(&b, mem, len, 1, now, &r);
			break;
		case 17:
			vq_port_reset_request(&b, now, &r);
			break;
		case 18: /* B's words as a storm would write them: a new request */
			{
				uint32_t v = le32toh(((struct vq_link_hdr *)mem)->reset_req[1]);
				v = (v | 1u) + 2u * (fuzz_take(&in, 1) % 3);
				((struct vq_link_hdr *)mem)->reset_req[1] = htole32(v);
			}
			break;
		default: /* B "answers" whatever A asked, zeroing nothing */
			((struct vq_link_hdr *)mem)->reset_ack[1] = ((struct vq_link_hdr *)mem)->reset_req[0];
			break;
		}
	}
	b_pool(true);   /* the next input formats the region */
	return 0;
}
