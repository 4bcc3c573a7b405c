//! What a remote backend, its sender thread and the collector share: counters, and
//! the acknowledged position that `wait_acknowledged` waits on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde::Serialize;

use crate::error::{Result, VizError};

/// A remote destination's counters, as shown in
/// [`DestinationStats::remote`](crate::DestinationStats::remote).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RemoteStats {
    /// Events in the spool not yet acknowledged by the server.
    pub depth: u64,
    /// Bytes of the spool on disk.
    pub spool_bytes: u64,
    /// Age in milliseconds of the oldest event not yet acknowledged (0: none).
    pub oldest_unsent_ms: u64,
    /// Events the server acknowledged.
    pub delivered: u64,
    /// Requests that succeeded.
    pub sends: u64,
    /// Attempts that failed and will be retried (connection failures, timeouts,
    /// 429 and 5xx answers).
    pub failures: u64,
    /// Events handed to the server again after a failed or timed-out attempt.
    pub redeliveries: u64,
    /// Events sent again that an earlier attempt may already have delivered: those
    /// in flight when a send failed mid-way or when the process died. MLflow keeps
    /// one copy of a metric sent twice with the same step, time and value.
    pub duplicates: u64,
    /// Items the server refused for good (a 4xx that retrying cannot fix), dropped
    /// and reported through the error callback.
    pub rejected: u64,
    /// Events refused because the spool was at its size limit.
    pub spool_full_drops: u64,
}

/// Shared state of one remote destination (cheap to clone).
#[derive(Clone, Default)]
pub struct Remote {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The spool's next offset: every event below it is durably spooled.
    spooled: AtomicU64,
    /// Every event below this offset is acknowledged.
    acked: Mutex<u64>,
    moved: Condvar,
    /// Unix milliseconds of the oldest unacknowledged event (0: none known).
    oldest_ms: AtomicU64,
    depth: AtomicU64,
    spool_bytes: AtomicU64,
    delivered: AtomicU64,
    sends: AtomicU64,
    failures: AtomicU64,
    redeliveries: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    spool_full_drops: AtomicU64,
    /// Set once the sender has given up (shut down): waits end at once.
    closed: Mutex<Option<String>>,
    /// How the run ended, once the backend was told (for the delivery's finish).
    status: Mutex<crate::runs::RunStatus>,
    /// Problems for the collector's error callback, the newest [`MAX_WARNINGS`].
    warnings: Mutex<std::collections::VecDeque<VizError>>,
}

/// Warnings kept while nobody takes them; older ones are dropped.
const MAX_WARNINGS: usize = 64;

/// Which counter to add to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Count {
    Delivered,
    Sends,
    Failures,
    Redeliveries,
    Duplicates,
    Rejected,
    SpoolFullDrops,
}

impl Remote {
    /// A fresh handle: nothing spooled, nothing acknowledged.
    pub fn new() -> Remote {
        Remote::default()
    }

    pub(crate) fn add(&self, which: Count, n: u64) {
        let i = &self.inner;
        let counter = match which {
            Count::Delivered => &i.delivered,
            Count::Sends => &i.sends,
            Count::Failures => &i.failures,
            Count::Redeliveries => &i.redeliveries,
            Count::Duplicates => &i.duplicates,
            Count::Rejected => &i.rejected,
            Count::SpoolFullDrops => &i.spool_full_drops,
        };
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Records that every event below `offset` is durably spooled.
    pub(crate) fn set_spooled(&self, offset: u64) {
        self.inner.spooled.store(offset, Ordering::Release);
    }

    /// Records the spool's state: its next offset, acked offset, depth, bytes and
    /// the wall time (Unix seconds) of its oldest unacknowledged event.
    pub(crate) fn observe(&self, spooled: u64, acked: u64, bytes: u64, oldest: Option<f64>) {
        let i = &self.inner;
        i.spooled.store(spooled, Ordering::Release);
        i.depth
            .store(spooled.saturating_sub(acked), Ordering::Relaxed);
        i.spool_bytes.store(bytes, Ordering::Relaxed);
        i.oldest_ms.store(
            oldest.map_or(0, |s| (s * 1000.0).max(1.0) as u64),
            Ordering::Relaxed,
        );
        let mut at = i.acked.lock();
        if acked != *at {
            *at = acked;
            i.moved.notify_all();
        }
    }

    /// Records how the run ended.
    pub fn set_run_status(&self, status: crate::runs::RunStatus) {
        *self.inner.status.lock() = status;
    }

    /// How the run ended, as last recorded (`Finished` by default).
    pub fn run_status(&self) -> crate::runs::RunStatus {
        *self.inner.status.lock()
    }

    /// Keeps a problem for [`take_warnings`](Self::take_warnings).
    pub(crate) fn warn(&self, error: VizError) {
        let mut w = self.inner.warnings.lock();
        if w.len() == MAX_WARNINGS {
            w.pop_front();
        }
        w.push_back(error);
    }

    /// The problems the sender met since the last call (for
    /// [`StorageBackend::take_warnings`](crate::StorageBackend::take_warnings)).
    pub fn take_warnings(&self) -> Vec<VizError> {
        self.inner.warnings.lock().drain(..).collect()
    }

    /// Ends every wait: the sender stopped, with the reason.
    pub(crate) fn close(&self, why: String) {
        *self.inner.closed.lock() = Some(why);
        let _guard = self.inner.acked.lock();
        self.inner.moved.notify_all();
    }

    /// The offset below which every event is durably spooled.
    pub fn spooled(&self) -> u64 {
        self.inner.spooled.load(Ordering::Acquire)
    }

    /// The offset below which every event is acknowledged by the server.
    pub fn acknowledged(&self) -> u64 {
        *self.inner.acked.lock()
    }

    /// Waits until every event below `offset` is acknowledged, at most `timeout`.
    /// Fails with `Timeout` naming how many are still unacknowledged, or with
    /// `Closed` if the sender stopped first.
    pub fn wait_acknowledged(&self, offset: u64, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut acked = self.inner.acked.lock();
        while *acked < offset {
            if let Some(why) = self.inner.closed.lock().clone() {
                return Err(VizError::closed(format!(
                    "{} events were never acknowledged: {why}",
                    offset - *acked
                )));
            }
            if self
                .inner
                .moved
                .wait_until(&mut acked, deadline)
                .timed_out()
                && *acked < offset
            {
                return Err(VizError::timeout(format!(
                    "{} of the events spooled are not acknowledged by the server yet (see the destination's remote stats)",
                    offset - *acked
                )));
            }
        }
        Ok(())
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> RemoteStats {
        let i = &self.inner;
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let oldest = load(&i.oldest_ms);
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        RemoteStats {
            depth: load(&i.depth),
            spool_bytes: load(&i.spool_bytes),
            oldest_unsent_ms: if oldest == 0 {
                0
            } else {
                now_ms.saturating_sub(oldest)
            },
            delivered: load(&i.delivered),
            sends: load(&i.sends),
            failures: load(&i.failures),
            redeliveries: load(&i.redeliveries),
            duplicates: load(&i.duplicates),
            rejected: load(&i.rejected),
            spool_full_drops: load(&i.spool_full_drops),
        }
    }
}
