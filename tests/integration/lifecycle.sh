#!/bin/bash
# Life and death of a lab: a dead supervisor or vmm, leftovers, a process
# started in a guest, a refused half-made lab.  Whatever happens, `vqnet
# down` leaves no namespace, process or file (but the lab's log).
. "$(dirname "$0")/lib.sh"

LAB=life$$
FILE=$(lab_from zmq_samples "$LAB")

# 1. a process started in a guest dies with the lab
up "$FILE" "$LAB"
vx vm1 -- sleep 1000 &
sleeper=$!
# exec's child is a relay that entered the guest; the sleep is its child
insleep() { for p in $(descendants $sleeper); do [ "$(cat /proc/$p/comm)" = sleep ] && return; done; return 1; }
wait_for 10 insleep || fail "sleep did not start in vm1"
inner=$(descendants $sleeper)
pids="$(lab_pids "$LAB") $inner"
"$VQNET" down "$LAB"
expect_gone "$LAB" $pids
wait $sleeper 2>/dev/null || true
ok "down stops processes started in guests"

# 2. a vmm that dies is replaced at once (faults issue: a datapath that
#    heals) and its death reported; one that keeps dying backs off, and
#    while it waits status shows it and its links dead (hardening #7: a
#    dead vmm once showed "running" and its links "ok"); down cleans up
up "$FILE" "$LAB"
vmm=$(vmm_pid "$LAB" vm2)
kill -9 "$vmm"
restarted() { [ "$(js '.nodes[2].vmm | "\(.state) \(.restarts) \(.pid != '"$vmm"')"')" = "running 1 true" ]; }
wait_for 10 restarted || fail "killed vmm not replaced: $(js '.nodes[2].vmm')"
[ "$(js '.nodes[2].vmm.last_exit')" = "killed by signal 9" ] || fail "last exit: $(js '.nodes[2].vmm')"
"$VQNET" status "$LAB" > "$TMP/st"
grep -Eq "^vm2 +netns +$LAB.vm2 +running, pid [0-9]+, restarted 1x \(last killed by signal 9\)" "$TMP/st" ||
	fail "status text: $(cat "$TMP/st")"
expect_ping vm0 192.168.1.3
expect_ping vm2 192.168.1.2
ok "a killed vmm is replaced, reported, and its guest reachable again"

# kill each new one as soon as it runs: the waits grow (0, 0.1, 0.2, ...);
# 8 in a row, so the checks below have the 6.4 s wait before the next
# start to see it restarting (after 6, 1.6 s is short for four status
# calls under ASan on a loaded machine)
for i in 2 3 4 5 6 7 8; do
	vmm=$(vmm_pid "$LAB" vm2)
	kill -9 "$vmm"
	[ $i = 8 ] && break
	again() { [ "$(js ".nodes[2].vmm | \"\(.state) \(.restarts)\"")" = "running $i" ]; }
	wait_for 30 again || fail "restart $i: $(js '.nodes[2].vmm')"
done
waiting() { [ "$(js '.nodes[2].vmm.state')" = restarting ]; }
wait_for 10 waiting || fail "a crash loop does not back off: $(js '.nodes[2].vmm')"
"$VQNET" status "$LAB" > "$TMP/st"
[ "$(js '.nodes[2].vmm.crashes_in_a_row')" -ge 8 ] || fail "crashes: $(js '.nodes[2].vmm')"
grep -Eq "^vm2 +netns +$LAB.vm2 +restarting in [0-9.]+ s \(killed by signal 9, 8 in a row\)" "$TMP/st" ||
	fail "status text of a backing-off vmm: $(cat "$TMP/st")"
[ "$(status_json "$LAB" | jq -c '[.links[] | .state]')" = '["ok","dead","dead"]' ] ||
	fail "links of the dead vmm: $(status_json "$LAB" | jq -c '.links')"
grep -q "dead (the vmm of vm2 is not running (killed by signal 9, restarting))" "$TMP/st" || fail "no reason given"
expect_ping vm0 192.168.1.2
back() { [ "$(js '.nodes[2].vmm.state')" = running ]; }
wait_for 30 back || fail "never restarted after backing off: $(js '.nodes[2].vmm')"
grep -q "vmm of vm2 killed by signal 9 .* (8 in a row): next start in 6.4 s" /run/vqnet/log/"$LAB".log ||
	fail "the log does not say it backs off: $(cat /run/vqnet/log/"$LAB".log)"
expect_ping vm0 192.168.1.3
pids=$(lab_pids "$LAB")
"$VQNET" down "$LAB"
expect_gone "$LAB" $pids
[ -s /run/vqnet/log/"$LAB".log ] && grep -q "vmm of vm2 .* killed by signal 9" /run/vqnet/log/"$LAB".log ||
	fail "the log lost what happened"
ok "a vmm that keeps dying backs off and is reported, with its links; cleaned up, its log kept"

# 3. a supervisor killed outright (hardening #6): its vmms follow it; list,
#    status and up all say the same thing and name the fix; down cleans up
#    and keeps the log
up "$FILE" "$LAB"
pids=$(lab_pids "$LAB")
sup=$("$VQNET" status --json "$LAB" | jq .supervisor.pid)
kill -9 "$sup"
for p in $pids; do
	gone() { ! kill -0 "$1" 2>/dev/null; }
	wait_for 10 gone "$p" || fail "process $p outlived its supervisor"
done
set +e
"$VQNET" up "$FILE" 2> "$TMP/err"; rc=$?
"$VQNET" status "$LAB" > "$TMP/status"; src=$?
set -e
[ $rc = 1 ] && grep -q "lab $LAB: its supervisor (pid $sup) died and left it half up: 'vqnet down $LAB' cleans up" "$TMP/err" ||
	fail "up over a dead lab: rc $rc: $(cat "$TMP/err")"
[ $src = 1 ] && grep -q "^lab $LAB: dead (supervisor pid $sup): its supervisor died, leaving 3 namespaces: 'vqnet down $LAB' cleans up" "$TMP/status" ||
	fail "status of a dead lab: rc $src: $(cat "$TMP/status")"
# (status and list exit 1 while a lab is unhealthy: capture, then look)
"$VQNET" status > "$TMP/all" || true
"$VQNET" list > "$TMP/list" || true
"$VQNET" status --json "$LAB" > "$TMP/json" || true
"$VQNET" list --json > "$TMP/ljson" || true
grep -q "^lab $LAB: dead" "$TMP/all" || fail "status leaves the dead lab out: $(cat "$TMP/all")"
grep -Eq "^$LAB +dead .*'vqnet down $LAB' cleans up" "$TMP/list" || fail "list: $(cat "$TMP/list")"
[ "$(jq -r '.state, .supervisor.pid, .leftovers' "$TMP/json")" = "$(printf 'dead\n%s\n3' "$sup")" ] ||
	fail "status --json of a dead lab: $(cat "$TMP/json")"
[ "$(jq -r --arg l "$LAB" '.[] | select(.lab == $l) | .state' "$TMP/ljson")" = dead ] ||
	fail "list --json: $(cat "$TMP/ljson")"
"$VQNET" down "$LAB" > "$TMP/down"
grep -q "its supervisor (pid $sup) had died; removed 3 namespaces it left" "$TMP/down" || fail "down: $(cat "$TMP/down")"
expect_gone "$LAB"
# its uid slot too (a slot is a file its supervisor held locked; one no
# one holds is a dead lab's, and was left for good)
for f in /run/vqnet/uids/*; do
	[ -e "$f" ] || continue
	flock -n "$f" true && fail "a uid slot no lab holds is left: $f"
done
grep -q "lab $LAB is up" /run/vqnet/log/"$LAB".log || fail "down of a dead lab lost its log"
ok "a dead supervisor: one state everywhere, down cleans up, the log stays"

# 4. a lab that cannot come up is refused before anything is made
ip netns add "$LAB.vm2"
set +e
"$VQNET" up "$FILE" 2> "$TMP/err"; rc=$?
set -e
ip netns del "$LAB.vm2"
[ $rc = 2 ] && grep -q "namespace $LAB.vm2 already exists, and not as this lab's" "$TMP/err" ||
	fail "up with a foreign namespace in the way: rc $rc: $(cat "$TMP/err")"
expect_gone "$LAB"
ok "up refused without leaving anything: $(cat "$TMP/err")"

# 5. down of a lab that is not up
set +e
"$VQNET" down "$LAB" 2> "$TMP/err"; rc=$?
set -e
[ $rc = 3 ] && grep -q "lab $LAB is not up" "$TMP/err" || fail "down of nothing: rc $rc"
ok "down of a lab that is not up says so"

# 6. a vmm that cannot be started: its cause named, nothing left (a
#    child's failure is told through the memory it shares with us, since
#    the descriptors it failed to take may include the one to tell it on)
mkdir -p "$TMP/novmm"
cp "$VQNET" "$TMP/novmm/vqnet"
set +e
"$TMP/novmm/vqnet" up "$FILE" 2> "$TMP/err"; rc=$?
set -e
[ $rc = 1 ] && grep -q "cannot start the vmm of vm0: cannot run $TMP/novmm/vqnet-vmm: No such file or directory" "$TMP/err" ||
	fail "up without a vqnet-vmm: rc $rc: $(cat "$TMP/err")"
expect_gone "$LAB"
ok "a vmm that cannot run is named, and nothing is left: $(cat "$TMP/err")"

# 7. down cleans up only while it holds the lab's lock (review,
#    2026-12-03: a down that found no lock file went on to read the state
#    file and delete what it named; an up of the same lab in between had
#    taken the lock and written that file, so down wrecked a live lab,
#    which no later down could stop).  A FIFO where the state file goes
#    holds down at its read of the state; the name is then freed, an up
#    runs, and down reads what that up wrote.
mkdir -p /run/vqnet
fifo=/run/vqnet/$LAB.state
mkfifo "$fifo"
"$VQNET" down "$LAB" > "$TMP/down7" 2>&1 &
downer=$!
# read-write: opens at once (down, not holding it, still waits for data)
exec 3<> "$fifo"
opened() { ls -l "/proc/$downer/fd" 2>/dev/null | grep -q " $fifo\$"; }
wait_for 30 opened || { rm -f "$fifo"; fail "down did not open $fifo: $(cat "$TMP/down7")"; }
rm "$fifo"
set +e
"$VQNET" up "$FILE" > "$TMP/up7" 2>&1 3<&-; urc=$?
set -e
if [ $urc = 0 ]; then
	LABS+=("$LAB")
	cp "/run/vqnet/$LAB.state" "$TMP/state7"
	cat "$TMP/state7" >&3
fi
exec 3>&-
wait $downer || true
if [ $urc = 0 ]; then
	if ! "$VQNET" status "$LAB" > "$TMP/status7" 2>&1 || ! ip netns list | grep -q "^$LAB\.vm1"; then
		# what no down can stop any more: its supervisor, by pid
		kill "$(awk '/^supervisor/ { print $2 }' "$TMP/state7")" 2>/dev/null || true
		fail "a down racing an up wrecked the lab that came up: down said: $(cat "$TMP/down7");" \
			"status: $(cat "$TMP/status7")"
	fi
	expect_ping vm0 192.168.1.2
	"$VQNET" down "$LAB"
else
	grep -q "lab \"$LAB\" is already up or coming up" "$TMP/up7" ||
		fail "up beside a down: rc $urc: $(cat "$TMP/up7")"
fi
expect_gone "$LAB"
ok "a down racing an up leaves a lab whole or not made (up rc $urc)"
