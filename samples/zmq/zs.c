/* SPDX-License-Identifier: MIT */
#include "zs.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static const char *zs_prog = "zmq_sample";
static const struct zs_cmd *zs_cmd_cur;

static void zs_print_usage(FILE *f)
{
	fprintf(f, "usage: %s %s", zs_prog, zs_cmd_cur->args);
	for (const struct zs_opt *o = zs_cmd_cur->opts; o && o->name; o++)
		fprintf(f, " [--%s %s]", o->name, o->metavar);
	fputc('\n', f);
}

static _Noreturn void zs_help(void)
{
	zs_print_usage(stdout);
	printf("%s\noptions:\n", zs_cmd_cur->about);
	for (const struct zs_opt *o = zs_cmd_cur->opts; o && o->name; o++) {
		char left[64];

		snprintf(left, sizeof left, "--%s %s", o->name, o->metavar);
		printf("  %-18s %s\n", left, o->help);
	}
	printf("  %-18s %s\n", "--help", "print this help and exit");
	printf("exit status: 0 done, 1 ZeroMQ error or timeout, 2 bad command line\n");
	exit(ZS_EXIT_OK);
}

_Noreturn void zs_usage_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", zs_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	zs_print_usage(stderr);
	exit(ZS_EXIT_USAGE);
}

bool zs_parse_num(const char *s, size_t len, unsigned long lo,
		  unsigned long hi, unsigned long *out)
{
	unsigned long v = 0;

	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || v > (ULONG_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

unsigned long zs_arg_num(const char *what, const char *s, unsigned long lo,
			 unsigned long hi)
{
	unsigned long v;

	if (!zs_parse_num(s, strlen(s), lo, hi, &v))
		zs_usage_fail("bad %s '%s': expected an integer in %lu..%lu",
			      what, s, lo, hi);
	return v;
}

static void zs_set_opt(const struct zs_opt *o, const char *value)
{
	char what[64];

	if (o->num) {
		snprintf(what, sizeof what, "--%s", o->name);
		*o->num = zs_arg_num(what, value, o->lo, o->hi);
	} else {
		*o->str = value;
	}
}

static const struct zs_opt *zs_find_opt(const char *arg, const char **value)
{
	const char *name = arg + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);

	*value = eq ? eq + 1 : NULL;
	for (const struct zs_opt *o = zs_cmd_cur->opts; o && o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

size_t zs_parse_args(const struct zs_cmd *cmd, int argc, char **argv,
		     const char **pos)
{
	size_t npos = 0;
	bool opts_done = false;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 0 && argv[0][0]) {
		const char *slash = strrchr(argv[0], '/');

		zs_prog = slash ? slash + 1 : argv[0];
	}
	zs_cmd_cur = cmd;
	for (size_t i = 0; i < cmd->max_pos; i++)
		pos[i] = NULL;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value;
		const struct zs_opt *o;

		/* "-" and negative numbers are positionals, for a clear error */
		if (opts_done || arg[0] != '-' || arg[1] == '\0' ||
		    (arg[1] >= '0' && arg[1] <= '9')) {
			if (npos == cmd->max_pos)
				zs_usage_fail("unexpected argument '%s'", arg);
			pos[npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			opts_done = true;
			continue;
		}
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
			zs_help();
		if (arg[1] != '-' || !(o = zs_find_opt(arg, &value)))
			zs_usage_fail("unknown option '%s'", arg);
		if (!value) {
			if (i + 1 == argc)
				zs_usage_fail("option --%s needs a value (%s)",
					      o->name, o->metavar);
			value = argv[++i];
		}
		zs_set_opt(o, value);
	}
	if (npos < cmd->min_pos)
		zs_usage_fail("missing arguments (got %zu, need %zu)", npos,
			      cmd->min_pos);
	return npos;
}

__attribute__((format(printf, 1, 0))) static void
zs_vreport(const char *fmt, va_list ap, const char *suffix)
{
	fprintf(stderr, "%s: ", zs_prog);
	vfprintf(stderr, fmt, ap);
	if (suffix)
		fprintf(stderr, ": %s", suffix);
	fputc('\n', stderr);
}

int zs_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	zs_vreport(fmt, ap, NULL);
	va_end(ap);
	return ZS_EXIT_FAIL;
}

int zs_zfail(const char *fmt, ...)
{
	const char *why = zmq_strerror(zmq_errno());
	va_list ap;

	va_start(ap, fmt);
	zs_vreport(fmt, ap, why);
	va_end(ap);
	return ZS_EXIT_FAIL;
}

int zs_wait_fail(const char *waiting_for, const char *endpoint,
		 unsigned long wait_s)
{
	if (zmq_errno() == EAGAIN)
		return zs_fail("timed out after %lu s waiting for %s on %s "
			       "(is the peer running, and is the address "
			       "right?)",
			       wait_s, waiting_for, endpoint);
	return zs_zfail("waiting for %s on %s", waiting_for, endpoint);
}

int zs_recv_exact(void *sock, zmq_msg_t *msg, unsigned long size, const char *what,
		  unsigned long n, const char *endpoint, unsigned long wait_s)
{
	if (zmq_msg_recv(msg, sock, 0) < 0) {
		char waiting_for[64];
		snprintf(waiting_for, sizeof(waiting_for), "a %s", what);
		return zs_wait_fail(waiting_for, endpoint, wait_s);
	}
	if (zmq_msg_size(msg) != size)
		return zs_fail("%s %lu has %zu bytes, expected %lu", what, n,
			       zmq_msg_size(msg), size);
	return 0;
}

uint64_t zs_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void zs_sleep_ms(unsigned long ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void *zs_socket(void *ctx, int type, unsigned long wait_s)
{
	int ms = (int)(wait_s * 1000);
	void *sock = zmq_socket(ctx, type);

	if (!sock) {
		zs_zfail("zmq_socket");
		return NULL;
	}
	if (zmq_setsockopt(sock, ZMQ_RCVTIMEO, &ms, sizeof ms) != 0 ||
	    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &ms, sizeof ms) != 0 ||
	    zmq_setsockopt(sock, ZMQ_LINGER, &ms, sizeof ms) != 0) {
		zs_zfail("zmq_setsockopt");
		zs_close(sock, 0);
		return NULL;
	}
	return sock;
}

int zs_bind(void *sock, const char *endpoint)
{
	int err;

	if (zmq_bind(sock, endpoint) == 0)
		return 0;
	err = zmq_errno();
	zs_zfail("cannot bind %s", endpoint);
	return -err;
}

int zs_connect(void *sock, const char *endpoint)
{
	int err;

	if (zmq_connect(sock, endpoint) == 0)
		return 0;
	err = zmq_errno();
	zs_zfail("cannot connect to %s", endpoint);
	return -err;
}

void zs_close(void *sock, int linger_ms)
{
	if (!sock)
		return;
	if (linger_ms >= 0)
		zmq_setsockopt(sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
	zmq_close(sock);
}

int zs_recv_str(void *sock, char *buf, size_t cap, int flags)
{
	int n = zmq_recv(sock, buf, cap - 1, flags);

	if (n < 0)
		return -1;
	if ((size_t)n >= cap) {
		errno = EMSGSIZE;
		return -1;
	}
	buf[n] = '\0';
	return n;
}

int zs_send_str(void *sock, const char *s)
{
	return zmq_send(sock, s, strlen(s), 0) < 0 ? -1 : 0;
}

void *zs_monitor(void *ctx, void *sock, const char *name)
{
	char endpoint[64];
	void *mon;

	snprintf(endpoint, sizeof endpoint, "inproc://zs-monitor-%s", name);
	if (zmq_socket_monitor(sock, endpoint,
			       ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0) {
		zs_zfail("zmq_socket_monitor");
		return NULL;
	}
	mon = zs_socket(ctx, ZMQ_PAIR, 1);
	if (mon && zs_connect(mon, endpoint) != 0) {
		zs_monitor_close(sock, mon);
		mon = NULL;
	}
	return mon;
}

/* An event is two frames: 16-bit event and 32-bit value, then the peer's
 * address. Returns the event number, or -1 with errno set. */
static int zs_read_event(void *mon)
{
	uint8_t head[6];
	char addr[256];
	uint16_t event;
	int more;
	size_t more_len = sizeof more;

	if (zmq_recv(mon, head, sizeof head, 0) < 0)
		return -1;
	memcpy(&event, head, sizeof event);
	if (zmq_getsockopt(mon, ZMQ_RCVMORE, &more, &more_len) != 0)
		return -1;
	if (more && zmq_recv(mon, addr, sizeof addr, 0) < 0)
		return -1;
	return event;
}

long zs_await_handshakes(void *mon, unsigned long n, uint64_t deadline_us)
{
	unsigned long seen = 0;

	while (seen < n) {
		uint64_t now = zs_now_us();
		zmq_pollitem_t item = { .socket = mon, .events = ZMQ_POLLIN };
		int rc, event;

		if (now >= deadline_us)
			break;
		rc = zmq_poll(&item, 1, (long)((deadline_us - now + 999) / 1000));
		if (rc < 0 && zmq_errno() == EINTR)
			continue;
		if (rc < 0) {
			zs_zfail("zmq_poll");
			return -1;
		}
		if (rc == 0)
			continue;
		event = zs_read_event(mon);
		if (event < 0) {
			zs_zfail("reading a socket monitor event");
			return -1;
		}
		if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
			seen++;
	}
	return (long)seen;
}

void zs_monitor_close(void *sock, void *mon)
{
	if (!mon)
		return;
	zmq_socket_monitor(sock, NULL, 0);
	zs_close(mon, 0);
}
