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
BUILD=${1:-build/release}
NEEDS="vde_switch vde_plug2tap"
. "$(dirname "$0")/lib.sh"
FABRICS="vqnet bridge vde"

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

echo "Two guests, one link, three fabrics; median of $ROUNDS interleaved rounds"
echo "(ping: 100 echoes 5 ms apart; ZeroMQ: $ZMQ_RT round trips; iperf3: ${SECS} s per run, 3 rounds)"
setup_vqnet
setup_bridge
setup_vde
check_all
measure ping ping_rtt_us "$ROUNDS"
measure zmq zmq_rtt_us "$ROUNDS"
measure tcp tcp_gbps 3
measure udp udp64_kpps 3

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
