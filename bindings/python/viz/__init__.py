"""viz for Python: a fast SummaryWriter, the collector and storage over libviz
(ctypes, so no compiler is needed), and backends written in Python.

    import viz
    with viz.SummaryWriter("runs/exp1") as w:
        for step in range(1000):
            w.add_scalar("train/loss", 1.0 / (step + 1), step)
"""

from ._events import Event
from ._native import (BackendError, Closed, CorruptData, InvalidArgument, InvalidConfig, IOFailure, Panic,
                      QueueFull, RunStatus, Timeout, UnknownBackendType, Unsupported, VizError, lib)
from .core import (Collector, LogTail, RunMetadata, RunRepository, Storage, configure_read_cache, read_cache_stats, StorageBackendFactory, Subscription, live_registrations, register_backend,
                   unregister_backend)
from .writer import SummaryWriter, png_from_array

__version__ = lib.viz_version().decode()

__all__ = ["Event", "Collector", "RunStatus", "LogTail", "RunMetadata", "RunRepository", "read_cache_stats", "configure_read_cache", "Storage", "StorageBackendFactory", "Subscription", "SummaryWriter", "register_backend", "unregister_backend",
           "live_registrations", "png_from_array", "VizError", "InvalidArgument", "InvalidConfig",
           "UnknownBackendType", "BackendError", "IOFailure", "QueueFull", "Closed", "Timeout", "Unsupported",
           "CorruptData", "Panic"]
