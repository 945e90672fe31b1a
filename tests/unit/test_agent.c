/* SPDX-License-Identifier: MIT */
/* lib/agent: frames, the incremental decoder, EXEC payloads, the host's
 * session bookkeeping.  Every refusal is checked by its named error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"

static struct agent_decoder dec;
static uint8_t buf[4 * AGENT_FRAME_MAX];

/* Feed everything in one call sequence; returns the last result, with
 * the frames decoded counted in *n and the last one in *f. */
static int feed_all(struct agent_decoder *d, const uint8_t *p, size_t len, size_t step,
		    unsigned *n, struct agent_frame *f)
{
	int r = 0;
	*n = 0;
	size_t off = 0;
	while (off < len) {
		size_t chunk = len - off < step ? len - off : step;
		size_t used;
		r = agent_dec_feed(d, p + off, chunk, &used, f);
		if (r < 0)
			return r;
		off += used;
		if (r == 1)
			(*n)++;
	}
	return r;
}

static void hdr(uint8_t *p, uint16_t magic, uint8_t type, uint8_t flags, uint32_t ch, uint32_t len)
{
	p[0] = (uint8_t)magic;
	p[1] = (uint8_t)(magic >> 8);
	p[2] = type;
	p[3] = flags;
	memcpy(p + 4, &ch, 4);   /* the tests run little-endian */
	memcpy(p + 8, &len, 4);
}

static void test_roundtrip_every_type(void **state)
{
	(void)state;
	size_t len = 0;
	int n;
	n = agent_encode_hello(buf + len, sizeof(buf) - len, 0xdeadbeef);
	assert_int_equal(n, AGENT_HDR_LEN + AGENT_HELLO_LEN);
	len += (size_t)n;
	n = agent_encode(buf + len, sizeof(buf) - len, AGENT_STDOUT, 5, "out", 3);
	len += (size_t)n;
	n = agent_encode(buf + len, sizeof(buf) - len, AGENT_STDERR, 5, "err", 3);
	len += (size_t)n;
	n = agent_encode(buf + len, sizeof(buf) - len, AGENT_ERROR, 0, "link text", 9);
	len += (size_t)n;
	n = agent_encode_u32(buf + len, sizeof(buf) - len, AGENT_ACK, 5, 100);
	len += (size_t)n;
	n = agent_encode_exit(buf + len, sizeof(buf) - len, 5, AGENT_EXIT_SIGNAL, 9);
	len += (size_t)n;

	/* one byte at a time and all at once decode the same */
	for (size_t step = 1; step <= len; step = step * 3 + 1) {
		agent_dec_init(&dec, AGENT_FROM_GUEST, true, false);
		struct agent_frame f;
		size_t off = 0;
		unsigned got = 0;
		uint8_t types[8];
		while (off < len) {
			size_t used, chunk = len - off < step ? len - off : step;
			int r = agent_dec_feed(&dec, buf + off, chunk, &used, &f);
			assert_true(r >= 0);
			off += used;
			if (r == 1) {
				types[got++] = f.type;
				if (f.type == AGENT_HELLO)
					assert_int_equal(agent_hello_session(&f), 0xdeadbeef);
				if (f.type == AGENT_STDOUT) {
					assert_int_equal(f.channel, 5);
					assert_memory_equal(f.payload, "out", 3);
				}
				if (f.type == AGENT_ACK)
					assert_int_equal(agent_frame_u32(&f), 100);
				if (f.type == AGENT_EXIT) {
					uint32_t how, v;
					agent_exit_decode(&f, &how, &v);
					assert_int_equal(how, AGENT_EXIT_SIGNAL);
					assert_int_equal(v, 9);
				}
			}
		}
		assert_int_equal(got, 6);
		assert_int_equal(types[0], AGENT_HELLO);
		assert_int_equal(types[5], AGENT_EXIT);
		assert_int_equal(dec.frames, 6);
	}
}

static void test_exec_roundtrip(void **state)
{
	(void)state;
	char *argv[] = { "sh", "-c", "echo $X", "", NULL };
	char *envp[] = { "X=1", "EMPTY=", NULL };
	uint8_t p[1024];
	int n = agent_exec_encode(p, sizeof(p), argv, envp, "/tmp");
	assert_true(n > 0);
	static struct agent_exec x;
	assert_int_equal(agent_exec_decode(p, (size_t)n, &x), 0);
	assert_int_equal(x.argc, 4);
	assert_string_equal(x.argv[2], "echo $X");
	assert_string_equal(x.argv[3], "");
	assert_null(x.argv[4]);
	assert_int_equal(x.envc, 2);
	assert_string_equal(x.envp[1], "EMPTY=");
	assert_null(x.envp[2]);
	assert_string_equal(x.cwd, "/tmp");
	/* without env and cwd */
	n = agent_exec_encode(p, sizeof(p), argv, NULL, NULL);
	assert_int_equal(agent_exec_decode(p, (size_t)n, &x), 0);
	assert_null(x.cwd);
	assert_int_equal(x.envc, 0);
	/* and it passes the decoder as an EXEC frame from the host */
	uint8_t fr[1100];
	int m = agent_encode(fr, sizeof(fr), AGENT_EXEC, 3, p, (uint32_t)n);
	agent_dec_init(&dec, AGENT_FROM_HOST, true, false);
	struct agent_frame f;
	size_t used;
	assert_int_equal(agent_dec_feed(&dec, fr, (size_t)m, &used, &f), 1);
	assert_int_equal(f.type, AGENT_EXEC);
}

static void test_exec_encode_refuses(void **state)
{
	(void)state;
	uint8_t p[64];
	char *none[] = { NULL };
	char *empty[] = { "", NULL };
	char *ok[] = { "true", NULL };
	char *noeq[] = { "X", NULL };
	char *eqfirst[] = { "=1", NULL };
	char *big[] = { "0123456789012345678901234567890123456789012345678901234567890123456789", NULL };
	assert_int_equal(agent_exec_encode(p, sizeof(p), none, NULL, NULL), -AGENT_EINVAL);
	assert_int_equal(agent_exec_encode(p, sizeof(p), empty, NULL, NULL), -AGENT_EINVAL);
	assert_int_equal(agent_exec_encode(p, sizeof(p), ok, noeq, NULL), -AGENT_EINVAL);
	assert_int_equal(agent_exec_encode(p, sizeof(p), ok, eqfirst, NULL), -AGENT_EINVAL);
	assert_int_equal(agent_exec_encode(p, sizeof(p), ok, NULL, "relative"), -AGENT_EINVAL);
	assert_int_equal(agent_exec_encode(p, sizeof(p), big, NULL, NULL), -AGENT_ENOSPC);
	/* more strings than AGENT_ARGS_MAX */
	static char *many[AGENT_ARGS_MAX + 2];
	for (unsigned i = 0; i < AGENT_ARGS_MAX + 1; i++)
		many[i] = "a";
	many[AGENT_ARGS_MAX + 1] = NULL;
	static uint8_t large[AGENT_PAYLOAD_MAX];
	assert_int_equal(agent_exec_encode(large, sizeof(large), many, NULL, NULL), -AGENT_EINVAL);
}

static void test_exec_decode_refuses(void **state)
{
	(void)state;
	static struct agent_exec x;
	/* u16 argc, envc, flags, 0, then strings */
	static const uint8_t noargs[] = { 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t unterminated[] = { 1, 0, 0, 0, 0, 0, 0, 0, 'l', 's' };
	static const uint8_t trailing[] = { 1, 0, 0, 0, 0, 0, 0, 0, 'l', 's', 0, 'x' };
	static const uint8_t emptyprog[] = { 1, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t badflags[] = { 1, 0, 0, 0, 2, 0, 0, 0, 'l', 's', 0 };
	static const uint8_t reserved[] = { 1, 0, 0, 0, 0, 0, 1, 0, 'l', 's', 0 };
	static const uint8_t envnoeq[] = { 1, 0, 1, 0, 0, 0, 0, 0, 'l', 's', 0, 'X', 0 };
	static const uint8_t relcwd[] = { 1, 0, 0, 0, 1, 0, 0, 0, 'l', 's', 0, 't', 0 };
	static const uint8_t missingcwd[] = { 1, 0, 0, 0, 1, 0, 0, 0, 'l', 's', 0 };
	static const uint8_t toomany[] = { 0x01, 0x02, 0xff, 0x01, 0, 0, 0, 0, 'l', 0 };
	static const uint8_t good[] = { 1, 0, 1, 0, 1, 0, 0, 0, 'l', 's', 0, 'X', '=', 0, '/', 0 };
	assert_int_equal(agent_exec_decode(noargs, sizeof(noargs), &x), -AGENT_EEXEC);
	assert_int_equal(agent_exec_decode(unterminated, sizeof(unterminated), &x), -AGENT_EEXEC);
	assert_int_equal(agent_exec_decode(trailing, sizeof(trailing), &x), -AGENT_EEXEC);
	assert_int_equal(agent_exec_decode(emptyprog, sizeof(emptyprog), &x), -AGENT_EEXEC);
	assert_int_equal(agent_exec_decode(badflags, sizeof(badflags), &x), -AGENT_EEXEC);
	assert_int_equal(agent_exec_decode(reserved, sizeof(reserved), &x), -AGENT_EEXEC);
	assert_int_equal(agent_exec_decode(envnoeq, sizeof(envnoeq), &x), -AGENT_EEXEC);
	assert_int_equal(agent_exec_decode(relcwd, sizeof(relcwd), &x), -AGENT_EEXEC);
	assert_int_equal(agent_exec_decode(missingcwd, sizeof(missingcwd), &x), -AGENT_EEXEC);
	assert_int_equal(agent_exec_decode(toomany, sizeof(toomany), &x), -AGENT_EEXEC);
	assert_int_equal(agent_exec_decode(noargs, 4, &x), -AGENT_EEXEC);
	assert_int_equal(agent_exec_decode(good, sizeof(good), &x), 0);
	assert_string_equal(x.envp[0], "X=");
	assert_string_equal(x.cwd, "/");
}

/* One malformed frame, from the guest, and the error it must get. */
static void expect_refused(const uint8_t *p, size_t len, uint32_t accept, bool link, int want)
{
	agent_dec_init(&dec, accept, link, false);
	struct agent_frame f;
	unsigned n;
	int r = feed_all(&dec, p, len, len, &n, &f);
	assert_int_equal(r, want);
	/* latched: nothing more comes out of this decoder */
	size_t used;
	assert_int_equal(agent_dec_feed(&dec, p, len, &used, &f), -AGENT_EBROKEN);
}

static void test_header_refusals(void **state)
{
	(void)state;
	uint8_t p[64] = { 0 };
	hdr(p, 0x1234, AGENT_STDOUT, 0, 1, 1);
	expect_refused(p, 13, AGENT_FROM_GUEST, true, -AGENT_EMAGIC);
	hdr(p, AGENT_MAGIC, 0, 0, 1, 1);
	expect_refused(p, 13, AGENT_FROM_GUEST, true, -AGENT_ETYPE);
	hdr(p, AGENT_MAGIC, AGENT_TYPE_LAST + 1, 0, 1, 1);
	expect_refused(p, 13, AGENT_FROM_GUEST, true, -AGENT_ETYPE);
	/* a guest may not send what only the host sends */
	hdr(p, AGENT_MAGIC, AGENT_EXEC, 0, 1, 1);
	expect_refused(p, 13, AGENT_FROM_GUEST, true, -AGENT_ETYPE);
	hdr(p, AGENT_MAGIC, AGENT_STDIN, 0, 1, 1);
	expect_refused(p, 13, AGENT_FROM_GUEST, true, -AGENT_ETYPE);
	/* nor a client ACK or CLOSE */
	hdr(p, AGENT_MAGIC, AGENT_ACK, 0, 0, 4);
	expect_refused(p, 16, AGENT_FROM_CLIENT, false, -AGENT_ETYPE);
	hdr(p, AGENT_MAGIC, AGENT_STDOUT, 1, 1, 1);
	expect_refused(p, 13, AGENT_FROM_GUEST, true, -AGENT_EFLAGS);
	/* too long is refused from the header alone, before any payload */
	hdr(p, AGENT_MAGIC, AGENT_STDOUT, 0, 1, AGENT_PAYLOAD_MAX + 1);
	expect_refused(p, AGENT_HDR_LEN, AGENT_FROM_GUEST, true, -AGENT_ELEN);
	hdr(p, AGENT_MAGIC, AGENT_STDOUT, 0, 1, 0xffffffffu);
	expect_refused(p, AGENT_HDR_LEN, AGENT_FROM_GUEST, true, -AGENT_ELEN);
}

static void test_payload_refusals(void **state)
{
	(void)state;
	uint8_t p[64] = { 0 };
	/* data frames are never empty */
	hdr(p, AGENT_MAGIC, AGENT_STDOUT, 0, 1, 0);
	expect_refused(p, 12, AGENT_FROM_GUEST, true, -AGENT_ELEN);
	/* data on channel 0 (the link's) */
	hdr(p, AGENT_MAGIC, AGENT_STDOUT, 0, 0, 1);
	expect_refused(p, 13, AGENT_FROM_GUEST, true, -AGENT_ECHANNEL);
	/* HELLO on a channel */
	hdr(p, AGENT_MAGIC, AGENT_HELLO, 0, 1, 16);
	memcpy(p + 12, AGENT_HELLO_MAGIC, 8);
	p[20] = 1;
	expect_refused(p, 28, AGENT_FROM_GUEST, true, -AGENT_ECHANNEL);
	/* HELLO without its magic, of another version, of a wrong length */
	hdr(p, AGENT_MAGIC, AGENT_HELLO, 0, 0, 16);
	memcpy(p + 12, "vqnet-xx", 8);
	expect_refused(p, 28, AGENT_FROM_GUEST, true, -AGENT_EHELLO);
	memcpy(p + 12, AGENT_HELLO_MAGIC, 8);
	p[20] = 2;
	expect_refused(p, 28, AGENT_FROM_GUEST, true, -AGENT_EVERSION);
	hdr(p, AGENT_MAGIC, AGENT_HELLO, 0, 0, 15);
	expect_refused(p, 27, AGENT_FROM_GUEST, true, -AGENT_ELEN);
	/* client sockets: channel is always 0 */
	hdr(p, AGENT_MAGIC, AGENT_STDOUT, 0, 3, 1);
	expect_refused(p, 13, AGENT_TO_CLIENT, false, -AGENT_ECHANNEL);
	/* EXIT: length 8, known kind, code or signal in range */
	hdr(p, AGENT_MAGIC, AGENT_EXIT, 0, 1, 4);
	expect_refused(p, 16, AGENT_FROM_GUEST, true, -AGENT_ELEN);
	uint8_t e[20];
	agent_encode_exit(e, sizeof(e), 1, 2, 0);
	expect_refused(e, 20, AGENT_FROM_GUEST, true, -AGENT_EVALUE);
	agent_encode_exit(e, sizeof(e), 1, AGENT_EXIT_CODE, 256);
	expect_refused(e, 20, AGENT_FROM_GUEST, true, -AGENT_EVALUE);
	agent_encode_exit(e, sizeof(e), 1, AGENT_EXIT_SIGNAL, 0);
	expect_refused(e, 20, AGENT_FROM_GUEST, true, -AGENT_EVALUE);
	agent_encode_exit(e, sizeof(e), 1, AGENT_EXIT_SIGNAL, 65);
	expect_refused(e, 20, AGENT_FROM_GUEST, true, -AGENT_EVALUE);
	/* ACK within the window, SIGNAL 1..64 */
	agent_encode_u32(e, sizeof(e), AGENT_ACK, 1, 0);
	expect_refused(e, 16, AGENT_FROM_GUEST, true, -AGENT_EVALUE);
	agent_encode_u32(e, sizeof(e), AGENT_ACK, 1, AGENT_WINDOW + 1);
	expect_refused(e, 16, AGENT_FROM_GUEST, true, -AGENT_EVALUE);
	agent_encode_u32(e, sizeof(e), AGENT_SIGNAL, 1, 65);
	expect_refused(e, 16, AGENT_FROM_HOST, true, -AGENT_EVALUE);
	agent_encode_u32(e, sizeof(e), AGENT_SIGNAL, 1, 0);
	expect_refused(e, 16, AGENT_FROM_HOST, true, -AGENT_EVALUE);
	/* STDIN_EOF and CLOSE are empty */
	hdr(p, AGENT_MAGIC, AGENT_STDIN_EOF, 0, 1, 1);
	expect_refused(p, 13, AGENT_FROM_HOST, true, -AGENT_ELEN);
	hdr(p, AGENT_MAGIC, AGENT_CLOSE, 0, 1, 1);
	expect_refused(p, 13, AGENT_FROM_HOST, true, -AGENT_ELEN);
	/* ERROR text: printable ASCII, 1..AGENT_ERROR_MAX */
	agent_encode(p, sizeof(p), AGENT_ERROR, 1, "bad\033[2J", 8);
	expect_refused(p, 20, AGENT_FROM_GUEST, true, -AGENT_ETEXT);
	hdr(p, AGENT_MAGIC, AGENT_ERROR, 0, 1, 0);
	expect_refused(p, 12, AGENT_FROM_GUEST, true, -AGENT_ETEXT);
	static uint8_t longtext[AGENT_HDR_LEN + AGENT_ERROR_MAX + 1];
	memset(longtext, 'a', sizeof(longtext));
	hdr(longtext, AGENT_MAGIC, AGENT_ERROR, 0, 1, AGENT_ERROR_MAX + 1);
	expect_refused(longtext, sizeof(longtext), AGENT_FROM_GUEST, true, -AGENT_ETEXT);
	/* a malformed EXEC never reaches the agent's code */
	hdr(p, AGENT_MAGIC, AGENT_EXEC, 0, 1, 8);
	expect_refused(p, 20, AGENT_FROM_HOST, true, -AGENT_EEXEC);
}

static void test_max_payload(void **state)
{
	(void)state;
	static uint8_t data[AGENT_PAYLOAD_MAX];
	memset(data, 0x5a, sizeof(data));
	int n = agent_encode(buf, sizeof(buf), AGENT_STDOUT, 1, data, AGENT_PAYLOAD_MAX);
	assert_int_equal(n, AGENT_FRAME_MAX);
	assert_int_equal(agent_encode(buf, sizeof(buf), AGENT_STDOUT, 1, data, AGENT_PAYLOAD_MAX + 1),
			 -AGENT_EINVAL);
	assert_int_equal(agent_encode(buf, 10, AGENT_STDOUT, 1, data, 1), -AGENT_ENOSPC);
	agent_dec_init(&dec, AGENT_FROM_GUEST, true, false);
	struct agent_frame f;
	unsigned got;
	assert_int_equal(feed_all(&dec, buf, (size_t)n, 7000, &got, &f), 1);
	assert_int_equal(got, 1);
	assert_int_equal(f.len, AGENT_PAYLOAD_MAX);
	assert_memory_equal(f.payload, data, AGENT_PAYLOAD_MAX);
}

static void test_hunt(void **state)
{
	(void)state;
	/* junk, a near miss of the HELLO prefix, then a real HELLO and data */
	size_t len = 0;
	memcpy(buf, "garbage\0vq", 10);
	len = 10;
	len += (size_t)agent_encode(buf + len, sizeof(buf) - len, AGENT_STDOUT, 1, "tail", 4);
	int n = agent_encode_hello(buf + len, sizeof(buf) - len, 77);
	buf[len + 12] = 'X';   /* a HELLO with a broken magic is skipped too */
	len += (size_t)n;
	len += (size_t)agent_encode_hello(buf + len, sizeof(buf) - len, 42);
	len += (size_t)agent_encode(buf + len, sizeof(buf) - len, AGENT_STDOUT, 1, "x", 1);
	for (size_t step = 1; step < 80; step += 13) {
		agent_dec_init(&dec, AGENT_FROM_GUEST, true, true);
		struct agent_frame f;
		size_t off = 0;
		unsigned got = 0;
		while (off < len) {
			size_t used, chunk = len - off < step ? len - off : step;
			int r = agent_dec_feed(&dec, buf + off, chunk, &used, &f);
			assert_true(r >= 0);
			off += used;
			if (r == 1) {
				if (got == 0) {
					assert_int_equal(f.type, AGENT_HELLO);
					assert_int_equal(agent_hello_session(&f), 42);
				} else {
					assert_int_equal(f.type, AGENT_STDOUT);
				}
				got++;
			}
		}
		assert_int_equal(got, 2);
		assert_false(dec.hunting);
	}
}

static void test_hunt_gives_up(void **state)
{
	(void)state;
	static uint8_t junk[AGENT_HUNT_MAX + 100];
	memset(junk, 'v', sizeof(junk));
	agent_dec_init(&dec, AGENT_FROM_GUEST, true, true);
	struct agent_frame f;
	unsigned got;
	assert_int_equal(feed_all(&dec, junk, sizeof(junk), 4096, &got, &f), -AGENT_ESYNC);
	assert_int_equal(got, 0);
	/* without hunting, junk is a bad frame at once */
	agent_dec_init(&dec, AGENT_FROM_GUEST, true, false);
	assert_int_equal(feed_all(&dec, junk, 100, 100, &got, &f), -AGENT_EMAGIC);
}

static struct agent_frame frame_of(uint8_t *p, size_t cap, uint8_t type, uint32_t ch,
				   const void *data, uint32_t len)
{
	int n = agent_encode(p, cap, type, ch, data, len);
	assert_true(n > 0);
	return (struct agent_frame){ .type = type, .channel = ch, .len = len,
				     .payload = p + AGENT_HDR_LEN };
}

static void test_host_session(void **state)
{
	(void)state;
	static struct agent_host h;
	uint8_t p[AGENT_FRAME_MAX];
	agent_host_reset(&h, 1234);
	/* before the agent answers our HELLO, everything is stale */
	struct agent_frame out = frame_of(p, sizeof(p), AGENT_STDOUT, 9, "x", 1);
	assert_int_equal(agent_host_rx(&h, &out), 2);
	uint8_t hp[28];
	agent_encode_hello(hp, sizeof(hp), 999);
	struct agent_frame hello = { .type = AGENT_HELLO, .len = 16, .payload = hp + 12 };
	assert_int_equal(agent_host_rx(&h, &hello), 2);     /* another session's */
	agent_encode_hello(hp, sizeof(hp), 1234);
	assert_int_equal(agent_host_rx(&h, &hello), 1);     /* ready */
	assert_true(h.ready);
	assert_int_equal(agent_host_rx(&h, &hello), 2);     /* repeated */
	/* a frame for a channel never opened is the guest's fault */
	assert_int_equal(agent_host_rx(&h, &out), -AGENT_EUNKNOWN);
	int s = agent_host_open(&h);
	assert_true(s >= 0);
	uint32_t id = h.ch[s].id;
	assert_int_not_equal(id, 0);
	out = frame_of(p, sizeof(p), AGENT_STDOUT, id, "hello", 5);
	assert_int_equal(agent_host_rx(&h, &out), 0);
	assert_int_equal(h.ch[s].out_used, AGENT_HDR_LEN + 5);
	assert_int_equal(agent_host_consumed(&h, id, 1000), AGENT_HDR_LEN + 5);  /* never more */
	/* the window: exactly AGENT_WINDOW of frames fit, one byte more does not */
	static uint8_t data[AGENT_PAYLOAD_MAX];
	uint32_t used = 0;
	while (AGENT_WINDOW - used >= AGENT_FRAME_MAX) {
		out = frame_of(p, sizeof(p), AGENT_STDOUT, id, data, AGENT_PAYLOAD_MAX);
		assert_int_equal(agent_host_rx(&h, &out), 0);
		used += AGENT_FRAME_MAX;
	}
	uint32_t rest = AGENT_WINDOW - used - AGENT_HDR_LEN;
	out = frame_of(p, sizeof(p), AGENT_STDERR, id, data, rest + 1);
	assert_int_equal(agent_host_rx(&h, &out), -AGENT_EWINDOW);
	out = frame_of(p, sizeof(p), AGENT_STDERR, id, data, rest);
	assert_int_equal(agent_host_rx(&h, &out), 0);
	assert_int_equal(h.ch[s].out_used, AGENT_WINDOW);
	/* stdin credit: ours to spend, the guest's to give back, never more */
	assert_int_equal(agent_host_send_stdin(&h, id, AGENT_WINDOW + 1), -AGENT_ENOSPC);
	assert_int_equal(agent_host_send_stdin(&h, id, 100), 0);
	uint8_t a[16];
	agent_encode_u32(a, sizeof(a), AGENT_ACK, id, 101);
	struct agent_frame ack = { .type = AGENT_ACK, .channel = id, .len = 4, .payload = a + 12 };
	assert_int_equal(agent_host_rx(&h, &ack), -AGENT_EACK);
	agent_encode_u32(a, sizeof(a), AGENT_ACK, id, 100);
	assert_int_equal(agent_host_rx(&h, &ack), 0);
	assert_int_equal(h.ch[s].in_credit, AGENT_WINDOW);
	/* EXIT ends it, and its id is never seen again */
	uint8_t e[20];
	agent_encode_exit(e, sizeof(e), id, AGENT_EXIT_CODE, 3);
	struct agent_frame ex = { .type = AGENT_EXIT, .channel = id, .len = 8, .payload = e + 12 };
	assert_int_equal(agent_host_rx(&h, &ex), 0);
	assert_int_equal(h.open, 0);
	assert_int_equal(agent_host_rx(&h, &ex), -AGENT_EUNKNOWN);
	int s2 = agent_host_open(&h);
	assert_int_not_equal(h.ch[s2].id, id);
	/* HELLO(0): the agent restarted */
	agent_encode_hello(hp, sizeof(hp), 0);
	assert_int_equal(agent_host_rx(&h, &hello), 3);
	/* an ERROR on channel 0 is about the link */
	struct agent_frame le = frame_of(p, sizeof(p), AGENT_ERROR, 0, "hi", 2);
	assert_int_equal(agent_host_rx(&h, &le), 0);
}

static void test_host_channels_bounded(void **state)
{
	(void)state;
	static struct agent_host h;
	agent_host_reset(&h, 1);
	for (unsigned i = 0; i < AGENT_CHANNELS_MAX; i++)
		assert_true(agent_host_open(&h) >= 0);
	assert_int_equal(agent_host_open(&h), -AGENT_ENOSPC);
	agent_host_closing(&h, h.ch[3].id);
	assert_int_equal(h.ch[3].state, AGENT_CH_CLOSING);
	assert_int_equal(agent_host_open(&h), -AGENT_ENOSPC);  /* until its EXIT */
}

static void test_strerror_and_clean(void **state)
{
	(void)state;
	for (int e = AGENT_EBASE; e < AGENT_ELAST; e++) {
		assert_non_null(agent_strerror(-e));
		assert_true(agent_is_proto_error(-e));
		assert_string_not_equal(agent_strerror(-e), "unknown agent error");
	}
	assert_string_equal(agent_strerror(-99999), "unknown agent error");
	assert_false(agent_is_proto_error(-AGENT_EINVAL));
	char s[] = "ok\n\x1b\x80!";
	agent_text_clean(s, strlen(s));
	assert_string_equal(s, "ok??" "?!");   /* split: no trigraph */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_type),
		cmocka_unit_test(test_exec_roundtrip),
		cmocka_unit_test(test_exec_encode_refuses),
		cmocka_unit_test(test_exec_decode_refuses),
		cmocka_unit_test(test_header_refusals),
		cmocka_unit_test(test_payload_refusals),
		cmocka_unit_test(test_max_payload),
		cmocka_unit_test(test_hunt),
		cmocka_unit_test(test_hunt_gives_up),
		cmocka_unit_test(test_host_session),
		cmocka_unit_test(test_host_channels_bounded),
		cmocka_unit_test(test_strerror_and_clean),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
