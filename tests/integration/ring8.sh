#!/bin/bash
# The 8-guest ring: each guest reaches its two neighbours and no one else.
. "$(dirname "$0")/lib.sh"

LAB=ring$$
up "$(lab_from ring8 "$LAB")" "$LAB"
for i in 0 1 2 3 4 5 6 7; do
	next=$(( (i + 1) % 8 ))
	expect_ping vm$i 10.8.0.$((next + 1))
done
expect_no_ping vm0 10.8.0.5
ok "ring of 8: neighbours reach each other, opposite guests do not"
