//! The byte budget: how many bytes of events the collector holds at once, from
//! `collect` until the last destination is done with them.
//!
//! Counting events alone lets a few large ones (64 KiB images, tensors) hold
//! gigabytes; the budget bounds the bytes. Non-scalar events are counted when a
//! producer queues them (they are boxed, so they allocate anyway); scalars are
//! counted when the worker stages them, so the allocation-free hot path touches no
//! shared counter. A [`Batch`] carries the bytes of its events and gives them back
//! when the last destination drops it.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

use crate::event::Event;

/// Bytes held now, against the configured maximum.
pub(crate) struct Budget {
    held: CachePadded<AtomicU64>,
    max: u64,
}

impl Budget {
    pub(crate) fn new(max: u64) -> Budget {
        Budget {
            held: CachePadded::new(AtomicU64::new(0)),
            max,
        }
    }

    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    pub(crate) fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// Takes `bytes` if they fit; false (taking nothing) if they do not.
    pub(crate) fn try_take(&self, bytes: u64) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |held| {
                (held + bytes <= self.max).then_some(held + bytes)
            })
            .is_ok()
    }

    /// Takes `bytes` whether or not they fit (critical events, staged scalars,
    /// routed copies: already made, so counting them is all that is left to do).
    pub(crate) fn take(&self, bytes: u64) {
        self.held.fetch_add(bytes, Ordering::AcqRel);
    }

    /// Gives `bytes` back.
    pub(crate) fn give(&self, bytes: u64) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// A batch on its way to the destinations, shared by all of them. Its bytes go
/// back to the budget when the last one drops it.
pub(crate) struct Batch {
    events: Vec<Event>,
    bytes: u64,
    budget: Arc<Budget>,
}

impl Batch {
    /// A batch of events whose bytes the budget already holds.
    pub(crate) fn counted(events: Vec<Event>, budget: &Arc<Budget>) -> Batch {
        let bytes = events.iter().map(|e| e.footprint() as u64).sum();
        Batch::counted_as(events, bytes, budget)
    }

    /// As [`Batch::counted`], with the events' footprints already summed.
    pub(crate) fn counted_as(events: Vec<Event>, bytes: u64, budget: &Arc<Budget>) -> Batch {
        Batch {
            events,
            bytes,
            budget: budget.clone(),
        }
    }

    /// A batch of fresh copies: their bytes are taken from the budget now.
    pub(crate) fn copied(events: Vec<Event>, budget: &Arc<Budget>) -> Batch {
        let batch = Batch::counted(events, budget);
        budget.take(batch.bytes);
        batch
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Deref for Batch {
    type Target = [Event];

    fn deref(&self) -> &[Event] {
        &self.events
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.budget.give(self.bytes);
    }
}
