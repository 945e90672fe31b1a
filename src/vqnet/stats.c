/* SPDX-License-Identifier: MIT */
/*
 * vqnet stats LAB [--watch [SECONDS]] [--json]: frames, bits and drops a
 * second, per interface and link end, from two snapshots of the lab's
 * status taken an interval apart (rates.h does the arithmetic).
 *
 * Time: each snapshot is stamped with CLOCK_MONOTONIC halfway through its
 * request (the supervisor reads the counters somewhere between sending
 * and answering), and a rate is divided by the real time between two
 * stamps, never by the interval asked for.
 *
 * Signals: INT, TERM and HUP are blocked and waited for with sigtimedwait
 * between snapshots, so one never cuts a frame half drawn; one arriving
 * during a request is taken when it returns.  SIGPIPE is ignored: a
 * closed output ends the command through its write error (EPIPE), quietly.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "rates.h"
#include "report.h"
#include "rundir.h"

#define INTERVAL_MIN 0.1
#define INTERVAL_MAX 3600.0
#define STATUS_TIMEOUT_MS 10000

struct snap {
	json_t *st;
	double mono, wall;       /* seconds: CLOCK_MONOTONIC, CLOCK_REALTIME */
};

/* The live screen (--watch on a terminal): the alternate screen with the
 * cursor hidden, as watch(1) leaves the terminal as it found it. */
static bool screen;

static void screen_end(void)
{
	if (!screen)
		return;
	screen = false;
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
}

static double secs(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SECONDS: a plain decimal number (no sign, exponent, hex, inf or nan)
 * from INTERVAL_MIN to INTERVAL_MAX; 0 or EXIT_USAGE, said. */
static int parse_interval(const char *s, double *out)
{
	size_t digits = strspn(s, "0123456789"), frac = 0;
	if (s[digits] == '.')
		frac = strspn(s + digits + 1, "0123456789");
	bool whole = digits + frac > 0 && !s[digits + (s[digits] == '.' ? 1 + frac : 0)];
	double v = whole ? strtod(s, NULL) : 0;
	if (!(v >= INTERVAL_MIN && v <= INTERVAL_MAX)) {
		err_msg("stats: bad interval \"%s\": seconds from %g to %g, e.g. --watch 0.5", s,
			INTERVAL_MIN, INTERVAL_MAX);
		return EXIT_USAGE;
	}
	*out = v;
	return 0;
}

/* Is arg a number (good or bad: "0", "-1", "0.5.5") rather than a lab
 * name or an option? */
static bool numeric(const char *arg)
{
	if (arg[0] == '-' || arg[0] == '+')
		arg++;
	return arg[0] && arg[strspn(arg, "0123456789.")] == 0;
}

/* Does --watch take arg as its SECONDS?  A number always; after the lab,
 * anything but an option (so "stats LAB --watch x" says x is bad). */
static bool takes_seconds(const char *arg, bool lab_given)
{
	return numeric(arg) || (lab_given && arg[0] != '-');
}

/* Why the lab did not answer, said; the exit status */
static int not_up(const char *lab, int err)
{
	struct lab_probe p;
	lab_probe(lab, &p);
	enum lab_health h = p.health;
	lab_probe_free(&p);
	screen_end();
	switch (h) {
	case LAB_ABSENT:
		err_msg("stats: lab %s is not up (see 'vqnet list')", lab);
		return EXIT_NOT_UP;
	case LAB_STOPPING:
		err_msg("stats: lab %s is going down", lab);
		return EXIT_NOT_UP;
	case LAB_STARTING:
		err_msg("stats: lab %s is not up yet: it is starting", lab);
		return EXIT_NOT_UP;
	case LAB_DEAD:
		err_msg("stats: lab %s is not up: its supervisor died ('vqnet down %s' cleans up)", lab, lab);
		return EXIT_NOT_UP;
	case LAB_STUCK:
		err_msg("stats: lab %s: its supervisor does not answer ('vqnet down %s' stops it)", lab, lab);
		return EXIT_FAIL;
	case LAB_UP:
		break;
	}
	err_msg("stats: lab %s: status request failed: %s", lab, strerror(-err));
	return EXIT_FAIL;
}

/* One snapshot of the lab's status: 0, or the exit status (said). */
static int take(const char *lab, struct snap *s)
{
	char *reply;
	double before = secs(CLOCK_MONOTONIC);
	int err = ctl_request(lab, "status", &reply, NULL, STATUS_TIMEOUT_MS);
	double after = secs(CLOCK_MONOTONIC), wall = secs(CLOCK_REALTIME);
	if (err)
		return not_up(lab, err);
	json_t *st = json_loads(reply, 0, NULL);
	free(reply);
	if (!json_is_object(st) || strcmp(js(st, "state", ""), "up")) {
		json_decref(st);
		screen_end();
		err_msg("stats: lab %s: its supervisor gave an unreadable status", lab);
		return EXIT_FAIL;
	}
	s->st = st;
	s->mono = (before + after) / 2;
	s->wall = wall - (after - s->mono);
	return 0;
}

/* Wait until the monotonic time `until`, or a signal of set: its number,
 * or 0 when the time came. */
static int wait_until(double until, const sigset_t *set)
{
	for (;;) {
		double left = until - secs(CLOCK_MONOTONIC);
		if (left < 0)
			left = 0;
		struct timespec ts = { .tv_sec = (time_t)left,
				       .tv_nsec = (long)((left - (double)(time_t)left) * 1e9) };
		int sig = sigtimedwait(set, NULL, &ts);
		if (sig > 0)
			return sig;
		if (errno == EAGAIN)
			return 0;
		/* EINTR: another signal (a window resized): wait on */
	}
}

/* A frame of the live screen: from the top left, each line cut to the
 * terminal's width and cleared to its end, the rest of the screen
 * cleared; one write, so nothing flickers. */
static void draw(const char *text)
{
	struct winsize ws = { 0 };
	unsigned rows = 24, cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
		rows = ws.ws_row, cols = ws.ws_col;
	char *buf;
	size_t len;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return;
	fputs("\033[H", m);
	const char *line = text;
	for (unsigned r = 0; r < rows && *line; r++) {
		size_t n = strcspn(line, "\n");
		/* the last row takes no newline: the screen would scroll */
		fprintf(m, "%.*s\033[K%s", (int)(n < cols ? n : cols), line, r + 1 < rows ? "\n" : "");
		line += n + (line[n] == '\n');
	}
	fputs("\033[J", m);
	if (fclose(m) == 0) {
		fwrite(buf, 1, len, stdout);
		fflush(stdout);
	}
	free(buf);
}

/* Print one interval's rates (json: one line); false on a write error */
static bool show(json_t *r, bool json, bool watch, unsigned shown)
{
	if (json) {
		char *s = json_dumps(r, JSON_COMPACT | JSON_REAL_PRECISION(15));
		if (s)
			printf("%s\n", s);
		free(s);
	} else if (screen) {
		char *buf;
		size_t len;
		FILE *m = open_memstream(&buf, &len);
		if (m) {
			report_rates(m, r);
			if (fclose(m) == 0)
				draw(buf);
			free(buf);
		}
	} else {
		if (watch && shown)
			putchar('\n');
		report_rates(stdout, r);
	}
	return fflush(stdout) == 0 && !ferror(stdout);
}

int cmd_stats(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		cmd_help("stats", true);
		return 0;
	}
	const char *lab = NULL;
	bool json = false, watch = false;
	double interval = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--watch")) {
			watch = true;
			if (i + 1 < argc && takes_seconds(argv[i + 1], lab != NULL) &&
			    parse_interval(argv[++i], &interval))
				return EXIT_USAGE;
		} else if (!strncmp(a, "--watch=", 8)) {
			watch = true;
			if (parse_interval(a + 8, &interval))
				return EXIT_USAGE;
		} else if (a[0] == '-' || lab) {
			return cmd_usage("stats");
		} else {
			lab = a;
		}
	}
	if (!lab)
		return cmd_usage("stats");
	if (!lab_name_ok(lab)) {
		err_msg("stats: bad lab name \"%s\"", lab);
		return EXIT_USAGE;
	}

	/* a signal ignored when we started stays ignored (nohup, a shell's
	 * background job): blocked, it would be taken */
	sigset_t set;
	sigemptyset(&set);
	for (int s = 0; s < 3; s++) {
		int sig = s == 0 ? SIGINT : s == 1 ? SIGTERM : SIGHUP;
		struct sigaction old;
		if (sigaction(sig, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			sigaddset(&set, sig);
	}
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct snap prev = { 0 }, cur = { 0 };
	int rc = take(lab, &prev), sig = 0;
	if (rc)
		return rc;
	const char *term = getenv("TERM");
	if (watch && !json && isatty(STDOUT_FILENO) && term && strcmp(term, "dumb")) {
		screen = true;
		fputs("\033[?1049h\033[?25l", stdout);
		char first[256];
		snprintf(first, sizeof(first), "lab %s: the first rates in %g s (Ctrl-C ends)\n", lab, interval);
		draw(first);
	}
	double next = prev.mono + interval;
	for (unsigned shown = 0;; shown++) {
		sig = wait_until(next, &set);
		if (sig)
			break;
		rc = take(lab, &cur);
		if (rc)
			break;
		json_t *r = rates_between(prev.st, cur.st, cur.mono - prev.mono, cur.wall);
		json_decref(prev.st);
		prev = cur;
		cur.st = NULL;
		if (!r) {
			screen_end();
			err_msg("stats: out of memory");
			rc = EXIT_FAIL;
			break;
		}
		/* a signal that came during the request: nothing more is shown */
		struct timespec zero = { 0 };
		sig = sigtimedwait(&set, NULL, &zero);
		bool written = sig > 0 || show(r, json, watch, shown);
		json_decref(r);
		if (sig > 0)
			break;
		sig = 0;
		if (!written) {
			int err = errno;
			screen_end();
			if (err != EPIPE) {
				err_msg("stats: cannot write: %s", strerror(err));
				rc = EXIT_FAIL;
			}
			break;
		}
		if (!watch)
			break;
		/* the next snapshot an interval after this one's start; after a
		 * stall (a slow supervisor, a stopped process) start afresh */
		next += interval;
		if (next < secs(CLOCK_MONOTONIC))
			next = secs(CLOCK_MONOTONIC) + interval;
	}
	json_decref(prev.st);
	screen_end();
	/* --watch ends by a signal: that is how one stops it, exit 0; a single
	 * interval cut short is interrupted, 128 + N, as everywhere else */
	if (sig > 0 && !rc)
		rc = watch ? 0 : 128 + sig;
	return rc;
}
