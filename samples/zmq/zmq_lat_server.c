/* SPDX-License-Identifier: MIT */
/* zmq_lat_server: the REP half of the latency pair (libzmq's local_lat).
 * Binds ENDPOINT, echoes COUNT messages of SIZE bytes, exits. Prints
 * nothing on success; zmq_lat_client reports the latency. */
#include <zmq.h>

#include "zs.h"

static unsigned long wait_s = ZS_WAIT_DEFAULT;

static const struct zs_opt opts[] = {
	ZS_OPT_WAIT(&wait_s, "a request"),
	{ 0 },
};

static const struct zs_cmd cmd = {
	.args = "ENDPOINT SIZE COUNT",
	.about = "REP: bind ENDPOINT (e.g. tcp://*:5555), echo COUNT messages of\n"
		 "SIZE bytes back, exit.",
	.min_pos = 3,
	.max_pos = 3,
	.opts = opts,
};

int main(int argc, char **argv)
{
	const char *pos[3];
	unsigned long size, count;
	void *ctx, *rep = NULL;
	zmq_msg_t msg;
	int rc = ZS_EXIT_FAIL;

	zs_parse_args(&cmd, argc, argv, pos);
	size = zs_arg_num("SIZE", pos[1], 0, ZS_SIZE_MAX);
	count = zs_arg_num("COUNT", pos[2], 1, ZS_COUNT_MAX);

	ctx = zmq_ctx_new();
	if (!ctx)
		return zs_zfail("zmq_ctx_new");
	zmq_msg_init(&msg);
	rep = zs_socket(ctx, ZMQ_REP, wait_s);
	if (!rep || zs_bind(rep, pos[0]) != 0)
		goto out;

	for (unsigned long i = 0; i < count; i++) {
		if (zs_recv_exact(rep, &msg, size, "request", i + 1, pos[0], wait_s))
			goto out;
		if (zmq_msg_send(&msg, rep, 0) < 0) {
			zs_wait_fail("the client to take a reply", pos[0], wait_s);
			goto out;
		}
	}
	rc = ZS_EXIT_OK;
out:
	zmq_msg_close(&msg);
	zs_close(rep, rc == ZS_EXIT_OK ? -1 : 0); /* success: flush the last reply */
	zmq_ctx_term(ctx);
	return rc;
}
