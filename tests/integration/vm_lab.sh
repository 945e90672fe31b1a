#!/bin/bash
# The seed's three VMs as VMs (examples/zmq_samples_vm.vqnet): QEMU guests
# under TCG (or KVM where it really runs) whose NICs are vhost-user devices
# served by their vmms.  Every pair pings; 20 MB of TCP crosses each pair
# both ways, SHA-256 checked at both ends; status shows the devices
# running; a QEMU killed is reported, its device waits, the others carry
# on; down leaves no process, namespace or file.  (issue 9)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"

LAB=vm$$
up "$(lab_from zmq_samples_vm "$LAB")" "$LAB"
ok "three VMs up: $(head -1 "$TMP/$LAB.up")"

ip4=(192.168.1.1 192.168.1.2 192.168.1.3)
for i in 0 1 2; do
	for j in 0 1 2; do
		[ $i = $j ] && continue
		vx vm$i -- ping -c 2 -W 5 "${ip4[$j]}" > /dev/null || fail "vm$i cannot ping vm$j"
	done
done
ok "every pair of VMs pings"

# 20 MB each way on each pair: made in the sender, served by its httpd,
# fetched by the others, checked in both
for i in 0 1 2; do
	vx vm$i -- sh -c 'head -c 20971520 /dev/urandom > /tmp/blob && sha256sum /tmp/blob' |
		cut -d' ' -f1 > "$TMP/sum$i"
	vx vm$i -- httpd -p 8080 -h /tmp || fail "vm$i: httpd"
done
for i in 0 1 2; do
	for j in 0 1 2; do
		[ $i = $j ] && continue
		got=$(vx vm$j -- sh -c "wget -q -O - http://${ip4[$i]}:8080/blob | sha256sum" | cut -d' ' -f1)
		[ "$got" = "$(cat "$TMP/sum$i")" ] ||
			fail "vm$i -> vm$j: received $got, sent $(cat "$TMP/sum$i")"
	done
done
ok "20 MB of TCP each way between every pair, SHA-256 equal at both ends"

json=$(status_json "$LAB")
[ "$(echo "$json" | jq -c '[.nodes[].ifaces[].port | .kind + " " + .state] | unique')" = '["vhost-user running"]' ] ||
	fail "ports: $(echo "$json" | jq -c '[.nodes[].ifaces[].port]')"
[ "$(echo "$json" | jq -c '[.links[].state] | unique')" = '["ok"]' ] || fail "links: $json"
[ "$(echo "$json" | jq '[.links[] | .a, .b | .drop_full, .drop_stalled, .drop_broken] | add')" = 0 ] ||
	fail "frames dropped on links: $(echo "$json" | jq -c '.links')"
[ "$(echo "$json" | jq -r '[.nodes[].vm.agent] | unique | .[]')" = ready ] || fail "agents: $json"
ok "status: devices running, links ok, nothing dropped; accelerator $(echo "$json" | jq -r '.nodes[0].vm.accel')"

# vm1 resets its NIC (its driver unloaded and loaded again: QEMU stops
# the rings and starts them afresh): the device says so, then runs again
vx vm1 -- rmmod virtio_net
negotiating() { [ "$(js '.nodes[1].ifaces[0].port.state')" = negotiating ]; }
wait_for 30 negotiating || fail "a reset NIC: $(js '.nodes[1].ifaces[0].port.state')"
vx vm1 -- sh -c 'insmod /lib/modules/$(cat /etc/vqnet-kernel)/kernel/drivers/net/virtio_net.ko &&
	ip addr add 192.168.1.2/24 dev eth0 && ip link set eth0 up'
running() { [ "$(js '.nodes[1].ifaces[0].port.state')" = running ]; }
wait_for 30 running || fail "the NIC after its reset: $(js '.nodes[1].ifaces[0].port.state')"
vx vm0 -- ping -c 2 -W 5 192.168.1.2 > /dev/null || fail "vm0 cannot reach vm1 after vm1's NIC reset"
ok "a guest resetting its NIC: negotiating, then running again"

# QEMU of vm2 killed: status says so, its device waits for a front-end,
# vm0 and vm1 carry on; down stops everything
qemu=$(echo "$json" | jq -r '.nodes[2].vm.qemu.pid')
kill -9 "$qemu"
killed() { [ "$(js '.nodes[2].vm.qemu.state + " " + .nodes[2].ifaces[0].port.state')" = "killed waiting" ]; }
wait_for 30 killed || fail "a killed QEMU: $(status_json "$LAB" | jq -c '.nodes[2]')"
"$VQNET" status "$LAB" | grep -Eq "^vm2 .*QEMU killed by signal 9" || fail "status text: $("$VQNET" status "$LAB")"
vx vm0 -- ping -c 2 -W 5 192.168.1.2 > /dev/null || fail "vm0 lost vm1 when vm2's QEMU died"
if vx vm0 -- ping -c 1 -W 2 192.168.1.3 > /dev/null 2>&1; then fail "vm0 still reaches vm2"; fi
set +e
vx vm2 -- true 2> "$TMP/err"; rc=$?
set -e
[ $rc != 0 ] || fail "exec into a dead VM succeeded"
ok "a killed QEMU is reported, its device waits, the others carry on"

# the vmm of vm1 killed (issue 10): the supervisor starts another, vm1's
# QEMU reconnects to it over vhost-user and vm0 reaches vm1 again
vmm1=$(vmm_pid "$LAB" vm1)
kill -9 "$vmm1"
replaced() { [ "$(js '.nodes[1].vmm.state + " " + (.nodes[1].vmm.restarts|tostring)')" = "running 1" ] &&
	[ "$(js '.nodes[1].vmm.pid')" != "$vmm1" ]; }
wait_for 30 replaced || fail "a killed vmm of a VM: $(status_json "$LAB" | jq -c '.nodes[1].vmm')"
reach1() { vx vm0 -- ping -c 1 -W 2 192.168.1.2 > /dev/null 2>&1; }
wait_for 30 reach1 || fail "vm0 lost vm1 after its vmm was replaced: $("$VQNET" status "$LAB")"
"$VQNET" status "$LAB" | grep -Eq "^vm1 .*restarted 1x" || fail "status text: $("$VQNET" status "$LAB")"
ok "a killed vmm of a VM is replaced, its QEMU reconnects, vm1 reachable again"

pids="$(lab_pids "$LAB") $(js '.nodes[].vm.qemu.pid // empty')"
"$VQNET" down "$LAB"
expect_gone "$LAB" $pids
[ -z "$(ls /run/vqnet/"$LAB".* 2>/dev/null)" ] || fail "sockets left: $(ls /run/vqnet/"$LAB".*)"
[ -s /run/vqnet/log/"$LAB".vm0.console ] || fail "no console of vm0 kept"
ok "down leaves nothing; consoles kept"
