/* SPDX-License-Identifier: MIT */
/*
 * netns.h - named network namespaces, compatible with `ip netns`.
 *
 * A named namespace is a bind mount of /proc/<pid>/ns/net on
 * /run/netns/NAME, so it outlives every process in it and `ip netns list`,
 * `ip netns exec` see it.  All functions return 0 / an fd, or -errno.
 */
#ifndef VQNET_NETNS_H
#define VQNET_NETNS_H

#include <stdbool.h>
#include <sys/types.h>

#define NETNS_DIR "/run/netns"

/* Create a new, empty namespace called name; -EEXIST if it exists. */
int netns_create(const char *name);

/* Give the network namespace of process pid (which must live in one of
 * its own) the name name, as `ip netns attach` does; -EEXIST if the name
 * is taken.  The name keeps the namespace alive after the process dies. */
int netns_attach(const char *name, pid_t pid);

/* Remove the name; the namespace dies with the last process in it.
 * -ENOENT if there is no such name. */
int netns_delete(const char *name);

bool netns_exists(const char *name);

/* Open a named namespace, checking that it really is a network namespace
 * (never anything else mounted or placed there).  Returns an fd (cloexec). */
int netns_open(const char *name);

/* Move the calling thread into the namespace open at fd. */
int netns_enter(int fd);

/* Stop every process inside the named namespace (TERM, then KILL after a
 * grace period).  Only for namespaces we made: whatever runs in them is
 * ours.  Refuses (-EPERM) a name that points at our own or init's
 * namespace.  Returns how many processes were signalled. */
int netns_kill_all(const char *name);

#endif
