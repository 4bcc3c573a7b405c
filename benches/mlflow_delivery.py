"""Metrics per second delivered end to end to a local MLflow server: viz's
mlflow+http:// destination (through its spool) against MLflow's own Python client,
synchronous `log_batch`, asynchronous `log_batch(synchronous=False)`, and the
naive one-request-per-metric `log_metric`, side by side in one run.

Each round starts a fresh run of every contender, in turn, against the same server
(a SQLite store, `mlflow server --workers 1`); the table gives the median of the
rounds and the ratio to viz. "viz collect" is the time the training loop spent
in `collect_scalar` calls; "viz end to end" runs until `wait_acknowledged` returns.

Run by hand (needs the test venv: bash scripts/test.sh, or pip install mlflow):
    cargo build --release
    VIZ_LIBRARY=target/release/libviz.so .venv/bin/python benches/mlflow_delivery.py [metrics] [rounds]
"""

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("VIZ_LIBRARY", os.path.join(ROOT, "target", "release", "libviz.so"))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

import viz  # noqa: E402
from mlflow.entities import Metric  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


def start_server(dir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mlflow_cli = os.path.join(os.path.dirname(sys.executable), "mlflow")
    proc = subprocess.Popen(
        [mlflow_cli, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{dir}/mlflow.db", "--artifacts-destination", f"{dir}/artifacts"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env=dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(url + "/health", timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("mlflow server did not start")


def viz_run(url, n, name, spool):
    t0 = time.perf_counter()
    c = viz.Collector(backends=[f"mlflow+{url}?experiment=bench&run={name}&spool={spool}"])
    tag = c.intern("loss")
    collect = 0.0
    for step in range(n):
        a = time.perf_counter()
        c.collect_scalar(tag, step, 1.0 / (step + 1))
        collect += time.perf_counter() - a
    c.wait_acknowledged(600_000)
    end_to_end = time.perf_counter() - t0
    assert c.remote_stats(0)["delivered"] == n
    c.close()
    return end_to_end, collect


def mlflow_batches(client, run_id, n, synchronous):
    t0 = time.perf_counter()
    ops = []
    now = int(time.time() * 1000)
    for start in range(0, n, 1000):
        metrics = [Metric("loss", 1.0 / (s + 1), now + s, s) for s in range(start, min(n, start + 1000))]
        op = client.log_batch(run_id, metrics=metrics, synchronous=synchronous)
        if not synchronous:
            ops.append(op)
    for op in ops:
        op.wait()
    return time.perf_counter() - t0


def mlflow_per_metric(client, run_id, n):
    t0 = time.perf_counter()
    for step in range(n):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    return time.perf_counter() - t0


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    naive_n = min(n, 2_000)
    dir = tempfile.mkdtemp(prefix="viz-bench-mlflow-")
    proc, url = start_server(dir)
    try:
        client = MlflowClient(tracking_uri=url)
        exp = client.create_experiment(f"bench-{time.time_ns()}")
        rates = {k: [] for k in ("viz end to end", "viz collect", "mlflow log_batch",
                                 "mlflow log_batch async", "mlflow log_metric")}
        for r in range(rounds):
            e2e, collect = viz_run(url, n, f"viz-{r}-{time.time_ns()}", f"{dir}/spool-{r}")
            rates["viz end to end"].append(n / e2e)
            rates["viz collect"].append(n / collect)
            run = client.create_run(exp).info.run_id
            rates["mlflow log_batch"].append(n / mlflow_batches(client, run, n, True))
            run = client.create_run(exp).info.run_id
            rates["mlflow log_batch async"].append(n / mlflow_batches(client, run, n, False))
            run = client.create_run(exp).info.run_id
            rates["mlflow log_metric"].append(naive_n / mlflow_per_metric(client, run, naive_n))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rates.items()), flush=True)
        base = statistics.median(rates["viz end to end"])
        print(f"\n{n:,} metrics (log_metric: {naive_n:,}), {rounds} rounds, medians, metrics/s")
        print(f"{'contender':<26}{'median':>14}{'vs viz end to end':>20}")
        for k, v in rates.items():
            m = statistics.median(v)
            print(f"{k:<26}{m:>14,.0f}{m / base:>19.2f}x")
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


if __name__ == "__main__":
    main()
