#!/bin/bash
# vqnet events (issue 11, "see inside"): a lab's state changes, as they
# happen, from `vqnet events LAB --json` (and its text) running meanwhile:
#   the ring's past first (each vmm ready, the lab up)
#   kill -9 of a vmm: its death (node, signal, pid), then its restart
#   impair, partition, heal: fault events with the request and the changes
#   a vmm stopped (SIGSTOP) under traffic: the link stalled, then ok again
#   a guest's TAP deleted: its port gone
#   `vqnet run --keep`: each scenario started and ended, passed or failed
#   a client that never reads does not stop status; a reader that falls
#     behind is told how many events it lost; at most 8 streams
#   bogus notes refused; Ctrl-C and a closed pipe end the CLI quietly
#   the supervisor's idle wake-ups per second (printed)
#   down: every stream ends with the lab-down event, exit 0; a supervisor
#     killed: the CLI says it died, exit 1
. "$(dirname "$0")/lib.sh"
LAB=ev$$
up "$(lab_from zmq_samples "$LAB")" "$LAB"
SOCK=/run/vqnet/$LAB.sock

# has FILE JQ: FILE holds an event for which JQ is true (a line being
# written is skipped, not an error)
has() { jq -n -e -R "[inputs | fromjson? | select($2)] | length > 0" "$1" > /dev/null 2>&1; }
# ev FILE JQ FILTER: FILTER of the first event for which JQ is true
ev() { jq -n -r -R "[inputs | fromjson? | select($2)][0] | $3" "$1"; }
wait_event() { wait_for 10 has "$1" "$2" || fail "no event $2 in $1: $(tail -5 "$1")"; }
# raw REQUEST: send one request line on the control socket, print the reply
raw() { printf '%s\n' "$1" | timeout 10 socat - UNIX-CONNECT:"$SOCK"; }
streams() { js .supervisor.event_streams; }
streams_are() { wait_for 10 says "$1" streams || fail "event streams: $(streams), not $1"; }

"$VQNET" events "$LAB" --json > "$TMP/ev.json" 2> "$TMP/ev.err" & EVJ=$!
"$VQNET" events "$LAB" > "$TMP/ev.txt" 2> "$TMP/evt.err" & EVT=$!
wait_event "$TMP/ev.json" '.kind == "lab_up"'
for g in vm0 vm1 vm2; do
	[ "$(ev "$TMP/ev.json" ".kind == \"vmm_ready\" and .node == \"$g\"" .seq)" -lt \
	  "$(ev "$TMP/ev.json" '.kind == "lab_up"' .seq)" ] || fail "no vmm_ready of $g before lab_up"
done
ok "a stream starts with the ring's past: each vmm ready, then the lab up"

# --- a vmm killed: its death, then its restart ------------------------------
vmm1=$(js '.nodes[1].vmm.pid')
kill -9 "$vmm1"
wait_event "$TMP/ev.json" '.kind == "vmm_restarted" and .node == "vm1"'
died='.kind == "vmm_died" and .node == "vm1"'
has "$TMP/ev.json" "$died" || fail "no death of vm1's vmm: $(cat "$TMP/ev.json")"
[ "$(ev "$TMP/ev.json" "$died" '"\(.signal) \(.pid)"')" = "9 $vmm1" ] ||
	fail "death: $(ev "$TMP/ev.json" "$died" .)"
d=$(ev "$TMP/ev.json" "$died" .seq)
r=$(ev "$TMP/ev.json" '.kind == "vmm_restarted"' .seq)
[ "$d" -lt "$r" ] || fail "restart (seq $r) before death (seq $d)"
[ "$(ev "$TMP/ev.json" '.kind == "vmm_restarted"' .pid)" = "$(js '.nodes[1].vmm.pid')" ] ||
	fail "restarted pid: $(ev "$TMP/ev.json" '.kind == "vmm_restarted"' .)"
# the text stream says it in one line, as status does
wait_for 10 grep -q "vmm killed by signal 9; restarted" "$TMP/ev.txt" || fail "text: $(cat "$TMP/ev.txt")"
line=$(grep "vmm killed by signal 9; restarted" "$TMP/ev.txt")
echo "$line" | grep -Eq '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} vm1 vmm killed by signal 9; restarted \(pid [0-9]+\) in [0-9.]+ ms$' ||
	fail "text line: $line"
ok "kill -9 of vm1's vmm: died (signal 9, pid $vmm1), then restarted: \"$line\""

# --- faults -------------------------------------------------------------------
"$VQNET" impair "$LAB" vm0 vm1 delay 5ms > /dev/null
imp='.kind == "fault" and .command == "impair"'
wait_event "$TMP/ev.json" "$imp"
[ "$(ev "$TMP/ev.json" "$imp" '"\(.request)|\(.changes | join(";"))"')" = \
  "impair vm0 vm1 delay 5ms|vm0 -> vm1: delay 5ms;vm1 -> vm0: delay 5ms" ] ||
	fail "impair event: $(ev "$TMP/ev.json" "$imp" .)"
"$VQNET" partition "$LAB" vm0 / vm1 vm2 > /dev/null
"$VQNET" heal "$LAB" > /dev/null
wait_event "$TMP/ev.json" '.kind == "fault" and .command == "heal"'
part='.kind == "fault" and .command == "partition"'
ev "$TMP/ev.json" "$part" '.changes[]' | grep -qx "link vm0-vm1: down (partition)" ||
	fail "partition event: $(ev "$TMP/ev.json" "$part" .)"
ev "$TMP/ev.json" '.kind == "fault" and .command == "heal"' '.changes[]' | grep -qx "link vm0-vm1: up" ||
	fail "heal event: $(ev "$TMP/ev.json" '.kind == "fault" and .command == "heal"' .)"
[ "$(ev "$TMP/ev.json" "$part" .seq)" -lt "$(ev "$TMP/ev.json" '.command == "heal"' .seq)" ] ||
	fail "heal before partition"
"$VQNET" impair "$LAB" vm0 vm1 clear > /dev/null
ok "impair, partition, heal: $(ev "$TMP/ev.json" "$part" .text)"

# --- a link stalls under a stopped vmm, and recovers ---------------------------
vx vm0 -- ip neigh replace 192.168.1.2 lladdr 02:00:00:00:aa:02 dev eth0 nud permanent
vmm1=$(js '.nodes[1].vmm.pid')
cont() { kill -CONT "$vmm1" 2>/dev/null || true; }
kill -STOP "$vmm1"
vx vm0 -- ping -q -i 0.002 -w 4 -W 0.1 192.168.1.2 > /dev/null 2>&1 & pinger=$!
stalled='.kind == "link_state" and .state == "stalled" and .link.a == "vm0" and .link.b == "vm1"'
wait_for 10 has "$TMP/ev.json" "$stalled" || { cont; fail "no stall: $(tail -3 "$TMP/ev.json")"; }
cont
wait $pinger || true
back='.kind == "link_state" and .state == "ok" and .was == "stalled" and .link.a == "vm0"'
wait_event "$TMP/ev.json" "$back"
ok "vm1's vmm stopped under traffic: \"$(ev "$TMP/ev.json" "$stalled" .text)\", then \"$(ev "$TMP/ev.json" "$back" .text)\""

# --- bogus notes, from a raw client --------------------------------------------
before=$(jq -n -R '[inputs | fromjson? | select(.kind == "scenario")] | length' "$TMP/ev.json")
for bad in "note scenario nosuch one-vm started" "note scenario client-server sideways started" \
	   "note scenario client-server one-vm ended maybe" "note scenario client-server one-vm" \
	   "$(printf 'note scenario client-server one-vm \033[2Jstarted')" "note weather fine"; do
	reply=$(raw "$bad")
	case $reply in error:*) ;; *) fail "note \"$bad\" accepted: $reply" ;; esac
done
[ "$(raw "note scenario client-server one-vm started")" = ok ] || fail "a good note refused"
wait_event "$TMP/ev.json" '.kind == "scenario" and .scenario == "client-server"'
[ "$(jq -n -R '[inputs | fromjson? | select(.kind == "scenario")] | length' "$TMP/ev.json")" = $((before + 1)) ] ||
	fail "a refused note made an event"
ok "bogus notes refused ($(raw "note scenario nosuch one-vm started"))"

# --- slow and silent clients ----------------------------------------------------
# mute_client N: one that asks for events and never reads a byte: socat
# -u only sends, from a FIFO we hold open (so it never ends); its pid in MUTE
MUTE=()
mute_client() {
	local fd
	mkfifo "$TMP/mute$1"
	exec {fd}<> "$TMP/mute$1"
	echo events >&"$fd"
	socat -u OPEN:"$TMP/mute$1" UNIX-CONNECT:"$SOCK" & MUTE+=($!)
}
mute_client 0
# and one that stops reading for a while (at most 60 s)
pause() { for _ in $(seq 1200); do [ -e "$TMP/go" ] && break; sleep 0.05; done; cat; }
"$VQNET" events "$LAB" --json | pause > "$TMP/slow.json" &
streams_are 4
for _ in $(seq 1000); do
	echo "note scenario pipeline across started" | socat - UNIX-CONNECT:"$SOCK" > /dev/null
done
t0=$(date +%s%N)
timeout 10 "$VQNET" status "$LAB" > /dev/null || fail "status behind a client that never reads"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
touch "$TMP/go"
wait_event "$TMP/slow.json" '.kind == "lost"'
lost=$(ev "$TMP/slow.json" '.kind == "lost"' .count)
wait_event "$TMP/slow.json" '.kind == "scenario" and .scenario == "pipeline"'
[ "$(streams)" = 4 ] || fail "streams after 1000 events: $(streams), not 4 (the silent one dropped?)"
ok "1000 events: status answered in $ms ms beside a client that never reads; a reader that stalled lost $lost (told so), then went on"

# --- at most 8 streams -----------------------------------------------------------
for i in 1 2 3 4; do
	mute_client $i
done
streams_are 8
set +e
"$VQNET" events "$LAB" > /dev/null 2> "$TMP/ninth"; rc=$?
set -e
[ $rc = 1 ] && grep -q "8 event streams are open already" "$TMP/ninth" || fail "a 9th stream: rc $rc: $(cat "$TMP/ninth")"
kill "${MUTE[@]}"
streams_are 3
ok "a 9th stream is refused: $(cat "$TMP/ninth")"

# --- Ctrl-C and a closed pipe end the CLI quietly -----------------------------------
"$VQNET" events "$LAB" > /dev/null 2> "$TMP/int.err" & p=$!
streams_are 4
kill -INT $p
set +e
wait $p; rc=$?
"$VQNET" events "$LAB" 2> "$TMP/pipe.err" | head -2 > /dev/null
prc=${PIPESTATUS[0]}
set -e
[ $rc = 0 ] && [ ! -s "$TMP/int.err" ] || fail "Ctrl-C: rc $rc: $(cat "$TMP/int.err")"
[ "$prc" = 0 ] && [ ! -s "$TMP/pipe.err" ] || fail "closed pipe: rc $prc: $(cat "$TMP/pipe.err")"
ok "Ctrl-C ends it (exit 0), a closed pipe too, nothing said"

# --- a guest's TAP deleted: its port gone --------------------------------------------
vx vm2 -- ip link delete eth0
wait_event "$TMP/ev.json" '.kind == "port_state" and .node == "vm2" and .iface == "eth0" and .state == "gone"'
ok "a TAP deleted in vm2: \"$(ev "$TMP/ev.json" '.kind == "port_state"' .text)\""

# --- status shows the last 5 ------------------------------------------------------------
[ "$(js '.events | length')" = 5 ] && [ "$(js '.events[4].kind')" = port_state ] ||
	fail "status --json events: $(status_json "$LAB" | jq -c .events)"
"$VQNET" status "$LAB" > "$TMP/st"
grep -A5 "^EVENTS" "$TMP/st" | tail -1 | grep -q " vm2 eth0 port gone (was up)$" ||
	fail "status text: $(tail -8 "$TMP/st")"
ok "status shows the last 5 events"

# --- an idle lab's supervisor sleeps --------------------------------------------------------
# (each status request costs the supervisor a few turns of its loop)
w0=$(js .supervisor.wakeups); w1=$(js .supervisor.wakeups)
sleep 10   # measuring idleness: the one wait that must be a sleep
w2=$(js .supervisor.wakeups)
idle=$(( w2 - w1 - (w1 - w0) ))
[ "$idle" -le 30 ] || fail "the supervisor of an idle lab woke $idle times in 10 s"
ok "an idle lab's supervisor (2 streams open) woke $idle times in 10 s"

# --- vqnet run: its scenarios --------------------------------------------------------------
RL=evr$$
cat > "$TMP/$RL.vqnet" <<EOF
[lab]
name = $RL
[vm a]
ip = 10.8.0.1/24
[vm b]
ip = 10.8.0.2/24
[topology t]
a = b
b = a
[scenario pings]
timeout = 30
a = ping -n -c 2 -i 0.2 -W 2 {b}
EOF
LABS+=("$RL")
"$VQNET" run --keep "$TMP/$RL.vqnet" > "$TMP/run.out" 2>&1 & runner=$!
lab_up() { [ "$("$VQNET" status --json "$RL" 2> /dev/null | jq -r .state)" = up ]; }
wait_for 30 lab_up || fail "the run's lab never came up: $(cat "$TMP/run.out")"
"$VQNET" events "$RL" --json > "$TMP/run.json" 2> "$TMP/run.err" & runev=$!
wait $runner || fail "vqnet run: $(cat "$TMP/run.out")"
wait_event "$TMP/run.json" '.kind == "scenario" and .mode == "across" and .phase == "ended"'
got=$(jq -n -r -R '[inputs | fromjson? | select(.kind == "scenario") | "\(.mode) \(.phase) \(.result)"] | join(", ")' "$TMP/run.json")
[ "$got" = "one-vm started null, one-vm ended passed, across started null, across ended passed" ] ||
	fail "the run's scenario events: $got"
ok "vqnet run: $(jq -n -r -R '[inputs | fromjson? | select(.kind == "scenario") | .text] | join("; ")' "$TMP/run.json")"
"$VQNET" down "$RL" > /dev/null
set +e
wait $runev; rc=$?
set -e
[ $rc = 0 ] && [ "$(tail -1 "$TMP/run.json" | jq -r .kind)" = lab_down ] || fail "the run lab's stream: rc $rc"

# a failing scenario ends failed
sed -i 's/^a = ping.*/a = false/' "$TMP/$RL.vqnet"
"$VQNET" run --keep "$TMP/$RL.vqnet" > "$TMP/run.out" 2>&1 && fail "a failing scenario passed"
"$VQNET" events "$RL" --json > "$TMP/run2.json" & runev=$!
wait_event "$TMP/run2.json" '.kind == "scenario" and .phase == "ended"'
[ "$(ev "$TMP/run2.json" '.kind == "scenario" and .phase == "ended"' '"\(.mode) \(.result)"')" = "one-vm failed" ] ||
	fail "failed scenario: $(cat "$TMP/run2.json")"
"$VQNET" down "$RL" > /dev/null
wait $runev || fail "run lab stream after down"
ok "a failing scenario: $(ev "$TMP/run2.json" '.kind == "scenario" and .phase == "ended"' .text)"

# --- down: the streams end by themselves ---------------------------------------------
pids=$(lab_pids "$LAB")
"$VQNET" down "$LAB" > /dev/null
set +e
wait $EVJ; rj=$?
wait $EVT; rt=$?
set -e
[ $rj = 0 ] && [ $rt = 0 ] || fail "streams after down: $rj $rt: $(cat "$TMP/ev.err" "$TMP/evt.err")"
[ "$(tail -1 "$TMP/ev.json" | jq -r .kind)" = lab_down ] || fail "last event: $(tail -1 "$TMP/ev.json")"
[ "$(tail -2 "$TMP/ev.json" | head -1 | jq -r '"\(.kind) \(.reason)"')" = "lab_stopping down requested" ] ||
	fail "before the end: $(tail -2 "$TMP/ev.json")"
tail -1 "$TMP/ev.txt" | grep -q " $LAB lab $LAB is down$" || fail "text end: $(tail -1 "$TMP/ev.txt")"
expect_gone "$LAB" $pids
ok "down: both streams end with the lab-down event, exit 0 ($(wc -l < "$TMP/ev.json") events seen)"

# --- a supervisor that dies ------------------------------------------------------------
DL=evd$$
printf '[lab]\nname = %s\n[vm p]\nip = 10.9.0.1/24\n[vm q]\nip = 10.9.0.2/24\n[topology t]\np = q\nq = p\n' "$DL" > "$TMP/$DL.vqnet"
up "$TMP/$DL.vqnet" "$DL"
"$VQNET" events "$DL" > /dev/null 2> "$TMP/dead.err" & dev=$!
LAB=$DL streams_are 1
kill -9 "$("$VQNET" status --json "$DL" | jq .supervisor.pid)"
set +e
wait $dev; rc=$?
set -e
[ $rc = 1 ] && grep -q "the supervisor died" "$TMP/dead.err" || fail "supervisor killed: rc $rc: $(cat "$TMP/dead.err")"
"$VQNET" down "$DL" > /dev/null
expect_gone "$DL"
ok "a supervisor killed: $(cat "$TMP/dead.err")"
