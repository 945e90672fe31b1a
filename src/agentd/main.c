/* SPDX-License-Identifier: MIT */
/*
 * vqnet-agentd (--qemu PATH | --qemu-fd N) (--listen PATH | --listen-fd N)
 *              [--ready-fd N] [--seccomp]
 *
 * The host side of one VM's agent (agentd.h).  --qemu: QEMU's agent
 * chardev socket, connected to (and re-connected to when it goes away);
 * --qemu-fd: a connected stream whose end ends agentd.  --listen: bind a
 * client socket there (a stale socket file is replaced); --listen-fd: a
 * socket already listening.  --ready-fd gets "ready" and "lost REASON"
 * lines as the agent comes and goes.  --seccomp: a syscall allow-list
 * once set up.
 *
 * Exit: 0 on SIGTERM/SIGINT/SIGHUP, 1 when a --qemu-fd link ended or on
 * error, 2 on bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "agentd.h"

static int usage(void)
{
	fprintf(stderr, "usage: vqnet-agentd (--qemu PATH | --qemu-fd N) (--listen PATH | --listen-fd N)"
		" [--ready-fd N] [--seccomp]\n");
	return 2;
}

static int parse_fd(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > 1 << 20)
		return -1;
	return (int)v;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vqnet-agentd: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);   /* a previous agentd's */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		fprintf(stderr, "vqnet-agentd: cannot listen on %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct agentd_config cfg = { .qemu_fd = -1, .listen_fd = -1, .ready_fd = -1 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--seccomp")) {
			cfg.seccomp = true;
			continue;
		}
		if (!v)
			return usage();
		i++;
		if (!strcmp(a, "--qemu"))
			cfg.qemu_path = v;
		else if (!strcmp(a, "--qemu-fd") && (cfg.qemu_fd = parse_fd(v)) >= 0)
			;
		else if (!strcmp(a, "--listen"))
			cfg.listen_path = v;
		else if (!strcmp(a, "--listen-fd") && (cfg.listen_fd = parse_fd(v)) >= 0)
			;
		else if (!strcmp(a, "--ready-fd") && (cfg.ready_fd = parse_fd(v)) >= 0)
			;
		else
			return usage();
	}
	if (!cfg.qemu_path == (cfg.qemu_fd < 0) || !cfg.listen_path == (cfg.listen_fd < 0))
		return usage();
	if (cfg.qemu_path) {
		struct sockaddr_un sa;
		if (strlen(cfg.qemu_path) >= sizeof(sa.sun_path)) {
			fprintf(stderr, "vqnet-agentd: socket path too long: %s\n", cfg.qemu_path);
			return 2;
		}
	}
	if (cfg.listen_path && (cfg.listen_fd = listen_on(cfg.listen_path)) < 0)
		return 1;
	int rc = agentd_run(&cfg);
	if (cfg.seccomp)
		syscall(SYS_exit_group, rc);   /* no exit work under the filter (a sanitizer's
						* leak check intercepts even _exit) */
	return rc;
}
