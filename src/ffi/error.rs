//! Reading the calling thread's last error message.

use std::ffi::c_char;

use super::boundary::with_last_error;

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
    std::panic::catch_unwind(|| {
        with_last_error(|message| {
            let bytes = message.as_bytes();
            if !buf.is_null() && len > 0 {
                let n = bytes.len().min(len - 1);
                // SAFETY: the caller gives `len` writable bytes at `buf`; n < len.
                unsafe {
                    std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
                    buf.add(n).write(0);
                }
            }
            bytes.len()
        })
    })
    .unwrap_or(0)
}
