/* SPDX-License-Identifier: MIT */
/*
 * accel.h - may QEMU use KVM here, or must it use TCG?
 *
 * /dev/kvm existing proves little: on a host without nested
 * virtualisation it opens and creates VMs, and a guest then never runs.
 * So the probe runs one: a vCPU in real mode executes "out; hlt", and KVM
 * counts only if both exits come back.  The probe runs in a child process
 * that is killed after the timeout, so it never hangs its caller, even if
 * KVM_RUN never returns.
 */
#ifndef VQNET_ACCEL_H
#define VQNET_ACCEL_H

#include <stdbool.h>
#include <stddef.h>

/* true if a KVM guest really runs within timeout_ms; otherwise false with
 * why[0..len) saying what failed ("KVM_RUN did not return within 2000 ms",
 * "/dev/kvm: No such file or directory", ...). */
bool accel_kvm_works(unsigned timeout_ms, char *why, size_t len);

#endif
