/* SPDX-License-Identifier: MIT */
#include "accel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Loop iterations of the test guest, and the most time they may take.
 * Hardware runs them in about a millisecond; this host's KVM (no nested
 * virtualisation) emulates them at ~2 million a second, and QEMU guests
 * then "hang": a kernel that boots in 3 s under TCG prints nothing in a
 * minute.  A KVM that only emulates is worse than TCG, so it counts as
 * not working. */
#define LOOPS 1000000u
#define LOOPS_MAX_MS 100

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* In the child: run the test guest; 0, or -1 with why. */
static int try_kvm(char *why, size_t len)
{
	/* at 0x1000, real mode:
	 *   mov $LOOPS,%ecx ; 1: dec %ecx ; jnz 1b ; mov $0x2a,%al ; out %al,$0xe9 ; hlt */
	uint8_t code[] = { 0x66, 0xb9, 0, 0, 0, 0, 0x66, 0x49, 0x75, 0xfc,
			   0xb0, 0x2a, 0xe6, 0xe9, 0xf4 };
	uint32_t loops = LOOPS;
	memcpy(code + 2, &loops, 4);
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return snprintf(why, len, "/dev/kvm: %s", strerror(errno)), -1;
	int v = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION)
		return snprintf(why, len, "KVM API version %d, not %d", v, KVM_API_VERSION), -1;
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return snprintf(why, len, "KVM_CREATE_VM: %s", strerror(errno)), -1;
	/* as QEMU sets a VM up: in-kernel interrupt controllers and timer */
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
		return snprintf(why, len, "KVM_CREATE_IRQCHIP: %s", strerror(errno)), -1;
	struct kvm_pit_config pit = { .flags = 0 };
	if (ioctl(vm, KVM_CREATE_PIT2, &pit) < 0)
		return snprintf(why, len, "KVM_CREATE_PIT2: %s", strerror(errno)), -1;
	uint8_t *mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return snprintf(why, len, "mmap: %s", strerror(errno)), -1;
	memcpy(mem, code, sizeof(code));
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0x1000, .memory_size = 0x1000,
		.userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return snprintf(why, len, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno)), -1;
	int cpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (cpu < 0)
		return snprintf(why, len, "KVM_CREATE_VCPU: %s", strerror(errno)), -1;
	int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		return snprintf(why, len, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno)), -1;
	struct kvm_run *run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
	if (run == MAP_FAILED)
		return snprintf(why, len, "mmap vcpu: %s", strerror(errno)), -1;
	struct kvm_sregs sregs;
	if (ioctl(cpu, KVM_GET_SREGS, &sregs) < 0)
		return snprintf(why, len, "KVM_GET_SREGS: %s", strerror(errno)), -1;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(cpu, KVM_SET_SREGS, &sregs) < 0)
		return snprintf(why, len, "KVM_SET_SREGS: %s", strerror(errno)), -1;
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 0x2 };
	if (ioctl(cpu, KVM_SET_REGS, &regs) < 0)
		return snprintf(why, len, "KVM_SET_REGS: %s", strerror(errno)), -1;
	/* with an in-kernel irqchip, HLT waits in the kernel: the OUT after
	 * the loop is the exit we wait for */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (ioctl(cpu, KVM_RUN, 0) < 0)
		return snprintf(why, len, "KVM_RUN: %s", strerror(errno)), -1;
	long ms = ms_since(&t0);
	if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT ||
	    run->io.port != 0xe9 || ((uint8_t *)run)[run->io.data_offset] != 0x2a)
		return snprintf(why, len, "the test guest stopped with KVM exit reason %u",
				run->exit_reason), -1;
	if (ms > LOOPS_MAX_MS)
		return snprintf(why, len, "KVM runs but emulates: %u loop iterations took %ld ms"
				" (hardware: about 1 ms); no nested virtualisation?", LOOPS, ms), -1;
	return 0;
}

bool accel_kvm_works(unsigned timeout_ms, char *why, size_t len)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(why, len, "pipe: %s", strerror(errno));
		return false;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (pid == 0) {
		close(p[0]);
		char msg[256] = "ok";
		/* a second guard, inside: SIGALRM ends a KVM_RUN that never
		 * returns, and this child with it */
		alarm((timeout_ms + 999) / 1000 + 1);
		if (try_kvm(msg, sizeof(msg)) < 0 && !strcmp(msg, "ok"))
			snprintf(msg, sizeof(msg), "KVM test failed");
		(void)!write(p[1], msg, strlen(msg));
		_exit(0);
	}
	close(p[1]);
	char msg[256] = "";
	size_t got = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long spent = ms_since(&t0);
		if (spent >= (long)timeout_ms)
			break;
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		int r = poll(&pfd, 1, (int)(timeout_ms - (unsigned long)spent));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		ssize_t n = read(p[0], msg + got, sizeof(msg) - 1 - got);
		if (n <= 0)
			break;   /* EOF: the child said everything */
		got += (size_t)n;
	}
	close(p[0]);
	msg[got] = 0;
	/* whatever state it is in, the child goes now; reaping is bounded so
	 * that a child stuck in the kernel cannot hang us either */
	kill(pid, SIGKILL);
	for (int i = 0; i < 100 && waitpid(pid, NULL, WNOHANG) == 0; i++) {
		struct timespec ms = { 0, 10 * 1000 * 1000 };
		nanosleep(&ms, NULL);
	}
	if (!strcmp(msg, "ok"))
		return true;
	if (got)
		snprintf(why, len, "%s", msg);
	else
		snprintf(why, len, "KVM_RUN did not return within %u ms", timeout_ms);
	return false;
}
