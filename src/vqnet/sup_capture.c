/* SPDX-License-Identifier: MIT */
/*
 * sup_capture.c - packet capture sessions (lib/capture).
 *
 * Every vmm gets a capture region at its start (a sealed memfd; its pages
 * cost nothing until a capture writes them).  `capture SNAPLEN N PROG
 * WHAT...` on the control socket starts a session: the points WHAT names
 * (a guest, GUEST.IFACE, a link A-B, a filter node; nothing: every guest
 * interface and every filter's links) are written into the regions of the
 * vmms that own them, each vmm is told, and the client gets the regions
 * (SCM_RIGHTS) and the list of points, whose numbers are its pcapng
 * interfaces.  The session lasts as long as the client's connection: when
 * it closes (the client ended, or was killed), the vmms are told to stop.
 * One session per vmm at a time.  A vmm restarted meanwhile is told again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capture.h"
#include "ctl.h"
#include "sup.h"
#include "sys.h"

#define MAX_SESSIONS 8

struct point {
	unsigned node;
	struct cap_point p;
	char name[LAB_NAME_MAX * 2 + 8];
	char desc[160];
};

struct session {
	bool on;                 /* false: the slot is free */
	int fd;                  /* the client's connection */
	uint32_t gen;
	bool *nodes;             /* which vmms it uses */
};

static struct session sess[MAX_SESSIONS];
static uint32_t last_gen;

int sup_capture_init(unsigned idx, char *msg, size_t len)
{
	struct sup_node *n = &S.nodes[idx];
	int err = 0;
	n->cap_fd = sys_memfd_sealed("vqnet-capture", sizeof(struct cap_region));
	if (n->cap_fd < 0 || !(n->cap = sys_map_sealed(n->cap_fd, &n->cap_len, &err))) {
		snprintf(msg, len, "capture region of %s: %s", S.lab->nodes[idx].name,
			 strerror(n->cap_fd < 0 ? -n->cap_fd : -err));
		return -1;
	}
	n->cap->ctl.magic = CAP_MAGIC;
	n->cap->ctl.snaplen = CAP_SNAP_MAX;
	return 0;
}

static void tell(unsigned idx)
{
	struct vmm_ctl c = { .magic = VMM_CTL_MAGIC, .type = VMM_CTL_CAPTURE };
	sup_vmm_ctl(idx, &c);
}

void sup_capture_tell(unsigned idx)
{
	for (unsigned s = 0; s < MAX_SESSIONS; s++)
		if (sess[s].on && sess[s].nodes && sess[s].nodes[idx])
			tell(idx);
}

bool sup_capture_active(unsigned idx)
{
	for (unsigned s = 0; s < MAX_SESSIONS; s++)
		if (sess[s].on && sess[s].nodes && sess[s].nodes[idx])
			return true;
	return false;
}

static void session_end(struct session *s)
{
	for (unsigned i = 0; s->nodes && i < S.lab->n_nodes; i++) {
		if (!s->nodes[i])
			continue;
		struct cap_ctl *c = &S.nodes[i].cap->ctl;
		c->n_points = 0;
		c->gen = ++last_gen;
		tell(i);
	}
	epoll_ctl(S.epfd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	free(s->nodes);
	*s = (struct session){ .fd = -1 };   /* off */
	sup_log("capture ended");
}

void sup_capture_event(unsigned i)
{
	if (i >= MAX_SESSIONS || !sess[i].on)
		return;
	/* the client says nothing after its request: anything, or its end,
	 * ends the session */
	char b[64];
	ssize_t r = recv(sess[i].fd, b, sizeof(b), MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	session_end(&sess[i]);
}

void sup_capture_teardown(void)
{
	for (unsigned s = 0; s < MAX_SESSIONS; s++)
		if (sess[s].on)
			session_end(&sess[s]);
}

/* ---- the request --------------------------------------------------------------- */

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 16 hex digits per instruction: code (4), jt (2), jf (2), k (8) */
static int parse_prog(const char *hex, uint32_t n, struct cap_insn *prog)
{
	if (n == 0)
		return strcmp(hex, "-") ? -1 : 0;
	if (n > CAP_PROG_MAX || strlen(hex) != 16u * n)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t v = 0;
		for (int d = 0; d < 16; d++) {
			int x = hexval(hex[16 * i + d]);
			if (x < 0)
				return -1;
			v = v << 4 | (uint64_t)x;
		}
		prog[i] = (struct cap_insn){ .code = (uint16_t)(v >> 48), .jt = (uint8_t)(v >> 40),
					     .jf = (uint8_t)(v >> 32), .k = (uint32_t)v };
	}
	return 0;
}

struct plan {
	struct point *pt;
	unsigned n, cap;
};

static int add(struct plan *pl, unsigned node, unsigned kind, unsigned index, const char *fmt_name,
	       const char *desc)
{
	for (unsigned i = 0; i < pl->n; i++)
		if (pl->pt[i].node == node && pl->pt[i].p.kind == kind && pl->pt[i].p.index == index)
			return 0;   /* named twice */
	if (pl->n == pl->cap) {
		unsigned c = pl->cap ? 2 * pl->cap : 16;
		void *p = realloc(pl->pt, c * sizeof(*pl->pt));
		if (!p)
			return -ENOMEM;
		pl->pt = p;
		pl->cap = c;
	}
	struct point *p = &pl->pt[pl->n];
	*p = (struct point){ .node = node,
			     .p = { .kind = (uint8_t)kind, .index = index, .id = (uint16_t)pl->n } };
	snprintf(p->name, sizeof(p->name), "%s", fmt_name);
	snprintf(p->desc, sizeof(p->desc), "%s", desc);
	pl->n++;
	return 0;
}

/* the guest-side point of node's interface i */
static int add_iface(struct plan *pl, unsigned node, unsigned i)
{
	const struct lab_node *nd = &S.lab->nodes[node];
	char name[sizeof(pl->pt[0].name)], desc[160];
	snprintf(name, sizeof(name), "%s.%s", nd->name, nd->ifaces[i].name);
	snprintf(desc, sizeof(desc), "guest %s's %s: out = sent by the guest", nd->name,
		 nd->ifaces[i].name);
	return add(pl, node, CAP_IFACE, i, name, desc);
}

/* link li, seen from node's end */
static int add_link(struct plan *pl, unsigned node, unsigned li)
{
	const struct lab_link *l = &S.lab->links[li];
	const char *a = S.lab->nodes[node].name;
	const char *b = S.lab->nodes[l->end[0].node == node ? l->end[1].node : l->end[0].node].name;
	char name[sizeof(pl->pt[0].name)], desc[160];
	snprintf(name, sizeof(name), "%s-%s", a, b);
	snprintf(desc, sizeof(desc), "link %u (%s), seen from %s: out = sent by %s", li,
		 S.lab->topologies[l->topology].name, a, a);
	return add(pl, node, CAP_LINK, li, name, desc);
}

static int add_node(struct plan *pl, unsigned node)
{
	const struct lab_node *nd = &S.lab->nodes[node];
	int err = 0;
	for (unsigned i = 0; i < nd->n_ifaces && !err; i++) {
		if (nd->kind == LAB_GUEST) {
			err = add_iface(pl, node, i);
			continue;
		}
		for (unsigned j = 0; j < nd->ifaces[i].n_links && !err; j++)
			err = add_link(pl, node, nd->ifaces[i].links[j]);
	}
	return err;
}

/* One WHAT: NODE, NODE.IFACE or A-B.  0, or -EINVAL with why. */
static int resolve(struct plan *pl, const char *what, char *why, size_t len)
{
	int node = lab_node_find(S.lab, what);
	if (node >= 0)
		return add_node(pl, (unsigned)node);
	char a[LAB_NAME_MAX + 1], b[LAB_NAME_MAX + 1];
	const char *dot = strchr(what, '.'), *sep = dot;
	/* names may hold '-': A-B splits where both halves are nodes (else,
	 * for the message, at the first) */
	for (const char *d = strchr(what, '-'); !dot && d; d = strchr(d + 1, '-')) {
		if (!sep)
			sep = d;
		if ((size_t)(d - what) > LAB_NAME_MAX || strlen(d + 1) > LAB_NAME_MAX)
			continue;
		snprintf(a, sizeof(a), "%.*s", (int)(d - what), what);
		if (lab_node_find(S.lab, a) >= 0 && lab_node_find(S.lab, d + 1) >= 0) {
			sep = d;
			break;
		}
	}
	if (!sep || (size_t)(sep - what) > LAB_NAME_MAX || strlen(sep + 1) > LAB_NAME_MAX) {
		snprintf(why, len, "no node, interface or link \"%.64s\" in lab %s", what, S.lab->name);
		return -EINVAL;
	}
	snprintf(a, sizeof(a), "%.*s", (int)(sep - what), what);
	snprintf(b, sizeof(b), "%s", sep + 1);
	node = lab_node_find(S.lab, a);
	if (node < 0) {
		snprintf(why, len, "no node \"%s\" in lab %s", a, S.lab->name);
		return -EINVAL;
	}
	const struct lab_node *nd = &S.lab->nodes[node];
	if (dot) {
		for (unsigned i = 0; i < nd->n_ifaces; i++)
			if (!strcmp(nd->ifaces[i].name, b))
				return nd->kind == LAB_GUEST ? add_iface(pl, (unsigned)node, i)
				       : add_node(pl, (unsigned)node);
		snprintf(why, len, "%s has no interface %s", a, b);
		return -EINVAL;
	}
	int peer = lab_node_find(S.lab, b);
	if (peer < 0) {
		snprintf(why, len, "no node \"%s\" in lab %s", b, S.lab->name);
		return -EINVAL;
	}
	bool any = false;
	for (unsigned li = 0; li < S.lab->n_links; li++) {
		const struct lab_link *l = &S.lab->links[li];
		if ((l->end[0].node == (unsigned)node && l->end[1].node == (unsigned)peer) ||
		    (l->end[1].node == (unsigned)node && l->end[0].node == (unsigned)peer)) {
			any = true;
			if (add_link(pl, (unsigned)node, li))
				return -ENOMEM;
		}
	}
	if (!any) {
		snprintf(why, len, "no link between %s and %s", a, b);
		return -EINVAL;
	}
	return 0;
}

/* Send text and the descriptors, in one message (the reply is small). */
static int send_with_fds(int fd, const char *text, const int *fds, unsigned n)
{
	size_t clen = CMSG_SPACE(n * sizeof(int));
	char *cbuf = n ? calloc(1, clen) : NULL;
	if (n && !cbuf)
		return -ENOMEM;
	struct iovec iov = { (void *)text, strlen(text) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (n) {
		m.msg_control = cbuf;
		m.msg_controllen = clen;
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(h), fds, n * sizeof(int));
	}
	ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(cbuf);
	return w == (ssize_t)iov.iov_len ? 0 : -EIO;
}

static char *fail(const char *why)
{
	return sup_text("error: %s\n", why);
}

/* "SNAPLEN N PROG WHAT...": true when the session took fd (the client's
 * connection), which it then answers and closes; else false, with *reply
 * the error to send (NULL: out of memory), and fd stays the caller's. */
bool sup_capture_request(int fd, char *args, char **reply)
{
	char why[256];
	char *save = NULL, *w_snap = strtok_r(args, " ", &save);
	char *w_n = strtok_r(NULL, " ", &save), *w_prog = strtok_r(NULL, " ", &save);
	char *end;
	unsigned long snap = w_snap ? strtoul(w_snap, &end, 10) : 0;
	if (!w_snap || *end || !snap || snap > CAP_SNAP_MAX) {
		*reply = fail("capture: bad snap length");
		return false;
	}
	unsigned long n = w_n ? strtoul(w_n, &end, 10) : 0;
	struct cap_insn *prog = calloc(CAP_PROG_MAX, sizeof(*prog));
	unsigned *per = calloc(S.lab->n_nodes, sizeof(*per));
	int *fds = calloc(S.lab->n_nodes, sizeof(*fds));
	if (!prog || !per || !fds || !w_n || *end || !w_prog || n > CAP_PROG_MAX ||
	    parse_prog(w_prog, (uint32_t)n, prog)) {
		*reply = prog && per && fds ? fail("capture: bad filter program") : NULL;
		free(prog);
		free(per);
		free(fds);
		return false;
	}
	struct session *s = NULL;
	for (unsigned i = 0; i < MAX_SESSIONS && !s; i++)
		if (!sess[i].on)
			s = &sess[i];
	struct plan pl = { 0 };
	char *err = NULL;
	int rc = 0;
	bool named = false;
	for (char *w; !rc && (w = strtok_r(NULL, " ", &save));) {
		named = true;
		rc = resolve(&pl, w, why, sizeof(why));
	}
	for (unsigned i = 0; !named && !rc && i < S.lab->n_nodes; i++)
		rc = add_node(&pl, i);
	if (rc == -EINVAL)
		err = fail(why);
	else if (rc)
		err = fail("out of memory");
	else if (!s)
		err = fail("too many captures at once (8)");
	bool *nodes = err ? NULL : calloc(S.lab->n_nodes, sizeof(*nodes));
	if (!err && !nodes)
		err = fail("out of memory");
	/* one session per vmm, each vmm's points fit its region, and the
	 * regions one message */
	unsigned n_nodes = 0;
	for (unsigned i = 0; !err && i < pl.n; i++) {
		unsigned nd = pl.pt[i].node;
		n_nodes += !nodes[nd];
		nodes[nd] = true;
		if (n_nodes > CAP_NODES_MAX) {
			snprintf(why, sizeof(why), "more than %d nodes at once: name fewer "
				 "(guests, links, filters)", CAP_NODES_MAX);
			err = fail(why);
		} else if (++per[nd] > CAP_POINTS_MAX) {
			snprintf(why, sizeof(why), "too many points in %s", S.lab->nodes[nd].name);
			err = fail(why);
		} else if (sup_capture_active(nd)) {
			snprintf(why, sizeof(why), "%s is being captured already (one capture per node at a time)",
				 S.lab->nodes[nd].name);
			err = fail(why);
		}
	}
	free(per);
	if (err || rc) {
		free(nodes);
		free(pl.pt);
		free(prog);
		free(fds);
		*reply = err;
		return false;
	}
	/* the reply: "ok GEN NODES POINTS", a "node NAME" line per descriptor,
	 * then "point ID NODE NAME DESC" */
	uint32_t gen = ++last_gen;
	char *text = NULL;
	size_t tlen = 0;
	FILE *out = open_memstream(&text, &tlen);
	unsigned nf = 0;
	for (unsigned i = 0; i < S.lab->n_nodes; i++)
		if (nodes[i])
			fds[nf++] = S.nodes[i].cap_fd;
	if (out) {
		fprintf(out, "ok %u %u %u\n", gen, nf, pl.n);
		for (unsigned i = 0; i < S.lab->n_nodes; i++)
			if (nodes[i])
				fprintf(out, "node %s\n", S.lab->nodes[i].name);
		for (unsigned i = 0; i < pl.n; i++)
			fprintf(out, "point %u %s %s %s\n", pl.pt[i].p.id, S.lab->nodes[pl.pt[i].node].name,
				pl.pt[i].name, pl.pt[i].desc);
		fclose(out);
	}
	/* describe, tell, then hand over: a vmm that follows before the
	 * client maps the region only fills the ring from the client's tail */
	for (unsigned i = 0; text && i < S.lab->n_nodes; i++) {
		if (!nodes[i])
			continue;
		struct cap_ctl *c = &S.nodes[i].cap->ctl;
		c->snaplen = (uint32_t)snap;
		c->n_insns = (uint32_t)n;
		memcpy(c->prog, prog, n * sizeof(*prog));
		c->n_points = 0;
		for (unsigned k = 0; k < pl.n; k++)
			if (pl.pt[k].node == i)
				c->points[c->n_points++] = pl.pt[k].p;
		c->gen = gen;
		tell(i);
	}
	free(prog);
	free(pl.pt);
	*s = (struct session){ .on = true, .fd = fd, .gen = gen, .nodes = nodes };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
				  .data.u64 = SUP_EV(SUP_EV_CAPTURE, s - sess) };
	if (!text || send_with_fds(fd, text, fds, nf) || epoll_ctl(S.epfd, EPOLL_CTL_ADD, fd, &ev))
		session_end(s);   /* closes fd */
	else
		sup_log("capture started (%u points)", pl.n);
	free(text);
	free(fds);
	return true;
}
