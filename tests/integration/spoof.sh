#!/bin/bash
# A guest that changes its MAC reaches no one, and the spoof counter of its
# interface says so; with its own MAC back, it reaches everyone again.
. "$(dirname "$0")/lib.sh"

LAB=spoof$$
up "$(lab_from zmq_samples "$LAB")" "$LAB"
expect_ping vm0 192.168.1.2

vx vm0 -- ip link set eth0 address 02:00:00:00:aa:66
vx vm0 -- ip neigh flush dev eth0
expect_no_ping vm0 192.168.1.2
expect_no_ping vm0 192.168.1.3
# nor can it pose as vm2
vx vm0 -- ip link set eth0 address 02:00:00:00:aa:03
vx vm0 -- ip neigh flush dev eth0
expect_no_ping vm0 192.168.1.2

spoofed=$(status_json "$LAB" | jq '.nodes[] | select(.name == "vm0") | .ifaces[0].counters.spoofed')
[ -n "$spoofed" ] && [ "$spoofed" -gt 0 ] || fail "vm0 spoof counter is '$spoofed'"
ok "spoofed frames dropped and counted ($spoofed)"

# vm1 and vm2 saw nothing from the impostor: their guests' ARP caches hold
# no entry with the spoofed MACs
if vx vm1 -- ip neigh | grep -qi "aa:66"; then fail "vm1 learnt the spoofed MAC"; fi

vx vm0 -- ip link set eth0 address 02:00:00:00:aa:01
expect_ping vm0 192.168.1.2
expect_ping vm0 192.168.1.3
ok "own MAC back: reachable again"
