/* SPDX-License-Identifier: MIT */
/* zmq_lat_client: the REQ half of the latency pair (libzmq's remote_lat).
 * Connects to ENDPOINT, does COUNT round trips of SIZE-byte messages,
 * checks every reply and prints, as libzmq's perf tools do:
 *
 *     message size: 1 [B]
 *     roundtrip count: 10000
 *     average latency: 20.153 [us]
 *
 * where latency is one way: elapsed / (COUNT * 2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "zs.h"

static unsigned long wait_s = ZS_WAIT_DEFAULT;

static const struct zs_opt opts[] = {
	ZS_OPT_WAIT(&wait_s, "a reply"),
	{ 0 },
};

static const struct zs_cmd cmd = {
	.args = "ENDPOINT SIZE COUNT",
	.about = "REQ: connect to ENDPOINT (e.g. tcp://192.168.1.1:5555), do COUNT\n"
		 "round trips of SIZE bytes, print the one-way latency.",
	.min_pos = 3,
	.max_pos = 3,
	.opts = opts,
};

int main(int argc, char **argv)
{
	const char *pos[3];
	unsigned long size, count;
	unsigned char *buf = NULL;
	void *ctx, *req = NULL;
	uint64_t start, elapsed;
	zmq_msg_t msg;
	int rc = ZS_EXIT_FAIL;

	zs_parse_args(&cmd, argc, argv, pos);
	size = zs_arg_num("SIZE", pos[1], 0, ZS_SIZE_MAX);
	count = zs_arg_num("COUNT", pos[2], 1, ZS_COUNT_MAX);

	ctx = zmq_ctx_new();
	if (!ctx)
		return zs_zfail("zmq_ctx_new");
	zmq_msg_init(&msg);
	buf = malloc(size ? size : 1);
	if (!buf) {
		zs_fail("out of memory for a %lu-byte message", size);
		goto out;
	}
	for (unsigned long i = 0; i < size; i++)
		buf[i] = (unsigned char)(i * 31 + 7);
	req = zs_socket(ctx, ZMQ_REQ, wait_s);
	if (!req || zs_connect(req, pos[0]) != 0)
		goto out;

	start = zs_now_us();
	for (unsigned long i = 0; i < count; i++) {
		if (zmq_send(req, buf, size, 0) < 0) {
			zs_wait_fail("the server to take a request", pos[0], wait_s);
			goto out;
		}
		if (zmq_msg_recv(&msg, req, 0) < 0) {
			zs_wait_fail("a reply", pos[0], wait_s);
			goto out;
		}
		if (zmq_msg_size(&msg) != size ||
		    memcmp(zmq_msg_data(&msg), buf, size) != 0) {
			zs_fail("reply %lu (%zu bytes) differs from its %lu-byte "
				"request", i + 1, zmq_msg_size(&msg), size);
			goto out;
		}
	}
	elapsed = zs_now_us() - start;

	printf("message size: %lu [B]\n", size);
	printf("roundtrip count: %lu\n", count);
	printf("average latency: %.3f [us]\n",
	       (double)elapsed / ((double)count * 2));
	rc = ZS_EXIT_OK;
out:
	zmq_msg_close(&msg);
	zs_close(req, 0); /* REQ/REP: nothing is left to flush after a reply */
	zmq_ctx_term(ctx);
	free(buf);
	return rc;
}
