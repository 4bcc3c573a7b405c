//! Configuration for the collector and for storage backends, with validation whose
//! errors name the bad field and its value.
//!
//! Durations serialize as whole milliseconds (`flush_interval_ms`), so the same
//! JSON works from every host language.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::WallClock;
use crate::error::{Result, VizError};
use crate::limits;
pub use crate::url::scheme_of;
use crate::url::{is_type_name, redacted};

/// When the collector delivers buffered events to its backends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum FlushStrategy {
    /// Deliver and flush every `flush_interval`. A staging buffer that reaches
    /// `buffer_capacity` is delivered early rather than stall producers.
    TimeBased = 0,
    /// Deliver whenever `batch_size` events are staged; flush backends only on
    /// an explicit flush, a critical event, or shutdown.
    SizeBased = 1,
    /// Deliver only on an explicit flush (or a critical event, or shutdown). Once
    /// `buffer_capacity` events are staged the queue fills and the overflow policy applies.
    Manual = 2,
    /// SizeBased and TimeBased together: deliver at `batch_size`, and deliver and
    /// flush every `flush_interval`.
    #[default]
    Hybrid = 3,
}

/// What `collect` does when the queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum OverflowPolicy {
    /// Wait for room (backpressure), up to `block_timeout` if set, then drop the new
    /// event and return [`crate::ErrorKind::QueueFull`].
    #[default]
    Block = 0,
    /// Accept the new event and drop the oldest queued one (never a critical one).
    DropOldest = 1,
    /// Drop the new event and return [`crate::ErrorKind::QueueFull`].
    DropNewest = 2,
}

/// How a destination retries a batch its backend rejected.
///
/// A failed batch is kept (with later events for the same backend appended behind it,
/// so order holds) and retried after `initial_backoff`, doubling up to `max_backoff`.
/// After `max_attempts` failed attempts the kept events are dropped and counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts per batch, the first included. 1 means no retry.
    pub max_attempts: u32,
    /// Wait before the first retry.
    #[serde(rename = "initial_backoff_ms", with = "millis")]
    pub initial_backoff: Duration,
    /// Longest wait between retries.
    #[serde(rename = "max_backoff_ms", with = "millis")]
    pub max_backoff: Duration,
    /// Most events kept for retry per backend; beyond it the oldest are dropped.
    pub max_pending_events: usize,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_pending_events: 100_000,
        }
    }
}

/// Settings of a [`crate::Collector`]. Defaults are the seed's, except where
/// docs/PERFORMANCE.md shows a measured reason to differ: `batch_size` 1000 (seed:
/// 100) and `buffer_capacity` 10000 (seed: 1000) delivered 18-26% more events/s
/// (faster in 13 of 14 paired, interleaved reps) with a tenth of the deliveries;
/// `max_poll_interval` 20 ms keeps an idle collector near 0.4% of a core (10 ms
/// measured up to 0.95% on a noisy run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorConfig {
    /// Most events the worker stages between deliveries.
    pub buffer_capacity: usize,
    /// Interval of the time-based flush.
    #[serde(rename = "flush_interval_ms", with = "millis")]
    pub flush_interval: Duration,
    /// Most events per `store_events` call, and the size-based delivery threshold.
    pub batch_size: usize,
    /// When to deliver.
    pub strategy: FlushStrategy,
    /// What a full queue does to `collect`.
    pub overflow: OverflowPolicy,
    /// Longest a `Block` policy waits before dropping the new event. Default 1 s, so
    /// a stuck backend can hold a training loop back by at most that per event;
    /// `None` (JSON `null`, C `0`) waits for as long as it takes.
    #[serde(rename = "block_timeout_ms", with = "opt_millis")]
    pub block_timeout: Option<Duration>,
    /// The byte budget: most bytes of events the collector holds at once, counted
    /// from `collect` until every destination is done with them (producer lanes,
    /// staging, destination queues and retry backlogs). Default 256 MiB. When it is
    /// full, `collect` of a non-scalar event applies the overflow policy, as a full
    /// queue does; the worker stops draining the lanes, so scalars meet their
    /// queue's bound; a destination holding more than its share
    /// (`max_held_bytes / destinations`) counts as full. Critical events are never
    /// refused by it.
    pub max_held_bytes: u64,
    /// Most events the collector holds at once, counted as `max_held_bytes` is,
    /// from `collect` until every destination is done with them; 0 (the default)
    /// for no bound beyond each stage's own. When reached, `collect` applies the
    /// overflow policy (drop_oldest takes the oldest of the caller's own queue; if
    /// everything held is already on its way to the backends, the new event is
    /// dropped and counted in `dropped_newest`). The seed's `MaxQueueLength` is this
    /// bound. It costs every `collect` one atomic add on a shared counter, which
    /// is why it is off by default (docs/PERFORMANCE.md gives the figure).
    pub max_held_events: u64,
    /// Capacity of each producing thread's lock-free queue. Each slot is 64 bytes,
    /// allocated on the thread's first collect and kept while it lives: 640 KiB per
    /// producing thread by default.
    pub max_queue_length: usize,
    /// Resolution of the wall time stamped on events that carry none.
    pub wall_clock: WallClock,
    /// Retry policy for failed backend writes.
    pub retry: RetryPolicy,
    /// Longest the idle worker sleeps between polls of the queue.
    #[serde(rename = "max_poll_interval_ms", with = "millis")]
    pub max_poll_interval: Duration,
    /// Batches queued per destination. When a destination's queue is full the
    /// worker waits for it, up to `destination_stall_timeout`.
    pub destination_queue_batches: usize,
    /// How long a destination may finish nothing, with its queue full, before the
    /// worker stops waiting for it. While it makes progress the worker waits (a slow
    /// backend pushes back on the producers); once stalled it loses normal batches
    /// (counted in its `dropped`) instead of holding back the others, until its
    /// queue drains to half. Critical batches and flush requests wait for it.
    #[serde(rename = "destination_stall_timeout_ms", with = "millis")]
    pub destination_stall_timeout: Duration,
    /// Longest `stop` (and dropping the collector) waits for backends to finish;
    /// a backend still busy then is abandoned on its thread and reported.
    #[serde(rename = "shutdown_timeout_ms", with = "millis")]
    pub shutdown_timeout: Duration,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            buffer_capacity: 10_000,
            flush_interval: Duration::from_secs(1),
            batch_size: 1000,
            strategy: FlushStrategy::Hybrid,
            overflow: OverflowPolicy::Block,
            block_timeout: Some(Duration::from_secs(1)),
            max_held_bytes: 256 << 20,
            max_held_events: 0,
            max_queue_length: 10_000,
            wall_clock: WallClock::Coarse,
            retry: RetryPolicy::default(),
            max_poll_interval: Duration::from_millis(20),
            destination_queue_batches: 256,
            destination_stall_timeout: Duration::from_millis(250),
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

impl CollectorConfig {
    /// The seed's `EnableBackpressure`: true when a full queue blocks producers.
    pub fn enable_backpressure(&self) -> bool {
        self.overflow == OverflowPolicy::Block
    }

    /// Sets the seed's `EnableBackpressure`: true blocks producers on a full queue,
    /// false drops the oldest queued event instead.
    pub fn set_enable_backpressure(&mut self, on: bool) {
        self.overflow = if on {
            OverflowPolicy::Block
        } else {
            OverflowPolicy::DropOldest
        };
    }

    /// Parses a JSON config; unknown fields are errors, missing ones take defaults.
    pub fn from_json(json: &str) -> Result<CollectorConfig> {
        let config: CollectorConfig = serde_json::from_str(json)
            .map_err(|e| VizError::invalid_config(format!("collector config JSON: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field; the error names the first bad one and its value. Sizes
    /// and durations are bounded (see [`crate::limits`]), so no setting can make the
    /// collector allocate more than a process has.
    pub fn validate(&self) -> Result<()> {
        at_least("buffer_capacity", self.buffer_capacity, 1)?;
        at_least("batch_size", self.batch_size, 1)?;
        at_least("max_queue_length", self.max_queue_length, 1)?;
        at_least(
            "destination_queue_batches",
            self.destination_queue_batches,
            1,
        )?;
        for (field, value, max) in [
            (
                "buffer_capacity",
                self.buffer_capacity,
                limits::MAX_BUFFER_CAPACITY,
            ),
            (
                "max_queue_length",
                self.max_queue_length,
                limits::MAX_QUEUE_LENGTH,
            ),
            (
                "destination_queue_batches",
                self.destination_queue_batches,
                limits::MAX_DESTINATION_QUEUE_BATCHES,
            ),
            (
                "retry.max_pending_events",
                self.retry.max_pending_events,
                limits::MAX_PENDING_EVENTS,
            ),
        ] {
            limits::at_most_config(field, value as u64, max as u64)?;
        }
        if self.max_held_bytes < limits::MIN_HELD_BYTES {
            return Err(VizError::invalid_config(format!(
                "max_held_bytes is {}; it must be at least {} (1 MiB)",
                self.max_held_bytes,
                limits::MIN_HELD_BYTES
            )));
        }
        limits::at_most_config(
            "max_held_bytes",
            self.max_held_bytes,
            limits::MAX_HELD_BYTES,
        )?;
        limits::at_most_config(
            "max_held_events",
            self.max_held_events,
            limits::MAX_HELD_EVENTS,
        )?;
        if self.max_held_events != 0 && self.max_held_events < self.batch_size as u64 {
            return Err(VizError::invalid_config(format!(
                "max_held_events is {} but batch_size is {}; a whole batch must fit (or 0 for no bound)",
                self.max_held_events, self.batch_size
            )));
        }
        if self.batch_size > self.buffer_capacity {
            return Err(VizError::invalid_config(format!(
                "batch_size is {} but buffer_capacity is {}; a batch must fit in the buffer",
                self.batch_size, self.buffer_capacity
            )));
        }
        limits::duration("flush_interval", self.flush_interval)?;
        limits::duration("max_poll_interval", self.max_poll_interval)?;
        limits::duration("shutdown_timeout", self.shutdown_timeout)?;
        limits::duration("destination_stall_timeout", self.destination_stall_timeout)?;
        if let Some(t) = self.block_timeout {
            limits::duration("block_timeout", t)?;
        }
        if self.retry.max_attempts == 0 {
            return Err(VizError::invalid_config(
                "retry.max_attempts is 0; it must be at least 1 (1 means no retry)",
            ));
        }
        limits::duration("retry.initial_backoff", self.retry.initial_backoff)?;
        limits::duration("retry.max_backoff", self.retry.max_backoff)?;
        if self.retry.max_backoff < self.retry.initial_backoff {
            return Err(VizError::invalid_config(format!(
                "retry.max_backoff is {:?}, shorter than retry.initial_backoff {:?}",
                self.retry.max_backoff, self.retry.initial_backoff
            )));
        }
        Ok(())
    }
}

/// Configuration of one storage backend (the seed's `StorageConfiguration`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfiguration {
    /// Registered type name, such as `"memory"`. Empty means: take it from the
    /// connection string's scheme.
    pub backend_type: String,
    /// Where the backend stores events, such as `memory://` or `file:///runs/a`.
    pub connection_string: String,
    /// Events a buffered backend holds before writing them out.
    pub write_buffer_size: usize,
    /// Longest a buffered backend holds events before writing them out.
    #[serde(rename = "flush_interval_ms", with = "millis")]
    pub flush_interval: Duration,
    /// When false, buffered backends write through: every store is written and
    /// flushed before it returns.
    pub enable_async_writes: bool,
}

impl Default for StorageConfiguration {
    fn default() -> Self {
        StorageConfiguration {
            backend_type: String::new(),
            connection_string: String::new(),
            write_buffer_size: 100,
            flush_interval: Duration::from_secs(1),
            enable_async_writes: true,
        }
    }
}

impl StorageConfiguration {
    /// A configuration for `connection_string`, its type taken from the scheme.
    pub fn for_url(connection_string: &str) -> StorageConfiguration {
        StorageConfiguration {
            connection_string: connection_string.to_owned(),
            ..StorageConfiguration::default()
        }
    }

    /// The backend type: `backend_type`, or else the connection string's scheme.
    pub fn resolved_type(&self) -> Result<String> {
        if !self.backend_type.is_empty() {
            return Ok(self.backend_type.clone());
        }
        scheme_of(&self.connection_string).map(str::to_owned)
    }

    /// Checks every field; the error names the first bad one and its value.
    pub fn validate(&self) -> Result<()> {
        if self.backend_type.is_empty() && self.connection_string.is_empty() {
            return Err(VizError::invalid_config(
                "backend_type and connection_string are both empty; give at least one",
            ));
        }
        if !self.backend_type.is_empty() && !is_type_name(&self.backend_type) {
            return Err(VizError::invalid_config(format!(
                "backend_type is '{}'; use letters, digits, '_', '-' and '+', starting with a letter",
                self.backend_type
            )));
        }
        if !self.connection_string.is_empty() {
            let scheme = scheme_of(&self.connection_string)?;
            if !self.backend_type.is_empty() && !scheme_matches(scheme, &self.backend_type) {
                return Err(VizError::invalid_config(format!(
                    "connection_string '{}' has scheme '{scheme}', which does not match backend_type '{}'",
                    redacted(&self.connection_string),
                    self.backend_type
                )));
            }
        }
        at_least("write_buffer_size", self.write_buffer_size, 1)?;
        limits::at_most_config(
            "write_buffer_size",
            self.write_buffer_size as u64,
            limits::MAX_PENDING_EVENTS as u64,
        )?;
        limits::duration("flush_interval", self.flush_interval)?;
        Ok(())
    }
}

/// Whether `scheme` selects `type_name`: equal, or `type_name+transport` (as in `mlflow+http`).
pub(crate) fn scheme_matches(scheme: &str, type_name: &str) -> bool {
    scheme == type_name
        || scheme
            .strip_prefix(type_name)
            .is_some_and(|rest| rest.starts_with('+'))
}

fn at_least(field: &str, value: usize, min: usize) -> Result<()> {
    if value < min {
        return Err(VizError::invalid_config(format!(
            "{field} is {value}; it must be at least {min}"
        )));
    }
    Ok(())
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

mod opt_millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|o| o.map(Duration::from_millis))
    }
}
