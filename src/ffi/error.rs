//! Reading the calling thread's last error message.

use std::ffi::c_char;

use super::boundary::{copy_out, guard, with_last_error};

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
