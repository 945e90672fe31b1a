#!/bin/bash
# A filter node between vm0 and vm1 (examples/filtered.vqnet) that allows
# only ARP and TCP vm0 -> vm1:5555 (replies by state): the client/server
# scenario runs through it, ping and other TCP ports are blocked, and the
# filter's counters match, frame for frame, what the guests' own kernels
# say they sent.
. "$(dirname "$0")/lib.sh"

LAB=flt$$
FILE=$(lab_from filtered "$LAB")
up "$FILE" "$LAB"

# snmp GUEST GROUP FIELD: a counter of the guest's kernel, by name
snmp() {
	vx "$1" -- awk -v g="$2:" -v f="$3" '$1 == g {
		if (!h) { for (i = 2; i <= NF; i++) if ($i == f) c = i; h = 1 } else print $c }' /proc/net/snmp
}
# OutSegs leaves out retransmissions (a SYN sent again, say): add them
tcp_out() { echo $(( $(snmp "$1" Tcp OutSegs) + $(snmp "$1" Tcp RetransSegs) )); }
echo_out() { snmp "$1" Icmp OutEchos; }
echo_in() { snmp "$1" Icmp InEchos; }
fjson() { "$VQNET" status --json "$LAB" | jq -r ".nodes[] | select(.kind == \"filter\") | .filter.$1"; }
rule() { fjson "rules[$1].frames"; }
filt() { fjson "$1"; }
# The vmm publishes the filter's counters once it is idle: wait until a
# counter reaches what the guests' kernels say was sent (a wrong count
# never does, and fails after the bound).
reaches() { local want=$1; shift; wait_for 10 eval '[ "$('"$*"')" = "$want" ]'; }

[ -n "$(tcp_out vm0)" ] && [ -n "$(echo_out vm0)" ] || fail "cannot read the guests' counters"

# 1. the client/server pair runs through the filter
t0=$(tcp_out vm0) t1=$(tcp_out vm1)
vx vm1 -- "$(dirname "$VQNET")/zmq_lat_server" tcp://*:5555 1 1000 &
srv=$!
vx vm0 -- "$(dirname "$VQNET")/zmq_lat_client" tcp://192.168.1.2:5555 1 1000 > "$TMP/lat" ||
	fail "client/server through the filter: $(cat "$TMP/lat")"
wait $srv || fail "server"
grep -q "average latency" "$TMP/lat" || fail "no latency"
sent0=$(( $(tcp_out vm0) - t0 )) sent1=$(( $(tcp_out vm1) - t1 ))
reaches "$sent0" rule 1 || fail "rule 'allow tcp ... dport 5555' counted $(rule 1), vm0 sent $sent0 TCP segments"
reaches "$sent1" filt conntrack_hit.frames ||
	fail "replies admitted by state: $(filt conntrack_hit.frames), vm1 sent $sent1"
[ "$(rule 0)" -ge 2 ] || fail "ARP not counted on 'allow arp'"
ok "client/server ran through the filter: $sent0 segments by rule, $sent1 replies by state"

# 2. ping is blocked, and each echo request is counted
e0=$(echo_out vm0) r1=$(echo_in vm1) d0=$(rule 2)
expect_no_ping vm0 192.168.1.2
pings=$(( $(echo_out vm0) - e0 ))
[ "$pings" -gt 0 ] || fail "vm0 sent no pings"
reaches $((d0 + pings)) rule 2 || fail "'drop icmp' counted $(( $(rule 2) - d0 )), vm0 sent $pings"
[ "$(echo_in vm1)" = "$r1" ] || fail "a ping reached vm1"
ok "ping blocked: $pings echo requests dropped and counted"

# 3. another TCP port is blocked, both ways, and every SYN counted
vx vm1 -- socat -u TCP-LISTEN:6000,reuseaddr OPEN:/dev/null & lst=$!
vx vm0 -- socat -u TCP-LISTEN:5555,reuseaddr OPEN:/dev/null & lst2=$!
listening() { vx "$1" -- ss -Hltn "sport = :$2" | grep -q .; }
wait_for 10 listening vm1 6000 && wait_for 10 listening vm0 5555 || fail "listeners did not start"
t0=$(tcp_out vm0) t1=$(tcp_out vm1) d=$(rule 3)
if vx vm0 -- timeout 3 socat -u OPEN:/dev/null TCP:192.168.1.2:6000 2>/dev/null; then
	fail "vm0 reached vm1:6000"
fi
# the allowed port, the wrong way round: vm1 -> vm0:5555
if vx vm1 -- timeout 3 socat -u OPEN:/dev/null TCP:192.168.1.1:5555 2>/dev/null; then
	fail "vm1 reached vm0:5555"
fi
syns=$(( $(tcp_out vm0) - t0 + $(tcp_out vm1) - t1 ))
[ "$syns" -gt 0 ] || fail "no SYN sent"
reaches $((d + syns)) rule 3 || fail "'drop tcp' counted $(( $(rule 3) - d )), guests sent $syns"
kill $lst $lst2 2>/dev/null || true
ok "other TCP blocked both ways: $syns SYNs dropped and counted"

# 4. IPv6 neighbour discovery is a rule matter too: none here, so no IPv6
expect_no_ping vm0 fe80::ff:fe00:aa02%eth0 -6
ok "no ND rule, no IPv6"

# status shows the rules as the filter understood them, with counters
"$VQNET" status "$LAB" | grep -Eq "^2 +allow src 192.168.1.1 dst 192.168.1.2 tcp dport 5555 " ||
	fail "status does not show the rules"
ok "status shows rules and counters"

# 5. the same lab's scenario through vqnet run (one vm, then across the filter)
"$VQNET" down "$LAB"
sed -i "s/^name = .*/name = ${LAB}r/" "$FILE"
LABS+=("${LAB}r")
"$VQNET" run "$FILE" > "$TMP/run" 2>&1 || { cat "$TMP/run"; fail "vqnet run through the filter"; }
[ "$(tail -n 1 "$TMP/run")" = "Finished running all scenarios" ] || fail "run did not finish"
expect_gone "${LAB}r"
ok "vqnet run: the client/server scenario across the filter"

# 6. rules from a file go where its "rules =" line is, between the lab's own
R=rf$$
cat > "$TMP/$R.rules" <<'RULES'
# from the file
allow tcp dport 7000
drop udp
RULES
cat > "$TMP/$R.vqnet" <<LAB
[vm a]
ip = 10.5.0.1/24
[vm b]
ip = 10.5.0.2/24
[filter fw]
policy = allow
rule = allow arp
rules = $R.rules
rule = drop icmp
[topology t]
a = fw
fw = a b
b = fw
LAB
up "$TMP/$R.vqnet" "$R"
got=$("$VQNET" status --json "$R" | jq -c '[.nodes[] | select(.kind == "filter") | .filter.rules[] | [.rule, .line]]')
[ "$got" = '[["allow arp",7],["allow tcp dport 7000",2],["drop udp",3],["drop icmp",9]]' ] ||
	fail "rules in force: $got"
LAB=$R expect_no_ping a 10.5.0.2
ok "a rules file's rules sit where its line is"

# 70 filters with a rules file each: the supervisor is handed a descriptor
# per file (attack, 2026-12-03: past 61 it could not close what it had
# inherited around them, and such a lab could not come up)
M=many$$
{
	printf '[lab]\nname = %s\n[topology t]\nsubnet = 10.6.0.0/24\n' "$M"
	for i in $(seq 70); do printf 'f%d = a%d b%d\na%d = f%d\nb%d = f%d\n' $i $i $i $i $i $i $i; done
	for i in $(seq 70); do printf '[vm a%d]\n[vm b%d]\n[filter f%d]\npolicy = drop\nrules = many.rules\n' $i $i $i; done
} > "$TMP/$M.vqnet"
printf 'allow arp\nallow icmp\n' > "$TMP/many.rules"
up "$TMP/$M.vqnet" "$M"
a70=$("$VQNET" status --json "$M" | jq -r '.nodes[] | select(.name == "a70") | .ifaces[0].ip | sub("/.*"; "")')
LAB=$M expect_ping b70 "$a70"
"$VQNET" down "$M" > /dev/null
ok "70 filters with a rules file each come up, and their rules hold"
