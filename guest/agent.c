/* SPDX-License-Identifier: MIT */
/*
 * vqnet-agent: runs the host's commands inside a VM guest.
 *
 *   vqnet-agent [--port NAME]   the virtio-serial port whose /sys name is
 *                               NAME (default vqnet.agent)
 *   vqnet-agent --fd N          an inherited stream (tests on the host)
 *
 * One byte stream carries every command (lib/agent/agent.h): each EXEC
 * forks the command in a session of its own, with pipes for its stdin,
 * stdout and stderr; its output goes back as STDOUT/STDERR frames, its
 * status as EXIT.  Memory is bounded whatever the commands or the host
 * do: output is read from a child's pipe only while the channel has window
 * left and the link's buffer has room (so a chatty command waits in its
 * pipe, not in us), and stdin is held only up to the window the host may
 * use.
 *
 * A virtio-serial port says "host not connected" by read() returning 0 and
 * poll() returning POLLHUP; the kernel sends SIGIO when that changes or
 * data arrives.  While the host is away the agent kills what it ran and
 * waits for SIGIO.  The host opens each connection with HELLO(session);
 * the agent answers it after dropping every older command.
 *
 * Static binary (gcc -static): the guest has no libc but what we bring.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define OUT_CAP (512u * 1024u)
/* data frames go out only below this fill, so control frames (EXIT, ACK,
 * HELLO, ERROR: a few per channel) always find room above it */
#define OUT_DATA_LIMIT (OUT_CAP - 128u * 1024u)
#define READ_CHUNK (32u * 1024u)

struct chan {
	uint32_t id;          /* 0: slot free */
	pid_t pid;            /* the command, leader of its process group */
	int in_fd, out_fd, err_fd;   /* our pipe ends, -1 once closed */
	uint8_t *inbuf;       /* stdin bytes the child has not taken yet */
	size_t in_len, in_off;
	uint32_t in_used;     /* window bytes of stdin held (frames we took) */
	bool in_eof;          /* close in_fd once inbuf is drained */
	uint32_t credit;      /* output window left */
	uint32_t ack;         /* stdin window to return in an ACK */
	bool closed;          /* CLOSE: nobody listens, output is dropped */
	bool exited;
	int status;
	/* at exit: what the command left in each pipe, the most we still read */
	int left_out, left_err;
};

static struct chan chans[AGENT_CHANNELS_MAX];
static struct agent_decoder dec;
static uint8_t out[OUT_CAP];
static size_t out_len;
static int link_fd = -1;
static bool virtio_port;    /* else --fd: EOF means the end */
static bool link_up;
static uint32_t session;    /* 0: none */
static bool said_none;      /* HELLO(0) sent since the last reset */

__attribute__((format(printf, 1, 2)))
static void logmsg(const char *fmt, ...);

static void logmsg(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	dprintf(2, "vqnet-agent: %s\n", line);
}

/* Queue a frame for the host; false when there is no room (dropped). */
static bool emit(uint8_t type, uint32_t ch, const void *p, uint32_t len)
{
	if (!link_up)
		return false;
	int n = agent_encode(out + out_len, OUT_CAP - out_len, type, ch, p, len);
	if (n < 0)
		return false;
	out_len += (size_t)n;
	return true;
}

static void emit_hello(uint32_t s)
{
	if (!link_up)
		return;
	int n = agent_encode_hello(out + out_len, OUT_CAP - out_len, s);
	if (n > 0)
		out_len += (size_t)n;
}

static void emit_u32(uint8_t type, uint32_t ch, uint32_t v)
{
	uint8_t p[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	emit(type, ch, p, 4);
}

/* An ERROR on a channel uses its output window like data does: returns
 * the window bytes it took (0 if not sent). */
__attribute__((format(printf, 2, 3)))
static uint32_t emit_error(uint32_t ch, const char *fmt, ...);

static uint32_t emit_error(uint32_t ch, const char *fmt, ...)
{
	char text[AGENT_ERROR_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n <= 0)
		return 0;
	size_t len = strlen(text);
	agent_text_clean(text, len);
	return emit(AGENT_ERROR, ch, text, (uint32_t)len) ? AGENT_HDR_LEN + (uint32_t)len : 0;
}

static void emit_exit(uint32_t ch, uint32_t how, uint32_t v)
{
	if (!link_up)
		return;
	int n = agent_encode_exit(out + out_len, OUT_CAP - out_len, ch, how, v);
	if (n > 0)
		out_len += (size_t)n;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void drop_stdin(struct chan *c)
{
	close_fd(&c->in_fd);
	free(c->inbuf);
	c->inbuf = NULL;
	c->in_len = c->in_off = 0;
	/* whatever we held is given back: the host must not stall on it */
	c->ack += c->in_used;
	c->in_used = 0;
}

static void free_chan(struct chan *c)
{
	drop_stdin(c);
	close_fd(&c->out_fd);
	close_fd(&c->err_fd);
	memset(c, 0, sizeof(*c));
	c->in_fd = c->out_fd = c->err_fd = -1;
}

static struct chan *find_chan(uint32_t id)
{
	for (unsigned i = 0; id && i < AGENT_CHANNELS_MAX; i++)
		if (chans[i].id == id)
			return &chans[i];
	return NULL;
}

static struct chan *chan_of_pid(pid_t pid)
{
	for (unsigned i = 0; i < AGENT_CHANNELS_MAX; i++)
		if (chans[i].id && chans[i].pid == pid && !chans[i].exited)
			return &chans[i];
	return NULL;
}

/* Forget every command: kill them, close their pipes.  Their zombies are
 * reaped as SIGCHLD comes (a pid no channel owns is simply collected). */
static void reset_session(void)
{
	for (unsigned i = 0; i < AGENT_CHANNELS_MAX; i++) {
		struct chan *c = &chans[i];
		if (!c->id)
			continue;
		if (!c->exited && c->pid > 0)
			kill(-c->pid, SIGKILL);
		free_chan(c);
	}
	session = 0;
	said_none = false;
}

static void link_down(const char *why)
{
	if (!virtio_port) {
		/* --fd: a stream that ends or fails is not coming back */
		logmsg("link closed (%s)", why);
		reset_session();
		exit(0);
	}
	if (link_up)
		logmsg("host went away (%s)", why);
	link_up = false;
	out_len = 0;
	reset_session();
	agent_dec_init(&dec, AGENT_FROM_HOST, true, true);
}

static const char *const default_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	NULL,
};

/* In the child, after fork: become the command or report why not. */
__attribute__((noreturn)) static void child(const struct agent_exec *x, int in, int o, int e, int errpipe)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* a session of its own: SIGNAL and CLOSE reach its whole group, and
	 * it has no controlling terminal to read from */
	setsid();
	if (dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
		goto fail;
	if (chdir(x->cwd ? x->cwd : "/") < 0)
		goto fail;
	clearenv();
	for (unsigned i = 0; default_env[i]; i++)
		putenv((char *)default_env[i]);
	for (unsigned i = 0; i < x->envc; i++)
		putenv((char *)x->envp[i]);
	execvp(x->argv[0], (char *const *)x->argv);
fail:;
	int err = errno;
	(void)!write(errpipe, &err, sizeof(err));
	_exit(err == ENOENT ? 127 : 126);
}

static int pipe_cloexec(int p[2])
{
	return pipe2(p, O_CLOEXEC);
}

static void start(uint32_t id, const struct agent_frame *f)
{
	static struct agent_exec x;
	if (find_chan(id)) {
		logmsg("EXEC on channel %u, which is in use: ignored", id);
		return;
	}
	struct chan *c = NULL;
	for (unsigned i = 0; i < AGENT_CHANNELS_MAX && !c; i++)
		if (!chans[i].id)
			c = &chans[i];
	if (!c) {
		emit_error(id, "too many commands at once (%u)", AGENT_CHANNELS_MAX);
		emit_exit(id, AGENT_EXIT_CODE, 126);
		return;
	}
	if (agent_exec_decode(f->payload, f->len, &x))
		return;   /* the decoder checked it already */
	int in[2] = { -1, -1 }, o[2] = { -1, -1 }, e[2] = { -1, -1 }, ep[2] = { -1, -1 };
	if (pipe_cloexec(in) || pipe_cloexec(o) || pipe_cloexec(e) || pipe_cloexec(ep)) {
		emit_error(id, "cannot run %s: pipe: %s", x.argv[0], strerror(errno));
		goto fail;
	}
	pid_t pid = fork();
	if (pid < 0) {
		emit_error(id, "cannot run %s: fork: %s", x.argv[0], strerror(errno));
		goto fail;
	}
	if (pid == 0)
		child(&x, in[0], o[1], e[1], ep[1]);
	close(in[0]);
	close(o[1]);
	close(e[1]);
	close(ep[1]);
	/* wait for exec (the pipe closes) or its errno: either way the child
	 * has called setsid(), so a SIGNAL right after this reaches it */
	int err = 0;
	ssize_t n;
	uint32_t used = 0;
	while ((n = read(ep[0], &err, sizeof(err))) < 0 && errno == EINTR)
		;
	close(ep[0]);
	if (n == sizeof(err))
		used = emit_error(id, "cannot run %s: %s", x.argv[0], strerror(err));
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(o[0], F_SETFL, O_NONBLOCK);
	fcntl(e[0], F_SETFL, O_NONBLOCK);
	c->id = id;
	c->pid = pid;
	c->in_fd = in[1];
	c->out_fd = o[0];
	c->err_fd = e[0];
	c->credit = AGENT_WINDOW - used;
	return;
fail:
	for (int i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&o[i]);
		close_fd(&e[i]);
		close_fd(&ep[i]);
	}
	emit_exit(id, AGENT_EXIT_CODE, 126);
}

/* The host sent more than it may: its stream is not what we think it is. */
static void desync(const char *why)
{
	logmsg("host broke the protocol: %s; starting over", why);
	reset_session();
	agent_dec_init(&dec, AGENT_FROM_HOST, true, true);
	emit_hello(0);
	said_none = true;
}

static void on_frame(const struct agent_frame *f)
{
	if (f->type == AGENT_HELLO) {
		uint32_t s = agent_hello_session(f);
		if (!s)
			return;
		if (s != session) {
			reset_session();
			session = s;
		}
		emit_hello(s);
		return;
	}
	if (!session) {
		/* a command for a session we do not have (we restarted) */
		if (!said_none)
			emit_hello(0);
		said_none = true;
		return;
	}
	if (f->type == AGENT_ERROR) {
		char text[AGENT_ERROR_MAX + 1];
		memcpy(text, f->payload, f->len);
		text[f->len] = 0;
		logmsg("host says: %s", text);
		return;
	}
	if (f->type == AGENT_EXEC) {
		start(f->channel, f);
		return;
	}
	struct chan *c = find_chan(f->channel);
	if (!c)
		return;   /* a finished command's late frame */
	switch (f->type) {
	case AGENT_STDIN: {
		uint32_t n = AGENT_HDR_LEN + f->len;
		if (n > AGENT_WINDOW - c->in_used) {
			desync("stdin beyond the window");
			return;
		}
		if (c->in_fd < 0 || c->in_eof) {
			c->ack += n;   /* nobody reads it: give the window back */
			return;
		}
		if (!c->inbuf && !(c->inbuf = malloc(AGENT_WINDOW))) {
			drop_stdin(c);
			c->ack += n;
			return;
		}
		if (c->in_off && c->in_off == c->in_len)
			c->in_off = c->in_len = 0;
		if (c->in_len + f->len > AGENT_WINDOW) {
			memmove(c->inbuf, c->inbuf + c->in_off, c->in_len - c->in_off);
			c->in_len -= c->in_off;
			c->in_off = 0;
		}
		memcpy(c->inbuf + c->in_len, f->payload, f->len);
		c->in_len += f->len;
		c->in_used += n;
		return;
	}
	case AGENT_STDIN_EOF:
		c->in_eof = true;
		if (c->in_off == c->in_len)
			drop_stdin(c);
		return;
	case AGENT_SIGNAL:
		if (!c->exited)
			kill(-c->pid, (int)agent_frame_u32(f));
		return;
	case AGENT_CLOSE:
		c->closed = true;
		if (!c->exited)
			kill(-c->pid, SIGKILL);
		drop_stdin(c);
		c->ack = 0;
		close_fd(&c->out_fd);
		close_fd(&c->err_fd);
		return;
	case AGENT_ACK: {
		uint32_t n = agent_frame_u32(f);
		if (n > AGENT_WINDOW - c->credit) {
			desync("ACK of more than we sent");
			return;
		}
		c->credit += n;
		return;
	}
	}
}

static void link_read(void)
{
	static uint8_t buf[64 * 1024];
	for (int rounds = 0; rounds < 4; rounds++) {
		ssize_t n = read(link_fd, buf, sizeof(buf));
		if (n == 0) {
			link_down(virtio_port ? "the host is not connected" : "end of stream");
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				if (!link_up) {
					/* connected, nothing said yet: say who we are */
					link_up = true;
					emit_hello(0);
					said_none = true;
				}
				return;
			}
			link_down(strerror(errno));
			return;
		}
		if (!link_up) {
			link_up = true;
			emit_hello(0);
			said_none = true;
		}
		size_t off = 0;
		while (off < (size_t)n) {
			struct agent_frame f;
			size_t used;
			int r = agent_dec_feed(&dec, buf + off, (size_t)n - off, &used, &f);
			off += used;
			if (r < 0) {
				desync(agent_strerror(r));
				break;
			}
			if (r == 1)
				on_frame(&f);
		}
		/* stop reading the host while our own output is backed up:
		 * each frame it sends may make us queue a reply */
		if (out_len > OUT_DATA_LIMIT)
			return;
	}
}

static void link_write(void)
{
	while (out_len) {
		ssize_t n = write(link_fd, out, out_len);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			link_down(strerror(errno));
			return;
		}
		memmove(out, out + n, out_len - (size_t)n);
		out_len -= (size_t)n;
	}
}

/* Move a child's output to the link while window and room last.  After
 * its exit, only what it had written by then (a background grandchild
 * holding the pipe neither keeps the command alive, as with a namespace
 * guest, nor keeps its channel open by writing on). */
static void pump_output(struct chan *c, int *fd, uint8_t type)
{
	static uint8_t buf[READ_CHUNK];
	int *left = fd == &c->out_fd ? &c->left_out : &c->left_err;
	for (;;) {
		if (*fd >= 0 && c->exited && *left <= 0) {
			close_fd(fd);
			return;
		}
		if (*fd < 0 || c->credit <= AGENT_HDR_LEN || out_len + AGENT_HDR_LEN >= OUT_DATA_LIMIT)
			return;
		size_t n = c->credit - AGENT_HDR_LEN;
		if (c->exited && n > (size_t)*left)
			n = (size_t)*left;
		if (n > READ_CHUNK)
			n = READ_CHUNK;
		if (n > OUT_DATA_LIMIT - out_len - AGENT_HDR_LEN)
			n = OUT_DATA_LIMIT - out_len - AGENT_HDR_LEN;
		ssize_t r = read(*fd, buf, n);
		if (r > 0) {
			emit(type, c->id, buf, (uint32_t)r);
			c->credit -= AGENT_HDR_LEN + (uint32_t)r;
			if (c->exited)
				*left -= (int)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 || c->exited || errno != EAGAIN)
			close_fd(fd);
		return;
	}
}

static void pump_stdin(struct chan *c)
{
	while (c->in_fd >= 0 && c->in_off < c->in_len) {
		ssize_t n = write(c->in_fd, c->inbuf + c->in_off, c->in_len - c->in_off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				drop_stdin(c);   /* EPIPE: the command stopped reading */
			return;
		}
		c->in_off += (size_t)n;
	}
	if (c->in_off == c->in_len) {
		c->in_off = c->in_len = 0;
		c->ack += c->in_used;
		c->in_used = 0;
		if (c->in_eof)
			drop_stdin(c);
	}
}

static void finish(struct chan *c)
{
	if (!c->id || !c->exited || c->out_fd >= 0 || c->err_fd >= 0)
		return;
	if (link_up && OUT_CAP - out_len < AGENT_HDR_LEN + 8)
		return;   /* no room now: try again after the next write */
	int s = c->status;
	if (WIFSIGNALED(s))
		emit_exit(c->id, AGENT_EXIT_SIGNAL, (uint32_t)WTERMSIG(s));
	else
		emit_exit(c->id, AGENT_EXIT_CODE, (uint32_t)WEXITSTATUS(s));
	free_chan(c);
}

static void reap(void)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct chan *c = chan_of_pid(pid);
		if (c) {
			/* everything it wrote is in its pipes now: count it */
			c->left_out = c->left_err = 0;
			if (c->out_fd >= 0 && ioctl(c->out_fd, FIONREAD, &c->left_out) < 0)
				c->left_out = 0;
			if (c->err_fd >= 0 && ioctl(c->err_fd, FIONREAD, &c->left_err) < 0)
				c->left_err = 0;
			c->exited = true;
			c->status = st;
			drop_stdin(c);
		}
	}
}

static int find_port(const char *name, char *dev, size_t len)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	if (!d)
		return -ENOENT;
	struct dirent *e;
	int found = -ENOENT;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[512], got[128] = "";
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(got, sizeof(got), f))
			got[strcspn(got, "\n")] = 0;
		fclose(f);
		if (!strcmp(got, name)) {
			snprintf(dev, len, "/dev/%s", e->d_name);
			found = 0;
			break;
		}
	}
	closedir(d);
	return found;
}

/* The port appears once the device's control queue has said so, shortly
 * after the module loaded: wait for it, boundedly. */
static int open_port(const char *name)
{
	char dev[300];
	struct timespec step = { 0, 20 * 1000 * 1000 };
	for (int i = 0; i < 1500; i++) {   /* 30 s */
		if (!find_port(name, dev, sizeof(dev))) {
			int fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
			if (fd >= 0) {
				logmsg("on %s", dev);
				return fd;
			}
		}
		if (i == 0)
			logmsg("waiting for port %s", name);
		nanosleep(&step, NULL);
	}
	logmsg("no virtio-serial port named %s", name);
	return -1;
}

int main(int argc, char **argv)
{
	const char *port = "vqnet.agent";
	int fd = -1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = argv[++i];
		else if (!strcmp(argv[i], "--fd") && i + 1 < argc)
			fd = atoi(argv[++i]);
		else {
			dprintf(2, "usage: vqnet-agent [--port NAME | --fd N]\n");
			return 2;
		}
	}
	for (unsigned i = 0; i < AGENT_CHANNELS_MAX; i++)
		chans[i].in_fd = chans[i].out_fd = chans[i].err_fd = -1;
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGIO);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		logmsg("signalfd: %s", strerror(errno));
		return 1;
	}
	if (fd >= 0) {
		link_fd = fd;
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	} else {
		link_fd = open_port(port);
		if (link_fd < 0)
			return 1;
		virtio_port = true;
		/* SIGIO when the host connects or sends: the event we wait on
		 * while the host is away */
		fcntl(link_fd, F_SETOWN, getpid());
		fcntl(link_fd, F_SETFL, O_NONBLOCK | O_ASYNC);
	}
	agent_dec_init(&dec, AGENT_FROM_HOST, true, true);
	link_read();   /* finds out whether the host is there */

	struct pollfd pfd[2 + 3 * AGENT_CHANNELS_MAX];
	struct chan *owner[2 + 3 * AGENT_CHANNELS_MAX];
	for (;;) {
		unsigned n = 0;
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		if (link_up) {
			short ev = out_len <= OUT_DATA_LIMIT ? POLLIN : 0;
			if (out_len)
				ev |= POLLOUT;
			pfd[n] = (struct pollfd){ .fd = link_fd, .events = ev };
			owner[n++] = NULL;
		}
		bool room = link_up && out_len + AGENT_HDR_LEN < OUT_DATA_LIMIT;
		for (unsigned i = 0; i < AGENT_CHANNELS_MAX; i++) {
			struct chan *c = &chans[i];
			if (!c->id)
				continue;
			bool can = room && c->credit > AGENT_HDR_LEN;
			if (c->out_fd >= 0 && can) {
				pfd[n] = (struct pollfd){ .fd = c->out_fd, .events = POLLIN };
				owner[n++] = c;
			}
			if (c->err_fd >= 0 && can) {
				pfd[n] = (struct pollfd){ .fd = c->err_fd, .events = POLLIN };
				owner[n++] = c;
			}
			if (c->in_fd >= 0 && c->in_off < c->in_len) {
				pfd[n] = (struct pollfd){ .fd = c->in_fd, .events = POLLOUT };
				owner[n++] = c;
			}
		}
		/* while the host is away, SIGIO says when it is back; the
		 * timeout only guards against a missed one */
		int r = poll(pfd, n, link_up || !virtio_port ? -1 : 1000);
		if (r < 0 && errno != EINTR) {
			logmsg("poll: %s", strerror(errno));
			return 1;
		}
		struct signalfd_siginfo si;
		bool check_link = !link_up && virtio_port;
		while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGCHLD)
				reap();
			else if (si.ssi_signo == SIGIO)
				check_link = true;
			else {
				logmsg("signal %u: stopping", si.ssi_signo);
				reset_session();
				return 0;
			}
		}
		if (check_link && !link_up)
			link_read();
		for (unsigned i = 1; r > 0 && i < n; i++) {
			if (!pfd[i].revents)
				continue;
			struct chan *c = owner[i];
			if (!c) {
				if (pfd[i].revents & POLLOUT)
					link_write();
				if (link_up && pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
					link_read();
				continue;
			}
			if (!c->id)
				continue;
			if (pfd[i].fd == c->in_fd)
				pump_stdin(c);
			else if (pfd[i].fd == c->out_fd)
				pump_output(c, &c->out_fd, AGENT_STDOUT);
			else if (pfd[i].fd == c->err_fd)
				pump_output(c, &c->err_fd, AGENT_STDERR);
		}
		/* exited commands: take what they left in their pipes, then EXIT */
		for (unsigned i = 0; i < AGENT_CHANNELS_MAX; i++) {
			struct chan *c = &chans[i];
			if (!c->id)
				continue;
			if (c->exited) {
				pump_output(c, &c->out_fd, AGENT_STDOUT);
				pump_output(c, &c->err_fd, AGENT_STDERR);
			}
			/* ACK stdin in batches: a frame per 32 KiB, or when all
			 * is taken (the host may be waiting for the last bit) */
			if (c->ack && (c->ack >= AGENT_WINDOW / 8 || !c->in_used)) {
				uint32_t a = c->ack;
				c->ack = 0;
				if (!c->closed)
					emit_u32(AGENT_ACK, c->id, a);
			}
			finish(c);
		}
		if (link_up && out_len)
			link_write();
	}
}
