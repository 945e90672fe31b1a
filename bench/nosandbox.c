/* SPDX-License-Identifier: MIT */
/*
 * bench/nosandbox - an LD_PRELOAD shim for profiling only: the libseccomp
 * calls a vmm makes succeed and install nothing.  bench/profile.sh runs a
 * vmm under valgrind (callgrind), which has no seccomp(2) (libseccomp's
 * probe fails, and the vmm refuses to run unfiltered) and whose own system
 * calls (signal polling, its output file) the vmm's allow-list would kill
 * anyway.  Everything else of the sandbox (capabilities, uid,
 * no_new_privs) still happens, and the datapath is the same code.  Never
 * used outside that benchmark: a vmm run with it has no seccomp filter.
 */
#include <seccomp.h>

static int dummy;

scmp_filter_ctx seccomp_init(uint32_t def_action)
{
	(void)def_action;
	return &dummy;
}

int seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value)
{
	(void)ctx, (void)attr, (void)value;
	return 0;
}

int seccomp_rule_add(scmp_filter_ctx ctx, uint32_t action, int syscall,
		     unsigned int arg_cnt, ...)
{
	(void)ctx, (void)action, (void)syscall, (void)arg_cnt;
	return 0;
}

int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
			   unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array)
{
	(void)ctx, (void)action, (void)syscall, (void)arg_cnt, (void)arg_array;
	return 0;
}

int seccomp_load(const scmp_filter_ctx ctx)
{
	(void)ctx;
	return 0;
}

void seccomp_release(scmp_filter_ctx ctx)
{
	(void)ctx;
}
