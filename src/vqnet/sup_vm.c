/* SPDX-License-Identifier: MIT */
/*
 * VM guests: each `kind = qemu` guest is a QEMU process whose NICs are
 * virtio-net devices served by the guest's vmm over vhost-user, and an
 * agentd that carries `vqnet exec` into it over virtio-serial.
 *
 *   RUN_DIR/LAB.GUEST.ethN.sock   one per NIC: the vmm listens, QEMU connects
 *   RUN_DIR/LAB.GUEST.agent       agentd's client socket (exec, run)
 *   LOG_DIR/LAB.GUEST.console     the VM's serial console, kept like the log
 *
 * QEMU and agentd each run under a uid of their own (sup_uid), with no
 * capability and the parent-death signal set, so they die with the
 * supervisor; QEMU also with its own seccomp sandbox.  QEMU's agent
 * channel is one end of a socketpair whose other end agentd holds: no
 * name, nothing to get at.  The NICs' sockets are names, so that QEMU can
 * reach them under its uid (RUN_DIR is 0711: nothing in it can be listed,
 * each socket belongs to its QEMU alone) and so that a front-end may come
 * back to a device after losing it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "accel.h"
#include "cli.h"
#include "sup.h"
#include "sys.h"

#define BOOT_TIMEOUT_MS 180000   /* TCG on a loaded 2-CPU host: seconds, not minutes */
#define QEMU_GRACE_MS 5000

char sup_accel[8];

static bool is_vm(unsigned i)
{
	return S.nodes[i].vm != NULL;
}

/* The guest image: built by scripts/guest-image.sh next to our binaries. */
static int image_path(char *buf, size_t len, const char *file)
{
	int n = snprintf(buf, len, "%s/../guest/%s", self_dir(), file);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* KVM only where a guest really runs (src/agentd/accel.c); the answer is
 * kept for this boot of the host, so each lab does not wait on a probe. */
static void probe_accel(void)
{
	char boot[64] = "", line[128];
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (f) {
		if (!fgets(boot, sizeof(boot), f))
			boot[0] = 0;
		fclose(f);
		boot[strcspn(boot, "\n")] = 0;
	}
	f = fopen(RUN_DIR "/accel", "re");
	if (f) {
		char b[64], a[8];
		if (fgets(line, sizeof(line), f) && sscanf(line, "%63s %7s", b, a) == 2 &&
		    !strcmp(b, boot) && (!strcmp(a, "kvm") || !strcmp(a, "tcg")))
			snprintf(sup_accel, sizeof(sup_accel), "%s", a);
		fclose(f);
		if (sup_accel[0])
			return;
	}
	char why[160] = "";
	bool kvm = accel_kvm_works(2000, why, sizeof(why));
	snprintf(sup_accel, sizeof(sup_accel), "%s", kvm ? "kvm" : "tcg");
	sup_log("accelerator: %s%s%s%s", sup_accel, kvm ? "" : " (KVM: ", kvm ? "" : why, kvm ? "" : ")");
	f = fopen(RUN_DIR "/accel", "we");
	if (f) {
		fprintf(f, "%s %s\n", boot, sup_accel);
		fclose(f);
	}
}

/* A listening unix socket at path, for uid alone. */
static int listen_at(const char *path, uid_t uid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	unlink(path);   /* stale: we hold the lab's lock */
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chown(path, uid, uid) < 0 ||
	    chmod(path, 0600) < 0 || listen(s, 4) < 0) {
		int err = -errno;
		close(s);
		unlink(path);
		return err;
	}
	return s;
}

int sup_vm_prepare(char *msg, size_t len)
{
	const struct lab *lab = S.lab;
	bool any = false;
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		const struct lab_node *nd = &lab->nodes[i];
		if (nd->kind != LAB_GUEST || nd->guest_kind != LAB_KIND_QEMU)
			continue;
		struct sup_vm *vm = calloc(1, sizeof(*vm));
		if (!vm || !(vm->vhost_fd = calloc(nd->n_ifaces + 1, sizeof(int))) ||
		    !(vm->vhost_path = calloc(nd->n_ifaces + 1, sizeof(*vm->vhost_path)))) {
			if (vm)
				free(vm->vhost_fd);
			free(vm);
			snprintf(msg, len, "out of memory");
			return -1;
		}
		S.nodes[i].vm = vm;
		vm->qemu_fd = vm->agentd_fd = vm->ready_fd = -1;
		for (unsigned j = 0; j <= nd->n_ifaces; j++)
			vm->vhost_fd[j] = -1;
		snprintf(vm->agent_path, sizeof(vm->agent_path), RUN_DIR "/%s.%s.agent", lab->name, nd->name);
		snprintf(vm->console, sizeof(vm->console), LOG_DIR "/%s.%s.console", lab->name, nd->name);
		any = true;
		for (unsigned j = 0; j < nd->n_ifaces; j++) {
			snprintf(vm->vhost_path[j], sizeof(vm->vhost_path[j]), RUN_DIR "/%s.%s.%s.sock",
				 lab->name, nd->name, nd->ifaces[j].name);
			int fd = listen_at(vm->vhost_path[j], sup_uid(SUP_ROLE_QEMU, i));
			if (fd < 0) {
				snprintf(msg, len, "%s: socket %s: %s", nd->name, vm->vhost_path[j], strerror(-fd));
				return -1;
			}
			vm->vhost_fd[j] = fd;
		}
	}
	if (!any)
		return 0;
	const char *files[] = { "vmlinuz", "initramfs.cpio", "cmdline" };
	for (size_t k = 0; k < 3; k++) {
		char path[PATH_MAX];
		if (image_path(path, sizeof(path), files[k]) || access(path, R_OK) < 0) {
			snprintf(msg, len, "the VM guest image is not built (%s: %s): run "
				 "scripts/guest-image.sh on the build directory, or 'make demo-vm'",
				 path, strerror(errno));
			return -1;
		}
	}
	/* QEMU, under its own uid, must reach its sockets: traverse, not list */
	chmod(RUN_DIR, 0711);
	probe_accel();
	return 0;
}

/* ---- starting a VM --------------------------------------------------------------- */

/* The kernel command line: the image's, then what the lab says of this
 * guest (guest/init reads it): its name, each NIC by MAC and addresses. */
static char *kernel_cmdline(unsigned i)
{
	const struct lab_node *nd = &S.lab->nodes[i];
	char path[PATH_MAX];
	size_t n;
	int err, fd = image_path(path, sizeof(path), "cmdline") ? -1 : open(path, O_RDONLY | O_CLOEXEC);
	char *base = fd >= 0 ? sys_read_fd(fd, 4096, &n, &err) : NULL;
	if (fd >= 0)
		close(fd);
	if (!base)
		return NULL;
	base[strcspn(base, "\n")] = 0;
	size_t cap = strlen(base) + 64 + nd->n_ifaces * 128;
	char *out = malloc(cap);
	if (!out) {
		free(base);
		return NULL;
	}
	size_t used = (size_t)snprintf(out, cap, "%s vqnet.name=%s", base, nd->name);
	free(base);
	for (unsigned j = 0; j < nd->n_ifaces && used < cap; j++) {
		const struct lab_iface *li = &nd->ifaces[j];
		char mac[LAB_MAC_STRLEN];
		lab_mac_format(li->mac, mac);
		used += (size_t)snprintf(out + used, cap - used, " vqnet.if=%s", mac);
		if (li->has_ip4 && used < cap)
			used += (size_t)snprintf(out + used, cap - used, ",%u.%u.%u.%u/%u", li->ip4 >> 24,
						 (li->ip4 >> 16) & 255, (li->ip4 >> 8) & 255, li->ip4 & 255,
						 li->prefix4);
		if (li->has_ip6 && used < cap) {
			char a[64];
			inet_ntop(AF_INET6, li->ip6, a, sizeof(a));
			used += (size_t)snprintf(out + used, cap - used, ",%s/%u", a, li->prefix6);
		}
	}
	return out;
}

/* A child that becomes uid (no capability left), dies with us, and runs
 * argv with keep[] as its only descriptors beyond 0-2 (stdin /dev/null,
 * stdout and stderr our log).  Its pid, its pidfd in *pidfd. */
static pid_t spawn_as(uid_t uid, char *const argv[], const int *keep, unsigned nkeep,
		      const gid_t *groups, unsigned ngroups, int *pidfd)
{
	fflush(NULL);
	pid_t pid = sys_fork_ns(0, pidfd);
	if (pid != 0)
		return pid;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null >= 0)
		dup2(null, 0);
	for (unsigned k = 0; k < nkeep; k++)
		fcntl(keep[k], F_SETFD, 0);
	if (setgroups(ngroups, groups) < 0 || setresgid(uid, uid, uid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		dprintf(2, "cannot become uid %u: %s\n", (unsigned)uid, strerror(errno));
		_exit(126);
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(126);   /* the supervisor is already gone */
	execv(argv[0], argv);
	dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* The argv of a VM's QEMU; strings in the arena it returns (free both). */
static char **qemu_argv(unsigned i, int agent_fd, int console_fd, char **arena)
{
	const struct lab_node *nd = &S.lab->nodes[i];
	const struct sup_vm *vm = S.nodes[i].vm;
	char kernel[PATH_MAX], initrd[PATH_MAX];
	char *cmdline = kernel_cmdline(i);
	if (!cmdline || image_path(kernel, sizeof(kernel), "vmlinuz") ||
	    image_path(initrd, sizeof(initrd), "initramfs.cpio")) {
		free(cmdline);
		return NULL;
	}
	size_t cap = 8192 + strlen(cmdline) + nd->n_ifaces * 512;
	char *a = malloc(cap), **argv = calloc(64 + 6 * nd->n_ifaces, sizeof(char *));
	size_t used = 0;
	unsigned n = 0;
	if (!a || !argv) {
		free(a);
		free(argv);
		free(cmdline);
		return NULL;
	}
	/* each argument is printed into the arena, NUL-terminated */
#define ARG(...) do { argv[n++] = a + used; \
		used += (size_t)snprintf(a + used, cap - used, __VA_ARGS__) + 1; } while (0)
	ARG("/usr/bin/qemu-system-x86_64");
	ARG("-name");
	ARG("%s.%s,debug-threads=off", S.lab->name, nd->name);
	ARG("-accel");
	ARG("%s", sup_accel);
	/* guest memory the vmm maps: a shared, sealed memfd, one region */
	ARG("-machine");
	ARG("pc,memory-backend=mem");
	ARG("-nodefaults");
	ARG("-no-user-config");
	ARG("-display");
	ARG("none");
	ARG("-no-reboot");
	ARG("-m");
	ARG("%uM", nd->memory_mib);
	ARG("-smp");
	ARG("%u", nd->cpus);
	ARG("-object");
	ARG("memory-backend-memfd,id=mem,size=%uM,share=on,seal=on", nd->memory_mib);
	ARG("-kernel");
	ARG("%s", kernel);
	ARG("-initrd");
	ARG("%s", initrd);
	ARG("-append");
	ARG("%s", cmdline);
	ARG("-add-fd");
	ARG("fd=%d,set=1", console_fd);
	ARG("-chardev");
	ARG("file,id=console,path=/dev/fdset/1");
	ARG("-serial");
	ARG("chardev:console");
	ARG("-device");
	ARG("virtio-serial-pci,id=vser");
	ARG("-chardev");
	ARG("socket,id=agent,fd=%d", agent_fd);
	ARG("-device");
	ARG("virtserialport,bus=vser.0,chardev=agent,name=vqnet.agent");
	for (unsigned j = 0; j < nd->n_ifaces; j++) {
		char mac[LAB_MAC_STRLEN];
		lab_mac_format(nd->ifaces[j].mac, mac);
		ARG("-chardev");
		/* reconnect: a vmm that died is replaced on the same socket */
		ARG("socket,id=nic%u,path=%s,reconnect=1", j, vm->vhost_path[j]);
		ARG("-netdev");
		ARG("vhost-user,id=net%u,chardev=nic%u", j, j);
		/* vectors=0: legacy interrupts; QEMU 7.2 under TCG crashes in
		 * vhost_net_start with a vhost-user device on MSI-X */
		ARG("-device");
		ARG("virtio-net-pci,netdev=net%u,mac=%s,vectors=0,disable-legacy=on", j, mac);
	}
	ARG("-sandbox");
	ARG("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
#undef ARG
	argv[n] = NULL;
	free(cmdline);
	*arena = a;
	return argv;
}

static int start_vm(unsigned i, char *msg, size_t len)
{
	const struct lab_node *nd = &S.lab->nodes[i];
	struct sup_vm *vm = S.nodes[i].vm;
	int sp[2] = { -1, -1 }, ready[2] = { -1, -1 };
	uid_t quid = sup_uid(SUP_ROLE_QEMU, i), auid = sup_uid(SUP_ROLE_AGENTD, i);
	int console = open(vm->console, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int lfd = listen_at(vm->agent_path, 0);
	if (console < 0 || lfd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 ||
	    pipe2(ready, O_CLOEXEC) < 0) {
		snprintf(msg, len, "%s: cannot prepare its VM: %s", nd->name,
			 strerror(lfd < 0 && console >= 0 ? -lfd : errno));
		goto fail;
	}
	/* agentd first: it answers clients while the VM boots */
	char exe[PATH_MAX], a1[16], a2[16], a3[16];
	snprintf(exe, sizeof(exe), "%s/vqnet-agentd", self_dir());
	snprintf(a1, sizeof(a1), "%d", sp[1]);
	snprintf(a2, sizeof(a2), "%d", lfd);
	snprintf(a3, sizeof(a3), "%d", ready[1]);
	char *aargv[] = { exe, "--qemu-fd", a1, "--listen-fd", a2, "--ready-fd", a3, "--seccomp", NULL };
	int akeep[] = { sp[1], lfd, ready[1] };
	vm->agentd = spawn_as(auid, aargv, akeep, 3, NULL, 0, &vm->agentd_fd);
	if (vm->agentd < 0) {
		snprintf(msg, len, "%s: cannot start vqnet-agentd: %s", nd->name, strerror(-vm->agentd));
		goto fail;
	}
	close(sp[1]);
	close(lfd);
	close(ready[1]);
	sp[1] = lfd = ready[1] = -1;
	vm->ready_fd = ready[0];
	/* QEMU's console file is its own, so it may reopen it as /dev/fdset */
	if (fchown(console, quid, quid) < 0) {
		snprintf(msg, len, "%s: console: %s", nd->name, strerror(errno));
		goto fail;
	}
	char *arena = NULL;
	char **qargv = qemu_argv(i, sp[0], console, &arena);
	if (!qargv) {
		snprintf(msg, len, "%s: cannot build QEMU's command line", nd->name);
		goto fail;
	}
	/* KVM, where it works, is a device QEMU's group must open */
	gid_t groups[1];
	unsigned ng = 0;
	struct stat kst;
	if (!strcmp(sup_accel, "kvm") && stat("/dev/kvm", &kst) == 0)
		groups[ng++] = kst.st_gid;
	int qkeep[] = { sp[0], console };
	vm->boot_ns = sys_now_ns();
	vm->qemu = spawn_as(quid, qargv, qkeep, 2, groups, ng, &vm->qemu_fd);
	free(qargv);
	free(arena);
	if (vm->qemu < 0) {
		snprintf(msg, len, "%s: cannot start QEMU: %s", nd->name, strerror(-vm->qemu));
		goto fail;
	}
	close(sp[0]);
	close(console);
	sup_log("started QEMU of %s (pid %d, %s) and its agentd (pid %d)", nd->name, (int)vm->qemu,
		sup_accel, (int)vm->agentd);
	return 0;
fail:
	for (int k = 0; k < 2; k++) {
		if (sp[k] >= 0)
			close(sp[k]);
		if (ready[k] >= 0 && ready[k] != vm->ready_fd)
			close(ready[k]);
	}
	if (lfd >= 0)
		close(lfd);
	if (console >= 0)
		close(console);
	return -1;
}

/* Lines from agentd's ready pipe: "ready", or "lost REASON". */
static void agent_says(unsigned i)
{
	struct sup_vm *vm = S.nodes[i].vm;
	char line[256];
	ssize_t r = read(vm->ready_fd, line, sizeof(line) - 1);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		close(vm->ready_fd);   /* and out of the epoll set */
		vm->ready_fd = -1;
		if (vm->agent != VM_LOST) {
			vm->agent = VM_LOST;
			snprintf(vm->agent_why, sizeof(vm->agent_why), "agentd ended");
			sup_event("agent_lost", (int)i, -1, json_pack("{s:s}", "error", vm->agent_why),
				  "VM agent lost: %s", vm->agent_why);
		}
		return;
	}
	line[r] = 0;
	for (char *l = strtok(line, "\n"); l; l = strtok(NULL, "\n")) {
		if (!strcmp(l, "ready")) {
			bool boot = vm->agent == VM_BOOTING, again = vm->agent == VM_LOST;
			if (boot)
				vm->boot_ns = sys_now_ns() - vm->boot_ns;
			vm->agent = VM_READY;
			vm->agent_why[0] = 0;
			if (boot)
				sup_event("agent_ready", (int)i, -1,
					  json_pack("{s:f,s:s}", "boot_ms", (double)vm->boot_ns / 1e6, "accel", sup_accel),
					  "VM agent ready: booted in %.1f s (%s)", (double)vm->boot_ns / 1e9, sup_accel);
			else if (again)
				sup_event("agent_ready", (int)i, -1, json_pack("{s:n,s:s}", "boot_ms", "accel", sup_accel),
					  "VM agent ready again");
		} else if (!strncmp(l, "lost ", 5)) {
			vm->agent = VM_LOST;
			/* agentd's words, about what the guest did: printable only */
			sup_printable(vm->agent_why, sizeof(vm->agent_why), l + 5);
			sup_log("agent of %s lost: %s", S.lab->nodes[i].name, vm->agent_why);
			sup_event("agent_lost", (int)i, -1, json_pack("{s:s}", "error", vm->agent_why),
				  "VM agent lost: %s", vm->agent_why);
		}
	}
}

void sup_vm_agent_event(unsigned idx)
{
	if (idx < S.lab->n_nodes && S.nodes[idx].vm && S.nodes[idx].vm->ready_fd >= 0)
		agent_says(idx);
}

void sup_vm_watch(void)
{
	for (unsigned i = 0; i < S.lab->n_nodes; i++) {
		struct sup_vm *vm = S.nodes[i].vm;
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = SUP_EV(SUP_EV_AGENT, i) };
		if (vm && vm->ready_fd >= 0 && epoll_ctl(S.epfd, EPOLL_CTL_ADD, vm->ready_fd, &ev) < 0)
			sup_log("epoll: %s", strerror(errno));
	}
}

int sup_vm_boot(char *msg, size_t len, bool (*interrupted)(char *, size_t))
{
	const struct lab *lab = S.lab;
	unsigned n = 0;
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		if (!is_vm(i))
			continue;
		if (interrupted(msg, len) || start_vm(i, msg, len))
			return -1;
		n++;
	}
	struct pollfd *pfd = calloc(n + 2, sizeof(*pfd));
	unsigned *idx = calloc(n + 1, sizeof(*idx));
	uint64_t deadline = sys_now_ns() + BOOT_TIMEOUT_MS * 1000000ull;
	int rc = -1;
	if (!pfd || !idx) {
		snprintf(msg, len, "out of memory");
		goto out;
	}
	for (;;) {
		unsigned np = 0;
		for (unsigned i = 0; i < lab->n_nodes; i++) {
			struct sup_vm *vm = S.nodes[i].vm;
			if (!vm)
				continue;
			if (vm->agent == VM_LOST || vm->qemu_exited) {
				snprintf(msg, len, "%s: %s before its agent was ready (console: %s)",
					 lab->nodes[i].name, vm->qemu_exited ? "QEMU ended" : vm->agent_why,
					 vm->console);
				goto out;
			}
			if (vm->agent == VM_BOOTING && vm->ready_fd >= 0) {
				pfd[np] = (struct pollfd){ .fd = vm->ready_fd, .events = POLLIN };
				idx[np++] = i;
			}
		}
		if (!np) {
			rc = 0;
			goto out;
		}
		uint64_t now = sys_now_ns();
		if (now >= deadline) {
			snprintf(msg, len, "%s: no agent after %d s (console: %s)", lab->nodes[idx[0]].name,
				 BOOT_TIMEOUT_MS / 1000, S.nodes[idx[0]].vm->console);
			goto out;
		}
		pfd[np] = (struct pollfd){ .fd = S.sigfd, .events = POLLIN };
		pfd[np + 1] = (struct pollfd){ .fd = S.status_fd, .events = 0 };
		poll(pfd, np + 2, (int)((deadline - now) / 1000000) + 1);
		if (interrupted(msg, len))
			goto out;
		for (unsigned p = 0; p < np; p++)
			if (pfd[p].revents)
				agent_says(idx[p]);
	}
out:
	for (unsigned i = 0; rc == 0 && i < lab->n_nodes; i++)
		if (is_vm(i))
			sup_log("VM %s ready in %.1f s", lab->nodes[i].name,
				(double)S.nodes[i].vm->boot_ns / 1e9);
	free(pfd);
	free(idx);
	return rc;
}

bool sup_vm_reaped(pid_t pid, int status)
{
	for (unsigned i = 0; i < S.lab->n_nodes; i++) {
		struct sup_vm *vm = S.nodes[i].vm;
		if (!vm)
			continue;
		const char *name = S.lab->nodes[i].name;
		if (vm->qemu == pid) {
			vm->qemu_exited = true;
			vm->qemu_status = status;
			if (WIFSIGNALED(status))
				sup_log("QEMU of %s (pid %d) killed by signal %d", name, (int)pid, WTERMSIG(status));
			else
				sup_log("QEMU of %s (pid %d) exited with status %d", name, (int)pid,
					WEXITSTATUS(status));
			if (!strcmp(S.state.phase, "up"))
				sup_event("qemu_exited", (int)i, -1,
					  json_pack("{s:i,s:o,s:o}", "pid", (int)pid, "signal", WIFSIGNALED(status)
						    ? json_integer(WTERMSIG(status)) : json_null(), "exit_status",
						    WIFEXITED(status) ? json_integer(WEXITSTATUS(status)) : json_null()),
					  "QEMU (pid %d) %s %d: the VM is gone", (int)pid,
					  WIFSIGNALED(status) ? "killed by signal" : "exited with status",
					  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			return true;
		}
		if (vm->agentd == pid) {
			vm->agentd_exited = true;
			sup_log("agentd of %s (pid %d) ended", name, (int)pid);
			return true;
		}
	}
	return false;
}

static bool wait_gone(pid_t pid, int ms)
{
	for (int t = 0; t <= ms; t += 10) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD)) {
			sup_vm_reaped(pid, st);
			return true;
		}
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return false;
}

void sup_vm_stop(void)
{
	const struct lab *lab = S.lab;
	/* every QEMU asked at once, then each waited for */
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct sup_vm *vm = S.nodes[i].vm;
		if (vm && vm->qemu_fd >= 0 && !vm->qemu_exited)
			pidfd_send_signal(vm->qemu_fd, SIGTERM, NULL, 0);
		if (vm && vm->agentd_fd >= 0 && !vm->agentd_exited)
			pidfd_send_signal(vm->agentd_fd, SIGTERM, NULL, 0);
	}
	for (unsigned i = 0; i < lab->n_nodes; i++) {
		struct sup_vm *vm = S.nodes[i].vm;
		if (!vm)
			continue;
		if (vm->qemu > 0 && !vm->qemu_exited && !wait_gone(vm->qemu, QEMU_GRACE_MS)) {
			sup_log("QEMU of %s did not stop in %d s: killed", lab->nodes[i].name,
				QEMU_GRACE_MS / 1000);
			pidfd_send_signal(vm->qemu_fd, SIGKILL, NULL, 0);
			wait_gone(vm->qemu, QEMU_GRACE_MS);
		}
		if (vm->agentd > 0 && !vm->agentd_exited && !wait_gone(vm->agentd, 2000)) {
			pidfd_send_signal(vm->agentd_fd, SIGKILL, NULL, 0);
			wait_gone(vm->agentd, 2000);
		}
		if (vm->qemu_fd >= 0)
			close(vm->qemu_fd);
		if (vm->agentd_fd >= 0)
			close(vm->agentd_fd);
		if (vm->ready_fd >= 0)
			close(vm->ready_fd);
		vm->qemu_fd = vm->agentd_fd = vm->ready_fd = -1;
		for (unsigned j = 0; j < lab->nodes[i].n_ifaces; j++) {
			if (vm->vhost_fd[j] >= 0)
				close(vm->vhost_fd[j]);
			vm->vhost_fd[j] = -1;
			if (vm->vhost_path[j][0])
				unlink(vm->vhost_path[j]);
		}
		unlink(vm->agent_path);
	}
}
