#!/usr/bin/env bash
# Runs every cargo-fuzz target under fuzz/ for a fixed time (FUZZ_SECONDS, default
# 45), starting from its checked-in regression inputs (fuzz/regressions/<target>,
# crashes found before and fixed) and a scratch corpus (fuzz/corpus, ignored by
# git). Fails on the first crash; libFuzzer leaves the input in fuzz/artifacts.
# Needs the nightly toolchain (cargo-fuzz builds with -Zsanitizer=address);
# cargo-fuzz itself comes from scripts/install-cargo-fuzz.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${FUZZ_SECONDS:-45}"
bin="$(bash "$root/scripts/install-cargo-fuzz.sh")"
export PATH="$bin:$PATH"
cd "$root/fuzz"
targets=$(cargo +nightly fuzz list)
cargo +nightly fuzz build
for target in $targets; do
  mkdir -p "corpus/$target" "regressions/$target"
  echo "fuzz: $target for ${seconds}s"
  # The scratch corpus comes first: libFuzzer writes new inputs into the first
  # directory, and the regressions stay as checked in.
  log="$(mktemp)"
  status=0
  cargo +nightly fuzz run "$target" "corpus/$target" "regressions/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1 || status=$?
  grep -E '^(Done|==[0-9]+== ERROR|SUMMARY)|panicked' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log" >&2
    echo "fuzz: $target crashed; the input is in fuzz/artifacts/$target" >&2
    exit 1
  fi
  rm -f "$log"
done
echo "fuzz: every target ran ${seconds}s without a crash"
