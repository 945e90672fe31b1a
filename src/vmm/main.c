/* SPDX-License-Identifier: MIT */
/*
 * vqnet-vmm - the datapath of one node of a lab.
 *
 * For a guest it lives inside the guest's network namespace, owns one
 * guest port (a TAP device) per interface and one side of each of the
 * interface's links, and moves frames between them: port -> vswitch ->
 * link(s), link -> port.  For a filter node it has links only, in an empty
 * namespace of its own: link -> vswitch (bridging) -> filter rules ->
 * other link(s).  It is started by the supervisor (src/vqnet/supervisor.c)
 * with the lab text and every shared object it may touch passed as file
 * descriptors; it maps only its own links, and gives up its privileges
 * before the first frame.  vmm.h says which file does what.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sys.h"
#include "vmm.h"

const char *vmm_prog = "vqnet-vmm";
static int ready_fd = -1;

/* Setup failures go to the supervisor through the ready pipe, then we exit. */
void vmm_fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ready_fd >= 0) {
		dprintf(ready_fd, "error: %s\n", msg);
		close(ready_fd);
	}
	fprintf(stderr, "%s: %s\n", vmm_prog, msg);
	/* no exit handlers: under the sandbox they could only die of SIGSYS
	 * (LeakSanitizer's exit check, in the test build, clones and ptraces) */
	_exit(1);
}

/* A small decimal number ending at NUL, ',' or '=': an fd or link index. */
static int parse_fd(const char *s)
{
	long v = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9' && v <= 65535; p++)
		v = v * 10 + (*p - '0');
	if (p == s || v > 65535 || (*p && *p != ',' && *p != '='))
		return -1;
	return (int)v;
}

/* INDEX=MEMFD,BELL,PEERBELL */
static int parse_link(const char *v, struct link_arg *l)
{
	const char *eq = strchr(v, '='), *c1 = eq ? strchr(eq, ',') : NULL,
		   *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
	int idx = parse_fd(v);
	if (idx < 0 || !eq || !c1 || !c2 || (l->mem = parse_fd(eq + 1)) < 0 ||
	    (l->bell = parse_fd(c1 + 1)) < 0 || (l->peer_bell = parse_fd(c2 + 1)) < 0)
		return -1;
	l->index = (unsigned)idx;
	return 0;
}

/* The links' doorbells, renumbered into two runs (ours, then the peers')
 * above every descriptor we were given, so that the sandbox allows reads
 * on one run and writes on the other in a handful of rules however many
 * links there are (a switch node has one per guest).  base: the first
 * number above them all. */
static void bells_renumber(struct link_arg *la, unsigned n, int base)
{
	for (int which = 0; which < 2; which++)
		for (unsigned i = 0; i < n; i++) {
			int *fd = which ? &la[i].peer_bell : &la[i].bell;
			int moved = fcntl(*fd, F_DUPFD_CLOEXEC, base);
			if (moved < 0)
				vmm_fail("link %u: cannot renumber its doorbell %d: %s", la[i].index,
					 *fd, strerror(errno));
			close(*fd);
			*fd = moved;
		}
}

static void usage(FILE *to)
{
	fprintf(to,
		"usage: %s --supervisor PID --uid UID --lab-fd FD --lab LAB --node NAME --ready-fd FD\n"
		"          --stats-fd FD"
		" [--netns NAME | --vhost IFACE=FD ... | --rules-fd FD]\n"
		"          [--link INDEX=MEMFD,BELL,PEERBELL ...] [--ctl-fd FD] [--capture-fd FD] [--seed N]\n"
		"Started by the vqnet supervisor, not by hand: moves one node's frames\n"
		"between its guest ports (TAP devices of a namespace guest in namespace\n"
		"NAME, or the vhost-user virtio-net devices of a QEMU guest, served on\n"
		"listening sockets) or through its rules (a filter) and its\n"
		"shared-memory links.\n", vmm_prog);
}

int main(int argc, char **argv)
{
	const char *node = NULL, *netns = NULL, *lab = NULL;
	int lab_fd = -1, stats_fd = -1, rules_fd = -1, supervisor = -1;
	long uid = -1;
	int ctl_fd = -1, cap_fd = -1;
	unsigned long long seed = 0;
	/* at most one of either per argument */
	struct link_arg *la = calloc((size_t)argc, sizeof(*la));
	struct vhost_arg *va = calloc((size_t)argc, sizeof(*va));
	unsigned n_la = 0, n_va = 0;
	if (!la || !va) {
		fprintf(stderr, "%s: out of memory\n", vmm_prog);
		return 1;
	}

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (!v) {
			usage(stderr);
			return 2;
		}
		i++;
		if (!strcmp(a, "--node")) {
			node = v;
		} else if (!strcmp(a, "--lab")) {
			lab = v;
		} else if (!strcmp(a, "--netns")) {
			netns = v;
		} else if (!strcmp(a, "--lab-fd")) {
			lab_fd = parse_fd(v);
		} else if (!strcmp(a, "--ready-fd")) {
			ready_fd = parse_fd(v);
		} else if (!strcmp(a, "--stats-fd")) {
			stats_fd = parse_fd(v);
		} else if (!strcmp(a, "--rules-fd")) {
			rules_fd = parse_fd(v);
		} else if (!strcmp(a, "--uid")) {
			char *end;
			uid = strtol(v, &end, 10);
			if (*end || uid <= 0 || uid >= INT32_MAX)
				uid = -1;
		} else if (!strcmp(a, "--supervisor")) {
			char *end;
			long pid = strtol(v, &end, 10);
			supervisor = *end || pid <= 1 || pid > INT32_MAX ? -1 : (int)pid;
		} else if (!strcmp(a, "--ctl-fd")) {
			ctl_fd = parse_fd(v);
		} else if (!strcmp(a, "--capture-fd")) {
			cap_fd = parse_fd(v);
		} else if (!strcmp(a, "--seed")) {
			char *end;
			errno = 0;
			seed = strtoull(v, &end, 10);
			if (*end || end == v || errno || v[0] == '-') {
				fprintf(stderr, "%s: bad --seed \"%s\"\n", vmm_prog, v);
				return 2;
			}
		} else if (!strcmp(a, "--vhost")) {
			const char *eq = strchr(v, '=');
			int ifc = parse_fd(v), fd = eq ? parse_fd(eq + 1) : -1;
			if (ifc < 0 || fd < 0) {
				fprintf(stderr, "%s: bad --vhost \"%s\" (IFACE=FD)\n", vmm_prog, v);
				return 2;
			}
			va[n_va++] = (struct vhost_arg){ .iface = (unsigned)ifc, .fd = fd };
		} else if (!strcmp(a, "--link")) {
			if (parse_link(v, &la[n_la++])) {
				fprintf(stderr, "%s: bad --link \"%s\" (INDEX=MEMFD,BELL,PEERBELL)\n",
					vmm_prog, v);
				return 2;
			}
		} else {
			fprintf(stderr, "%s: unknown or bad option %s\n", vmm_prog, a);
			usage(stderr);
			return 2;
		}
	}
	if (!node || !lab || lab_fd < 0 || stats_fd < 0 || ready_fd < 0 || supervisor < 0 || uid < 0) {
		usage(stderr);
		return 2;
	}
	/* die with the supervisor, never linger on our own (TERM reaches us
	 * through the signalfd even if whoever started us ignored it) */
	signal(SIGTERM, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != supervisor)
		return 1;

	int base = lab_fd;
	int given[] = { stats_fd, rules_fd, ready_fd, ctl_fd, cap_fd };
	for (size_t i = 0; i < sizeof(given) / sizeof(given[0]); i++)
		base = given[i] > base ? given[i] : base;
	for (unsigned i = 0; i < n_la; i++) {
		int f[] = { la[i].mem, la[i].bell, la[i].peer_bell };
		for (size_t j = 0; j < 3; j++)
			base = f[j] > base ? f[j] : base;
	}
	for (unsigned i = 0; i < n_va; i++)
		base = va[i].fd > base ? va[i].fd : base;
	bells_renumber(la, n_la, base + 1);

	static struct vmm m;
	m.ctl_fd = ctl_fd;

	m.seed = seed;
	vmm_setup(&m, lab, node, netns, lab_fd, stats_fd, rules_fd, la, n_la, va, n_va);
	free(la);
	free(va);
	if (cap_fd >= 0) {
		/* the capture region: idle until the supervisor says otherwise */
		size_t len;
		int err;
		m.cap = sys_map_sealed(cap_fd, &len, &err);
		if (!m.cap || len < sizeof(*m.cap))
			vmm_fail("capture region: %s", m.cap ? "too small" : strerror(-err));
		close(cap_fd);
	}
	vmm_sandbox(&m, supervisor, (uid_t)uid, ready_fd);
	if (write(ready_fd, "ok\n", 3) != 3)
		vmm_fail("cannot report ready");
	close(ready_fd);
	ready_fd = -1;
	vmm_run(&m);
	_exit(0);   /* as in vmm_fail: the kernel frees everything */
}
