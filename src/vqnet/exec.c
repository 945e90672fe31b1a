/* SPDX-License-Identifier: MIT */
/* vqnet exec LAB GUEST -- CMD: run a command inside a guest. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/mount.h>
#include <unistd.h>

#include "netns.h"
#include "vqnet.h"

int guest_enter(const char *lab, const char *guest)
{
	char ns[2 * LAB_NAME_MAX + 2];
	if (!lab_name_ok(lab) || !lab_name_ok(guest))
		return -EINVAL;
	guest_netns(ns, sizeof(ns), lab, guest);
	int fd = netns_open(ns);
	if (fd < 0)
		return fd;
	int err = netns_enter(fd);
	close(fd);
	if (err)
		return err;
	/* Give the command a /sys that shows the guest's interfaces, in a
	 * mount namespace of its own, as `ip netns exec` does.  Cosmetic:
	 * the network namespace above is what matters. */
	if (unshare(CLONE_NEWNS) == 0 && mount("", "/", NULL, MS_SLAVE | MS_REC, NULL) == 0 &&
	    umount2("/sys", MNT_DETACH) == 0)
		mount(ns, "/sys", "sysfs", 0, NULL);
	return 0;
}

static void explain(const char *lab, const char *guest, int err)
{
	if (err == -ENOENT)
		err_msg("lab %s has no guest %s (namespace %s-%s does not exist; is the lab up?)",
			lab, guest, lab, guest);
	else if (err == -EINVAL)
		err_msg("bad lab or guest name \"%s\" \"%s\"", lab, guest);
	else
		err_msg("cannot enter %s-%s: %s", lab, guest, strerror(-err));
}

pid_t guest_spawn(const char *lab, const char *guest, char *const argv[],
		  int in, int out, int err_fd)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid > 0)
		setpgid(pid, pid);   /* here too: no race with a kill(-pid) */
	if (pid != 0)
		return pid < 0 ? -errno : pid;
	/* its own process group, so whatever it starts can be stopped with
	 * it; the default signal mask, whatever the caller blocks; and no
	 * descriptor of ours but the three it is given */
	setpgid(0, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	dup2(in >= 0 ? in : null, 0);
	dup2(out >= 0 ? out : null, 1);
	dup2(err_fd >= 0 ? err_fd : null, 2);
	close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
	int err = guest_enter(lab, guest);
	if (err) {
		explain(lab, guest, err);
		_exit(126);
	}
	execvp(argv[0], argv);
	err_msg("cannot run %s in %s: %s", argv[0], guest, strerror(errno));
	_exit(127);
}

int cmd_exec(int argc, char **argv)
{
	int cmd = 3;
	if (argc > 3 && !strcmp(argv[3], "--"))
		cmd = 4;
	if (argc <= cmd) {
		err_msg("usage: vqnet exec LAB GUEST -- CMD [ARG...]");
		return EXIT_USAGE;
	}
	int err = guest_enter(argv[1], argv[2]);
	if (err) {
		explain(argv[1], argv[2], err);
		return err == -EINVAL ? EXIT_USAGE : 1;
	}
	execvp(argv[cmd], argv + cmd);
	err_msg("cannot run %s: %s", argv[cmd], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
