/* SPDX-License-Identifier: MIT */
#include "vmm_stats.h"

#include "virtqueue.h"

const char *vmm_link_state_name(uint64_t state)
{
	static const char *const names[VMM_LINK_STATES] = {
		[VMM_LINK_OK] = "ok", [VMM_LINK_FULL] = "full",
		[VMM_LINK_STALLED] = "stalled", [VMM_LINK_BROKEN] = "broken",
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
