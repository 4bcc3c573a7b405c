"""Events in Python, and their conversion to and from viz_event structs."""

import ctypes
from ctypes import POINTER, c_double, c_uint64

from ._native import DType, EventKind, Priority, VizEvent, utf8

# Names as events carry them; their C values come from the enums in _native.
KINDS = tuple(k.name.lower() for k in EventKind)
DTYPES = tuple(d.name.lower() for d in DType)
_NUMPY_DTYPES = {"float32": "f32", "float64": "f64", "float16": "f16", "int8": "i8", "int16": "i16",
                 "int32": "i32", "int64": "i64", "uint8": "u8", "uint16": "u16", "uint32": "u32",
                 "uint64": "u64", "bool": "bool"}


class Event:
    """One event: `tag`, `step`, `kind` (one of KINDS), `wall_time` (seconds since the
    epoch, or None for "when collected"), `priority` ("normal" or "critical") and the
    kind's fields: `value` (scalar), `text`, `values`/`bins` or `limits`/`counts`
    (histogram), `png`/`width`/`height`/`channels` (image), `dtype`/`shape`/`data`
    (tensor), `content_type`/`data` (raw)."""

    def __init__(self, kind, tag, step, wall_time=None, priority="normal", **fields):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        if priority not in ("normal", "critical"):
            raise ValueError(f"priority must be 'normal' or 'critical', not {priority!r}")
        self.kind, self.tag, self.step = kind, tag, int(step)
        self.wall_time, self.priority = wall_time, priority
        self.__dict__.update(fields)

    @classmethod
    def scalar(cls, tag, step, value, **kw):
        return cls("scalar", tag, step, value=float(value), **kw)

    @classmethod
    def text(cls, tag, step, text, **kw):
        return cls("text", tag, step, text=text, **kw)

    @classmethod
    def histogram(cls, tag, step, values=None, bins=30, limits=None, counts=None, **kw):
        """From raw values (a sequence or numpy array, bucketed natively) or from buckets."""
        if values is not None:
            return cls("histogram", tag, step, values=[float(v) for v in _flat(values)], bins=int(bins), **kw)
        return cls("histogram", tag, step, limits=list(map(float, limits)), counts=list(map(float, counts)), **kw)

    @classmethod
    def image(cls, tag, step, png, width, height, channels=4, **kw):
        return cls("image", tag, step, png=bytes(png), width=width, height=height, channels=channels, **kw)

    @classmethod
    def tensor(cls, tag, step, data, shape=None, dtype=None, **kw):
        """From a numpy array (shape and dtype taken from it) or raw little-endian bytes."""
        if hasattr(data, "dtype") and hasattr(data, "tobytes"):
            name = str(data.dtype)
            if name not in _NUMPY_DTYPES:
                raise TypeError(f"tensor dtype {name} is not supported (use one of {sorted(_NUMPY_DTYPES)})")
            shape = tuple(data.shape) if shape is None else shape
            dtype = _NUMPY_DTYPES[name] if dtype is None else dtype
            data = data.astype(data.dtype.newbyteorder("<")).tobytes(order="C")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, not {dtype!r}")
        return cls("tensor", tag, step, dtype=dtype, shape=tuple(int(d) for d in shape), data=bytes(data), **kw)

    @classmethod
    def raw(cls, tag, step, content_type, data, **kw):
        return cls("raw", tag, step, content_type=content_type, data=bytes(data), **kw)

    def __repr__(self):
        fields = {k: v for k, v in self.__dict__.items() if k not in ("kind", "tag", "step")}
        return f"Event({self.kind!r}, {self.tag!r}, {self.step}, {fields})"

    def __eq__(self, other):
        return isinstance(other, Event) and self.__dict__ == other.__dict__


def _flat(values):
    if hasattr(values, "ravel"):
        return values.ravel().tolist()
    return values


class Marshalled:
    """viz_event structs for a batch, holding everything they point to alive."""

    def __init__(self, events):
        self.keep = []
        self.array = (VizEvent * len(events))()
        for i, e in enumerate(events):
            if not isinstance(e, Event):
                raise TypeError(f"events[{i}] is a {type(e).__name__}, not a viz.Event")
            self._fill(self.array[i], e)

    def _buf(self, ctype, values):
        arr = (ctype * len(values))(*values)
        self.keep.append(arr)
        return ctypes.cast(arr, POINTER(ctype))

    def _bytes(self, data):
        buf = ctypes.create_string_buffer(bytes(data), len(data))
        self.keep.append(buf)
        return ctypes.cast(buf, ctypes.c_void_p), len(data)

    def _str(self, s, what):
        b = utf8(s, what)
        self.keep.append(b)
        return b

    def _fill(self, v, e):
        v.kind = EventKind[e.kind.upper()]
        v.tag = self._str(e.tag, "tag")
        v.step = e.step
        v.wall_time = float(e.wall_time or 0.0)
        v.priority = Priority[e.priority.upper()]
        if e.kind == "scalar":
            v.scalar = e.value
        elif e.kind == "text":
            v.text = self._str(e.text, "text")
        elif e.kind == "histogram":
            if getattr(e, "values", None) is not None:
                v.values, v.values_len, v.bins = self._buf(c_double, e.values), len(e.values), e.bins
            else:
                if len(e.limits) != len(e.counts):
                    raise ValueError(f"histogram '{e.tag}' has {len(e.limits)} limits but {len(e.counts)} counts")
                v.bucket_limits = self._buf(c_double, e.limits)
                v.bucket_counts = self._buf(c_double, e.counts)
                v.buckets_len = len(e.limits)
        elif e.kind == "image":
            v.data, v.data_len = self._bytes(e.png)
            v.width, v.height, v.channels = e.width, e.height, e.channels
        elif e.kind == "tensor":
            v.dtype = DType[e.dtype.upper()]
            v.shape, v.shape_len = self._buf(c_uint64, e.shape), len(e.shape)
            v.data, v.data_len = self._bytes(e.data)
        else:
            v.content_type = self._str(e.content_type, "content_type")
            v.data, v.data_len = self._bytes(e.data)


def read(v):
    """An Event copied out of a viz_event view."""
    kind = EventKind(v.kind).name.lower()
    kw = {"wall_time": v.wall_time or None, "priority": Priority(v.priority).name.lower()}
    tag = v.tag.decode("utf-8")
    data = ctypes.string_at(v.data, v.data_len) if v.data_len else b""
    if kind == "scalar":
        return Event.scalar(tag, v.step, v.scalar, **kw)
    if kind == "text":
        return Event.text(tag, v.step, v.text.decode("utf-8"), **kw)
    if kind == "histogram":
        n = v.buckets_len
        return Event.histogram(tag, v.step, limits=v.bucket_limits[:n], counts=v.bucket_counts[:n], **kw)
    if kind == "image":
        return Event.image(tag, v.step, data, v.width, v.height, v.channels, **kw)
    if kind == "tensor":
        return Event.tensor(tag, v.step, data, shape=v.shape[:v.shape_len], dtype=DType(v.dtype).name.lower(), **kw)
    return Event.raw(tag, v.step, v.content_type.decode("utf-8"), data, **kw)
