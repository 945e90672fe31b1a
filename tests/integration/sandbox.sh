#!/bin/bash
# Hardening #15: every vmm ran as nobody, without seccomp, so any process
# of nobody's could stop or trace it, and a vmm taken over by a peer could
# make any system call.  Now each vmm has a uid of its own, no capability
# in any set (the bounding set included), no_new_privs, and a seccomp
# allow-list that kills the process on anything else.
. "$(dirname "$0")/lib.sh"
INJECT=${INJECT:?set INJECT to the vqnet-inject tool}

LAB=sbx$$
up "$(lab_from zmq_samples "$LAB")" "$LAB"
js() { status_json "$LAB" | jq -r "$1"; }
field() { awk -v k="$2:" '$1 == k { print $2 }' /proc/"$1"/status; }

# 1. what /proc says of each vmm, while the lab carries frames
expect_ping vm0 192.168.1.2
expect_ping vm1 192.168.1.3
uids=()
for node in vm0 vm1 vm2; do
	pid=$(vmm_pid "$LAB" "$node")
	[ "$(field "$pid" Seccomp)" = 2 ] || fail "$node's vmm: Seccomp $(field "$pid" Seccomp), not 2 (filter)"
	[ "$(field "$pid" NoNewPrivs)" = 1 ] || fail "$node's vmm: no no_new_privs"
	for set in CapBnd CapPrm CapEff CapInh CapAmb; do
		[ "$(field "$pid" "$set")" = 0000000000000000 ] ||
			fail "$node's vmm: $set $(field "$pid" "$set")"
	done
	uid=$(field "$pid" Uid)
	[ "$uid" != 0 ] && [ "$uid" != 65534 ] || fail "$node's vmm runs as uid $uid"
	[ "$(awk '$1 == "Gid:" { print $2 }' /proc/"$pid"/status)" = "$uid" ] || fail "$node's vmm: gid is not its uid"
	uids+=("$uid")
done
[ "$(printf '%s\n' "${uids[@]}" | sort -u | wc -l)" = 3 ] || fail "vmms share a uid: ${uids[*]}"
ok "each vmm: Seccomp 2, no capabilities (CapBnd 0), no_new_privs, a uid of its own (${uids[*]})"

# 2. the original attack: nobody stops a vmm.  And no vmm's uid may
# signal another vmm.
v0=$(vmm_pid "$LAB" vm0)
if err=$(setpriv --reuid=65534 --regid=65534 --clear-groups kill -STOP "$v0" 2>&1); then
	kill -CONT "$v0"
	fail "nobody stopped vm0's vmm"
fi
case $err in *"Operation not permitted"*) ;; *) fail "kill as nobody failed, but not with EPERM: $err" ;; esac
if err=$(setpriv --reuid="${uids[1]}" --regid="${uids[1]}" --clear-groups kill -STOP "$v0" 2>&1); then
	kill -CONT "$v0"
	fail "vm1's uid stopped vm0's vmm"
fi
case $err in *"Operation not permitted"*) ;; *) fail "kill as vm1's uid failed, but not with EPERM: $err" ;; esac
expect_ping vm0 192.168.1.2
ok "neither nobody nor another vmm's uid can signal a vmm (EPERM)"

# 3. a system call off the list kills the vmm: getppid(2), injected into
# vm2's vmm where it sleeps in epoll_wait (the injector speaks x86-64)
if [ "$(uname -m)" != x86_64 ]; then
	echo "SKIP: injecting a system call needs x86-64"
	exit 0
fi
v2=$(vmm_pid "$LAB" vm2)
out=$("$INJECT" "$v2") || fail "vm2's vmm after getppid: $out"
[ "$out" = "killed by signal 31" ] || fail "vqnet-inject: $out"
logged() { grep -q "vmm of vm2 (pid $v2) killed by signal 31" "$(js .log)"; }
wait_for 10 logged || fail "the supervisor did not log vm2's vmm killed by signal 31: $(tail -5 "$(js .log)")"
"$VQNET" status "$LAB" | grep -q "killed by signal 31" || fail "status does not say killed by signal 31: $("$VQNET" status "$LAB")"
[ "$(js '.nodes[] | select(.name == "vm2") | .vmm.last_exit')" = "killed by signal 31" ] ||
	fail "status --json: vm2's vmm last_exit: $(js '.nodes[] | select(.name == "vm2") | .vmm.last_exit')"
expect_ping vm0 192.168.1.2
# and (issue 10) the supervisor replaced it: vm2 is reachable again
replaced() { [ "$(js '.nodes[] | select(.name == "vm2") | .vmm.state + " " + (.vmm.restarts | tostring)')" = "running 1" ]; }
wait_for 10 replaced || fail "vm2's vmm not replaced: $(status_json "$LAB" | jq -c '.nodes[2].vmm')"
expect_ping vm0 192.168.1.3
ok "getppid in a vmm: killed by SIGSYS, logged and shown by status, replaced; the others carry on"
