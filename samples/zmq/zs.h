/* SPDX-License-Identifier: MIT */
/* Shared by the ZeroMQ sample programs: strict command lines, error
 * reports and the few socket chores every program repeats.
 *
 * These are programs, not a library: the helpers print to stderr on behalf
 * of the program that calls them, and the command-line helpers exit (2 for a
 * bad command line, 0 after --help). Everything else returns a code.
 */
#ifndef VQNET_SAMPLES_ZS_H
#define VQNET_SAMPLES_ZS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

enum {
	ZS_EXIT_OK = 0,
	ZS_EXIT_FAIL = 1,  /* ZeroMQ error, misbehaving peer or timeout */
	ZS_EXIT_USAGE = 2, /* bad command line */
};

#define ZS_WAIT_DEFAULT 60UL   /* seconds a program waits for a silent peer */
#define ZS_WAIT_MAX 86400UL
#define ZS_SIZE_MAX (64UL << 20) /* largest SIZE of the lat/thr pairs */
#define ZS_COUNT_MAX 1000000000UL

/* One long option with a value: "--name VALUE" or "--name=VALUE". Exactly
 * one of num and str is set; it holds the default and receives the value. */
struct zs_opt {
	const char *name; /* without the leading "--" */
	const char *metavar;
	const char *help;
	unsigned long lo, hi; /* inclusive range of a num option */
	unsigned long *num;
	const char **str;
};

#define ZS_OPT_WAIT(var, what)                                              \
	{ "wait-timeout", "S", "give up after S seconds without " what         \
	  " (default 60)", 1, ZS_WAIT_MAX, (var), NULL }

struct zs_cmd {
	const char *args;  /* positional synopsis, e.g. "ENDPOINT SIZE COUNT" */
	const char *about; /* the rest of --help, one line per sentence */
	size_t min_pos, max_pos;
	const struct zs_opt *opts; /* ends with an entry whose name is NULL */
};

/* Makes stdout line-buffered (output is streamed through a pipe), then
 * parses argv: options may come anywhere, "--" ends them. Stores the
 * positionals in pos[0..max_pos) (missing ones NULL) and returns how many
 * there were. Exits 0 after --help, 2 on a bad command line. */
size_t zs_parse_args(const struct zs_cmd *cmd, int argc, char **argv,
		     const char **pos);

/* Parses a decimal integer in lo..hi that names a command-line argument;
 * exits 2 with "bad WHAT 'S': ..." otherwise. */
unsigned long zs_arg_num(const char *what, const char *s, unsigned long lo,
			 unsigned long hi);

/* Reports a bad command line (printf-style), then the usage line; exits 2. */
_Noreturn void zs_usage_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Strict decimal parse for untrusted text: digits only, in lo..hi. */
bool zs_parse_num(const char *s, size_t len, unsigned long lo,
		  unsigned long hi, unsigned long *out);

/* Print "prog: message" to stderr and return ZS_EXIT_FAIL; zs_zfail
 * appends ": zmq_strerror(errno)". */
int zs_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int zs_zfail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reports a failed blocking call on ENDPOINT: a timeout (EAGAIN, after the
 * socket's wait) in words that point at the address, anything else with
 * zmq_strerror. Returns ZS_EXIT_FAIL. */
int zs_wait_fail(const char *waiting_for, const char *endpoint,
		 unsigned long wait_s);

/* Receives the n-th `what` ("request", "message") on sock into msg and
 * checks it has exactly size bytes.  0, or ZS_EXIT_FAIL after saying why
 * (a timeout in words that point at endpoint). */
int zs_recv_exact(void *sock, zmq_msg_t *msg, unsigned long size, const char *what,
		  unsigned long n, const char *endpoint, unsigned long wait_s);

uint64_t zs_now_us(void); /* CLOCK_MONOTONIC */
void zs_sleep_ms(unsigned long ms);

/* A socket whose blocking calls give up after wait_s seconds
 * (ZMQ_RCVTIMEO, ZMQ_SNDTIMEO) and whose close waits at most as long to
 * flush (ZMQ_LINGER). NULL after printing the error. */
void *zs_socket(void *ctx, int type, unsigned long wait_s);
/* 0, or a negative errno after printing which endpoint failed and why */
int zs_bind(void *sock, const char *endpoint);
int zs_connect(void *sock, const char *endpoint);
/* Closes sock; linger_ms >= 0 replaces its linger (0 drops what is still
 * queued, for error paths). NULL is a no-op. */
void zs_close(void *sock, int linger_ms);
/* Receives one message as a NUL-terminated string of at most cap-1 bytes.
 * Returns its length, or -1 with errno set (EMSGSIZE when too long). */
int zs_recv_str(void *sock, char *buf, size_t cap, int flags);
int zs_send_str(void *sock, const char *s); /* 0 or -1 with errno */

/* Watching for completed ZMTP handshakes, the one event that says a peer
 * is really there. Call zs_monitor before binding or connecting sock so
 * no event is missed; name makes the inproc endpoint unique. */
void *zs_monitor(void *ctx, void *sock, const char *name);
/* Waits until n handshakes have succeeded or the monotonic deadline has
 * passed. Returns how many were seen (< n on timeout), -1 after printing
 * a ZeroMQ error. */
long zs_await_handshakes(void *mon, unsigned long n, uint64_t deadline_us);
/* Stops monitoring sock and closes mon. NULL mon is a no-op. */
void zs_monitor_close(void *sock, void *mon);

#endif
