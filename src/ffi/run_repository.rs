//! `viz_run_repository`: the runs of a project directory (see `crate::runs`):
//! listed and found as JSON, read as one run through a cursor, deleted.

use std::ffi::c_char;

use super::boundary::{Handle, c_str, check_out, guard, text_out};
use super::cursor::viz_cursor;
use super::status::viz_status;
use crate::factory::open_runs;
use crate::query::{Pages, Query};
use crate::runs::{RunFilter, RunStore};

/// The runs of one project directory. Opaque; free with
/// `viz_run_repository_free`. Any number of threads may use one at once.
pub struct viz_run_repository {
    _private: [u8; 0],
}

impl Handle for viz_run_repository {
    type Rust = Box<dyn RunStore + Send + Sync>;
}

/// Opens the runs at `root`: a project directory (it must exist), whose runs file://
/// backends write with `?run=NAME&rank=N`, or `sqlite://FILE`, whose runs sqlite://
/// backends write. Writes the repository to `*out`.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `root` NULL or NUL-terminated; `out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_run_repository_open(
    root: *const c_char,
    out: *mut *mut viz_run_repository,
) -> viz_status {
    guard("viz_run_repository_open", || {
        // SAFETY: per the header's contract.
        let root = unsafe { c_str(root, "root") }?;
        unsafe { viz_run_repository::create(out, || Ok(open_runs(root)?)) }
    })
}

/// The names of the project's runs, sorted, as a JSON array of strings, copied
/// into `buf` as `viz_run_repository_list` does.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `repository` NULL or live; `buf` NULL or writable for `len` bytes; `needed` NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_run_repository_names(
    repository: *const viz_run_repository,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> viz_status {
    guard("viz_run_repository_names", || {
        // SAFETY: per the header's contract.
        let repo = unsafe { viz_run_repository::borrow(repository, "repository") }?;
        check_out(needed, "needed")?;
        let names = serde_json::to_string(&repo.names()?).expect("names serialize");
        unsafe { text_out(&names, buf, len, needed) }
    })
}

/// The runs `filter_json` selects (NULL: every run), as a JSON array of objects
/// with each run's `project`, `name`, `created_unix_ms`, `path`, `ranks`, `events`,
/// `bytes`, `tags` (tag → count), `steps` and `wall_time` ([first, last] or null)
/// and `metadata`, in name order. The filter is `{"name": PATTERN, "metadata":
/// {KEY: VALUE}}`, both optional (PATTERN as a query's tag pattern: exact, glob, or
/// `{"regex": ...}`; metadata values must match exactly). The JSON is copied into
/// `buf` (at most `len - 1` bytes, then a NUL) and its full length goes to
/// `*needed`: if `*needed >= len`, call again with `*needed + 1` bytes.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `repository` NULL or live; `filter_json` NULL or NUL-terminated; `buf` NULL or
/// writable for `len` bytes; `needed` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_run_repository_list(
    repository: *const viz_run_repository,
    filter_json: *const c_char,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> viz_status {
    guard("viz_run_repository_list", || {
        // SAFETY: per the header's contract.
        let repo = unsafe { viz_run_repository::borrow(repository, "repository") }?;
        check_out(needed, "needed")?;
        let filter = if filter_json.is_null() {
            RunFilter::default()
        } else {
            RunFilter::from_json(unsafe { c_str(filter_json, "filter_json") }?)?
        };
        let runs = serde_json::to_string(&repo.find(&filter)?).expect("run infos serialize");
        unsafe { text_out(&runs, buf, len, needed) }
    })
}

/// Answers a query (JSON, as for `viz_collector_query`) over every rank of run
/// `name` as one run, through each rank's index, with a cursor to read with
/// `viz_cursor_next`. An unknown run fails with a message naming it.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `repository` NULL or live; `name` and `query_json` NULL or NUL-terminated; `out`
/// NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_run_repository_query(
    repository: *const viz_run_repository,
    name: *const c_char,
    query_json: *const c_char,
    out: *mut *mut viz_cursor,
) -> viz_status {
    guard("viz_run_repository_query", || {
        // SAFETY: per the header's contract.
        let repo = unsafe { viz_run_repository::borrow(repository, "repository") }?;
        let name = unsafe { c_str(name, "name") }?;
        let query = Query::from_json(unsafe { c_str(query_json, "query_json") }?)?;
        unsafe { viz_cursor::create(out, || Ok(Pages::held(repo.query(name, &query)?))) }
    })
}

/// Deletes run `name` with all its data; refused (`VIZ_STATUS_IO`) while any of its
/// ranks is being written.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `repository` NULL or live; `name` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_run_repository_delete(
    repository: *const viz_run_repository,
    name: *const c_char,
) -> viz_status {
    guard("viz_run_repository_delete", || {
        // SAFETY: per the header's contract.
        let repo = unsafe { viz_run_repository::borrow(repository, "repository") }?;
        Ok(repo.delete(unsafe { c_str(name, "name") }?)?)
    })
}

/// Frees a repository handle (the runs stay). NULL is ignored.
///
/// Thread safety: must not race any other use of the same handle.
///
/// # Safety
/// `repository` NULL or live, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_run_repository_free(repository: *mut viz_run_repository) {
    guard("viz_run_repository_free", || {
        if !repository.is_null() {
            // SAFETY: a live handle, consumed here, per the header.
            drop(unsafe { viz_run_repository::take(repository, "repository") }?);
        }
        Ok(())
    })
}
