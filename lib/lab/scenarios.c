/* SPDX-License-Identifier: MIT */
/*
 * scenarios.c - [scenario] program lines: their arguments, and the {GUEST}
 * placeholders checked in stage 2 and expanded when a scenario runs.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Split a command line: blanks separate arguments; "..." groups one (it may
 * be empty), with \" and \\ as escapes inside; more than max is an error.
 * *argvp is NULL-terminated. */
int lp_split_args(struct parser *ps, const char *s, unsigned max, char ***argvp,
		  unsigned *argcp)
{
	unsigned argc = 0;
	char *buf = malloc(strlen(s) + 1); /* no argument is longer than s */
	/* each argument takes two characters at least, with what follows it */
	char **args = malloc((strlen(s) / 2 + 2) * sizeof(*args));
	int rc = 0;
	if (!buf || !args) {
		free(buf);
		free(args);
		return lp_nomem(ps);
	}
	for (const char *p = s;;) {
		while (lp_is_blank(*p))
			p++;
		if (!*p)
			break;
		if (argc == max) {
			rc = fail(ps, "too many arguments (max %u)", max);
			goto out;
		}
		size_t n = 0;
		while (*p && !lp_is_blank(*p)) {
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
			rc = lp_nomem(ps);
			goto out;
		}
		argc++;
	}
	args[argc] = NULL;
	*argvp = args;
	*argcp = argc;
	args = NULL;    /* the caller's now */
out:
	while (args && argc)
		free(args[--argc]);
	free(args);
	free(buf);
	return rc;
}

void lp_free_argv(char **argv)
{
	for (char **a = argv; a && *a; a++)
		free(*a);
	free(argv);
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
			return lp_fail_at(ps, line, "placeholder {%.*s} names no guest", l, name);
		if (ps->lab->nodes[n].kind != LAB_GUEST)
			return lp_fail_at(ps, line, "placeholder {%.*s} names a %s, not a guest",
				       l, name, lab_kind_name(ps->lab->nodes[n].kind));
		if (lab_guest_ip4(ps->lab, (unsigned)n, &ip))
			return lp_fail_at(ps, line, "placeholder {%.*s}: %.*s has no IPv4 address",
				       l, name, l, name);
	}
	if (r < 0)
		return lp_fail_at(ps, line, "unbalanced braces in \"%s\"", arg);
	return 0;
}

int lp_check_scenarios(struct parser *ps)
{
	struct lab *lab = ps->lab;
	for (unsigned i = 0; i < lab->n_scenarios; i++)
		if (!lab->scenarios[i].n_programs)
			return lp_fail_at(ps, lab->scenarios[i].line, "[scenario %s] runs no program",
				       lab->scenarios[i].name);
	for (unsigned i = 0; i < ps->n_refs; i++) {
		const struct prog_ref *r = &ps->refs[i];
		struct lab_scenario *sc = &lab->scenarios[r->scenario];
		struct lab_program *pg = &sc->programs[r->program];
		int n = lab_node_find(lab, r->guest);
		if (n < 0)
			return lp_fail_at(ps, pg->line, "unknown guest \"%s\" in [scenario %s]",
				       r->guest, sc->name);
		if (lab->nodes[n].kind != LAB_GUEST)
			return lp_fail_at(ps, pg->line, "%s is a %s; only guests run programs",
				       r->guest, lab_kind_name(lab->nodes[n].kind));
		pg->node = (unsigned)n;
		for (unsigned a = 0; a < pg->argc; a++)
			if (check_arg(ps, pg->argv[a], pg->line))
				return ps->rc;
	}
	return 0;
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
