/* SPDX-License-Identifier: MIT */
#include "vmm_stats.h"

#include "virtqueue.h"

const char *vmm_link_state_name(uint64_t state)
{
	static const char *const names[VMM_LINK_STATES] = {
		[VMM_LINK_OK] = "ok", [VMM_LINK_FULL] = "full",
		[VMM_LINK_STALLED] = "stalled", [VMM_LINK_BROKEN] = "broken",
		[VMM_LINK_RESETTING] = "resetting",
	};
	return state < VMM_LINK_STATES ? names[state] : NULL;
}

const char *vmm_link_error_name(int64_t error)
{
	if (error == 0)
		return NULL;
	/* only the peer-violation codes a vmm records; anything else (INT_MIN,
	 * a positive number, a value past int) is the writer's lie */
	if (error > -VQ_EBASE || error <= -VQ_ELAST)
		return "invalid error value";
	return vq_strerror((int)error);
}

const char *vmm_port_state_name(uint64_t state)
{
	static const char *const names[VMM_PORT_STATES] = {
		[VMM_PORT_NONE] = "none", [VMM_PORT_UP] = "up", [VMM_PORT_GONE] = "gone",
		[VMM_PORT_WAITING] = "waiting", [VMM_PORT_CONNECTED] = "negotiating",
		[VMM_PORT_RUNNING] = "running", [VMM_PORT_BROKEN] = "broken",
	};
	return state < VMM_PORT_STATES ? names[state] : NULL;
}
