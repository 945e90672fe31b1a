#!/bin/bash
# A lab comes up, or not at all, whatever arrives meanwhile; and nothing
# vqnet starts holds on to what it was not handed.  Each case pins a defect
# of the hardening issue (#N).
. "$(dirname "$0")/lib.sh"

# mesh N NAME: a full mesh of N guests on one LAN (needs RLIMIT_NOFILE
# headroom: 32 guests make 496 links)
mesh() {
	local n=$1 i j peers
	printf '[lab]\nname = %s\n' "$2"
	for ((i = 0; i < n; i++)); do printf '[vm g%d]\nip = 10.9.%d.%d/16\n' $i $((i / 200)) $((i % 200 + 1)); done
	printf '[topology lan]\n'
	for ((i = 0; i < n; i++)); do
		peers=
		for ((j = 0; j < n; j++)); do [ $i = $j ] || peers+=" g$j"; done
		printf 'g%d =%s\n' $i "$peers"
	done
}
state_file() { echo /run/vqnet/"$1".state; }
phase() { awk '/^phase /{print $2}' "$(state_file "$1")" 2>/dev/null; }
starting() { [ "$(phase "$1")" = starting ]; }
sup_of() { awk '/^supervisor /{print $2}' "$(state_file "$1")"; }
# has_pending PID SIG: SIG is pending for PID (it is stopped)
has_pending() {
	local mask
	mask=$(awk '/^ShdPnd:/{print $2}' /proc/"$1"/status)
	(( (0x$mask >> ($2 - 1)) & 1 ))
}

BIG=big$$
mesh 32 "$BIG" > "$TMP/$BIG.vqnet"
LABS+=("$BIG")

# 1. (#1) Ctrl-C while `up` is bringing a lab up: SIGINT to its process
#    group rolls everything back; up exits 130 and nothing is left.  The
#    supervisor is held (SIGSTOP) while it is starting, so the signal
#    arrives mid-way whatever the machine's speed.
setsid "$VQNET" up "$TMP/$BIG.vqnet" > "$TMP/up" 2>&1 &
upid=$!
wait_for 60 starting "$BIG" || fail "the lab never was starting: $(cat "$TMP/up")"
sup=$(sup_of "$BIG")
kill -STOP "$sup"
starting "$BIG" || { kill -CONT "$sup"; fail "the lab came up before it could be interrupted"; }
kill -INT -- -"$upid"
kill -CONT "$sup"
set +e
wait $upid; rc=$?
set -e
[ $rc = 130 ] || fail "up interrupted: exit $rc: $(cat "$TMP/up")"
grep -q "interrupted (signal 2): rolled back, nothing is left" "$TMP/up" || fail "up said: $(cat "$TMP/up")"
expect_gone "$BIG" "$sup"
ok "Ctrl-C during up rolls the lab back (#1)"

# 2. (#2) down while up is still starting: down wins, the lab ends down
"$VQNET" up "$TMP/$BIG.vqnet" > "$TMP/up" 2>&1 &
upid=$!
wait_for 60 starting "$BIG" || fail "the lab never was starting"
sup=$(sup_of "$BIG")
kill -STOP "$sup"
"$VQNET" down "$BIG" > "$TMP/down" 2>&1 &
dpid=$!
wait_for 30 has_pending "$sup" 15 || { kill -CONT "$sup"; fail "down did not signal the starting supervisor"; }
kill -CONT "$sup"
set +e
wait $dpid; drc=$?
wait $upid; urc=$?
set -e
[ $drc = 0 ] || fail "down of a starting lab: exit $drc: $(cat "$TMP/down")"
[ $urc != 0 ] || fail "up reported success for a lab taken down"
grep -q "interrupted by signal 15 while coming up" "$TMP/up" || fail "up said: $(cat "$TMP/up")"
expect_gone "$BIG" "$sup"
ok "down while up is starting: the lab ends down (#2)"

# 3. (#3) the usual soft limit of 1024 descriptors: the supervisor raises
#    it to the hard limit; a hard limit too low is named, with the count
(ulimit -Sn 1024; "$VQNET" up "$TMP/$BIG.vqnet" > "$TMP/up" 2>&1) || fail "up under ulimit -Sn 1024: $(cat "$TMP/up")"
"$VQNET" exec "$BIG" g31 -- ping -c 1 -W 5 10.9.0.1 > /dev/null || fail "g31 cannot reach g0"
"$VQNET" down "$BIG"
set +e
(ulimit -n 400; "$VQNET" up "$TMP/$BIG.vqnet") > "$TMP/up" 2>&1; rc=$?
set -e
[ $rc = 1 ] && grep -Eq "this lab needs [0-9]+ file descriptors, RLIMIT_NOFILE allows 400" "$TMP/up" ||
	fail "up under a hard limit of 400: exit $rc: $(cat "$TMP/up")"
expect_gone "$BIG"
ok "32 guests in a full mesh under ulimit -Sn 1024; a short hard limit is named (#3)"

# 4. (#4) the supervisor keeps no descriptor it was not handed: a $(...)
#    around up returns as soon as up does
LAB=fd$$
FILE=$(lab_from zmq_samples "$LAB")
LABS+=("$LAB")
set +e
out=$(timeout 60 "$VQNET" up "$FILE" 5>&1 >/dev/null 2>&1); rc=$?
set -e
[ $rc = 0 ] || fail "\$(vqnet up 5>&1 ...) exit $rc (124: it hung on an inherited descriptor)"
"$VQNET" down "$LAB"
ok "the supervisor lets go of inherited descriptors (#4)"

# 5. (#5) run's output closed (| head), SIGTERM, SIGHUP: each takes the lab
#    and its programs down; the exit status says which signal
set +e
timeout 300 "$VQNET" run "$FILE" 2> "$TMP/err" | head -3 > "$TMP/head"
rc=${PIPESTATUS[0]}
set -e
[ $rc = 141 ] || fail "run | head -3: exit $rc: $(cat "$TMP/err")"
grep -q "interrupted (signal 13): taking lab $LAB down" "$TMP/err" || fail "run | head: $(cat "$TMP/err")"
expect_gone "$LAB"
for sig in TERM HUP; do
	"$VQNET" run "$FILE" > "$TMP/out" 2>&1 &
	pid=$!
	running() { grep -q "^Running 3 scenarios on one vm" "$TMP/out"; }
	wait_for 120 running || fail "run did not start: $(cat "$TMP/out")"
	kill -$sig $pid
	set +e
	wait $pid; rc=$?
	set -e
	want=$((128 + $(kill -l $sig)))
	[ $rc = $want ] || fail "run after SIG$sig: exit $rc, want $want"
	expect_gone "$LAB"
done
ok "run | head, SIGTERM and SIGHUP take the lab down (#5)"
