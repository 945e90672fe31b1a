/* SPDX-License-Identifier: MIT */
/*
 * The lab's lock, RUN_DIR/LAB.lock: held (flock) by the lab's supervisor for
 * its whole life, and by whoever creates or removes the lab's files.  A
 * holder may unlink the file before letting go, so after locking we check
 * that the path still names the file we locked; if not, we locked a ghost
 * and try again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vqnet.h"

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
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int err = errno;
			close(fd);
			if (err != EWOULDBLOCK)
				return -err;
			if (wait_ms <= 0)
				return -EWOULDBLOCK;
			struct timespec ts = { 0, 50 * 1000000 };
			nanosleep(&ts, NULL);
			wait_ms -= 50;
			continue;
		}
		struct stat held, now;
		if (fstat(fd, &held) == 0 && stat(path, &now) == 0 &&
		    held.st_dev == now.st_dev && held.st_ino == now.st_ino)
			return fd;
		close(fd);   /* unlinked by its last holder: not the lock any more */
		tries++;
	}
	return -EAGAIN;
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
	const char *const suffixes[] = { ".sock", ".state", ".state.tmp", ".log" };
	char path[PATH_MAX];
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (lab_path(path, sizeof(path), lab, suffixes[i]) == 0)
			unlink(path);
}
