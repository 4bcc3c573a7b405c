//! Storage handles: one backend instance, built-in or host-registered, used
//! directly (store, read, flush, count, clear) and lent to collectors with
//! `viz_collector_new_with_storage`, so a program reads the very instance its
//! collector writes. This is the seed's `IStorageBackend` as a C object.

use std::ffi::c_char;

use super::boundary::{Failure, Handle, c_str, guard, slice, write_out};
use super::cursor::viz_cursor;
use super::event::{batch, to_event, viz_event};
use super::event_list::{EventList, viz_event_list};
use super::status::viz_status;
use crate::backend::StorageBackend;
use crate::backend::shared::SharedBackend;
use crate::clock::{Clock, SystemClock};
use crate::factory::StorageBackendFactory;
use crate::query::{Pages, Query};

/// One storage backend instance. Opaque; create with `viz_storage_open`, release
/// with `viz_storage_free`. Calls on one handle may come from any threads: each
/// runs under the instance's lock, as do a collector's deliveries to it.
pub struct viz_storage {
    _private: [u8; 0],
}

impl Handle for viz_storage {
    type Rust = SharedBackend;
}

/// Opens a backend instance through the factory: of `backend_type` if not NULL,
/// else of the connection string's scheme (`"file:///runs/a"`, `"memory://"`, a
/// type registered with `viz_backend_register`, ...). On success `*out` receives
/// the handle.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `backend_type` NULL or NUL-terminated; `connection_string` NUL-terminated; `out`
/// NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_open(
    backend_type: *const c_char,
    connection_string: *const c_char,
    out: *mut *mut viz_storage,
) -> viz_status {
    guard("viz_storage_open", || {
        // SAFETY: strings and out-pointer as promised by the header.
        let url = unsafe { c_str(connection_string, "connection_string") }?;
        let backend_type = if backend_type.is_null() {
            None
        } else {
            Some(unsafe { c_str(backend_type, "backend_type") }?)
        };
        unsafe {
            viz_storage::create(out, || {
                let factory = StorageBackendFactory::global();
                let backend = match backend_type {
                    None => factory.create_url(url)?,
                    Some(kind) => factory.create(kind, url)?,
                };
                Ok(SharedBackend::new(backend))
            })
        }
    })
}

/// Borrows a storage handle and runs `f` on its backend, under its lock.
///
/// # Safety
/// `storage` must be NULL or a live handle.
pub(crate) unsafe fn with_storage<R>(
    storage: *const viz_storage,
    f: impl FnOnce(&mut dyn StorageBackend) -> Result<R, Failure>,
) -> Result<R, Failure> {
    // SAFETY: per the caller's contract.
    let shared = unsafe { viz_storage::borrow(storage, "storage") }?;
    shared.with(f)
}

/// Stores `len` events as one batch: all or (on failure) none. An event with
/// `wall_time` 0 is stamped now. An invalid event fails the call with a message
/// naming it (`events[i]`), before anything is stored.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `storage` NULL or a live handle; `events` NULL (with `len` 0) or valid for `len`
/// events whose pointers satisfy the contract of their kind.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_store(
    storage: *const viz_storage,
    events: *const viz_event,
    len: usize,
) -> viz_status {
    guard("viz_storage_store", || {
        // SAFETY: per the header's contract.
        let views = unsafe { batch(events, len) }?;
        let now = SystemClock::default().wall_time();
        let batch = views
            .iter()
            .enumerate()
            .map(|(i, e)| {
                // SAFETY: each element satisfies its kind's contract, per the header.
                let mut event =
                    unsafe { to_event(e) }.map_err(|f| f.context(format_args!("events[{i}]")))?;
                event.wall_time.get_or_insert(now);
                Ok(event)
            })
            .collect::<Result<Vec<_>, Failure>>()?;
        // SAFETY: handle as promised by the header.
        unsafe { with_storage(storage, |b| Ok(b.store_events(&batch)?)) }
    })
}

/// Reads the stored events with `start_step <= step <= end_step`, in stored order,
/// into a list for `viz_event_list_len`/`viz_event_list_get`/`viz_event_list_free`.
/// Write-only backends answer `VIZ_STATUS_UNSUPPORTED`.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `storage` NULL or a live handle; `out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_get_events(
    storage: *const viz_storage,
    start_step: i64,
    end_step: i64,
    out: *mut *mut viz_event_list,
) -> viz_status {
    guard("viz_storage_get_events", || {
        // SAFETY: handle and out-pointer as promised by the header.
        unsafe {
            viz_event_list::create(out, || {
                let events = with_storage(storage, |b| Ok(b.get_events(start_step, end_step)?))?;
                Ok(EventList::of(events))
            })
        }
    })
}

/// Runs a query (JSON, as for `viz_collector_query`) against the stored events and
/// writes a cursor over the results to `*out`, to read with `viz_cursor_next` and
/// free with `viz_cursor_free`.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `storage` NULL or a live handle; `query_json` NULL or NUL-terminated; `out` NULL
/// or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_query(
    storage: *const viz_storage,
    query_json: *const c_char,
    out: *mut *mut viz_cursor,
) -> viz_status {
    guard("viz_storage_query", || {
        // SAFETY: per the header's contract.
        let query = Query::from_json(unsafe { c_str(query_json, "query_json") }?)?;
        query.validate()?;
        // SAFETY: per the header's contract.
        let shared = unsafe { viz_storage::borrow(storage, "storage") }?;
        unsafe {
            viz_cursor::create(out, || {
                if shared.with(|b| b.pages_cheaply(&query)) {
                    // The cursor shares the instance, so it reads on after the handle
                    // is freed; a shut-down backend fails the next page by name.
                    let backend = shared.clone();
                    let fetch = move |page: Query| backend.with(|b| b.query(&page));
                    return Ok(Pages::fetched(query, Box::new(fetch)));
                }
                Ok(Pages::held(shared.with(|b| b.query(&query))?))
            })
        }
    })
}

/// Makes everything stored so far durable, as far as the backend goes.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `storage` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_flush(storage: *const viz_storage) -> viz_status {
    // SAFETY: handle as promised by the header.
    guard("viz_storage_flush", || unsafe {
        with_storage(storage, |b| Ok(b.flush()?))
    })
}

/// Writes the number of events stored since open or the last clear to `*out`.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `storage` NULL or a live handle; `out` NULL or valid for writing a `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_event_count(
    storage: *const viz_storage,
    out: *mut u64,
) -> viz_status {
    guard("viz_storage_event_count", || {
        // SAFETY: handle and out-pointer as promised by the header.
        let n = unsafe { with_storage(storage, |b| Ok(b.event_count())) }?;
        unsafe { write_out(out, n, "out") }
    })
}

/// Removes every stored event.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `storage` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_clear(storage: *const viz_storage) -> viz_status {
    // SAFETY: handle as promised by the header.
    guard("viz_storage_clear", || unsafe {
        with_storage(storage, |b| Ok(b.clear()?))
    })
}

/// Flushes and closes the backend. Later stores fail with `VIZ_STATUS_CLOSED`; the
/// handle itself stays valid until `viz_storage_free`.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `storage` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_shutdown(storage: *const viz_storage) -> viz_status {
    // SAFETY: handle as promised by the header.
    guard("viz_storage_shutdown", || unsafe {
        with_storage(storage, |b| Ok(b.shutdown()?))
    })
}

/// Whether the backend is open (opened and not shut down). False for NULL.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `storage` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_is_initialized(storage: *const viz_storage) -> bool {
    guard("viz_storage_is_initialized", || {
        // SAFETY: handle as promised by the header.
        unsafe { with_storage(storage, |b| Ok(b.is_initialized())) }
    })
}

/// Releases the handle. The backend is shut down once no collector it was lent to
/// still uses it. NULL is ignored.
///
/// Thread safety: must not race other calls on the same handle.
///
/// # Safety
/// `storage` must be NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_free(storage: *mut viz_storage) {
    guard("viz_storage_free", || {
        if !storage.is_null() {
            // SAFETY: a live handle, consumed here, per the header.
            drop(unsafe { viz_storage::take(storage, "storage") }?);
        }
        Ok(())
    })
}

/// The shared instances behind `n` handles, lent (their `shutdown` only flushes).
///
/// # Safety
/// `storages` NULL (with `n` 0) or valid for `n` live handles.
pub(crate) unsafe fn lend(
    storages: *const *const viz_storage,
    n: usize,
) -> Result<Vec<SharedBackend>, Failure> {
    // SAFETY: per the caller's contract.
    let handles = unsafe { slice(storages, n, "storages") }?;
    handles
        .iter()
        .enumerate()
        .map(|(i, &h)| {
            // SAFETY: each handle is live, per the caller's contract.
            unsafe { viz_storage::borrow(h, "storage") }
                .map(SharedBackend::lent)
                .map_err(|f| f.context(format_args!("storages[{i}]")))
        })
        .collect()
}
