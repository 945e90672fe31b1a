/* SPDX-License-Identifier: MIT */
/*
 * test_impair_params.c - the impairment text: every unit of every key,
 * every error and its message, merging and `clear`, the two-key checks,
 * the canonical form and its round trip.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "impair.h"

static char err[IMP_ERR_MAX];

static int spec(struct imp_params *p, const char *text)
{
	memset(err, 0, sizeof(err));
	return imp_parse_spec(p, text, err, sizeof(err));
}

static int kv(struct imp_params *p, const char *key, const char *value)
{
	memset(err, 0, sizeof(err));
	return imp_parse_kv(p, key, value, err, sizeof(err));
}

/* in parses (from nothing) and formats as canon, which parses back equal
 * and formats the same again. */
static void canon(const char *in, const char *want)
{
	struct imp_params p = { 0 }, back = { 0 };
	char txt[IMP_TEXT_MAX], txt2[IMP_TEXT_MAX];
	int rc = spec(&p, in);
	if (rc)
		fail_msg("\"%s\": %d %s", in, rc, err);
	int n = imp_format(&p, txt, sizeof(txt));
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(txt, want);
	if (n == 0)
		return;
	assert_int_equal(spec(&back, txt), 0);
	assert_true(imp_params_equal(&p, &back));
	assert_int_equal(imp_format(&back, txt2, sizeof(txt2)), n);
	assert_string_equal(txt, txt2);
}

/* in fails with rc and exactly msg, leaving the set as it was. */
static void refused(const char *in, int rc, const char *msg)
{
	struct imp_params p = { .delay_ns = 7000000, .loss = { .model = IMP_LOSS_RANDOM, .pct = 3 } };
	struct imp_params before = p;
	int got = spec(&p, in);
	if (got != rc || strcmp(err, msg) != 0)
		fail_msg("\"%s\": got %d \"%s\", want %d \"%s\"", in, got, err, rc, msg);
	assert_memory_equal(&p, &before, sizeof(p));
}

static void kv_refused(const char *key, const char *value, int rc, const char *msg)
{
	struct imp_params p = { .mtu = 1400 }, before = p;
	int got = kv(&p, key, value);
	if (got != rc || strcmp(err, msg) != 0)
		fail_msg("%s = \"%s\": got %d \"%s\", want %d \"%s\"", key, value, got, err, rc,
			 msg);
	assert_memory_equal(&p, &before, sizeof(p));
}

static void test_time_units(void **state)
{
	(void)state;
	struct imp_params p = { 0 };
	const struct {
		const char *text;
		uint64_t ns;
	} cases[] = {
		{ "delay 1ns", 1 },
		{ "delay 250ns", 250 },
		{ "delay 1us", 1000 },
		{ "delay 1.5us", 1500 },
		{ "delay 10ms", 10000000 },
		{ "delay 0.001ms", 1000 },
		{ "delay 2s", 2000000000 },
		{ "delay 1.000000001s", 1000000001 },
		{ "delay 60s", 60000000000ull },
		{ "delay 60000ms", 60000000000ull },
		{ "delay 10MS", 10000000 },
		{ "delay 10Us", 10000 },
		{ "delay 0", 0 },
		{ "delay 0ms", 0 },
		{ "delay 007ms", 7000000 },
		{ "delay off", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p.delay_ns = 12345;
		if (spec(&p, cases[i].text))
			fail_msg("\"%s\": %s", cases[i].text, err);
		assert_int_equal(p.delay_ns, cases[i].ns);
	}
	assert_int_equal(spec(&p, "delay 10ms jitter 2ms"), 0);
	assert_int_equal(p.jitter_ns, 2000000);
	assert_int_equal(p.jitter_dist, IMP_DIST_NORMAL);
	assert_int_equal(spec(&p, "jitter 3ms uniform"), 0);
	assert_int_equal(p.jitter_ns, 3000000);
	assert_int_equal(p.jitter_dist, IMP_DIST_UNIFORM);
	assert_int_equal(spec(&p, "jitter 3ms normal"), 0);
	assert_int_equal(p.jitter_dist, IMP_DIST_NORMAL);
	assert_int_equal(spec(&p, "jitter off"), 0);
	assert_int_equal(p.jitter_ns, 0);
}

static void test_pct_units(void **state)
{
	(void)state;
	struct imp_params p = { .delay_ns = 1 };
	const struct {
		const char *text;
		uint32_t v;
	} cases[] = {
		{ "1%", 1000000 },
		{ "100%", 100000000 },
		{ "0.5%", 500000 },
		{ "0.000001%", 1 },
		{ "12.345678%", 12345678 },
		{ "99.999999%", 99999999 },
		{ "100.000000%", 100000000 },
		{ "0%", 0 },
		{ "0", 0 },
		{ "off", 0 },
	};
	const char *keys[] = { "duplicate", "reorder", "corrupt", "loss" };
	for (size_t k = 0; k < 4; k++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			char text[64];
			snprintf(text, sizeof(text), "%s %s", keys[k], cases[i].text);
			p.duplicate = p.reorder = p.corrupt = 77;
			p.loss = (struct imp_loss){ 0 };
			if (spec(&p, text))
				fail_msg("\"%s\": %s", text, err);
			uint32_t got = k == 0 ? p.duplicate : k == 1 ? p.reorder : k == 2 ? p.corrupt
											  : p.loss.pct;
			assert_int_equal(got, cases[i].v);
			if (k == 3)
				assert_int_equal(p.loss.model,
						 cases[i].v ? IMP_LOSS_RANDOM : IMP_LOSS_NONE);
		}
	}
}

static void test_loss_forms(void **state)
{
	(void)state;
	struct imp_params p = { 0 };
	assert_int_equal(spec(&p, "loss 1% burst 5"), 0);
	assert_int_equal(p.loss.model, IMP_LOSS_BURST);
	assert_int_equal(p.loss.pct, 1000000);
	assert_int_equal(p.loss.burst, 5000);
	assert_int_equal(spec(&p, "loss 10% burst 2.5"), 0);
	assert_int_equal(p.loss.burst, 2500);
	assert_int_equal(spec(&p, "loss 1% burst 1"), 0);
	assert_int_equal(p.loss.burst, 1000);
	/* 0% is no loss, whatever the burst */
	assert_int_equal(spec(&p, "loss 0% burst 3"), 0);
	assert_int_equal(p.loss.model, IMP_LOSS_NONE);
	assert_int_equal(p.loss.burst, 0);

	assert_int_equal(spec(&p, "loss ge 1% 20%"), 0);
	assert_int_equal(p.loss.model, IMP_LOSS_GE);
	assert_int_equal(p.loss.p, 1000000);
	assert_int_equal(p.loss.r, 20000000);
	assert_int_equal(p.loss.h, IMP_PCT_ONE);
	assert_int_equal(p.loss.k, 0);
	assert_int_equal(spec(&p, "loss ge 1% 20% 50%"), 0);
	assert_int_equal(p.loss.h, 50000000);
	assert_int_equal(p.loss.k, 0);
	assert_int_equal(spec(&p, "loss ge 1% 20% 50% 0.1% delay 1ms"), 0);
	assert_int_equal(p.loss.k, 100000);
	assert_int_equal(p.delay_ns, 1000000);
	/* a new loss replaces the whole model */
	assert_int_equal(spec(&p, "loss 2%"), 0);
	assert_int_equal(p.loss.model, IMP_LOSS_RANDOM);
	assert_int_equal(p.loss.p, 0);
	assert_int_equal(p.loss.h, 0);
}

static void test_rate_units(void **state)
{
	(void)state;
	struct imp_params p = { 0 };
	const struct {
		const char *text;
		uint64_t bps;
	} cases[] = {
		{ "1000bit", 1000 },
		{ "1kbit", 1000 },
		{ "1.5kbit", 1500 },
		{ "100mbit", 100000000 },
		{ "100Mbit", 100000000 },
		{ "100mbit/s", 100000000 },
		{ "100MBIT/S", 100000000 },
		{ "2.5gbit", 2500000000ull },
		{ "1tbit", 1000000000000ull },
		{ "0.001tbit", 1000000000 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "rate %s", cases[i].text);
		if (spec(&p, text))
			fail_msg("\"%s\": %s", text, err);
		assert_int_equal(p.rate_bps, cases[i].bps);
	}
}

static void test_sizes(void **state)
{
	(void)state;
	struct imp_params p = { 0 };
	const struct {
		const char *text;
		uint64_t bytes;
	} cases[] = {
		{ "0", 0 },       { "0b", 0 },          { "1500b", 1500 },
		{ "32kb", 32000 }, { "32kib", 32768 },   { "1.5kib", 1536 },
		{ "2mb", 2000000 }, { "2mib", 2097152 }, { "1gb", 1000000000 },
		{ "1gib", 1u << 30 }, { "64KiB", 65536 }, { "1.5MB", 1500000 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "rate 1mbit burst %s", cases[i].text);
		if (spec(&p, text))
			fail_msg("\"%s\": %s", text, err);
		assert_int_equal(p.rate_burst, cases[i].bytes);
	}
	assert_int_equal(spec(&p, "rate 1mbit queue 100"), 0);
	assert_int_equal(p.queue_frames, 100);
	assert_int_equal(p.queue_bytes, 0);
	assert_int_equal(p.rate_burst, 0);   /* a new rate replaces its options */
	assert_int_equal(spec(&p, "rate 1mbit queue 256kib burst 10kb"), 0);
	assert_int_equal(p.queue_frames, 0);
	assert_int_equal(p.queue_bytes, 262144);
	assert_int_equal(p.rate_burst, 10000);
	assert_int_equal(spec(&p, "rate 1mbit queue 65536"), 0);
	assert_int_equal(p.queue_frames, 65536);
	assert_int_equal(spec(&p, "rate 1mbit queue 1b"), 0);
	assert_int_equal(p.queue_bytes, 1);
	assert_int_equal(spec(&p, "rate off"), 0);
	assert_int_equal(p.rate_bps, 0);
	assert_int_equal(p.queue_bytes, 0);
}

static void test_mtu(void **state)
{
	(void)state;
	struct imp_params p = { 0 };
	assert_int_equal(spec(&p, "mtu 1400"), 0);
	assert_int_equal(p.mtu, 1400);
	assert_int_equal(spec(&p, "mtu 68"), 0);
	assert_int_equal(p.mtu, 68);
	assert_int_equal(spec(&p, "mtu 65535"), 0);
	assert_int_equal(p.mtu, 65535);
	assert_int_equal(spec(&p, "mtu off"), 0);
	assert_int_equal(p.mtu, 0);
}

static void test_value_errors(void **state)
{
	(void)state;
	const struct {
		const char *in, *msg;
	} cases[] = {
		{ "delay 10mss", "bad delay \"10mss\" (e.g. 10ms)" },
		{ "delay 10", "bad delay \"10\" (e.g. 10ms)" },
		{ "delay -1ms", "bad delay \"-1ms\" (e.g. 10ms)" },
		{ "delay +1ms", "bad delay \"+1ms\" (e.g. 10ms)" },
		{ "delay 1.ms", "bad delay \"1.ms\" (e.g. 10ms)" },
		{ "delay .5ms", "bad delay \".5ms\" (e.g. 10ms)" },
		{ "delay 1..5ms", "bad delay \"1..5ms\" (e.g. 10ms)" },
		{ "delay ms", "bad delay \"ms\" (e.g. 10ms)" },
		{ "delay 1e3ms", "bad delay \"1e3ms\" (e.g. 10ms)" },
		{ "delay 10m", "bad delay \"10m\" (e.g. 10ms)" },
		{ "delay 10µs", "bad delay \"10??s\" (e.g. 10ms)" },
		{ "delay 61s", "delay \"61s\" out of range (0-60s)" },
		{ "delay 60.000000001s", "delay \"60.000000001s\" out of range (0-60s)" },
		{ "delay 99999999999999999999ns",
		  "delay \"99999999999999999999ns\" out of range (0-60s)" },
		{ "delay 18446744073709551615s", "delay \"18446744073709551615s\" out of range (0-60s)" },
		{ "delay 0.5ns", "bad delay \"0.5ns\" (whole nanoseconds)" },
		{ "delay 1.0000000001s", "bad delay \"1.0000000001s\" (whole nanoseconds)" },
		{ "delay", "delay needs a value (e.g. 10ms)" },
		{ "jitter 2", "bad jitter \"2\" (e.g. 2ms)" },
		{ "loss 5", "bad loss \"5\" (e.g. 1%)" },
		{ "loss 5%%", "bad loss \"5%%\" (e.g. 1%)" },
		{ "loss 101%", "loss \"101%\" out of range (0-100%)" },
		{ "loss 100.000001%", "loss \"100.000001%\" out of range (0-100%)" },
		{ "loss 0.0000001%", "bad loss \"0.0000001%\" (at most 6 decimals)" },
		{ "loss 0.0000000001%", "bad loss \"0.0000000001%\" (at most 6 decimals)" },
		{ "loss -1%", "bad loss \"-1%\" (e.g. 1%)" },
		{ "loss", "loss needs a value (e.g. 1%)" },
		{ "loss 1% burst", "loss burst needs a value (e.g. 5)" },
		{ "loss 1% burst 0.5", "loss burst \"0.5\" out of range (1-1000000 frames)" },
		{ "loss 1% burst 1000001", "loss burst \"1000001\" out of range (1-1000000 frames)" },
		{ "loss 1% burst 2.0005", "bad loss burst \"2.0005\" (at most 3 decimals)" },
		{ "loss 1% burst 5x", "bad loss burst \"5x\" (e.g. 5)" },
		{ "loss ge 1%", "loss ge r needs a value (e.g. 1%)" },
		{ "loss ge x 1%", "bad loss ge p \"x\" (e.g. 1%)" },
		{ "loss ge 1% 2% 300%", "loss ge h \"300%\" out of range (0-100%)" },
		{ "loss ge 1% 2% 3% 4x", "bad loss ge k \"4x\" (e.g. 1%)" },
		{ "duplicate 1", "bad duplicate \"1\" (e.g. 1%)" },
		{ "reorder 200%", "reorder \"200%\" out of range (0-100%)" },
		{ "corrupt", "corrupt needs a value (e.g. 1%)" },
		{ "rate 100", "bad rate \"100\" (e.g. 100mbit)" },
		{ "rate 100mbps",
		  "bad rate \"100mbps\" (say mbit for megabits: tc reads mbps as megabytes)" },
		{ "rate 100Kbps",
		  "bad rate \"100Kbps\" (say mbit for megabits: tc reads mbps as megabytes)" },
		{ "rate 100mb", "bad rate \"100mb\" (e.g. 100mbit)" },
		{ "rate 999bit", "rate \"999bit\" out of range (1kbit-1tbit)" },
		{ "rate 0bit", "rate \"0bit\" out of range (1kbit-1tbit)" },
		{ "rate 0", "bad rate \"0\" (e.g. 100mbit)" },
		{ "rate 1.1tbit", "rate \"1.1tbit\" out of range (1kbit-1tbit)" },
		{ "rate 1.5bit", "bad rate \"1.5bit\" (whole bit/s)" },
		{ "rate 1.00000001tbit", "bad rate \"1.00000001tbit\" (whole bit/s)" },
		{ "rate 99999999999999999999gbit",
		  "rate \"99999999999999999999gbit\" out of range (1kbit-1tbit)" },
		{ "rate 20000000000gbit", "rate \"20000000000gbit\" out of range (1kbit-1tbit)" },
		{ "rate 1mbit burst 32", "bad rate burst \"32\" (e.g. 32kib)" },
		{ "rate 1mbit burst 2gib", "rate burst \"2gib\" out of range (0-1gib)" },
		{ "rate 1mbit burst 0.5b", "bad rate burst \"0.5b\" (whole bytes)" },
		{ "rate 1mbit burst", "rate burst needs a value (e.g. 32kib)" },
		{ "rate 1mbit burst 1kb burst 2kb", "rate burst given twice" },
		{ "rate 1mbit queue 1 queue 2", "rate queue given twice" },
		{ "rate 1mbit queue 0",
		  "rate queue \"0\" out of range (1-65536 frames or 1b-1gib)" },
		{ "rate 1mbit queue 0kb",
		  "rate queue \"0kb\" out of range (1-65536 frames or 1b-1gib)" },
		{ "rate 1mbit queue 65537",
		  "rate queue \"65537\" out of range (1-65536 frames or 1b-1gib)" },
		{ "rate 1mbit queue 1.5", "bad rate queue \"1.5\" (whole frames)" },
		{ "rate 1mbit queue 1.5b", "bad rate queue \"1.5b\" (whole bytes)" },
		{ "rate 1mbit queue lots", "bad rate queue \"lots\" (e.g. 1000 or 256kib)" },
		{ "mtu 67", "mtu \"67\" out of range (68-65535)" },
		{ "mtu 65536", "mtu \"65536\" out of range (68-65535)" },
		{ "mtu 0", "mtu \"0\" out of range (68-65535)" },
		{ "mtu 1500b", "bad mtu \"1500b\" (e.g. 1400)" },
		{ "mtu 1500.5", "bad mtu \"1500.5\" (whole bytes)" },
		{ "mtu", "mtu needs a value (e.g. 1400)" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		refused(cases[i].in, -EINVAL, cases[i].msg);
}

static void test_spec_errors(void **state)
{
	(void)state;
	refused("", -ENODATA, "no impairment given");
	refused(" \t ", -ENODATA, "no impairment given");
	refused("latency 10ms", -ENOENT,
		"unknown impairment \"latency\" (delay jitter loss duplicate reorder corrupt rate "
		"mtu)");
	refused("Delay 10ms", -ENOENT,
		"unknown impairment \"Delay\" (delay jitter loss duplicate reorder corrupt rate "
		"mtu)");
	refused("delay 10ms 5ms", -ENOENT,
		"unknown impairment \"5ms\" (delay jitter loss duplicate reorder corrupt rate "
		"mtu)");
	refused("delay 10ms delay 20ms", -EINVAL, "delay given twice");
	refused("delay 10ms clear", -EINVAL, "clear must come first");
	refused("clear clear", -EINVAL, "clear must come first");
	refused("jitter 2ms pareto", -ENOENT,
		"unknown impairment \"pareto\" (delay jitter loss duplicate reorder corrupt rate "
		"mtu)");
	refused("burst 5", -ENOENT,
		"unknown impairment \"burst\" (delay jitter loss duplicate reorder corrupt rate "
		"mtu)");
	/* two-key rules, on the merged set */
	refused("delay 2ms jitter 5ms", -EINVAL,
		"jitter 5ms exceeds delay 2ms (the delay would go negative)");
	refused("clear jitter 1500us", -EINVAL,
		"jitter 1500us exceeds delay 0 (the delay would go negative)");
}

static void test_merge_errors(void **state)
{
	(void)state;
	struct imp_params p = { 0 }, before;
	assert_int_equal(spec(&p, "delay 10ms jitter 2ms"), 0);
	before = p;
	assert_int_equal(spec(&p, "delay 1ms"), -EINVAL);
	assert_string_equal(err, "jitter 2ms exceeds delay 1ms (the delay would go negative)");
	assert_memory_equal(&p, &before, sizeof(p));
	assert_int_equal(spec(&p, "clear reorder 5%"), -EINVAL);
	assert_string_equal(err, "reorder needs a delay (reordered frames skip it, e.g. delay 10ms "
				 "reorder 25%)");
	assert_int_equal(spec(&p, "loss 60% burst 1"), -EINVAL);
	assert_string_equal(err, "loss 60% needs a burst of at least 1.5 (a burst is followed by "
				 "good frames)");
	assert_int_equal(spec(&p, "loss 99.9% burst 2"), -EINVAL);
	assert_string_equal(err, "loss 99.9% needs a burst of at least 999 (a burst is followed by "
				 "good frames)");
	assert_int_equal(spec(&p, "loss 100% burst 1000000"), -EINVAL);
	assert_string_equal(err, "loss 100% cannot come in bursts");
	assert_memory_equal(&p, &before, sizeof(p));
	/* exactly at the bound passes */
	assert_int_equal(spec(&p, "loss 60% burst 1.5"), 0);
	assert_int_equal(spec(&p, "loss 50% burst 1"), 0);
	assert_int_equal(spec(&p, "loss 100%"), 0);
}

static void test_merge_and_clear(void **state)
{
	(void)state;
	struct imp_params p = { 0 };
	char txt[IMP_TEXT_MAX];
	assert_int_equal(spec(&p, "delay 10ms loss 1%"), 0);
	assert_int_equal(spec(&p, "rate 100mbit"), 0);
	imp_format(&p, txt, sizeof(txt));
	assert_string_equal(txt, "delay 10ms loss 1% rate 100mbit");
	assert_int_equal(spec(&p, "loss off"), 0);
	imp_format(&p, txt, sizeof(txt));
	assert_string_equal(txt, "delay 10ms rate 100mbit");
	assert_int_equal(spec(&p, "clear mtu 1400"), 0);
	imp_format(&p, txt, sizeof(txt));
	assert_string_equal(txt, "mtu 1400");
	assert_int_equal(spec(&p, "  clear  "), 0);
	assert_false(imp_params_active(&p));
	assert_int_equal(imp_format(&p, txt, sizeof(txt)), 0);
	assert_string_equal(txt, "");
	/* blanks of every kind separate */
	assert_int_equal(spec(&p, "\tdelay\t10ms\n loss  1%\r\n"), 0);
	assert_int_equal(p.delay_ns, 10000000);
}

static void test_kv(void **state)
{
	(void)state;
	struct imp_params p = { 0 };
	char txt[IMP_TEXT_MAX];
	assert_int_equal(kv(&p, "delay", "10ms"), 0);
	assert_int_equal(kv(&p, "jitter", "2ms uniform"), 0);
	assert_int_equal(kv(&p, "loss", " 1%  burst 5 "), 0);
	assert_int_equal(kv(&p, "rate", "100mbit burst 32kib queue 1000"), 0);
	assert_int_equal(kv(&p, "duplicate", "1%"), 0);
	assert_int_equal(kv(&p, "reorder", "25%"), 0);
	assert_int_equal(kv(&p, "corrupt", "0.1%"), 0);
	assert_int_equal(kv(&p, "mtu", "1400"), 0);
	assert_int_equal(imp_params_check(&p, err, sizeof(err)), 0);
	imp_format(&p, txt, sizeof(txt));
	assert_string_equal(txt, "delay 10ms jitter 2ms uniform loss 1% burst 5 duplicate 1% "
				 "reorder 25% corrupt 0.1% rate 100mbit burst 32kib queue 1000 "
				 "mtu 1400");
	/* a key again replaces it (the lab reader decides about repeats) */
	assert_int_equal(kv(&p, "delay", "20ms"), 0);
	assert_int_equal(p.delay_ns, 20000000);
	/* the two-key rules are the section's business: kv takes them */
	assert_int_equal(kv(&p, "jitter", "30ms"), 0);
	assert_int_equal(imp_params_check(&p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "jitter 30ms exceeds delay 20ms (the delay would go negative)");

	kv_refused("latency", "10ms", -ENOENT,
		   "unknown impairment \"latency\" (delay jitter loss duplicate reorder corrupt "
		   "rate mtu)");
	kv_refused("clear", "", -ENOENT,
		   "unknown impairment \"clear\" (delay jitter loss duplicate reorder corrupt "
		   "rate mtu)");
	kv_refused("delay", "", -EINVAL, "delay needs a value (e.g. 10ms)");
	kv_refused("delay", "10ms 5ms", -EINVAL, "unexpected \"5ms\" after delay value");
	kv_refused("delay", "10ms loss 1%", -EINVAL, "unexpected \"loss\" after delay value");
	kv_refused("mtu", "1400 # comment", -EINVAL, "unexpected \"#\" after mtu value");
	kv_refused("rate", "1mbit burst", -EINVAL, "rate burst needs a value (e.g. 32kib)");
	kv_refused("delay", "10mss", -EINVAL, "bad delay \"10mss\" (e.g. 10ms)");
	assert_int_equal(imp_parse_kv(&p, NULL, "1", err, sizeof(err)), -EINVAL);
	assert_int_equal(imp_parse_kv(&p, "delay", NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(imp_parse_kv(NULL, "delay", "1ms", err, sizeof(err)), -EINVAL);
}

static void test_untrusted_text(void **state)
{
	(void)state;
	char big[IMP_SPEC_MAX + 2];
	memset(big, ' ', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	refused(big, -EINVAL, "impairment too long (over 4096 bytes)");
	big[IMP_SPEC_MAX] = '\0';   /* exactly the limit: read, and blank */
	refused(big, -ENODATA, "no impairment given");

	/* a long or hostile token is quoted short and printable */
	char longtok[200];
	memcpy(longtok, "delay ", 6);
	memset(longtok + 6, '9', 150);
	strcpy(longtok + 156, "ms");
	refused(longtok, -EINVAL,
		"delay \"9999999999999999999999999999999999999999...\" out of range (0-60s)");
	refused("delay \x1b[31mred", -EINVAL, "bad delay \"?[31mred\" (e.g. 10ms)");
	refused("delay 1\"ms", -EINVAL, "bad delay \"1?ms\" (e.g. 10ms)");
	refused("\x01\x02", -ENOENT,
		"unknown impairment \"??\" (delay jitter loss duplicate reorder corrupt rate mtu)");

	/* no message buffer, and a tiny one: same result, terminated */
	struct imp_params p = { 0 };
	assert_int_equal(imp_parse_spec(&p, "delay 10mss", NULL, 0), -EINVAL);
	char tiny[6];
	memset(tiny, 'x', sizeof(tiny));
	assert_int_equal(imp_parse_spec(&p, "delay 10mss", tiny, sizeof(tiny)), -EINVAL);
	assert_string_equal(tiny, "bad d");
	assert_int_equal(imp_parse_spec(NULL, "delay 1ms", err, sizeof(err)), -EINVAL);
	assert_int_equal(imp_parse_spec(&p, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(imp_parse_kv(&p, "delay", big, err, sizeof(err)), -EINVAL);
	big[IMP_SPEC_MAX] = ' ';
	assert_int_equal(imp_parse_kv(&p, "delay", big, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "delay: value too long (over 4096 bytes)");
}

static void test_canonical(void **state)
{
	(void)state;
	canon("clear", "");
	canon("delay 0", "");
	canon("delay 10ms", "delay 10ms");
	canon("delay 1.5ms", "delay 1500us");
	canon("delay 1000ms", "delay 1s");
	canon("delay 1000000001ns", "delay 1000000001ns");
	canon("delay 0.25s jitter 0.01s", "delay 250ms jitter 10ms");
	canon("delay 10ms jitter 2ms normal", "delay 10ms jitter 2ms");
	canon("jitter 2ms uniform delay 10ms", "delay 10ms jitter 2ms uniform");
	canon("loss 1%", "loss 1%");
	canon("loss 0.500%", "loss 0.5%");
	canon("loss 12.345678%", "loss 12.345678%");
	canon("loss 100%", "loss 100%");
	canon("loss 1% burst 5.000", "loss 1% burst 5");
	canon("loss 1% burst 2.25", "loss 1% burst 2.25");
	canon("loss ge 1% 20%", "loss ge 1% 20% 100% 0%");
	canon("loss ge 0.1% 25% 90% 0.01%", "loss ge 0.1% 25% 90% 0.01%");
	canon("corrupt 0.1% reorder 25% duplicate 1% delay 5ms",
	      "delay 5ms duplicate 1% reorder 25% corrupt 0.1%");
	canon("rate 100000kbit", "rate 100mbit");
	canon("rate 1500kbit", "rate 1500kbit");
	canon("rate 1.5gbit", "rate 1500mbit");
	canon("rate 1tbit", "rate 1tbit");
	canon("rate 1001bit", "rate 1001bit");
	canon("rate 1mbit burst 65536b queue 1000", "rate 1mbit burst 64kib queue 1000");
	canon("rate 1mbit queue 1000000b", "rate 1mbit queue 1mb");
	canon("rate 1mbit queue 2048000b", "rate 1mbit queue 2000kib");
	canon("rate 1mbit queue 1gib burst 1gb", "rate 1mbit burst 1gb queue 1gib");
	canon("rate 1mbit burst 1500b", "rate 1mbit burst 1500b");
	canon("rate 1mbit burst 0", "rate 1mbit");
	canon("mtu 1400", "mtu 1400");
	canon("mtu 1400 rate 10mbit loss 1% burst 3 jitter 1ms delay 20ms corrupt 1% "
	      "duplicate 2% reorder 3%",
	      "delay 20ms jitter 1ms loss 1% burst 3 duplicate 2% reorder 3% corrupt 1% rate "
	      "10mbit mtu 1400");
}

static void test_format_limits(void **state)
{
	(void)state;
	struct imp_params p = { 0 };
	char txt[IMP_TEXT_MAX];
	/* the longest set there is fits IMP_TEXT_MAX */
	assert_int_equal(spec(&p, "delay 59999999999ns jitter 59999999999ns uniform "
				  "loss ge 12.345678% 12.345678% 12.345678% 12.345678% "
				  "duplicate 12.345678% reorder 12.345678% corrupt 12.345678% "
				  "rate 999999999999bit burst 1073741823b queue 1073741823b mtu 65535"),
			 0);
	int n = imp_format(&p, txt, sizeof(txt));
	assert_true(n > 0 && n < IMP_TEXT_MAX);
	/* too small a buffer: -ENOSPC and a terminated prefix */
	char small[12];
	assert_int_equal(imp_format(&p, small, sizeof(small)), -ENOSPC);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, txt, sizeof(small) - 1);
	assert_int_equal(imp_format(&p, small, 0), -EINVAL);
	assert_int_equal(imp_format(NULL, small, sizeof(small)), -EINVAL);
	/* a set that fails the check is not formatted */
	p.jitter_ns = p.delay_ns + 1;
	assert_int_equal(imp_format(&p, txt, sizeof(txt)), -EINVAL);
	assert_string_equal(txt, "");
}

/* Sets built in code: the check catches what the parser never makes. */
static void test_check(void **state)
{
	(void)state;
	const struct {
		struct imp_params p;
		const char *msg;
	} cases[] = {
		{ { .delay_ns = IMP_DELAY_MAX_NS + 1 }, "delay and jitter are at most 60s" },
		{ { .delay_ns = 5, .jitter_ns = 1, .jitter_dist = 7 }, "unknown jitter distribution 7" },
		{ { .loss = { .model = 9 } }, "unknown loss model 9" },
		{ { .loss = { .model = IMP_LOSS_RANDOM } }, "loss 0% is no loss model" },
		{ { .loss = { .model = IMP_LOSS_RANDOM, .pct = IMP_PCT_ONE + 1 } },
		  "loss 100.000001% out of range (0-100%)" },
		{ { .loss = { .model = IMP_LOSS_BURST, .pct = 1, .burst = 999 } },
		  "loss burst out of range (1-1000000 frames)" },
		{ { .loss = { .model = IMP_LOSS_GE, .r = IMP_PCT_ONE * 2 } },
		  "loss ge r 200.000000% out of range (0-100%)" },
		{ { .duplicate = IMP_PCT_ONE + 5 }, "duplicate 100.000005% out of range (0-100%)" },
		{ { .corrupt = UINT32_MAX }, "corrupt 4294.967295% out of range (0-100%)" },
		{ { .rate_bps = 999 }, "rate out of range (1kbit-1tbit)" },
		{ { .rate_bps = IMP_RATE_MAX + 1 }, "rate out of range (1kbit-1tbit)" },
		{ { .queue_frames = 10 }, "a rate burst or queue needs a rate" },
		{ { .rate_bps = 1000, .rate_burst = IMP_SIZE_MAX + 1 },
		  "rate burst or queue out of range" },
		{ { .rate_bps = 1000, .queue_frames = IMP_QUEUE_FRAMES_MAX + 1 },
		  "rate burst or queue out of range" },
		{ { .rate_bps = 1000, .queue_frames = 1, .queue_bytes = 1 },
		  "a rate queue is in bytes or in frames, not both" },
		{ { .mtu = 67 }, "mtu out of range (68-65535)" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(err, 0, sizeof(err));
		assert_int_equal(imp_params_check(&cases[i].p, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, cases[i].msg);
	}
	assert_int_equal(imp_params_check(NULL, err, sizeof(err)), -EINVAL);
	struct imp_params none = { 0 };
	assert_int_equal(imp_params_check(&none, err, sizeof(err)), 0);
	assert_false(imp_params_active(&none));
}

static void test_equal(void **state)
{
	(void)state;
	struct imp_params a = { 0 }, b = { 0 };
	assert_true(imp_params_equal(&a, &b));
	/* fields a model does not use do not count */
	a.loss = (struct imp_loss){ .model = IMP_LOSS_RANDOM, .pct = 5, .burst = 3000, .p = 1 };
	b.loss = (struct imp_loss){ .model = IMP_LOSS_RANDOM, .pct = 5 };
	assert_true(imp_params_equal(&a, &b));
	b.loss.model = IMP_LOSS_BURST;
	assert_false(imp_params_equal(&a, &b));
	a.loss = b.loss = (struct imp_loss){ 0 };
	a.jitter_dist = IMP_DIST_UNIFORM;   /* no jitter: the distribution is moot */
	assert_true(imp_params_equal(&a, &b));
	a.jitter_ns = b.jitter_ns = 1;
	assert_false(imp_params_equal(&a, &b));
	b.jitter_dist = IMP_DIST_UNIFORM;
	assert_true(imp_params_equal(&a, &b));
	b.mtu = 1500;
	assert_false(imp_params_equal(&a, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_units),
		cmocka_unit_test(test_pct_units),
		cmocka_unit_test(test_loss_forms),
		cmocka_unit_test(test_rate_units),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_mtu),
		cmocka_unit_test(test_value_errors),
		cmocka_unit_test(test_spec_errors),
		cmocka_unit_test(test_merge_errors),
		cmocka_unit_test(test_merge_and_clear),
		cmocka_unit_test(test_kv),
		cmocka_unit_test(test_untrusted_text),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_format_limits),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_equal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
