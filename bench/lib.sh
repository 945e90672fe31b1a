# bench/lib.sh - shared by the benchmark scripts (sourced; bash).
#
# A script names its setups in FABRICS, and for each one fills NS_A[name]
# and NS_B[name] with two namespaces holding $A_IP and $B_IP; `measure`
# runs a workload over every setup in interleaved rounds (so drift in the
# machine's load hits all alike) and keeps the median in R[name,key].
# Everything lives in namespaces the script makes (named $ID*), removed on
# exit with every process in them; labs in LABS are taken down.
set -euo pipefail

# The sourcing script sets BUILD (a build tree) and NEEDS (extra tools).
BIN=$(cd "$BUILD" && pwd)/bin
VQNET=$BIN/vqnet
SECS=${BENCH_SECS:-5}
ROUNDS=${BENCH_ROUNDS:-5}
ZMQ_RT=${BENCH_ZMQ_ROUNDTRIPS:-10000}
ME=$(basename "$0")
[ "$(id -u)" = 0 ] || { echo "$ME: needs root" >&2; exit 1; }
for t in "$VQNET" "$BIN/zmq_lat_server" iperf3 ${NEEDS:-}; do
	command -v "$t" >/dev/null || { echo "$ME: $t not found (make build; scripts/deps.sh)" >&2; exit 1; }
done

ID=bench$$
TMP=$(mktemp -d /tmp/vqnet-bench.XXXXXX)
NS=()
LABS=()
declare -A NS_A NS_B R
A_IP=10.77.0.1
B_IP=10.77.0.2

BASE_LABS=()
cleanup() {
	for l in "${LABS[@]}"; do "$VQNET" down "$l" >/dev/null 2>&1 || true; done
	for l in "${BASE_LABS[@]}"; do "$BASE_VQNET" down "$l" >/dev/null 2>&1 || true; done
	for f in "$TMP"/*.pid; do [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
	for n in "${NS[@]}"; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill 2>/dev/null || true
		ip netns del "$n" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# vqnet_lab NAME FILE: bring up a lab whose guests are a ($A_IP) and b ($B_IP)
vqnet_lab() {
	LABS+=("$ID$1")
	"$VQNET" up "$2" >/dev/null
	NS_A[$1]=$ID$1.a NS_B[$1]=$ID$1.b   # namespaces are LAB.GUEST
}

check_all() {
	local f
	for f in $FABRICS; do
		ip netns exec "${NS_A[$f]}" ping -c 1 -W 2 "$B_IP" >/dev/null ||
			{ echo "$ME: $f does not work" >&2; exit 1; }
	done
}

# ---- workloads: each prints one number for setup $1 ------------------------

ping_rtt_us() {
	ip netns exec "${NS_A[$1]}" ping -c 100 -i 0.005 -q "$B_IP" |
		awk -F'/' '/^rtt/ { printf "%.1f", $5 * 1000 }'
}

zmq_rtt_us() {
	ip netns exec "${NS_B[$1]}" "$BIN/zmq_lat_server" "tcp://$B_IP:5555" 1 "$ZMQ_RT" >/dev/null &
	local srv=$!
	ip netns exec "${NS_A[$1]}" "$BIN/zmq_lat_client" "tcp://$B_IP:5555" 1 "$ZMQ_RT" |
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

# measure KEY FUNCTION ROUNDS
measure() {
	local key=$1 fn=$2 rounds=$3 f
	declare -A all
	for _ in $(seq "$rounds"); do
		for f in $FABRICS; do all[$f]+=" $($fn "$f")"; done
	done
	for f in $FABRICS; do R[$f,$key]=$(echo "${all[$f]}" | median); done
}

# ratio KIND A B: how A compares with B, higher is better for A
# (B/A for latencies, A/B for rates)
ratio() {
	awk -v k="$1" -v a="$2" -v b="$3" 'BEGIN {
		if (a == "" || b == "" || a == 0 || b == 0) { print "n/a"; exit }
		printf "%.2fx", k == "lat" ? b / a : a / b }'
}

# base_build COMMIT: the vqnet of an older commit, built once (release) into
# build/bench-base-COMMIT and kept; prints its bin directory.  For benchmarks
# that compare a change with the tree before it, in the same run.
base_build() {
	local src out
	src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	out=$src/build/bench-base-$1
	if [ ! -x "$out/bin/vqnet" ]; then
		echo "building $1 into $out (once)..." >&2
		rm -rf "$out.src"
		mkdir -p "$out.src"
		git -C "$src" archive "$1" | tar -x -C "$out.src"
		cmake -S "$out.src" -B "$out" -DCMAKE_BUILD_TYPE=Release > /dev/null &&
			cmake --build "$out" -j "$(nproc)" --target vqnet vqnet-vmm > /dev/null 2>&1 ||
			{ echo "$ME: cannot build $1" >&2; rm -rf "$out.src"; return 1; }
		rm -rf "$out.src"
	fi
	echo "$out/bin"
}

# base_lab NAME FILE: vqnet_lab with the base build's vqnet ($BASE_VQNET,
# from base_build), taken down by that vqnet on exit
base_lab() {
	BASE_LABS+=("$ID$1")
	"$BASE_VQNET" up "$2" >/dev/null
	NS_A[$1]=$ID$1.a NS_B[$1]=$ID$1.b
}

# ---- peer fabrics: guests $A_IP and $B_IP in namespaces of their own ---------

# setup_bridge: a Linux bridge in a namespace, veth pairs to the two guests
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

# tap_guests FABRIC NS_A NS_B: two guests whose eth0 a peer's process
# creates: wait for it (its creator runs in the background), bring it and
# lo up, address it; the namespaces become FABRIC's
tap_guests() {
	local n
	for n in "$2" "$3"; do
		for _ in $(seq 50); do ip -n "$n" link show eth0 >/dev/null 2>&1 && break; sleep 0.1; done
		ip -n "$n" link set eth0 up
		ip -n "$n" link set lo up
	done
	ip -n "$2" addr add $A_IP/24 dev eth0
	ip -n "$3" addr add $B_IP/24 dev eth0
	NS_A[$1]=$2 NS_B[$1]=$3
}

# setup_tapfwd: bench/tapfwd, one process forwarding between a TAP in each
# guest (the floor of a TAP datapath); its pid in FWD
setup_tapfwd() {
	local a=${ID}t-a b=${ID}t-b f=${ID}t-fwd
	for n in "$a" "$b" "$f"; do ip netns add "$n"; NS+=("$n"); done
	# the forwarder runs in an empty namespace of its own and makes each
	# TAP inside its guest's; bounded, and killed by cleanup before that
	ip netns exec "$f" "$(cd "$BUILD" && pwd)/bench/vq_tapfwd" --seconds 3600 "$a" "$b" > "$TMP/tapfwd.out" 2>&1 &
	FWD=$!
	echo $FWD > "$TMP/tapfwd.pid"
	tap_guests tapfwd "$a" "$b"
}

# veth_fwd FABRIC TAG CMD...: guests whose eth0 is one end of a veth pair,
# the other end (xa, xb) in namespace $ID$TAG-fwd, where CMD runs in the
# background until it prints "ready"; its pid in $TMP/FABRIC.pid
veth_fwd() {
	local fab=$1 t=$2 n
	shift 2
	local a=${ID}$t-a b=${ID}$t-b f=${ID}$t-fwd
	for n in "$a" "$b" "$f"; do ip netns add "$n"; NS+=("$n"); done
	ip -n "$f" link add xa type veth peer name eth0 netns "$a"
	ip -n "$f" link add xb type veth peer name eth0 netns "$b"
	ip -n "$f" link set xa up
	ip -n "$f" link set xb up
	ip netns exec "$f" "$@" > "$TMP/$fab.out" 2>&1 &
	echo $! > "$TMP/$fab.pid"
	for _ in $(seq 50); do
		grep -q '^ready' "$TMP/$fab.out" && break
		kill -0 "$(cat "$TMP/$fab.pid")" 2>/dev/null ||
			{ echo "$ME: $fab: $(cat "$TMP/$fab.out")" >&2; exit 1; }
		sleep 0.1
	done
	tap_guests "$fab" "$a" "$b"
}

# setup_xdpfwd: bench/xdpfwd, one process forwarding between two veths over
# AF_XDP (a datapath that is not a TAP, and has no offloads); XDPFWD is the
# binary
setup_xdpfwd() { veth_fwd xdpfwd x "$XDPFWD" --seconds 3600 xa "${ID}x-a" xb "${ID}x-b"; }

# setup_pktfwd: bench/pktfwd, one process forwarding between two veths over
# AF_PACKET with receive rings and vnet headers (not a TAP, and keeping the
# offloads); PKTFWD is the binary
setup_pktfwd() { veth_fwd pktfwd p "$PKTFWD" --seconds 3600 xa xb; }
