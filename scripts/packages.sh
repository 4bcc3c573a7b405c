#!/usr/bin/env bash
# Installs each of viz's packages into a clean place and uses it from there, with
# nothing from the source tree on any search path (no VIZ_LIBRARY, no -Iinclude, no
# LD_LIBRARY_PATH into target/). One section per ecosystem; no argument runs all.
# Usage: bash scripts/packages.sh [c|python|nuget|crate]...
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
work="$(mktemp -d "${TMPDIR:-/tmp}/viz-packages.XXXXXX")"
trap 'rm -rf "$work"' EXIT
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
step() { printf '\n--> %s\n' "$*"; }

c_and_cpp() {
  step "C and C++: scripts/install.sh into a temporary prefix, then pkg-config only"
  local prefix="$work/prefix" run="$work/c"
  bash scripts/install.sh "$prefix"
  # With CARGO_TARGET_DIR elsewhere, install.sh finds the build where cargo put it
  # (it looked in ./target and failed). A real second build, about 2.5 minutes on
  # two cores: a link to ./target would pass even the old script.
  CARGO_TARGET_DIR="$work/elsewhere" bash scripts/install.sh "$work/prefix-elsewhere"
  [ -f "$work/prefix-elsewhere/lib/libviz.so.$version" ] \
    || { echo "install.sh with CARGO_TARGET_DIR installed no libviz.so" >&2; exit 1; }
  mkdir -p "$run"
  # Copies, so a quoted #include cannot find anything beside the sources either.
  cp examples/c/trainer.c examples/cpp/training_loop.cpp "$run/"
  cd "$run"
  export PKG_CONFIG_PATH="$prefix/lib/pkgconfig" PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig"
  [ "$(pkg-config --modversion viz)" = "$version" ] || { echo "viz.pc says $(pkg-config --modversion viz), Cargo.toml $version" >&2; exit 1; }
  # shellcheck disable=SC2046 # pkg-config's output is meant to split into words.
  cc -std=c11 -O2 -Wall -Wextra -Werror trainer.c $(pkg-config --cflags --libs viz) -lm -o trainer
  # shellcheck disable=SC2046
  g++ -std=c++17 -O2 -Wall -Wextra -Werror training_loop.cpp $(pkg-config --cflags --libs viz) -o training_loop
  # The executables ask for the SONAME, and the loader finds it in the prefix only.
  # (Outputs are captured before matching: grep -q closing a pipe early would fail it.)
  local dynamic loaded
  dynamic="$(readelf -d trainer)"
  [[ "$dynamic" == *"(NEEDED)"*"[libviz.so.${version%%.*}]"* ]] \
    || { echo "trainer does not link libviz by its SONAME: $dynamic" >&2; exit 1; }
  loaded="$(LD_LIBRARY_PATH="$prefix/lib" ldd trainer)"
  [[ "$loaded" == *"libviz.so.${version%%.*} => $prefix/lib/"* ]] \
    || { echo "trainer would not load libviz from the prefix: $loaded" >&2; exit 1; }
  LD_LIBRARY_PATH="$prefix/lib" ./trainer 20000
  LD_LIBRARY_PATH="$prefix/lib" ./training_loop 20000 packaged-cpp
  # Statically: libviz.a with viz.pc's Libs.private, and no libviz at run time.
  local static_libs
  static_libs="$(pkg-config --static --libs viz | sed 's/-lviz\b/-l:libviz.a/')"
  # shellcheck disable=SC2086
  cc -std=c11 -O2 -Wall -Wextra -Werror trainer.c $(pkg-config --cflags viz) $static_libs -lm -o trainer-static
  if [[ "$(readelf -d trainer-static)" == *libviz* ]]; then
    echo "trainer-static still needs a shared libviz" >&2; exit 1
  fi
  ./trainer-static 20000
  cd "$root"
  unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR
}

python_package() {
  step "Python: pip install ./bindings/python into a fresh venv, and the wheel into another"
  command -v python3 >/dev/null || { echo "error: python3 is missing" >&2; exit 1; }
  # An earlier in-tree build's leftovers would be packed into the wheel.
  rm -rf bindings/python/build bindings/python/*.egg-info
  local venv="$work/venv" wheelvenv="$work/wheelvenv" run="$work/py"
  python3 -m venv "$venv"
  python3 -m venv "$wheelvenv"
  mkdir -p "$run"
  # The package straight from its directory (pip builds libviz with setuptools-rust),
  # beside what its tests need.
  (unset VIZ_LIBRARY; "$venv/bin/pip" install -q --disable-pip-version-check \
    ./bindings/python -r bindings/python/tests/requirements.txt >&2)
  rm -rf bindings/python/build bindings/python/*.egg-info
  # From outside the tree, so neither the working directory nor a relative path puts
  # the source package on sys.path; conftest.py checks the import and the library.
  (
    cd "$run"
    unset VIZ_LIBRARY PYTHONPATH
    "$venv/bin/python" -c 'import viz, sys; print("installed viz", viz.__version__, "loads", viz._native._path)'
    [ "$("$venv/bin/python" -c 'import viz; print(viz.__version__)')" = "$version" ]
    VIZ_TEST_INSTALLED=1 "$venv/bin/pytest" -q -p no:cacheprovider "$root/bindings/python/tests"
    cp "$root/examples/python/training_loop.py" .
    "$venv/bin/python" training_loop.py 20000 packaged-python
  )
  # The wheel: a platform wheel holding libviz, installed with no build step.
  "$venv/bin/pip" wheel -q --disable-pip-version-check --no-deps ./bindings/python -w "$work/wheels" >&2
  rm -rf bindings/python/build bindings/python/*.egg-info
  local wheel
  wheel="$(ls "$work"/wheels/viz-"$version"-*linux_x86_64.whl)"
  case "$(unzip -Z1 "$wheel")" in
  *viz/_libviz*.so*) ;;
  *) echo "the wheel bundles no libviz" >&2; exit 1 ;;
  esac
  "$wheelvenv/bin/pip" install -q --disable-pip-version-check --no-index "$wheel" >&2
  (
    cd "$run"
    unset VIZ_LIBRARY PYTHONPATH
    "$wheelvenv/bin/python" - "$version" <<'PY'
import pathlib, sys, tempfile
import viz
assert viz.__version__ == sys.argv[1], viz.__version__
assert pathlib.Path(viz._native._path).parent == pathlib.Path(viz.__file__).parent, viz._native._path
with tempfile.TemporaryDirectory() as d:
    with viz.SummaryWriter(d, durable=True) as w:
        for step in range(1000):
            w.add_scalar("train/loss", 1.0 / (step + 1), step)
    events = list(viz.Storage(f"file://{d}/log").query({"tags": ["train/loss"]}))
    assert len(events) == 1000, len(events)
print("the wheel's viz", viz.__version__, "wrote and read back 1000 scalars with", viz._native._path)
PY
    # VIZ_LIBRARY still overrides the bundled library.
    VIZ_LIBRARY="$root/target/debug/libviz.so" "$wheelvenv/bin/python" -c \
      'import sys, viz; sys.exit(viz._native._path != sys.argv[1])' "$root/target/debug/libviz.so"
  )
}

nuget_package() {
  step "C#: dotnet pack, then the binding's tests built against the package from a folder feed"
  bash bindings/csharp/dotnet.sh package-test
}

crate_package() {
  step "Rust: cargo package (builds the packaged crate on its own)"
  # --allow-dirty: this checks what packaging produces, whatever git's state.
  cargo package -p viz --allow-dirty >&2
  local listing
  listing="$(tar -tzf "target/package/viz-$version.crate")"
  for want in README.md CHANGELOG.md LICENSE-MIT LICENSE-APACHE include/viz.h src/lib.rs; do
    [[ $'\n'"$listing"$'\n' == *$'\n'"viz-$version/$want"$'\n'* ]] \
      || { echo "the crate lacks $want" >&2; exit 1; }
  done
  # The README's Rust example runs as a doctest (src/lib.rs, ReadmeDoctests).
  cargo test --doc -p viz ReadmeDoctests >&2
}

sections=("$@")
# The order saves rebuilds: nuget reuses the release build the examples made.
[ ${#sections[@]} -gt 0 ] || sections=(nuget crate python c)
for section in "${sections[@]}"; do
  case "$section" in
  c) c_and_cpp ;;
  python) python_package ;;
  nuget) nuget_package ;;
  crate) crate_package ;;
  *) echo "usage: $0 [c|python|nuget|crate]..." >&2; exit 2 ;;
  esac
done
