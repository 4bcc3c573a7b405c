//! The event model: what training code records.
//!
//! An [`Event`] is a tag, a step, a wall time, a priority and one payload
//! ([`EventData`]). Large payloads are boxed so an `Event` stays small (80 bytes)
//! and the scalar path moves little memory.

use serde::{Deserialize, Serialize};

use crate::error::{Result, VizError};
use crate::payload::{Histogram, Image, RawBytes, Tensor};
use crate::tag::Tag;

/// How urgently an event must be persisted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Priority {
    /// Batched and flushed by the collector's strategy; may be dropped under the
    /// configured overflow policy.
    #[default]
    Normal = 0,
    /// Never dropped; triggers an early flush to every backend.
    Critical = 1,
}

/// The kind of payload an event carries, used for routing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum EventKind {
    /// A single number.
    Scalar = 0,
    /// A distribution summarised as buckets.
    Histogram = 1,
    /// UTF-8 text.
    Text = 2,
    /// An encoded PNG image.
    Image = 3,
    /// A dense tensor.
    Tensor = 4,
    /// Opaque bytes with a content type.
    Raw = 5,
}

impl EventKind {
    /// Every kind, in discriminant order.
    pub const ALL: [EventKind; 6] = [
        EventKind::Scalar,
        EventKind::Histogram,
        EventKind::Text,
        EventKind::Image,
        EventKind::Tensor,
        EventKind::Raw,
    ];

    /// Lowercase name, as used in JSON configs and routes.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Scalar => "scalar",
            EventKind::Histogram => "histogram",
            EventKind::Text => "text",
            EventKind::Image => "image",
            EventKind::Tensor => "tensor",
            EventKind::Raw => "raw",
        }
    }
}

/// The payload of an event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum EventData {
    /// A scalar value.
    Scalar(#[serde(with = "crate::float_serde")] f64),
    /// A histogram.
    Histogram(Box<Histogram>),
    /// Text.
    Text(String),
    /// An image.
    Image(Box<Image>),
    /// A tensor.
    Tensor(Box<Tensor>),
    /// Raw bytes.
    Raw(Box<RawBytes>),
}

impl EventData {
    /// The payload's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            EventData::Scalar(_) => EventKind::Scalar,
            EventData::Histogram(_) => EventKind::Histogram,
            EventData::Text(_) => EventKind::Text,
            EventData::Image(_) => EventKind::Image,
            EventData::Tensor(_) => EventKind::Tensor,
            EventData::Raw(_) => EventKind::Raw,
        }
    }
}

/// One recorded visualization event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What is being recorded, such as `"train/loss"`.
    pub tag: Tag,
    /// The training step.
    pub step: i64,
    /// Seconds since the Unix epoch. `None` asks the collector to stamp the time of
    /// collection; events delivered to backends always carry `Some`.
    pub wall_time: Option<f64>,
    /// Delivery priority.
    #[serde(default)]
    pub priority: Priority,
    /// The payload.
    #[serde(flatten)]
    pub data: EventData,
}

impl Event {
    /// An event with normal priority and no wall time.
    pub fn new(tag: Tag, step: i64, data: EventData) -> Event {
        Event {
            tag,
            step,
            wall_time: None,
            priority: Priority::Normal,
            data,
        }
    }

    /// A scalar event; interns `tag`.
    pub fn scalar(tag: &str, step: i64, value: f64) -> Result<Event> {
        Ok(Event::new(Tag::new(tag)?, step, EventData::Scalar(value)))
    }

    /// A text event; interns `tag`.
    pub fn text(tag: &str, step: i64, text: impl Into<String>) -> Result<Event> {
        Ok(Event::new(
            Tag::new(tag)?,
            step,
            EventData::Text(text.into()),
        ))
    }

    /// A histogram event; interns `tag`.
    pub fn histogram(tag: &str, step: i64, histogram: Histogram) -> Result<Event> {
        Ok(Event::new(
            Tag::new(tag)?,
            step,
            EventData::Histogram(Box::new(histogram)),
        ))
    }

    /// An image event; interns `tag`.
    pub fn image(tag: &str, step: i64, image: Image) -> Result<Event> {
        Ok(Event::new(
            Tag::new(tag)?,
            step,
            EventData::Image(Box::new(image)),
        ))
    }

    /// A tensor event; interns `tag`.
    pub fn tensor(tag: &str, step: i64, tensor: Tensor) -> Result<Event> {
        Ok(Event::new(
            Tag::new(tag)?,
            step,
            EventData::Tensor(Box::new(tensor)),
        ))
    }

    /// A raw-bytes event; interns `tag`.
    pub fn raw(tag: &str, step: i64, raw: RawBytes) -> Result<Event> {
        Ok(Event::new(
            Tag::new(tag)?,
            step,
            EventData::Raw(Box::new(raw)),
        ))
    }

    /// Sets the wall time (seconds since the epoch).
    pub fn at(mut self, wall_time: f64) -> Event {
        self.wall_time = Some(wall_time);
        self
    }

    /// Marks the event critical: never dropped, flushed early.
    pub fn critical(mut self) -> Event {
        self.priority = Priority::Critical;
        self
    }

    /// The payload's kind.
    pub fn kind(&self) -> EventKind {
        self.data.kind()
    }

    /// Bytes this event occupies: the event itself plus its payload's heap data
    /// (the tag is interned once per process and not counted). What the collector's
    /// byte budget (`max_held_bytes`) counts.
    pub fn footprint(&self) -> usize {
        const F64: usize = std::mem::size_of::<f64>();
        std::mem::size_of::<Event>()
            + match &self.data {
                EventData::Scalar(_) => 0,
                EventData::Text(t) => t.len(),
                EventData::Histogram(h) => {
                    std::mem::size_of::<Histogram>()
                        + F64 * (h.bucket_limits.len() + h.bucket_counts.len())
                }
                EventData::Image(i) => std::mem::size_of::<Image>() + i.png.len(),
                EventData::Tensor(t) => {
                    std::mem::size_of::<Tensor>() + t.data.len() + 8 * t.shape.len()
                }
                EventData::Raw(r) => {
                    std::mem::size_of::<RawBytes>() + r.data.len() + r.content_type.len()
                }
            }
    }

    /// Checks the parts a caller can get wrong after construction: the wall time
    /// and the payload's internal consistency.
    pub fn validate(&self) -> Result<()> {
        if let Some(t) = self.wall_time
            && !(t.is_finite() && t >= 0.0)
        {
            return Err(VizError::invalid_argument(format!(
                "event '{}' has wall_time {t}; it must be finite and not negative",
                self.tag
            )));
        }
        let checked = match &self.data {
            EventData::Scalar(_) => Ok(()),
            EventData::Text(t) => {
                crate::limits::at_most_arg("text length", t.len(), crate::limits::MAX_PAYLOAD_BYTES)
            }
            EventData::Histogram(h) => h.validate(),
            EventData::Image(i) => i.validate(),
            EventData::Tensor(t) => t.validate(),
            EventData::Raw(r) => r.validate(),
        };
        checked.map_err(|e| e.context(format_args!("event '{}'", self.tag)))
    }
}

/// A set of [`EventKind`]s, as a bit mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct KindSet(u8);

impl KindSet {
    /// No kinds.
    pub const EMPTY: KindSet = KindSet(0);
    /// Every kind.
    pub const ALL: KindSet = KindSet(0b11_1111);

    /// A set holding `kinds`.
    pub fn of(kinds: &[EventKind]) -> KindSet {
        kinds.iter().fold(KindSet::EMPTY, |s, &k| s.with(k))
    }

    /// This set plus `kind`.
    pub fn with(self, kind: EventKind) -> KindSet {
        KindSet(self.0 | 1 << kind as u8)
    }

    /// Whether `kind` is in the set.
    pub fn contains(self, kind: EventKind) -> bool {
        self.0 & (1 << kind as u8) != 0
    }
}
