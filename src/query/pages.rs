//! A query's answer read a page at a time: the Rust form of a cursor.
//!
//! Where the backend finds a page without reading what precedes it
//! ([`crate::StorageBackend::pages_cheaply`]: the file:// tag index, for queries
//! without a value or wall-time condition) each page is fetched when asked for, so no
//! more than one page is held; elsewhere the whole answer is read at once. Pages
//! fetched lazily see the backend as it is then: events stored meanwhile may
//! appear in later pages.

use super::Query;
use crate::error::Result;
use crate::event::Event;

/// Fetches one page of a query's answer: the query with its offset moved on and
/// a page-sized limit.
pub type PageFetch = Box<dyn FnMut(Query) -> Result<Vec<Event>> + Send>;

/// A query's answer, handed out a page at a time.
pub enum Pages {
    /// The whole answer, read at once.
    Held(std::vec::IntoIter<Event>),
    /// Pages fetched as they are asked for.
    Fetched {
        /// The query.
        query: Query,
        /// Results handed out so far.
        taken: usize,
        /// Fetches a page.
        fetch: PageFetch,
        /// Whether the last page came back short (the answer is exhausted).
        done: bool,
    },
}

impl Pages {
    /// An answer already read.
    pub fn held(events: Vec<Event>) -> Pages {
        Pages::Held(events.into_iter())
    }

    /// `query`'s answer, fetched a page at a time through `fetch`.
    pub fn fetched(query: Query, fetch: PageFetch) -> Pages {
        Pages::Fetched {
            query,
            taken: 0,
            fetch,
            done: false,
        }
    }

    /// The next at most `max` results; an empty page means the end.
    pub fn next_page(&mut self, max: usize) -> Result<Vec<Event>> {
        match self {
            Pages::Held(rest) => Ok(rest.by_ref().take(max).collect()),
            Pages::Fetched {
                query,
                taken,
                fetch,
                done,
            } => {
                let left = query.limit.map_or(usize::MAX, |l| l - *taken);
                if *done || left == 0 || max == 0 {
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

    /// An iterator over the results, fetching `page` at a time; an error ends it.
    pub fn into_iter(self, page: usize) -> PageIter {
        PageIter {
            pages: self,
            page: page.max(1),
            buffer: Vec::new().into_iter(),
            failed: false,
        }
    }
}

/// The results of [`Pages`] one at a time (see [`Pages::into_iter`]).
pub struct PageIter {
    pages: Pages,
    page: usize,
    buffer: std::vec::IntoIter<Event>,
    failed: bool,
}

impl Iterator for PageIter {
    type Item = Result<Event>;

    fn next(&mut self) -> Option<Result<Event>> {
        if let Some(e) = self.buffer.next() {
            return Some(Ok(e));
        }
        if self.failed {
            return None;
        }
        match self.pages.next_page(self.page) {
            Ok(events) => {
                self.buffer = events.into_iter();
                self.buffer.next().map(Ok)
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
