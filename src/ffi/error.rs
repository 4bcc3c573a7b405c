//! Errors for the host: the calling thread's last error message, and the reports a
//! collector's error callback receives.

use std::ffi::{c_char, c_void};

use super::boundary::{c_string, copy_out, guard, with_last_error};
use super::status::viz_status;
use crate::collector::{ErrorCallback, ErrorReport};

/// Copies the calling thread's last error message into `buf` (at most `len - 1`
/// bytes, then a NUL) and returns the length the whole message needs, excluding
/// the NUL: call with `buf = NULL, len = 0` to size a buffer. Returns 0 if no call on
/// this thread has failed. Never fails.
///
/// Thread safety: reads only the calling thread's own message.
///
/// # Safety
/// `buf` must be NULL or valid for writing `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_last_error_message(buf: *mut c_char, len: usize) -> usize {
    guard("viz_last_error_message", || {
        // SAFETY: `buf` is NULL or writable for `len` bytes, per the header.
        Ok(with_last_error(|message| unsafe {
            copy_out(message, buf, len)
        }))
    })
}

/// A delivery failure or a warning, as a collector's error callback receives it.
/// Every pointer is valid only during the callback.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct viz_error_report {
    /// The destination, `<type>#<index>` (NUL-terminated).
    pub destination: *const c_char,
    /// What kind of failure.
    pub status: viz_status,
    /// What went wrong (NUL-terminated UTF-8).
    pub message: *const c_char,
    /// Events the failed call carried (0 for a warning).
    pub events: usize,
    /// Whether those events are kept for another attempt (false: they were dropped).
    pub will_retry: bool,
}

/// A collector's error callback: `userdata` first, then the report.
pub type viz_error_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, report: *const viz_error_report)>;

/// A host's error callback with its userdata; dropping the last reference runs the
/// finalizer, so it runs exactly once, when no delivery thread can call it any more.
struct HostErrorCallback {
    callback: unsafe extern "C" fn(userdata: *mut c_void, report: *const viz_error_report),
    userdata: *mut c_void,
    finalizer: Option<unsafe extern "C" fn(userdata: *mut c_void)>,
}

// SAFETY: viz only hands `userdata` back to the host's callback and finalizer, which
// the header tells the host run on viz's delivery threads.
unsafe impl Send for HostErrorCallback {}
// SAFETY: as above.
unsafe impl Sync for HostErrorCallback {}

impl HostErrorCallback {
    fn call(&self, report: &viz_error_report) {
        // SAFETY: the host's callback with its userdata; the report and the strings
        // it points to live through the call.
        unsafe { (self.callback)(self.userdata, report) };
    }
}

impl Drop for HostErrorCallback {
    fn drop(&mut self) {
        if let Some(finalizer) = self.finalizer {
            // SAFETY: the host's finalizer for its userdata, called once.
            unsafe { finalizer(self.userdata) };
        }
    }
}

/// The Rust error callback that calls a host's C one.
pub(crate) fn host_error_callback(
    callback: unsafe extern "C" fn(userdata: *mut c_void, report: *const viz_error_report),
    userdata: *mut c_void,
    finalizer: Option<unsafe extern "C" fn(userdata: *mut c_void)>,
) -> ErrorCallback {
    let host = HostErrorCallback {
        callback,
        userdata,
        finalizer,
    };
    std::sync::Arc::new(move |report: &ErrorReport| {
        let destination = c_string(&report.destination);
        let message = c_string(report.error.message());
        let c_report = viz_error_report {
            destination: destination.as_ptr(),
            status: viz_status::from(report.error.kind()),
            message: message.as_ptr(),
            events: report.events,
            will_retry: report.will_retry,
        };
        host.call(&c_report);
    })
}
