/* SPDX-License-Identifier: MIT */
/*
 * filter.c - the filter object: rules in order, counters, conntrack.
 *
 * Everything is allocated by flt_new(); flt_decide() only reads rules,
 * bumps counters and updates the preallocated flow table.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1000000000ull
#define CT_EXPIRE_BUDGET 4   /* flows expired per frame, beyond lazy expiry */

struct rule_slot {
	struct flt_rule r;
	unsigned need;          /* rule_need(&r), computed once */
	struct flt_counter c;
};

struct flt {
	struct rule_slot *rules;
	size_t nrules;
	enum flt_verdict policy;
	bool stateful;
	struct flt_counter allowed, dropped, policy_c, malformed, ct_hit;
	int by;                  /* what decided the last frame (flt_decided_by) */
	struct ct ct;
};

static void count(struct flt_counter *c, size_t len)
{
	c->frames++;
	c->bytes += len;
}

static uint64_t timeout_ns(uint32_t s, uint32_t dflt)
{
	return (uint64_t)(s ? s : dflt) * NS_PER_S;
}

static int config_ok(const struct flt_config *cfg)
{
	if (!cfg || (cfg->nrules && !cfg->rules) ||
	    cfg->nrules > FLT_RULES_MAX ||
	    (cfg->policy != FLT_ALLOW && cfg->policy != FLT_DROP) ||
	    cfg->ct_capacity > FLT_CT_CAPACITY_MAX)
		return -EINVAL;
	for (size_t i = 0; i < cfg->nrules; i++)
		if (flt_rule_check(&cfg->rules[i], NULL, 0) != 0)
			return -EINVAL;
	return 0;
}

struct flt *flt_new(const struct flt_config *cfg)
{
	int err = config_ok(cfg);
	if (err) {
		errno = -err;
		return NULL;
	}

	struct flt *f = calloc(1, sizeof(*f));
	if (!f)
		goto nomem;
	f->nrules = cfg->nrules;
	f->policy = cfg->policy;
	f->stateful = cfg->stateful;
	if (f->nrules) {
		f->rules = calloc(f->nrules, sizeof(*f->rules));
		if (!f->rules)
			goto nomem;
	}
	for (size_t i = 0; i < f->nrules; i++) {
		f->rules[i].r = cfg->rules[i];
		f->rules[i].need = rule_need(&cfg->rules[i]);
	}
	if (f->stateful) {
		const uint64_t t[CT_NCLASS] = {
			[CT_TCP_EST] = timeout_ns(cfg->tcp_established_s,
						  FLT_TCP_ESTABLISHED_DEFAULT_S),
			[CT_TCP_CLOSING] = timeout_ns(cfg->tcp_closing_s,
						      FLT_TCP_CLOSING_DEFAULT_S),
			[CT_UDP] = timeout_ns(cfg->udp_s, FLT_UDP_DEFAULT_S),
			[CT_OTHER] = timeout_ns(cfg->other_s, FLT_OTHER_DEFAULT_S),
		};
		uint32_t cap = cfg->ct_capacity ? cfg->ct_capacity
						: FLT_CT_CAPACITY_DEFAULT;
		if (ct_init(&f->ct, cap, t, cfg->hash_key) != 0)
			goto nomem;
	}
	return f;
nomem:
	flt_free(f);
	errno = ENOMEM;
	return NULL;
}

void flt_free(struct flt *f)
{
	if (!f)
		return;
	ct_fini(&f->ct);
	free(f->rules);
	free(f);
}

static enum flt_verdict verdict(struct flt *f, enum flt_verdict v, size_t len)
{
	count(v == FLT_ALLOW ? &f->allowed : &f->dropped, len);
	return v;
}

enum flt_verdict flt_decide(struct flt *f, const uint8_t *frame, size_t len,
			    uint64_t now_ns)
{
	struct flt_pkt p;

	if (!f)
		return FLT_DROP;
	if (flt_parse(frame, len, &p) != 0) {
		count(&f->malformed, len);
		f->by = FLT_BY_MALFORMED;
		return verdict(f, FLT_DROP, len);
	}
	if (f->stateful) {
		ct_expire(&f->ct, now_ns, CT_EXPIRE_BUDGET);
		if (ct_reply(&f->ct, &p, now_ns)) {
			f->by = FLT_BY_STATE;
			count(&f->ct_hit, len);
			return verdict(f, FLT_ALLOW, len);
		}
	}
	for (size_t i = 0; i < f->nrules; i++) {
		struct rule_slot *s = &f->rules[i];
		if (!rule_match_need(&s->r, s->need, &p))
			continue;
		count(&s->c, len);
		f->by = (int)i;
		if (s->r.action == FLT_ALLOW && f->stateful)
			ct_forward(&f->ct, &p, now_ns);
		return verdict(f, s->r.action, len);
	}
	count(&f->policy_c, len);
	f->by = FLT_BY_POLICY;
	return verdict(f, f->policy, len);
}

int flt_decided_by(const struct flt *f)
{
	return f ? f->by : FLT_BY_POLICY;
}

void flt_stats(const struct flt *f, struct flt_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!f)
		return;
	out->allowed = f->allowed;
	out->dropped = f->dropped;
	out->policy = f->policy_c;
	out->malformed = f->malformed;
	out->ct_hit = f->ct_hit;
	out->ct_created = f->ct.created;
	out->ct_expired = f->ct.expired;
	out->ct_full = f->ct.full;
	out->ct_entries = f->ct.used;
	out->ct_capacity = f->ct.cap;
}

size_t flt_rule_count(const struct flt *f)
{
	return f ? f->nrules : 0;
}

const struct flt_rule *flt_rule_get(const struct flt *f, size_t i)
{
	return f && i < f->nrules ? &f->rules[i].r : NULL;
}

int flt_rule_stats(const struct flt *f, size_t i, struct flt_counter *out)
{
	if (!f || !out || i >= f->nrules)
		return -ERANGE;
	*out = f->rules[i].c;
	return 0;
}

int flt_selfcheck(const struct flt *f)
{
	if (!f)
		return 0;
	/* every frame is decided by exactly one of these */
	uint64_t n = f->malformed.frames + f->ct_hit.frames + f->policy_c.frames;
	for (size_t i = 0; i < f->nrules; i++)
		n += f->rules[i].c.frames;
	if (n != f->allowed.frames + f->dropped.frames)
		return -EUCLEAN;
	return ct_check(&f->ct);
}
