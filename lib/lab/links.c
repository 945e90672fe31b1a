/* SPDX-License-Identifier: MIT */
/*
 * links.c - faults in the lab file: [link A B [TOPOLOGY]] sections, whose
 * keys impair the link between A and B (lib/impair's syntax: `delay =
 * 10ms`; `delay.A = 10ms` for the frames A sends only), and a scenario's
 * `at = TIME COMMAND` timeline, each command checked as the runtime
 * command would be (faults.c).  Both refer to nodes and links that exist
 * only once the file is read: recorded in stage 1, resolved in stage 2.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lp_add_link_sec(struct parser *ps, const char *const *word, const size_t *wlen, unsigned nw)
{
	for (unsigned w = 1; w < nw; w++)
		if (lp_check_name(ps, word[w], wlen[w]))
			return ps->rc;
	if (GROW(ps, ps->lsecs, ps->n_lsecs))
		return ps->rc;
	struct link_sec *l = &ps->lsecs[ps->n_lsecs];
	*l = (struct link_sec){ .line = ps->line, .first_key = ps->n_lkeys };
	memcpy(l->a, word[1], wlen[1]);
	memcpy(l->b, word[2], wlen[2]);
	if (nw == 4)
		memcpy(l->topo, word[3], wlen[3]);
	ps->cur = ps->n_lsecs++;
	return 0;
}

int lp_link_key(struct parser *ps, const char *key, const char *value)
{
	if (strlen(key) >= sizeof(ps->lkeys[0].key))
		return fail(ps, "unknown impairment \"%.40s\" in %s", key, ps->label);
	/* the key's syntax now, its value once the section is whole: a
	 * value may need another key of its section (jitter, delay) */
	char base[LAB_NAME_MAX + 16];
	snprintf(base, sizeof(base), "%s", key);
	base[strcspn(base, ".")] = 0;
	struct imp_params p;
	memset(&p, 0, sizeof(p));
	char why[IMP_ERR_MAX];
	int rc = imp_parse_kv(&p, base, value, why, sizeof(why));
	if (rc == -ENOENT)
		return fail(ps, "unknown impairment \"%s\" in %s", key, ps->label);
	if (rc)
		return fail(ps, "%s", why);
	/* KEY.NODE names an end of the link, so a section has a few keys and
	 * this scan stays short */
	const struct link_sec *sec = &ps->lsecs[ps->cur];
	const char *dot = strchr(key, '.');
	if (dot && strcmp(dot + 1, sec->a) && strcmp(dot + 1, sec->b))
		return fail(ps, "\"%s\": %s is not an end of this link", key, dot + 1);
	for (unsigned i = sec->first_key; i < ps->n_lkeys; i++)
		if (!strcmp(ps->lkeys[i].key, key))
			return fail(ps, "duplicate key \"%s\" in %s (first at line %u)", key, ps->label,
				    ps->lkeys[i].line);
	if (GROW(ps, ps->lkeys, ps->n_lkeys))
		return ps->rc;
	struct link_key *k = &ps->lkeys[ps->n_lkeys];
	*k = (struct link_key){ .sec = ps->cur, .line = ps->line };
	snprintf(k->key, sizeof(k->key), "%s", key);
	if (!(k->value = strdup(value)))
		return lp_nomem(ps);
	ps->n_lkeys++;
	ps->lsecs[ps->cur].n_keys++;
	return 0;
}

/* "TIME COMMAND ARG ...": the command is checked once the lab is whole */
int lp_event_key(struct parser *ps, const char *value)
{
	struct lab_scenario *sc = &ps->lab->scenarios[ps->cur];
	char **argv;
	unsigned argc;
	uint64_t at;
	/* a fault names as many nodes as it needs (a partition of a big lab) */
	if (lp_split_args(ps, value, UINT_MAX, &argv, &argc))
		return ps->rc;
	int r = 0;
	if (argc < 2)
		r = fail(ps, "missing time or fault (e.g. at = 2s partition vm0 / vm1)");
	else if (lab_parse_time(argv[0], &at))
		r = fail(ps, "bad time \"%.40s\" (e.g. 2s, 1500ms)", argv[0]);
	if (r) {
		lp_free_argv(argv);
		return r;
	}
	if (sc->n_events == LAB_MAX_PROGRAMS) {
		lp_free_argv(argv);
		return fail(ps, "too many timeline events in %s (max %d)", ps->label, LAB_MAX_PROGRAMS);
	}
	if (GROW(ps, sc->events, sc->n_events)) {
		lp_free_argv(argv);
		return ps->rc;
	}
	free(argv[0]);
	memmove(argv, argv + 1, argc * sizeof(*argv));   /* the NULL too */
	sc->events[sc->n_events++] = (struct lab_event){
		.at_ns = at, .line = ps->line, .argv = argv, .argc = argc - 1,
	};
	return 0;
}

/* The link a [link] section names. */
static int resolve(struct parser *ps, const struct link_sec *s)
{
	struct lab *lab = ps->lab;
	int a = lab_node_find(lab, s->a), b = lab_node_find(lab, s->b), t = -1;
	if (a < 0 || b < 0)
		return lp_fail_at(ps, s->line, "unknown node \"%s\" in [link %s %s]", a < 0 ? s->a : s->b,
				  s->a, s->b);
	if (s->topo[0] && (t = lab_topology_find(lab, s->topo)) < 0)
		return lp_fail_at(ps, s->line, "unknown topology \"%s\"", s->topo);
	int l = lab_link_between(lab, (unsigned)a, (unsigned)b, t);
	if (l == -EEXIST)
		return lp_fail_at(ps, s->line, "%s and %s share several links: name the topology "
				  "([link %s %s TOPOLOGY])", s->a, s->b, s->a, s->b);
	if (l < 0)
		return lp_fail_at(ps, s->line, "no link between %s and %s%s%s", s->a, s->b,
				  t >= 0 ? " in topology " : "", t >= 0 ? s->topo : "");
	if (lab->links[l].impair_line)
		return lp_fail_at(ps, s->line, "a second [link] for %s-%s (first at line %u)", s->a, s->b,
				  lab->links[l].impair_line);
	struct imp_params *own = calloc(2, sizeof(*own));
	if (!own)
		return lp_nomem(ps);
	lab->links[l].impair = own;
	lab->links[l].impair_line = s->line;
	return l;
}

int lp_apply_links(struct parser *ps)
{
	struct lab *lab = ps->lab;
	for (unsigned i = 0; i < ps->n_lsecs; i++) {
		int l = resolve(ps, &ps->lsecs[i]);
		if (l < 0)
			return ps->rc;
		struct lab_link *ln = &lab->links[l];
		char why[IMP_ERR_MAX];
		/* plain keys first, for both directions; then KEY.NODE for one */
		const struct link_sec *sec = &ps->lsecs[i];
		for (int pass = 0; pass < 2; pass++) {
			for (unsigned k = sec->first_key; k < sec->first_key + sec->n_keys; k++) {
				const struct link_key *lk = &ps->lkeys[k];
				const char *dot = strchr(lk->key, '.');
				if ((pass == 0) != (dot == NULL))
					continue;
				char base[sizeof(lk->key)];
				snprintf(base, sizeof(base), "%.*s", (int)(dot ? (size_t)(dot - lk->key) : strlen(lk->key)),
					 lk->key);
				int side = -1;
				if (dot) {
					int n = lab_node_find(lab, dot + 1);
					for (int s = 0; s < 2; s++)
						if (n >= 0 && ln->end[s].node == (unsigned)n)
							side = s;
					if (side < 0)
						return lp_fail_at(ps, lk->line, "\"%s\": %s is not an end of this link",
								  lk->key, dot + 1);
				}
				for (int s = 0; s < 2; s++) {
					if (side >= 0 && s != side)
						continue;
					if (imp_parse_kv(&ln->impair[s], base, lk->value, why, sizeof(why)))
						return lp_fail_at(ps, lk->line, "%s", why);
				}
			}
		}
		for (int s = 0; s < 2; s++)
			if (imp_params_check(&ln->impair[s], why, sizeof(why)))
				return lp_fail_at(ps, ps->lsecs[i].line, "[link %s %s]: %s (frames from %s)",
						  ps->lsecs[i].a, ps->lsecs[i].b, why,
						  lab->nodes[ln->end[s].node].name);
	}
	return 0;
}

static int event_cmp(const void *x, const void *y)
{
	const struct lab_event *a = x, *b = y;
	if (a->at_ns != b->at_ns)
		return a->at_ns < b->at_ns ? -1 : 1;
	return (a->line > b->line) - (a->line < b->line);
}

int lp_check_events(struct parser *ps)
{
	struct lab *lab = ps->lab;
	for (unsigned i = 0; i < lab->n_scenarios; i++) {
		struct lab_scenario *sc = &lab->scenarios[i];
		for (unsigned e = 0; e < sc->n_events; e++) {
			struct lab_event *ev = &sc->events[e];
			struct lab_fault f;
			char why[LAB_MSG_MAX];
			int rc = lab_fault_parse(lab, ev->argv, ev->argc, &f, why, sizeof(why));
			lab_fault_free(&f);
			if (rc == -ENOMEM)
				return lp_nomem(ps);
			if (rc)
				return lp_fail_at(ps, ev->line, "%s", why);
			if (ev->at_ns >= (uint64_t)sc->timeout_s * 1000000000ull)
				return lp_fail_at(ps, ev->line, "at %.3f s: past the scenario's timeout (%u s)",
						  (double)ev->at_ns / 1e9, sc->timeout_s);
		}
		if (sc->n_events)
			qsort(sc->events, sc->n_events, sizeof(*sc->events), event_cmp);
	}
	return 0;
}

void lp_free_links(struct parser *ps)
{
	for (unsigned i = 0; i < ps->n_lkeys; i++)
		free(ps->lkeys[i].value);
	free(ps->lkeys);
	free(ps->lsecs);
}
