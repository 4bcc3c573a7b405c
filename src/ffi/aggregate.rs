//! `viz_aggregate_list` and `viz_bucket_list`: per-tag statistics and downsampled
//! step buckets, computed by a backend (`viz_collector_aggregate`,
//! `viz_collector_downsample` and their `viz_storage_` twins), owned by viz until
//! freed.

use std::ffi::{CString, c_char};

use super::boundary::{Failure, Handle, c_str, c_string, guard};
use super::collector::{QUERY_TIMEOUT, viz_collector};
use super::event_list::{EventList, viz_event_list};
use super::status::viz_status;
use super::storage::{viz_storage, with_storage};
use crate::query::{Aggregate, Bucket, Query};

/// One tag's scalar statistics. NaN values count in `count` only; `min`, `max` and
/// `mean` are NaN when every value was.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct viz_aggregate {
    /// The tag (NUL-terminated UTF-8), valid as long as the list.
    pub tag: *const c_char,
    /// Scalars selected.
    pub count: u64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean value.
    pub mean: f64,
    /// Step of the first scalar, in stored order.
    pub first_step: i64,
    /// Its value.
    pub first: f64,
    /// Step of the last scalar, in stored order.
    pub last_step: i64,
    /// Its value: the tag's latest.
    pub last: f64,
}

/// One step bucket of a downsampled series: the scalars with
/// `first_step <= step <= last_step`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct viz_bucket {
    /// First step the bucket covers.
    pub first_step: i64,
    /// Last step it covers.
    pub last_step: i64,
    /// Scalars in it (never 0: empty buckets are left out).
    pub count: u64,
    /// Smallest value (NaN values aside).
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean value.
    pub mean: f64,
}

/// Per-tag statistics, ordered by tag. Opaque; read with `viz_aggregate_list_len`
/// and `viz_aggregate_list_get`, free with `viz_aggregate_list_free`. Immutable.
pub struct viz_aggregate_list {
    _private: [u8; 0],
}

/// Downsampled buckets in step order. Opaque; read with `viz_bucket_list_len` and
/// `viz_bucket_list_get`, free with `viz_bucket_list_free`. Immutable.
pub struct viz_bucket_list {
    _private: [u8; 0],
}

/// The C rows and the tag strings they point to.
pub(crate) struct AggregateList {
    rows: Vec<viz_aggregate>,
    _tags: Vec<CString>,
}

// SAFETY: the rows only point into strings this struct owns and never mutates.
unsafe impl Send for AggregateList {}
// SAFETY: as above; the list is read-only.
unsafe impl Sync for AggregateList {}

impl AggregateList {
    pub(crate) fn of(aggregates: &[Aggregate]) -> AggregateList {
        let tags: Vec<CString> = aggregates.iter().map(|a| c_string(&a.tag)).collect();
        let rows = aggregates
            .iter()
            .zip(&tags)
            .map(|(a, tag)| viz_aggregate {
                tag: tag.as_ptr(),
                count: a.count,
                min: a.min,
                max: a.max,
                mean: a.mean,
                first_step: a.first.0,
                first: a.first.1,
                last_step: a.last.0,
                last: a.last.1,
            })
            .collect();
        AggregateList { rows, _tags: tags }
    }
}

impl Handle for viz_aggregate_list {
    type Rust = AggregateList;
}

impl Handle for viz_bucket_list {
    type Rust = Vec<viz_bucket>;
}

/// The C rows of downsampled buckets.
pub(crate) fn bucket_rows(buckets: &[Bucket]) -> Vec<viz_bucket> {
    buckets
        .iter()
        .map(|b| viz_bucket {
            first_step: b.first_step,
            last_step: b.last_step,
            count: b.count,
            min: b.min,
            max: b.max,
            mean: b.mean,
        })
        .collect()
}

/// Number of rows in an aggregate list (0 for NULL).
///
/// Thread safety: lists are immutable; any thread may read one.
///
/// # Safety
/// `list` must be NULL or a live list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_aggregate_list_len(list: *const viz_aggregate_list) -> usize {
    guard("viz_aggregate_list_len", || {
        // SAFETY: a live list, per the header.
        Ok(unsafe { viz_aggregate_list::borrow(list, "list") }?
            .rows
            .len())
    })
}

/// Row `index` of an aggregate list, valid until the list is freed; NULL when out
/// of range.
///
/// Thread safety: lists are immutable; any thread may read one.
///
/// # Safety
/// `list` must be NULL or a live list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_aggregate_list_get(
    list: *const viz_aggregate_list,
    index: usize,
) -> *const viz_aggregate {
    guard("viz_aggregate_list_get", || {
        // SAFETY: a live list, per the header.
        let list = unsafe { viz_aggregate_list::borrow(list, "list") }?;
        Ok(list
            .rows
            .get(index)
            .map_or(std::ptr::null(), |r| r as *const _))
    })
}

/// Frees an aggregate list. NULL is ignored.
///
/// Thread safety: must not race any other use of the same list.
///
/// # Safety
/// `list` must be NULL or a live list, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_aggregate_list_free(list: *mut viz_aggregate_list) {
    guard("viz_aggregate_list_free", || {
        if !list.is_null() {
            // SAFETY: a live list, consumed here, per the header.
            drop(unsafe { viz_aggregate_list::take(list, "list") }?);
        }
        Ok(())
    })
}

/// Number of buckets in a bucket list (0 for NULL).
///
/// Thread safety: lists are immutable; any thread may read one.
///
/// # Safety
/// `list` must be NULL or a live list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_bucket_list_len(list: *const viz_bucket_list) -> usize {
    guard("viz_bucket_list_len", || {
        // SAFETY: a live list, per the header.
        Ok(unsafe { viz_bucket_list::borrow(list, "list") }?.len())
    })
}

/// Bucket `index` of a bucket list, valid until the list is freed; NULL when out of
/// range.
///
/// Thread safety: lists are immutable; any thread may read one.
///
/// # Safety
/// `list` must be NULL or a live list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_bucket_list_get(
    list: *const viz_bucket_list,
    index: usize,
) -> *const viz_bucket {
    guard("viz_bucket_list_get", || {
        // SAFETY: a live list, per the header.
        let list = unsafe { viz_bucket_list::borrow(list, "list") }?;
        Ok(list.get(index).map_or(std::ptr::null(), |b| b as *const _))
    })
}

/// Frees a bucket list. NULL is ignored.
///
/// Thread safety: must not race any other use of the same list.
///
/// # Safety
/// `list` must be NULL or a live list, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_bucket_list_free(list: *mut viz_bucket_list) {
    guard("viz_bucket_list_free", || {
        if !list.is_null() {
            // SAFETY: a live list, consumed here, per the header.
            drop(unsafe { viz_bucket_list::take(list, "list") }?);
        }
        Ok(())
    })
}

/// The query a host passed: JSON, or every event for NULL.
///
/// # Safety
/// `json` must be NULL or NUL-terminated.
unsafe fn query_of(json: *const c_char) -> Result<Query, Failure> {
    if json.is_null() {
        return Ok(Query::all());
    }
    // SAFETY: NUL-terminated, per the caller's contract.
    Ok(Query::from_json(unsafe { c_str(json, "query_json") }?)?)
}

/// Per-tag statistics (count, min, max, mean, first and last) of the scalars that
/// backend `backend_index` of `collector` stores and `query_json` selects (a query
/// as for `viz_collector_query`, without order, offset or limit; NULL selects
/// every tag), ordered by tag; written to `*out`, to free with
/// `viz_aggregate_list_free`. The file:// log answers from its tag index, reading
/// only the records at the edges of each range. Flush first to include queued events.
///
/// Thread safety: safe from any thread except the queried backend's own callbacks.
///
/// # Safety
/// `collector` must be NULL or a live handle; `query_json` NULL or NUL-terminated;
/// `out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_aggregate(
    collector: *const viz_collector,
    backend_index: usize,
    query_json: *const c_char,
    out: *mut *mut viz_aggregate_list,
) -> viz_status {
    guard("viz_collector_aggregate", || {
        // SAFETY: per the header's contract.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let query = unsafe { query_of(query_json) }?;
        query.check_selection_only("an aggregate query")?;
        unsafe {
            viz_aggregate_list::create(out, || {
                let rows =
                    c.query_backend(backend_index, QUERY_TIMEOUT, move |b| b.aggregate(&query))??;
                Ok(AggregateList::of(&rows))
            })
        }
    })
}

/// The scalars that backend `backend_index` of `collector` stores and `query_json`
/// selects (as for `viz_collector_aggregate`), cut into `buckets` (1 to 65,536)
/// equal step ranges spanning `first_step..=last_step`, each non-empty one with its
/// count, min, max and mean: a plot of a million points reads a thousand. Written
/// to `*out`, to free with `viz_bucket_list_free`.
///
/// Thread safety: safe from any thread except the queried backend's own callbacks.
///
/// # Safety
/// As for `viz_collector_aggregate`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_downsample(
    collector: *const viz_collector,
    backend_index: usize,
    query_json: *const c_char,
    first_step: i64,
    last_step: i64,
    buckets: usize,
    out: *mut *mut viz_bucket_list,
) -> viz_status {
    guard("viz_collector_downsample", || {
        // SAFETY: per the header's contract.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let query = unsafe { query_of(query_json) }?;
        query.check_selection_only("a downsample query")?;
        unsafe {
            viz_bucket_list::create(out, || {
                let rows = c.query_backend(backend_index, QUERY_TIMEOUT, move |b| {
                    b.downsample(&query, first_step, last_step, buckets)
                })??;
                Ok(bucket_rows(&rows))
            })
        }
    })
}

/// The last stored event of each tag that backend `backend_index` of `collector`
/// stores and `query_json` selects (as for `viz_collector_aggregate`), ordered by
/// tag: "the latest value of each tag". Written to `*out`, to free with
/// `viz_event_list_free`.
///
/// Thread safety: safe from any thread except the queried backend's own callbacks.
///
/// # Safety
/// As for `viz_collector_aggregate`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_latest(
    collector: *const viz_collector,
    backend_index: usize,
    query_json: *const c_char,
    out: *mut *mut viz_event_list,
) -> viz_status {
    guard("viz_collector_latest", || {
        // SAFETY: per the header's contract.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let query = unsafe { query_of(query_json) }?;
        query.check_selection_only("a latest-value query")?;
        unsafe {
            viz_event_list::create(out, || {
                let events =
                    c.query_backend(backend_index, QUERY_TIMEOUT, move |b| b.latest(&query))??;
                Ok(EventList::of(events))
            })
        }
    })
}

/// `viz_collector_aggregate` over a storage handle's events.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `storage` NULL or a live handle; `query_json` NULL or NUL-terminated; `out` NULL
/// or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_aggregate(
    storage: *const viz_storage,
    query_json: *const c_char,
    out: *mut *mut viz_aggregate_list,
) -> viz_status {
    guard("viz_storage_aggregate", || {
        // SAFETY: per the header's contract.
        let query = unsafe { query_of(query_json) }?;
        unsafe {
            viz_aggregate_list::create(out, || {
                let rows = with_storage(storage, |b| Ok(b.aggregate(&query)?))?;
                Ok(AggregateList::of(&rows))
            })
        }
    })
}

/// `viz_collector_downsample` over a storage handle's events.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// As for `viz_storage_aggregate`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_downsample(
    storage: *const viz_storage,
    query_json: *const c_char,
    first_step: i64,
    last_step: i64,
    buckets: usize,
    out: *mut *mut viz_bucket_list,
) -> viz_status {
    guard("viz_storage_downsample", || {
        // SAFETY: per the header's contract.
        let query = unsafe { query_of(query_json) }?;
        unsafe {
            viz_bucket_list::create(out, || {
                let rows = with_storage(storage, |b| {
                    Ok(b.downsample(&query, first_step, last_step, buckets)?)
                })?;
                Ok(bucket_rows(&rows))
            })
        }
    })
}

/// `viz_collector_latest` over a storage handle's events.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// As for `viz_storage_aggregate`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_latest(
    storage: *const viz_storage,
    query_json: *const c_char,
    out: *mut *mut viz_event_list,
) -> viz_status {
    guard("viz_storage_latest", || {
        // SAFETY: per the header's contract.
        let query = unsafe { query_of(query_json) }?;
        unsafe {
            viz_event_list::create(out, || {
                let events = with_storage(storage, |b| Ok(b.latest(&query)?))?;
                Ok(EventList::of(events))
            })
        }
    })
}
