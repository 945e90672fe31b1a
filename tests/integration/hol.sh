#!/bin/bash
# Hardening #14: head-of-line blocking.  With one peer slow (its vmm
# stopped, a stand-in returning one buffer every 400 ms), a full ring used
# to pause the whole TAP for up to 500 ms, and each returned buffer started
# the wait again: vm0 -> vm1, a healthy peer, went from 0.2 ms to 4.5 s on
# average.  Now a link that makes no progress is declared stalled and its
# frames are dropped (counted), so the healthy peer keeps its round trip;
# and back-pressure to a healthy peer still loses nothing: 50 MB of TCP to
# vm1 meanwhile shows no vqnet drop at all.
. "$(dirname "$0")/lib.sh"
SLOWPEER=${SLOWPEER:?set SLOWPEER to the vqnet-slowpeer tool}

LAB=hol$$
up "$(lab_from zmq_samples "$LAB")" "$LAB"
# status --json fields (src/vqnet/sup_status.c; counters: lib/stats/vmm_stats.h)
# rtt FILE: "avg max" in ms of a ping's summary line
rtt() { awk -F/ '/^rtt/ { print $5, $6 }' "$1"; }
within() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b + 50) }'; }
is_stopped() { awk '{ sub(/.*\) /, ""); print ($1 == "T" || $1 == "t") ? "yes" : "no" }' /proc/"$1"/stat; }

expect_ping vm0 192.168.1.2
expect_ping vm0 192.168.1.3
vx vm0 -- ping -c 20 -i 0.05 -W 1 192.168.1.2 > "$TMP/base" || fail "vm0 cannot ping vm1"
read -r base_avg base_max < <(rtt "$TMP/base")

# vm2's end of the vm0-vm2 link goes slow
li=$(js ".links[] | select($(link_sel vm0 vm2)) | .index")
side=$(js ".links[] | select($(link_sel vm0 vm2)) | if .a.node == \"vm2\" then 0 else 1 end")
v2=$(vmm_pid "$LAB" vm2)
"$SLOWPEER" "$v2" "$li" "$side" 400 120000 > "$TMP/slow" 2>&1 &
slow=$!
until_says yes is_stopped "$v2"
# more than its ring holds, for longer than the measurements take
vx vm0 -- ping -f -l 300 -w 8 192.168.1.3 >/dev/null 2>&1 &
flood=$!
# the ring fills; soon after, with no progress, the link is stalled
slow_state() { end_of vm0 vm2 .state; }
ring_filled() { end_of vm0 vm2 '.state | test("full|stalled")'; }
until_says true ring_filled
for _ in $(seq 20); do
	[ "$(slow_state)" = stalled ] && break
	sleep 0.1
done
vx vm0 -- ping -c 20 -i 0.05 -W 5 192.168.1.2 > "$TMP/ping" || true
got=$(awk '/received/ { print $4 }' "$TMP/ping")
[ "${got:-0}" -gt 0 ] ||
	fail "vm0 -> vm1: none of 20 answered within 5 s while vm2 was slow ($base_avg ms on average before)"
read -r avg max < <(rtt "$TMP/ping")
within "$avg" "$base_avg" ||
	fail "vm0 -> vm1: $avg ms on average, up to $max ms, $got of 20 answered while vm2 was slow ($base_avg ms before)"
within "$max" "$base_max" || fail "vm0 -> vm1: up to $max ms while vm2 was slow (up to $base_max ms before)"
[ "$got" = 20 ] || fail "vm0 -> vm1: $got of 20 answered while vm2 was slow"
[ "$(slow_state)" = stalled ] || fail "the slow link is $(slow_state), not stalled"
ok "a slow peer: vm0 -> vm1 at $avg ms average, $max ms max ($base_avg / $base_max ms before)"
wait $flood || true

# 50 MB of TCP to the healthy peer while vm2 is still slow
head -c 50M /dev/urandom > "$TMP/blob"
want=$(sha256sum < "$TMP/blob" | cut -d' ' -f1)
vx vm1 -- sh -c "socat -u TCP-LISTEN:9001,reuseaddr STDOUT | sha256sum > '$TMP/got'" &
rx=$!
vx vm0 -- bash -c "tee < '$TMP/blob' >(sha256sum > '$TMP/sent') |
	socat -u STDIN TCP:192.168.1.2:9001,retry=100,interval=0.1" || fail "vm0 -> vm1: send failed"
wait $rx || fail "vm0 -> vm1: receive failed"
[ "$(cut -d' ' -f1 < "$TMP/sent")" = "$want" ] || fail "vm0 sent something else"
[ "$(cut -d' ' -f1 < "$TMP/got")" = "$want" ] || fail "vm0 -> vm1: received $(cat "$TMP/got"), sent $want"
json=$(status_json "$LAB")
drops=$(echo "$json" | jq "[(.links[] | select($(link_sel vm0 vm1)) | .a, .b | .drop_full, .drop_stalled, .drop_broken),
	(.nodes[] | select(.name == \"vm0\" or .name == \"vm1\") | .ifaces[].counters.to_guest_drops)] | add")
[ "$drops" = 0 ] || fail "vqnet dropped $drops frames between vm0 and vm1: $json"
ok "50 MB vm0 -> vm1 beside the slow peer, sha256 $want on both ends, no frame dropped"

stalled=$(end_of vm0 vm2 .drop_stalled)
[ "$(end_of vm0 vm2 .state)" = stalled ] || fail "the slow link is not stalled any more"
[ "$stalled" -gt 0 ] || fail "no frame for the slow peer was counted as stalled"
kill "$slow"
wait "$slow" || fail "the slow peer failed: $(cat "$TMP/slow")"
ok "the slow link: stalled, $stalled frames for it dropped and counted ($(cat "$TMP/slow") returned)"
