/* SPDX-License-Identifier: MIT */
/*
 * sup_heal.c - a vmm that dies while the lab is up is replaced.
 *
 * Everything a vmm is handed (the lab text, its links' memfds and
 * doorbells, its stats memfd, its rules, a VM's vhost-user sockets) is
 * held by the supervisor for the lab's whole life, and a namespace
 * guest's TAPs are persistent, so a new vmm is started with the same
 * objects at once: it attaches to the TAPs again (the guest's interfaces
 * and addresses never went away), resets each link with its peer
 * (lib/virtqueue link.h: both ends start their rings over) and is told
 * the faults in force.  A VM's QEMU reconnects to the same socket.
 *
 * A vmm that keeps dying is not restarted in a tight loop: a death within
 * HEAL_STABLE_NS of its start counts as a crash, and each crash in a row
 * after the first doubles the wait before the next start, from
 * HEAL_BACKOFF_NS up to HEAL_BACKOFF_MAX_NS; a first death is restarted
 * at once.  Status says how many restarts there were, why the
 * last one died and when the next start is due.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup.h"
#include "sys.h"

#define HEAL_STABLE_NS (10ull * 1000000000)
#define HEAL_BACKOFF_NS (100ull * 1000000)
#define HEAL_BACKOFF_MAX_NS (30ull * 1000000000)

/* "killed by signal 9", "exited with status 1" */
static void exit_words(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/* The stats region starts over for the new vmm: its counters are its own
 * (a dead vmm may have written anything there, the header included). */
static void fresh_stats(unsigned idx)
{
	struct sup_node *n = &S.nodes[idx];
	memset(n->stats, 0, n->stats_len);
	n->stats->magic = VMM_STATS_MAGIC;
	n->stats->n_ifaces = S.lab->nodes[idx].n_ifaces;
	n->stats->n_links = lab_node_links(&S.lab->nodes[idx]);
	n->stats->n_rules = n->n_rules;
}

/* Set while restart() reports a vmm it could not start as a death. */
static const char *cannot_start;

void sup_heal_died(unsigned idx)
{
	struct sup_node *n = &S.nodes[idx];
	const char *name = S.lab->nodes[idx].name;
	uint64_t now = sys_now_ns();
	exit_words(n->status, n->last_exit, sizeof(n->last_exit));
	n->died_ns = now;
	if (n->ready >= 0) {   /* died before it was ready: a failed start */
		epoll_ctl(S.epfd, EPOLL_CTL_DEL, n->ready, NULL);
		close(n->ready);
		n->ready = -1;
	}
	if (n->pidfd >= 0) {
		close(n->pidfd);
		n->pidfd = -1;
	}
	if (strcmp(S.state.phase, "up"))
		return;   /* coming up (which fails) or going down: nothing to heal */
	n->crashes = now - n->started_ns < HEAL_STABLE_NS ? n->crashes + 1 : 0;
	uint64_t wait = 0;
	if (n->crashes > 1) {
		wait = HEAL_BACKOFF_NS << (n->crashes - 2 < 20 ? n->crashes - 2 : 20);
		if (wait > HEAL_BACKOFF_MAX_NS)
			wait = HEAL_BACKOFF_MAX_NS;
	}
	n->restart_at = now + wait;
	if (wait)
		sup_log("vmm of %s %s %.1f s after its start (%u in a row): next start in %.1f s",
			name, n->last_exit, (double)(now - n->started_ns) / 1e9, n->crashes,
			(double)wait / 1e9);
	json_t *x = json_pack("{s:o,s:o,s:o,s:i,s:f}",
			      "pid", cannot_start ? json_null() : json_integer(n->pid),
			      "signal", !cannot_start && WIFSIGNALED(n->status)
			      ? json_integer(WTERMSIG(n->status)) : json_null(),
			      "exit_status", !cannot_start && WIFEXITED(n->status)
			      ? json_integer(WEXITSTATUS(n->status)) : json_null(),
			      "crashes_in_a_row", (int)n->crashes, "next_start_ms", (double)wait / 1e6);
	if (cannot_start)
		sup_event("vmm_died", (int)idx, -1, x, "cannot start a new vmm: %s; next start in %.1f s",
			  cannot_start, (double)wait / 1e9);
	else if (wait)
		sup_event("vmm_died", (int)idx, -1, x, "vmm %s (pid %d) %.1f s after its start, %u in a row; "
			  "next start in %.1f s", n->last_exit, (int)n->pid,
			  (double)(now - n->started_ns) / 1e9, n->crashes, (double)wait / 1e9);
	else
		sup_event("vmm_died", (int)idx, -1, x, "vmm %s (pid %d); restarting it", n->last_exit,
			  (int)n->pid);
	sup_heal_due();
}

static void restart(unsigned idx)
{
	struct sup_node *n = &S.nodes[idx];
	const char *name = S.lab->nodes[idx].name;
	char msg[600];
	n->restart_at = 0;
	fresh_stats(idx);
	n->exited = false;
	if (sup_spawn_vmm(idx, msg, sizeof(msg))) {
		/* as a crash: the next try backs off */
		sup_log("cannot restart the vmm of %s: %s", name, msg);
		n->exited = true;
		n->status = 0x100;   /* "exited with status 1" */
		n->started_ns = sys_now_ns();
		cannot_start = msg;
		sup_heal_died(idx);
		cannot_start = NULL;
		return;
	}
	n->restarts++;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = SUP_EV(SUP_EV_READY, idx) };
	if (epoll_ctl(S.epfd, EPOLL_CTL_ADD, n->ready, &ev) < 0)
		sup_log("epoll: %s", strerror(errno));
	/* buffered on its control pipe until its loop reads them */
	sup_faults_tell(idx);
	sup_capture_tell(idx);
}

void sup_heal_due(void)
{
	uint64_t now = sys_now_ns();
	for (unsigned i = 0; i < S.lab->n_nodes; i++)
		if (S.nodes[i].restart_at && S.nodes[i].restart_at <= now)
			restart(i);
}

int sup_heal_timeout(void)
{
	uint64_t now = sys_now_ns(), first = UINT64_MAX;
	for (unsigned i = 0; i < S.lab->n_nodes; i++)
		if (S.nodes[i].restart_at && S.nodes[i].restart_at < first)
			first = S.nodes[i].restart_at;
	if (first == UINT64_MAX)
		return -1;
	return first <= now ? 0 : (int)((first - now + 999999) / 1000000);
}

/* A restarted vmm says "ok" (or why not) on its ready pipe. */
void sup_heal_ready(unsigned idx)
{
	if (idx >= S.lab->n_nodes || S.nodes[idx].ready < 0)
		return;
	struct sup_node *n = &S.nodes[idx];
	char line[600] = "";
	ssize_t r = read(n->ready, line, sizeof(line) - 1);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	epoll_ctl(S.epfd, EPOLL_CTL_DEL, n->ready, NULL);
	close(n->ready);
	n->ready = -1;
	line[r > 0 ? r : 0] = 0;
	line[strcspn(line, "\n")] = 0;
	uint64_t now = sys_now_ns();
	n->ready_ns = now - n->started_ns;
	n->gap_ns = now - n->died_ns;
	if (strcmp(line, "ok")) {
		char why[160];   /* the vmm's words: untrusted */
		sup_printable(why, sizeof(why), r > 0 ? line : "it exited before it was ready");
		sup_log("restarted vmm of %s failed: %s", S.lab->nodes[idx].name, why);
		sup_event("vmm_failed", (int)idx, -1, json_pack("{s:i,s:s}", "pid", (int)n->pid, "error", why),
			  "restarted vmm (pid %d) failed: %s", (int)n->pid, why);
	} else {
		sup_log("vmm of %s restarted (pid %d): ready %.1f ms after the last one died",
			S.lab->nodes[idx].name, (int)n->pid, (double)n->gap_ns / 1e6);
		sup_event("vmm_restarted", (int)idx, -1,
			  json_pack("{s:i,s:f,s:i}", "pid", (int)n->pid, "gap_ms", (double)n->gap_ns / 1e6,
				    "restarts", (int)n->restarts),
			  "vmm %s; restarted (pid %d) in %.1f ms", n->last_exit, (int)n->pid,
			  (double)n->gap_ns / 1e6);
	}
}
