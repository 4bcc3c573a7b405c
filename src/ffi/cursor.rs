//! `viz_cursor`: the answer to a query, handed out in batches with
//! `viz_cursor_next`, so a large result crosses the boundary a page at a time.
//!
//! Where the backend finds a page without reading what comes before it (the
//! file:// tag index, for queries without a value or wall-time condition), the
//! cursor fetches each page from the backend when asked, so no more than one page
//! is ever held; elsewhere it holds the whole answer, read at once. A paged cursor
//! reads the backend as it is when each page is fetched: events stored meanwhile may
//! appear in later pages.

use super::boundary::{Handle, guard};
use super::event_list::{EventList, viz_event_list};
use super::status::viz_status;
use crate::error::{Result, VizError};
use crate::event::Event;
use crate::limits;
use crate::query::Query;

/// The results of a query, read in batches with `viz_cursor_next` and freed with
/// `viz_cursor_free`. Opaque. One thread at a time may use a cursor.
pub struct viz_cursor {
    _private: [u8; 0],
}

/// Fetches one page of a query's answer: the query with its offset moved on and
/// a page-sized limit.
pub(crate) type PageFetch = Box<dyn FnMut(Query) -> Result<Vec<Event>> + Send>;

/// The events still to hand out.
pub(crate) enum Cursor {
    /// The whole answer, read at once.
    Held(std::vec::IntoIter<Event>),
    /// Pages fetched as they are asked for.
    Paged {
        query: Query,
        /// Results handed out so far.
        taken: usize,
        fetch: PageFetch,
        done: bool,
    },
}

impl Cursor {
    pub(crate) fn of(events: Vec<Event>) -> Cursor {
        Cursor::Held(events.into_iter())
    }

    /// A cursor fetching `query`'s answer a page at a time through `fetch`.
    pub(crate) fn paged(query: Query, fetch: PageFetch) -> Cursor {
        Cursor::Paged {
            query,
            taken: 0,
            fetch,
            done: false,
        }
    }

    fn next(&mut self, max: usize) -> Result<Vec<Event>> {
        match self {
            Cursor::Held(rest) => Ok(rest.by_ref().take(max).collect()),
            Cursor::Paged {
                query,
                taken,
                fetch,
                done,
            } => {
                let left = query.limit.map_or(usize::MAX, |l| l - *taken);
                if *done || left == 0 {
                    return Ok(Vec::new());
                }
                let want = max.min(left);
                let mut page = query.clone();
                page.offset = query.offset.saturating_add(*taken);
                page.limit = Some(want);
                let events = fetch(page)?;
                *taken += events.len();
                *done = events.len() < want;
                Ok(events)
            }
        }
    }
}

impl Handle for viz_cursor {
    type Rust = Cursor;
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
        unsafe { viz_event_list::create(out, || Ok(EventList::of(cursor.next(max)?))) }
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
