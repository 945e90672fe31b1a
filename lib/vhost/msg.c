/* SPDX-License-Identifier: MIT */
/*
 * msg.c - vhost-user wire format: header and payload checks, fd counts,
 * replies.  The bytes come from a front-end we do not trust: every field is
 * copied out with memcpy (the buffer need not be aligned) and checked before
 * it is stored in the message.
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void vhost_why(char *why, size_t len, const char *fmt, ...)
{
	if (!why || len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

const char *vhost_request_name(uint32_t request)
{
	static const char *const name[VHOST_USER_REQUEST_MAX] = {
		[VHOST_USER_GET_FEATURES] = "GET_FEATURES",
		[VHOST_USER_SET_FEATURES] = "SET_FEATURES",
		[VHOST_USER_SET_OWNER] = "SET_OWNER",
		[VHOST_USER_RESET_OWNER] = "RESET_OWNER",
		[VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
		[VHOST_USER_SET_LOG_BASE] = "SET_LOG_BASE",
		[VHOST_USER_SET_LOG_FD] = "SET_LOG_FD",
		[VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
		[VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
		[VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
		[VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
		[VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
		[VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
		[VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
		[VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
		[VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
		[VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
		[VHOST_USER_SEND_RARP] = "SEND_RARP",
		[VHOST_USER_NET_SET_MTU] = "NET_SET_MTU",
		[VHOST_USER_SET_SLAVE_REQ_FD] = "SET_SLAVE_REQ_FD",
		[VHOST_USER_IOTLB_MSG] = "IOTLB_MSG",
		[VHOST_USER_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
		[VHOST_USER_GET_CONFIG] = "GET_CONFIG",
		[VHOST_USER_SET_CONFIG] = "SET_CONFIG",
		[VHOST_USER_CREATE_CRYPTO_SESSION] = "CREATE_CRYPTO_SESSION",
		[VHOST_USER_CLOSE_CRYPTO_SESSION] = "CLOSE_CRYPTO_SESSION",
		[VHOST_USER_POSTCOPY_ADVISE] = "POSTCOPY_ADVISE",
		[VHOST_USER_POSTCOPY_LISTEN] = "POSTCOPY_LISTEN",
		[VHOST_USER_POSTCOPY_END] = "POSTCOPY_END",
		[VHOST_USER_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
		[VHOST_USER_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
		[VHOST_USER_GPU_SET_SOCKET] = "GPU_SET_SOCKET",
		[VHOST_USER_RESET_DEVICE] = "RESET_DEVICE",
		[VHOST_USER_VRING_KICK] = "VRING_KICK",
		[VHOST_USER_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
		[VHOST_USER_ADD_MEM_REG] = "ADD_MEM_REG",
		[VHOST_USER_REM_MEM_REG] = "REM_MEM_REG",
		[VHOST_USER_SET_STATUS] = "SET_STATUS",
		[VHOST_USER_GET_STATUS] = "GET_STATUS",
	};
	if (request < VHOST_USER_REQUEST_MAX && name[request])
		return name[request];
	return "unknown";
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static char *why_of(struct vhost_msg *msg)
{
	return msg ? msg->why : NULL;
}

int vhost_msg_header(const uint8_t *hdr, size_t len, uint32_t *payload_len,
		     struct vhost_msg *msg)
{
	if (!hdr || len < VHOST_HDR_SIZE) {
		vhost_why(why_of(msg), VHOST_WHY_MAX, "message of %zu bytes is shorter than a header",
			  hdr ? len : 0);
		return -EPROTO;
	}
	uint32_t request = get32(hdr), flags = get32(hdr + 4), size = get32(hdr + 8);
	const char *name = vhost_request_name(request);
	if ((flags & VHOST_FLAG_VERSION_MASK) != VHOST_VERSION) {
		vhost_why(why_of(msg), VHOST_WHY_MAX, "%s (%u): protocol version %u, not %u", name,
			  request, flags & VHOST_FLAG_VERSION_MASK, VHOST_VERSION);
		return -EPROTO;
	}
	/* a front-end's request never carries the reply bit; any other bit
	 * is one no version of the protocol defines */
	if (flags & ~(VHOST_FLAG_VERSION_MASK | VHOST_FLAG_NEED_REPLY)) {
		vhost_why(why_of(msg), VHOST_WHY_MAX, "%s (%u): flags %#x: unknown or reply bits set",
			  name, request, flags);
		return -EPROTO;
	}
	if (size > VHOST_PAYLOAD_MAX) {
		vhost_why(why_of(msg), VHOST_WHY_MAX, "%s (%u): payload of %u bytes, more than %u", name,
			  request, size, VHOST_PAYLOAD_MAX);
		return -EPROTO;
	}
	if (payload_len)
		*payload_len = size;
	return 0;
}

/* The payload size a request we implement must have: exact, or -1 for a
 * memory table (which depends on its region count), or -2 for requests we
 * refuse anyway (any size up to VHOST_PAYLOAD_MAX). */
static int want_size(uint32_t request)
{
	switch (request) {
	case VHOST_USER_GET_FEATURES:
	case VHOST_USER_SET_OWNER:
	case VHOST_USER_RESET_OWNER:
	case VHOST_USER_GET_PROTOCOL_FEATURES:
	case VHOST_USER_GET_QUEUE_NUM:
		return 0;
	case VHOST_USER_SET_FEATURES:
	case VHOST_USER_SET_PROTOCOL_FEATURES:
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		return 8;
	case VHOST_USER_SET_VRING_NUM:
	case VHOST_USER_SET_VRING_BASE:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_SET_VRING_ENABLE:
		return (int)sizeof(struct vhost_vring_state);
	case VHOST_USER_SET_VRING_ADDR:
		return 40;
	case VHOST_USER_SET_MEM_TABLE:
		return -1;
	default:
		return -2;
	}
}

int vhost_msg_parse(const uint8_t *bytes, size_t len, const int *fds,
		    unsigned nfds, struct vhost_msg *msg)
{
	if (!msg)
		return -EINVAL;
	memset(msg, 0, sizeof(*msg));
	uint32_t size;
	int err = vhost_msg_header(bytes, len, &size, msg);
	if (err)
		return err;
	msg->request = get32(bytes);
	msg->flags = get32(bytes + 4);
	msg->size = size;
	const char *name = vhost_request_name(msg->request);
	const uint8_t *p = bytes + VHOST_HDR_SIZE;

	if (len != VHOST_HDR_SIZE + (size_t)size) {
		vhost_why(msg->why, sizeof(msg->why), "%s: %zu bytes for a %u-byte payload", name,
			  len, size);
		goto bad;
	}
	if (nfds > VHOST_FDS_MAX || (nfds && !fds)) {
		vhost_why(msg->why, sizeof(msg->why), "%s: %u fds, more than %u", name, nfds,
			  VHOST_FDS_MAX);
		goto bad;
	}
	for (unsigned i = 0; i < nfds; i++)
		if (fds[i] < 0) {
			vhost_why(msg->why, sizeof(msg->why), "%s: fd %d is not a descriptor", name,
				  fds[i]);
			goto bad;
		}

	int want = want_size(msg->request);
	unsigned want_fds = 0;
	if (want >= 0 && size != (unsigned)want) {
		vhost_why(msg->why, sizeof(msg->why), "%s: payload of %u bytes, not %d", name, size,
			  want);
		goto bad;
	}
	switch (msg->request) {
	case VHOST_USER_SET_FEATURES:
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		msg->p.u64 = get64(p);
		break;
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		msg->p.u64 = get64(p);
		if (msg->p.u64 & ~(uint64_t)(VHOST_VRING_IDX_MASK | VHOST_VRING_NOFD)) {
			vhost_why(msg->why, sizeof(msg->why), "%s: reserved bits set in %#llx",
				  name, (unsigned long long)msg->p.u64);
			goto bad;
		}
		want_fds = (msg->p.u64 & VHOST_VRING_NOFD) ? 0 : 1;
		break;
	case VHOST_USER_SET_VRING_NUM:
	case VHOST_USER_SET_VRING_BASE:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_SET_VRING_ENABLE:
		msg->p.state.index = get32(p);
		msg->p.state.num = get32(p + 4);
		break;
	case VHOST_USER_SET_VRING_ADDR:
		msg->p.addr.index = get32(p);
		msg->p.addr.flags = get32(p + 4);
		msg->p.addr.desc = get64(p + 8);
		msg->p.addr.used = get64(p + 16);
		msg->p.addr.avail = get64(p + 24);
		msg->p.addr.log = get64(p + 32);
		break;
	case VHOST_USER_SET_MEM_TABLE: {
		if (size < 8) {
			vhost_why(msg->why, sizeof(msg->why),
				  "%s: payload of %u bytes has no region count", name, size);
			goto bad;
		}
		uint32_t n = get32(p);
		if (n == 0 || n > VHOST_MEMORY_MAX_NREGIONS) {
			vhost_why(msg->why, sizeof(msg->why), "%s: %u regions, not 1 to %u", name,
				  n, VHOST_MEMORY_MAX_NREGIONS);
			goto bad;
		}
		/* QEMU sends exactly the regions it has, no trailing slack */
		if (size != 8 + 32 * n) {
			vhost_why(msg->why, sizeof(msg->why),
				  "%s: payload of %u bytes for %u regions, not %u", name, size, n,
				  8 + 32 * n);
			goto bad;
		}
		msg->p.mem.nregions = n;
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *r = p + 8 + 32 * i;
			msg->p.mem.region[i] = (struct vhost_mem_region){
				.gpa = get64(r), .size = get64(r + 8),
				.uva = get64(r + 16), .mmap_offset = get64(r + 24),
			};
		}
		want_fds = n;
		break;
	}
	default:
		/* a request without payload, or one the device refuses whatever
		 * it carries: take its fds, so the refusal can name them for
		 * closing */
		if (want == -2)
			want_fds = nfds;
		break;
	}
	if (nfds != want_fds) {
		vhost_why(msg->why, sizeof(msg->why), "%s: %u fds, expected %u", name, nfds,
			  want_fds);
		goto bad;
	}
	msg->nfds = nfds;
	for (unsigned i = 0; i < nfds; i++)
		msg->fds[i] = fds[i];
	return 0;
bad:
	/* the caller closes every fd it passed: none went into msg */
	msg->nfds = 0;
	return -EPROTO;
}

static void reply_hdr(struct vhost_reply *r, uint32_t request, uint32_t size)
{
	uint32_t flags = VHOST_VERSION | VHOST_FLAG_REPLY;
	memcpy(r->bytes, &request, 4);
	memcpy(r->bytes + 4, &flags, 4);
	memcpy(r->bytes + 8, &size, 4);
	r->len = VHOST_HDR_SIZE + size;
	r->send = true;
}

void vhost_reply_u64(struct vhost_reply *r, uint32_t request, uint64_t v)
{
	reply_hdr(r, request, 8);
	memcpy(r->bytes + VHOST_HDR_SIZE, &v, 8);
}

void vhost_reply_state(struct vhost_reply *r, uint32_t request, uint32_t index,
		       uint32_t num)
{
	reply_hdr(r, request, 8);
	memcpy(r->bytes + VHOST_HDR_SIZE, &index, 4);
	memcpy(r->bytes + VHOST_HDR_SIZE + 4, &num, 4);
}
