#!/bin/sh
# Install the Debian packages vqnet needs to build, test and benchmark.
# Idempotent: when everything is present it only asks dpkg and returns.
set -eu

PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev
      libzmq3-dev libinih-dev libcmocka-dev libpcap-dev libjansson-dev libseccomp-dev
      iproute2 iputils-ping iperf3 vde2 socat tcpdump procps jq linux-perf valgrind
      qemu-system-x86 busybox-static cpio
      graphviz librsvg2-bin libxml2-utils netpbm tshark"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing ||
	{ apt-get update -q && apt-get install -y -q --no-install-recommends $missing; }
