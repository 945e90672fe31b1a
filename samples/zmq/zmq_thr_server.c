/* SPDX-License-Identifier: MIT */
/* zmq_thr_server: the PULL half of the throughput pair (libzmq's
 * local_thr). Binds ENDPOINT, receives COUNT messages of SIZE bytes and
 * prints, as libzmq's perf tools do:
 *
 *     message size: 100 [B]
 *     message count: 100000
 *     mean throughput: 1234567 [msg/s]
 *     mean throughput: 987.654 [Mb/s]
 *
 * The clock starts at the first message, so connection set-up is not
 * measured. */
#include <stdio.h>
#include <zmq.h>

#include "zs.h"

static unsigned long wait_s = ZS_WAIT_DEFAULT;

static const struct zs_opt opts[] = {
	ZS_OPT_WAIT(&wait_s, "a message"),
	{ 0 },
};

static const struct zs_cmd cmd = {
	.args = "ENDPOINT SIZE COUNT",
	.about = "PULL: bind ENDPOINT (e.g. tcp://*:5557), receive COUNT messages\n"
		 "of SIZE bytes, print the throughput.",
	.min_pos = 3,
	.max_pos = 3,
	.opts = opts,
};

int main(int argc, char **argv)
{
	const char *pos[3];
	unsigned long size, count, msg_per_s;
	void *ctx, *pull = NULL;
	uint64_t start = 0, elapsed;
	zmq_msg_t msg;
	int rc = ZS_EXIT_FAIL;

	zs_parse_args(&cmd, argc, argv, pos);
	size = zs_arg_num("SIZE", pos[1], 0, ZS_SIZE_MAX);
	count = zs_arg_num("COUNT", pos[2], 1, ZS_COUNT_MAX);

	ctx = zmq_ctx_new();
	if (!ctx)
		return zs_zfail("zmq_ctx_new");
	zmq_msg_init(&msg);
	pull = zs_socket(ctx, ZMQ_PULL, wait_s);
	if (!pull || zs_bind(pull, pos[0]) != 0)
		goto out;

	for (unsigned long i = 0; i < count; i++) {
		if (zs_recv_exact(pull, &msg, size, "message", i + 1, pos[0], wait_s))
			goto out;
		if (i == 0)
			start = zs_now_us();
	}
	elapsed = zs_now_us() - start;
	if (elapsed == 0)
		elapsed = 1;
	msg_per_s = (unsigned long)((double)count / (double)elapsed * 1e6);

	printf("message size: %lu [B]\n", size);
	printf("message count: %lu\n", count);
	printf("mean throughput: %lu [msg/s]\n", msg_per_s);
	printf("mean throughput: %.3f [Mb/s]\n",
	       (double)msg_per_s * (double)size * 8 / 1e6);
	rc = ZS_EXIT_OK;
out:
	zmq_msg_close(&msg);
	zs_close(pull, 0);
	zmq_ctx_term(ctx);
	return rc;
}
