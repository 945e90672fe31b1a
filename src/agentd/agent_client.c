/* SPDX-License-Identifier: MIT */
#include "agent_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int agentc_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pfd = { .fd = fd, .events = POLLOUT };
				poll(&pfd, 1, -1);
				continue;
			}
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int agentc_wait_ready(const char *path, int timeout_ms, char *why, size_t len)
{
	if (why && len)
		why[0] = 0;
	int fd = agentc_connect(path);
	if (fd < 0)
		return fd;
	uint8_t hello[AGENT_HDR_LEN + AGENT_HELLO_LEN];
	int n = agent_encode_hello(hello, sizeof(hello), 0);
	int err = send(fd, hello, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -errno;
	struct agent_decoder *d = malloc(sizeof(*d));
	if (!d)
		err = -ENOMEM;
	else
		agent_dec_init(d, AGENT_TO_CLIENT, false, false);
	int64_t end = timeout_ms < 0 ? 0 : now_ms() + timeout_ms;
	while (!err) {
		int left = -1;
		if (timeout_ms >= 0) {
			int64_t l = end - now_ms();
			if (l <= 0) {
				err = -ETIMEDOUT;
				break;
			}
			left = (int)l;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, left);
		if (r < 0 && errno != EINTR)
			err = -errno;
		if (r <= 0)
			continue;
		uint8_t buf[4096];
		ssize_t got = read(fd, buf, sizeof(buf));
		if (got <= 0) {
			err = got == 0 ? -EPROTO : -errno;
			break;
		}
		size_t off = 0;
		while (off < (size_t)got && !err) {
			struct agent_frame f;
			size_t used;
			int k = agent_dec_feed(d, buf + off, (size_t)got - off, &used, &f);
			off += used;
			if (k < 0) {
				err = -EPROTO;
			} else if (k == 1 && f.type == AGENT_HELLO) {
				err = 1;
			} else if (k == 1) {
				if (f.type == AGENT_ERROR && why && len) {
					size_t m = f.len < len - 1 ? f.len : len - 1;
					memcpy(why, f.payload, m);
					why[m] = 0;
				}
				err = -EPROTO;
			}
		}
	}
	free(d);
	close(fd);
	return err == 1 ? 0 : err;
}

/* One command's connection. */
struct run {
	int fd;
	struct agent_decoder *dec;
	uint8_t *out;          /* frames for agentd not yet written */
	size_t out_len, out_off;
	bool in_done;          /* STDIN_EOF queued */
	bool exited;
	bool in_done_by_peer;  /* agentd closed: nothing more is sent */
	struct agentc_status *st;
};

static int queue(struct run *r, uint8_t type, const void *p, uint32_t len)
{
	if (r->out_off == r->out_len)
		r->out_off = r->out_len = 0;
	int n = agent_encode(r->out + r->out_len, AGENT_FRAME_MAX * 2 - r->out_len, type, 0, p, len);
	if (n < 0)
		return -ENOBUFS;
	r->out_len += (size_t)n;
	return 0;
}

static int flush(struct run *r)
{
	while (r->out_off < r->out_len) {
		/* MSG_NOSIGNAL: agentd closing on us is an error to return,
		 * not a SIGPIPE for the caller */
		ssize_t n = send(r->fd, r->out + r->out_off, r->out_len - r->out_off, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		r->out_off += (size_t)n;
	}
	return 0;
}

static int on_frame(struct run *r, const struct agent_frame *f, const struct agentc_cmd *cmd)
{
	switch (f->type) {
	case AGENT_STDOUT:
	case AGENT_STDERR: {
		int fd = f->type == AGENT_STDOUT ? cmd->out_fd : cmd->err_fd;
		/* a caller's fd that fails (a closed pipe) drops the output,
		 * as a command's own write would fail; the command goes on */
		if (fd >= 0)
			(void)write_all(fd, f->payload, f->len);
		return 0;
	}
	case AGENT_ERROR:
		memcpy(r->st->error, f->payload, f->len);
		r->st->error[f->len] = 0;
		return 0;
	case AGENT_EXIT: {
		uint32_t how, v;
		agent_exit_decode(f, &how, &v);
		r->st->how = how == AGENT_EXIT_SIGNAL ? AGENTC_KILLED : AGENTC_EXITED;
		r->st->value = (int)v;
		r->exited = true;
		return 0;
	}
	}
	return -EPROTO;   /* HELLO: we did not ask */
}

int agentc_run(const char *path, const struct agentc_cmd *cmd, struct agentc_status *st)
{
	st->how = AGENTC_FAILED;
	st->value = 0;
	st->error[0] = 0;
	struct run r = { .fd = -1, .st = st };
	int sfd = -1, err = 0;
	sigset_t old;
	bool masked = false;
	r.dec = malloc(sizeof(*r.dec));
	r.out = malloc(AGENT_FRAME_MAX * 2);
	uint8_t *buf = malloc(AGENT_PAYLOAD_MAX);
	if (!r.dec || !r.out || !buf) {
		err = -ENOMEM;
		goto out;
	}
	agent_dec_init(r.dec, AGENT_TO_CLIENT, false, false);
	int n = agent_exec_encode(buf, AGENT_PAYLOAD_MAX, cmd->argv, cmd->envp, cmd->cwd);
	if (n < 0) {
		err = n == -AGENT_ENOSPC ? -E2BIG : -EINVAL;
		goto out;
	}
	if ((err = queue(&r, AGENT_EXEC, buf, (uint32_t)n)))
		goto out;
	if (cmd->in_fd < 0) {
		queue(&r, AGENT_STDIN_EOF, NULL, 0);
		r.in_done = true;
	}
	if (cmd->forward) {
		if (sigprocmask(SIG_BLOCK, cmd->forward, &old) < 0) {
			err = -errno;
			goto out;
		}
		masked = true;
		sfd = signalfd(-1, cmd->forward, SFD_CLOEXEC | SFD_NONBLOCK);
		if (sfd < 0) {
			err = -errno;
			goto out;
		}
	}
	r.fd = agentc_connect(path);
	if (r.fd < 0) {
		err = r.fd;
		goto out;
	}
	fcntl(r.fd, F_SETFL, O_NONBLOCK);
	for (;;) {
		if ((err = flush(&r))) {
			if (err != -EPIPE && err != -ECONNRESET)
				break;
			/* agentd has closed on us, after saying why: stop
			 * sending, and read what it said */
			err = 0;
			r.out_off = r.out_len = 0;
			r.in_done = true;
			r.in_done_by_peer = true;
		}
		struct pollfd pfd[3];
		unsigned np = 0;
		bool pending = r.out_off < r.out_len;
		pfd[np++] = (struct pollfd){ .fd = r.fd, .events = POLLIN | (pending ? POLLOUT : 0) };
		int in_i = -1, sig_i = -1;
		/* read our stdin only when the last of it is on its way: the
		 * socket's back-pressure is agentd's credit */
		if (!r.in_done && !pending && !r.exited) {
			in_i = (int)np;
			pfd[np++] = (struct pollfd){ .fd = cmd->in_fd, .events = POLLIN };
		}
		if (sfd >= 0) {
			sig_i = (int)np;
			pfd[np++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		}
		if (poll(pfd, np, -1) < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (sig_i >= 0 && pfd[sig_i].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				if (!r.exited && !r.in_done_by_peer)
					queue(&r, AGENT_SIGNAL, (uint8_t[4]){ (uint8_t)si.ssi_signo, 0, 0, 0 }, 4);
		}
		if (in_i >= 0 && pfd[in_i].revents) {
			ssize_t got = read(cmd->in_fd, buf, AGENT_PAYLOAD_MAX);
			if (got > 0) {
				queue(&r, AGENT_STDIN, buf, (uint32_t)got);
			} else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
				/* EOF, or a stdin we cannot read: the command's ends */
				queue(&r, AGENT_STDIN_EOF, NULL, 0);
				r.in_done = true;
			}
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t got = read(r.fd, buf, AGENT_PAYLOAD_MAX);
			if (got < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (got <= 0) {
				/* agentd closes after EXIT, or after an ERROR that
				 * is the end of the command (lost agent) */
				if (!r.exited && st->error[0] == 0)
					snprintf(st->error, sizeof(st->error),
						 "vqnet-agentd closed the connection before the command's exit");
				if (!r.exited)
					st->how = AGENTC_FAILED;
				err = got < 0 && errno != ECONNRESET ? -errno : 0;
				break;
			}
			size_t off = 0;
			while (off < (size_t)got && !err) {
				struct agent_frame f;
				size_t used;
				int k = agent_dec_feed(r.dec, buf + off, (size_t)got - off, &used, &f);
				off += used;
				if (k < 0)
					err = -EPROTO;
				else if (k == 1)
					err = on_frame(&r, &f, cmd);
			}
			if (err)
				break;
		}
	}
out:
	if (r.fd >= 0)
		close(r.fd);
	if (sfd >= 0)
		close(sfd);
	if (masked)
		sigprocmask(SIG_SETMASK, &old, NULL);
	free(r.dec);
	free(r.out);
	free(buf);
	return err;
}
