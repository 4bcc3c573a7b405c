#!/usr/bin/env bash
# Builds libviz (release) and benches/c/collect.c against include/viz.h; runs it.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --lib
cc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude benches/c/collect.c \
  -Ltarget/release -Wl,-rpath,"$PWD/target/release" -lviz -o target/release/collect_bench
target/release/collect_bench
