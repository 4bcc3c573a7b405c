#!/usr/bin/env bash
# A viz from before compression (commit 008b0ac, format version 1 only) meets a
# compressed log: it must refuse it by name, not read garbage; a log recompressed
# with compression=none must read there again. Builds that commit's `viz` command
# in a git worktree (target dir target/old-viz, kept between runs).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
old=008b0ac
work=$(mktemp -d /tmp/viz-old-reader.XXXXXX)
tree="$root/target/old-viz-src"
if ! git -C "$root" cat-file -e "$old^{commit}" 2>/dev/null; then
  echo "old-reader: SKIPPED: commit $old is not in this clone (a shallow clone?)" >&2
  exit 0
fi
trap 'rm -rf "$work"; git -C "$root" worktree remove --force "$tree" 2>/dev/null || true' EXIT
git -C "$root" worktree remove --force "$tree" 2>/dev/null || true
git -C "$root" worktree add --detach --force "$tree" "$old" >&2
CARGO_TARGET_DIR="$root/target/old-viz" cargo build -q -p viz-cli --manifest-path "$tree/Cargo.toml" >&2
old_viz="$root/target/old-viz/debug/viz"
new_viz="$root/target/debug/viz"
cargo build -q -p viz-cli --manifest-path "$root/Cargo.toml" >&2
# A compressed log (lz4, the default), written by the main example.
cd "$work"
cargo run -q --manifest-path "$root/Cargo.toml" --example training_loop -- 20000 ex 0 >/dev/null
for log in "runs/ex/log"; do
  if out=$("$old_viz" tags "$log" 2>&1); then
    echo "old-reader: FAIL: the old viz read a compressed log: $out" >&2; exit 1
  fi
  echo "$out" | grep -q "format version 2, but this viz reads version 1 (written by a newer viz; upgrade to read it)" || {
    echo "old-reader: FAIL: the old viz's message does not name the version: $out" >&2; exit 1; }
  echo "old-reader: the old viz refuses it: $out"
done
"$new_viz" convert runs/ex/log "file://$work/plain?compression=none" >/dev/null
"$old_viz" tags "$work/plain" | grep -q "train/loss" || { echo "old-reader: FAIL: compression=none is not readable by the old viz" >&2; exit 1; }
[ "$("$old_viz" tags "$work/plain")" = "$("$new_viz" tags runs/ex/log)" ] || { echo "old-reader: FAIL: the old viz reads other tags" >&2; exit 1; }
echo "old-reader: ok (a log recompressed with compression=none reads in the old viz, the same tags)"
