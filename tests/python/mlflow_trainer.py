"""A training process for tests/python/test_mlflow.py: logs `loss` for steps
[first, last) to an mlflow+http:// destination through the viz Python binding,
printing "spooled N" after each flush (everything below step N is durable in the
spool) and "acknowledged" once the server confirmed everything.

usage: mlflow_trainer.py URL FIRST LAST [FLUSH_EVERY]
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "python"))

import viz  # noqa: E402


def main():
    url, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    flush_every = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    with viz.Collector(backends=[url]) as c:
        loss = c.intern("loss")
        for step in range(first, last):
            c.collect_scalar(loss, step, 1.0 / (step + 1))
            if (step + 1) % flush_every == 0:
                c.flush()
                print(f"spooled {step + 1}", flush=True)
        c.wait_acknowledged(180_000)
        stats = c.remote_stats(0)
        print(f"acknowledged duplicates={stats['duplicates']} failures={stats['failures']}", flush=True)


if __name__ == "__main__":
    main()
