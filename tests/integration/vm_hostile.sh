#!/bin/bash
# A hostile guest (issue 9): vqnet-vhost-hostile plays QEMU on a VM's
# vhost-user socket, with guest memory of its own, and writes bad rings:
# TX buffers outside memory (far, and one byte past the end), chains that
# loop (to themselves, in pairs), huge lengths (0xffffffff, addr + len
# wrapping past 2^64, a chain longer than a frame), an available index
# moved by more than the ring, a device-readable RX buffer.  Each time the
# vmm signals that ring's err eventfd, status shows the device broken with
# the cause while the tool is still connected, the vmm is the same process,
# and when the tool leaves the device waits again.  Then a well-behaved
# front-end's ping crosses the same vmm to the namespace guest and back,
# and the link between them stayed ok throughout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"
HOSTILE=${HOSTILE:?set HOSTILE to the vqnet-vhost-hostile tool}

LAB=hos$$
cat > "$TMP/$LAB.vqnet" <<LABF
[lab]
name = $LAB
[vm v0]
kind = qemu
memory = 192M
ip = 10.3.0.1/24
[vm n1]
ip = 10.3.0.2/24
[topology lan]
v0 = n1
n1 = v0
LABF
up "$TMP/$LAB.vqnet" "$LAB"
LOG=/run/vqnet/log/$LAB.log
SOCK=/run/vqnet/$LAB.v0.eth0.sock

json=$(status_json "$LAB")
vmm=$(echo "$json" | jq -r '.nodes[0].vmm.pid')
qemu=$(echo "$json" | jq -r '.nodes[0].vm.qemu.pid')
mac0=$(echo "$json" | jq -r '.nodes[0].ifaces[0].mac')
mac1=$(echo "$json" | jq -r '.nodes[1].ifaces[0].mac')
jc() { status_json "$LAB" | jq -c "$1"; }
port() { js ".nodes[0].ifaces[0].port.$1"; }
link() { js ".links[] | select($(link_sel v0 n1)) | .$1"; }
[ "$(port state)" = running ] || fail "v0's device: $(jc '.nodes[0].ifaces[0].port')"
vx v0 -- ping -c 1 -W 5 10.3.0.2 > /dev/null || fail "v0 cannot ping n1"

# QEMU goes; the vmm waits for the next front-end, which will be ours
kill -9 "$qemu"
wait_for 30 says waiting port state || fail "v0's device after QEMU died: $(jc '.nodes[0].ifaces[0].port')"
ok "v0's QEMU killed, its device waits (vmm $vmm)"

# The tool talks in lines (tests/tools/vhost_hostile.c): ready, attacked
# RING, broken RING or reply ...; it goes on at a line from us.
tool_start() {
	coproc TOOL { exec "$HOSTILE" "$SOCK" "$@" 2> "$TMP/tool.err"; }
	tool=$TOOL_PID
	exec {tout}<&"${TOOL[0]}" {tin}>&"${TOOL[1]}"
}
# tool_says WORDS...: the tool's next line starts with WORDS
tool_says() {
	local line
	read -r -t 30 -u "$tout" line ||
		fail "$what: the tool said nothing more (wanted '$*'): $(cat "$TMP/tool.err"); v0's vmm: $(jc '.nodes[0].vmm')"
	[[ $line == "$*"* ]] || fail "$what: the tool said '$line', not '$*': $(cat "$TMP/tool.err")"
	said=$line
}
# tool_end: let it disconnect; it must exit 0
tool_end() {
	echo done >&"$tin"
	local rc=0
	wait "$tool" || rc=$?
	exec {tout}<&- {tin}>&-
	[ $rc = 0 ] || fail "$what: the tool exited $rc: $(cat "$TMP/tool.err")"
}
vmm_alive() {
	[ "$(vmm_pid "$LAB" v0)" = "$vmm" ] && kill -0 "$vmm" && [ "$(js '.nodes[0].vmm.state')" = running ] ||
		fail "$what: v0's vmm $vmm is gone: $(jc '.nodes[0].vmm')"
}

# attack MODE VARIANT RING CAUSE: the device breaks with CAUSE on RING
attack() {
	local mode=$1 variant=$2 ring=$3 cause=$4 pinger=
	what="$mode${variant:+ $variant}"
	tool_start "$mode" ${variant:+"$variant"}
	tool_says ready
	[ "$(port state)" = running ] || fail "$what: the device is $(port state) before the attack"
	local before
	before=$(grep -c "the guest broke its" "$LOG" || true)
	echo go >&"$tin"
	tool_says attacked "$ring"
	# a bad RX buffer is seen only when a frame comes for the guest: n1
	# looks for v0 (an ARP broadcast reaches the device)
	if [ "$ring" = RX ]; then
		vx n1 -- ping -c 1 -W 1 10.3.0.1 > /dev/null 2>&1 &
		pinger=$!
	fi
	tool_says broken "$ring"
	# the tool is still connected: the device is broken, and says why
	# (the state word may land a moment after the err eventfd)
	wait_for 30 says broken port state || fail "$what: the device is $(port state), not broken"
	[ "$(port error)" = "$cause" ] || fail "$what: the device's error is '$(port error)', not '$cause'"
	vmm_alive
	grep "the guest broke its" "$LOG" | tail -n +"$((before + 1))" |
		grep -qF "the guest broke its $ring ring: $cause" ||
		fail "$what: the vmm did not log the break: $(tail -3 "$LOG")"
	[ -z "$pinger" ] || wait "$pinger" || true
	tool_end
	until_says waiting port state
	vmm_alive
	ok "$what: $ring ring broken ($cause), err signalled, vmm $vmm alive, device waits again"
}

attack outside far TX "peer's buffer lies outside the shared window"
attack outside edge TX "peer's buffer lies outside the shared window"
attack loop self TX "peer's descriptor chain loops or is too long"
attack loop pair TX "peer's descriptor chain loops or is too long"
attack huge len TX "peer's buffer lies outside the shared window"
attack huge wrap TX "peer's buffer lies outside the shared window"
attack huge chain TX "peer gave a zero or oversized length"
attack jump "" TX "peer moved the available index by more than the ring size"
attack rx-read "" RX "peer used unsupported or misordered descriptor flags"
[ "$(link state)" = ok ] || fail "the v0-n1 link after the attacks: $(jc ".links[] | select($(link_sel v0 n1))")"

# A front-end whose TX err or call eventfd is blocking and full (one more
# write would block): the vmm must not hang writing to it, or every link of
# the vmm hangs with it (it makes every front-end eventfd non-blocking).
# blocking MODE JQ: the vmm has reached its write once status says JQ
blocking() {
	what=$1
	tool_start "$1"
	tool_says ready
	echo go >&"$tin"
	tool_says attacked TX
	wait_for 10 says true js "$2" || fail "$what: the vmm never got to write ($2): $(jc '.nodes[0].ifaces[0]')"
	echo go >&"$tin"
	tool_says alive
	vmm_alive
	tool_end
	until_says waiting port state
	ok "$what: the vmm did not hang on a blocking eventfd"
}
blocking block-err '.nodes[0].ifaces[0].port.error != null'
sent=$(js '.nodes[0].ifaces[0].counters.from_guest_frames')
blocking block-call ".nodes[0].ifaces[0].counters.from_guest_frames > $sent"

# A good guest on the same vmm: its echo request reaches n1, whose reply
# comes back through v0's vmm into the tool's RX ring
vx n1 -- ip neigh replace 10.3.0.1 lladdr "$mac0" dev eth0 nud permanent
what=good
tool_start good "$mac0" 10.3.0.1 "$mac1" 10.3.0.2
tool_says ready
echo go >&"$tin"
tool_says sent
tool_says reply
got=$said
[ "$(port state)" = running ] || fail "good: the device is $(port state) after a ping"
[ "$(port error)" = null ] || fail "good: the device says $(port error)"
tool_end
until_says waiting port state
vmm_alive
ok "a good front-end after every attack: $got, through the same vmm $vmm"

json=$(status_json "$LAB")
l=$(echo "$json" | jq -c ".links[] | select($(link_sel v0 n1))")
[ "$(echo "$l" | jq -r .state)" = ok ] || fail "the v0-n1 link: $l"
[ "$(echo "$l" | jq '[.a, .b | .drop_broken] | add')" = 0 ] || fail "frames dropped as broken: $l"
[ "$(echo "$json" | jq -r '.nodes[1].ifaces[0].port.state')" = up ] || fail "n1's port: $json"
ok "the v0-n1 link is ok; the vmm logged: $(grep -c 'the guest broke its' "$LOG") breaks"
echo "v0's vmm said:"
grep -F "vhost-user" "$LOG" | sed 's/^/  /'
