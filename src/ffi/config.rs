//! The typed alternative to the JSON config: a plain struct the host fills,
//! starting from `viz_collector_config_default`.

use std::ffi::c_char;
use std::time::Duration;

use super::boundary::{Failure, Handle, c_str, guard, write_out};
use super::collector::viz_collector;
use super::status::viz_status;
use crate::clock::WallClock;
use crate::collector::Collector;
use crate::config::{CollectorConfig, FlushStrategy, OverflowPolicy, RetryPolicy};
use crate::error::VizError;

/// Values of `viz_collector_config.strategy`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum viz_flush_strategy {
    /// Deliver and flush every `flush_interval_ms`.
    TimeBased = 0,
    /// Deliver every `batch_size` events.
    SizeBased = 1,
    /// Deliver only on `viz_flush` (or a critical event, or close).
    Manual = 2,
    /// Size-based and time-based together (the default).
    Hybrid = 3,
}

/// Values of `viz_collector_config.overflow`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum viz_overflow_policy {
    /// Wait for room (up to `block_timeout_ms` if not 0), then drop the new event.
    Block = 0,
    /// Accept the new event and drop the oldest queued one.
    DropOldest = 1,
    /// Drop the new event.
    DropNewest = 2,
}

/// Values of `viz_collector_config.wall_clock`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum viz_wall_clock {
    /// Kernel-tick resolution (4 ms here), about 6 ns a read (the default).
    Coarse = 0,
    /// Nanosecond resolution, about 50 ns a read.
    Precise = 1,
}

/// Collector settings. Get the defaults from `viz_collector_config_default`, change
/// what you need, pass it to `viz_collector_new_with`. Durations are milliseconds.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct viz_collector_config {
    /// Most events the worker stages between deliveries.
    pub buffer_capacity: usize,
    /// Interval of the time-based flush.
    pub flush_interval_ms: u64,
    /// Events per backend call; the size-based threshold.
    pub batch_size: usize,
    /// A `viz_flush_strategy` value.
    pub strategy: u32,
    /// A `viz_overflow_policy` value.
    pub overflow: u32,
    /// For the Block policy: longest wait, 0 for no limit (default 1000).
    pub block_timeout_ms: u64,
    /// Capacity of each producing thread's queue (64 bytes a slot).
    pub max_queue_length: usize,
    /// A `viz_wall_clock` value.
    pub wall_clock: u32,
    /// Longest the idle worker sleeps between polls.
    pub max_poll_interval_ms: u64,
    /// Batches queued per backend.
    pub destination_queue_batches: usize,
    /// Longest the worker waits on a full backend queue before dropping for it.
    pub destination_stall_timeout_ms: u64,
    /// Longest close waits for backends.
    pub shutdown_timeout_ms: u64,
    /// Attempts per failed batch, the first included.
    pub retry_max_attempts: u32,
    /// Wait before the first retry.
    pub retry_initial_backoff_ms: u64,
    /// Longest wait between retries.
    pub retry_max_backoff_ms: u64,
    /// Most events kept for retry per backend.
    pub retry_max_pending_events: usize,
    /// The byte budget: most bytes of events held at once (default 256 MiB).
    pub max_held_bytes: u64,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl From<&CollectorConfig> for viz_collector_config {
    fn from(c: &CollectorConfig) -> Self {
        viz_collector_config {
            buffer_capacity: c.buffer_capacity,
            flush_interval_ms: ms(c.flush_interval),
            batch_size: c.batch_size,
            strategy: c.strategy as u32,
            overflow: c.overflow as u32,
            block_timeout_ms: c.block_timeout.map_or(0, ms),
            max_queue_length: c.max_queue_length,
            wall_clock: c.wall_clock as u32,
            max_poll_interval_ms: ms(c.max_poll_interval),
            destination_queue_batches: c.destination_queue_batches,
            destination_stall_timeout_ms: ms(c.destination_stall_timeout),
            shutdown_timeout_ms: ms(c.shutdown_timeout),
            retry_max_attempts: c.retry.max_attempts,
            retry_initial_backoff_ms: ms(c.retry.initial_backoff),
            retry_max_backoff_ms: ms(c.retry.max_backoff),
            retry_max_pending_events: c.retry.max_pending_events,
            max_held_bytes: c.max_held_bytes,
        }
    }
}

fn out_of_range(field: &str, value: u32, max: u32) -> VizError {
    VizError::invalid_argument(format!(
        "config.{field} is {value}; valid values are 0 to {max}"
    ))
}

impl TryFrom<&viz_collector_config> for CollectorConfig {
    type Error = VizError;

    fn try_from(c: &viz_collector_config) -> Result<CollectorConfig, VizError> {
        let strategy = match c.strategy {
            0 => FlushStrategy::TimeBased,
            1 => FlushStrategy::SizeBased,
            2 => FlushStrategy::Manual,
            3 => FlushStrategy::Hybrid,
            v => return Err(out_of_range("strategy", v, 3)),
        };
        let overflow = match c.overflow {
            0 => OverflowPolicy::Block,
            1 => OverflowPolicy::DropOldest,
            2 => OverflowPolicy::DropNewest,
            v => return Err(out_of_range("overflow", v, 2)),
        };
        let wall_clock = match c.wall_clock {
            0 => WallClock::Coarse,
            1 => WallClock::Precise,
            v => return Err(out_of_range("wall_clock", v, 1)),
        };
        let config = CollectorConfig {
            buffer_capacity: c.buffer_capacity,
            flush_interval: Duration::from_millis(c.flush_interval_ms),
            batch_size: c.batch_size,
            strategy,
            overflow,
            block_timeout: (c.block_timeout_ms > 0)
                .then(|| Duration::from_millis(c.block_timeout_ms)),
            max_held_bytes: c.max_held_bytes,
            max_queue_length: c.max_queue_length,
            wall_clock,
            retry: RetryPolicy {
                max_attempts: c.retry_max_attempts,
                initial_backoff: Duration::from_millis(c.retry_initial_backoff_ms),
                max_backoff: Duration::from_millis(c.retry_max_backoff_ms),
                max_pending_events: c.retry_max_pending_events,
            },
            max_poll_interval: Duration::from_millis(c.max_poll_interval_ms),
            destination_queue_batches: c.destination_queue_batches,
            destination_stall_timeout: Duration::from_millis(c.destination_stall_timeout_ms),
            shutdown_timeout: Duration::from_millis(c.shutdown_timeout_ms),
        };
        config.validate()?;
        Ok(config)
    }
}

/// Fills `*out` with the default collector settings.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `out` must be NULL or valid for writing a `viz_collector_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_config_default(
    out: *mut viz_collector_config,
) -> viz_status {
    guard("viz_collector_config_default", || {
        let config = viz_collector_config::from(&CollectorConfig::default());
        // SAFETY: per the header's contract.
        unsafe { write_out(out, config, "out") }
    })
}

/// Creates and starts a collector from typed settings and `backends_len` connection
/// strings (such as `"memory://"`). Errors name the bad field or backend.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `config` must be NULL or valid; `backends` NULL (with `backends_len` 0) or valid
/// for `backends_len` NUL-terminated strings; `out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_collector_new_with(
    config: *const viz_collector_config,
    backends: *const *const c_char,
    backends_len: usize,
    out: *mut *mut viz_collector,
) -> viz_status {
    guard("viz_collector_new_with", || {
        // SAFETY: per the header's contract.
        let config = CollectorConfig::try_from(
            unsafe { config.as_ref() }.ok_or_else(|| Failure::null("config"))?,
        )?;
        if out.is_null() {
            return Err(Failure::null("out"));
        }
        let urls: &[*const c_char] = if backends_len == 0 {
            &[]
        } else if backends.is_null() {
            return Err(Failure::null("backends"));
        } else {
            // SAFETY: non-NULL and valid for `backends_len` pointers, per the header.
            unsafe { std::slice::from_raw_parts(backends, backends_len) }
        };
        let mut builder = Collector::builder().config(config);
        for (i, &url) in urls.iter().enumerate() {
            // SAFETY: each entry NULL or NUL-terminated, per the header.
            let url = unsafe { c_str(url, "connection string") }
                .map_err(|f| f.context(format_args!("backends[{i}]")))?;
            builder = builder.backend_url(url);
        }
        let collector = builder.build_and_start()?;
        // SAFETY: `out` is non-NULL and writable, per the header.
        unsafe { write_out(out, viz_collector::into_raw(Box::new(collector)), "out") }
    })
}
