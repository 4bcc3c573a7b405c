#!/usr/bin/env bash
# Builds libviz (release) and examples/cpp/training_loop.cpp against
# bindings/cpp/viz.hpp, then runs it. Usage: bash examples/cpp/run.sh [steps] [name]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --lib
g++ -std=c++17 -O2 -Wall -Wextra -Werror -Iinclude -Ibindings/cpp examples/cpp/training_loop.cpp \
  -Ltarget/release -Wl,-rpath,"$PWD/target/release" -lviz -o target/release/training_loop_cpp
target/release/training_loop_cpp "$@"
