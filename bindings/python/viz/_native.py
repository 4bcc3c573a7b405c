"""libviz through ctypes: loading, the C structs, signatures and errors."""

import ctypes
import enum
import os
import pathlib

from ctypes import (POINTER, c_bool, c_char_p, c_double, c_int, c_int64, c_size_t, c_uint32,
                    c_uint64, c_void_p)


def _find_library():
    """VIZ_LIBRARY if set; else the libviz an installed package bundles (pip builds it
    into the package); else, in a source checkout, the one cargo built; else the
    system's (ldconfig)."""
    explicit = os.environ.get("VIZ_LIBRARY")
    if explicit:
        return explicit
    here = pathlib.Path(__file__).resolve().parent
    bundled = sorted(here.glob("_libviz*.so"))
    if bundled:
        return str(bundled[0])
    root = here.parents[2]
    for profile in ("release", "debug"):
        candidate = root / "target" / profile / "libviz.so"
        if candidate.exists():
            return str(candidate)
    import ctypes.util
    found = ctypes.util.find_library("viz")
    if found:
        return found
    raise OSError("libviz not found: install the package (pip install ./bindings/python), "
                  "build it (cargo build --release), or set VIZ_LIBRARY to its path")


# The C ABI this package was written for (viz.h's VIZ_ABI_VERSION). A library of
# another ABI is refused at import, rather than failing in unclear ways later.
ABI_VERSION = 5

_path = _find_library()
lib = ctypes.CDLL(_path)
lib.viz_abi_version.restype = c_uint32
lib.viz_abi_version.argtypes = []
if lib.viz_abi_version() != ABI_VERSION:
    raise ImportError(
        f"libviz at {_path} has C ABI version {lib.viz_abi_version()}, but this viz package "
        f"was written for ABI version {ABI_VERSION}: use the libviz built from the same source")


# The C enums, value for value; tests/test_abi.py checks them against viz.h.
class Status(enum.IntEnum):
    """viz_status."""
    OK = 0
    NULL_ARGUMENT = 1
    INVALID_ARGUMENT = 2
    INVALID_UTF8 = 3
    INVALID_CONFIG = 4
    UNKNOWN_BACKEND_TYPE = 5
    BACKEND_ERROR = 6
    IO = 7
    QUEUE_FULL = 8
    CLOSED = 9
    TIMEOUT = 10
    UNSUPPORTED = 11
    CORRUPT_DATA = 12
    PANIC = 13


class EventKind(enum.IntEnum):
    """viz_event_kind."""
    SCALAR = 0
    HISTOGRAM = 1
    TEXT = 2
    IMAGE = 3
    TENSOR = 4
    RAW = 5


class Priority(enum.IntEnum):
    """viz_priority."""
    NORMAL = 0
    CRITICAL = 1


class DType(enum.IntEnum):
    """viz_dtype."""
    F32 = 0
    F64 = 1
    F16 = 2
    BF16 = 3
    I8 = 4
    I16 = 5
    I32 = 6
    I64 = 7
    U8 = 8
    U16 = 9
    U32 = 10
    U64 = 11
    BOOL = 12


class FlushStrategy(enum.IntEnum):
    """viz_flush_strategy."""
    TIME_BASED = 0
    SIZE_BASED = 1
    MANUAL = 2
    HYBRID = 3


class OverflowPolicy(enum.IntEnum):
    """viz_overflow_policy."""
    BLOCK = 0
    DROP_OLDEST = 1
    DROP_NEWEST = 2


class WallClock(enum.IntEnum):
    """viz_wall_clock."""
    COARSE = 0
    PRECISE = 1


class RunStatus(enum.IntEnum):
    """viz_run_status: how a run ended (Collector.set_run_status)."""
    FINISHED = 0
    FAILED = 1
    KILLED = 2


class VizEvent(ctypes.Structure):
    """viz_event: one event of any kind (see viz.h)."""
    _fields_ = [
        ("kind", c_uint32), ("tag", c_char_p), ("step", c_int64), ("wall_time", c_double),
        ("priority", c_uint32), ("scalar", c_double), ("text", c_char_p),
        ("values", POINTER(c_double)), ("values_len", c_size_t), ("bins", c_uint32),
        ("bucket_limits", POINTER(c_double)), ("bucket_counts", POINTER(c_double)),
        ("buckets_len", c_size_t), ("data", c_void_p), ("data_len", c_size_t),
        ("width", c_uint32), ("height", c_uint32), ("channels", c_uint32), ("dtype", c_uint32),
        ("shape", POINTER(c_uint64)), ("shape_len", c_size_t), ("content_type", c_char_p),
    ]


class VizStats(ctypes.Structure):
    """viz_stats: a collector's counters."""
    _fields_ = [(name, c_uint64) for name in (
        "collected", "queued", "staged", "peak_queue_len", "dropped_oldest", "dropped_newest",
        "dropped_block_timeout", "rescued_critical", "lost_at_stop", "written", "failed_batches",
        "deliveries", "flushes", "producer_lanes", "destination_queued", "destination_dropped",
        "held_bytes", "held_events", "destinations")]


class VizDestinationStats(ctypes.Structure):
    """viz_destination_stats: one destination's counters."""
    _fields_ = [("name", c_char_p)] + [(name, c_uint64) for name in (
        "written", "dropped", "retries", "failed_batches", "flushes", "warnings",
        "queued_events", "queued_bytes")] + [("panicked", ctypes.c_bool)]


class VizRemoteStats(ctypes.Structure):
    """viz_remote_stats: a remote destination's spool and delivery counters."""
    _fields_ = [(name, c_uint64) for name in (
        "depth", "spool_bytes", "oldest_unsent_ms", "delivered", "sends", "failures",
        "redeliveries", "duplicates", "rejected", "spool_full_drops")]


class VizReplicationStats(ctypes.Structure):
    """viz_replication_stats: an object-store destination's replication status."""
    _fields_ = [(name, c_uint64) for name in (
        "segments_uploaded", "bytes_uploaded", "segments_pending", "bytes_pending",
        "oldest_pending_ms", "uploads", "failures")] + [("failing", c_uint32)]


class VizAggregate(ctypes.Structure):
    """viz_aggregate: one tag's scalar statistics."""
    _fields_ = [("tag", c_char_p), ("count", c_uint64), ("min", c_double), ("max", c_double), ("mean", c_double),
                ("first_step", c_int64), ("first", c_double), ("last_step", c_int64), ("last", c_double)]


class VizBucket(ctypes.Structure):
    """viz_bucket: one step bucket of a downsampled series."""
    _fields_ = [("first_step", c_int64), ("last_step", c_int64), ("count", c_uint64), ("min", c_double),
                ("max", c_double), ("mean", c_double)]


class VizCacheStats(ctypes.Structure):
    """viz_cache_stats: the read cache's counters."""
    _fields_ = [(name, c_uint64) for name in ("hits", "misses", "evictions", "rebuilds", "entries", "bytes",
                                              "capacity")]


class VizErrorReport(ctypes.Structure):
    """viz_error_report: a delivery failure or warning, for an error callback."""
    _fields_ = [("destination", c_char_p), ("status", c_int), ("message", c_char_p),
                ("events", c_size_t), ("will_retry", c_bool)]


ERROR_FN = ctypes.CFUNCTYPE(None, c_void_p, POINTER(VizErrorReport))
STATUS_FN = ctypes.CFUNCTYPE(c_int, c_void_p)
INIT_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_char_p, POINTER(c_void_p))
STORE_FN = ctypes.CFUNCTYPE(c_int, c_void_p, POINTER(VizEvent), c_size_t)
GET_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_int64, c_int64, c_void_p)
COUNT_FN = ctypes.CFUNCTYPE(c_uint64, c_void_p)
FINALIZER_FN = ctypes.CFUNCTYPE(None, c_void_p)
WATCH_FN = ctypes.CFUNCTYPE(None, c_void_p, POINTER(VizEvent), c_size_t)


class VizBackendVTable(ctypes.Structure):
    """viz_backend_vtable: callbacks of a backend written in Python."""
    _fields_ = [("init", INIT_FN), ("store_batch", STORE_FN), ("get_events", GET_FN),
                ("flush", STATUS_FN), ("event_count", COUNT_FN), ("clear", STATUS_FN),
                ("shutdown", STATUS_FN)]


def _sig(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


P = c_void_p
_sig("viz_last_error_message", c_size_t, c_char_p, c_size_t)
_sig("viz_collector_new", c_int, c_char_p, POINTER(P))
_sig("viz_collector_new_with_storage", c_int, c_char_p, POINTER(P), c_size_t, POINTER(P))
_sig("viz_collector_close", c_int, P, c_uint32)
_sig("viz_collector_start", c_int, P)
_sig("viz_collector_stop", c_int, P, c_uint32)
_sig("viz_collector_is_running", c_bool, P)
_sig("viz_collector_pending", c_int, P, POINTER(c_size_t))
_sig("viz_collector_stats", c_int, P, POINTER(VizStats))
_sig("viz_collector_destination_stats", c_int, P, c_size_t, POINTER(VizDestinationStats))
_sig("viz_collector_tag_intern", c_int, P, c_char_p, POINTER(c_uint32))
_sig("viz_collector_collect_scalar_id", c_int, P, c_uint32, c_int64, c_double)
_sig("viz_collector_collect", c_int, P, POINTER(VizEvent))
_sig("viz_collector_collect_batch", c_int, P, POINTER(VizEvent), c_size_t, POINTER(c_size_t))
_sig("viz_collector_flush", c_int, P, c_uint32)
_sig("viz_collector_wait_acknowledged", c_int, P, c_uint32)
_sig("viz_collector_sync", c_int, P, c_uint32)
_sig("viz_collector_set_run_status", c_int, P, c_uint32)
_sig("viz_collector_remote_stats", c_int, P, c_size_t, POINTER(VizRemoteStats))
_sig("viz_collector_replication_stats", c_int, P, c_size_t, POINTER(VizReplicationStats))
_sig("viz_collector_get_events", c_int, P, c_size_t, c_int64, c_int64, POINTER(P))
_sig("viz_collector_query", c_int, P, c_size_t, c_char_p, POINTER(P))
_sig("viz_collector_on_error", c_int, P, ERROR_FN, P, FINALIZER_FN)
_sig("viz_collector_subscribe", c_int, P, c_char_p, WATCH_FN, P, FINALIZER_FN, POINTER(P))
_sig("viz_subscription_delivered", c_uint64, P)
_sig("viz_subscription_dropped", c_uint64, P)
_sig("viz_subscription_is_active", c_bool, P)
_sig("viz_subscription_free", None, P)
_sig("viz_storage_query", c_int, P, c_char_p, POINTER(P))
_sig("viz_collector_aggregate", c_int, P, c_size_t, c_char_p, POINTER(P))
_sig("viz_collector_downsample", c_int, P, c_size_t, c_char_p, c_int64, c_int64, c_size_t, POINTER(P))
_sig("viz_collector_latest", c_int, P, c_size_t, c_char_p, POINTER(P))
_sig("viz_storage_aggregate", c_int, P, c_char_p, POINTER(P))
_sig("viz_storage_downsample", c_int, P, c_char_p, c_int64, c_int64, c_size_t, POINTER(P))
_sig("viz_storage_latest", c_int, P, c_char_p, POINTER(P))
_sig("viz_collector_metadata_set", c_int, P, c_char_p)
_sig("viz_collector_metadata_delete", c_int, P, c_char_p)
_sig("viz_collector_metadata_get", c_int, P, c_size_t, c_char_p, c_size_t, POINTER(c_size_t))
_sig("viz_storage_metadata_set", c_int, P, c_char_p)
_sig("viz_storage_metadata_delete", c_int, P, c_char_p)
_sig("viz_storage_metadata_get", c_int, P, c_char_p, c_size_t, POINTER(c_size_t))
_sig("viz_storage_transaction_begin", c_int, P)
_sig("viz_storage_transaction_commit", c_int, P)
_sig("viz_storage_transaction_rollback", c_int, P)
_sig("viz_read_cache_stats", c_int, POINTER(VizCacheStats))
_sig("viz_read_cache_configure", c_int, c_uint64, c_uint64)
_sig("viz_run_repository_open", c_int, c_char_p, POINTER(P))
_sig("viz_run_repository_names", c_int, P, c_char_p, c_size_t, POINTER(c_size_t))
_sig("viz_run_repository_list", c_int, P, c_char_p, c_char_p, c_size_t, POINTER(c_size_t))
_sig("viz_run_repository_query", c_int, P, c_char_p, c_char_p, POINTER(P))
_sig("viz_run_repository_delete", c_int, P, c_char_p)
_sig("viz_run_repository_free", None, P)
_sig("viz_log_tail_open", c_int, c_char_p, c_uint64, POINTER(P))
_sig("viz_log_tail_next", c_int, P, c_size_t, POINTER(P))
_sig("viz_log_tail_offset", c_uint64, P)
_sig("viz_log_tail_damage", c_uint64, P)
_sig("viz_log_tail_free", None, P)
_sig("viz_aggregate_list_len", c_size_t, P)
_sig("viz_aggregate_list_get", POINTER(VizAggregate), P, c_size_t)
_sig("viz_aggregate_list_free", None, P)
_sig("viz_bucket_list_len", c_size_t, P)
_sig("viz_bucket_list_get", POINTER(VizBucket), P, c_size_t)
_sig("viz_bucket_list_free", None, P)
_sig("viz_cursor_next", c_int, P, c_size_t, POINTER(P))
_sig("viz_cursor_free", None, P)
_sig("viz_event_list_len", c_size_t, P)
_sig("viz_event_list_get", POINTER(VizEvent), P, c_size_t)
_sig("viz_event_list_free", None, P)
_sig("viz_event_sink_push", c_int, P, POINTER(VizEvent))
_sig("viz_backend_register", c_int, c_char_p, POINTER(VizBackendVTable), P, FINALIZER_FN)
_sig("viz_backend_unregister", c_int, c_char_p)
_sig("viz_backend_set_error", c_int, c_char_p)
_sig("viz_storage_open", c_int, c_char_p, c_char_p, POINTER(P))
_sig("viz_storage_store", c_int, P, POINTER(VizEvent), c_size_t)
_sig("viz_storage_get_events", c_int, P, c_int64, c_int64, POINTER(P))
_sig("viz_storage_flush", c_int, P)
_sig("viz_storage_event_count", c_int, P, POINTER(c_uint64))
_sig("viz_storage_clear", c_int, P)
_sig("viz_storage_shutdown", c_int, P)
_sig("viz_storage_is_initialized", c_bool, P)
_sig("viz_storage_free", None, P)
_sig("viz_version", c_char_p)


class VizError(Exception):
    """A failed viz call; `status` is the viz_status value, the message is viz's."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class InvalidArgument(VizError, ValueError):
    """A bad argument (NULL, out of range, malformed, not UTF-8)."""


class InvalidConfig(VizError, ValueError):
    """A bad configuration or connection string."""


class UnknownBackendType(VizError, ValueError):
    """No backend type of that name is registered."""


class BackendError(VizError, RuntimeError):
    """A storage backend failed."""


class IOFailure(VizError, OSError):
    """An operating-system I/O operation failed."""


class QueueFull(VizError, RuntimeError):
    """The queue is full and the overflow policy rejected the event."""


class Closed(VizError, RuntimeError):
    """The collector or storage is stopped or closed."""


class Timeout(VizError, TimeoutError):
    """The operation did not finish before its deadline."""


class Unsupported(VizError, NotImplementedError):
    """The backend does not support the operation (such as reading a write-only one)."""


class CorruptData(VizError, ValueError):
    """Stored data failed an integrity check."""


class Panic(VizError, RuntimeError):
    """viz panicked; the panic was caught at the C boundary."""


_BY_STATUS = {Status.NULL_ARGUMENT: InvalidArgument, Status.INVALID_ARGUMENT: InvalidArgument,
              Status.INVALID_UTF8: InvalidArgument, Status.INVALID_CONFIG: InvalidConfig,
              Status.UNKNOWN_BACKEND_TYPE: UnknownBackendType, Status.BACKEND_ERROR: BackendError,
              Status.IO: IOFailure, Status.QUEUE_FULL: QueueFull, Status.CLOSED: Closed,
              Status.TIMEOUT: Timeout, Status.UNSUPPORTED: Unsupported,
              Status.CORRUPT_DATA: CorruptData, Status.PANIC: Panic}
_STATUS_OF = {InvalidArgument: Status.INVALID_ARGUMENT, InvalidConfig: Status.INVALID_CONFIG,
              UnknownBackendType: Status.UNKNOWN_BACKEND_TYPE, BackendError: Status.BACKEND_ERROR,
              IOFailure: Status.IO, QueueFull: Status.QUEUE_FULL, Closed: Status.CLOSED,
              Timeout: Status.TIMEOUT, Unsupported: Status.UNSUPPORTED,
              CorruptData: Status.CORRUPT_DATA, Panic: Status.PANIC}


def last_message():
    buf = ctypes.create_string_buffer(1024)
    needed = lib.viz_last_error_message(buf, len(buf))
    if needed >= len(buf):
        buf = ctypes.create_string_buffer(needed + 1)
        lib.viz_last_error_message(buf, len(buf))
    return buf.value.decode("utf-8", "replace")


def check(status):
    """Raises the exception for a failed call's status."""
    if status != Status.OK:
        raise _BY_STATUS.get(status, VizError)(status, last_message())


def status_for(exc):
    """The viz_status to hand native code for an exception raised by Python code."""
    for cls, status in _STATUS_OF.items():
        if isinstance(exc, cls):
            return status
    if isinstance(exc, NotImplementedError):
        return Status.UNSUPPORTED
    if isinstance(exc, (ValueError, TypeError)):
        return Status.INVALID_ARGUMENT
    if isinstance(exc, OSError):
        return Status.IO
    return Status.BACKEND_ERROR


def utf8(s, what):
    if not isinstance(s, str):
        raise TypeError(f"{what} must be a str, not {type(s).__name__}")
    return s.encode("utf-8")
