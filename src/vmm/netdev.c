/* SPDX-License-Identifier: MIT */
#include "netdev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_tun.h>

/* The kernel's struct in6_ifreq (linux/ipv6.h clashes with netinet/in.h). */
struct in6_ifreq_k {
	struct in6_addr addr;
	uint32_t prefixlen;
	int ifindex;
};

static int ifreq_for(const char *name, struct ifreq *ifr)
{
	memset(ifr, 0, sizeof(*ifr));
	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	memcpy(ifr->ifr_name, name, strlen(name));
	return 0;
}

/* One ioctl on a throw-away socket of the given family. */
static int sock_ioctl(int family, unsigned long req, void *arg)
{
	int s = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	int err = ioctl(s, req, arg) < 0 ? -errno : 0;
	close(s);
	return err;
}

int netdev_tap(const char *name)
{
	struct ifreq ifr;
	int err = ifreq_for(name, &ifr);
	if (err)
		return err;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Frames carry a virtio-net header (12 bytes, virtio 1.x) and may be
	 * 64 KiB TCP segments with their checksum left to the receiver:
	 * the guest's stack does no per-MTU work, and neither do we. */
	int hdr = 12;
	unsigned offload = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, offload) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int netdev_set_mac(const char *name, const uint8_t mac[6])
{
	struct ifreq ifr;
	int err = ifreq_for(name, &ifr);
	if (err)
		return err;
	ifr.ifr_hwaddr.sa_family = 1; /* ARPHRD_ETHER */
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	return sock_ioctl(AF_INET, SIOCSIFHWADDR, &ifr);
}

int netdev_set_ip4(const char *name, uint32_t ip4, unsigned prefix)
{
	struct ifreq ifr;
	int err = ifreq_for(name, &ifr);
	if (err)
		return err;
	if (prefix == 0 || prefix > 32)
		return -EINVAL;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(ip4) };
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	if ((err = sock_ioctl(AF_INET, SIOCSIFADDR, &ifr)))
		return err;
	uint32_t mask = prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
	sin.sin_addr.s_addr = htonl(mask);
	memcpy(&ifr.ifr_netmask, &sin, sizeof(sin));
	return sock_ioctl(AF_INET, SIOCSIFNETMASK, &ifr);
}

int netdev_set_ip6(const char *name, const uint8_t ip6[16], unsigned prefix)
{
	unsigned idx = if_nametoindex(name);
	if (!idx)
		return -errno;
	struct in6_ifreq_k r = { .prefixlen = prefix, .ifindex = (int)idx };
	memcpy(&r.addr, ip6, 16);
	return sock_ioctl(AF_INET6, SIOCSIFADDR, &r);
}

int netdev_up(const char *name)
{
	struct ifreq ifr;
	int err = ifreq_for(name, &ifr);
	if (err || (err = sock_ioctl(AF_INET, SIOCGIFFLAGS, &ifr)))
		return err;
	ifr.ifr_flags |= IFF_UP;
	return sock_ioctl(AF_INET, SIOCSIFFLAGS, &ifr);
}

int netdev_sysctl(const char *key, const char *value)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "/proc/sys/%s", key);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, value, strlen(value));
	int err = w < 0 ? -errno : 0;
	close(fd);
	return err;
}
