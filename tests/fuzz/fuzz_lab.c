/* SPDX-License-Identifier: MIT */
/* fuzz_lab.c - arbitrary bytes as a lab file and as a rules file.  The parser's sources are
 * included so that libFuzzer's coverage instrumentation reaches them. */
#include "../../lib/lab/lab.c"
#include "../../lib/lab/reader.c"
#include "../../lib/lab/keys.c"
#include "../../lib/lab/ranges.c"
#include "../../lib/lab/topology.c"
#include "../../lib/lab/loops.c"
#include "../../lib/lab/addresses.c"
#include "../../lib/lab/scenarios.c"
#include "../../lib/lab/escape.c"
#include "../../lib/lab/netns.c"
#include "../../lib/lab/view.c"
#include "../../lib/lab/rules.c"
#include "../../lib/lab/links.c"
#include "../../lib/lab/faults.c"

#include "fuzz.h"

#include <stdlib.h>

/* An error message is clean: escaping it again changes nothing (hardening
 * #13: no control byte or malformed UTF-8 of the input reaches a terminal). */
static void check_clean(const char *msg)
{
	char again[LAB_MSG_MAX + 64];
	lab_escape(msg, strlen(msg), again, sizeof(again));
	if (strcmp(again, msg))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lab *lab;
	struct lab_error err;
	char line[LAB_MSG_MAX + 64];
	/* the same bytes as a filter's rules file */
	struct lab_rule *rules;
	unsigned n_rules;
	if (lab_parse_rules((const char *)data, size, &rules, &n_rules, &err) == 0)
		lab_rules_free(rules, n_rules);
	else
		check_clean(err.msg);
	if (lab_parse((const char *)data, size, "fuzz.vqnet", &lab, &err)) {
		check_clean(err.msg);
		lab_error_format(&err, line, sizeof(line));
		check_clean(line);
		return 0;
	}
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		char ns[LAB_NETNS_MAX], l[LAB_NAME_MAX + 1], g[LAB_NAME_MAX + 1];
		if (lab->nodes[i].kind != LAB_GUEST)
			continue;
		/* hardening #10: every guest has a namespace, "<lab>.<guest>" */
		if (lab_netns_name(lab, i, ns, sizeof(ns)) || lab_netns_split(ns, l, g) ||
		    strcmp(l, lab->name) || strcmp(g, lab->nodes[i].name))
			__builtin_trap();
	}
	/* the switching view of the first and last links: a switch of 4095
	 * guests written in a few bytes would cost 4095^2 MACs for all */
	for (unsigned l = 0; l < lab->n_links; l++) {
		if (l == 32 && lab->n_links > 64)
			l = lab->n_links - 32;
		for (unsigned side = 0; side < 2; side++) {
			size_t n, m;
			if (lab_link_macs(lab, l, side, NULL, 0, &n) != (n ? -ENOSPC : 0))
				__builtin_trap();
			uint8_t (*macs)[6] = malloc(n * sizeof(*macs) + 1);
			if (!macs)
				break;
			if (lab_link_macs(lab, l, side, macs, n, &m) || m != n || n >= LAB_MAX_NODES)
				__builtin_trap();
			free(macs);
		}
	}
	for (unsigned s = 0; s < lab->n_scenarios; s++)
		for (unsigned p = 0; p < lab->scenarios[s].n_programs; p++) {
			const struct lab_program *pg = &lab->scenarios[s].programs[p];
			for (unsigned a = 0; a < pg->argc; a++)
				for (int loop = 0; loop < 2; loop++) {
					int rc = lab_expand_arg(lab, pg->argv[a], loop, line, sizeof(line));
					if (rc && rc != -ENOSPC)
						__builtin_trap();  /* the parser let a bad placeholder through */
				}
		}
	lab_free(lab);
	return 0;
}
