#!/bin/bash
# 50 MB of random bytes over TCP across each link of the seed lab, in both
# directions, the SHA-256 compared at both ends.
. "$(dirname "$0")/lib.sh"

LAB=tcp$$
up "$(lab_from zmq_samples "$LAB")" "$LAB"
head -c 50M /dev/urandom > "$TMP/blob"
want=$(sha256sum < "$TMP/blob" | cut -d' ' -f1)

# transfer FROM TO TO_IP PORT
transfer() {
	local from=$1 to=$2 ip=$3 port=$4
	vx "$to" -- sh -c "socat -u TCP-LISTEN:$port,reuseaddr STDOUT | sha256sum > '$TMP/got'" &
	local rx=$!
	# the sender retries until the listener is there
	vx "$from" -- bash -c "tee < '$TMP/blob' >(sha256sum > '$TMP/sent') |
		socat -u STDIN TCP:$ip:$port,retry=100,interval=0.1" ||
		fail "$from -> $to: send failed"
	wait $rx || fail "$from -> $to: receive failed"
	local sent got
	sent=$(cut -d' ' -f1 < "$TMP/sent")
	got=$(cut -d' ' -f1 < "$TMP/got")
	[ "$sent" = "$want" ] || fail "$from sent something else ($sent)"
	[ "$got" = "$want" ] || fail "$from -> $to: received $got, sent $want"
	ok "$from -> $to: 50 MB, sha256 $want on both ends"
}

transfer vm0 vm1 192.168.1.2 9001
transfer vm1 vm0 192.168.1.1 9002
transfer vm0 vm2 192.168.1.3 9003
transfer vm2 vm0 192.168.1.1 9004
transfer vm1 vm2 192.168.1.3 9005
transfer vm2 vm1 192.168.1.2 9006

json=$(status_json "$LAB")
[ "$(echo "$json" | jq '[.links[] | .a.error, .b.error | select(. != null)] | length')" = 0 ] ||
	fail "a link broke: $json"
# the guests' offloaded frames (64 KiB TCP segments) all passed the header check
[ "$(echo "$json" | jq '[.nodes[].ifaces[].counters.bad_header] | add')" = 0 ] || fail "frames refused: $json"
[ "$(echo "$json" | jq '[.links[] | .a, .b | .drop_full, .drop_stalled, .drop_broken] | add')" = 0 ] ||
	fail "frames dropped: $json"
ok "links healthy after 300 MB, no frame refused or dropped"
