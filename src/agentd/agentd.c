/* SPDX-License-Identifier: MIT */
/*
 * agentd.c - the event loop of vqnet-agentd (see agentd.h).
 *
 * Memory is fixed by design: the link's output buffer (LINK_CAP), one
 * decoder and two buffers per client (at most MAX_CLIENTS), and each
 * client's output buffer is bounded by the channel's window, which the
 * guest must respect (agent_host_rx refuses a frame that exceeds it).
 * Back-pressure, each way:
 *   - guest -> client: we ACK the guest's output only once the client has
 *     taken it, so a slow client stops its own command, nobody else's;
 *   - client -> guest: we read a client's socket only while its channel
 *     has stdin credit and the link's buffer has room for a whole frame,
 *     so a fast writer waits in its own socket.
 */
#include "agentd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define MAX_CLIENTS 128
#define LINK_CAP (1024u * 1024u)
/* frames from clients are forwarded only below this fill, so ACKs, CLOSEs
 * and HELLOs always find room above it */
#define LINK_DATA_LIMIT (LINK_CAP - 128u * 1024u)
#define COUT_CAP (AGENT_WINDOW + 4u * 1024u)
#define CIN_CAP (16u * 1024u)   /* per read; the decoder holds whole frames */
#define HELLO_RESEND_MS 1000
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
#define LINK_LOG_MAX 20   /* ERRORs from the guest about the link we log */

enum cstate {
	C_IDLE,     /* connected, no command yet */
	C_RUN,      /* its command runs on channel id */
	C_END,      /* nothing more to do but flush out[] and close */
};

struct client {
	int fd;                  /* -1: slot free */
	enum cstate state;
	unsigned num;            /* for the log */
	uint32_t id;             /* channel while C_RUN */
	bool want_hello;         /* answer HELLO once the agent is ready */
	bool rd_eof;             /* it shut down its sending side */
	bool eof_sent;           /* STDIN_EOF went to the guest */
	struct agent_decoder *dec;
	uint8_t *in;             /* bytes read, not yet decoded */
	size_t in_len, in_off;
	const uint8_t *sp;       /* STDIN payload waiting for credit (in dec) */
	uint32_t sleft;
	bool eof_wait;           /* its STDIN_EOF, behind sp */
	uint8_t *out;            /* frames for it */
	size_t out_len;
	uint32_t consumed;       /* window bytes it took, not yet ACKed */
};

static const struct agentd_config *cfg;
static struct client clients[MAX_CLIENTS];
static unsigned client_count;
static int chan_client[AGENT_CHANNELS_MAX];   /* by host slot: client index, -1 */

static int gfd = -1;                 /* QEMU's agent socket */
static struct agent_decoder gdec;
static struct agent_host host;
static uint8_t lout[LINK_CAP];
static size_t lout_len;
static uint64_t connected_at, hello_at, retry_at;
static unsigned backoff_ms = BACKOFF_MIN_MS;
static char lost_why[256] = "the agent has not said hello yet";
static unsigned link_logs;
static bool connect_logged;
static bool violated;                /* the last connection ended in a protocol violation */
static bool finished;                /* qemu_fd mode: the link is gone for good */

__attribute__((format(printf, 1, 2)))
static void logmsg(const char *fmt, ...);

static void logmsg(const char *fmt, ...)
{
	/* formatted here and written whole: one write(2) per line (stdio
	 * would fstat and lseek, which the seccomp filter does not allow) */
	char line[800] = "vqnet-agentd: ";
	size_t n = strlen(line);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(line);
	line[n++] = '\n';
	(void)!write(2, line, n);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 1, 2)))
static void notify(const char *fmt, ...);

static void notify(const char *fmt, ...)
{
	if (cfg->ready_fd < 0)
		return;
	char line[300];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* a reader that is not there or not reading costs us a line, never
	 * a block (the fd is non-blocking) */
	(void)!write(cfg->ready_fd, line, (size_t)n);
}

/* ---- frames out ---- */

static bool link_emit(uint8_t type, uint32_t ch, const void *p, uint32_t len)
{
	if (gfd < 0)
		return false;
	int n = agent_encode(lout + lout_len, LINK_CAP - lout_len, type, ch, p, len);
	if (n < 0)
		return false;
	lout_len += (size_t)n;
	return true;
}

static bool link_emit_u32(uint8_t type, uint32_t ch, uint32_t v)
{
	if (gfd < 0)
		return false;
	int n = agent_encode_u32(lout + lout_len, LINK_CAP - lout_len, type, ch, v);
	if (n < 0)
		return false;
	lout_len += (size_t)n;
	return true;
}

static bool link_room(void)
{
	return gfd >= 0 && lout_len + AGENT_FRAME_MAX <= LINK_DATA_LIMIT;
}

static bool client_emit(struct client *c, uint8_t type, const void *p, uint32_t len)
{
	int n = agent_encode(c->out + c->out_len, COUT_CAP - c->out_len, type, 0, p, len);
	if (n < 0)
		return false;
	c->out_len += (size_t)n;
	return true;
}

static int slot_of(uint32_t id);

/* The last words to a client: an ERROR, then it is closed once flushed.
 * A command still running for it is closed (the agent kills it). */
__attribute__((format(printf, 2, 3)))
static void client_end(struct client *c, const char *fmt, ...);

static void client_end(struct client *c, const char *fmt, ...)
{
	if (c->state == C_RUN) {
		int s = slot_of(c->id);
		if (s >= 0 && chan_client[s] == (int)(c - clients)) {
			chan_client[s] = -1;
			if (host.ch[s].state == AGENT_CH_OPEN) {
				link_emit(AGENT_CLOSE, c->id, NULL, 0);
				agent_host_closing(&host, c->id);
			}
		}
	}
	if (fmt) {
		char text[AGENT_ERROR_MAX + 1];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
		size_t len = strlen(text);
		agent_text_clean(text, len);
		if (len)
			client_emit(c, AGENT_ERROR, text, (uint32_t)len);
	}
	c->state = C_END;
	c->sleft = 0;
	c->eof_wait = false;
}

static int slot_of(uint32_t id)
{
	struct agent_host_chan *ch = agent_host_find(&host, id);
	return ch ? (int)(ch - host.ch) : -1;
}

/* Forget a client.  If its command still runs, tell the agent to kill it;
 * the channel lingers (CLOSING) until the agent's EXIT. */
static void client_close(struct client *c)
{
	if (c->state == C_RUN) {
		int s = slot_of(c->id);
		if (s >= 0) {
			chan_client[s] = -1;
			if (host.ch[s].state == AGENT_CH_OPEN) {
				link_emit(AGENT_CLOSE, c->id, NULL, 0);
				agent_host_closing(&host, c->id);
			}
		}
	}
	close(c->fd);
	free(c->dec);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	client_count--;
}

/* ---- the guest link ---- */

static uint32_t new_session_id(void)
{
	uint32_t s = 0;
	while (!s)
		if (getrandom(&s, sizeof(s), 0) != sizeof(s))
			s = (uint32_t)now_ms() ^ (uint32_t)getpid();
	return s;
}

/* Every command is lost with the session: no CLOSE for them (the agent
 * has forgotten them, or is gone), only the reason to each client. */
static void fail_channels(const char *why)
{
	for (unsigned i = 0; i < AGENT_CHANNELS_MAX; i++)
		chan_client[i] = -1;
	for (unsigned i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0 && clients[i].state == C_RUN)
			client_end(&clients[i], "%s", why);
}

static void start_session(void)
{
	agent_host_reset(&host, new_session_id());
	int n = agent_encode_hello(lout + lout_len, LINK_CAP - lout_len, host.session);
	if (n > 0)
		lout_len += (size_t)n;
	hello_at = now_ms() + HELLO_RESEND_MS;
}

__attribute__((format(printf, 1, 2)))
static void guest_lost(const char *fmt, ...);

static void guest_lost(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(lost_why, sizeof(lost_why), fmt, ap);
	va_end(ap);
	logmsg("guest link closed: %s", lost_why);
	notify("lost %s", lost_why);
	char why[400];
	snprintf(why, sizeof(why), "lost the VM's agent: %s", lost_why);
	fail_channels(why);
	close(gfd);
	gfd = -1;
	lout_len = 0;
	agent_host_reset(&host, 0);   /* no session until connected again */
	if (cfg->qemu_path) {
		retry_at = now_ms() + backoff_ms;
	} else {
		finished = true;
	}
}

static void guest_connect(void)
{
	/* non-blocking: a unix connect only waits when the server's backlog
	 * is full (QEMU accepts one connection at a time); then we retry */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		logmsg("socket: %s", strerror(errno));
		retry_at = now_ms() + BACKOFF_MAX_MS;
		return;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cfg->qemu_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (!connect_logged)
			logmsg("cannot connect to %s: %s (retrying)", cfg->qemu_path, strerror(errno));
		connect_logged = true;
		snprintf(lost_why, sizeof(lost_why), "cannot connect to QEMU's agent socket: %s",
			 strerror(errno));
		close(fd);
		retry_at = now_ms() + backoff_ms;
		backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff_ms * 2;
		return;
	}
	logmsg("connected to %s", cfg->qemu_path);
	connect_logged = false;
	gfd = fd;
	connected_at = now_ms();
	retry_at = 0;
	agent_dec_init(&gdec, AGENT_FROM_GUEST, true, true);
	snprintf(lost_why, sizeof(lost_why), "the agent has not said hello yet");
	start_session();
}

static void guest_adopt(int fd)
{
	fcntl(fd, F_SETFL, O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	gfd = fd;
	connected_at = now_ms();
	agent_dec_init(&gdec, AGENT_FROM_GUEST, true, true);
	start_session();
}

static void serve_hello_waiters(void)
{
	for (unsigned i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd >= 0 && c->want_hello) {
			c->want_hello = false;
			uint8_t p[AGENT_HELLO_LEN + AGENT_HDR_LEN];
			int n = agent_encode_hello(p, sizeof(p), 0);
			if (n > 0 && c->out_len + (size_t)n <= COUT_CAP) {
				memcpy(c->out + c->out_len, p, (size_t)n);
				c->out_len += (size_t)n;
			}
		}
	}
}

/* 0, or a negative AGENT_E*: the guest broke the protocol. */
static int on_guest_frame(const struct agent_frame *f)
{
	int r = agent_host_rx(&host, f);
	if (r < 0)
		return r;
	if (r == 1) {
		if (!violated)
			backoff_ms = BACKOFF_MIN_MS;
		logmsg("agent ready (session %08x, %llu ms after connecting)", host.session,
		       (unsigned long long)(now_ms() - connected_at));
		notify("ready");
		serve_hello_waiters();
		return 0;
	}
	if (r == 2)
		return 0;
	if (r == 3) {
		if (host.open) {
			logmsg("the agent restarted: %u command(s) lost", host.open);
			fail_channels("lost the command: the VM's agent restarted");
		}
		start_session();
		return 0;
	}
	if (f->channel == 0) {
		/* ERROR about the link: worth a line, but a guest must not
		 * be able to fill our log */
		if (link_logs < LINK_LOG_MAX) {
			char text[AGENT_ERROR_MAX + 1];
			memcpy(text, f->payload, f->len);
			text[f->len] = 0;
			logmsg("the agent says: %s", text);
		} else if (link_logs == LINK_LOG_MAX) {
			logmsg("the agent says more: no longer logged");
		}
		link_logs++;
		return 0;
	}
	int s = -1;
	for (unsigned i = 0; i < AGENT_CHANNELS_MAX; i++)
		if (host.ch[i].id == f->channel)
			s = (int)i;
	/* EXIT freed the slot in agent_host_rx, but its id is still there */
	int ci = s >= 0 ? chan_client[s] : -1;
	struct client *c = ci >= 0 ? &clients[ci] : NULL;
	if (f->type == AGENT_EXIT) {
		if (s >= 0)
			chan_client[s] = -1;
		if (c) {
			client_emit(c, AGENT_EXIT, f->payload, f->len);
			c->state = C_END;
			c->sleft = 0;
			c->eof_wait = false;
		}
		return 0;
	}
	if (!c)
		return 0;   /* closing: the client is gone, drop its output */
	if (f->type == AGENT_ACK)
		return 0;   /* credit: agent_host_rx counted it */
	/* STDOUT, STDERR, ERROR: within the window, so there is room */
	client_emit(c, f->type, f->payload, f->len);
	return 0;
}

static void guest_read(void)
{
	static uint8_t buf[64 * 1024];
	for (int rounds = 0; rounds < 8 && gfd >= 0; rounds++) {
		ssize_t n = read(gfd, buf, sizeof(buf));
		if (n == 0) {
			violated = false;
			guest_lost("QEMU closed the agent socket");
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				guest_lost("reading QEMU's agent socket: %s", strerror(errno));
			return;
		}
		size_t off = 0;
		while (off < (size_t)n && gfd >= 0) {
			struct agent_frame f;
			size_t used;
			int r = agent_dec_feed(&gdec, buf + off, (size_t)n - off, &used, &f);
			off += used;
			if (r == 1)
				r = on_guest_frame(&f);
			if (r < 0) {
				/* a guest that breaks the protocol at each
				 * connection is reconnected to at the slowest
				 * pace: three log lines per 2 s, no more */
				violated = true;
				backoff_ms = BACKOFF_MAX_MS;
				guest_lost("the guest broke the protocol after %llu frame(s): %s",
					   (unsigned long long)gdec.frames, agent_strerror(r));
				return;
			}
		}
	}
}

static void guest_write(void)
{
	while (gfd >= 0 && lout_len) {
		ssize_t n = write(gfd, lout, lout_len);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				guest_lost("writing QEMU's agent socket: %s", strerror(errno));
			return;
		}
		memmove(lout, lout + n, lout_len - (size_t)n);
		lout_len -= (size_t)n;
	}
}

/* ---- clients ---- */

static void accept_clients(void)
{
	for (;;) {
		int fd = accept4(cfg->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct client *c = NULL;
		for (unsigned i = 0; i < MAX_CLIENTS && !c; i++)
			if (clients[i].fd < 0)
				c = &clients[i];
		if (c) {
			c->dec = malloc(sizeof(*c->dec));
			c->in = malloc(CIN_CAP);
			c->out = malloc(COUT_CAP);
		}
		if (!c || !c->dec || !c->in || !c->out) {
			static const char busy[] = "too many clients";
			uint8_t fr[AGENT_HDR_LEN + sizeof(busy)];
			int n = agent_encode(fr, sizeof(fr), AGENT_ERROR, 0, busy, sizeof(busy) - 1);
			(void)!write(fd, fr, (size_t)n);
			close(fd);
			if (c) {
				free(c->dec);
				free(c->in);
				free(c->out);
				c->dec = NULL;
				c->in = c->out = NULL;
			}
			continue;
		}
		static unsigned nums;
		c->fd = fd;
		c->num = ++nums;
		c->state = C_IDLE;
		agent_dec_init(c->dec, AGENT_FROM_CLIENT, false, false);
		client_count++;
	}
}

static void client_exec(struct client *c, const struct agent_frame *f)
{
	if (gfd < 0 || !host.ready) {
		client_end(c, "the VM's agent is not ready: %s", lost_why);
		return;
	}
	int s = agent_host_open(&host);
	if (s < 0) {
		client_end(c, "too many commands in this VM at once (%u)", AGENT_CHANNELS_MAX);
		return;
	}
	c->id = host.ch[s].id;
	chan_client[s] = (int)(c - clients);
	c->state = C_RUN;
	link_emit(AGENT_EXEC, c->id, f->payload, f->len);
}

/* Forward what a client has decoded and the channel's credit allows;
 * false while something waits (credit or link room). */
static bool client_forward(struct client *c)
{
	while (c->sleft) {
		struct agent_host_chan *ch = agent_host_find(&host, c->id);
		if (!ch || !link_room())
			return false;
		if (ch->in_credit <= AGENT_HDR_LEN)
			return false;
		uint32_t n = ch->in_credit - AGENT_HDR_LEN;
		if (n > c->sleft)
			n = c->sleft;
		agent_host_send_stdin(&host, c->id, AGENT_HDR_LEN + n);
		link_emit(AGENT_STDIN, c->id, c->sp, n);
		c->sp += n;
		c->sleft -= n;
	}
	if (c->eof_wait) {
		if (!link_room())
			return false;
		link_emit(AGENT_STDIN_EOF, c->id, NULL, 0);
		c->eof_wait = false;
		c->eof_sent = true;
	}
	return true;
}

static void client_frame(struct client *c, const struct agent_frame *f)
{
	switch (f->type) {
	case AGENT_HELLO:
		if (c->state != C_IDLE) {
			client_end(c, "HELLO after EXEC");
		} else if (gfd >= 0 && host.ready) {
			c->want_hello = true;
			serve_hello_waiters();
		} else {
			c->want_hello = true;   /* answered when the agent is */
		}
		return;
	case AGENT_EXEC:
		if (c->state != C_IDLE)
			client_end(c, "a second EXEC on one connection");
		else
			client_exec(c, f);
		return;
	case AGENT_STDIN:
	case AGENT_STDIN_EOF:
	case AGENT_SIGNAL:
		if (c->state != C_RUN) {
			if (c->state == C_IDLE)
				client_end(c, "STDIN, STDIN_EOF or SIGNAL before EXEC");
			return;   /* C_END: its command is over; drop */
		}
		if (c->eof_sent && f->type != AGENT_SIGNAL) {
			client_end(c, "STDIN after STDIN_EOF");
			return;
		}
		if (f->type == AGENT_SIGNAL) {
			link_emit_u32(AGENT_SIGNAL, c->id, agent_frame_u32(f));
		} else if (f->type == AGENT_STDIN) {
			c->sp = f->payload;
			c->sleft = f->len;
		} else {
			c->eof_wait = true;
		}
		return;
	}
}

static void client_process(struct client *c)
{
	while (c->state != C_END) {
		if (!client_forward(c))
			return;
		/* a frame may have to go on the link: wait for room, unless
		 * there is no link (then an EXEC is refused at once) */
		if (c->in_off == c->in_len || (gfd >= 0 && !link_room()))
			return;
		struct agent_frame f;
		size_t used;
		int r = agent_dec_feed(c->dec, c->in + c->in_off, c->in_len - c->in_off, &used, &f);
		c->in_off += used;
		if (r < 0) {
			logmsg("client %u: %s", c->num, agent_strerror(r));
			client_end(c, "protocol error: %s", agent_strerror(r));
			return;
		}
		if (r == 1)
			client_frame(c, &f);
	}
}

static bool client_wants_read(const struct client *c)
{
	if (c->state == C_END || c->rd_eof || c->in_off < c->in_len || c->sleft || c->eof_wait)
		return false;
	return c->state == C_IDLE || link_room();
}

/* Read from a client; false if it is gone. */
static bool client_read(struct client *c)
{
	ssize_t n = read(c->fd, c->in, CIN_CAP);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0) {
		c->rd_eof = true;
		if (c->state == C_IDLE && !c->want_hello)
			return false;
		/* it sends no more: its command's stdin ends here */
		if (c->state == C_RUN && !c->eof_sent)
			c->eof_wait = true;
		return true;
	}
	c->in_off = 0;
	c->in_len = (size_t)n;
	return true;
}

/* Write to a client; false if it is gone. */
static bool client_write(struct client *c)
{
	size_t done = 0;
	while (done < c->out_len) {
		ssize_t n = write(c->fd, c->out + done, c->out_len - done);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return false;
		}
		done += (size_t)n;
	}
	memmove(c->out, c->out + done, c->out_len - done);
	c->out_len -= done;
	if (c->state == C_RUN)
		c->consumed += (uint32_t)done;
	return true;
}

/* Return the window a client has taken, in batches: a frame per 32 KiB,
 * or whatever is left once it has taken everything. */
static void client_ack(struct client *c)
{
	if (c->state != C_RUN || !c->consumed || gfd < 0)
		return;
	if (c->consumed < AGENT_WINDOW / 8 && c->out_len)
		return;
	if (lout_len + AGENT_HDR_LEN + 4 > LINK_CAP)
		return;
	uint32_t n = agent_host_consumed(&host, c->id, c->consumed);
	c->consumed = 0;
	if (n)
		link_emit_u32(AGENT_ACK, c->id, n);
}

/* ---- seccomp ---- */

int agentd_seccomp(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	int err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* what the loop does (reconnecting included: socket + connect; the
	 * random session id), and what malloc and libc may need: memory,
	 * never executable; the clock if the vDSO falls back; signal masks */
	static const int plain[] = {
		SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(close), SCMP_SYS(poll), SCMP_SYS(ppoll),
		SCMP_SYS(accept4), SCMP_SYS(connect), SCMP_SYS(socket), SCMP_SYS(fcntl),
		SCMP_SYS(getrandom), SCMP_SYS(getpid), SCMP_SYS(clock_gettime),
		SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(brk),
		SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
		SCMP_SYS(exit_group), SCMP_SYS(exit),
	};
	for (size_t i = 0; !err && i < sizeof(plain) / sizeof(plain[0]); i++)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, plain[i], 0);
	struct scmp_arg_cmp no_exec = { .arg = 2, .op = SCMP_CMP_MASKED_EQ,
					.datum_a = PROT_EXEC, .datum_b = 0 };
	if (!err)
		err = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, &no_exec);
	if (!err)
		err = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, &no_exec);
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	return err;
}

/* ---- the loop ---- */

int agentd_run(const struct agentd_config *config)
{
	cfg = config;
	for (unsigned i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;
	for (unsigned i = 0; i < AGENT_CHANNELS_MAX; i++)
		chan_client[i] = -1;
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		logmsg("signalfd: %s", strerror(errno));
		return 1;
	}
	fcntl(cfg->listen_fd, F_SETFL, O_NONBLOCK);
	if (cfg->ready_fd >= 0)
		fcntl(cfg->ready_fd, F_SETFL, O_NONBLOCK);
	if (cfg->qemu_fd >= 0)
		guest_adopt(cfg->qemu_fd);
	else
		guest_connect();
	if (cfg->seccomp) {
		int err = agentd_seccomp();
		if (err) {
			logmsg("seccomp: %s", strerror(-err));
			return 1;
		}
	}

	static struct pollfd pfd[3 + MAX_CLIENTS];
	static int who[3 + MAX_CLIENTS];
	for (;;) {
		if (finished && !client_count)
			return 1;
		uint64_t now = now_ms();
		if (gfd < 0 && cfg->qemu_path && retry_at && now >= retry_at)
			guest_connect();
		if (gfd >= 0 && !host.ready && now >= hello_at && !lout_len) {
			/* the HELLO may have been lost to a reconnection, or
			 * swallowed by the tail of an older stream; one at a
			 * time (a guest that takes minutes to boot does not
			 * pile them up in our buffer) */
			int n = agent_encode_hello(lout + lout_len, LINK_CAP - lout_len, host.session);
			if (n > 0)
				lout_len += (size_t)n;
			hello_at = now + HELLO_RESEND_MS;
		}
		if (gfd >= 0 && lout_len)
			guest_write();

		unsigned n = 0;
		pfd[n] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		who[n++] = -1;
		pfd[n] = (struct pollfd){ .fd = cfg->listen_fd, .events = POLLIN };
		who[n++] = -2;
		if (gfd >= 0) {
			pfd[n] = (struct pollfd){ .fd = gfd, .events = POLLIN | (lout_len ? POLLOUT : 0) };
			who[n++] = -3;
		}
		for (unsigned i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &clients[i];
			if (c->fd < 0)
				continue;
			short ev = 0;
			if (client_wants_read(c))
				ev |= POLLIN;
			if (c->out_len)
				ev |= POLLOUT;
			/* events 0 still reports POLLHUP: a client that is gone */
			pfd[n] = (struct pollfd){ .fd = c->fd, .events = ev };
			who[n++] = (int)i;
		}
		int timeout = -1;
		uint64_t next = 0;
		if (gfd < 0 && cfg->qemu_path && retry_at)
			next = retry_at;
		else if (gfd >= 0 && !host.ready)
			next = hello_at;
		if (next)
			timeout = next > now ? (int)(next - now) : 0;
		int r = poll(pfd, n, timeout);
		if (r < 0 && errno != EINTR) {
			logmsg("poll: %s", strerror(errno));
			return 1;
		}
		for (unsigned i = 0; r > 0 && i < n; i++) {
			short rev = pfd[i].revents;
			if (!rev)
				continue;
			if (who[i] == -1) {
				struct signalfd_siginfo si;
				if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					logmsg("signal %u: stopping", si.ssi_signo);
					return 0;
				}
			} else if (who[i] == -2) {
				accept_clients();
			} else if (who[i] == -3) {
				if (rev & POLLOUT)
					guest_write();
				if (gfd >= 0 && rev & (POLLIN | POLLHUP | POLLERR))
					guest_read();
			} else {
				struct client *c = &clients[who[i]];
				if (c->fd < 0)
					continue;
				bool alive = true;
				if (rev & POLLOUT)
					alive = client_write(c);
				if (alive && rev & POLLIN)
					alive = client_read(c);
				if (alive && rev & (POLLHUP | POLLERR) && !(rev & POLLIN))
					alive = false;
				if (!alive)
					client_close(c);
			}
		}
		/* whatever became possible: forward, flush, acknowledge */
		for (unsigned i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &clients[i];
			if (c->fd < 0)
				continue;
			client_process(c);
			if (c->out_len && !client_write(c)) {
				client_close(c);
				continue;
			}
			client_ack(c);
			if (c->state == C_END && !c->out_len)
				client_close(c);
		}
	}
}
