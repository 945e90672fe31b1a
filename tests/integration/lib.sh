# Helpers for the integration tests (sourced; bash).  Every test makes labs
# with unique names (its PID), and tears down what it made even on failure.
set -euo pipefail

VQNET=${VQNET:?set VQNET to the vqnet binary}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=$(mktemp -d /tmp/vqnet-test.XXXXXX)
LABS=()

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root (namespaces, TAP devices)"
	exit 77
fi

cleanup() {
	local rc=$?
	for l in "${LABS[@]}"; do
		"$VQNET" down "$l" >/dev/null 2>&1 || true
		rm -f /run/vqnet/log/"$l".log /run/vqnet/log/"$l".*.console
	done
	rmdir /run/vqnet/uids /run/vqnet/log /run/vqnet 2>/dev/null || true
	jobs -p | xargs -r kill 2>/dev/null || true
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# lab_from EXAMPLE NAME: copy examples/EXAMPLE.vqnet with its lab name set
# to NAME; prints the new file's path.
lab_from() {
	local src=$SRC/examples/$1.vqnet dst=$TMP/$2.vqnet
	sed "s/^name *=.*/name = $2/" "$src" > "$dst"
	echo "$dst"
}

# up FILE NAME: bring a lab up and remember to take it down.
up() {
	LABS+=("$2")
	"$VQNET" up "$1" > "$TMP/$2.up" || { cat "$TMP/$2.up"; fail "vqnet up $1"; }
}

vx() { "$VQNET" exec "$LAB" "$@"; }

# expect_ping GUEST ADDR [ping options]: succeeds or fails the test
expect_ping() {
	local g=$1 a=$2; shift 2
	vx "$g" -- ping -c 2 -i 0.2 -W 2 "$@" "$a" >/dev/null ||
		fail "$g cannot ping $a"
}

expect_no_ping() {
	local g=$1 a=$2; shift 2
	if vx "$g" -- ping -c 2 -i 0.2 -W 1 "$@" "$a" >/dev/null 2>&1; then
		fail "$g can ping $a but must not"
	fi
}

status_json() { "$VQNET" status --json "$1"; }

# capture ARGS...: start a capture of $LAB in the background, its stderr in
# $TMP/cap.err; returns once it says it captures
capture() {
	"$VQNET" capture "$LAB" "$@" 2> "$TMP/cap.err" &
	CAP=$!
	capturing() { grep -q "^vqnet: capture: [0-9]* interface" "$TMP/cap.err"; }
	wait_for 20 capturing || fail "capture $* did not start: $(cat "$TMP/cap.err")"
}
# end_capture: Ctrl-C, as a user would
end_capture() {
	kill -INT "$CAP"
	wait "$CAP" || fail "capture exited $?: $(cat "$TMP/cap.err")"
}
# js FILTER: a jq filter over $LAB's status (docs/status.md)
js() { status_json "$LAB" | jq -r "$1"; }
# link_sel A B: a jq condition for the link between A and B
link_sel() { echo "(.a.node == \"$1\" and .b.node == \"$2\") or (.a.node == \"$2\" and .b.node == \"$1\")"; }
# end_of A B FILTER: FILTER of A's end of the link between A and B
end_of() { js ".links[] | if .a.node == \"$1\" and .b.node == \"$2\" then .a elif .b.node == \"$1\" and .a.node == \"$2\" then .b else empty end | $3"; }
# until_says VALUE CMD...: wait (at most 10 s) until CMD prints VALUE
says() { local v=$1; shift; [ "$("$@")" = "$v" ]; }
until_says() { wait_for 10 says "$@" || fail "${*:2} never said $1 (last: $("${@:2}"))"; }

# Nothing of LAB left: namespaces, processes, control files (its log is
# kept on purpose, in /run/vqnet/log).
expect_gone() {
	local lab=$1; shift
	if ip netns list | grep -q "^$lab\."; then fail "namespaces of $lab left: $(ip netns list | grep "^$lab\.")"; fi
	for f in /run/vqnet/"$lab".*; do
		[ -e "$f" ] && fail "file left: $f"
	done
	# a process that answered "down" may take a moment to finish exiting
	for pid in "$@"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && fail "process $pid left: $(tr '\0' ' ' < /proc/"$pid"/cmdline)"
	done
	return 0
}

# Pids of a lab's supervisor and vmms, from its status.
lab_pids() {
	"$VQNET" status --json "$1" | jq -r '.supervisor.pid, (.nodes[].vmm.pid // empty)'
}

# vmm_pid LAB NODE: the pid of NODE's vmm
vmm_pid() {
	"$VQNET" status --json "$1" | jq -r --arg n "$2" '.nodes[] | select(.name == $n) | .vmm.pid'
}

# descendants PID: every process below PID
descendants() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		descendants "$c"
	done
}

# wait_for SECONDS CMD...: run CMD until it succeeds, at most SECONDS; for
# state the lab reaches by itself (a counter published, a process gone)
wait_for() {
	local t=$1; shift
	local end=$(( $(date +%s) + t ))
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# iperf_server GUEST PORT [OUT]: a one-shot iperf3 server in GUEST ($LAB),
# its JSON report in OUT (default: nowhere), its pid in SERVER; returns
# once it listens
iperf_server() {
	vx "$1" -- iperf3 -s -1 -p "$2" -J > "${3:-/dev/null}" 2>&1 &
	SERVER=$!
	listening() { [ -n "$(vx "$1" -- ss -Hltn "sport = :$2")" ]; }
	wait_for 10 listening "$1" "$2" || fail "iperf3 server on $1 did not start"
}
