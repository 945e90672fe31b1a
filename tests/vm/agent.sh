#!/bin/sh
# One real QEMU guest (Debian's kernel, our initramfs), no NIC at all, its
# agent behind vqnet-agentd: commands pass stdout, stderr, stdin, exit
# status and signals through, run concurrently, carry 10 MB intact; QEMU
# stops on SIGTERM and leaves nothing.  Prints the measurements.
#
# Synchronised on events: the agent's "ready" line on agentd's ready fd,
# a command's first output line, FIFOs inside the guest.  Timeouts only
# stop a hang.
set -eu
. "$(dirname "$0")/lib.sh"

command -v qemu-system-x86_64 >/dev/null || { log "no qemu-system-x86_64: skipped"; exit 77; }
for b in vqnet-agentd vqnet-agentc vqnet-accel; do
	[ -x "$BIN/$b" ] || die "$BIN/$b is not built"
done

T=$(mktemp -d /tmp/vqnet-vm.XXXXXX)
trap 'cleanup' EXIT
trap 'exit 1' INT TERM HUP

# The image: cold or cached, whichever it is; its own line says which.
"$SRC/scripts/guest-image.sh" "$VQNET_BUILD" "$BIN" | tee "$T/image.log"

ACCEL=tcg
if "$BIN/vqnet-accel" >"$T/accel" 2>&1; then ACCEL=kvm; fi
log "accelerator: $(cat "$T/accel")"

mkfifo "$T/ready"
exec 7<>"$T/ready"   # read-write: opening it never blocks, for us or agentd
t0=$(now_ms)
# a NIC the lab names but QEMU does not have (this test has none at all):
# init must say so on the console and go on
GUEST_ARGS="vqnet.if=02:00:00:00:AA:01,192.168.1.1/24,fd00::1/64"
( run_qemu "$T" "$T/vm0.console" vm0 "$ACCEL" ) 2>"$T/qemu.err" &
QEMU=$!
PIDS="$QEMU"
"$BIN/vqnet-agentd" --qemu "$T/agent.sock" --listen "$T/c.sock" --ready-fd 3 \
	3>"$T/ready" 2>"$T/agentd.log" &
AGENTD=$!
PIDS="$PIDS $AGENTD"

line=$(timeout 180 head -n1 <&7 || true)
[ "$line" = ready ] || { cat "$T/vm0.console" "$T/qemu.err" "$T/agentd.log" >&2; die "no agent hello within 180 s (got '$line')"; }
BOOT_MS=$(( $(now_ms) - t0 ))
log "agent hello $BOOT_MS ms after QEMU started ($ACCEL)"

x() { timeout -k 5 120 "$BIN/vqnet-agentc" "$T/c.sock" -- "$@"; }

# what init set up: hostname, lo (IPv4 and IPv6); the tools it uses work
[ "$(x hostname)" = vm0 ] || fail "hostname is '$(x hostname)'"
x ping -c1 -W5 127.0.0.1 >/dev/null || fail "ping 127.0.0.1 in the guest failed"
x ip addr add fd00::5/128 dev lo || fail "busybox ip cannot add an IPv6 address"
x ping -c1 -W5 fd00::5 >/dev/null || fail "ping fd00::5 in the guest failed"

# stdout
out=$(x echo hi)
[ "$out" = hi ] || fail "echo hi gave '$out'"

# stderr, apart from stdout
x sh -c 'echo to-out; echo to-err >&2' >"$T/o" 2>"$T/e"
[ "$(cat "$T/o")" = to-out ] || fail "stdout was '$(cat "$T/o")'"
[ "$(cat "$T/e")" = to-err ] || fail "stderr was '$(cat "$T/e")'"

# exit status
rc=0; x sh -c 'exit 7' || rc=$?
[ $rc -eq 7 ] || fail "exit 7 gave $rc"

# killed by a signal inside the guest: 128 + signal, as vqnet exec reports
rc=0; x sh -c 'kill -KILL $$' || rc=$?
[ $rc -eq 137 ] || fail "a command killed by SIGKILL gave $rc"

# a signal sent to the client reaches the command: wait for its first line
mkfifo "$T/sigout"
"$BIN/vqnet-agentc" "$T/c.sock" -- sh -c 'echo started; exec sleep 1000' >"$T/sigout" &
SIGC=$!
PIDS="$PIDS $SIGC"
first=$(timeout 60 head -n1 "$T/sigout" || true)
[ "$first" = started ] || fail "the long command did not start ('$first')"
kill -TERM "$SIGC"
wait_exit "$SIGC" 60 || fail "the client did not end after SIGTERM"
rc=0; wait "$SIGC" || rc=$?
[ $rc -eq 143 ] || fail "SIGTERM passed on gave $rc, not 143"

# a program that is not there
rc=0; x no-such-program 2>"$T/e" || rc=$?
[ $rc -eq 127 ] || fail "a missing program gave $rc"
grep -q 'cannot run no-such-program: No such file or directory' "$T/e" || fail "missing program: '$(cat "$T/e")'"

# stdin
out=$(printf 'line one\nline two\n' | x cat)
[ "$out" = "line one
line two" ] || fail "cat of stdin gave '$out'"
# and 2 MB of it, checked inside the guest
head -c 2000000 /dev/urandom >"$T/in"
want=$(sha256sum <"$T/in" | cut -d' ' -f1)
got=$(x sha256sum <"$T/in" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "2 MB of stdin arrived as $got, not $want"

# 3 commands at once: A cannot finish before B runs, nor B before C
x mkfifo /tmp/p1 /tmp/p2
x cat /tmp/p1 >"$T/a" &
A=$!
x sh -c 'echo from-b >/tmp/p1; cat /tmp/p2' >"$T/b" &
B=$!
x sh -c 'echo from-c >/tmp/p2' >"$T/c" &
C=$!
PIDS="$PIDS $A $B $C"
wait $A || fail "concurrent A failed"
wait $B || fail "concurrent B failed"
wait $C || fail "concurrent C failed"
[ "$(cat "$T/a")" = from-b ] || fail "concurrent A read '$(cat "$T/a")'"
[ "$(cat "$T/b")" = from-c ] || fail "concurrent B read '$(cat "$T/b")'"

# 10 MB of output, by SHA-256 at both ends
x sh -c 'head -c 10000000 /dev/urandom >/tmp/big'
want=$(x sha256sum /tmp/big | cut -d' ' -f1)
t1=$(now_ms)
got=$(x cat /tmp/big | sha256sum | cut -d' ' -f1)
BIG_MS=$(( $(now_ms) - t1 ))
[ -n "$want" ] && [ "$got" = "$want" ] || fail "10 MB of output arrived as $got, not $want"
log "10 MB of output in $BIG_MS ms"

# round trip of `true`
t1=$(now_ms)
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	x true || fail "true failed"
done
RT_MS=$(( ($(now_ms) - t1) / 20 ))
log "exec round trip of true: $RT_MS ms (mean of 20)"

# agentd restarts: the agent sees the host go (the port closes), kills
# what ran, and answers the new agentd's HELLO
mkfifo "$T/rsout"
x sh -c 'echo $$; exec sleep 1000' >"$T/rsout" &
RSC=$!
PIDS="$PIDS $RSC"
gpid=$(timeout 60 head -n1 "$T/rsout" || true)
[ -n "$gpid" ] || fail "no pid from the command across the restart"
stop_pid "$AGENTD" 10
wait_exit "$RSC" 60 || fail "the client did not end with agentd"
t1=$(now_ms)
"$BIN/vqnet-agentd" --qemu "$T/agent.sock" --listen "$T/c.sock" --ready-fd 3 \
	3>"$T/ready" 2>>"$T/agentd.log" &
AGENTD=$!
PIDS="$PIDS $AGENTD"
line=$(timeout 60 head -n1 <&7 || true)
[ "$line" = ready ] || fail "no hello after agentd restarted (got '$line')"
log "agent ready again $(( $(now_ms) - t1 )) ms after agentd restarted"
x sh -c "! kill -0 $gpid 2>/dev/null" || fail "command $gpid outlived the agentd that ran it"
[ "$(x echo again)" = again ] || fail "exec after agentd restarted"

# QEMU stops on SIGTERM; a command running then fails with the reason
mkfifo "$T/lostout"
"$BIN/vqnet-agentc" "$T/c.sock" -- sh -c 'echo started; exec sleep 1000' >"$T/lostout" 2>"$T/losterr" &
LOSTC=$!
PIDS="$PIDS $LOSTC"
first=$(timeout 60 head -n1 "$T/lostout" || true)
[ "$first" = started ] || fail "the last command did not start ('$first')"
stop_pid "$QEMU" 10
kill -0 "$QEMU" 2>/dev/null && fail "QEMU $QEMU still runs"
wait_exit "$LOSTC" 60 || fail "the last command's client did not end with its VM"
rc=0; wait "$LOSTC" || rc=$?
[ $rc -eq 255 ] || fail "a command whose VM stopped gave $rc"
grep -q "lost the VM's agent" "$T/losterr" || fail "lost command said '$(cat "$T/losterr")'"
rc=0; x true 2>"$T/e" || rc=$?
[ $rc -eq 255 ] && grep -q 'not ready' "$T/e" || fail "exec after QEMU stopped: $rc '$(cat "$T/e")'"
stop_pid "$AGENTD" 10

grep -q 'vqnet-init: eth0: MISSING: no NIC with MAC 02:00:00:00:aa:01' "$T/vm0.console" &&
grep -q 'vqnet-init: vm0: 0 of 1 NICs up' "$T/vm0.console" || fail "console: $(cat "$T/vm0.console")"
log "console:"
sed 's/^/    /' "$T/vm0.console"

img=$(tail -n1 "$T/image.log")
log "summary: $img; boot to agent hello ${BOOT_MS} ms ($ACCEL); true ${RT_MS} ms; 10 MB out ${BIG_MS} ms"
[ $FAILED -eq 0 ] || { sed 's/^/agentd: /' "$T/agentd.log" >&2; exit 1; }
log "all passed"
