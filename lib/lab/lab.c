/* SPDX-License-Identifier: MIT */
/*
 * lab.c - parse a lab file into struct lab, in two stages.
 *
 * Stage 1 reads the text line by line.  inih splits "key = value" lines and
 * strips comments; our reader (read_line) numbers the lines, rejects what
 * inih would silently mangle (NUL bytes, overlong lines), removes leading
 * blanks so that inih never joins lines into a multi-line value, and parses
 * section headers itself, so that empty sections count and each has its
 * line.  Values are checked as they arrive; names that may be defined
 * further down are only recorded.
 *
 * Stage 2 (finish) resolves the cross-references once the whole file is
 * known: topology entries, interfaces, links, per-topology addresses,
 * duplicates, derived MACs, filter loops and scenario guests.  Sections may
 * therefore come in any order.
 *
 * The first mistake ends the parse.  The syntax is described in README.md.
 */
#include "lab.h"
#include "filter.h"
#include "vswitch.h"

#include <arpa/inet.h>  /* inet_pton/inet_ntop: string conversions only */
#include <assert.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static_assert(LAB_MAX_IFACES >= LAB_MAX_TOPOLOGIES, "one iface per topology");

enum section { SEC_NONE, SEC_LAB, SEC_VM, SEC_TOPOLOGY, SEC_SCENARIO, SEC_FILTER };
static const char *const section_kind[] = {
	[SEC_LAB] = "lab", [SEC_VM] = "vm", [SEC_TOPOLOGY] = "topology",
	[SEC_SCENARIO] = "scenario", [SEC_FILTER] = "filter",
};

enum field { F_MAC, F_IP4, F_IP6 };
static const char *const field_key[] = { "mac", "ip", "ip6" };
static const char *const field_what[] = { "MAC", "IP", "IPv6" };

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
	unsigned once[3];       /* ... line of each single-valued key seen */
	unsigned lab_line;
	struct addr_key *keys;
	unsigned n_keys;
	struct entry *entries;
	unsigned n_entries;
	struct prog_ref *refs;
	unsigned n_refs;
};

__attribute__((format(printf, 3, 4)))
static int fail_at(struct parser *ps, unsigned line, const char *fmt, ...)
{
	if (ps->rc)
		return ps->rc;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
	va_end(ap);
	for (char *c = ps->err->msg; *c; c++)  /* echoed bytes reach a terminal */
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	ps->err->line = line;
	return ps->rc = -EINVAL;
}
#define fail(ps, ...) fail_at((ps), (ps)->line, __VA_ARGS__)

static int nomem(struct parser *ps)
{
	if (!ps->rc) {
		snprintf(ps->err->msg, sizeof(ps->err->msg), "out of memory");
		ps->err->line = 0;
		ps->rc = -ENOMEM;
	}
	return ps->rc;
}

/* Make room for element n of *arrp, an array grown by doubling. */
static int grow(struct parser *ps, void *arrp, unsigned n, size_t size)
{
	void *arr;
	if (n & (n - 1))
		return 0;
	memcpy(&arr, arrp, sizeof(arr));
	if (!(arr = realloc(arr, (n ? 2 * (size_t)n : 1) * size)))
		return nomem(ps);
	memcpy(arrp, &arr, sizeof(arr));
	return 0;
}
#define GROW(ps, arr, n) grow((ps), &(arr), (n), sizeof(*(arr)))

/* inih's isspace, minus '\n' which never reaches it from read_line. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static bool name_ok(const char *s, size_t len)
{
	if (len < 1 || len > LAB_NAME_MAX || !is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

static int check_name(struct parser *ps, const char *s, size_t len)
{
	if (len > LAB_NAME_MAX)
		return fail(ps, "name \"%.*s\" is too long (max %d characters)",
			    (int)len, s, LAB_NAME_MAX);
	if (!name_ok(s, len))
		return fail(ps, "bad name \"%.*s\" (use A-Z a-z 0-9 _ -, starting with a letter or digit)",
			    (int)len, s);
	return 0;
}

/* Plain decimal in [min, max]. */
static bool parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return false;
	}
	if (v < min)
		return false;
	*out = (unsigned)v;
	return true;
}

static int parse_mac(struct parser *ps, const char *s, uint8_t mac[6])
{
	static const uint8_t zero[6];
	if (!vsw_mac_parse(s, strlen(s), mac))
		return fail(ps, "bad MAC \"%s\"", s);
	if (!memcmp(mac, zero, 6))
		return fail(ps, "all-zero MAC \"%s\"", s);
	if (mac[0] & 1)
		return fail(ps, "multicast MAC \"%s\"", s);
	return 0;
}

/* "ADDRESS/PREFIX", a unicast host address; addr in network order. */
static int parse_ip(struct parser *ps, const char *s, int af, uint8_t *addr,
		    unsigned *prefix)
{
	const char *what = af == AF_INET ? "IP" : "IPv6";
	unsigned max = af == AF_INET ? 32 : 128;
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : 0;
	if (!slash || n >= sizeof(buf))
		goto bad;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(af, buf, addr) != 1)
		goto bad;
	if (!parse_uint(slash + 1, 1, max, prefix))
		return fail(ps, "bad %s \"%s\" (prefix must be 1-%u)", what, s, max);
	if (af == AF_INET) {
		uint32_t a = (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 |
			     (uint32_t)addr[2] << 8 | addr[3];
		uint32_t host = *prefix == 32 ? 0 : 0xffffffffu >> *prefix;
		if (addr[0] == 0 || addr[0] == 127 || addr[0] >= 224)
			goto not_host;
		if (*prefix <= 30 && (a & host) == 0)
			return fail(ps, "bad IP \"%s\" (a network address)", s);
		if (*prefix <= 30 && (a & host) == host)
			return fail(ps, "bad IP \"%s\" (a broadcast address)", s);
	} else {
		static const uint8_t zero[16];
		if (addr[0] == 0xff || (!memcmp(addr, zero, 15) && addr[15] <= 1))
			goto not_host;
	}
	return 0;
bad:
	return fail(ps, "bad %s \"%s\" (expected %s/PREFIX)", what, s,
		    af == AF_INET ? "a.b.c.d" : "ADDRESS");
not_host:
	return fail(ps, "bad %s \"%s\" (not a unicast host address)", what, s);
}

/* ---- stage 1: sections ---- */

static int add_node(struct parser *ps, const char *name)
{
	struct lab *lab = ps->lab;
	int i = lab_node_find(lab, name);
	if (i >= 0) {
		const struct lab_node *o = &lab->nodes[i];
		if ((o->kind == LAB_GUEST) == (ps->sec == SEC_VM))
			return fail(ps, "duplicate %s (first at line %u)", ps->label, o->line);
		return fail(ps, "duplicate name \"%s\" (first at line %u)", name, o->line);
	}
	if (!strcmp(name, "timeout"))
		return fail(ps, "name \"timeout\" is reserved");
	if (lab->n_nodes == LAB_MAX_NODES)
		return fail(ps, "too many nodes (max %d)", LAB_MAX_NODES);
	if (GROW(ps, lab->nodes, lab->n_nodes))
		return ps->rc;
	struct lab_node *nd = &lab->nodes[lab->n_nodes];
	*nd = (struct lab_node){
		.kind = ps->sec == SEC_VM ? LAB_GUEST : LAB_FILTER,
		.line = ps->line,
	};
	strcpy(nd->name, name);
	ps->cur = lab->n_nodes++;
	ps->first = ps->n_keys;
	return 0;
}

static int add_topology(struct parser *ps, const char *name)
{
	struct lab *lab = ps->lab;
	int i = lab_topology_find(lab, name);
	if (i >= 0)
		return fail(ps, "duplicate %s (first at line %u)", ps->label,
			    lab->topologies[i].line);
	if (lab->n_topologies == LAB_MAX_TOPOLOGIES)
		return fail(ps, "too many topologies (max %d)", LAB_MAX_TOPOLOGIES);
	if (GROW(ps, lab->topologies, lab->n_topologies))
		return ps->rc;
	struct lab_topology *t = &lab->topologies[lab->n_topologies];
	*t = (struct lab_topology){ .line = ps->line };
	strcpy(t->name, name);
	ps->cur = lab->n_topologies++;
	ps->first = ps->n_entries;
	return 0;
}

static int add_scenario(struct parser *ps, const char *name)
{
	struct lab *lab = ps->lab;
	int i = lab_scenario_find(lab, name);
	if (i >= 0)
		return fail(ps, "duplicate %s (first at line %u)", ps->label,
			    lab->scenarios[i].line);
	if (lab->n_scenarios == LAB_MAX_SCENARIOS)
		return fail(ps, "too many scenarios (max %d)", LAB_MAX_SCENARIOS);
	if (GROW(ps, lab->scenarios, lab->n_scenarios))
		return ps->rc;
	struct lab_scenario *sc = &lab->scenarios[lab->n_scenarios];
	*sc = (struct lab_scenario){ .line = ps->line, .timeout_s = LAB_TIMEOUT_DEFAULT };
	strcpy(sc->name, name);
	ps->cur = lab->n_scenarios++;
	return 0;
}

/* "[KIND NAME]" or "[lab]", then nothing but an optional comment. */
static int section_begin(struct parser *ps, const char *s, size_t len)
{
	const char *end = s + len, *close = memchr(s, ']', len);
	if (!close)
		return fail(ps, "missing \"]\" in \"%.*s\"", (int)len, s);
	int hlen = (int)(close + 1 - s);
	const char *rest = close + 1;
	while (rest < end && is_blank(*rest))
		rest++;
	if (rest < end && *rest != ';' && *rest != '#')
		return fail(ps, "unexpected \"%.*s\" after \"%.*s\"",
			    (int)(end - rest), rest, hlen, s);

	const char *word[2] = { "", "" };
	size_t wlen[2] = { 0, 0 };
	unsigned nw = 0;
	for (const char *p = s + 1; p < close;) {
		if (is_blank(*p)) {
			p++;
			continue;
		}
		const char *q = p;
		while (q < close && !is_blank(*q))
			q++;
		if (nw < 2) {
			word[nw] = p;
			wlen[nw] = (size_t)(q - p);
		}
		nw++;
		p = q;
	}
	enum section sec = SEC_NONE;
	for (int k = SEC_LAB; k <= SEC_FILTER; k++)
		if (strlen(section_kind[k]) == wlen[0] &&
		    !memcmp(word[0], section_kind[k], wlen[0]))
			sec = (enum section)k;
	if (sec == SEC_NONE)
		return fail(ps, "unknown section \"%.*s\"", hlen, s);
	if (nw != (sec == SEC_LAB ? 1u : 2u))
		return fail(ps, "bad section \"%.*s\" (expected [%s%s])", hlen, s,
			    section_kind[sec], sec == SEC_LAB ? "" : " NAME");
	if (sec != SEC_LAB && check_name(ps, word[1], wlen[1]))
		return ps->rc;

	char name[LAB_NAME_MAX + 1];
	memcpy(name, word[1], wlen[1]);
	name[wlen[1]] = '\0';
	ps->sec = sec;
	memset(ps->once, 0, sizeof(ps->once));
	snprintf(ps->label, sizeof(ps->label), "[%s%s%s]", section_kind[sec],
		 sec == SEC_LAB ? "" : " ", name);
	switch (sec) {
	case SEC_LAB:
		if (ps->lab_line)
			return fail(ps, "duplicate [lab] (first at line %u)", ps->lab_line);
		ps->lab_line = ps->line;
		return 0;
	case SEC_VM:
	case SEC_FILTER:
		return add_node(ps, name);
	case SEC_TOPOLOGY:
		return add_topology(ps, name);
	default:
		return add_scenario(ps, name);
	}
}

/* inih's split: '=' or ':' before any ';' that follows a blank. */
static bool has_separator(const char *s, size_t len)
{
	bool was_blank = false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '=' || s[i] == ':')
			return true;
		if (s[i] == ';' && was_blank)
			return false;
		was_blank = is_blank(s[i]);
	}
	return false;
}

/* inih's fgets-style reader: one line per call, so ps->line numbers them. */
static char *read_line(char *buf, int num, void *stream)
{
	struct parser *ps = stream;
	if (ps->rc || ps->p >= ps->end)
		return NULL;
	const char *s = ps->p, *nl = memchr(s, '\n', (size_t)(ps->end - s));
	size_t len = nl ? (size_t)(nl - s) : (size_t)(ps->end - s);
	ps->p = nl ? nl + 1 : ps->end;
	ps->line++;
	if (len && s[len - 1] == '\r')
		len--;
	if (memchr(s, '\0', len)) {
		fail(ps, "NUL byte in line");
		return NULL;
	}
	/* inih would cut an overlong line and parse the rest as a new line */
	if (num < 3 || len > (size_t)num - 2) {
		fail(ps, "line too long (max %d characters)", num - 2);
		return NULL;
	}
	while (len && is_blank(*s))
		s++, len--;
	if (len && *s == '[') {
		if (section_begin(ps, s, len))
			return NULL;
		len = 0;        /* inih sees a blank line: sections are ours */
	} else if (len && *s != ';' && *s != '#' && !has_separator(s, len)) {
		fail(ps, "expected \"key = value\", not \"%.*s\"", (int)len, s);
		return NULL;
	}
	memcpy(buf, s, len);
	buf[len] = '\n';
	buf[len + 1] = '\0';
	return buf;
}

/* ---- stage 1: keys ---- */

static int unknown_key(struct parser *ps, const char *key)
{
	return fail(ps, "unknown key \"%s\" in %s", key, ps->label);
}

/* A key that may appear once per section; slot indexes ps->once. */
static int once(struct parser *ps, unsigned slot, const char *key)
{
	if (ps->once[slot])
		return fail(ps, "duplicate key \"%s\" in %s (first at line %u)",
			    key, ps->label, ps->once[slot]);
	ps->once[slot] = ps->line;
	return 0;
}

static int lab_key(struct parser *ps, const char *key, const char *value)
{
	if (strcmp(key, "name"))
		return unknown_key(ps, key);
	if (once(ps, 0, key) || check_name(ps, value, strlen(value)))
		return ps->rc;
	strcpy(ps->lab->name, value);
	ps->lab->name_line = ps->line;
	return 0;
}

/* mac, ip, ip6, each optionally ".TOPOLOGY". */
static int vm_key(struct parser *ps, const char *key, const char *value)
{
	const char *dot = strchr(key, '.');
	const char *topo = dot ? dot + 1 : "";
	size_t blen = dot ? (size_t)(dot - key) : strlen(key);
	int f = -1;
	for (int i = F_MAC; i <= F_IP6; i++)
		if (strlen(field_key[i]) == blen && !memcmp(key, field_key[i], blen))
			f = i;
	if (f < 0 || (dot && !name_ok(topo, strlen(topo))))
		return unknown_key(ps, key);
	for (unsigned i = ps->first; i < ps->n_keys; i++) {
		const struct addr_key *k = &ps->keys[i];
		if ((int)k->field == f && !strcmp(k->topo, topo))
			return fail(ps, "duplicate key \"%s\" in %s (first at line %u)",
				    key, ps->label, k->line);
	}
	if (ps->n_keys - ps->first >= 3 * (LAB_MAX_TOPOLOGIES + 1))
		return fail(ps, "too many keys in %s", ps->label);

	struct addr_key k = { .node = ps->cur, .line = ps->line, .field = (enum field)f };
	strcpy(k.topo, topo);
	if (f == F_MAC ? parse_mac(ps, value, k.addr)
		       : parse_ip(ps, value, f == F_IP4 ? AF_INET : AF_INET6,
				  k.addr, &k.prefix))
		return ps->rc;
	if (GROW(ps, ps->keys, ps->n_keys))
		return ps->rc;
	ps->keys[ps->n_keys++] = k;
	return 0;
}

/* "NODE = PEER PEER ..." */
static int topology_key(struct parser *ps, const char *key, const char *value)
{
	char peers[LAB_MAX_NODES][LAB_NAME_MAX + 1];
	unsigned n = 0;
	if (check_name(ps, key, strlen(key)))
		return ps->rc;
	for (unsigned i = ps->first; i < ps->n_entries; i++)
		if (!strcmp(ps->entries[i].name, key))
			return fail(ps, "duplicate entry \"%s\" in %s (first at line %u)",
				    key, ps->label, ps->entries[i].line);
	if (ps->n_entries - ps->first >= LAB_MAX_NODES)
		return fail(ps, "too many entries in %s (max %d)", ps->label, LAB_MAX_NODES);

	for (const char *p = value; *p;) {
		if (is_blank(*p)) {
			p++;
			continue;
		}
		const char *q = p;
		while (*q && !is_blank(*q))
			q++;
		size_t len = (size_t)(q - p);
		if (check_name(ps, p, len))
			return ps->rc;
		if (strlen(key) == len && !memcmp(key, p, len))
			return fail(ps, "%s lists itself", key);
		for (unsigned i = 0; i < n; i++)
			if (strlen(peers[i]) == len && !memcmp(peers[i], p, len))
				return fail(ps, "%s lists %s twice", key, peers[i]);
		if (n == LAB_MAX_NODES - 1)
			return fail(ps, "too many peers (max %d)", LAB_MAX_NODES - 1);
		memcpy(peers[n], p, len);
		peers[n++][len] = '\0';
		p = q;
	}

	if (GROW(ps, ps->entries, ps->n_entries))
		return ps->rc;
	struct entry *e = &ps->entries[ps->n_entries];
	*e = (struct entry){ .topo = ps->cur, .line = ps->line, .n_peers = n };
	strcpy(e->name, key);
	e->peers = malloc(n * sizeof(*e->peers) + 1);
	e->peer_node = malloc(n * sizeof(*e->peer_node) + 1);
	ps->n_entries++;        /* counted now, so parser_free frees both */
	if (!e->peers || !e->peer_node)
		return nomem(ps);
	memcpy(e->peers, peers, n * sizeof(*e->peers));
	return 0;
}

/* Split a command line: blanks separate arguments; "..." groups one (it may
 * be empty), with \" and \\ as escapes inside.  *argvp is NULL-terminated. */
static int split_args(struct parser *ps, const char *s, char ***argvp,
		      unsigned *argcp)
{
	char *args[LAB_MAX_ARGS], **argv;
	unsigned argc = 0;
	char *buf = malloc(strlen(s) + 1); /* no argument is longer than s */
	int rc = 0;
	if (!buf)
		return nomem(ps);
	for (const char *p = s;;) {
		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		if (argc == LAB_MAX_ARGS) {
			rc = fail(ps, "too many arguments (max %d)", LAB_MAX_ARGS);
			goto out;
		}
		size_t n = 0;
		while (*p && !is_blank(*p)) {
			if (*p != '"') {
				buf[n++] = *p++;
				continue;
			}
			const char *open = p++;
			while (*p && *p != '"') {
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				buf[n++] = *p++;
			}
			if (!*p) {
				rc = fail(ps, "unterminated quote at %s", open);
				goto out;
			}
			p++;
		}
		buf[n] = '\0';
		if (!(args[argc] = strdup(buf))) {
			rc = nomem(ps);
			goto out;
		}
		argc++;
	}
	if (!(argv = malloc((argc + 1) * sizeof(*argv)))) {
		rc = nomem(ps);
		goto out;
	}
	memcpy(argv, args, argc * sizeof(*argv));
	argv[argc] = NULL;
	*argvp = argv;
	*argcp = argc;
	argc = 0;       /* the strings belong to argv now */
out:
	while (argc)
		free(args[--argc]);
	free(buf);
	return rc;
}

static void free_argv(char **argv)
{
	for (char **a = argv; a && *a; a++)
		free(*a);
	free(argv);
}

/* "timeout = SECONDS" or "GUEST = PROGRAM ARG ..." */
static int scenario_key(struct parser *ps, const char *key, const char *value)
{
	struct lab_scenario *sc = &ps->lab->scenarios[ps->cur];
	if (!strcmp(key, "timeout")) {
		if (once(ps, 0, key))
			return ps->rc;
		if (!parse_uint(value, 1, LAB_TIMEOUT_MAX, &sc->timeout_s))
			return fail(ps, "bad timeout \"%s\" (1-%d seconds)", value,
				    LAB_TIMEOUT_MAX);
		return 0;
	}
	if (!name_ok(key, strlen(key)))
		return unknown_key(ps, key);
	if (sc->n_programs == LAB_MAX_PROGRAMS)
		return fail(ps, "too many programs in %s (max %d)", ps->label,
			    LAB_MAX_PROGRAMS);

	char **argv;
	unsigned argc;
	if (split_args(ps, value, &argv, &argc))
		return ps->rc;
	if (!argc) {
		free_argv(argv);
		return fail(ps, "missing program for %s", key);
	}
	if (GROW(ps, sc->programs, sc->n_programs) || GROW(ps, ps->refs, ps->n_refs)) {
		free_argv(argv);
		return ps->rc;
	}
	struct prog_ref *r = &ps->refs[ps->n_refs++];
	*r = (struct prog_ref){ .scenario = ps->cur, .program = sc->n_programs };
	strcpy(r->guest, key);
	sc->programs[sc->n_programs++] = (struct lab_program){
		.argv = argv, .argc = argc, .line = ps->line,
	};
	return 0;
}

static int filter_key(struct parser *ps, const char *key, const char *value)
{
	struct lab_node *nd = &ps->lab->nodes[ps->cur];
	struct lab_filter *f = &nd->filter;
	if (!strcmp(key, "policy")) {
		if (once(ps, 0, key))
			return ps->rc;
		if (!strcmp(value, "allow"))
			f->policy = LAB_POLICY_ALLOW;
		else if (!strcmp(value, "drop"))
			f->policy = LAB_POLICY_DROP;
		else
			return fail(ps, "bad policy \"%s\" (allow or drop)", value);
	} else if (!strcmp(key, "stateful")) {
		if (once(ps, 1, key))
			return ps->rc;
		if (strcmp(value, "yes") && strcmp(value, "no"))
			return fail(ps, "bad stateful \"%s\" (yes or no)", value);
		f->stateful = !strcmp(value, "yes");
	} else if (!strcmp(key, "rule")) {
		struct flt_rule rule;
		char why[FLT_ERR_MAX];
		int err = flt_rule_parse(value, &rule, why, sizeof(why));
		if (err == -ENODATA)
			return fail(ps, "empty rule");
		if (err)
			return fail(ps, "bad rule: %s", why);
		if (f->n_rules == LAB_MAX_RULES)
			return fail(ps, "too many rules in %s (max %d)", ps->label,
				    LAB_MAX_RULES);
		if (GROW(ps, f->rules, f->n_rules))
			return ps->rc;
		struct lab_rule *r = &f->rules[f->n_rules];
		if (!(r->text = strdup(value)))
			return nomem(ps);
		r->line = ps->line;
		f->n_rules++;
	} else if (!strcmp(key, "rules")) {
		if (once(ps, 2, key))
			return ps->rc;
		if (!*value)
			return fail(ps, "missing file name for \"rules\"");
		if (!(f->rules_file = strdup(value)))
			return nomem(ps);
		f->rules_file_line = ps->line;
	} else {
		return unknown_key(ps, key);
	}
	return 0;
}

/* inih's handler: nonzero to go on. */
static int on_key(void *user, const char *section, const char *key,
		  const char *value)
{
	struct parser *ps = user;
	(void)section;  /* read_line tracks sections, with their lines */
	if (!*key)
		fail(ps, "missing key before \"=\"");
	else if (ps->sec == SEC_NONE)
		fail(ps, "key \"%s\" outside any section", key);
	else if (ps->sec == SEC_LAB)
		lab_key(ps, key, value);
	else if (ps->sec == SEC_VM)
		vm_key(ps, key, value);
	else if (ps->sec == SEC_TOPOLOGY)
		topology_key(ps, key, value);
	else if (ps->sec == SEC_SCENARIO)
		scenario_key(ps, key, value);
	else
		filter_key(ps, key, value);
	return !ps->rc;
}

/* ---- stage 2: cross-references ---- */

static int name_from_file(struct parser *ps, const char *filename)
{
	const char *base = filename ? filename : "";
	const char *slash = strrchr(base, '/');
	if (slash)
		base = slash + 1;
	const char *dot = strrchr(base, '.');
	size_t len = dot && dot > base ? (size_t)(dot - base) : strlen(base);
	if (!name_ok(base, len))
		return fail_at(ps, 0, "no [lab] name, and the file name gives no valid one (\"%.*s\")",
			       (int)(len > 64 ? 64 : len), base);
	memcpy(ps->lab->name, base, len);
	ps->lab->name[len] = '\0';
	return 0;
}

/* The node's interface in topology t, added after its others if new:
 * topologies are visited in file order, so eth numbers follow it. */
static int add_iface(struct parser *ps, unsigned node, unsigned t)
{
	struct lab_node *nd = &ps->lab->nodes[node];
	int i = lab_iface_find(nd, t);
	if (i >= 0)
		return 0;
	if (GROW(ps, nd->ifaces, nd->n_ifaces))
		return ps->rc;
	struct lab_iface *it = &nd->ifaces[nd->n_ifaces];
	*it = (struct lab_iface){ .topology = t };
	snprintf(it->name, sizeof(it->name), "eth%u", nd->n_ifaces++);
	return 0;
}

/* A filter forwards between its links, so the guests it joins must have no
 * other path between them in that topology: broadcasts would arrive twice
 * and, through two filters, loop. */
static int check_loops(struct parser *ps, bool lists[][LAB_MAX_NODES],
		       const int *entry_of)
{
	const struct lab *lab = ps->lab;
	unsigned char via[LAB_MAX_NODES][LAB_MAX_NODES] = { { 0 } };
	for (unsigned f = 0; f < lab->n_nodes; f++) {
		if (lab->nodes[f].kind != LAB_FILTER || entry_of[f] < 0)
			continue;
		unsigned fline = ps->entries[entry_of[f]].line;
		for (unsigned a = 0; a < lab->n_nodes; a++) {
			if (!lists[f][a])
				continue;
			for (unsigned b = a + 1; b < lab->n_nodes; b++) {
				if (!lists[f][b])
					continue;
				const char *an = lab->nodes[a].name, *bn = lab->nodes[b].name;
				if (lists[a][b])
					return fail_at(ps, ps->entries[entry_of[a]].line,
						       "%s reaches %s both directly and through %s (line %u)",
						       an, bn, lab->nodes[f].name, fline);
				if (via[a][b]) {
					unsigned g = via[a][b] - 1u;
					return fail_at(ps, fline,
						       "%s reaches %s through both %s (line %u) and %s",
						       an, bn, lab->nodes[g].name,
						       ps->entries[entry_of[g]].line,
						       lab->nodes[f].name);
				}
				via[a][b] = (unsigned char)(f + 1);
			}
		}
	}
	return 0;
}

/* Topology t's entries are entries[b..e): resolve them, give each node its
 * interface, and make a link of every pair that lists each other. */
static int build_topology(struct parser *ps, unsigned t, unsigned b, unsigned e)
{
	struct lab *lab = ps->lab;
	bool lists[LAB_MAX_NODES][LAB_MAX_NODES] = { { false } };
	int entry_of[LAB_MAX_NODES];
	for (unsigned n = 0; n < LAB_MAX_NODES; n++)
		entry_of[n] = -1;

	for (unsigned i = b; i < e; i++) {
		struct entry *en = &ps->entries[i];
		int n = lab_node_find(lab, en->name);
		if (n < 0)
			return fail_at(ps, en->line, "unknown node \"%s\" (not a [vm] or [filter])",
				       en->name);
		en->node = (unsigned)n;
		entry_of[n] = (int)i;
		for (unsigned k = 0; k < en->n_peers; k++) {
			int p = lab_node_find(lab, en->peers[k]);
			if (p < 0)
				return fail_at(ps, en->line, "unknown node \"%s\" (not a [vm] or [filter])",
					       en->peers[k]);
			en->peer_node[k] = (unsigned)p;
			lists[n][p] = true;
		}
	}
	for (unsigned i = b; i < e; i++) {
		const struct entry *en = &ps->entries[i];
		if (add_iface(ps, en->node, t))
			return ps->rc;
		for (unsigned k = 0; k < en->n_peers; k++)
			if (add_iface(ps, en->peer_node[k], t))
				return ps->rc;
	}
	for (unsigned i = b; i < e; i++) {
		const struct entry *en = &ps->entries[i];
		unsigned a = en->node;
		const char *an = lab->nodes[a].name;
		for (unsigned k = 0; k < en->n_peers; k++) {
			unsigned p = en->peer_node[k];
			const char *pn = lab->nodes[p].name;
			if (lab->nodes[a].kind == LAB_FILTER && lab->nodes[p].kind == LAB_FILTER)
				return fail_at(ps, en->line, "link between filters %s and %s", an, pn);
			if (entry_of[p] < 0)
				return fail_at(ps, en->line, "%s lists %s but %s has no line in [topology %s]",
					       an, pn, pn, lab->topologies[t].name);
			const struct entry *pe = &ps->entries[entry_of[p]];
			if (!lists[p][a])
				return fail_at(ps, en->line, "%s lists %s but %s (line %u) does not list %s",
					       an, pn, pn, pe->line, an);
			if (entry_of[p] < (int)i)
				continue;       /* made when p's line was visited */
			if (GROW(ps, lab->links, lab->n_links))
				return ps->rc;
			lab->links[lab->n_links++] = (struct lab_link){
				.end = {
					{ a, (unsigned)lab_iface_find(&lab->nodes[a], t), en->line },
					{ p, (unsigned)lab_iface_find(&lab->nodes[p], t), pe->line },
				},
				.topology = t,
			};
		}
	}
	return check_loops(ps, lists, entry_of);
}

static void get_addr(const struct lab_iface *it, enum field f, uint8_t a[16],
		     unsigned *prefix)
{
	memset(a, 0, 16);
	*prefix = 0;
	if (f == F_MAC) {
		memcpy(a, it->mac, 6);
	} else if (f == F_IP4) {
		for (int i = 0; i < 4; i++)
			a[i] = (uint8_t)(it->ip4 >> (24 - 8 * i));
		*prefix = it->prefix4;
	} else {
		memcpy(a, it->ip6, 16);
		*prefix = it->prefix6;
	}
}

static unsigned *addr_line(struct lab_iface *it, enum field f)
{
	return f == F_MAC ? &it->mac_line : f == F_IP4 ? &it->ip4_line : &it->ip6_line;
}

/* Put each [vm] address on its interface: plain keys on the first one,
 * ".TOPOLOGY" keys on the one in that topology. */
static int apply_keys(struct parser *ps)
{
	struct lab *lab = ps->lab;
	for (unsigned i = 0; i < ps->n_keys; i++) {
		const struct addr_key *k = &ps->keys[i];
		const char *key = field_key[k->field];
		struct lab_node *nd = &lab->nodes[k->node];
		int ifc = 0;
		if (!k->topo[0] && !nd->n_ifaces)
			return fail_at(ps, k->line, "%s is in no topology, so \"%s\" has no interface",
				       nd->name, key);
		if (k->topo[0]) {
			int t = lab_topology_find(lab, k->topo);
			if (t < 0)
				return fail_at(ps, k->line, "unknown topology \"%s\" in \"%s.%s\"",
					       k->topo, key, k->topo);
			if ((ifc = lab_iface_find(nd, (unsigned)t)) < 0)
				return fail_at(ps, k->line, "%s is not in topology %s",
					       nd->name, k->topo);
		}
		struct lab_iface *it = &nd->ifaces[ifc];
		unsigned *line = addr_line(it, k->field);
		uint8_t cur[16];
		unsigned prefix;
		get_addr(it, k->field, cur, &prefix);
		if (*line && (memcmp(cur, k->addr, 16) || prefix != k->prefix))
			return fail_at(ps, k->line, "conflicting %s for %s (first set at line %u)",
				       field_what[k->field], it->name, *line);
		if (*line)
			continue;       /* the same value twice ("mac" and "mac.lan") */
		*line = k->line;
		if (k->field == F_MAC) {
			memcpy(it->mac, k->addr, 6);
		} else if (k->field == F_IP4) {
			it->has_ip4 = true;
			it->ip4 = (uint32_t)k->addr[0] << 24 | (uint32_t)k->addr[1] << 16 |
				  (uint32_t)k->addr[2] << 8 | k->addr[3];
			it->prefix4 = k->prefix;
		} else {
			it->has_ip6 = true;
			memcpy(it->ip6, k->addr, 16);
			it->prefix6 = k->prefix;
		}
	}
	return 0;
}

struct addr_item {
	enum field field;
	unsigned topo, line;
	uint8_t addr[16];
};

/* Equal addresses adjacent, by line; IPs only clash within a topology. */
static int item_cmp(const void *x, const void *y)
{
	const struct addr_item *a = x, *b = y;
	if (a->field != b->field)
		return a->field < b->field ? -1 : 1;
	int c = memcmp(a->addr, b->addr, 16);
	if (c)
		return c;
	if (a->field != F_MAC && a->topo != b->topo)
		return a->topo < b->topo ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

/* Explicit MACs are unique in the lab (each vswitch keys on them), IPs in
 * each topology.  Reported at the earliest line that repeats one. */
static int check_unique(struct parser *ps)
{
	const struct lab *lab = ps->lab;
	size_t n = 0, total = 0;
	for (unsigned i = 0; i < lab->n_nodes; i++)
		total += lab->nodes[i].n_ifaces;
	struct addr_item *items = malloc(3 * total * sizeof(*items) + 1);
	if (!items)
		return nomem(ps);
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		for (unsigned j = 0; j < lab->nodes[i].n_ifaces; j++) {
			struct lab_iface *it = &lab->nodes[i].ifaces[j];
			for (int f = F_MAC; f <= F_IP6; f++) {
				struct addr_item *m = &items[n];
				if (!(m->line = *addr_line(it, (enum field)f)))
					continue;
				m->field = (enum field)f;
				m->topo = it->topology;
				get_addr(it, m->field, m->addr, &(unsigned){ 0 });
				n++;
			}
		}
	}
	qsort(items, n, sizeof(*items), item_cmp);
	const struct addr_item *dup = NULL;
	for (size_t i = 1; i < n; i++) {
		const struct addr_item *a = &items[i - 1], *b = &items[i];
		if (a->field == b->field && !memcmp(a->addr, b->addr, 16) &&
		    (a->field == F_MAC || a->topo == b->topo) &&
		    (!dup || b->line < dup[0].line))
			dup = b;
	}
	if (dup) {
		const struct addr_item *first = dup - 1;
		char text[INET6_ADDRSTRLEN], where[LAB_NAME_MAX + 16] = "";
		if (dup->field == F_MAC)
			lab_mac_format(dup->addr, text);
		else
			inet_ntop(dup->field == F_IP4 ? AF_INET : AF_INET6, dup->addr,
				  text, sizeof(text));
		if (first->topo == dup->topo)
			snprintf(where, sizeof(where), " in topology %s",
				 lab->topologies[dup->topo].name);
		fail_at(ps, dup->line, "duplicate %s %s%s (first at line %u)",
			field_what[dup->field], text, where, first->line);
	}
	free(items);
	return ps->rc;
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
	do {    /* the NUL too, as a separator */
		h ^= (uint8_t)*s;
		h *= 0x100000001b3u;
	} while (*s++);
	return h;
}

static bool mac_taken(uint8_t (*taken)[6], size_t n, const uint8_t mac[6])
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(taken[i], mac, 6))
			return true;
	return false;
}

/* A guest interface without a MAC gets 02:xx:xx:xx:xx:xx (locally
 * administered, unicast) from a hash of lab, guest and topology names;
 * while that clashes with a MAC already taken, it steps to the next value.
 * Explicit MACs are taken first, so they win whatever the file order. */
static int derive_macs(struct parser *ps)
{
	struct lab *lab = ps->lab;
	size_t n = 0, total = 0;
	for (unsigned i = 0; i < lab->n_nodes; i++)
		total += lab->nodes[i].n_ifaces;
	uint8_t (*taken)[6] = malloc(total * sizeof(*taken) + 1);
	if (!taken)
		return nomem(ps);
	for (unsigned i = 0; i < lab->n_nodes; i++)
		for (unsigned j = 0; j < lab->nodes[i].n_ifaces; j++)
			if (lab->nodes[i].ifaces[j].mac_line)
				memcpy(taken[n++], lab->nodes[i].ifaces[j].mac, 6);
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct lab_node *nd = &lab->nodes[i];
		if (nd->kind != LAB_GUEST)
			continue;
		for (unsigned j = 0; j < nd->n_ifaces; j++) {
			struct lab_iface *it = &nd->ifaces[j];
			if (it->mac_line)
				continue;
			uint64_t h = fnv1a(0xcbf29ce484222325u, lab->name);
			h = fnv1a(h, nd->name);
			h = fnv1a(h, lab->topologies[it->topology].name);
			uint64_t v = (h ^ h >> 40) & 0xffffffffffu;
			for (;; v = (v + 1) & 0xffffffffffu) {
				for (int b = 0; b < 5; b++)
					it->mac[1 + b] = (uint8_t)(v >> (32 - 8 * b));
				it->mac[0] = 0x02;
				if (!mac_taken(taken, n, it->mac))
					break;
			}
			memcpy(taken[n++], it->mac, 6);
		}
	}
	free(taken);
	return 0;
}

/* The next "{NAME}" in s: 1 (and *name, *len), 0 if none, -1 if the braces
 * do not pair up. */
static int next_placeholder(const char *s, const char **name, size_t *len)
{
	const char *open = strpbrk(s, "{}");
	if (!open)
		return 0;
	const char *close = *open == '{' ? strpbrk(open + 1, "{}") : NULL;
	if (!close || *close == '{')
		return -1;
	*name = open + 1;
	*len = (size_t)(close - open - 1);
	return 1;
}

/* The node a placeholder names, or -ENOENT. */
static int placeholder_node(const struct lab *lab, const char *name, size_t len)
{
	char buf[LAB_NAME_MAX + 1];
	if (len > LAB_NAME_MAX)
		return -ENOENT;
	memcpy(buf, name, len);
	buf[len] = '\0';
	return lab_node_find(lab, buf);
}

static int check_arg(struct parser *ps, const char *arg, unsigned line)
{
	const char *name;
	size_t len;
	int r;
	for (const char *p = arg; (r = next_placeholder(p, &name, &len)) > 0;
	     p = name + len + 1) {
		int n = placeholder_node(ps->lab, name, len);
		uint32_t ip;
		int l = (int)(len > 64 ? 64 : len);
		if (n < 0)
			return fail_at(ps, line, "placeholder {%.*s} names no guest", l, name);
		if (ps->lab->nodes[n].kind != LAB_GUEST)
			return fail_at(ps, line, "placeholder {%.*s} names a filter, not a guest",
				       l, name);
		if (lab_guest_ip4(ps->lab, (unsigned)n, &ip))
			return fail_at(ps, line, "placeholder {%.*s}: %.*s has no IPv4 address",
				       l, name, l, name);
	}
	if (r < 0)
		return fail_at(ps, line, "unbalanced braces in \"%s\"", arg);
	return 0;
}

static int check_scenarios(struct parser *ps)
{
	struct lab *lab = ps->lab;
	for (unsigned i = 0; i < lab->n_scenarios; i++)
		if (!lab->scenarios[i].n_programs)
			return fail_at(ps, lab->scenarios[i].line, "[scenario %s] runs no program",
				       lab->scenarios[i].name);
	for (unsigned i = 0; i < ps->n_refs; i++) {
		const struct prog_ref *r = &ps->refs[i];
		struct lab_scenario *sc = &lab->scenarios[r->scenario];
		struct lab_program *pg = &sc->programs[r->program];
		int n = lab_node_find(lab, r->guest);
		if (n < 0)
			return fail_at(ps, pg->line, "unknown guest \"%s\" in [scenario %s]",
				       r->guest, sc->name);
		if (lab->nodes[n].kind != LAB_GUEST)
			return fail_at(ps, pg->line, "%s is a filter; only guests run programs",
				       r->guest);
		pg->node = (unsigned)n;
		for (unsigned a = 0; a < pg->argc; a++)
			if (check_arg(ps, pg->argv[a], pg->line))
				return ps->rc;
	}
	return 0;
}

/* Give every interface the list of its links. */
static int index_links(struct parser *ps)
{
	struct lab *lab = ps->lab;
	for (unsigned l = 0; l < lab->n_links; l++)
		for (int s = 0; s < 2; s++) {
			const struct lab_end *end = &lab->links[l].end[s];
			lab->nodes[end->node].ifaces[end->iface].n_links++;
		}
	for (unsigned i = 0; i < lab->n_nodes; i++)
		for (unsigned j = 0; j < lab->nodes[i].n_ifaces; j++) {
			struct lab_iface *it = &lab->nodes[i].ifaces[j];
			if (!(it->links = malloc(it->n_links * sizeof(*it->links) + 1)))
				return nomem(ps);
			it->n_links = 0;
		}
	for (unsigned l = 0; l < lab->n_links; l++)
		for (int s = 0; s < 2; s++) {
			const struct lab_end *end = &lab->links[l].end[s];
			struct lab_iface *it = &lab->nodes[end->node].ifaces[end->iface];
			it->links[it->n_links++] = l;
		}
	return 0;
}

static int finish(struct parser *ps, const char *filename)
{
	struct lab *lab = ps->lab;
	if (!lab->name_line && name_from_file(ps, filename))
		return ps->rc;
	if (lab_first_guest(lab) < 0)
		return fail_at(ps, 0, "no guests (a lab needs a [vm NAME] section)");
	/* a topology's entries are contiguous, topologies in file order */
	for (unsigned t = 0, b = 0; t < lab->n_topologies; t++) {
		unsigned e = b;
		while (e < ps->n_entries && ps->entries[e].topo == t)
			e++;
		if (build_topology(ps, t, b, e))
			return ps->rc;
		b = e;
	}
	if (apply_keys(ps) || check_unique(ps) || derive_macs(ps) ||
	    check_scenarios(ps) || index_links(ps))
		return ps->rc;
	return 0;
}

static void parser_free(struct parser *ps)
{
	for (unsigned i = 0; i < ps->n_entries; i++) {
		free(ps->entries[i].peers);
		free(ps->entries[i].peer_node);
	}
	free(ps->entries);
	free(ps->keys);
	free(ps->refs);
}

int lab_parse(const char *text, size_t len, const char *filename,
	      struct lab **out, struct lab_error *err)
{
	struct lab_error ignored;
	if (!err)
		err = &ignored;
	*err = (struct lab_error){ .file = filename };
	if (!out || (!text && len)) {
		snprintf(err->msg, sizeof(err->msg), "invalid argument");
		return -EINVAL;
	}
	*out = NULL;
	if (!text)
		text = "";
	struct parser ps = { .err = err, .p = text, .end = text + len };
	if (!(ps.lab = calloc(1, sizeof(*ps.lab))))
		return nomem(&ps);
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		ps.p += 3;      /* UTF-8 BOM */

	int r = ini_parse_stream(read_line, &ps, on_key, &ps);
	if (!ps.rc && r > 0)    /* read_line pre-empts inih's own errors */
		fail_at(&ps, (unsigned)r, "syntax error");
	else if (!ps.rc && r < 0)
		nomem(&ps);
	if (!ps.rc)
		finish(&ps, filename);
	parser_free(&ps);
	if (ps.rc) {
		lab_free(ps.lab);
		return ps.rc;
	}
	*out = ps.lab;
	return 0;
}

void lab_free(struct lab *lab)
{
	if (!lab)
		return;
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct lab_node *nd = &lab->nodes[i];
		for (unsigned j = 0; j < nd->n_ifaces; j++)
			free(nd->ifaces[j].links);
		free(nd->ifaces);
		for (unsigned j = 0; j < nd->filter.n_rules; j++)
			free(nd->filter.rules[j].text);
		free(nd->filter.rules);
		free(nd->filter.rules_file);
	}
	for (unsigned i = 0; i < lab->n_scenarios; i++) {
		struct lab_scenario *sc = &lab->scenarios[i];
		for (unsigned j = 0; j < sc->n_programs; j++)
			free_argv(sc->programs[j].argv);
		free(sc->programs);
	}
	free(lab->nodes);
	free(lab->topologies);
	free(lab->links);
	free(lab->scenarios);
	free(lab);
}

static int append(char *buf, size_t size, size_t *n, const char *s, size_t len)
{
	if (len >= size - *n)
		return -ENOSPC;
	memcpy(buf + *n, s, len);
	*n += len;
	buf[*n] = '\0';
	return 0;
}

int lab_expand_arg(const struct lab *lab, const char *arg, bool loopback,
		   char *buf, size_t size)
{
	const char *name;
	size_t len, n = 0;
	int r;
	if (!lab || !arg || !buf || !size)
		return -EINVAL;
	buf[0] = '\0';
	const char *p = arg;
	for (; (r = next_placeholder(p, &name, &len)) > 0; p = name + len + 1) {
		int node = placeholder_node(lab, name, len);
		uint32_t ip = 0x7f000001u;
		char text[16];
		if (node < 0 || lab->nodes[node].kind != LAB_GUEST ||
		    (!loopback && lab_guest_ip4(lab, (unsigned)node, &ip)))
			return -EINVAL;
		int tl = snprintf(text, sizeof(text), "%u.%u.%u.%u", ip >> 24,
				  ip >> 16 & 255, ip >> 8 & 255, ip & 255);
		if (append(buf, size, &n, p, (size_t)(name - 1 - p)) ||
		    append(buf, size, &n, text, (size_t)tl))
			return -ENOSPC;
	}
	if (r < 0)
		return -EINVAL;
	return append(buf, size, &n, p, strlen(p));
}
