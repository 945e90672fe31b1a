#!/bin/bash
# The datapath survives its neighbours: a guest that deletes its own
# interface does not make its vmm spin, and a peer whose vmm is stopped
# does not freeze the rest of the lab; it recovers when it resumes.
. "$(dirname "$0")/lib.sh"

LAB=res$$
up "$(lab_from zmq_samples "$LAB")" "$LAB"

# status --json fields (src/vqnet/sup_status.c): .nodes[].vmm.wakeups, and
# per link end .kicks, .rx_frames, .state, .drop_* (lib/stats/vmm_stats.h)
wakeups() { js ".nodes[] | select(.name == \"$1\") | .vmm.wakeups"; }
# what the peers of node $1 did towards it: doorbells they rang for it and
# frames it took from them
kicks_into() { js "[.links[] | if .a.node == \"$1\" then .b.kicks elif .b.node == \"$1\" then .a.kicks else empty end] | add"; }
rx_of() { js "[.links[] | if .a.node == \"$1\" then .a.rx_frames elif .b.node == \"$1\" then .b.rx_frames else empty end] | add"; }
# the end at node $1 of the link between $1 and $2
log_says() { grep -qF "$1" "$(js .log)" && echo yes; }

# 1. vm2 deletes its eth0: its vmm lets go of it and idles.  A vmm sleeps
# until a peer rings it, or wakes again at once after a full batch of 32
# frames; so, whatever the machine's load, its wake-ups are bounded by the
# doorbells rung for it and the frames it took.  One that spins on the
# dead TAP's error wakes without either (the CPU-tick check this replaces
# depended on the load).
v2=$(vmm_pid "$LAB" vm2)
vx vm2 -- ip link del eth0
until_says yes log_says "eth0 is gone"
w0=$(wakeups vm2) k0=$(kicks_into vm2) r0=$(rx_of vm2)
expect_ping vm0 192.168.1.2
expect_no_ping vm0 192.168.1.3
w1=$(wakeups vm2) k1=$(kicks_into vm2) r1=$(rx_of vm2)
kill -0 "$v2" || fail "vm2's vmm died"
woke=$((w1 - w0)) rung=$((k1 - k0)) took=$((r1 - r0))
[ "$woke" -le $((rung + took / 32 + 2)) ] ||
	fail "vm2's vmm woke $woke times for $rung doorbells and $took frames (spinning?)"
ok "a deleted TAP: its vmm idles ($woke wake-ups for $rung doorbells, $took frames), the others carry on"
"$VQNET" down "$LAB"

# 2. vm2's vmm stopped: vm0's ring to it fills, vm0 <-> vm1 carries on
up "$(lab_from zmq_samples "$LAB")" "$LAB"
expect_ping vm0 192.168.1.3
vx vm0 -- ping -c 20 -i 0.05 -W 1 192.168.1.2 > "$TMP/base" || fail "vm0 cannot ping vm1"
base=$(awk -F/ '/^rtt/ { print int($6) }' "$TMP/base")
v2=$(vmm_pid "$LAB" vm2)
kill -STOP "$v2"
# Keep sending vm2 more than its ring holds (vm0 knows vm2's MAC already):
# the link goes stalled and nothing waits for it, so vm0 -> vm1, pinged
# meanwhile, keeps the round trip it had a moment ago.
vx vm0 -- ping -f -l 300 -w 6 192.168.1.3 >/dev/null 2>&1 &
flood=$!
until_says stalled end_of vm0 vm2 .state
vx vm0 -- ping -c 20 -i 0.05 -W 1 192.168.1.2 > "$TMP/ping" || fail "vm0 lost vm1 while vm2 was stopped"
wait $flood || true
max=$(awk -F/ '/^rtt/ { print int($6) }' "$TMP/ping")
[ "$max" -le $((base + 50)) ] || fail "vm0 -> vm1 took up to $max ms while vm2 was stopped (up to $base ms before)"
stalled=$(end_of vm0 vm2 .drop_stalled)
[ "$stalled" -gt 0 ] || fail "no frame for the stopped peer was counted as stalled"
ok "a stopped peer: $stalled frames for it dropped, vm0 -> vm1 max RTT $max ms ($base ms before)"
kill -CONT "$v2"
expect_ping vm0 192.168.1.3
until_says ok end_of vm0 vm2 .state
ok "the peer resumes, is reachable again and its link is ok"
