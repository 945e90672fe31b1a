#!/bin/bash
# The seed's three-guest lab: every pair pings both ways over IPv4 and IPv6
# link-local, exec passes exit statuses through and refuses missing guests,
# status counts the traffic, and down leaves nothing behind.
. "$(dirname "$0")/lib.sh"

LAB=seed$$
up "$(lab_from zmq_samples "$LAB")" "$LAB"
grep -q "vm0 *eth0 *02:00:00:00:aa:01 *192.168.1.1/24 *vm1 vm2" "$TMP/$LAB.up" ||
	fail "vqnet up table: $(cat "$TMP/$LAB.up")"

ip4=(192.168.1.1 192.168.1.2 192.168.1.3)
ll6=(fe80::ff:fe00:aa01 fe80::ff:fe00:aa02 fe80::ff:fe00:aa03)
for i in 0 1 2; do
	for j in 0 1 2; do
		[ $i = $j ] && continue
		expect_ping vm$i "${ip4[$j]}"
		expect_ping vm$i "${ll6[$j]}%eth0" -6
	done
done
ok "every pair pings both ways, IPv4 and IPv6 link-local"

# the guest sees only its own interfaces and addresses
vx vm1 -- ip -br addr show eth0 | grep -q "192.168.1.2/24" || fail "vm1 eth0 address"
if vx vm1 -- ip -br link | grep -qv -E "^(lo|eth0) "; then fail "vm1 has foreign interfaces"; fi
ok "guest interfaces"

# exec: exit status passes through; a missing guest is refused, never the host
set +e
vx vm2 -- sh -c 'exit 7'; rc=$?
"$VQNET" exec "$LAB" nosuch -- true 2> "$TMP/err"; rc2=$?
"$VQNET" exec "nolab$$" vm0 -- true 2>/dev/null; rc3=$?
set -e
[ $rc = 7 ] || fail "exec exit status $rc, want 7"
[ $rc2 = 2 ] && grep -q "no guest nosuch" "$TMP/err" || fail "exec to a missing guest: rc $rc2: $(cat "$TMP/err")"
[ $rc3 = 3 ] || fail "exec into a lab that is not up: rc $rc3, want 3"
ok "exec status and refusal"

# status: traffic was counted, no drops, links healthy
json=$(status_json "$LAB")
[ "$(echo "$json" | jq '[.nodes[].ifaces[].counters.from_guest_frames] | min')" -gt 0 ] ||
	fail "a guest sent nothing: $json"
[ "$(echo "$json" | jq '[.nodes[].ifaces[].counters | .spoofed, .unknown, .runts, .bad_header, .to_guest_drops] | add')" = 0 ] ||
	fail "unexpected drops: $json"
[ "$(echo "$json" | jq '[.links[] | .a, .b | .drop_full, .drop_stalled, .drop_broken] | add')" = 0 ] ||
	fail "unexpected link drops: $json"
[ "$(echo "$json" | jq -c '[.links[].state] | unique')" = '["ok"]' ] || fail "a link is not ok: $json"
"$VQNET" list | grep -Eq "^$LAB +up +3 +3 " || fail "vqnet list: $("$VQNET" list)"
ok "status and list"

# up again: refused with file:line, nothing disturbed
set +e
"$VQNET" up "$TMP/$LAB.vqnet" 2> "$TMP/err"; rc=$?
set -e
[ $rc = 1 ] && grep -q "$LAB.vqnet:3: lab \"$LAB\" is already up or coming up" "$TMP/err" ||
	fail "second up: rc $rc: $(cat "$TMP/err")"
expect_ping vm0 192.168.1.3
ok "second up refused"

pids=$(lab_pids "$LAB")
"$VQNET" down "$LAB"
expect_gone "$LAB" $pids
ok "down leaves nothing"
