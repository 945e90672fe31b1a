/* SPDX-License-Identifier: MIT */
/*
 * vqnet-statspoke PID LINK FIELD VALUE: write VALUE into FIELD of the
 * LINK-th link counters of the running vmm PID's stats memory, as a
 * compromised vmm could (hardening #9: the supervisor must take any value).
 * FIELD is error (int64), state (uint32) or tx_frames (uint64); VALUE is
 * decimal, negative allowed.  Root only: the region is reached through
 * /proc/PID/map_files.  For tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm_stats.h"

/* The vmm closes the memfd once mapped: reach it through its mapping. */
static int open_stats(int pid)
{
	char path[640], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	FILE *f = fopen(path, "re");
	int fd = -1;
	while (f && fd < 0 && fgets(line, sizeof(line), f)) {
		if (!strstr(line, "/memfd:vqnet-stats"))
			continue;
		line[strcspn(line, " ")] = 0;   /* "start-end" */
		snprintf(path, sizeof(path), "/proc/%d/map_files/%s", pid, line);
		fd = open(path, O_RDWR | O_CLOEXEC);
	}
	if (f)
		fclose(f);
	return fd;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s PID LINK error|state|tx_frames VALUE\n", argv[0]);
		return 2;
	}
	int pid = atoi(argv[1]);
	unsigned link = (unsigned)atoi(argv[2]);
	int fd = open_stats(pid);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "%s: cannot open the stats of %d: %s\n", argv[0], pid, strerror(errno));
		return 1;
	}
	struct vmm_stats *s = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s == MAP_FAILED || link >= s->n_links ||
	    vmm_stats_bytes(s->n_ifaces, s->n_links, s->n_rules) > (size_t)st.st_size) {
		fprintf(stderr, "%s: no link %u in the stats of %d\n", argv[0], link, pid);
		return 1;
	}
	struct vmm_link_stats *l = vmm_stats_link(s, s->n_ifaces, link);
	long long v = strtoll(argv[4], NULL, 10);
	if (!strcmp(argv[3], "error"))
		__atomic_store_n(&l->error, (int64_t)v, __ATOMIC_RELAXED);
	else if (!strcmp(argv[3], "state"))
		__atomic_store_n(&l->state, (uint32_t)v, __ATOMIC_RELAXED);
	else if (!strcmp(argv[3], "tx_frames"))
		__atomic_store_n(&l->tx_frames, (uint64_t)strtoull(argv[4], NULL, 10), __ATOMIC_RELAXED);
	else
		return 2;
	return 0;
}
