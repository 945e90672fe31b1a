/* SPDX-License-Identifier: MIT */
/*
 * lab.h - the lab file: parse, validate, and the model the rest of vqnet uses.
 *
 * Pure logic: lab_parse() takes the file's text as a string; nothing here
 * opens files, prints, exits or makes a system call.  The text is untrusted:
 * every count is bounded by the LAB_MAX_* limits below, every line by
 * LAB_LINE_MAX and every value, continuation lines included, by
 * LAB_VALUE_MAX and the whole text by LAB_FILE_MAX, so a hostile file
 * costs bounded memory and time.
 *
 * Syntax (INI, read with the system's inih; described in README.md here):
 *
 *   [lab]                 name = NAME            (default: file base name)
 *   [vm NAME]             kind, memory, cpus, mac, ip, ip6, mac.TOPO, ip.TOPO, ip6.TOPO
 *   [vm g1..g100]         a range of guests: kind, memory, cpus (no addresses)
 *   [topology NAME]       NODE = PEER PEER ..., subnet = NET/PREFIX, subnet6 = NET/PREFIX
 *   [scenario NAME]       timeout = SECONDS, GUEST = PROGRAM ARG ..., at = TIME FAULT
 *   [filter NAME]         policy, stateful, rule (repeatable), rules
 *   [switch NAME]         no keys: a LAN that forwards by the lab's MACs
 *   [link A B [TOPO]]     impairments
 *
 * A range g1..g100 (one prefix, both ends in full) stands for g1, g2, ...,
 * g100 as a [vm] name, a topology entry's key and a peer.  A topology's
 * subnet gives each of its guests without an address network + k (k: the
 * guest's place among the topology's guests, in file order) and, without
 * an explicit MAC, 02:00 + that IPv4 address.
 *
 * List values (topology entries, program lines, rule) may go on over
 * indented continuation lines, as in inih's multi-line mode.
 *
 * Every mistake is reported as one struct lab_error (line + message) before
 * any model is returned; lab_error_format() gives "file:line: message".
 */
#ifndef VQNET_LAB_H
#define VQNET_LAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "impair.h"

#define LAB_NAME_MAX 32         /* lab, node, topology, scenario names */
/* Guests + filters + switches.  Why 4096: the supervisor keeps about 8
 * descriptors per guest and a switch's vmm gets 3 per link on its command
 * line, so 4096 guests stay within a 64 Ki descriptor limit and a ~100 KB
 * argv; the uid slots would allow 16384. */
#define LAB_MAX_NODES 4096
/* Links in all topologies: a switch of LAB_MAX_NODES guests is 4095 links;
 * 16 times that bounds what a full mesh written with ranges may cost. */
#define LAB_MAX_LINKS 65536
#define LAB_MAX_TOPOLOGIES 64
#define LAB_MAX_IFACES 64       /* per node: one per topology it is in */
#define LAB_MAX_SCENARIOS 32
#define LAB_MAX_PROGRAMS 64     /* per scenario */
#define LAB_MAX_ARGS 64         /* per program, the program name included */
#define LAB_MAX_RULES 1024      /* per filter */
#define LAB_TIMEOUT_DEFAULT 60  /* seconds, per scenario */
#define LAB_POLL_DEFAULT_NS 50000u   /* [lab] poll = 50us (docs/performance.md) */
#define LAB_POLL_MAX_NS 20000000u    /* ... at most 20ms (docs/performance.md, 8d) */
#define LAB_TIMEOUT_MAX 3600
#define LAB_IFNAME_MAX 16       /* IFNAMSIZ */
#define LAB_MSG_MAX 256
#define LAB_FILE_MAX (1u << 20) /* bytes of a lab or rules file: 1 MiB */
#define LAB_LINE_MAX 198        /* characters per line: inih's 200-byte buffer */
#define LAB_VALUE_MAX 4096      /* characters of a value with its continuation lines */
#define LAB_MAC_STRLEN 18       /* "02:00:00:00:aa:01" and its NUL */
#define LAB_NETNS_MAX (2 * LAB_NAME_MAX + 2) /* "<lab>.<guest>" and its NUL */

/* A lab-file mistake.  file is the filename given to lab_parse (borrowed,
 * may be NULL); line is 1-based, 0 when the mistake belongs to no line
 * (e.g. "no guests"); msg says what is wrong, without the "file:line: ". */
struct lab_error {
	const char *file;
	unsigned line;
	char msg[LAB_MSG_MAX];
};

enum lab_node_kind { LAB_GUEST, LAB_FILTER, LAB_SWITCH };
enum lab_policy { LAB_POLICY_DROP, LAB_POLICY_ALLOW };

/* One NIC of a node: the node's attachment to one topology. */
struct lab_iface {
	char name[LAB_IFNAME_MAX];  /* "eth0", "eth1", ... in topology file order */
	unsigned topology;          /* index into lab->topologies */
	uint8_t mac[6];             /* guests: explicit or derived; filters, switches: zero */
	bool has_ip4;
	uint32_t ip4;               /* host byte order */
	unsigned prefix4;           /* 1..32 */
	bool has_ip6;
	uint8_t ip6[16];            /* network byte order */
	unsigned prefix6;           /* 1..128 */
	unsigned mac_line;          /* where set; 0 = derived */
	unsigned ip4_line, ip6_line; /* where set; 0 = none, or (has_ip*) derived
				      * from the topology's subnet */
	unsigned *links;            /* indices into lab->links, in link order */
	unsigned n_links;
};

struct lab_rule {
	char *text;     /* raw, unparsed: lib/filter parses it */
	unsigned line;
};

struct lab_filter {
	enum lab_policy policy;     /* default LAB_POLICY_DROP */
	bool stateful;              /* default false */
	struct lab_rule *rules;     /* file order */
	unsigned n_rules;
	char *rules_file;           /* "rules = FILE" as written, or NULL */
	unsigned rules_file_line;
};

/* What a guest is: a network namespace (the default) or a QEMU virtual
 * machine whose virtio-net NICs its vmm serves over vhost-user. */
enum lab_guest_kind { LAB_KIND_NETNS, LAB_KIND_QEMU };
#define LAB_MEMORY_DEFAULT 256u     /* MiB, per VM */
#define LAB_MEMORY_MIN 64u
#define LAB_MEMORY_MAX 16384u
#define LAB_CPUS_MAX 16u

struct lab_node {
	enum lab_node_kind kind;
	char name[LAB_NAME_MAX + 1];
	unsigned line;              /* of its [vm NAME] / [filter NAME] / [switch NAME]
				     * (of its [vm g1..g9] for a range's guests) */
	enum lab_guest_kind guest_kind;   /* guests: own "kind", else [lab]'s */
	unsigned memory_mib;        /* kind qemu: "memory", default 256 */
	unsigned cpus;              /* kind qemu: "cpus", default 1 */
	unsigned kind_line;         /* where "kind" was set; 0 = the lab's */
	unsigned vm_key_line;       /* first "memory" or "cpus", 0 = none */
	struct lab_iface *ifaces;   /* ifaces[i].name is "eth<i>" */
	unsigned n_ifaces;
	struct lab_filter filter;   /* LAB_FILTER only */
};

/* One end of a link: ifaces[iface] of nodes[node], listed at line. */
struct lab_end {
	unsigned node, iface, line;
};

/* A point-to-point link between two nodes that list each other in one
 * topology.  end[0] is the node whose line comes first in the file. */
struct lab_link {
	struct lab_end end[2];
	unsigned topology;
	/* impair[s]: what frames sent by end[s] meet ([link] sections): two
	 * of them, all zero when unimpaired (then one pair all such links
	 * share: read-only; a lab of a thousand links, parsed by every vmm,
	 * saves 200 bytes a link) */
	struct imp_params *impair;
	unsigned impair_line;       /* of its [link] section, 0 = none */
};

struct lab_topology {
	char name[LAB_NAME_MAX + 1];
	unsigned line;
	/* "subnet = ": guests without an IPv4 address get subnet4 + k */
	uint32_t subnet4;           /* host byte order, the network address */
	unsigned prefix4;           /* 1..30 */
	unsigned subnet4_line;      /* 0 = no subnet */
	uint8_t subnet6[16];        /* "subnet6 = ", network byte order */
	unsigned prefix6;           /* 1..127 */
	unsigned subnet6_line;      /* 0 = no subnet6 */
};

/* "GUEST = PROGRAM ARG ...": argv is NULL-terminated, argv[0] the program.
 * Arguments keep their {GUEST} placeholders; see lab_expand_arg(). */
struct lab_program {
	unsigned node;  /* a LAB_GUEST */
	char **argv;
	unsigned argc;
	unsigned line;
};

/* "at = TIME COMMAND ...": a fault at a time from the scenario's start.
 * The command is a runtime command without its lab (lab_fault_parse). */
struct lab_event {
	uint64_t at_ns;
	unsigned line;
	char **argv;                /* NULL-terminated */
	unsigned argc;
};

struct lab_scenario {
	char name[LAB_NAME_MAX + 1];
	unsigned line;
	unsigned timeout_s;
	struct lab_program *programs;   /* start order = file order */
	unsigned n_programs;
	struct lab_event *events;       /* time order (stable: file order at one time) */
	unsigned n_events;
};

/* lib/lab's own name index (open addressing): slot[] holds index + 1, 0 is
 * empty; cap is a power of two, 0 when there is no index. */
struct lab_names {
	unsigned *slot;
	unsigned cap, n;
};

/* All arrays are in file order; everything is owned by the struct lab. */
struct lab {
	char name[LAB_NAME_MAX + 1];
	unsigned name_line;             /* 0 if derived from the file name */
	enum lab_guest_kind default_kind;   /* [lab] kind, default netns */
	bool has_seed;                  /* [lab] seed: impairments repeat exactly */
	uint64_t seed;
	uint64_t poll_ns;               /* [lab] poll: how long a vmm looks for frames
					   before it sleeps (LAB_POLL_DEFAULT_NS) */
	struct lab_node *nodes;         /* guests, filters and switches */
	unsigned n_nodes;
	struct lab_names node_names;    /* for lab_node_find: filled by lab_parse;
					 * a lab made by hand (cap 0) is searched */
	struct lab_topology *topologies;
	unsigned n_topologies;
	struct lab_link *links;
	unsigned n_links;
	struct lab_scenario *scenarios;
	unsigned n_scenarios;
};

/* Parse and validate a lab file held in text[0..len) (need not be NUL
 * terminated; len at most LAB_FILE_MAX).  filename is only used for the default lab name (its base
 * name without extension) and is stored, borrowed, in err->file.
 * Returns 0 and *out (free with lab_free), or:
 *   -EINVAL  a lab-file mistake, described in *err (the CLI exits 2)
 *   -ENOMEM  out of memory (err->msg says so, line 0)
 * err may be NULL. */
int lab_parse(const char *text, size_t len, const char *filename,
	      struct lab **out, struct lab_error *err);

void lab_free(struct lab *lab);

/* "file:line: msg" ("file: msg" for line 0) into buf, snprintf-style:
 * returns the length the full text needs.  file and msg are escaped as by
 * lab_escape (msg already is when lab_parse or lab_parse_rules made it). */
int lab_error_format(const struct lab_error *err, char *buf, size_t size);

/* Untrusted text s[0..len) made safe to echo, into buf (NUL-terminated
 * when size > 0; buf may be NULL when size is 0): printable ASCII and
 * well-formed UTF-8 stay as they are; every other byte -- control bytes,
 * DEL, bytes of malformed UTF-8, and the bytes of C1 controls, U+2028/9 and
 * the bidirectional controls -- becomes "\xNN".  A character or an escape is
 * never cut.  snprintf-style: returns the length the whole text needs.
 * Every lab_error message that quotes the file has been through it. */
int lab_escape(const char *s, size_t len, char *buf, size_t size);

/* Lookups: an index (>= 0) or -ENOENT.  lab_node_find is O(1) on a lab
 * from lab_parse (a hash of the names), linear on one made by hand. */
int lab_node_find(const struct lab *lab, const char *name);
int lab_topology_find(const struct lab *lab, const char *name);
int lab_scenario_find(const struct lab *lab, const char *name);
int lab_first_guest(const struct lab *lab);
/* Index into node->ifaces of the node's interface in topology, or -ENOENT. */
int lab_iface_find(const struct lab_node *node, unsigned topology);

/* Which end of links[link] is interface iface of node: 0 or 1, or -ENOENT
 * when it is neither (the one "which side of this link am I"). */
int lab_link_side(const struct lab *lab, unsigned link, unsigned node, unsigned iface);

/* How many links a node's interfaces have in all. */
unsigned lab_node_links(const struct lab_node *node);

/* "guest", "filter" or "switch" (for messages). */
const char *lab_kind_name(enum lab_node_kind kind);

/* A guest's first IPv4 address (of its lowest-numbered interface that has
 * one): 0, -ENOENT (none, or a filter or switch) or -EINVAL (bad node). */
int lab_guest_ip4(const struct lab *lab, unsigned node, uint32_t *ip4);

/* The switching view.  The MACs a frame may be sent to through links[link],
 * seen from its end from_side (0 or 1): the far guest interface's MAC, or,
 * when the far end is a filter or a switch, the MAC of every guest
 * interface linked to it (in the link's topology) except the asking end
 * itself.  O(links of the far end).
 * Stores up to max of them in macs and the full count in *n; returns 0,
 * -ENOSPC if max was too small (*n says how many are needed), or -EINVAL. */
int lab_link_macs(const struct lab *lab, unsigned link, unsigned from_side,
		  uint8_t (*macs)[6], size_t max, size_t *n);

/* Resolve the {GUEST} placeholders of one program argument into buf: each
 * becomes "127.0.0.1" when loopback (all programs in one guest), else the
 * guest's first IPv4 address.  0, -ENOSPC (buf too small) or -EINVAL
 * (placeholder not valid for this lab; lab_parse has already rejected
 * those in its scenarios). */
int lab_expand_arg(const struct lab *lab, const char *arg, bool loopback,
		   char *buf, size_t size);

/* A filter's rules file ("rules = FILE"), text[0..len): one rule per line
 * in lib/filter's grammar, blank and '#'/';' comment lines skipped (at most
 * LAB_FILE_MAX bytes, lines of at most 511 characters).  Each
 * rule is checked; *rules (free with lab_rules_free) gets them with their
 * line numbers.  0, -EINVAL (err says where and why) or -ENOMEM.  A
 * filter's rules are its `rule =` lines before the `rules =` key, then the
 * file's, then the `rule =` lines after it. */
int lab_parse_rules(const char *text, size_t len, struct lab_rule **rules,
		    unsigned *n, struct lab_error *err);
void lab_rules_free(struct lab_rule *rules, unsigned n);

/* The rules filter f applies, in order (see above), given its file's rules:
 * out must have room for f->n_rules + n_file pointers.  Returns the count. */
unsigned lab_filter_rules(const struct lab_filter *f, const struct lab_rule *file,
			  unsigned n_file, const struct lab_rule **out);

/* Is name a valid lab, node, topology or scenario name: 1-LAB_NAME_MAX
 * characters of A-Z a-z 0-9 _ -, starting with a letter or digit?  (Such a
 * name is safe in a path and never holds a '.'.) */
bool lab_name_valid(const char *name);

/* A guest's network namespace is "<lab>.<guest>": no name holds a '.', so
 * two guests of two labs never share one.  lab_parse checks that every
 * guest's fits in LAB_NETNS_MAX.  Into buf (len bytes):
 * 0, -ENOSPC (len too small; LAB_NETNS_MAX always suffices), -ENOENT
 * (node is a filter or a switch: they have no namespace) or -EINVAL (bad node). */
int lab_netns_name(const struct lab *lab, unsigned node, char *buf, size_t len);
/* The same from the two names (e.g. a CLI's arguments): -EINVAL unless both
 * are valid names (lab_name_valid), so no argument makes another lab's
 * namespace, or a path. */
int lab_netns_name2(const char *lab, const char *guest, char *buf, size_t len);
/* The inverse: "<lab>.<guest>" into its two names, 0 or -EINVAL if netns is
 * not exactly two valid names joined by one '.' (e.g. a hand-edited state
 * file, or a namespace vqnet did not make). */
int lab_netns_split(const char *netns, char lab[LAB_NAME_MAX + 1],
		    char guest[LAB_NAME_MAX + 1]);

/* ---- faults: the runtime commands, and a scenario's timeline ----------- */

enum lab_fault_kind {
	LAB_FAULT_IMPAIR,     /* impair A B [--topology T] [--from A] SPEC... */
	LAB_FAULT_LINK,       /* link A B [--topology T] down|up */
	LAB_FAULT_PARTITION,  /* partition A B / C [/ D ...] */
	LAB_FAULT_HEAL,       /* heal */
	LAB_FAULT_STOP,       /* stop GUEST */
	LAB_FAULT_START,      /* start GUEST */
};

#define LAB_FAULT_SPEC_MAX 512

struct lab_fault {
	enum lab_fault_kind kind;
	unsigned link;             /* IMPAIR, LINK: index into lab->links */
	int from;                  /* IMPAIR: -1 both ways, else the end whose frames */
	char spec[LAB_FAULT_SPEC_MAX]; /* IMPAIR: the spec, checked (imp_parse_spec) */
	bool up;                   /* LINK */
	unsigned node;             /* STOP, START */
	unsigned *group;           /* PARTITION: per node, 0 unnamed, else its group */
	unsigned n_groups;
};

/* Parse and check one fault command (argv[0] is the command) against the
 * lab: nodes, links, the impairment spec.  0, or -EINVAL with err saying
 * what is wrong, or -ENOMEM.  lab_fault_free releases f's memory. */
int lab_fault_parse(const struct lab *lab, char *const *argv, unsigned argc,
		    struct lab_fault *f, char *err, size_t errlen);
void lab_fault_free(struct lab_fault *f);

/* The link between nodes a and b (in topology topo if >= 0): its index,
 * -ENOENT when there is none, -EEXIST when there are several (name the
 * topology).  O(links of the node with fewer) on a lab from lab_parse. */
int lab_link_between(const struct lab *lab, unsigned a, unsigned b, int topo);

/* A time: N[.N](ns|us|ms|s), at most 24 h.  0 or -EINVAL. */
int lab_parse_time(const char *s, uint64_t *ns);

/* "02:00:00:00:aa:01" (lowercase). */
void lab_mac_format(const uint8_t mac[6], char buf[LAB_MAC_STRLEN]);

#endif
