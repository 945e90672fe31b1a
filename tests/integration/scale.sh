#!/bin/bash
# A lab of 200 namespace guests on one switch, in the short syntax
# ([vm g1..g200], [switch sw], a topology with a subnet): it comes up with
# the addresses and MACs the subnet gives (guest k: 10.0.0.k,
# 02:00:0a:00:00:kk); pairs spread across the range ping each other through
# the switch (so ARP's broadcast is flooded and its answer comes back: the
# neighbour entry holds the right MAC); the switch holds back membership
# reports and learns from them, so an IPv6 group's datagrams reach its
# member and not a guest in another group; an address no guest has is not
# reached; status shows 200 guests and one switch, every vmm running and
# every link ok; and down leaves no namespace, process or file.
. "$(dirname "$0")/lib.sh"
UDPSEQ=${UDPSEQ:?set UDPSEQ to vqnet-udpseq}

N=200
LAB=scale$$
FILE=$TMP/$LAB.vqnet
cat > "$FILE" <<EOF
[lab]
name = $LAB
[vm g1..g$N]
[switch sw]
[topology lan]
subnet = 10.0.0.0/16
sw = g1..g$N
g1..g$N = sw
EOF
addr_of() { echo "10.0.$(($1 / 256)).$(($1 % 256))"; }
mac_of() { printf '02:00:0a:00:%02x:%02x' $(($1 / 256)) $(($1 % 256)); }

t0=$EPOCHREALTIME
up "$FILE" "$LAB"
t1=$EPOCHREALTIME
grep -Eq "^g$N +eth0 +$(mac_of $N) +$(addr_of $N)/16 +sw *$" "$TMP/$LAB.up" ||
	fail "vqnet up table has no row for g$N: $(grep -E "^(g1|g$N|sw) " "$TMP/$LAB.up")"
ok "$N guests on a switch up in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"

# status: 200 namespace guests and one switch, all running, every link ok
st=$(status_json "$LAB")
jq -e --argjson n $N '
	.counts.guests == $n and .counts.switches == 1 and .counts.links == $n and
	([.nodes[] | select(.kind == "guest" and .guest_kind == "netns")] | length) == $n and
	([.nodes[] | select(.kind == "switch")] | length) == 1 and
	(.nodes | length) == $n + 1 and
	([.nodes[].vmm.state] | unique) == ["running"] and
	(.links | length) == $n and
	([.links[].state] | unique) == ["ok"]' <<< "$st" > /dev/null ||
	fail "status: $(jq -c '{counts, kinds: ([.nodes[].kind] | group_by(.) | map({(.[0]): length}) | add),
		vmm: ([.nodes[].vmm.state] | group_by(.) | map({(.[0]): length}) | add),
		links: ([.links[].state] | group_by(.) | map({(.[0]): length}) | add)}' <<< "$st")"
for k in 1 2 100 $N; do
	[ "$(jq -r --arg g g$k '.nodes[] | select(.name == $g) | .ifaces[0] | "\(.ip) \(.mac)"' <<< "$st")" = \
		"$(addr_of $k)/16 $(mac_of $k)" ] || fail "status: g$k's address or MAC: $(jq -c --arg g g$k '.nodes[] | select(.name == $g) | .ifaces' <<< "$st")"
done
"$VQNET" status "$LAB" > "$TMP/st"
[ "$(grep -cE "^g[0-9]+ +netns +$LAB\.g[0-9]+ +running" "$TMP/st")" = $N ] ||
	fail "status text does not show $N running guests: $(head -20 "$TMP/st")"
grep -Eq "^sw +switch" "$TMP/st" || fail "status text does not show the switch: $(grep -E "^sw" "$TMP/st" || head -20 "$TMP/st")"
ok "status: $N namespace guests and 1 switch, every vmm running, $N links ok"

# the guest has the address the subnet gives it, on its only NIC
vx g$N -- ip -br addr show eth0 | grep -q " $(addr_of $N)/16" || fail "g$N eth0: $(vx g$N -- ip -br addr show eth0)"

# pairs spread across the range, both ways, through the switch
pairs="1:$N 2:199 3:97 7:120 17:183 50:150 55:199 64:128 88:144 100:101"
for p in $pairs; do
	a=${p%:*} b=${p#*:}
	expect_ping g$a "$(addr_of $b)"
	expect_ping g$b "$(addr_of $a)"
done
ok "10 pairs ping both ways (g1 <-> g$N, g100 <-> g101, ...)"

# ARP went out as a broadcast and was answered: g1 knows g200's MAC
vx g1 -- ip neigh show "$(addr_of $N)" dev eth0 | grep -q "lladdr $(mac_of $N) " ||
	fail "g1's neighbour entry for g$N: $(vx g1 -- ip neigh show dev eth0)"
ok "ARP through the switch: g1 resolved g$N to $(mac_of $N)"

# the switch snoops: the guests' MLDv2 reports were not flooded to the others
# switch_counter NAME: a counter of the switch's interface
switch_counter() { status_json "$LAB" | jq --arg c "$1" '[.nodes[] | select(.kind == "switch") | .ifaces[0].counters[$c]] | first'; }
reports=$(switch_counter reports)
[ "$reports" -ge $N ] || fail "the switch did not hold back the guests' membership reports: $reports"
ok "the switch held back $reports membership reports (MLD snooping, no router)"

# ... and learns from them who is in which group: a datagram to a group
# goes to its member only, not to a guest in another group (what reaches
# a guest's interface, before its kernel could filter: a capture)
groups() { switch_counter groups; }
g0=$(groups)
[ "$g0" -ge $N ] || fail "the switch learned $g0 memberships from $N guests"
vx g150 -- "$UDPSEQ" join ff05::1:1234 eth0 7000 1000 > "$TMP/member" 2> "$TMP/member.err" &
mpid=$!
vx g151 -- "$UDPSEQ" join ff05::1:5678 eth0 7000 1000 > "$TMP/other" 2> "$TMP/other.err" &
opid=$!
learned() { [ "$(groups)" -ge $((g0 + 2)) ]; }
wait_for 20 learned || fail "the switch did not learn g150's and g151's groups: $(groups) memberships, $g0 before"
capture g150 g151 -w "$TMP/group.pcapng" udp port 7000
vx g1 -- "$UDPSEQ" send ff05::1:1234 7000 3 1000 || fail "sending to ff05::1:1234"
wait $mpid || fail "g150's receiver: $(cat "$TMP/member.err")"
wait $opid || fail "g151's receiver: $(cat "$TMP/other.err")"
end_capture
[ "$(tr '\n' ' ' < "$TMP/member")" = "1 2 3 " ] || fail "g150 (in ff05::1:1234) got: $(cat "$TMP/member")"
got=$(tshark -n -r "$TMP/group.pcapng" -T fields -e frame.interface_name 2> /dev/null | sort | uniq -c | tr -s ' ')
[ "$got" = " 3 g150.eth0" ] || fail "the group's datagrams reached (count, interface): $got"
ok "MLD snooping: a group's 3 datagrams went to its member g150 only, not to g151 (in another group)"

# an address in the subnet that no guest has is not reached
expect_no_ping g1 10.0.0.250
ok "10.0.0.250 (no such guest) is not reached"

# down: nothing of the lab is left (supervisor, vmms, guests' inits)
sup=$(jq -r .supervisor.pid <<< "$st")
pids=$(echo "$sup" $(cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$sup" '
	{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); kids[f[2]] = kids[f[2]] " " $1 }
	END { q[1] = root; n = 1
		for (i = 1; i <= n; i++) { m = split(kids[q[i]], c, " "); for (j = 1; j <= m; j++) { q[++n] = c[j]; print c[j] } } }'))
vmms=$(jq -r '.nodes[].vmm.pid' <<< "$st")
for p in $vmms; do [[ " $pids " == *" $p "* ]] || pids+=" $p"; done
inits=0
for p in $pids; do [ "$(cat /proc/"$p"/comm 2>/dev/null)" != vqnet-init ] || inits=$((inits + 1)); done
[ "$(wc -w <<< "$vmms")" = $((N + 1)) ] && [ $inits = $N ] ||
	fail "expected $((N + 1)) vmms and $N guest inits below the supervisor, found $(wc -w <<< "$vmms") and $inits"
t0=$EPOCHREALTIME
"$VQNET" down "$LAB" > /dev/null
t1=$EPOCHREALTIME
expect_gone "$LAB" $pids
"$VQNET" list | grep -q "^$LAB " && fail "vqnet list still shows $LAB: $("$VQNET" list)"
ok "down in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s leaves nothing: no namespace, none of $(wc -w <<< "$pids") processes, no file"
