//! Remote destinations through the C ABI: their spool and delivery counters, and
//! the wait for "acknowledged by the server" (an `mlflow+http://` backend).

use std::time::Duration;

use super::boundary::{Handle, guard, write_out};
use super::collector::{destination_at, viz_collector};
use super::status::viz_status;
use crate::backend::remote::RemoteStats;
use crate::error::VizError;

/// A remote destination's counters (see `viz_collector_remote_stats`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct viz_remote_stats {
    /// Events in the spool not yet acknowledged by the server.
    pub depth: u64,
    /// Bytes of the spool on disk.
    pub spool_bytes: u64,
    /// Age in milliseconds of the oldest unacknowledged event (0: none).
    pub oldest_unsent_ms: u64,
    /// Events the server acknowledged.
    pub delivered: u64,
    /// Requests that succeeded.
    pub sends: u64,
    /// Attempts that failed and will be retried.
    pub failures: u64,
    /// Events sent again after a failed or timed-out attempt.
    pub redeliveries: u64,
    /// Events sent again that an earlier attempt may already have delivered.
    pub duplicates: u64,
    /// Items the server refused for good (dropped, and reported).
    pub rejected: u64,
    /// Events dropped because the spool was full (`spool_full=drop`).
    pub spool_full_drops: u64,
}

impl From<RemoteStats> for viz_remote_stats {
    fn from(s: RemoteStats) -> viz_remote_stats {
        viz_remote_stats {
            depth: s.depth,
            spool_bytes: s.spool_bytes,
            oldest_unsent_ms: s.oldest_unsent_ms,
            delivered: s.delivered,
            sends: s.sends,
            failures: s.failures,
            redeliveries: s.redeliveries,
            duplicates: s.duplicates,
            rejected: s.rejected,
            spool_full_drops: s.spool_full_drops,
        }
    }
}

/// Writes destination `index`'s remote counters to `*out`. Fails with
/// `VIZ_STATUS_UNSUPPORTED` if that destination is not remote, and
/// `VIZ_STATUS_INVALID_ARGUMENT` if the index is out of range.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `collector` must be NULL or a live handle; `out` NULL or valid for writing a
/// `viz_remote_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_remote_stats(
    collector: *const viz_collector,
    index: usize,
    out: *mut viz_remote_stats,
) -> viz_status {
    guard("viz_collector_remote_stats", || {
        // SAFETY: handle and out-pointer as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let stats = c.stats();
        let d = destination_at(&stats, index)?;
        let Some(remote) = d.remote else {
            return Err(VizError::new(
                crate::ErrorKind::Unsupported,
                format!("{} is not a remote destination", d.name),
            )
            .into());
        };
        unsafe { write_out(out, viz_remote_stats::from(remote), "out") }
    })
}

/// Flushes, then waits until every remote destination's server acknowledged every
/// event collected before the call, at most `timeout_ms` in all. `viz_collector_flush`
/// only makes events durable in the spool; this ends a training script with
/// everything confirmed remote. `VIZ_STATUS_TIMEOUT` says events are still
/// unacknowledged (they stay spooled); without remote destinations it is a flush.
///
/// Thread safety: safe from any thread except the collector's own callbacks.
///
/// # Safety
/// `collector` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_wait_acknowledged(
    collector: *const viz_collector,
    timeout_ms: u32,
) -> viz_status {
    guard("viz_collector_wait_acknowledged", || {
        // SAFETY: handle as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        Ok(c.wait_acknowledged(Duration::from_millis(timeout_ms.into()))?)
    })
}

/// Makes every event collected before the call durable beyond this machine, at
/// most `timeout_ms` in all: flushes, waits for remote servers
/// (`viz_collector_wait_acknowledged`), and has an `s3://` destination seal its
/// staging log and upload every segment. `VIZ_STATUS_TIMEOUT` names the
/// destination still pending; its events stay staged and are delivered later.
///
/// Thread safety: safe from any thread except the collector's own callbacks.
///
/// # Safety
/// `collector` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_sync(
    collector: *const viz_collector,
    timeout_ms: u32,
) -> viz_status {
    guard("viz_collector_sync", || {
        // SAFETY: handle as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        Ok(c.sync(Duration::from_millis(timeout_ms.into()))?)
    })
}
