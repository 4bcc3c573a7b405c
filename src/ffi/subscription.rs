//! `viz_subscription`: a live watch on a collector (`viz_collector_subscribe`),
//! whose callback receives delivered events as `viz_event` views.

use std::collections::HashMap;
use std::ffi::{CString, c_char, c_void};

use super::boundary::{Handle, c_str, guard};
use super::collector::viz_collector;
use super::event::{views_of, viz_event};
use super::status::viz_status;
use crate::collector::Subscription;
use crate::event::Event;
use crate::query::Query;
use crate::tag::TagId;

/// A live watch on a collector. Opaque. Free with `viz_subscription_free`, which
/// cancels it; it may outlive its collector (it is then inactive).
pub struct viz_subscription {
    _private: [u8; 0],
}

impl Handle for viz_subscription {
    type Rust = Subscription;
}

/// A watch callback: `userdata` first, then the selected events of one delivered
/// batch, valid only during the call. Runs on the collector's "viz-watch" thread.
pub type viz_watch_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, events: *const viz_event, len: usize)>;

/// The host's callback with its userdata. Dropped when the watch thread can no
/// longer call it, which runs the finalizer exactly once.
struct HostWatcher {
    callback: unsafe extern "C" fn(userdata: *mut c_void, events: *const viz_event, len: usize),
    userdata: *mut c_void,
    finalizer: Option<unsafe extern "C" fn(userdata: *mut c_void)>,
    /// NUL-terminated copies of the tags seen, kept across calls.
    tags: HashMap<TagId, CString>,
}

// SAFETY: viz only hands `userdata` to the host's callback and finalizer, which the
// header says run on viz's watch thread (or the thread that cancels).
unsafe impl Send for HostWatcher {}

impl HostWatcher {
    fn call(&mut self, events: &[Event]) {
        let mut strings = Vec::new();
        let views = views_of(events, &mut self.tags, &mut strings);
        // SAFETY: the host's callback with its userdata; the views and what they
        // point to live through the call.
        unsafe { (self.callback)(self.userdata, views.as_ptr(), views.len()) };
    }
}

impl Drop for HostWatcher {
    fn drop(&mut self) {
        if let Some(finalizer) = self.finalizer {
            // SAFETY: the host's finalizer for its userdata, called once.
            unsafe { finalizer(self.userdata) };
        }
    }
}

/// Watches `collector` live: `callback(userdata, events, len)` receives, on the
/// collector's "viz-watch" thread, the events of each delivered batch that
/// `filter_json` selects (a query, as for `viz_collector_query`, without order,
/// offset or limit; NULL selects everything). Writes the subscription to `*out`.
/// Any number may watch at once, subscribed before or while the collector runs.
/// A slow callback never slows the collector: batches it falls behind on are
/// dropped for watchers only (`viz_subscription_dropped`). After
/// `viz_collector_stop` returns, every watcher has seen every batch delivered before
/// it; subscribing to a stopped collector fails with `VIZ_STATUS_CLOSED`.
///
/// `finalizer(userdata)`, if not NULL, runs exactly once, when the callback can no
/// longer be called: after `viz_subscription_free` (once a call in progress has
/// returned), or when the collector is closed, whichever comes first; also at once
/// if this call fails.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `collector` must be NULL or a live handle; `filter_json` NULL or NUL-terminated;
/// `out` NULL or valid for writing a pointer; `callback` and `finalizer` callable
/// from another thread with `userdata`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_subscribe(
    collector: *const viz_collector,
    filter_json: *const c_char,
    callback: viz_watch_callback,
    userdata: *mut c_void,
    finalizer: Option<unsafe extern "C" fn(userdata: *mut c_void)>,
    out: *mut *mut viz_subscription,
) -> viz_status {
    // Owned from the start, so the finalizer runs on every failure path too.
    let host = callback.map(|callback| HostWatcher {
        callback,
        userdata,
        finalizer,
        tags: HashMap::new(),
    });
    guard("viz_collector_subscribe", move || {
        let Some(mut host) = host else {
            if let Some(finalizer) = finalizer {
                // SAFETY: the host's finalizer, called once, as documented.
                unsafe { finalizer(userdata) };
            }
            return Err(super::boundary::Failure::null("callback"));
        };
        // SAFETY: per the header's contract.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let filter = if filter_json.is_null() {
            Query::all()
        } else {
            // SAFETY: NUL-terminated, per the header.
            Query::from_json(unsafe { c_str(filter_json, "filter_json") }?)?
        };
        // SAFETY: `out` as promised by the header.
        unsafe {
            viz_subscription::create(out, move || {
                Ok(c.subscribe(filter, move |events: &[Event]| host.call(events))?)
            })
        }
    })
}

/// Events handed to the subscription's callback so far. 0 for NULL.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `subscription` must be NULL or a live subscription.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_subscription_delivered(subscription: *const viz_subscription) -> u64 {
    guard("viz_subscription_delivered", || {
        // SAFETY: per the header's contract.
        Ok(unsafe { viz_subscription::borrow(subscription, "subscription") }?.delivered())
    })
}

/// Events delivered to the backends while the subscription was active but not to
/// its callback, because the watch thread had fallen behind. 0 for NULL.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `subscription` must be NULL or a live subscription.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_subscription_dropped(subscription: *const viz_subscription) -> u64 {
    guard("viz_subscription_dropped", || {
        // SAFETY: per the header's contract.
        Ok(unsafe { viz_subscription::borrow(subscription, "subscription") }?.dropped())
    })
}

/// Whether the callback may still be called: false after it panicked, or once the
/// collector is closed or stopped for good. False for NULL.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `subscription` must be NULL or a live subscription.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_subscription_is_active(subscription: *const viz_subscription) -> bool {
    guard("viz_subscription_is_active", || {
        // SAFETY: per the header's contract.
        Ok(unsafe { viz_subscription::borrow(subscription, "subscription") }?.is_active())
    })
}

/// Cancels and frees a subscription: once it returns, the callback is not running
/// and is not called again (it waits for a call in progress; called from the
/// callback itself, that call finishes normally). The finalizer runs once no thread
/// holds the callback any more. NULL is ignored.
///
/// Thread safety: must not race any other use of the same subscription.
///
/// # Safety
/// `subscription` must be NULL or a live subscription, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_subscription_free(subscription: *mut viz_subscription) {
    guard("viz_subscription_free", || {
        if !subscription.is_null() {
            // SAFETY: a live subscription, consumed here, per the header.
            drop(unsafe { viz_subscription::take(subscription, "subscription") }?);
        }
        Ok(())
    })
}
