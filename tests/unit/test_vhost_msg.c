/* Unit tests for lib/vhost's wire format: headers, every request's payload
 * size, fd counts, replies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vhost.h"

static uint8_t buf[VHOST_MSG_MAX + 64];

/* Build a message in buf: header then size bytes of payload. */
static size_t mk(uint32_t req, uint32_t flags, const void *payload, uint32_t size)
{
	memcpy(buf, &req, 4);
	memcpy(buf + 4, &flags, 4);
	memcpy(buf + 8, &size, 4);
	if (size)
		memcpy(buf + VHOST_HDR_SIZE, payload, size);
	return VHOST_HDR_SIZE + size;
}

static int parse(uint32_t req, const void *payload, uint32_t size, const int *fds, unsigned nfds,
		 struct vhost_msg *m)
{
	size_t len = mk(req, VHOST_VERSION, payload, size);
	return vhost_msg_parse(buf, len, fds, nfds, m);
}

static const uint8_t zeros[VHOST_PAYLOAD_MAX];

/* ---- header ------------------------------------------------------------- */

static void test_header(void **state)
{
	(void)state;
	struct vhost_msg m;
	uint32_t plen = 99;
	mk(VHOST_USER_GET_FEATURES, 1, NULL, 0);
	assert_int_equal(vhost_msg_header(buf, VHOST_HDR_SIZE, &plen, &m), 0);
	assert_int_equal(plen, 0);
	assert_int_equal(vhost_msg_header(buf, VHOST_HDR_SIZE - 1, &plen, &m), -EPROTO);
	assert_int_equal(vhost_msg_header(NULL, 0, &plen, NULL), -EPROTO);
	/* version 0, 2 and 3 */
	for (uint32_t v = 0; v < 4; v++) {
		mk(VHOST_USER_GET_FEATURES, v, NULL, 0);
		assert_int_equal(vhost_msg_header(buf, VHOST_HDR_SIZE, &plen, &m), v == 1 ? 0 : -EPROTO);
	}
	assert_non_null(strstr(m.why, "version 3"));
	/* a request never has the reply bit; need_reply is fine */
	mk(VHOST_USER_SET_OWNER, 1 | VHOST_FLAG_REPLY, NULL, 0);
	assert_int_equal(vhost_msg_header(buf, VHOST_HDR_SIZE, &plen, &m), -EPROTO);
	mk(VHOST_USER_SET_OWNER, 1 | VHOST_FLAG_NEED_REPLY, NULL, 0);
	assert_int_equal(vhost_msg_header(buf, VHOST_HDR_SIZE, &plen, &m), 0);
	mk(VHOST_USER_SET_OWNER, 1 | (1u << 4), NULL, 0);
	assert_int_equal(vhost_msg_header(buf, VHOST_HDR_SIZE, &plen, &m), -EPROTO);
	mk(VHOST_USER_SET_OWNER, 1 | (1u << 31), NULL, 0);
	assert_int_equal(vhost_msg_header(buf, VHOST_HDR_SIZE, &plen, &m), -EPROTO);
	/* payload bound */
	uint32_t big = VHOST_PAYLOAD_MAX + 1;
	memcpy(buf + 8, &big, 4);
	assert_int_equal(vhost_msg_header(buf, VHOST_HDR_SIZE, &plen, &m), -EPROTO);
	assert_non_null(strstr(m.why, "SET_OWNER"));
	big = UINT32_MAX;
	memcpy(buf + 8, &big, 4);
	assert_int_equal(vhost_msg_header(buf, VHOST_HDR_SIZE, &plen, &m), -EPROTO);
}

static void test_length_mismatch(void **state)
{
	(void)state;
	struct vhost_msg m;
	uint64_t v = 1;
	size_t len = mk(VHOST_USER_SET_FEATURES, 1, &v, 8);
	assert_int_equal(vhost_msg_parse(buf, len, NULL, 0, &m), 0);
	assert_int_equal(m.p.u64, 1);
	assert_int_equal(vhost_msg_parse(buf, len - 1, NULL, 0, &m), -EPROTO);
	assert_int_equal(vhost_msg_parse(buf, len + 1, NULL, 0, &m), -EPROTO);
	assert_int_equal(vhost_msg_parse(buf, 5, NULL, 0, &m), -EPROTO);
}

/* ---- every request's size ----------------------------------------------- */

static void test_sizes(void **state)
{
	(void)state;
	static const struct {
		uint32_t req, size;
	} t[] = {
		{ VHOST_USER_GET_FEATURES, 0 },       { VHOST_USER_SET_FEATURES, 8 },
		{ VHOST_USER_SET_OWNER, 0 },          { VHOST_USER_RESET_OWNER, 0 },
		{ VHOST_USER_SET_VRING_NUM, 8 },      { VHOST_USER_SET_VRING_ADDR, 40 },
		{ VHOST_USER_SET_VRING_BASE, 8 },     { VHOST_USER_GET_VRING_BASE, 8 },
		{ VHOST_USER_SET_VRING_CALL, 8 },     { VHOST_USER_SET_VRING_ERR, 8 },
		{ VHOST_USER_GET_PROTOCOL_FEATURES, 0 }, { VHOST_USER_SET_PROTOCOL_FEATURES, 8 },
		{ VHOST_USER_GET_QUEUE_NUM, 0 },      { VHOST_USER_SET_VRING_ENABLE, 8 },
	};
	struct vhost_msg m;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		/* CALL/ERR: the no-fd bit, so no fd is needed */
		uint8_t p[64] = { 0 };
		if (t[i].req == VHOST_USER_SET_VRING_CALL || t[i].req == VHOST_USER_SET_VRING_ERR)
			p[1] = 1;
		assert_int_equal(parse(t[i].req, p, t[i].size, NULL, 0, &m), 0);
		assert_int_equal(m.request, t[i].req);
		assert_int_equal(m.size, t[i].size);
		assert_int_equal(parse(t[i].req, p, t[i].size + 1, NULL, 0, &m), -EPROTO);
		assert_non_null(strstr(m.why, vhost_request_name(t[i].req)));
		if (t[i].size) {
			assert_int_equal(parse(t[i].req, p, t[i].size - 1, NULL, 0, &m), -EPROTO);
			assert_int_equal(parse(t[i].req, p, 0, NULL, 0, &m), -EPROTO);
		}
		assert_int_equal(parse(t[i].req, p, 48, NULL, 0, &m), -EPROTO);
	}
	/* requests we refuse are read whole, any size up to the bound */
	assert_int_equal(parse(VHOST_USER_GET_CONFIG, zeros, 268, NULL, 0, &m), 0);
	assert_int_equal(parse(99, zeros, VHOST_PAYLOAD_MAX, NULL, 0, &m), 0);
	assert_string_equal(vhost_request_name(99), "unknown");
	assert_string_equal(vhost_request_name(0), "unknown");
	assert_string_equal(vhost_request_name(VHOST_USER_SET_MEM_TABLE), "SET_MEM_TABLE");
}

static void test_decode(void **state)
{
	(void)state;
	struct vhost_msg m;
	uint32_t st[2] = { 1, 256 };
	assert_int_equal(parse(VHOST_USER_SET_VRING_NUM, st, 8, NULL, 0, &m), 0);
	assert_int_equal(m.p.state.index, 1);
	assert_int_equal(m.p.state.num, 256);
	uint8_t a[40];
	uint32_t idx = 1, fl = 0;
	uint64_t desc = 0x1000, used = 0x3000, avail = 0x2000, log = 0x4000;
	memcpy(a, &idx, 4);
	memcpy(a + 4, &fl, 4);
	memcpy(a + 8, &desc, 8);
	memcpy(a + 16, &used, 8);
	memcpy(a + 24, &avail, 8);
	memcpy(a + 32, &log, 8);
	assert_int_equal(parse(VHOST_USER_SET_VRING_ADDR, a, 40, NULL, 0, &m), 0);
	assert_int_equal(m.p.addr.index, 1);
	assert_int_equal(m.p.addr.desc, 0x1000);
	assert_int_equal(m.p.addr.used, 0x3000);
	assert_int_equal(m.p.addr.avail, 0x2000);
	assert_int_equal(m.p.addr.log, 0x4000);
}

/* ---- fds ------------------------------------------------------------------ */

static void test_vring_fds(void **state)
{
	(void)state;
	struct vhost_msg m;
	int fds[VHOST_FDS_MAX + 1] = { 10, 11, 12, 13, 14, 15, 16, 17, 18 };
	static const uint32_t reqs[] = { VHOST_USER_SET_VRING_KICK, VHOST_USER_SET_VRING_CALL,
					 VHOST_USER_SET_VRING_ERR };
	for (size_t i = 0; i < 3; i++) {
		uint64_t v = 1;
		assert_int_equal(parse(reqs[i], &v, 8, fds, 1, &m), 0);
		assert_int_equal(m.nfds, 1);
		assert_int_equal(m.fds[0], 10);
		/* missing, extra */
		assert_int_equal(parse(reqs[i], &v, 8, NULL, 0, &m), -EPROTO);
		assert_non_null(strstr(m.why, "0 fds, expected 1"));
		assert_int_equal(m.nfds, 0);
		assert_int_equal(parse(reqs[i], &v, 8, fds, 2, &m), -EPROTO);
		/* the invalid-fd bit: no fd allowed */
		v = 1 | VHOST_VRING_NOFD;
		assert_int_equal(parse(reqs[i], &v, 8, NULL, 0, &m), 0);
		assert_int_equal(parse(reqs[i], &v, 8, fds, 1, &m), -EPROTO);
		assert_non_null(strstr(m.why, "1 fds, expected 0"));
		/* reserved bits */
		v = 1u << 9;
		assert_int_equal(parse(reqs[i], &v, 8, fds, 1, &m), -EPROTO);
		v = 1ull << 63;
		assert_int_equal(parse(reqs[i], &v, 8, fds, 1, &m), -EPROTO);
	}
	/* no other request we serve carries fds */
	assert_int_equal(parse(VHOST_USER_GET_FEATURES, NULL, 0, fds, 1, &m), -EPROTO);
	assert_int_equal(parse(VHOST_USER_SET_OWNER, NULL, 0, fds, 1, &m), -EPROTO);
	uint32_t st[2] = { 0, 0 };
	assert_int_equal(parse(VHOST_USER_SET_VRING_BASE, st, 8, fds, 1, &m), -EPROTO);
	/* more than the bound, and negative numbers */
	uint64_t v = 0;
	assert_int_equal(parse(VHOST_USER_SET_LOG_FD, NULL, 0, fds, VHOST_FDS_MAX + 1, &m), -EPROTO);
	int bad = -1;
	assert_int_equal(parse(VHOST_USER_SET_VRING_KICK, &v, 8, &bad, 1, &m), -EPROTO);
	/* a refused request keeps its fds, for the device to close */
	assert_int_equal(parse(VHOST_USER_SET_LOG_FD, NULL, 0, fds, 1, &m), 0);
	assert_int_equal(m.nfds, 1);
}

static size_t mem_payload(uint8_t *p, uint32_t n, uint32_t claim)
{
	memset(p, 0, 8 + 32 * VHOST_MEMORY_MAX_NREGIONS + 32);
	memcpy(p, &claim, 4);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t r[4] = { 0x100000ull * i, 0x1000, 0x7f0000000000ull + 0x100000ull * i, 0 };
		memcpy(p + 8 + 32 * i, r, 32);
	}
	return 8 + 32 * n;
}

static void test_mem_table_fds(void **state)
{
	(void)state;
	struct vhost_msg m;
	uint8_t p[8 + 32 * 10];
	int fds[VHOST_FDS_MAX + 1] = { 20, 21, 22, 23, 24, 25, 26, 27, 28 };
	for (uint32_t n = 1; n <= VHOST_MEMORY_MAX_NREGIONS; n++) {
		size_t size = mem_payload(p, n, n);
		assert_int_equal(parse(VHOST_USER_SET_MEM_TABLE, p, size, fds, n, &m), 0);
		assert_int_equal(m.p.mem.nregions, n);
		assert_int_equal(m.nfds, n);
		assert_int_equal(m.p.mem.region[n - 1].gpa, 0x100000ull * (n - 1));
		assert_int_equal(m.fd_size[0], 0);   /* the caller's to fill */
		assert_int_equal(parse(VHOST_USER_SET_MEM_TABLE, p, size, fds, n - 1, &m), -EPROTO);
		assert_int_equal(parse(VHOST_USER_SET_MEM_TABLE, p, size, fds, n + 1, &m), -EPROTO);
	}
	/* no region, too many, a size that disagrees with the count */
	size_t size = mem_payload(p, 0, 0);
	assert_int_equal(parse(VHOST_USER_SET_MEM_TABLE, p, size, NULL, 0, &m), -EPROTO);
	size = mem_payload(p, 9, 9);
	assert_int_equal(parse(VHOST_USER_SET_MEM_TABLE, p, size, fds, 8, &m), -EPROTO);
	assert_non_null(strstr(m.why, "9 regions"));
	size = mem_payload(p, 2, 3);
	assert_int_equal(parse(VHOST_USER_SET_MEM_TABLE, p, size, fds, 3, &m), -EPROTO);
	size = mem_payload(p, 3, 2);
	assert_int_equal(parse(VHOST_USER_SET_MEM_TABLE, p, size, fds, 2, &m), -EPROTO);
	/* the full 8-region struct with one region in use is not QEMU's format */
	mem_payload(p, 1, 1);
	assert_int_equal(parse(VHOST_USER_SET_MEM_TABLE, p, 8 + 32 * 8, fds, 1, &m), -EPROTO);
	assert_int_equal(parse(VHOST_USER_SET_MEM_TABLE, p, 4, fds, 1, &m), -EPROTO);
}

/* ---- replies -------------------------------------------------------------- */

static void test_replies(void **state)
{
	(void)state;
	struct vhost_reply r;
	vhost_reply_u64(&r, VHOST_USER_GET_FEATURES, 0x1122334455667788ull);
	assert_true(r.send);
	assert_int_equal(r.len, 20);
	uint32_t h[3];
	uint64_t v;
	memcpy(h, r.bytes, 12);
	memcpy(&v, r.bytes + 12, 8);
	assert_int_equal(h[0], VHOST_USER_GET_FEATURES);
	assert_int_equal(h[1], VHOST_VERSION | VHOST_FLAG_REPLY);
	assert_int_equal(h[2], 8);
	assert_int_equal(v, 0x1122334455667788ull);
	vhost_reply_state(&r, VHOST_USER_GET_VRING_BASE, 1, 0x1234);
	uint32_t s[2];
	memcpy(h, r.bytes, 12);
	memcpy(s, r.bytes + 12, 8);
	assert_int_equal(h[0], VHOST_USER_GET_VRING_BASE);
	assert_int_equal(h[2], 8);
	assert_int_equal(s[0], 1);
	assert_int_equal(s[1], 0x1234);
	/* a reply parses as a message except for its reply bit */
	struct vhost_msg m;
	assert_int_equal(vhost_msg_parse(r.bytes, r.len, NULL, 0, &m), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_length_mismatch),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_vring_fds),
		cmocka_unit_test(test_mem_table_fds),
		cmocka_unit_test(test_replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
