//! Reading stored events back: `viz_get_events` returns a result handle that owns
//! the events and their `viz_event` views until `viz_events_free`.

use std::collections::HashMap;
use std::ffi::CString;
use std::time::Duration;

use super::boundary::{Failure, Handle, guard, write_out};
use super::collector::viz_collector;
use super::event::{views_of, viz_event};
use super::status::viz_status;
use crate::event::Event;
use crate::tag::TagId;

/// Events read from a backend. Opaque; read with `viz_events_len` and
/// `viz_events_get`, free with `viz_events_free`. Immutable, so any thread may read it.
pub struct viz_events {
    _private: [u8; 0],
}

/// The events and the views that point into them (and into the strings), kept
/// together so the views stay valid for the handle's life.
pub(crate) struct EventsResult {
    views: Vec<viz_event>,
    _events: Vec<Event>,
    _tags: HashMap<TagId, CString>,
    _strings: Vec<CString>,
}

// SAFETY: the views only point into data this struct owns and never mutates.
unsafe impl Send for EventsResult {}
// SAFETY: as above; the result is read-only.
unsafe impl Sync for EventsResult {}

impl Handle for viz_events {
    type Rust = EventsResult;
}

/// Reads the events with `start_step <= step <= end_step` from the collector's
/// backend number `backend_index` (0-based, in config order), in stored order.
/// Events still queued are not included: call `viz_flush` first. Write-only backends
/// answer `VIZ_STATUS_UNSUPPORTED`. On success `*out` receives a handle to free with
/// `viz_events_free`.
///
/// Thread safety: safe from any thread except the queried backend's own callbacks.
///
/// # Safety
/// `collector` must be NULL or a live handle; `out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_get_events(
    collector: *const viz_collector,
    backend_index: usize,
    start_step: i64,
    end_step: i64,
    out: *mut *mut viz_events,
) -> viz_status {
    guard("viz_get_events", || {
        // SAFETY: per the header's contract.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        if out.is_null() {
            return Err(Failure::null("out"));
        }
        let events = c.query_backend(backend_index, Duration::from_secs(30), move |b| {
            b.get_events(start_step, end_step)
        })??;
        // SAFETY: `out` is non-NULL and writable, per the header.
        unsafe { write_out(out, viz_events::of(events), "out") }
    })
}

impl viz_events {
    /// A result handle owning `events`, for the host to free with `viz_events_free`.
    pub(crate) fn of(events: Vec<Event>) -> *mut viz_events {
        let (mut tags, mut strings) = (HashMap::new(), Vec::new());
        let views = views_of(&events, &mut tags, &mut strings);
        viz_events::into_raw(Box::new(EventsResult {
            views,
            _events: events,
            _tags: tags,
            _strings: strings,
        }))
    }
}

/// Number of events in a result (0 for NULL).
///
/// Thread safety: results are immutable; any thread may read one.
///
/// # Safety
/// `events` must be NULL or a live result handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_events_len(events: *const viz_events) -> usize {
    std::panic::catch_unwind(|| {
        // SAFETY: per the header's contract.
        unsafe { viz_events::borrow(events, "events") }.map_or(0, |r| r.views.len())
    })
    .unwrap_or(0)
}

/// Event number `index` of a result, or NULL if `events` is NULL or `index` is out of
/// range. The event and every pointer in it stay valid until `viz_events_free`.
///
/// Thread safety: results are immutable; any thread may read one.
///
/// # Safety
/// `events` must be NULL or a live result handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_events_get(
    events: *const viz_events,
    index: usize,
) -> *const viz_event {
    std::panic::catch_unwind(|| {
        // SAFETY: per the header's contract.
        unsafe { viz_events::borrow(events, "events") }
            .ok()
            .and_then(|r| r.views.get(index))
            .map_or(std::ptr::null(), |v| v as *const viz_event)
    })
    .unwrap_or(std::ptr::null())
}

/// Frees a result from `viz_get_events`. NULL is ignored.
///
/// Thread safety: must not race any other use of the same result.
///
/// # Safety
/// `events` must be NULL or a live result handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_events_free(events: *mut viz_events) {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: per the header's contract.
        drop(unsafe { viz_events::take(events, "events") });
    });
}

/// Where a host backend's `get_events` callback puts the events it read. Opaque;
/// valid only during that callback.
pub struct viz_event_sink {
    _private: [u8; 0],
}

impl Handle for viz_event_sink {
    type Rust = Vec<Event>;
}

/// Adds one event to a sink, from inside a host backend's `get_events` callback.
/// The event is validated and copied, as by `viz_collect`.
///
/// Thread safety: only on the thread running the callback that got the sink.
///
/// # Safety
/// `sink` must be the sink passed to the running callback; `event` NULL or a valid
/// `viz_event` whose pointers satisfy the contract of its kind.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_event_sink_push(
    sink: *mut viz_event_sink,
    event: *const viz_event,
) -> viz_status {
    guard("viz_event_sink_push", || {
        // SAFETY: per the header's contract the sink is live and ours alone here.
        let events =
            unsafe { sink.cast::<Vec<Event>>().as_mut() }.ok_or_else(|| Failure::null("sink"))?;
        let e = unsafe { event.as_ref() }.ok_or_else(|| Failure::null("event"))?;
        let mut event = unsafe { super::event::to_event(e) }?;
        if event.wall_time.is_none() {
            event.wall_time = Some(0.0);
        }
        events.push(event);
        Ok(())
    })
}

/// Runs a host `get_events` callback with a fresh sink and returns what it pushed.
pub(crate) fn read_through(call: impl FnOnce(*mut viz_event_sink) -> u32) -> (u32, Vec<Event>) {
    let mut events: Vec<Event> = Vec::new();
    let status = call((&mut events as *mut Vec<Event>).cast());
    (status, events)
}
