/* SPDX-License-Identifier: MIT */
/* zmq_wuclient: the guide's weather update client. Subscribes to one
 * zipcode (or to all), prints COUNT updates and their mean temperature:
 *
 *     Collecting updates from weather server…
 *     temp: 10001 -21 42 1
 *     ...
 *     temp: 10001 -39 17 5
 *     Average temperature for zipcode was -7F
 *
 * Each line is "temp: ZIP TEMP HUMIDITY N" with N counting 1..COUNT; the
 * average is the C integer mean (sum / COUNT, rounded toward zero) of the
 * printed temperatures.
 *
 * FILTER is a zipcode, not a text prefix: the subscription is the zipcode
 * as the server writes it (five digits) followed by a space, so "1000"
 * means zipcode 01000 and never matches 10000..10009. An empty FILTER
 * subscribes to every update. */
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "zs.h"

static unsigned long wait_s = ZS_WAIT_DEFAULT;

static const struct zs_opt opts[] = {
	ZS_OPT_WAIT(&wait_s, "an update"),
	{ 0 },
};

static const struct zs_cmd cmd = {
	.args = "ENDPOINT [FILTER] [COUNT]",
	.about = "SUB: connect to ENDPOINT (e.g. tcp://192.168.1.1:5556), collect\n"
		 "COUNT (default 5) updates for zipcode FILTER (0..99999, exactly\n"
		 "that zipcode, not a prefix; empty or absent: every zipcode),\n"
		 "print them and their average temperature, exit.",
	.min_pos = 1,
	.max_pos = 3,
	.opts = opts,
};

/* "ZIP TEMP HUM" exactly, as zmq_wuserver writes it. */
static bool parse_update(const char *s, int *zip, int *temp, int *hum)
{
	int end = -1;

	return sscanf(s, "%d %d %d%n", zip, temp, hum, &end) == 3 &&
	       end >= 0 && s[end] == '\0';
}

int main(int argc, char **argv)
{
	const char *pos[3];
	const char *filter_arg;
	char filter[16] = "";
	unsigned long count = 5, zip;
	long sum = 0;
	void *ctx, *sub = NULL;
	int rc = ZS_EXIT_FAIL;

	zs_parse_args(&cmd, argc, argv, pos);
	filter_arg = pos[1] ? pos[1] : "";
	if (filter_arg[0]) {
		zip = zs_arg_num("FILTER (a zipcode)", filter_arg, 0, 99999);
		snprintf(filter, sizeof filter, "%05lu ", zip);
	}
	if (pos[2])
		count = zs_arg_num("COUNT", pos[2], 1, ZS_COUNT_MAX);

	printf("Collecting updates from weather server\u2026\n");
	ctx = zmq_ctx_new();
	if (!ctx)
		return zs_zfail("zmq_ctx_new");
	sub = zs_socket(ctx, ZMQ_SUB, wait_s);
	if (!sub || zs_connect(sub, pos[0]) != 0)
		goto out;
	if (zmq_setsockopt(sub, ZMQ_SUBSCRIBE, filter, strlen(filter)) != 0) {
		zs_zfail("ZMQ_SUBSCRIBE '%s'", filter);
		goto out;
	}

	for (unsigned long n = 1; n <= count; n++) {
		char update[64];
		int z, temp, hum;

		if (zs_recv_str(sub, update, sizeof update, 0) < 0) {
			zs_wait_fail("an update", pos[0], wait_s);
			goto out;
		}
		if (!parse_update(update, &z, &temp, &hum)) {
			zs_fail("malformed update '%s'", update);
			goto out;
		}
		printf("temp: %05d %d %d %lu\n", z, temp, hum, n);
		sum += temp;
	}
	printf("Average temperature for zipcode was %ldF\n", sum / (long)count);
	rc = ZS_EXIT_OK;
out:
	zs_close(sub, 0);
	zmq_ctx_term(ctx);
	return rc;
}
