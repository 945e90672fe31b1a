/* SPDX-License-Identifier: MIT */
/*
 * vqnet capture LAB [WHAT...] [-w FILE|-] [-c COUNT] [-s SNAPLEN] [FILTER...]
 *
 * Compiles FILTER with libpcap, asks the lab's supervisor for a capture
 * session (sup_capture.c), and turns the records the vmms put in their
 * capture regions (lib/capture) into pcapng: one interface per captured
 * point, nanosecond timestamps, a direction on every frame, and on a
 * filter node's links the frames it dropped, each with a comment naming
 * the rule.  Blocks are written whole, so a capture killed at any moment
 * leaves a file that ends at a block's end.  The session ends when this
 * process does (its connection closes), however it ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "cli.h"
#include "ctl.h"
#include "report.h"
#include "rundir.h"
#include "sys.h"

#define OUT_FLUSH (256u << 10)
#define MAX_FDS CAP_NODES_MAX

struct ring {
	char node[LAB_NAME_MAX + 1];
	struct cap_region *r;
	size_t len;
	uint64_t tail, lost_seen;
};

struct pt {
	char node[LAB_NAME_MAX + 1];
	char name[80];
	uint64_t frames, lost;
	unsigned ring;
};

struct cap {
	json_t *status;
	struct ring rings[MAX_FDS];
	unsigned n_rings;
	struct pt *pts;
	unsigned n_pts;
	uint32_t gen;
	int out;
	uint8_t *buf;
	size_t len;
	bool broken;       /* the output went away */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig; stop = 1; }

/* ---- output ---------------------------------------------------------------------- */

static void flush(struct cap *c)
{
	for (size_t off = 0; off < c->len && !c->broken;) {
		ssize_t w = write(c->out, c->buf + off, c->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (errno != EPIPE)
				err_msg("capture: write: %s", strerror(errno));
			c->broken = true;
		} else {
			off += (size_t)w;
		}
	}
	c->len = 0;
}

/* room for one block of at most n bytes */
static uint8_t *room(struct cap *c, size_t n)
{
	if (c->len + n > OUT_FLUSH + CAP_SNAP_MAX + 4096)
		flush(c);
	return c->buf + c->len;
}

/* ---- what the lab has: names for WHAT, rule texts for comments --------------------- */

static bool is_point(json_t *status, const char *w)
{
	size_t i, j;
	json_t *n, *f;
	json_array_foreach(json_object_get(status, "nodes"), i, n) {
		const char *name = json_string_value(json_object_get(n, "name"));
		if (!name)
			continue;
		if (!strcmp(w, name))
			return true;
		size_t l = strlen(name);
		json_array_foreach(json_object_get(n, "ifaces"), j, f) {
			const char *ifn = json_string_value(json_object_get(f, "name"));
			if (ifn && !strncmp(w, name, l) && w[l] == '.' && !strcmp(w + l + 1, ifn))
				return true;
		}
	}
	json_array_foreach(json_object_get(status, "links"), i, n) {
		const char *a = json_string_value(json_object_get(json_object_get(n, "a"), "node"));
		const char *b = json_string_value(json_object_get(json_object_get(n, "b"), "node"));
		char ab[80], ba[80];
		snprintf(ab, sizeof(ab), "%s-%s", a ? a : "", b ? b : "");
		snprintf(ba, sizeof(ba), "%s-%s", b ? b : "", a ? a : "");
		if (a && b && (!strcmp(w, ab) || !strcmp(w, ba)))
			return true;
	}
	return false;
}

/* "dropped by fw, rule 2 (line 14): drop tcp dport 22" */
static void drop_comment(const struct cap *c, const char *node, int32_t rule, char *buf, size_t len)
{
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(c->status, "nodes"), i, n) {
		if (strcmp(js(n, "name", ""), node))
			continue;
		json_t *f = json_object_get(n, "filter");
		json_t *r = rule >= 0 ? json_array_get(json_object_get(f, "rules"), (size_t)rule) : NULL;
		if (r) {
			snprintf(buf, len, "dropped by %s, rule %d (line %lld): %s", node, rule + 1,
				 (long long)json_integer_value(json_object_get(r, "line")),
				 js(r, "rule", ""));
			return;
		}
	}
	snprintf(buf, len, "dropped by %s: %s", node,
		 rule == CAP_BY_MALFORMED ? "malformed (not a frame the filter can parse)"
		 : rule == CAP_BY_POLICY ? "its default policy" : "a rule");
}

/* ---- the session ---------------------------------------------------------------------- */

/* The reply: its text (complete lines, as many as the header says) and
 * the descriptors that came with it. */
static char *read_reply(int s, int *fds, unsigned *nfds)
{
	size_t cap = 1 << 16, len = 0;
	char *text = malloc(cap);
	*nfds = 0;
	uint64_t deadline = sys_now_ns() + 10000000000ull;
	while (text) {
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(MAX_FDS * sizeof(int))];
		} cb;
		if (len + 1 >= cap) {
			char *t = cap < (8u << 20) ? realloc(text, cap *= 2) : NULL;
			if (!t)
				break;
			text = t;
		}
		struct pollfd p = { .fd = s, .events = POLLIN };
		uint64_t now = sys_now_ns();
		if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
			break;
		struct iovec iov = { text + len, cap - len - 1 };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
				    .msg_controllen = sizeof(cb.b) };
		ssize_t r = recvmsg(s, &m, MSG_CMSG_CLOEXEC);
		if (r <= 0)
			break;
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
			if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
				continue;
			unsigned n = (unsigned)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (unsigned k = 0; k < n; k++) {
				int fd;
				memcpy(&fd, CMSG_DATA(h) + k * sizeof(int), sizeof(int));
				if (*nfds < MAX_FDS)
					fds[(*nfds)++] = fd;
				else
					close(fd);
			}
		}
		len += (size_t)r;
		text[len] = 0;
		/* whole when it is an error, or holds 1 + nodes + points lines */
		unsigned g, nn, np, lines = 0;
		for (size_t k = 0; k < len; k++)
			lines += text[k] == '\n';
		if (!strncmp(text, "error: ", 7) && lines)
			return text;
		if (sscanf(text, "ok %u %u %u", &g, &nn, &np) == 3 && lines >= 1 + nn + np)
			return text;
	}
	free(text);
	return NULL;
}

/* Take the reply apart: rings (mapped), points. */
static int take_reply(struct cap *c, char *text, const int *fds, unsigned nfds)
{
	unsigned nn, np;
	char *save = NULL, *line = strtok_r(text, "\n", &save);
	if (!line || sscanf(line, "ok %u %u %u", &c->gen, &nn, &np) != 3 || nn != nfds ||
	    nn > MAX_FDS || np == 0 || np >= CAP_PAD)
		return -EPROTO;
	c->pts = calloc(np, sizeof(*c->pts));
	if (!c->pts)
		return -ENOMEM;
	for (unsigned i = 0; i < nn; i++) {
		line = strtok_r(NULL, "\n", &save);
		if (!line || strncmp(line, "node ", 5))
			return -EPROTO;
		struct ring *r = &c->rings[c->n_rings++];
		int err;
		snprintf(r->node, sizeof(r->node), "%s", line + 5);
		r->r = sys_map_sealed(fds[i], &r->len, &err);
		if (!r->r || r->len < sizeof(*r->r))
			return -EPROTO;
		/* the vmm starts our session where the last reader stopped (its
		 * tail, which only readers write); what lies before is theirs */
		r->tail = __atomic_load_n(&r->r->tail, __ATOMIC_ACQUIRE);
	}
	for (unsigned i = 0; i < np; i++) {
		line = strtok_r(NULL, "\n", &save);
		unsigned id;
		char node[LAB_NAME_MAX + 1], name[80];
		int desc = 0;
		if (!line || sscanf(line, "point %u %32s %79s %n", &id, node, name, &desc) != 3 ||
		    id != i || !desc)
			return -EPROTO;
		struct pt *p = &c->pts[c->n_pts++];
		snprintf(p->node, sizeof(p->node), "%s", node);
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->ring = UINT32_MAX;
		for (unsigned k = 0; k < c->n_rings; k++)
			if (!strcmp(c->rings[k].node, node))
				p->ring = k;
		size_t n = pcapng_idb(room(c, 1024), 1024, CAP_SNAP_MAX, name, line + desc);
		c->len += n;
	}
	return 0;
}

/* Take what the rings hold; the number of frames written. */
static unsigned drain(struct cap *c, uint64_t *left, int *rc)
{
	unsigned got = 0;
	for (unsigned k = 0; k < c->n_rings && *left && !c->broken; k++) {
		struct ring *r = &c->rings[k];
		if (__atomic_load_n(&r->r->gen_seen, __ATOMIC_ACQUIRE) != c->gen)
			continue;   /* its vmm has not taken the session yet */
		struct cap_view v;
		int n = 0;
		while (*left && (n = cap_next(r->r, &r->tail, &v)) == 1) {
			char comment[300] = "";
			if (v.id >= c->n_pts) {
				n = -EPROTO;
				break;
			}
			struct pt *p = &c->pts[v.id];
			if (v.flags & CAP_DROPPED)
				drop_comment(c, p->node, v.rule, comment, sizeof(comment));
			size_t need = v.caplen + sizeof(comment) + 128;
			size_t w = pcapng_epb(room(c, need), need, v.id, v.ts_ns, v.data, v.caplen,
					      v.origlen, v.flags, comment, v.lost_before);
			c->len += w;
			__atomic_store_n(&r->r->tail, r->tail, __ATOMIC_RELEASE);
			p->frames++;
			p->lost += v.lost_before;
			r->lost_seen += v.lost_before;
			got++;
			if (*left != UINT64_MAX)
				(*left)--;
		}
		if (n < 0) {
			err_msg("capture: the vmm of %s wrote a record that is not one: its capture ends",
				r->node);
			*rc = EXIT_FAIL;
			c->rings[k] = c->rings[--c->n_rings];
			k--;
		}
	}
	return got;
}

/* "capture: WHY" + arg, exit status 2 */
static int usage_error(const char *why, const char *arg)
{
	err_msg("capture: %s%s", why, arg);
	return EXIT_USAGE;
}

int cmd_capture(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		cmd_help("capture", true);
		return 0;
	}
	const char *lab = NULL, *file = NULL;
	uint64_t count = UINT64_MAX;
	unsigned long snap = CAP_SNAP_MAX;
	char *words[256];
	unsigned nw = 0;
	bool dashdash = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!dashdash && (!strcmp(a, "-w") || !strcmp(a, "-c") || !strcmp(a, "-s"))) {
			if (i + 1 >= argc)
				return usage_error("a value is missing after ", a);
			const char *v = argv[++i];
			char *end;
			if (a[1] == 'w') {
				file = v;
				continue;
			}
			errno = 0;
			unsigned long long n = strtoull(v, &end, 10);
			if (errno || *end || end == v || v[0] == '-' || n == 0 ||
			    (a[1] == 's' && n > CAP_SNAP_MAX))
				return usage_error(a[1] == 'c' ? "bad count (a number of frames, 1 or more): "
						   : "bad snap length (1-262144 bytes): ", v);
			if (a[1] == 'c')
				count = n;
			else
				snap = (unsigned long)n;
		} else if (!dashdash && !strcmp(a, "--")) {
			dashdash = true;
			words[nw++] = (char *)a;
		} else if (!lab) {
			lab = a;
		} else if (nw < sizeof(words) / sizeof(words[0]) - 1) {
			words[nw++] = argv[i];
		} else {
			return usage_error("too many arguments", "");
		}
	}
	if (!lab)
		return cmd_usage("capture");
	if (!lab_name_ok(lab))
		return usage_error("bad lab name ", lab);
	if (!file && isatty(STDOUT_FILENO))
		return usage_error("the output is pcapng and stdout is a terminal: give -w FILE "
				   "(or pipe it: -w - | tshark -r -)", "");

	struct cap c = { .out = -1 };
	char *st = NULL;
	int err = ctl_request(lab, "status", &st, NULL, 10000);
	if (err) {
		err_msg("capture: lab %s is not up%s", lab, err == -ENOENT ? "" : " (its supervisor does not answer)");
		return EXIT_NOT_UP;
	}
	c.status = json_loads(st, 0, NULL);
	free(st);
	/* WHATs first, up to the first word that names nothing of the lab */
	unsigned nwhat = 0;
	while (nwhat < nw && strcmp(words[nwhat], "--") && is_point(c.status, words[nwhat]))
		nwhat++;
	char filter[4096] = "";
	for (unsigned i = nwhat; i < nw; i++) {
		if (i == nwhat && !strcmp(words[i], "--"))
			continue;
		size_t l = strlen(filter);
		snprintf(filter + l, sizeof(filter) - l, "%s%s", l ? " " : "", words[i]);
	}
	/* the filter, compiled here: its mistakes are the user's, said now */
	struct bpf_program bp = { 0 };
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, (int)snap);
	if (!dead || pcap_compile(dead, &bp, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		/* a WHAT with a typo reads as a filter: say so */
		bool word = nwhat < nw && strspn(words[nwhat], "abcdefghijklmnopqrstuvwxyz"
						 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") ==
					  strlen(words[nwhat]);
		err_msg("capture: bad filter \"%s\": %s%s%s%s", filter,
			dead ? pcap_geterr(dead) : "out of memory",
			word ? " (and no node, interface or link of the lab is called " : "",
			word ? words[nwhat] : "", word ? ")" : "");
		if (dead)
			pcap_close(dead);
		json_decref(c.status);
		return EXIT_USAGE;
	}
	pcap_close(dead);
	if (bp.bf_len > CAP_PROG_MAX) {
		err_msg("capture: filter \"%s\" is too long (%u instructions; at most %d)", filter,
			bp.bf_len, CAP_PROG_MAX);
		pcap_freecode(&bp);
		json_decref(c.status);
		return EXIT_USAGE;
	}
	char req[CTL_REQUEST_MAX + 1];
	size_t rl = (size_t)snprintf(req, sizeof(req), "capture %lu %u ", snap, bp.bf_len);
	for (unsigned i = 0; i < bp.bf_len && rl < sizeof(req); i++)
		rl += (size_t)snprintf(req + rl, sizeof(req) - rl, "%04x%02x%02x%08x",
				       bp.bf_insns[i].code, bp.bf_insns[i].jt, bp.bf_insns[i].jf,
				       bp.bf_insns[i].k);
	if (!bp.bf_len && rl < sizeof(req))
		rl += (size_t)snprintf(req + rl, sizeof(req) - rl, "-");
	pcap_freecode(&bp);
	for (unsigned i = 0; i < nwhat && rl < sizeof(req); i++)
		rl += (size_t)snprintf(req + rl, sizeof(req) - rl, " %s", words[i]);
	if (rl >= sizeof(req)) {
		json_decref(c.status);
		return usage_error("too much to capture at once (name fewer points)", "");
	}

	/* the output before the session: a file we cannot write starts nothing */
	if (!file || !strcmp(file, "-"))
		c.out = STDOUT_FILENO;
	else if ((c.out = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		err_msg("capture: %s: %s", file, strerror(errno));
		json_decref(c.status);
		return EXIT_FAIL;
	}
	c.buf = malloc(OUT_FLUSH + 2 * (CAP_SNAP_MAX + 4096));
	int s = c.buf ? ctl_open(lab, req) : -ENOMEM;
	int rc = 0;
	int fds[MAX_FDS];
	unsigned nfds = 0;
	char *reply = NULL;
	if (s < 0 || !(reply = read_reply(s, fds, &nfds))) {
		err_msg("capture: the supervisor of %s did not answer", lab);
		rc = EXIT_FAIL;
	} else if (!strncmp(reply, "error: ", 7)) {
		reply[strcspn(reply, "\n")] = 0;
		err_msg("capture: %s", reply + 7);
		rc = EXIT_USAGE;
	} else {
		c.len = pcapng_shb(c.buf, 1024, "vqnet capture");
		if (take_reply(&c, reply, fds, nfds)) {
			err_msg("capture: the supervisor's answer is not one we understand");
			rc = EXIT_FAIL;
		}
	}
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	free(reply);

	if (!rc) {
		/* until Ctrl-C, TERM, HUP, the count, a closed output or the lab's end */
		struct sigaction sa = { .sa_handler = on_signal };
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
		flush(&c);
		/* say we capture once every vmm follows the session (a test may
		 * wait for this line), or after 5 s name those that do not */
		uint64_t until = sys_now_ns() + 5000000000ull;
		for (;;) {
			unsigned behind = 0;
			for (unsigned k = 0; k < c.n_rings; k++)
				behind += __atomic_load_n(&c.rings[k].r->gen_seen, __ATOMIC_ACQUIRE) != c.gen;
			if (!behind || sys_now_ns() > until || stop)
				break;
			poll(NULL, 0, 1);
		}
		char names[1024] = "";
		for (unsigned i = 0; i < c.n_pts; i++) {
			size_t l = strlen(names);
			snprintf(names + l, sizeof(names) - l, "%s%s", i ? " " : "", c.pts[i].name);
		}
		fprintf(stderr, "%s: capture: %u interface%s (%s)%s%s%s\n", prog, c.n_pts,
			c.n_pts == 1 ? "" : "s", names, filter[0] ? ", filter \"" : "", filter,
			filter[0] ? "\"" : "");
		for (unsigned k = 0; k < c.n_rings; k++)
			if (__atomic_load_n(&c.rings[k].r->gen_seen, __ATOMIC_ACQUIRE) != c.gen)
				err_msg("capture: the vmm of %s has not started capturing (is it running?)",
					c.rings[k].node);
		uint64_t left = count;
		int idle_ms = 1;   /* the rings ring no bell: look again soon, less often when idle */
		while (!stop && left && !c.broken && c.n_rings) {
			if (drain(&c, &left, &rc)) {
				idle_ms = 1;
				if (c.len >= OUT_FLUSH)
					flush(&c);
				continue;
			}
			flush(&c);
			struct pollfd p = { .fd = s, .events = POLLIN };
			if (poll(&p, 1, idle_ms) > 0)
				break;   /* the supervisor said something: it is going down */
			if (idle_ms < 16)
				idle_ms *= 2;
		}
		drain(&c, &left, &rc);
		/* what each interface saw and lost, and a total on stderr */
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		uint64_t ts = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec, frames = 0, lost = 0;
		for (unsigned k = 0; k < c.n_rings; k++) {
			uint64_t all = __atomic_load_n(&c.rings[k].r->lost, __ATOMIC_RELAXED);
			for (unsigned i = 0; i < c.n_pts; i++)
				if (c.pts[i].ring == k) {   /* what no record owned: its first point's */
					c.pts[i].lost += all > c.rings[k].lost_seen ? all - c.rings[k].lost_seen : 0;
					break;
				}
		}
		for (unsigned i = 0; i < c.n_pts; i++) {
			c.len += pcapng_isb(room(&c, 128), 128, i, ts, c.pts[i].frames, c.pts[i].lost);
			frames += c.pts[i].frames;
			lost += c.pts[i].lost;
		}
		flush(&c);
		fprintf(stderr, "%s: capture: %llu frames, %llu lost (the reader was slow)\n", prog,
			(unsigned long long)frames, (unsigned long long)lost);
	}
	if (s >= 0)
		close(s);   /* ends the session */
	for (unsigned k = 0; k < c.n_rings; k++)
		munmap(c.rings[k].r, c.rings[k].len);
	if (c.out >= 0 && c.out != STDOUT_FILENO)
		close(c.out);
	free(c.pts);
	free(c.buf);
	json_decref(c.status);
	return rc;
}
