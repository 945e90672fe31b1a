#!/bin/bash
# bench/capture.sh BUILD_DIR - what a capture costs the datapath (issue 11):
# three labs of three guests (a, b, c, a full mesh), measured on a -> b, in
# interleaved rounds of one run:
#
#   old     the build before capture existed (BASE, 1559263 by default,
#           built once into build/bench-base-BASE): what the datapath's
#           capture checks cost when nothing is captured
#   none    no capture
#   other   a capture of another link of the same vmm (a-c) to /dev/null
#   this    a capture of the measured link (a-b) to /dev/null
#
# Workloads: ping RTT, ZeroMQ 1 B round trip, iperf3 TCP; medians, and
# each against `none` (higher is better, 1.00x = free).  The capture's
# own losses (a reader slower than the link) are printed after.
BUILD=${1:-build/release}
BASE=${BASE:-1559263}
. "$(dirname "$0")/lib.sh"
FABRICS="old none other this"
BASE_VQNET=$(base_build "$BASE")/vqnet

mesh() {
	printf '[lab]\nname = %s\n[vm a]\nip = %s/24\n[vm b]\nip = %s/24\n[vm c]\nip = 10.77.0.3/24\n' \
		"$1" "$A_IP" "$B_IP"
	printf '[topology lan]\na = b c\nb = a c\nc = a b\n'
}
mesh "${ID}old" > "$TMP/old.vqnet"
base_lab old "$TMP/old.vqnet"
for f in none other this; do
	mesh "$ID$f" > "$TMP/$f.vqnet"
	vqnet_lab "$f" "$TMP/$f.vqnet"
done
"$VQNET" capture "${ID}other" a-c -w /dev/null 2> "$TMP/other.err" &
echo $! > "$TMP/cap-other.pid"
"$VQNET" capture "${ID}this" a-b -w /dev/null 2> "$TMP/this.err" &
echo $! > "$TMP/cap-this.pid"
for f in other this; do
	for _ in $(seq 100); do grep -q interface "$TMP/$f.err" && break; sleep 0.1; done
	grep -q interface "$TMP/$f.err" || { echo "$ME: capture of $f: $(cat "$TMP/$f.err")" >&2; exit 1; }
done
check_all

echo "What a capture costs the link it watches and its neighbours: median of"
echo "$ROUNDS interleaved rounds (iperf3: ${SECS} s, 3 rounds; cpus: $(nproc), unpinned:"
echo "the vmms, the guests' programs and the capture readers share them)"
measure ping ping_rtt_us "$ROUNDS"
measure zmq zmq_rtt_us "$ROUNDS"
measure tcp tcp_gbps 3

printf '\n%-22s %8s %8s %8s %8s   %-9s %-9s %-9s\n' workload old none "other" "this" none/old \
	other/none this/none
printf '%s\n' "----------------------------------------------------------------------------------------"
row() {
	local key=$1 label=$2 kind=$3
	printf '%-22s %8s %8s %8s %8s   %-9s %-9s %-9s\n' "$label" "${R[old,$key]}" "${R[none,$key]}" \
		"${R[other,$key]}" "${R[this,$key]}" "$(ratio "$kind" "${R[none,$key]}" "${R[old,$key]}")" \
		"$(ratio "$kind" "${R[other,$key]}" "${R[none,$key]}")" \
		"$(ratio "$kind" "${R[this,$key]}" "${R[none,$key]}")"
}
row ping "ping RTT (us)" lat
row zmq "ZeroMQ 1 B RTT (us)" lat
row tcp "iperf3 TCP (Gbit/s)" rate
for f in other this; do
	kill -INT "$(cat "$TMP/cap-$f.pid")"
	wait "$(cat "$TMP/cap-$f.pid")" 2>/dev/null || true
	echo "capture of $f: $(grep -o '[0-9]* frames, [0-9]* lost' "$TMP/$f.err" | tail -1)"
done
echo "none/old: the capture code, idle, against the build before it; x/none: a capture"
echo "running against none; higher is better (1.00x = free)"
