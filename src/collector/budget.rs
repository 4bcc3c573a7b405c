//! The byte budget: how many bytes of events the collector holds at once, from
//! `collect` until the last destination is done with them; and, when
//! `max_held_events` is set, how many events.
//!
//! Counting events alone lets a few large ones (64 KiB images, tensors) hold
//! gigabytes; the budget bounds the bytes. Non-scalar events are counted when a
//! producer queues them (they are boxed, so they allocate anyway); scalars are
//! counted when the worker stages them, so the allocation-free hot path touches no
//! shared counter. A [`Batch`] carries the bytes of its events and gives them back
//! when the last destination drops it.
//!
//! The event count is the seed's `MaxQueueLength` taken as a bound on the whole
//! collector: without it, each stage (a producer's lane, staging, every
//! destination's queue and outbox) was bounded on its own, and a slow backend let
//! about three times the setting wait. Counting it costs every `collect` one
//! atomic add on a shared line, so it is off (0) unless asked for.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

use crate::event::Event;

/// Bytes (and, when bounded, events) held now, against the configured maxima.
pub(crate) struct Budget {
    held: CachePadded<AtomicU64>,
    max: u64,
    events: CachePadded<AtomicU64>,
    /// 0: events are not counted.
    max_events: u64,
}

impl Budget {
    pub(crate) fn new(max: u64, max_events: u64) -> Budget {
        Budget {
            held: CachePadded::new(AtomicU64::new(0)),
            max,
            events: CachePadded::new(AtomicU64::new(0)),
            max_events,
        }
    }

    /// True when events are counted (`max_held_events` is set).
    #[inline]
    pub(crate) fn counts_events(&self) -> bool {
        self.max_events > 0
    }

    pub(crate) fn max_events(&self) -> u64 {
        self.max_events
    }

    /// Events held now (0 when they are not counted).
    pub(crate) fn held_events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// Takes one event if it fits (always, when events are not counted).
    #[inline]
    pub(crate) fn try_take_event(&self) -> bool {
        !self.counts_events()
            || self
                .events
                .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |held| {
                    (held < self.max_events).then_some(held + 1)
                })
                .is_ok()
    }

    /// Takes one event and `bytes` if both fit; takes nothing otherwise.
    pub(crate) fn try_admit(&self, bytes: u64) -> bool {
        if !self.try_take_event() {
            return false;
        }
        if bytes == 0 || self.try_take(bytes) {
            return true;
        }
        self.give_events(1);
        false
    }

    /// Counts `n` events whether or not they fit (critical events, routed copies).
    pub(crate) fn take_events(&self, n: u64) {
        if self.counts_events() {
            self.events.fetch_add(n, Ordering::AcqRel);
        }
    }

    /// Gives `n` events back.
    pub(crate) fn give_events(&self, n: u64) {
        if self.counts_events() {
            self.events.fetch_sub(n, Ordering::AcqRel);
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
    /// A batch of events whose bytes (and count) the budget already holds.
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

    /// A batch of fresh copies: their bytes and count are taken from the budget now.
    pub(crate) fn copied(events: Vec<Event>, budget: &Arc<Budget>) -> Batch {
        let batch = Batch::counted(events, budget);
        budget.take(batch.bytes);
        budget.take_events(batch.events.len() as u64);
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
        self.budget.give_events(self.events.len() as u64);
    }
}
