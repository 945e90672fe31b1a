#!/bin/bash
# The first-time setup of /run/netns, as iproute2 does it (hardening #18):
# under a lock on the directory (concurrent labs never stack mounts on it),
# and made private before it is shared, so that it leaves the peer group of
# the /run it sits in.  All of it inside a mount namespace of this test's
# own, on a fresh shared /run: the host's /run/netns is never touched.
. "$(dirname "$0")/lib.sh"

# shellcheck disable=SC2016
unshare --mount --propagation private env VQNET="$VQNET" SRC="$SRC" ID=$$ bash -euc '
	mount -t tmpfs -o mode=0755 tmpfs /run
	mount --make-shared /run
	files=()
	for i in 1 2 3 4; do
		sed "s/^name *=.*/name = nsup$ID-$i/" "$SRC/examples/zmq_samples.vqnet" > /tmp/nsup$ID-$i.vqnet
		files+=(/tmp/nsup$ID-$i.vqnet)
	done
	pids=()
	for f in "${files[@]}"; do "$VQNET" up "$f" > /dev/null & pids+=($!); done
	rc=0
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	# mounts on our /run (the host'"'"'s own /run/netns lies hidden beneath it)
	# peer group ("shared:N") of the mount at $1 whose parent is $2
	group() { awk -v m="$1" -v p="$2" '"'"'$5 == m && (p == "" || $2 == p) {
		g = "private"; for (i = 7; $i != "-"; i++) if ($i ~ /^shared:/) g = $i; print $1, g }'"'"' /proc/self/mountinfo; }
	read -r run_id run_group < <(group /run "" | tail -1)
	mounts=$(group /run/netns "$run_id" | wc -l)
	netns_group=$(group /run/netns "$run_id" | awk "{ print \$2 }" | head -1)
	for i in 1 2 3 4; do "$VQNET" down nsup$ID-$i > /dev/null || rc=1; rm -f /tmp/nsup$ID-$i.vqnet; done
	[ $rc = 0 ] || { echo "FAIL: four labs up at once"; exit 1; }
	[ "$mounts" = 1 ] || { echo "FAIL: /run/netns mounted $mounts times"; exit 1; }
	case $netns_group in shared:*) ;; *) echo "FAIL: /run/netns is $netns_group, not shared"; exit 1;; esac
	[ "$netns_group" != "$run_group" ] ||
		{ echo "FAIL: /run/netns shares the peer group of /run ($run_group)"; exit 1; }
	echo "ok: four labs at once: /run/netns mounted once, $netns_group, apart from /run ($run_group)"
'
