/* SPDX-License-Identifier: MIT */
/*
 * tap.c - the TAP guest port: a namespace guest's interface is a
 * persistent TAP device the vmm creates inside the guest's namespace (the
 * caller must already be there) or, restarted, attaches to again; and the
 * netdev calls that configure it.
 *
 * "Full" does not exist here: a write to a TAP is taken or dropped by the
 * kernel at once, and the guest's frames wait in the TAP's queue while the
 * port is paused, as at any slow NIC.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "vmm.h"

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

/* A TAP device called name, non-blocking, without packet info, with a
 * 12-byte virtio-net header before every frame and checksum and TCP
 * segmentation offload on, and persistent: it outlives this descriptor,
 * so a vmm that dies leaves the guest its interface, addresses and
 * routes, and the next one attaches to it again.  fd or -errno. */
static int netdev_tap(const char *name)
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
	int hdr = VSW_VNET_HDR;
	unsigned offload = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, offload) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int netdev_set_mac(const char *name, const uint8_t mac[6])
{
	struct ifreq ifr;
	int err = ifreq_for(name, &ifr);
	if (err)
		return err;
	ifr.ifr_hwaddr.sa_family = 1; /* ARPHRD_ETHER */
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	return sock_ioctl(AF_INET, SIOCSIFHWADDR, &ifr);
}

static int netdev_set_ip4(const char *name, uint32_t ip4, unsigned prefix)
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

static int netdev_set_ip6(const char *name, const uint8_t ip6[16], unsigned prefix)
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

/* ---- the port ----------------------------------------------------------------- */

static ssize_t tap_recv(struct port *p, uint8_t *buf, size_t cap)
{
	ssize_t r = read(p->fd, buf, cap);
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	return r;
}

static int tap_send(struct port *p, const uint8_t *f, size_t len)
{
	ssize_t w = write(p->fd, f, len);
	if (w == (ssize_t)len)
		return 0;
	/* the kernel took part of it, or nothing: either way it is lost,
	 * and a TAP that says EAGAIN will not say "room" later */
	return w < 0 && errno != EAGAIN ? -errno : -EIO;
}

static int tap_sendv(struct port *p, const struct iovec *iov, int n, size_t len)
{
	ssize_t w = writev(p->fd, iov, n);
	if (w == (ssize_t)len)
		return 0;
	return w < 0 && errno != EAGAIN ? -errno : -EIO;
}

static void tap_pause(struct port *p, bool pause)
{
	struct epoll_event ev = { .events = pause ? 0 : EPOLLIN, .data.u64 = EV(EV_PORT, p->index, 0) };
	epoll_ctl(p->epfd, EPOLL_CTL_MOD, p->fd, &ev);
	p->paused = pause;
}

static unsigned tap_event(struct port *p, unsigned sub, uint32_t events)
{
	(void)p;
	(void)sub;
	/* the guest deleted its interface (or the TAP failed) */
	if (events & (EPOLLERR | EPOLLHUP))
		return PORT_EV_GONE;
	return events & EPOLLIN ? PORT_EV_FRAMES : 0;
}

static void tap_close(struct port *p)
{
	epoll_ctl(p->epfd, EPOLL_CTL_DEL, p->fd, NULL);
	close(p->fd);
	p->fd = -1;
	p->ops = NULL;
	__atomic_store_n(&p->st->port_state, VMM_PORT_GONE, __ATOMIC_RELAXED);
}

static const struct port_ops tap_ops = {
	.kind = "tap",
	.recv = tap_recv,
	.send = tap_send,
	.sendv = tap_sendv,
	.pause = tap_pause,
	.event = tap_event,
	.close = tap_close,
	.flush = NULL,
};

/* A new TAP gets the lab's MAC and addresses, and is brought up. */
static int tap_configure(const struct lab_iface *li, const char **what)
{
	int err;
	if ((*what = "set MAC of", err = netdev_set_mac(li->name, li->mac)))
		return err;
	if (li->has_ip4 && (*what = "set IPv4 address of",
			    err = netdev_set_ip4(li->name, li->ip4, li->prefix4)))
		return err;
	if ((*what = "bring up", err = netdev_up(li->name)))
		return err;
	if (li->has_ip6)
		*what = "set IPv6 address of", err = netdev_set_ip6(li->name, li->ip6, li->prefix6);
	return err;
}

int tap_port_open(struct port *p, const struct lab_iface *li, int epfd, unsigned index,
		  const char **what)
{
	/* a TAP that exists is the one our predecessor made (nothing else in
	 * the guest's namespace made one of that name before us: its first
	 * vmm creates every interface before the guest runs anything), and
	 * the guest may have changed it since: attach, configure nothing */
	bool again = if_nametoindex(li->name) != 0;
	*what = again ? "attach to TAP" : "create TAP";
	int fd = netdev_tap(li->name);
	if (fd < 0)
		return fd;
	int err = again ? 0 : tap_configure(li, what);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV(EV_PORT, index, 0) };
	if (!err && epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		*what = "watch", err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	struct vmm_if_stats *st = p->st;
	*p = (struct port){ .ops = &tap_ops, .epfd = epfd, .index = index, .fd = fd, .st = st };
	__atomic_store_n(&st->port_state, VMM_PORT_UP, __ATOMIC_RELAXED);
	return 0;
}
