/* SPDX-License-Identifier: MIT */
/*
 * fuzz_agent.c - an arbitrary byte stream from a "guest" into the host's
 * decoder and session bookkeeping, as vqnet-agentd takes it.
 *
 * Input:
 *   byte 0   bit 0: start hunting (a new connection) or not; bits 1-2: which
 *            direction's decoder (guest, host, client, to-client); bits
 *            3-7: chunk size selector
 *   byte 1   how many channels the host opens once the session is ready
 *   then     the stream, fed in chunks of that size (the chunking must not
 *            change what is decoded: a second decoder takes it byte by byte
 *            and must agree)
 *
 * Every frame returned must be well formed for its type (re-checked here),
 * EXEC payloads are split, and the host's windows never go past their
 * bounds.
 */
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "fuzz.h"

static void trap_unless(int ok)
{
	if (!ok)
		__builtin_trap();
}

static struct agent_decoder a, b;
static struct agent_host host;
static struct agent_exec x;

static const uint32_t masks[4] = { AGENT_FROM_GUEST, AGENT_FROM_HOST, AGENT_FROM_CLIENT,
				   AGENT_TO_CLIENT };

/* Host-side handling of one frame, as agentd does; false once the guest
 * broke the protocol. */
static int host_take(const struct agent_frame *f, unsigned want_open)
{
	int r = agent_host_rx(&host, f);
	if (r < 0) {
		trap_unless(agent_is_proto_error(r));
		return 0;
	}
	if (r == 1)
		for (unsigned i = 0; i < want_open; i++)
			agent_host_open(&host);
	if (r == 3)
		agent_host_reset(&host, 7);
	for (unsigned i = 0; i < AGENT_CHANNELS_MAX; i++) {
		const struct agent_host_chan *c = &host.ch[i];
		trap_unless(c->out_used <= AGENT_WINDOW);
		trap_unless(c->in_credit + c->in_sent <= AGENT_WINDOW);
		/* the host drains what it got at once and sends stdin */
		if (c->state == AGENT_CH_OPEN) {
			agent_host_consumed(&host, c->id, AGENT_HDR_LEN + 1);
			agent_host_send_stdin(&host, c->id, 100);
		}
	}
	return 1;
}

static void check_frame(const struct agent_frame *f, uint32_t mask)
{
	trap_unless(f->type >= 1 && f->type <= AGENT_TYPE_LAST);
	trap_unless(mask & AGENT_BIT(f->type));
	trap_unless(f->len <= AGENT_PAYLOAD_MAX);
	if (f->type == AGENT_EXEC) {
		trap_unless(agent_exec_decode(f->payload, f->len, &x) == 0);
		trap_unless(x.argc >= 1 && x.argv[0][0] && !x.argv[x.argc]);
	}
	if (f->type == AGENT_HELLO)
		trap_unless(f->len == AGENT_HELLO_LEN && f->channel == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	bool hunt = data[0] & 1;
	unsigned dir = (data[0] >> 1) & 3;
	size_t step = 1 + ((size_t)(data[0] >> 3) * 97) % 4096;
	unsigned want_open = data[1] % (AGENT_CHANNELS_MAX + 1);
	data += 2;
	size -= 2;
	bool link = dir < 2;
	agent_dec_init(&a, masks[dir], link, hunt);
	agent_dec_init(&b, masks[dir], link, hunt);
	agent_host_reset(&host, 7);
	/* a stream starting with HELLO(7) makes the session ready */

	/* decoder a: chunks of step; decoder b: a byte at a time */
	size_t ia = 0, ib = 0;
	int ra = 0, rb = 0;
	bool host_ok = true;
	for (;;) {
		struct agent_frame fa, fb;
		ra = 0;
		while (ia < size) {
			size_t used, n = size - ia < step ? size - ia : step;
			ra = agent_dec_feed(&a, data + ia, n, &used, &fa);
			ia += used;
			if (ra != 0)
				break;
		}
		rb = 0;
		while (ib < size) {
			size_t used;
			rb = agent_dec_feed(&b, data + ib, 1, &used, &fb);
			ib += used;
			if (rb != 0)
				break;
		}
		/* the same frames and the same verdict, however it is cut */
		trap_unless(ra == rb);
		if (ra != 1)
			break;
		trap_unless(fa.type == fb.type && fa.channel == fb.channel && fa.len == fb.len);
		trap_unless(!memcmp(fa.payload, fb.payload, fa.len));
		check_frame(&fa, masks[dir]);
		if (dir == 0 && host_ok)
			host_ok = host_take(&fa, want_open);
	}
	trap_unless(ra == 0 || agent_is_proto_error(ra));
	if (ra < 0)
		trap_unless(a.err != 0);
	return 0;
}
