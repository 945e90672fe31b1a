/* SPDX-License-Identifier: MIT */
/* zmq_wuserver: the guide's weather update server. Publishes
 * "zipcode temperature humidity" updates (temperature -80..134, humidity
 * 10..59, zipcode from a small range so filters match often).
 *
 * Synchronisation: the socket is an XPUB with ZMQ_XPUB_VERBOSER, so every
 * subscription and every unsubscription reaches us as a message, even
 * duplicates. Each zmq_wuclient subscribes exactly once, and when one
 * disconnects libzmq hands us one unsubscription per topic it held. XPUB
 * applies a subscription to its filter before it queues the message for
 * us, so once we have read N subscriptions every later update reaches all
 * N subscribers: no slow joiner loses an update. We publish while at least
 * one subscriber is connected and exit 0 once the last one has gone; if
 * fewer than N arrive within --wait-timeout we exit 1. ZMTP heartbeats drop
 * a subscriber that has not answered for --wait-timeout seconds (a crashed
 * guest, a cut link), so a vanished subscriber cannot keep us running.
 *
 * Output: "Publishing weather updates to N subscribers" once they are all
 * there, "All subscribers left after K updates" at the end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "zs.h"

#define ZIP_MAX 99999UL
#define PACE_MS 1 /* between updates: fast enough, never a busy loop */

static unsigned long subscribers = 1, wait_s = ZS_WAIT_DEFAULT;
static const char *zipcodes = "10000-10009";

static const struct zs_opt opts[] = {
	{ "subscribers", "N", "publish once N subscribers are there (default 1)",
	  1, 100000, &subscribers, NULL },
	{ "zipcodes", "LO-HI", "zipcodes to report on (default 10000-10009)",
	  0, 0, NULL, &zipcodes },
	ZS_OPT_WAIT(&wait_s, "the N subscribers"),
	{ 0 },
};

static const struct zs_cmd cmd = {
	.args = "ENDPOINT",
	.about = "XPUB: bind ENDPOINT (e.g. tcp://*:5556), wait for N subscribers\n"
		 "(one subscription each, as zmq_wuclient makes), publish weather\n"
		 "updates until every subscriber has gone, exit.",
	.min_pos = 1,
	.max_pos = 1,
	.opts = opts,
};

static void parse_zipcodes(const char *s, unsigned long *lo, unsigned long *hi)
{
	const char *dash = strchr(s, '-');

	if (!dash || !zs_parse_num(s, (size_t)(dash - s), 0, ZIP_MAX, lo) ||
	    !zs_parse_num(dash + 1, strlen(dash + 1), *lo, ZIP_MAX, hi))
		zs_usage_fail("bad --zipcodes '%s': expected LO-HI with "
			      "0 <= LO <= HI <= %lu", s, ZIP_MAX);
}

static int randof(unsigned long n)
{
	return (int)((unsigned long)random() % n);
}

/* Reads every pending (un)subscription and keeps *active, the number of
 * subscriptions held, up to date. Other messages are ignored. */
static int take_subscriptions(void *xpub, unsigned long *active)
{
	unsigned char head;
	int n;

	while ((n = zmq_recv(xpub, &head, 1, ZMQ_DONTWAIT)) >= 0) {
		if (n >= 1 && head == 1)
			++*active;
		else if (n >= 1 && head == 0 && *active > 0)
			--*active;
	}
	if (zmq_errno() != EAGAIN)
		return zs_zfail("reading subscriptions");
	return 0;
}

/* Waits up to ms for a subscription change, then applies them all. */
static int poll_subscriptions(void *xpub, long ms, unsigned long *active)
{
	zmq_pollitem_t item = { .socket = xpub, .events = ZMQ_POLLIN };
	int rc = zmq_poll(&item, 1, ms);

	if (rc < 0 && zmq_errno() != EINTR)
		return zs_zfail("zmq_poll");
	return rc > 0 ? take_subscriptions(xpub, active) : 0;
}

int main(int argc, char **argv)
{
	const char *pos[1];
	unsigned long zip_lo, zip_hi, active = 0, sent = 0;
	void *ctx, *xpub = NULL;
	uint64_t deadline;
	int one = 1, ping_ms = 1000, dead_ms, rc = ZS_EXIT_FAIL;

	zs_parse_args(&cmd, argc, argv, pos);
	parse_zipcodes(zipcodes, &zip_lo, &zip_hi);
	dead_ms = (int)(wait_s * 1000);
	srandom((unsigned)(zs_now_us() ^ (uint64_t)getpid()));

	ctx = zmq_ctx_new();
	if (!ctx)
		return zs_zfail("zmq_ctx_new");
	xpub = zs_socket(ctx, ZMQ_XPUB, wait_s);
	if (!xpub)
		goto out;
	if (zmq_setsockopt(xpub, ZMQ_XPUB_VERBOSER, &one, sizeof one) != 0 ||
	    zmq_setsockopt(xpub, ZMQ_HEARTBEAT_IVL, &ping_ms, sizeof ping_ms) != 0 ||
	    zmq_setsockopt(xpub, ZMQ_HEARTBEAT_TIMEOUT, &dead_ms,
			   sizeof dead_ms) != 0) {
		zs_zfail("zmq_setsockopt");
		goto out;
	}
	if (zs_bind(xpub, pos[0]) != 0)
		goto out;

	deadline = zs_now_us() + wait_s * 1000000;
	while (active < subscribers) {
		uint64_t now = zs_now_us();

		if (now >= deadline) {
			zs_fail("timed out after %lu s with %lu of %lu subscribers "
				"on %s (are they running, and is the address "
				"right?)", wait_s, active, subscribers, pos[0]);
			goto out;
		}
		if (poll_subscriptions(xpub, (long)((deadline - now + 999) / 1000),
				       &active) != 0)
			goto out;
	}
	printf("Publishing weather updates to %lu subscriber%s\n", active,
	       active == 1 ? "" : "s");

	while (active > 0) {
		char update[64];

		snprintf(update, sizeof update, "%05d %d %d",
			 (int)zip_lo + randof(zip_hi - zip_lo + 1),
			 randof(215) - 80, randof(50) + 10);
		if (zs_send_str(xpub, update) != 0) {
			zs_zfail("publishing on %s", pos[0]);
			goto out;
		}
		sent++;
		if (poll_subscriptions(xpub, PACE_MS, &active) != 0)
			goto out;
	}
	printf("All subscribers left after %lu updates\n", sent);
	rc = ZS_EXIT_OK;
out:
	zs_close(xpub, 0); /* nobody is left to flush to */
	zmq_ctx_term(ctx);
	return rc;
}
