//! `viz_event_list`: events read back from a backend, owned by viz until
//! `viz_event_list_free`, read with `viz_event_list_len` and `viz_event_list_get`.

use std::collections::HashMap;
use std::ffi::CString;

use super::boundary::{Handle, guard};
use super::event::{views_of, viz_event};
use crate::event::Event;
use crate::tag::TagId;

/// Events read from a backend. Opaque; read with `viz_event_list_len` and
/// `viz_event_list_get`, free with `viz_event_list_free`. Immutable, so any thread
/// may read it.
pub struct viz_event_list {
    _private: [u8; 0],
}

/// The former name of `viz_event_list`. Deprecated: kept for ABI version 4 only.
pub type viz_events = viz_event_list;

/// The events and the views that point into them (and into the strings), kept
/// together so the views stay valid for the handle's life.
pub(crate) struct EventList {
    views: Vec<viz_event>,
    _events: Vec<Event>,
    _tags: HashMap<TagId, CString>,
    _strings: Vec<CString>,
}

// SAFETY: the views only point into data this struct owns and never mutates.
unsafe impl Send for EventList {}
// SAFETY: as above; the list is read-only.
unsafe impl Sync for EventList {}

impl Handle for viz_event_list {
    type Rust = EventList;
}

impl EventList {
    /// A list owning `events`, with their `viz_event` views.
    pub(crate) fn of(events: Vec<Event>) -> EventList {
        let (mut tags, mut strings) = (HashMap::new(), Vec::new());
        let views = views_of(&events, &mut tags, &mut strings);
        EventList {
            views,
            _events: events,
            _tags: tags,
            _strings: strings,
        }
    }
}

/// Number of events in a list (0 for NULL).
///
/// Thread safety: lists are immutable; any thread may read one.
///
/// # Safety
/// `list` must be NULL or a live list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_event_list_len(list: *const viz_event_list) -> usize {
    guard("viz_event_list_len", || {
        // SAFETY: per the header's contract.
        Ok(unsafe { viz_event_list::borrow(list, "list") }?.views.len())
    })
}

/// Event number `index` of a list, or NULL if `list` is NULL or `index` is out of
/// range. The event and every pointer in it stay valid until `viz_event_list_free`.
///
/// Thread safety: lists are immutable; any thread may read one.
///
/// # Safety
/// `list` must be NULL or a live list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_event_list_get(
    list: *const viz_event_list,
    index: usize,
) -> *const viz_event {
    guard("viz_event_list_get", || {
        // SAFETY: per the header's contract.
        let list = unsafe { viz_event_list::borrow(list, "list") }?;
        Ok(list
            .views
            .get(index)
            .map_or(std::ptr::null(), |v| v as *const viz_event))
    })
}

/// Frees a list. NULL is ignored.
///
/// Thread safety: must not race any other use of the same list.
///
/// # Safety
/// `list` must be NULL or a live list, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_event_list_free(list: *mut viz_event_list) {
    guard("viz_event_list_free", || {
        if !list.is_null() {
            // SAFETY: a live list, consumed here, per the header.
            drop(unsafe { viz_event_list::take(list, "list") }?);
        }
        Ok(())
    })
}

/// Deprecated alias of `viz_event_list_len`, kept for ABI version 4 only.
///
/// # Safety
/// As `viz_event_list_len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_events_len(events: *const viz_events) -> usize {
    // SAFETY: the same contract.
    unsafe { viz_event_list_len(events) }
}

/// Deprecated alias of `viz_event_list_get`, kept for ABI version 4 only.
///
/// # Safety
/// As `viz_event_list_get`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_events_get(
    events: *const viz_events,
    index: usize,
) -> *const viz_event {
    // SAFETY: the same contract.
    unsafe { viz_event_list_get(events, index) }
}

/// Deprecated alias of `viz_event_list_free`, kept for ABI version 4 only.
///
/// # Safety
/// As `viz_event_list_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_events_free(events: *mut viz_events) {
    // SAFETY: the same contract.
    unsafe { viz_event_list_free(events) }
}
