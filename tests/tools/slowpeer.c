/* SPDX-License-Identifier: MIT */
/*
 * vqnet-slowpeer - a test tool (root only): stand in for one vmm of a
 * running lab on one of its links and be a slow peer there.
 *
 *   vqnet-slowpeer PID LINK SIDE INTERVAL_MS DURATION_MS
 *
 * PID is the vmm, LINK the link's index, SIDE the vmm's end of it (0 for
 * the link's "a" in `vqnet status --json`, 1 for "b").  The tool takes the
 * vmm's doorbells with pidfd_getfd(2) from its parent, the supervisor,
 * which keeps them under the numbers in the vmm's --link
 * LINK=MEMFD,BELL,PEERBELL argument (the vmm itself renumbers them), and
 * the link's memfd from
 * whoever still holds that number: the vmm closes it once mapped, its
 * parent (the supervisor) keeps it; it must be the very memfd the vmm has
 * mapped (same inode in /proc/PID/maps).  Then it stops the vmm (SIGSTOP),
 * takes over its end of the link, and returns one of the frames the other
 * side sent every INTERVAL_MS, ringing the other side when it asked to be,
 * for DURATION_MS or until SIGTERM/SIGINT.  It never sends.  The vmm is
 * left stopped: its private ring state no longer matches the ring, so it
 * must not run again in that lab.
 *
 * Prints "slow: <frames returned>" at the end; exit status 0, or 1 with a
 * message.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "link.h"
#include "sys.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int die(const char *what)
{
	fprintf(stderr, "vqnet-slowpeer: %s\n", what);
	return 1;
}

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_getfd_(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

/* The --link INDEX=... argument of pid's command line, into mem, bell, peer. */
static int link_fds(pid_t pid, unsigned link, int *mem, int *bell, int *peer)
{
	char path[64], want[32];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	snprintf(want, sizeof(want), "%u=", link);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len;
	int err;
	char *text = sys_read_fd(fd, 1 << 16, &len, &err);
	close(fd);
	if (!text)
		return err;
	err = -ENOENT;
	for (size_t i = 0; i < len; i += strlen(text + i) + 1) {
		const char *a = text + i;
		if (strcmp(a, "--link") || i + strlen(a) + 1 >= len)
			continue;
		const char *v = a + strlen(a) + 1;
		if (strncmp(v, want, strlen(want)) == 0 &&
		    sscanf(v + strlen(want), "%d,%d,%d", mem, bell, peer) == 3)
			err = 0;
	}
	free(text);
	return err;
}

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *p = strrchr(buf, ')');   /* the name may hold anything */
	int ppid;
	return p && sscanf(p + 1, " %*c %d", &ppid) == 1 ? ppid : -1;
}

/* Does pid map a file with this inode (its link memfd)? */
static bool maps_inode(pid_t pid, ino_t ino)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	bool found = false;
	while (f && !found && fgets(line, sizeof(line), f)) {
		unsigned long long i;
		if (sscanf(line, "%*s %*s %*s %*s %llu", &i) == 1 && i == (unsigned long long)ino &&
		    strstr(line, "vqnet-link"))
			found = true;
	}
	if (f)
		fclose(f);
	return found;
}

/* The memfd numbered fd in pid, if it is a link pid's vmm has mapped. */
static int grab_mem(pid_t holder, pid_t vmm, int fd)
{
	int pidfd = pidfd_open_(holder);
	if (pidfd < 0)
		return -1;
	int mem = pidfd_getfd_(pidfd, fd);
	close(pidfd);
	struct stat st;
	if (mem >= 0 && (fstat(mem, &st) < 0 || !maps_inode(vmm, st.st_ino))) {
		close(mem);
		mem = -1;
	}
	return mem;
}

static bool stopped(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *p = strrchr(buf, ')');
	return p && (p[2] == 'T' || p[2] == 't');
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);   /* EINTR: the loop checks stop */
}

int main(int argc, char **argv)
{
	if (argc != 6)
		return die("usage: vqnet-slowpeer PID LINK SIDE INTERVAL_MS DURATION_MS");
	pid_t pid = atoi(argv[1]);
	unsigned link = (unsigned)atoi(argv[2]), side = (unsigned)atoi(argv[3]);
	unsigned interval = (unsigned)atoi(argv[4]), duration = (unsigned)atoi(argv[5]);
	if (pid <= 1 || side > 1 || interval == 0)
		return die("bad arguments");
	int memno, bellno, peerno;
	if (link_fds(pid, link, &memno, &bellno, &peerno))
		return die("no --link for that link in the vmm's command line");

	/* the vmm renumbers its doorbells (for its sandbox's rules); its
	 * parent keeps them under the numbers it passed */
	int pidfd = pidfd_open_(parent_of(pid));
	int bell = pidfd >= 0 ? pidfd_getfd_(pidfd, bellno) : -1;
	int peer_bell = pidfd >= 0 ? pidfd_getfd_(pidfd, peerno) : -1;
	if (bell < 0 || peer_bell < 0)
		return die("cannot take the vmm's doorbells from its parent (pidfd_getfd)");
	int mem = grab_mem(pid, pid, memno);
	if (mem < 0)
		mem = grab_mem(parent_of(pid), pid, memno);
	if (mem < 0)
		return die("cannot find the link's memfd in the vmm or its parent");
	size_t len;
	int err;
	void *base = sys_map_sealed(mem, &len, &err);
	if (!base)
		return die("cannot map the link");

	/* The vmm must not touch its rings while we read where it stopped. */
	if (kill(pid, SIGSTOP) < 0)
		return die("cannot stop the vmm");
	for (int i = 0; i < 1000 && !stopped(pid); i++)
		sleep_ms(1);
	if (!stopped(pid))
		return die("the vmm does not stop");

	struct vq_port p;
	if ((err = vq_port_attach(&p, base, len, side)))
		return die(vq_strerror(err));
	/* Take over where the vmm was: every chain before the used index it
	 * published has been returned; the rest are still the other side's
	 * outstanding frames (taken or not by the vmm, never returned). */
	uint16_t used = le16toh(__atomic_load_n(&p.rx.r.used[1], __ATOMIC_ACQUIRE));
	p.rx.last_avail = p.rx.used_idx = p.rx.used_signalled = used;

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	unsigned long returned = 0;
	for (unsigned t = 0; !stop && t < duration; t += interval) {
		sleep_ms(interval);
		struct vq_frame f;
		int n = vq_port_recv(&p, &f, 1);
		if (n < 0)
			return die(vq_strerror(n));
		if (n == 0)
			continue;
		if ((err = vq_port_recv_done(&p, &f, 1)))
			return die(vq_strerror(err));
		int kick = vq_port_rx_publish(&p);
		if (kick < 0)
			return die(vq_strerror(kick));
		if (kick)
			sys_ring(peer_bell);
		returned++;
	}
	printf("slow: %lu\n", returned);
	return 0;
}
