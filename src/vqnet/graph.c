/* SPDX-License-Identifier: MIT */
/*
 * vqnet graph FILE|LAB [-o OUT]: a lab drawn with graphviz.
 *
 * One model, two sources.  A lab file becomes the JSON the supervisor
 * gives for a lab that is up (docs/status.md), minus the live members; a
 * lab that is up gives its own, with each link's state, impairments and
 * counters and each vmm's state.  graph_dot() turns either into DOT.
 *
 * SVG and PNG come from Debian's `dot`, run by fork and exec (no shell),
 * the DOT on its stdin and its stdout a temporary file beside OUT that is
 * renamed onto OUT only when dot succeeded: a failure leaves no file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "graph.h"
#include "impair.h"
#include "labfile.h"
#include "report.h"
#include "rundir.h"

/* ---- a lab file as the supervisor's status would have it -------------- */

static bool oom;    /* an allocation of the model failed: say so, draw nothing */

static void put(json_t *o, const char *key, json_t *v)
{
	if (!v || json_object_set_new(o, key, v))
		oom = true;
}

static void add(json_t *a, json_t *v)
{
	if (!v || json_array_append_new(a, v))
		oom = true;
}

static json_t *ip4_json(const struct lab_iface *ifc)
{
	if (!ifc->has_ip4)
		return json_null();
	char s[32];
	uint32_t a = ifc->ip4;
	snprintf(s, sizeof(s), "%u.%u.%u.%u/%u", a >> 24, a >> 16 & 0xff, a >> 8 & 0xff, a & 0xff,
		 ifc->prefix4);
	return json_string(s);
}

static json_t *ip6_json(const struct lab_iface *ifc)
{
	char s[INET6_ADDRSTRLEN + 8];
	if (!ifc->has_ip6 || !inet_ntop(AF_INET6, ifc->ip6, s, INET6_ADDRSTRLEN))
		return json_null();
	size_t n = strlen(s);
	snprintf(s + n, sizeof(s) - n, "/%u", ifc->prefix6);
	return json_string(s);
}

static json_t *impair_json(const struct imp_params *p)
{
	char text[IMP_TEXT_MAX];
	if (!imp_params_active(p) || imp_format(p, text, sizeof(text)) < 0)
		return json_null();
	return json_string(text);
}

/* A filter's rules: its own lines and its rules file's (checked already). */
static unsigned rule_count(const struct labfile *lf, unsigned node)
{
	const struct lab_filter *f = &lf->lab->nodes[node].filter;
	unsigned n = f->n_rules;
	if (lf->rules && lf->rules[node].text) {
		struct lab_rule *rules;
		unsigned nr;
		struct lab_error le;
		if (!lab_parse_rules(lf->rules[node].text, lf->rules[node].len, &rules, &nr, &le)) {
			n += nr;
			lab_rules_free(rules, nr);
		}
	}
	return n;
}

static json_t *file_node(const struct labfile *lf, unsigned i)
{
	const struct lab *lab = lf->lab;
	const struct lab_node *node = &lab->nodes[i];
	bool guest = node->kind == LAB_GUEST;
	json_t *n = json_object();
	if (!n)
		return NULL;
	put(n, "name", json_string(node->name));
	put(n, "kind", json_string(lab_kind_name(node->kind)));
	put(n, "guest_kind", !guest ? json_null()
	    : json_string(node->guest_kind == LAB_KIND_QEMU ? "qemu" : "netns"));
	if (guest && node->guest_kind == LAB_KIND_QEMU)
		put(n, "vm", json_pack("{s:I,s:I}", "memory_mib", (json_int_t)node->memory_mib,
				       "cpus", (json_int_t)node->cpus));
	if (!guest) {
		json_t *rules = json_array();
		for (unsigned r = 0, nr = rule_count(lf, i); r < nr; r++)
			add(rules, json_object());
		put(n, "filter", json_pack("{s:s,s:b,s:o}", "policy",
					   node->filter.policy == LAB_POLICY_ALLOW ? "allow" : "drop",
					   "stateful", node->filter.stateful, "rules", rules));
	}
	json_t *ifaces = json_array();
	for (unsigned k = 0; k < node->n_ifaces; k++) {
		const struct lab_iface *ifc = &node->ifaces[k];
		char mac[LAB_MAC_STRLEN];
		lab_mac_format(ifc->mac, mac);
		json_t *o = json_object();
		put(o, "name", json_string(ifc->name));
		put(o, "topology", json_string(lab->topologies[ifc->topology].name));
		put(o, "mac", guest ? json_string(mac) : json_null());
		put(o, "ip", ip4_json(ifc));
		put(o, "ip6", ip6_json(ifc));
		add(ifaces, o);
	}
	put(n, "ifaces", ifaces);
	return n;
}

static json_t *file_end(const struct lab *lab, const struct lab_end *e)
{
	const struct lab_node *n = &lab->nodes[e->node];
	return json_pack("{s:s,s:s}", "node", n->name, "iface", n->ifaces[e->iface].name);
}

static json_t *file_model(const struct labfile *lf)
{
	const struct lab *lab = lf->lab;
	oom = false;
	/* the path may be any bytes; a JSON string is UTF-8 */
	size_t pl = strlen(lf->path);
	int need = lab_escape(lf->path, pl, NULL, 0);
	char *path = need >= 0 ? malloc((size_t)need + 1) : NULL;
	if (!path)
		return NULL;
	lab_escape(lf->path, pl, path, (size_t)need + 1);
	json_t *m = json_pack("{s:s,s:s}", "lab", lab->name, "file", path);
	free(path);
	if (!m)
		return NULL;
	json_t *nodes = json_array(), *links = json_array();
	for (unsigned i = 0; i < lab->n_nodes; i++)
		add(nodes, file_node(lf, i));
	for (unsigned i = 0; i < lab->n_links; i++) {
		const struct lab_link *l = &lab->links[i];
		json_t *o = json_object();
		put(o, "index", json_integer(i));
		put(o, "topology", json_string(lab->topologies[l->topology].name));
		put(o, "a", file_end(lab, &l->end[0]));
		put(o, "b", file_end(lab, &l->end[1]));
		json_t *imp = json_object();
		put(imp, "a", impair_json(&l->impair[0]));
		put(imp, "b", impair_json(&l->impair[1]));
		put(o, "impair", imp);
		add(links, o);
	}
	put(m, "nodes", nodes);
	put(m, "links", links);
	if (oom) {
		json_decref(m);
		return NULL;
	}
	return m;
}

/* ---- output ----------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* dot -Tfmt, the DOT on its stdin, its stdout into out_fd.  The child
 * gets the caller's signal mask back; an exec that fails says why through
 * a close-on-exec pipe.  0, or EXIT_FAIL after the message. */
static int run_dot(const char *fmt, const char *dot, size_t len, int out_fd, const sigset_t *mask)
{
	int in[2], report[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		goto fail;
	if (pipe2(report, O_CLOEXEC) < 0) {
		int e = errno;
		close(in[0]);
		close(in[1]);
		errno = e;
		goto fail;
	}
	char arg[8];
	snprintf(arg, sizeof(arg), "-T%s", fmt);
	pid_t pid = fork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, mask, NULL);
		/* out of the way of 0 and 1 first, in case either was closed */
		int i = fcntl(in[0], F_DUPFD_CLOEXEC, 3), o = fcntl(out_fd, F_DUPFD_CLOEXEC, 3);
		if (i >= 0 && o >= 0 && dup2(i, 0) == 0 && dup2(o, 1) == 1)
			execvp("dot", (char *[]){ "dot", arg, NULL });
		int e = errno;
		ssize_t w = write(report[1], &e, sizeof(e));
		(void)w;        /* nothing more to say if even that fails */
		_exit(127);
	}
	int e = errno;
	close(in[0]);
	close(report[1]);
	if (pid < 0) {
		close(in[1]);
		close(report[0]);
		errno = e;
		goto fail;
	}
	/* a dot that failed to start or died early makes this EPIPE: its
	 * exit status says more */
	write_all(in[1], dot, len);
	close(in[1]);
	ssize_t n;
	while ((n = read(report[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(report[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof(e)) {
		err_msg("graph: cannot run dot: %s%s", strerror(e),
			e == ENOENT ? " (it is in Debian's graphviz package)" : "");
		return EXIT_FAIL;
	}
	if (WIFSIGNALED(status)) {
		err_msg("graph: dot was killed by signal %d", WTERMSIG(status));
		return EXIT_FAIL;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		err_msg("graph: dot failed (exit status %d)", WEXITSTATUS(status));
		return EXIT_FAIL;
	}
	return 0;
fail:
	err_msg("graph: cannot run dot: %s", strerror(errno));
	return EXIT_FAIL;
}

/* The format -o's name asks for: "dot", "svg", "png", or NULL. */
static const char *format_of(const char *out)
{
	const char *slash = strrchr(out, '/'), *dot = strrchr(out, '.');
	if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : out))
		return NULL;
	static const char *const known[][2] = {
		{ ".dot", "dot" }, { ".gv", "dot" }, { ".svg", "svg" }, { ".png", "png" },
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcasecmp(dot, known[i][0]))
			return known[i][1];
	return NULL;
}

/* The DOT text into out, as fmt: through a temporary file beside it that
 * becomes out only when it is complete.  A signal that asks us to stop
 * (INT, TERM, HUP) waits until the temporary file is gone. */
static int emit(const char *dot, size_t len, const char *out, const char *fmt)
{
	struct stat st;
	if (stat(out, &st) == 0 && !S_ISREG(st.st_mode)) {
		err_msg("graph: %s: not a regular file", out);
		return EXIT_FAIL;
	}
	char tmp[PATH_MAX];
	const char *slash = strrchr(out, '/');
	int dl = slash ? (int)(slash - out + 1) : 0;
	int n = snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX", dl, out, slash ? slash + 1 : out);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		err_msg("graph: %s: name too long", out);
		return EXIT_USAGE;
	}
	sigset_t stop, old;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigaddset(&stop, SIGPIPE);
	sigprocmask(SIG_BLOCK, &stop, &old);
	int rc = 0, fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err_msg("graph: cannot write %s: %s", out, strerror(errno));
		rc = EXIT_FAIL;
		goto out;
	}
	if (!strcmp(fmt, "dot")) {
		int err = write_all(fd, dot, len);
		if (err) {
			err_msg("graph: %s: %s", out, strerror(-err));
			rc = EXIT_FAIL;
		}
	} else {
		rc = run_dot(fmt, dot, len, fd, &old);
	}
	/* mkostemp made it 0600: give it what a new file gets */
	mode_t mask = umask(0);
	umask(mask);
	if (!rc && fchmod(fd, 0666 & ~mask) < 0) {
		err_msg("graph: %s: %s", out, strerror(errno));
		rc = EXIT_FAIL;
	}
	if (close(fd) < 0 && !rc) {
		err_msg("graph: %s: %s", out, strerror(errno));
		rc = EXIT_FAIL;
	}
	/* a SIGPIPE from writing to a dot that died is dot's failure, told above */
	sigset_t pipe_only, pending;
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	while (sigtimedwait(&pipe_only, NULL, &(struct timespec){ 0 }) == SIGPIPE)
		;
	sigpending(&pending);
	int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	for (size_t i = 0; i < 3 && rc < 128; i++)
		if (sigismember(&pending, sigs[i]))
			rc = 128 + sigs[i];
	if (!rc && rename(tmp, out) < 0) {
		err_msg("graph: cannot write %s: %s", out, strerror(errno));
		rc = EXIT_FAIL;
	}
	if (rc)
		unlink(tmp);
out:
	sigprocmask(SIG_SETMASK, &old, NULL);   /* a pending stop signal acts here */
	return rc;
}

/* ---- the command ------------------------------------------------------ */

/* The status of a lab that is up, or NULL after the message (*rc). */
static json_t *live_model(const char *name, int *rc)
{
	if (geteuid() != 0) {
		err_msg("graph: a lab that is up needs root: its supervisor answers under %s", RUN_DIR);
		*rc = EXIT_NOT_ROOT;
		return NULL;
	}
	struct lab_probe p;
	lab_probe(name, &p);
	json_t *st = lab_status(name, &p);
	enum lab_health h = p.health;
	lab_probe_free(&p);
	if (h == LAB_UP && st && !strcmp(js(st, "state", ""), "up"))
		return st;
	if (h == LAB_ABSENT) {
		err_msg("graph: lab %s is not up (see 'vqnet list')", name);
		*rc = EXIT_NOT_UP;
	} else {
		const char *hint = js(st, "hint", NULL);
		err_msg("graph: lab %s is %s%s%s", name, st ? js(st, "state", "?") : lab_health_name(h),
			hint ? ": " : "", hint ? hint : "");
		*rc = EXIT_FAIL;
	}
	json_decref(st);
	return NULL;
}

/* A lab's name has neither '/' nor '.': anything else is a file.  A bare
 * name is a lab, unless no lab has it and a file does. */
static bool is_file(const char *arg)
{
	if (strpbrk(arg, "/.") || !lab_name_ok(arg))
		return true;
	if (access(arg, F_OK) < 0)
		return false;
	if (geteuid() != 0)
		return true;
	struct lab_probe p;
	lab_probe(arg, &p);
	bool absent = p.health == LAB_ABSENT;
	lab_probe_free(&p);
	return absent;
}

int cmd_graph(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		cmd_help("graph", true);
		return 0;
	}
	const char *what = NULL, *out = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc && !out)
			out = argv[++i];
		else if (argv[i][0] != '-' && !what)
			what = argv[i];
		else
			return cmd_usage("graph");
	}
	if (!what)
		return cmd_usage("graph");
	const char *fmt = "dot";
	if (out && !(fmt = format_of(out))) {
		err_msg("graph: %s: say which format by its name: .svg, .png or .dot", out);
		return EXIT_USAGE;
	}
	int rc = 0;
	bool live = !is_file(what);
	struct labfile lf = { 0 };
	json_t *m;
	if (live) {
		m = live_model(what, &rc);
	} else {
		if ((rc = labfile_load(what, &lf)))
			return rc;
		if (!(m = file_model(&lf)))
			err_msg("graph: out of memory");
		labfile_free(&lf);
	}
	if (!m)
		return rc ? rc : EXIT_FAIL;
	char *dot = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&dot, &len);
	if (f) {
		graph_dot(f, m, live);
		if (fclose(f))
			f = NULL;
	}
	json_decref(m);
	if (!f || !dot) {
		err_msg("graph: out of memory");
		free(dot);
		return EXIT_FAIL;
	}
	if (out) {
		rc = emit(dot, len, out, fmt);
	} else if (fwrite(dot, 1, len, stdout) != len || fflush(stdout)) {
		err_msg("graph: standard output: %s", strerror(errno));
		rc = EXIT_FAIL;
	}
	free(dot);
	return rc;
}
