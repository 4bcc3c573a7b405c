//! Run metadata through the C ABI: hyperparameters, config, code version and free
//! tags as a JSON object, set and deleted in atomic batches, read back as JSON text.

use std::ffi::c_char;

use super::abi_enum::abi_enum;
use super::boundary::{Failure, Handle, c_str, check_out, guard, text_out};
use super::collector::{QUERY_TIMEOUT, viz_collector};
use super::status::viz_status;
use super::storage::{viz_storage, with_storage};
use crate::error::VizError;
use crate::metadata::{Metadata, MetadataBatch};
use crate::runs::RunStatus;

/// How a run ended (`viz_collector_set_run_status`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum viz_run_status {
    /// Ended normally (what a run stopped without a status records).
    Finished = 0,
    /// Ended by an error.
    Failed = 1,
    /// Stopped from outside.
    Killed = 2,
}

abi_enum!(viz_run_status, "status", RunStatus {
    Finished <=> RunStatus::Finished,
    Failed <=> RunStatus::Failed,
    Killed <=> RunStatus::Killed,
});

/// Records how the run ended (a `viz_run_status` value) on every backend of
/// `collector` that keeps one: an MLflow run's status (mlflow+http://), the HPARAMS
/// session's status (tensorboard://), applied when they shut down. Call it before
/// `viz_collector_close`; a run closed without one ended
/// `VIZ_RUN_STATUS_FINISHED`. Fails with `VIZ_STATUS_UNSUPPORTED` if no backend
/// keeps a run status, `VIZ_STATUS_INVALID_ARGUMENT` for a value outside the enum.
///
/// Thread safety: safe from any thread except the collector's own callbacks.
///
/// # Safety
/// `collector` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_set_run_status(
    collector: *const viz_collector,
    status: u32,
) -> viz_status {
    guard("viz_collector_set_run_status", || {
        // SAFETY: handle as promised by the header.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let status = RunStatus::from(viz_run_status::parse(status)?);
        Ok(c.set_run_status(status)?)
    })
}

/// The keys of a delete: a JSON array of strings.
fn keys_of(json: &str) -> Result<MetadataBatch, VizError> {
    let keys: Vec<String> = serde_json::from_str(json).map_err(|e| {
        VizError::invalid_argument(format!("keys must be a JSON array of strings: {e}"))
    })?;
    Ok(MetadataBatch::delete(keys))
}

/// Hands `metadata` to the host as a JSON object (see `viz_collector_metadata_get`).
///
/// # Safety
/// `buf` NULL or writable for `len` bytes; `needed` NULL or writable.
unsafe fn json_out(
    metadata: &Metadata,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> Result<(), Failure> {
    let text = serde_json::to_string(metadata).expect("metadata serializes");
    // SAFETY: per the caller's contract.
    unsafe { text_out(&text, buf, len, needed) }
}

/// Sets run metadata on every backend of `collector` that keeps it (memory://,
/// file:// durably, tensorboard:// as hyperparameters for its HPARAMS dashboard),
/// atomically per backend: `json_object` maps each key (1 to 250 bytes, no control
/// characters) to its value, a string, number, bool or any JSON. Fails with
/// `VIZ_STATUS_UNSUPPORTED` if no backend keeps metadata; a bad key or value fails
/// with a message naming it, and changes nothing.
///
/// Thread safety: safe from any thread except the collector's own callbacks.
///
/// # Safety
/// `collector` NULL or a live handle; `json_object` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_metadata_set(
    collector: *const viz_collector,
    json_object: *const c_char,
) -> viz_status {
    guard("viz_collector_metadata_set", || {
        // SAFETY: per the header's contract.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let batch = MetadataBatch::from_json_object(unsafe { c_str(json_object, "json_object") }?)?;
        Ok(c.set_metadata(batch)?)
    })
}

/// Deletes run metadata keys (`keys_json`, a JSON array of strings; absent keys
/// are ignored) on every backend of `collector` that keeps metadata, atomically.
///
/// Thread safety: safe from any thread except the collector's own callbacks.
///
/// # Safety
/// `collector` NULL or a live handle; `keys_json` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_metadata_delete(
    collector: *const viz_collector,
    keys_json: *const c_char,
) -> viz_status {
    guard("viz_collector_metadata_delete", || {
        // SAFETY: per the header's contract.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        let batch = keys_of(unsafe { c_str(keys_json, "keys_json") }?)?;
        Ok(c.set_metadata(batch)?)
    })
}

/// The run metadata backend `backend_index` of `collector` keeps, as a JSON object
/// (keys in order), copied into `buf` (at most `len - 1` bytes, then a NUL); its
/// full length, excluding the NUL, goes to `*needed`. If `*needed >= len` the text
/// was cut short: call again with `*needed + 1` bytes (`buf` may be NULL with `len`
/// 0 to ask the size first). A file:// log reads what other writers of the run (its
/// other ranks) set too.
///
/// Thread safety: safe from any thread except the queried backend's own callbacks.
///
/// # Safety
/// `collector` NULL or a live handle; `buf` NULL or writable for `len` bytes;
/// `needed` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_metadata_get(
    collector: *const viz_collector,
    backend_index: usize,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> viz_status {
    guard("viz_collector_metadata_get", || {
        // SAFETY: per the header's contract.
        let c = unsafe { viz_collector::borrow(collector, "collector") }?;
        check_out(needed, "needed")?;
        let metadata = c.query_backend(backend_index, QUERY_TIMEOUT, |b| b.metadata())??;
        // SAFETY: per the header's contract.
        unsafe { json_out(&metadata, buf, len, needed) }
    })
}

/// `viz_collector_metadata_set` on one storage handle.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `storage` NULL or a live handle; `json_object` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_metadata_set(
    storage: *const viz_storage,
    json_object: *const c_char,
) -> viz_status {
    guard("viz_storage_metadata_set", || {
        // SAFETY: per the header's contract.
        let batch = MetadataBatch::from_json_object(unsafe { c_str(json_object, "json_object") }?)?;
        unsafe { with_storage(storage, |b| Ok(b.set_metadata(&batch)?)) }
    })
}

/// `viz_collector_metadata_delete` on one storage handle.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `storage` NULL or a live handle; `keys_json` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_metadata_delete(
    storage: *const viz_storage,
    keys_json: *const c_char,
) -> viz_status {
    guard("viz_storage_metadata_delete", || {
        // SAFETY: per the header's contract.
        let batch = keys_of(unsafe { c_str(keys_json, "keys_json") }?)?;
        unsafe { with_storage(storage, |b| Ok(b.set_metadata(&batch)?)) }
    })
}

/// `viz_collector_metadata_get` on one storage handle.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `storage` NULL or a live handle; `buf` NULL or writable for `len` bytes;
/// `needed` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_metadata_get(
    storage: *const viz_storage,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> viz_status {
    guard("viz_storage_metadata_get", || {
        check_out(needed, "needed")?;
        // SAFETY: per the header's contract.
        let metadata = unsafe { with_storage(storage, |b| Ok(b.metadata()?)) }?;
        unsafe { json_out(&metadata, buf, len, needed) }
    })
}
