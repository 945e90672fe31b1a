#!/bin/bash
# bench/fabrics.sh BUILD_DIR - the same two-guest workloads over six
# fabrics, in one run, all inside namespaces this script creates:
#
#   vqnet   two guests of a vqnet lab (shared-memory virtqueues)
#   bridge  a Linux bridge in a namespace of its own, veth pairs to the guests
#   tapfwd  bench/tapfwd: one process copying frames between a TAP in each
#           guest, with vnet headers and offloads as vqnet's TAPs have them
#           (the floor of any TAP datapath)
#   xdpfwd  bench/xdpfwd: one process copying frames between two veths over
#           AF_XDP, a batch per system call but no offloads (a datapath
#           that is not a TAP)
#   pktfwd  bench/pktfwd: one process copying frames between two veths over
#           AF_PACKET receive rings with vnet headers, a batch per system
#           call and the offloads kept
#   vde     vde_switch with a vde_plug2tap TAP in each guest
#
# Workloads: ping RTT, ZeroMQ REQ/REP 1-byte round trip (10,000 round trips,
# samples/zmq), iperf3 TCP Gbit/s, iperf3 UDP 64-byte datagrams/s.  Prints
# a table of medians over interleaved rounds and, per peer, how vqnet compares (higher is better for vqnet:
# peer/vqnet for latencies, vqnet/peer for rates); then issue 12's goals,
# each ratio against its goal: the ZeroMQ, TCP and UDP ratios to the bridge,
# ping against the forwarder, and the seed lab's cross-guest / one-guest
# ZeroMQ latency from `vqnet run examples/zmq_samples.vqnet` (its summary,
# median of BENCH_SEED_RUNS runs, default 5, under a lab name of our own;
# its two halves run at different times, so it is the noisiest figure).
#
# Nothing touches the host's namespace: addresses, routes, bridges and TAPs
# live in namespaces named bench<PID>-*, removed on exit.
BUILD=${1:-build/release}
NEEDS="vde_switch vde_plug2tap"
. "$(dirname "$0")/lib.sh"
FABRICS="vqnet bridge tapfwd xdpfwd pktfwd vde"
TAPFWD=$(cd "$BUILD" && pwd)/bench/vq_tapfwd
XDPFWD=$(cd "$BUILD" && pwd)/bench/vq_xdpfwd
PKTFWD=$(cd "$BUILD" && pwd)/bench/vq_pktfwd
for b in "$TAPFWD" "$XDPFWD" "$PKTFWD"; do
	[ -x "$b" ] || { echo "$ME: $b not found (build the bench targets)" >&2; exit 1; }
done
SEED_RUNS=${BENCH_SEED_RUNS:-5}

setup_vqnet() {
	cat > "$TMP/lab.vqnet" <<EOF
[lab]
name = ${ID}v
[vm a]
ip = $A_IP/24
[vm b]
ip = $B_IP/24
[topology lan]
a = b
b = a
EOF
	vqnet_lab v "$TMP/lab.vqnet"
	NS_A[vqnet]=${NS_A[v]} NS_B[vqnet]=${NS_B[v]}
}


setup_vde() {
	local a=${ID}d-a b=${ID}d-b
	vde_switch -d -s "$TMP/vde.ctl" -p "$TMP/vde_switch.pid" -M "$TMP/vde.mgmt" >/dev/null
	for n in "$a" "$b"; do
		ip netns add "$n"
		NS+=("$n")
		ip netns exec "$n" vde_plug2tap -d -P "$TMP/plug-$n.pid" -s "$TMP/vde.ctl" eth0
	done
	tap_guests vde "$a" "$b"
}

echo "Two guests, one link, six fabrics; median of $ROUNDS interleaved rounds"
echo "(ping: 100 echoes 5 ms apart; ZeroMQ: $ZMQ_RT round trips; iperf3: ${SECS} s per run, 3 rounds;"
echo " $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start)"
setup_vqnet
setup_bridge
setup_tapfwd
setup_xdpfwd
setup_pktfwd
setup_vde
check_all
measure ping ping_rtt_us "$ROUNDS"
measure zmq zmq_rtt_us "$ROUNDS"
measure tcp tcp_gbps 3
measure udp udp64_kpps 3

# the seed lab's summary: "client-server latency [us] ONE ACROSS RATIOx"
seed_ratio() {
	sed "s/^name *= *zmq_samples/name = ${ID}s/" "$(dirname "$0")/../examples/zmq_samples.vqnet" > "$TMP/seed.vqnet"
	timeout 300 "$VQNET" run "$TMP/seed.vqnet" 2>&1 |
		awk '/^client-server/ && /latency/ { sub(/x$/, "", $NF); print $NF }' || true
}
LABS+=("${ID}s")   # run takes it down; cleanup makes sure
seeds=""
for _ in $(seq "$SEED_RUNS"); do seeds+=" $(seed_ratio)"; done
R[seed]=$(echo "$seeds" | median)

printf '\n%-26s %8s %8s %8s %8s %8s %8s   %-9s %-9s %-9s %-9s %-9s\n' workload vqnet bridge tapfwd \
	xdpfwd pktfwd vde "vs bridge" "vs tapfwd" "vs xdpfwd" "vs pktfwd" "vs vde"
printf '%s\n' "-------------------------------------------------------------------------------------------------------------------------------"
row() {
	local key=$1 label=$2 kind=$3 f
	printf '%-26s' "$label"
	for f in $FABRICS; do printf ' %8s' "${R[$f,$key]:-fail}"; done
	printf '  '
	for f in bridge tapfwd xdpfwd pktfwd vde; do
		printf ' %-9s' "$(ratio "$kind" "${R[vqnet,$key]}" "${R[$f,$key]}")"
	done
	echo
}
row ping "ping RTT (us)" lat
row zmq "ZeroMQ 1 B RTT (us)" lat
row tcp "iperf3 TCP (Gbit/s)" rate
row udp "iperf3 UDP 64 B (kpkt/s)" rate
echo
echo "vs: how vqnet compares, higher is better (peer/vqnet for latency, vqnet/peer for rates)"

# goal NAME VALUE OP LIMIT: one row of the goal table
goal() {
	awk -v n="$1" -v v="$2" -v op="$3" -v g="$4" 'BEGIN {
		if (v == "") { printf "%-48s %9s %6s %-5s  %s\n", n, "n/a", op, g, "misses (no value)"; exit }
		ok = op == "<=" ? v <= g + 1e-9 : v >= g - 1e-9
		printf "%-48s %9.2f %6s %-5s  %s\n", n, v, op, g, ok ? "meets" : "misses" }'
}
# over A B: A/B as a plain number (empty if either is missing)
over() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b != 0) printf "%.4f", a / b }'; }
echo
echo "Issue 12's goals (same run)"
printf '%-48s %9s %6s %-5s  %s\n' measure measured goal "" verdict
printf '%s\n' "-----------------------------------------------------------------------------------"
goal "ZeroMQ 1 B latency, vqnet / bridge" "$(over "${R[vqnet,zmq]}" "${R[bridge,zmq]}")" "<=" 1.1
goal "iperf3 TCP, vqnet / bridge" "$(over "${R[vqnet,tcp]}" "${R[bridge,tcp]}")" ">=" 0.9
goal "iperf3 UDP 64 B, vqnet / bridge" "$(over "${R[vqnet,udp]}" "${R[bridge,udp]}")" ">=" 0.9
goal "ping RTT, vqnet / tapfwd" "$(over "${R[vqnet,ping]}" "${R[tapfwd,ping]}")" "<=" 1.0
goal "seed lab ZeroMQ latency, cross-guest / one-guest" "${R[seed]}" "<=" 1.2
echo "(seed lab: median of $SEED_RUNS runs of examples/zmq_samples.vqnet, each ratio:${seeds})"
# where the floors stand: what a forwarder alone gets, against the bridge
floor() {
	awk -v f="$1" -v t="$(over "${R[$1,tcp]}" "${R[bridge,tcp]}")" \
		-v u="$(over "${R[$1,udp]}" "${R[bridge,udp]}")" 'BEGIN {
		printf "%s / bridge: TCP %s, UDP 64 B %s\n", f, t == "" ? "n/a" : sprintf("%.2f", t),
			u == "" ? "n/a" : sprintf("%.2f", u) }'
}
echo
echo "The floors (same run): a forwarder alone, against the bridge"
floor tapfwd
floor xdpfwd
floor pktfwd
