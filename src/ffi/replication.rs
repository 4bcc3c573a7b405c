//! Object-store destinations through the C ABI: their replication status (an
//! `s3://` backend), beside `viz_collector_sync`.

use super::boundary::{Handle, guard, write_out};
use super::collector::{destination_at, viz_collector};
use super::status::viz_status;
use crate::backend::s3::ReplicationStats;
use crate::error::VizError;

/// An object-store destination's replication status (see
/// `viz_collector_replication_stats`). Pending counts are taken at each uploader
/// pass (every 500 ms, and at `viz_collector_sync`); the last error reaches the
/// error callback.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct viz_replication_stats {
    /// Segments this process uploaded.
    pub segments_uploaded: u64,
    /// Their bytes.
    pub bytes_uploaded: u64,
    /// Segments in staging not yet in the store (the active one included).
    pub segments_pending: u64,
    /// Their bytes.
    pub bytes_pending: u64,
    /// Age in milliseconds of the oldest pending segment (0: none).
    pub oldest_pending_ms: u64,
    /// Requests the store answered with success.
    pub uploads: u64,
    /// Passes that failed and will be retried.
    pub failures: u64,
    /// 1 if the last pass failed (the store unreachable or refusing), else 0.
    pub failing: u32,
}

impl From<&ReplicationStats> for viz_replication_stats {
    fn from(s: &ReplicationStats) -> viz_replication_stats {
        viz_replication_stats {
            segments_uploaded: s.segments_uploaded,
            bytes_uploaded: s.bytes_uploaded,
            segments_pending: s.segments_pending,
            bytes_pending: s.bytes_pending,
            oldest_pending_ms: s.oldest_pending_ms,
            uploads: s.uploads,
            failures: s.failures,
            failing: u32::from(s.last_error.is_some()),
        }
    }
}

/// Writes destination `index`'s replication status to `*out`. Fails with
/// `VIZ_STATUS_UNSUPPORTED` if that destination does not replicate to an object
/// store, and `VIZ_STATUS_INVALID_ARGUMENT` if the index is out of range.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `collector` must be NULL or a live handle; `out` NULL or valid for writing a
/// `viz_replication_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_replication_stats(
    collector: *const viz_collector,
    index: usize,
    out: *mut viz_replication_stats,
) -> viz_status {
    guard("viz_collector_replication_stats", || {
        // SAFETY: handle and out-pointer as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let stats = c.stats();
        let d = destination_at(&stats, index)?;
        let Some(replication) = &d.replication else {
            return Err(VizError::new(
                crate::ErrorKind::Unsupported,
                format!("{} does not replicate to an object store", d.name),
            )
            .into());
        };
        unsafe { write_out(out, viz_replication_stats::from(replication), "out") }
    })
}
