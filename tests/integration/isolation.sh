#!/bin/bash
# What a guest can reach, and what can reach a lab: namespaces named so no
# two labs share one, guests that cannot see or signal vqnet's processes, a
# control socket that idle clients cannot block, and a supervisor that
# takes any value a vmm writes.  Each case pins a defect of the hardening
# issue (#N).
. "$(dirname "$0")/lib.sh"

STATSPOKE=${STATSPOKE:?set STATSPOKE to vqnet-statspoke}

# two_guests LAB GUEST1 IP1 GUEST2 IP2: a file for a two-guest lab
two_guests() {
	cat <<LAB
[lab]
name = $1
[vm $2]
ip = $3/24
[vm $4]
ip = $5/24
[topology t]
$2 = $4
$4 = $2
LAB
}

# 1. (#10) lab A with guest b-c and lab A-b with guest c were both A-b-c;
#    now A.b-c and A-b.c, and exec reaches each lab's own guest
A=ns$$
two_guests "$A" b-c 10.7.0.1 x 10.7.0.2 > "$TMP/a.vqnet"
two_guests "$A-b" c 10.7.1.1 y 10.7.1.2 > "$TMP/ab.vqnet"
up "$TMP/a.vqnet" "$A"
up "$TMP/ab.vqnet" "$A-b"
"$VQNET" exec "$A" b-c -- ip -br addr show eth0 | grep -q 10.7.0.1/24 || fail "$A b-c is not its own"
"$VQNET" exec "$A-b" c -- ip -br addr show eth0 | grep -q 10.7.1.1/24 || fail "$A-b c is not its own"
ip netns list | grep -q "^$A\.b-c" && ip netns list | grep -q "^$A-b\.c" || fail "namespaces: $(ip netns list)"
"$VQNET" down "$A-b"
# a namespace that merely has the right name is not the lab's: exec asks
# the lab's supervisor, and a lab that is not up has no guests
ip netns add "$A-b.c"
set +e
"$VQNET" exec "$A-b" c -- true 2> "$TMP/err"; rc=$?
set -e
ip netns del "$A-b.c"
[ $rc = 3 ] && grep -q "lab $A-b is not up" "$TMP/err" || fail "exec into a look-alike: rc $rc: $(cat "$TMP/err")"
ok "namespaces do not collide, and exec enters only the lab's own (#10)"

# 2. (#16) a guest's programs have a PID namespace and a /proc of their
#    own: vqnet's processes are neither visible nor reachable
LAB=$A
sup=$("$VQNET" status --json "$LAB" | jq .supervisor.pid)
vmm=$(vmm_pid "$LAB" x)
# the guest's own init and ps: nothing else
[ "$(vx b-c -- ps -e -o pid= | wc -l)" = 2 ] || fail "the guest sees processes: $(vx b-c -- ps -e)"
if vx b-c -- kill -0 "$vmm" 2>/dev/null; then fail "the guest can signal pid $vmm"; fi
if vx b-c -- test -e "/proc/$sup/fd"; then fail "the guest sees the supervisor's descriptors"; fi
[ -z "$(vx b-c -- ls -A /run/vqnet)" ] && [ -z "$(vx b-c -- ls -A /run/netns)" ] ||
	fail "the guest sees /run/vqnet or /run/netns"
[ "$(vx b-c -- sh -c 'echo $$')" -lt 10 ] || fail "the guest's shell is not in a PID namespace of its own"
kill -0 "$vmm" || fail "the vmm is gone"
ok "guest programs cannot see or signal vqnet's processes (#16)"

# 3. (#17) idle clients of the control socket do not hold up status: each
#    connection has its own deadline
idle=()
for _ in $(seq 20); do
	socat -u UNIX-CONNECT:/run/vqnet/"$LAB".sock OPEN:/dev/null & idle+=($!)
done
timeout 10 "$VQNET" status "$LAB" > /dev/null || fail "status timed out behind 20 idle connections"
# the supervisor closes them at their deadline (5 s), and they end
gone() { ! kill -0 "$1" 2>/dev/null; }
for p in "${idle[@]}"; do wait_for 30 gone "$p" || fail "idle connection $p never closed"; done
ok "20 idle connections delay no one, and are closed at their deadline (#17)"

# 4. (#9) the stats a vmm writes are untrusted: INT_MIN, a positive error,
#    a state no vmm writes, a counter past INT64_MAX
"$STATSPOKE" "$vmm" 0 error -2147483648
"$STATSPOKE" "$vmm" 0 state 12345
# 2^63, not 2^64-1: a frame the vmm counts meanwhile would wrap that to 0
"$STATSPOKE" "$vmm" 0 tx_frames 9223372036854775808
json=$(status_json "$LAB") || fail "status after a hostile stats write"
end=$(echo "$json" | jq -c '.links[0] | if .a.node == "x" then .a else .b end')
[ "$(echo "$end" | jq -r '.error, .state, .tx_frames')" = "$(printf 'invalid error value\ninvalid\nnull')" ] ||
	fail "hostile stats shown as: $end"
"$STATSPOKE" "$vmm" 0 error 5
[ "$(status_json "$LAB" | jq -r '.links[0] | if .a.node == "x" then .a else .b end | .error')" = "invalid error value" ] ||
	fail "a positive error shown as success"
"$VQNET" status "$LAB" > /dev/null || fail "text status after hostile stats"
kill -0 "$sup" || fail "the supervisor died"
ok "hostile stats values are named invalid, never trusted (#9)"

# 5. (#8) status --json is valid JSON in every state, null for absent: a
#    dead lab listed first, a filter node with its policy and no MAC
D=0d$$
two_guests "$D" p 10.6.0.1 q 10.6.0.2 > "$TMP/d.vqnet"
up "$TMP/d.vqnet" "$D"
kill -9 "$("$VQNET" status --json "$D" | jq .supervisor.pid)"
dead() { local j; j=$("$VQNET" status --json "$D") || true; [ "$(echo "$j" | jq -r .state)" = dead ]; }
wait_for 10 dead || fail "the lab did not die"
all=$("$VQNET" status --json) || true
echo "$all" | jq -e --arg d "$D" --arg l "$LAB" \
	'(.[0].lab == $d) and (.[0].state == "dead") and (.[0].uptime_s == null) and
	 ([.[] | select(.lab == $l) | .state] == ["up"])' > /dev/null ||
	fail "status --json with a dead lab first: $all"
"$VQNET" list --json | jq -e --arg d "$D" '[.[] | select(.lab == $d)][0] | .state == "dead" and .guests == null' > /dev/null ||
	fail "list --json: $("$VQNET" list --json)"
"$VQNET" down "$D" > /dev/null
F=flt$$
up "$(lab_from filtered "$F")" "$F"
"$VQNET" status --json "$F" | jq -e '.nodes[] | select(.kind == "filter") |
	.netns == null and .ifaces[0].mac == null and .ifaces[0].counters.from_guest_frames == null and
	.filter.policy == "drop" and .filter.stateful == true' > /dev/null ||
	fail "the filter node's status: $("$VQNET" status --json "$F" | jq -c '.nodes[] | select(.kind == "filter")')"
ok "JSON in every state; a filter shows its policy, not a MAC (#8)"
