#!/bin/bash
# vqnet run on the seed lab: the three scenarios on one vm, then across
# three, checked from the printed lines; the lab is gone afterwards.
# EXAMPLE=zmq_samples_vm: the same with the three guests as QEMU VMs.
. "$(dirname "$0")/lib.sh"
EXAMPLE=${EXAMPLE:-zmq_samples}
[ "$EXAMPLE" = zmq_samples ] || . "$(dirname "$0")/vm_lib.sh"

LAB=run$$
FILE=$(lab_from "$EXAMPLE" "$LAB")
LABS+=("$LAB")
set +e
"$VQNET" run "$FILE" > "$TMP/out" 2>&1
rc=$?
set -e
cat "$TMP/out"
[ $rc = 0 ] || fail "vqnet run exited $rc"
out=$TMP/out

grep -qx "Running 3 scenarios on one vm" "$out" || fail "no one-vm banner"
grep -qx "Running 3 scenarios accross 3 vms" "$out" || fail "no across banner"
[ "$(tail -n 1 "$out")" = "Finished running all scenarios" ] || fail "last line: $(tail -n 1 "$out")"

# split the output into the two phases
sed -n '/^Running 3 scenarios on one vm$/,/^Running 3 scenarios accross/p' "$out" > "$TMP/one"
sed -n '/^Running 3 scenarios accross 3 vms$/,$p' "$out" > "$TMP/across"

for phase in one across; do
	f=$TMP/$phase
	# client/server: the three lines, a positive latency
	lat=$(sed -n 's/^\[[^]]*zmq_lat_client\] average latency: \([0-9.]*\) \[us\]$/\1/p' "$f")
	[ -n "$lat" ] && awk -v l="$lat" 'BEGIN { exit !(l > 0) }' || fail "$phase: latency '$lat'"
	grep -q "zmq_lat_client\] message size: 1 \[B\]$" "$f" || fail "$phase: message size line"
	grep -q "zmq_lat_client\] roundtrip count: 10000$" "$f" || fail "$phase: roundtrip line"

	# weather: per client, well-formed temp lines counting 1..5 and an
	# average equal to the integer mean of the temperatures it printed
	clients=$(sed -n 's/^\[\([^]]*zmq_wuclient[^]]*\)\] temp: .*/\1/p' "$f" | sort -u)
	[ "$(echo "$clients" | wc -l)" = 2 ] || fail "$phase: weather clients: $clients"
	while read -r c; do
		grep -F "[$c] " "$f" | sed "s/^\[[^]]*\] //" > "$TMP/client"
		grep -qx "Collecting updates from weather server…" "$TMP/client" || fail "$phase $c: banner"
		awk -v who="$phase $c" '
			/^temp: / {
				if ($0 !~ /^temp: [0-9][0-9][0-9][0-9][0-9] -?[0-9]+ [0-9]+ [0-9]+$/) { print who ": bad line: " $0; bad = 1 }
				n++; if ($5 != n) { print who ": count " $5 " want " n; bad = 1 }
				sum += $3
			}
			/^Average temperature for zipcode was / {
				avg = $NF; sub(/F$/, "", avg); got = 1
			}
			END {
				if (!got || n != 5) { print who ": " n " updates, average line " got; exit 1 }
				want = int(sum / n)   # C integer division truncates toward zero
				if (avg != want) { print who ": average " avg " want " want; exit 1 }
				exit bad
			}' "$TMP/client" || fail "$phase: weather client $c"
	done <<< "$clients"

	# pipeline: all 100 results, and two workers well below the expected cost
	grep -q "zmq_sink\] received 100/100$" "$f" || fail "$phase: sink did not get all 100"
	cost=$(sed -n 's/.*zmq_ventilator\] Total expected cost: \([0-9]*\) msec$/\1/p' "$f")
	elapsed=$(sed -n 's/.*zmq_sink\] Total elapsed time: \([0-9]*\) msec$/\1/p' "$f")
	[ -n "$cost" ] && [ -n "$elapsed" ] || fail "$phase: pipeline figures '$cost' '$elapsed'"
	[ "$elapsed" -lt $((cost * 3 / 4)) ] || fail "$phase: elapsed $elapsed ms not well below cost $cost ms"
	ok "$phase: latency $lat us; weather averages right; pipeline $elapsed ms for $cost ms of work"
done

grep -q "^client-server *latency \[us\]" "$out" || fail "summary"
expect_gone "$LAB"
ok "vqnet run: all scenarios, summary, nothing left"
