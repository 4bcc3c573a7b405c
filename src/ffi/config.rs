//! `viz_collector_config`: the typed alternative to the JSON config, a plain struct
//! the host fills starting from `viz_collector_config_default` (the one source of
//! the defaults every binding reads), with its enums.

use std::time::Duration;

use super::abi_enum::abi_enum;
use super::boundary::{guard, write_out};
use super::status::viz_status;
use crate::clock::WallClock;
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
    /// Deliver only on `viz_collector_flush` (or a critical event, or close).
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

abi_enum!(viz_flush_strategy, "config.strategy", FlushStrategy {
    TimeBased <=> FlushStrategy::TimeBased,
    SizeBased <=> FlushStrategy::SizeBased,
    Manual <=> FlushStrategy::Manual,
    Hybrid <=> FlushStrategy::Hybrid,
});

abi_enum!(viz_overflow_policy, "config.overflow", OverflowPolicy {
    Block <=> OverflowPolicy::Block,
    DropOldest <=> OverflowPolicy::DropOldest,
    DropNewest <=> OverflowPolicy::DropNewest,
});

abi_enum!(viz_wall_clock, "config.wall_clock", WallClock {
    Coarse <=> WallClock::Coarse,
    Precise <=> WallClock::Precise,
});

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
    /// Most events held at once across the collector; 0 (default) for no bound
    /// beyond each queue's own. The seed's MaxQueueLength.
    pub max_held_events: u64,
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
            strategy: viz_flush_strategy::from(c.strategy).raw(),
            overflow: viz_overflow_policy::from(c.overflow).raw(),
            block_timeout_ms: c.block_timeout.map_or(0, ms),
            max_queue_length: c.max_queue_length,
            wall_clock: viz_wall_clock::from(c.wall_clock).raw(),
            max_poll_interval_ms: ms(c.max_poll_interval),
            destination_queue_batches: c.destination_queue_batches,
            destination_stall_timeout_ms: ms(c.destination_stall_timeout),
            shutdown_timeout_ms: ms(c.shutdown_timeout),
            retry_max_attempts: c.retry.max_attempts,
            retry_initial_backoff_ms: ms(c.retry.initial_backoff),
            retry_max_backoff_ms: ms(c.retry.max_backoff),
            retry_max_pending_events: c.retry.max_pending_events,
            max_held_bytes: c.max_held_bytes,
            max_held_events: c.max_held_events,
        }
    }
}

impl TryFrom<&viz_collector_config> for CollectorConfig {
    type Error = VizError;

    fn try_from(c: &viz_collector_config) -> Result<CollectorConfig, VizError> {
        let strategy = viz_flush_strategy::parse(c.strategy)?.into();
        let overflow = viz_overflow_policy::parse(c.overflow)?.into();
        let wall_clock = viz_wall_clock::parse(c.wall_clock)?.into();
        let config = CollectorConfig {
            buffer_capacity: c.buffer_capacity,
            flush_interval: Duration::from_millis(c.flush_interval_ms),
            batch_size: c.batch_size,
            strategy,
            overflow,
            block_timeout: (c.block_timeout_ms > 0)
                .then(|| Duration::from_millis(c.block_timeout_ms)),
            max_held_bytes: c.max_held_bytes,
            max_held_events: c.max_held_events,
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
