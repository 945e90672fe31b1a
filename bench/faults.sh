#!/bin/bash
# bench/faults.sh BUILD_DIR - what vqnet's faults do, and what they cost
# (issue 10), in one run:
#
# 1. Accuracy: each impairment set with `vqnet impair` on a two-guest lab,
#    measured from inside the guests: delay (ping RTT over the baseline,
#    per direction), jitter (ping's standard deviation against the
#    model's), loss (numbered UDP datagrams, one way), bursty loss (its
#    mean burst), rate (iperf3 TCP).
# 2. Cost on an unimpaired link: the same two-guest lab built from the
#    commit before the impairment code (BASE, 276f0e4 by default, built
#    once into build/bench-base-BASE), from BUILD, and from BUILD with an
#    impairment so small it never fires (the impaired path taken for every
#    frame); ping, ZeroMQ and iperf3 in interleaved rounds, ratios against
#    the old build.
# 3. Recovery: 10 times, a vmm killed (-9) while 1000 datagrams a second
#    cross its link; the supervisor's gap (the death to its successor's
#    ready) and the datapath's (datagrams lost x 1 ms), median and worst.
#    Kills alternate between the two guests, each vmm left 10 s between
#    its start and its death, so no kill meets the crash backoff.
#
# Everything lives in namespaces of labs this script makes; nothing touches
# the host's namespace.  BENCH_ROUNDS (5), BENCH_SECS (4).
BUILD=${1:-build/release}
BASE=${BASE:-276f0e4}
: "${BENCH_SECS:=4}"
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/.." && pwd)
UDPSEQ=$(cd "$BUILD" && pwd)/tools/vqnet-udpseq
[ -x "$UDPSEQ" ] || { echo "$ME: $UDPSEQ missing (build $BUILD)" >&2; exit 1; }
TOP="cpus: $(nproc) (vmms and guests' programs share them, unpinned)"

# ---- the base build: the tree at BASE, built once and kept --------------------
BASE_VQNET=$(base_build "$BASE")/vqnet

guests() {
	printf '[lab]\nname = %s\n[vm a]\nip = %s/24\n[vm b]\nip = %s/24\n[topology lan]\na = b\nb = a\n' \
		"$1" "$A_IP" "$B_IP"
}
guests "${ID}old" > "$TMP/old.vqnet"
base_lab old "$TMP/old.vqnet"
guests "${ID}new" > "$TMP/new.vqnet"
vqnet_lab new "$TMP/new.vqnet"
{ guests "${ID}imp"; printf '[link a b]\nloss = 0.000001%%\n'; } > "$TMP/imp.vqnet"
vqnet_lab imp "$TMP/imp.vqnet"
FABRICS="old new imp"
check_all

LAB=${ID}new
A=${NS_A[new]} B=${NS_B[new]}
imp() { "$VQNET" impair "$LAB" a b "$@" > /dev/null; }

# ---- 1. accuracy ------------------------------------------------------------
# rtt STAT N: ping a -> b N times 20 ms apart; STAT avg or mdev (ms)
rtt() {
	ip netns exec "$A" ping -q -c "$2" -i 0.02 -W 2 "$B_IP" |
		awk -F'[/ ]' -v k="$1" '/^rtt/ { print (k == "avg" ? $8 : $10) }'
}
# lost PCT [burst B]: loss one way; prints "lost% mean-burst" of 20000 datagrams
lost() {
	local n=20000
	imp --from a clear loss "$@"
	ip netns exec "$B" "$UDPSEQ" recv 7000 1000 > "$TMP/got" 2> "$TMP/err" &
	local rx=$!
	for _ in $(seq 100); do grep -q ready "$TMP/err" && break; sleep 0.05; done
	ip netns exec "$A" "$UDPSEQ" send "$B_IP" 7000 $n 100
	wait $rx
	imp clear
	seq $n | sort > "$TMP/all"
	sort "$TMP/got" | comm -23 "$TMP/all" - | sort -n |
		awk -v n=$n 'NR > 1 && $1 != prev + 1 { runs++ } { prev = $1 } END {
			if (NR) runs++; printf "%.2f%% %.2f", NR * 100 / n, NR ? NR / runs : 0 }'
}
tcp_mbit() {
	ip netns exec "$B" iperf3 -s -1 -B "$B_IP" > /dev/null 2>&1 &
	local srv=$!
	for _ in $(seq 50); do ip netns exec "$B" ss -ltn | grep -q ":5201 " && break; sleep 0.1; done
	ip netns exec "$A" iperf3 -c "$B_IP" -t "$SECS" -J | jq '.end.sum_received.bits_per_second / 1e6 | . * 10 | floor / 10'
	wait $srv || true
}
# ping's neighbour lookups out of the way: static entries both ways
ip netns exec "$A" ip neigh replace "$B_IP" lladdr "$(ip netns exec "$B" cat /sys/class/net/eth0/address)" dev eth0 nud permanent
ip netns exec "$B" ip neigh replace "$A_IP" lladdr "$(ip netns exec "$A" cat /sys/class/net/eth0/address)" dev eth0 nud permanent

echo "Faults: configured against measured ($TOP)"
echo
printf '%-34s %-22s %-22s\n' impairment configured measured
printf '%s\n' "--------------------------------------------------------------------------"
base=$(rtt avg 100)
printf '%-34s %-22s %-22s\n' "none (baseline)" "-" "RTT $base ms"
for d in 1 10 50; do
	imp clear delay ${d}ms
	m=$(rtt avg 100)
	printf '%-34s %-22s %-22s\n' "delay ${d}ms both ways" "${d} ms each way" \
		"$(awk -v m="$m" -v b="$base" 'BEGIN { printf "%.3f ms each way", (m - b) / 2 }')"
done
for kind in normal uniform; do
	imp clear delay 10ms jitter 4ms $kind
	m=$(rtt mdev 300)
	# the RTT's spread: two independent draws, sd 0.44 x jitter (normal,
	# cut at 2 sigma) or jitter / sqrt(3) (uniform), each way
	want=$(awk -v k=$kind 'BEGIN { s = k == "normal" ? 0.4405 * 4 : 4 / sqrt(3); printf "%.2f", sqrt(2) * s }')
	printf '%-34s %-22s %-22s\n' "delay 10ms jitter 4ms $kind" "RTT sd $want ms" "RTT sd $m ms"
done
imp clear
for p in 1 10 30; do
	set -- $(lost $p%)
	printf '%-34s %-22s %-22s\n' "loss $p% (one way)" "$p%" "$1"
done
set -- $(lost 10% burst 4)
printf '%-34s %-22s %-22s\n' "loss 10% burst 4" "10%, bursts of 4" "$1, bursts of $2"
for r in 10 100 500; do
	imp clear rate ${r}mbit
	printf '%-34s %-22s %-22s\n' "rate ${r}mbit (iperf3 TCP)" "$r Mbit/s" "$(tcp_mbit) Mbit/s"
done
imp clear
echo "(loss: 20000 datagrams 100 us apart; jitter: 300 pings 20 ms apart; rate: ${SECS} s)"

# ---- 2. cost on an unimpaired link --------------------------------------------
echo
echo "Cost of the impairment code on a link without impairments: median of"
echo "$ROUNDS interleaved rounds (iperf3: ${SECS} s, 3 rounds; $TOP)"
echo "  old  $BASE, the commit before it; new  $BUILD; impaired  $BUILD with loss 0.000001%"
measure ping ping_rtt_us "$ROUNDS"
measure zmq zmq_rtt_us "$ROUNDS"
measure tcp tcp_gbps 3
measure udp udp64_kpps 3
printf '\n%-26s %9s %9s %9s   %-9s %-9s\n' workload old new impaired new/old imp/old
printf '%s\n' "------------------------------------------------------------------------------"
row() {
	local key=$1 label=$2 kind=$3
	printf '%-26s %9s %9s %9s   %-9s %-9s\n' "$label" "${R[old,$key]:-fail}" "${R[new,$key]:-fail}" \
		"${R[imp,$key]:-fail}" "$(ratio "$kind" "${R[new,$key]}" "${R[old,$key]}")" \
		"$(ratio "$kind" "${R[imp,$key]}" "${R[old,$key]}")"
}
row ping "ping RTT (us)" lat
row zmq "ZeroMQ 1 B RTT (us)" lat
row tcp "iperf3 TCP (Gbit/s)" rate
row udp "iperf3 UDP 64 B (kpkt/s)" rate
echo "x/old: against the build before impairments, higher is better (1.00x = free)"

# ---- 3. recovery after kill -9 ------------------------------------------------
echo
echo "Recovery: 10 kills of a vmm while 1000 datagrams/s cross its link"
declare -A started
started[a]=$(date +%s) started[b]=$(date +%s)
sup_gaps="" path_gaps=""
for k in $(seq 10); do
	node=$([ $((k % 2)) = 1 ] && echo b || echo a)
	# 10 s since this vmm started: a death sooner counts as a crash
	while [ $(( $(date +%s) - started[$node] )) -lt 11 ]; do sleep 0.2; done
	ip netns exec "$B" "$UDPSEQ" recv 7001 3000 > "$TMP/got" 2> "$TMP/err" &
	rx=$!
	for _ in $(seq 100); do grep -q ready "$TMP/err" && break; sleep 0.05; done
	ip netns exec "$A" "$UDPSEQ" send "$B_IP" 7001 1500 1000 &
	tx=$!
	sleep 0.5   # pacing: the kill lands a third of the way in
	pid=$("$VQNET" status --json "$LAB" | jq -r --arg n "$node" '.nodes[] | select(.name == $n) | .vmm.pid')
	kill -9 "$pid"
	wait $tx
	wait $rx
	started[$node]=$(date +%s)
	g=$("$VQNET" status --json "$LAB" | jq -r --arg n "$node" '.nodes[] | select(.name == $n) | .vmm.last_gap_ms')
	lost=$(( 1500 - $(sort -u "$TMP/got" | wc -l) ))
	printf '  kill %2d (%s): vmm ready again after %6.1f ms; %4d datagrams lost (%d ms)\n' "$k" "$node" "$g" "$lost" "$lost"
	sup_gaps+=" $g" path_gaps+=" $lost"
done
worst() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }
printf '%-34s %10s %10s\n' "" median worst
printf '%-34s %10.1f %10.1f\n' "supervisor: death to ready (ms)" "$(echo "$sup_gaps" | median)" "$(echo "$sup_gaps" | worst)"
printf '%-34s %10s %10s\n' "datapath: datagrams lost (ms)" "$(echo "$path_gaps" | median)" "$(echo "$path_gaps" | worst)"
