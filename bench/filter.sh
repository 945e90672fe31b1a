#!/bin/bash
# bench/filter.sh BUILD_DIR - what the filter node costs: two guests joined
# directly, and through a filter with 0, 1 and 100 rules, in one run:
#
#   direct   a = b
#   f0       a = fw = b, no rules, policy allow
#   f1       one rule, `allow tcp`, policy allow
#   f100     99 rules that miss TCP by a single field (its source address),
#            then `allow tcp`; ping crosses all 100 to the policy
#
# Stateless, so the numbers are the rule walk's own.  Workloads: ping RTT,
# ZeroMQ REQ/REP 1-byte round trip, iperf3 TCP; medians over interleaved
# rounds, and each filter's cost against the direct link (higher is better).
BUILD=${1:-build/release}
. "$(dirname "$0")/lib.sh"
FABRICS="direct f0 f1 f100"

guests() {
	printf '[lab]\nname = %s\n[vm a]\nip = %s/24\n[vm b]\nip = %s/24\n' "$1" "$A_IP" "$B_IP"
}

# filtered NAME NRULES
filtered() {
	local f=$TMP/$1.vqnet n=$2
	{
		guests "$ID$1"
		printf '[filter fw]\npolicy = allow\n'
		for i in $(seq 1 $((n - 1))); do
			printf 'rule = drop tcp src 172.16.%d.%d dport %d\n' $((i / 250)) $((i % 250 + 1)) $((1000 + i))
		done
		[ "$n" -gt 0 ] && printf 'rule = allow tcp\n'
		printf '[topology lan]\na = fw\nfw = a b\nb = fw\n'
	} > "$f"
	vqnet_lab "$1" "$f"
}

{ guests "${ID}direct"; printf '[topology lan]\na = b\nb = a\n'; } > "$TMP/direct.vqnet"
vqnet_lab direct "$TMP/direct.vqnet"
filtered f0 0
filtered f1 1
filtered f100 100
check_all

echo "Two guests: direct, and through a filter of 0, 1 and 100 rules;"
echo "median of $ROUNDS interleaved rounds (iperf3: ${SECS} s, 3 rounds)"
measure ping ping_rtt_us "$ROUNDS"
measure zmq zmq_rtt_us "$ROUNDS"
measure tcp tcp_gbps 3

printf '\n%-24s %9s %9s %9s %9s   %-8s %-8s %-8s\n' workload direct "0 rules" "1 rule" "100 rules" \
	"f0/dir" "f1/dir" "f100/dir"
printf '%s\n' "-----------------------------------------------------------------------------------------"
row() {
	local key=$1 label=$2 kind=$3
	printf '%-24s %9s %9s %9s %9s   %-8s %-8s %-8s\n' "$label" "${R[direct,$key]}" "${R[f0,$key]}" \
		"${R[f1,$key]}" "${R[f100,$key]}" "$(ratio "$kind" "${R[f0,$key]}" "${R[direct,$key]}")" \
		"$(ratio "$kind" "${R[f1,$key]}" "${R[direct,$key]}")" \
		"$(ratio "$kind" "${R[f100,$key]}" "${R[direct,$key]}")"
}
row ping "ping RTT (us)" lat
row zmq "ZeroMQ 1 B RTT (us)" lat
row tcp "iperf3 TCP (Gbit/s)" rate
echo
echo "x/dir: the filtered link against the direct one, higher is better (1.00x = free)"
