//! The sizes a host may pass, and the bounds on every configured size.
//!
//! Each bound exists so that no input, however wrong, can make viz allocate more
//! than the process has: an allocation failure aborts the process, and no panic
//! boundary can catch it. Inputs past a bound are refused with
//! [`crate::ErrorKind::InvalidArgument`] (events) or
//! [`crate::ErrorKind::InvalidConfig`] (settings), naming the field and the bound.
//! docs/RELIABILITY.md lists them for hosts.

use std::time::Duration;

use crate::error::{Result, VizError};

/// Most bytes one payload may carry: an image's PNG, a tensor's elements, raw
/// bytes, a text. Below the collector's default byte budget (256 MiB), so one event
/// never fills it alone.
pub const MAX_PAYLOAD_BYTES: usize = 64 << 20;

/// Most buckets a histogram may have, given as `bins` or as bucket arrays.
pub const MAX_HISTOGRAM_BINS: usize = 1 << 16;

/// Most dimensions a tensor may have (numpy's own limit is 64).
pub const MAX_TENSOR_RANK: usize = 64;

/// Largest width or height of an image, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 1 << 16;

/// Most bytes of a raw payload's content type.
pub const MAX_CONTENT_TYPE_BYTES: usize = 256;

/// Most events one batch call (`viz_collect_batch`, `viz_storage_store`) may pass.
pub const MAX_BATCH_EVENTS: usize = 1 << 20;

/// Largest `max_queue_length`: slots are 64 bytes and allocated per producing
/// thread, so this is 256 MiB per thread.
pub const MAX_QUEUE_LENGTH: usize = 1 << 22;

/// Largest `buffer_capacity` (events the worker stages) and `batch_size`.
pub const MAX_BUFFER_CAPACITY: usize = 1 << 24;

/// Largest `destination_queue_batches`.
pub const MAX_DESTINATION_QUEUE_BATCHES: usize = 1 << 16;

/// Largest `retry.max_pending_events` and `write_buffer_size`.
pub const MAX_PENDING_EVENTS: usize = 1 << 24;

/// Smallest and largest `max_held_bytes`, the collector's byte budget.
pub const MIN_HELD_BYTES: u64 = 1 << 20;
/// See [`MIN_HELD_BYTES`].
pub const MAX_HELD_BYTES: u64 = 1 << 40;

/// Largest `max_held_events`: as many events as the largest queue and staging
/// buffer hold together, far past anything a process keeps in memory.
pub const MAX_HELD_EVENTS: u64 = 1 << 32;

/// Longest any configured duration may be. Deadlines are computed by adding
/// durations to the clock, which must not overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Fails unless `value <= max`, naming the field, its value and the bound.
pub(crate) fn at_most_arg(field: &str, value: usize, max: usize) -> Result<()> {
    if value > max {
        return Err(VizError::invalid_argument(format!(
            "{field} is {value}; the limit is {max}"
        )));
    }
    Ok(())
}

/// [`at_most_arg`] for settings: an [`crate::ErrorKind::InvalidConfig`].
pub(crate) fn at_most_config(field: &str, value: u64, max: u64) -> Result<()> {
    if value > max {
        return Err(VizError::invalid_config(format!(
            "{field} is {value}; the limit is {max}"
        )));
    }
    Ok(())
}

/// Fails unless `0 < value <= MAX_DURATION`, naming the field.
pub(crate) fn duration(field: &str, value: Duration) -> Result<()> {
    if value.is_zero() {
        return Err(VizError::invalid_config(format!(
            "{field} is 0 ms; it must be greater than 0"
        )));
    }
    if value > MAX_DURATION {
        return Err(VizError::invalid_config(format!(
            "{field} is {} ms; the limit is {} ms (24 h)",
            value.as_millis(),
            MAX_DURATION.as_millis()
        )));
    }
    Ok(())
}
