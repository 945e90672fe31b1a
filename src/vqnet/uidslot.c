/* SPDX-License-Identifier: MIT */
/* uid slots: see uidslot.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys.h"
#include "uidslot.h"

/* fd is locked: does dirfd/name still name it? */
static int still_named(int dirfd, const char *name, int fd)
{
	return sys_fd_is_at(fd, dirfd, name, AT_SYMLINK_NOFOLLOW);
}

/* One pass over the slots: a locked fd, -EBUSY, -ENOENT if the directory
 * went away meanwhile, or -errno. */
static int take_one(const char *dir, unsigned first, unsigned n, unsigned *slot)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int rc = -EBUSY;
	for (unsigned k = 0; k < n && rc == -EBUSY; k++) {
		unsigned s = (first + k) % n;
		char name[16];
		snprintf(name, sizeof(name), "%u", s);
		int fd = openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			rc = -errno;
		} else if (flock(fd, LOCK_EX | LOCK_NB) == 0 && still_named(dfd, name, fd)) {
			*slot = s;
			rc = fd;
		} else {
			/* held, or unlinked by its last holder after we opened it */
			close(fd);
		}
	}
	close(dfd);
	return rc;
}

int uid_slot_take(const char *dir, unsigned first, unsigned n, unsigned *slot)
{
	if (n == 0)
		return -EINVAL;
	/* the directory stays once made; a bounded retry covers anyone who
	 * removes it while empty (an older vqnet, a test's cleanup) */
	int rc = -ENOENT;
	for (int tries = 0; rc == -ENOENT && tries < 100; tries++)
		rc = take_one(dir, first, n, slot);
	return rc;
}

void uid_slot_release(const char *dir, unsigned slot, int fd)
{
	char path[4096];
	/* we hold its lock, so the name is still ours */
	if (snprintf(path, sizeof(path), "%s/%u", dir, slot) < (int)sizeof(path))
		unlink(path);
	close(fd);
}

int uid_slot_reap(int dirfd, const char *name, int fd)
{
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return 0;   /* a live lab's */
	/* While we hold the lock only we may unlink the name; but it may
	 * already name another file (a live lab's) if the one we opened was
	 * reaped after we opened it. */
	int gone = still_named(dirfd, name, fd) && unlinkat(dirfd, name, 0) == 0;
	flock(fd, LOCK_UN);
	return gone;
}

unsigned uid_slots_free_dead(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	unsigned gone = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		gone += (unsigned)uid_slot_reap(dirfd(d), e->d_name, fd);
		close(fd);
	}
	closedir(d);
	return gone;
}
