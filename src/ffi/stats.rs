//! `viz_stats` and `viz_destination_stats`: the C mirror of the Rust statistics
//! (`CollectorStats`, `DestinationStats` in `src/collector/stats.rs`, where each
//! counter is defined and documented), converted in one place each.

use std::ffi::c_char;

use crate::collector::{CollectorStats, DestinationStats};

/// A snapshot of a collector's counters (see `viz_collector_stats`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct viz_stats {
    /// Events accepted so far.
    pub collected: u64,
    /// Events waiting in the producer queues.
    pub queued: u64,
    /// Events the worker holds for the flush strategy.
    pub staged: u64,
    /// Largest queue length seen.
    pub peak_queue_len: u64,
    /// Events dropped under the drop-oldest policy.
    pub dropped_oldest: u64,
    /// Events dropped under the drop-newest policy.
    pub dropped_newest: u64,
    /// Events dropped after a blocked collect reached its timeout.
    pub dropped_block_timeout: u64,
    /// Critical events displaced by drop-oldest and saved.
    pub rescued_critical: u64,
    /// Events another thread collected during close that could not be delivered.
    pub lost_at_stop: u64,
    /// Events accepted by backends, summed over destinations.
    pub written: u64,
    /// Failed backend calls, summed over destinations.
    pub failed_batches: u64,
    /// Batches handed to destinations.
    pub deliveries: u64,
    /// Flush cycles.
    pub flushes: u64,
    /// Producer lanes (one per thread that has collected, plus a shared one).
    pub producer_lanes: u64,
    /// Events handed to destinations and not yet stored or dropped there, summed
    /// over destinations.
    pub destination_queued: u64,
    /// Events destinations lost (full queue past the stall timeout, retries run
    /// out, a panic), summed over destinations.
    pub destination_dropped: u64,
    /// Bytes of events the collector holds now, against `max_held_bytes`.
    pub held_bytes: u64,
    /// Events the collector holds now, against `max_held_events` (0 when that is 0).
    pub held_events: u64,
    /// Destinations; read each with `viz_collector_destination_stats`.
    pub destinations: u64,
}

/// One destination's counters (see `viz_collector_destination_stats`). With the
/// collector's own, they account for every event: each destination's `written`
/// plus `dropped` plus `queued` is what was delivered to it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct viz_destination_stats {
    /// `<type>#<index>`, such as `"file#1"`: NUL-terminated, valid until the
    /// collector is closed.
    pub name: *const c_char,
    /// Events the backend accepted.
    pub written: u64,
    /// Events this destination lost: its queue stayed full, retries ran out, or
    /// it panicked.
    pub dropped: u64,
    /// Retry attempts made.
    pub retries: u64,
    /// Backend calls that failed (each retry counts).
    pub failed_batches: u64,
    /// Successful backend flushes.
    pub flushes: u64,
    /// Problems the backend worked around and reported (such as a recovered tail).
    pub warnings: u64,
    /// Events handed to it and not yet stored or dropped.
    pub queued_events: u64,
    /// Their bytes.
    pub queued_bytes: u64,
    /// Whether the backend panicked; it receives nothing more.
    pub panicked: bool,
}

impl From<&CollectorStats> for viz_stats {
    fn from(s: &CollectorStats) -> viz_stats {
        viz_stats {
            collected: s.collected,
            queued: s.queued,
            staged: s.staged,
            peak_queue_len: s.peak_queue_len,
            dropped_oldest: s.dropped_oldest,
            dropped_newest: s.dropped_newest,
            dropped_block_timeout: s.dropped_block_timeout,
            rescued_critical: s.rescued_critical,
            lost_at_stop: s.lost_at_stop,
            written: s.written,
            failed_batches: s.failed_batches,
            deliveries: s.deliveries,
            flushes: s.flushes,
            producer_lanes: s.producer_lanes,
            destination_queued: s.destination_queued,
            destination_dropped: s.destination_dropped,
            held_bytes: s.held_bytes,
            held_events: s.held_events,
            destinations: s.destinations.len() as u64,
        }
    }
}

impl viz_destination_stats {
    /// The C mirror of `d`, with `name` a C string that outlives it.
    pub(crate) fn of(d: &DestinationStats, name: *const c_char) -> viz_destination_stats {
        viz_destination_stats {
            name,
            written: d.written,
            dropped: d.dropped,
            retries: d.retries,
            failed_batches: d.failed_batches,
            flushes: d.flushes,
            warnings: d.warnings,
            queued_events: d.queued_events,
            queued_bytes: d.queued_bytes,
            panicked: d.panicked,
        }
    }
}
