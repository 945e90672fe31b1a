/* SPDX-License-Identifier: MIT */
/* zmq_samples_free_ports N [HOLD_S]: prints N distinct TCP ports of
 * 127.0.0.1 that were free a moment ago, one per line. The kernel picks them
 * (bind to port 0), all held at once so they differ, so tests running in
 * parallel do not collide; zmq_samples.sh retries the rare port taken in
 * between.
 *
 * With HOLD_S the ports stay bound, but not listening, for HOLD_S seconds
 * (or until the caller kills us): an address where nobody can answer, since
 * connections are refused and nobody else can bind it meanwhile. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#define PORTS_MAX 16

int main(int argc, char **argv)
{
	int fds[PORTS_MAX], n = argc >= 2 ? atoi(argv[1]) : 0, rc = 1;
	int hold = argc == 3 ? atoi(argv[2]) : 0, opened = 0;

	if (argc < 2 || argc > 3 || n < 1 || n > PORTS_MAX || hold < 0 ||
	    (argc == 3 && strspn(argv[2], "0123456789") != strlen(argv[2]))) {
		fprintf(stderr, "usage: %s N [HOLD_S] (N in 1..%d)\n", argv[0],
			PORTS_MAX);
		return 2;
	}
	for (int i = 0; i < n; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof sa;

		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0)
			goto out;
		opened++;
		if (bind(fds[i], (struct sockaddr *)&sa, sizeof sa) != 0 ||
		    getsockname(fds[i], (struct sockaddr *)&sa, &len) != 0)
			goto out;
		printf("%u\n", ntohs(sa.sin_port));
	}
	rc = 0;
	fflush(stdout);
	if (hold > 0)
		sleep((unsigned)hold);
out:
	if (rc)
		perror("zmq_samples_free_ports");
	while (opened-- > 0)
		close(fds[opened]);
	return rc;
}
