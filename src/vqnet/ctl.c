/* SPDX-License-Identifier: MIT */
/* The client side of a lab's control socket. */
#include "ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rundir.h"
#include "sys.h"

#define REPLY_MAX (64u << 20)

/* One recvmsg, taking a passed descriptor if one comes. */
static ssize_t recv_some(int s, char *buf, size_t len, int *fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct iovec iov = { buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = c.buf, .msg_controllen = sizeof(c.buf) };
	ssize_t r = recvmsg(s, &m, MSG_CMSG_CLOEXEC);
	for (struct cmsghdr *h = r >= 0 ? CMSG_FIRSTHDR(&m) : NULL; h; h = CMSG_NXTHDR(&m, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		int got;
		memcpy(&got, CMSG_DATA(h), sizeof(got));
		if (fd && *fd < 0)
			*fd = got;
		else
			close(got);
	}
	return r;
}

int ctl_open(const char *lab, const char *request)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (!lab_name_ok(lab) || lab_path(sa.sun_path, sizeof(sa.sun_path), lab, ".sock"))
		return -EINVAL;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno == ECONNREFUSED || errno == ENOENT ? -ENOENT : -errno;
		close(s);
		return err;
	}
	char line[CTL_REQUEST_MAX + 2];
	int n = snprintf(line, sizeof(line), "%s\n", request);
	if (n < 0 || (size_t)n >= sizeof(line) || send(s, line, (size_t)n, MSG_NOSIGNAL) != n) {
		int err = n < 0 || (size_t)n >= sizeof(line) ? -EINVAL : -errno;
		close(s);
		return err;
	}
	return s;
}

int ctl_request(const char *lab, const char *request, char **reply, int *fd, int timeout_ms)
{
	*reply = NULL;
	if (fd)
		*fd = -1;
	int s = ctl_open(lab, request);
	if (s < 0)
		return s;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	uint64_t deadline = sys_now_ns() + (uint64_t)timeout_ms * 1000000u;
	int err = buf ? 0 : -ENOMEM;
	while (!err) {
		if (len + 1 >= cap) {
			char *nb = cap < REPLY_MAX ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		uint64_t now = sys_now_ns();
		struct pollfd p = { .fd = s, .events = POLLIN };
		int left = now >= deadline ? 0 : (int)((deadline - now) / 1000000) + 1;
		int pr = poll(&p, 1, left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			err = pr == 0 ? -ETIMEDOUT : -errno;
			break;
		}
		ssize_t r = recv_some(s, buf + len, cap - len - 1, fd);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = -errno;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(s);
	if (!err && len == 0)
		err = -ECONNRESET;
	if (err) {
		free(buf);
		if (fd && *fd >= 0) {
			close(*fd);
			*fd = -1;
		}
		return err;
	}
	buf[len] = 0;
	*reply = buf;
	return 0;
}

