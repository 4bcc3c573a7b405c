#!/usr/bin/env bash
# Installs cargo-fuzz (from crates.io, pinned) under .tools/cargo-fuzz (ignored by
# git), and the nightly toolchain's rust-src it does not need but sanitizers might.
# Idempotent: an installed binary of the pinned version is kept. Prints the
# directory holding the binary on stdout; everything else goes to stderr.
set -euo pipefail
exec 3>&1 1>&2
root="$(cd "$(dirname "$0")/.." && pwd)"
version="0.13.2"
dest="$root/.tools/cargo-fuzz"
if [ -x "$dest/bin/cargo-fuzz" ] && "$dest/bin/cargo-fuzz" --version 2>/dev/null | grep -q "$version"; then
  echo "$dest/bin" >&3
  exit 0
fi
command -v cargo >/dev/null || { echo "install-cargo-fuzz: cargo is missing" >&2; exit 1; }
cargo +nightly --version >/dev/null 2>&1 || {
  echo "install-cargo-fuzz: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
  exit 1
}
echo "install-cargo-fuzz: building cargo-fuzz $version from crates.io into $dest" >&2
cargo install --locked --quiet --root "$dest" --version "$version" cargo-fuzz
echo "$dest/bin" >&3
