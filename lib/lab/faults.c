/* SPDX-License-Identifier: MIT */
/*
 * faults.c - the fault commands, checked against a lab: what `vqnet impair`,
 * `link`, `partition`, `heal`, `stop` and `start` say at run time, and what
 * a scenario's `at = TIME COMMAND` lines say.  One parser for both, so a
 * timeline line is refused at its file:line for the same reasons the
 * command would be refused at run time.
 */
#include "lab.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool joins(const struct lab_link *l, unsigned a, unsigned b, int topo)
{
	return ((l->end[0].node == a && l->end[1].node == b) ||
		(l->end[0].node == b && l->end[1].node == a)) &&
	       (topo < 0 || l->topology == (unsigned)topo);
}

/* Link i joins a and b (in topo): the first such is *found; true for a
 * second one. */
static bool one_more(const struct lab *lab, unsigned i, unsigned a, unsigned b, int topo,
		     int *found)
{
	if (!joins(&lab->links[i], a, b, topo))
		return false;
	if (*found >= 0)
		return true;
	*found = (int)i;
	return false;
}

int lab_link_between(const struct lab *lab, unsigned a, unsigned b, int topo)
{
	int found = -ENOENT;
	/* a lab from lab_parse (it has a name index) has its links on its
	 * interfaces: those of the end with fewer, not the whole lab's */
	if (lab->node_names.cap && a < lab->n_nodes && b < lab->n_nodes) {
		const struct lab_node *na = &lab->nodes[a], *nb = &lab->nodes[b];
		const struct lab_node *nd = lab_node_links(na) <= lab_node_links(nb) ? na : nb;
		for (unsigned j = 0; j < nd->n_ifaces; j++)
			for (unsigned k = 0; k < nd->ifaces[j].n_links; k++)
				if (one_more(lab, nd->ifaces[j].links[k], a, b, topo, &found))
					return -EEXIST;
		return found;
	}
	for (unsigned i = 0; i < lab->n_links; i++)
		if (one_more(lab, i, a, b, topo, &found))
			return -EEXIST;
	return found;
}

int lab_parse_time(const char *s, uint64_t *ns)
{
	static const struct { const char *unit; uint64_t ns; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
	};
	uint64_t whole = 0, frac = 0, scale = 1;
	const char *p = s;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > 86400ull * 1000000000ull)
			return -EINVAL;
	}
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return -EINVAL;
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (scale >= 1000000000ull)
				return -EINVAL;
			frac = frac * 10 + (uint64_t)(*p - '0');
			scale *= 10;
		}
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit))
			continue;
		uint64_t u = units[i].ns;
		if (frac * u % scale)
			return -EINVAL;   /* finer than a nanosecond */
		uint64_t v = whole * u + frac * u / scale;
		if (whole > 86400ull * 1000000000ull / u || v > 86400ull * 1000000000ull)
			return -EINVAL;
		*ns = v;
		return 0;
	}
	return -EINVAL;
}

__attribute__((format(printf, 3, 4)))
static int fault_bad(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && len)
		vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int node_of(const struct lab *lab, const char *name, bool guest, char *err, size_t len)
{
	int n = lab_node_find(lab, name);
	if (n < 0)
		return fault_bad(err, len, "no node \"%.40s\" in lab %s", name, lab->name);
	if (guest && lab->nodes[n].kind != LAB_GUEST)
		return fault_bad(err, len, "%s is a %s node, not a guest", name,
				 lab_kind_name(lab->nodes[n].kind));
	return n;
}

/* "A B [--topology T]": the link between A and B; *next the first
 * argument after them.  --from, for impair, is taken too when allowed. */
static int which_link(const struct lab *lab, char *const *argv, unsigned argc, unsigned *next,
		      int *from, char *err, size_t len)
{
	if (argc < 3)
		return fault_bad(err, len, "%s needs two nodes: %s A B ...", argv[0], argv[0]);
	int a = node_of(lab, argv[1], false, err, len), b = a < 0 ? a : node_of(lab, argv[2], false, err, len);
	if (a < 0 || b < 0)
		return -EINVAL;
	int topo = -1;
	const char *from_name = NULL;
	unsigned i = 3;
	for (; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--topology")) {
			if ((topo = lab_topology_find(lab, argv[i + 1])) < 0)
				return fault_bad(err, len, "no topology \"%.40s\"", argv[i + 1]);
		} else if (!strcmp(argv[i], "--from") && from) {
			from_name = argv[i + 1];
		} else {
			break;
		}
	}
	int l = lab_link_between(lab, (unsigned)a, (unsigned)b, topo);
	if (l == -EEXIST)
		return fault_bad(err, len, "%s and %s share several links: name one with --topology", argv[1], argv[2]);
	if (l < 0)
		return fault_bad(err, len, "no link between %s and %s%s%s", argv[1], argv[2],
			   topo >= 0 ? " in topology " : "", topo >= 0 ? lab->topologies[topo].name : "");
	if (from) {
		*from = -1;
		if (from_name) {
			int f = lab_node_find(lab, from_name);
			if (f != a && f != b)
				return fault_bad(err, len, "--from %.40s: not an end of the link %s-%s", from_name,
					   argv[1], argv[2]);
			*from = lab->links[l].end[0].node == (unsigned)f ? 0 : 1;
		}
	}
	*next = i;
	return l;
}

static int parse_impair(const struct lab *lab, char *const *argv, unsigned argc,
			struct lab_fault *f, char *err, size_t len)
{
	unsigned i;
	int l = which_link(lab, argv, argc, &i, &f->from, err, len);
	if (l < 0)
		return l;
	f->link = (unsigned)l;
	size_t used = 0;
	for (; i < argc; i++) {
		int n = snprintf(f->spec + used, sizeof(f->spec) - used, "%s%s", used ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(f->spec) - used)
			return fault_bad(err, len, "impairment too long");
		used += (size_t)n;
	}
	struct imp_params p;
	memset(&p, 0, sizeof(p));
	char why[IMP_ERR_MAX];
	int rc = imp_parse_spec(&p, f->spec, why, sizeof(why));
	if (rc == -ENODATA)
		return fault_bad(err, len, "impair: say what (e.g. delay 10ms loss 1%%, or clear)");
	if (rc)
		return fault_bad(err, len, "%s", why);
	return 0;
}

/* A partition cuts the links between nodes of different groups.  A guest
 * in no group forwards nothing.  A switch or filter (they link to guests
 * only) in no group would join its guests of different groups around the
 * cut; one in a group is cut from the guests of the others, so two of
 * them in one other group would lose each other.  Either is refused,
 * naming it: the partition asked for is not the one it would make. */
static int partition_holds(const struct lab *lab, const unsigned *group, unsigned n_groups,
			   char *err, size_t len)
{
	/* per forwarder in no group: 1 + the first grouped guest it links;
	 * per group, for the forwarder being looked at: 1 + its first guest */
	unsigned *seen = calloc(lab->n_nodes, sizeof(*seen));
	unsigned *first = calloc(n_groups + 1, sizeof(*first));
	int rc = seen && first ? 0 : -ENOMEM;
	for (unsigned l = 0; l < lab->n_links && !rc; l++) {
		for (int e = 0; e < 2 && !rc; e++) {
			unsigned fw = lab->links[l].end[e].node, g = lab->links[l].end[!e].node;
			if (group[fw] || !group[g] || lab->nodes[fw].kind == LAB_GUEST)
				continue;
			if (!seen[fw])
				seen[fw] = g + 1;
			else if (group[seen[fw] - 1] != group[g])
				rc = fault_bad(err, len, "partition: %s and %s would still reach each other "
					       "through %s %s, which is in no group: name it in one",
					       lab->nodes[seen[fw] - 1].name, lab->nodes[g].name,
					       lab_kind_name(lab->nodes[fw].kind), lab->nodes[fw].name);
		}
	}
	for (unsigned fw = 0; fw < lab->n_nodes && !rc; fw++) {
		const struct lab_node *nd = &lab->nodes[fw];
		if (nd->kind == LAB_GUEST || !group[fw])
			continue;
		for (int pass = 0; pass < 2; pass++)   /* look, then clear what was set */
			for (unsigned i = 0; i < nd->n_ifaces; i++)
				for (unsigned j = 0; j < nd->ifaces[i].n_links; j++) {
					const struct lab_link *ln = &lab->links[nd->ifaces[i].links[j]];
					unsigned g = ln->end[ln->end[0].node == fw].node, y = group[g];
					if (!y || y == group[fw])
						continue;
					if (pass)
						first[y] = 0;
					else if (!first[y])
						first[y] = g + 1;
					else if (!rc)
						rc = fault_bad(err, len, "partition: %s and %s would lose each other: "
							       "both are cut from %s %s, which is in another "
							       "group", lab->nodes[first[y] - 1].name,
							       lab->nodes[g].name, lab_kind_name(nd->kind), nd->name);
				}
	}
	free(seen);
	free(first);
	return rc;
}

static int parse_partition(const struct lab *lab, char *const *argv, unsigned argc,
			   struct lab_fault *f, char *err, size_t len)
{
	f->group = calloc(lab->n_nodes + 1, sizeof(*f->group));
	if (!f->group)
		return -ENOMEM;
	unsigned g = 1, in_group = 0;
	for (unsigned i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "/")) {
			if (!in_group)
				return fault_bad(err, len, "partition: an empty group (A B / C)");
			g++;
			in_group = 0;
			continue;
		}
		int n = node_of(lab, argv[i], false, err, len);
		if (n < 0)
			return n;
		if (f->group[n])
			return fault_bad(err, len, "partition: %s is named twice", argv[i]);
		f->group[n] = g;
		in_group++;
	}
	if (!in_group || g < 2)
		return fault_bad(err, len, "partition needs two groups or more: partition A B / C");
	f->n_groups = g;
	return partition_holds(lab, f->group, g, err, len);
}

int lab_fault_parse(const struct lab *lab, char *const *argv, unsigned argc,
		    struct lab_fault *f, char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	if (err && errlen)
		err[0] = 0;
	if (!argc)
		return fault_bad(err, errlen, "no command");
	const char *c = argv[0];
	int rc;
	if (!strcmp(c, "impair")) {
		f->kind = LAB_FAULT_IMPAIR;
		rc = parse_impair(lab, argv, argc, f, err, errlen);
	} else if (!strcmp(c, "link")) {
		unsigned i;
		f->kind = LAB_FAULT_LINK;
		rc = which_link(lab, argv, argc, &i, NULL, err, errlen);
		if (rc >= 0) {
			f->link = (unsigned)rc;
			rc = 0;
			if (i + 1 != argc || (strcmp(argv[i], "down") && strcmp(argv[i], "up")))
				rc = fault_bad(err, errlen, "link %s %s: say down or up", argv[1], argv[2]);
			else
				f->up = !strcmp(argv[i], "up");
		}
	} else if (!strcmp(c, "partition")) {
		f->kind = LAB_FAULT_PARTITION;
		rc = parse_partition(lab, argv, argc, f, err, errlen);
	} else if (!strcmp(c, "heal")) {
		f->kind = LAB_FAULT_HEAL;
		rc = argc == 1 ? 0 : fault_bad(err, errlen, "heal takes no arguments");
	} else if (!strcmp(c, "stop") || !strcmp(c, "start")) {
		f->kind = c[2] == 'o' ? LAB_FAULT_STOP : LAB_FAULT_START;
		rc = argc == 2 ? node_of(lab, argv[1], true, err, errlen)
			       : fault_bad(err, errlen, "%s takes one guest", c);
		if (rc >= 0) {
			f->node = (unsigned)rc;
			rc = 0;
		}
	} else {
		rc = fault_bad(err, errlen, "unknown fault \"%.40s\" (impair, link, partition, heal, stop, start)", c);
	}
	if (rc)
		lab_fault_free(f);
	return rc;
}

void lab_fault_free(struct lab_fault *f)
{
	free(f->group);
	f->group = NULL;
}
