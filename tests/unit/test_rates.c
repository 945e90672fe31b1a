/* SPDX-License-Identifier: MIT */
/* src/vqnet/rates.c: rates between two status snapshots, whatever the vmms
 * wrote (vqnet stats, issue 11): a restart or a counter going back gives
 * no rate, never a negative one; an impossible jump none either; a null
 * counter stays null. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rates.h"
#include "report.h"

/* A status of one lab: guests vm0 and vm1, one link; the counters of
 * vm0's interface and of vm0's end are given as JSON text, vm1's are 0. */
static json_t *status(long long sup, long long pid0, long long restarts0, const char *state0,
		      const char *ifc0, const char *end0)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "{\"lab\":\"t\",\"state\":\"up\",\"supervisor\":{\"pid\":%lld},"
		 "\"nodes\":[{\"name\":\"vm0\",\"kind\":\"guest\","
		 "\"vmm\":{\"state\":\"%s\",\"pid\":%lld,\"restarts\":%lld},"
		 "\"ifaces\":[{\"name\":\"eth0\",\"counters\":%s}]},"
		 "{\"name\":\"vm1\",\"kind\":\"guest\",\"vmm\":{\"state\":\"running\",\"pid\":200,\"restarts\":0},"
		 "\"ifaces\":[{\"name\":\"eth0\",\"counters\":{\"from_guest_frames\":0,\"from_guest_bytes\":0,"
		 "\"to_guest_frames\":0,\"to_guest_bytes\":0,\"to_guest_drops\":0,\"spoofed\":0,"
		 "\"unknown\":0,\"runts\":0,\"bad_header\":0}}]}],"
		 "\"links\":[{\"index\":0,\"topology\":\"lan\","
		 "\"a\":{\"node\":\"vm0\",\"iface\":\"eth0\",\"state\":\"ok\",%s},"
		 "\"b\":{\"node\":\"vm1\",\"iface\":\"eth0\",\"state\":\"ok\",\"tx_frames\":0,\"tx_bytes\":0,"
		 "\"rx_frames\":0,\"rx_bytes\":0,\"drop_full\":0,\"drop_stalled\":0,\"drop_broken\":0,"
		 "\"drop_down\":0,\"impaired\":{\"loss\":0,\"queue\":0,\"mtu\":0,\"overflow\":0}}}]}",
		 sup, state0, pid0, restarts0, ifc0, end0);
	json_error_t e;
	json_t *o = json_loads(text, 0, &e);
	if (!o)
		fail_msg("bad test JSON: %s", e.text);
	return o;
}

#define IFC(fg, fgb, spoofed)                                                                  \
	"{\"from_guest_frames\":" fg ",\"from_guest_bytes\":" fgb ",\"to_guest_frames\":10,"   \
	"\"to_guest_bytes\":1000,\"to_guest_drops\":0,\"spoofed\":" spoofed ",\"unknown\":0,"  \
	"\"runts\":0,\"bad_header\":0}"
#define END(tx, txb, full, loss)                                                               \
	"\"tx_frames\":" tx ",\"tx_bytes\":" txb ",\"rx_frames\":5,\"rx_bytes\":500,"          \
	"\"drop_full\":" full ",\"drop_stalled\":0,\"drop_broken\":0,\"drop_down\":0,"         \
	"\"impaired\":{\"loss\":" loss ",\"queue\":0,\"mtu\":0,\"overflow\":0}"

static json_t *ifc0(json_t *r)
{
	return json_array_get(json_object_get(r, "ifaces"), 0);
}

static json_t *end0(json_t *r)
{
	return json_object_get(json_array_get(json_object_get(r, "links"), 0), "a");
}

/* o.a.b as a number, or -1 for null (rates are never negative) */
static double num(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(b ? json_object_get(o, a) : o, b ? b : a);
	if (json_is_null(v))
		return -1;
	assert_true(json_is_number(v));
	return json_number_value(v);
}

static void test_rates_over_real_time(void **state)
{
	(void)state;
	json_t *p = status(1, 100, 0, "running", IFC("100", "10000", "0"), END("50", "5000", "0", "0"));
	json_t *c = status(1, 100, 0, "running", IFC("300", "30000", "4"), END("250", "45000", "2", "1"));
	json_t *r = rates_between(p, c, 2.0, 1700000000.5);
	assert_non_null(r);
	assert_string_equal(js(r, "lab", ""), "t");
	assert_true(num(r, "interval_s", NULL) == 2.0);
	assert_true(num(r, "time", NULL) == 1700000000.5);
	json_t *i = ifc0(r);
	assert_string_equal(js(i, "state", ""), "ok");
	assert_true(num(i, "from_guest", "frames") == 100);        /* 200 frames / 2 s */
	assert_true(num(i, "from_guest", "bits") == 80000);        /* 20000 bytes * 8 / 2 s */
	assert_true(num(i, "to_guest", "frames") == 0);
	assert_true(num(json_object_get(i, "drops"), "spoofed", NULL) == 2);
	assert_true(num(i, "drops", "total") == 2);
	json_t *e = end0(r);
	assert_string_equal(js(e, "state", ""), "ok");
	assert_true(num(e, "tx", "frames") == 100);
	assert_true(num(e, "tx", "bits") == 160000);
	assert_true(num(e, "drops", "drop_full") == 1);
	assert_true(num(json_object_get(json_object_get(e, "drops"), "impaired"), "loss", NULL) == 0.5);
	assert_true(num(e, "drops", "total") == 1.5);
	json_decref(r);
	json_decref(p);
	json_decref(c);
}

/* every rate of an interface or end is null */
static void all_null(json_t *o)
{
	const char *pairs[] = { "from_guest", "to_guest", "tx", "rx" };
	for (int k = 0; k < 4; k++) {
		json_t *pr = json_object_get(o, pairs[k]);
		if (pr) {
			assert_true(json_is_null(json_object_get(pr, "frames")));
			assert_true(json_is_null(json_object_get(pr, "bits")));
		}
	}
	assert_true(json_is_null(json_object_get(json_object_get(o, "drops"), "total")));
}

/* between p and c, vm0's interface and end are in states want_ifc and
 * want_end, without rates unless ok; vm1's end as vm1_end */
static void expect_state3(json_t *p, json_t *c, const char *want_ifc, const char *want_end,
			  const char *vm1_end)
{
	json_t *r = rates_between(p, c, 1.0, 1);
	assert_non_null(r);
	assert_string_equal(js(ifc0(r), "state", ""), want_ifc);
	assert_string_equal(js(end0(r), "state", ""), want_end);
	if (strcmp(want_ifc, "ok"))
		all_null(ifc0(r));
	if (strcmp(want_end, "ok"))
		all_null(end0(r));
	json_t *b = json_object_get(json_array_get(json_object_get(r, "links"), 0), "b");
	assert_string_equal(js(b, "state", ""), vm1_end);
	if (!strcmp(vm1_end, "ok"))
		assert_true(num(b, "tx", "frames") == 0);
	json_decref(r);
	json_decref(p);
	json_decref(c);
}

/* ... where vm1 did not restart: its rates stand */
static void expect_state(json_t *p, json_t *c, const char *want_ifc, const char *want_end)
{
	expect_state3(p, c, want_ifc, want_end, "ok");
}

static void test_restart_gives_no_rate(void **state)
{
	(void)state;
	const char *ifc = IFC("100", "10000", "0"), *end = END("50", "5000", "0", "0");
	/* replaced: restarts counted, or another pid (counters from zero) */
	expect_state(status(1, 100, 0, "running", ifc, end),
		     status(1, 101, 1, "running", IFC("3", "300", "0"), END("2", "200", "0", "0")),
		     "restarted", "restarted");
	expect_state(status(1, 100, 0, "running", ifc, end), status(1, 101, 0, "running", ifc, end),
		     "restarted", "restarted");
	/* the successor already counted past its predecessor: still no rate */
	expect_state(status(1, 100, 0, "running", ifc, end),
		     status(1, 101, 1, "running", IFC("900", "90000", "0"), END("90", "9000", "0", "0")),
		     "restarted", "restarted");
	/* dead, or dead in the first snapshot */
	expect_state(status(1, 100, 0, "running", ifc, end), status(1, 100, 0, "restarting", ifc, end),
		     "not running", "not running");
	expect_state(status(1, 100, 0, "restarting", ifc, end), status(1, 100, 0, "running", ifc, end),
		     "restarted", "restarted");
	/* another supervisor: the lab itself came up again */
	expect_state3(status(1, 100, 0, "running", ifc, end), status(2, 100, 0, "running", ifc, end),
		      "restarted", "restarted", "restarted");
}

static void test_untrusted_counters(void **state)
{
	(void)state;
	const char *ifc = IFC("100", "10000", "0"), *end = END("50", "5000", "0", "0");
	/* a counter that went back, without a restart the supervisor saw */
	expect_state(status(1, 100, 0, "running", ifc, end),
		     status(1, 100, 0, "running", IFC("99", "10000", "0"), END("50", "4999", "0", "0")),
		     "reset", "reset");
	/* a jump no datapath makes: 2^62 frames, 2^62 drops */
	expect_state(status(1, 100, 0, "running", ifc, end),
		     status(1, 100, 0, "running", IFC("4611686018427387904", "10000", "0"),
			    END("50", "5000", "0", "4611686018427387904")),
		     "implausible", "implausible");
	/* more bytes than its frames can hold */
	expect_state(status(1, 100, 0, "running", ifc, end),
		     status(1, 100, 0, "running", IFC("101", "9223372036854775807", "0"),
			    END("51", "5000000", "0", "0")),
		     "implausible", "implausible");
	/* the largest counters JSON holds, moving little: fine */
	expect_state(status(1, 100, 0, "running", IFC("9223372036854775806", "9223372036854775806", "0"), end),
		     status(1, 100, 0, "running", IFC("9223372036854775807", "9223372036854775807", "0"), end),
		     "ok", "ok");
	/* not published: no counters at all */
	expect_state(status(1, 100, 0, "running", ifc, end),
		     status(1, 100, 0, "running", "null", "\"x\":1"), "no counters", "ok");
}

static void test_null_stays_null(void **state)
{
	(void)state;
	/* null (past INT64_MAX, or not published), negative, a string or a
	 * real where a counter goes: that rate null, the others stand */
	const char *weird[] = { "null", "-5", "\"12\"", "1.5", "true", "{}" };
	for (size_t k = 0; k < sizeof(weird) / sizeof(weird[0]); k++) {
		char ifc[512], end[512];
		snprintf(ifc, sizeof(ifc), "{\"from_guest_frames\":%s,\"from_guest_bytes\":600,"
			 "\"to_guest_frames\":20,\"to_guest_bytes\":2000,\"spoofed\":0}", weird[k]);
		snprintf(end, sizeof(end), "\"tx_frames\":10,\"tx_bytes\":%s,\"rx_frames\":7,\"rx_bytes\":700",
			 weird[k]);
		json_t *p = status(1, 100, 0, "running", IFC("5", "500", "0"), END("5", "500", "0", "0"));
		json_t *c = status(1, 100, 0, "running", ifc, end);
		json_t *r = rates_between(p, c, 0.5, 1);
		json_t *i = ifc0(r), *e = end0(r);
		assert_string_equal(js(i, "state", ""), "ok");
		assert_true(num(i, "from_guest", "frames") == -1);
		assert_true(num(i, "from_guest", "bits") == -1);   /* bytes without frames: unchecked */
		assert_true(num(i, "to_guest", "frames") == 20);
		assert_true(num(i, "to_guest", "bits") == 16000);
		assert_true(num(json_object_get(i, "drops"), "to_guest_drops", NULL) == -1);   /* absent */
		assert_true(num(i, "drops", "total") == 0);
		assert_string_equal(js(e, "state", ""), "ok");
		assert_true(num(e, "tx", "frames") == 10);
		assert_true(num(e, "tx", "bits") == -1);
		assert_true(num(e, "rx", "frames") == 4);
		assert_true(num(e, "drops", "total") == -1);   /* no drop counter at all */
		json_decref(r);
		json_decref(p);
		json_decref(c);
	}
}

static void test_refused_inputs(void **state)
{
	(void)state;
	json_t *p = status(1, 100, 0, "running", IFC("1", "1", "0"), END("1", "12", "0", "0"));
	json_t *c = status(1, 100, 0, "running", IFC("1", "1", "0"), END("1", "12", "0", "0"));
	assert_null(rates_between(p, c, 0, 1));
	assert_null(rates_between(p, c, -1, 1));
	json_t *down = json_pack("{s:s,s:s}", "lab", "t", "state", "stopping");
	assert_null(rates_between(p, down, 1, 1));
	assert_null(rates_between(p, NULL, 1, 1));
	/* no first snapshot (or a wrong one): everything restarted */
	json_t *r = rates_between(NULL, c, 1, 1);
	assert_string_equal(js(ifc0(r), "state", ""), "restarted");
	json_decref(r);
	r = rates_between(down, c, 1, 1);
	assert_string_equal(js(end0(r), "state", ""), "restarted");
	json_decref(r);
	json_decref(down);
	json_decref(p);
	json_decref(c);
}

static void test_text(void **state)
{
	(void)state;
	char b[32];
	const struct { double v; const char *s; } si[] = {
		{ 0, "0" }, { 0.5, "0.5" }, { 12, "12" }, { 999, "999" }, { 1000, "1.00k" },
		{ 12345, "12.3k" }, { 999999, "1.00M" }, { 11.8e9, "11.8G" }, { 48.07e6, "48.1M" },
		{ -1, "?" }, { 1e300, "?" },
	};
	for (size_t k = 0; k < sizeof(si) / sizeof(si[0]); k++) {
		rates_si(si[k].v, b, sizeof(b));
		if (strcmp(b, si[k].s))
			fail_msg("rates_si(%g) = \"%s\", want \"%s\"", si[k].v, b, si[k].s);
	}
	json_t *p = status(1, 100, 0, "running", IFC("100", "10000", "0"), END("50", "5000", "0", "0"));
	json_t *c = status(1, 101, 1, "running", IFC("1", "1", "0"), END("1", "12", "0", "0"));
	json_t *r = rates_between(p, c, 1, 1700000000);
	char *text;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	report_rates(f, r);
	fclose(f);
	assert_non_null(strstr(text, "frames, bits and drops per second over 1.00 s"));
	assert_non_null(strstr(text, "vm0.eth0   ?"));
	assert_non_null(strstr(text, "restarted: its vmm was replaced"));
	free(text);
	json_decref(r);
	/* drops by cause, by name */
	json_decref(c);
	c = status(1, 100, 0, "running", IFC("100", "10000", "3"), END("50", "5000", "2", "7"));
	r = rates_between(p, c, 1, 1700000000);
	f = open_memstream(&text, &len);
	report_rates(f, r);
	fclose(f);
	assert_non_null(strstr(text, "spoofed 3.0/s"));
	assert_non_null(strstr(text, "drop_full 2.0/s, impaired loss 7.0/s"));
	free(text);
	json_decref(r);
	/* anything else is rendered without a crash */
	json_t *junk = json_loads("{\"ifaces\":[1,{},{\"tx\":\"x\"}],\"links\":[null,{\"a\":3}],\"time\":-1e300}",
				  0, NULL);
	f = open_memstream(&text, &len);
	report_rates(f, junk);
	fclose(f);
	free(text);
	json_decref(junk);
	json_decref(p);
	json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rates_over_real_time),
		cmocka_unit_test(test_restart_gives_no_rate),
		cmocka_unit_test(test_untrusted_counters),
		cmocka_unit_test(test_null_stays_null),
		cmocka_unit_test(test_refused_inputs),
		cmocka_unit_test(test_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
