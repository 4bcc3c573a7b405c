"""A SummaryWriter in the shape of torch.utils.tensorboard's, writing through viz."""

import os
import struct
import time
import zlib

from ._events import Event
from .core import Collector


def png_from_array(img, dataformats="CHW"):
    """PNG bytes (and width, height, channels) for an image array: uint8, or floats in
    [0, 1]; layout CHW, HWC or HW."""
    import numpy as np
    a = np.asarray(img)
    if dataformats == "CHW":
        a = np.transpose(a, (1, 2, 0))
    elif dataformats == "HW":
        a = a[:, :, None]
    elif dataformats != "HWC":
        raise ValueError(f"dataformats must be CHW, HWC or HW, not {dataformats!r}")
    if a.dtype != np.uint8:
        a = (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    height, width, channels = a.shape
    if channels not in (1, 2, 3, 4):
        raise ValueError(f"an image needs 1 to 4 channels, not {channels}")
    color = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = b"".join(b"\x00" + a[y].tobytes() for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))
    return png, width, height, channels


class SummaryWriter:
    """Writes a TensorBoard run to `log_dir` (and, with `durable=True`, viz's durable
    event log to `log_dir/log`). Calls return at once; native threads write. Use it
    as a context manager, or call close(): both flush everything."""

    def __init__(self, log_dir=None, durable=False, backends=(), config=None, flush_secs=1):
        if log_dir is None:
            log_dir = os.path.join("runs", time.strftime("%b%d_%H-%M-%S") + "_viz")
        self.log_dir = log_dir
        urls = [f"tensorboard://{log_dir}"] + ([f"file://{log_dir}/log"] if durable else []) + list(backends)
        cfg = {"flush_interval_ms": int(flush_secs * 1000)}
        cfg.update(config or {})
        self.collector = Collector(backends=urls, config=cfg)
        self._step = {}

    def _next(self, tag, global_step):
        if global_step is None:
            global_step = self._step.get(tag, -1) + 1
        self._step[tag] = global_step
        return int(global_step)

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None):
        step = self._next(tag, global_step)
        if walltime is None:
            self.collector.collect_scalar(tag, step, float(scalar_value))
        else:
            self.collector.collect(Event.scalar(tag, step, scalar_value, wall_time=walltime))

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        for name, value in tag_scalar_dict.items():
            self.add_scalar(f"{main_tag}/{name}", value, global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins=30, walltime=None):
        """`values`: a list or numpy array of numbers; `bins`: how many buckets."""
        if isinstance(bins, str):
            bins = 30  # torch's "tensorflow"/"auto" bin rules map to viz's default
        self.collector.collect(Event.histogram(tag, self._next(tag, global_step), values, bins=bins,
                                               wall_time=walltime))

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        self.collector.collect(Event.text(tag, self._next(tag, global_step), text_string, wall_time=walltime))

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """`img_tensor`: a numpy array (uint8, or floats in [0, 1]) or PNG bytes."""
        if isinstance(img_tensor, (bytes, bytearray)):
            raise TypeError("pass PNG bytes through collector.collect(Event.image(...)), which needs the size")
        png, width, height, channels = png_from_array(img_tensor, dataformats)
        self.collector.collect(Event.image(tag, self._next(tag, global_step), png, width, height, channels,
                                           wall_time=walltime))

    def add_hparams(self, hparam_dict, metric_dict=None):
        """Records the run's hyperparameters as run metadata: TensorBoard's HPARAMS
        dashboard shows them next to the run's scalars, and the durable log keeps
        them. `metric_dict` values, if given, are logged as scalars at step 0 (as
        torch's SummaryWriter does), so they appear as metrics."""
        self.collector.metadata.update(hparam_dict)
        for tag, value in (metric_dict or {}).items():
            self.add_scalar(tag, value, 0)

    def flush(self):
        """Returns once everything added so far is written and synced."""
        self.collector.flush()

    def close(self):
        self.collector.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # The collector records FAILED (TensorBoard's HPARAMS status, MLflow's) when
        # the block ends with an exception.
        self.collector.__exit__(*exc)
