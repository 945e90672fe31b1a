#!/bin/bash
# bench/profile.sh BUILD_DIR - where the time of a frame goes (issue 12),
# all inside namespaces this script creates, everything bounded in time:
#
#   ring   instructions per frame of a link alone: bench/ring under
#          callgrind, producer and consumer, 64 and 1500 B, batch 1 and 32
#          (two runs of different lengths, their difference per frame, so
#          start-up costs cancel)
#   vmm    instructions per frame of a vmm: a lab whose vmms run under
#          callgrind (a copy of vqnet beside a vqnet-vmm wrapper; the
#          vmm's seccomp filter is replaced by bench/nosandbox, since
#          valgrind has no seccomp(2)), per workload: the Ir of vmm_run
#          (the datapath loop, inclusive) over the frames the vmm's own
#          counters say it moved (vqnet status --json)
#   cpu    CPU time per frame, the real thing: each datapath process's
#          task-clock, system calls and context switches (perf stat -p),
#          and the task-clock of the whole path (the workload's programs,
#          whose softirq work carries the bridge, plus the datapath
#          processes), for vqnet, tapfwd and the bridge, over ping floods
#          and iperf3 UDP 64 B at a fixed rate and flat out.  Not the
#          machine's busy time: /proc/stat is sampled by the tick, and a
#          paced workload that sleeps across ticks hides from it
#   perf   the top symbols of each vmm (and of the forwarder) during
#          iperf3 TCP and UDP 64 B: perf record of cpu-clock (this host has
#          no hardware counters, so no `perf stat -e instructions`)
#   place  CPU placement: ping, ZeroMQ, TCP and UDP over vqnet with its
#          vmms where the scheduler puts them, both on one CPU, one on
#          each, and everything (vmms and the guests' programs) on one
#          CPU; the forwarder and the bridge free and with everything on
#          one CPU
#
# PROFILE_PARTS="ring vmm cpu perf place" picks parts (default all);
# BENCH_ROUNDS, BENCH_SECS, BENCH_ZMQ_ROUNDTRIPS as in lib.sh.
BUILD=${1:-build/release}
NEEDS="perf valgrind callgrind_annotate jq taskset"
. "$(dirname "$0")/lib.sh"
PARTS=${PROFILE_PARTS:-ring vmm cpu perf place}
BENCHBIN=$(cd "$BUILD" && pwd)/bench
for t in vq_ring_bench vq_tapfwd libvq_nosandbox.so; do
	[ -e "$BENCHBIN/$t" ] || { echo "$ME: $BENCHBIN/$t not found (build the bench targets)" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "$ME: needs two CPUs" >&2; exit 1; }
CROUNDS=${PROFILE_ROUNDS:-3}
want() { case " $PARTS " in *" $1 "*) return 0;; esac; return 1; }
# a callgrind file's total Ir
cg_total() { awk '/^summary:/ { print $2; exit }' "$1"; }
# a function's inclusive Ir in a callgrind file
cg_incl() {
	callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
		awk -v f="$2" '!done && $0 ~ ":" f " " { gsub(",", "", $1); print $1; done = 1 }'
}

lab_file() {
	printf '[lab]\nname = %s\n[vm a]\nip = %s/24\n[vm b]\nip = %s/24\n[topology lan]\na = b\nb = a\n' \
		"$1" "$A_IP" "$B_IP"
}

# vmm_pid LAB NODE
vmm_pid() { "$VQNET" status --json "$1" | jq -r --arg n "$2" '.nodes[] | select(.name == $n) | .vmm.pid'; }

# ---- ring: instructions per frame of a link alone --------------------------
ring_ir() {
	echo
	echo "== ring: instructions per frame (callgrind; bench/ring, link only; Ir of"
	echo "   N2 - N1 frames over N2 - N1, so start-up cancels; under valgrind the two"
	echo "   processes run some 50 times slower, which changes how often they sleep)"
	local n1=20000 n2=120000 place size batch n f
	printf '%-9s %5s %5s | %10s %10s %10s\n' placement size batch producer consumer total
	printf '%s\n' "------------------------------------------------------"
	for place in same cross; do
		for size in 64 1500; do
			for batch in 1 32; do
				declare -A ir=()
				for n in $n1 $n2; do
					rm -rf "$TMP/ring"
					mkdir -p "$TMP/ring"
					timeout 300 valgrind --tool=callgrind -q --vgdb=no \
						--callgrind-out-file="$TMP/ring/cg.%p" "$BENCHBIN/vq_ring_bench" \
						--frames $n --rounds 1 --cpus $place --size $size --batch $batch \
						--link-only --throughput-only > /dev/null
					for f in "$TMP"/ring/cg.*; do
						if grep -q 'vq_port_recv_done' "$f"; then
							ir[c,$n]=$(cg_total "$f")
						elif grep -q 'vq_port_tx_publish' "$f"; then
							ir[p,$n]=$(cg_total "$f")
						fi
					done
				done
				awk -v pl=$place -v s=$size -v b=$batch -v d=$((n2 - n1)) \
					-v p1="${ir[p,$n1]:-0}" -v p2="${ir[p,$n2]:-0}" \
					-v c1="${ir[c,$n1]:-0}" -v c2="${ir[c,$n2]:-0}" 'BEGIN {
					p = (p2 - p1) / d; c = (c2 - c1) / d
					printf "%-9s %5d %5d | %10.0f %10.0f %10.0f\n", pl, s, b, p, c, p + c }'
				unset ir
			done
		done
	done
}

# ---- vmm: instructions per frame under callgrind ----------------------------
CGBIN=$TMP/cgbin
cg_setup() {
	mkdir -p "$CGBIN" "$TMP/cg"
	# the vmms change to uids of their own before callgrind writes its
	# files: they must reach the directory, and own their file
	chmod 711 "$TMP"
	chmod 1777 "$TMP/cg"
	cp "$VQNET" "$CGBIN/vqnet"   # a copy: the supervisor runs the vqnet-vmm beside it
	cat > "$CGBIN/vqnet-vmm" <<EOF
#!/bin/bash
# a vmm under callgrind, for bench/profile.sh only
uid= prev=
for a in "\$@"; do [ "\$prev" = --uid ] && uid=\$a; prev=\$a; done
out=$TMP/cg/vmm.\$\$
: > "\$out"
chown "\$uid" "\$out"
export LD_PRELOAD=$BENCHBIN/libvq_nosandbox.so
exec valgrind --tool=callgrind -q --vgdb=no --callgrind-out-file="\$out" "$BIN/vqnet-vmm" "\$@"
EOF
	chmod 755 "$CGBIN/vqnet-vmm"
}

# cg_workload KEY LABEL COMMAND...: a fresh lab under callgrind, COMMAND
# run with A and B set to its namespaces; prints a row per vmm
cg_workload() {
	local key=$1 name=$2 lab=${ID}c$1
	shift 2
	lab_file "$lab" > "$TMP/$lab.vqnet"
	LABS+=("$lab")
	"$CGBIN/vqnet" up "$TMP/$lab.vqnet" > /dev/null
	A=$lab.a B=$lab.b "$@" > "$TMP/$lab.out" 2>&1 || true
	"$VQNET" status --json "$lab" > "$TMP/$lab.json"
	"$VQNET" down "$lab" > /dev/null
	local node pid frames wake ir
	for node in a b; do
		pid=$(jq -r --arg n $node '.nodes[] | select(.name == $n) | .vmm.pid' "$TMP/$lab.json")
		frames=$(jq -r --arg n $node '.nodes[] | select(.name == $n) | .ifaces[0].counters |
			.from_guest_frames + .to_guest_frames' "$TMP/$lab.json")
		wake=$(jq -r --arg n $node '.nodes[] | select(.name == $n) | .vmm.wakeups' "$TMP/$lab.json")
		# callgrind writes its file when the vmm exits (down stops it)
		for _ in $(seq 100); do grep -q '^totals:' "$TMP/cg/vmm.$pid" 2>/dev/null && break; sleep 0.1; done
		ir=$(cg_incl "$TMP/cg/vmm.$pid" vmm_run)
		awk -v w="$name" -v n=$node -v f="$frames" -v k="$wake" -v ir="${ir:-0}" 'BEGIN {
			printf "%-22s %4s | %9d %9.1f | %12d %9.0f\n", w, n, f, f / (k ? k : 1), ir, f ? ir / f : 0 }'
		CGFILE[$key,$node]=$TMP/cg/vmm.$pid
	done
}

cg_ping() { ip netns exec "$A" ping -c 1000 -i 0.002 -w 60 -q "$B_IP"; }
cg_udp() {
	timeout 60 ip netns exec "$B" iperf3 -s -1 -B "$B_IP" > /dev/null 2>&1 &
	local s=$!
	sleep 1
	ip netns exec "$A" iperf3 -c "$B_IP" -u -l 64 -b 10M -t 3
	wait $s
}
cg_tcp() {
	timeout 60 ip netns exec "$B" iperf3 -s -1 -B "$B_IP" > /dev/null 2>&1 &
	local s=$!
	sleep 1
	ip netns exec "$A" iperf3 -c "$B_IP" -t 3
	wait $s
}

declare -A CGFILE
vmm_ir() {
	echo
	echo "== vmm: instructions per frame (callgrind; user space only: the kernel's work"
	echo "   for each read, write and wake-up is not in it).  frames: what the vmm moved"
	echo "   (from_guest + to_guest); fr/wake: frames per event-loop iteration"
	cg_setup
	printf '%-22s %4s | %9s %9s | %12s %9s\n' workload vmm frames fr/wake "vmm_run Ir" Ir/frame
	printf '%s\n' "-----------------------------------------------------------------------"
	cg_workload ping "ping 1000 x 2 ms" cg_ping
	cg_workload udp "UDP 64 B, 10 Mbit/s" cg_udp
	cg_workload tcp "TCP, 3 s" cg_tcp
	local node
	for node in a b; do
		echo
		echo "where vmm $node's instructions go, UDP 64 B (callgrind_annotate, self cost):"
		callgrind_annotate --threshold=95 "${CGFILE[udp,$node]}" 2>/dev/null |
			awk '/^-+$/ { sep++; next } sep >= 3 && NF >= 3 && n < 12 { n++; print "   " $0 }'
	done
}

# ---- setups for the real measurements --------------------------------------
SETUP_DONE=
setups() {
	[ -n "$SETUP_DONE" ] && return
	SETUP_DONE=1
	lab_file "${ID}v" > "$TMP/v.vqnet"
	vqnet_lab v "$TMP/v.vqnet"
	NS_A[vqnet]=${NS_A[v]} NS_B[vqnet]=${NS_B[v]}
	VMM_A=$(vmm_pid "${ID}v" a) VMM_B=$(vmm_pid "${ID}v" b)
	setup_tapfwd
	setup_bridge
	FABRICS="vqnet tapfwd bridge"
	check_all
}

# ---- cpu: CPU time per frame -------------------------------------------------
# cpu_run FABRIC WORKLOAD: one measurement; prints "frames path_ms p1 p2"
# where path_ms is the task-clock of the workload's programs and the
# datapath processes together, and p "task_ms,syscalls,csw" of each
# datapath process
cpu_run() {
	local fab=$1 wl=$2 pids=() p frames
	case $fab in
	vqnet) pids=("$VMM_A" "$VMM_B") ;;
	tapfwd) pids=("$FWD") ;;
	esac
	local i=0
	for p in "${pids[@]}"; do
		perf stat -x, -o "$TMP/ps.$i" -e task-clock,context-switches,raw_syscalls:sys_enter -p "$p" &
		echo $! > "$TMP/perfstat.$i.pid"
		i=$((i + 1))
	done
	sleep 0.3
	local pst=(perf stat -x, -e task-clock -o)
	echo "0,msec,task-clock" > "$TMP/pa.srv"
	case $wl in
	ping)
		frames=$("${pst[@]}" "$TMP/pa.cli" -- ip netns exec "${NS_A[$fab]}" \
			ping -f -c 5000 -w 60 -q "$B_IP" | awk '/received/ { print $4 }') ;;
	udp*)
		local rate=${wl#udp}
		"${pst[@]}" "$TMP/pa.srv" -- timeout 60 ip netns exec "${NS_B[$fab]}" iperf3 -s -1 -B "$B_IP" \
			> /dev/null 2>&1 &
		local s=$!
		for _ in $(seq 50); do
			ip netns exec "${NS_B[$fab]}" ss -ltn 2>/dev/null | grep -q ":5201 " && break
			sleep 0.1
		done
		frames=$("${pst[@]}" "$TMP/pa.cli" -- ip netns exec "${NS_A[$fab]}" \
			iperf3 -c "$B_IP" -u -l 64 -b "$rate" -t 4 |
			awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) {
				split($i, p, "/"); print p[2] - p[1] } }')
		wait $s || true ;;
	esac
	local out="" path
	path=$(awk -F, '$3 == "task-clock" { t += $1 } END { print t + 0 }' "$TMP/pa.cli" "$TMP/pa.srv")
	for ((i = 0; i < ${#pids[@]}; i++)); do
		kill -INT "$(cat "$TMP/perfstat.$i.pid")"
		wait "$(cat "$TMP/perfstat.$i.pid")" || true
		rm -f "$TMP/perfstat.$i.pid"
		out+=" $(awk -F, '$3 == "task-clock" { t = $1 } $3 == "context-switches" { c = $1 }
			$3 == "raw_syscalls:sys_enter" { s = $1 } END { printf "%.1f,%d,%d", t, s, c }' "$TMP/ps.$i")"
		path=$(awk -F, -v p="$path" '$3 == "task-clock" { print p + $1 }' "$TMP/ps.$i")
	done
	echo "${frames:-0} $path$out"
}

cpu_frame() {
	setups
	echo
	echo "== cpu: CPU time per frame (no hardware counters here: time, not instructions)."
	echo "   ping: 5000 echoes flooded (ping -f), per echo (two frames each way of the"
	echo "   datapath: request and reply); UDP: iperf3 64 B datagrams for 4 s, per datagram"
	echo "   received.  path: task-clock of the workload's programs (ping; iperf3 client and"
	echo "   server) and the datapath processes, softirq work they were charged included (the"
	echo "   bridge's forwarding runs in the sender's softirq); inside a VM it includes time the"
	echo "   host stole from the vCPU;"
	echo "   per datapath process (vqnet: vmm a, then vmm b): task-clock, system calls and"
	echo "   context switches.  All per frame; median of $CROUNDS interleaved rounds."
	printf '%-7s %-13s | %8s %8s | %-30s %-30s\n' fabric workload frames \
		"path" "datapath us / syscalls / csw" "second datapath process"
	printf '%s\n' "---------------------------------------------------------------------------------------------------------------"
	local wl fab r
	for wl in ping udp30M udp0; do
		declare -A runs=()
		for r in $(seq "$CROUNDS"); do
			for fab in vqnet tapfwd bridge; do runs[$fab,$r]=$(cpu_run $fab $wl); done
		done
		for fab in vqnet tapfwd bridge; do
			for r in $(seq "$CROUNDS"); do echo "${runs[$fab,$r]}"; done |
				awk -v f=$fab -v w=$wl -v n="$CROUNDS" '
				function med(a,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
					if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t } return a[int((n + 1) / 2)] }
				{ fr[NR] = $1; pa[NR] = $1 ? $2 * 1000 / $1 : 0
				  for (k = 3; k <= NF; k++) { split($k, q, ",")
					t[k, NR] = $1 ? q[1] * 1000 / $1 : 0; s[k, NR] = $1 ? q[2] / $1 : 0; c[k, NR] = $1 ? q[3] / $1 : 0 }
				  nf = NF }
				END {
					label = w == "ping" ? "ping -f" : w == "udp0" ? "UDP 64 B max" : "UDP 64B " substr(w, 4)
					printf "%-7s %-13s | %8d %6.2fus |", f, label, med(fr), med(pa)
					for (k = 3; k <= nf; k++) {
						for (i = 1; i <= n; i++) { x[i] = t[k, i]; y[i] = s[k, i]; z[i] = c[k, i] }
						printf " %6.2f us %5.2f sc %5.2f cs  ", med(x), med(y), med(z)
					}
					printf "\n" }'
		done
		unset runs
	done
	echo "(per frame of the workload; a ping echo is one request and one reply)"
}

# ---- perf: top symbols ---------------------------------------------------------
# perf_top LABEL:PID...: record cpu-clock with call graphs for 3 s, then
# each process's top symbols and its split between kernel and user space
perf_top() {
	local f=$TMP/perf.data lp pids=()
	for lp in "$@"; do pids+=("${lp##*:}"); done
	perf record -q -e cpu-clock -F 1999 -g -o "$f" -p "$(IFS=,; echo "${pids[*]}")" -- sleep 3 \
		> /dev/null 2>&1 &
	echo $! > "$TMP/perfrec.pid"
	wait "$(cat "$TMP/perfrec.pid")" || true
	rm -f "$TMP/perfrec.pid"
	# (perf report --pid loses kernel samples of all but one pid here:
	# sort by pid instead, and take each process's share of its own samples)
	perf report -i "$f" --no-children --sort pid,sym --stdio -g none 2>/dev/null |
		awk '/^ +[0-9.]+%/ { print }' > "$TMP/perf.txt"
	for lp in "$@"; do
		local p=${lp##*:}
		awk -v p="$p" -v label="${lp%:*}" '
			{ split($2, q, ":") } q[1] != p { next }
			{ v = $1 + 0; tot += v; if ($3 == "[k]") k += v; n++; pct[n] = v; sym[n] = $3 " " $4 }
			END {
				if (!tot) { printf "   %s (pid %s): no samples\n", label, p; exit }
				printf "   %s (pid %s): kernel %.0f%%, user space %.0f%% of its samples\n",
					label, p, 100 * k / tot, 100 - 100 * k / tot
				for (i = 1; i <= n && i <= 12; i++) printf "     %6.2f%%  %s\n", 100 * pct[i] / tot, sym[i]
			}' "$TMP/perf.txt"
	done
	rm -f "$f"
}

# perf_during FABRIC WORKLOAD LABEL:PID...: run the workload for 5 s, record 3 s of it
perf_during() {
	local fab=$1 wl=$2 s= c
	shift 2
	if [ "$wl" = ping ]; then
		ip netns exec "${NS_A[$fab]}" timeout 5 ping -f -q "$B_IP" > /dev/null 2>&1 &
		c=$!
	else
		timeout 60 ip netns exec "${NS_B[$fab]}" iperf3 -s -1 -B "$B_IP" > /dev/null 2>&1 &
		s=$!
		for _ in $(seq 50); do
			ip netns exec "${NS_B[$fab]}" ss -ltn 2>/dev/null | grep -q ":5201 " && break
			sleep 0.1
		done
		local args="-t 5"
		[ "$wl" = udp ] && args="-t 5 -u -l 64 -b 0"
		# shellcheck disable=SC2086
		ip netns exec "${NS_A[$fab]}" iperf3 -c "$B_IP" $args > /dev/null 2>&1 &
		c=$!
	fi
	sleep 1
	perf_top "$@"
	wait $c || true
	[ -z "$s" ] || wait $s || true
}

perf_syms() {
	setups
	echo
	echo "== perf: where the datapath's CPU time goes (perf record -e cpu-clock -g, 3 s in"
	echo "   the middle of 5 s of the workload; vmm a is the sender's, vmm b the receiver's;"
	echo "   software clock sampling: a sample due while interrupts are off lands where they"
	echo "   are turned back on, so finish_task_switch and _raw_spin_unlock_irqrestore stand"
	echo "   for context switches and wake-ups)"
	local wl
	for wl in tcp udp ping; do
		echo
		case $wl in
		tcp) echo "-- iperf3 TCP" ;;
		udp) echo "-- iperf3 UDP 64 B, flat out" ;;
		ping) echo "-- ping -f (one echo in flight)" ;;
		esac
		perf_during vqnet $wl "vqnet $wl, vmm a:$VMM_A" "vqnet $wl, vmm b:$VMM_B"
		perf_during tapfwd $wl "tapfwd $wl:$FWD"
	done
}

# ---- place: CPU placement -------------------------------------------------------
# placed FUNCTION CONFIG: pin the datapath for CONFIG, then run the
# workload (with the guests' programs on CPU 0 for the all-on-one configs)
placed() {
	local fn=$1 conf=$2 app=
	case $conf in
	free) taskset -pc 0,1 "$VMM_A" > /dev/null; taskset -pc 0,1 "$VMM_B" > /dev/null ;;
	vmm1) taskset -pc 0 "$VMM_A" > /dev/null; taskset -pc 0 "$VMM_B" > /dev/null ;;
	vmm2) taskset -pc 0 "$VMM_A" > /dev/null; taskset -pc 1 "$VMM_B" > /dev/null ;;
	all1) taskset -pc 0 "$VMM_A" > /dev/null; taskset -pc 0 "$VMM_B" > /dev/null; app=0 ;;
	fwd) taskset -pc 0,1 "$FWD" > /dev/null ;;
	fwd1) taskset -pc 0 "$FWD" > /dev/null; app=0 ;;
	br1) app=0 ;;
	esac
	if [ -n "$app" ]; then
		(taskset -pc $app $BASHPID > /dev/null && $fn "$conf")
	else
		$fn "$conf"
	fi
}
pl_ping() { placed ping_rtt_us "$1"; }
pl_zmq() { placed zmq_rtt_us "$1"; }
pl_tcp() { placed tcp_gbps "$1"; }
pl_udp() { placed udp64_kpps "$1"; }

placement() {
	setups
	local c
	for c in free vmm1 vmm2 all1; do NS_A[$c]=${NS_A[vqnet]} NS_B[$c]=${NS_B[vqnet]}; done
	for c in fwd fwd1; do NS_A[$c]=${NS_A[tapfwd]} NS_B[$c]=${NS_B[tapfwd]}; done
	for c in br br1; do NS_A[$c]=${NS_A[bridge]} NS_B[$c]=${NS_B[bridge]}; done
	local saved=$FABRICS
	FABRICS="free vmm1 vmm2 all1 fwd fwd1 br br1"
	echo
	echo "== place: CPU placement (median of $ROUNDS interleaved rounds; iperf3 ${SECS} s, 3 rounds)"
	echo "   free: the scheduler's choice; vmm1: both vmms on CPU 0; vmm2: vmm a on CPU 0,"
	echo "   vmm b on CPU 1; all1: both vmms and the guests' programs on CPU 0;"
	echo "   fwd: tapfwd free; fwd1: tapfwd and the guests' programs on CPU 0;"
	echo "   br: the bridge (no datapath process); br1: the guests' programs on CPU 0"
	measure ping pl_ping "$ROUNDS"
	measure zmq pl_zmq "$ROUNDS"
	measure tcp pl_tcp 3
	measure udp pl_udp 3
	taskset -pc 0,1 "$VMM_A" > /dev/null
	taskset -pc 0,1 "$VMM_B" > /dev/null
	taskset -pc 0,1 "$FWD" > /dev/null
	printf '%-26s' workload
	for c in $FABRICS; do printf ' %8s' "$c"; done
	printf '\n%s\n' "-------------------------------------------------------------------------------------------"
	local key label
	for key in ping zmq tcp udp; do
		case $key in
		ping) label="ping RTT (us)" ;;
		zmq) label="ZeroMQ 1 B RTT (us)" ;;
		tcp) label="iperf3 TCP (Gbit/s)" ;;
		udp) label="iperf3 UDP 64 B (kpkt/s)" ;;
		esac
		printf '%-26s' "$label"
		for c in $FABRICS; do printf ' %8s' "${R[$c,$key]:-fail}"; done
		printf '\n'
	done
	FABRICS=$saved
}

echo "bench/profile.sh: $PARTS ($(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg))"
want ring && ring_ir
want vmm && vmm_ir
want cpu && cpu_frame
want perf && perf_syms
want place && placement
exit 0
