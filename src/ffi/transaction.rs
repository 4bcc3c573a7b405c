//! Transactions on a storage handle (seed 002's TransactionManager): stores and
//! metadata changes between `viz_storage_transaction_begin` and `_commit` land
//! together, or none of them after `_rollback`.

use super::boundary::guard;
use super::status::viz_status;
use super::storage::{viz_storage, with_storage};

/// Opens a transaction on the storage instance: until `_commit`, its stores and
/// metadata changes become visible and durable together, or not at all after
/// `_rollback`. A collector writing to the same instance (lent to it) writes inside
/// the transaction too. sqlite:// has transactions; other backends fail with
/// `VIZ_STATUS_UNSUPPORTED`. A second begin before commit or rollback is refused.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `storage` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_transaction_begin(storage: *const viz_storage) -> viz_status {
    guard("viz_storage_transaction_begin", || {
        // SAFETY: per the header's contract.
        unsafe { with_storage(storage, |b| Ok(b.begin_transaction()?)) }
    })
}

/// Commits the open transaction.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `storage` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_transaction_commit(storage: *const viz_storage) -> viz_status {
    guard("viz_storage_transaction_commit", || {
        // SAFETY: per the header's contract.
        unsafe { with_storage(storage, |b| Ok(b.commit_transaction()?)) }
    })
}

/// Undoes every store and metadata change since `viz_storage_transaction_begin`.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `storage` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_storage_transaction_rollback(
    storage: *const viz_storage,
) -> viz_status {
    guard("viz_storage_transaction_rollback", || {
        // SAFETY: per the header's contract.
        unsafe { with_storage(storage, |b| Ok(b.rollback_transaction()?)) }
    })
}
