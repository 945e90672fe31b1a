#!/bin/bash
# A switch forwards IPv6 multicast by the groups its guests report (MLD
# snooping, issue 12).  When a link to it is reset (here: the switch's
# vmm is killed and replaced), the guests behind it are still in their
# groups and would report only changes.  A review found that after such a
# restart a guest that had not spoken since got no group's frames, so no
# neighbour solicitation reached it, and that one report of a change left
# a guest in that one group.  Now the switch's port takes every group's
# frames until its guest has reported all of them, and the guest's vmm
# asks its guest for them (an MLD query: tshark sees it, and the answer,
# at the guest's NIC).
. "$(dirname "$0")/lib.sh"
UDPSEQ=${UDPSEQ:?set UDPSEQ to vqnet-udpseq}

LAB=snoop$$
cat > "$TMP/lab.vqnet" <<EOF
[lab]
name = $LAB
[vm g1..g3]
[switch sw]
[topology lan]
subnet = 10.7.0.0/24
sw = g1..g3
g1..g3 = sw
EOF
up "$TMP/lab.vqnet" "$LAB"

sw_js() { js ".nodes[] | select(.name == \"sw\") | $1"; }
groups() { sw_js '.ifaces[0].counters.groups'; }
# GUEST's link-local address, once it is no longer tentative
ll() { vx "$1" -- ip -6 -o addr show dev eth0 scope link | awk '!/tentative/ { sub("/.*", "", $4); print $4 }'; }
has_ll() { [ -n "$(ll "$1")" ]; }
for g in g1 g2 g3; do wait_for 30 has_ll $g || fail "$g has no link-local address"; done
L2=$(ll g2) L3=$(ll g3)
# each guest's solicited-node group, reported as its address came up
three() { [ "$(groups)" -ge 3 ]; }
wait_for 10 three || fail "the switch learned $(groups) memberships, not 3"
G0=$(groups)
# g1 finds g2 and g3 by a solicitation to each one's group, which goes nowhere else
ping6_ok() { vx g1 -- ip -6 neigh flush dev eth0; vx g1 -- ping -6 -c 2 -i 0.2 -W 2 "$1%eth0" > /dev/null; }
ping6_ok "$L3" || fail "g1 cannot reach g3 over IPv6"
ok "3 guests on a switch, $G0 memberships learned"

# (not "icmp6": MLD comes after a hop-by-hop header, which BPF does not follow)
capture g3 -w "$TMP/g3.pcapng" ip6
# No router solicitations from now on: a guest then speaks only when asked
# or spoken to.  Once the guests' start-up (their addresses' solicitations
# and reports, repeated for a second or two) is over, restart the switch:
# guests silent since then are the case that failed.
for g in g1 g2 g3; do vx $g -- sysctl -qw net.ipv6.conf.eth0.router_solicitations=0; done
said() { js '[.nodes[] | select(.kind == "guest") | .ifaces[0].counters.from_guest_frames] | add'; }
quiet() { local n; n=$(said); sleep 1; [ "$(said)" = "$n" ]; }   # nothing sent for a second
wait_for 30 quiet || fail "the guests never stopped talking"
# restart_switch N: kill the switch's vmm, wait for its Nth replacement
restart_switch() {
	kill -9 "$(sw_js '.vmm.pid')"
	back() { [ "$(sw_js '.vmm | "\(.state) \(.restarts)"')" = "running $1" ] &&
		 [ "$(js '[.links[].state] | unique | join(",")')" = ok ]; }
	wait_for 20 back "$1" || fail "the switch's vmm was not replaced: $(sw_js '.vmm')"
}
restart_switch 1
# g3 has sent nothing since: its port takes every group's frames
ping6_ok "$L3" || fail "after the switch's restart, g1 cannot reach g3, which had been silent"
# every guest was asked, and answered with all its groups
relearnt() { [ "$(groups)" -ge "$G0" ]; }
wait_for 10 relearnt || fail "after the restart the switch knows $(groups) memberships, not $G0"
for g in g1 g2 g3; do
	[ "$(js ".nodes[] | select(.name == \"$g\") | .ifaces[0].counters.queries")" -ge 1 ] ||
		fail "$g's vmm did not ask it: $(js ".nodes[] | select(.name == \"$g\") | .ifaces[0].counters")"
done
ok "after the switch's restart: a silent guest is reached, and $(groups) memberships are learned again"

# a report of a change (g2 joins one more group) keeps what it was in
vx g2 -- "$UDPSEQ" join ff05::1:1234 eth0 7000 30000 > /dev/null 2>&1 &
JOIN=$!
one_more() { [ "$(groups)" -ge $((G0 + 1)) ]; }
wait_for 10 one_more || fail "g2's join was not learned: $(groups) memberships"
ping6_ok "$L2" || fail "after joining a group, g2 cannot be reached: its other group was forgotten"
kill "$JOIN" 2>/dev/null || true
wait "$JOIN" 2>/dev/null || true
ok "a change reported after the restart adds to what the switch knows ($(groups) memberships)"

# a query the guest's NIC cannot take (its eth0 down at the reset) is given
# once the guest speaks again, up (a review: it was lost, and the port
# stayed asked for good)
queries3() { js '.nodes[] | select(.name == "g3") | .ifaces[0].counters.queries'; }
q=$(queries3)
vx g3 -- ip link set eth0 down
restart_switch 2
[ "$(queries3)" = "$q" ] || fail "a query to g3 counted while its eth0 was down"
vx g3 -- ip link set eth0 up
asked3() { [ "$(queries3)" -gt "$q" ]; }
wait_for 10 asked3 || fail "g3 was not asked once its eth0 was up"
wait_for 10 relearnt || fail "after g3 came up the switch knows $(groups) memberships, not $G0"
wait_for 30 has_ll g3 || fail "g3 has no link-local address after its eth0 came up"
ping6_ok "$L3" || fail "g3 cannot be reached after its eth0 came back"
ok "a guest whose NIC was down at the reset is asked once it is up ($(groups) memberships)"

end_capture
# the query reached g3 from its vmm, and g3 answered with its state
fields() { tshark -n -r "$TMP/g3.pcapng" -Y "$1" -T fields "${@:2}" 2> "$TMP/tshark.err" ||
	fail "tshark: $(grep -v '^Running as user' "$TMP/tshark.err")"; }
fields 'icmpv6.type == 130 && icmpv6.mld.maximum_response_code == 1000' \
	-e ipv6.src -e ipv6.dst -e ipv6.hlim > "$TMP/q"
[ "$(sort -u "$TMP/q")" = "$(printf 'fe80::ff:fe00:0\tff02::1\t1')" ] ||
	fail "g3 was not sent one kind of query: $(cat "$TMP/q")"
fields 'icmpv6.type == 143 && icmpv6.mldr.mar.record_type == 2' -e frame.number > "$TMP/a"
[ -s "$TMP/a" ] || fail "g3 did not answer the query with its groups: $(tshark -n -r "$TMP/g3.pcapng" 2>&1)"
ok "tshark: g3 was asked (an MLDv2 query from fe80::ff:fe00:0, hop limit 1) and answered with its groups"
