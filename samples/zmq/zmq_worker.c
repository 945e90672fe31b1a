/* SPDX-License-Identifier: MIT */
/* zmq_worker: the guide's task worker with kill signalling (taskwork2).
 * Pulls workloads from the ventilator, sleeps each one, pushes "DONE" to
 * the sink, and exits 0 when the sink publishes "KILL" on CONTROL_ENDPOINT
 * after the last result. The sink publishes only once every worker's
 * subscription has reached it (see zmq_sink.c), so no worker misses it.
 * Prints "Processed N tasks (M msec of work)" at the end.
 *
 * Without CONTROL_ENDPOINT (the guide's first taskwork) nothing can tell
 * the worker that the batch is over: it then stops, with status 0, after
 * --wait-timeout seconds without a task, provided it did at least one. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "zs.h"

#define WORKLOAD_MAX_MS 60000UL

static unsigned long wait_s = ZS_WAIT_DEFAULT;

static const struct zs_opt opts[] = {
	ZS_OPT_WAIT(&wait_s, "a task or the KILL"),
	{ 0 },
};

static const struct zs_cmd cmd = {
	.args = "PULL_ENDPOINT PUSH_ENDPOINT [CONTROL_ENDPOINT]",
	.about = "PULL tasks from the ventilator at PULL_ENDPOINT (e.g.\n"
		 "tcp://192.168.1.1:5557), PUSH results to the sink at\n"
		 "PUSH_ENDPOINT (e.g. tcp://192.168.1.3:5558), exit on the KILL\n"
		 "the sink publishes at CONTROL_ENDPOINT (e.g.\n"
		 "tcp://192.168.1.3:5559). Without CONTROL_ENDPOINT, stop (status\n"
		 "0) after S seconds without a task.",
	.min_pos = 2,
	.max_pos = 3,
	.opts = opts,
};

int main(int argc, char **argv)
{
	const char *pos[3];
	void *ctx, *receiver = NULL, *sender = NULL, *control = NULL;
	unsigned long done = 0, busy_ms = 0;
	int rc = ZS_EXIT_FAIL;

	zs_parse_args(&cmd, argc, argv, pos);

	ctx = zmq_ctx_new();
	if (!ctx)
		return zs_zfail("zmq_ctx_new");
	receiver = zs_socket(ctx, ZMQ_PULL, wait_s);
	sender = zs_socket(ctx, ZMQ_PUSH, wait_s);
	if (!receiver || !sender || zs_connect(receiver, pos[0]) != 0 ||
	    zs_connect(sender, pos[1]) != 0)
		goto out;
	if (pos[2]) {
		control = zs_socket(ctx, ZMQ_SUB, wait_s);
		if (!control || zs_connect(control, pos[2]) != 0)
			goto out;
		if (zmq_setsockopt(control, ZMQ_SUBSCRIBE, "KILL", 4) != 0) {
			zs_zfail("ZMQ_SUBSCRIBE");
			goto out;
		}
	}

	for (;;) {
		zmq_pollitem_t items[] = {
			{ .socket = receiver, .events = ZMQ_POLLIN },
			{ .socket = control, .events = ZMQ_POLLIN },
		};
		char msg[32];
		unsigned long ms;
		int n = zmq_poll(items, control ? 2 : 1, (long)wait_s * 1000);

		if (n < 0 && zmq_errno() == EINTR)
			continue;
		if (n < 0) {
			zs_zfail("zmq_poll");
			goto out;
		}
		if (n == 0 && !control && done > 0)
			break; /* no control channel: silence ends the batch */
		if (n == 0) {
			zs_fail("timed out after %lu s waiting for a task on %s%s%s "
				"(is the address right?)", wait_s, pos[0],
				control ? " or the KILL on " : "",
				control ? pos[2] : "");
			goto out;
		}
		if (items[1].revents & ZMQ_POLLIN) {
			if (zs_recv_str(control, msg, sizeof msg, 0) < 0) {
				zs_zfail("receiving on %s", pos[2]);
				goto out;
			}
			if (strcmp(msg, "KILL") == 0)
				break;
			zs_fail("unexpected control message '%s'", msg);
			goto out;
		}
		if (zs_recv_str(receiver, msg, sizeof msg, 0) < 0) {
			zs_zfail("receiving a task on %s", pos[0]);
			goto out;
		}
		if (!zs_parse_num(msg, strlen(msg), 0, WORKLOAD_MAX_MS, &ms)) {
			zs_fail("malformed task '%s'", msg);
			goto out;
		}
		zs_sleep_ms(ms);
		if (zs_send_str(sender, "DONE") != 0) {
			zs_wait_fail("the sink to take a result", pos[1], wait_s);
			goto out;
		}
		done++;
		busy_ms += ms;
	}
	printf("Processed %lu tasks (%lu msec of work)\n", done, busy_ms);
	rc = ZS_EXIT_OK;
out:
	zs_close(receiver, 0);
	zs_close(sender, rc == ZS_EXIT_OK ? -1 : 0); /* success: flush results */
	zs_close(control, 0);
	zmq_ctx_term(ctx);
	return rc;
}
