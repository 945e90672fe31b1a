/* SPDX-License-Identifier: MIT */
/*
 * The control socket, served without blocking: each connection has its
 * own buffers and a deadline, so a client that connects and says nothing
 * (or reads nothing) holds one slot for CONN_TIMEOUT_MS and delays no one.
 * When every slot is taken, new connections wait in the listen backlog.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "sup.h"
#include "sys.h"

#define MAX_CONNS 64
#define CONN_TIMEOUT_MS 5000

struct conn {
	int fd;                  /* -1: slot free */
	uint64_t deadline;
	char in[CTL_REQUEST_MAX + 2];
	size_t in_len;
	char *out;               /* the reply, once the request is complete */
	size_t out_len, out_off;
	int pass_fd;             /* sent with the first byte of the reply */
};

static struct conn conns[MAX_CONNS];
static bool listening;       /* lsock is in the epoll set */

static int watch(int op, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };
	return epoll_ctl(S.epfd, op, fd, &ev);
}

int sup_ctl_listen(char *msg, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	for (unsigned i = 0; i < MAX_CONNS; i++)
		conns[i].fd = conns[i].pass_fd = -1;
	if (lab_path(sa.sun_path, sizeof(sa.sun_path), S.lab->name, ".sock")) {
		snprintf(msg, len, "socket path too long");
		return -1;
	}
	unlink(sa.sun_path);   /* stale: we hold the lab's lock */
	S.lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (S.lsock < 0 || bind(S.lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(sa.sun_path, 0600) < 0 || listen(S.lsock, 128) < 0) {
		snprintf(msg, len, "control socket %s: %s", sa.sun_path, strerror(errno));
		return -1;
	}
	S.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (S.epfd < 0 || watch(EPOLL_CTL_ADD, S.sigfd, EPOLLIN, SUP_EV(SUP_EV_SIGNAL, 0)) < 0 ||
	    watch(EPOLL_CTL_ADD, S.lsock, EPOLLIN, SUP_EV(SUP_EV_LISTEN, 0)) < 0) {
		snprintf(msg, len, "epoll: %s", strerror(errno));
		return -1;
	}
	listening = true;
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->pass_fd >= 0)
		close(c->pass_fd);
	free(c->out);
	*c = (struct conn){ .fd = -1, .pass_fd = -1 };
	if (!listening && watch(EPOLL_CTL_ADD, S.lsock, EPOLLIN, SUP_EV(SUP_EV_LISTEN, 0)) == 0)
		listening = true;
}

static void reply(struct conn *c, char *text)
{
	c->out = text;
	c->out_len = text ? strlen(text) : 0;
	c->out_off = 0;
	if (!text || watch(EPOLL_CTL_MOD, c->fd, EPOLLOUT, SUP_EV(SUP_EV_CONN, c - conns)) < 0)
		conn_close(c);
}

char *sup_text(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

/* "guest NAME": a pidfd of the guest's init, the handle to join it by */
static char *guest_handle(struct conn *c, const char *name)
{
	int i = lab_node_find(S.lab, name);
	if (i < 0)
		return sup_text("error: no guest %s\n", name);
	const struct sup_node *n = &S.nodes[i];
	if (S.lab->nodes[i].kind != LAB_GUEST)
		return sup_text("error: %s is a %s node, not a guest: it runs no programs\n", name,
				lab_kind_name(S.lab->nodes[i].kind));
	if (n->vm)   /* a VM: its agentd's socket, which only root can reach */
		return n->vm->agent == VM_READY ? sup_text("vm %s\n", n->vm->agent_path)
		       : sup_text("error: the agent of VM %s is not answering (%s)\n", name,
				 n->vm->agent_why[0] ? n->vm->agent_why : "booting");
	if (n->init <= 0 || n->init_fd < 0)
		return sup_text("error: guest %s is gone (its init died; see the lab's log)\n", name);
	c->pass_fd = dup(n->init_fd);
	return c->pass_fd < 0 ? NULL : sup_text("ok %s\n", n->netns);
}

/* "capture ...": a session takes the connection for its whole life */
static void capture(struct conn *c)
{
	char *err = NULL;
	epoll_ctl(S.epfd, EPOLL_CTL_DEL, c->fd, NULL);
	if (sup_capture_request(c->fd, c->in + 8, &err)) {
		c->fd = -1;   /* the session's now */
		conn_close(c);
		return;
	}
	if (watch(EPOLL_CTL_ADD, c->fd, EPOLLIN, SUP_EV(SUP_EV_CONN, c - conns)) < 0) {
		free(err);
		conn_close(c);
		return;
	}
	reply(c, err);
}

/* "events": the connection becomes a stream of the lab's events
 * (sup_events.c), which owns it from now on, free of any deadline */
static void events(struct conn *c)
{
	int err = sup_events_stream(c->fd);
	if (err == -EBUSY)
		reply(c, sup_text("error: %d event streams are open already, the most there may be\n",
				 SUP_STREAMS_MAX));
	else if (err)
		reply(c, sup_text("error: cannot stream events: %s\n", strerror(-err)));
	else {
		c->fd = -1;
		conn_close(c);
	}
}

static void request(struct conn *c)
{
	c->in[strcspn(c->in, "\r\n")] = 0;
	if (!strcmp(c->in, "down")) {
		sup_log("down requested");
		sup_events_stopping("down requested");
		sup_teardown();
		/* answer only once everything is gone */
		if (send(c->fd, "ok\n", 3, MSG_NOSIGNAL) < 0)
			sup_log("could not confirm down: %s", strerror(errno));
		exit(0);
	}
	if (!strcmp(c->in, "status"))
		reply(c, sup_status_json());
	else if (!strncmp(c->in, "fault ", 6))
		reply(c, sup_fault_request(c->in + 6));
	else if (!strncmp(c->in, "guest ", 6))
		reply(c, guest_handle(c, c->in + 6));
	else if (!strncmp(c->in, "capture ", 8))
		capture(c);
	else if (!strcmp(c->in, "events"))
		events(c);
	else if (!strncmp(c->in, "note ", 5))
		reply(c, sup_events_note(c->in + 5));
	else
		reply(c, sup_text("error: unknown request \"%s\"\n", c->in));
}

static void accept_all(void)
{
	for (;;) {
		struct conn *c = NULL;
		for (unsigned i = 0; i < MAX_CONNS && !c; i++)
			if (conns[i].fd < 0)
				c = &conns[i];
		if (!c) {
			/* full: leave the rest in the backlog until a slot frees */
			if (watch(EPOLL_CTL_DEL, S.lsock, 0, 0) == 0)
				listening = false;
			return;
		}
		int fd = accept4(S.lsock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		*c = (struct conn){ .fd = fd, .pass_fd = -1,
				    .deadline = sys_now_ns() + CONN_TIMEOUT_MS * 1000000ull };
		if (watch(EPOLL_CTL_ADD, fd, EPOLLIN, SUP_EV(SUP_EV_CONN, c - conns)) < 0)
			conn_close(c);
	}
}

static void readable(struct conn *c)
{
	ssize_t r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, 0);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		conn_close(c);
		return;
	}
	c->in_len += (size_t)r;
	c->in[c->in_len] = 0;
	if (memchr(c->in, '\n', c->in_len))
		request(c);
	else if (c->in_len == sizeof(c->in) - 1)
		reply(c, sup_text("error: request too long\n"));
}

static void writable(struct conn *c)
{
	while (c->out_off < c->out_len) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} ctl;
		struct iovec iov = { c->out + c->out_off, c->out_len - c->out_off };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		if (c->pass_fd >= 0) {
			memset(&ctl, 0, sizeof(ctl));
			m.msg_control = ctl.buf;
			m.msg_controllen = sizeof(ctl.buf);
			struct cmsghdr *h = CMSG_FIRSTHDR(&m);
			h->cmsg_level = SOL_SOCKET;
			h->cmsg_type = SCM_RIGHTS;
			h->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(h), &c->pass_fd, sizeof(int));
		}
		ssize_t w = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w <= 0)
			break;
		if (c->pass_fd >= 0) {
			close(c->pass_fd);
			c->pass_fd = -1;
		}
		c->out_off += (size_t)w;
	}
	conn_close(c);
}

void sup_ctl_event(uint64_t data, uint32_t events)
{
	unsigned kind = (unsigned)(data >> 32), i = (unsigned)(uint32_t)data;
	if (kind == SUP_EV_LISTEN) {
		accept_all();
		return;
	}
	if (kind != SUP_EV_CONN || i >= MAX_CONNS || conns[i].fd < 0)
		return;
	struct conn *c = &conns[i];
	if (c->out)
		writable(c);
	else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		readable(c);
}

int sup_ctl_timeout(void)
{
	uint64_t now = sys_now_ns(), first = UINT64_MAX;
	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (conns[i].fd >= 0 && conns[i].deadline < first)
			first = conns[i].deadline;
	if (first == UINT64_MAX)
		return -1;
	return first <= now ? 0 : (int)((first - now) / 1000000) + 1;
}

void sup_ctl_expire(void)
{
	uint64_t now = sys_now_ns();
	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (conns[i].fd >= 0 && conns[i].deadline <= now)
			conn_close(&conns[i]);
}
