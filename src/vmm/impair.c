/* SPDX-License-Identifier: MIT */
/*
 * impair.c - the frames a vmm sends on an impaired or cut link.
 *
 * Each vmm impairs what it sends (one direction of each of its links),
 * with lib/impair deciding a frame's fate from a seed of its own: the
 * lab's seed, the link and the direction.  A frame due now goes straight
 * into the ring, as on any link; one that must wait (delay, rate) is
 * copied and queued in departure order, and a timerfd wakes the loop when
 * the first is due: nothing ever sleeps in the datapath.  A frame that
 * finds the ring full waits in the same queue, in order, so an impaired
 * link never holds back its vmm's other links.  A cut link (link down, a
 * partition, a stopped guest) drops what is sent on it, counted.  A link
 * that is neither pays one load and test per frame (link_special).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "sys.h"
#include "vmm.h"

#define QUEUE_FRAMES 8192u
#define QUEUE_BYTES (16u << 20)

#define ADD(field, n) __atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)
#define PUT(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

/* lib/impair's counters into the stats region (absolute: it keeps them) */
static void publish(struct link *l)
{
	const struct imp_stats *s = &l->imp.stats;
	PUT(l->st->imp_loss, s->drop_loss);
	PUT(l->st->imp_queue, s->drop_queue);
	PUT(l->st->imp_mtu, s->drop_mtu);
	PUT(l->st->imp_duplicated, s->duplicated);
	PUT(l->st->imp_reordered, s->reordered);
	PUT(l->st->imp_corrupted, s->corrupted);
	PUT(l->st->imp_delayed, s->delayed);
	PUT(l->st->imp_overflow, l->q.stats.overflow);
}

static int set_params(struct vmm *m, struct link *l, const struct imp_params *p)
{
	char why[IMP_ERR_MAX];
	int err = imp_dir_set(&l->imp, p, why, sizeof(why));
	if (err)
		fprintf(stderr, "%s: %s: link %u: impairment refused: %s\n", vmm_prog, m->node->name,
			l->index, why);
	else if (!l->q.heap && imp_params_active(p) &&
		 (err = imp_queue_init(&l->q, QUEUE_FRAMES, QUEUE_BYTES)))
		fprintf(stderr, "%s: %s: link %u: no room to delay frames: %s\n", vmm_prog,
			m->node->name, l->index, strerror(-err));
	return err;
}

void link_impair_init(struct vmm *m, struct link *l)
{
	imp_dir_init(&l->imp, imp_seed(m->seed, l->index, l->side));
	const struct imp_params *p = &m->lab->links[l->index].impair[l->side];
	if (imp_params_active(p) && set_params(m, l, p))
		vmm_fail("link %u: cannot set the lab's impairments", l->index);
}

/* Hold a copy of f until due; false (dropped, counted) if there is no room. */
static bool hold(struct link *l, const uint8_t *f, size_t len, const struct imp_copy *c, uint64_t due)
{
	uint8_t *copy = l->q.heap ? malloc(len) : NULL;
	if (!copy) {
		l->q.stats.overflow++;
		return false;
	}
	memcpy(copy, f, len);
	imp_corrupt(copy, len, c);
	if (imp_queue_push(&l->q, due, (uint64_t)(uintptr_t)copy, (uint32_t)len)) {
		free(copy);
		return false;
	}
	return true;
}

void link_send_impaired(struct vmm *m, struct link *l, const uint8_t *f, size_t len, uint64_t now)
{
	if (l->down) {
		ADD(l->st->drop_down, 1);
		return;
	}
	struct imp_decision d;
	imp_frame(&l->imp, f, len, now, &d);
	for (unsigned c = 0; c < d.n; c++) {
		const struct imp_copy *cp = &d.copy[c];
		/* at once, intact, and nothing before it waits: as any link */
		if (cp->due <= now && !cp->flip_off && imp_queue_empty(&l->q)) {
			int err = link_send_now(m, l, f, len);
			if (err != -VQ_ENOSPC)
				continue;
		}
		hold(l, f, len, cp, cp->due > now ? cp->due : now);
	}
	publish(l);
}

/* Send what is due on l, in order, until the ring is full. */
static void flush_link(struct vmm *m, struct link *l, uint64_t now)
{
	const struct imp_item *it;
	while ((it = imp_queue_peek(&l->q)) && it->due <= now) {
		uint8_t *f = (uint8_t *)(uintptr_t)it->cookie;
		int err = l->down ? -EPIPE : link_send_now(m, l, f, it->len);
		if (err == -VQ_ENOSPC)
			break;   /* it asked for a kick: the loop comes back */
		if (err == -EPIPE)
			ADD(l->st->drop_down, 1);
		imp_queue_pop(&l->q, NULL);
		free(f);
	}
}

void links_flush_due(struct vmm *m, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	for (unsigned i = 0; i < m->n_links; i++) {
		struct link *l = &m->links[i];
		if (!l->q.heap || imp_queue_empty(&l->q))
			continue;
		flush_link(m, l, now);
		publish(l);
		uint64_t d = imp_queue_deadline(&l->q);
		if (d < next)
			next = d;
	}
	/* the ring is full: its kick wakes us; else the first due frame */
	if (next == m->armed)
		return;
	struct itimerspec its = { .it_value = {
		.tv_sec = next == UINT64_MAX ? 0 : (time_t)(next / 1000000000u),
		.tv_nsec = next == UINT64_MAX ? 0 : (long)(next % 1000000000u) } };
	if (next != UINT64_MAX && its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (timerfd_settime(m->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		m->armed = next;
}

static struct link *link_by_index(struct vmm *m, uint32_t index)
{
	for (unsigned i = 0; i < m->n_links; i++)
		if (m->links[i].index == index)
			return &m->links[i];
	return NULL;
}

void vmm_ctl_read(struct vmm *m)
{
	struct vmm_ctl c;
	ssize_t r;
	while ((r = read(m->ctl_fd, &c, sizeof(c))) == (ssize_t)sizeof(c)) {
		if (c.magic == VMM_CTL_MAGIC && c.type == VMM_CTL_CAPTURE) {
			vmm_capture_ctl(m);
			continue;
		}
		struct link *l = link_by_index(m, c.link);
		if (c.magic != VMM_CTL_MAGIC || !l) {
			fprintf(stderr, "%s: %s: a control message for no link of ours\n", vmm_prog,
				m->node->name);
			continue;
		}
		if (c.type == VMM_CTL_DOWN) {
			l->down = c.down != 0;
			PUT(l->st->down, l->down);
		} else if (c.type == VMM_CTL_IMPAIR) {
			set_params(m, l, &c.params);
		}
	}
	if (r == 0) {
		/* the supervisor is gone: we follow it (its death signal too) */
		vmm_fail("the supervisor closed our control pipe");
	}
}
