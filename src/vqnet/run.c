/* SPDX-License-Identifier: MIT */
/*
 * vqnet run FILE: bring the lab up, run every [scenario] first with all its
 * programs inside the first guest (over loopback), then across the guests as
 * the file says, stream each program's output line by line, summarise, and
 * take the lab down.  A scenario passes when every program exits 0 before
 * the scenario's timeout; on the first failure the run stops, says what
 * failed and why, and ends with "Exited with error".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "guest.h"
#include "labfile.h"
#include "sys.h"
#include "up.h"

#define TAIL 8          /* output lines kept per program for a failure report */
#define LINE_MAX_ 1024
#define STOP_GRACE_NS (2 * 1000000000ull)

enum metric { M_WALL, M_THROUGHPUT, M_ELAPSED, M_LATENCY };
static const char *const metric_name[] = {
	[M_WALL] = "wall time [ms]", [M_THROUGHPUT] = "throughput [Mb/s]",
	[M_ELAPSED] = "elapsed [ms]", [M_LATENCY] = "latency [us]",
};

struct prog {
	const struct lab_program *lp;
	const char *guest;
	char label[96];          /* "vm0 zmq_sink", "#2" if not unique */
	char **argv;             /* placeholders expanded */
	pid_t pid;
	int fd;                  /* its stdout+stderr, -1 once closed */
	bool exited;
	bool hung;               /* still running at the timeout */
	int status;
	char buf[LINE_MAX_];
	size_t len;
	char tail[TAIL][LINE_MAX_];
	unsigned ntail;
};

struct outcome {
	bool ran;
	enum metric metric;
	double value;            /* in the metric's unit */
};

struct run {
	struct labfile lf;
	const struct lab *lab;
	int sigfd;
	int signo;               /* the signal that interrupted us, or 0 */
	struct guest_handle *handle;   /* per node: the guest's way in (guest.h) */
	unsigned n_guests;
	struct outcome (*res)[2];   /* [scenario][0 one vm, 1 across] */
};

/* ---- programs ---------------------------------------------------------------- */

static void free_argv(char **argv)
{
	for (char **a = argv; a && *a; a++)
		free(*a);
	free(argv);
}

/* argv with {GUEST} resolved and, for a namespace guest, the program found
 * next to vqnet if it is one of ours (the samples), else left to PATH
 * inside the guest (a VM's image carries the samples on its own PATH). */
static char **expand(const struct lab *lab, const struct lab_program *lp, bool loopback,
		     bool vm)
{
	char **argv = calloc(lp->argc + 1, sizeof(char *));
	if (!argv)
		return NULL;
	for (unsigned i = 0; i < lp->argc; i++) {
		char buf[PATH_MAX];
		if (lab_expand_arg(lab, lp->argv[i], loopback, buf, sizeof(buf)) < 0 ||
		    !(argv[i] = strdup(buf))) {
			free_argv(argv);
			return NULL;
		}
	}
	if (!vm && !strchr(argv[0], '/')) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", self_dir(), argv[0]);
		char *p;
		if (access(path, X_OK) == 0 && (p = strdup(path))) {
			free(argv[0]);
			argv[0] = p;
		}
	}
	return argv;
}

static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* One line of a program's output: print it prefixed, remember it, and pick
 * up the figures the summary reports. */
static void take_line(struct prog *p, const char *line, struct outcome *o)
{
	printf("[%s] %s\n", p->label, line);
	snprintf(p->tail[p->ntail++ % TAIL], LINE_MAX_, "%s", line);
	double v;
	if (sscanf(line, "average latency: %lf [us]", &v) == 1 && o->metric <= M_LATENCY)
		o->metric = M_LATENCY, o->value = v;
	else if (sscanf(line, "Total elapsed time: %lf msec", &v) == 1 && o->metric <= M_ELAPSED)
		o->metric = M_ELAPSED, o->value = v;
	else if (sscanf(line, "mean throughput: %lf [Mb/s]", &v) == 1 && o->metric <= M_THROUGHPUT)
		o->metric = M_THROUGHPUT, o->value = v;
}

static void drain(struct prog *p, struct outcome *o)
{
	for (;;) {
		ssize_t r = read(p->fd, p->buf + p->len, sizeof(p->buf) - 1 - p->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0 || errno != EAGAIN) {
				if (p->len) {   /* a last line without newline */
					p->buf[p->len] = 0;
					take_line(p, p->buf, o);
					p->len = 0;
				}
				close(p->fd);
				p->fd = -1;
			}
			break;
		}
		p->len += (size_t)r;
		char *start = p->buf, *nl;
		while ((nl = memchr(start, '\n', p->len - (size_t)(start - p->buf)))) {
			*nl = 0;
			take_line(p, start, o);
			start = nl + 1;
		}
		p->len -= (size_t)(start - p->buf);
		memmove(p->buf, start, p->len);
		if (p->len == sizeof(p->buf) - 1) {   /* an overlong line: cut it */
			p->buf[p->len] = 0;
			take_line(p, p->buf, o);
			p->len = 0;
		}
	}
	fflush(stdout);
}

/* Stop every program and whatever it started: each is a process group of
 * its own, which may outlive its leader (a background child). */
static void stop_all(struct prog *ps, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (ps[i].pid > 0)
			kill(-ps[i].pid, SIGTERM);
	uint64_t deadline = sys_now_ns() + STOP_GRACE_NS;
	for (unsigned i = 0; i < n; i++) {
		while (ps[i].pid > 0 && !ps[i].exited) {
			pid_t r = waitpid(ps[i].pid, &ps[i].status, WNOHANG);
			if (r == ps[i].pid || (r < 0 && errno == ECHILD)) {
				ps[i].exited = true;
			} else if (sys_now_ns() > deadline) {
				kill(-ps[i].pid, SIGKILL);
				waitpid(ps[i].pid, &ps[i].status, 0);
				ps[i].exited = true;
			} else {
				usleep(10000);
			}
		}
	}
	for (unsigned i = 0; i < n; i++)   /* members that ignored TERM */
		if (ps[i].pid > 0)
			kill(-ps[i].pid, SIGKILL);
}

static pid_t spawn(const struct run *r, struct prog *p)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = guest_spawn(&r->handle[lab_node_find(r->lab, p->guest)], p->argv, -1, pfd[1], pfd[1], true);
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return pid;
	}
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	p->fd = pfd[0];
	p->pid = pid;
	return pid;
}

/* ---- diagnosis ----------------------------------------------------------------- */

/* Which guest has this IPv4 address (host order)?  -1 if none. */
static int owner_of(const struct lab *lab, uint32_t ip)
{
	for (unsigned i = 0; i < lab->n_nodes; i++)
		for (unsigned j = 0; j < lab->nodes[i].n_ifaces; j++)
			if (lab->nodes[i].ifaces[j].has_ip4 && lab->nodes[i].ifaces[j].ip4 == ip)
				return (int)i;
	return -1;
}

/* Do guests a and b share a topology where they are linked (directly or
 * through a filter)? */
static bool linked(const struct lab *lab, unsigned a, unsigned b)
{
	for (unsigned i = 0; i < lab->n_links; i++) {
		const struct lab_link *l = &lab->links[i];
		unsigned x = l->end[0].node, y = l->end[1].node;
		if ((x == a && y == b) || (x == b && y == a))
			return true;
		/* one hop through a filter node */
		unsigned mid = x == a ? y : y == a ? x : UINT_MAX;
		if (mid == UINT_MAX || lab->nodes[mid].kind == LAB_GUEST)
			continue;
		for (unsigned k = 0; k < lab->n_links; k++) {
			const struct lab_link *m = &lab->links[k];
			if (m->topology == l->topology &&
			    ((m->end[0].node == mid && m->end[1].node == b) ||
			     (m->end[1].node == mid && m->end[0].node == b)))
				return true;
		}
	}
	return false;
}

static bool pings(const struct run *r, int guest, const char *addr)
{
	char *argv[] = { "ping", "-c", "1", "-W", "1", (char *)addr, NULL };
	pid_t pid = guest >= 0 ? guest_spawn(&r->handle[guest], argv, -1, -1, -1, true) : -1;
	int st;
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Say plainly when a program waits on an address that no guest has, or
 * that its guest cannot reach: the seed's "could indicate an incorrect
 * network address", made specific. */
static void diagnose(const struct run *r, const struct prog *p, bool across)
{
	const struct lab *lab = r->lab;
	int me = lab_node_find(lab, p->guest);
	for (char **a = p->argv + 1; *a; a++) {
		/* every dotted quad in the argument */
		for (const char *s = *a; *s; s++) {
			if (!(*s >= '0' && *s <= '9') || (s > *a && (s[-1] == '.' || (s[-1] >= '0' && s[-1] <= '9'))))
				continue;
			char ip[16];
			size_t n = strspn(s, "0123456789.");
			if (n >= sizeof(ip))
				continue;
			memcpy(ip, s, n);
			ip[n] = 0;
			struct in_addr in;
			if (inet_pton(AF_INET, ip, &in) != 1)
				continue;
			uint32_t h = ntohl(in.s_addr);
			if ((h >> 24) == 127 || h == 0)
				continue;
			int owner = owner_of(lab, h);
			if (owner < 0) {
				printf("  diagnosis: %s names %s, which no guest of lab %s has: an incorrect network address?\n",
				       *a, ip, lab->name);
			} else if (across && me >= 0 && owner != me && !linked(lab, (unsigned)me, (unsigned)owner)) {
				printf("  diagnosis: %s is %s's address, but %s has no link to %s (they share no topology)\n",
				       ip, lab->nodes[owner].name, p->guest, lab->nodes[owner].name);
			} else if (across && owner != me && !pings(r, me, ip)) {
				printf("  diagnosis: %s (%s) does not answer ping from %s: unreachable (a filter?)\n",
				       ip, lab->nodes[owner].name, p->guest);
			} else {
				printf("  diagnosis: %s (%s) is reachable from %s; is its program listening there?\n",
				       ip, lab->nodes[owner].name, p->guest);
			}
		}
	}
}

static void report_failure(const struct run *r, const struct lab_scenario *sc, bool across,
			   const struct prog *ps, unsigned n, const struct prog *culprit, bool timed_out)
{
	printf("\nScenario %s (%s) failed:\n", sc->name, across ? "across guests" : "one vm");
	for (unsigned i = 0; i < n; i++) {
		const struct prog *p = &ps[i];
		if (!(timed_out ? p->hung : p == culprit))
			continue;
		char why[128];
		if (p->hung)
			snprintf(why, sizeof(why), "still running after the %u s timeout", sc->timeout_s);
		else if (p->pid <= 0)
			snprintf(why, sizeof(why), "could not be started");
		else if (WIFSIGNALED(p->status))
			snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(p->status));
		else if (WEXITSTATUS(p->status) == 127)
			snprintf(why, sizeof(why), "exit status 127 (program not found?)");
		else
			snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(p->status));
		printf("  %s (line %u): %s\n", p->label, p->lp->line, why);
		unsigned first = p->ntail > TAIL ? p->ntail - TAIL : 0;
		if (p->ntail)
			printf("  its last output:\n");
		for (unsigned k = first; k < p->ntail; k++)
			printf("    | %s\n", p->tail[k % TAIL]);
		diagnose(r, p, across);
	}
}

/* Ask the supervisor for a fault: its reply (malloc'd) or NULL. */
static char *fault(const struct run *r, char *const *argv, unsigned argc)
{
	char req[CTL_REQUEST_MAX], *reply = NULL;
	size_t n = (size_t)snprintf(req, sizeof(req), "fault");
	for (unsigned i = 0; i < argc && n < sizeof(req); i++)
		n += (size_t)snprintf(req + n, sizeof(req) - n, " %s", argv[i]);
	if (n >= sizeof(req) || ctl_request(r->lab->name, req, &reply, NULL, 10000))
		return NULL;
	return reply;
}

static void fire(const struct run *r, const struct lab_scenario *sc, const struct lab_event *ev,
		 uint64_t t0)
{
	printf("[+%.3fs] %s:", (double)(sys_now_ns() - t0) / 1e9, sc->name);
	for (unsigned i = 0; i < ev->argc; i++)
		printf(" %s", ev->argv[i]);
	char *reply = fault(r, ev->argv, ev->argc);
	printf("%s", reply ? "\n" : ": the supervisor did not answer\n");
	for (char *l = reply, *nl; l && *l; l = nl ? nl + 1 : l + strlen(l)) {
		nl = strchr(l, '\n');
		printf("    %.*s\n", nl ? (int)(nl - l) : (int)strlen(l), l);
	}
	free(reply);
	fflush(stdout);
}

/* Tell the supervisor a scenario started or ended, for the lab's events
 * (`vqnet events`); one that does not answer does not hold the run up. */
static void note(const struct run *r, const struct lab_scenario *sc, bool across, const char *what)
{
	char req[CTL_REQUEST_MAX], *reply = NULL;
	snprintf(req, sizeof(req), "note scenario %s %s %s", sc->name, across ? "across" : "one-vm", what);
	if (ctl_request(r->lab->name, req, &reply, NULL, 2000) == 0)
		free(reply);
}

static void undo_timeline(const struct run *r)
{
	char *argv[] = { "reset" };
	free(fault(r, argv, 1));
}

/* Run one scenario; 0 when every program exited 0 in time. */
static int run_scenario(struct run *r, unsigned si, bool across)
{
	const struct lab *lab = r->lab;
	const struct lab_scenario *sc = &lab->scenarios[si];
	struct outcome *o = &r->res[si][across];
	struct prog *ps = calloc(sc->n_programs, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	for (unsigned i = 0; i < sc->n_programs; i++)
		ps[i].fd = -1;   /* none open yet, whichever fails to start */
	const char *first = lab->nodes[lab_first_guest(lab)].name;
	int rc = 0;
	const struct prog *culprit = NULL;
	bool timed_out = false;

	printf("--- %s (%s)\n", sc->name, across ? "across guests" : "one vm");
	fflush(stdout);
	note(r, sc, across, "started");
	uint64_t t0 = sys_now_ns(), deadline = t0 + sc->timeout_s * 1000000000ull;
	for (unsigned i = 0; i < sc->n_programs && !rc; i++) {
		struct prog *p = &ps[i];
		p->lp = &sc->programs[i];
		p->guest = across ? lab->nodes[p->lp->node].name : first;
		/* a label says which program a line comes from, even when one
		 * guest runs the same program twice ("#2") */
		unsigned total = 0, nth = 0;
		for (unsigned k = 0; k < sc->n_programs; k++) {
			const struct lab_program *q = &sc->programs[k];
			const char *g = across ? lab->nodes[q->node].name : first;
			if (!strcmp(g, p->guest) && !strcmp(base(q->argv[0]), base(p->lp->argv[0]))) {
				total++;
				nth += k <= i;
			}
		}
		if (total > 1)
			snprintf(p->label, sizeof(p->label), "%s %s#%u", p->guest, base(p->lp->argv[0]), nth);
		else
			snprintf(p->label, sizeof(p->label), "%s %s", p->guest, base(p->lp->argv[0]));
		p->argv = expand(lab, p->lp, !across,
				 lab->nodes[lab_node_find(lab, p->guest)].guest_kind == LAB_KIND_QEMU);
		if (!p->argv || spawn(r, p) < 0) {
			culprit = p;
			rc = -1;
		}
	}

	unsigned running = sc->n_programs, next_event = 0;
	while (!rc && running) {
		/* the timeline: each fault when its time comes, said as it fires */
		while (next_event < sc->n_events &&
		       sys_now_ns() >= t0 + sc->events[next_event].at_ns)
			fire(r, sc, &sc->events[next_event++], t0);
		struct pollfd pfd[LAB_MAX_PROGRAMS + 1];
		unsigned idx[LAB_MAX_PROGRAMS], np = 0;
		for (unsigned i = 0; i < sc->n_programs; i++)
			if (ps[i].fd >= 0) {
				pfd[np] = (struct pollfd){ .fd = ps[i].fd, .events = POLLIN };
				idx[np++] = i;
			}
		pfd[np] = (struct pollfd){ .fd = r->sigfd, .events = POLLIN };
		uint64_t now = sys_now_ns();
		uint64_t until = deadline;
		if (next_event < sc->n_events && t0 + sc->events[next_event].at_ns < until)
			until = t0 + sc->events[next_event].at_ns;
		int wait_ms = now >= until ? 0 : (int)((until - now + 999999) / 1000000);
		if (wait_ms > 100)
			wait_ms = 100;   /* also reap exits of programs that closed output */
		poll(pfd, np + 1, wait_ms);
		for (unsigned k = 0; k < np; k++)
			if (pfd[k].revents)
				drain(&ps[idx[k]], o);
		if (pfd[np].revents) {
			struct signalfd_siginfo info;
			if (read(r->sigfd, &info, sizeof(info)) > 0) {
				r->signo = (int)info.ssi_signo;
				rc = -EINTR;
				break;
			}
		}
		running = 0;
		for (unsigned i = 0; i < sc->n_programs; i++) {
			struct prog *p = &ps[i];
			if (!p->exited && waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
				p->exited = true;
				if (p->fd >= 0)
					drain(p, o);
				if (!WIFEXITED(p->status) || WEXITSTATUS(p->status)) {
					culprit = p;   /* the others may wait for it forever */
					rc = -1;
				}
			}
			running += !p->exited || p->fd >= 0;
		}
		if (!rc && running && sys_now_ns() >= deadline) {
			timed_out = true;
			rc = -1;
			for (unsigned i = 0; i < sc->n_programs; i++)
				ps[i].hung = !ps[i].exited;
		}
	}
	stop_all(ps, sc->n_programs);
	/* what the timeline changed does not outlive its scenario */
	if (next_event)
		undo_timeline(r);
	note(r, sc, across, !rc ? "ended passed" : rc == -EINTR ? "ended interrupted" : "ended failed");
	for (unsigned i = 0; i < sc->n_programs; i++)
		if (ps[i].fd >= 0) {
			drain(&ps[i], o);
			if (ps[i].fd >= 0)
				close(ps[i].fd);
		}
	double wall_ms = (double)(sys_now_ns() - t0) / 1e6;
	if (!rc) {
		o->ran = true;
		if (o->metric == M_WALL)
			o->value = wall_ms;
	} else if (rc != -EINTR) {
		report_failure(r, sc, across, ps, sc->n_programs, culprit, timed_out);
	}
	for (unsigned i = 0; i < sc->n_programs; i++)
		free_argv(ps[i].argv);
	free(ps);
	fflush(stdout);
	return rc;
}

static void summary(const struct run *r)
{
	const struct lab *lab = r->lab;
	printf("\nSummary: one vm against across %u vms\n", r->n_guests);
	printf("%-20s %-18s %12s %12s %8s\n", "scenario", "measure", "one vm", "across", "ratio");
	for (unsigned i = 0; i < lab->n_scenarios; i++) {
		const struct outcome *a = &r->res[i][0], *b = &r->res[i][1];
		enum metric m = a->metric == b->metric ? a->metric : M_WALL;
		double va = m == a->metric ? a->value : 0, vb = m == b->metric ? b->value : 0;
		int prec = m == M_LATENCY ? 3 : m == M_THROUGHPUT ? 1 : 0;
		printf("%-20s %-18s %12.*f %12.*f %7.2fx\n", lab->scenarios[i].name, metric_name[m],
		       prec, va, prec, vb, va > 0 ? vb / va : 0.0);
		if (m == M_LATENCY && va > 0)
			printf("  across guests the %s latency is %.2fx the one-vm latency "
			       "(the seed's cross-VM latency was 4.34x its one-VM latency)\n",
			       lab->scenarios[i].name, vb / va);
	}
}

static int teardown(struct run *r, bool keep)
{
	if (keep) {
		printf("lab %s kept up (--keep): 'vqnet down %s' removes it\n", r->lab->name, r->lab->name);
		return 0;
	}
	return lab_down(r->lab->name);
}

/* A handle on each guest, through which its programs start. */
static int open_guests(struct run *r)
{
	r->handle = calloc(r->lab->n_nodes, sizeof(*r->handle));
	if (!r->handle)
		return -ENOMEM;
	for (unsigned i = 0; i < r->lab->n_nodes; i++) {
		char why[512];
		int not_up;
		r->handle[i] = (struct guest_handle){ .pidfd = -1 };
		if (r->lab->nodes[i].kind != LAB_GUEST)
			continue;
		if (guest_open(r->lab->name, r->lab->nodes[i].name, &r->handle[i], why, sizeof(why),
			       &not_up) < 0) {
			err_msg("%s", why);
			return -EIO;
		}
	}
	return 0;
}

/* A signal seen between scenarios (or while we printed: SIGPIPE). */
static bool signalled(struct run *r)
{
	struct signalfd_siginfo si;
	if (!r->signo && read(r->sigfd, &si, sizeof(si)) == sizeof(si))
		r->signo = (int)si.ssi_signo;
	return r->signo != 0;
}

int cmd_run(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		cmd_help("run", true);
		return 0;
	}
	bool keep = false;
	const char *file = NULL, *seed = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--keep"))
			keep = true;
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc && seed_ok(argv[i + 1]))
			seed = argv[++i];
		else if (!file && argv[i][0] != '-')
			file = argv[i];
		else
			return cmd_usage("run");
	}
	if (!file)
		return cmd_usage("run");
	static struct run r;
	int rc = labfile_load(file, &r.lf);
	if (rc)
		return rc;
	r.lab = r.lf.lab;
	if (r.lab->n_scenarios == 0) {
		labfile_error(&r.lf, 0, "no [scenario] sections to run");
		labfile_free(&r.lf);
		return EXIT_USAGE;
	}
	for (unsigned i = 0; i < r.lab->n_nodes; i++)
		r.n_guests += r.lab->nodes[i].kind == LAB_GUEST;
	r.res = calloc(r.lab->n_scenarios, sizeof(*r.res));

	/* Signals arrive through a signalfd, so an interrupt at any point
	 * still takes the lab down: Ctrl-C, kill, a hangup, and a closed
	 * pipe (`vqnet run FILE | head`), which would otherwise kill us
	 * with the lab and its programs left running.  Programs get the
	 * default mask back. */
	r.sigfd = signals_to_fd();
	if (r.sigfd < 0 || !r.res) {
		err_msg("cannot start: %s", strerror(r.sigfd < 0 ? -r.sigfd : ENOMEM));
		return EXIT_FAIL;
	}
	rc = lab_up(&r.lf, r.sigfd, false, seed);
	if (rc) {
		labfile_free(&r.lf);
		return rc;
	}
	if (open_guests(&r) < 0) {
		lab_down(r.lab->name);
		labfile_free(&r.lf);
		return EXIT_FAIL;
	}

	rc = 0;
	for (int across = 0; across < 2 && !rc && !signalled(&r); across++) {
		/* the seed's words, spelling included */
		const char *s = r.lab->n_scenarios == 1 ? "" : "s";
		if (across)
			printf("\nRunning %u scenario%s accross %u vms\n", r.lab->n_scenarios, s, r.n_guests);
		else
			printf("\nRunning %u scenario%s on one vm\n", r.lab->n_scenarios, s);
		for (unsigned i = 0; i < r.lab->n_scenarios && !rc && !signalled(&r); i++)
			rc = run_scenario(&r, i, across);
	}
	fflush(stdout);
	if (signalled(&r)) {
		/* stdout may be the pipe that went away: say it where it is seen */
		fprintf(stderr, "%s: interrupted (signal %d): taking lab %s down\n", prog, r.signo,
			r.lab->name);
		lab_down(r.lab->name);
		labfile_free(&r.lf);
		return 128 + r.signo;
	}
	int down = teardown(&r, keep);
	if (!rc)
		summary(&r);
	printf("%s\n", rc || down ? "Exited with error" : "Finished running all scenarios");
	labfile_free(&r.lf);
	free(r.res);
	return rc || down ? EXIT_FAIL : 0;
}
