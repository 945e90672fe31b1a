/* SPDX-License-Identifier: MIT */
/*
 * netdev.h - create and configure a guest's interfaces from inside its
 * network namespace (the caller must already be there).  0 / fd or -errno.
 */
#ifndef VQNET_NETDEV_H
#define VQNET_NETDEV_H

#include <stdint.h>

/* A TAP device called name, non-blocking, without packet info, with a
 * 12-byte virtio-net header before every frame and checksum and TCP
 * segmentation offload on. */
int netdev_tap(const char *name);

int netdev_set_mac(const char *name, const uint8_t mac[6]);
int netdev_set_ip4(const char *name, uint32_t ip4, unsigned prefix);
int netdev_set_ip6(const char *name, const uint8_t ip6[16], unsigned prefix);
int netdev_up(const char *name);

/* Write value to /proc/sys/<key>, for this namespace's net.* keys. */
int netdev_sysctl(const char *key, const char *value);

#endif
