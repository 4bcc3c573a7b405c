//! `viz_collector`: every function on a collector handle. Create it from a JSON spec
//! or typed settings, collect (the hot path is `viz_collector_collect_scalar_id`),
//! flush, read statistics and stored events, stop and close.

use std::ffi::{CString, c_char, c_void};
use std::time::Duration;

use super::boundary::{
    Failure, Handle, c_str, c_string, check_out, guard, read_in, slice, write_out,
};
use super::config::viz_collector_config;
use super::cursor::viz_cursor;
use super::error::{host_error_callback, viz_error_callback};
use super::event::{batch, to_event, viz_event};
use super::event_list::{EventList, viz_event_list};
use super::stats::{viz_destination_stats, viz_stats};
use super::status::viz_status;
use super::storage::{lend, viz_storage};
use crate::backend::shared::SharedBackend;
use crate::collector::{Collector, CollectorSpec};
use crate::config::CollectorConfig;
use crate::error::VizError;
use crate::query::Query;
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
    type Rust = CollectorHandle;
}

/// What a `viz_collector` handle owns: the collector, and what C needs besides it
/// (its destinations' names as C strings, valid as long as the handle).
pub(crate) struct CollectorHandle {
    collector: Collector,
    names: Vec<CString>,
}

impl CollectorHandle {
    fn new(collector: Collector) -> CollectorHandle {
        let names = collector
            .destination_names()
            .iter()
            .map(|n| c_string(n))
            .collect();
        CollectorHandle { collector, names }
    }
}

impl std::ops::Deref for CollectorHandle {
    type Target = Collector;

    fn deref(&self) -> &Collector {
        &self.collector
    }
}

/// How long `viz_collector_get_events` waits for the backend to answer.
pub(crate) const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// A collector from a JSON spec, with lent storage instances as its first
/// destinations; the JSON's `backends` may then be omitted.
fn build(json: &str, storages: Vec<SharedBackend>) -> Result<CollectorHandle, VizError> {
    let spec = CollectorSpec::from_json(json)?;
    if spec.backends.is_empty() && storages.is_empty() {
        return Err(VizError::invalid_config(
            "the config lists no backends: give at least one in \"backends\" (or a storage handle)",
        ));
    }
    let start = spec.start;
    if spec.storage_routes.len() > storages.len() {
        return Err(VizError::invalid_config(format!(
            "storage_routes has {} routes for {} storage handles",
            spec.storage_routes.len(),
            storages.len()
        )));
    }
    // Lent storages come first, so their indexes are 0..n; the spec's follow.
    let mut builder = Collector::builder().config(spec.config.clone());
    let mut routes = spec.storage_routes.into_iter();
    for storage in storages {
        builder = builder.backend(storage);
        if let Some(route) = routes.next() {
            builder = builder.route(route);
        }
    }
    for (storage, route) in spec.backends {
        builder = builder.backend_config(storage).route(route);
    }
    let collector = builder.build()?;
    if start {
        collector.start()?;
    }
    Ok(CollectorHandle::new(collector))
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
/// unknown fields are errors; `"start": false` creates it unstarted. On success
/// `*out` receives the handle; on failure `*out` is left untouched and the message
/// names what is wrong.
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
        // SAFETY: the host passes a NUL-terminated string and an out-pointer.
        let json = unsafe { c_str(config_json, "config_json") }?;
        unsafe { viz_collector::create(out, || Ok(build(json, Vec::new())?)) }
    })
}

/// Like `viz_collector_new`, with `n` storage handles as the first destinations
/// (numbered 0 to n-1 for `viz_collector_get_events`; the config's `backends`, which
/// may then be omitted, follow). The collector delivers to the very instances behind
/// the handles, so reads through them see its events. It does not shut them down:
/// stopping flushes them, and they stay open for their handles. The config's
/// `"storage_routes"` routes them, one entry per handle in order (`null` for every
/// event): `[{"kinds": ["scalar"], "tag_prefixes": ["train/"]}, null]`.
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
        // SAFETY: per the header's contract.
        let json = unsafe { c_str(config_json, "config_json") }?;
        check_out(out, "out")?;
        let lent = unsafe { lend(storages, n) }?;
        unsafe { viz_collector::create(out, || Ok(build(json, lent)?)) }
    })
}

/// Creates and starts a collector from typed settings (start from
/// `viz_collector_config_default`) and `backends_len` connection strings (such as
/// `"memory://"`). Errors name the bad field or backend.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `config` must be NULL or valid; `backends` NULL (with `backends_len` 0) or valid
/// for `backends_len` NUL-terminated strings; `out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_new_with(
    config: *const viz_collector_config,
    backends: *const *const c_char,
    backends_len: usize,
    out: *mut *mut viz_collector,
) -> viz_status {
    guard("viz_collector_new_with", || {
        // SAFETY: per the header's contract.
        let config = CollectorConfig::try_from(unsafe { read_in(config, "config") }?)?;
        check_out(out, "out")?;
        let urls = unsafe { slice(backends, backends_len, "backends") }?;
        let mut builder = Collector::builder().config(config);
        for (i, &url) in urls.iter().enumerate() {
            // SAFETY: each entry NULL or NUL-terminated, per the header.
            let url = unsafe { c_str(url, "connection string") }
                .map_err(|f| f.context(format_args!("backends[{i}]")))?;
            builder = builder.backend_url(url);
        }
        unsafe {
            viz_collector::create(out, || Ok(CollectorHandle::new(builder.build_and_start()?)))
        }
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
    guard("viz_collector_is_running", || {
        // SAFETY: handle as promised by the header.
        Ok(unsafe { viz_collector::borrow(collector, "collector") }?.is_running())
    })
}

/// Writes the number of events collected and not yet stored: queued, staged, and
/// waiting in the slowest destination's queue.
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
        Ok(collector.stop(Duration::from_millis(timeout_ms.into()))?)
    })
}

/// Interns `tag` (NUL-terminated UTF-8, 1 to 1024 bytes) and writes its id to
/// `*out_id`, for `viz_collector_collect_scalar_id`. Ids are valid for the life of
/// the process and across collectors. Call once per tag, outside the hot loop.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `collector` must be NULL or a live handle; `tag` NULL or NUL-terminated;
/// `out_id` NULL or valid for writing a `uint32_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_tag_intern(
    collector: *const viz_collector,
    tag: *const c_char,
    out_id: *mut u32,
) -> viz_status {
    guard("viz_collector_tag_intern", || {
        // SAFETY: handle, string and out-pointer as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let id = c.intern(unsafe { c_str(tag, "tag") }?)?;
        unsafe { write_out(out_id, id.as_u32(), "out_id") }
    })
}

/// Queues one event of any kind (see `viz_event`). An invalid event is rejected
/// with a message naming the field; nothing is queued then.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `collector` must be NULL or a live handle; `event` NULL or a valid `viz_event`
/// whose pointers satisfy the contract of its kind.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_collect(
    collector: *const viz_collector,
    event: *const viz_event,
) -> viz_status {
    guard("viz_collector_collect", || {
        // SAFETY: per the header's contract.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let e = unsafe { read_in(event, "event") }?;
        Ok(c.collect(unsafe { to_event(e) }?)?)
    })
}

/// Queues `len` events in order, stopping at the first that fails. `*accepted` (if
/// not NULL) receives how many were queued; on failure the status and message are
/// those of event number `*accepted`.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `collector` must be NULL or a live handle; `events` NULL (with `len` 0) or valid
/// for `len` events; `accepted` NULL or valid for writing a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_collect_batch(
    collector: *const viz_collector,
    events: *const viz_event,
    len: usize,
    accepted: *mut usize,
) -> viz_status {
    guard("viz_collector_collect_batch", || {
        // SAFETY: per the header's contract.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let events = unsafe { batch(events, len) }?;
        let mut done = 0usize;
        let result = events.iter().try_for_each(|e| {
            // SAFETY: each element satisfies the contract of its kind, per the header.
            c.collect(unsafe { to_event(e) }?)?;
            done += 1;
            Ok::<(), Failure>(())
        });
        if !accepted.is_null() {
            // SAFETY: non-NULL and writable, per the header.
            unsafe { write_out(accepted, done, "accepted") }?;
        }
        result.map_err(|f| f.context(format_args!("events[{done}]")))
    })
}

/// Queues a scalar under a tag given as a string (interned on each call; prefer
/// `viz_collector_collect_scalar_id` in hot loops). The wall time is stamped now.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `collector` must be NULL or a live handle; `tag` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_collect_scalar(
    collector: *const viz_collector,
    tag: *const c_char,
    step: i64,
    value: f64,
) -> viz_status {
    guard("viz_collector_collect_scalar", || {
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
pub unsafe extern "C" fn viz_collector_collect_scalar_id(
    collector: *const viz_collector,
    tag_id: u32,
    step: i64,
    value: f64,
) -> viz_status {
    guard("viz_collector_collect_scalar_id", || {
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
pub unsafe extern "C" fn viz_collector_flush(
    collector: *const viz_collector,
    timeout_ms: u32,
) -> viz_status {
    guard("viz_collector_flush", || {
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
        // SAFETY: handle and out-pointer as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        unsafe { write_out(out, viz_stats::from(&c.stats()), "out") }
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
        // SAFETY: handle and out-pointer as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let stats = c.stats();
        let d = destination_at(&stats, index)?;
        let name = c.names[index].as_ptr();
        unsafe { write_out(out, viz_destination_stats::of(d, name), "out") }
    })
}

/// Destination `index`'s counters in `stats`, or an error naming the range.
pub(crate) fn destination_at(
    stats: &crate::collector::CollectorStats,
    index: usize,
) -> Result<&crate::collector::DestinationStats, VizError> {
    stats.destinations.get(index).ok_or_else(|| {
        VizError::invalid_argument(format!(
            "destination index {index} is out of range; the collector has {}",
            stats.destinations.len()
        ))
    })
}

/// Reads the events with `start_step <= step <= end_step` from the collector's
/// backend number `backend_index` (0-based, in config order), in stored order.
/// Events still queued are not included: call `viz_collector_flush` first.
/// Write-only backends answer `VIZ_STATUS_UNSUPPORTED`. On success `*out` receives a
/// list to free with `viz_event_list_free`.
///
/// Thread safety: safe from any thread except the queried backend's own callbacks.
///
/// # Safety
/// `collector` must be NULL or a live handle; `out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_get_events(
    collector: *const viz_collector,
    backend_index: usize,
    start_step: i64,
    end_step: i64,
    out: *mut *mut viz_event_list,
) -> viz_status {
    guard("viz_collector_get_events", || {
        // SAFETY: per the header's contract.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        unsafe {
            viz_event_list::create(out, || {
                let events = c.query_backend(backend_index, QUERY_TIMEOUT, move |b| {
                    b.get_events(start_step, end_step)
                })??;
                Ok(EventList::of(events))
            })
        }
    })
}

/// Sets the collector's error callback: every delivery failure (a backend error,
/// with whether its events will be retried) and every warning (a recovered log tail,
/// say) is reported to `callback(userdata, report)`, on the destination's delivery
/// thread, besides `viz_collector_stats`' `last_error`. It replaces the callback set
/// before, whose `finalizer(userdata)` then runs once no thread is calling it; so
/// does this one's when it is replaced in turn or the collector is closed. A NULL
/// `callback` removes the current one (`userdata` and `finalizer` are then ignored).
/// Callbacks must not unwind, and may call viz except to flush or close this
/// collector.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `collector` must be NULL or a live handle; `callback` and `finalizer` safe to
/// call with `userdata` from viz's delivery threads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_on_error(
    collector: *const viz_collector,
    callback: viz_error_callback,
    userdata: *mut c_void,
    finalizer: Option<unsafe extern "C" fn(userdata: *mut c_void)>,
) -> viz_status {
    guard("viz_collector_on_error", || {
        // SAFETY: handle as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        c.set_on_error(callback.map(|cb| host_error_callback(cb, userdata, finalizer)));
        Ok(())
    })
}

/// Runs a query (JSON, see `Query::from_json`: tags, kinds, steps, wall time, a
/// `where` condition on values, order, offset, limit) against the collector's
/// backend number `backend_index`, and writes a cursor over the results to `*out`,
/// to read with `viz_cursor_next` and free with `viz_cursor_free`. Events still
/// queued are not included: call `viz_collector_flush` first. Over a file:// log
/// (without a `where` or wall-time condition) the cursor fetches each page when
/// asked, so a large answer is never held whole; events stored meanwhile may
/// appear in later pages, and once the collector is stopped the next page fails
/// with `VIZ_STATUS_CLOSED`. A bad query fails with
/// a message naming the field; a write-only backend with `VIZ_STATUS_UNSUPPORTED`.
///
/// Thread safety: safe from any thread except the queried backend's own callbacks.
///
/// # Safety
/// `collector` must be NULL or a live handle; `query_json` NULL or NUL-terminated;
/// `out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_query(
    collector: *const viz_collector,
    backend_index: usize,
    query_json: *const c_char,
    out: *mut *mut viz_cursor,
) -> viz_status {
    guard("viz_collector_query", || {
        // SAFETY: per the header's contract.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let query = Query::from_json(unsafe { c_str(query_json, "query_json") }?)?;
        query.validate()?;
        unsafe {
            viz_cursor::create(out, || {
                Ok(c.query_pages(backend_index, query, QUERY_TIMEOUT)?)
            })
        }
    })
}

/// Deprecated alias of `viz_collector_tag_intern`, kept for ABI version 4 only.
///
/// # Safety
/// As `viz_collector_tag_intern`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_tag_intern(
    collector: *const viz_collector,
    tag: *const c_char,
    out_id: *mut u32,
) -> viz_status {
    // SAFETY: the same contract.
    unsafe { viz_collector_tag_intern(collector, tag, out_id) }
}

/// Deprecated alias of `viz_collector_collect`, kept for ABI version 4 only.
///
/// # Safety
/// As `viz_collector_collect`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collect(
    collector: *const viz_collector,
    event: *const viz_event,
) -> viz_status {
    // SAFETY: the same contract.
    unsafe { viz_collector_collect(collector, event) }
}

/// Deprecated alias of `viz_collector_collect_batch`, kept for ABI version 4 only.
///
/// # Safety
/// As `viz_collector_collect_batch`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collect_batch(
    collector: *const viz_collector,
    events: *const viz_event,
    len: usize,
    accepted: *mut usize,
) -> viz_status {
    // SAFETY: the same contract.
    unsafe { viz_collector_collect_batch(collector, events, len, accepted) }
}

/// Deprecated alias of `viz_collector_collect_scalar`, kept for ABI version 4 only.
///
/// # Safety
/// As `viz_collector_collect_scalar`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collect_scalar(
    collector: *const viz_collector,
    tag: *const c_char,
    step: i64,
    value: f64,
) -> viz_status {
    // SAFETY: the same contract.
    unsafe { viz_collector_collect_scalar(collector, tag, step, value) }
}

/// Deprecated alias of `viz_collector_collect_scalar_id`, kept for ABI version 4 only.
///
/// # Safety
/// As `viz_collector_collect_scalar_id`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collect_scalar_id(
    collector: *const viz_collector,
    tag_id: u32,
    step: i64,
    value: f64,
) -> viz_status {
    // SAFETY: the same contract.
    unsafe { viz_collector_collect_scalar_id(collector, tag_id, step, value) }
}

/// Deprecated alias of `viz_collector_flush`, kept for ABI version 4 only.
///
/// # Safety
/// As `viz_collector_flush`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_flush(collector: *const viz_collector, timeout_ms: u32) -> viz_status {
    // SAFETY: the same contract.
    unsafe { viz_collector_flush(collector, timeout_ms) }
}

/// Deprecated alias of `viz_collector_get_events`, kept for ABI version 4 only.
///
/// # Safety
/// As `viz_collector_get_events`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_get_events(
    collector: *const viz_collector,
    backend_index: usize,
    start_step: i64,
    end_step: i64,
    out: *mut *mut viz_event_list,
) -> viz_status {
    // SAFETY: the same contract.
    unsafe { viz_collector_get_events(collector, backend_index, start_step, end_step, out) }
}
