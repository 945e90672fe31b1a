#!/bin/bash
# bench/scale.sh BUILD_DIR - how a lab's cost grows with its size: N guests
# on one switch (N = 10, 100, 1000; SCALE_SIZES="10 100" for others, at
# most 1023: the floor's one bridge takes 1024 ports), against the floor
# of the same LAN made by iproute2 alone, in the same run:
#
#   vqnet   `vqnet up` of a generated lab ([vm g1..gN], [switch sw], one
#           topology of subnet 10.0.0.0/16) until it returns, `vqnet down`
#           until it returns; and while it is up (after up returned, and
#           in the first round after the ping check, once its links are
#           quiet: idle guests), the PSS (smaps_rollup)
#           and open fds of everything the lab runs: its supervisor and
#           every process below it (the vmms, the guests' inits)
#   floor   N namespaces, each with eth0 (address, up) of a veth pair whose
#           other end is a port of a bridge in one namespace more: one
#           `ip -batch` of `netns add`, one `ip -n BRIDGE -batch` making the
#           bridge and the pairs, and one `ip -batch` of `netns exec G ip
#           addr add` (iproute2 sets an address only from inside its
#           namespace, so that is a process per guest); deleted by one `ip
#           -batch` of `netns del`.  It leaves no process: PSS and fds 0.
#
# Floor and vqnet alternate (floor, vqnet, floor, vqnet ...), BENCH_ROUNDS
# rounds each (default 3, and 2 for N >= 1000); medians (lib.sh's: of an
# even count, the lower middle one).  Before each run the script waits (at
# most 10 s) for the CPUs to be mostly idle: the kernel goes on freeing
# deleted namespaces after `netns del` has returned.  The first round of
# each size also checks the LAN, after up is timed: the first and the last
# guest ping each other (one echo, 1 s, both ways, retried for at most
# 30 s; vqnet: through the switch, floor: across the bridge), and how long
# after up returned they first both answered is printed; a lab where they
# never do fails the run, with the end of its log.  Prints a table per N,
# a summary, the per-guest costs at each N (is the growth linear?), and the
# goals met or missed: up within 1.5x the floor, PSS under 1 MiB a guest,
# 1000 guests up in under 5 s, per-guest up cost at 1000 within 1.5x of
# that at 100.
#
# The floor's addresses cost a process each, and `ip netns exec` (like
# `ip -n`) copies the host's mount table into a new mount namespace, one
# mount per named namespace: each exec costs more as N grows (measured
# here: 6.4 ms with 20 named namespaces, 10.4 ms with 1000), so that step
# grows faster than N.  The tables show the floor's phases, and vqnet
# against the floor without that step (namespaces and links alone: what
# the kernel's side of such a LAN costs).
#
# SCALE_FLOOR_ONLY=1 runs the floor alone (to look at the floor itself).
#
# Nothing touches the host's namespace: labs are vqsc<PID>n<N>, the floor's
# namespaces vqsc<PID>-<N>-*; all of it is removed on exit or Ctrl-C.
BUILD=${1:-build/release}
. "$(dirname "$0")/lib.sh"
SIZES=${SCALE_SIZES:-10 100 1000}
SC=vqsc$$
for n in $SIZES; do
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 2 ] && [ "$n" -le 1023 ] ||
		{ echo "$ME: SCALE_SIZES: $n is not a size from 2 to 1023" >&2; exit 1; }
done
shopt -s nullglob

# guest K's address: the subnet's network + K (as the lab gives it)
addr_of() { echo "10.0.$(($1 / 256)).$(($1 % 256))"; }

# ---- cleanup: the floor of the moment (one batch), then lib.sh's ------------
FLOOR_UP=""   # the batch that deletes the floor that exists, if one does
scale_cleanup() {
	[ -n "$FLOOR_UP" ] && ip -force -batch "$FLOOR_UP" >/dev/null 2>&1 || true
	FLOOR_UP=""
}
trap 'scale_cleanup; cleanup' EXIT

# settle: wait (at most 10 s) until the CPUs are mostly idle (70 % over
# 0.2 s): the kernel goes on freeing deleted namespaces after `netns del`
# returns, and one round's teardown should not run into the next's timing
cpu_idle_pct() {
	local a b
	a=($(head -1 /proc/stat)); sleep 0.2; b=($(head -1 /proc/stat))
	awk -v i0="${a[4]}" -v i1="${b[4]}" -v t0="$(IFS=+; echo $(( ${a[*]:1} )))" \
		-v t1="$(IFS=+; echo $(( ${b[*]:1} )))" 'BEGIN { printf "%d", (t1 > t0 ? 100 * (i1 - i0) / (t1 - t0) : 100) }'
}
settle() {
	local end=$(( $(date +%s) + 10 ))
	while [ "$(cpu_idle_pct)" -lt 70 ]; do
		[ "$(date +%s)" -lt "$end" ] || { echo "  (the CPUs are still busy after 10 s; going on)" >&2; return 0; }
	done
}

# ms T0 T1: milliseconds between two $EPOCHREALTIME readings
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }

# reach T0 NS_A NS_B ADDR_A ADDR_B: ping (one echo, 1 s) both ways until
# both answer, at most 30 s; prints the ms from T0 (an $EPOCHREALTIME) to
# then, or fails
reach() {
	local t0=$1 end=$(( $(date +%s) + 30 ))
	until ip netns exec "$2" ping -c 1 -W 1 "$5" >/dev/null 2>&1 &&
		ip netns exec "$3" ping -c 1 -W 1 "$4" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
	done
	ms "$t0" "$EPOCHREALTIME"
}

# ---- the floor --------------------------------------------------------------

# floor_files N: its batches, written once
floor_files() {
	local n=$1 k g br=$SC-$1-br d=$TMP/floor$1
	[ -e "$d.add" ] && return
	{ echo "netns add $br"; for k in $(seq "$n"); do echo "netns add $SC-$n-g$k"; done; } > "$d.add"
	{
		echo "link add br0 type bridge"
		echo "link set br0 up"
		for k in $(seq "$n"); do
			echo "link add eth0 netns $SC-$n-g$k up type veth peer name p$k"
			echo "link set p$k master br0 up"
		done
	} > "$d.links"
	for k in $(seq "$n"); do
		echo "netns exec $SC-$n-g$k ip addr add $(addr_of "$k")/16 dev eth0"
	done > "$d.addrs"
	sed 's/^netns add/netns del/' "$d.add" > "$d.del"
}

# floor_round N CHECK: one round; its times in F_UP F_NS F_LINKS F_ADDRS F_DOWN
floor_round() {
	local n=$1 d=$TMP/floor$1 t0 t1 t2 t3 t4 t5
	floor_files "$n"
	FLOOR_UP=$d.del
	t0=$EPOCHREALTIME
	ip -batch "$d.add" >/dev/null
	t1=$EPOCHREALTIME
	ip -n "$SC-$n-br" -batch "$d.links" >/dev/null
	t2=$EPOCHREALTIME
	ip -batch "$d.addrs" >/dev/null
	t3=$EPOCHREALTIME
	if [ "$2" = check ]; then
		F_REACH=$(reach "$t3" "$SC-$n-g1" "$SC-$n-g$n" "$(addr_of 1)" "$(addr_of "$n")") ||
			{ echo "$ME: the floor of $n guests does not work (g1 <-> g$n)" >&2; exit 1; }
	fi
	t4=$EPOCHREALTIME
	ip -batch "$d.del" >/dev/null
	t5=$EPOCHREALTIME
	FLOOR_UP=""
	F_UP=$(ms "$t0" "$t3") F_NS=$(ms "$t0" "$t1") F_LINKS=$(ms "$t1" "$t2") F_ADDRS=$(ms "$t2" "$t3")
	F_DOWN=$(ms "$t4" "$t5")
}

# ---- vqnet ------------------------------------------------------------------

lab_file() {
	local n=$1 f=$TMP/lab$1.vqnet
	[ -e "$f" ] && { echo "$f"; return; }
	cat > "$f" <<EOF
[lab]
name = ${SC}n$n
[vm g1..g$n]
[switch sw]
[topology lan]
subnet = 10.0.0.0/16
sw = g1..g$n
g1..g$n = sw
EOF
	echo "$f"
}

# tree ROOT: ROOT and every process below it (from /proc/*/stat)
tree() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
		{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); kids[f[2]] = kids[f[2]] " " $1 }
		END { q[1] = root; n = 1
			for (i = 1; i <= n; i++) { print q[i]; m = split(kids[q[i]], c, " "); for (j = 1; j <= m; j++) q[++n] = c[j] } }'
}

# lab_cost SUPERVISOR: PSS (KiB) and fds of the tree, in V_* variables
lab_cost() {
	local sup=$1 p k v comm fds pss
	V_PSS=0 V_PSS_SUP=0 V_PSS_VMM=0 V_PSS_INIT=0 V_FDS=0 V_FDS_SUP=0 V_PROCS=0 V_VMMS=0 V_INITS=0
	for p in $(tree "$sup"); do
		pss=0
		while read -r k v _; do [ "$k" = Pss: ] && { pss=$v; break; }; done 2>/dev/null < /proc/"$p"/smaps_rollup || continue
		read -r comm 2>/dev/null < /proc/"$p"/comm || continue
		fds=(/proc/"$p"/fd/*)
		V_PROCS=$((V_PROCS + 1)) V_PSS=$((V_PSS + pss)) V_FDS=$((V_FDS + ${#fds[@]}))
		if [ "$p" = "$sup" ]; then
			V_PSS_SUP=$pss V_FDS_SUP=${#fds[@]}
		elif [ "$comm" = vqnet-vmm ]; then
			V_PSS_VMM=$((V_PSS_VMM + pss)) V_VMMS=$((V_VMMS + 1))
		else   # the guests' inits (vqnet-init), and anything else below
			V_PSS_INIT=$((V_PSS_INIT + pss))
			[ "$comm" != vqnet-init ] || V_INITS=$((V_INITS + 1))
		fi
	done
	return 0
}

lab_failed() {
	echo "$ME: $*" >&2
	local log=/run/vqnet/log/$LAB.log
	[ -e "$log" ] && { echo "--- the end of $log:" >&2; tail -20 "$log" >&2; }
	exit 1
}

# quiet LAB: wait, at most 60 s, until its links have carried nothing for
# 2 s (the guests' start-up traffic, router solicitations 4 s apart, is
# over), by when each vmm has also handed back the pages a burst made it
# touch (a second after it went idle): the PSS of idle guests.  V_QUIET: s
quiet() {
	local last=-1 now t0=$EPOCHREALTIME
	for _ in $(seq 30); do
		now=$("$VQNET" status --json "$1" | jq '[.links[] | .a.tx_frames + .b.tx_frames] | add')
		[ "$now" = "$last" ] && break
		last=$now
		sleep 2
	done
	V_QUIET=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
}

# vqnet_round N CHECK: one round; V_UP V_DOWN and lab_cost's V_*
vqnet_round() {
	local n=$1 f t0 t1 t2 t3 sup st left
	f=$(lab_file "$n")
	LAB=${SC}n$n
	[[ " ${LABS[*]} " == *" $LAB "* ]] || LABS+=("$LAB")
	t0=$EPOCHREALTIME
	"$VQNET" up "$f" > "$TMP/up.out" 2>&1 ||
		lab_failed "vqnet up $f (a lab of $n guests on a switch) failed: $(tail -5 "$TMP/up.out")"
	t1=$EPOCHREALTIME
	st=$("$VQNET" status --json "$LAB")
	sup=$(jq -r .supervisor.pid <<< "$st")
	if [ "$2" = check ]; then
		[ "$(jq -r '[.nodes[] | select(.kind == "guest")] | length' <<< "$st")" = "$n" ] ||
			lab_failed "status of $LAB does not show $n guests"
		V_REACH=$(reach "$t1" "$LAB.g1" "$LAB.g$n" "$(addr_of 1)" "$(addr_of "$n")") ||
			lab_failed "$LAB does not work: g1 and g$n do not ping each other within 30 s of up"
	fi
	quiet "$LAB"
	lab_cost "$sup"
	t2=$EPOCHREALTIME
	"$VQNET" down "$LAB" > "$TMP/down.out" 2>&1 || lab_failed "vqnet down $LAB failed: $(cat "$TMP/down.out")"
	t3=$EPOCHREALTIME
	left=$(ip netns list | grep -c "^$LAB\." || true)
	[ "$left" = 0 ] || lab_failed "vqnet down $LAB left $left namespaces"
	V_UP=$(ms "$t0" "$t1") V_DOWN=$(ms "$t2" "$t3")
	return 0
}

# ---- the runs -----------------------------------------------------------------

declare -A M   # M[N,key]: the medians
kib_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.3f}" 'BEGIN { if (a != "" && b != "" && b != 0) printf f, a / b }'; }

echo "N guests on one switch: vqnet up/down and its memory, against the floor (iproute2: namespaces, veth pairs, a bridge)"
echo "($(nproc) CPUs, processes not pinned; load average $(cut -d' ' -f1-3 /proc/loadavg) at the start;"
echo " floor and vqnet rounds interleaved, medians; sizes: $SIZES; per-round lines on stderr)"
for n in $SIZES; do
	rounds=${BENCH_ROUNDS:-$([ "$n" -ge 1000 ] && echo 2 || echo 3)}
	declare -A all=()
	for r in $(seq "$rounds"); do
		chk=$([ "$r" = 1 ] && echo check || echo no)
		settle
		floor_round "$n" "$chk"
		for k in UP NS LINKS ADDRS DOWN; do v=F_$k; all[f$k]+=" ${!v}"; done
		if [ -z "${SCALE_FLOOR_ONLY:-}" ]; then
			settle
			vqnet_round "$n" "$chk"
			for k in UP DOWN PSS PSS_SUP PSS_VMM PSS_INIT FDS FDS_SUP PROCS VMMS INITS; do v=V_$k; all[v$k]+=" ${!v}"; done
		fi
		echo "  $n guests, round $r/$rounds: floor up $F_UP ms, down $F_DOWN ms; vqnet up ${V_UP:-} ms, down ${V_DOWN:-} ms, PSS $(kib_mib "${V_PSS:-0}") MiB (quiet after ${V_QUIET:-?} s)" >&2
	done
	for k in "${!all[@]}"; do M[$n,$k]=$(echo "${all[$k]}" | median); done
	M[$n,rounds]=$rounds M[$n,vREACH]=${V_REACH:-} M[$n,fREACH]=${F_REACH:-}
	unset all
done

# ---- the tables ---------------------------------------------------------------

for n in $SIZES; do   # what was not measured (SCALE_FLOOR_ONLY) prints empty
	for k in vUP vDOWN vPSS vPSS_SUP vPSS_VMM vPSS_INIT vFDS vFDS_SUP vPROCS vVMMS vINITS; do : "${M[$n,$k]:=}"; done
done

for n in $SIZES; do
	echo
	echo "$n guests on one switch (median of ${M[$n,rounds]} rounds)"
	printf '%-34s %12s %12s   %s\n' "" vqnet floor "vqnet/floor"
	printf '%s\n' "----------------------------------------------------------------------"
	printf '%-34s %12s %12s   %s\n' "up (ms)" "${M[$n,vUP]}" "${M[$n,fUP]}" "$(div "${M[$n,vUP]}" "${M[$n,fUP]}" %.2fx)"
	printf '%-34s %12s %12s   %s\n' "  floor: netns add / links / addrs" "" \
		"${M[$n,fNS]}/${M[$n,fLINKS]}/${M[$n,fADDRS]}" ""
	kern=$(awk -v a="${M[$n,fNS]}" -v b="${M[$n,fLINKS]}" 'BEGIN { printf "%.1f", a + b }')
	printf '%-34s %12s %12s   %s\n' "  vs netns add + links alone" "" "$kern" "$(div "${M[$n,vUP]}" "$kern" %.2fx)"
	printf '%-34s %12s %12s   %s\n' "down (ms)" "${M[$n,vDOWN]}" "${M[$n,fDOWN]}" "$(div "${M[$n,vDOWN]}" "${M[$n,fDOWN]}" %.2fx)"
	printf '%-34s %12s %12s\n' "g1 <-> g$n answer, ms after up" "${M[$n,vREACH]}" "${M[$n,fREACH]}"
	printf '%-34s %12s %12s\n' "up per guest (ms)" "$(div "${M[$n,vUP]}" "$n")" "$(div "${M[$n,fUP]}" "$n")"
	printf '%-34s %12s %12s\n' "down per guest (ms)" "$(div "${M[$n,vDOWN]}" "$n")" "$(div "${M[$n,fDOWN]}" "$n")"
	printf '%-34s %12s %12s\n' "PSS total, idle (MiB)" "$(kib_mib "${M[$n,vPSS]}")" "n/a (kernel)"
	printf '%-34s %12s\n' "  supervisor / vmms / inits (MiB)" \
		"$(kib_mib "${M[$n,vPSS_SUP]}")/$(kib_mib "${M[$n,vPSS_VMM]}")/$(kib_mib "${M[$n,vPSS_INIT]}")"
	printf '%-34s %12s %12s\n' "PSS per guest (KiB)" "$(div "${M[$n,vPSS]}" "$n" %.0f)" "0"
	printf '%-34s %12s %12s\n' "fds, supervisor" "${M[$n,vFDS_SUP]}" "0"
	printf '%-34s %12s %12s\n' "fds, total" "${M[$n,vFDS]}" "0"
	printf '%-34s %12s %12s\n' "processes: all / vmms / inits" "${M[$n,vPROCS]}/${M[$n,vVMMS]}/${M[$n,vINITS]}" "0"
done

echo
echo "Summary (medians; ms, and KiB of PSS per guest)"
printf '%-8s %10s %10s %8s %10s %10s %8s %10s %8s\n' guests "vqnet up" "floor up" ratio "vqnet dn" "floor dn" ratio "PSS/guest" "fds"
printf '%s\n' "------------------------------------------------------------------------------------------"
for n in $SIZES; do
	printf '%-8s %10s %10s %8s %10s %10s %8s %10s %8s\n' "$n" "${M[$n,vUP]}" "${M[$n,fUP]}" \
		"$(div "${M[$n,vUP]}" "${M[$n,fUP]}" %.2fx)" "${M[$n,vDOWN]}" "${M[$n,fDOWN]}" \
		"$(div "${M[$n,vDOWN]}" "${M[$n,fDOWN]}" %.2fx)" "$(div "${M[$n,vPSS]}" "$n" %.0f)" "${M[$n,vFDS]}"
done
echo "(ratio: vqnet / floor, lower is better for vqnet; the floor has no process: PSS and fds 0)"

echo
echo "Growth: cost per guest at each size (ms per guest; x: against the size before)"
printf '%-8s %14s %8s %14s %8s %14s %8s\n' guests "vqnet up" "" "floor up" "" "vqnet down" ""
printf '%s\n' "------------------------------------------------------------------------------"
prev=""
declare -A g
for n in $SIZES; do
	for k in vUP fUP vDOWN; do
		M[$n,per$k]=$(div "${M[$n,$k]}" "$n" %.4f)
		g[$k]=$([ -n "$prev" ] && div "${M[$n,per$k]}" "${M[$prev,per$k]}" %.2fx || echo "")
	done
	printf '%-8s %14s %8s %14s %8s %14s %8s\n' "$n" "${M[$n,pervUP]}" "${g[vUP]}" \
		"${M[$n,perfUP]}" "${g[fUP]}" "${M[$n,pervDOWN]}" "${g[vDOWN]}"
	prev=$n
done
echo "(a size's per-guest cost more than 1.5x the one before it grows faster than linearly)"

# goal NAME VALUE OP LIMIT: one row of the goal table
goal() {
	awk -v n="$1" -v v="$2" -v op="$3" -v g="$4" 'BEGIN {
		if (v == "") { printf "%-52s %10s %3s %-6s  %s\n", n, "n/a", op, g, "misses (no value)"; exit }
		ok = op == "<" ? v < g : op == "<=" ? v <= g + 1e-9 : v >= g - 1e-9
		printf "%-52s %10.3f %3s %-6s  %s\n", n, v, op, g, ok ? "meets" : "misses" }'
}
echo
echo "Goals (same run)"
printf '%-52s %10s %3s %-6s  %s\n' measure measured goal "" verdict
printf '%s\n' "------------------------------------------------------------------------------------"
for n in $SIZES; do
	goal "$n guests: up, vqnet / floor" "$(div "${M[$n,vUP]}" "${M[$n,fUP]}" %.4f)" "<=" 1.5
done
for n in $SIZES; do
	goal "$n guests: PSS per guest (MiB)" "$(div "${M[$n,vPSS]}" "$((n * 1024))" %.4f)" "<" 1
done
if [[ " $SIZES " == *" 1000 "* ]]; then
	goal "1000 guests: vqnet up (s)" "$(div "${M[1000,vUP]}" 1000 %.4f)" "<" 5
else
	echo "1000 guests: vqnet up (s)                                  n/a (not measured: SCALE_SIZES)"
fi
if [[ " $SIZES " == *" 100 "* && " $SIZES " == *" 1000 "* ]]; then
	goal "up per guest, 1000 guests / 100 guests" "$(div "${M[1000,pervUP]}" "${M[100,pervUP]}" %.4f)" "<=" 1.5
else
	echo "up per guest, 1000 guests / 100 guests                     n/a (not measured: SCALE_SIZES)"
fi
