//! What travels through the producer lanes: a scalar in its allocation-free form,
//! or any other event boxed.

use crate::event::{Event, Priority};
use crate::tag::TagId;

/// A scalar as it travels through the queue: 32 bytes, no heap.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScalarRecord {
    pub tag: TagId,
    pub step: i64,
    pub value: f64,
    pub wall_time: f64,
}

/// What the queue carries: the allocation-free scalar form, or any other event boxed.
/// 40 bytes, so it fits with its stamp in one 64-byte ring slot.
pub(crate) enum Record {
    Scalar(ScalarRecord),
    Event(Box<Event>),
}

impl Record {
    pub(crate) fn is_critical(&self) -> bool {
        matches!(self, Record::Event(e) if e.priority == Priority::Critical)
    }

    /// Bytes the budget holds for this record while it is queued: a boxed event's
    /// footprint; nothing for a scalar, counted only once staged.
    pub(crate) fn budget_bytes(&self) -> u64 {
        match self {
            Record::Scalar(_) => 0,
            Record::Event(e) => e.footprint() as u64,
        }
    }
}
