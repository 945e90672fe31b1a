/* SPDX-License-Identifier: MIT */
/* vqnet - command dispatch and the helpers every command shares. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vqnet.h"

const char *prog = "vqnet";

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *description;
} commands[] = {
	{ "up", cmd_up, "FILE", "bring a lab up and print its interfaces" },
	{ "down", cmd_down, "LAB", "take a lab down, leaving nothing behind" },
	{ "status", cmd_status, "[--json] [LAB]", "show guests, interfaces, links and counters" },
	{ "list", cmd_list, "", "list the labs that are up" },
	{ "exec", cmd_exec, "LAB GUEST -- CMD [ARG...]", "run a command inside a guest" },
	{ "run", cmd_run, "[--keep] FILE", "bring a lab up, run its scenarios, take it down" },
};

static void usage(FILE *to)
{
	fprintf(to, "usage: %s COMMAND [ARGS]\n\n"
		"Private Ethernet networks between network-namespace guests, over\n"
		"shared-memory virtqueues, and the programs that run across them.\n\n", prog);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(to, "  %-7s %-26s %s\n", commands[i].name, commands[i].usage,
			commands[i].description);
	fprintf(to, "\n'%s COMMAND --help' for more.  Labs live under " RUN_DIR ";\n"
		"guests are namespaces LAB-GUEST (see 'ip netns list').  Needs root.\n", prog);
}

void err_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void labfile_error(const struct labfile *lf, unsigned line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (line)
		fprintf(stderr, "%s:%u: ", lf->path, line);
	else
		fprintf(stderr, "%s: ", lf->path);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

#define LABFILE_MAX (1u << 20)

/* A whole small regular file into a NUL-terminated buffer, or NULL with
 * *why saying what went wrong. */
static char *slurp(const char *path, size_t *len, const char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		*why = strerror(errno);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > LABFILE_MAX) {
		*why = S_ISREG(st.st_mode) ? "larger than 1 MiB" : "not a regular file";
		close(fd);
		return NULL;
	}
	char *text = malloc((size_t)st.st_size + 1);
	ssize_t n = text ? read(fd, text, (size_t)st.st_size) : -1;
	*why = strerror(text ? errno : ENOMEM);
	close(fd);
	if (n < 0) {
		free(text);
		return NULL;
	}
	text[n] = 0;
	*len = (size_t)n;
	return text;
}

/* Read and check each filter's rules file, named relative to the lab file. */
static int load_rules(struct labfile *lf)
{
	const struct lab *lab = lf->lab;
	lf->rules = calloc(lab->n_nodes, sizeof(*lf->rules));
	if (!lf->rules)
		return 1;
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		const struct lab_filter *f = &lab->nodes[i].filter;
		if (lab->nodes[i].kind != LAB_FILTER || !f->rules_file)
			continue;
		char path[PATH_MAX], dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", lf->path);
		int n = f->rules_file[0] == '/'
			? snprintf(path, sizeof(path), "%s", f->rules_file)
			: snprintf(path, sizeof(path), "%s/%s", dirname(dir), f->rules_file);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			labfile_error(lf, f->rules_file_line, "rules file name too long");
			return EXIT_USAGE;
		}
		struct rulesfile *rf = &lf->rules[i];
		const char *why;
		if (!(rf->text = slurp(path, &rf->len, &why))) {
			labfile_error(lf, f->rules_file_line, "cannot read rules file %s: %s", path, why);
			return EXIT_USAGE;
		}
		struct lab_rule *rules;
		unsigned nr;
		struct lab_error le;
		int err = lab_parse_rules(rf->text, rf->len, &rules, &nr, &le);
		if (err) {
			char text[PATH_MAX + LAB_MSG_MAX + 16];
			le.file = path;   /* the rules file's own file:line */
			lab_error_format(&le, text, sizeof(text));
			fprintf(stderr, "%s\n", text);
			return err == -EINVAL ? EXIT_USAGE : 1;
		}
		lab_rules_free(rules, nr);
		if (nr + f->n_rules > LAB_MAX_RULES) {
			labfile_error(lf, f->rules_file_line, "%s has more than %d rules with its file",
				      lab->nodes[i].name, LAB_MAX_RULES);
			return EXIT_USAGE;
		}
	}
	return 0;
}

int labfile_load(const char *path, struct labfile *lf)
{
	memset(lf, 0, sizeof(*lf));
	lf->path = path;
	const char *why;
	if (!(lf->text = slurp(path, &lf->len, &why))) {
		err_msg("%s: %s", path, why);
		return EXIT_USAGE;
	}
	struct lab_error le;
	int err = lab_parse(lf->text, lf->len, path, &lf->lab, &le);
	if (err) {
		labfile_error(lf, le.line, "%s", le.msg);
		labfile_free(lf);
		return err == -EINVAL ? EXIT_USAGE : 1;
	}
	int rc = load_rules(lf);
	if (rc)
		labfile_free(lf);
	return rc;
}

void labfile_free(struct labfile *lf)
{
	for (unsigned i = 0; lf->rules && lf->lab && i < lf->lab->n_nodes; i++)
		free(lf->rules[i].text);
	free(lf->rules);
	lab_free(lf->lab);
	free(lf->text);
	lf->rules = NULL;
	lf->lab = NULL;
	lf->text = NULL;
}

int lab_path(char *buf, size_t len, const char *lab, const char *suffix)
{
	int n = snprintf(buf, len, RUN_DIR "/%s%s", lab, suffix);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int guest_netns(char *buf, size_t len, const char *lab, const char *guest)
{
	int n = snprintf(buf, len, "%s-%s", lab, guest);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Names that reach paths: what lab files allow, nothing that walks. */
bool lab_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > LAB_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return name[0] != '-';
}

const char *self_dir(void)
{
	static char dir[PATH_MAX];
	if (!dir[0]) {
		ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
		if (n <= 0)
			return ".";
		dir[n] = 0;
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
	}
	return dir;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("vqnet 0.1\n");
		return 0;
	}
	/* internal: the supervisor re-executes itself under this name */
	if (!strcmp(argv[1], "__supervise"))
		return cmd_supervise(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		for (int k = 2; k < argc && strcmp(argv[k], "--"); k++) {
			if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
				printf("usage: %s %s %s\n  %s\n", prog, commands[i].name,
				       commands[i].usage, commands[i].description);
				return 0;
			}
		}
		return commands[i].fn(argc - 1, argv + 1);
	}
	err_msg("unknown command \"%s\" (try '%s --help')", argv[1], prog);
	return EXIT_USAGE;
}
