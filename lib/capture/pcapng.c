/* SPDX-License-Identifier: MIT */
/*
 * pcapng.c - the few pcapng blocks a capture needs: a section header, an
 * interface per captured point (nanosecond timestamps), enhanced packet
 * blocks with a direction, a comment and a drop count, and interface
 * statistics.  libpcap writes only pcap (one interface, no comments), so
 * these are built here; tests/integration/capture.sh reads them back with
 * tshark.  Every block is whole in buf or not written at all.
 */
#include "capture.h"

#include <string.h>

enum {
	BT_SHB = 0x0a0d0d0a, BT_IDB = 1, BT_ISB = 5, BT_EPB = 6,
	OPT_END = 0, OPT_COMMENT = 1,
	SHB_USERAPPL = 4,
	IF_NAME = 2, IF_DESCRIPTION = 3, IF_TSRESOL = 9,
	EPB_FLAGS = 2, EPB_DROPCOUNT = 4,
	ISB_IFRECV = 4, ISB_IFDROP = 5,
};

struct out {
	uint8_t *buf;
	size_t cap, len;
	bool over;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (!n)
		return;
	if (o->over || n > o->cap - o->len) {
		o->over = true;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void u16(struct out *o, uint16_t v) { put(o, &v, 2); }
static void u32(struct out *o, uint32_t v) { put(o, &v, 4); }
static void u64(struct out *o, uint64_t v) { put(o, &v, 8); }

static void pad4(struct out *o)
{
	static const uint8_t zero[4];
	put(o, zero, (4 - o->len % 4) % 4);
}

static void opt(struct out *o, uint16_t code, const void *v, size_t n)
{
	u16(o, code);
	u16(o, (uint16_t)n);
	put(o, v, n);
	pad4(o);
}

static void opt_str(struct out *o, uint16_t code, const char *s)
{
	if (s && *s)
		opt(o, code, s, strnlen(s, 255));
}

static void begin(struct out *o, uint8_t *buf, size_t cap, uint32_t type)
{
	*o = (struct out){ .buf = buf, .cap = cap };
	u32(o, type);
	u32(o, 0);   /* the length, once known */
}

static size_t end(struct out *o)
{
	u32(o, (uint32_t)o->len + 4);
	if (o->over)
		return 0;
	uint32_t len = (uint32_t)o->len;
	memcpy(o->buf + 4, &len, 4);
	return o->len;
}

size_t pcapng_shb(uint8_t *buf, size_t cap, const char *app)
{
	struct out o;
	begin(&o, buf, cap, BT_SHB);
	u32(&o, 0x1a2b3c4d);   /* byte order */
	u16(&o, 1);
	u16(&o, 0);
	u64(&o, UINT64_MAX);   /* section length: not given */
	opt_str(&o, SHB_USERAPPL, app);
	opt(&o, OPT_END, NULL, 0);
	return end(&o);
}

size_t pcapng_idb(uint8_t *buf, size_t cap, uint32_t snaplen, const char *name, const char *desc)
{
	struct out o;
	begin(&o, buf, cap, BT_IDB);
	u16(&o, PCAPNG_LINKTYPE_ETHERNET);
	u16(&o, 0);
	u32(&o, snaplen);
	opt_str(&o, IF_NAME, name);
	opt_str(&o, IF_DESCRIPTION, desc);
	uint8_t ns = 9;
	opt(&o, IF_TSRESOL, &ns, 1);
	opt(&o, OPT_END, NULL, 0);
	return end(&o);
}

size_t pcapng_epb(uint8_t *buf, size_t cap, uint32_t ifid, uint64_t ts_ns, const uint8_t *data,
		  uint32_t caplen, uint32_t origlen, unsigned flags, const char *comment,
		  uint64_t dropcount)
{
	struct out o;
	begin(&o, buf, cap, BT_EPB);
	u32(&o, ifid);
	u32(&o, (uint32_t)(ts_ns >> 32));
	u32(&o, (uint32_t)ts_ns);
	u32(&o, caplen);
	u32(&o, origlen);
	put(&o, data, caplen);
	pad4(&o);
	opt_str(&o, OPT_COMMENT, comment);
	uint32_t dir = flags & CAP_IN ? 1 : flags & CAP_OUT ? 2 : 0;
	if (dir)
		opt(&o, EPB_FLAGS, &dir, 4);
	if (dropcount)
		opt(&o, EPB_DROPCOUNT, &dropcount, 8);
	opt(&o, OPT_END, NULL, 0);
	return end(&o);
}

size_t pcapng_isb(uint8_t *buf, size_t cap, uint32_t ifid, uint64_t ts_ns, uint64_t recv,
		  uint64_t drop)
{
	struct out o;
	begin(&o, buf, cap, BT_ISB);
	u32(&o, ifid);
	u32(&o, (uint32_t)(ts_ns >> 32));
	u32(&o, (uint32_t)ts_ns);
	opt(&o, ISB_IFRECV, &recv, 8);
	opt(&o, ISB_IFDROP, &drop, 8);
	opt(&o, OPT_END, NULL, 0);
	return end(&o);
}
