/*
 * Fuzz the link and ring code against a hostile peer.
 *
 * Port A is the code under attack.  Port B is the peer: the input decides,
 * step by step, whether B behaves (sends, receives, publishes through the
 * library) or scribbles over any bytes of the shared region, header and
 * rings included, between A's operations.  Whatever happens, A must never
 * touch memory outside the region (ASan), never hand out a frame outside
 * B's pool, and once down (a peer error takes the whole link down, and
 * nobody here polls it back up: fuzz_link_reset.c does) must stay down.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "link.h"

#define NUM 64u
#define CHUNK 2048u

/* Every frame A receives lies in B's pool and adds up. */
static void consume(const struct vq_port *a, const struct vq_link_hdr *h,
		    const struct vq_frame *f)
{
	const uint8_t *lo = a->base + h->pool_off[1];
	const uint8_t *hi = lo + (size_t)NUM * CHUNK;
	size_t total = 0;
	volatile uint8_t sink = 0;
	for (unsigned k = 0; k < f->niov; k++) {
		const uint8_t *b = f->iov[k].iov_base;
		fuzz_check(b >= lo && f->iov[k].iov_len <= (size_t)(hi - b));
		for (size_t i = 0; i < f->iov[k].iov_len; i += 61)
			sink ^= b[i];
		total += f->iov[k].iov_len;
	}
	(void)sink;
	fuzz_check(total == f->len && total <= VQ_FRAME_MAX && f->niov <= VQ_CHAIN_MAX);
}

/* The sender's private books balance whatever the peer did: every
 * descriptor is free or in exactly one outstanding chain. */
static bool tx_consistent(const struct vq_driver *d)
{
	unsigned in_chains = 0, chains = 0;
	for (unsigned i = 0; i < NUM; i++) {
		in_chains += d->chain_len[i];
		chains += d->chain_len[i] != 0;
	}
	return in_chains + vq_drv_num_free(d) == NUM && chains == vq_drv_outstanding(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *mem;
	static size_t len;
	static uint8_t frame[VQ_FRAME_MAX];
	static struct vq_port a, b;
	static struct vq_frame fa[8], fb[8];

	if (!mem) {
		len = vq_link_bytes(NUM, CHUNK);
		mem = aligned_alloc(4096, len);
		fuzz_check(mem != NULL);
		memset(frame, 0x5a, sizeof(frame));
	}
	struct fuzz_input in = { data, size };
	bool event_idx = fuzz_take(&in, 1) & 1;
	fuzz_check(vq_link_format(mem, len, NUM, CHUNK, event_idx) == 0);
	fuzz_check(vq_port_attach(&a, mem, len, 0) == 0);
	fuzz_check(vq_port_attach(&b, mem, len, 1) == 0);
	/* keep the header the code under test trusted, to check against */
	struct vq_link_hdr h;
	memcpy(&h, mem, sizeof(h));
	unsigned held_a = 0, held_b = 0;

	while (in.left) {
		unsigned op = fuzz_take(&in, 1);
		int rc;
		switch (op % 12) {
		case 0: { /* A sends a frame */
			size_t flen = 1 + fuzz_take(&in, 2) % VQ_FRAME_MAX;
			rc = vq_port_send(&a, frame, flen);
			/* a frame of a valid length is queued; or the pool is
			 * short of chunks, and that after taking back all the
			 * peer returned (nothing is left to reclaim); or the
			 * peer broke the ring now (the link goes down and says
			 * why), or before (it stays down).  Never another error. */
			if (rc == 0)
				fuzz_check(a.up && !a.tx.broken);
			else if (rc == -VQ_ENOSPC)
				fuzz_check(a.up && !a.tx.broken &&
				      vq_drv_num_free(&a.tx) < (flen + CHUNK - 1) / CHUNK &&
				      vq_port_reclaim(&a) == 0);
			else if (vq_is_peer_error(rc))
				fuzz_check(!a.up && a.tx.broken && vq_port_error(&a) == rc);
			else
				fuzz_check(rc == -VQ_ERESETTING && !a.up && vq_port_error(&a) < 0);
			fuzz_check(tx_consistent(&a.tx));
			break;
		}
		case 1:
			rc = vq_port_tx_publish(&a);
			fuzz_check(rc <= 1);
			break;
		case 2:
			rc = vq_port_reclaim(&a);
			fuzz_check(rc <= (int)NUM);
			break;
		case 3: /* A receives */
			if (held_a == 0) {
				rc = vq_port_recv(&a, fa, 1 + fuzz_take(&in, 1) % 8);
				for (int i = 0; i < rc; i++)
					consume(&a, &h, &fa[i]);
				held_a = rc > 0 ? (unsigned)rc : 0;
			}
			break;
		case 4:
			if (held_a) {
				vq_port_recv_done(&a, fa, held_a);
				held_a = 0;
			}
			rc = vq_port_rx_publish(&a);
			fuzz_check(rc <= 1);
			break;
		case 5:
			switch (fuzz_take(&in, 1) % 4) {
			case 0: vq_port_tx_wait(&a); break;
			case 1: vq_port_tx_nowait(&a); break;
			case 2: vq_port_rx_wait(&a); break;
			default: vq_port_rx_nowait(&a); break;
			}
			break;
		case 6: { /* the peer scribbles anywhere in the region */
			size_t off = fuzz_take(&in, 3) % len;
			unsigned n = 1 + fuzz_take(&in, 1) % 16;
			for (unsigned i = 0; i < n && off + i < len; i++)
				mem[off + i] = (uint8_t)fuzz_take(&in, 1);
			break;
		}
		case 7: { /* the peer pokes a u16 in A's rings (indices, heads) */
			unsigned ring = fuzz_take(&in, 1) & 1;
			size_t off = h.ring_off[ring] + (fuzz_take(&in, 2) % vq_ring_bytes(NUM)) / 2 * 2;
			uint16_t v = (uint16_t)fuzz_take(&in, 2);
			memcpy(mem + off, &v, 2);
			break;
		}
		case 8: /* B behaves: sends */
			vq_port_send(&b, frame, 1 + fuzz_take(&in, 2) % VQ_FRAME_MAX);
			vq_port_tx_publish(&b);
			break;
		case 9: /* B behaves: receives and returns */
			if (held_b == 0) {
				rc = vq_port_recv(&b, fb, 8);
				held_b = rc > 0 ? (unsigned)rc : 0;
			} else {
				vq_port_recv_done(&b, fb, held_b);
				held_b = 0;
				vq_port_rx_publish(&b);
			}
			break;
		case 10:
			vq_port_reclaim(&b);
			break;
		default: /* a link down stays down until polled, and does nothing */
			if (!a.up) {
				fuzz_check(held_a || vq_port_recv(&a, fa, 1) == -VQ_ERESETTING);
				fuzz_check(vq_port_reclaim(&a) == -VQ_ERESETTING);
				fuzz_check(vq_port_tx_publish(&a) == -VQ_ERESETTING);
				fuzz_check(!vq_port_rx_wait(&a) && !vq_port_tx_wait(&a));
				fuzz_check(vq_port_error(&a) < 0);
			}
			break;
		}
	}
	return 0;
}
