/* SPDX-License-Identifier: MIT */
/*
 * sup.h - the per-lab supervisor, `vqnet __supervise` (started by up).
 *
 * It holds the lab's lock for its whole life, creates the guests'
 * namespaces (network, and for each guest an init process that is pid 1
 * of the guest's own PID and mount namespaces), one sealed memfd and two
 * doorbells per link, one stats memfd per node, starts one vqnet-vmm per
 * node with only that node's objects, waits until every vmm reports ready,
 * then answers on RUN_DIR/LAB.sock until told to stop.  If anything fails
 * or a signal arrives on the way up, everything made so far is removed.
 *
 *   sup_main.c     arguments, descriptors, log, signals; the main loop
 *   sup_up.c       bring-up: namespaces, guest inits, links, vmms
 *   sup_ctl.c      the control socket: many clients, each with a deadline
 *   sup_status.c   the lab's status as JSON (jansson)
 *   sup_heal.c     a vmm that dies is replaced (with back-off)
 *   sup_events.c   the ring of recent events, and the streams of them
 *   sup_watch.c    link and port states, sampled from the vmms' stats
 *   sup_down.c     teardown
 */
#ifndef VQNET_SUP_H
#define VQNET_SUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "lab.h"
#include "rundir.h"
#include "vmm_stats.h"

struct sup_link {
	int mem;
	int bell[2][2];       /* bell[i]: side i waits on [0], its peer rings [1] */
};

struct sup_node {
	pid_t pid;            /* its vmm, 0 before it is started */
	int pidfd;            /* of its vmm, -1 when none */
	int status;           /* wait status once exited */
	bool exited;
	uint64_t ready_ns;    /* how long its vmm took to report ready */
	uint64_t started_ns;  /* when its vmm was (last) started */
	uint64_t died_ns;     /* when its vmm last died, 0: never */
	uint64_t gap_ns;      /* from that death to its successor's "ok" */
	uint64_t restart_at;  /* a new vmm is due then, 0: none */
	unsigned restarts;    /* vmms started after the first */
	unsigned crashes;     /* deaths in a row soon after a start */
	char last_exit[48];   /* how the last one died ("" never) */
	bool netns_made;
	pid_t init;           /* guests: pid 1 of its PID namespace (our view) */
	int init_fd;          /* ... its pidfd, -1 when none */
	int stats_fd;
	struct vmm_stats *stats;
	size_t stats_len;
	int ready;            /* read end of its ready pipe, until it reports */
	int rules_fd;         /* filters with a rules file: its text */
	int ctl_fd;           /* write end of its vmm's control pipe, -1 when none */
	int cap_fd;           /* its capture region (lib/capture), -1 when none */
	struct cap_region *cap;
	size_t cap_len;
	struct lab_rule *file_rules;
	unsigned n_file_rules;
	const struct lab_rule **rules;   /* filters: the rules in force, in order */
	unsigned n_rules;
	char netns[LAB_NETNS_MAX];
	struct sup_vm *vm;    /* kind qemu: its VM (sup_vm.c), else NULL */
};

/* What the faults say of a link: the impairments of each direction (the
 * lab file's, then the runtime's), whether `link down` cut it, and what the
 * vmms were last told. */
struct sup_flink {
	struct imp_params impair[2];
	bool link_down;
	bool told_down;       /* the cut the vmms know of */
};

/* Faults (sup_faults.c): the state at bring-up (seed, lab impairments),
 * a `fault ...` request applied (reply: what changed, or "error: ..."),
 * the state a vmm must be told again when it (re)starts. */
int sup_faults_init(char *msg, size_t len);
char *sup_fault_request(const char *args);
void sup_faults_tell(unsigned node);
/* Write one message on node's control pipe (not when its vmm is gone: it
 * is told again when it restarts). */
void sup_vmm_ctl(unsigned node, const struct vmm_ctl *c);

/* A malloc'd string, as printf makes it (NULL: out of memory): replies. */
__attribute__((format(printf, 1, 2))) char *sup_text(const char *fmt, ...);

/* Capture (sup_capture.c): node idx's region (at its start), a `capture`
 * request (true: the session took the connection fd), a session's
 * connection readable (its end), a restarted vmm told again, all ended. */
int sup_capture_init(unsigned idx, char *msg, size_t len);
bool sup_capture_request(int fd, char *args, char **reply);
void sup_capture_event(unsigned session);
void sup_capture_tell(unsigned idx);
bool sup_capture_active(unsigned idx);
void sup_capture_teardown(void);

/* A QEMU guest: its QEMU, its agentd, the sockets of its NICs. */
struct sup_vm {
	int *vhost_fd;        /* per interface: the socket its vmm listens on */
	char (*vhost_path)[108];
	pid_t qemu, agentd;
	int qemu_fd, agentd_fd;   /* pidfds, -1 when none */
	int qemu_status;
	bool qemu_exited, agentd_exited;
	int ready_fd;         /* agentd's "ready" / "lost" lines, -1 when closed */
	enum { VM_BOOTING, VM_READY, VM_LOST } agent;
	char agent_why[128];
	uint64_t boot_ns;     /* from QEMU's start to its agent's hello */
	char agent_path[108]; /* agentd's client socket: how exec reaches it */
	char console[256];
};

struct sup {
	struct lab *lab;
	const char *file;
	char pid_arg[16];     /* our pid, for the vmms' --supervisor */
	int lab_fd;           /* the lab text, sealed: what up validated */
	int status_fd;        /* to `vqnet up` until we are up, then -1 */
	int lock_fd;          /* the lab's lock, from `vqnet up`: held till teardown */
	int slot_fd;          /* our uid slot (UID_SLOT_DIR/SLOT), locked */
	unsigned slot;
	int sigfd, epfd, lsock;
	struct sup_link *links;
	struct sup_node *nodes;
	struct lab_state state;   /* what RUN_DIR/LAB.state says */
	bool seed_given;      /* `up --seed` */
	uint64_t seed;        /* the lab's seed in use: impairments repeat with it */
	struct sup_flink *flinks;   /* per link: what faults say of it (sup_faults.c) */
	unsigned *group;      /* per node: its partition group, 0 = none */
	bool *stopped;        /* per node: `vqnet stop` cut it off */
	time_t started;
	uint64_t wakeups;     /* turns of the main loop: an idle lab's are few */
};

extern struct sup S;

/* The uid of a node's process in a role: one each, never shared. */
enum { SUP_ROLE_VMM, SUP_ROLE_QEMU, SUP_ROLE_AGENTD };
#define SUP_ROLE_UIDS 16384u     /* nodes per lab, at most */
uid_t sup_uid(unsigned role, unsigned node);

/* Log a line (timestamped) to the lab's log. */
__attribute__((format(printf, 1, 2))) void sup_log(const char *fmt, ...);

/* Bring the lab up; 0, or -1 with msg saying why (then call sup_teardown). */
int sup_bring_up(char *msg, size_t len);

/* VM guests (sup_vm.c): before the vmms start, their NICs' sockets and a
 * check of the guest image; after, QEMU and agentd for each, and the wait
 * for every agent's hello (printing how long each VM took).  0, or -1 with
 * msg (then sup_teardown).  Reap: true if pid was one of theirs.  Stop:
 * QEMU (SIGTERM, SIGKILL after a grace), agentd, sockets. */
int sup_vm_prepare(char *msg, size_t len);
int sup_vm_boot(char *msg, size_t len, bool (*interrupted)(char *, size_t));
bool sup_vm_reaped(pid_t pid, int status);
void sup_vm_stop(void);
extern char sup_accel[8];   /* "tcg" or "kvm" once probed */

/* Start node idx's vmm with the objects the supervisor holds for it (its
 * ready pipe's read end in S.nodes[idx].ready); 0, or -1 with msg. */
int sup_spawn_vmm(unsigned idx, char *msg, size_t len);

/* Healing (sup_heal.c): a vmm died (its status recorded); a restart is
 * due (start those whose time has come); ms until the next one (-1:
 * none); a restarted vmm's ready pipe is readable. */
void sup_heal_died(unsigned idx);
void sup_heal_due(void);
int sup_heal_timeout(void);
void sup_heal_ready(unsigned idx);

/* Reap exited children (vmms, guest inits); logs each. */
void sup_reap(void);

/* Stop everything, remove every namespace and file of the lab (not its
 * log), release the lock.  Safe to call at any stage, and twice. */
void sup_teardown(void);

/* Record the phase ("starting", "up", "stopping") in the state file. */
void sup_set_phase(const char *phase);

/* The control socket: listen, and handle one epoll event for it. */
int sup_ctl_listen(char *msg, size_t len);
void sup_ctl_event(uint64_t data, uint32_t events);
/* Earliest deadline of an open connection (ms from now, -1: none), and
 * close the connections past theirs. */
int sup_ctl_timeout(void);
void sup_ctl_expire(void);

/* The lab's status as a JSON text (malloc'd; NULL when out of memory). */
char *sup_status_json(void);

/* Events (sup_events.c): a ring of the last SUP_EVENTS_MAX, streamed to
 * `events` clients (docs/status.md has the object).  sup_event records
 * one: its kind, the node and link it concerns (-1: none), members of its
 * kind (extra: an object, its reference taken; NULL: none) and a line of
 * text (anything but printable ASCII in it becomes '?').  A stream: take
 * the connection fd (0; -EBUSY when SUP_STREAMS_MAX are open), its epoll
 * event, how many are open.  The last n as a JSON array.  A note from a
 * client (`note ARGS`, untrusted): the reply.  The lab going down: why,
 * then the end ("lab_down" to every stream, which then closes). */
#define SUP_EVENTS_MAX 256
#define SUP_STREAMS_MAX 8
#define SUP_EVENT_TEXT_MAX 240
struct json_t;
__attribute__((format(printf, 5, 6)))
void sup_event(const char *kind, int node, int link, struct json_t *extra, const char *fmt, ...);
int sup_events_stream(int fd);
void sup_events_io(unsigned stream, uint32_t events);
unsigned sup_events_streams(void);
struct json_t *sup_events_json(unsigned last);
char *sup_events_note(const char *args);
void sup_events_stopping(const char *why);
void sup_events_end(void);
/* Copy src to dst (len bytes with its NUL), each byte not printable
 * ASCII as '?': for text from a vmm, an agent or a client. */
void sup_printable(char *dst, size_t len, const char *src);

/* Link and port states as the vmms write them, sampled for events
 * (sup_watch.c): from the states at up; ms until the next sample (-1:
 * none); sample if due. */
int sup_watch_init(char *msg, size_t len);
int sup_watch_timeout(void);
void sup_watch_due(void);

/* After bring-up, hear each VM's agentd say "ready" or "lost" (sup_vm.c),
 * and handle it saying so. */
void sup_vm_watch(void);
void sup_vm_agent_event(unsigned idx);

/* epoll data: what an event is about */
enum { SUP_EV_SIGNAL = 1, SUP_EV_LISTEN, SUP_EV_CONN, SUP_EV_READY, SUP_EV_CAPTURE,
       SUP_EV_STREAM, SUP_EV_AGENT };
#define SUP_EV(kind, i) ((uint64_t)(kind) << 32 | (uint32_t)(i))

#endif
