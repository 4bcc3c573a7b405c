"""The binding's copy of the C ABI matches include/viz.h: every enum value for value,
and the ABI version, so the binding cannot drift from the header."""

import pathlib
import re

import viz  # conftest.py says which
from viz import _native  # noqa: E402

HEADER = pathlib.Path(__file__).resolve().parents[3] / "include" / "viz.h"


def header_constants():
    text = HEADER.read_text()
    values = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+(VIZ_[A-Z0-9_]+) = (\d+),?$", text, re.M)}
    defines = {m.group(1): int(m.group(2)) for m in re.finditer(r"^#define (VIZ_[A-Z_]+) (\d+)$", text, re.M)}
    return values, defines


def test_every_enum_matches_the_header_value_for_value():
    values, _ = header_constants()
    for cls, prefix in [(_native.Status, "VIZ_STATUS_"), (_native.EventKind, "VIZ_EVENT_KIND_"),
                        (_native.Priority, "VIZ_PRIORITY_"), (_native.DType, "VIZ_DTYPE_"),
                        (_native.FlushStrategy, "VIZ_FLUSH_STRATEGY_"),
                        (_native.OverflowPolicy, "VIZ_OVERFLOW_POLICY_"),
                        (_native.WallClock, "VIZ_WALL_CLOCK_"),
                        (_native.RunStatus, "VIZ_RUN_STATUS_")]:
        in_header = {k[len(prefix):]: v for k, v in values.items() if k.startswith(prefix)}
        in_python = {m.name: int(m) for m in cls}
        assert in_header, prefix
        assert in_python == in_header, f"{cls.__name__} differs from viz.h"


def test_the_abi_version_matches_the_header_and_the_library():
    _, defines = header_constants()
    assert _native.ABI_VERSION == defines["VIZ_ABI_VERSION"]
    assert _native.lib.viz_abi_version() == _native.ABI_VERSION
    assert viz.__name__ == "viz"
