#!/usr/bin/env bash
# Runs every viz test from a fresh clone: installs what the tests need (idempotent),
# checks formatting and lints, runs the Rust test suites, builds the benchmarks and
# runs the main example briefly so it cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
for tool in cargo rustc; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed (install Rust with rustup)" >&2; exit 1; }
done
cargo --version
# The library builds on stable; fuzzing and AddressSanitizer need the nightly beside it.
cargo +nightly --version || { echo "error: the nightly toolchain is missing (rustup toolchain install nightly)" >&2; exit 1; }
# clippy and rustfmt ship with the rustup toolchain here; add them if a minimal profile lacks them.
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt

step "system packages"
# valgrind checks the C harness for memory errors; gcc/g++ compile it; Mono's mcs
# and runtime build and run the C# binding's tests; pkg-config, unzip and strip serve
# the packaging tests (scripts/packages.sh).
missing=()
for tool in valgrind gcc g++ python3 mcs mono pkg-config unzip strip; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=()
  for tool in "${missing[@]}"; do
    case "$tool" in
      python3) pkgs+=(python3 python3-venv) ;;
      mcs) pkgs+=(mono-mcs) ;;
      mono) pkgs+=(mono-runtime) ;;
      pkg-config) pkgs+=(pkgconf) ;;
      strip) pkgs+=(binutils) ;;
      *) pkgs+=("$tool") ;;
    esac
  done
  echo "installing: ${pkgs[*]}" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"; } >&2
fi

step "format"
cargo fmt --all -- --check

step "lint"
# The workspace: the library and the `viz` command (cli/).
cargo clippy --workspace --all-targets -- -D warnings

step "Python packages (venv under .venv) and a real MLflow server on SQLite"
# tensorboard, numpy, pandas (for to_pandas), pytest, and MLflow with PostgreSQL's
# driver, from PyPI, pinned in tests/python/requirements.txt. The MLflow server runs
# on 127.0.0.1 for every host's tests (VIZ_MLFLOW_URI) and stops when this script ends.
mlflow_dirs=()
s3_dirs=()
cleanup() {
  for d in "${mlflow_dirs[@]}"; do bash scripts/mlflow-server.sh stop "$d" || true; done
  for d in "${s3_dirs[@]}"; do bash scripts/s3-server.sh stop "$d" || true; done
}
trap cleanup EXIT
if command -v python3 >/dev/null; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tests/python/requirements.txt >&2
  eval "$(bash scripts/mlflow-server.sh start sqlite)"
  mlflow_dirs+=("$VIZ_MLFLOW_DIR")
  # And a SeaweedFS S3 server (signing on) for the bindings' s3:// tests
  # (VIZ_S3_ENDPOINT and its keys); the Rust tests start their own.
  eval "$(bash scripts/s3-server.sh start)"
  s3_dirs+=("$VIZ_S3_DIR")
elif [ -n "${CI:-}" ]; then
  echo "error: python3 is missing; CI must run the MLflow tests" >&2
  exit 1
fi

step "tests"
# tests/c_abi.rs builds the cdylib it links the C programs against itself, so plain
# `cargo test` passes on a fresh clone; the Python and C# steps below use it too.
# The ignored tests are the ones that need the MLflow server started above.
if [ -n "${VIZ_MLFLOW_URI:-}" ]; then
  cargo test --workspace -- --include-ignored
else
  cargo test --workspace
fi
cargo build

step "TensorBoard's own readers, MLflow under faults, and the Python binding"
if command -v python3 >/dev/null; then
  cargo build --examples
  .venv/bin/python -m pytest -q tests/python
  # The Python binding (ctypes) against the libviz.so built above, and its example
  # (which also logs to the MLflow server, given its URI).
  VIZ_LIBRARY="$PWD/target/debug/libviz.so" .venv/bin/python -m pytest -q bindings/python/tests
  VIZ_LIBRARY="$PWD/target/debug/libviz.so" .venv/bin/python examples/python/training_loop.py 20000 ci-python ${VIZ_MLFLOW_URI:-}
  VIZ_LIBRARY="$PWD/target/debug/libviz.so" .venv/bin/python examples/python/sqlite_summary.py >/dev/null
elif [ -n "${CI:-}" ]; then
  echo "error: python3 is missing; CI must run the TensorBoard reader tests" >&2
  exit 1
else
  echo "!!! SKIPPED: python3 is missing, so TensorBoard's readers did not check the event files !!!" >&2
fi

step "MLflow on PostgreSQL (Debian's postgresql, started on a local port)"
if command -v python3 >/dev/null; then
  (
    eval "$(bash scripts/mlflow-server.sh start postgres)"
    trap 'bash scripts/mlflow-server.sh stop "$VIZ_MLFLOW_DIR"' EXIT
    cargo test --test mlflow -- --ignored
    .venv/bin/python -m pytest -q tests/python/test_mlflow.py
  )
fi

step "C# binding on Mono (bindings/csharp)"
bash bindings/csharp/build.sh test
# The example logs to the MLflow server too, given its URI.
bash bindings/csharp/build.sh example 20000 ci-csharp ${VIZ_MLFLOW_URI:-}

step "C# binding with the .NET SDK, on CoreCLR (SDK under .tools/dotnet)"
# Builds MLFramework.Visualization.csproj with MSBuild and Roslyn (netstandard2.0 and
# netcoreapp3.1, warnings as errors), then runs the same tests and example on CoreCLR.
bash bindings/csharp/dotnet.sh test
bash bindings/csharp/dotnet.sh example 20000 ci-dotnet

step "loom: every interleaving of the lock-free rings (src/collector/ring.rs, spsc.rs)"
RUSTFLAGS="--cfg loom" cargo test --lib --release --target-dir target/loom loom

step "the C harness and the C++ test under AddressSanitizer (nightly rustc for libviz)"
bash scripts/sanitizers.sh

step "fuzzing: every cargo-fuzz target for ${FUZZ_SECONDS:-45}s (nightly; cargo-fuzz under .tools)"
bash scripts/fuzz.sh

step "docs (broken intra-doc links fail)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

step "a viz from before compression refuses a compressed log by name (builds commit 008b0ac)"
bash scripts/old-reader.sh

step "benchmarks build"
cargo bench --no-run

step "main example (short run)"
cargo run --release --example training_loop -- 200000

step "C example"
bash examples/c/run.sh 100000

step "C++ example (bindings/cpp/viz.hpp)"
bash examples/cpp/run.sh 20000 ci-cpp

step "packages: each ecosystem's install, used from a clean place (scripts/packages.sh)"
# C/C++ under a prefix through pkg-config, the Python package and its wheel in fresh
# venvs, the NuGet package from a folder feed, and cargo package. The MLflow server
# is still up, so the installed Python and C# packages run their MLflow tests too.
bash scripts/packages.sh
