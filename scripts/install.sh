#!/usr/bin/env bash
# Installs libviz for C and C++ under a prefix, the way a distribution lays out a
# native library, so a build finds it with `pkg-config --cflags --libs viz`:
#
#   PREFIX/lib/libviz.so.X.Y.Z        the shared library, SONAME libviz.so.X
#   PREFIX/lib/libviz.so.X            -> libviz.so.X.Y.Z (what the loader opens)
#   PREFIX/lib/libviz.so              -> libviz.so.X     (what the linker finds)
#   PREFIX/lib/libviz.a               the static library
#   PREFIX/include/viz.h, viz.hpp     the C header and the C++ RAII wrapper
#   PREFIX/lib/pkgconfig/viz.pc       flags for both (add --static for libviz.a)
#
# X.Y.Z is the crate's version (Cargo.toml), the one version of every package.
# Usage: bash scripts/install.sh [PREFIX]   (default /usr/local; DESTDIR is honoured)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${1:-/usr/local}"
case "$prefix" in /*) ;; *) prefix="$PWD/$prefix" ;; esac
cd "$root"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
major="${version%%.*}"
[ -n "$major" ] || { echo "error: no version in Cargo.toml" >&2; exit 1; }
soname="libviz.so.$major"

# The SONAME is given to this build only: libviz.so in target/ keeps none, so the
# repository's own harnesses, which link against it in place, need no symlinks.
echo "building libviz $version (release, SONAME $soname)" >&2
cargo rustc --release --lib --crate-type cdylib --crate-type staticlib \
  -- -C "link-arg=-Wl,-soname,$soname" >&2

# Where cargo put them: CARGO_TARGET_DIR, a config's build.target-dir, or target/.
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[ -n "$target_dir" ] || { echo "error: cargo metadata named no target directory" >&2; exit 1; }

dest="${DESTDIR:-}$prefix"
install -d "$dest/lib/pkgconfig" "$dest/include"
# The release profile keeps line tables for profiling; installed copies drop them
# (66 MB to a few).
install -m 755 "$target_dir/release/libviz.so" "$dest/lib/libviz.so.$version"
strip --strip-unneeded "$dest/lib/libviz.so.$version"
ln -sfn "libviz.so.$version" "$dest/lib/$soname"
ln -sfn "$soname" "$dest/lib/libviz.so"
install -m 644 "$target_dir/release/libviz.a" "$dest/lib/libviz.a"
strip --strip-debug "$dest/lib/libviz.a"
install -m 644 include/viz.h bindings/cpp/viz.hpp "$dest/include/"

# Libs.private: what libviz.a needs from the system (rustc's native-static-libs for
# this target); CI links the C example statically with it to prove the list.
cat >"$dest/lib/pkgconfig/viz.pc" <<EOF
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: viz
Description: Record ML training visualization events from the hot loop (C ABI)
Version: $version
Libs: -L\${libdir} -lviz
Libs.private: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
Cflags: -I\${includedir}
EOF
echo "installed libviz $version under $dest" >&2
