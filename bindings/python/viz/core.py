"""Collectors, storage handles and backends written in Python."""

import contextlib
import ctypes
import itertools
import json
import threading
from collections.abc import MutableMapping
from ctypes import c_size_t, c_uint32, c_uint64, c_void_p

from . import _events, _native
from ._native import (ERROR_FN, FINALIZER_FN, WATCH_FN, COUNT_FN, GET_FN, INIT_FN, STATUS_FN, STORE_FN, Status, VizBackendVTable,
                      RunStatus, VizDestinationStats, VizError, VizRemoteStats, VizReplicationStats, VizStats, check, lib, status_for, utf8)

# How long close, stop and flush wait for the backends unless told otherwise.
DEFAULT_TIMEOUT_MS = 10000


def _read_all(handle):
    try:
        return [_events.read(lib.viz_event_list_get(handle, i).contents) for i in range(lib.viz_event_list_len(handle))]
    finally:
        lib.viz_event_list_free(handle)


def _query_json(query):
    """A query as the JSON viz.h takes: a dict (or a JSON string) with any of tags,
    kinds, steps, wall_time, where, order, offset, limit."""
    if isinstance(query, str):
        return utf8(query, "query")
    if not isinstance(query, dict):
        raise TypeError(f"query must be a dict or a JSON string, not {type(query).__name__}")
    return utf8(json.dumps(query, allow_nan=False), "query")


def _selection_json(query):
    """A selection-only query for aggregates, buckets and latest values: None selects
    every event."""
    return None if query is None else _query_json(query)


def _aggregates(open_call):
    """Per-tag statistics as dicts, from a native aggregate list (freed here)."""
    out = c_void_p()
    check(open_call(ctypes.byref(out)))
    try:
        rows = []
        for i in range(lib.viz_aggregate_list_len(out)):
            a = lib.viz_aggregate_list_get(out, i).contents
            rows.append({"tag": a.tag.decode("utf-8"), "count": a.count, "min": a.min, "max": a.max,
                         "mean": a.mean, "first": (a.first_step, a.first), "last": (a.last_step, a.last)})
        return rows
    finally:
        lib.viz_aggregate_list_free(out)


def _buckets(open_call):
    """Downsampled buckets as dicts, from a native bucket list (freed here)."""
    out = c_void_p()
    check(open_call(ctypes.byref(out)))
    try:
        names = [name for name, _ in _native.VizBucket._fields_]
        return [{n: getattr(lib.viz_bucket_list_get(out, i).contents, n) for n in names}
                for i in range(lib.viz_bucket_list_len(out))]
    finally:
        lib.viz_bucket_list_free(out)


def _events_of(open_call):
    out = c_void_p()
    check(open_call(ctypes.byref(out)))
    return _read_all(out)


class RunMetadata(MutableMapping):
    """A run's metadata as a dict-like object: hyperparameters, config, code version,
    free tags; values are str, int/float, bool, or anything JSON holds. Each change
    is atomic; `update(...)` and `delete(*keys)` change several keys at once. Reads
    go to viz each time, so they see what other writers of the run set."""

    def __init__(self, set_json, delete_json, get_json):
        self._set, self._delete, self._get = set_json, delete_json, get_json

    def _all(self):
        return json.loads(self._get())

    def __getitem__(self, key):
        return self._all()[key]

    def __setitem__(self, key, value):
        self.update({key: value})

    def __delitem__(self, key):
        if key not in self:
            raise KeyError(key)
        self.delete(key)

    def __iter__(self):
        return iter(self._all())

    def __len__(self):
        return len(self._all())

    def __contains__(self, key):
        return key in self._all()

    def __repr__(self):
        return f"RunMetadata({self._all()!r})"

    def update(self, other=(), **kwargs):
        """Sets several keys in one atomic batch."""
        values = dict(other, **kwargs)
        check(self._set(utf8(json.dumps(values, allow_nan=False), "metadata")))

    def delete(self, *keys):
        """Deletes keys in one atomic batch (absent keys are ignored)."""
        check(self._delete(utf8(json.dumps(list(keys)), "keys")))


def _json_text(get_call):
    """The JSON text a size-then-copy viz call writes (viz_*_metadata_get,
    viz_run_repository_list, ...): sized first, then copied."""
    needed = c_size_t()
    check(get_call(None, 0, ctypes.byref(needed)))
    while True:
        buf = ctypes.create_string_buffer(needed.value + 1)
        check(get_call(buf, len(buf), ctypes.byref(needed)))
        if needed.value < len(buf):
            return buf.value.decode("utf-8")


class _ReadSide:
    """What Storage and Collector share: aggregates, downsampling, latest values and
    the to_pandas form of a query. `_call(name, *args)` calls viz_<type>_<name>."""

    def aggregate(self, query=None, **where):
        """Per-tag statistics of the selected scalars, ordered by tag: a list of dicts
        with tag, count, min, max, mean, first and last ((step, value) in stored
        order). `query` selects (tags, kinds, steps, wall_time, where; no order,
        offset or limit); None selects every tag."""
        q = _selection_json(query)
        return _aggregates(lambda out: self._call("aggregate", q, out, **where))

    def downsample(self, query, first_step, last_step, buckets, **where):
        """The selected scalars cut into `buckets` equal step ranges spanning
        first_step..last_step, each non-empty one a dict with first_step, last_step,
        count, min, max and mean: a plot of a million points reads a thousand."""
        q = _selection_json(query)
        return _buckets(lambda out: self._call("downsample", q, first_step, last_step, buckets, out, **where))

    def latest(self, query=None, **where):
        """The last stored event of each selected tag, ordered by tag."""
        q = _selection_json(query)
        return _events_of(lambda out: self._call("latest", q, out, **where))

    def to_pandas(self, query=None, **where):
        """A query's results as a pandas DataFrame (tag, step, wall_time, kind, value,
        and text for texts), for analysis. Needs pandas, which viz itself never does;
        ImportError says so if it is missing."""
        try:
            import pandas as pd
        except ImportError as e:
            raise ImportError("to_pandas needs pandas: pip install pandas") from e
        rows = [{"tag": e.tag, "step": e.step, "wall_time": e.wall_time, "kind": e.kind,
                 "value": e.value if e.kind == "scalar" else None,
                 "text": e.text if e.kind == "text" else None}
                for e in self.query(query or {}, **where)]
        return pd.DataFrame(rows, columns=["tag", "step", "wall_time", "kind", "value", "text"])


class _Owned:
    """An object owning one native handle, released by `close()` (also on garbage
    collection and at the end of a `with` block); `_free` names viz's function."""

    _free = None

    def close(self):
        h, self._h = self._h, c_void_p()
        if h:
            getattr(lib, self._free)(h)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _iterate(cursor, batch):
    """Events from a native cursor, `batch` at a time, freeing it at the end."""
    try:
        while True:
            page = c_void_p()
            check(lib.viz_cursor_next(cursor, batch, ctypes.byref(page)))
            events = _read_all(page)
            if not events:
                return
            yield from events
    finally:
        lib.viz_cursor_free(cursor)


def _cursor(open_call, batch):
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive int, not {batch!r}")
    cursor = c_void_p()
    check(open_call(ctypes.byref(cursor)))
    return _iterate(cursor, batch)


class Storage(_ReadSide, _Owned):
    """One backend instance (viz_storage), such as Storage("file://runs/a/log"). Use it
    directly, or pass it to a Collector, which then writes this very instance."""

    _free = "viz_storage_free"

    def __init__(self, connection_string, backend_type=None):
        self._h = c_void_p()
        check(lib.viz_storage_open(None if backend_type is None else utf8(backend_type, "backend_type"),
                                   utf8(connection_string, "connection_string"), ctypes.byref(self._h)))
        self.connection_string = connection_string

    def _live(self):
        if not self._h:
            raise ValueError("the storage is closed")
        return self._h

    def _call(self, name, *args):
        return getattr(lib, f"viz_storage_{name}")(self._live(), *args)

    @contextlib.contextmanager
    def transaction(self):
        """`with storage.transaction():` groups the stores and metadata changes inside
        into one atomic unit: committed at the end of the block, rolled back if it
        raises (sqlite:// has transactions; others raise Unsupported)."""
        check(lib.viz_storage_transaction_begin(self._live()))
        try:
            yield self
        except BaseException:
            check(lib.viz_storage_transaction_rollback(self._live()))
            raise
        check(lib.viz_storage_transaction_commit(self._live()))

    @property
    def metadata(self):
        """The run metadata this backend keeps, as a dict-like RunMetadata."""
        return RunMetadata(lambda j: lib.viz_storage_metadata_set(self._live(), j),
                           lambda j: lib.viz_storage_metadata_delete(self._live(), j),
                           lambda: _json_text(lambda b, n, out: lib.viz_storage_metadata_get(
                               self._live(), b, n, out)))

    def store(self, events):
        events = list(events)
        m = _events.Marshalled(events)
        check(lib.viz_storage_store(self._live(), m.array, len(events)))

    def get_events(self, start_step, end_step):
        out = c_void_p()
        check(lib.viz_storage_get_events(self._live(), start_step, end_step, ctypes.byref(out)))
        return _read_all(out)

    def query(self, query, batch=1000):
        """The stored events a query selects (see Collector.query), as an iterator."""
        q = _query_json(query)
        return _cursor(lambda out: lib.viz_storage_query(self._live(), q, out), batch)

    def flush(self):
        check(lib.viz_storage_flush(self._live()))

    @property
    def event_count(self):
        n = c_uint64()
        check(lib.viz_storage_event_count(self._live(), ctypes.byref(n)))
        return n.value

    def clear(self):
        check(lib.viz_storage_clear(self._live()))

    def shutdown(self):
        check(lib.viz_storage_shutdown(self._live()))

    @property
    def is_open(self):
        return bool(self._h) and lib.viz_storage_is_initialized(self._h)

    def close(self):
        """Releases the handle (a collector still using the backend keeps it open)."""
        super().close()


class Collector(_ReadSide, _Owned):
    """Collects events from any thread and persists them on native threads.

    `backends` are connection strings or dicts ({"url": ..., "kinds": [...],
    "tag_prefixes": [...]}); `storages` are Storage objects delivered to first;
    `config` takes the collector fields of viz.h's JSON (batch_size, strategy,
    flush_interval_ms, overflow, ...). Closing flushes; so does leaving a `with`.
    """

    def __init__(self, backends=(), storages=(), config=None, start=True, close_timeout_ms=DEFAULT_TIMEOUT_MS,
                 storage_routes=None):
        """`backends` are connection strings, or dicts routing one by kind and tag
        prefix ({"url": ..., "kinds": ["scalar"], "tag_prefixes": ["train/"]});
        `storages` are Storage objects it writes (numbered first), routed by
        `storage_routes` (one dict like the above without "url", or None, each)."""
        spec = {"backends": list(backends), "collector": dict(config or {}), "start": bool(start)}
        if storage_routes is not None:
            spec["storage_routes"] = list(storage_routes)
        self._storages = list(storages)
        raw = (c_void_p * len(self._storages))(*[s._live() for s in self._storages])
        self._h = c_void_p()
        check(lib.viz_collector_new_with_storage(utf8(json.dumps(spec), "config"), raw, len(self._storages),
                                                 ctypes.byref(self._h)))
        self._tags = {}
        self.close_timeout_ms = close_timeout_ms

    def _live(self):
        if not self._h:
            raise ValueError("the collector is closed")
        return self._h

    def _call(self, name, *args, backend=None):
        fn = getattr(lib, f"viz_collector_{name}")
        return self._first_answer(backend, lambda i: fn(self._live(), i, *args))

    def metadata_of(self, backend=None):
        """The run's metadata as a dict-like RunMetadata: changes go to every backend
        that keeps metadata (memory://, file://, tensorboard:// as hyperparameters);
        reads come from backend number `backend`, or the first that keeps it."""
        def get():
            indexes = range(len(self.stats()["destinations"])) if backend is None else [backend]
            for i in indexes:
                status = lib.viz_collector_metadata_get(self._live(), i, None, 0, ctypes.byref(c_size_t()))
                if status == Status.UNSUPPORTED and backend is None:
                    continue
                return _json_text(lambda b, n, out: lib.viz_collector_metadata_get(self._live(), i, b, n, out))
            check(lib.viz_collector_metadata_get(self._live(), 0, None, 0, ctypes.byref(c_size_t())))
        return RunMetadata(lambda j: lib.viz_collector_metadata_set(self._live(), j),
                           lambda j: lib.viz_collector_metadata_delete(self._live(), j), get)

    @property
    def metadata(self):
        """`metadata_of()`: the run's metadata, dict-like."""
        return self.metadata_of()

    def intern(self, tag):
        """The process-wide id of a tag (cached)."""
        tid = self._tags.get(tag)
        if tid is None:
            out = c_uint32()
            check(lib.viz_collector_tag_intern(self._live(), utf8(tag, "tag"), ctypes.byref(out)))
            tid = self._tags[tag] = out.value
        return tid

    def collect_scalar(self, tag, step, value):
        """The fast path: one native call with an interned tag. `tag` is a name or
        an id from `intern`."""
        tid = tag if isinstance(tag, int) else self.intern(tag)
        status = lib.viz_collector_collect_scalar_id(self._live(), tid, step, value)
        if status:
            check(status)

    def collect(self, event):
        m = _events.Marshalled([event])
        check(lib.viz_collector_collect(self._live(), m.array))

    def collect_batch(self, events):
        events = list(events)
        m = _events.Marshalled(events)
        done = c_size_t()
        check(lib.viz_collector_collect_batch(self._live(), m.array, len(events), ctypes.byref(done)))

    def flush(self, timeout_ms=DEFAULT_TIMEOUT_MS):
        check(lib.viz_collector_flush(self._live(), timeout_ms))

    def wait_acknowledged(self, timeout_ms=DEFAULT_TIMEOUT_MS):
        """Flushes, then waits until every remote destination's server (an
        ``mlflow+http://`` backend) acknowledged every event collected so far.
        ``flush`` only makes events durable in the spool; end a training script
        with this to know everything arrived. Raises ``Timeout`` if not in time
        (the events stay spooled and are sent later)."""
        check(lib.viz_collector_wait_acknowledged(self._live(), timeout_ms))

    def sync(self, timeout_ms=DEFAULT_TIMEOUT_MS):
        """Makes every event collected so far durable beyond this machine:
        flushes, waits for remote servers (as ``wait_acknowledged``), and has an
        ``s3://`` destination seal its staging log and upload every segment.
        Raises ``Timeout`` (or ``IOFailure``) naming the destination still
        pending; its events stay staged and are delivered later."""
        check(lib.viz_collector_sync(self._live(), timeout_ms))

    def set_run_status(self, status):
        """Records how the run ended (a RunStatus, or "finished", "failed",
        "killed") on every backend that keeps one: an MLflow run's status and the
        TensorBoard HPARAMS session's, applied at close; file:// (status.json beside
        the log) and sqlite:// (runs.status), at once. A `with` block left by an
        exception records FAILED by itself. Raises Unsupported if no backend keeps one."""
        if isinstance(status, str):
            status = RunStatus[status.upper()]
        check(lib.viz_collector_set_run_status(self._live(), int(RunStatus(status))))

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and self._h:
            # The training script failed: say so where the run's status is kept.
            try:
                self.set_run_status(RunStatus.FAILED)
            except VizError:
                pass
        self.close()

    def remote_stats(self, backend=0):
        """A remote destination's spool and delivery counters as a dict (depth,
        spool_bytes, oldest_unsent_ms, delivered, sends, failures, redeliveries,
        duplicates, rejected, spool_full_drops). Raises ``Unsupported`` for a
        destination that is not remote."""
        r = VizRemoteStats()
        check(lib.viz_collector_remote_stats(self._live(), backend, ctypes.byref(r)))
        return {name: getattr(r, name) for name, _ in VizRemoteStats._fields_}

    def replication_stats(self, backend=0):
        """An object-store (``s3://``) destination's replication status as a dict
        (segments_uploaded, bytes_uploaded, segments_pending, bytes_pending,
        oldest_pending_ms, uploads, failures, failing). Raises ``Unsupported`` for
        a destination that does not replicate."""
        r = VizReplicationStats()
        check(lib.viz_collector_replication_stats(self._live(), backend, ctypes.byref(r)))
        out = {name: getattr(r, name) for name, _ in VizReplicationStats._fields_}
        out["failing"] = bool(out["failing"])
        return out

    def start(self):
        check(lib.viz_collector_start(self._live()))

    def stop(self, timeout_ms=DEFAULT_TIMEOUT_MS):
        check(lib.viz_collector_stop(self._live(), timeout_ms))

    @property
    def is_running(self):
        return bool(self._h) and lib.viz_collector_is_running(self._h)

    @property
    def pending(self):
        n = c_size_t()
        check(lib.viz_collector_pending(self._live(), ctypes.byref(n)))
        return n.value

    def stats(self):
        """The collector's counters as a dict; "destinations" lists each destination's
        own (name, written, dropped, retries, failed_batches, queued_events, ...)."""
        s = VizStats()
        h = self._live()
        check(lib.viz_collector_stats(h, ctypes.byref(s)))
        out = {name: getattr(s, name) for name, _ in VizStats._fields_}
        out["destinations"] = []
        for i in range(s.destinations):
            d = VizDestinationStats()
            check(lib.viz_collector_destination_stats(h, i, ctypes.byref(d)))
            one = {name: getattr(d, name) for name, _ in VizDestinationStats._fields_}
            one["name"] = d.name.decode("utf-8")
            out["destinations"].append(one)
        return out

    def _first_answer(self, backend, call):
        """`call(i)` on backend `i`, or, with `backend` None, on each backend in
        order until one answers: a write-only one (tensorboard://) says Unsupported
        and the next is asked. Returns the first status that is not Unsupported."""
        if backend is not None:
            return call(backend)
        status = Status.UNSUPPORTED
        for i in range(len(self.stats()["destinations"])):
            status = call(i)
            if status != Status.UNSUPPORTED:
                return status
        return call(0)  # every one refused: its error names why

    def get_events(self, start_step, end_step, backend=None):
        """The events with start_step <= step <= end_step from backend number
        `backend`, or (None) from the first backend that can answer reads."""
        out = c_void_p()
        check(self._first_answer(backend, lambda i: lib.viz_collector_get_events(
            self._live(), i, start_step, end_step, ctypes.byref(out))))
        return _read_all(out)

    def on_error(self, callback):
        """Calls `callback(report)` for every delivery failure and warning, on viz's
        delivery threads: `report` is a dict with destination, status (a Status),
        message, events and will_retry. Replaces the callback set before; None
        removes it. An exception in the callback is swallowed (it cannot reach viz)."""
        if callback is None:
            check(lib.viz_collector_on_error(self._live(), ERROR_FN(), None, FINALIZER_FN()))
            return
        holder = _ErrorCallback(callback)
        with _registrations_lock:
            _registrations[holder.key] = holder
        status = lib.viz_collector_on_error(self._live(), holder.call, None, holder.finalizer)
        if status != Status.OK:
            with _registrations_lock:
                _registrations.pop(holder.key, None)  # viz kept nothing: never finalized
            check(status)

    def query(self, query, backend=None, batch=1000):
        """The events backend number `backend` (None: the first backend that can
        answer reads, so a durable log behind a write-only tensorboard:// answers)
        stores that `query` selects, as an
        iterator that reads `batch` at a time. `query` is a dict such as
        {"tags": ["train/*"], "steps": [0, 1000], "where": {"lt": 0.1},
        "order": "step_desc", "limit": 20} (or its JSON); a bad one raises
        InvalidArgument naming the field. Flush first to include recent events."""
        q = _query_json(query)
        if not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be a positive int, not {batch!r}")
        cursor = c_void_p()
        check(self._first_answer(backend, lambda i: lib.viz_collector_query(self._live(), i, q, ctypes.byref(cursor))))
        return _iterate(cursor, batch)

    def watch(self, callback, filter=None):
        """Watches the collector live: calls `callback(events)` on viz's watch thread
        with the list of Events of each delivered batch that `filter` selects (a
        query dict or JSON without order, offset or limit; None selects all), and
        returns a Subscription; cancel it (or leave its `with` block) to stop. A slow
        callback never slows the collector: batches it falls behind on are dropped
        for watchers only (Subscription.dropped). An exception in the callback is
        swallowed (it cannot reach viz); the watcher stays subscribed."""
        f = None if filter is None else _query_json(filter)
        holder = _WatchCallback(callback)
        with _registrations_lock:
            _registrations[holder.key] = holder
        out = c_void_p()
        # On failure viz calls the finalizer at once, which drops the holder.
        check(lib.viz_collector_subscribe(self._live(), f, holder.call, None, holder.finalizer, ctypes.byref(out)))
        return Subscription(out)

    def close(self, timeout_ms=None):
        """Flushes, stops and frees; raises if the backends did not finish in time."""
        h, self._h = self._h, c_void_p()
        if h:
            check(lib.viz_collector_close(h, self.close_timeout_ms if timeout_ms is None else timeout_ms))


# Registrations whose finalizer has not run: they own the CFUNCTYPE objects native
# code calls, so those stay alive exactly as long as native code may call them.
_registrations = {}
_registrations_lock = threading.Lock()
_ids = itertools.count(1)


def read_cache_stats():
    """The process's read cache of file:// segment indexes (shared by every query,
    aggregate and run listing): hits, misses, evictions, rebuilds, entries, bytes,
    capacity."""
    s = _native.VizCacheStats()
    check(lib.viz_read_cache_stats(ctypes.byref(s)))
    return {name: getattr(s, name) for name, _ in _native.VizCacheStats._fields_}


def configure_read_cache(capacity_bytes, ttl_ms=600_000):
    """Sets the read cache's capacity (0 turns it off) and how long an unused entry
    is kept."""
    check(lib.viz_read_cache_configure(capacity_bytes, ttl_ms))


class RunRepository(_Owned):
    """The runs of a project directory, written by file:// backends with
    `?run=NAME&rank=N` (rank N of run NAME under that directory)."""

    _free = "viz_run_repository_free"

    def __init__(self, root):
        self._h = c_void_p()
        check(lib.viz_run_repository_open(utf8(str(root), "root"), ctypes.byref(self._h)))

    def _live(self):
        if not self._h:
            raise ValueError("the run repository is closed")
        return self._h

    def names(self):
        """The runs' names, sorted."""
        return json.loads(_json_text(lambda b, n, out: lib.viz_run_repository_names(self._live(), b, n, out)))

    def list(self, filter=None):
        """Each selected run as a dict: project, name, created_unix_ms, path, ranks,
        events, bytes, tags (tag -> count), steps and wall_time ([first, last] or
        None), metadata. `filter` is {"name": pattern, "metadata": {key: value}}."""
        f = None if filter is None else utf8(json.dumps(filter) if isinstance(filter, dict) else filter, "filter")
        return json.loads(_json_text(lambda b, n, out: lib.viz_run_repository_list(self._live(), f, b, n, out)))

    def info(self, name):
        """One run's dict, as `list` gives it; InvalidArgument if there is no such run."""
        for run in self.list({"name": name}):
            if run["name"] == name:
                return run
        raise _native.InvalidArgument(_native.Status.INVALID_ARGUMENT, f"no run {name!r}")

    def count(self):
        return len(self.names())

    def exists(self, name):
        return name in self.names()

    def query(self, name, query, batch=1000):
        """Events of every rank of run `name`, as one run, that `query` selects."""
        q = _query_json(query)
        return _cursor(lambda out: lib.viz_run_repository_query(self._live(), utf8(name, "name"), q, out), batch)

    def query_runs(self, filter=None, query=None):
        """A query over several runs: {run name: [events]} for each run `filter`
        selects ({"name": pattern, "metadata": {...}}; None: every run)."""
        return {run["name"]: list(self.query(run["name"], query or {})) for run in self.list(filter)}

    def delete(self, name):
        """Deletes run `name` with its data; refused while any rank is being written."""
        check(lib.viz_run_repository_delete(self._live(), utf8(name, "name")))


class LogTail(_Owned):
    """Follows a file:// log (a directory) that a collector or another process is
    writing: `next(n)` returns up to n events written after the tail's position, in
    order, across segment rolls; an empty list means nothing new yet. `offset` is
    where it stands (save it to resume: LogTail(path, offset)). `offset=None` starts
    at the end, so only what is written from now on is seen."""

    _free = "viz_log_tail_free"

    def __init__(self, path, offset=0):
        self._h = c_void_p()
        start = (1 << 64) - 1 if offset is None else offset
        if not isinstance(start, int) or start < 0:
            raise ValueError(f"offset must be a non-negative int or None, not {offset!r}")
        check(lib.viz_log_tail_open(utf8(str(path), "path"), start, ctypes.byref(self._h)))

    def _live(self):
        if not self._h:
            raise ValueError("the log tail is closed")
        return self._h

    def next(self, max_events=1000):
        """Up to `max_events` new events (an empty list: nothing new yet)."""
        out = c_void_p()
        check(lib.viz_log_tail_next(self._live(), max_events, ctypes.byref(out)))
        return _read_all(out)

    def follow(self, poll_interval=0.1, stop=None):
        """Yields new events as they are written, polling every `poll_interval`
        seconds when there is nothing new, until `stop()` returns true (never, by
        default: break out of the loop)."""
        import time
        while stop is None or not stop():
            events = self.next()
            if not events:
                time.sleep(poll_interval)
            yield from events

    @property
    def offset(self):
        """The log offset of the next event this tail will return."""
        return lib.viz_log_tail_offset(self._live())

    @property
    def damage(self):
        """Damaged records and stretches skipped so far."""
        return lib.viz_log_tail_damage(self._live())



class _Held:
    """A Python callback native code holds: it stays in `_registrations` (with the
    CFUNCTYPE objects native code calls) until viz's finalizer drops it."""

    def __init__(self, callback):
        self.callback = callback
        self.key = next(_ids)
        self.finalizer = FINALIZER_FN(self._finalize)

    def _finalize(self, _):
        with _registrations_lock:
            _registrations.pop(self.key, None)


class _ErrorCallback(_Held):
    """A Python error callback behind viz_collector_on_error."""

    def __init__(self, callback):
        super().__init__(callback)
        self.call = ERROR_FN(self._call)

    def _call(self, _, report):
        r = report.contents
        try:
            self.callback({"destination": r.destination.decode("utf-8", "replace"), "status": Status(r.status),
                           "message": r.message.decode("utf-8", "replace"), "events": r.events,
                           "will_retry": bool(r.will_retry)})
        except Exception:  # noqa: BLE001 - nothing may unwind into native code
            pass


class Subscription(_Owned):
    """A live watch (Collector.watch). cancel() stops the callback: once it returns
    the callback is not running and is not called again. Closing the collector ends
    it too."""

    _free = "viz_subscription_free"

    def __init__(self, handle):
        self._h = handle

    @property
    def delivered(self):
        """Events handed to the callback so far."""
        return lib.viz_subscription_delivered(self._h) if self._h else 0

    @property
    def dropped(self):
        """Events the callback missed because the watch thread had fallen behind."""
        return lib.viz_subscription_dropped(self._h) if self._h else 0

    @property
    def active(self):
        """Whether the callback may still be called."""
        return bool(self._h) and bool(lib.viz_subscription_is_active(self._h))

    def cancel(self):
        """Stops the callback; safe to call twice, and after the collector closed."""
        self.close()


class _WatchCallback(_Held):
    """A Python watch callback behind viz_collector_subscribe."""

    def __init__(self, callback):
        super().__init__(callback)
        self.call = WATCH_FN(self._call)

    def _call(self, _, events, n):
        try:
            self.callback([_events.read(events[i]) for i in range(n)])
        except Exception:  # noqa: BLE001 - nothing may unwind into native code
            pass


class _Registration:
    """A Python backend behind viz_backend_register. Every callback catches every
    exception and answers with a status, passing the message on.

    A factory registration makes one object per native instance: `init` gives viz a
    key into `self.objects` as that instance's userdata, and `shutdown` (called once
    per instance) drops it. An object registration serves every instance itself."""

    def __init__(self, type_name, make=None, instance=None):
        self.type_name, self.make, self.instance = type_name, make, instance
        self.objects = {}
        self.failures, self.last_exception = 0, None
        self.key = next(_ids)
        self.vtable = VizBackendVTable(
            INIT_FN(self._init), STORE_FN(self._store), GET_FN(self._get), STATUS_FN(self._flush),
            COUNT_FN(self._count), STATUS_FN(self._clear), STATUS_FN(self._shutdown))
        self.finalizer = FINALIZER_FN(self._finalize)

    def _fail(self, exc):
        self.failures += 1
        self.last_exception = exc
        try:
            lib.viz_backend_set_error(f"{type(exc).__name__}: {exc}".encode("utf-8", "replace"))
        except Exception:
            pass
        return status_for(exc)

    def _guard(self, f):
        try:
            f()
            return 0
        except BaseException as exc:  # noqa: B902 - nothing may unwind into native code
            return self._fail(exc)

    def _backend(self, userdata):
        if self.make is None:
            return self.instance
        backend = self.objects.get(userdata)
        if backend is None:
            raise RuntimeError(f"backend type {self.type_name} has no open instance {userdata}")
        return backend

    def _init(self, _, cs, instance):
        def go():
            backend = self.make() if self.make is not None else self.instance
            init = getattr(backend, "initialize", None)
            if init is not None:
                init(cs.decode("utf-8"))
            if self.make is not None:
                # Only a successful init gives viz a key: it then calls shutdown once.
                key = next(_ids)
                self.objects[key] = backend
                instance[0] = key
        return self._guard(go)

    def _store(self, userdata, events, n):
        return self._guard(lambda: self._backend(userdata).store_events([_events.read(events[i]) for i in range(n)]))

    def _get(self, userdata, start, end, sink):
        def go():
            get = getattr(self._backend(userdata), "get_events", None)
            if get is None:
                raise NotImplementedError(f"backend type {self.type_name} is write-only")
            events = list(get(start, end))
            m = _events.Marshalled(events)
            for i in range(len(events)):
                check(lib.viz_event_sink_push(sink, ctypes.byref(m.array[i])))
        return self._guard(go)

    def _optional(self, userdata, name):
        def go():
            f = getattr(self._backend(userdata), name, None)
            if f is not None:
                f()
        return self._guard(go)

    def _flush(self, userdata):
        return self._optional(userdata, "flush")

    def _count(self, userdata):
        try:
            return int(self._backend(userdata).event_count())
        except BaseException as exc:  # noqa: B902
            self._fail(exc)
            return 0

    def _clear(self, userdata):
        return self._optional(userdata, "clear")

    def _shutdown(self, userdata):
        if self.make is None:
            return self._optional(userdata, "flush")  # the caller's object stays open
        status = self._optional(userdata, "shutdown")
        self.objects.pop(userdata, None)
        return status

    def _finalize(self, _):
        with _registrations_lock:
            _registrations.pop(self.key, None)


def register_backend(type_name, backend):
    """Registers a backend written in Python under `type_name`, so that collectors
    and storages opened with "<type_name>://..." deliver to it.

    `backend` is either an object or a zero-argument factory (a class, for instance);
    a factory makes one object per native instance, several at once if need be. The object needs
    `store_events(events)`; optional methods are `initialize(connection_string)`,
    `get_events(start, end)`, `flush()`, `clear()`, `event_count()` and `shutdown()`.
    An exception raised by any of them becomes an error status for viz (counted as a
    failed batch, and retried for stores), with its message.
    """
    # A class has store_events too (unbound), so test for a class first.
    is_factory = isinstance(backend, type) or (callable(backend) and not hasattr(backend, "store_events"))
    reg = _Registration(type_name, make=backend) if is_factory else _Registration(type_name, instance=backend)
    with _registrations_lock:
        _registrations[reg.key] = reg
    status = lib.viz_backend_register(utf8(type_name, "type_name"), ctypes.byref(reg.vtable), None, reg.finalizer)
    if status:
        with _registrations_lock:
            _registrations.pop(reg.key, None)  # a failed registration is never finalized
        check(status)
    return reg


def unregister_backend(type_name):
    """Removes a backend type; its callbacks are released once no instance remains."""
    check(lib.viz_backend_unregister(utf8(type_name, "type_name")))


def live_registrations():
    """How many Python backend registrations, error callbacks and watch callbacks native code may
    still call."""
    with _registrations_lock:
        return len(_registrations)


class StorageBackendFactory:
    """The seed's factory, for Python: `create` opens any backend type (built in, or
    registered from Python or another host) as a Storage; `register` and
    `unregister` manage backend types written in Python."""

    @staticmethod
    def create(backend_type, connection_string):
        return Storage(connection_string, backend_type=backend_type)

    @staticmethod
    def register(type_name, backend):
        return register_backend(type_name, backend)

    @staticmethod
    def unregister(type_name):
        unregister_backend(type_name)
