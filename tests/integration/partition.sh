#!/bin/bash
# Partitioned lab: vm0-vm1 in one topology, vm1-vm2 in another.  vm1 has
# eth0 and eth1; vm0 cannot reach vm2.  Also: two guests that share two
# topologies get two links, one interface each.
. "$(dirname "$0")/lib.sh"

LAB=part$$
up "$(lab_from partitioned "$LAB")" "$LAB"
vx vm1 -- ip -br link show eth0 >/dev/null || fail "vm1 has no eth0"
vx vm1 -- ip -br link show eth1 >/dev/null || fail "vm1 has no eth1"
if vx vm0 -- ip link show eth1 >/dev/null 2>&1; then fail "vm0 has an eth1"; fi
expect_ping vm0 10.0.1.2
expect_ping vm1 10.0.1.1
expect_ping vm1 10.0.2.3
expect_ping vm2 10.0.2.2
# vm0 has no route to 10.0.2.0/24; even with one via vm1, vm1 does not
# forward (it is a host, not a router) and no link joins vm0 and vm2
expect_no_ping vm0 10.0.2.3
vx vm0 -- ip route add 10.0.2.0/24 via 10.0.1.2
vx vm2 -- ip route add 10.0.1.0/24 via 10.0.2.2
expect_no_ping vm0 10.0.2.3
ok "partition holds"

LAB2=twice$$
cat > "$TMP/$LAB2.vqnet" <<LAB
[lab]
name = $LAB2
[vm a]
ip = 10.1.1.1/24
ip.second = 10.1.2.1/24
[vm b]
ip = 10.1.1.2/24
ip.second = 10.1.2.2/24
[topology first]
a = b
b = a
[topology second]
a = b
b = a
LAB
up "$TMP/$LAB2.vqnet" "$LAB2"
LAB=$LAB2
expect_ping a 10.1.1.2
expect_ping a 10.1.2.2 -I eth1
[ "$("$VQNET" status --json "$LAB2" | jq '.links | length')" = 2 ] || fail "two topologies, two links"
ok "two guests sharing two topologies have two links"
