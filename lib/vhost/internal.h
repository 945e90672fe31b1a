/* SPDX-License-Identifier: MIT */
/* internal.h - shared by the files of lib/vhost, not part of its API. */
#ifndef VQNET_VHOST_INTERNAL_H
#define VQNET_VHOST_INTERNAL_H

#include "vhost.h"

/* Write one sentence into why (len bytes); NULL why: nothing. */
void vhost_why(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
