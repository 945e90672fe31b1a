#!/bin/bash
# The CLI as a new user meets it: help, root, arguments passed through,
# filter nodes, plurals, tables with long names.  Each case pins a defect
# of the hardening issue (#N).
. "$(dirname "$0")/lib.sh"

# 1. (#12) help: per command, unknown commands refused
"$VQNET" help up | grep -q "^usage: vqnet up \(\[--seed N\] \)\?FILE" || fail "help up: $("$VQNET" help up)"
"$VQNET" up --help | grep -q "rolls it back" || fail "up --help"
set +e
"$VQNET" help bogus 2> "$TMP/err"; rc=$?
set -e
[ $rc = 2 ] && grep -q 'no command "bogus"' "$TMP/err" || fail "help bogus: rc $rc"
ok "help per command, and help of no command refused (#12)"

# 2. (#11) not root: said plainly, with its own exit status
cp "$VQNET" "$TMP/vqnet"
chmod 755 "$TMP" "$TMP/vqnet"
for cmd in list status "up $SRC/examples/zmq_samples.vqnet" "down x"; do
	set +e
	# shellcheck disable=SC2086
	setpriv --reuid=65534 --regid=65534 --clear-groups "$TMP/vqnet" $cmd > "$TMP/out" 2> "$TMP/err"; rc=$?
	set -e
	[ $rc = 4 ] && grep -q "needs root" "$TMP/err" && [ ! -s "$TMP/out" ] ||
		fail "vqnet $cmd as nobody: rc $rc: $(cat "$TMP/out" "$TMP/err")"
done
setpriv --reuid=65534 --regid=65534 --clear-groups "$TMP/vqnet" help list > /dev/null ||
	fail "help needs no root"
ok "without root: 'needs root', exit 4 (#11)"

# 3. (#12) exec passes the command's own options through, and refuses a
#    filter node plainly
LAB=cli$$
up "$(lab_from filtered "$LAB")" "$LAB"
[ "$(vx vm0 sh -c 'echo "$1"' x --help)" = "--help" ] || fail "exec swallowed the command's --help"
[ "$(vx vm0 -- sh -c 'echo "$1"' x -h)" = "-h" ] || fail "exec -- ... -h"
set +e
vx fw -- true 2> "$TMP/err"; rc=$?
set -e
[ $rc = 2 ] && grep -q "fw is a filter node, not a guest: it runs no programs" "$TMP/err" ||
	fail "exec into a filter: rc $rc: $(cat "$TMP/err")"
ok "exec: the command's options are its own; a filter node is named as one (#12)"

# 4. (#13) "1 link", and tables that fit long names
grep -q "2 guests, 1 filter, 2 links" "$TMP/$LAB.up" || fail "up: $(head -1 "$TMP/$LAB.up")"
L=$(printf 'l%s%032d' $$ 0 | cut -c1-32)
G=$(printf 'g%031d' 0)
cat > "$TMP/long.vqnet" <<LABF
[lab]
name = $L
[vm $G]
ip = 10.5.5.1/24
[vm b]
ip = 10.5.5.2/24
[topology t]
$G = b
b = $G
LABF
up "$TMP/long.vqnet" "$L"
grep -q "2 guests, 1 link;" "$TMP/$L.up" || fail "up: $(head -1 "$TMP/$L.up")"
"$VQNET" status "$L" > "$TMP/st"
# every row of the interface table has its counters under their headings
awk -v g="$G" '
	/^INTERFACE / { col = index($0, "FROM-GUEST"); next }
	col && /^$/ { col = 0 }
	col && index($0, g ".eth0") == 1 || col && index($0, "b.eth0") == 1 {
		rows++; if (substr($0, col, 1) !~ /[0-9]/ || substr($0, col - 1, 1) != " ") bad = 1
	}
	END { exit !(rows == 2 && !bad) }' "$TMP/st" || fail "columns with long names: $(cat "$TMP/st")"
grep -Eq "^0 +$G\.eth0-b\.eth0 +t +" "$TMP/st" || fail "link row: $(cat "$TMP/st")"
ok "plurals and tables that fit a 32-character guest (#13)"

# 5. a lab named by its file, not by [lab] name: its vmms derived the
#    guests' MACs from another name than up, status and QEMU did (attack,
#    2026-12-03), so a filter's MAC rules written from status never
#    matched, and a VM guest's every frame was dropped as spoofed
L=nm$$
LABS+=("$L")
printf '[vm a]\nip = 10.9.0.1/24\n[vm b]\nip = 10.9.0.2/24\n[topology t]\na = b\nb = a\n' > "$TMP/$L.vqnet"
"$VQNET" up "$TMP/$L.vqnet" > /dev/null
for g in a b; do
	said=$("$VQNET" status --json "$L" | jq -r --arg g $g '.nodes[] | select(.name == $g) | .ifaces[0].mac')
	has=$("$VQNET" exec "$L" $g -- cat /sys/class/net/eth0/address)
	[ "$said" = "$has" ] || fail "guest $g: status says MAC $said, its eth0 has $has"
done
"$VQNET" exec "$L" a -- ping -c 1 -W 2 10.9.0.2 > /dev/null || fail "a cannot ping b in $L"
"$VQNET" down "$L" > /dev/null
ok "a lab named by its file: every guest has the MAC status gives"

# 6. a newline in the lab file's path stays out of the state file's lines
#    (attack, 2026-12-03: it wrote lines of its own, such as a phase or a
#    namespace to clean up)
d="$TMP/x"$'\n'"phase stopping"$'\n'"netns nl$$.zz"
mkdir -p "$d"
L=nl$$
LABS+=("$L")
printf '[lab]\nname = %s\n[vm a]\n[vm b]\n[switch sw]\n[topology t]\nsw = a b\na = sw\nb = sw\n' "$L" > "$d/lab.vqnet"
"$VQNET" up "$d/lab.vqnet" > /dev/null
# and a switch is named as one (it was called a filter)
set +e
"$VQNET" exec "$L" sw -- true 2> "$TMP/err"; rc=$?
set -e
[ $rc = 2 ] && grep -q "sw is a switch node, not a guest: it runs no programs" "$TMP/err" ||
	fail "exec into a switch: rc $rc: $(cat "$TMP/err")"
[ "$(grep -c '^phase ' "/run/vqnet/$L.state")" = 1 ] && ! grep -q '^netns nl[0-9]*\.zz' "/run/vqnet/$L.state" &&
	grep -qx "file $TMP/x?phase stopping?netns nl$$.zz/lab.vqnet" "/run/vqnet/$L.state" ||
	fail "the state file of a lab from a path with newlines: $(cat "/run/vqnet/$L.state")"
"$VQNET" down "$L" > /dev/null
ok "a newline in the lab file's path is written as '?' in the state file; a switch is named as one"
