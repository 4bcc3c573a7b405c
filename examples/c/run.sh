#!/usr/bin/env bash
# Builds libviz (release) and examples/c/trainer.c against include/viz.h, then runs
# it. Usage: bash examples/c/run.sh [steps]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --lib
cc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude examples/c/trainer.c \
  -Ltarget/release -Wl,-rpath,"$PWD/target/release" -lviz -lm -o target/release/trainer
target/release/trainer "$@"
