/* SPDX-License-Identifier: MIT */
/* The client side of a lab's control socket. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vqnet.h"

#define REPLY_MAX (16u << 20)

int ctl_request(const char *lab, const char *request, char **reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	*reply = NULL;
	if (!lab_name_ok(lab) || lab_path(sa.sun_path, sizeof(sa.sun_path), lab, ".sock"))
		return -EINVAL;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	/* down waits for the teardown: allow it time, but never forever */
	struct timeval tv = { 30, 0 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno == ECONNREFUSED || errno == ENOENT ? -ENOENT : -errno;
		close(s);
		return err;
	}
	char line[128];
	int n = snprintf(line, sizeof(line), "%s\n", request);
	if (send(s, line, (size_t)n, MSG_NOSIGNAL) != n) {
		int err = -errno;
		close(s);
		return err;
	}
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			break;
		if (len + 1 >= cap) {
			char *nb = cap < REPLY_MAX ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = recv(s, buf + len, cap - len - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno == EAGAIN ? -ETIMEDOUT : -errno;
			free(buf);
			close(s);
			return err;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(s);
	if (!buf)
		return -ENOMEM;
	buf[len] = 0;
	if (len == 0) {
		free(buf);
		return -ECONNRESET;
	}
	*reply = buf;
	return 0;
}
