//! The process-wide read cache of file:// segment indexes (`format::vizlog::cache`):
//! its counters, and its capacity and time to live.

use std::time::Duration;

use super::boundary::{guard, write_out};
use super::status::viz_status;
use crate::format::vizlog::cache;
use crate::limits;

/// The read cache's counters, as `viz_read_cache_stats` writes them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct viz_cache_stats {
    /// Lookups answered from the cache (perhaps extended by new bytes).
    pub hits: u64,
    /// Lookups that loaded a sidecar or indexed a segment.
    pub misses: u64,
    /// Entries dropped for space or age.
    pub evictions: u64,
    /// Entries rebuilt because their segment changed under them.
    pub rebuilds: u64,
    /// Entries held now.
    pub entries: u64,
    /// Bytes held now (estimated).
    pub bytes: u64,
    /// The byte capacity.
    pub capacity: u64,
}

/// Writes the read cache's counters to `*out`. The cache holds the indexes of
/// file:// segments that queries, aggregates and run listings read, shared by every
/// reader in the process.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `out` must be NULL or valid for writing a `viz_cache_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_read_cache_stats(out: *mut viz_cache_stats) -> viz_status {
    guard("viz_read_cache_stats", || {
        let s = cache::stats();
        let stats = viz_cache_stats {
            hits: s.hits,
            misses: s.misses,
            evictions: s.evictions,
            rebuilds: s.rebuilds,
            entries: s.entries,
            bytes: s.bytes,
            capacity: s.capacity,
        };
        // SAFETY: per the header's contract.
        unsafe { write_out(out, stats, "out") }
    })
}

/// Sets the read cache's capacity in bytes (0 turns it off; default 256 MiB) and
/// how long an unused entry is kept (`ttl_ms`, 1 ms to 24 h; default 10 minutes);
/// applies at once, evicting what no longer fits.
///
/// Thread safety: safe from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn viz_read_cache_configure(capacity_bytes: u64, ttl_ms: u64) -> viz_status {
    guard("viz_read_cache_configure", || {
        let ttl = Duration::from_millis(ttl_ms);
        limits::duration("ttl_ms", ttl)?;
        cache::configure(usize::try_from(capacity_bytes).unwrap_or(usize::MAX), ttl);
        Ok(())
    })
}
