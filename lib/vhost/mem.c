/* SPDX-License-Identifier: MIT */
/*
 * mem.c - the guest memory table: validation of SET_MEM_TABLE's regions
 * against the fds' sizes, and the two checked translations.  Ranges are
 * handled as [lo, lo + size - 1] so a region may end exactly at 2^64
 * without any sum wrapping.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

/* Does [lo, lo + size) wrap past 2^64?  (size > 0) */
static bool wraps(uint64_t lo, uint64_t size)
{
	return size - 1 > UINT64_MAX - lo;
}

static bool overlap(uint64_t a, uint64_t asize, uint64_t b, uint64_t bsize)
{
	return a <= b + (bsize - 1) && b <= a + (asize - 1);
}

int vhost_mem_build(struct vhost_mem *m, const struct vhost_mem_region *r,
		    unsigned n, const uint64_t *fd_size, unsigned nfds,
		    char *why, size_t why_len)
{
	if (!m)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	if (n == 0 || n > VHOST_MEMORY_MAX_NREGIONS || !r) {
		vhost_why(why, why_len, "memory table of %u regions, not 1 to %u", n,
			  VHOST_MEMORY_MAX_NREGIONS);
		return -EPROTO;
	}
	if (nfds != n || !fd_size) {
		vhost_why(why, why_len, "memory table of %u regions with %u fds", n, nfds);
		return -EPROTO;
	}
	uint64_t total = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct vhost_mem_region *g = &r[i];
		if (g->size == 0) {
			vhost_why(why, why_len, "region %u has size 0", i);
			return -EPROTO;
		}
		if (wraps(g->gpa, g->size)) {
			vhost_why(why, why_len, "region %u: guest address %#llx + size %#llx wraps",
				  i, (unsigned long long)g->gpa, (unsigned long long)g->size);
			return -EPROTO;
		}
		if (wraps(g->uva, g->size)) {
			vhost_why(why, why_len, "region %u: user address %#llx + size %#llx wraps",
				  i, (unsigned long long)g->uva, (unsigned long long)g->size);
			return -EPROTO;
		}
		if (g->mmap_offset > UINT64_MAX - g->size ||
		    g->mmap_offset + g->size > fd_size[i]) {
			vhost_why(why, why_len,
				  "region %u: offset %#llx + size %#llx is past the end of its fd (%#llx bytes)",
				  i, (unsigned long long)g->mmap_offset,
				  (unsigned long long)g->size, (unsigned long long)fd_size[i]);
			return -EPROTO;
		}
		uint64_t map_len = g->mmap_offset + g->size;
		if (map_len > SIZE_MAX || map_len > VHOST_MEM_MAX_BYTES - total) {
			vhost_why(why, why_len, "region %u: the table maps more than %#llx bytes", i,
				  (unsigned long long)VHOST_MEM_MAX_BYTES);
			return -EPROTO;
		}
		total += map_len;
		for (unsigned j = 0; j < i; j++) {
			if (overlap(g->gpa, g->size, r[j].gpa, r[j].size)) {
				vhost_why(why, why_len,
					  "region %u overlaps region %u in guest-physical space", i, j);
				return -EPROTO;
			}
			if (overlap(g->uva, g->size, r[j].uva, r[j].size)) {
				vhost_why(why, why_len, "region %u overlaps region %u in user space",
					  i, j);
				return -EPROTO;
			}
		}
	}
	for (unsigned i = 0; i < n; i++)
		m->r[i] = (struct vhost_mem_slot){
			.gpa = r[i].gpa, .size = r[i].size, .uva = r[i].uva,
			.offset = r[i].mmap_offset, .map_len = r[i].mmap_offset + r[i].size,
		};
	m->n = n;
	return 0;
}

int vhost_mem_set_base(struct vhost_mem *m, unsigned i, void *base)
{
	if (!m || i >= m->n || i >= VHOST_MEMORY_MAX_NREGIONS || !base)
		return -EINVAL;
	m->r[i].base = base;
	return 0;
}

bool vhost_mem_mapped(const struct vhost_mem *m)
{
	if (!m || m->n == 0 || m->n > VHOST_MEMORY_MAX_NREGIONS)
		return false;
	for (unsigned i = 0; i < m->n; i++)
		if (!m->r[i].base)
			return false;
	return true;
}

static void *xlate(const struct vhost_mem *m, bool user, uint64_t addr, uint64_t len)
{
	if (!m || len == 0)
		return NULL;
	unsigned n = m->n < VHOST_MEMORY_MAX_NREGIONS ? m->n : VHOST_MEMORY_MAX_NREGIONS;
	for (unsigned i = 0; i < n; i++) {
		const struct vhost_mem_slot *s = &m->r[i];
		uint64_t lo = user ? s->uva : s->gpa;
		if (addr < lo)
			continue;
		uint64_t off = addr - lo;
		/* regions do not overlap: a range that starts here and does not
		 * end here lies in no single region */
		if (off >= s->size)
			continue;
		if (len > s->size - off || !s->base)
			return NULL;
		return s->base + s->offset + off;
	}
	return NULL;
}

void *vhost_gpa_to_ptr(const struct vhost_mem *m, uint64_t gpa, uint64_t len)
{
	return xlate(m, false, gpa, len);
}

void *vhost_uva_to_ptr(const struct vhost_mem *m, uint64_t uva, uint64_t len)
{
	return xlate(m, true, uva, len);
}
