"""A run into sqlite://, then read back with nothing but Python's sqlite3 module (and
pandas when it is installed): the file is plain SQLite that any tool opens.

Run: python3 examples/python/sqlite_summary.py [path.db]   (after cargo build)
"""

import math
import pathlib
import sqlite3
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bindings" / "python"))
import viz  # noqa: E402


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else str(pathlib.Path(tempfile.mkdtemp()) / "project.db")
    for run, lr in [("baseline", 0.1), ("tuned", 0.03)]:
        with viz.Collector(backends=[f"sqlite://{path}?run={run}"]) as c:
            c.metadata.update({"lr": lr, "optimizer": "sgd"})
            for step in range(1000):
                c.collect_scalar("train/loss", step, 2.0 * math.exp(-lr * step / 50) + 0.05)
                c.collect_scalar("eval/acc", step, 1.0 - math.exp(-lr * step / 40))
    print(f"wrote {path}\n")
    con = sqlite3.connect(path)
    print("per-tag summary, by plain SQL:")
    rows = con.execute(
        "SELECT run, tag, COUNT(*), MIN(value), MAX(value), AVG(value) FROM scalars GROUP BY run, tag ORDER BY run, tag")
    for run, tag, n, lo, hi, mean in rows:
        print(f"  {run:<9} {tag:<11} n={n:<5} min={lo:.4f} max={hi:.4f} mean={mean:.4f}")
    print("\nlast accuracy by learning rate:")
    rows = con.execute("""
        SELECT r.name, m.value,
               (SELECT value FROM scalars s WHERE s.run = r.name AND s.tag = 'eval/acc'
                ORDER BY step DESC LIMIT 1)
        FROM runs r JOIN metadata m ON m.run_id = r.id AND m.key = 'lr' ORDER BY r.name""")
    for run, lr, acc in rows:
        print(f"  {run:<9} lr={lr:<5} last eval/acc={acc:.4f}")
    try:
        import pandas as pd
    except ImportError:
        return 0
    frame = pd.read_sql("SELECT run, tag, step, value FROM scalars", con)
    print("\nthe same with pandas:")
    print(frame.groupby(["run", "tag"])["value"].agg(["count", "min", "max", "mean"]).round(4).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
