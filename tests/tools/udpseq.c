/*
 * vqnet-udpseq: numbered UDP datagrams, to count exactly which ones a link
 * lost (tests/integration/faults.sh).
 *
 *   vqnet-udpseq send ADDR PORT COUNT GAP_US
 *       COUNT datagrams "1".."COUNT", GAP_US microseconds apart
 *   vqnet-udpseq recv PORT IDLE_MS
 *       prints the number in each datagram received, one per line, and
 *       exits IDLE_MS after the last one (or after 30 s with none)
 *   vqnet-udpseq join GROUP IFACE PORT IDLE_MS
 *       the same, for datagrams to an IPv6 multicast GROUP, joined on
 *       IFACE (so the guest's kernel reports it: tests/integration/scale.sh)
 *
 * ADDR is IPv4 or IPv6.  The receiver binds (and joins) before it says
 * "ready" on stderr, so a test can wait for that word instead of sleeping.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int die(const char *what)
{
	fprintf(stderr, "vqnet-udpseq: %s: %s\n", what, strerror(errno));
	return 1;
}

static long num(const char *s, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "vqnet-udpseq: bad number \"%s\" (%ld-%ld)\n", s, lo, hi);
		exit(2);
	}
	return v;
}

static int do_send(const char *addr, long port, long count, long gap_us)
{
	struct sockaddr_in to4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in6 to6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
	struct sockaddr *to = (struct sockaddr *)&to4;
	socklen_t to_len = sizeof(to4);
	if (inet_pton(AF_INET6, addr, &to6.sin6_addr) == 1) {
		to = (struct sockaddr *)&to6;
		to_len = sizeof(to6);
	} else if (inet_pton(AF_INET, addr, &to4.sin_addr) != 1) {
		fprintf(stderr, "vqnet-udpseq: bad address \"%s\"\n", addr);
		return 2;
	}
	int fd = socket(to->sa_family, SOCK_DGRAM, 0);
	if (fd < 0)
		return die("socket");
	for (long i = 1; i <= count; i++) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%ld", i);
		if (sendto(fd, buf, (size_t)n, 0, to, to_len) != n)
			return die("sendto");
		struct timespec gap = { gap_us / 1000000, (gap_us % 1000000) * 1000 };
		while (nanosleep(&gap, &gap) < 0 && errno == EINTR)
			;
	}
	close(fd);
	return 0;
}

/* A socket bound to PORT: IPv4, or IPv6 having joined group on iface. */
static int bound(long port, const char *group, const char *iface)
{
	int fd = socket(group ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return die("socket"), -1;
	/* Room for every datagram of a burst (faults.sh sends 500 in 0.1 s):
	 * the default buffer holds about 200 small ones, and a receiver not
	 * scheduled for 50 ms would lose the rest here, not on the link.
	 * FORCE passes rmem_max as root, as the tests run; else the most
	 * the system allows. */
	int rcvbuf = 4 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	struct sockaddr_in me4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in6 me6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
	if (!group)
		return bind(fd, (struct sockaddr *)&me4, sizeof(me4)) < 0 ? die("bind"), -1 : fd;
	struct ipv6_mreq mr = { .ipv6mr_interface = if_nametoindex(iface) };
	if (inet_pton(AF_INET6, group, &mr.ipv6mr_multiaddr) != 1 || !mr.ipv6mr_interface) {
		fprintf(stderr, "vqnet-udpseq: bad group \"%s\" or interface \"%s\"\n", group, iface);
		exit(2);
	}
	if (bind(fd, (struct sockaddr *)&me6, sizeof(me6)) < 0)
		return die("bind"), -1;
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof(mr)) < 0)
		return die("IPV6_JOIN_GROUP"), -1;
	return fd;
}

static int do_recv(long port, long idle_ms, const char *group, const char *iface)
{
	int fd = bound(port, group, iface);
	if (fd < 0)
		return 1;
	fprintf(stderr, "ready\n");
	int wait = 30000;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, wait);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return die("poll");
		if (r == 0)
			break;
		char buf[64];
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			return die("recv");
		buf[n] = 0;
		printf("%s\n", buf);
		wait = (int)idle_ms;
	}
	return fflush(stdout) ? die("stdout") : 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "send"))
		return do_send(argv[2], num(argv[3], 1, 65535), num(argv[4], 1, 1000000),
			       num(argv[5], 0, 1000000));
	if (argc == 4 && !strcmp(argv[1], "recv"))
		return do_recv(num(argv[2], 1, 65535), num(argv[3], 1, 60000), NULL, NULL);
	if (argc == 6 && !strcmp(argv[1], "join"))
		return do_recv(num(argv[4], 1, 65535), num(argv[5], 1, 60000), argv[2], argv[3]);
	fprintf(stderr, "usage: vqnet-udpseq send ADDR PORT COUNT GAP_US | recv PORT IDLE_MS"
			" | join GROUP IFACE PORT IDLE_MS\n");
	return 2;
}
