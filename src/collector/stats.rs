//! Collector statistics: live counters and the snapshot handed to callers.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::Serialize;

/// Live counters of one destination, shared by its thread and the collector.
#[derive(Default)]
pub(crate) struct DestinationCounters {
    pub written: AtomicU64,
    pub failed_batches: AtomicU64,
    pub retries: AtomicU64,
    pub dropped: AtomicU64,
    pub flushes: AtomicU64,
    pub warnings: AtomicU64,
    /// Events (and their bytes) handed to this destination and not yet finished
    /// with: in its queue, waiting for room, or kept for a retry.
    pub queued_events: AtomicU64,
    pub queued_bytes: AtomicU64,
    pub panicked: std::sync::atomic::AtomicBool,
    pub last_error: Mutex<Option<String>>,
}

impl DestinationCounters {
    /// Counts a batch handed to the destination.
    pub fn hold(&self, events: u64, bytes: u64) {
        bump(&self.queued_events, events);
        bump(&self.queued_bytes, bytes);
    }

    /// The destination is finished with a batch.
    pub fn release(&self, events: u64, bytes: u64) {
        self.queued_events.fetch_sub(events, Ordering::Relaxed);
        self.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Live counters of the worker.
#[derive(Default)]
pub(crate) struct WorkerCounters {
    pub received: AtomicU64,
    pub staged: AtomicU64,
    pub peak_queue_len: AtomicU64,
    pub deliveries: AtomicU64,
    pub flushes: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

/// A snapshot of one destination's counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DestinationStats {
    /// `<type>#<index>`, such as `memory#0`.
    pub name: String,
    /// Events the backend accepted.
    pub written: u64,
    /// Calls to the backend that failed (each retry counts).
    pub failed_batches: u64,
    /// Retry attempts made.
    pub retries: u64,
    /// Events this destination lost: its queue was full, retries ran out, or it panicked.
    pub dropped: u64,
    /// Successful backend flushes.
    pub flushes: u64,
    /// Problems the backend worked around and reported (`StorageBackend::take_warnings`),
    /// such as a torn tail truncated on open.
    pub warnings: u64,
    /// Events handed to this destination and not yet stored or dropped: in its
    /// queue, waiting for room in it, or kept for a retry.
    pub queued_events: u64,
    /// The bytes of those events (see [`crate::Event::footprint`]).
    pub queued_bytes: u64,
    /// Whether the backend panicked; it receives nothing more.
    pub panicked: bool,
    /// The most recent error, if any.
    pub last_error: Option<String>,
    /// For a backend that delivers to a remote server through a spool: its spool
    /// and delivery counters.
    pub remote: Option<crate::backend::remote::RemoteStats>,
    /// For a backend that replicates to an object store (s3://): its replication
    /// status.
    pub replication: Option<crate::backend::s3::ReplicationStats>,
}

/// A snapshot of a collector's counters (seed 004's buffer statistics and more).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CollectorStats {
    /// Events accepted by `collect` so far (received by the worker plus still queued).
    pub collected: u64,
    /// Events in the lock-free queues now (all producer lanes).
    pub queued: u64,
    /// Producer lanes: one per thread that has collected (lanes of exited threads
    /// are retired once empty), plus one shared fallback lane.
    pub producer_lanes: u64,
    /// Events the worker holds, waiting for the flush strategy.
    pub staged: u64,
    /// Events handed to destinations and not yet stored or dropped there, summed
    /// over destinations (an event going to two counts twice).
    pub destination_queued: u64,
    /// Bytes of events held anywhere in the collector now (the byte budget's count,
    /// against `max_held_bytes`).
    pub held_bytes: u64,
    /// Events held anywhere in the collector now, against `max_held_events`
    /// (counted only when that is set; 0 otherwise).
    pub held_events: u64,
    /// Largest queue length seen (sampled by the worker before each drain; a full
    /// queue records its capacity).
    pub peak_queue_len: u64,
    /// Events dropped under the drop-oldest policy (displaced by newer ones, from
    /// a full queue or to make room in the byte budget).
    pub dropped_oldest: u64,
    /// Events refused at `collect` under the drop-newest policy; under drop-oldest,
    /// those refused because the byte budget was held downstream and the calling
    /// thread's queue had nothing older to displace.
    pub dropped_newest: u64,
    /// Events dropped because a blocked `collect` reached `block_timeout`.
    pub dropped_block_timeout: u64,
    /// Critical events a drop-oldest push displaced and then saved.
    pub rescued_critical: u64,
    /// Events another thread collected while `stop()` ran, which arrived after the
    /// final drain and could not be delivered. Exact once such producers have returned.
    pub lost_at_stop: u64,
    /// Events accepted by backends, summed over destinations.
    pub written: u64,
    /// Events destinations lost (full queue past the stall timeout, retries run
    /// out, a panic), summed over destinations.
    pub destination_dropped: u64,
    /// Failed backend calls, summed over destinations.
    pub failed_batches: u64,
    /// Batches handed to destinations.
    pub deliveries: u64,
    /// Flush cycles (every destination flushed).
    pub flushes: u64,
    /// The most recent error anywhere.
    pub last_error: Option<String>,
    /// Per-destination counters.
    pub destinations: Vec<DestinationStats>,
}

impl CollectorStats {
    /// Events dropped by the queue's overflow policies, all policies together.
    pub fn dropped(&self) -> u64 {
        self.dropped_oldest + self.dropped_newest + self.dropped_block_timeout
    }
}

pub(crate) fn load(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

pub(crate) fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}
