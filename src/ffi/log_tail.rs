//! `viz_log_tail`: follows a file:// log that another process (or collector) is
//! writing, handing out the records after a log offset in order, across segment
//! rolls.

use std::ffi::c_char;

use super::boundary::{Handle, c_str, guard};
use super::event_list::{EventList, viz_event_list};
use super::status::viz_status;
use crate::error::VizError;
use crate::format::vizlog::Tail;
use crate::limits;

/// A position in a file:// log, moving forward as records are read. Opaque. One
/// thread at a time may use a tail.
pub struct viz_log_tail {
    _private: [u8; 0],
}

/// The tail and the damage it skipped.
pub(crate) struct LogTail {
    tail: Tail,
    damage: u64,
}

impl Handle for viz_log_tail {
    type Rust = LogTail;
}

/// Opens a tail of the file:// log in directory `dir` (a path, not a URL) at log
/// offset `offset`: 0 for the first record ever written, `UINT64_MAX` for the end
/// (only what is written from now on). The log is only read, so a collector or
/// another process may be writing it. Writes the tail to `*out`.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `dir` must be NULL or NUL-terminated; `out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_log_tail_open(
    dir: *const c_char,
    offset: u64,
    out: *mut *mut viz_log_tail,
) -> viz_status {
    guard("viz_log_tail_open", || {
        // SAFETY: per the header's contract.
        let dir = unsafe { c_str(dir, "dir") }?;
        unsafe {
            viz_log_tail::create(out, || {
                Ok(LogTail {
                    tail: Tail::from_offset(dir, offset)?,
                    damage: 0,
                })
            })
        }
    })
}

/// Hands out the next at most `max` records (1 to 1,048,576) as a list for
/// `viz_event_list_len`/`_get`, to free with `viz_event_list_free`. An empty list
/// means nothing new yet: call again later. Damaged records are skipped, counted
/// in `viz_log_tail_damage`, and described on standard error when
/// `VIZ_WARNINGS=stderr`.
///
/// Thread safety: one thread at a time per tail.
///
/// # Safety
/// `tail` must be NULL or a live tail; `out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_log_tail_next(
    tail: *mut viz_log_tail,
    max: usize,
    out: *mut *mut viz_event_list,
) -> viz_status {
    guard("viz_log_tail_next", || {
        // SAFETY: per the header's contract, the tail is live and ours alone.
        let t = unsafe { viz_log_tail::borrow_mut(tail, "tail") }?;
        if max == 0 {
            return Err(VizError::invalid_argument("max is 0; ask for at least 1 event").into());
        }
        limits::at_most_arg("max", max, limits::MAX_BATCH_EVENTS)?;
        // SAFETY: `out` as promised by the header.
        unsafe {
            viz_event_list::create(out, || {
                let read = t.tail.next(max)?;
                for problem in &read.problems {
                    crate::error::warn_on_stderr(problem);
                }
                t.damage += read.problems.len() as u64;
                Ok(EventList::of(read.events))
            })
        }
    })
}

/// The log offset of the next record the tail will hand out (0 for NULL): save it
/// to resume later with `viz_log_tail_open`.
///
/// Thread safety: one thread at a time per tail.
///
/// # Safety
/// `tail` must be NULL or a live tail.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_log_tail_offset(tail: *const viz_log_tail) -> u64 {
    guard("viz_log_tail_offset", || {
        // SAFETY: per the header's contract.
        Ok(unsafe { viz_log_tail::borrow(tail, "tail") }?.tail.offset())
    })
}

/// Damaged records and stretches the tail has skipped so far (0 for NULL).
///
/// Thread safety: one thread at a time per tail.
///
/// # Safety
/// `tail` must be NULL or a live tail.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_log_tail_damage(tail: *const viz_log_tail) -> u64 {
    guard("viz_log_tail_damage", || {
        // SAFETY: per the header's contract.
        Ok(unsafe { viz_log_tail::borrow(tail, "tail") }?.damage)
    })
}

/// Frees a tail. NULL is ignored.
///
/// Thread safety: must not race any other use of the same tail.
///
/// # Safety
/// `tail` must be NULL or a live tail, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_log_tail_free(tail: *mut viz_log_tail) {
    guard("viz_log_tail_free", || {
        if !tail.is_null() {
            // SAFETY: a live tail, consumed here, per the header.
            drop(unsafe { viz_log_tail::take(tail, "tail") }?);
        }
        Ok(())
    })
}
