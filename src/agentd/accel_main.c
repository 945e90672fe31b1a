/* SPDX-License-Identifier: MIT */
/*
 * vqnet-accel [TIMEOUT_MS]: prints "kvm", or "tcg: WHY" when KVM does not
 * really run a guest here; exit 0 for kvm, 1 for tcg.
 */
#include <stdio.h>
#include <stdlib.h>

#include "accel.h"

int main(int argc, char **argv)
{
	unsigned timeout = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 2000;
	char why[300];
	if (accel_kvm_works(timeout ? timeout : 2000, why, sizeof(why))) {
		puts("kvm");
		return 0;
	}
	printf("tcg: %s\n", why);
	return 1;
}
