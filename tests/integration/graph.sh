#!/bin/bash
# vqnet graph (issue 11), drawn by graphviz and read back:
#   a lab FILE: the DOT parses (dot says nothing), the SVG is well formed,
#     names every guest in its text, and rsvg-convert draws it as a PNG
#     with real ink on it (the ink counter itself is checked on a blank one)
#   a lab that is up, with a link cut and a link impaired: those two edges
#     and an ok one each drawn their own way (class, colour, dashes), with
#     the reason, the impairment and the frames that crossed; a partition
#     draws every cut link dashed grey, with its reason
#   -o out.png is a PNG; a bad FILE is file:line, exit 2; a bad extension,
#     a missing dot, a directory that is not there: an error, no file, no
#     temporary file, and an older OUT left as it was
#   hostile file names stay well-formed text; a FILE needs no root
. "$(dirname "$0")/lib.sh"
for t in dot rsvg-convert xmllint pngtopnm ppmhist; do
	command -v "$t" > /dev/null || fail "$t is missing (scripts/deps.sh installs it)"
done
EX=$SRC/examples/zmq_samples.vqnet

# ink PNG: how many pixels are not white
ink() { pngtopnm "$1" | ppmhist -noheader | awk '!($1 == 255 && $2 == 255 && $3 == 255) { n += $5 } END { print n + 0 }'; }
# pixels PNG: how many pixels it has
pixels() { pngtopnm "$1" | ppmhist -noheader | awk '{ n += $5 } END { print n + 0 }'; }
# x SVG XPATH: an XPath expression's value, as a string
x() { xmllint --xpath "string($2)" "$1" 2>/dev/null || true; }
# edge SVG A B [TAIL]: the SVG group of the link between A and B (eth0 both)
edge() {
	local t="*[local-name()='title']"
	echo "//*[local-name()='g'][$t='$2:eth0--$3:eth0' or $t='$3:eth0--$2:eth0']${4:-}"
}
stroke() { x "$1" "$(edge "$1" "$2" "$3" "/*[local-name()='path']/@stroke")"; }
dashes() { x "$1" "$(edge "$1" "$2" "$3" "/*[local-name()='path']/@stroke-dasharray")"; }
class() { x "$1" "$(edge "$1" "$2" "$3" "/@class")"; }
words() { x "$1" "normalize-space($(edge "$1" "$2" "$3"))"; }
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }
# no_leftovers DIR: nothing in DIR (no output, no temporary file)
no_leftovers() { [ -z "$(ls -A "$1")" ] || fail "left in $1: $(ls -A "$1")"; }

# --- the ink counter can tell a blank picture ------------------------------
echo 'graph { }' | dot -Tpng > "$TMP/blank.png"
[ "$(ink "$TMP/blank.png")" = 0 ] || fail "a blank PNG has ink $(ink "$TMP/blank.png")"

# --- a FILE ----------------------------------------------------------------
"$VQNET" graph "$EX" > "$TMP/file.dot" || fail "graph FILE"
dot -Tsvg "$TMP/file.dot" > "$TMP/dot.svg" 2> "$TMP/dot.err" || fail "dot refuses the DOT: $(cat "$TMP/dot.err")"
[ ! -s "$TMP/dot.err" ] || fail "dot warns: $(cat "$TMP/dot.err")"
"$VQNET" graph "$EX" -o "$TMP/file.svg" || fail "graph FILE -o .svg"
xmllint --noout "$TMP/file.svg" || fail "the SVG is not well formed"
for g in vm0 vm1 vm2; do
	[ "$(x "$TMP/file.svg" "count(//*[local-name()='text'][normalize-space()='$g'])")" -ge 1 ] ||
		fail "no SVG text says $g"
done
rsvg-convert -b white "$TMP/file.svg" -o "$TMP/file.png" || fail "rsvg-convert"
i=$(ink "$TMP/file.png") p=$(pixels "$TMP/file.png")
[ "$p" -gt 0 ] && [ "$i" -gt $((p / 50)) ] || fail "the drawing is blank: $i of $p pixels inked"
ok "FILE: DOT parses, SVG well formed with vm0 vm1 vm2, drawn with $i of $p pixels inked"

# a FILE is drawn as written: its [link] impairments too, and without root
"$VQNET" graph "$SRC/examples/faults.vqnet" -o "$TMP/faults.svg" || fail "graph faults.vqnet"
[[ "$(class "$TMP/faults.svg" vm0 vm1)" == *impaired* ]] && [[ "$(words "$TMP/faults.svg" vm0 vm1)" == *"delay 5ms"* ]] ||
	fail "faults.vqnet's vm0-vm1: $(class "$TMP/faults.svg" vm0 vm1): $(words "$TMP/faults.svg" vm0 vm1)"
if setpriv --reuid=65534 --regid=65534 --clear-groups true 2> /dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$VQNET" graph "$EX" > /dev/null ||
		fail "graph FILE as nobody"
	set +e
	setpriv --reuid=65534 --regid=65534 --clear-groups "$VQNET" graph nosuch$$ 2> "$TMP/err"
	rc=$?
	set -e
	[ $rc = 4 ] || fail "graph LAB as nobody: exit $rc, $(cat "$TMP/err")"
	ok "FILE needs no root (a lab that is up does: exit 4)"
fi

# hostile names: markup, quotes, graphviz escapes, control and non-UTF-8 bytes
mkdir "$TMP/odd"
odd=$TMP/odd/$'a&b<i>"q\x27\\N\\G\x01\xff.vqnet'
cp "$EX" "$odd"
"$VQNET" graph "$odd" -o "$TMP/odd.svg" || fail "graph of an odd file name"
xmllint --noout "$TMP/odd.svg" || fail "an odd file name broke the SVG"
grep -qF 'a&amp;b&lt;i&gt;&quot;q&#39;\N\G\x01\xff.vqnet' "$TMP/odd.svg" ||
	fail "the odd name is not shown as it is: $(grep -o '[^>]*vqnet<' "$TMP/odd.svg")"
ok "an odd file name is shown as it is, in well-formed SVG"

# --- mistakes ----------------------------------------------------------------
expect_fail() {   # expect_fail STATUS WHAT CMD...: exits STATUS, says WHAT
	local want=$1 what=$2 rc=0; shift 2
	"$@" > "$TMP/out" 2> "$TMP/err" || rc=$?
	[ "$rc" = "$want" ] || fail "$* exited $rc, not $want: $(cat "$TMP/err")"
	grep -q -- "$what" "$TMP/err" || fail "$*: said \"$(cat "$TMP/err")\", not \"$what\""
}
mkdir "$TMP/o"
printf '[vm vm0]\nip = 10.0.0.1/24\nmac = nonsense\n' > "$TMP/bad.vqnet"
expect_fail 2 "^$TMP/bad.vqnet:3: " "$VQNET" graph "$TMP/bad.vqnet" -o "$TMP/o/bad.svg"
expect_fail 2 "^vqnet: graph: .*\.jpg" "$VQNET" graph "$EX" -o "$TMP/o/x.jpg"
expect_fail 2 "^vqnet: graph: " "$VQNET" graph "$EX" -o "$TMP/o/noext"
expect_fail 1 "^vqnet: graph: cannot run dot" env PATH=/nonexistent "$VQNET" graph "$EX" -o "$TMP/o/nodot.svg"
expect_fail 1 "^vqnet: graph: cannot write" "$VQNET" graph "$EX" -o "$TMP/o/nodir/x.png"
expect_fail 3 "^vqnet: graph: lab nosuch$$ is not up" "$VQNET" graph nosuch$$
expect_fail 2 "^usage: vqnet graph" "$VQNET" graph
no_leftovers "$TMP/o"
echo old > "$TMP/o/keep.svg"
expect_fail 1 "cannot run dot" env PATH=/nonexistent "$VQNET" graph "$EX" -o "$TMP/o/keep.svg"
[ "$(cat "$TMP/o/keep.svg")" = old ] || fail "a failed graph changed an older OUT"
[ "$(ls -A "$TMP/o")" = keep.svg ] || fail "left in $TMP/o: $(ls -A "$TMP/o")"
"$VQNET" help graph | grep -q "^usage: vqnet graph FILE|LAB" || fail "help graph"
"$VQNET" graph --help | grep -q "^usage: vqnet graph FILE|LAB" || fail "graph --help"
ok "bad FILE file:line exit 2; bad extension 2; no dot, no directory 1; no lab 3; nothing left behind"

# --- a lab that is up: a link cut, a link impaired ----------------------------
LAB=gr$$
up "$(lab_from zmq_samples "$LAB")" "$LAB"
"$VQNET" link "$LAB" vm1 vm2 down > /dev/null || fail "link down"
"$VQNET" impair "$LAB" vm0 vm1 delay 5ms > /dev/null || fail "impair"
expect_ping vm0 192.168.1.3
"$VQNET" graph "$LAB" -o "$TMP/live.svg" || fail "graph LAB"
S=$TMP/live.svg
xmllint --noout "$S" || fail "the live SVG is not well formed"
# each of the three links, as drawn
cut_c=$(class "$S" vm1 vm2) cut_s=$(stroke "$S" vm1 vm2) cut_d=$(dashes "$S" vm1 vm2)
imp_c=$(class "$S" vm0 vm1) imp_s=$(stroke "$S" vm0 vm1) imp_d=$(dashes "$S" vm0 vm1)
ok_c=$(class "$S" vm0 vm2) ok_s=$(stroke "$S" vm0 vm2) ok_d=$(dashes "$S" vm0 vm2)
echo "drawn: cut [$cut_c] $cut_s dashes '$cut_d'; impaired [$imp_c] $imp_s dashes '$imp_d'; ok [$ok_c] $ok_s dashes '$ok_d'"
[ "$cut_c" = "edge link down" ] && [ -n "$cut_d" ] || fail "the cut link is not drawn down and dashed"
[ "$imp_c" = "edge link ok impaired" ] && [ -z "$imp_d" ] || fail "the impaired link is not drawn impaired"
[ "$ok_c" = "edge link ok" ] && [ -z "$ok_d" ] || fail "the ok link is not drawn plain"
[ -n "$ok_s" ] && [ "$cut_s" != "$ok_s" ] && [ "$imp_s" != "$ok_s" ] && [ "$cut_s" != "$imp_s" ] ||
	fail "three links, colours $cut_s $imp_s $ok_s: not three looks"
# the dashes are the edge's own style, in the DOT too
"$VQNET" graph "$LAB" | grep -E '^ *"vm1":"eth0" -- "vm2":"eth0" .*style="dashed"' > /dev/null ||
	fail "the DOT does not draw vm1 -- vm2 dashed"
[[ "$(words "$S" vm1 vm2)" == *"cut by a fault: link down"* ]] ||
	fail "the cut link does not say why: $(words "$S" vm1 vm2)"
[[ "$(words "$S" vm0 vm1)" == *"both ways: delay 5ms"* ]] ||
	fail "the impaired link does not say how: $(words "$S" vm0 vm1)"
frames=$(words "$S" vm0 vm2 | sed -n 's/.*vm0 → vm2: \([0-9]*\) frames.*/\1/p')
[ "${frames:-0}" -ge 2 ] || fail "vm0 -> vm2 counted ${frames:-no} frames after 2 pings: $(words "$S" vm0 vm2)"
[[ "$(x "$S" "normalize-space(//*[@id='legend'])")" == *"down: cut by a fault"* ]] || fail "no legend"
[[ "$(x "$S" "normalize-space(//*[@id='node-vm0'])")" == *"vmm running, pid"* ]] || fail "no vmm state"
ok "cut link dashed $cut_s with its reason, impaired $imp_s with its delay, ok $ok_s with $frames frames vm0 -> vm2; a legend"

"$VQNET" graph "$LAB" -o "$TMP/live.png" || fail "graph LAB -o .png"
is_png "$TMP/live.png" || fail "live.png is not a PNG: $(head -c 8 "$TMP/live.png" | od -An -tx1)"
i=$(ink "$TMP/live.png") p=$(pixels "$TMP/live.png")
[ "$i" -gt $((p / 50)) ] || fail "live.png is blank: $i of $p pixels inked"
ok "-o live.png: a PNG, $i of $p pixels inked"

# a partition cuts vm0 off: both its links dashed grey, saying so
"$VQNET" heal "$LAB" > /dev/null
"$VQNET" partition "$LAB" vm0 / vm1 vm2 > /dev/null || fail "partition"
"$VQNET" graph "$LAB" -o "$TMP/part.svg" || fail "graph partitioned"
for peer in vm1 vm2; do
	[[ "$(class "$TMP/part.svg" vm0 $peer)" == "edge link down"* ]] && [ "$(stroke "$TMP/part.svg" vm0 $peer)" = "$cut_s" ] &&
		[ -n "$(dashes "$TMP/part.svg" vm0 $peer)" ] || fail "partitioned vm0-$peer: $(class "$TMP/part.svg" vm0 $peer)"
	[[ "$(words "$TMP/part.svg" vm0 $peer)" == *"cut by a fault: partition"* ]] ||
		fail "vm0-$peer does not say partition: $(words "$TMP/part.svg" vm0 $peer)"
done
[ "$(class "$TMP/part.svg" vm1 vm2)" = "edge link ok" ] || fail "vm1-vm2 after heal: $(class "$TMP/part.svg" vm1 vm2)"
ok "a partition: vm0's two links dashed grey, 'cut by a fault: partition'; vm1-vm2 ok again"

"$VQNET" down "$LAB" > /dev/null
expect_gone "$LAB"
ok "down: nothing left"
