#!/bin/bash
# The datapath survives its neighbours: a guest that deletes its own
# interface does not make its vmm spin, and a peer whose vmm is stopped
# does not freeze the rest of the lab; it recovers when it resumes.
. "$(dirname "$0")/lib.sh"

LAB=res$$
up "$(lab_from zmq_samples "$LAB")" "$LAB"
vmm_of() { awk -v g="$1" '$1 == "vmm" && $2 == g { print $3 }' /run/vqnet/"$LAB".state; }
cpu_ticks() { awk '{ print $14 + $15 }' /proc/"$1"/stat; }

# 1. vm2 deletes its eth0: its vmm lets go of it and idles
v2=$(vmm_of vm2)
vx vm2 -- ip link del eth0
t0=$(cpu_ticks "$v2")
sleep 2
used=$(( $(cpu_ticks "$v2") - t0 ))
[ "$used" -lt 50 ] || fail "vm2's vmm used $used ticks in 2 s with its TAP gone (spinning?)"
kill -0 "$v2" || fail "vm2's vmm died"
expect_ping vm0 192.168.1.2
expect_no_ping vm0 192.168.1.3
ok "a deleted TAP: its vmm idles ($used ticks in 2 s), the others carry on"
"$VQNET" down "$LAB"

# 2. vm2's vmm stopped: vm0's ring to it fills, vm0 <-> vm1 carries on
up "$(lab_from zmq_samples "$LAB")" "$LAB"
expect_ping vm0 192.168.1.3
v2=$(vmm_of vm2)
kill -STOP "$v2"
# Keep sending vm2 more than its ring holds (vm0 knows vm2's MAC already).
# The first frame that finds the ring full waits 500 ms for it; after that
# the link counts as stalled and nothing waits for it, so vm0 -> vm1, pinged
# meanwhile, must not see those 500 ms again and again.
vx vm0 -- ping -f -l 300 -w 4 192.168.1.3 >/dev/null 2>&1 &
flood=$!
sleep 1.5
vx vm0 -- ping -c 20 -i 0.05 -W 1 192.168.1.2 > "$TMP/ping" || fail "vm0 lost vm1 while vm2 was stopped"
wait $flood || true
max=$(awk -F/ '/^rtt/ { print int($7) }' "$TMP/ping")
[ "$max" -lt 400 ] || fail "vm0 -> vm1 took up to $max ms while vm2 was stopped"
stalled=$(status_json "$LAB" | jq '.nodes[0].ifaces[0].stalled')
[ "$stalled" -gt 0 ] || fail "no frame for the stopped peer was counted as stalled"
ok "a stopped peer: $stalled frames for it dropped, vm0 -> vm1 max RTT $max ms"
kill -CONT "$v2"
expect_ping vm0 192.168.1.3
ok "the peer resumes and is reachable again"
