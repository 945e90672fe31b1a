/* SPDX-License-Identifier: MIT */
/*
 * capture.c - copies of the frames a capture asked for (lib/capture).
 *
 * The supervisor describes a session in the capture region and says so on
 * the control pipe (VMM_CTL_CAPTURE); we copy the description out, check
 * it (the BPF program with libpcap's bpf_validate) and mark the points it
 * names.  A marked interface or link copies each frame that passes the
 * program into the ring; a full ring loses the copy, counted, and the
 * frame itself goes on as ever.  A point that is not marked costs one
 * load and test of its own id per frame.
 */
#include <sys/types.h>   /* u_int and its kin, which pcap/bpf.h uses */
#include <pcap/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm.h"

_Static_assert(sizeof(struct cap_insn) == sizeof(struct bpf_insn), "cap_insn is bpf_insn");
_Static_assert(offsetof(struct cap_insn, k) == offsetof(struct bpf_insn, k), "cap_insn is bpf_insn");

static int validate(const struct cap_insn *prog, int n)
{
	return bpf_validate((const struct bpf_insn *)prog, n);
}

static void point_on(void *arg, unsigned kind, uint32_t index, uint16_t id)
{
	struct vmm *m = arg;
	if (kind == CAP_IFACE && index < m->n_ifc) {
		m->ifc[index].cap = (uint16_t)(id + 1);
		return;
	}
	for (unsigned i = 0; kind == CAP_LINK && i < m->n_links; i++)
		if (m->links[i].index == index)
			m->links[i].cap = (uint16_t)(id + 1);
}

void vmm_capture_ctl(struct vmm *m)
{
	if (!m->cap)
		return;
	for (unsigned i = 0; i < m->n_ifc; i++)
		m->ifc[i].cap = 0;
	for (unsigned i = 0; i < m->n_links; i++)
		m->links[i].cap = 0;
	if (!m->capses && !(m->capses = calloc(1, sizeof(*m->capses))))
		return;   /* no capture, and the frames go on */
	if (cap_adopt(m->cap, m->capses, validate, point_on, m) < 0)
		fprintf(stderr, "%s: %s: a capture we cannot follow: ignored\n", vmm_prog,
			m->node->name);
}

void vmm_capture(struct vmm *m, uint16_t id, unsigned flags, int32_t rule, const uint8_t *f,
		 size_t len)
{
	/* f is a link frame: the virtio-net header, then Ethernet */
	if (len <= VSW_VNET_HDR || !m->capses)
		return;
	const uint8_t *eth = f + VSW_VNET_HDR;
	uint32_t n = (uint32_t)(len - VSW_VNET_HDR);
	struct cap_session *s = m->capses;
	if (s->n_insns && !bpf_filter((const struct bpf_insn *)s->prog, eth, n, n))
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	cap_put(m->cap, s, id, flags, rule, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec,
		eth, n);
}
