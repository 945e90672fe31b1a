#!/bin/bash
# Life and death of a lab: a dead supervisor or vmm, leftovers, a process
# started in a guest, a refused half-made lab.  Whatever happens, `vqnet
# down` leaves no namespace, process or file.
. "$(dirname "$0")/lib.sh"

LAB=life$$
FILE=$(lab_from zmq_samples "$LAB")

# 1. a process started in a guest dies with the lab
up "$FILE" "$LAB"
vx vm1 -- sleep 1000 &
sleeper=$!
for _ in $(seq 50); do pgrep -P $sleeper >/dev/null 2>&1 && break; sleep 0.1; done
pids="$(lab_pids "$LAB") $(pgrep -P $sleeper || true)"
"$VQNET" down "$LAB"
expect_gone "$LAB" $pids
wait $sleeper 2>/dev/null || true
ok "down stops processes started in guests"

# 2. a vmm that dies is reported; down still cleans up
up "$FILE" "$LAB"
vmm=$(awk '/^vmm vm2 /{print $3}' /run/vqnet/"$LAB".state)
kill -9 "$vmm"
for _ in $(seq 50); do
	"$VQNET" status "$LAB" | grep -q "killed by signal 9" && break
	sleep 0.1
done
"$VQNET" status "$LAB" | grep -q "$LAB-vm2 *killed by signal 9" || fail "dead vmm not reported"
expect_no_ping vm0 192.168.1.3
expect_ping vm0 192.168.1.2
pids=$(lab_pids "$LAB")
"$VQNET" down "$LAB"
expect_gone "$LAB" $pids
ok "a dead vmm is reported and cleaned up"

# 3. a supervisor killed outright: its vmms follow it, the namespaces stay
#    and block a new up until down clears them
up "$FILE" "$LAB"
pids=$(lab_pids "$LAB")
sup=$(awk '/^supervisor /{print $2}' /run/vqnet/"$LAB".state)
kill -9 "$sup"
for p in $pids; do
	for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$p" 2>/dev/null && fail "process $p outlived its supervisor"
done
set +e
"$VQNET" up "$FILE" 2> "$TMP/err"; rc=$?
set -e
[ $rc = 2 ] && grep -q "$LAB.vqnet:5: namespace $LAB-vm0 already exists" "$TMP/err" ||
	fail "up over leftovers: rc $rc: $(cat "$TMP/err")"
"$VQNET" list | grep -q "$LAB: supervisor not answering" || fail "list does not flag the dead lab"
"$VQNET" down "$LAB"
expect_gone "$LAB"
ok "down cleans up after a dead supervisor"

# 4. a lab that cannot come up is refused before anything is made
ip netns add "$LAB-vm2"
set +e
"$VQNET" up "$FILE" 2> "$TMP/err"; rc=$?
set -e
ip netns del "$LAB-vm2"
[ $rc = 2 ] || fail "up with a foreign namespace in the way: rc $rc"
expect_gone "$LAB"
ok "up refused without leaving anything: $(cat "$TMP/err")"

# 5. down of a lab that is not up
set +e
"$VQNET" down "$LAB" 2> "$TMP/err"; rc=$?
set -e
[ $rc = 1 ] && grep -q "lab $LAB is not up" "$TMP/err" || fail "down of nothing: rc $rc"
ok "down of a lab that is not up says so"
