/* SPDX-License-Identifier: MIT */
/* zmq_thr_client: the PUSH half of the throughput pair (libzmq's
 * remote_thr). Connects to ENDPOINT, waits until the server has really
 * answered (a completed ZMTP handshake, so a wrong address fails within
 * --wait-timeout instead of queueing into the void), sends COUNT messages
 * of SIZE bytes, and exits once they are flushed. Prints nothing on
 * success; zmq_thr_server reports the throughput. */
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "zs.h"

static unsigned long wait_s = ZS_WAIT_DEFAULT;

static const struct zs_opt opts[] = {
	ZS_OPT_WAIT(&wait_s, "the server"),
	{ 0 },
};

static const struct zs_cmd cmd = {
	.args = "ENDPOINT SIZE COUNT",
	.about = "PUSH: connect to ENDPOINT (e.g. tcp://192.168.1.1:5557), wait\n"
		 "for the server, send COUNT messages of SIZE bytes, exit.",
	.min_pos = 3,
	.max_pos = 3,
	.opts = opts,
};

int main(int argc, char **argv)
{
	const char *pos[3];
	unsigned long size, count;
	unsigned char *buf = NULL;
	void *ctx, *push = NULL, *mon = NULL;
	long seen;
	int rc = ZS_EXIT_FAIL;

	zs_parse_args(&cmd, argc, argv, pos);
	size = zs_arg_num("SIZE", pos[1], 0, ZS_SIZE_MAX);
	count = zs_arg_num("COUNT", pos[2], 1, ZS_COUNT_MAX);

	ctx = zmq_ctx_new();
	if (!ctx)
		return zs_zfail("zmq_ctx_new");
	buf = calloc(1, size ? size : 1);
	if (!buf) {
		zs_fail("out of memory for a %lu-byte message", size);
		goto out;
	}
	push = zs_socket(ctx, ZMQ_PUSH, wait_s);
	if (!push)
		goto out;
	mon = zs_monitor(ctx, push, "thr-client");
	if (!mon || zs_connect(push, pos[0]) != 0)
		goto out;
	seen = zs_await_handshakes(mon, 1, zs_now_us() + wait_s * 1000000);
	if (seen < 0)
		goto out;
	if (seen == 0) {
		zs_fail("timed out after %lu s waiting for the server on %s "
			"(is it running, and is the address right?)",
			wait_s, pos[0]);
		goto out;
	}

	for (unsigned long i = 0; i < count; i++) {
		if (zmq_send(push, buf, size, 0) < 0) {
			zs_wait_fail("the server to take a message", pos[0],
				     wait_s);
			goto out;
		}
	}
	rc = ZS_EXIT_OK;
out:
	zs_monitor_close(push, mon);
	zs_close(push, rc == ZS_EXIT_OK ? -1 : 0); /* success: flush them all */
	zmq_ctx_term(ctx);
	free(buf);
	return rc;
}
