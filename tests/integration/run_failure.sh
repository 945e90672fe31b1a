#!/bin/bash
# A scenario that points at a wrong address ends within its timeout with
# "Exited with error" and a plain diagnosis, and leaves nothing behind.
# An interrupted run (SIGINT) takes its lab down too.
. "$(dirname "$0")/lib.sh"

LAB=fail$$
FILE=$TMP/$LAB-wrong.vqnet
sed -n '1,/^\[scenario/p' "$(lab_from zmq_samples "$LAB")" | sed '$d' > "$FILE"
cat >> "$FILE" <<'LAB'
[scenario wrong-address]
timeout = 5
vm0 = zmq_lat_server tcp://*:5555 1 100
vm1 = zmq_lat_client tcp://192.168.1.9:5555 1 100
LAB
LABS+=("$LAB")
start=$(date +%s)
set +e
"$VQNET" run "$FILE" > "$TMP/out" 2>&1
rc=$?
set -e
took=$(( $(date +%s) - start ))
cat "$TMP/out"
[ $rc = 1 ] || fail "exit status $rc, want 1"
[ "$(tail -n 1 "$TMP/out")" = "Exited with error" ] || fail "last line"
grep -q "Scenario wrong-address (one vm) failed" "$TMP/out" || fail "which scenario"
grep -q "vm0 zmq_lat_client (line [0-9]*): still running after the 5 s timeout" "$TMP/out" ||
	fail "which program and why"
[ $took -lt 30 ] || fail "took $took s for a 5 s timeout"
expect_gone "$LAB"
ok "one-vm phase: failed in ${took}s"

# across guests: the loopback phase passes; across, vm0 has no link to vm2
FILE=$(lab_from partitioned "$LAB")
sed -i '/^\[scenario/,$d' "$FILE"
cat >> "$FILE" <<'LAB'
[scenario cross-partition]
timeout = 5
vm2 = zmq_lat_server tcp://*:5555 1 100
vm0 = zmq_lat_client tcp://{vm2}:5555 1 100
LAB
set +e
"$VQNET" run "$FILE" > "$TMP/out" 2>&1
rc=$?
set -e
cat "$TMP/out"
[ $rc = 1 ] || fail "exit status $rc"
grep -q "zmq_lat_client\] average latency" "$TMP/out" || fail "the one-vm phase did not pass"
grep -q "Scenario cross-partition (across guests) failed" "$TMP/out" || fail "which phase"
grep -q "diagnosis: 10.0.2.3 is vm2's address, but vm0 has no link to vm2 (they share no topology)" "$TMP/out" ||
	fail "no diagnosis of the unreachable address"
expect_gone "$LAB"
ok "unreachable address diagnosed, nothing left"

# SIGINT in the middle of a run
"$VQNET" run "$(lab_from zmq_samples "$LAB")" > "$TMP/out" 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q "^Running 3 scenarios on one vm" "$TMP/out" && break; sleep 0.1; done
kill -INT $pid
set +e
wait $pid
rc=$?
set -e
[ $rc = 130 ] || { cat "$TMP/out"; fail "interrupted run exited $rc"; }
grep -q "interrupted (signal 2): taking lab $LAB down" "$TMP/out" || fail "no interruption message"
expect_gone "$LAB"
ok "SIGINT takes the lab down"
