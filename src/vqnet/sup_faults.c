/* SPDX-License-Identifier: MIT */
/*
 * Faults on demand: the supervisor keeps what the faults say of each link
 * (its impairments both ways, `link down`, a partition, a stopped guest)
 * and tells each vmm what concerns the frames it sends, on its control
 * pipe.  It is the one record: status shows it, a restarted vmm is told it
 * again.  Requests are `fault COMMAND ARGS` (lib/lab's lab_fault_parse
 * checks them, as it checks a scenario's timeline), and `fault reset`
 * (back to the lab file's impairments, nothing cut).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "ctl.h"
#include "sup.h"

int sup_faults_init(char *msg, size_t len)
{
	const struct lab *lab = S.lab;
	S.flinks = calloc(lab->n_links + 1, sizeof(*S.flinks));
	S.group = calloc(lab->n_nodes + 1, sizeof(*S.group));
	S.stopped = calloc(lab->n_nodes + 1, sizeof(*S.stopped));
	if (!S.flinks || !S.group || !S.stopped) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < lab->n_links; i++)
		memcpy(S.flinks[i].impair, lab->links[i].impair, sizeof(S.flinks[i].impair));
	/* the seed: `up --seed`, else the lab file's, else one of chance,
	 * which status shows, so the run can be repeated */
	if (!S.seed_given && lab->has_seed) {
		S.seed = lab->seed;
	} else if (!S.seed_given && getrandom(&S.seed, sizeof(S.seed), 0) != sizeof(S.seed)) {
		snprintf(msg, len, "getrandom: %s", strerror(errno));
		return -1;
	}
	sup_log("seed %llu", (unsigned long long)S.seed);
	return 0;
}

void sup_vmm_ctl(unsigned node, const struct vmm_ctl *c)
{
	struct sup_node *n = &S.nodes[node];
	if (n->ctl_fd < 0 || n->exited)
		return;   /* told when it (re)starts */
	if (write(n->ctl_fd, c, sizeof(*c)) != (ssize_t)sizeof(*c))
		sup_log("cannot tell the vmm of %s: %s", S.lab->nodes[node].name, strerror(errno));
}

static void tell_impair(unsigned l, unsigned side)
{
	struct vmm_ctl c = { .magic = VMM_CTL_MAGIC, .type = VMM_CTL_IMPAIR, .link = l,
			     .params = S.flinks[l].impair[side] };
	sup_vmm_ctl(S.lab->links[l].end[side].node, &c);
}

static void tell_down(unsigned l)
{
	struct vmm_ctl c = { .magic = VMM_CTL_MAGIC, .type = VMM_CTL_DOWN, .link = l,
			     .down = S.flinks[l].told_down };
	for (int s = 0; s < 2; s++)
		sup_vmm_ctl(S.lab->links[l].end[s].node, &c);
}

/* Why link l is cut: NULL if it is not. */
static const char *cut_why(unsigned l)
{
	const struct lab_link *ln = &S.lab->links[l];
	unsigned a = ln->end[0].node, b = ln->end[1].node;
	if (S.flinks[l].link_down)
		return "link down";
	if (S.group[a] && S.group[b] && S.group[a] != S.group[b])
		return "partition";
	if (S.stopped[a] || S.stopped[b])
		return "guest stopped";
	return NULL;
}

/* Tell the vmms of every link whose cut changed; say which. */
static void update_cuts(FILE *out)
{
	const struct lab *lab = S.lab;
	for (unsigned l = 0; l < lab->n_links; l++) {
		const char *why = cut_why(l);
		bool down = why != NULL;
		if (down == S.flinks[l].told_down)
			continue;
		S.flinks[l].told_down = down;
		tell_down(l);
		const struct lab_link *ln = &lab->links[l];
		fprintf(out, "link %s-%s: %s%s%s\n", lab->nodes[ln->end[0].node].name,
			lab->nodes[ln->end[1].node].name, down ? "down (" : "up", down ? why : "",
			down ? ")" : "");
	}
}

static void say_impair(FILE *out, unsigned l, unsigned side)
{
	const struct lab *lab = S.lab;
	const struct lab_link *ln = &lab->links[l];
	char text[IMP_TEXT_MAX];
	if (imp_format(&S.flinks[l].impair[side], text, sizeof(text)) < 0)
		snprintf(text, sizeof(text), "?");
	fprintf(out, "%s -> %s: %s\n", lab->nodes[ln->end[side].node].name,
		lab->nodes[ln->end[side ^ 1].node].name, text[0] ? text : "no impairment");
}

static int apply(const struct lab_fault *f, FILE *out, char *err, size_t len)
{
	const struct lab *lab = S.lab;
	switch (f->kind) {
	case LAB_FAULT_IMPAIR: {
		/* both ways are checked before either changes */
		struct imp_params next[2];
		memcpy(next, S.flinks[f->link].impair, sizeof(next));
		for (int s = 0; s < 2; s++) {
			char why[IMP_ERR_MAX];
			if ((f->from < 0 || f->from == s) &&
			    imp_parse_spec(&next[s], f->spec, why, sizeof(why))) {
				snprintf(err, len, "%s", why);
				return -EINVAL;
			}
		}
		for (unsigned s = 0; s < 2; s++) {
			if (f->from >= 0 && (unsigned)f->from != s)
				continue;
			S.flinks[f->link].impair[s] = next[s];
			tell_impair(f->link, s);
			say_impair(out, f->link, s);
		}
		return 0;
	}
	case LAB_FAULT_LINK:
		S.flinks[f->link].link_down = !f->up;
		break;
	case LAB_FAULT_PARTITION:
		memcpy(S.group, f->group, lab->n_nodes * sizeof(*S.group));
		break;
	case LAB_FAULT_HEAL:
		memset(S.group, 0, lab->n_nodes * sizeof(*S.group));
		memset(S.stopped, 0, lab->n_nodes * sizeof(*S.stopped));
		for (unsigned l = 0; l < lab->n_links; l++)
			S.flinks[l].link_down = false;
		break;
	case LAB_FAULT_STOP:
	case LAB_FAULT_START:
		S.stopped[f->node] = f->kind == LAB_FAULT_STOP;
		break;
	}
	long at = ftell(out);
	update_cuts(out);
	if (ftell(out) == at)
		fprintf(out, "nothing changed\n");
	return 0;
}

/* Back to the lab file: its impairments, nothing cut. */
static void reset(FILE *out)
{
	const struct lab *lab = S.lab;
	for (unsigned l = 0; l < lab->n_links; l++)
		for (unsigned s = 0; s < 2; s++)
			if (!imp_params_equal(&S.flinks[l].impair[s], &lab->links[l].impair[s])) {
				S.flinks[l].impair[s] = lab->links[l].impair[s];
				tell_impair(l, s);
				say_impair(out, l, s);
			}
	struct lab_fault heal = { .kind = LAB_FAULT_HEAL };
	char err[8];
	apply(&heal, out, err, sizeof(err));
}

/* The event of a fault applied: the request, and what changed (the
 * reply's lines, which we wrote from what lab_fault_parse accepted). */
static void fault_event(char *const *argv, unsigned argc, const char *said)
{
	char req[CTL_REQUEST_MAX + 1] = "", clean[sizeof(req)], text[1024];
	size_t n = 0;
	for (unsigned i = 0; i < argc && n < sizeof(req) - 1; i++)
		n += (size_t)snprintf(req + n, sizeof(req) - n, "%s%s", i ? " " : "", argv[i]);
	sup_printable(clean, sizeof(clean), req);
	json_t *changes = json_array();
	size_t t = (size_t)snprintf(text, sizeof(text), "%.160s:", clean);
	unsigned lines = 0;
	for (const char *l = said; l && *l; ) {
		size_t k = strcspn(l, "\n");
		if (k && lines++ < 32)
			json_array_append_new(changes, json_stringn(l, k));
		if (k && t < sizeof(text) - 1)
			t += (size_t)snprintf(text + t, sizeof(text) - t, "%s %.*s", lines > 1 ? ";" : "",
					      (int)k, l);
		l += k + (l[k] == '\n');
	}
	if (t >= SUP_EVENT_TEXT_MAX - 1)
		memcpy(text + SUP_EVENT_TEXT_MAX - 5, "...", 4);
	char cmd[LAB_NAME_MAX + 1];
	snprintf(cmd, sizeof(cmd), "%.*s", (int)strcspn(clean, " "), clean);
	sup_event("fault", -1, -1, json_pack("{s:s,s:s,s:o}", "command", cmd, "request", clean,
					    "changes", changes), "%s", text);
}

char *sup_fault_request(const char *args)
{
	/* as many words as the request has (a partition of a big lab names
	 * many nodes): at most one per two bytes, and the NULL */
	char *copy = strdup(args), **argv = calloc(strlen(args) / 2 + 2, sizeof(*argv));
	char *text = NULL, *save = NULL;
	size_t len = 0;
	unsigned argc = 0;
	FILE *out = copy && argv ? open_memstream(&text, &len) : NULL;
	if (!out) {
		free(copy);
		free(argv);
		return NULL;
	}
	for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
		argv[argc++] = t;
	argv[argc] = NULL;
	char err[LAB_MSG_MAX] = "";
	struct lab_fault f;
	bool done = true;
	if (argc == 1 && !strcmp(argv[0], "reset")) {
		reset(out);
	} else if (lab_fault_parse(S.lab, argv, argc, &f, err, sizeof(err)) ||
		   apply(&f, out, err, sizeof(err))) {
		rewind(out);
		fprintf(out, "error: %s\n", err[0] ? err : "out of memory");
		lab_fault_free(&f);
		done = false;
	} else {
		sup_log("fault: %s", args);
		lab_fault_free(&f);
	}
	fclose(out);
	if (done)
		fault_event(argv, argc, text);
	free(argv);
	free(copy);
	return text;
}

void sup_faults_tell(unsigned node)
{
	const struct lab *lab = S.lab;
	for (unsigned l = 0; l < lab->n_links; l++)
		for (unsigned s = 0; s < 2; s++) {
			if (lab->links[l].end[s].node != node)
				continue;
			if (!imp_params_equal(&S.flinks[l].impair[s], &lab->links[l].impair[s]))
				tell_impair(l, s);
			if (S.flinks[l].told_down) {
				struct vmm_ctl c = { .magic = VMM_CTL_MAGIC, .type = VMM_CTL_DOWN,
						     .link = l, .down = 1 };
				sup_vmm_ctl(node, &c);
			}
		}
}
