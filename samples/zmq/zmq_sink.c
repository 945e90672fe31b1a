/* SPDX-License-Identifier: MIT */
/* zmq_sink: the guide's result sink with kill signalling (tasksink2).
 * Collects the batch's results, prints one progress line per ten results
 * and the time the batch took, then tells the workers to stop:
 *
 *     received 10/100
 *     ...
 *     received 100/100
 *     Total elapsed time: 2601 msec
 *
 * The clock starts at the first message of the batch. The ventilator's
 * "START <tasks> <workers>" normally comes first, but it travels on its own
 * connection, so results that overtake it are counted all the same.
 *
 * Synchronisation of the KILL (PUB/SUB slow joiners): the control socket is
 * an XPUB with ZMQ_XPUB_VERBOSE, so each worker's subscription reaches us as
 * a message. XPUB applies a subscription before it queues that message, so
 * once we have read one per worker (the count comes in START) the KILL
 * reaches every worker. We wait for them at most --wait-timeout. */
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "zs.h"

static unsigned long wait_s = ZS_WAIT_DEFAULT;

static const struct zs_opt opts[] = {
	ZS_OPT_WAIT(&wait_s, "a message"),
	{ 0 },
};

static const struct zs_cmd cmd = {
	.args = "PULL_ENDPOINT [CONTROL_ENDPOINT]",
	.about = "PULL: bind PULL_ENDPOINT (e.g. tcp://*:5558), collect one batch\n"
		 "of results, print the time it took; publish KILL to the workers\n"
		 "on CONTROL_ENDPOINT (e.g. tcp://*:5559) once all are subscribed,\n"
		 "exit.",
	.min_pos = 1,
	.max_pos = 2,
	.opts = opts,
};

/* Prints a line for each multiple of ten (and the last result) that
 * done has passed since *shown. */
static void report(unsigned long done, unsigned long total,
		   unsigned long *shown)
{
	while (*shown < done) {
		unsigned long next = *shown - *shown % 10 + 10;

		if (next > total)
			next = total;
		if (next > done)
			break;
		printf("received %lu/%lu\n", next, total);
		*shown = next;
	}
}

/* "START <tasks> <workers>" */
static bool parse_start(const char *s, unsigned long *tasks,
			unsigned long *workers)
{
	const char *sp;

	if (strncmp(s, "START ", 6) != 0 || !(sp = strchr(s + 6, ' ')))
		return false;
	return zs_parse_num(s + 6, (size_t)(sp - (s + 6)), 1, ZS_COUNT_MAX,
			    tasks) &&
	       zs_parse_num(sp + 1, strlen(sp + 1), 1, ZS_COUNT_MAX, workers);
}

/* Waits until every worker's subscription to the KILL has arrived. */
static int await_workers(void *control, const char *endpoint,
			 unsigned long workers)
{
	unsigned long subscribed = 0;
	unsigned char head;

	while (subscribed < workers) {
		int n = zmq_recv(control, &head, 1, 0);

		if (n < 0) {
			if (zmq_errno() != EAGAIN)
				return zs_zfail("receiving on %s", endpoint);
			return zs_fail("timed out after %lu s with %lu of %lu "
				       "workers subscribed on %s", wait_s,
				       subscribed, workers, endpoint);
		}
		if (n >= 1 && head == 1)
			subscribed++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *pos[2];
	void *ctx, *receiver = NULL, *control = NULL;
	unsigned long tasks = 0, workers = 0, results = 0, shown = 0;
	uint64_t start = 0;
	int on = 1, rc = ZS_EXIT_FAIL;

	zs_parse_args(&cmd, argc, argv, pos);

	ctx = zmq_ctx_new();
	if (!ctx)
		return zs_zfail("zmq_ctx_new");
	receiver = zs_socket(ctx, ZMQ_PULL, wait_s);
	if (!receiver || zs_bind(receiver, pos[0]) != 0)
		goto out;
	if (pos[1]) {
		control = zs_socket(ctx, ZMQ_XPUB, wait_s);
		if (!control)
			goto out;
		if (zmq_setsockopt(control, ZMQ_XPUB_VERBOSE, &on, sizeof on)) {
			zs_zfail("ZMQ_XPUB_VERBOSE");
			goto out;
		}
		if (zs_bind(control, pos[1]) != 0)
			goto out;
	}

	while (tasks == 0 || results < tasks) {
		char msg[64];

		if (zs_recv_str(receiver, msg, sizeof msg, 0) < 0) {
			zs_wait_fail(tasks ? "a result" : "the ventilator's start",
				     pos[0], wait_s);
			goto out;
		}
		if (start == 0)
			start = zs_now_us();
		if (strcmp(msg, "DONE") == 0) {
			results++;
		} else if (tasks == 0 && parse_start(msg, &tasks, &workers)) {
			/* the batch's size is known from now on */
		} else {
			zs_fail("unexpected message '%s'", msg);
			goto out;
		}
		if (tasks && results > tasks) {
			zs_fail("more results than the %lu tasks", tasks);
			goto out;
		}
		if (tasks)
			report(results, tasks, &shown);
	}
	printf("Total elapsed time: %lu msec\n",
	       (unsigned long)((zs_now_us() - start) / 1000));

	if (control) {
		if (await_workers(control, pos[1], workers) != 0)
			goto out;
		if (zs_send_str(control, "KILL") != 0) {
			zs_zfail("publishing KILL on %s", pos[1]);
			goto out;
		}
	}
	rc = ZS_EXIT_OK;
out:
	zs_close(receiver, 0);
	zs_close(control, rc == ZS_EXIT_OK ? -1 : 0); /* success: flush KILL */
	zmq_ctx_term(ctx);
	return rc;
}
