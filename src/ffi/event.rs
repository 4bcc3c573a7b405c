//! `viz_event`, one flat struct for every kind of event (fields a kind does not use
//! are ignored), its enums, and its conversions both ways: `to_event` for what a
//! host passes in, `views_of` for what viz hands out. Enum-valued fields are plain
//! integers, checked here, so an out-of-range value is an error that names the field
//! rather than undefined behaviour.

use std::collections::HashMap;
use std::ffi::{CString, c_char};

use super::abi_enum::abi_enum;
use super::boundary::{Failure, c_str, c_string, slice};
use crate::error::VizError;
use crate::event::{Event, EventData, EventKind, Priority};
use crate::limits;
use crate::payload::{DType, Histogram, Image, RawBytes, Tensor};
use crate::tag::{Tag, TagId};

/// Values of `viz_event.kind`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum viz_event_kind {
    /// `scalar`.
    Scalar = 0,
    /// `values`/`values_len` with `bins`, or `bucket_limits`/`bucket_counts`/`buckets_len`.
    Histogram = 1,
    /// `text` (NUL-terminated UTF-8).
    Text = 2,
    /// PNG bytes in `data`/`data_len`, with `width`, `height`, `channels`.
    Image = 3,
    /// `dtype`, `shape`/`shape_len`, element bytes in `data`/`data_len`.
    Tensor = 4,
    /// Bytes in `data`/`data_len` with `content_type` (NUL-terminated).
    Raw = 5,
}

/// Values of `viz_event.priority`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum viz_priority {
    /// Batched; may be dropped under a drop policy.
    Normal = 0,
    /// Never dropped; flushed at once.
    Critical = 1,
}

/// Values of `viz_event.dtype` (little-endian elements, row-major).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum viz_dtype {
    /// float.
    F32 = 0,
    /// double.
    F64 = 1,
    /// IEEE half.
    F16 = 2,
    /// bfloat16.
    Bf16 = 3,
    /// int8_t.
    I8 = 4,
    /// int16_t.
    I16 = 5,
    /// int32_t.
    I32 = 6,
    /// int64_t.
    I64 = 7,
    /// uint8_t.
    U8 = 8,
    /// uint16_t.
    U16 = 9,
    /// uint32_t.
    U32 = 10,
    /// uint64_t.
    U64 = 11,
    /// One byte per boolean.
    Bool = 12,
}

abi_enum!(viz_event_kind, "event.kind", EventKind {
    Scalar <=> EventKind::Scalar,
    Histogram <=> EventKind::Histogram,
    Text <=> EventKind::Text,
    Image <=> EventKind::Image,
    Tensor <=> EventKind::Tensor,
    Raw <=> EventKind::Raw,
});

abi_enum!(viz_priority, "event.priority", Priority {
    Normal <=> Priority::Normal,
    Critical <=> Priority::Critical,
});

abi_enum!(viz_dtype, "event.dtype", DType {
    F32 <=> DType::F32,
    F64 <=> DType::F64,
    F16 <=> DType::F16,
    Bf16 <=> DType::BF16,
    I8 <=> DType::I8,
    I16 <=> DType::I16,
    I32 <=> DType::I32,
    I64 <=> DType::I64,
    U8 <=> DType::U8,
    U16 <=> DType::U16,
    U32 <=> DType::U32,
    U64 <=> DType::U64,
    Bool <=> DType::Bool,
});

/// One event, of any kind. Zero-initialise it, then set `kind`, `tag`, `step` and
/// the fields of that kind. viz copies everything it needs during the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct viz_event {
    /// A `viz_event_kind` value.
    pub kind: u32,
    /// NUL-terminated UTF-8, 1 to 1024 bytes.
    pub tag: *const c_char,
    /// The training step.
    pub step: i64,
    /// Seconds since the Unix epoch; 0 means "now".
    pub wall_time: f64,
    /// A `viz_priority` value.
    pub priority: u32,
    /// SCALAR: the value.
    pub scalar: f64,
    /// TEXT: NUL-terminated UTF-8.
    pub text: *const c_char,
    /// HISTOGRAM from raw values: the values.
    pub values: *const f64,
    /// HISTOGRAM from raw values: how many.
    pub values_len: usize,
    /// HISTOGRAM from raw values: equal-width buckets to make (0 means 30).
    pub bins: u32,
    /// HISTOGRAM from buckets: right edges, strictly increasing.
    pub bucket_limits: *const f64,
    /// HISTOGRAM from buckets: counts.
    pub bucket_counts: *const f64,
    /// HISTOGRAM from buckets: number of buckets.
    pub buckets_len: usize,
    /// IMAGE (PNG file bytes), TENSOR (element bytes), RAW (bytes).
    pub data: *const u8,
    /// Length of `data`.
    pub data_len: usize,
    /// IMAGE: width in pixels.
    pub width: u32,
    /// IMAGE: height in pixels.
    pub height: u32,
    /// IMAGE: 1, 2, 3 or 4.
    pub channels: u32,
    /// TENSOR: a `viz_dtype` value.
    pub dtype: u32,
    /// TENSOR: dimensions.
    pub shape: *const u64,
    /// TENSOR: number of dimensions.
    pub shape_len: usize,
    /// RAW: NUL-terminated MIME type.
    pub content_type: *const c_char,
}

/// A length the host passed, checked against its bound before anything is copied:
/// a wrong length must be an error, not an allocation that aborts the process.
fn bounded(field: &str, len: usize, max: usize) -> Result<usize, Failure> {
    limits::at_most_arg(&format!("event.{field}"), len, max)?;
    Ok(len)
}

/// Builds a validated `Event` from a C event. Every entry point that takes a
/// `viz_event` (collect, batches, storage stores, event sinks) comes through here,
/// so they all accept and refuse the same events.
///
/// # Safety
/// The pointers in `e` must satisfy the header's contract for its kind.
pub(crate) unsafe fn to_event(e: &viz_event) -> Result<Event, Failure> {
    const MAX: usize = limits::MAX_PAYLOAD_BYTES;
    // SAFETY (whole body): every pointer is checked for NULL and read within the
    // lengths the caller gave, per the header.
    let tag = Tag::new(unsafe { c_str(e.tag, "event.tag") }?)?;
    let priority = Priority::from(viz_priority::parse(e.priority)?);
    let data = match EventKind::from(viz_event_kind::parse(e.kind)?) {
        EventKind::Scalar => EventData::Scalar(e.scalar),
        EventKind::Histogram => {
            let histogram = if !e.values.is_null() || e.values_len > 0 {
                // The values are only read, never copied, so their count is not bounded.
                let values = unsafe { slice(e.values, e.values_len, "event.values") }?;
                let bins = if e.bins == 0 { 30 } else { e.bins as usize };
                Histogram::from_values(values, bounded("bins", bins, limits::MAX_HISTOGRAM_BINS)?)?
            } else {
                let n = bounded("buckets_len", e.buckets_len, limits::MAX_HISTOGRAM_BINS)?;
                let limits = unsafe { slice(e.bucket_limits, n, "event.bucket_limits") }?;
                let counts = unsafe { slice(e.bucket_counts, n, "event.bucket_counts") }?;
                Histogram::from_buckets(limits.to_vec(), counts.to_vec())?
            };
            EventData::Histogram(Box::new(histogram))
        }
        EventKind::Text => {
            let text = unsafe { c_str(e.text, "event.text") }?;
            bounded("text length", text.len(), MAX)?;
            EventData::Text(text.to_owned())
        }
        EventKind::Image => {
            let len = bounded("data_len", e.data_len, MAX)?;
            let png = unsafe { slice(e.data, len, "event.data") }?.to_vec();
            let channels = u8::try_from(e.channels).map_err(|_| {
                VizError::invalid_argument(format!(
                    "event.channels is {}; valid values are 1 to 4",
                    e.channels
                ))
            })?;
            EventData::Image(Box::new(Image::png(png, e.width, e.height, channels)?))
        }
        EventKind::Tensor => {
            let dtype = DType::from(viz_dtype::parse(e.dtype)?);
            let rank = bounded("shape_len", e.shape_len, limits::MAX_TENSOR_RANK)?;
            let shape = unsafe { slice(e.shape, rank, "event.shape") }?.to_vec();
            let len = bounded("data_len", e.data_len, MAX)?;
            let bytes = unsafe { slice(e.data, len, "event.data") }?.to_vec();
            EventData::Tensor(Box::new(Tensor::new(dtype, shape, bytes)?))
        }
        EventKind::Raw => {
            let content_type = unsafe { c_str(e.content_type, "event.content_type") }?;
            bounded(
                "content_type length",
                content_type.len(),
                limits::MAX_CONTENT_TYPE_BYTES,
            )?;
            let len = bounded("data_len", e.data_len, MAX)?;
            let bytes = unsafe { slice(e.data, len, "event.data") }?.to_vec();
            EventData::Raw(Box::new(RawBytes::new(content_type, bytes)?))
        }
    };
    let mut event = Event::new(tag, e.step, data);
    event.priority = priority;
    if e.wall_time != 0.0 {
        event.wall_time = Some(e.wall_time);
    }
    event.validate()?;
    Ok(event)
}

/// The events of a batch call, bounded by [`limits::MAX_BATCH_EVENTS`].
///
/// # Safety
/// A non-NULL `events` must be valid for `len` reads.
pub(crate) unsafe fn batch<'a>(
    events: *const viz_event,
    len: usize,
) -> Result<&'a [viz_event], Failure> {
    limits::at_most_arg("len", len, limits::MAX_BATCH_EVENTS)?;
    // SAFETY: per the caller's contract.
    unsafe { slice(events, len, "events") }
}

/// `viz_event` views of `events`, pointing into them, into `tags` (NUL-terminated
/// tag copies, kept across calls by the caller) and into `strings` (text and content
/// types). The views are valid while all three are alive and unchanged.
pub(crate) fn views_of(
    events: &[Event],
    tags: &mut HashMap<TagId, CString>,
    strings: &mut Vec<CString>,
) -> Vec<viz_event> {
    for e in events {
        tags.entry(e.tag.id())
            .or_insert_with(|| c_string(e.tag.as_str()));
        match &e.data {
            EventData::Text(t) => strings.push(c_string(t)),
            EventData::Raw(r) => strings.push(c_string(&r.content_type)),
            _ => {}
        }
    }
    let mut next_string = strings.iter();
    events
        .iter()
        .map(|e| {
            // SAFETY: all-zero is a valid viz_event (null pointers, zero lengths).
            let mut v: viz_event = unsafe { std::mem::zeroed() };
            v.tag = tags[&e.tag.id()].as_ptr();
            v.step = e.step;
            v.wall_time = e.wall_time.unwrap_or(0.0);
            v.priority = viz_priority::from(e.priority).raw();
            v.kind = viz_event_kind::from(e.kind()).raw();
            match &e.data {
                EventData::Scalar(x) => v.scalar = *x,
                EventData::Text(_) => v.text = next_string.next().expect("one per text").as_ptr(),
                EventData::Histogram(h) => {
                    v.bucket_limits = h.bucket_limits.as_ptr();
                    v.bucket_counts = h.bucket_counts.as_ptr();
                    v.buckets_len = h.bucket_limits.len();
                }
                EventData::Image(i) => {
                    (v.data, v.data_len) = (i.png.as_ptr(), i.png.len());
                    (v.width, v.height, v.channels) = (i.width, i.height, i.channels.into());
                }
                EventData::Tensor(t) => {
                    (v.data, v.data_len) = (t.data.as_ptr(), t.data.len());
                    v.dtype = viz_dtype::from(t.dtype).raw();
                    (v.shape, v.shape_len) = (t.shape.as_ptr(), t.shape.len());
                }
                EventData::Raw(r) => {
                    (v.data, v.data_len) = (r.data.as_ptr(), r.data.len());
                    v.content_type = next_string.next().expect("one per raw").as_ptr();
                }
            }
            v
        })
        .collect()
}
