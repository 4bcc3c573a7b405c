#!/usr/bin/env bash
# The `viz` command's speed on a 10M-event run (run by hand; results in
# docs/PERFORMANCE.md): `viz runs` and `viz tags` (medians of 5), and `viz convert`
# of the run into tensorboard:// against the library's own tensorboard:// ingest
# rate (benches/tb_writer.rs), side by side.
#
#   bash benches/cli.sh [events] [tags]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000000}
tags=${2:-100}
work=$(mktemp -d /tmp/viz-bench-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
cargo build --release -q -p viz-cli
cargo bench -q -p viz-cli --bench make_run --no-run 2>/dev/null
cargo bench -q --bench tb_writer --no-run 2>/dev/null
viz=target/release/viz
cargo bench -q -p viz-cli --bench make_run -- "$work/project" big "$n" "$tags"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_of() { # command... → seconds
  local t0 t1
  t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N)
  awk "BEGIN { print $t1 - $t0 }"
}
echo "viz runs:  median $(for _ in 1 2 3 4 5; do time_of $viz runs "$work/project"; done | median) s"
echo "viz tags:  median $(for _ in 1 2 3 4 5; do time_of $viz tags "$work/project/big"; done | median) s"
for round in 1 2 3; do
  rm -rf "$work/tb-convert" "$work/tb-direct"
  t=$(time_of $viz convert "$work/project/big/rank-0" "tensorboard://$work/tb-convert" --checkpoint "$work/pos")
  echo "round $round: viz convert $n events: $t s, $(awk "BEGIN { printf \"%d\", $n / $t }") events/s"
  cargo bench -q --bench tb_writer -- "$work/tb-direct" "$n" | sed "s/^/round $round: library tensorboard:\/\/ ingest: /"
done
