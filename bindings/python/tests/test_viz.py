"""Tests of the Python binding (ctypes over libviz), checked with TensorBoard's own reader."""

import os
import threading
import time

import numpy as np
import pytest

import viz  # conftest.py says which


def accumulator(path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_summary_writer_output_reads_back_in_tensorboard(tmp_path):
    with viz.SummaryWriter(str(tmp_path)) as w:
        for step in range(100):
            w.add_scalar("train/loss", 1.0 / (step + 1), step)
        w.add_scalar("train/lr", 0.1)  # no step: counts from 0
        w.add_scalar("train/lr", 0.05)
        w.add_scalar("timed", 3.0, 7, walltime=1700000000.5)
        w.add_scalars("acc", {"train": 0.9, "val": 0.8}, 5)
        w.add_histogram("weights", np.random.default_rng(0).normal(size=1000), 10, bins=20)
        w.add_histogram("listed", [1, 2, 2, 3, 3, 3], 11)
        w.add_text("notes", "hello from Python", 12)
        w.add_image("img", np.random.default_rng(1).random((3, 6, 4)), 13)
        w.add_image("grey", np.zeros((5, 7), dtype=np.uint8), 14, dataformats="HW")
    acc = accumulator(tmp_path)
    loss = acc.Scalars("train/loss")
    assert [e.step for e in loss] == list(range(100))
    assert loss[9].value == pytest.approx(0.1)
    assert [(e.step, e.value) for e in acc.Scalars("train/lr")] == [(0, pytest.approx(0.1)), (1, pytest.approx(0.05))]
    assert acc.Scalars("timed")[0].wall_time == pytest.approx(1700000000.5)
    assert acc.Scalars("acc/val")[0].value == pytest.approx(0.8)
    h = acc.Histograms("weights")[0]
    assert h.step == 10 and h.histogram_value.num == 1000
    assert acc.Histograms("listed")[0].histogram_value.sum == pytest.approx(14.0)
    text = acc.Tensors("notes")[0]
    assert text.step == 12 and text.tensor_proto.string_val[0] == b"hello from Python"
    img = acc.Images("img")[0]
    assert (img.width, img.height, img.step) == (4, 6, 13)
    assert acc.Images("grey")[0].width == 7


def every_kind():
    return [
        viz.Event.scalar("py/s", 1, 0.25, wall_time=1700000000.0),
        viz.Event.histogram("py/h", 2, [1.0, 2.0, 2.0, 3.0], bins=3, wall_time=1700000001.0),
        viz.Event.text("py/t", 3, "héllo ✓", priority="critical", wall_time=1700000002.0),
        viz.Event.image("py/i", 4, viz.png_from_array(np.zeros((2, 1, 4), np.uint8), "HWC")[0], 1, 2, 4,
                        wall_time=1700000003.0),
        viz.Event.tensor("py/w", 5, np.arange(6, dtype=np.float32).reshape(2, 3), wall_time=1700000004.0),
        viz.Event.raw("py/r", 6, "text/csv", b"a,b", wall_time=1700000005.0),
    ]


def test_collector_and_storage_round_trip_every_kind():
    memory = viz.Storage("memory://")
    with viz.Collector(storages=[memory], start=False) as c:
        assert not c.is_running
        for e in every_kind():
            c.collect(e)
        assert c.pending == 6
        c.start()
        assert c.is_running
        c.flush()
        got = c.get_events(0, 10)
        assert c.stats()["written"] == 6
    assert len(got) == 6
    assert got[0].value == 0.25 and got[0].wall_time == 1700000000.0
    assert sum(got[1].counts) == 4 and len(got[1].limits) == 3
    assert got[2].text == "héllo ✓" and got[2].priority == "critical"
    assert (got[3].width, got[3].height) == (1, 2)
    t = got[4]
    assert t.dtype == "f32" and t.shape == (2, 3)
    assert np.frombuffer(t.data, dtype="<f4").tolist() == [0, 1, 2, 3, 4, 5]
    assert got[5].content_type == "text/csv" and got[5].data == b"a,b"
    assert len(memory.get_events(0, 10)) == 6, "the storage outlives its collector and holds its events"
    memory.store([viz.Event.scalar("py/direct", 20, 1.0)])
    assert memory.event_count == 7
    memory.clear()
    assert memory.event_count == 0
    memory.close()


def test_durable_log_alongside_tensorboard(tmp_path):
    with viz.SummaryWriter(str(tmp_path), durable=True) as w:
        for step in range(1000):
            w.add_scalar("d/x", step, step)
        w.flush()
        # Reads go to the first destination that answers: the durable log, past
        # the write-only tensorboard:// in front of it.
        assert [e.step for e in w.collector.query({"steps": [10, 12]})] == [10, 11, 12]
        assert [e.step for e in w.collector.get_events(20, 21)] == [20, 21]
        assert w.collector.latest()[0].step == 999
    with viz.Storage(f"file://{tmp_path}/log") as log:
        got = log.get_events(500, 509)
        assert [e.step for e in got] == list(range(500, 510))
        # EventCount counts what the log holds, not what this handle wrote.
        assert log.event_count == 1000
    # A plain path opens what is there, as the viz command does.
    with viz.Storage(f"{tmp_path}/log") as log:
        assert log.event_count == 1000
    # Opening the TensorBoard run to read writes nothing into it.
    before = sorted(p.name for p in tmp_path.iterdir())
    viz.Storage(f"tensorboard://{tmp_path}").close()
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    with pytest.raises(viz.VizError, match="nothing at"):
        viz.Storage(f"{tmp_path}/absent")


def test_compressed_logs_read_back_through_every_reader(tmp_path):
    sizes = {}
    for options in ["compression=none", "compression=lz4", "compression=zstd&level=5", ""]:
        log = tmp_path / (options.replace("=", "-").replace("&", "-") or "default")
        with viz.Collector(backends=[f"file://{log}?segment_max_bytes=65536&{options}"]) as c:
            for step in range(3000):
                c.collect_scalar("train/loss", step, 1.0 / (step + 1))
                c.collect_scalar("eval/acc", step, step / 3000)
        sizes[options] = sum(f.stat().st_size for f in log.glob("*.vzl"))
        with viz.Storage(f"file://{log}") as s:
            got = list(s.query({"tags": ["eval/acc"], "steps": [1000, 1999]}))
            assert [e.step for e in got] == list(range(1000, 2000))
            assert [a["count"] for a in s.aggregate()] == [3000, 3000]
        with viz.LogTail(log) as tail:
            assert len(tail.next(10_000)) == 6000 and tail.damage == 0
        versions = {f.read_bytes()[8] for f in log.glob("*.vzl")}
        assert versions == ({1} if options == "compression=none" else {1, 2}), (options, versions)
    assert sizes[""] * 4 < sizes["compression=none"], sizes
    assert sizes["compression=lz4"] < sizes["compression=none"], sizes
    with pytest.raises(viz.InvalidConfig, match="option compression has invalid value 'gzip'"):
        viz.Storage(f"file://{tmp_path}/bad?compression=gzip")


class ListBackend:
    """A backend written in Python."""

    def __init__(self, fail_first=0):
        self.events, self.fail_first, self.calls, self.opened = [], fail_first, 0, None

    def initialize(self, cs):
        self.opened = cs

    def store_events(self, events):
        self.calls += 1
        if self.calls <= self.fail_first:
            raise OSError(f"disk on fire (call {self.calls})")
        self.events.extend(events)

    def get_events(self, start, end):
        return [e for e in self.events if start <= e.step <= end]

    def event_count(self):
        return len(self.events)


def test_python_backend_receives_events_from_native_threads():
    before = viz.live_registrations()
    backend = ListBackend()
    viz.register_backend("pylist", backend)
    with pytest.raises(viz.InvalidArgument, match="already registered"):
        viz.register_backend("pylist", ListBackend())
    with viz.Collector(backends=["pylist://somewhere"]) as c:
        for step in range(500):
            c.collect_scalar("pyb/x", step, step)
        c.collect(viz.Event.text("pyb/t", 3, "text"))
        c.flush()
        assert backend.opened == "pylist://somewhere"
        assert len(backend.events) == 501
        assert [e.step for e in c.get_events(2, 4)] == [2, 3, 4, 3], "stored order, through Python"
    # The factory opens the type directly too, as a Storage.
    with viz.StorageBackendFactory.create("pylist", "pylist://direct") as direct:
        direct.store([viz.Event.scalar("pyb/direct", 900, 1.0)])
        assert [e.step for e in direct.get_events(900, 900)] == [900]
    viz.StorageBackendFactory.unregister("pylist")
    assert viz.live_registrations() == before, "the finalizer released the callbacks"
    with pytest.raises(viz.UnknownBackendType):
        viz.StorageBackendFactory.create("pylist", "pylist://gone")


def test_a_registered_class_makes_one_object_per_native_instance():
    made = []

    class Tracked(ListBackend):
        def __init__(self):
            super().__init__()
            self.shutdowns = 0
            made.append(self)

        def shutdown(self):
            self.shutdowns += 1

    before = viz.live_registrations()
    viz.register_backend("pyinst", Tracked)
    # Two instances of one type open at once, each with its own object.
    with viz.Storage("pyinst://a") as a, viz.Storage("pyinst://b") as b:
        a.store([viz.Event.scalar("i/a", s, 1.0) for s in range(3)])
        b.store([viz.Event.scalar("i/b", s, 1.0) for s in range(5)])
        assert [e.tag for e in a.get_events(0, 10)] == ["i/a"] * 3
        assert [e.tag for e in b.get_events(0, 10)] == ["i/b"] * 5
        assert sorted(o.opened for o in made) == ["pyinst://a", "pyinst://b"]
    assert [o.shutdowns for o in made] == [1, 1], "each instance shut its object down once"
    viz.unregister_backend("pyinst")
    assert viz.live_registrations() == before


def test_exceptions_in_python_backends_are_counted_and_explained():
    backend = ListBackend(fail_first=2)

    class WriteOnly:
        def store_events(self, events):
            pass

    reg = viz.register_backend("pyflaky", backend)
    viz.register_backend("pywo", WriteOnly())
    try:
        with viz.Collector(backends=["pyflaky://", "pywo://"], config={"batch_size": 10}) as c:
            for step in range(100):
                c.collect_scalar("ex/x", step, step)
            c.flush()
            stats = c.stats()
            assert stats["failed_batches"] >= 2 and reg.failures >= 2
            assert isinstance(reg.last_exception, OSError)
            assert sorted(e.step for e in backend.events) == list(range(100)), "retried, no duplicates"
            # Each destination's own counters account for its events.
            flaky, write_only = stats["destinations"]
            assert flaky["name"] == "pyflaky#0" and write_only["name"] == "pywo#1"
            assert flaky["written"] == 100 and flaky["dropped"] == 0
            assert flaky["failed_batches"] == 2 and flaky["retries"] == 2
            assert write_only["written"] == 100 and write_only["failed_batches"] == 0
            assert stats["destination_dropped"] == 0 and stats["held_bytes"] == 0
            with pytest.raises(viz.Unsupported, match="write-only"):
                c.get_events(0, 10, backend=1)
    finally:
        viz.unregister_backend("pyflaky")
        viz.unregister_backend("pywo")


def test_four_threads_collect_at_once():
    memory = viz.Storage("memory://?capacity=100000")
    with viz.Collector(storages=[memory]) as c:
        def work(t):
            for step in range(5000):
                c.collect_scalar(f"mt/{t}", step, step)
        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        c.flush()
    got = memory.get_events(0, 10000)
    assert len(got) == 20000
    for t in range(4):
        assert [e.step for e in got if e.tag == f"mt/{t}"] == list(range(5000))


def test_bad_input_raises_the_right_exception_with_viz_message(tmp_path):
    with viz.Collector(backends=["memory://"]) as c:
        with pytest.raises(viz.InvalidArgument, match="tag is empty") as e:
            c.collect_scalar("", 1, 1.0)
        assert isinstance(e.value, ValueError) and e.value.status == 2
        with pytest.raises(TypeError, match="tag must be a str"):
            c.collect_scalar(b"bytes", 1, 1.0)
        with pytest.raises(viz.InvalidArgument, match="needs 16 bytes"):
            c.collect(viz.Event.tensor("t", 1, b"\0" * 3, shape=(4,), dtype="f32"))
        with pytest.raises(viz.InvalidArgument, match="increase strictly"):
            c.collect(viz.Event.histogram("h", 1, limits=[2, 1], counts=[1, 1]))
        with pytest.raises(viz.InvalidArgument, match="events\\[1\\]"):
            c.collect_batch([viz.Event.scalar("ok", 1, 1), viz.Event.scalar("", 2, 2)])
    with pytest.raises(ValueError, match="closed"):
        c.collect_scalar("late", 1, 1.0)
    with pytest.raises(viz.UnknownBackendType, match="known types"):
        viz.Collector(backends=["tensorbored://x"])
    with pytest.raises(viz.InvalidConfig, match="fsync"):
        viz.Storage(f"file://{tmp_path}?fsync=sometimes")
    with pytest.raises(viz.InvalidConfig, match="batch_sise"):
        viz.Collector(backends=["memory://"], config={"batch_sise": 5})
    log = viz.Storage(f"file://{tmp_path}/lock")
    with pytest.raises(viz.IOFailure, match="in use"):
        viz.Storage(f"file://{tmp_path}/lock")
    log.close()


def test_queries_select_order_and_page_through_a_cursor():
    with viz.Collector(backends=["memory://"]) as c:
        for step in range(100):
            c.collect_scalar("train/loss", step, 1.0 / (step + 1))
            c.collect_scalar("eval/acc", step, step / 100)
        c.flush()
        got = list(c.query({"tags": ["train/*"], "where": {"lt": 0.02}, "order": "step_desc", "limit": 5},
                           batch=2))
        assert [e.step for e in got] == [99, 98, 97, 96, 95]
        assert all(e.tag == "train/loss" and e.value < 0.02 for e in got)
        everything = c.query('{"tags": [{"regex": "^eval/"}]}')
        assert sum(1 for _ in everything) == 100
        with pytest.raises(viz.InvalidArgument, match="query limit is -1"):
            list(c.query({"limit": -1}))
        with pytest.raises(viz.InvalidArgument, match="unknown condition 'less'"):
            list(c.query({"where": {"less": 1}}))
        with pytest.raises(ValueError, match="batch must be a positive int"):
            c.query({}, batch=0)
    memory = viz.Storage("memory://")
    memory.store([viz.Event.scalar("s/x", step, float(step)) for step in range(10)])
    assert [e.step for e in memory.query({"where": {"in": [2, 7]}})] == [2, 7]


def test_error_callbacks_get_every_failure_and_are_released():
    backend = ListBackend(fail_first=2)
    viz.register_backend("pyerr", backend)
    try:
        reports = []
        with viz.Collector(backends=["pyerr://"], config={"batch_size": 10,
                           "retry": {"initial_backoff_ms": 1, "max_backoff_ms": 2}}) as c:
            before = viz.live_registrations()
            c.on_error(reports.append)
            assert viz.live_registrations() == before + 1
            for step in range(10):
                c.collect_scalar("err/x", step, step)
            c.flush()
            assert len(reports) == 2
            r = reports[0]
            assert r["destination"] == "pyerr#0" and r["will_retry"] and r["events"] == 10
            assert r["status"] == viz._native.Status.IO and "OSError" in r["message"]
            c.on_error(None)
            assert viz.live_registrations() == before, "the replaced callback was finalized"
            c.on_error(lambda r: 1 / 0)  # an exception in the callback cannot reach viz
        assert viz.live_registrations() == before, "closing finalized the last callback"
    finally:
        viz.unregister_backend("pyerr")


def _wait_for(cond, seconds=20.0):
    """Polls `cond` (an upper bound only: nothing here asserts on speed)."""
    deadline = time.monotonic() + seconds
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.001)
    return cond()


def test_watchers_see_their_events_live_and_are_released():
    before = viz.live_registrations()
    with viz.Collector(backends=["memory://"], config={"batch_size": 10}) as c:
        train, texts = [], []
        sub = c.watch(train.extend, {"tags": ["train/*"], "kinds": ["scalar"]})
        with c.watch(texts.extend, '{"kinds": ["text"]}') as text_sub:
            assert viz.live_registrations() == before + 2 and sub.active
            for step in range(50):
                c.collect_scalar("train/loss", step, 0.5)
                c.collect_scalar("eval/acc", step, 0.5)
            c.collect(viz.Event.text("train/note", 3, "hello"))
            c.flush()
            assert _wait_for(lambda: len(train) == 50 and len(texts) == 1)
            assert [e.step for e in train] == list(range(50))
            assert all(e.tag == "train/loss" for e in train)
            assert texts[0].text == "hello"
            assert sub.delivered == 50 and sub.dropped == 0
        assert not text_sub.active
        assert viz.live_registrations() == before + 1, "leaving the with block cancelled it"
        sub.cancel()
        sub.cancel()
        c.collect_scalar("train/loss", 99, 0.5)
        c.flush()
        assert len(train) == 50, "a cancelled watcher is not called"
        with pytest.raises(viz.InvalidArgument, match="no order, offset or limit"):
            c.watch(train.extend, {"limit": 3})
        with pytest.raises(viz.InvalidArgument, match="regex"):
            c.watch(train.extend, {"tags": [{"regex": "("}]})
        assert viz.live_registrations() == before, "a refused watch is released at once"
        kept = c.watch(lambda events: 1 / 0)  # an exception in the callback cannot reach viz
        c.collect_scalar("x", 1, 1.0)
        c.flush()
    assert viz.live_registrations() == before, "closing released the last watcher"
    assert not kept.active
    kept.cancel()


def test_aggregates_buckets_latest_and_pandas_from_an_index_and_a_scan(tmp_path):
    def fill(c):
        for step in range(1000):
            c.collect_scalar("train/loss", step, float("nan") if step == 500 else float(step))
            c.collect_scalar("eval/acc", step, 2.0 * step)
        c.flush()

    def check(source, **where):
        acc, loss = source.aggregate(**where)
        assert acc["tag"] == "eval/acc" and acc["count"] == 1000 and (acc["min"], acc["max"]) == (0.0, 1998.0)
        assert acc["mean"] == 999.0 and acc["first"] == (0, 0.0) and acc["last"] == (999, 1998.0)
        assert loss["count"] == 1000 and loss["max"] == 999.0, "the NaN counts but is not a value"
        assert loss == source.aggregate({"tags": ["train/*"]}, **where)[0]
        buckets = source.downsample({"tags": ["train/loss"]}, 0, 999, 10, **where)
        assert len(buckets) == 10
        assert buckets[3] == {"first_step": 300, "last_step": 399, "count": 100, "min": 300.0, "max": 399.0,
                              "mean": 349.5}
        latest = source.latest(**where)
        assert [(e.tag, e.step) for e in latest] == [("eval/acc", 999), ("train/loss", 999)]
        with pytest.raises(viz.InvalidArgument, match="no order, offset or limit"):
            source.aggregate({"limit": 3}, **where)
        with pytest.raises(viz.InvalidArgument, match="buckets must be at least 1"):
            source.downsample(None, 0, 999, 0, **where)
        with pytest.raises(viz.InvalidArgument, match="latest-value query"):
            source.latest({"order": "step_desc"}, **where)

    with viz.Collector(backends=["memory://", f"file://{tmp_path}/log"]) as c:
        fill(c)
        check(c)  # memory://, by a scan
        check(c, backend=1)  # file://, through its tag index
        with pytest.raises(viz.InvalidArgument, match="destination index 2"):
            c.aggregate(backend=2)
    storage = viz.Storage("memory://")
    with viz.Collector(storages=[storage]) as c:
        fill(c)
    check(storage)

    frame_source = viz.Storage("memory://")
    frame_source.store([viz.Event.scalar("a", s, s / 2) for s in range(5)] + [viz.Event.text("a", 9, "hi")])
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            frame_source.to_pandas()
        return
    frame = frame_source.to_pandas({"tags": ["a"]})
    assert list(frame.columns) == ["tag", "step", "wall_time", "kind", "value", "text"]
    assert list(frame["step"]) == [0, 1, 2, 3, 4, 9] and frame["value"][4] == 2.0 and frame["text"][5] == "hi"


def test_a_log_tail_follows_a_collectors_log_across_rolls(tmp_path):
    log = tmp_path / "log"
    with viz.Collector(backends=[f"file://{log}?segment_max_bytes=4096"], config={"batch_size": 50}) as c:
        first = viz.LogTail(log)  # the log directory exists once the collector opened it
        newest = viz.LogTail(log, offset=None)
        for rnd in range(3):
            for i in range(500):
                c.collect_scalar("tail/x", rnd * 500 + i, float(i))
            c.flush()
            got = []
            while True:
                page = first.next(64)
                if not page:
                    break
                got.extend(e.step for e in page)
            assert got == list(range(rnd * 500, rnd * 500 + 500))
            assert [e.step for e in newest.next(10_000)] == got
        assert first.offset == 1500 and first.damage == 0
        with viz.LogTail(log, offset=1400) as resumed:
            steps = [e.step for e in resumed.follow(poll_interval=0.01, stop=lambda: resumed.offset >= 1500)]
        assert steps == list(range(1400, 1500))
    with pytest.raises(viz.IOFailure, match="is not a viz event log directory"):
        viz.LogTail(tmp_path / "missing")
    with pytest.raises(ValueError, match="offset must be"):
        viz.LogTail(log, offset=-1)
    with pytest.raises(viz.InvalidArgument, match="max is 0"):
        first.next(0)


def test_run_metadata_is_a_dict_kept_by_every_backend_that_can(tmp_path):
    log = f"file://{tmp_path}/log"
    with viz.Collector(backends=[f"jsonl://{tmp_path}/e.jsonl", "memory://", log]) as c:
        m = c.metadata
        m["lr"] = 0.01
        m.update({"model": "resnet", "layers": [64, 128], "pretrained": True, "tmp": 1})
        del m["tmp"]
        m.delete("absent")
        assert dict(m) == {"layers": [64, 128], "lr": 0.01, "model": "resnet", "pretrained": True}
        assert "lr" in m and len(m) == 4 and m.get("nope") is None
        assert dict(c.metadata_of(backend=2)) == dict(m), "the file:// log got the same"
        with pytest.raises(KeyError):
            del m["nope"]
        with pytest.raises(viz.InvalidArgument, match="keys are 1 to 250 bytes"):
            m[""] = 1
        with pytest.raises(viz.InvalidArgument, match="control character"):
            m.update({"a\nb": 1})
        with pytest.raises(viz.Unsupported, match="keeps no run metadata"):
            dict(c.metadata_of(backend=0))
    storage = viz.Storage(log)  # durable: read back after the collector closed
    assert storage.metadata["model"] == "resnet"
    storage.metadata["epochs"] = 3
    assert sorted(storage.metadata) == ["epochs", "layers", "lr", "model", "pretrained"]
    storage.close()
    with viz.Collector(backends=[f"jsonl://{tmp_path}/only.jsonl"]) as c:
        with pytest.raises(viz.Unsupported, match="no backend of this collector keeps run metadata"):
            c.metadata["lr"] = 1


def test_runs_of_a_project_are_listed_found_read_and_deleted(tmp_path):
    for rank in range(2):
        with viz.Collector(backends=[f"file://{tmp_path}?run=baseline&rank={rank}"]) as c:
            for step in range(50):
                c.collect_scalar("train/loss", step, float(step))
    tuned = viz.Collector(backends=[f"file://{tmp_path}?run=tuned"])
    tuned.metadata["lr"] = 0.1
    with viz.RunRepository(tmp_path) as repo:
        assert repo.names() == ["baseline", "tuned"] and repo.count() == 2 and repo.exists("tuned")
        base = repo.info("baseline")
        assert base["ranks"] == [0, 1] and base["events"] == 100 and base["tags"] == {"train/loss": 100}
        assert base["steps"] == [0, 49] and base["project"] == tmp_path.name
        assert [r["name"] for r in repo.list({"metadata": {"lr": 0.1}})] == ["tuned"]
        assert [r["name"] for r in repo.list({"name": "base*"})] == ["baseline"]
        top = list(repo.query("baseline", {"order": "step_desc", "limit": 3}))
        assert [e.step for e in top] == [49, 49, 48]
        by_run = repo.query_runs({"name": "*"}, {"steps": [0, 0]})
        assert {name: len(events) for name, events in by_run.items()} == {"baseline": 2, "tuned": 0}
        # A query's iterator, once closed, ends; it never reads a freed cursor.
        it = repo.query("baseline", {})
        next(it)
        it.close()
        with pytest.raises(StopIteration):
            next(it)
        cache = viz.read_cache_stats()
        assert cache["hits"] > 0 and cache["entries"] > 0 and cache["capacity"] == 256 << 20
        with pytest.raises(viz.InvalidConfig, match="ttl_ms is 0 ms"):
            viz.configure_read_cache(1 << 20, 0)
        with pytest.raises(viz.IOFailure, match="is being written"):
            repo.delete("tuned")
        tuned.close()
        repo.delete("tuned")
        assert repo.names() == ["baseline"]
        with pytest.raises(viz.InvalidArgument, match="no run 'nope'"):
            list(repo.query("nope", {}))
        with pytest.raises(viz.InvalidArgument, match="no run 'nope'"):
            repo.info("nope")
    with pytest.raises(viz.IOFailure, match="is not a project directory"):
        viz.RunRepository(tmp_path / "missing")
    with pytest.raises(viz.InvalidConfig, match="rank needs option run"):
        viz.Collector(backends=[f"file://{tmp_path}?rank=1"])


def test_backends_and_storages_are_routed_by_kind_and_tag_prefix(tmp_path):
    texts, train = viz.Storage("memory://"), viz.Storage("memory://")
    with viz.Collector(backends=[{"url": "memory://", "kinds": ["scalar"], "tag_prefixes": ["eval/"]}],
                       storages=[texts, train],
                       storage_routes=[{"kinds": ["text"]}, {"tag_prefixes": ["train/"]}]) as c:
        for step in range(10):
            c.collect_scalar("train/loss", step, 1.0)
            c.collect_scalar("eval/acc", step, 1.0)
        c.collect(viz.Event.text("eval/note", 3, "hi"))
        c.flush()
        assert c.stats()["destinations"][2]["written"] == 10, "eval/ scalars only"
    assert texts.event_count == 1 and train.event_count == 10
    with pytest.raises(viz.InvalidConfig, match="storage_routes has 3 routes for 2 storage handles"):
        viz.Collector(storages=[texts, train], storage_routes=[None, None, None])


def test_sqlite_backend_answers_from_python_and_any_sql_tool_reads_it(tmp_path):
    import sqlite3

    db = tmp_path / "project.db"
    with viz.Collector(backends=[f"sqlite://{db}?run=baseline"]) as c:
        c.metadata["lr"] = 0.1
        for step in range(100):
            c.collect_scalar("train/loss", step, 1.0 / (step + 1))
            c.collect_scalar("eval/acc", step, step / 100)
        c.collect(viz.Event.text("train/note", 5, "hello"))
        c.flush()
        assert [e.step for e in c.query({"tags": ["train/loss"], "order": "step_desc", "limit": 2})] == [99, 98]
        acc = c.aggregate({"tags": ["eval/*"]})[0]
        assert acc["count"] == 100 and acc["max"] == 0.99
        assert len(c.downsample({"tags": ["train/loss"]}, 0, 99, 10)) == 10
        assert dict(c.metadata) == {"lr": 0.1}
        # A reader in another connection reads while the run writes (WAL).
        with sqlite3.connect(db) as con:
            rows = con.execute("SELECT tag, COUNT(*), ROUND(AVG(value), 4) FROM scalars GROUP BY tag ORDER BY tag")
            assert rows.fetchall() == [("eval/acc", 100, 0.495), ("train/loss", 100, 0.0519)]
            assert con.execute("SELECT text FROM events WHERE text IS NOT NULL").fetchone() == ("hello",)
    # The file's runs, through a run repository answered by SQL.
    with viz.Collector(backends=[f"sqlite://{db}?run=baseline&rank=1"]) as c:
        c.collect_scalar("train/loss", 0, 1.0)
    with viz.RunRepository(f"sqlite://{db}") as repo:
        assert repo.names() == ["baseline"]
        info = repo.info("baseline")
        assert info["ranks"] == [0, 1] and info["events"] == 202 and info["metadata"] == {"lr": 0.1}
        assert len(list(repo.query("baseline", {"steps": [0, 0]}))) == 3
    with pytest.raises(viz.CorruptData, match="not a SQLite database"):
        (tmp_path / "bad.db").write_bytes(b"x" * 4096)
        viz.Collector(backends=[f"sqlite://{tmp_path}/bad.db"])


def test_a_storage_transaction_commits_together_or_rolls_back(tmp_path):
    s = viz.Storage(f"sqlite://{tmp_path}/p.db")
    with s.transaction():
        s.store([viz.Event.scalar("t/x", step, 1.0) for step in range(5)])
        s.metadata["phase"] = "warmup"
    assert s.event_count == 5 and s.metadata["phase"] == "warmup"
    with pytest.raises(viz.InvalidArgument, match="keys are 1 to 250 bytes"):
        with s.transaction():
            s.store([viz.Event.scalar("t/x", step, 1.0) for step in range(100, 105)])
            s.metadata["phase"] = "train"
            s.metadata[""] = 1  # the failure injected mid-transaction
    assert len(s.get_events(0, 1000)) == 5 and s.metadata["phase"] == "warmup"
    with pytest.raises(viz.Unsupported, match="has none"):
        with viz.Storage("memory://").transaction():
            pass


MLFLOW = os.environ.get("VIZ_MLFLOW_URI")


@pytest.mark.skipif(MLFLOW is None and not os.environ.get("CI"),
                    reason="VIZ_MLFLOW_URI names no MLflow server (scripts/test.sh starts one)")
def test_mlflow_is_a_backend_like_any_other(tmp_path):
    assert MLFLOW, "CI must test mlflow+http:// from Python: VIZ_MLFLOW_URI is unset"
    url = f"mlflow+{MLFLOW}?experiment=viz-python&run=py-{os.getpid()}-{time.time_ns()}&spool={tmp_path}/spool"
    with viz.Collector(backends=[url, "memory://"]) as c:
        c.metadata["optimizer"] = "adam"
        loss = c.intern("train/loss")
        for step in range(2500):
            c.collect_scalar(loss, step, 1.0 / (step + 1))
        c.wait_acknowledged(120_000)
        r = c.remote_stats(0)
        assert (r["delivered"], r["depth"], r["rejected"]) == (2501, 0, 0), r
        with pytest.raises(viz.Unsupported, match="memory#1 is not a remote destination"):
            c.remote_stats(1)
    absent = f"mlflow+http://127.0.0.1:9?run=absent&drain_timeout=100ms&spool={tmp_path}/absent"
    with viz.Collector(backends=[absent]) as c:
        for step in range(10):
            c.collect_scalar("x", step, 0.0)
        with pytest.raises(viz.Timeout, match="10 of the events spooled are not acknowledged"):
            c.wait_acknowledged(300)
        assert c.remote_stats(0)["depth"] == 10


def test_run_status_is_checked_and_a_failed_with_block_records_failed(tmp_path):
    with viz.Collector(backends=["memory://"]) as c:
        with pytest.raises(viz.Unsupported, match="no backend of this collector keeps a run status"):
            c.set_run_status("failed")
    with pytest.raises(KeyError):
        with viz.Collector(backends=[f"tensorboard://{tmp_path}/tb", f"file://{tmp_path}/log",
                                     f"sqlite://{tmp_path}/runs.db?run=r"]) as c:
            c.metadata["lr"] = 0.1
            c.set_run_status(viz.RunStatus.KILLED)
            c.set_run_status("finished")
            with pytest.raises(ValueError):
                c.set_run_status(7)
            raise KeyError("the training script failed")
    # TensorBoard's HPARAMS session end summary says how it ended: 2 is failure.
    from tensorboard.plugins.hparams import plugin_data_pb2
    from tensorboard.backend.event_processing import event_file_loader
    ends = []
    for path in (tmp_path / "tb").glob("events.out.tfevents.*"):
        for e in event_file_loader.EventFileLoader(str(path)).Load():
            for v in e.summary.value:
                if v.tag == "_hparams_/session_end_info":
                    data = plugin_data_pb2.HParamsPluginData.FromString(v.metadata.plugin_data.content)
                    ends.append(data.session_end_info.status)
    assert ends == [2], ends
    # file:// and sqlite:// keep it where `viz convert` and readers find it.
    import json, sqlite3
    assert json.loads((tmp_path / "log" / "status.json").read_text())["status"] == "failed"
    db = sqlite3.connect(str(tmp_path / "runs.db"))
    assert db.execute("SELECT status FROM runs WHERE name = 'r'").fetchone() == ("failed",)
    db.close()


def test_a_second_sqlite_writer_of_a_run_and_rank_is_refused_with_the_holders_pid(tmp_path):
    import os
    db = f"sqlite://{tmp_path}/p.db"
    first = viz.Collector(backends=[f"{db}?run=a"])
    first.collect_scalar("x", 0, 1.0)
    first.flush()
    with pytest.raises(viz.VizError, match=rf"run 'a' rank 0 .*process {os.getpid()}"):
        viz.Collector(backends=[f"{db}?run=a"])
    # Another rank of the run, and another run, write alongside.
    with viz.Collector(backends=[f"{db}?run=a&rank=1"]) as other_rank:
        other_rank.collect_scalar("x", 0, 2.0)
    with viz.Collector(backends=[f"{db}?run=b"]) as other_run:
        other_run.collect_scalar("x", 0, 3.0)
    first.close()
    # Closed, the claim is free again.
    with viz.Collector(backends=[f"{db}?run=a"]) as again:
        again.collect_scalar("x", 1, 4.0)
    assert viz.Storage(f"{db}?run=a").event_count == 2


def test_a_torn_jsonl_line_is_skipped_and_a_reopened_writer_keeps_the_file_readable(tmp_path):
    path = tmp_path / "e.jsonl"
    with viz.Collector(backends=[f"jsonl://{path}"]) as c:
        for step in range(10):
            c.collect_scalar("x", step, float(step))
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # the last line torn, as by a power loss
    assert [e.step for e in viz.Storage(f"jsonl://{path}").get_events(0, 100)] == list(range(9))
    with viz.Collector(backends=[f"jsonl://{path}"]) as c:
        c.collect_scalar("x", 10, 10.0)
    assert [e.step for e in viz.Storage(f"jsonl://{path}").get_events(0, 100)] == list(range(9)) + [10]


def test_sync_puts_every_segment_of_an_s3_run_in_the_store(tmp_path):
    import os
    endpoint = os.environ.get("VIZ_S3_ENDPOINT")
    if not endpoint:
        assert not os.environ.get("CI"), "CI runs this against scripts/test.sh's SeaweedFS"
        pytest.skip("VIZ_S3_ENDPOINT names no S3 server (scripts/s3-server.sh start)")
    # Without an s3:// destination, sync is a flush.
    with viz.Collector(backends=["memory://"]) as c:
        c.collect_scalar("x", 0, 1.0)
        c.sync()
        with pytest.raises(viz.Unsupported, match="does not replicate"):
            c.replication_stats(0)
    staging = tmp_path / "staging"
    url = f"s3://viz-py/proj?run=py&rank=0&endpoint={endpoint}&staging={staging}&segment_max_bytes=4096"
    with viz.Collector(backends=[url]) as c:
        for step in range(3000):
            c.collect_scalar("train/loss", step, 1.0 / (step + 1))
        c.sync(60_000)
        # Each line is a segment the store acknowledged.
        uploaded = (staging / "py" / "rank-0" / "uploaded.s3").read_text().split()
        assert len(uploaded) >= 2, uploaded
        r = c.replication_stats(0)
        assert r["segments_uploaded"] == len(uploaded) and r["segments_pending"] == 0, r
        assert r["failures"] == 0 and not r["failing"], r
    # A store that is not there: sync fails by name, the events stay staged.
    dead = f"s3://viz-py/proj?run=py&rank=1&endpoint=http://127.0.0.1:9&staging={staging}&drain_timeout=1s&request_timeout=1s"
    c = viz.Collector(backends=[dead])
    c.collect_scalar("x", 0, 1.0)
    with pytest.raises((viz.Timeout, viz.IOFailure), match="s3"):
        c.sync(3000)
    r = c.replication_stats(0)
    assert r["failing"] and r["failures"] >= 1 and r["segments_pending"] >= 1, r
    with pytest.raises(viz.VizError):
        c.close(5000)
    assert not (staging / "py" / "rank-1" / "uploaded.s3").exists()
