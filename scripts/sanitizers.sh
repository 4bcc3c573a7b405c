#!/usr/bin/env bash
# Runs the C harness (tests/c/*.c) and the C++ wrapper's test against a libviz built
# with AddressSanitizer (nightly rustc, -Zsanitizer=address; the library itself stays
# on stable everywhere else), the programs compiled with gcc -fsanitize=address,
# with LeakSanitizer on. Any memory error or leak, in C or in Rust, fails the run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
triple="$(rustc -vV | sed -n 's/^host: //p')"
cargo +nightly --version >/dev/null 2>&1 || {
  echo "sanitizers: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
  exit 1
}
RUSTFLAGS="-Zsanitizer=address" cargo +nightly build --lib --target "$triple" --target-dir target/asan >&2
lib="$root/target/asan/$triple/debug"
out="$root/target/asan/programs"
mkdir -p "$out"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
flags=(-g -fsanitize=address -fno-omit-frame-pointer -Wall -Wextra -Werror -Iinclude)
link=(-L"$lib" -Wl,-rpath,"$lib" -lviz -lpthread -lm)
for src in tests/c/*.c; do
  name="$(basename "$src" .c)"
  if [ "$name" = mlflow ] && [ -z "${VIZ_MLFLOW_URI:-}" ]; then
    # scripts/test.sh starts the real MLflow server this program talks to.
    [ -n "${CI:-}" ] && { echo "sanitizers: CI must run mlflow.c (VIZ_MLFLOW_URI is unset)" >&2; exit 1; }
    echo "!!! SKIPPED mlflow.c: VIZ_MLFLOW_URI names no MLflow server !!!" >&2
    continue
  fi
  gcc -std=c11 "${flags[@]}" "$src" -o "$out/$name" "${link[@]}"
  if [ "$name" = s3 ]; then
    # A SeaweedFS of its own (scripts/s3-server.sh), in a subshell so its address
    # and keys stay there, stopped right after.
    (
      unset VIZ_S3_DIR VIZ_S3_ENDPOINT
      server=$(bash scripts/s3-server.sh start)
      eval "$server"
      staging=$(mktemp -d /tmp/viz-asan-s3.XXXXXX)
      trap 'bash scripts/s3-server.sh stop "$VIZ_S3_DIR"; rm -rf "$staging"' EXIT
      VIZ_S3_STAGING="$staging" "$out/$name" | grep -q "^$name: ok$"
    ) || { echo "sanitizers: $name failed" >&2; exit 1; }
    echo "sanitizers: $name ok under AddressSanitizer"
    continue
  fi
  "$out/$name" | grep -q "^$name: ok$" || { echo "sanitizers: $name failed" >&2; exit 1; }
  echo "sanitizers: $name ok under AddressSanitizer"
done
g++ -std=c++17 "${flags[@]}" -Ibindings/cpp bindings/cpp/test.cpp -o "$out/cpp" "${link[@]}"
"$out/cpp" | grep -q "^cpp: ok$" || { echo "sanitizers: the C++ wrapper test failed" >&2; exit 1; }
echo "sanitizers: the C++ wrapper test ok under AddressSanitizer"
