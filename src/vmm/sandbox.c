/* SPDX-License-Identifier: MIT */
/*
 * sandbox.c - what a vmm gives up before the first frame from a peer or a
 * guest is looked at.  Everything privileged (TAPs, the namespace, the
 * mappings) is done by then.
 */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "vmm.h"

/* Become uid (a uid of this vmm's own, so no other process of the host,
 * not even another vmm, may signal or trace it), for good.  Changing
 * credentials clears the parent-death signal, so it is set (and the
 * parent checked) again afterwards. */
void vmm_sandbox(pid_t supervisor, uid_t uid)
{
	gid_t gid = (gid_t)uid;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		vmm_fail("cannot drop privileges: %s", strerror(errno));
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != supervisor)
		vmm_fail("the supervisor is gone");
}
