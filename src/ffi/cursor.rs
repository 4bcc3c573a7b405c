//! `viz_cursor`: the answer to a query, handed out in batches with
//! `viz_cursor_next`, so a large result crosses the boundary a page at a time.
//!
//! A cursor is a `query::Pages`: where the backend finds a page cheaply, each is
//! fetched when asked for; elsewhere the whole answer is held.

use super::boundary::{Handle, guard};
use super::event_list::{EventList, viz_event_list};
use super::status::viz_status;
use crate::error::VizError;
use crate::limits;
use crate::query::Pages;

/// The results of a query, read in batches with `viz_cursor_next` and freed with
/// `viz_cursor_free`. Opaque. One thread at a time may use a cursor.
pub struct viz_cursor {
    _private: [u8; 0],
}

impl Handle for viz_cursor {
    type Rust = Pages;
}

/// Hands out the next at most `max` results (1 to 1,048,576) as a list for
/// `viz_event_list_len`/`_get`, to free with `viz_event_list_free`. An empty list
/// means the results are exhausted.
///
/// Thread safety: one thread at a time per cursor.
///
/// # Safety
/// `cursor` must be NULL or a live cursor; `out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_cursor_next(
    cursor: *mut viz_cursor,
    max: usize,
    out: *mut *mut viz_event_list,
) -> viz_status {
    guard("viz_cursor_next", || {
        // SAFETY: per the header's contract, the cursor is live and ours alone.
        let cursor = unsafe { viz_cursor::borrow_mut(cursor, "cursor") }?;
        if max == 0 {
            return Err(VizError::invalid_argument("max is 0; ask for at least 1 event").into());
        }
        limits::at_most_arg("max", max, limits::MAX_BATCH_EVENTS)?;
        // SAFETY: `out` as promised by the header.
        unsafe { viz_event_list::create(out, || Ok(EventList::of(cursor.next_page(max)?))) }
    })
}

/// Frees a cursor. NULL is ignored.
///
/// Thread safety: must not race any other use of the same cursor.
///
/// # Safety
/// `cursor` must be NULL or a live cursor, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_cursor_free(cursor: *mut viz_cursor) {
    guard("viz_cursor_free", || {
        if !cursor.is_null() {
            // SAFETY: a live cursor, consumed here, per the header.
            drop(unsafe { viz_cursor::take(cursor, "cursor") }?);
        }
        Ok(())
    })
}
