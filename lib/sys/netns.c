/* SPDX-License-Identifier: MIT */
#include "netns.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/nsfs.h>

static int path_of(const char *name, char *buf, size_t len)
{
	if (!name[0] || name[0] == '.' || strchr(name, '/'))
		return -EINVAL;
	int n = snprintf(buf, len, NETNS_DIR "/%s", name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* /run/netns must be a shared mount point, so that removing a name also
 * removes it in mount namespaces created since (as `ip netns` arranges).
 * As iproute2 does, the one-time setup runs under a lock on the directory:
 * two creators racing would otherwise stack bind mounts on it.  A new
 * mount point is made private before it is shared, so that it leaves the
 * peer group of /run it was born into (a shared /run would otherwise copy
 * every namespace mounted here into each of its peers). */
static int prepare_dir(void)
{
	if (mkdir(NETNS_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	int lock = open(NETNS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock < 0)
		return -errno;
	int err = flock(lock, LOCK_EX) < 0 ? -errno : 0;
	if (!err && mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) < 0) {
		err = -errno;
		/* EINVAL: not a mount point yet: make it one, then share it */
		if (err == -EINVAL)
			err = mount(NETNS_DIR, NETNS_DIR, "none", MS_BIND | MS_REC, NULL) < 0 ||
			      mount("", NETNS_DIR, "none", MS_PRIVATE, NULL) < 0 ||
			      mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) < 0 ? -errno : 0;
	}
	close(lock);   /* and with it the lock */
	return err;
}

/* Bind the namespace at ns (a /proc/PID/ns/net path) to name. */
static int bind_name(const char *name, const char *ns)
{
	char path[PATH_MAX];
	int err = path_of(name, path, sizeof(path));
	if (err || (err = prepare_dir()))
		return err;
	int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	close(fd);
	if (mount(ns, path, "none", MS_BIND, NULL) < 0) {
		err = -errno;
		unlink(path);
		return err;
	}
	return 0;
}

int netns_attach(const char *name, pid_t pid)
{
	char ns[64];
	if (pid <= 1)
		return -EINVAL;
	snprintf(ns, sizeof(ns), "/proc/%d/ns/net", (int)pid);
	return bind_name(name, ns);
}

int netns_create(const char *name)
{
	/* A child makes the namespace and names it; we stay where we are. */
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int err = unshare(CLONE_NEWNET) < 0 ? -errno : bind_name(name, "/proc/self/ns/net");
		_exit(err < 0 && -err < 256 ? -err : err ? EIO : 0);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status))
		return -EIO;
	return -WEXITSTATUS(status);
}

int netns_delete(const char *name)
{
	char path[PATH_MAX];
	int err = path_of(name, path, sizeof(path));
	if (err)
		return err;
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return -errno;
	if (unlink(path) < 0)
		return -errno;
	return 0;
}

bool netns_exists(const char *name)
{
	char path[PATH_MAX];
	return path_of(name, path, sizeof(path)) == 0 && access(path, F_OK) == 0;
}

int netns_open(const char *name)
{
	char path[PATH_MAX];
	int err = path_of(name, path, sizeof(path));
	if (err)
		return err;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* An empty file left by a half-made namespace, or anything else, is
	 * not a network namespace: refuse rather than stay where we are. */
	int type = ioctl(fd, NS_GET_NSTYPE);
	if (type != CLONE_NEWNET) {
		close(fd);
		return -ENOTSUP;
	}
	return fd;
}

int netns_enter(int fd)
{
	return setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
}

/* Is (dev, ino) the network namespace at path? */
static bool same_ns(const char *path, const struct stat *ns)
{
	struct stat st;
	return stat(path, &st) == 0 && st.st_dev == ns->st_dev && st.st_ino == ns->st_ino;
}

int netns_kill_all(const char *name)
{
	int fd = netns_open(name);
	struct stat ns;
	if (fd < 0)
		return fd;
	int err = fstat(fd, &ns) < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	/* Never the namespace we, or init, live in: if the name were ever
	 * made to point there, this would stop the whole host. */
	if (same_ns("/proc/self/ns/net", &ns) || same_ns("/proc/1/ns/net", &ns))
		return -EPERM;
	int total = 0;
	for (int round = 0; round < 10; round++) {
		int found = 0;
		DIR *d = opendir("/proc");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			char *end;
			long pid = strtol(e->d_name, &end, 10);
			if (*end || pid <= 1 || pid == getpid())
				continue;
			/* Pin the process first, then look at its namespace: if
			 * the pid was reused in between, we look at (and signal)
			 * the process the pidfd names, never a stranger. */
			int pfd = pidfd_open((pid_t)pid, 0);
			if (pfd < 0)
				continue;
			char path[64];
			snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
			if (same_ns(path, &ns) &&
			    pidfd_send_signal(pfd, round < 5 ? SIGTERM : SIGKILL, NULL, 0) == 0)
				found++;
			close(pfd);
		}
		if (d)
			closedir(d);
		if (!found)
			break;
		total += round == 0 ? found : 0;
		struct timespec ts = { 0, 100 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return total;
}
