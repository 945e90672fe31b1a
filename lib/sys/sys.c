/* SPDX-License-Identifier: MIT */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int sys_memfd_sealed(const char *name, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int sys_memfd_text(const char *name, const void *data, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0 || pwrite(fd, data, len, 0) != (ssize_t)len ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		int err = errno ? -errno : -EIO;
		close(fd);
		return err;
	}
	return fd;
}

void *sys_map_sealed(int fd, size_t *len, int *err)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || fstat(fd, &st) < 0) {
		*err = -errno;
		return NULL;
	}
	if (!(seals & F_SEAL_SHRINK) || st.st_size <= 0) {
		*err = -EPERM;
		return NULL;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	*len = (size_t)st.st_size;
	*err = 0;
	return p;
}

int sys_bell(int bell[2])
{
	return pipe2(bell, O_NONBLOCK | O_CLOEXEC) < 0 ? -errno : 0;
}

int sys_ring(int fd)
{
	/* eight bytes: an eventfd's counter increment, or a pipe's "look" */
	uint64_t one = 1;
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

int sys_clear(int fd)
{
	/* bounded: a peer ringing without pause must not keep us here; what
	 * is left wakes us again */
	char buf[256];
	ssize_t n = 0;
	for (int i = 0; i < 16; i++)
		if ((n = read(fd, buf, sizeof(buf))) != (ssize_t)sizeof(buf))
			break;
	return n < 0 && errno != EAGAIN ? -errno : 0;
}

uint64_t sys_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
