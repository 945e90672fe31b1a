#!/bin/bash
# A VM and namespaces on one topology, and a partition across VMs: v0 (a
# VM) and n1 (a namespace) share "left"; n1 and v2 (a VM) share "right".
# A VM and a namespace ping and carry TCP both ways (SHA-256 checked); v0
# cannot reach v2, even with a route through n1, which is a host, not a
# router.  (issue 9)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"

LAB=mix$$
cat > "$TMP/$LAB.vqnet" <<LABF
[lab]
name = $LAB
[vm v0]
kind = qemu
memory = 192M
ip = 10.4.1.1/24
[vm n1]
ip = 10.4.1.2/24
ip.right = 10.4.2.2/24
[vm v2]
kind = qemu
ip = 10.4.2.3/24
[topology left]
v0 = n1
n1 = v0
[topology right]
n1 = v2
v2 = n1
LABF
up "$TMP/$LAB.vqnet" "$LAB"

vx v0 -- ping -c 2 -W 5 10.4.1.2 > /dev/null || fail "VM v0 cannot ping namespace n1"
expect_ping n1 10.4.1.1
expect_ping n1 10.4.2.3
vx v2 -- ping -c 2 -W 5 10.4.2.2 > /dev/null || fail "VM v2 cannot ping n1"
ok "a VM and a namespace guest ping each other"

# TCP both ways between the VM v0 and the namespace n1, 20 MB each
head -c 20971520 /dev/urandom > "$TMP/blob"
want=$(sha256sum < "$TMP/blob" | cut -d' ' -f1)
mkdir "$TMP/www" && cp "$TMP/blob" "$TMP/www/blob"
vx n1 -- busybox httpd -f -p 8080 -h "$TMP/www" &
serving() { vx n1 -- ss -Hltn "sport = :8080" | grep -q .; }
wait_for 10 serving || fail "n1 serves nothing"
got=$(vx v0 -- sh -c "wget -q -O - http://10.4.1.2:8080/blob | sha256sum" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "n1 -> v0: received $got, sent $want"
vx v0 -- sh -c 'head -c 20971520 /dev/urandom > /tmp/blob && httpd -p 8081 -h /tmp'
sent=$(vx v0 -- sha256sum /tmp/blob | cut -d' ' -f1)
got=$(vx n1 -- busybox wget -q -O - http://10.4.1.1:8081/blob | sha256sum | cut -d' ' -f1)
[ "$got" = "$sent" ] || fail "v0 -> n1: received $got, sent $sent"
ok "20 MB of TCP each way between a VM and a namespace, SHA-256 equal"

# the partition holds across VMs
if vx v0 -- ping -c 1 -W 2 10.4.2.3 > /dev/null 2>&1; then fail "v0 reaches v2"; fi
vx v0 -- ip route add 10.4.2.0/24 via 10.4.1.2
vx v2 -- ip route add 10.4.1.0/24 via 10.4.2.2
if vx v0 -- ping -c 2 -W 2 10.4.2.3 > /dev/null 2>&1; then fail "v0 reaches v2 through n1"; fi
ok "the partition holds: v0 cannot reach v2"

json=$(status_json "$LAB")
[ "$(echo "$json" | jq -c '[.nodes[] | .name + ":" + .guest_kind + ":" + ([.ifaces[].port.kind + " " + .ifaces[].port.state] | unique | join(","))]')" = \
	'["v0:qemu:vhost-user running","n1:netns:tap up","v2:qemu:vhost-user running"]' ] ||
	fail "status of a mixed lab: $(echo "$json" | jq -c '[.nodes[] | {name, guest_kind, port: [.ifaces[].port]}]')"
ok "status tells VMs and namespaces apart"
