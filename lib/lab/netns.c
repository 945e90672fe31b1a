/* SPDX-License-Identifier: MIT */
/*
 * netns.c - a guest's network namespace: "<lab>.<guest>".  Names never hold
 * a '.', so the mapping is one-to-one by construction ("<lab>-<guest>" was
 * not: lab a with guest b-c and lab a-b with guest c were both a-b-c).
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool lab_name_valid(const char *name)
{
	return name && lp_name_ok(name, strnlen(name, LAB_NAME_MAX + 1));
}

int lab_netns_name2(const char *lab, const char *guest, char *buf, size_t len)
{
	if (!lab_name_valid(lab) || !lab_name_valid(guest) || !buf)
		return -EINVAL;
	int n = snprintf(buf, len, "%s.%s", lab, guest);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

int lab_netns_name(const struct lab *lab, unsigned node, char *buf, size_t len)
{
	if (!lab || node >= lab->n_nodes || !buf)
		return -EINVAL;
	if (lab->nodes[node].kind != LAB_GUEST)
		return -ENOENT;         /* a filter or a switch runs in no namespace */
	return lab_netns_name2(lab->name, lab->nodes[node].name, buf, len);
}

int lab_netns_split(const char *netns, char lab[LAB_NAME_MAX + 1],
		    char guest[LAB_NAME_MAX + 1])
{
	const char *dot = netns ? strchr(netns, '.') : NULL;
	if (!dot)
		return -EINVAL;
	size_t l = (size_t)(dot - netns), g = strnlen(dot + 1, LAB_NAME_MAX + 1);
	if (!lp_name_ok(netns, l) || !lp_name_ok(dot + 1, g))
		return -EINVAL;         /* a second '.' is not a name character */
	memcpy(lab, netns, l);
	lab[l] = '\0';
	memcpy(guest, dot + 1, g + 1);
	return 0;
}
