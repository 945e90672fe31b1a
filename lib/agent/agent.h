/* SPDX-License-Identifier: MIT */
/*
 * agent.h - the host<->guest agent protocol: frames over one byte stream.
 *
 * A VM guest's agent and the host's vqnet-agentd share one virtio-serial
 * port, a plain byte stream.  It carries many concurrent commands, each on
 * a channel, as frames:
 *
 *   offset 0  u16  magic    AGENT_MAGIC ('v' 'q' on the wire)
 *          2  u8   type     enum agent_type
 *          3  u8   flags    0 (anything else is refused)
 *          4  u32  channel  0 for HELLO; a command's id (never 0) otherwise
 *          8  u32  length   of the payload, at most AGENT_PAYLOAD_MAX
 *         12       payload
 *
 * All integers are little-endian.  The same frames, with channel 0, carry
 * one command between a client and vqnet-agentd on a unix socket (one
 * connection, one command).  Payloads per type are described at the enum.
 *
 * Everything a decoder reads is untrusted: the guest is as hostile as a
 * network peer.  Every length is bounded, every field checked, and a
 * malformed stream yields a named AGENT_E* error (agent_strerror) and
 * latches the decoder broken.  This library never allocates, blocks,
 * prints or makes a system call; the caller owns every buffer.
 */
#ifndef VQNET_AGENT_H
#define VQNET_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_VERSION 1u
#define AGENT_MAGIC 0x7176u           /* bytes 'v','q' */
#define AGENT_HDR_LEN 12u
#define AGENT_PAYLOAD_MAX 65536u      /* keeps a decoder's buffer fixed */
#define AGENT_FRAME_MAX (AGENT_HDR_LEN + AGENT_PAYLOAD_MAX)
#define AGENT_HELLO_LEN 16u
#define AGENT_HELLO_MAGIC "vqnet-ag"  /* 8 bytes, no NUL on the wire */
#define AGENT_ARGS_MAX 1024u          /* argv plus env strings in one EXEC */
#define AGENT_ERROR_MAX 1024u         /* bytes of text in one ERROR */
#define AGENT_CHANNELS_MAX 64u        /* concurrent commands per VM */
/* Each direction of a channel may have this many bytes of frames (header
 * included, so tiny frames cannot multiply a receiver's memory) sent and
 * not yet acknowledged: the receiver's memory per channel is bounded by
 * it, and a sender that exceeds it breaks the protocol. */
#define AGENT_WINDOW (256u * 1024u)
/* How many bytes a link decoder may skip looking for the first HELLO of a
 * connection (the tail of a frame cut by a reconnection) before giving up. */
#define AGENT_HUNT_MAX (1024u * 1024u)

enum agent_type {
	/* both ways, channel 0: u8[8] AGENT_HELLO_MAGIC, u32 version, u32
	 * session.  The host opens session S (random, not 0) by sending
	 * HELLO(S); the agent drops whatever it ran before and answers
	 * HELLO(S).  An agent that starts, or gets a frame outside a session,
	 * sends HELLO(0): "I know no session".  A client sends HELLO(0) to
	 * agentd to wait until the agent is ready; agentd answers HELLO(0). */
	AGENT_HELLO = 1,
	/* host->agent, client->agentd: u16 argc (1..), u16 envc, u16 flags
	 * (bit 0: a cwd follows), u16 0; then argc, envc ("NAME=value") and
	 * the cwd (absolute) as NUL-terminated strings, nothing after them.
	 * argc + envc <= AGENT_ARGS_MAX.  env adds to the agent's defaults. */
	AGENT_EXEC = 2,
	AGENT_STDIN = 3,      /* host->agent, client->agentd: 1.. bytes */
	AGENT_STDIN_EOF = 4,  /* host->agent, client->agentd: empty */
	AGENT_SIGNAL = 5,     /* host->agent, client->agentd: u32 signal 1..64 */
	/* host->agent: empty.  Nobody listens any more: kill the command's
	 * process group, drop its output; EXIT still ends the channel. */
	AGENT_CLOSE = 6,
	AGENT_STDOUT = 7,     /* agent->host, agentd->client: 1.. bytes */
	AGENT_STDERR = 8,     /* agent->host, agentd->client: 1.. bytes */
	/* agent->host, agentd->client: u32 how (0 exited, 1 killed), u32 value
	 * (exit code 0..255 or signal 1..64).  The last frame of a channel. */
	AGENT_EXIT = 9,
	/* any way: 1..AGENT_ERROR_MAX bytes of printable ASCII.  On a channel:
	 * why the command failed (an EXIT follows from the agent; from agentd
	 * it may be the last frame: the channel is lost).  On channel 0: about
	 * the link. */
	AGENT_ERROR = 10,
	/* host<->agent: u32 n, 1..AGENT_WINDOW: n more window bytes for the
	 * sender of data on this channel (stdout/stderr from the agent, stdin
	 * from the host). */
	AGENT_ACK = 11,
	AGENT_TYPE_LAST = AGENT_ACK
};

/* Which frames a decoder accepts: a bit per type, per direction. */
#define AGENT_BIT(t) (1u << (t))
#define AGENT_FROM_GUEST (AGENT_BIT(AGENT_HELLO) | AGENT_BIT(AGENT_STDOUT) | \
	AGENT_BIT(AGENT_STDERR) | AGENT_BIT(AGENT_EXIT) | AGENT_BIT(AGENT_ERROR) | \
	AGENT_BIT(AGENT_ACK))
#define AGENT_FROM_HOST (AGENT_BIT(AGENT_HELLO) | AGENT_BIT(AGENT_EXEC) | \
	AGENT_BIT(AGENT_STDIN) | AGENT_BIT(AGENT_STDIN_EOF) | AGENT_BIT(AGENT_SIGNAL) | \
	AGENT_BIT(AGENT_CLOSE) | AGENT_BIT(AGENT_ACK) | AGENT_BIT(AGENT_ERROR))
#define AGENT_FROM_CLIENT (AGENT_BIT(AGENT_HELLO) | AGENT_BIT(AGENT_EXEC) | \
	AGENT_BIT(AGENT_STDIN) | AGENT_BIT(AGENT_STDIN_EOF) | AGENT_BIT(AGENT_SIGNAL))
#define AGENT_TO_CLIENT (AGENT_BIT(AGENT_HELLO) | AGENT_BIT(AGENT_STDOUT) | \
	AGENT_BIT(AGENT_STDERR) | AGENT_BIT(AGENT_EXIT) | AGENT_BIT(AGENT_ERROR))

/*
 * Errors: negative values.  Below AGENT_EBASE, conditions of the caller's
 * making; from AGENT_EBASE up, how the peer broke the protocol.
 */
enum {
	AGENT_EINVAL = 1,      /* caller passed a bad argument */
	AGENT_ENOSPC,          /* output buffer too small */
	AGENT_EBASE = 100,
	AGENT_EBROKEN = AGENT_EBASE, /* decoder already failed */
	AGENT_EMAGIC,          /* frame does not start with the magic */
	AGENT_ETYPE,           /* unknown type, or not one this side accepts */
	AGENT_EFLAGS,          /* flags not zero */
	AGENT_ELEN,            /* payload longer than allowed, or wrong for its type */
	AGENT_ECHANNEL,        /* channel 0 where a command's is needed, or vice versa */
	AGENT_EHELLO,          /* HELLO without its magic */
	AGENT_EVERSION,        /* HELLO of another protocol version */
	AGENT_EEXEC,           /* EXEC payload malformed */
	AGENT_EVALUE,          /* signal, exit status or ACK count out of range */
	AGENT_ETEXT,           /* ERROR text empty or not printable ASCII */
	AGENT_ESYNC,           /* no HELLO within AGENT_HUNT_MAX bytes */
	AGENT_EUNKNOWN,        /* frame for a channel that is not open */
	AGENT_EWINDOW,         /* more data than the window allows */
	AGENT_EACK,            /* ACK of more than was sent */
	AGENT_ELAST
};

const char *agent_strerror(int err);

/* Is err a protocol violation by the peer (as opposed to a local error)? */
static inline bool agent_is_proto_error(int err)
{
	return err <= -AGENT_EBASE;
}

/* A decoded frame.  payload points into the decoder and stays valid until
 * the next agent_dec_feed() on it. */
struct agent_frame {
	uint8_t type;
	uint32_t channel;
	uint32_t len;
	const uint8_t *payload;
};

/* An incremental decoder.  Big (a whole frame's buffer): embed it or
 * allocate it; agent_dec_init() prepares it. */
struct agent_decoder {
	uint32_t accept;      /* AGENT_BIT mask */
	bool link;            /* link rules: channel 0 only for HELLO (and ERROR) */
	bool hunting;         /* skipping to the first HELLO */
	int err;              /* latched error, 0 while healthy */
	size_t have;          /* bytes of the current frame in buf */
	size_t skipped;       /* bytes skipped while hunting */
	uint64_t frames;      /* frames decoded, for the caller's logs */
	uint8_t buf[AGENT_FRAME_MAX];
};

/* accept: which types (AGENT_FROM_*); link: the serial link's channel rules
 * (else a client socket's: channel always 0); hunt: discard bytes until a
 * HELLO frame's fixed prefix, at most AGENT_HUNT_MAX of them. */
void agent_dec_init(struct agent_decoder *d, uint32_t accept, bool link, bool hunt);

/*
 * Feed up to len bytes.  *used gets how many were consumed.  Returns 1 with
 * *f set when a complete, well-formed frame was decoded (call again with
 * the rest), 0 when all len bytes were consumed and no frame is complete
 * yet, or a negative AGENT_E* error; the error is latched and every later
 * call returns AGENT_EBROKEN.  Payload checks per type (lengths, HELLO
 * magic and version, EXEC layout, value ranges, ERROR text) are done here:
 * a frame returned is well formed; whether its channel is open is the
 * caller's question (agent_host_rx for the host).
 */
int agent_dec_feed(struct agent_decoder *d, const uint8_t *data, size_t len,
		   size_t *used, struct agent_frame *f);

/* Encode one frame into out[0..cap): returns the frame's length, or
 * -AGENT_ENOSPC / -AGENT_EINVAL (len > AGENT_PAYLOAD_MAX).  payload may be
 * NULL when len is 0. */
int agent_encode(uint8_t *out, size_t cap, uint8_t type, uint32_t channel,
		 const void *payload, uint32_t len);
int agent_encode_hello(uint8_t *out, size_t cap, uint32_t session);
int agent_encode_u32(uint8_t *out, size_t cap, uint8_t type, uint32_t channel, uint32_t v);
int agent_encode_exit(uint8_t *out, size_t cap, uint32_t channel, uint32_t how, uint32_t value);

/* The fields of a decoded HELLO. */
uint32_t agent_hello_session(const struct agent_frame *f);
/* The u32 of a SIGNAL or ACK. */
uint32_t agent_frame_u32(const struct agent_frame *f);

#define AGENT_EXIT_CODE 0u
#define AGENT_EXIT_SIGNAL 1u
void agent_exit_decode(const struct agent_frame *f, uint32_t *how, uint32_t *value);

/* A decoded EXEC: pointers into the frame's payload (valid as long as it
 * is), NULL-terminated arrays. */
struct agent_exec {
	unsigned argc, envc;
	const char *argv[AGENT_ARGS_MAX + 1];
	const char *envp[AGENT_ARGS_MAX + 1];
	const char *cwd;     /* NULL: the agent's default */
};

/* Encode an EXEC payload (not a frame) into out[0..cap): length or
 * -AGENT_EINVAL (no argv[0], an env string without '=', a relative cwd,
 * too many strings) / -AGENT_ENOSPC.  envp and cwd may be NULL. */
int agent_exec_encode(uint8_t *out, size_t cap, char *const argv[],
		      char *const envp[], const char *cwd);
/* Check and split an EXEC payload: 0 or -AGENT_EEXEC. */
int agent_exec_decode(const uint8_t *p, size_t len, struct agent_exec *x);

/*
 * The host's view of one agent session: which channels are open and how
 * much of each window is used, so that a frame from the guest is checked
 * against what the host asked for.  Pure bookkeeping: agentd does the I/O.
 */
enum agent_chan_state { AGENT_CH_FREE, AGENT_CH_OPEN, AGENT_CH_CLOSING };

struct agent_host_chan {
	uint32_t id;
	uint8_t state;
	uint32_t out_used;    /* guest->host window bytes not yet acknowledged */
	uint32_t in_credit;   /* host->guest window bytes we may still send */
	uint32_t in_sent;     /* host->guest window bytes sent, not acknowledged */
};

struct agent_host {
	uint32_t session;     /* the HELLO we sent; 0 before agent_host_reset */
	bool ready;           /* the agent answered it */
	uint32_t next_id;
	unsigned open;
	struct agent_host_chan ch[AGENT_CHANNELS_MAX];
};

/* Start a new session (a new connection, or the agent restarted): every
 * channel is forgotten.  session must not be 0. */
void agent_host_reset(struct agent_host *h, uint32_t session);
/* Open a channel for a new command: its slot, or -AGENT_ENOSPC when
 * AGENT_CHANNELS_MAX are open.  The slot's id is what goes on the wire. */
int agent_host_open(struct agent_host *h);
struct agent_host_chan *agent_host_find(struct agent_host *h, uint32_t id);
/* We sent CLOSE: the channel lingers until the agent's EXIT. */
void agent_host_closing(struct agent_host *h, uint32_t id);
/* We are about to send n window bytes of STDIN on id: 0, or -AGENT_ENOSPC
 * if its credit is short (the caller waits for an ACK). */
int agent_host_send_stdin(struct agent_host *h, uint32_t id, uint32_t n);
/* We delivered up to n window bytes of the guest's output: returns how
 * many of them the guest had used (never more), which is what to ACK. */
uint32_t agent_host_consumed(struct agent_host *h, uint32_t id, uint32_t n);

/*
 * Check a frame from the guest against the session and update it.
 * Returns:
 *   0               frame belongs to the session; act on it (an EXIT has
 *                   freed its channel: f->channel is no longer open);
 *   1               a HELLO answering our session: the session is ready
 *                   now (only the first time; repeats return 2);
 *   2               ignore the frame (stale: before the agent answered our
 *                   HELLO, or a repeated HELLO);
 *   3               HELLO(0): the agent restarted; fail every channel and
 *                   start a new session;
 *   -AGENT_E*       the guest broke the protocol (unknown channel, window
 *                   exceeded, an ACK of more than was sent).
 */
int agent_host_rx(struct agent_host *h, const struct agent_frame *f);

/* Replace each byte of s[0..len) that is not printable ASCII by '?', so
 * untrusted text can be logged. */
void agent_text_clean(char *s, size_t len);

#endif
