/* SPDX-License-Identifier: MIT */
/*
 * params.c - impairment text <-> struct imp_params: the lab-file key
 * parser, the runtime spec parser, the consistency check and the
 * canonical formatter.
 *
 * Text is untrusted (a lab file, a command line, a control-socket
 * message), so every number is parsed by hand with its overflow checked
 * before it happens, a value must be exact in its unit (`0.5ns` is an
 * error, not 0 or 1), and each message quotes what was wrong through
 * quote(), which bounds and sanitises it.
 */
#include "impair.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- messages ----------------------------------------------------------- */

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

struct quoted {
	char s[IMP_QUOTE_MAX + 4];
};

/* At most IMP_QUOTE_MAX bytes of the token, unprintables as '?', and
 * "..." when cut: a hostile value cannot fill the log or the terminal
 * with escapes. */
static const char *quote(struct quoted *q, const char *p, size_t n)
{
	size_t k = n < IMP_QUOTE_MAX ? n : IMP_QUOTE_MAX;
	for (size_t i = 0; i < k; i++) {
		unsigned char c = (unsigned char)p[i];
		q->s[i] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
	}
	if (k < n) {
		memcpy(q->s + k, "...", 3);
		k += 3;
	}
	q->s[k] = '\0';
	return q->s;
}

/* ---- tokens ------------------------------------------------------------- */

struct tok {
	const char *p;
	size_t n;
};

struct cur {
	const char *s;
	size_t i;
};

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool peek(const struct cur *c, struct tok *t)
{
	size_t i = c->i;
	while (c->s[i] && blank(c->s[i]))
		i++;
	size_t j = i;
	while (c->s[j] && !blank(c->s[j]))
		j++;
	t->p = c->s + i;
	t->n = j - i;
	return j > i;
}

static bool next(struct cur *c, struct tok *t)
{
	bool ok = peek(c, t);
	c->i = (size_t)(t->p - c->s) + t->n;
	return ok;
}

static bool is(struct tok t, const char *word)
{
	size_t n = strlen(word);
	return t.n == n && memcmp(t.p, word, n) == 0;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_ci(const char *p, size_t n, const char *word)
{
	if (strlen(word) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != word[i])
			return false;
	return true;
}

/* Does t look like a number (so an optional value is meant, not a key)? */
static bool numeric(struct tok t)
{
	return t.n && ((t.p[0] >= '0' && t.p[0] <= '9') || t.p[0] == '.');
}

/* ---- numbers ------------------------------------------------------------ */

enum {
	NUM_OK = 0,
	NUM_SYNTAX,    /* not D[.D][unit], or an unknown unit */
	NUM_RANGE,     /* too large for 64 bits, or outside the key's range */
	NUM_INEXACT,   /* not a whole number of the base unit */
};

struct unit {
	const char *name;
	uint64_t scale;
};

static const uint64_t ten_pow[] = {
	1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
	10000000ull, 100000000ull, 1000000000ull,
};
#define FRAC_DIGITS_MAX 9

/*
 * The number at the start of [p, p+n): digits, optionally '.' and more
 * digits (no bare "1." or ".5": a typo is likelier than a style); *len is
 * how many bytes it took.  The value is ip + fp / 10^fd.
 */
static int decimal(const char *p, size_t n, uint64_t *ip, uint64_t *fp, unsigned *fd,
		   size_t *len)
{
	size_t i = 0;
	unsigned digits = 0;
	*ip = *fp = 0;
	*fd = 0;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
		unsigned d = (unsigned)(p[i] - '0');
		if (*ip > (UINT64_MAX - d) / 10)
			return NUM_RANGE;
		*ip = *ip * 10 + d;
	}
	if (!digits)
		return NUM_SYNTAX;
	if (i < n && p[i] == '.') {
		i++;
		for (digits = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
			if (*fd == FRAC_DIGITS_MAX)
				return NUM_INEXACT;
			*fp = *fp * 10 + (unsigned)(p[i] - '0');
			(*fd)++;
		}
		if (!digits)
			return NUM_SYNTAX;
	}
	*len = i;
	return NUM_OK;
}

/* ip.fp in a unit of `scale` base units, exactly. */
static int scale_exact(uint64_t ip, uint64_t fp, unsigned fd, uint64_t scale, uint64_t *out)
{
	if (ip > UINT64_MAX / scale)
		return NUM_RANGE;
	uint64_t v = ip * scale;
	if (fd) {
		/* fp < 10^fd; keep fp * scale inside 64 bits */
		if (scale > UINT64_MAX / ten_pow[fd])
			return NUM_INEXACT;
		uint64_t f = fp * scale;
		if (f % ten_pow[fd])
			return NUM_INEXACT;
		f /= ten_pow[fd];
		if (v > UINT64_MAX - f)
			return NUM_RANGE;
		v += f;
	}
	*out = v;
	return NUM_OK;
}

/*
 * A number with one of the units (matched case-insensitively; a trailing
 * "/s" allowed when per_s) into base units.  `bare` allows a number with
 * no unit in a unit of that scale (0 = not allowed, except for a bare 0
 * when zero_ok).
 */
static int number(struct tok t, const struct unit *units, uint64_t bare, bool zero_ok,
		  bool per_s, uint64_t *out)
{
	uint64_t ip, fp;
	unsigned fd;
	size_t len;
	int rc = decimal(t.p, t.n, &ip, &fp, &fd, &len);
	if (rc)
		return rc;
	const char *u = t.p + len;
	size_t un = t.n - len;
	if (per_s && un > 2 && u[un - 2] == '/' && lower(u[un - 1]) == 's')
		un -= 2;
	if (un == 0) {
		if (bare)
			return scale_exact(ip, fp, fd, bare, out);
		if (zero_ok && ip == 0 && fp == 0) {
			*out = 0;
			return NUM_OK;
		}
		return NUM_SYNTAX;
	}
	for (const struct unit *x = units; x->name; x++)
		if (is_ci(u, un, x->name))
			return scale_exact(ip, fp, fd, x->scale, out);
	return NUM_SYNTAX;
}

static const struct unit time_units[] = {
	{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", IMP_NS_PER_S }, { NULL, 0 },
};
static const struct unit pct_units[] = { { "%", IMP_PCT }, { NULL, 0 } };
static const struct unit rate_units[] = {
	{ "bit", 1 }, { "kbit", 1000 }, { "mbit", 1000000 }, { "gbit", 1000000000 },
	{ "tbit", 1000000000000ull }, { NULL, 0 },
};
static const struct unit size_units[] = {
	{ "b", 1 }, { "kb", 1000 }, { "kib", 1024 }, { "mb", 1000000 }, { "mib", 1u << 20 },
	{ "gb", 1000000000 }, { "gib", 1u << 30 }, { NULL, 0 },
};
static const struct unit no_units[] = { { NULL, 0 } };

/* ---- the keys ----------------------------------------------------------- */

/* What a key's parser needs to report: which key, its example. */
struct ctx {
	const char *key;
	const char *example;
	char *err;
	size_t errlen;
};

/* The message for a value that number() refused with rc. */
static int bad(const struct ctx *x, const char *what, struct tok t, int rc,
	       const char *range, const char *exact)
{
	struct quoted q;
	const char *v = quote(&q, t.p, t.n);
	if (rc == NUM_RANGE)
		return fail(x->err, x->errlen, -EINVAL, "%s \"%s\" out of range (%s)", what, v, range);
	if (rc == NUM_INEXACT)
		return fail(x->err, x->errlen, -EINVAL, "bad %s \"%s\" (%s)", what, v, exact);
	return fail(x->err, x->errlen, -EINVAL, "bad %s \"%s\" (e.g. %s)", what, v, x->example);
}

static int need(const struct ctx *x, struct cur *c, struct tok *t, const char *what,
		const char *example)
{
	if (next(c, t))
		return 0;
	return fail(x->err, x->errlen, -EINVAL, "%s needs a value (e.g. %s)", what, example);
}

static int get_time(const struct ctx *x, struct cur *c, uint64_t *ns)
{
	struct tok t;
	int rc = need(x, c, &t, x->key, x->example);
	if (rc)
		return rc;
	rc = number(t, time_units, 0, true, false, ns);
	if (rc == NUM_OK && *ns > IMP_DELAY_MAX_NS)
		rc = NUM_RANGE;
	return rc ? bad(x, x->key, t, rc, "0-60s", "whole nanoseconds") : 0;
}

/* A percentage: N[.N]% (at most 6 decimals), or 0. */
static int get_pct(const struct ctx *x, struct cur *c, const char *what, uint32_t *out)
{
	struct tok t;
	int rc = need(x, c, &t, what, "1%");
	if (rc)
		return rc;
	uint64_t v;
	rc = number(t, pct_units, 0, true, false, &v);
	if (rc == NUM_OK && v > IMP_PCT_ONE)
		rc = NUM_RANGE;
	if (rc) {
		struct ctx y = *x;
		y.example = "1%";
		return bad(&y, what, t, rc, "0-100%", "at most 6 decimals");
	}
	*out = (uint32_t)v;
	return 0;
}

static bool is_off(struct cur *c)
{
	struct tok t;
	if (peek(c, &t) && is(t, "off")) {
		next(c, &t);
		return true;
	}
	return false;
}

static int key_delay(struct imp_params *p, struct cur *c, const struct ctx *x)
{
	p->delay_ns = 0;
	return is_off(c) ? 0 : get_time(x, c, &p->delay_ns);
}

static int key_jitter(struct imp_params *p, struct cur *c, const struct ctx *x)
{
	p->jitter_ns = 0;
	p->jitter_dist = IMP_DIST_NORMAL;
	if (is_off(c))
		return 0;
	int rc = get_time(x, c, &p->jitter_ns);
	struct tok t;
	if (rc == 0 && peek(c, &t) && (is(t, "normal") || is(t, "uniform"))) {
		next(c, &t);
		p->jitter_dist = is(t, "uniform") ? IMP_DIST_UNIFORM : IMP_DIST_NORMAL;
	}
	return rc;
}

static int key_loss(struct imp_params *p, struct cur *c, const struct ctx *x)
{
	struct imp_loss l = { 0 };
	struct tok t;
	int rc;
	p->loss = l;
	if (is_off(c))
		return 0;
	if (peek(c, &t) && is(t, "ge")) {
		/* loss ge P R [H [K]]: h defaults to 100%, k to 0% (Gilbert) */
		next(c, &t);
		l.model = IMP_LOSS_GE;
		l.h = IMP_PCT_ONE;
		if ((rc = get_pct(x, c, "loss ge p", &l.p)) || (rc = get_pct(x, c, "loss ge r", &l.r)))
			return rc;
		if (peek(c, &t) && numeric(t) && (rc = get_pct(x, c, "loss ge h", &l.h)))
			return rc;
		if (peek(c, &t) && numeric(t) && (rc = get_pct(x, c, "loss ge k", &l.k)))
			return rc;
		p->loss = l;
		return 0;
	}
	if ((rc = get_pct(x, c, "loss", &l.pct)))
		return rc;
	l.model = IMP_LOSS_RANDOM;
	if (peek(c, &t) && is(t, "burst")) {
		next(c, &t);
		if ((rc = need(x, c, &t, "loss burst", "5")))
			return rc;
		uint64_t b;
		rc = number(t, no_units, IMP_BURST_ONE, false, false, &b);
		if (rc == NUM_OK && (b < IMP_BURST_ONE || b > IMP_BURST_MAX))
			rc = NUM_RANGE;
		if (rc) {
			struct ctx y = *x;
			y.example = "5";
			return bad(&y, "loss burst", t, rc, "1-1000000 frames", "at most 3 decimals");
		}
		l.model = IMP_LOSS_BURST;
		l.burst = (uint32_t)b;
	}
	if (l.pct == 0)
		l = (struct imp_loss){ 0 };   /* 0% is no loss, whatever the burst */
	p->loss = l;
	return 0;
}

static int key_prob(uint32_t *field, struct cur *c, const struct ctx *x)
{
	*field = 0;
	return is_off(c) ? 0 : get_pct(x, c, x->key, field);
}

static int key_duplicate(struct imp_params *p, struct cur *c, const struct ctx *x)
{
	return key_prob(&p->duplicate, c, x);
}

static int key_reorder(struct imp_params *p, struct cur *c, const struct ctx *x)
{
	return key_prob(&p->reorder, c, x);
}

static int key_corrupt(struct imp_params *p, struct cur *c, const struct ctx *x)
{
	return key_prob(&p->corrupt, c, x);
}

static int get_size(const struct ctx *x, struct cur *c, const char *what, bool frames_ok,
		    uint64_t *bytes, uint32_t *frames)
{
	struct tok t;
	int rc = need(x, c, &t, what, frames_ok ? "1000 or 256kib" : "32kib");
	if (rc)
		return rc;
	struct ctx y = *x;
	y.example = frames_ok ? "1000 or 256kib" : "32kib";
	uint64_t v;
	rc = number(t, size_units, 0, !frames_ok, false, &v);
	if (rc == NUM_OK && v > IMP_SIZE_MAX)
		rc = NUM_RANGE;
	if (rc == NUM_OK && frames_ok && v == 0)
		rc = NUM_RANGE;
	if (rc == NUM_SYNTAX && frames_ok) {
		/* a bare whole number is frames */
		rc = number(t, no_units, 1, false, false, &v);
		if (rc == NUM_OK && (v < 1 || v > IMP_QUEUE_FRAMES_MAX))
			return bad(&y, what, t, NUM_RANGE, "1-65536 frames or 1b-1gib", NULL);
		if (rc == NUM_OK) {
			*frames = (uint32_t)v;
			return 0;
		}
		if (rc == NUM_INEXACT)
			return bad(&y, what, t, rc, NULL, "whole frames");
	}
	if (rc)
		return bad(&y, what, t, rc, frames_ok ? "1-65536 frames or 1b-1gib" : "0-1gib",
			   "whole bytes");
	*bytes = v;
	return 0;
}

static int key_rate(struct imp_params *p, struct cur *c, const struct ctx *x)
{
	p->rate_bps = p->rate_burst = p->queue_bytes = 0;
	p->queue_frames = 0;
	if (is_off(c))
		return 0;
	struct tok t;
	int rc = need(x, c, &t, "rate", "100mbit");
	if (rc)
		return rc;
	uint64_t v;
	rc = number(t, rate_units, 0, false, true, &v);
	if (rc == NUM_OK && (v < IMP_RATE_MIN || v > IMP_RATE_MAX))
		rc = NUM_RANGE;
	if (rc == NUM_SYNTAX && t.n > 3 && is_ci(t.p + t.n - 3, 3, "bps")) {
		/* tc reads "mbps" as megabytes a second, most people as
		 * megabits: refuse to guess */
		struct quoted q;
		return fail(x->err, x->errlen, -EINVAL,
			    "bad rate \"%s\" (say mbit for megabits: tc reads mbps as megabytes)",
			    quote(&q, t.p, t.n));
	}
	if (rc)
		return bad(x, "rate", t, rc, "1kbit-1tbit", "whole bit/s");
	struct imp_params r = { .rate_bps = v };
	bool burst = false, queue = false;
	while (peek(c, &t) && (is(t, "burst") || is(t, "queue"))) {
		bool is_burst = is(t, "burst");
		next(c, &t);
		if (is_burst ? burst : queue) {
			struct quoted q;
			return fail(x->err, x->errlen, -EINVAL, "rate %s given twice",
				    quote(&q, t.p, t.n));
		}
		if (is_burst) {
			burst = true;
			rc = get_size(x, c, "rate burst", false, &r.rate_burst, NULL);
		} else {
			queue = true;
			rc = get_size(x, c, "rate queue", true, &r.queue_bytes, &r.queue_frames);
		}
		if (rc)
			return rc;
	}
	p->rate_bps = r.rate_bps;
	p->rate_burst = r.rate_burst;
	p->queue_bytes = r.queue_bytes;
	p->queue_frames = r.queue_frames;
	return 0;
}

static int key_mtu(struct imp_params *p, struct cur *c, const struct ctx *x)
{
	p->mtu = 0;
	if (is_off(c))
		return 0;
	struct tok t;
	int rc = need(x, c, &t, "mtu", "1400");
	if (rc)
		return rc;
	uint64_t v;
	rc = number(t, no_units, 1, false, false, &v);
	if (rc == NUM_OK && (v < IMP_MTU_MIN || v > IMP_MTU_MAX))
		rc = NUM_RANGE;
	if (rc)
		return bad(x, "mtu", t, rc, "68-65535", "whole bytes");
	p->mtu = (uint32_t)v;
	return 0;
}

static const struct key {
	const char *name;
	const char *example;
	int (*parse)(struct imp_params *p, struct cur *c, const struct ctx *x);
} keys[] = {
	{ "delay", "10ms", key_delay },
	{ "jitter", "2ms", key_jitter },
	{ "loss", "1%", key_loss },
	{ "duplicate", "1%", key_duplicate },
	{ "reorder", "25%", key_reorder },
	{ "corrupt", "0.1%", key_corrupt },
	{ "rate", "100mbit", key_rate },
	{ "mtu", "1400", key_mtu },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct key *find_key(struct tok t)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (is(t, keys[i].name))
			return &keys[i];
	return NULL;
}

static int unknown(struct tok t, char *err, size_t errlen)
{
	struct quoted q;
	return fail(err, errlen, -ENOENT,
		    "unknown impairment \"%s\" (delay jitter loss duplicate reorder corrupt rate mtu)",
		    quote(&q, t.p, t.n));
}

int imp_parse_kv(struct imp_params *p, const char *key, const char *value, char *err,
		 size_t errlen)
{
	if (!p || !key || !value)
		return fail(err, errlen, -EINVAL, "no key or value");
	struct tok k = { key, strlen(key) };
	const struct key *def = find_key(k);
	if (!def)
		return unknown(k, err, errlen);
	if (strlen(value) > IMP_SPEC_MAX)
		return fail(err, errlen, -EINVAL, "%s: value too long (over %d bytes)", def->name,
			    IMP_SPEC_MAX);
	struct ctx x = { def->name, def->example, err, errlen };
	struct cur c = { value, 0 };
	struct imp_params work = *p;
	int rc = def->parse(&work, &c, &x);
	if (rc)
		return rc;
	struct tok t;
	if (next(&c, &t)) {
		struct quoted q;
		return fail(err, errlen, -EINVAL, "unexpected \"%s\" after %s value",
			    quote(&q, t.p, t.n), def->name);
	}
	*p = work;
	return 0;
}

int imp_parse_spec(struct imp_params *p, const char *text, char *err, size_t errlen)
{
	if (!p || !text)
		return fail(err, errlen, -EINVAL, "no spec");
	if (strnlen(text, IMP_SPEC_MAX + 1) > IMP_SPEC_MAX)
		return fail(err, errlen, -EINVAL, "impairment too long (over %d bytes)",
			    IMP_SPEC_MAX);
	struct cur c = { text, 0 };
	struct tok t;
	if (!peek(&c, &t))
		return fail(err, errlen, -ENODATA, "no impairment given");
	struct imp_params work = *p;
	if (is(t, "clear")) {
		next(&c, &t);
		work = (struct imp_params){ 0 };
	}
	unsigned seen = 0;
	while (next(&c, &t)) {
		const struct key *def = find_key(t);
		if (!def && is(t, "clear"))
			return fail(err, errlen, -EINVAL, "clear must come first");
		if (!def)
			return unknown(t, err, errlen);
		unsigned bit = 1u << (def - keys);
		if (seen & bit)
			return fail(err, errlen, -EINVAL, "%s given twice", def->name);
		seen |= bit;
		struct ctx x = { def->name, def->example, err, errlen };
		int rc = def->parse(&work, &c, &x);
		if (rc)
			return rc;
	}
	int rc = imp_params_check(&work, err, errlen);
	if (rc)
		return rc;
	*p = work;
	return 0;
}

/* ---- canonical text ----------------------------------------------------- */

struct out {
	char *buf;
	size_t len, pos;
	bool full;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	if (o->full)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->pos) {
		o->full = true;
		o->pos = o->len - 1;
		return;
	}
	o->pos += (size_t)n;
}

/* The largest unit that holds v exactly; units are smallest first. */
static void put_unit(struct out *o, uint64_t v, const struct unit *units)
{
	const struct unit *best = units;
	for (const struct unit *x = units; x->name; x++)
		if (v % x->scale == 0 && x->scale > best->scale)
			best = x;
	put(o, "%llu%s", (unsigned long long)(v / best->scale), best->name);
}

/* A fixed-point value with `digits` decimals, trailing zeros dropped. */
static void put_fixed(struct out *o, uint64_t v, unsigned digits, const char *suffix)
{
	uint64_t one = ten_pow[digits], frac = v % one;
	put(o, "%llu", (unsigned long long)(v / one));
	if (frac) {
		char f[16];
		snprintf(f, sizeof(f), "%0*llu", (int)digits, (unsigned long long)frac);
		size_t n = strlen(f);
		while (n && f[n - 1] == '0')
			f[--n] = '\0';
		put(o, ".%s", f);
	}
	put(o, "%s", suffix);
}

static void put_pct(struct out *o, uint32_t v)
{
	put_fixed(o, v, 6, "%");
}

static void sep(struct out *o)
{
	if (o->pos)
		put(o, " ");
}

static void put_burst(struct out *o, uint32_t b)
{
	put_fixed(o, b, 3, "");
}

int imp_format(const struct imp_params *p, char *buf, size_t len)
{
	if (!p || !buf || !len)
		return -EINVAL;
	buf[0] = '\0';
	if (imp_params_check(p, NULL, 0))
		return -EINVAL;
	struct out o = { buf, len, 0, false };
	if (p->delay_ns) {
		put(&o, "delay ");
		put_unit(&o, p->delay_ns, time_units);
	}
	if (p->jitter_ns) {
		sep(&o);
		put(&o, "jitter ");
		put_unit(&o, p->jitter_ns, time_units);
		if (p->jitter_dist == IMP_DIST_UNIFORM)
			put(&o, " uniform");
	}
	const struct imp_loss *l = &p->loss;
	if (l->model != IMP_LOSS_NONE) {
		sep(&o);
		put(&o, "loss ");
		if (l->model == IMP_LOSS_GE) {
			put(&o, "ge ");
			put_pct(&o, l->p);
			put(&o, " ");
			put_pct(&o, l->r);
			put(&o, " ");
			put_pct(&o, l->h);
			put(&o, " ");
			put_pct(&o, l->k);
		} else {
			put_pct(&o, l->pct);
			if (l->model == IMP_LOSS_BURST) {
				put(&o, " burst ");
				put_burst(&o, l->burst);
			}
		}
	}
	const struct {
		const char *name;
		uint32_t v;
	} probs[] = {
		{ "duplicate", p->duplicate }, { "reorder", p->reorder }, { "corrupt", p->corrupt },
	};
	for (size_t i = 0; i < 3; i++) {
		if (!probs[i].v)
			continue;
		sep(&o);
		put(&o, "%s ", probs[i].name);
		put_pct(&o, probs[i].v);
	}
	if (p->rate_bps) {
		sep(&o);
		put(&o, "rate ");
		put_unit(&o, p->rate_bps, rate_units);
		if (p->rate_burst) {
			put(&o, " burst ");
			put_unit(&o, p->rate_burst, size_units);
		}
		if (p->queue_frames)
			put(&o, " queue %u", p->queue_frames);
		else if (p->queue_bytes) {
			put(&o, " queue ");
			put_unit(&o, p->queue_bytes, size_units);
		}
	}
	if (p->mtu) {
		sep(&o);
		put(&o, "mtu %u", p->mtu);
	}
	return o.full ? -ENOSPC : (int)o.pos;
}

/* ---- checks ------------------------------------------------------------- */

static int check_pct(uint32_t v, const char *what, char *err, size_t errlen)
{
	if (v <= IMP_PCT_ONE)
		return 0;
	return fail(err, errlen, -EINVAL, "%s %u.%06u%% out of range (0-100%%)", what,
		    v / IMP_PCT, v % IMP_PCT);
}

static void fmt_time(char *b, size_t n, uint64_t ns)
{
	struct out o = { b, n, 0, false };
	put_unit(&o, ns, time_units);
}

static int check_loss(const struct imp_loss *l, char *err, size_t errlen)
{
	int rc;
	switch (l->model) {
	case IMP_LOSS_NONE:
		return 0;
	case IMP_LOSS_RANDOM:
	case IMP_LOSS_BURST:
		if ((rc = check_pct(l->pct, "loss", err, errlen)))
			return rc;
		if (l->pct == 0)
			return fail(err, errlen, -EINVAL, "loss 0%% is no loss model");
		if (l->model == IMP_LOSS_RANDOM)
			return 0;
		if (l->burst < IMP_BURST_ONE || l->burst > IMP_BURST_MAX)
			return fail(err, errlen, -EINVAL, "loss burst out of range (1-1000000 frames)");
		if (l->pct == IMP_PCT_ONE)
			return fail(err, errlen, -EINVAL, "loss 100%% cannot come in bursts");
		/* Gilbert: p = L / (B (1 - L)) must be a probability, so
		 * B >= L / (1 - L): on average a good run must last a frame */
		if ((uint64_t)l->pct * IMP_BURST_ONE > (uint64_t)l->burst * (IMP_PCT_ONE - l->pct)) {
			uint64_t den = IMP_PCT_ONE - l->pct;
			uint64_t min = ((uint64_t)l->pct * IMP_BURST_ONE + den - 1) / den;
			char lb[32], mb[32];
			struct out a = { lb, sizeof(lb), 0, false }, b = { mb, sizeof(mb), 0, false };
			put_pct(&a, l->pct);
			put_burst(&b, (uint32_t)min);
			return fail(err, errlen, -EINVAL,
				    "loss %s needs a burst of at least %s (a burst is followed by "
				    "good frames)", lb, mb);
		}
		return 0;
	case IMP_LOSS_GE:
		if ((rc = check_pct(l->p, "loss ge p", err, errlen)) ||
		    (rc = check_pct(l->r, "loss ge r", err, errlen)) ||
		    (rc = check_pct(l->h, "loss ge h", err, errlen)) ||
		    (rc = check_pct(l->k, "loss ge k", err, errlen)))
			return rc;
		return 0;
	}
	return fail(err, errlen, -EINVAL, "unknown loss model %d", (int)l->model);
}

int imp_params_check(const struct imp_params *p, char *err, size_t errlen)
{
	int rc;
	char a[32], b[32];
	if (!p)
		return fail(err, errlen, -EINVAL, "no parameters");
	if (p->delay_ns > IMP_DELAY_MAX_NS || p->jitter_ns > IMP_DELAY_MAX_NS)
		return fail(err, errlen, -EINVAL, "delay and jitter are at most 60s");
	if (p->jitter_dist != IMP_DIST_NORMAL && p->jitter_dist != IMP_DIST_UNIFORM)
		return fail(err, errlen, -EINVAL, "unknown jitter distribution %d",
			    (int)p->jitter_dist);
	if (p->jitter_ns > p->delay_ns) {
		fmt_time(a, sizeof(a), p->jitter_ns);
		fmt_time(b, sizeof(b), p->delay_ns);
		return fail(err, errlen, -EINVAL,
			    "jitter %s exceeds delay %s (the delay would go negative)", a,
			    p->delay_ns ? b : "0");
	}
	if ((rc = check_loss(&p->loss, err, errlen)) ||
	    (rc = check_pct(p->duplicate, "duplicate", err, errlen)) ||
	    (rc = check_pct(p->reorder, "reorder", err, errlen)) ||
	    (rc = check_pct(p->corrupt, "corrupt", err, errlen)))
		return rc;
	if (p->reorder && !p->delay_ns)
		return fail(err, errlen, -EINVAL,
			    "reorder needs a delay (reordered frames skip it, e.g. delay 10ms "
			    "reorder 25%%)");
	if (p->rate_bps && (p->rate_bps < IMP_RATE_MIN || p->rate_bps > IMP_RATE_MAX))
		return fail(err, errlen, -EINVAL, "rate out of range (1kbit-1tbit)");
	if (!p->rate_bps && (p->rate_burst || p->queue_bytes || p->queue_frames))
		return fail(err, errlen, -EINVAL, "a rate burst or queue needs a rate");
	if (p->rate_burst > IMP_SIZE_MAX || p->queue_bytes > IMP_SIZE_MAX ||
	    p->queue_frames > IMP_QUEUE_FRAMES_MAX)
		return fail(err, errlen, -EINVAL, "rate burst or queue out of range");
	if (p->queue_bytes && p->queue_frames)
		return fail(err, errlen, -EINVAL, "a rate queue is in bytes or in frames, not both");
	if (p->mtu && (p->mtu < IMP_MTU_MIN || p->mtu > IMP_MTU_MAX))
		return fail(err, errlen, -EINVAL, "mtu out of range (68-65535)");
	return 0;
}

bool imp_params_active(const struct imp_params *p)
{
	return p->delay_ns || p->jitter_ns || p->loss.model != IMP_LOSS_NONE || p->duplicate ||
	       p->reorder || p->corrupt || p->rate_bps || p->mtu;
}

static bool loss_equal(const struct imp_loss *a, const struct imp_loss *b)
{
	if (a->model != b->model)
		return false;
	switch (a->model) {
	case IMP_LOSS_RANDOM:
		return a->pct == b->pct;
	case IMP_LOSS_BURST:
		return a->pct == b->pct && a->burst == b->burst;
	case IMP_LOSS_GE:
		return a->p == b->p && a->r == b->r && a->h == b->h && a->k == b->k;
	default:
		return true;
	}
}

bool imp_params_equal(const struct imp_params *a, const struct imp_params *b)
{
	return a->delay_ns == b->delay_ns && a->jitter_ns == b->jitter_ns &&
	       (!a->jitter_ns || a->jitter_dist == b->jitter_dist) &&
	       loss_equal(&a->loss, &b->loss) && a->duplicate == b->duplicate &&
	       a->reorder == b->reorder && a->corrupt == b->corrupt &&
	       a->rate_bps == b->rate_bps && a->rate_burst == b->rate_burst &&
	       a->queue_bytes == b->queue_bytes && a->queue_frames == b->queue_frames &&
	       a->mtu == b->mtu;
}
