/* SPDX-License-Identifier: MIT */
/* zmq_ventilator: the guide's task ventilator (taskvent). Sends the sink a
 * start message, then TASKS tasks to the workers, each a workload of 1..100
 * ms. Prints "Sending tasks to workers…" and, once all are sent,
 * "Total expected cost: N msec".
 *
 * Synchronisation: PUSH round-robins only over peers that are attached when
 * a message is sent, so a worker that connects late gets nothing and an
 * early one gets everything. We therefore monitor both sockets and wait
 * (at most --wait-timeout) for the sink's and all N workers' ZMTP
 * handshakes. libzmq queues a new peer's "attach pipe" command to the socket
 * before it emits ZMQ_EVENT_HANDSHAKE_SUCCEEDED, and reading ZMQ_EVENTS
 * makes the socket process its queued commands unthrottled, so after that
 * read every one of the N pipes is in the round-robin before the first task
 * goes out.
 *
 * Messages: to the sink "START <tasks> <workers>" (the sink needs the worker
 * count to release them, see zmq_sink.c); to workers the workload in
 * decimal milliseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zmq.h>

#include "zs.h"

static unsigned long workers = 1, tasks = 100, wait_s = ZS_WAIT_DEFAULT;

static const struct zs_opt opts[] = {
	{ "workers", "N", "send once N workers are connected (default 1)", 1,
	  10000, &workers, NULL },
	{ "tasks", "N", "number of tasks (default 100)", 1, 1000000, &tasks,
	  NULL },
	ZS_OPT_WAIT(&wait_s, "the sink and the N workers"),
	{ 0 },
};

static const struct zs_cmd cmd = {
	.args = "PUSH_ENDPOINT SINK_ENDPOINT",
	.about = "PUSH: bind PUSH_ENDPOINT (e.g. tcp://*:5557) for the workers,\n"
		 "connect to the sink at SINK_ENDPOINT (e.g.\n"
		 "tcp://192.168.1.3:5558), wait until the sink and N workers are\n"
		 "connected, send the batch, exit.",
	.min_pos = 2,
	.max_pos = 2,
	.opts = opts,
};

int main(int argc, char **argv)
{
	const char *pos[2];
	void *ctx, *sender = NULL, *sink = NULL, *mon_w = NULL, *mon_s = NULL;
	unsigned long total_ms = 0;
	uint64_t deadline;
	long seen;
	int events;
	size_t events_len = sizeof events;
	char msg[64];
	int rc = ZS_EXIT_FAIL;

	zs_parse_args(&cmd, argc, argv, pos);
	srandom((unsigned)(zs_now_us() ^ (uint64_t)getpid()));

	ctx = zmq_ctx_new();
	if (!ctx)
		return zs_zfail("zmq_ctx_new");
	sender = zs_socket(ctx, ZMQ_PUSH, wait_s);
	sink = zs_socket(ctx, ZMQ_PUSH, wait_s);
	if (!sender || !sink)
		goto out;
	mon_w = zs_monitor(ctx, sender, "vent-workers");
	mon_s = zs_monitor(ctx, sink, "vent-sink");
	if (!mon_w || !mon_s || zs_bind(sender, pos[0]) != 0 ||
	    zs_connect(sink, pos[1]) != 0)
		goto out;

	deadline = zs_now_us() + wait_s * 1000000;
	seen = zs_await_handshakes(mon_s, 1, deadline);
	if (seen == 0)
		zs_fail("timed out after %lu s waiting for the sink on %s (is it "
			"running, and is the address right?)", wait_s, pos[1]);
	if (seen < 1)
		goto out;
	seen = zs_await_handshakes(mon_w, workers, deadline);
	if (seen >= 0 && (unsigned long)seen < workers)
		zs_fail("timed out after %lu s with %ld of %lu workers on %s "
			"(are they running, and is the address right?)", wait_s,
			seen, workers, pos[0]);
	if (seen < 0 || (unsigned long)seen < workers)
		goto out;
	if (zmq_getsockopt(sender, ZMQ_EVENTS, &events, &events_len) != 0) {
		zs_zfail("ZMQ_EVENTS");
		goto out;
	}

	printf("Sending tasks to workers\u2026\n");
	snprintf(msg, sizeof msg, "START %lu %lu", tasks, workers);
	if (zs_send_str(sink, msg) != 0) {
		zs_wait_fail("the sink to take the start message", pos[1], wait_s);
		goto out;
	}
	for (unsigned long i = 0; i < tasks; i++) {
		int workload = (int)(random() % 100) + 1;

		total_ms += (unsigned long)workload;
		snprintf(msg, sizeof msg, "%d", workload);
		if (zs_send_str(sender, msg) != 0) {
			zs_wait_fail("workers to take a task", pos[0], wait_s);
			goto out;
		}
	}
	printf("Total expected cost: %lu msec\n", total_ms);
	rc = ZS_EXIT_OK;
out:
	zs_monitor_close(sender, mon_w);
	zs_monitor_close(sink, mon_s);
	/* success: linger until the start message and all tasks are out */
	zs_close(sender, rc == ZS_EXIT_OK ? -1 : 0);
	zs_close(sink, rc == ZS_EXIT_OK ? -1 : 0);
	zmq_ctx_term(ctx);
	return rc;
}
