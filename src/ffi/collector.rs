//! Collector handles: create from a JSON config, collect scalars, flush, read
//! statistics, close.

use std::ffi::c_char;
use std::time::Duration;

use super::boundary::{Failure, Handle, c_str, guard, write_out};
use super::status::viz_status;
use super::storage::{lend, viz_storage};
use crate::backend::shared::SharedBackend;
use crate::collector::{Collector, CollectorSpec};
use crate::error::VizError;
use crate::tag::{Tag, TagId};

/// An event collector with its background threads and backends. Opaque.
///
/// Create with `viz_collector_new`; free with `viz_collector_close`, which also
/// flushes and stops it. Every other function may be called from any number of
/// threads at once; `viz_collector_close` must not race them.
pub struct viz_collector {
    _private: [u8; 0],
}

impl Handle for viz_collector {
    type Rust = Collector;
}

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

/// A collector from a JSON spec, with lent storage instances as its first
/// destinations; the JSON's `backends` may then be omitted.
fn build(json: &str, storages: Vec<SharedBackend>) -> Result<Collector, VizError> {
    let spec = CollectorSpec::from_json(json)?;
    if spec.backends.is_empty() && storages.is_empty() {
        return Err(VizError::invalid_config(
            "the config lists no backends: give at least one in \"backends\" (or a storage handle)",
        ));
    }
    let start = spec.start;
    // Lent storages come first, so their indexes are 0..n; the spec's follow.
    let mut builder = Collector::builder().config(spec.config.clone());
    for storage in storages {
        builder = builder.backend(storage);
    }
    for (storage, route) in spec.backends {
        builder = builder.backend_config(storage).route(route);
    }
    let collector = builder.build()?;
    if start {
        collector.start()?;
    }
    Ok(collector)
}

/// Creates and starts a collector from a JSON config:
///
/// ```json
/// {"collector": {"batch_size": 1000, "strategy": "hybrid", "flush_interval_ms": 1000},
///  "backends": ["memory://",
///               {"url": "memory://?capacity=1000", "kinds": ["scalar"], "tag_prefixes": ["train/"]}]}
/// ```
///
/// `collector` takes the fields of the Rust `CollectorConfig` (all optional);
/// unknown fields are errors. On success `*out` receives the handle; on failure
/// `*out` is left untouched and the message names what is wrong.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `config_json` must be NULL or a NUL-terminated string; `out` must be NULL or
/// valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_new(
    config_json: *const c_char,
    out: *mut *mut viz_collector,
) -> viz_status {
    guard("viz_collector_new", || {
        // SAFETY: the host passes a NUL-terminated string, per the header.
        let json = unsafe { c_str(config_json, "config_json") }?;
        if out.is_null() {
            return Err(Failure::null("out"));
        }
        let collector = build(json, Vec::new())?;
        // SAFETY: `out` is non-NULL and writable, per the header.
        unsafe { write_out(out, viz_collector::into_raw(Box::new(collector)), "out") }
    })
}

/// Like `viz_collector_new`, with `n` storage handles as the first destinations
/// (numbered 0 to n-1 for `viz_get_events`; the config's `backends`, which may then
/// be omitted, follow). The collector delivers to the very instances behind the
/// handles, so reads through them see its events. It does not shut them down:
/// stopping flushes them, and they stay open for their handles.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// As `viz_collector_new`; `storages` NULL (with `n` 0) or valid for `n` live
/// storage handles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_new_with_storage(
    config_json: *const c_char,
    storages: *const *const viz_storage,
    n: usize,
    out: *mut *mut viz_collector,
) -> viz_status {
    guard("viz_collector_new_with_storage", || {
        // SAFETY: the host passes a NUL-terminated string, per the header.
        let json = unsafe { c_str(config_json, "config_json") }?;
        if out.is_null() {
            return Err(Failure::null("out"));
        }
        // SAFETY: per the header's contract.
        let lent = unsafe { lend(storages, n) }?;
        let collector = build(json, lent)?;
        // SAFETY: `out` is non-NULL and writable, per the header.
        unsafe { write_out(out, viz_collector::into_raw(Box::new(collector)), "out") }
    })
}

/// Starts a collector created with `"start": false`. Events collected before are
/// delivered once it runs. A stopped collector cannot restart:
/// `VIZ_STATUS_CLOSED`; create a new one.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `collector` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_start(collector: *const viz_collector) -> viz_status {
    guard("viz_collector_start", || {
        // SAFETY: handle as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        Ok(c.start()?)
    })
}

/// Stops accepting events, delivers and flushes what was collected, shuts the
/// backends down and joins the threads, waiting at most `timeout_ms`. The handle
/// stays valid (collects then fail with `VIZ_STATUS_CLOSED`) until
/// `viz_collector_close`.
///
/// Thread safety: safe from any thread except a backend callback's own thread.
///
/// # Safety
/// `collector` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_stop(
    collector: *const viz_collector,
    timeout_ms: u32,
) -> viz_status {
    guard("viz_collector_stop", || {
        // SAFETY: handle as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        Ok(c.stop(Duration::from_millis(timeout_ms.into()))?)
    })
}

/// Whether the collector is started and not stopped. False for NULL.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `collector` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_is_running(collector: *const viz_collector) -> bool {
    let mut running = false;
    guard("viz_collector_is_running", || {
        // SAFETY: handle as promised by the header.
        running = unsafe { viz_collector::borrow(collector, "collector") }?.is_running();
        Ok(())
    });
    running
}

/// Writes the number of events collected but not yet handed to the backends.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `collector` NULL or a live handle; `out` NULL or valid for writing a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_pending(
    collector: *const viz_collector,
    out: *mut usize,
) -> viz_status {
    guard("viz_collector_pending", || {
        // SAFETY: handle and out-pointer as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        unsafe { write_out(out, c.pending_event_count(), "out") }
    })
}

/// Flushes, stops and frees the collector, waiting at most `timeout_ms` for its
/// backends. The handle is consumed whatever the outcome, with one exception: called
/// from a backend callback on this collector's own delivery thread, it would wait
/// for itself, so it is refused with `VIZ_STATUS_UNSUPPORTED` and the handle stays
/// valid. A backend still busy at the deadline is abandoned on its thread and
/// reported as `VIZ_STATUS_TIMEOUT`.
///
/// Thread safety: must not race any other call on the same handle.
///
/// # Safety
/// `collector` must be NULL or a handle from `viz_collector_new` that has not been
/// closed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_close(
    collector: *mut viz_collector,
    timeout_ms: u32,
) -> viz_status {
    guard("viz_collector_close", || {
        // SAFETY: the handle came from viz_collector_new; checked before it is
        // consumed, so a refused close leaves it valid.
        unsafe { viz_collector::borrow(collector, "collector") }?
            .refuse_on_delivery_thread("close the collector")?;
        // SAFETY: as above; consumed here.
        let collector = unsafe { viz_collector::take(collector, "collector") }?;
        collector.stop(Duration::from_millis(timeout_ms.into()))?;
        Ok(())
    })
}

/// Interns `tag` (NUL-terminated UTF-8, 1 to 1024 bytes) and writes its id to
/// `*out_id`, for `viz_collect_scalar_id`. Ids are valid for the life of the process
/// and across collectors. Call once per tag, outside the hot loop.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `collector` must be NULL or a live handle; `tag` NULL or NUL-terminated;
/// `out_id` NULL or valid for writing a `uint32_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_tag_intern(
    collector: *const viz_collector,
    tag: *const c_char,
    out_id: *mut u32,
) -> viz_status {
    guard("viz_tag_intern", || {
        // SAFETY: handle and string as promised by the header.
        let _ = unsafe { viz_collector::borrow(collector, "collector") }?;
        let tag = Tag::new(unsafe { c_str(tag, "tag") }?)?;
        // SAFETY: `out_id` writable if non-NULL, per the header.
        unsafe { write_out(out_id, tag.id().as_u32(), "out_id") }
    })
}

/// Queues a scalar under a tag given as a string (interned on each call; prefer
/// `viz_collect_scalar_id` in hot loops). The wall time is stamped now.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `collector` must be NULL or a live handle; `tag` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collect_scalar(
    collector: *const viz_collector,
    tag: *const c_char,
    step: i64,
    value: f64,
) -> viz_status {
    guard("viz_collect_scalar", || {
        // SAFETY: handle and string as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let tag = Tag::new(unsafe { c_str(tag, "tag") }?)?;
        Ok(c.collect_scalar(tag.id(), step, value)?)
    })
}

/// The hot path: queues a scalar under an interned tag id. Takes no lock,
/// allocates nothing, makes no system call and does not wake the worker (unless
/// the queue is full under the Block policy). The wall time is stamped now.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `collector` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collect_scalar_id(
    collector: *const viz_collector,
    tag_id: u32,
    step: i64,
    value: f64,
) -> viz_status {
    guard("viz_collect_scalar_id", || {
        // SAFETY: handle as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        Ok(c.collect_scalar(TagId::from_u32(tag_id)?, step, value)?)
    })
}

/// Returns once every event collected before the call has reached every backend
/// and been flushed there, or `VIZ_STATUS_TIMEOUT` after `timeout_ms`.
///
/// Thread safety: safe from any thread except a backend callback's own thread
/// (refused with `VIZ_STATUS_UNSUPPORTED`: it would wait for itself).
///
/// # Safety
/// `collector` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_flush(collector: *const viz_collector, timeout_ms: u32) -> viz_status {
    guard("viz_flush", || {
        // SAFETY: handle as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        Ok(c.flush(Duration::from_millis(timeout_ms.into()))?)
    })
}

/// Writes a snapshot of the collector's counters to `*out`.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `collector` must be NULL or a live handle; `out` NULL or valid for writing a
/// `viz_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_stats(
    collector: *const viz_collector,
    out: *mut viz_stats,
) -> viz_status {
    guard("viz_collector_stats", || {
        // SAFETY: handle as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let s = c.stats();
        let stats = viz_stats {
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
            destinations: s.destinations.len() as u64,
        };
        // SAFETY: `out` writable if non-NULL, per the header.
        unsafe { write_out(out, stats, "out") }
    })
}

/// Writes destination `index`'s counters (0-based, in config order; `viz_stats`
/// says how many there are) to `*out`.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `collector` must be NULL or a live handle; `out` NULL or valid for writing a
/// `viz_destination_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_destination_stats(
    collector: *const viz_collector,
    index: usize,
    out: *mut viz_destination_stats,
) -> viz_status {
    guard("viz_collector_destination_stats", || {
        // SAFETY: handle as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let (d, name) = c.destination_stats(index)?;
        let stats = viz_destination_stats {
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
        };
        // SAFETY: `out` writable if non-NULL, per the header.
        unsafe { write_out(out, stats, "out") }
    })
}
