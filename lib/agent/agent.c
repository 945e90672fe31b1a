/* SPDX-License-Identifier: MIT */
#include "agent.h"

#include <string.h>

static const char *const errors[] = {
	[AGENT_EBROKEN - AGENT_EBASE] = "the stream already broke the protocol",
	[AGENT_EMAGIC - AGENT_EBASE] = "frame without the agent magic",
	[AGENT_ETYPE - AGENT_EBASE] = "frame type unknown or not allowed in this direction",
	[AGENT_EFLAGS - AGENT_EBASE] = "frame flags not zero",
	[AGENT_ELEN - AGENT_EBASE] = "payload length too long or wrong for its type",
	[AGENT_ECHANNEL - AGENT_EBASE] = "channel number not allowed for this frame type",
	[AGENT_EHELLO - AGENT_EBASE] = "HELLO without the agent's magic",
	[AGENT_EVERSION - AGENT_EBASE] = "HELLO of another protocol version",
	[AGENT_EEXEC - AGENT_EBASE] = "malformed EXEC payload",
	[AGENT_EVALUE - AGENT_EBASE] = "signal, exit status or ACK count out of range",
	[AGENT_ETEXT - AGENT_EBASE] = "ERROR text empty, too long or not printable ASCII",
	[AGENT_ESYNC - AGENT_EBASE] = "no HELLO found at the start of the stream",
	[AGENT_EUNKNOWN - AGENT_EBASE] = "frame for a channel that is not open",
	[AGENT_EWINDOW - AGENT_EBASE] = "more data than the channel's window allows",
	[AGENT_EACK - AGENT_EBASE] = "ACK of more window than was used",
};

const char *agent_strerror(int err)
{
	if (err == -AGENT_EINVAL)
		return "invalid argument";
	if (err == -AGENT_ENOSPC)
		return "no room";
	if (err <= -AGENT_EBASE && err > -AGENT_ELAST)
		return errors[-err - AGENT_EBASE];
	return "unknown agent error";
}

static uint16_t ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t ld32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void st16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void st32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* What every connection's first frame from the agent starts with: the
 * HELLO header and magic, everything but version and session. */
static const uint8_t hello_prefix[AGENT_HDR_LEN + 8] = {
	AGENT_MAGIC & 0xff, AGENT_MAGIC >> 8, AGENT_HELLO, 0,
	0, 0, 0, 0,
	AGENT_HELLO_LEN, 0, 0, 0,
	'v', 'q', 'n', 'e', 't', '-', 'a', 'g',
};

void agent_dec_init(struct agent_decoder *d, uint32_t accept, bool link, bool hunt)
{
	d->accept = accept;
	d->link = link;
	d->hunting = hunt;
	d->err = 0;
	d->have = 0;
	d->skipped = 0;
	d->frames = 0;
}

static int fail(struct agent_decoder *d, int err)
{
	d->err = err;
	return err;
}

static bool printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

/* Check an EXEC payload; with x, also split it. */
static int exec_scan(const uint8_t *p, size_t len, struct agent_exec *x)
{
	if (len < 8 || len > AGENT_PAYLOAD_MAX)
		return -AGENT_EEXEC;
	unsigned argc = ld16(p), envc = ld16(p + 2), flags = ld16(p + 4);
	if (argc < 1 || argc + envc > AGENT_ARGS_MAX || (flags & ~1u) || ld16(p + 6))
		return -AGENT_EEXEC;
	unsigned n = argc + envc + (flags & 1u);
	size_t off = 8;
	if (x) {
		x->argc = argc;
		x->envc = envc;
		x->cwd = NULL;
	}
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *s = p + off;
		const uint8_t *nul = off < len ? memchr(s, 0, len - off) : NULL;
		if (!nul)
			return -AGENT_EEXEC;
		const char *str = (const char *)s;
		if (i < argc) {
			if (i == 0 && nul == s)
				return -AGENT_EEXEC;     /* no program name */
			if (x)
				x->argv[i] = str;
		} else if (i < argc + envc) {
			const char *eq = memchr(s, '=', (size_t)(nul - s));
			if (!eq || eq == str)
				return -AGENT_EEXEC;     /* not NAME=value */
			if (x)
				x->envp[i - argc] = str;
		} else {
			if (*str != '/')
				return -AGENT_EEXEC;     /* cwd must be absolute */
			if (x)
				x->cwd = str;
		}
		off += (size_t)(nul - s) + 1;
	}
	if (off != len)
		return -AGENT_EEXEC;             /* trailing bytes */
	if (x) {
		x->argv[argc] = NULL;
		x->envp[envc] = NULL;
	}
	return 0;
}

int agent_exec_decode(const uint8_t *p, size_t len, struct agent_exec *x)
{
	return exec_scan(p, len, x);
}

/* Type-specific checks of a complete frame in d->buf. */
static int check_frame(struct agent_decoder *d, const struct agent_frame *f)
{
	const uint8_t *p = f->payload;
	if (f->type == AGENT_HELLO) {
		if (f->channel != 0)
			return -AGENT_ECHANNEL;
	} else if (d->link ? f->channel == 0 && f->type != AGENT_ERROR : f->channel != 0) {
		return -AGENT_ECHANNEL;
	}
	switch (f->type) {
	case AGENT_HELLO:
		if (f->len != AGENT_HELLO_LEN)
			return -AGENT_ELEN;
		if (memcmp(p, AGENT_HELLO_MAGIC, 8))
			return -AGENT_EHELLO;
		if (ld32(p + 8) != AGENT_VERSION)
			return -AGENT_EVERSION;
		return 0;
	case AGENT_EXEC:
		/* checked here too, so a frame handed out is always well formed */
		return exec_scan(p, f->len, NULL);
	case AGENT_STDIN:
	case AGENT_STDOUT:
	case AGENT_STDERR:
		return f->len ? 0 : -AGENT_ELEN;
	case AGENT_STDIN_EOF:
	case AGENT_CLOSE:
		return f->len ? -AGENT_ELEN : 0;
	case AGENT_SIGNAL:
		if (f->len != 4)
			return -AGENT_ELEN;
		return ld32(p) >= 1 && ld32(p) <= 64 ? 0 : -AGENT_EVALUE;
	case AGENT_ACK:
		if (f->len != 4)
			return -AGENT_ELEN;
		return ld32(p) >= 1 && ld32(p) <= AGENT_WINDOW ? 0 : -AGENT_EVALUE;
	case AGENT_EXIT: {
		if (f->len != 8)
			return -AGENT_ELEN;
		uint32_t how = ld32(p), v = ld32(p + 4);
		if (how == AGENT_EXIT_CODE)
			return v <= 255 ? 0 : -AGENT_EVALUE;
		if (how == AGENT_EXIT_SIGNAL)
			return v >= 1 && v <= 64 ? 0 : -AGENT_EVALUE;
		return -AGENT_EVALUE;
	}
	case AGENT_ERROR:
		if (f->len < 1 || f->len > AGENT_ERROR_MAX || !printable(p, f->len))
			return -AGENT_ETEXT;
		return 0;
	}
	return -AGENT_ETYPE;
}

/* Check the header as soon as it is complete, so a bad length is refused
 * before we wait for (or buffer) its payload. */
static int check_header(struct agent_decoder *d)
{
	const uint8_t *h = d->buf;
	if (ld16(h) != AGENT_MAGIC)
		return -AGENT_EMAGIC;
	if (h[2] < 1 || h[2] > AGENT_TYPE_LAST || !(d->accept & AGENT_BIT(h[2])))
		return -AGENT_ETYPE;
	if (h[3])
		return -AGENT_EFLAGS;
	if (ld32(h + 8) > AGENT_PAYLOAD_MAX)
		return -AGENT_ELEN;
	return 0;
}

/* While hunting: take bytes until buf holds hello_prefix; the frame is then
 * decoded as usual.  A mismatch drops the oldest byte and re-checks what is
 * left (the prefix is 20 bytes: quadratic in 20 at worst). */
static size_t hunt(struct agent_decoder *d, const uint8_t *data, size_t len, int *err)
{
	size_t i = 0;
	while (i < len && d->have < sizeof(hello_prefix)) {
		d->buf[d->have++] = data[i++];
		while (d->have && memcmp(d->buf, hello_prefix, d->have)) {
			memmove(d->buf, d->buf + 1, --d->have);
			if (++d->skipped > AGENT_HUNT_MAX) {
				*err = -AGENT_ESYNC;
				return i;
			}
		}
	}
	if (d->have == sizeof(hello_prefix))
		d->hunting = false;
	return i;
}

int agent_dec_feed(struct agent_decoder *d, const uint8_t *data, size_t len,
		   size_t *used, struct agent_frame *f)
{
	size_t i = 0;
	*used = 0;
	if (d->err)
		return -AGENT_EBROKEN;
	if (d->hunting) {
		int err = 0;
		i = hunt(d, data, len, &err);
		*used = i;
		if (err)
			return fail(d, err);
		if (d->hunting)
			return 0;
	}
	for (;;) {
		if (d->have < AGENT_HDR_LEN) {
			size_t n = AGENT_HDR_LEN - d->have;
			if (n > len - i)
				n = len - i;
			memcpy(d->buf + d->have, data + i, n);
			d->have += n;
			i += n;
			if (d->have < AGENT_HDR_LEN)
				break;
			int err = check_header(d);
			if (err) {
				*used = i;
				return fail(d, err);
			}
		}
		size_t total = AGENT_HDR_LEN + ld32(d->buf + 8);
		size_t n = total - d->have;
		if (n > len - i)
			n = len - i;
		memcpy(d->buf + d->have, data + i, n);
		d->have += n;
		i += n;
		if (d->have < total)
			break;
		f->type = d->buf[2];
		f->channel = ld32(d->buf + 4);
		f->len = (uint32_t)(total - AGENT_HDR_LEN);
		f->payload = d->buf + AGENT_HDR_LEN;
		d->have = 0;
		*used = i;
		int err = check_frame(d, f);
		if (err)
			return fail(d, err);
		d->frames++;
		return 1;
	}
	*used = i;
	return 0;
}

int agent_encode(uint8_t *out, size_t cap, uint8_t type, uint32_t channel,
		 const void *payload, uint32_t len)
{
	if (len > AGENT_PAYLOAD_MAX || (len && !payload))
		return -AGENT_EINVAL;
	if (cap < AGENT_HDR_LEN + (size_t)len)
		return -AGENT_ENOSPC;
	st16(out, AGENT_MAGIC);
	out[2] = type;
	out[3] = 0;
	st32(out + 4, channel);
	st32(out + 8, len);
	if (len)
		memmove(out + AGENT_HDR_LEN, payload, len);
	return (int)(AGENT_HDR_LEN + len);
}

int agent_encode_hello(uint8_t *out, size_t cap, uint32_t session)
{
	uint8_t p[AGENT_HELLO_LEN];
	memcpy(p, AGENT_HELLO_MAGIC, 8);
	st32(p + 8, AGENT_VERSION);
	st32(p + 12, session);
	return agent_encode(out, cap, AGENT_HELLO, 0, p, sizeof(p));
}

int agent_encode_u32(uint8_t *out, size_t cap, uint8_t type, uint32_t channel, uint32_t v)
{
	uint8_t p[4];
	st32(p, v);
	return agent_encode(out, cap, type, channel, p, sizeof(p));
}

int agent_encode_exit(uint8_t *out, size_t cap, uint32_t channel, uint32_t how, uint32_t value)
{
	uint8_t p[8];
	st32(p, how);
	st32(p + 4, value);
	return agent_encode(out, cap, AGENT_EXIT, channel, p, sizeof(p));
}

uint32_t agent_hello_session(const struct agent_frame *f)
{
	return f->len == AGENT_HELLO_LEN ? ld32(f->payload + 12) : 0;
}

uint32_t agent_frame_u32(const struct agent_frame *f)
{
	return f->len >= 4 ? ld32(f->payload) : 0;
}

void agent_exit_decode(const struct agent_frame *f, uint32_t *how, uint32_t *value)
{
	*how = f->len == 8 ? ld32(f->payload) : 0;
	*value = f->len == 8 ? ld32(f->payload + 4) : 0;
}

static int put_str(uint8_t *out, size_t cap, size_t *off, const char *s)
{
	size_t n = strlen(s) + 1;
	if (n > cap - *off)
		return -AGENT_ENOSPC;
	memcpy(out + *off, s, n);
	*off += n;
	return 0;
}

int agent_exec_encode(uint8_t *out, size_t cap, char *const argv[],
		      char *const envp[], const char *cwd)
{
	unsigned argc = 0, envc = 0;
	if (!argv || !argv[0] || !argv[0][0])
		return -AGENT_EINVAL;
	while (argv[argc])
		if (++argc > AGENT_ARGS_MAX)
			return -AGENT_EINVAL;
	while (envp && envp[envc]) {
		const char *eq = strchr(envp[envc], '=');
		if (!eq || eq == envp[envc])
			return -AGENT_EINVAL;
		if (++envc > AGENT_ARGS_MAX)
			return -AGENT_EINVAL;
	}
	if (argc + envc > AGENT_ARGS_MAX || (cwd && cwd[0] != '/'))
		return -AGENT_EINVAL;
	if (cap > AGENT_PAYLOAD_MAX)
		cap = AGENT_PAYLOAD_MAX;   /* must fit one frame */
	if (cap < 8)
		return -AGENT_ENOSPC;
	st16(out, (uint16_t)argc);
	st16(out + 2, (uint16_t)envc);
	st16(out + 4, cwd ? 1 : 0);
	st16(out + 6, 0);
	size_t off = 8;
	for (unsigned i = 0; i < argc; i++)
		if (put_str(out, cap, &off, argv[i]))
			return -AGENT_ENOSPC;
	for (unsigned i = 0; i < envc; i++)
		if (put_str(out, cap, &off, envp[i]))
			return -AGENT_ENOSPC;
	if (cwd && put_str(out, cap, &off, cwd))
		return -AGENT_ENOSPC;
	return (int)off;
}

void agent_text_clean(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			s[i] = '?';
}

/* ---- the host's bookkeeping of one session ---- */

void agent_host_reset(struct agent_host *h, uint32_t session)
{
	memset(h, 0, sizeof(*h));
	h->session = session;
	h->next_id = 1;
}

int agent_host_open(struct agent_host *h)
{
	for (unsigned i = 0; i < AGENT_CHANNELS_MAX; i++) {
		struct agent_host_chan *c = &h->ch[i];
		if (c->state != AGENT_CH_FREE)
			continue;
		/* ids are never reused within a session, so a late frame of
		 * a finished command can never land on a new one */
		c->id = h->next_id++;
		if (!h->next_id)
			h->next_id = 1;
		c->state = AGENT_CH_OPEN;
		c->out_used = 0;
		c->in_credit = AGENT_WINDOW;
		c->in_sent = 0;
		h->open++;
		return (int)i;
	}
	return -AGENT_ENOSPC;
}

struct agent_host_chan *agent_host_find(struct agent_host *h, uint32_t id)
{
	if (!id)
		return NULL;
	for (unsigned i = 0; i < AGENT_CHANNELS_MAX; i++)
		if (h->ch[i].state != AGENT_CH_FREE && h->ch[i].id == id)
			return &h->ch[i];
	return NULL;
}

void agent_host_closing(struct agent_host *h, uint32_t id)
{
	struct agent_host_chan *c = agent_host_find(h, id);
	if (c)
		c->state = AGENT_CH_CLOSING;
}

int agent_host_send_stdin(struct agent_host *h, uint32_t id, uint32_t n)
{
	struct agent_host_chan *c = agent_host_find(h, id);
	if (!c)
		return -AGENT_EINVAL;
	if (n > c->in_credit)
		return -AGENT_ENOSPC;
	c->in_credit -= n;
	c->in_sent += n;
	return 0;
}

uint32_t agent_host_consumed(struct agent_host *h, uint32_t id, uint32_t n)
{
	struct agent_host_chan *c = agent_host_find(h, id);
	if (!c)
		return 0;
	if (n > c->out_used)
		n = c->out_used;
	c->out_used -= n;
	return n;
}

int agent_host_rx(struct agent_host *h, const struct agent_frame *f)
{
	if (f->type == AGENT_HELLO) {
		uint32_t s = agent_hello_session(f);
		if (s == 0)
			return 3;
		if (s != h->session || h->ready)
			return 2;
		h->ready = true;
		return 1;
	}
	if (!h->ready)
		return 2;   /* the rest of an older session, before our HELLO */
	if (f->channel == 0)
		return 0;   /* ERROR about the link */
	struct agent_host_chan *c = agent_host_find(h, f->channel);
	if (!c)
		return -AGENT_EUNKNOWN;
	switch (f->type) {
	case AGENT_STDOUT:
	case AGENT_STDERR:
	case AGENT_ERROR: {
		uint32_t n = AGENT_HDR_LEN + f->len;
		if (n > AGENT_WINDOW - c->out_used)
			return -AGENT_EWINDOW;
		c->out_used += n;
		return 0;
	}
	case AGENT_ACK: {
		uint32_t n = agent_frame_u32(f);
		if (n > c->in_sent)
			return -AGENT_EACK;
		c->in_sent -= n;
		c->in_credit += n;
		return 0;
	}
	case AGENT_EXIT:
		c->state = AGENT_CH_FREE;
		h->open--;
		return 0;
	}
	return -AGENT_ETYPE;   /* not reached: the decoder accepts only these */
}
