# Helpers for the VM tests (sourced).  Every process a test starts is
# remembered by PID and stopped by PID on exit, whatever happened; nothing
# is ever killed by name.
#
# Needs: VQNET_BUILD (the build tree: bin/, and guest/ is made there).

: "${VQNET_BUILD:?VQNET_BUILD must name the build tree}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$VQNET_BUILD/bin
GUEST=$VQNET_BUILD/guest
PIDS=""
FAILED=0

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
log() { echo "vm-test: $*"; }
fail() { echo "vm-test: FAIL: $*" >&2; FAILED=1; }
die() { echo "vm-test: FAIL: $*" >&2; exit 1; }

# stop_pid PID [GRACE_S]: SIGTERM, then SIGKILL after the grace period.
stop_pid() {
	kill -0 "$1" 2>/dev/null || return 0
	kill -TERM "$1" 2>/dev/null || true
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt $(( ${2:-10} * 20 )) ]; do
		# a zombie of ours still answers kill -0: reap it if it is ours
		wait "$1" 2>/dev/null || true
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
		i=$((i + 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		log "pid $1 ignored SIGTERM for ${2:-10} s: SIGKILL"
		kill -KILL "$1" 2>/dev/null || true
	fi
	wait "$1" 2>/dev/null || true
}

# wait_exit PID SECS: until our child PID has exited (0), or SECS passed
# (1); the child is not reaped, so `wait PID` still gives its status.
wait_exit() {
	i=0
	while [ $i -lt $(( $2 * 20 )) ]; do
		[ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" = Z ] && return 0
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

cleanup() {
	for p in $PIDS; do stop_pid "$p" 10; done
	[ -n "${T:-}" ] && rm -rf "$T"
}

# run_qemu SOCKDIR CONSOLE NAME ACCEL [EXTRA...]: a vqnet VM guest with
# the agent only (no NIC at all), in the foreground (callers add &).
# GUEST_ARGS: more kernel command line words (vqnet.if=... and so on).
run_qemu() {
	dir=$1 console=$2 name=$3 accel=$4
	shift 4
	exec qemu-system-x86_64 -name "$name" -accel "$accel" -machine pc \
		-nodefaults -no-user-config -display none -nic none -no-reboot \
		-m 256M -smp 1 \
		-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
		-kernel "$GUEST/vmlinuz" -initrd "$GUEST/initramfs.cpio" \
		-append "$(cat "$GUEST/cmdline") vqnet.name=$name ${GUEST_ARGS:-}" \
		-chardev file,id=console,path="$console" -serial chardev:console \
		-device virtio-serial-pci,id=vser \
		-chardev socket,id=agent,path="$dir/agent.sock",server=on,wait=off \
		-device virtserialport,bus=vser.0,chardev=agent,name=vqnet.agent \
		-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny \
		"$@"
}
