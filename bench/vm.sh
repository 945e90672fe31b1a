#!/bin/bash
# bench/vm.sh BUILD_DIR - two QEMU VMs (the same guest image, memory, vCPU
# count, accelerator and virtio-net device options) over three fabrics, in
# one run:
#
#   vqnet   a `kind = qemu` lab brought up with `vqnet up`: each VM's
#           virtio-net NIC is served by its vmm over vhost-user; programs
#           run with `vqnet exec`
#   tap     QEMU's usual `-netdev tap`, the two TAPs on a Linux bridge, all
#           in a network namespace this script makes (vhost=on only if the
#           host has /dev/vhost-net; the output says which)
#   stream  QEMU's `-netdev stream` joining the two VMs directly over a unix
#           socket (QEMU 7.2 has stream; `socket` is its older form)
#
# The peers' QEMU command line is the supervisor's (src/vqnet/sup_vm.c) with
# only the netdev changed; their programs run through the image's agent with
# vqnet-agentd + vqnet-agentc, as tests/vm does.  Workloads, each timed inside
# the guests: ping RTT (busybox ping, 100 echoes 5 ms apart), ZeroMQ REQ/REP
# 1-byte round trip (zmq_lat_*), iperf3 TCP and UDP 64 B.  The image has no
# iperf3: the host's iperf3 and its libraries are copied into each guest's
# /tmp through its agent at start (the image itself is not changed).
# Medians of interleaved rounds (the fabric that goes first rotates);
# ratios against vqnet, higher is better for vqnet.  Also: `vqnet up` of the
# seed's three-VM lab, each fabric's two-VM boot, and memory per VM (PSS of
# its QEMU, vmm and agentd, /proc/PID/smaps_rollup).
#
# After every throughput run each fabric is checked with a ping; a fabric
# that stopped carrying frames is counted as wedged, that run is left out of
# the median, and its VMs are restarted so the other rows still measure.
#
# Bounded: every guest command runs under timeout (host and guest side),
# boots and `up` have deadlines.  Everything started is stopped by PID and
# every namespace made is deleted on exit, failure or Ctrl-C.  Nothing is
# configured in the host's namespace.
#
# BENCH_ROUNDS (7) rounds of ping and ZeroMQ, BENCH_TPUT_ROUNDS (5) of
# iperf3, BENCH_SECS (5) s per iperf3 run, BENCH_ZMQ_ROUNDTRIPS (2000).
BUILD=${1:-build/release}
NEEDS="qemu-system-x86_64 timeout tar ldd jq"
: "${BENCH_ZMQ_ROUNDTRIPS:=2000}"   # TCG: 10,000 would take most of a minute per run
: "${BENCH_ROUNDS:=7}"               # TCG figures on a shared 2-CPU host are noisy
. "$(dirname "$0")/lib.sh"
TROUNDS=${BENCH_TPUT_ROUNDS:-5}
FABRICS="vqnet tap stream"
GUEST=$(cd "$BUILD" && pwd)/guest
SRC=$(cd "$(dirname "$0")/.." && pwd)
MEM=256
for f in vmlinuz initramfs.cpio cmdline; do
	[ -r "$GUEST/$f" ] || { echo "$ME: $GUEST/$f missing: run scripts/guest-image.sh $BUILD" >&2; exit 1; }
done
for b in vqnet-agentd vqnet-agentc; do
	[ -x "$BIN/$b" ] || { echo "$ME: $BIN/$b is not built" >&2; exit 1; }
done

A_MAC=02:00:00:77:00:01
B_MAC=02:00:00:77:00:02
declare -A PIDS_OF W N BOOT QCMD
PIDS=()          # every process started, in order
T_START=$(date +%s)

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
say() { echo "$ME: $*" >&2; }

# stop PID...: SIGTERM, up to 5 s, then SIGKILL; reaped if ours
stop_pids() {
	local p i
	for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "$@"; do
		for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

cleanup() {
	trap - INT TERM
	local l n p
	for l in "${LABS[@]}"; do timeout 60 "$VQNET" down "$l" >/dev/null 2>&1 || true; done
	[ ${#PIDS[@]} -eq 0 ] || stop_pids "${PIDS[@]}"
	# our background commands in the guests (each bounded anyway)
	for p in $(jobs -p); do kill -TERM "$p" 2>/dev/null || true; done
	for n in "${NS[@]}"; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
		ip netns del "$n" 2>/dev/null || true
	done
	rm -rf "$TMP"
}

# ---- running a command in a VM --------------------------------------------

# gx FABRIC a|b SECS CMD...: CMD in that VM, stdin passed on, killed after
# SECS inside the guest and, should the guest not answer, from here
gx() {
	local f=$1 side=$2 secs=$3
	shift 3
	if [ "$f" = vqnet ]; then
		timeout -k 5 $((secs + 10)) "$VQNET" exec "${ID}v" "$side" -- timeout -s KILL "$secs" "$@"
	else
		timeout -k 5 $((secs + 10)) "$BIN/vqnet-agentc" "$TMP/$f-$side.c.sock" -- \
			timeout -s KILL "$secs" "$@"
	fi
}

# iperf3 for the guests: the host's binary and every library it needs
IPERF_DIR=$TMP/iperf
mkdir -p "$IPERF_DIR"
cp -L "$(command -v iperf3)" "$IPERF_DIR/iperf3"
for l in $(ldd "$(command -v iperf3)" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'); do
	cp -L "$l" "$IPERF_DIR/"
done
IPERF_VER=$(iperf3 --version | awk 'NR == 1 { print $2 }')
IPERF="env LD_LIBRARY_PATH=/tmp/iperf /tmp/iperf/iperf3"
push_iperf() {
	local s
	for s in a b; do
		tar -cf - -C "$TMP" iperf | gx "$1" "$s" 60 tar -xf - -C /tmp ||
			{ say "$1: cannot copy iperf3 into VM $s"; return 1; }
	done
}

# ---- the VMs ----------------------------------------------------------------

ACCEL=""
CMDLINE=$(head -n1 "$GUEST/cmdline")

# qemu_args NAME MAC IP NETDEV...: the supervisor's QEMU options
# (src/vqnet/sup_vm.c qemu_argv) with this netdev for the NIC
qemu_args() {
	local name=$1 mac=$2 ip=$3 base=$TMP/$1
	shift 3
	Q=(qemu-system-x86_64 -name "$ID.$name,debug-threads=off" -accel "$ACCEL"
		-machine pc,memory-backend=mem -nodefaults -no-user-config -display none -no-reboot
		-m "${MEM}M" -smp 1 -object "memory-backend-memfd,id=mem,size=${MEM}M,share=on,seal=on"
		-kernel "$GUEST/vmlinuz" -initrd "$GUEST/initramfs.cpio"
		-append "$CMDLINE vqnet.name=${name#*-} vqnet.if=$mac,$ip/24"
		-chardev "file,id=console,path=$base.console" -serial chardev:console
		-device virtio-serial-pci,id=vser
		-chardev "socket,id=agent,path=$base.agent,server=on,wait=off"
		-device virtserialport,bus=vser.0,chardev=agent,name=vqnet.agent
		-netdev "$1"
		# vectors=0, disable-legacy=on as vqnet's own (vqnet needs INTx
		# under TCG: sup_vm.c), so the guests' drivers are the same
		-device "virtio-net-pci,netdev=net0,mac=$mac,vectors=0,disable-legacy=on"
		-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny)
}

wait_file() {   # wait_file PATH SECS
	local i
	for i in $(seq $(($2 * 20))); do [ -e "$1" ] && return 0; sleep 0.05; done
	return 1
}

# start_vm FABRIC SIDE NETNS NETDEV: QEMU and its agentd in NETNS
start_vm() {
	local f=$1 s=$2 ns=$3 name=$1-$2 mac ip
	if [ "$s" = a ]; then mac=$A_MAC ip=$A_IP; else mac=$B_MAC ip=$B_IP; fi
	rm -f "$TMP/$name.agent" "$TMP/$name.c.sock"
	qemu_args "$name" "$mac" "$ip" "$4"
	[ "$s" = a ] && QCMD[$f]="${Q[*]}"
	ip netns exec "$ns" "${Q[@]}" >"$TMP/$name.qemu.log" 2>&1 &
	PIDS+=($!)
	PIDS_OF[$name]=$!
	wait_file "$TMP/$name.agent" 30 || { cat "$TMP/$name.qemu.log" >&2; say "$name: QEMU did not start"; return 1; }
	ip netns exec "$ns" "$BIN/vqnet-agentd" --qemu "$TMP/$name.agent" --listen "$TMP/$name.c.sock" \
		>"$TMP/$name.agentd.log" 2>&1 &
	PIDS+=($!)
	PIDS_OF[$name]+=" $!"
}

# boot_pair FABRIC NETNS NETDEV_A NETDEV_B: both VMs, until both agents answer
boot_pair() {
	local f=$1 ns=$2 t0 s
	t0=$(now_ms)
	start_vm "$f" a "$ns" "$3" || return 1
	[ "$f" = stream ] && { wait_file "$TMP/stream.sock" 30 || return 1; }
	start_vm "$f" b "$ns" "$4" || return 1
	for s in a b; do
		wait_file "$TMP/$f-$s.c.sock" 30 || return 1
		timeout 200 "$BIN/vqnet-agentc" "$TMP/$f-$s.c.sock" --wait 180000 >/dev/null ||
			{ tail -5 "$TMP/$f-$s.console" >&2; say "$f-$s: no agent"; return 1; }
	done
	BOOT[$f]=$(( $(now_ms) - t0 ))
}

stop_pair() {
	local p
	# shellcheck disable=SC2086
	stop_pids ${PIDS_OF[$1-a]:-} ${PIDS_OF[$1-b]:-}
	PIDS_OF[$1-a]="" PIDS_OF[$1-b]=""
}

# ---- the fabrics ------------------------------------------------------------

lab_text() {   # lab_text NAME
	printf '[lab]\nname = %s\nkind = qemu\n[vm a]\nmac = %s\nip = %s/24\nmemory = %sM\n' "$1" "$A_MAC" "$A_IP" "$MEM"
	printf '[vm b]\nmac = %s\nip = %s/24\nmemory = %sM\n[topology lan]\na = b\nb = a\n' "$B_MAC" "$B_IP" "$MEM"
}

setup_vqnet() {
	local t0
	[ -e "$TMP/vqnet.vqnet" ] || { lab_text "${ID}v" >"$TMP/vqnet.vqnet"; LABS+=("${ID}v"); }
	t0=$(now_ms)
	timeout -k 10 300 "$VQNET" up "$TMP/vqnet.vqnet" >"$TMP/vqnet.up" 2>&1 ||
		{ cat "$TMP/vqnet.up" >&2; say "vqnet up failed"; return 1; }
	BOOT[vqnet]=$(( $(now_ms) - t0 ))
	ACCEL=$("$VQNET" status --json "${ID}v" | jq -r '.nodes[0].vm.accel')
	QCMD[vqnet]=$(tr '\0' ' ' </proc/"$("$VQNET" status --json "${ID}v" | jq '.nodes[0].vm.qemu.pid')"/cmdline)
}
teardown_vqnet() { timeout 60 "$VQNET" down "${ID}v" >/dev/null 2>&1 || true; }

TAP_NS=${ID}t
VHOST=off
[ -c /dev/vhost-net ] && VHOST=on
setup_tap() {
	local i
	if [ -z "${TAP_MADE:-}" ]; then
		ip netns add "$TAP_NS"
		NS+=("$TAP_NS")
		ip -n "$TAP_NS" link set lo up
		ip -n "$TAP_NS" link add br0 type bridge
		ip -n "$TAP_NS" link set br0 up
		for i in 0 1; do
			ip -n "$TAP_NS" tuntap add dev tap$i mode tap
			ip -n "$TAP_NS" link set tap$i master br0 up
		done
		TAP_MADE=1
	fi
	boot_pair tap "$TAP_NS" "tap,id=net0,ifname=tap0,script=no,downscript=no,vhost=$VHOST" \
		"tap,id=net0,ifname=tap1,script=no,downscript=no,vhost=$VHOST"
}
teardown_tap() { stop_pair tap; }

STREAM_NS=${ID}s
setup_stream() {
	if [ -z "${STREAM_MADE:-}" ]; then
		ip netns add "$STREAM_NS"   # nothing in it: QEMUs and agentds only
		NS+=("$STREAM_NS")
		STREAM_MADE=1
	fi
	rm -f "$TMP/stream.sock"
	boot_pair stream "$STREAM_NS" \
		"stream,id=net0,server=on,addr.type=unix,addr.path=$TMP/stream.sock" \
		"stream,id=net0,server=off,addr.type=unix,addr.path=$TMP/stream.sock"
}
teardown_stream() { stop_pair stream; }

# Does the fabric carry frames?  A ping answered within about 20 s (a
# guest still draining a flood under TCG is not a wedge).
alive() {
	local i
	for i in 1 2 3 4 5; do
		gx "$1" a 8 ping -c 1 -W 3 "$B_IP" >/dev/null 2>&1 && return 0
		sleep 1
	done
	# what vqnet saw, for the record
	[ "$1" = vqnet ] && timeout 10 "$VQNET" status "${ID}v" 2>&1 | sed -n '/^INTERFACE/,$p' | sed 's/^/  /' >&2
	return 1
}

declare -A REVIVED
revive() {
	say "$1 stopped carrying frames: restarting its two VMs"
	REVIVED[$1]=1
	"teardown_$1"
	"setup_$1" && push_iperf "$1" && alive "$1"
}

# ---- workloads: each prints one number for fabric $1 (nothing on failure) ----

vm_ping_us() {
	gx "$1" a 30 ping -c 100 -i 0.005 -q "$B_IP" 2>/dev/null |
		awk -F'[=/ ]+' '/round-trip/ { printf "%.1f", $(NF-2) * 1000 }' || true
}

vm_zmq_us() {
	local srv
	gx "$1" b 120 zmq_lat_server "tcp://*:5555" 1 "$ZMQ_RT" >/dev/null 2>&1 &
	srv=$!
	gx "$1" a 120 zmq_lat_client "tcp://$B_IP:5555" 1 "$ZMQ_RT" 2>/dev/null |
		awk '/average latency/ { printf "%.1f", $3 * 2 }' || true
	wait $srv 2>/dev/null || true
}

vm_iperf_server() {
	local i
	gx "$1" b $((SECS + 30)) $IPERF -s -1 -B "$B_IP" >/dev/null 2>&1 &
	IPERF_SRV=$!
	for i in $(seq 40); do
		gx "$1" b 5 netstat -ltn 2>/dev/null | grep -q ":5201 " && return 0
		sleep 0.2
	done
}

vm_tcp_mbps() {
	vm_iperf_server "$1"
	gx "$1" a $((SECS + 20)) $IPERF -c "$B_IP" -t "$SECS" -f m 2>/dev/null |
		awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i+1) == "Mbits/sec") printf "%.0f", $i }' || true
	wait $IPERF_SRV 2>/dev/null || true
}

vm_udp64_kpps() {
	vm_iperf_server "$1"
	gx "$1" a $((SECS + 20)) $IPERF -c "$B_IP" -u -l 64 -b 0 -t "$SECS" 2>/dev/null |
		awk -v s="$SECS" '/receiver/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) {
			split($i, p, "/"); printf "%.1f", (p[2] - p[1]) / s / 1000 } }' || true
	wait $IPERF_SRV 2>/dev/null || true
}

# vm_measure KEY FUNCTION ROUNDS [check]: interleaved, the first fabric
# rotating; with check, a run after which the fabric is dead is a wedge
vm_measure() {
	local key=$1 fn=$2 rounds=$3 check=${4:-} r f v i
	local -a order=($FABRICS)
	declare -A all
	for r in $(seq 0 $((rounds - 1))); do
		for i in $(seq 0 $((${#order[@]} - 1))); do
			f=${order[$(( (i + r) % ${#order[@]} ))]}
			[ -n "${DEAD[$f]:-}" ] && continue
			N[$f,$key]=$(( ${N[$f,$key]:-0} + 1 ))
			v=$($fn "$f")
			if [ -n "$check" ] && ! alive "$f"; then
				W[$f,$key]=$(( ${W[$f,$key]:-0} + 1 ))
				revive "$f" || { say "$f could not be restarted: left out from now on"; DEAD[$f]=1; }
				continue
			fi
			[ -n "$v" ] && all[$f]+=" $v"
		done
	done
	for f in $FABRICS; do ALL[$f,$key]=${all[$f]:-}; done
	# (median fails on an empty list: pipefail)
	for f in $FABRICS; do R[$f,$key]=$(echo "${all[$f]:-}" | median || true); done
}
declare -A DEAD ALL

# ---- memory: PSS of each VM's processes ------------------------------------

pss() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
declare -A MQ MV MA
# measure_mem TAG: the two VMs of every fabric, summed into M?[fabric,TAG]
measure_mem() {
	local t=$1 s f q v a js
	js=$("$VQNET" status --json "${ID}v")
	for s in a b; do
		q=$(jq ".nodes[] | select(.name == \"$s\") | .vm.qemu.pid" <<<"$js")
		v=$(jq ".nodes[] | select(.name == \"$s\") | .vmm.pid" <<<"$js")
		a=$(sed -n "s/.*started QEMU of $s (pid $q,.*its agentd (pid \([0-9]*\)).*/\1/p" \
			"/run/vqnet/log/${ID}v.log" | tail -n1)
		MQ[vqnet,$t]=$(( ${MQ[vqnet,$t]:-0} + $(pss "$q") ))
		MV[vqnet,$t]=$(( ${MV[vqnet,$t]:-0} + $(pss "$v") ))
		MA[vqnet,$t]=$(( ${MA[vqnet,$t]:-0} + $(pss "${a:-0}") ))
		for f in tap stream; do
			set -- ${PIDS_OF[$f-$s]}
			MQ[$f,$t]=$(( ${MQ[$f,$t]:-0} + $(pss "$1") ))
			MA[$f,$t]=$(( ${MA[$f,$t]:-0} + $(pss "$2") ))
			MV[$f,$t]=0
		done
	done
}

# ---- run --------------------------------------------------------------------

echo "Two QEMU VMs ($MEM MiB, 1 vCPU, the image in $GUEST), three fabrics; medians of interleaved rounds"
echo "(ping: 100 echoes 5 ms apart, $ROUNDS rounds; ZeroMQ: $ZMQ_RT round trips, $ROUNDS rounds;"
echo " iperf3 $IPERF_VER, copied into the guests: ${SECS} s per run, $TROUNDS rounds)"
echo "host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"

# `vqnet up` of the seed's three-VM lab, first, on an otherwise idle bench
sed "s/^name *=.*/name = ${ID}u3/" "$SRC/examples/zmq_samples_vm.vqnet" >"$TMP/up3.vqnet"
LABS+=("${ID}u3")
t0=$(now_ms)
if timeout -k 10 300 "$VQNET" up "$TMP/up3.vqnet" >"$TMP/up3.out" 2>&1; then
	UP3=$(( $(now_ms) - t0 ))
	UP3_EACH=$(sed -n 's/.*VM \([^ ]*\) ready in \([0-9.]*\) s.*/\1 \2 s/p' "/run/vqnet/log/${ID}u3.log" | paste -sd, - | sed 's/,/, /g')
	t0=$(now_ms)
	timeout 120 "$VQNET" down "${ID}u3" >/dev/null 2>&1 || true
	DOWN3=$(( $(now_ms) - t0 ))
else
	cat "$TMP/up3.out" >&2
	UP3=""
fi

setup_vqnet || exit 1
setup_tap || exit 1
setup_stream || exit 1
for f in $FABRICS; do
	push_iperf "$f" || exit 1
	alive "$f" || { say "$f does not carry frames"; exit 1; }
done
measure_mem boot

vm_measure ping vm_ping_us "$ROUNDS"
vm_measure zmq vm_zmq_us "$ROUNDS"
vm_measure udp vm_udp64_kpps "$TROUNDS" check
vm_measure tcp vm_tcp_mbps "$TROUNDS" check
measure_mem runs

# ---- the table --------------------------------------------------------------

cell() {   # cell FABRIC KEY: the median, "!" when runs wedged, "wedged" if all did
	local f=$1 k=$2 v=${R[$1,$2]:-} w=${W[$1,$2]:-0}
	if [ -z "$v" ]; then [ "$w" -gt 0 ] && echo "wedged" || echo "fail"
	elif [ "$w" -gt 0 ]; then echo "$v!"
	else echo "$v"; fi
}
BEATS="" LOSES=""
row() {
	local key=$1 label=$2 kind=$3 rt rs
	rt=$(ratio "$kind" "${R[vqnet,$key]:-}" "${R[tap,$key]:-}")
	rs=$(ratio "$kind" "${R[vqnet,$key]:-}" "${R[stream,$key]:-}")
	printf '%-26s %10s %10s %10s   %-10s %-10s\n' "$label" "$(cell vqnet "$key")" "$(cell tap "$key")" \
		"$(cell stream "$key")" "$rt" "$rs"
	if awk -v r="${rt%x}" 'BEGIN { exit !(r + 0 > 1) }' && [ "${W[vqnet,$key]:-0}" -eq 0 ]; then
		BEATS+=" $key"
	else
		LOSES+=" $key ($rt)"
	fi
}
printf '\n%-26s %10s %10s %10s   %-10s %-10s\n' workload vqnet tap+bridge stream "vs tap" "vs stream"
printf '%s\n' "-------------------------------------------------------------------------------"
row ping "ping RTT (us)" lat
row zmq "ZeroMQ 1 B RTT (us)" lat
row tcp "iperf3 TCP (Mbit/s)" rate
row udp "iperf3 UDP 64 B (kpkt/s)" rate
echo
echo "vs: how vqnet compares, higher is better (peer/vqnet for latency, vqnet/peer for rates)"
spread() {   # spread FABRIC KEY: min..max of the runs
	echo "${ALL[$1,$2]:-}" | tr ' ' '\n' | grep -v '^$' | sort -g | sed -n '1p;$p' | paste -sd' ' - |
		awk '{ print NF ? $1 ".." ($2 == "" ? $1 : $2) : "-" }' || true
}
printf '%-26s %14s %14s %14s\n' "spread (min..max of runs)" vqnet tap+bridge stream
for k in ping:ping zmq:ZeroMQ tcp:TCP udp:UDP; do
	printf '%-26s %14s %14s %14s\n' "  ${k#*:}" "$(spread vqnet "${k%%:*}")" "$(spread tap "${k%%:*}")" \
		"$(spread stream "${k%%:*}")"
done
for f in $FABRICS; do
	for k in udp tcp; do
		[ "${W[$f,$k]:-0}" -gt 0 ] &&
			echo "!: $f wedged in ${W[$f,$k]} of ${N[$f,$k]} $k runs (no frame crossed after it; the run is left out, its VMs restarted)"
	done
done
if [ -z "$LOSES" ]; then
	echo "goal (vqnet beats tap + bridge on every row): met"
else
	echo "goal (vqnet beats tap + bridge on every row): NOT met on:$LOSES"
fi

echo
if [ -n "$UP3" ]; then
	echo "vqnet up, the seed's 3 VMs (examples/zmq_samples_vm.vqnet): $((UP3 / 100 / 10)).$((UP3 / 100 % 10)) s (agents ready: $UP3_EACH); down $DOWN3 ms"
else
	echo "vqnet up, the seed's 3 VMs: failed"
fi
printf 'two VMs up until both agents answer: vqnet up %s s, tap %s s, stream %s s (last start of each)\n' \
	"$(awk -v m="${BOOT[vqnet]}" 'BEGIN { printf "%.1f", m / 1000 }')" \
	"$(awk -v m="${BOOT[tap]}" 'BEGIN { printf "%.1f", m / 1000 }')" \
	"$(awk -v m="${BOOT[stream]}" 'BEGIN { printf "%.1f", m / 1000 }')"
echo
echo "memory per VM, PSS in MiB (mean of the two VMs): after boot (iperf3 copied in) / after the runs"
printf '  %-8s %15s %11s %11s %15s\n' fabric QEMU vmm agentd total
for f in $FABRICS; do
	awk -v f="$f" -v q="${MQ[$f,boot]}" -v v="${MV[$f,boot]}" -v a="${MA[$f,boot]}" \
		-v Q="${MQ[$f,runs]}" -v V="${MV[$f,runs]}" -v A="${MA[$f,runs]}" 'BEGIN {
		printf "  %-8s %7.1f/%-7.1f %5.1f/%-5.1f %5.1f/%-5.1f %7.1f/%-7.1f\n", f, q / 2048, Q / 2048,
			v / 2048, V / 2048, a / 2048, A / 2048, (q + v + a) / 2048, (Q + V + A) / 2048 }'
done
for f in $FABRICS; do
	[ -n "${REVIVED[$f]:-}" ] && echo "  ($f's VMs were restarted during the runs: its second figures are of the new ones)"
done
echo
echo "accelerator: $ACCEL (vqnet's choice, by vqnet-accel's probe; the peers use the same)"
if [ "$VHOST" = on ]; then
	echo "tap: -netdev tap with vhost=on (/dev/vhost-net)"
else
	echo "tap: this host has no /dev/vhost-net: -netdev tap runs without vhost=on (QEMU's own virtio-net in its main loop)"
fi
echo "CPUs: nothing pinned; each VM's QEMU (vCPU thread + main loop), vmm and agentd float over the host's $(nproc) CPUs;"
echo "      all six VMs are up during every run (idle but for the fabric being measured)"
echo "iperf3: the host's $IPERF_VER and its libraries, copied into each guest's /tmp through the agent (the image has none)"
echo "took $(( $(date +%s) - T_START )) s; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
echo "QEMU of VM a, per fabric:"
for f in $FABRICS; do echo "  $f: ${QCMD[$f]}"; done
