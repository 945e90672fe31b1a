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
 * Stage 2 (lab.c: finish) resolves the cross-references once the whole file
 * is known: topology entries, interfaces and links (topology.c), addresses
 * (addresses.c), filter loops and scenario guests (scenarios.c).  Sections
 * may therefore come in any order.
 *
 * The first mistake ends the parse: every lp_* function that can fail
 * returns 0 or ps->rc, the first error, which is also in *ps->err.
 * lp_ = lab parser; nothing here is part of lab.h's contract.
 */
#ifndef VQNET_LAB_INTERNAL_H
#define VQNET_LAB_INTERNAL_H

#include "lab.h"

enum section { SEC_NONE, SEC_LAB, SEC_VM, SEC_TOPOLOGY, SEC_SCENARIO, SEC_FILTER, SEC_LINK };

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

/* One "NODE = PEER ..." line of a [topology]. */
struct entry {
	unsigned topo, line, node;
	char name[LAB_NAME_MAX + 1];
	char (*peers)[LAB_NAME_MAX + 1];
	unsigned *peer_node;
	unsigned n_peers;
};

/* The guest of a scenario line, resolved in finish. */
struct prog_ref {
	unsigned scenario, program;
	char guest[LAB_NAME_MAX + 1];
};

/* A [link A B [TOPO]] section, resolved in finish; its keys after it. */
struct link_sec {
	unsigned line;
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
	char label[48];         /* ... "[vm vm0]", for messages */
	unsigned first;         /* ... its first key or entry (contiguous,
				 * since a section cannot appear twice) */
	unsigned once[4];       /* ... line of each single-valued key seen */
	unsigned key_line;      /* ... its last key line, 0 = none yet */
	char key[LAB_NAME_MAX + 8]; /* ... that key ("ip6.TOPO" fits) */
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
	struct prog_ref *refs;
	unsigned n_refs;
	struct link_sec *lsecs;
	unsigned n_lsecs;
	struct link_key *lkeys;
	unsigned n_lkeys;
};

/* ---- lab.c: errors, memory, names ---- */

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

/* ---- addresses.c: MACs and IPs ---- */

int lp_parse_mac(struct parser *ps, const char *s, uint8_t mac[6]);
/* "ADDRESS/PREFIX", a unicast host address; addr in network order. */
int lp_parse_ip(struct parser *ps, const char *s, int af, uint8_t *addr,
		unsigned *prefix);
int lp_apply_keys(struct parser *ps);
int lp_check_unique(struct parser *ps);
int lp_check_subnets(struct parser *ps);
int lp_derive_macs(struct parser *ps);

/* ---- scenarios.c: program lines and placeholders ---- */

int lp_split_args(struct parser *ps, const char *s, char ***argvp, unsigned *argcp);
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
