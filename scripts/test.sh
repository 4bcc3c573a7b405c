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
# clippy and rustfmt ship with the rustup toolchain here; add them if a minimal profile lacks them.
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt

step "system packages"
# valgrind checks the C harness for memory errors; gcc/g++ compile it.
missing=()
for tool in valgrind gcc g++; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=()
  for tool in "${missing[@]}"; do
    case "$tool" in g++) pkgs+=(g++) ;; *) pkgs+=("$tool") ;; esac
  done
  echo "installing: ${pkgs[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"
fi

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --all-targets -- -D warnings

step "tests"
# The C harness links target/debug/libviz.so, which `cargo test` alone does not
# build (it links the rlib): build the cdylib first, so it is present and current.
cargo build
cargo test

step "docs (broken intra-doc links fail)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps

step "benchmarks build"
cargo bench --no-run

step "main example (short run)"
cargo run --release --example training_loop -- 200000

step "C example"
bash examples/c/run.sh 100000
