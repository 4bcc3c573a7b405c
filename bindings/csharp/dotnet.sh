#!/usr/bin/env bash
# Builds the C# binding with the .NET SDK (MSBuild, Roslyn, NuGet restore; warnings are
# errors) and runs its tests, benchmark or example on CoreCLR, against the libviz.so
# that `cargo build` made. The SDK comes from scripts/install-dotnet.sh (3.1, the newest
# this machine's registries carry), so the library is built for netstandard2.0, which
# every .NET consumer loads, and for netcoreapp3.1; the net8.0 leg of the project file
# needs SDK 8, which is not available here.
# Usage: bash bindings/csharp/dotnet.sh [build|test|bench|example] [args...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
lib="$(cd "${VIZ_LIB_DIR:-$root/target/debug}" && pwd)"
out="$root/target/dotnet"
home="$(bash "$root/scripts/install-dotnet.sh")"

export DOTNET_ROOT="$home/sdk" DOTNET_CLI_HOME="$home/home" NUGET_PACKAGES="$home/packages"
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Nothing here formats culture-sensitive text, and Debian 12's ICU is newer than 3.1 knows.
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
mkdir -p "$home/no-feed" "$out"

# No build servers (they would outlive CI's step), no network feeds (NETStandard.Library
# comes from the fallback folder install-dotnet.sh unpacked), and nothing written into
# the source tree (obj/ goes under target/dotnet too).
sdk() {
  LD_LIBRARY_PATH="$home/openssl" "$DOTNET_ROOT/dotnet" "$@" -nologo -nodeReuse:false -c Release \
    -p:UseSharedCompilation=false -p:RestoreSources="$home/no-feed" \
    -p:RestoreAdditionalProjectFallbackFolders="$home/fallback"
}
library="$out/netstandard2.0/MLFramework.Visualization.dll"
build_library() {
  for tfm in netstandard2.0 netcoreapp3.1; do
    sdk build "$here/MLFramework.Visualization.csproj" -p:TargetFrameworks=$tfm -o "$out/$tfm" \
      -p:BaseIntermediateOutputPath="$out/obj/library-$tfm/"
  done
}
# A program of the binding's, on CoreCLR, referencing the netstandard2.0 build.
host() {
  local project="$1" name
  name="$(basename "$project" .csproj)"
  sdk build "$project" -p:TargetFramework=netcoreapp3.1 -p:VizLibrary="$library" -o "$out/$name" \
    -p:BaseIntermediateOutputPath="$out/obj/$name/"
  LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$DOTNET_ROOT/dotnet" "$out/$name/$name.dll" "${@:2}"
}

case "${1:-test}" in
build) build_library ;;
test) build_library && host "$here/tests/Tests.csproj" ;;
bench) build_library && host "$here/bench/Bench.csproj" "${@:2}" ;;
example) build_library && cd "$root" && host "$root/examples/csharp/TrainingLoop.csproj" "${@:2}" ;;
*) echo "usage: $0 [build|test|bench|example] [args...]" >&2; exit 2 ;;
esac
