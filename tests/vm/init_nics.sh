#!/bin/sh
# guest/init's NIC step, alone, with the image's busybox, in a network
# namespace of our own (two veth ends stand in for virtio-net NICs; this
# test gives QEMU none): each NIC is found by its MAC (in any case),
# renamed eth0, eth1, ... in the lab's order even when the kernel's names
# are the other way round, gets its IPv4 and IPv6 addresses and comes up;
# a MAC no NIC has is reported and init goes on.  Nothing is configured
# outside the namespace, which ends with the test.
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "init_nics: needs root (a network namespace): skipped"; exit 77; }
command -v busybox >/dev/null || { echo "init_nics: no busybox: skipped"; exit 77; }
T=$(mktemp -d /tmp/vqnet-init.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
mkdir "$T/bin"
for a in ip tr basename cat; do ln -s "$(command -v busybox)" "$T/bin/$a"; done
sed -n '/^# --- NICs:/,/^# --- end of NICs ---/p' "$SRC/guest/init" >"$T/nics.sh"
[ -s "$T/nics.sh" ] || { echo "init_nics: no NIC part in guest/init"; exit 1; }
cat >"$T/run.sh" <<EOS
set -eu
mount -t sysfs sysfs /sys
ip link add eth0 address 02:00:00:00:bb:01 type veth peer name eth1 address 02:00:00:00:aa:01
echo 0 >/proc/sys/net/ipv6/conf/all/accept_dad
echo 0 >/proc/sys/net/ipv6/conf/default/accept_dad
export PATH=$T/bin:\$PATH
say() { echo "vqnet-init: \$*"; }
ifs=" 02:00:00:00:AA:01,192.168.1.1/24,fd00::1/64 02:00:00:00:bb:01,10.0.0.1/24 02:00:00:00:cc:01"
. $T/nics.sh
echo "summary \$up of \$i"
# operstate follows an "up" a moment later (the kernel's linkwatch work):
# poll it, for at most 10 s
for n in eth0 eth1; do
	k=0
	while [ "\$(cat /sys/class/net/\$n/operstate)" != up ] && [ \$k -lt 100 ]; do sleep 0.1; k=\$((k + 1)); done
done
for n in eth0 eth1; do echo "\$n \$(cat /sys/class/net/\$n/address) \$(cat /sys/class/net/\$n/operstate)"; done
ip -o addr show | awk '\$2 != "lo" && \$4 !~ /^fe80/ { print \$2, \$4 }'
EOS
unshare -n -m sh "$T/run.sh" >"$T/out" 2>&1 || { cat "$T/out"; echo "init_nics: FAIL: the NIC step failed"; exit 1; }
cat "$T/out"
fail=0
for want in "vqnet-init: eth0 02:00:00:00:aa:01 192.168.1.1/24 fd00::1/64 up" \
	    "vqnet-init: eth1 02:00:00:00:bb:01 10.0.0.1/24 up" \
	    "vqnet-init: eth2: MISSING: no NIC with MAC 02:00:00:00:cc:01" \
	    "summary 2 of 3" "eth0 02:00:00:00:aa:01 up" "eth1 02:00:00:00:bb:01 up" \
	    "eth0 192.168.1.1/24" "eth0 fd00::1/64" "eth1 10.0.0.1/24"; do
	grep -qxF "$want" "$T/out" || { echo "init_nics: FAIL: no line '$want'"; fail=1; }
done
[ $fail -eq 0 ] && echo "init_nics: all passed"
exit $fail
