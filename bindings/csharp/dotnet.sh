#!/usr/bin/env bash
# Builds the C# binding with the .NET SDK (MSBuild, Roslyn, NuGet restore; warnings are
# errors) and runs its tests, benchmark or example on CoreCLR, against the libviz.so
# that `cargo build` made. The SDK comes from scripts/install-dotnet.sh (3.1, the newest
# this machine's registries carry), so the library is built for netstandard2.0, which
# every .NET consumer loads, and for netcoreapp3.1; the net8.0 leg of the project file
# needs SDK 8, which is not available here.
# `pack` makes the NuGet package (libviz under runtimes/linux-x64/native/, XML docs)
# in target/nuget; `package-test` packs, then builds the tests against that package
# from a folder feed and runs them with no LD_LIBRARY_PATH.
# Usage: bash bindings/csharp/dotnet.sh [build|test|bench|example|pack|package-test] [args...]
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

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n1)"
feed="$root/target/nuget"
# The package carries a release libviz, stripped of the line tables the release
# profile keeps for profiling.
pack() {
  (cd "$root" && cargo build --release --lib >&2)
  mkdir -p "$out/native" "$feed"
  cp "$root/target/release/libviz.so" "$out/native/libviz.so"
  strip --strip-unneeded "$out/native/libviz.so"
  rm -f "$feed/MLFramework.Visualization.$version.nupkg"
  sdk pack "$here/MLFramework.Visualization.csproj" -p:TargetFrameworks=netstandard2.0 \
    -p:VizNativeLibrary="$out/native/libviz.so" -o "$feed" \
    -p:BaseIntermediateOutputPath="$out/obj/pack/" -p:OutputPath="$out/pack/"
  local nupkg="$feed/MLFramework.Visualization.$version.nupkg" listing
  listing="$(unzip -Z1 "$nupkg")"
  for want in runtimes/linux-x64/native/libviz.so lib/netstandard2.0/MLFramework.Visualization.dll \
    lib/netstandard2.0/MLFramework.Visualization.xml; do
    [[ $'\n'"$listing"$'\n' == *$'\n'"$want"$'\n'* ]] || { echo "$nupkg lacks $want" >&2; exit 1; }
  done
  echo "packed $nupkg" >&2
}
# A fresh packages folder each time: NuGet caches a package by version, so a cached
# copy of an earlier pack of this version would hide the new one.
package_test() {
  pack
  local packages="$out/package-test/packages" bin="$out/package-test/bin"
  rm -rf "$out/package-test"
  LD_LIBRARY_PATH="$home/openssl" "$DOTNET_ROOT/dotnet" build "$here/package-test/PackageTest.csproj" \
    -nologo -nodeReuse:false -c Release -p:UseSharedCompilation=false -p:VizVersion="$version" \
    -p:RestoreSources="$feed" -p:RestorePackagesPath="$packages" \
    -p:RestoreAdditionalProjectFallbackFolders="$home/fallback" \
    -p:BaseIntermediateOutputPath="$out/package-test/obj/" -o "$bin"
  [ -f "$bin/runtimes/linux-x64/native/libviz.so" ] || { echo "the build did not take libviz from the package" >&2; exit 1; }
  env -u LD_LIBRARY_PATH "$DOTNET_ROOT/dotnet" "$bin/Tests.dll" "$@"
}

case "${1:-test}" in
build) build_library ;;
test) build_library && host "$here/tests/Tests.csproj" ;;
bench) build_library && host "$here/bench/Bench.csproj" "${@:2}" ;;
example) build_library && cd "$root" && host "$root/examples/csharp/TrainingLoop.csproj" "${@:2}" ;;
pack) pack ;;
package-test) package_test "${@:2}" ;;
*) echo "usage: $0 [build|test|bench|example|pack|package-test] [args...]" >&2; exit 2 ;;
esac
