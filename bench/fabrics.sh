#!/bin/bash
# bench/fabrics.sh BUILD_DIR - the same two-guest workloads over three
# fabrics, in one run, all inside namespaces this script creates:
#
#   vqnet   two guests of a vqnet lab (shared-memory virtqueues)
#   bridge  a Linux bridge in a namespace of its own, veth pairs to the guests
#   vde     vde_switch with a vde_plug2tap TAP in each guest
#
# Workloads: ping RTT, ZeroMQ REQ/REP 1-byte round trip (10,000 round trips,
# samples/zmq), iperf3 TCP Gbit/s, iperf3 UDP 64-byte datagrams/s.  Prints
# a table of medians over interleaved rounds and, per peer, how vqnet compares (higher is better for vqnet:
# peer/vqnet for latencies, vqnet/peer for rates).
#
# Nothing touches the host's namespace: addresses, routes, bridges and TAPs
# live in namespaces named bench<PID>-*, removed on exit.
set -euo pipefail

BUILD=${1:-build/release}
VQNET=$(cd "$BUILD" && pwd)/bin/vqnet
ZMQ=$(cd "$BUILD" && pwd)/bin
SECS=${BENCH_SECS:-5}
[ "$(id -u)" = 0 ] || { echo "fabrics.sh: needs root" >&2; exit 1; }
for t in "$VQNET" "$ZMQ/zmq_lat_server" iperf3 vde_switch vde_plug2tap; do
	command -v "$t" >/dev/null || { echo "fabrics.sh: $t not found (make build; scripts/deps.sh)" >&2; exit 1; }
done

ID=bench$$
TMP=$(mktemp -d /tmp/vqnet-bench.XXXXXX)
NS=()
VDE_PIDS=()

cleanup() {
	"$VQNET" down "${ID}v" >/dev/null 2>&1 || true
	for p in "${VDE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for f in "$TMP"/*.pid; do [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
	for n in "${NS[@]}"; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill 2>/dev/null || true
		ip netns del "$n" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

A_IP=10.77.0.1
B_IP=10.77.0.2

# ---- the three fabrics, all up at once ------------------------------------
# Each sets NS_A[fabric] and NS_B[fabric].
declare -A NS_A NS_B

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
	"$VQNET" up "$TMP/lab.vqnet" >/dev/null
	NS_A[vqnet]=${ID}v-a NS_B[vqnet]=${ID}v-b
}

setup_bridge() {
	local a=${ID}b-a b=${ID}b-b br=${ID}b-br
	for n in "$a" "$b" "$br"; do ip netns add "$n"; NS+=("$n"); done
	ip -n "$br" link add br0 type bridge
	ip -n "$br" link set br0 up
	local i=0
	for n in "$a" "$b"; do
		ip -n "$br" link add p$i type veth peer name eth0 netns "$n"
		ip -n "$br" link set p$i master br0 up
		ip -n "$n" link set eth0 up
		ip -n "$n" link set lo up
		i=$((i + 1))
	done
	ip -n "$a" addr add $A_IP/24 dev eth0
	ip -n "$b" addr add $B_IP/24 dev eth0
	NS_A[bridge]=$a NS_B[bridge]=$b
}

setup_vde() {
	local a=${ID}d-a b=${ID}d-b
	vde_switch -d -s "$TMP/vde.ctl" -p "$TMP/vde_switch.pid" -M "$TMP/vde.mgmt" >/dev/null
	for n in "$a" "$b"; do
		ip netns add "$n"
		NS+=("$n")
		ip netns exec "$n" vde_plug2tap -d -P "$TMP/plug-$n.pid" -s "$TMP/vde.ctl" eth0
		for _ in $(seq 50); do ip -n "$n" link show eth0 >/dev/null 2>&1 && break; sleep 0.1; done
		ip -n "$n" link set eth0 up
		ip -n "$n" link set lo up
	done
	ip -n "$a" addr add $A_IP/24 dev eth0
	ip -n "$b" addr add $B_IP/24 dev eth0
	NS_A[vde]=$a NS_B[vde]=$b
}

# ---- the workloads: each prints one number for fabric $1 -------------------

ping_rtt_us() {
	ip netns exec "${NS_A[$1]}" ping -c 100 -i 0.005 -q "$B_IP" |
		awk -F'/' '/^rtt/ { printf "%.1f", $5 * 1000 }'
}

zmq_rtt_us() {
	ip netns exec "${NS_B[$1]}" "$ZMQ/zmq_lat_server" "tcp://$B_IP:5555" 1 "$ZMQ_RT" >/dev/null &
	local srv=$!
	ip netns exec "${NS_A[$1]}" "$ZMQ/zmq_lat_client" "tcp://$B_IP:5555" 1 "$ZMQ_RT" |
		awk '/average latency/ { printf "%.1f", $3 * 2 }'
	wait $srv
}

iperf_server() {
	ip netns exec "${NS_B[$1]}" iperf3 -s -1 -B "$B_IP" >/dev/null 2>&1 &
	IPERF=$!
	for _ in $(seq 50); do
		ip netns exec "${NS_B[$1]}" ss -ltn 2>/dev/null | grep -q ":5201 " && return
		sleep 0.1
	done
}

tcp_gbps() {
	iperf_server "$1"
	ip netns exec "${NS_A[$1]}" iperf3 -c "$B_IP" -t "$SECS" -f g |
		awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i+1) == "Gbits/sec") printf "%.2f", $i }'
	wait $IPERF || true
}

udp64_kpps() {
	iperf_server "$1"
	# receiver line: ... Lost/Total Datagrams "lost/total (pct%)"
	ip netns exec "${NS_A[$1]}" iperf3 -c "$B_IP" -u -l 64 -b 0 -t "$SECS" |
		awk -v s="$SECS" '/receiver/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) {
			split($i, p, "/"); printf "%.0f", (p[2] - p[1]) / s / 1000 } }'
	wait $IPERF || true
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

FABRICS="vqnet bridge vde"
declare -A R
# measure KEY FUNCTION ROUNDS: rounds interleave the fabrics, so drift in
# the machine's load hits all three alike; the median of each is kept
measure() {
	local key=$1 fn=$2 rounds=$3 f
	declare -A all
	for _ in $(seq "$rounds"); do
		for f in $FABRICS; do all[$f]+=" $($fn "$f")"; done
	done
	for f in $FABRICS; do R[$f,$key]=$(echo "${all[$f]}" | median); done
}

ZMQ_RT=${BENCH_ZMQ_ROUNDTRIPS:-10000}
ROUNDS=${BENCH_ROUNDS:-5}
echo "Two guests, one link, three fabrics; median of $ROUNDS interleaved rounds"
echo "(ping: 100 echoes 5 ms apart; ZeroMQ: $ZMQ_RT round trips; iperf3: ${SECS} s per run, 3 rounds)"
setup_vqnet
setup_bridge
setup_vde
for f in $FABRICS; do
	ip netns exec "${NS_A[$f]}" ping -c 1 -W 2 "$B_IP" >/dev/null || { echo "fabrics.sh: $f does not work" >&2; exit 1; }
done
measure ping ping_rtt_us "$ROUNDS"
measure zmq zmq_rtt_us "$ROUNDS"
measure tcp tcp_gbps 3
measure udp udp64_kpps 3

# ratio KIND A B: how vqnet (A) compares with a peer (B); >1 = vqnet better
ratio() {
	awk -v k="$1" -v a="$2" -v b="$3" 'BEGIN {
		if (a == "" || b == "" || a == 0 || b == 0) { print "n/a"; exit }
		printf "%.2fx", k == "lat" ? b / a : a / b }'
}

printf '\n%-26s %10s %10s %10s   %-12s %-12s\n' workload vqnet bridge vde "vs bridge" "vs vde"
printf '%s\n' "-----------------------------------------------------------------------------------"
row() {
	local key=$1 label=$2 kind=$3
	printf '%-26s %10s %10s %10s   %-12s %-12s\n' "$label" "${R[vqnet,$key]:-fail}" \
		"${R[bridge,$key]:-fail}" "${R[vde,$key]:-fail}" \
		"$(ratio "$kind" "${R[vqnet,$key]}" "${R[bridge,$key]}")" \
		"$(ratio "$kind" "${R[vqnet,$key]}" "${R[vde,$key]}")"
}
row ping "ping RTT (us)" lat
row zmq "ZeroMQ 1 B RTT (us)" lat
row tcp "iperf3 TCP (Gbit/s)" rate
row udp "iperf3 UDP 64 B (kpkt/s)" rate
echo
echo "vs: how vqnet compares, higher is better (peer/vqnet for latency, vqnet/peer for rates)"
