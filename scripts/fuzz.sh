#!/bin/sh
# Run libFuzzer targets for a while: fuzz.sh FUZZDIR SECONDS [TARGET]
# New inputs go to build/fuzz-corpus/<target>; seeds under tests/fuzz/corpus
# are read, never written.  Crashes land in build/fuzz-crashes/.
set -eu
dir=$1 secs=$2 only=${3:-}
top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$top/build/fuzz-crashes"
status=0
for bin in "$dir"/fuzz_*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue   # not the smoke tests' corpus dirs
	name=$(basename "$bin")
	[ -z "$only" ] || [ "$only" = "$name" ] || continue
	seeds="$top/tests/fuzz/corpus/${name#fuzz_}"
	work="$top/build/fuzz-corpus/$name"
	mkdir -p "$work"
	echo "== $name for ${secs}s"
	"$bin" -max_total_time="$secs" -max_len=4096 -print_final_stats=1 \
		-artifact_prefix="$top/build/fuzz-crashes/$name-" \
		"$work" "$seeds" || status=1
done
exit $status
