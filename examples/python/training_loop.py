"""The training loop of examples/training_loop.rs in Python, through viz's
SummaryWriter (bindings/python): scalars every 10 steps, a histogram, a text and an
image every 1000, into a TensorBoard run and viz's durable log under ./runs/<name>,
and with a tracking URI, to that MLflow server too (through a spool in runs/<name>/spool).

Run: python3 examples/python/training_loop.py [steps] [name] [tracking_uri]   (after cargo build --release)
     e.g. ... 20000 demo http://127.0.0.1:5000
"""

import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bindings" / "python"))
import viz  # noqa: E402


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    run = sys.argv[2] if len(sys.argv) > 2 else f"python-{int(time.time())}"
    tracking = sys.argv[3] if len(sys.argv) > 3 else None
    remote = [f"mlflow+{tracking}?experiment=viz-examples&run={run}&spool=runs/{run}/spool"] if tracking else []
    rng = np.random.default_rng(7)
    events = 0
    start = time.perf_counter()
    with viz.SummaryWriter(f"runs/{run}", durable=True, backends=remote) as w:
        # Hyperparameters: run metadata, shown by TensorBoard's HPARAMS dashboard.
        w.add_hparams({"lr": 1e-3, "batch_size": 64, "optimizer": "adam"})
        # A live watch: the notes, as they are delivered (on viz's watch thread).
        notes = []
        watch = w.collector.watch(notes.extend, {"kinds": ["text"]})
        for step in range(steps):
            if step % 10 == 0:
                w.add_scalar("train/loss", 1.0 / (1 + step * 0.001), step)
                w.add_scalar("train/accuracy", 1.0 - 1.0 / (1 + step * 0.001), step)
                events += 2
            if step % 1000 == 0:
                w.add_histogram("train/weights", rng.normal(size=256), step)
                w.add_text("train/note", f"step {step} done", step)
                w.add_image("train/sample", rng.random((3, 16, 16)), step)
                events += 3
        w.flush()
        if tracking:
            # flush made everything durable in the spool; this waits for the server.
            w.collector.wait_acknowledged(300_000)
            print(f"mlflow:     {w.collector.remote_stats(2)} (see {tracking}, experiment viz-examples)")
        stats = w.collector.stats()
        back = w.collector.get_events(steps // 2, steps // 2 + 99, backend=1)
        # A query: the three latest losses in the durable log.
        latest = list(w.collector.query({"tags": ["train/loss"], "order": "step_desc", "limit": 3}, backend=1))
        hparams = dict(w.collector.metadata_of(backend=1))
    watch.cancel()
    elapsed = time.perf_counter() - start
    print(f"steps:      {steps}")
    print(f"events:     {events} ({events / elapsed / 1e6:.2f} M events/s, flush and close included)")
    print(f"written:    {stats['written']} to {len(stats['destinations'])} backends, dropped "
          f"{stats['dropped_oldest'] + stats['dropped_newest'] + stats['dropped_block_timeout']}")
    for d in stats["destinations"]:
        print(f"  {d['name']:<14} written {d['written']}, dropped {d['dropped']}")
    print(f"read back:  {len(back)} events for steps {steps // 2}..{steps // 2 + 99} from runs/{run}/log")
    print("latest:     " + ", ".join(f"step {e.step} loss {e.value:.4f}" for e in latest))
    print(f"watched:    {len(notes)} notes live, the last \"{notes[-1].text if notes else ''}\"")
    print(f"metadata:   {hparams} (from runs/{run}/log)")
    print(f"see the run: tensorboard --logdir runs   (this run is runs/{run})")
    return 0 if stats["written"] == len(stats["destinations"]) * events else 1


if __name__ == "__main__":
    sys.exit(main())
