/* SPDX-License-Identifier: MIT */
/*
 * rundir.h - a lab's files under RUN_DIR, and what they say about it.
 *
 *   RUN_DIR/LAB.lock    held (an OFD lock) by the lab's supervisor for its
 *                       whole life, and by whoever creates or removes the
 *                       lab's files: "the lab is up" means "the lock is held"
 *   RUN_DIR/LAB.state   what the supervisor made, for `down` to clean up
 *                       after a supervisor that died
 *   RUN_DIR/LAB.sock    the supervisor's control socket
 *   LOG_DIR/LAB.log     the supervisor's log; kept after `down`, so the
 *                       record of what happened outlives the lab
 *   UID_SLOT_DIR/N      a lab's uid slot, held by its supervisor (uidslot.h)
 *
 * Everything here trusts RUN_DIR only as far as root does: it is 0700,
 * written by vqnet running as root, and still parsed defensively.
 */
#ifndef VQNET_RUNDIR_H
#define VQNET_RUNDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lab.h"

#define RUN_DIR "/run/vqnet"
#define LOG_DIR RUN_DIR "/log"
#define UID_SLOT_DIR RUN_DIR "/uids"

/* RUN_DIR/LAB + suffix, or LOG_DIR/LAB.log: 0 or -ENAMETOOLONG. */
int lab_path(char *buf, size_t len, const char *lab, const char *suffix);
int lab_log_path(char *buf, size_t len, const char *lab);

/* Names that reach paths: what lab files allow (lab_name_valid). */
bool lab_name_ok(const char *name);

/* The network namespace of a lab's guest: "LAB.GUEST" ('.' is in no name,
 * so no two (lab, guest) pairs share one; lab_netns_name2).  0 or -errno. */
int guest_netns(char *buf, size_t len, const char *lab, const char *guest);

/* Take the lab's lock, waiting up to wait_ms for it, creating the file if
 * asked: an fd, -EWOULDBLOCK when someone holds it, -ENOENT when there is
 * none (and create is false), or -errno. */
int lab_lock(const char *lab, int wait_ms, bool create);
/* Is the lab's lock held by someone (without taking it)? */
bool lab_lock_held(const char *lab);
/* Let go of it; remove: delete the lock file (and RUN_DIR if empty) first. */
void lab_unlock(const char *lab, int fd, bool remove);
/* Remove the lab's socket and state files, never its log (hold the lock). */
void lab_remove_files(const char *lab);

/* The state file.  Written whole and renamed into place. */
struct lab_state {
	pid_t supervisor;
	char phase[16];          /* "starting", "up" or "stopping" */
	char file[1024];         /* the lab file it was brought up from */
	char (*netns)[LAB_NETNS_MAX]; /* namespaces it may have made */
	unsigned n_netns;
};
/* 0, -ENOENT (no state file) or -errno; free with lab_state_free. */
int lab_state_read(const char *lab, struct lab_state *st);
int lab_state_write(const char *lab, const struct lab_state *st);
void lab_state_free(struct lab_state *st);

/* Sorted names of the labs that have a lock, state or socket file. */
int lab_names(char ***out);
void lab_names_free(char **names, int n);

/* Where a lab stands, one answer for list, status, up and down. */
enum lab_health {
	LAB_ABSENT,     /* nothing of it exists */
	LAB_UP,         /* its supervisor answers */
	LAB_STARTING,   /* its supervisor is bringing it up */
	LAB_STOPPING,   /* its supervisor is taking it down */
	LAB_STUCK,      /* its supervisor lives but does not answer */
	LAB_DEAD,       /* its supervisor died and left things behind */
};
struct lab_probe {
	enum lab_health health;
	char *reply;             /* LAB_UP: the supervisor's status JSON */
	struct lab_state state;  /* what the state file says (n_netns 0 if none) */
	unsigned leftovers;      /* LAB_DEAD: namespaces of it that still exist */
};
void lab_probe(const char *lab, struct lab_probe *p);
void lab_probe_free(struct lab_probe *p);
const char *lab_health_name(enum lab_health h);

#endif
