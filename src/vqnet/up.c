/* SPDX-License-Identifier: MIT */
/* vqnet up FILE: validate, start the lab's supervisor, print the table. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netns.h"
#include "sys.h"
#include "vqnet.h"

/* Refuse a lab that is up or left namespaces behind, before creating
 * anything.  Returns an open, locked lock fd, or -1 after the message. */
static int claim(struct labfile *lf)
{
	const struct lab *lab = lf->lab;
	int fd = lab_lock(lab->name, 0, true);
	if (fd == -EWOULDBLOCK) {
		labfile_error(lf, lab->name_line, "lab \"%s\" is already up (see 'vqnet status %s')",
			      lab->name, lab->name);
		return -1;
	}
	if (fd < 0) {
		err_msg("%s/%s.lock: %s", RUN_DIR, lab->name, strerror(-fd));
		return -1;
	}

	for (unsigned i = 0; i < lab->n_nodes; i++) {
		char ns[2 * LAB_NAME_MAX + 2];
		if (lab->nodes[i].kind != LAB_GUEST)
			continue;
		guest_netns(ns, sizeof(ns), lab->name, lab->nodes[i].name);
		if (netns_exists(ns)) {
			labfile_error(lf, lab->nodes[i].line,
				      "namespace %s already exists (left behind? try 'vqnet down %s')",
				      ns, lab->name);
			lab_unlock(lab->name, fd, true);
			return -1;
		}
	}
	/* we hold the lock and nothing of the lab is left: any state file
	 * is a dead supervisor's, with nothing more to say */
	char path[PATH_MAX];
	if (lab_path(path, sizeof(path), lab->name, ".state") == 0)
		unlink(path);
	return fd;
}

int lab_up(struct labfile *lf, bool quiet)
{
	int lock = claim(lf);
	if (lock < 0)
		return EXIT_USAGE;

	/* the supervisor gets the exact text we validated */
	int lab_fd = sys_memfd_text("vqnet-lab", lf->text, lf->len);
	int pfd[2] = { -1, -1 };
	if (lab_fd < 0 || pipe2(pfd, O_CLOEXEC) < 0) {
		err_msg("cannot pass the lab to its supervisor: %s",
			strerror(lab_fd < 0 ? -lab_fd : errno));
		lab_unlock(lf->lab->name, lock, true);
		return 1;
	}
	/* and each filter's rules file, as read and checked */
	const struct lab *lab = lf->lab;
	int rules_fd[LAB_MAX_NODES];
	char rules_arg[LAB_MAX_NODES][32];
	char *argv[7 + LAB_MAX_NODES + 1];
	unsigned a = 7;
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		rules_fd[i] = -1;
		if (!lf->rules[i].text)
			continue;
		rules_fd[i] = sys_memfd_text("vqnet-rules", lf->rules[i].text, lf->rules[i].len);
		if (rules_fd[i] < 0) {
			err_msg("cannot pass the rules of %s to the supervisor", lab->nodes[i].name);
			lab_unlock(lab->name, lock, true);
			return 1;
		}
		snprintf(rules_arg[i], sizeof(rules_arg[i]), "%u=%d", i, rules_fd[i]);
		argv[a++] = rules_arg[i];
	}
	argv[a] = NULL;
	char exe[PATH_MAX], a1[16], a2[16], a3[16];
	snprintf(exe, sizeof(exe), "%s/vqnet", self_dir());
	snprintf(a1, sizeof(a1), "%d", lab_fd);
	snprintf(a2, sizeof(a2), "%d", pfd[1]);
	snprintf(a3, sizeof(a3), "%d", lock);
	argv[0] = "vqnet";
	argv[1] = "__supervise";
	argv[2] = (char *)lab->name;   /* so `down` can recognise it */
	argv[3] = a1;
	argv[4] = a2;
	argv[5] = a3;
	argv[6] = (char *)lf->path;
	/* Fork twice: the supervisor is nobody's child but init's, so it
	 * never lingers as our zombie and outlives us cleanly. */
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (fork() != 0)
			_exit(0);
		fcntl(lab_fd, F_SETFD, 0);
		fcntl(pfd[1], F_SETFD, 0);
		fcntl(lock, F_SETFD, 0);
		for (unsigned i = 0; i < lab->n_nodes; i++)
			if (rules_fd[i] >= 0)
				fcntl(rules_fd[i], F_SETFD, 0);
		execv(exe, argv);
		dprintf(pfd[1], "error: cannot run %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	int fork_err = errno;
	if (pid > 0)
		waitpid(pid, NULL, 0);
	close(pfd[1]);
	close(lab_fd);
	if (pid < 0)
		lab_unlock(lab->name, lock, true);
	else
		close(lock);   /* the supervisor holds the lock now */
	for (unsigned i = 0; i < lab->n_nodes; i++)
		if (rules_fd[i] >= 0)
			close(rules_fd[i]);

	char line[1024];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(line) - 1 && (r = read(pfd[0], line + n, sizeof(line) - 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		n += (size_t)r;
	}
	close(pfd[0]);
	line[n] = 0;
	line[strcspn(line, "\n")] = 0;
	if (pid < 0 || strcmp(line, "ok")) {
		err_msg("lab %s: %s", lf->lab->name,
			pid < 0 ? strerror(fork_err)
			: n ? line + (strncmp(line, "error: ", 7) ? 0 : 7) : "supervisor died");
		/* a supervisor that failed removes what it made; one that never
		 * ran (exec failed) leaves its lock file, which we remove */
		int l = lab_lock(lab->name, 5000, false);
		if (l >= 0)
			lab_unlock(lab->name, l, true);
		return 1;
	}
	if (!quiet) {
		printf("lab %s is up\n\n", lf->lab->name);
		lab_table(stdout, lf->lab);
	}
	return 0;
}

int cmd_up(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-') {
		err_msg("usage: vqnet up FILE");
		return EXIT_USAGE;
	}
	struct labfile lf;
	int rc = labfile_load(argv[1], &lf);
	if (rc)
		return rc;
	rc = lab_up(&lf, false);
	labfile_free(&lf);
	return rc;
}
