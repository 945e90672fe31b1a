#!/bin/bash
# Every file of the bad-lab corpus, given to `vqnet up`, fails with exit
# status 2 and exactly its expected "file:line: message", before anything is
# created: no namespace, no file under /run/vqnet.
. "$(dirname "$0")/lib.sh"

before_ns=$(ip netns list | sort)
before_run=$(ls /run/vqnet 2>/dev/null | sort || true)
n=0
for f in "$SRC"/tests/lab/bad/*.vqnet; do
	expect=$(sed -n '1s/^; expect: //p' "$f")
	line=${expect%%: *}
	msg=${expect#*: }
	if [ "$line" = 0 ]; then want="$f: $msg"; else want="$f:$line: $msg"; fi
	set +e
	got=$("$VQNET" up "$f" 2>&1 >/dev/null)
	rc=$?
	set -e
	[ $rc = 2 ] || fail "$f: exit status $rc, want 2 ($got)"
	[ "$got" = "$want" ] || fail "$f: got '$got', want '$want'"
	n=$((n + 1))
done
[ "$(ip netns list | sort)" = "$before_ns" ] || fail "a bad lab created a namespace"
[ "$(ls /run/vqnet 2>/dev/null | sort || true)" = "$before_run" ] || fail "a bad lab left files"
ok "$n bad lab files refused with their exact file:line message"

# and usage mistakes
set +e
"$VQNET" >/dev/null 2>&1; r1=$?
"$VQNET" frobnicate >/dev/null 2>&1; r2=$?
"$VQNET" up >/dev/null 2>&1; r3=$?
"$VQNET" up /nonexistent.vqnet 2>"$TMP/err"; r4=$?
"$VQNET" down '../x' >/dev/null 2>&1; r5=$?
"$VQNET" --help | grep -q "^  up " ; r6=$?
set -e
[ "$r1$r2$r3$r4$r5$r6" = 222220 ] || fail "usage exit codes $r1 $r2 $r3 $r4 $r5 $r6"
grep -q "/nonexistent.vqnet: No such file or directory" "$TMP/err" || fail "missing file message"
ok "usage mistakes exit 2 with a message"

# a filter's rules file: its mistakes are reported at its own file:line
cat > "$TMP/bad.rules" <<'RULES'
# comment
allow arp
allow tcp dport 99999
RULES
cat > "$TMP/rf$$.vqnet" <<LAB
[vm a]
[vm b]
[filter fw]
rules = bad.rules
[topology t]
a = fw
fw = a b
b = fw
LAB
set +e
got=$("$VQNET" up "$TMP/rf$$.vqnet" 2>&1); rc=$?
set -e
[ $rc = 2 ] && [ "$got" = "$TMP/bad.rules:3: bad rule: bad port '99999' (0-65535 or N-M)" ] ||
	fail "rules file mistake: rc $rc: $got"
rm "$TMP/bad.rules"
set +e
got=$("$VQNET" up "$TMP/rf$$.vqnet" 2>&1); rc=$?
set -e
[ $rc = 2 ] && [ "$got" = "$TMP/rf$$.vqnet:4: cannot read rules file $TMP/bad.rules: No such file or directory" ] ||
	fail "missing rules file: rc $rc: $got"
ok "rules files: mistakes at their own file:line"

# a rules file that is a FIFO: refused, not waited on (attack, 2026-12-03:
# up and graph blocked for good in open, before the regular-file check)
rm -f "$TMP/bad.rules"
mkfifo "$TMP/bad.rules"
set +e
got=$(timeout 60 "$VQNET" up "$TMP/rf$$.vqnet" 2>&1); rc=$?
set -e
[ $rc = 2 ] && [ "$got" = "$TMP/rf$$.vqnet:4: cannot read rules file $TMP/bad.rules: not a regular file" ] ||
	fail "a FIFO as rules file: rc $rc: $got"
set +e
got=$(timeout 60 "$VQNET" up "$TMP/bad.rules" 2>&1); rc=$?
set -e
[ $rc = 2 ] && [ "$got" = "vqnet: $TMP/bad.rules: not a regular file" ] ||
	fail "a FIFO as lab file: rc $rc: $got"
rm "$TMP/bad.rules"
ok "a FIFO as a rules or lab file is refused at once"
