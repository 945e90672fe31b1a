#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration tests of the ZeroMQ sample programs (samples/zmq): the seed's
# scenarios run over real TCP on 127.0.0.1 and their output checked line by
# line. Every program runs under `timeout`, so a program that does not end
# by itself fails the test instead of hanging it.
#
# usage: zmq_samples.sh SCENARIO BINDIR FREE_PORTS
#   SCENARIO    latency | weather | vanished-subscriber | pipeline | throughput |
#               wrong-address | usage
#   BINDIR      the directory of the programs (<build>/samples/zmq)
#   FREE_PORTS  the zmq_samples_free_ports helper
set -eu -o pipefail

args=("$@")
scenario=$1 bin=$2 free_ports=$3
limit=60 # seconds any one program may run
work=$(mktemp -d "${TMPDIR:-/tmp}/vqnet-zmq-samples.XXXXXX")
declare -A pid=() # name -> PID of a `timeout` we started and have not reaped

cleanup() {
	local p
	for p in "${pid[@]}"; do
		kill "$p" 2>/dev/null || true # timeout passes it on to the program
		kill -CONT "$p" 2>/dev/null || true # a stopped one, to see the TERM
	done
	for p in "${pid[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	pid=()
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP # so that cleanup runs on a signal too

show() {
	local f
	for f in "$work"/*.out "$work"/*.err; do
		if [ -s "$f" ]; then
			echo "--- ${f##*/}"
			cat "$f"
		fi
	done >&2
}

# A port taken by someone else between zmq_samples_free_ports and the bind
# is the one failure that is not ours: run the scenario again, twice at most.
fail() {
	echo "FAIL ($scenario): $*" >&2
	show
	if grep -qs 'Address already in use' "$work"/*.err &&
		[ "${ZS_ATTEMPT:-1}" -lt 3 ]; then
		echo "port clash, trying again with other ports" >&2
		cleanup
		trap - EXIT
		ZS_ATTEMPT=$((${ZS_ATTEMPT:-1} + 1)) exec "$0" "${args[@]}"
	fi
	exit 1
}

ports() { # ports N: N free loopback ports into the array "port"
	mapfile -t port < <("$free_ports" "$1")
	[ "${#port[@]}" -eq "$1" ] || fail "could not find $1 free ports"
}

# start NAME PROGRAM ARG...: runs a program in the background; its output
# goes to $work/NAME.out and $work/NAME.err.
start() {
	local name=$1 prog=$2
	shift 2
	timeout -k 5 "$limit" "$bin/$prog" "$@" \
		>"$work/$name.out" 2>"$work/$name.err" &
	pid[$name]=$!
}

# finish NAME [STATUS]: waits for NAME; it must have ended by itself with
# STATUS (default 0).
finish() {
	local name=$1 want=${2:-0} rc=0
	wait "${pid[$name]}" || rc=$?
	unset "pid[$name]"
	[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] ||
		fail "$name did not end by itself within ${limit}s"
	[ "$rc" -eq "$want" ] || fail "$name exited $rc, expected $want"
}

lines() { mapfile -t line <"$work/$1.out"; } # lines NAME: output into "line"

expect_lines() { # expect_lines NAME N
	lines "$1"
	[ "${#line[@]}" -eq "$2" ] ||
		fail "$1 printed ${#line[@]} lines, expected $2"
}

expect_line() { # expect_line NAME INDEX TEXT
	[ "${line[$2]}" = "$3" ] ||
		fail "$1 line $(($2 + 1)) is '${line[$2]}', expected '$3'"
}

positive() { awk -v x="$1" 'BEGIN { exit !(x > 0) }'; }

# --- client/server: REQ/REP round trips -----------------------------------
latency_pair() { # latency_pair SIZE COUNT ORDER(client-first|server-first)
	local size=$1 count=$2 ep
	ports 1
	ep=tcp://127.0.0.1:${port[0]}
	if [ "$3" = client-first ]; then
		start client zmq_lat_client "$ep" "$size" "$count"
		start server zmq_lat_server "$ep" "$size" "$count"
	else
		start server zmq_lat_server "$ep" "$size" "$count"
		start client zmq_lat_client "$ep" "$size" "$count"
	fi
	finish client
	finish server
	expect_lines client 3
	expect_line client 0 "message size: $size [B]"
	expect_line client 1 "roundtrip count: $count"
	[[ ${line[2]} =~ ^average\ latency:\ ([0-9]+\.[0-9]{3})\ \[us\]$ ]] ||
		fail "client line 3 is '${line[2]}'"
	positive "${BASH_REMATCH[1]}" || fail "latency ${BASH_REMATCH[1]} is not positive"
	[ ! -s "$work/server.out" ] || fail "the latency server printed something"
}

test_latency() {
	latency_pair 1 2000 client-first
	latency_pair 4096 300 server-first
}

# --- publish/subscribe: weather updates --------------------------------------
check_weather() { # check_weather NAME FILTER COUNT
	local name=$1 filter=$2 count=$3 sum=0 i zip temp hum
	expect_lines "$name" $((count + 2))
	expect_line "$name" 0 "Collecting updates from weather server…"
	for ((i = 1; i <= count; i++)); do
		[[ ${line[i]} =~ ^temp:\ ([0-9]{5})\ (-?[0-9]+)\ ([0-9]+)\ ([0-9]+)$ ]] ||
			fail "$name line $((i + 1)) is malformed: '${line[i]}'"
		zip=${BASH_REMATCH[1]} temp=${BASH_REMATCH[2]} hum=${BASH_REMATCH[3]}
		[ "${BASH_REMATCH[4]}" -eq "$i" ] || fail "$name: update $i is numbered ${BASH_REMATCH[4]}"
		[ -z "$filter" ] || [ "$zip" = "$filter" ] ||
			fail "$name subscribed to $filter but got $zip"
		((10#$zip >= 10000 && 10#$zip <= 10009)) || fail "$name: zipcode $zip out of range"
		((temp >= -80 && temp <= 134)) || fail "$name: temperature $temp out of range"
		((hum >= 10 && hum <= 59)) || fail "$name: humidity $hum out of range"
		sum=$((sum + temp))
	done
	# bash divides like C, toward zero: the seed's -37 / 5 gives -7
	expect_line "$name" $((count + 1)) \
		"Average temperature for zipcode was $((sum / count))F"
}

test_weather() {
	local ep
	ports 1
	ep=tcp://127.0.0.1:${port[0]}
	# One subscriber before the server, two after: none may miss an update
	# or be missed; the server ends once all three have left.
	start c1 zmq_wuclient "$ep" 10001 5
	start server zmq_wuserver "$ep" --subscribers 3
	start c2 zmq_wuclient "$ep" "" 12
	start c3 zmq_wuclient "$ep" 10009
	finish c1
	finish c2
	finish c3
	finish server
	check_weather c1 10001 5
	check_weather c2 "" 12
	check_weather c3 10009 5
	lines server
	expect_line server 0 "Publishing weather updates to 3 subscribers"
	[[ ${line[1]} =~ ^All\ subscribers\ left\ after\ [0-9]+\ updates$ ]] ||
		fail "server line 2 is '${line[1]}'"
}

# A subscriber that vanishes without closing its connection (a crashed guest,
# a cut link; here SIGSTOP) must not keep the server running: heartbeats drop
# it after --wait-timeout.
test_vanished_subscriber() {
	local ep i t0 t1
	ports 1
	ep=tcp://127.0.0.1:${port[0]}
	start server zmq_wuserver "$ep" --wait-timeout 2
	# no `timeout` around this one, so that SIGSTOP freezes the client itself
	"$bin/zmq_wuclient" "$ep" "" 1000000000 >"$work/client.out" \
		2>"$work/client.err" &
	pid[client]=$!
	for ((i = 0; i < 100; i++)); do # its first update, within 10 s
		! grep -q '^temp: ' "$work/client.out" || break
		sleep 0.1
	done
	grep -q '^temp: ' "$work/client.out" || fail "the subscriber got no update"
	kill -STOP "${pid[client]}"
	t0=$(date +%s)
	finish server
	t1=$(date +%s)
	(((t1 - t0) <= 8)) ||
		fail "the server took $((t1 - t0)) s to drop a silent subscriber"
	kill -KILL "${pid[client]}"
	wait "${pid[client]}" || true
	unset "pid[client]"
	lines server
	expect_line server 0 "Publishing weather updates to 1 subscriber"
	[[ ${line[1]} =~ ^All\ subscribers\ left\ after\ [0-9]+\ updates$ ]] ||
		fail "server line 2 is '${line[1]}'"
}

# --- pipeline: ventilator, two workers, sink ---------------------------------
test_pipeline() {
	local vent sink ctl i cost elapsed done
	ports 3
	vent=tcp://127.0.0.1:${port[0]}
	sink=tcp://127.0.0.1:${port[1]}
	ctl=tcp://127.0.0.1:${port[2]}
	# The second worker starts after the ventilator: the ventilator must
	# wait for it rather than give every task to the first.
	start w1 zmq_worker "$vent" "$sink" "$ctl"
	start ventilator zmq_ventilator "$vent" "$sink" --workers 2 --tasks 100
	start sink zmq_sink "$sink" "$ctl"
	start w2 zmq_worker "$vent" "$sink" "$ctl"
	for i in ventilator sink w1 w2; do finish "$i"; done

	expect_lines ventilator 2
	expect_line ventilator 0 "Sending tasks to workers…"
	[[ ${line[1]} =~ ^Total\ expected\ cost:\ ([0-9]+)\ msec$ ]] ||
		fail "ventilator line 2 is '${line[1]}'"
	cost=${BASH_REMATCH[1]}

	expect_lines sink 11
	for ((i = 0; i < 10; i++)); do
		expect_line sink "$i" "received $(((i + 1) * 10))/100"
	done
	[[ ${line[10]} =~ ^Total\ elapsed\ time:\ ([0-9]+)\ msec$ ]] ||
		fail "sink line 11 is '${line[10]}'"
	elapsed=${BASH_REMATCH[1]}
	((elapsed < cost)) ||
		fail "two workers took $elapsed msec for $cost msec of work"

	for i in w1 w2; do
		expect_lines "$i" 1
		[[ ${line[0]} =~ ^Processed\ ([0-9]+)\ tasks\ \([0-9]+\ msec\ of\ work\)$ ]] ||
			fail "$i printed '${line[0]}'"
		done=${BASH_REMATCH[1]}
		# PUSH round-robins strictly over attached workers, so an exact
		# half each shows that both were attached before the first task.
		[ "$done" -eq 50 ] || fail "$i processed $done of 100 tasks, expected 50"
	done
	echo "pipeline: expected cost $cost msec, elapsed $elapsed msec"
}

# --- throughput: PUSH/PULL ---------------------------------------------------
test_throughput() {
	local ep
	ports 1
	ep=tcp://127.0.0.1:${port[0]}
	start server zmq_thr_server "$ep" 100 100000
	start client zmq_thr_client "$ep" 100 100000
	finish client
	finish server
	expect_lines server 4
	expect_line server 0 "message size: 100 [B]"
	expect_line server 1 "message count: 100000"
	[[ ${line[2]} =~ ^mean\ throughput:\ ([0-9]+)\ \[msg/s\]$ ]] ||
		fail "server line 3 is '${line[2]}'"
	positive "${BASH_REMATCH[1]}" || fail "throughput is not positive"
	[[ ${line[3]} =~ ^mean\ throughput:\ [0-9]+\.[0-9]{3}\ \[Mb/s\]$ ]] ||
		fail "server line 4 is '${line[3]}'"
	[ ! -s "$work/client.out" ] || fail "the throughput client printed something"
}

# --- a mistyped address: every waiting program gives up by itself ------------
test_wrong_address() {
	local nobody any=tcp://127.0.0.1:* name t0 t1 held
	# A port we keep bound but not listening: connections to it are
	# refused, and nobody else can take it while the test runs.
	coproc holder { exec "$free_ports" 1 60; }
	pid[holder]=$holder_PID
	read -r held <&"${holder[0]}" || fail "could not hold a free port"
	nobody=tcp://127.0.0.1:$held
	limit=10
	t0=$(date +%s)
	# the client/server pair, the client pointed at the wrong address
	start lat_server zmq_lat_server "$any" 1 10 --wait-timeout 2
	start lat_client zmq_lat_client "$nobody" 1 10 --wait-timeout 2
	start thr_server zmq_thr_server "$any" 1 10 --wait-timeout 2
	start thr_client zmq_thr_client "$nobody" 1 10 --wait-timeout 2
	start wuserver zmq_wuserver "$any" --wait-timeout 2
	start wuclient zmq_wuclient "$nobody" --wait-timeout 2
	start ventilator zmq_ventilator "$any" "$nobody" --wait-timeout 2
	start worker zmq_worker "$nobody" "$nobody" "$nobody" --wait-timeout 2
	start sink zmq_sink "$any" "$any" --wait-timeout 2
	for name in lat_server lat_client thr_server thr_client wuserver \
		wuclient ventilator worker sink; do
		finish "$name" 1
		grep -q "^zmq_[a-z_]*: timed out after 2 s " "$work/$name.err" ||
			fail "$name did not say that it timed out"
	done
	t1=$(date +%s)
	(((t1 - t0) <= 6)) || fail "giving up took $((t1 - t0)) s for a 2 s timeout"
	grep -q "waiting for a reply on $nobody" "$work/lat_client.err" ||
		fail "the latency client did not name the address it waited on"
}

# --- command lines: strict, exit 2, --help exits 0 -----------------------------
expect_usage_error() { # expect_usage_error PROGRAM ARG...
	local rc=0
	"$bin/$1" "${@:2}" >"$work/usage.out" 2>"$work/usage.err" || rc=$?
	[ "$rc" -eq 2 ] || fail "$* exited $rc, expected 2"
	grep -q "^$1: " "$work/usage.err" || fail "$* gave no message on stderr"
	grep -q "^usage: $1 " "$work/usage.err" || fail "$* printed no usage line"
	[ ! -s "$work/usage.out" ] || fail "$* printed on stdout"
}

test_usage() {
	local prog
	for prog in zmq_lat_server zmq_lat_client zmq_wuserver zmq_wuclient \
		zmq_ventilator zmq_worker zmq_sink zmq_thr_server zmq_thr_client; do
		"$bin/$prog" --help >"$work/help.out" || fail "$prog --help failed"
		grep -q "^usage: $prog " "$work/help.out" || fail "$prog --help shows no usage"
		expect_usage_error "$prog"
		expect_usage_error "$prog" --no-such-option tcp://127.0.0.1:1
		expect_usage_error "$prog" tcp://127.0.0.1:1 --wait-timeout 0
	done
	for prog in zmq_lat_server zmq_lat_client zmq_thr_server zmq_thr_client; do
		expect_usage_error "$prog" tcp://127.0.0.1:1 1 10x
		expect_usage_error "$prog" tcp://127.0.0.1:1 -1 10
		expect_usage_error "$prog" tcp://127.0.0.1:1 1 0
		expect_usage_error "$prog" tcp://127.0.0.1:1 1 99999999999999999999999
		expect_usage_error "$prog" tcp://127.0.0.1:1 1 10 extra
	done
	expect_usage_error zmq_wuclient tcp://127.0.0.1:1 1000x
	expect_usage_error zmq_wuclient tcp://127.0.0.1:1 100000
	expect_usage_error zmq_wuclient tcp://127.0.0.1:1 10001 0
	expect_usage_error zmq_wuserver tcp://127.0.0.1:1 --zipcodes 10009-10000
	expect_usage_error zmq_wuserver tcp://127.0.0.1:1 --zipcodes 10000
	expect_usage_error zmq_wuserver tcp://127.0.0.1:1 --subscribers=
	expect_usage_error zmq_ventilator tcp://127.0.0.1:1 tcp://127.0.0.1:2 --workers 0
	expect_usage_error zmq_ventilator tcp://127.0.0.1:1 tcp://127.0.0.1:2 --tasks ' 5'
	expect_usage_error zmq_sink tcp://127.0.0.1:1 --wait-timeout
	grep -q "bad COUNT '10x'" <("$bin/zmq_lat_client" a 1 10x 2>&1 || true) ||
		fail "a bad number is not echoed back"
}

case $scenario in
latency) test_latency ;;
weather) test_weather ;;
vanished-subscriber) test_vanished_subscriber ;;
pipeline) test_pipeline ;;
throughput) test_throughput ;;
wrong-address) test_wrong_address ;;
usage) test_usage ;;
*) fail "unknown scenario '$scenario'" ;;
esac
echo "PASS ($scenario)"
