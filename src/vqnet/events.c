/* SPDX-License-Identifier: MIT */
/*
 * vqnet events LAB [--json]: a lab's events as they happen (the
 * supervisor's `events` stream, sup_events.c): its recent past first, then
 * each new one; text rendered from the JSON (report_event, as status
 * shows them), or the JSON lines as they come.
 *
 * It ends with the lab: the "lab_down" event, exit 0.  Ctrl-C, SIGTERM,
 * SIGHUP or a closed output pipe end it quietly, exit 0 too (the end a
 * watcher chooses, as for `stats --watch` and `capture`).  A
 * supervisor that goes away without the lab-down event died: said, exit 1.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "report.h"
#include "rundir.h"
#include "up.h"

#define LINE_MAX_ (64u << 10)   /* the supervisor's lines are 2 KiB at most */

enum { GOING, DONE };

/* One line from the supervisor: show it; DONE once the lab is down, or
 * with *rc set on an error. */
static int take(const char *lab, char *line, bool json, int *rc)
{
	if (!strncmp(line, "error: ", 7)) {
		err_msg("lab %s: %s", lab, line + 7);
		*rc = EXIT_FAIL;
		return DONE;
	}
	json_t *ev = json_loads(line, 0, NULL);
	if (!json_is_object(ev)) {
		json_decref(ev);
		err_msg("lab %s: the supervisor sent a line that is not an event", lab);
		*rc = EXIT_FAIL;
		return DONE;
	}
	if (json)
		printf("%s\n", line);
	else
		report_event(stdout, ev, lab);
	const char *kind = js(ev, "kind", "");
	int r = !strcmp(kind, "lab_down") ? DONE : GOING;
	json_decref(ev);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		/* a closed pipe (SIGPIPE is blocked: EPIPE) ends us quietly */
		*rc = errno == EPIPE ? 0 : EXIT_FAIL;
		if (errno != EPIPE)
			err_msg("writing the events: %s", strerror(errno));
		return DONE;
	}
	*rc = 0;
	return r;
}

int cmd_events(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		cmd_help("events", true);
		return 0;
	}
	bool json = false;
	const char *lab = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!lab && argv[i][0] != '-')
			lab = argv[i];
		else
			return cmd_usage("events");
	}
	if (!lab)
		return cmd_usage("events");
	if (!lab_name_ok(lab)) {
		err_msg("bad lab name \"%s\"", lab);
		return EXIT_USAGE;
	}
	int sigfd = signals_to_fd();
	if (sigfd < 0) {
		err_msg("cannot start: %s", strerror(-sigfd));
		return EXIT_FAIL;
	}
	int s = ctl_open(lab, "events");
	if (s < 0) {
		err_msg("lab %s %s", lab, s == -ENOENT ? "is not up (see 'vqnet list')" : strerror(-s));
		close(sigfd);
		return s == -ENOENT ? EXIT_NOT_UP : EXIT_FAIL;
	}
	char *buf = malloc(LINE_MAX_);
	size_t len = 0;
	int rc = EXIT_FAIL, state = buf ? GOING : DONE;
	bool eof = false;
	if (!buf)
		err_msg("out of memory");
	while (state == GOING) {
		struct pollfd p[2] = { { .fd = s, .events = POLLIN }, { .fd = sigfd, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			err_msg("poll: %s", strerror(errno));
			break;
		}
		struct signalfd_siginfo si;
		if (p[1].revents && read(sigfd, &si, sizeof(si)) == sizeof(si)) {
			rc = 0;   /* asked to stop: a watcher's normal end */
			break;
		}
		if (!p[0].revents)
			continue;
		ssize_t r = recv(s, buf + len, LINE_MAX_ - 1 - len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			eof = true;
			break;
		}
		len += (size_t)r;
		char *start = buf, *nl;
		while (state == GOING && (nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
			*nl = 0;
			state = take(lab, start, json, &rc);
			start = nl + 1;
		}
		len -= (size_t)(start - buf);
		memmove(buf, start, len);
		if (state == GOING && len == LINE_MAX_ - 1) {
			err_msg("lab %s: the supervisor sent a line longer than %u bytes", lab, LINE_MAX_);
			rc = EXIT_FAIL;
			break;
		}
	}
	if (eof) {
		/* the stream ended without the lab going down: its supervisor is gone */
		struct lab_probe pr;
		char log[256];
		/* a supervisor killed closes its sockets before it is reaped */
		for (int tries = 0;; tries++) {
			lab_probe(lab, &pr);
			if (pr.health == LAB_DEAD || pr.health == LAB_ABSENT || tries == 20)
				break;
			lab_probe_free(&pr);
			struct timespec ts = { 0, 50 * 1000000 };
			nanosleep(&ts, NULL);
		}
		lab_log_path(log, sizeof(log), lab);
		err_msg("lab %s: the supervisor %s without the lab going down (its log: %s)", lab,
			pr.health == LAB_DEAD || pr.health == LAB_ABSENT ? "died" : "closed the event stream",
			log);
		lab_probe_free(&pr);
		rc = EXIT_FAIL;
	}
	free(buf);
	close(s);
	close(sigfd);
	return rc;
}
