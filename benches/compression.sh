#!/usr/bin/env bash
# file:// compression on the main example's data (run by hand; results in
# docs/PERFORMANCE.md). Runs examples/training_loop.rs (no compute, so it only logs)
# to make its durable log, then `viz convert`s that log into a file:// log with each
# compression, side by side: bytes per event on disk (segments; sidecars apart) and
# convert throughput (events/s, median of 3 rounds, the variants interleaved).
#
#   bash benches/compression.sh [steps]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-1000000}
work=$(mktemp -d /tmp/viz-bench-zip.XXXXXX)
trap 'rm -rf "$work"' EXIT
cargo build --release -q --example training_loop
cargo build --release -q -p viz-cli
viz=target/release/viz
(cd "$work" && "$OLDPWD/target/release/examples/training_loop" "$steps" ex 0 > example.txt)
src="$work/runs/ex/log"
bytes() { find "$1" -name "*.$2" -printf '%s\n' | awk '{s+=$1} END {print s+0}'; }
events=$($viz stats "$src" | awk '$1 == "events" {print $2; exit}')
echo "the main example ($steps steps, no compute): $events events; its log (written with the default, lz4): $(bytes "$src" vzl) bytes"
variants=("compression=none" "compression=lz4&delta=false" "compression=lz4" "compression=zstd&level=1" "compression=zstd&delta=false" "compression=zstd" "compression=zstd&level=9")
declare -A times
for round in 1 2 3; do
  for v in "${variants[@]}"; do
    out="$work/out-$round-${v//[=&]/-}"
    t0=$(date +%s.%N)
    $viz convert "$src" "file://$out?$v" > /dev/null
    t1=$(date +%s.%N)
    times[$v]+="$(awk "BEGIN { print $t1 - $t0 }") "
    if [ "$round" = 1 ]; then
      echo "$v: $(bytes "$out" vzl) bytes of segments, $(bytes "$out" vzi) of sidecars: $(awk "BEGIN { printf \"%.2f + %.2f\", $(bytes "$out" vzl) / $events, $(bytes "$out" vzi) / $events }") bytes per event"
    fi
    rm -rf "$out"
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for v in "${variants[@]}"; do
  m=$(echo "${times[$v]}" | median)
  echo "viz convert into $v: median $m s, $(awk "BEGIN { printf \"%d\", $events / $m }") events/s (rounds: ${times[$v]})"
done
