/* SPDX-License-Identifier: MIT */
/* view.c - lookups and the switching view over a parsed lab. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

const char *lp_node_name(const void *lab, unsigned i)
{
	return ((const struct lab *)lab)->nodes[i].name;
}

int lp_node_find(const struct lab *lab, const char *s, size_t len)
{
	if (lab->node_names.cap)
		return lp_names_find(&lab->node_names, s, len, lp_node_name, lab);
	for (unsigned i = 0; i < lab->n_nodes; i++)
		if (!strncmp(lab->nodes[i].name, s, len) && !lab->nodes[i].name[len])
			return (int)i;
	return -ENOENT;
}

int lab_node_find(const struct lab *lab, const char *name)
{
	if (!lab || !name)
		return -ENOENT;
	return lp_node_find(lab, name, strlen(name));
}

const char *lab_kind_name(enum lab_node_kind kind)
{
	return kind == LAB_GUEST ? "guest" : kind == LAB_FILTER ? "filter" : "switch";
}

int lab_topology_find(const struct lab *lab, const char *name)
{
	for (unsigned i = 0; lab && name && i < lab->n_topologies; i++)
		if (!strcmp(lab->topologies[i].name, name))
			return (int)i;
	return -ENOENT;
}

int lab_scenario_find(const struct lab *lab, const char *name)
{
	for (unsigned i = 0; lab && name && i < lab->n_scenarios; i++)
		if (!strcmp(lab->scenarios[i].name, name))
			return (int)i;
	return -ENOENT;
}

int lab_first_guest(const struct lab *lab)
{
	for (unsigned i = 0; lab && i < lab->n_nodes; i++)
		if (lab->nodes[i].kind == LAB_GUEST)
			return (int)i;
	return -ENOENT;
}

int lab_iface_find(const struct lab_node *node, unsigned topology)
{
	for (unsigned i = 0; node && i < node->n_ifaces; i++)
		if (node->ifaces[i].topology == topology)
			return (int)i;
	return -ENOENT;
}

int lab_guest_ip4(const struct lab *lab, unsigned node, uint32_t *ip4)
{
	if (!lab || node >= lab->n_nodes || !ip4)
		return -EINVAL;
	const struct lab_node *nd = &lab->nodes[node];
	for (unsigned i = 0; nd->kind == LAB_GUEST && i < nd->n_ifaces; i++)
		if (nd->ifaces[i].has_ip4) {
			*ip4 = nd->ifaces[i].ip4;
			return 0;
		}
	return -ENOENT;
}

int lab_link_macs(const struct lab *lab, unsigned link, unsigned from_side,
		  uint8_t (*macs)[6], size_t max, size_t *n)
{
	if (!lab || link >= lab->n_links || from_side > 1 || !n || (max && !macs))
		return -EINVAL;
	const struct lab_end *me = &lab->links[link].end[from_side];
	const struct lab_end *far = &lab->links[link].end[!from_side];
	const struct lab_node *fn = &lab->nodes[far->node];
	const struct lab_iface *fi = &fn->ifaces[far->iface];
	size_t k = 0;
	if (fn->kind == LAB_GUEST) {
		if (max)
			memcpy(macs[0], fi->mac, 6);
		k = 1;
	} else {
		/* a filter or a switch forwards to all its other links in
		 * this topology, which lead to guests only */
		for (unsigned i = 0; i < fi->n_links; i++) {
			const struct lab_link *l = &lab->links[fi->links[i]];
			const struct lab_end *g = &l->end[l->end[0].node == far->node ? 1 : 0];
			const struct lab_node *gn = &lab->nodes[g->node];
			if ((g->node == me->node && g->iface == me->iface) ||
			    gn->kind != LAB_GUEST)
				continue;
			if (k < max)
				memcpy(macs[k], gn->ifaces[g->iface].mac, 6);
			k++;
		}
	}
	*n = k;
	return k > max ? -ENOSPC : 0;
}

void lab_mac_format(const uint8_t mac[6], char buf[LAB_MAC_STRLEN])
{
	snprintf(buf, LAB_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

int lab_error_format(const struct lab_error *err, char *buf, size_t size)
{
	/* a rules file's name comes from the lab file: escaped like msg */
	const char *file = err->file ? err->file : "<lab>";
	char where[16] = ": ";
	size_t n = (size_t)lab_escape(file, strlen(file), buf, size);
	if (err->line)
		snprintf(where, sizeof(where), ":%u: ", err->line);
	for (int part = 0; part < 2; part++) {
		const char *s = part ? err->msg : where;
		size_t len = part ? strnlen(err->msg, sizeof(err->msg)) : strlen(where);
		n += (size_t)lab_escape(s, len, n < size ? buf + n : NULL, n < size ? size - n : 0);
	}
	return n > INT_MAX ? INT_MAX : (int)n;
}

unsigned lab_node_links(const struct lab_node *node)
{
	unsigned n = 0;
	for (unsigned i = 0; i < node->n_ifaces; i++)
		n += node->ifaces[i].n_links;
	return n;
}

int lab_link_side(const struct lab *lab, unsigned link, unsigned node, unsigned iface)
{
	if (!lab || link >= lab->n_links)
		return -ENOENT;
	for (int s = 0; s < 2; s++)
		if (lab->links[link].end[s].node == node && lab->links[link].end[s].iface == iface)
			return s;
	return -ENOENT;
}
