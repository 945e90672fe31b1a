/* SPDX-License-Identifier: MIT */
/*
 * bench/fwd.h - what the two one-process forwarders (tapfwd, xdpfwd)
 * share: dying with a message, numeric options, entering a guest's
 * network namespace, naming an interface, stopping on a signal or with
 * their benchmark, and (the veth forwarders) the main loop and report.
 * Header-only: each forwarder is one file and one binary.
 */
#ifndef VQNET_BENCH_FWD_H
#define VQNET_BENCH_FWD_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <unistd.h>

static const char *fwd_prog;              /* set by main: "vq_tapfwd" ... */
static volatile sig_atomic_t fwd_stop;    /* SIGINT or SIGTERM came */

static inline void fwd_die(const char *what, const char *arg, int err)
{
	fprintf(stderr, "%s: %s%s%s: %s\n", fwd_prog, what, arg ? " " : "", arg ? arg : "",
		strerror(err));
	exit(1);
}

static inline long fwd_parse_num(const char *s, long lo, long hi, const char *opt)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "%s: bad %s \"%s\"\n", fwd_prog, opt, s);
		exit(2);
	}
	return v;
}

/* Move into network namespace /run/netns/NS (come back with fwd_home). */
static inline void fwd_enter(const char *ns)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "/run/netns/%s", ns) >= (int)sizeof(path))
		fwd_die("namespace name too long:", ns, ENAMETOOLONG);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fwd_die("open", path, errno);
	if (setns(fd, CLONE_NEWNET) < 0)
		fwd_die("setns", path, errno);
	close(fd);
}

static inline void fwd_home(int home)
{
	if (setns(home, CLONE_NEWNET) < 0)
		fwd_die("setns back home", NULL, errno);
}

/* An ifreq naming ifname, the rest zero. */
static inline void fwd_ifreq(struct ifreq *ifr, const char *ifname)
{
	memset(ifr, 0, sizeof(*ifr));
	if (strlen(ifname) >= IFNAMSIZ)
		fwd_die("interface name too long:", ifname, ENAMETOOLONG);
	memcpy(ifr->ifr_name, ifname, strlen(ifname));
}

static inline void fwd_on_signal(int sig)
{
	(void)sig;
	fwd_stop = 1;
}

/* Go on? Not after a signal, nor once seconds have passed since the
 * first call. */
static inline bool fwd_running(long seconds)
{
	static struct timespec t0;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!t0.tv_sec && !t0.tv_nsec)
		t0 = now;
	return !fwd_stop && now.tv_sec - t0.tv_sec < seconds;
}

/* Stop on SIGINT or SIGTERM, and when the benchmark that started us goes. */
static inline void fwd_signals(void)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	struct sigaction sa = { .sa_handler = fwd_on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* The veth forwarders' main loop: say "ready", then move frames with
 * pump_both(ctx), which returns how many it moved, until fwd_running says
 * stop; while nothing moves, sleep in poll on fd0 and fd1 (waking once a
 * second to notice the deadline). */
static inline void fwd_serve(long seconds, int fd0, int fd1, unsigned (*pump_both)(void *), void *ctx)
{
	printf("ready\n");
	fflush(stdout);
	struct pollfd p[2] = { { .fd = fd0, .events = POLLIN }, { .fd = fd1, .events = POLLIN } };
	while (fwd_running(seconds))
		if (!pump_both(ctx) && poll(p, 2, 1000) < 0 && errno != EINTR)
			fwd_die("poll", NULL, errno);
}

/* What went one way, on stdout at the end. */
static inline void fwd_report(const char *from, const char *to, unsigned long long frames,
			      unsigned long long bytes, unsigned long long drops)
{
	printf("%s -> %s: %llu frames, %llu bytes, %llu dropped\n", from, to, frames, bytes, drops);
}

#endif
