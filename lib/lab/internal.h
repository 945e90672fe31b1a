/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the files of lib/lab share and nobody else sees.
 *
 * A lab file is parsed in two stages (lab.c drives them):
 *
 * Stage 1 reads the text line by line (reader.c).  inih splits "key = value"
 * lines and strips comments; our reader numbers the lines, rejects what inih
 * would silently mangle (NUL bytes, overlong lines), removes leading blanks
 * so that inih never joins lines into a multi-line value (continuation lines
 * are joined here, by the rule README.md gives), and parses section headers
 * itself, so that empty sections count and each has its line.
 * Values are checked as they arrive (keys.c, topology.c, addresses.c,
 * scenarios.c); names that may be defined further down are only recorded.
 *
 * Ranges (g1..g100, ranges.c) are expanded into names in stage 1, so that
 * every later check sees plain names.
 *
 * Stage 2 (lab.c: finish) resolves the cross-references once the whole file
 * is known: topology entries, interfaces and links (topology.c), loops
 * through filters and switches (loops.c), addresses and the ones subnets
 * derive (addresses.c), scenario guests (scenarios.c).  Sections may
 * therefore come in any order.
 *
 * Every vmm of a lab parses the whole file, so both stages are near-linear
 * in nodes + links: names are found through hashes (struct lab_names),
 * never by a scan, and no table is nodes x nodes.
 *
 * The first mistake ends the parse: every lp_* function that can fail
 * returns 0 or ps->rc, the first error, which is also in *ps->err.
 * lp_ = lab parser; nothing here is part of lab.h's contract.
 */
#ifndef VQNET_LAB_INTERNAL_H
#define VQNET_LAB_INTERNAL_H

#include "lab.h"

enum section { SEC_NONE, SEC_LAB, SEC_VM, SEC_TOPOLOGY, SEC_SCENARIO, SEC_FILTER, SEC_LINK,
	       SEC_SWITCH };

/* "g1..g100": prefix, then lo..hi, printed in width digits (0: plain). */
#define RANGE_TEXT_MAX (2 * LAB_NAME_MAX + 2)
struct range {
	char prefix[LAB_NAME_MAX + 1];
	unsigned lo, hi, width;
};

/* A [vm g1..g9] section: nodes[first .. first + count). */
struct vm_range {
	unsigned first, count, line;
	char text[RANGE_TEXT_MAX + 1];
};

enum field { F_MAC, F_IP4, F_IP6 };
extern const char *const lp_field_key[];    /* "mac", "ip", "ip6" */
extern const char *const lp_field_what[];   /* "MAC", "IP", "IPv6" */

/* A [vm] address key; applied in finish, once the interfaces exist. */
struct addr_key {
	unsigned node, line;
	enum field field;
	char topo[LAB_NAME_MAX + 1];    /* "" = the first interface */
	uint8_t addr[16];               /* MAC, or IP in network order */
	unsigned prefix;
};

/* Where a range sat among a list's names, for "(from g1..g9)" messages. */
struct list_range {
	unsigned first, count;
	char text[RANGE_TEXT_MAX + 1];
};

/* The peers of one "KEY = PEER ..." line of a [topology], ranges expanded;
 * shared by the entries its key makes (one, or one per guest of a range). */
struct peer_list {
	unsigned line;
	char key[RANGE_TEXT_MAX + 1];       /* as written */
	bool key_range;
	char (*names)[LAB_NAME_MAX + 1];    /* line order */
	unsigned n;
	struct list_range *ranges;
	unsigned n_ranges;
	unsigned *node;                     /* stage 2: names[i]'s node */
	unsigned *sorted;                   /* ... the same, sorted: "lists x?" */
};

/* One node's entry in a [topology]: "NODE = PEER ..." or a guest of a
 * range key; its peers are lists[list]. */
struct entry {
	unsigned topo, line, node, list;
	char name[LAB_NAME_MAX + 1];
};

/* The guest of a scenario line, resolved in finish. */
struct prog_ref {
	unsigned scenario, program;
	char guest[LAB_NAME_MAX + 1];
};

/* A [link A B [TOPO]] section, resolved in finish; its keys after it. */
struct link_sec {
	unsigned line;
	unsigned first_key, n_keys;     /* its keys: lkeys[first_key ..] */
	char a[LAB_NAME_MAX + 1], b[LAB_NAME_MAX + 1], topo[LAB_NAME_MAX + 1];
};
struct link_key {
	unsigned sec, line;
	char key[LAB_NAME_MAX + 16];   /* "delay" or "delay.NODE" */
	char *value;
};

struct parser {
	struct lab *lab;
	struct lab_error *err;
	int rc;                 /* first error; 0 while all is well */
	const char *p, *end;    /* text not read yet */
	unsigned line;          /* the line being parsed */
	enum section sec;       /* the current section ... */
	unsigned cur;           /* ... its node, topology or scenario index */
	unsigned cur_count;     /* ... how many nodes it made (a [vm] range) */
	char label[80];         /* ... "[vm vm0]", for messages */
	unsigned first;         /* ... its first key or entry (contiguous,
				 * since a section cannot appear twice) */
	unsigned once[4];       /* ... line of each single-valued key seen */
	unsigned key_line;      /* ... its last key line, 0 = none yet */
	char key[RANGE_TEXT_MAX + 8]; /* ... that key ("ip6.TOPO", "g1..g9" fit) */
	bool pending;           /* ... that key takes a list, which continuation
				 * lines may extend: value is processed only
				 * when a line that does not continue it comes */
	size_t value_len;
	char value[LAB_VALUE_MAX + 1];
	unsigned lab_line;
	struct addr_key *keys;
	unsigned n_keys;
	struct entry *entries;
	unsigned n_entries;
	struct lab_names entry_names;   /* the current [topology]'s entries */
	struct peer_list *lists;
	unsigned n_lists;
	size_t n_listings;              /* entries x their peers, all topologies */
	struct vm_range *ranges;
	unsigned n_ranges;
	struct prog_ref *refs;
	unsigned n_refs;
	struct link_sec *lsecs;
	unsigned n_lsecs;
	struct link_key *lkeys;
	unsigned n_lkeys;
};

/* ---- lab.c: errors, memory, names ---- */

/* The impairments of every link without a [link] section: all zero,
 * never written (links.c gives a link its own pair first). */
extern struct imp_params lp_no_impair[2];

/* Record the first error (later ones are ignored): msg from fmt, at line. */
__attribute__((format(printf, 3, 4)))
int lp_fail_at(struct parser *ps, unsigned line, const char *fmt, ...);
#define fail(ps, ...) lp_fail_at((ps), (ps)->line, __VA_ARGS__)
int lp_nomem(struct parser *ps);

/* Make room for element n of *arrp, an array grown by doubling. */
int lp_grow(struct parser *ps, void *arrp, unsigned n, size_t size);
#define GROW(ps, arr, n) lp_grow((ps), &(arr), (n), sizeof(*(arr)))

/* inih's isspace, minus '\n' which never reaches it from the reader. */
bool lp_is_blank(char c);
bool lp_name_ok(const char *s, size_t len);
int lp_check_name(struct parser *ps, const char *s, size_t len);
/* Plain decimal in [min, max]. */
bool lp_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out);

/* Name indexes (struct lab_names): name_of(ctx, i) is the name of index i.
 * find gives i or -ENOENT; add grows the table (0 or ps->rc). */
typedef const char *lp_name_of(const void *ctx, unsigned i);
uint32_t lp_hash(const char *s, size_t len);
int lp_names_find(const struct lab_names *ix, const char *s, size_t len,
		  lp_name_of *name_of, const void *ctx);
int lp_names_add(struct parser *ps, struct lab_names *ix, unsigned i,
		 lp_name_of *name_of, const void *ctx);
void lp_names_free(struct lab_names *ix);
const char *lp_node_name(const void *lab, unsigned i);
/* A node by name (s need not be NUL-terminated): index or -ENOENT. */
int lp_node_find(const struct lab *lab, const char *s, size_t len);

/* ---- ranges.c: g1..g100 ---- */

bool lp_is_range(const char *s, size_t len);
/* Parse a range (lp_is_range was true): 0 or ps->rc, naming s. */
int lp_parse_range(struct parser *ps, const char *s, size_t len, struct range *r);
static inline unsigned lp_range_count(const struct range *r)
{
	return r->hi - r->lo + 1;
}
/* The k-th name (0-based) into buf; its length. */
size_t lp_range_name(const struct range *r, unsigned k, char buf[LAB_NAME_MAX + 1]);
/* Is s[0..len) one of r's names? */
bool lp_range_has(const struct range *r, const char *s, size_t len);
/* "[vm g1..g9]" or "[vm g4]" / "[filter f]" / "[switch s]": the section
 * that made node i. */
void lp_node_label(const struct parser *ps, unsigned i, char *buf, size_t size);
/* [vm NAME] or [vm g1..g9], [filter NAME], [switch NAME]: the node(s). */
int lp_add_nodes(struct parser *ps, enum lab_node_kind kind, const char *s, size_t len);

/* ---- reader.c: lines and sections ---- */

/* Stage 1: read the whole text, calling lp_on_key for every key. */
int lp_read(struct parser *ps);

/* ---- keys.c: [lab], [vm], [scenario] and [filter] keys ---- */

/* inih's handler: nonzero to go on.  A list-valued key is kept pending. */
int lp_on_key(void *user, const char *section, const char *key, const char *value);
/* Process the pending key, if any, at its own line. */
int lp_flush_key(struct parser *ps);
/* A continuation line s[0..len) (leading blanks gone) of the last key. */
int lp_continue_key(struct parser *ps, const char *s, size_t len);

/* ---- topology.c: entries, interfaces, links, loops ---- */

int lp_topology_key(struct parser *ps, const char *key, const char *value);
/* Every topology's entries into interfaces and links, topologies in file order. */
int lp_build_topologies(struct parser *ps);
/* Give every interface the list of its links. */
int lp_index_links(struct parser *ps);
void lp_free_lists(struct parser *ps);

/* ---- loops.c: paths through filters and switches ---- */

/* One topology's links are links[l0 .. lab->n_links): no two guests may
 * be joined both directly and through a bridging node, or through two. */
int lp_check_loops(struct parser *ps, unsigned l0);

/* ---- addresses.c: MACs and IPs ---- */

int lp_parse_mac(struct parser *ps, const char *s, uint8_t mac[6]);
/* "ADDRESS/PREFIX", a unicast host address; addr in network order. */
int lp_parse_ip(struct parser *ps, const char *s, int af, uint8_t *addr,
		unsigned *prefix);
int lp_apply_keys(struct parser *ps);
/* "subnet = " / "subnet6 = " of the current [topology] */
int lp_subnet_key(struct parser *ps, const char *key, const char *value);
/* Give guests without an address their topology's subnet's, once all
 * explicit ones are on their interfaces. */
int lp_derive_ips(struct parser *ps);
int lp_check_unique(struct parser *ps);
int lp_check_subnets(struct parser *ps);
int lp_derive_macs(struct parser *ps);

/* ---- scenarios.c: program lines and placeholders ---- */

int lp_split_args(struct parser *ps, const char *s, unsigned max, char ***argvp, unsigned *argcp);
void lp_free_argv(char **argv);
int lp_check_scenarios(struct parser *ps);

/* ---- links.c: [link] sections and scenario timelines ---- */

int lp_add_link_sec(struct parser *ps, const char *const *word, const size_t *wlen, unsigned nw);
int lp_link_key(struct parser *ps, const char *key, const char *value);
int lp_event_key(struct parser *ps, const char *value);
int lp_apply_links(struct parser *ps);
int lp_check_events(struct parser *ps);
void lp_free_links(struct parser *ps);

#endif
