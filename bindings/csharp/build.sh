#!/usr/bin/env bash
# Builds the C# binding with Mono's mcs (C# 7) and runs its test program against the
# libviz.so that `cargo build` made. Usage: bash bindings/csharp/build.sh [test|bench|example]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/target/csharp"
lib="$(cd "${VIZ_LIB_DIR:-$root/target/debug}" && pwd)"
mkdir -p "$out"
mcs -nologo -langversion:7 -unsafe -warnaserror -target:library -out:"$out/MLFramework.Visualization.dll" \
    -doc:"$out/MLFramework.Visualization.xml" $(find "$here/src" -name '*.cs' | sort)
run() { LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" mono --debug "$@"; }
case "${1:-test}" in
test)
    mcs -nologo -langversion:7 -warnaserror -r:"$out/MLFramework.Visualization.dll" -out:"$out/Tests.exe" "$here/tests/Tests.cs"
    cd "$out" && run Tests.exe ;;
bench)
    mcs -nologo -langversion:7 -optimize+ -r:"$out/MLFramework.Visualization.dll" -out:"$out/Bench.exe" "$here/bench/Bench.cs"
    cd "$out" && run Bench.exe "${@:2}" ;;
example)
    mcs -nologo -langversion:7 -r:"$out/MLFramework.Visualization.dll" -out:"$out/TrainingLoop.exe" "$root/examples/csharp/TrainingLoop.cs"
    cd "$root" && run "$out/TrainingLoop.exe" "${@:2}" ;;
*) echo "usage: $0 [test|bench|example]" >&2; exit 2 ;;
esac
