/* SPDX-License-Identifier: MIT */
#include "labfile.h"

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

#include "cli.h"
#include "sys.h"

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

/* A whole small regular file, or NULL with *why saying what went wrong.
 * Opened without blocking: a FIFO or a device is refused, not waited on. */
static char *slurp(const char *path, size_t *len, const char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		*why = strerror(errno);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		close(fd);
		return NULL;
	}
	int err;
	char *text = sys_read_fd(fd, LAB_FILE_MAX, len, &err);
	close(fd);
	if (!text)
		*why = err == -EFBIG ? "larger than 1 MiB" : strerror(-err);
	return text;
}

/* Read and check each filter's rules file, named relative to the lab file. */
static int load_rules(struct labfile *lf)
{
	const struct lab *lab = lf->lab;
	lf->rules = calloc(lab->n_nodes, sizeof(*lf->rules));
	if (!lf->rules) {
		err_msg("out of memory");
		return EXIT_FAIL;
	}
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
			char shown[PATH_MAX * 4];   /* the name is the lab file's text */
			lab_escape(path, strlen(path), shown, sizeof(shown));
			labfile_error(lf, f->rules_file_line, "cannot read rules file %s: %s", shown, why);
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
			return err == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
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
		return err == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
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
