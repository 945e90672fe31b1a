/* SPDX-License-Identifier: MIT */
/*
 * fuzz_impair.c - arbitrary text through imp_parse_spec() and
 * imp_parse_kv(), one spec per line.
 *
 * Properties checked for every line:
 *  - the result is 0, -EINVAL, -ENOENT or -ENODATA (kv: no -ENODATA); a
 *    failure leaves the set unchanged and writes a NUL-terminated, non-empty
 *    message that fits the buffer (even a tiny one, with the same result);
 *  - a parsed set passes imp_params_check(), formats within IMP_TEXT_MAX,
 *    parses back to an equal set, and formats to the same text again;
 *  - the same line merged onto a busy set behaves the same way;
 *  - a parsed set (the one from nothing, else the merged one) drives an
 *    engine through a few frames: at most two copies, in departure order,
 *    none due before now, flips inside the frame.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "impair.h"

static void trap_unless(int ok)
{
	if (!ok)
		__builtin_trap();
}

static void check_roundtrip(const struct imp_params *p)
{
	char txt[IMP_TEXT_MAX], txt2[IMP_TEXT_MAX], err[IMP_ERR_MAX];
	trap_unless(imp_params_check(p, NULL, 0) == 0);
	int n = imp_format(p, txt, sizeof(txt));
	trap_unless(n >= 0 && (size_t)n == strlen(txt) && n < IMP_TEXT_MAX);
	if (n == 0) {
		trap_unless(!imp_params_active(p));
		return;
	}
	struct imp_params back = { 0 };
	trap_unless(imp_parse_spec(&back, txt, err, sizeof(err)) == 0);
	trap_unless(imp_params_equal(p, &back));
	trap_unless(imp_format(&back, txt2, sizeof(txt2)) == n);
	trap_unless(strcmp(txt, txt2) == 0);
}

/* Parse line onto *p (a copy is kept to see that a failure changes
 * nothing); returns the result. */
static int check_spec(struct imp_params *p, const char *line)
{
	char err[IMP_ERR_MAX], tiny[5];
	struct imp_params before = *p, again = *p;
	memset(err, 0x7f, sizeof(err));
	int rc = imp_parse_spec(p, line, err, sizeof(err));
	trap_unless(rc == 0 || rc == -EINVAL || rc == -ENOENT || rc == -ENODATA);
	if (rc) {
		trap_unless(memchr(err, '\0', sizeof(err)) != NULL && err[0]);
		trap_unless(memcmp(p, &before, sizeof(*p)) == 0);
		trap_unless(imp_parse_spec(&again, line, tiny, sizeof(tiny)) == rc);
		trap_unless(memchr(tiny, '\0', sizeof(tiny)) != NULL);
		return rc;
	}
	check_roundtrip(p);
	return 0;
}

/* The line as a lab-file key: the first word, then the rest. */
static void check_kv(const char *line)
{
	char key[32], err[IMP_ERR_MAX];
	size_t k = strcspn(line, " \t");
	if (k >= sizeof(key))
		k = sizeof(key) - 1;
	memcpy(key, line, k);
	key[k] = '\0';
	const char *value = line[k] ? line + k + 1 : "";
	struct imp_params p = { .delay_ns = 1000000 }, before = p;
	int rc = imp_parse_kv(&p, key, value, err, sizeof(err));
	trap_unless(rc == 0 || rc == -EINVAL || rc == -ENOENT);
	if (rc) {
		trap_unless(memchr(err, '\0', sizeof(err)) != NULL && err[0]);
		trap_unless(memcmp(&p, &before, sizeof(p)) == 0);
		return;
	}
	/* one key is in range by itself; the pair rules may still fail */
	if (imp_params_check(&p, NULL, 0) == 0)
		check_roundtrip(&p);
}

/* A small frame, a 1514-byte one, a TSO frame of 3 segments: built once
 * (they are ours, not the input).  Copies of the first two are corrupted;
 * fuzz_impair_frame corrupts every kind of frame. */
#define TSO_LEN (IMP_VNET_HDR + 14 + 40 + 3 * 1448)
static const size_t lens[] = { 60, 1526, TSO_LEN };
static uint8_t frames[3][TSO_LEN], work[TSO_LEN];

static void build_frames(void)
{
	for (unsigned k = 0; k < 3; k++)
		frames[k][IMP_VNET_HDR + 12] = 0x08;   /* IPv4 */
	uint8_t *f = frames[2];
	f[0] = 1;   /* NEEDS_CSUM, TCPV4, gso_size 1448, csum at 34 + 16 */
	f[1] = 1;
	f[4] = 1448 & 0xff;
	f[5] = 1448 >> 8;
	f[6] = 34;
	f[8] = 16;
	f[IMP_VNET_HDR + 34 + 12] = 5 << 4;
}

static void drive(const struct imp_params *p)
{
	struct imp_dir d;
	struct imp_decision out;
	char err[IMP_ERR_MAX];
	imp_dir_init(&d, 7);
	int rc = imp_dir_set(&d, p, err, sizeof(err));
	trap_unless(rc == 0 || rc == -ENOMEM);
	if (rc) {
		imp_dir_free(&d);
		return;
	}
	uint64_t now = 1000000000;
	for (unsigned i = 0; i < 12; i++) {
		size_t len = lens[i % 3];
		int n = imp_frame(&d, frames[i % 3], len, now, &out);
		trap_unless(n >= 0 && n <= 2 && (unsigned)n == out.n);
		trap_unless((n == 0) == (out.verdict != IMP_SEND));
		for (int c = 0; c < n; c++) {
			trap_unless(out.copy[c].due >= now);
			trap_unless(!out.copy[c].flip_off ||
				    (out.copy[c].flip_off >= IMP_VNET_HDR && out.copy[c].flip_off < len));
			if (out.copy[c].flip_off && i % 3 != 2) {
				memcpy(work, frames[i % 3], len);
				imp_corrupt(work, len, &out.copy[c]);
			}
		}
		if (n == 2)
			trap_unless(out.copy[1].due >= out.copy[0].due);
		now += (i & 1) ? 0 : 100000;
	}
	trap_unless(d.stats.frames == 12);
	imp_dir_free(&d);
}

/* Lines past this are ignored: a spec is one line, and a few per input
 * let the fuzzer combine them without a 4 KiB input costing hundreds. */
#define LINES_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char busy_text[] = "delay 10ms jitter 1ms loss 1% burst 2 rate 1mbit queue 10";
	static struct imp_params busy0;
	size_t off = 0;

	if (!frames[0][IMP_VNET_HDR + 12]) {
		build_frames();
		trap_unless(imp_parse_spec(&busy0, busy_text, NULL, 0) == 0);
	}
	for (unsigned lines = 0; off < size && lines < LINES_MAX; lines++) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
		char *line = malloc(len + 1);   /* exact size: overreads show */

		trap_unless(line != NULL);
		memcpy(line, data + off, len);
		line[len] = '\0';
		struct imp_params p = { 0 }, busy = busy0;
		/* drive one of them: the engine's own fuzzing is fuzz_impair_frame */
		int rc = check_spec(&p, line);
		if (check_spec(&busy, line) == 0 || rc == 0)
			drive(rc == 0 ? &p : &busy);
		check_kv(line);
		free(line);
		off += len + 1;
	}
	return 0;
}
