#!/usr/bin/env python3
"""viz against the Python TensorBoard writers, side by side in one run.

Each writer logs the same N scalars (one tag) into a fresh log directory and closes
it; the rate counts from the first scalar until close returns (viz's close also
syncs the file). viz runs natively through `cargo bench --bench tb_writer`, and
through its Python binding (bindings/python, ctypes) as a SummaryWriter with the
same add_scalar call as the others. torch.utils.tensorboard and tensorboardX are
measured when importable and reported as absent otherwise (CI installs neither).

Run: python3 benches/python_writers.py [--n 200000] [--reps 3]
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def python_writer(make_writer, n):
    with tempfile.TemporaryDirectory() as d:
        writer = make_writer(d)
        start = time.perf_counter()
        for step in range(n):
            writer.add_scalar("bench/loss", 1.0 / (step + 1), step)
        writer.close()
        return n / (time.perf_counter() - start)


def viz(n):
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run(
            ["cargo", "bench", "-q", "--bench", "tb_writer", "--", d, str(n)],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])["until_closed_per_sec"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    writers = {"viz tensorboard://": viz}
    try:
        import sys
        sys.path.insert(0, str(ROOT / "bindings" / "python"))
        import viz as viz_py
        writers["viz Python SummaryWriter"] = lambda n: python_writer(viz_py.SummaryWriter, n)
    except OSError as e:
        print(f"viz Python binding: libviz not built ({e}), not measured")
    try:
        from torch.utils.tensorboard import SummaryWriter as TorchWriter
        writers["torch SummaryWriter"] = lambda n: python_writer(TorchWriter, n)
    except ImportError:
        print("torch: not installed, not measured")
    try:
        from tensorboardX import SummaryWriter as TbxWriter
        writers["tensorboardX SummaryWriter"] = lambda n: python_writer(TbxWriter, n)
    except ImportError:
        print("tensorboardX: not installed, not measured")

    rates = {name: [] for name in writers}
    for _ in range(args.reps):  # interleaved, so drift hits every writer alike
        for name, run in writers.items():
            rates[name].append(run(args.n))
    medians = {name: statistics.median(r) for name, r in rates.items()}
    print(f"{args.n} scalars, median of {args.reps} interleaved reps:")
    for name, r in rates.items():
        runs = " ".join(f"{x:,.0f}" for x in r)
        print(f"  {name:28s} {medians[name]:>14,.0f} scalars/s   (runs: {runs})")
    for ours in (n for n in medians if n.startswith("viz")):
        for name, m in medians.items():
            if not name.startswith("viz"):
                print(f"  {ours} / {name}: {medians[ours] / m:,.0f}x")


if __name__ == "__main__":
    main()
