/* SPDX-License-Identifier: MIT */
/*
 * vqnet-inject - a test tool (root only, x86-64): make a running process
 * execute one system call it never would, as an attacker who took over
 * its code would, and report what happened.
 *
 *   vqnet-inject PID [NR]      NR defaults to getppid(2)
 *
 * It seizes the process (PTRACE_SEIZE, PTRACE_INTERRUPT), and once it is
 * stopped just after a `syscall` instruction (a vmm idles in epoll_wait),
 * rewinds rip to that instruction with rax = NR and lets it run to the
 * call's exit.  A seccomp filter that refuses NR skips the call and queues
 * a fatal SIGSYS (SECCOMP_RET_KILL_PROCESS): the tool lets the process
 * die of it.  Without one the call returns, the tool puts every register
 * back as it was (the process sees its interrupted call return as it did)
 * and lets it go.
 *
 * Exit status: 0 if the process was killed by SIGSYS ("killed by signal
 * 31"), 1 if it survived ("survived: NR returned R") or anything else
 * happened, 77 on another architecture.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if !defined(__x86_64__)
int main(void)
{
	fprintf(stderr, "vqnet-inject: x86-64 only\n");
	return 77;
}
#else

static int die(const char *what)
{
	fprintf(stderr, "vqnet-inject: %s: %s\n", what, strerror(errno));
	return 1;
}

/* Wait for the next stop or the end of pid; 0 = stopped, 1 = gone. */
static int next(pid_t pid, int *status)
{
	for (;;) {
		if (waitpid(pid, status, __WALL) == pid)
			return WIFSTOPPED(*status) ? 0 : 1;
		if (errno != EINTR)
			return -1;
	}
}

static int verdict(int status)
{
	if (WIFSIGNALED(status)) {
		printf("killed by signal %d\n", WTERMSIG(status));
		return WTERMSIG(status) == SIGSYS ? 0 : 1;
	}
	printf("exited with status %d\n", WEXITSTATUS(status));
	return 1;
}

/* Is a SIGSYS pending for pid (thread or process)? */
static bool sigsys_pending(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	bool yes = false;
	unsigned long long mask;
	while (f && fgets(line, sizeof(line), f))
		if ((sscanf(line, "SigPnd: %llx", &mask) == 1 || sscanf(line, "ShdPnd: %llx", &mask) == 1) &&
		    (mask & (1ull << (SIGSYS - 1))))
			yes = true;
	if (f)
		fclose(f);
	return yes;
}

/* Stopped just after a syscall instruction, in a system call? */
static bool at_syscall(pid_t pid, const struct user_regs_struct *r)
{
	errno = 0;
	long word = ptrace(PTRACE_PEEKTEXT, pid, (void *)(r->rip - 2), NULL);
	return errno == 0 && (word & 0xffff) == 0x050f && (long long)r->orig_rax >= 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: vqnet-inject PID [NR]\n");
		return 2;
	}
	pid_t pid = atoi(argv[1]);
	long nr = argc > 2 ? atol(argv[2]) : SYS_getppid;
	int status;
	if (pid <= 1 || ptrace(PTRACE_SEIZE, pid, NULL, (void *)PTRACE_O_TRACESYSGOOD) < 0)
		return die("PTRACE_SEIZE");

	/* Interrupt it until it stops inside a system call (a busy process
	 * may be caught in user code; bounded, and each try is an event). */
	struct user_regs_struct saved;
	for (int tries = 0;; tries++) {
		if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) < 0)
			return die("PTRACE_INTERRUPT");
		int r = next(pid, &status);
		if (r)
			return r > 0 ? verdict(status) : die("waitpid");
		if (ptrace(PTRACE_GETREGS, pid, NULL, &saved) < 0)
			return die("PTRACE_GETREGS");
		if (at_syscall(pid, &saved))
			break;
		if (tries == 1000) {
			fprintf(stderr, "vqnet-inject: never caught it in a system call\n");
			ptrace(PTRACE_DETACH, pid, NULL, NULL);
			return 1;
		}
		if (ptrace(PTRACE_CONT, pid, NULL, NULL) < 0)
			return die("PTRACE_CONT");
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}

	struct user_regs_struct r = saved;
	r.rip -= 2;             /* the syscall instruction it stopped after */
	r.rax = (unsigned long long)nr;
	r.rdi = r.rsi = r.rdx = r.r10 = r.r8 = r.r9 = 0;
	if (ptrace(PTRACE_SETREGS, pid, NULL, &r) < 0)
		return die("PTRACE_SETREGS");
	/* to the entry of the injected call, then past it: seccomp decides
	 * after the tracer's syscall-entry stop */
	for (int stop = 0; stop < 2; stop++) {
		if (ptrace(PTRACE_SYSCALL, pid, NULL, NULL) < 0)
			return die("PTRACE_SYSCALL");
		int w = next(pid, &status);
		if (w)
			return w > 0 ? verdict(status) : die("waitpid");
		if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			fprintf(stderr, "vqnet-inject: unexpected stop (signal %d)\n", WSTOPSIG(status));
			ptrace(PTRACE_DETACH, pid, NULL, NULL);
			return 1;
		}
	}
	/* At the exit of the injected call.  A filter that refused it skipped
	 * it and queued a SIGSYS the process cannot survive: let it go. */
	if (sigsys_pending(pid)) {
		for (;;) {
			if (ptrace(PTRACE_CONT, pid, NULL, (void *)(long)(WIFSTOPPED(status) &&
				   WSTOPSIG(status) == SIGSYS ? SIGSYS : 0)) < 0)
				return die("PTRACE_CONT");
			int w = next(pid, &status);
			if (w)
				return w > 0 ? verdict(status) : die("waitpid");
		}
	}
	/* it was allowed */
	if (ptrace(PTRACE_GETREGS, pid, NULL, &r) < 0)
		return die("PTRACE_GETREGS");
	printf("survived: system call %ld returned %lld\n", nr, (long long)r.rax);
	if (ptrace(PTRACE_SETREGS, pid, NULL, &saved) < 0)
		return die("PTRACE_SETREGS");
	ptrace(PTRACE_DETACH, pid, NULL, NULL);
	return 1;
}
#endif
