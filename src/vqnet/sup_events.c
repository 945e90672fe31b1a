/* SPDX-License-Identifier: MIT */
/*
 * sup_events.c - what happened to the lab, as it happened: a ring of the
 * last SUP_EVENTS_MAX events (a vmm died, was restarted or backs off; a
 * link stalled or recovered; a guest is ready; a fault was applied; a
 * scenario started or ended; the lab went down), each with a sequence
 * number, a monotonic and a wall-clock time, a kind, the node or link it
 * concerns and a line of text.  `status` shows the last few; the `events`
 * request streams them.
 *
 * A stream is a cursor into the ring.  It is sent the ring's content
 * first, then each event as it is added, one JSON object a line, and its
 * sends never block: whatever its socket does not take waits in the ring
 * itself, so a client that stops reading costs no memory and delays no
 * one.  When the ring overwrites events a stream was not sent yet, the
 * stream is told how many ({"kind":"lost","count":N}) and goes on with
 * the oldest event still kept.  At most SUP_STREAMS_MAX streams at once.
 * When the lab goes down every stream gets the "lab_down" event (waiting
 * at most END_FLUSH_MS for slow readers), then its end.
 *
 * Texts that come from elsewhere (a vmm's ready line, an agent's reason,
 * a control client's note) are untrusted: bounded, printable ASCII only.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "sup.h"
#include "sys.h"

#define LINE_MAX_ 2048           /* one event as a JSON line, at most */
#define STREAM_BUF (4 * LINE_MAX_)
#define END_FLUSH_MS 500
#define STREAM_SNDBUF (32 << 10)

struct event {
	uint64_t seq;                /* 0: slot never used */
	json_t *obj;
	char *line;                  /* obj on one line, newline-terminated */
	size_t len;
};

struct stream {
	int fd;                      /* -1: free */
	uint64_t next;               /* seq of the next event it is to be sent */
	bool reading;                /* until the client shuts its side down */
	uint32_t mask;               /* what epoll watches for it now */
	char buf[STREAM_BUF];        /* whole lines, sent from off */
	size_t len, off;
};

static struct event ring[SUP_EVENTS_MAX];
static uint64_t next_seq = 1;
static struct stream streams[SUP_STREAMS_MAX] = {
	[0 ... SUP_STREAMS_MAX - 1] = { .fd = -1 },
};
static bool ended;
static uint64_t (*scenario_t0)[2];   /* per scenario and mode: when it started, 0: not */

static uint64_t oldest(void)
{
	return next_seq > SUP_EVENTS_MAX ? next_seq - SUP_EVENTS_MAX : 1;
}

void sup_printable(char *dst, size_t len, const char *src)
{
	size_t i = 0;
	for (; len && i < len - 1 && src[i]; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	if (len)
		dst[i] = 0;
}

/* "2024-05-01T10:03:04.123Z", and milliseconds since the epoch */
static json_t *stamp(json_t *o)
{
	struct timespec ts;
	struct tm tm;
	char buf[40], iso[48];
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!gmtime_r(&ts.tv_sec, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(buf, sizeof(buf), "?");
	snprintf(iso, sizeof(iso), "%s.%03uZ", buf, (unsigned)(ts.tv_nsec / 1000000) % 1000u);
	json_object_set_new(o, "time", json_string(iso));
	json_object_set_new(o, "wall_ms", json_integer((json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
	return o;
}

/* obj as one newline-terminated line, or NULL */
static char *line_of(json_t *obj, size_t *len)
{
	/* 10 digits: 8.711 ms, not 8.7109999999999994 */
	char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(10));
	size_t n = s ? strlen(s) : 0;
	char *l = s && n < LINE_MAX_ ? realloc(s, n + 2) : NULL;
	if (!l) {
		free(s);
		return NULL;
	}
	l[n] = '\n';
	l[n + 1] = 0;
	*len = n + 1;
	return l;
}

/* ---- streams ------------------------------------------------------------- */

static void stream_watch(struct stream *s, uint32_t mask)
{
	if (mask == s->mask)
		return;
	struct epoll_event ev = { .events = mask, .data.u64 = SUP_EV(SUP_EV_STREAM, s - streams) };
	if (epoll_ctl(S.epfd, EPOLL_CTL_MOD, s->fd, &ev) == 0)
		s->mask = mask;
}

static void stream_close(struct stream *s)
{
	epoll_ctl(S.epfd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
}

/* Whole lines into s->buf, from s->next on: "lost" first if the ring
 * overwrote some it was not sent. */
static void stream_fill(struct stream *s)
{
	if (s->next < oldest()) {
		uint64_t lost = oldest() - s->next;
		json_t *o = stamp(json_pack("{s:s,s:I}", "kind", "lost", "count", (json_int_t)lost));
		char text[96];
		snprintf(text, sizeof(text), "%llu events lost: this client read too slowly",
			 (unsigned long long)lost);
		json_object_set_new(o, "text", json_string(text));
		size_t n;
		char *l = line_of(o, &n);
		json_decref(o);
		if (l && s->len + n <= sizeof(s->buf)) {
			memcpy(s->buf + s->len, l, n);
			s->len += n;
		}
		free(l);
		s->next = oldest();
	}
	while (s->next < next_seq) {
		const struct event *e = &ring[s->next % SUP_EVENTS_MAX];
		if (s->len + e->len > sizeof(s->buf))
			break;
		memcpy(s->buf + s->len, e->line, e->len);
		s->len += e->len;
		s->next++;
	}
}

/* Send what it can without blocking; -1: the client is gone. */
static int stream_flush(struct stream *s)
{
	for (;;) {
		if (s->off == s->len) {
			s->off = s->len = 0;
			stream_fill(s);
			if (!s->len) {   /* caught up */
				stream_watch(s, s->reading ? EPOLLIN : 0);
				return 0;
			}
		}
		ssize_t w = send(s->fd, s->buf + s->off, s->len - s->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			stream_watch(s, (s->reading ? EPOLLIN : 0) | EPOLLOUT);
			return 0;
		}
		if (w <= 0)
			return -1;
		s->off += (size_t)w;
	}
}

int sup_events_stream(int fd)
{
	if (ended)
		return -ESHUTDOWN;
	struct stream *s = NULL;
	for (unsigned i = 0; i < SUP_STREAMS_MAX && !s; i++)
		if (streams[i].fd < 0)
			s = &streams[i];
	if (!s)
		return -EBUSY;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = SUP_EV(SUP_EV_STREAM, s - streams) };
	if (epoll_ctl(S.epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	/* the ring is a stream's buffer; the kernel's need only be a window */
	int sndbuf = STREAM_SNDBUF;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	*s = (struct stream){ .fd = fd, .next = oldest(), .reading = true, .mask = EPOLLIN };
	if (stream_flush(s) < 0)
		stream_close(s);   /* it is ours now, gone or not */
	return 0;
}

void sup_events_io(unsigned i, uint32_t events)
{
	if (i >= SUP_STREAMS_MAX || streams[i].fd < 0)
		return;
	struct stream *s = &streams[i];
	if (events & (EPOLLERR | EPOLLHUP)) {
		stream_close(s);
		return;
	}
	if (events & EPOLLIN) {
		/* a stream's client has nothing more to say: what it sends is
		 * dropped; its EOF means it will not write, not that it went */
		char junk[512];
		ssize_t r = recv(s->fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (r == 0)
			s->reading = false;
		else if (r < 0 && errno != EAGAIN && errno != EINTR) {
			stream_close(s);
			return;
		}
	}
	if (stream_flush(s) < 0)
		stream_close(s);
}

unsigned sup_events_streams(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < SUP_STREAMS_MAX; i++)
		n += streams[i].fd >= 0;
	return n;
}

/* ---- the ring ------------------------------------------------------------ */

void sup_event(const char *kind, int node, int link, json_t *extra, const char *fmt, ...)
{
	char text[SUP_EVENT_TEXT_MAX], clean[SUP_EVENT_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	sup_printable(clean, sizeof(clean), text);
	const struct lab *lab = S.lab;
	json_t *o = json_pack("{s:I}", "seq", (json_int_t)next_seq);
	if (!o) {
		json_decref(extra);
		return;
	}
	stamp(o);
	json_object_set_new(o, "mono_ns", json_integer((json_int_t)(sys_now_ns() & INT64_MAX)));
	json_object_set_new(o, "kind", json_string(kind));
	json_object_set_new(o, "node", node >= 0 && (unsigned)node < lab->n_nodes
			    ? json_string(lab->nodes[node].name) : json_null());
	json_t *l = json_null();
	if (link >= 0 && (unsigned)link < lab->n_links) {
		const struct lab_link *ln = &lab->links[link];
		l = json_pack("{s:i,s:s,s:s}", "index", link, "a", lab->nodes[ln->end[0].node].name,
			      "b", lab->nodes[ln->end[1].node].name);
	}
	json_object_set_new(o, "link", l);
	json_object_set_new(o, "text", json_string(clean));
	if (json_is_object(extra))
		json_object_update(o, extra);
	json_decref(extra);
	size_t len;
	char *line = line_of(o, &len);
	if (!line) {   /* too long (it cannot be, all its parts are bounded) */
		json_decref(o);
		return;
	}
	struct event *e = &ring[next_seq % SUP_EVENTS_MAX];
	json_decref(e->obj);
	free(e->line);
	*e = (struct event){ .seq = next_seq, .obj = o, .line = line, .len = len };
	next_seq++;
	for (unsigned i = 0; i < SUP_STREAMS_MAX; i++) {
		struct stream *s = &streams[i];
		/* one waiting for its socket gets it with the rest */
		if (s->fd >= 0 && !(s->mask & EPOLLOUT) && stream_flush(s) < 0)
			stream_close(s);
	}
}

json_t *sup_events_json(unsigned last)
{
	json_t *a = json_array();
	uint64_t from = next_seq - oldest() > last ? next_seq - last : oldest();
	for (uint64_t q = from; a && q < next_seq; q++)
		json_array_append(a, ring[q % SUP_EVENTS_MAX].obj);
	return a;
}

void sup_events_stopping(const char *why)
{
	sup_event("lab_stopping", -1, -1, json_pack("{s:s}", "reason", why),
		  "taking the lab down: %s", why);
}

void sup_events_end(void)
{
	if (ended)
		return;
	sup_event("lab_down", -1, -1, NULL, "lab %s is down", S.lab->name);
	ended = true;
	/* what is left for slow readers, for a moment; then the end */
	uint64_t deadline = sys_now_ns() + END_FLUSH_MS * 1000000ull;
	for (;;) {
		struct pollfd p[SUP_STREAMS_MAX];
		unsigned n = 0;
		for (unsigned i = 0; i < SUP_STREAMS_MAX; i++) {
			struct stream *s = &streams[i];
			if (s->fd < 0)
				continue;
			if (stream_flush(s) < 0 || (s->off == s->len && s->next == next_seq)) {
				stream_close(s);
				continue;
			}
			p[n++] = (struct pollfd){ .fd = s->fd, .events = POLLOUT };
		}
		uint64_t now = sys_now_ns();
		if (!n || now >= deadline)
			break;
		if (poll(p, n, (int)((deadline - now) / 1000000) + 1) <= 0)
			break;
	}
	for (unsigned i = 0; i < SUP_STREAMS_MAX; i++)
		if (streams[i].fd >= 0)
			stream_close(&streams[i]);
}

/* ---- notes from clients --------------------------------------------------- */


/* "scenario NAME one-vm|across started" or "... ended passed|failed|interrupted" */
char *sup_events_note(const char *args)
{
	static const char *const modes[] = { "one-vm", "across" };
	static const char *const results[] = { "passed", "failed", "interrupted" };
	for (const char *p = args; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			return sup_text("error: a note is printable ASCII only\n");
	char copy[CTL_REQUEST_MAX + 1], *w[7], *save = NULL;
	unsigned n = 0;
	snprintf(copy, sizeof(copy), "%s", args);
	for (char *t = strtok_r(copy, " ", &save); t && n < 7; t = strtok_r(NULL, " ", &save))
		w[n++] = t;
	if (n < 1 || strcmp(w[0], "scenario"))
		return sup_text("error: unknown note (note scenario NAME one-vm|across "
				"started|ended [passed|failed|interrupted])\n");
	bool start = n == 4 && !strcmp(w[3], "started"), end = n == 5 && !strcmp(w[3], "ended");
	if (!start && !end)
		return sup_text("error: a scenario note is: scenario NAME one-vm|across started, "
				"or scenario NAME one-vm|across ended passed|failed|interrupted\n");
	int sc = lab_name_valid(w[1]) ? lab_scenario_find(S.lab, w[1]) : -1;
	if (sc < 0)
		return sup_text("error: lab %s has no scenario \"%.*s\"\n", S.lab->name, LAB_NAME_MAX, w[1]);
	int mode = !strcmp(w[2], modes[0]) ? 0 : !strcmp(w[2], modes[1]) ? 1 : -1;
	if (mode < 0)
		return sup_text("error: a scenario runs one-vm or across, not \"%.16s\"\n", w[2]);
	int res = -1;
	for (int i = 0; end && i < 3; i++)
		if (!strcmp(w[4], results[i]))
			res = i;
	if (end && res < 0)
		return sup_text("error: a scenario ends passed, failed or interrupted, not \"%.16s\"\n", w[4]);
	if (!scenario_t0 && !(scenario_t0 = calloc(S.lab->n_scenarios, sizeof(*scenario_t0))))
		return NULL;
	const char *name = S.lab->scenarios[sc].name, *how = mode ? "across guests" : "one vm";
	uint64_t now = sys_now_ns();
	json_t *x = json_pack("{s:s,s:s,s:s}", "scenario", name, "mode", modes[mode],
			      "phase", start ? "started" : "ended");
	if (start) {
		scenario_t0[sc][mode] = now;
		json_object_set_new(x, "result", json_null());
		json_object_set_new(x, "duration_ms", json_null());
		sup_event("scenario", -1, -1, x, "scenario %s (%s) started", name, how);
	} else {
		uint64_t t0 = scenario_t0[sc][mode];
		scenario_t0[sc][mode] = 0;
		json_object_set_new(x, "result", json_string(results[res]));
		json_object_set_new(x, "duration_ms", t0 ? json_real((double)(now - t0) / 1e6) : json_null());
		if (t0)
			sup_event("scenario", -1, -1, x, "scenario %s (%s) %s %s %.1f s", name, how,
				  results[res], res ? "after" : "in", (double)(now - t0) / 1e9);
		else
			sup_event("scenario", -1, -1, x, "scenario %s (%s) %s", name, how, results[res]);
	}
	return sup_text("ok\n");
}
