//! The buffered base (the seed's `StorageBackendBase`): write buffering, flush on a
//! size threshold, on an interval and on drop, event counting and init state.
//!
//! A concrete backend implements the small [`BufferedSink`] trait and is wrapped in
//! [`StorageBackendBase`], which implements [`StorageBackend`]. Thread safety comes
//! from ownership: every method takes `&mut self`, and the collector drives one
//! backend from one thread, so no lock is held while sink code (perhaps a host
//! callback) runs. Wrap it in a mutex to share it yourself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{StorageBackend, ensure_initialized};
use crate::clock::{Clock, SystemClock};
use crate::config::StorageConfiguration;
use crate::error::Result;
use crate::event::Event;

/// The part of a backend that actually moves events to storage.
pub trait BufferedSink: Send {
    /// Type name for errors and stats.
    fn type_name(&self) -> &str;

    /// Opens the storage.
    fn open(&mut self, config: &StorageConfiguration) -> Result<()>;

    /// Writes a batch. On error none of the batch should be stored.
    fn write_batch(&mut self, events: &[Event]) -> Result<()>;

    /// Pushes the sink's own buffers to storage.
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    /// Stored events with `start_step <= step <= end_step`. Default: unsupported.
    fn read_range(&self, start_step: i64, end_step: i64) -> Result<Vec<Event>> {
        let _ = (start_step, end_step);
        Err(crate::VizError::unsupported("get_events", self.type_name()))
    }

    /// Removes everything stored.
    fn clear(&mut self) -> Result<()>;

    /// Closes the storage.
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Buffers events in front of a [`BufferedSink`].
pub struct StorageBackendBase<S: BufferedSink> {
    sink: S,
    buffer: Vec<Event>,
    write_buffer_size: usize,
    flush_interval: Duration,
    write_through: bool,
    initialized: bool,
    event_count: u64,
    last_flush: Instant,
    clock: Arc<dyn Clock>,
}

impl<S: BufferedSink> StorageBackendBase<S> {
    /// Wraps `sink`; it is opened by `initialize`.
    pub fn new(sink: S) -> Self {
        Self::with_clock(sink, Arc::new(SystemClock::default()))
    }

    /// Wraps `sink`, reading time from `clock` (tests pass a `ManualClock`).
    pub fn with_clock(sink: S, clock: Arc<dyn Clock>) -> Self {
        let defaults = StorageConfiguration::default();
        StorageBackendBase {
            sink,
            buffer: Vec::new(),
            write_buffer_size: defaults.write_buffer_size,
            flush_interval: defaults.flush_interval,
            write_through: false,
            initialized: false,
            event_count: 0,
            last_flush: clock.now(),
            clock,
        }
    }

    /// The wrapped sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// Events buffered and not yet written to the sink.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    fn write_buffer(&mut self) -> Result<()> {
        if !self.buffer.is_empty() {
            self.sink.write_batch(&self.buffer)?;
            self.buffer.clear();
        }
        Ok(())
    }

    fn flush_all(&mut self) -> Result<()> {
        self.write_buffer()?;
        self.sink.sync()?;
        self.last_flush = self.clock.now();
        Ok(())
    }
}

impl<S: BufferedSink> StorageBackend for StorageBackendBase<S> {
    fn type_name(&self) -> &str {
        self.sink.type_name()
    }

    fn initialize_with(&mut self, config: &StorageConfiguration) -> Result<()> {
        config.validate()?;
        self.sink.open(config)?;
        self.write_buffer_size = config.write_buffer_size;
        self.flush_interval = config.flush_interval;
        self.write_through = !config.enable_async_writes;
        self.buffer.reserve(self.write_buffer_size);
        self.initialized = true;
        self.last_flush = self.clock.now();
        Ok(())
    }

    fn shutdown(&mut self) -> Result<()> {
        if !self.initialized {
            return Ok(());
        }
        let flushed = self.flush_all();
        let closed = self.sink.close();
        // Stay initialized if the final write failed, so a retry can still deliver.
        if flushed.is_ok() {
            self.initialized = false;
        }
        flushed.and(closed)
    }

    fn is_initialized(&self) -> bool {
        self.initialized
    }

    fn store_events(&mut self, events: &[Event]) -> Result<()> {
        ensure_initialized(self.initialized, self.sink.type_name())?;
        let before = self.buffer.len();
        self.buffer.extend_from_slice(events);
        let due = self.write_through
            || self.buffer.len() >= self.write_buffer_size
            || self.clock.now().duration_since(self.last_flush) >= self.flush_interval;
        if due {
            let written = if self.write_through {
                self.flush_all()
            } else {
                self.write_buffer()
            };
            if let Err(e) = written {
                // Keep the call atomic: drop this call's events so a retry cannot
                // duplicate them; events buffered by earlier calls stay for later.
                self.buffer.truncate(before);
                return Err(e);
            }
        }
        self.event_count += events.len() as u64;
        Ok(())
    }

    fn get_events(&self, start_step: i64, end_step: i64) -> Result<Vec<Event>> {
        let mut events = self.sink.read_range(start_step, end_step)?;
        events.extend(
            self.buffer
                .iter()
                .filter(|e| (start_step..=end_step).contains(&e.step))
                .cloned(),
        );
        Ok(events)
    }

    fn flush(&mut self) -> Result<()> {
        ensure_initialized(self.initialized, self.sink.type_name())?;
        self.flush_all()
    }

    fn event_count(&self) -> u64 {
        self.event_count
    }

    fn clear(&mut self) -> Result<()> {
        self.buffer.clear();
        self.sink.clear()?;
        self.event_count = 0;
        Ok(())
    }

    fn tick(&mut self, now: Instant) -> Result<()> {
        if self.initialized
            && !self.buffer.is_empty()
            && now.duration_since(self.last_flush) >= self.flush_interval
        {
            self.flush_all()?;
        }
        Ok(())
    }
}

impl<S: BufferedSink> Drop for StorageBackendBase<S> {
    fn drop(&mut self) {
        if self.initialized {
            // Errors cannot be returned from drop; the collector shuts backends down
            // explicitly and reports errors there, so this is the last resort.
            let _ = self.flush_all();
            let _ = self.sink.close();
        }
    }
}
