/* SPDX-License-Identifier: MIT */
/*
 * test_agent_procs - vqnet-agentd and vqnet-agent as real processes on the
 * host, no QEMU: the agent over a socketpair (--fd), or this test playing
 * a hostile guest on a socket agentd connects to as it would to QEMU's.
 *
 *  1. real agent, agentd under --seccomp: output, status, signals, stdin,
 *     64 commands at once and the 65th refused, a client that stops
 *     reading does not stop the others, a client that disappears gets its
 *     command killed;
 *  2. a hostile guest, six ways (garbage, a frame for no channel, more
 *     than the window, a huge length, an ACK of more than was sent, a
 *     hang-up): each fails the open command with a clear error, and
 *     agentd reconnects and serves the next guest;
 *  3. an agent that restarts (HELLO(0)) fails what ran and starts over.
 *
 * Every wait is on an event (a socket, a pipe, a process exit) bounded by
 * a generous alarm only to stop a hang.  Processes are stopped by PID.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "agent_client.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); exit(1); } } while (0)

static char dir[64], csock[128], qsock[128];
static pid_t agent_pid = -1, agentd_pid = -1;

static void stop(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	alarm(20);
	waitpid(*pid, NULL, 0);
	alarm(0);
	*pid = -1;
}

static void cleanup(void)
{
	stop(&agentd_pid);
	stop(&agent_pid);
	unlink(csock);
	unlink(qsock);
	rmdir(dir);
}

static pid_t spawn(char *const argv[], const int *keep, unsigned nkeep)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		for (unsigned i = 0; i < nkeep; i++)
			fcntl(keep[i], F_SETFD, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Wait for a line on fd (agentd's ready fd) and check its start. */
static void expect_line(int fd, const char *want)
{
	char line[512];
	size_t n = 0;
	alarm(60);
	while (n < sizeof(line) - 1) {
		ssize_t r = read(fd, line + n, 1);
		CHECK(r == 1);
		if (line[n] == '\n')
			break;
		n++;
	}
	alarm(0);
	line[n] = 0;
	if (strncmp(line, want, strlen(want))) {
		fprintf(stderr, "ready fd said '%s', not '%s...'\n", line, want);
		exit(1);
	}
}

static int run(char **argv, int in_fd, int out_fd, struct agentc_status *st)
{
	struct agentc_cmd cmd = { .argv = argv, .in_fd = in_fd, .out_fd = out_fd, .err_fd = out_fd };
	alarm(120);
	int err = agentc_run(csock, &cmd, st);
	alarm(0);
	return err;
}

/* Run argv and return its output (static buffer, the first 64 KiB) and
 * status.  The output goes to a file, which never blocks the writer: a
 * pipe read only afterwards would stall a command that writes more than
 * the pipe holds (the background writer case below). */
static const char *output(char **argv, struct agentc_status *st)
{
	static char buf[65536];
	char path[sizeof(dir) + 16];
	snprintf(path, sizeof(path), "%s/out.XXXXXX", dir);
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	CHECK(run(argv, -1, fd, st) == 0);
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

/* A raw client: EXEC argv and nothing else; the fd. */
static int raw_exec(char **argv)
{
	int fd = agentc_connect(csock);
	CHECK(fd >= 0);
	static uint8_t p[AGENT_PAYLOAD_MAX], fr[AGENT_FRAME_MAX];
	int n = agent_exec_encode(p, sizeof(p), argv, NULL, NULL);
	int m = agent_encode(fr, sizeof(fr), AGENT_EXEC, 0, p, (uint32_t)n);
	CHECK(write(fd, fr, (size_t)m) == m);
	return fd;
}

/* Read a raw client's first STDOUT payload as a string. */
static void raw_first_output(int fd, char *out, size_t len)
{
	static struct agent_decoder d;
	agent_dec_init(&d, AGENT_TO_CLIENT, false, false);
	uint8_t b[256];
	alarm(60);
	for (;;) {
		ssize_t n = read(fd, b, sizeof(b) < 24 ? sizeof(b) : 24);
		CHECK(n > 0);
		size_t off = 0;
		while (off < (size_t)n) {
			struct agent_frame f;
			size_t used;
			int r = agent_dec_feed(&d, b + off, (size_t)n - off, &used, &f);
			CHECK(r >= 0);
			off += used;
			if (r == 1 && f.type == AGENT_STDOUT) {
				size_t k = f.len < len - 1 ? f.len : len - 1;
				memcpy(out, f.payload, k);
				out[k] = 0;
				alarm(0);
				return;
			}
		}
	}
}

static void start_real(int *ready_rd)
{
	int sv[2], rp[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(pipe2(rp, O_CLOEXEC) == 0);
	char fd0[16], fd1[16], rfd[16];
	snprintf(fd0, sizeof(fd0), "%d", sv[0]);
	snprintf(fd1, sizeof(fd1), "%d", sv[1]);
	snprintf(rfd, sizeof(rfd), "%d", rp[1]);
	char *agent[] = { VQNET_BIN "/vqnet-agent", "--fd", fd0, NULL };
	char *agentd[] = { VQNET_BIN "/vqnet-agentd", "--qemu-fd", fd1, "--listen", csock,
			   "--ready-fd", rfd, "--seccomp", NULL };
	agent_pid = spawn(agent, &sv[0], 1);
	int keep[2] = { sv[1], rp[1] };
	agentd_pid = spawn(agentd, keep, 2);
	close(sv[0]);
	close(sv[1]);
	close(rp[1]);
	*ready_rd = rp[0];
	expect_line(rp[0], "ready");
}

static void test_real(void)
{
	int ready;
	start_real(&ready);
	struct agentc_status st;

	CHECK(!strcmp(output((char *[]){ "echo", "hi", NULL }, &st), "hi\n"));
	CHECK(st.how == AGENTC_EXITED && st.value == 0 && !st.error[0]);
	output((char *[]){ "sh", "-c", "exit 7", NULL }, &st);
	CHECK(st.how == AGENTC_EXITED && st.value == 7);
	output((char *[]){ "sh", "-c", "kill -USR1 $$", NULL }, &st);
	CHECK(st.how == AGENTC_KILLED && st.value == SIGUSR1);
	output((char *[]){ "no-such-program-here", NULL }, &st);
	CHECK(st.how == AGENTC_EXITED && st.value == 127 && strstr(st.error, "cannot run"));
	CHECK(!strcmp(output((char *[]){ "sh", "-c", "echo $VQ_X; pwd", NULL }, &st), "\n/\n"));

	/* stdin through cat */
	int in[2];
	CHECK(pipe(in) == 0);
	CHECK(write(in[1], "abc", 3) == 3);
	close(in[1]);
	int p[2];
	CHECK(pipe(p) == 0);
	CHECK(run((char *[]){ "cat", NULL }, in[0], p[1], &st) == 0);
	close(in[0]);
	close(p[1]);
	char b[16] = "";
	CHECK(read(p[0], b, sizeof(b)) == 3 && !memcmp(b, "abc", 3));
	close(p[0]);
	CHECK(st.how == AGENTC_EXITED && st.value == 0);

	/* 64 at once (each holds its channel: cat waits for stdin), then the
	 * 65th is refused */
	int held[AGENT_CHANNELS_MAX];
	for (unsigned i = 0; i < AGENT_CHANNELS_MAX; i++) {
		held[i] = raw_exec((char *[]){ "sh", "-c", "echo up; exec cat", NULL });
		char line[16];
		raw_first_output(held[i], line, sizeof(line));
		CHECK(!strcmp(line, "up\n"));
	}
	output((char *[]){ "true", NULL }, &st);
	CHECK(st.how == AGENTC_FAILED && strstr(st.error, "too many commands"));
	/* let them go: STDIN_EOF ends each cat; agentd closes the client
	 * once the EXIT is through, and the channel is free by then */
	for (unsigned i = 0; i < AGENT_CHANNELS_MAX; i++) {
		uint8_t eof[AGENT_HDR_LEN];
		agent_encode(eof, sizeof(eof), AGENT_STDIN_EOF, 0, NULL, 0);
		CHECK(write(held[i], eof, sizeof(eof)) == (ssize_t)sizeof(eof));
		char drain[4096];
		alarm(60);
		while (read(held[i], drain, sizeof(drain)) > 0)
			;
		alarm(0);
		close(held[i]);
	}

	/* a client that stops reading a chatty command does not stop others */
	int chatty = raw_exec((char *[]){ "yes", NULL });   /* never read */
	CHECK(!strcmp(output((char *[]){ "echo", "still", NULL }, &st), "still\n"));
	CHECK(st.how == AGENTC_EXITED && st.value == 0);

	/* a client that disappears: its command is killed */
	int gone = raw_exec((char *[]){ "sh", "-c", "echo $$; exec sleep 1000", NULL });
	char pid[32];
	raw_first_output(gone, pid, sizeof(pid));
	pid[strcspn(pid, "\n")] = 0;
	close(gone);
	close(chatty);
	char wait_gone[128];
	snprintf(wait_gone, sizeof(wait_gone), "while kill -0 %s 2>/dev/null; do sleep 0.01; done", pid);
	output((char *[]){ "timeout", "30", "sh", "-c", wait_gone, NULL }, &st);
	CHECK(st.how == AGENTC_EXITED && st.value == 0);

	/* 4 MB out, byte for byte */
	CHECK(pipe(p) == 0);
	pid_t reader = fork();
	if (reader == 0) {
		close(p[1]);
		size_t total = 0;
		char chunk[65536];
		ssize_t n;
		while ((n = read(p[0], chunk, sizeof(chunk))) > 0) {
			for (ssize_t i = 0; i < n; i++)
				if (chunk[i] != 'y' && chunk[i] != '\n')
					_exit(2);
			total += (size_t)n;
		}
		_exit(total == 4000000 ? 0 : 1);
	}
	close(p[0]);
	CHECK(run((char *[]){ "sh", "-c", "yes | head -c 4000000", NULL }, -1, p[1], &st) == 0);
	close(p[1]);
	int rs;
	waitpid(reader, &rs, 0);
	CHECK(WIFEXITED(rs) && WEXITSTATUS(rs) == 0);
	CHECK(st.how == AGENTC_EXITED && st.value == 0);

	/* a background child that writes on does not hold the command's
	 * exit: the channel ends with what the command left at its exit */
	char bg[256];
	snprintf(bg, sizeof(bg), "yes & echo $! >%s/bg.pid; echo fg", dir);
	output((char *[]){ "sh", "-c", bg, NULL }, &st);
	CHECK(st.how == AGENTC_EXITED && st.value == 0);
	char pidfile[128];
	snprintf(pidfile, sizeof(pidfile), "%s/bg.pid", dir);
	FILE *pf = fopen(pidfile, "re");
	CHECK(pf);
	int bgpid = 0;
	CHECK(fscanf(pf, "%d", &bgpid) == 1 && bgpid > 1);
	fclose(pf);
	kill(bgpid, SIGKILL);   /* ours: the agent's command started it */
	unlink(pidfile);

	/* a chatty command's unread output is in flight when agentd goes:
	 * the agent must see its link end (reset or EOF) and exit by itself */
	chatty = raw_exec((char *[]){ "yes", NULL });
	char line[16];
	raw_first_output(chatty, line, sizeof(line));
	stop(&agentd_pid);
	close(chatty);
	alarm(30);
	int as;
	CHECK(waitpid(agent_pid, &as, 0) == agent_pid);
	alarm(0);
	CHECK(WIFEXITED(as) && WEXITSTATUS(as) == 0);
	agent_pid = -1;
	close(ready);
	printf("real agent: ok\n");
}

/* ---- this test as the guest ---- */

static int guest_listen(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, qsock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 4) == 0);
	return fd;
}

struct fake {
	int fd;
	struct agent_decoder d;
	uint32_t session;
};

/* Next frame from agentd. */
static void fake_next(struct fake *g, struct agent_frame *f)
{
	static uint8_t b[1];
	alarm(60);
	for (;;) {
		ssize_t n = read(g->fd, b, 1);   /* a byte at a time: exactly one frame */
		CHECK(n == 1);
		size_t used;
		int r = agent_dec_feed(&g->d, b, 1, &used, f);
		CHECK(r >= 0);
		if (r == 1)
			break;
	}
	alarm(0);
}

static void fake_send(struct fake *g, const void *p, size_t n)
{
	CHECK(write(g->fd, p, n) == (ssize_t)n);
}

/* Accept agentd's connection and answer its HELLO. */
static void fake_accept(struct fake *g, int lfd, int ready)
{
	alarm(60);
	g->fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	alarm(0);
	CHECK(g->fd >= 0);
	agent_dec_init(&g->d, AGENT_FROM_HOST, true, true);
	struct agent_frame f;
	fake_next(g, &f);
	CHECK(f.type == AGENT_HELLO);
	g->session = agent_hello_session(&f);
	CHECK(g->session != 0);
	uint8_t h[64];
	int n = agent_encode_hello(h, sizeof(h), g->session);
	fake_send(g, h, (size_t)n);
	expect_line(ready, "ready");
}

/* A client whose EXEC the fake guest takes: returns the client fd and
 * the channel agentd chose. */
static int fake_exec(struct fake *g, uint32_t *ch)
{
	int c = raw_exec((char *[]){ "sleep", "1000", NULL });
	struct agent_frame f;
	fake_next(g, &f);
	CHECK(f.type == AGENT_EXEC);
	*ch = f.channel;
	return c;
}

/* The client's last ERROR text (it must come, then the close). */
static void client_error(int fd, char *why, size_t len)
{
	static struct agent_decoder d;
	agent_dec_init(&d, AGENT_TO_CLIENT, false, false);
	uint8_t b[4096];
	why[0] = 0;
	alarm(60);
	for (;;) {
		ssize_t n = read(fd, b, sizeof(b));
		if (n <= 0)
			break;
		size_t off = 0;
		while (off < (size_t)n) {
			struct agent_frame f;
			size_t used;
			int r = agent_dec_feed(&d, b + off, (size_t)n - off, &used, &f);
			CHECK(r >= 0);
			off += used;
			if (r == 1 && f.type == AGENT_ERROR) {
				size_t k = f.len < len - 1 ? f.len : len - 1;
				memcpy(why, f.payload, k);
				why[k] = 0;
			}
			CHECK(!(r == 1 && f.type == AGENT_EXIT));
		}
	}
	alarm(0);
	close(fd);
}

static void test_hostile(void)
{
	int lfd = guest_listen();
	int rp[2];
	CHECK(pipe2(rp, O_CLOEXEC) == 0);
	char rfd[16];
	snprintf(rfd, sizeof(rfd), "%d", rp[1]);
	char *agentd[] = { VQNET_BIN "/vqnet-agentd", "--qemu", qsock, "--listen", csock,
			   "--ready-fd", rfd, "--seccomp", NULL };
	agentd_pid = spawn(agentd, &rp[1], 1);
	close(rp[1]);
	static uint8_t big[AGENT_FRAME_MAX];
	static uint8_t data[AGENT_PAYLOAD_MAX];
	memset(data, 'x', sizeof(data));
	static const char *const what[] = { "garbage", "no channel", "window", "length",
					     "ack", "hang-up" };
	static const char *const want[] = { "frame without the agent magic",
					     "frame for a channel that is not open",
					     "more data than the channel's window allows",
					     "payload length too long",
					     "ACK of more window than was used",
					     "QEMU closed the agent socket" };
	for (unsigned k = 0; k < 6; k++) {
		struct fake g;
		fake_accept(&g, lfd, rp[0]);
		uint32_t ch;
		int c = fake_exec(&g, &ch);
		int n;
		switch (k) {
		case 0:
			fake_send(&g, "\x01\x02garbage on the line", 21);
			break;
		case 1:
			n = agent_encode(big, sizeof(big), AGENT_STDOUT, ch + 1000, "x", 1);
			fake_send(&g, big, (size_t)n);
			break;
		case 2:
			/* The client reads nothing, so agentd ACKs no more than the
			 * kernel buffers towards it (timing decides how much: up to
			 * about 200 KiB) and the window (256 KiB) runs out soon
			 * after: 2 MiB is far past it.  agentd hangs up on the
			 * first frame past the window, so our writes may fail. */
			for (int i = 0; i < 32; i++) {
				n = agent_encode(big, sizeof(big), AGENT_STDOUT, ch, data, AGENT_PAYLOAD_MAX);
				if (write(g.fd, big, (size_t)n) != n)
					break;
			}
			break;
		case 3: {
			uint8_t h[12] = { 0x76, 0x71, AGENT_STDOUT, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
			memcpy(h + 4, &ch, 4);
			fake_send(&g, h, sizeof(h));
			break;
		}
		case 4:
			n = agent_encode_u32(big, sizeof(big), AGENT_ACK, ch, 5);
			fake_send(&g, big, (size_t)n);
			break;
		case 5:
			break;
		}
		/* Hang up in order: closing a unix socket with unread data
		 * resets it, and agentd could then see ECONNRESET before the
		 * frames it must judge.  So: no more from us, read what agentd
		 * sends until it lets go (it does once it has judged us), close. */
		shutdown(g.fd, SHUT_WR);
		alarm(60);
		for (uint8_t sink[4096]; read(g.fd, sink, sizeof(sink)) > 0;)
			;
		alarm(0);
		close(g.fd);
		char why[AGENT_ERROR_MAX + 1];
		client_error(c, why, sizeof(why));
		if (!strstr(why, want[k]) || !strstr(why, "lost the VM's agent")) {
			fprintf(stderr, "hostile guest (%s): the client was told '%s'\n", what[k], why);
			exit(1);
		}
		expect_line(rp[0], "lost");
		printf("hostile guest (%s): client told \"%s\"\n", what[k], why);
	}

	/* agentd survived all of it: a well-behaved guest next */
	struct fake g;
	fake_accept(&g, lfd, rp[0]);
	uint32_t ch;
	int c = fake_exec(&g, &ch);
	uint8_t fr[64];
	int n = agent_encode(fr, sizeof(fr), AGENT_STDOUT, ch, "ok", 2);
	fake_send(&g, fr, (size_t)n);
	n = agent_encode_exit(fr, sizeof(fr), ch, AGENT_EXIT_CODE, 5);
	fake_send(&g, fr, (size_t)n);
	char out[16];
	raw_first_output(c, out, sizeof(out));
	CHECK(!strcmp(out, "ok"));
	close(c);

	/* the agent restarts: HELLO(0) fails what runs, a new HELLO follows */
	c = fake_exec(&g, &ch);
	n = agent_encode_hello(fr, sizeof(fr), 0);
	fake_send(&g, fr, (size_t)n);
	char why[AGENT_ERROR_MAX + 1];
	client_error(c, why, sizeof(why));
	CHECK(strstr(why, "restarted"));
	struct agent_frame f;
	fake_next(&g, &f);
	CHECK(f.type == AGENT_HELLO && agent_hello_session(&f) != g.session);
	printf("agent restart: client told \"%s\"\n", why);

	close(g.fd);
	stop(&agentd_pid);
	close(rp[0]);
	close(lfd);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/vqnet-agent.XXXXXX");
	CHECK(mkdtemp(dir));
	snprintf(csock, sizeof(csock), "%s/c.sock", dir);
	snprintf(qsock, sizeof(qsock), "%s/q.sock", dir);
	atexit(cleanup);
	test_real();
	unlink(csock);
	test_hostile();
	printf("2 passed, 0 failed\n");
	return 0;
}
