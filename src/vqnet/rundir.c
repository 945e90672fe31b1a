/* SPDX-License-Identifier: MIT */
/*
 * A lab's files under RUN_DIR.  The lock is an OFD lock (fcntl
 * F_OFD_SETLK): like flock it belongs to the open file, so `vqnet up` can
 * hand the locked descriptor to the supervisor, and unlike flock it can be
 * tested without being taken, so looking at a lab never makes a concurrent
 * `up` of it fail.  A holder may unlink the file before letting go, so
 * after locking we check that the path still names the file we locked; if
 * not, we locked a ghost and try again.
 */
#include "rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "lab.h"
#include "netns.h"
#include "sys.h"

int lab_path(char *buf, size_t len, const char *lab, const char *suffix)
{
	int n = snprintf(buf, len, RUN_DIR "/%s%s", lab, suffix);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int lab_log_path(char *buf, size_t len, const char *lab)
{
	int n = snprintf(buf, len, LOG_DIR "/%s.log", lab);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool lab_name_ok(const char *name)
{
	return lab_name_valid(name);
}

int guest_netns(char *buf, size_t len, const char *lab, const char *guest)
{
	return lab_netns_name2(lab, guest, buf, len);
}

static int ofd_lock(int fd, int cmd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	return fcntl(fd, cmd, &fl);
}

int lab_lock(const char *lab, int wait_ms, bool create)
{
	char path[PATH_MAX];
	if (lab_path(path, sizeof(path), lab, ".lock"))
		return -ENAMETOOLONG;
	for (int tries = 0; tries < 100;) {
		if (create && mkdir(RUN_DIR, 0700) < 0 && errno != EEXIST)
			return -errno;
		int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
		if (fd < 0) {
			if (errno == ENOENT && create && tries++ < 100)
				continue;   /* RUN_DIR went away in between */
			return -errno;
		}
		if (ofd_lock(fd, F_OFD_SETLK) < 0) {
			int err = errno;
			close(fd);
			if (err != EAGAIN && err != EACCES)
				return -err;
			if (wait_ms <= 0)
				return -EWOULDBLOCK;
			struct timespec ts = { 0, 20 * 1000000 };
			nanosleep(&ts, NULL);
			wait_ms -= 20;
			continue;
		}
		if (sys_fd_is_at(fd, AT_FDCWD, path, 0))
			return fd;
		close(fd);   /* unlinked by its last holder: not the lock any more */
		tries++;
	}
	return -EAGAIN;
}

bool lab_lock_held(const char *lab)
{
	char path[PATH_MAX];
	if (lab_path(path, sizeof(path), lab, ".lock"))
		return false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	bool held = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
	close(fd);
	return held;
}

void lab_unlock(const char *lab, int fd, bool remove)
{
	char path[PATH_MAX];
	if (remove && lab_path(path, sizeof(path), lab, ".lock") == 0)
		unlink(path);
	close(fd);
	if (remove)
		rmdir(RUN_DIR);   /* only if empty */
}

void lab_remove_files(const char *lab)
{
	const char *const suffixes[] = { ".sock", ".state", ".state.tmp" };
	char path[PATH_MAX];
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (lab_path(path, sizeof(path), lab, suffixes[i]) == 0)
			unlink(path);
}

/* ---- the state file ---------------------------------------------------------- */

void lab_state_free(struct lab_state *st)
{
	free(st->netns);
	st->netns = NULL;
	st->n_netns = 0;
}

int lab_state_read(const char *lab, struct lab_state *st)
{
	char path[PATH_MAX], line[1200];
	memset(st, 0, sizeof(*st));
	if (lab_path(path, sizeof(path), lab, ".state"))
		return -ENAMETOOLONG;
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	unsigned cap = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		int pid;
		char word[LAB_NETNS_MAX + 16];
		if (sscanf(line, "supervisor %d", &pid) == 1 && pid > 1) {
			st->supervisor = pid;
		} else if (sscanf(line, "phase %15s", st->phase) == 1) {
			continue;
		} else if (!strncmp(line, "file ", 5)) {
			snprintf(st->file, sizeof(st->file), "%.1000s", line + 5);
		} else if (sscanf(line, "netns %79s", word) == 1) {
			/* only this lab's namespaces, whatever the file says */
			char l[LAB_NAME_MAX + 1], g[LAB_NAME_MAX + 1];
			if (lab_netns_split(word, l, g) || strcmp(l, lab))
				continue;
			if (st->n_netns == cap) {
				cap = cap ? 2 * cap : 16;
				void *p = realloc(st->netns, cap * sizeof(*st->netns));
				if (!p) {
					fclose(f);
					lab_state_free(st);
					return -ENOMEM;
				}
				st->netns = p;
			}
			snprintf(st->netns[st->n_netns++], sizeof(st->netns[0]), "%s.%s", l, g);
		}
	}
	fclose(f);
	return 0;
}

int lab_state_write(const char *lab, const struct lab_state *st)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	if (lab_path(path, sizeof(path), lab, ".state") ||
	    lab_path(tmp, sizeof(tmp), lab, ".state.tmp"))
		return -ENAMETOOLONG;
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "supervisor %d\nphase %s\nfile ", (int)st->supervisor, st->phase);
	/* a record of lines: a control character in the path (a newline could
	 * add lines of its own) is written as '?' */
	for (const unsigned char *c = (const unsigned char *)st->file; *c; c++)
		fputc(*c < 0x20 || *c == 0x7f ? '?' : *c, f);
	fputc('\n', f);
	for (unsigned i = 0; i < st->n_netns; i++)
		fprintf(f, "netns %s\n", st->netns[i]);
	int err = fclose(f) ? -errno : 0;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	return err;
}

/* ---- which labs, and how they are ---------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int lab_names(char ***out)
{
	static const char *const suffixes[] = { ".lock", ".state", ".sock" };
	DIR *d = opendir(RUN_DIR);
	char **names = NULL;
	int n = 0, cap = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name), sl = 0;
		for (size_t k = 0; k < 3 && !sl; k++) {
			size_t l = strlen(suffixes[k]);
			if (len > l && !strcmp(e->d_name + len - l, suffixes[k]))
				sl = l;
		}
		if (!sl)
			continue;
		char *name = strndup(e->d_name, len - sl);
		bool dup = !name || !lab_name_ok(name);
		for (int i = 0; i < n && !dup; i++)
			dup = !strcmp(names[i], name);
		if (dup) {
			free(name);
			continue;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			char **nn = realloc(names, (size_t)cap * sizeof(*names));
			if (!nn) {
				free(name);
				break;
			}
			names = nn;
		}
		names[n++] = name;
	}
	if (d)
		closedir(d);
	if (n)
		qsort(names, (size_t)n, sizeof(*names), name_cmp);
	*out = names;
	return n;
}

void lab_names_free(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

void lab_probe(const char *lab, struct lab_probe *p)
{
	memset(p, 0, sizeof(*p));
	if (ctl_request(lab, "status", &p->reply, NULL, 10000) == 0) {
		p->health = LAB_UP;
		lab_state_read(lab, &p->state);
		return;
	}
	bool held = lab_lock_held(lab);
	bool has_state = lab_state_read(lab, &p->state) == 0;
	if (held) {
		p->health = !strcmp(p->state.phase, "stopping") ? LAB_STOPPING
			  : !strcmp(p->state.phase, "up") ? LAB_STUCK : LAB_STARTING;
		return;
	}
	for (unsigned i = 0; i < p->state.n_netns; i++)
		p->leftovers += netns_exists(p->state.netns[i]);
	p->health = has_state ? LAB_DEAD : LAB_ABSENT;
}

void lab_probe_free(struct lab_probe *p)
{
	free(p->reply);
	p->reply = NULL;
	lab_state_free(&p->state);
}

const char *lab_health_name(enum lab_health h)
{
	static const char *const names[] = {
		[LAB_ABSENT] = "absent", [LAB_UP] = "up", [LAB_STARTING] = "starting",
		[LAB_STOPPING] = "stopping", [LAB_STUCK] = "not answering", [LAB_DEAD] = "dead",
	};
	return names[h];
}
