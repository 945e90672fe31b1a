/* SPDX-License-Identifier: MIT */
/* vqnet status / vqnet list: every lab under RUN_DIR, in whatever state. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"
#include "rundir.h"
#include "table.h"

/* Print a JSON value on one line. */
static void print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s)
		puts(s);
	free(s);
}

/* argv: [--json] [LAB]; returns EXIT_USAGE on anything else */
static int parse(int argc, char **argv, const char *cmd, bool *json, const char **only)
{
	*json = false;
	*only = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			*json = true;
		else if (!*only && argv[i][0] != '-' && only != NULL)
			*only = argv[i];
		else
			return cmd_usage(cmd);
	}
	if (*only && !lab_name_ok(*only)) {
		err_msg("bad lab name \"%s\"", *only);
		return EXIT_USAGE;
	}
	return 0;
}

int cmd_status(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		cmd_help("status", true);
		return 0;
	}
	bool json;
	const char *only;
	int rc = parse(argc, argv, "status", &json, &only);
	if (rc)
		return rc;
	char **names = NULL;
	char *one[1] = { (char *)only };
	int n = only ? 1 : lab_names(&names);
	json_t *all = json_array();
	unsigned shown = 0;
	for (int i = 0; i < n; i++) {
		const char *name = only ? one[0] : names[i];
		struct lab_probe p;
		lab_probe(name, &p);
		if (p.health == LAB_ABSENT && !only) {
			lab_probe_free(&p);
			continue;
		}
		/* the exit status speaks of the one lab asked about */
		if (only && p.health == LAB_ABSENT)
			rc = EXIT_NOT_UP;
		else if (only && p.health != LAB_UP)
			rc = EXIT_FAIL;
		json_t *st = lab_status(name, &p);
		lab_probe_free(&p);
		if (!st)
			continue;
		if (json) {
			json_array_append(all, st);
		} else if (p.health == LAB_ABSENT) {
			err_msg("lab %s is not up (see 'vqnet list')", name);
		} else {
			if (shown++)
				putchar('\n');
			report_status(stdout, st);
		}
		if (json && only)
			print_json(st);
		json_decref(st);
	}
	if (json && !only)
		print_json(all);
	else if (!json && !only && !shown)
		printf("no labs are up\n");
	json_decref(all);
	if (!only)
		lab_names_free(names, n);
	return rc;
}

/* One line's worth of a lab, for list. */
static json_t *brief(json_t *st)
{
	json_t *c = json_object_get(st, "counts"), *sup = json_object_get(st, "supervisor");
	json_t *o = json_pack("{s:s,s:s}", "lab", js(st, "lab", "?"), "state", js(st, "state", "?"));
	json_object_set_new(o, "guests", json_is_object(c) ? json_integer(jint(c, "guests", 0)) : json_null());
	json_object_set_new(o, "filters", json_is_object(c) ? json_integer(jint(c, "filters", 0)) : json_null());
	json_object_set_new(o, "links", json_is_object(c) ? json_integer(jint(c, "links", 0)) : json_null());
	json_object_set_new(o, "uptime_s", json_is_integer(json_object_get(st, "uptime_s"))
			    ? json_integer(jint(st, "uptime_s", 0)) : json_null());
	json_object_set_new(o, "supervisor_pid", json_is_object(sup) ? json_integer(jint(sup, "pid", 0)) : json_null());
	json_object_set(o, "hint", json_object_get(st, "hint") ? json_object_get(st, "hint") : json_null());
	return o;
}

int cmd_list(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		cmd_help("list", true);
		return 0;
	}
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json"))
			return cmd_usage("list");
		json = true;
	}
	char **names;
	int n = lab_names(&names);
	json_t *all = json_array();
	struct table t;
	table_init(&t, 6);
	table_row(&t, (const char *[]){ "LAB", "STATE", "GUESTS", "LINKS", "UPTIME", "" });
	for (int i = 0; i < n; i++) {
		struct lab_probe p;
		lab_probe(names[i], &p);
		enum lab_health h = p.health;
		json_t *st = h == LAB_ABSENT ? NULL : lab_status(names[i], &p);
		lab_probe_free(&p);
		if (!st)
			continue;
		json_t *b = brief(st);
		char g[16] = "-", l[16] = "-", up[32] = "-";
		if (json_is_integer(json_object_get(b, "guests")))
			snprintf(g, sizeof(g), "%lld", jint(b, "guests", 0));
		if (json_is_integer(json_object_get(b, "links")))
			snprintf(l, sizeof(l), "%lld", jint(b, "links", 0));
		long long s = jint(b, "uptime_s", -1);
		if (s >= 0)
			snprintf(up, sizeof(up), "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
		table_row(&t, (const char *[]){ names[i], js(b, "state", "?"), g, l, up, js(b, "hint", "") });
		json_array_append_new(all, b);
		json_decref(st);
	}
	if (json)
		print_json(all);
	else if (t.rows > 1)
		table_print(stdout, &t);
	else
		printf("no labs are up\n");
	table_free(&t);
	json_decref(all);
	lab_names_free(names, n);
	return 0;
}
