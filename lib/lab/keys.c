/* SPDX-License-Identifier: MIT */
/*
 * keys.c - stage 1's keys: [lab] name, [vm] addresses, [scenario] timeout and
 * program lines, [filter] settings and rules, each checked as it arrives.
 * ([topology] entries are in topology.c.)
 */
#include "internal.h"
#include "filter.h"

#include <arpa/inet.h>  /* AF_INET, AF_INET6 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* "netns" or "qemu" */
static int parse_kind(struct parser *ps, const char *value, enum lab_guest_kind *kind)
{
	if (!strcmp(value, "netns"))
		*kind = LAB_KIND_NETNS;
	else if (!strcmp(value, "qemu"))
		*kind = LAB_KIND_QEMU;
	else
		return fail(ps, "bad kind \"%s\" (netns or qemu)", value);
	return 0;
}

/* "256M", "1G", or plain MiB: a VM's memory in MiB */
static int parse_memory(struct parser *ps, const char *value, unsigned *mib)
{
	char num[16];
	size_t n = strspn(value, "0123456789");
	const char *unit = value + n;
	unsigned v, scale = !strcmp(unit, "G") || !strcmp(unit, "GiB") ? 1024
			    : !*unit || !strcmp(unit, "M") || !strcmp(unit, "MiB") ? 1 : 0;
	if (!n || n >= sizeof(num) || !scale || (value[0] == '0' && n > 1))
		return fail(ps, "bad memory \"%s\" (e.g. 256M or 1G)", value);
	memcpy(num, value, n);
	num[n] = 0;
	if (!lp_parse_uint(num, 1, LAB_MEMORY_MAX, &v) || v * scale < LAB_MEMORY_MIN ||
	    v * scale > LAB_MEMORY_MAX)
		return fail(ps, "bad memory \"%s\" (%uM to %uG)", value, LAB_MEMORY_MIN,
			    LAB_MEMORY_MAX / 1024);
	*mib = v * scale;
	return 0;
}

static int lab_key(struct parser *ps, const char *key, const char *value)
{
	if (!strcmp(key, "seed")) {
		if (once(ps, 2, key))
			return ps->rc;
		/* decimal, 0 .. 2^64-1 */
		uint64_t v = 0;
		const char *c = value;
		for (; *c >= '0' && *c <= '9'; c++) {
			if (v > (UINT64_MAX - (uint64_t)(*c - '0')) / 10)
				break;
			v = v * 10 + (uint64_t)(*c - '0');
		}
		if (c == value || *c || (value[0] == '0' && value[1]))
			return fail(ps, "bad seed \"%s\" (a number, 0 to 18446744073709551615)", value);
		ps->lab->seed = v;
		ps->lab->has_seed = true;
		return 0;
	}
	if (!strcmp(key, "kind")) {
		if (once(ps, 1, key))
			return ps->rc;
		return parse_kind(ps, value, &ps->lab->default_kind);
	}
	if (!strcmp(key, "poll")) {
		uint64_t ns;
		if (once(ps, 3, key))
			return ps->rc;
		if (!strcmp(value, "0"))
			ns = 0;
		else if (lab_parse_time(value, &ns) || ns > LAB_POLL_MAX_NS)
			return fail(ps, "bad poll \"%s\" (a time, 0 to 20ms: e.g. 50us, or 0 to sleep at once)",
				    value);
		ps->lab->poll_ns = ns;
		return 0;
	}
	if (strcmp(key, "name"))
		return unknown_key(ps, key);
	if (once(ps, 0, key) || lp_check_name(ps, value, strlen(value)))
		return ps->rc;
	strcpy(ps->lab->name, value);
	ps->lab->name_line = ps->line;
	return 0;
}

/* kind, memory, cpus: what the guest is (each guest of a [vm] range).
 * Whether memory and cpus fit its kind is checked once [lab] kind is
 * known too (lab.c). */
static int vm_kind_key(struct parser *ps, const char *key, const char *value)
{
	struct lab_node *nd = &ps->lab->nodes[ps->cur];
	if (!strcmp(key, "kind")) {
		if (once(ps, 0, key) || parse_kind(ps, value, &nd->guest_kind))
			return ps->rc;
		nd->kind_line = ps->line;
	} else if (!strcmp(key, "memory")) {
		if (once(ps, 1, key) || parse_memory(ps, value, &nd->memory_mib))
			return ps->rc;
		nd->vm_key_line = nd->vm_key_line ? nd->vm_key_line : ps->line;
	} else {
		if (once(ps, 2, key))
			return ps->rc;
		if (!lp_parse_uint(value, 1, LAB_CPUS_MAX, &nd->cpus) || (value[0] == '0'))
			return fail(ps, "bad cpus \"%s\" (1-%u)", value, LAB_CPUS_MAX);
		nd->vm_key_line = nd->vm_key_line ? nd->vm_key_line : ps->line;
	}
	for (unsigned i = 1; i < ps->cur_count; i++) {
		struct lab_node *o = &ps->lab->nodes[ps->cur + i];
		o->guest_kind = nd->guest_kind;
		o->kind_line = nd->kind_line;
		o->memory_mib = nd->memory_mib;
		o->cpus = nd->cpus;
		o->vm_key_line = nd->vm_key_line;
	}
	return 0;
}

/* mac, ip, ip6, each optionally ".TOPOLOGY". */
static int vm_key(struct parser *ps, const char *key, const char *value)
{
	if (!strcmp(key, "kind") || !strcmp(key, "memory") || !strcmp(key, "cpus"))
		return vm_kind_key(ps, key, value);
	const char *dot = strchr(key, '.');
	const char *topo = dot ? dot + 1 : "";
	size_t blen = dot ? (size_t)(dot - key) : strlen(key);
	int f = -1;
	for (int i = F_MAC; i <= F_IP6; i++)
		if (strlen(lp_field_key[i]) == blen && !memcmp(key, lp_field_key[i], blen))
			f = i;
	if (f < 0 || (dot && !lp_name_ok(topo, strlen(topo))))
		return unknown_key(ps, key);
	if (ps->n_ranges && ps->ranges[ps->n_ranges - 1].first == ps->cur)
		return fail(ps, "\"%s\" in %s: one %s cannot serve a range of guests "
			    "(give their topology a subnet)", key, ps->label, lp_field_what[f]);
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
	if (f == F_MAC ? lp_parse_mac(ps, value, k.addr)
		       : lp_parse_ip(ps, value, f == F_IP4 ? AF_INET : AF_INET6,
				  k.addr, &k.prefix))
		return ps->rc;
	if (GROW(ps, ps->keys, ps->n_keys))
		return ps->rc;
	ps->keys[ps->n_keys++] = k;
	return 0;
}

/* "timeout = SECONDS" or "GUEST = PROGRAM ARG ..." */
static int scenario_key(struct parser *ps, const char *key, const char *value)
{
	struct lab_scenario *sc = &ps->lab->scenarios[ps->cur];
	if (!strcmp(key, "at"))
		return lp_event_key(ps, value);
	if (!strcmp(key, "timeout")) {
		if (once(ps, 0, key))
			return ps->rc;
		if (!lp_parse_uint(value, 1, LAB_TIMEOUT_MAX, &sc->timeout_s))
			return fail(ps, "bad timeout \"%s\" (1-%d seconds)", value,
				    LAB_TIMEOUT_MAX);
		return 0;
	}
	if (!lp_name_ok(key, strlen(key)))
		return unknown_key(ps, key);
	if (sc->n_programs == LAB_MAX_PROGRAMS)
		return fail(ps, "too many programs in %s (max %d)", ps->label,
			    LAB_MAX_PROGRAMS);

	char **argv;
	unsigned argc;
	if (lp_split_args(ps, value, LAB_MAX_ARGS, &argv, &argc))
		return ps->rc;
	if (!argc) {
		lp_free_argv(argv);
		return fail(ps, "missing program for %s", key);
	}
	if (GROW(ps, sc->programs, sc->n_programs) || GROW(ps, ps->refs, ps->n_refs)) {
		lp_free_argv(argv);
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
			return lp_nomem(ps);
		r->line = ps->line;
		f->n_rules++;
	} else if (!strcmp(key, "rules")) {
		if (once(ps, 2, key))
			return ps->rc;
		if (!*value)
			return fail(ps, "missing file name for \"rules\"");
		if (!(f->rules_file = strdup(value)))
			return lp_nomem(ps);
		f->rules_file_line = ps->line;
	} else {
		return unknown_key(ps, key);
	}
	return 0;
}

static int dispatch(struct parser *ps, const char *key, const char *value)
{
	switch (ps->sec) {
	case SEC_LAB:
		return lab_key(ps, key, value);
	case SEC_VM:
		return vm_key(ps, key, value);
	case SEC_TOPOLOGY:
		return lp_topology_key(ps, key, value);
	case SEC_SCENARIO:
		return scenario_key(ps, key, value);
	case SEC_LINK:
		return lp_link_key(ps, key, value);
	case SEC_SWITCH:
		return fail(ps, "unknown key \"%s\" in %s (a switch takes no keys)", key, ps->label);
	default:
		return filter_key(ps, key, value);
	}
}

/* The keys whose value is a list, which continuation lines may extend:
 * topology entries, program lines and rules. */
static bool list_key(const struct parser *ps, const char *key)
{
	return (ps->sec == SEC_TOPOLOGY && strcmp(key, "subnet") && strcmp(key, "subnet6")) ||
	       (ps->sec == SEC_SCENARIO && strcmp(key, "timeout")) ||
	       (ps->sec == SEC_FILTER && !strcmp(key, "rule"));
}

int lp_on_key(void *user, const char *section, const char *key,
	      const char *value)
{
	struct parser *ps = user;
	size_t klen = strlen(key), vlen = strlen(value);
	(void)section;  /* reader.c tracks sections, with their lines */
	if (lp_flush_key(ps))   /* a no-op: reader.c flushes before every key line */
		return 0;
	if (!*key) {
		fail(ps, "missing key before \"=\"");
	} else if (ps->sec == SEC_NONE) {
		fail(ps, "key \"%s\" outside any section", key);
	} else if (list_key(ps, key) && klen <= RANGE_TEXT_MAX && vlen <= LAB_VALUE_MAX) {
		memcpy(ps->value, value, vlen + 1);
		ps->value_len = vlen;
		ps->pending = true;
	} else {
		dispatch(ps, key, value);
	}
	if (!ps->rc) {
		ps->key_line = ps->line;
		snprintf(ps->key, sizeof(ps->key), "%s", key);
	}
	return !ps->rc;
}

int lp_flush_key(struct parser *ps)
{
	if (ps->rc || !ps->pending)
		return ps->rc;
	unsigned line = ps->line;
	ps->pending = false;
	ps->line = ps->key_line;        /* its mistakes are at the key's line */
	dispatch(ps, ps->key, ps->value);
	ps->line = line;
	return ps->rc;
}

int lp_continue_key(struct parser *ps, const char *s, size_t len)
{
	/* inih cuts an inline comment (';' after a blank) and trailing blanks */
	for (size_t i = 1; i < len; i++)
		if (s[i] == ';' && lp_is_blank(s[i - 1]))
			len = i;
	while (len && lp_is_blank(s[len - 1]))
		len--;
	if (!ps->pending)
		return fail(ps, "continuation line for \"%s\", which takes a single value (unindent it if it is a key)",
			    ps->key);
	size_t sep = ps->value_len ? 1 : 0;
	if (ps->value_len + sep + len > LAB_VALUE_MAX)
		return fail(ps, "value of \"%s\" too long with its continuation lines (max %d characters)",
			    ps->key, LAB_VALUE_MAX);
	if (sep)
		ps->value[ps->value_len++] = ' ';
	memcpy(ps->value + ps->value_len, s, len);
	ps->value_len += len;
	ps->value[ps->value_len] = '\0';
	return 0;
}
