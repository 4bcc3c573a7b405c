//! The fluent builder (seed 003): a collector with its backends in one expression.
//!
//! ```
//! use viz::{Collector, Route, EventKind, FlushStrategy};
//! let collector = Collector::builder()
//!     .strategy(FlushStrategy::Hybrid)
//!     .backend_url("memory://")
//!     .backend_url("memory://?capacity=1000")
//!     .route(Route::kinds(&[EventKind::Scalar]).tag_prefix("train/"))
//!     .build_and_start()?;
//! # Ok::<(), viz::VizError>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::Collector;
use super::budget::Budget;
use super::control::Control;
use super::destination::{Destination, ErrorCallback, ErrorReport, ReportSink};
use super::ingress::Ingress;
use super::route::Route;
use crate::backend::StorageBackend;
use crate::backend::subscriber::{EventSubscriber, SubscriberBackend};
use crate::clock::{Clock, SystemClock};
use crate::config::{CollectorConfig, FlushStrategy, OverflowPolicy, StorageConfiguration};
use crate::error::{Result, VizError};
use crate::factory::StorageBackendFactory;

enum Source {
    Backend(Box<dyn StorageBackend>),
    Config(StorageConfiguration),
}

struct Pending {
    source: Source,
    route: Route,
}

/// Builds a [`Collector`]. Backends named by connection string are created through
/// the global [`StorageBackendFactory`] when `build` runs, so every error (bad
/// config, unknown type, failed initialization) surfaces from `build`.
pub struct CollectorBuilder {
    config: CollectorConfig,
    pending: Vec<Pending>,
    clock: Option<Arc<dyn Clock>>,
    on_error: Option<ErrorCallback>,
}

impl Default for CollectorBuilder {
    fn default() -> Self {
        CollectorBuilder::new()
    }
}

impl CollectorBuilder {
    /// A builder with the default configuration and no destinations.
    pub fn new() -> CollectorBuilder {
        CollectorBuilder {
            config: CollectorConfig::default(),
            pending: Vec::new(),
            clock: None,
            on_error: None,
        }
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: CollectorConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the flush strategy.
    pub fn strategy(mut self, strategy: FlushStrategy) -> Self {
        self.config.strategy = strategy;
        self
    }

    /// Sets the overflow policy (and, for `Block`, an optional timeout).
    pub fn overflow(mut self, policy: OverflowPolicy, block_timeout: Option<Duration>) -> Self {
        self.config.overflow = policy;
        self.config.block_timeout = block_timeout;
        self
    }

    /// Sets the batch size.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.config.batch_size = n;
        self
    }

    /// Sets the staging buffer capacity.
    pub fn buffer_capacity(mut self, n: usize) -> Self {
        self.config.buffer_capacity = n;
        self
    }

    /// Sets the queue capacity.
    pub fn max_queue_length(mut self, n: usize) -> Self {
        self.config.max_queue_length = n;
        self
    }

    /// Bounds the events held across the whole collector (see
    /// [`CollectorConfig::max_held_events`]); 0 for no bound.
    pub fn max_held_events(mut self, n: u64) -> Self {
        self.config.max_held_events = n;
        self
    }

    /// Sets the time-based flush interval.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.config.flush_interval = interval;
        self
    }

    /// Adds a backend object. One not yet initialized is initialized with `<type>://`.
    pub fn backend(self, backend: impl StorageBackend + 'static) -> Self {
        self.backend_boxed(Box::new(backend))
    }

    /// Adds a boxed backend object.
    pub fn backend_boxed(mut self, backend: Box<dyn StorageBackend>) -> Self {
        self.pending.push(Pending {
            source: Source::Backend(backend),
            route: Route::all(),
        });
        self
    }

    /// Adds a backend by connection string, such as `memory://`.
    pub fn backend_url(self, connection_string: &str) -> Self {
        self.backend_config(StorageConfiguration::for_url(connection_string))
    }

    /// Adds a backend by full storage configuration.
    pub fn backend_config(mut self, config: StorageConfiguration) -> Self {
        self.pending.push(Pending {
            source: Source::Config(config),
            route: Route::all(),
        });
        self
    }

    /// Adds an in-process subscriber (a closure `FnMut(&[Event])` works).
    pub fn subscriber(self, subscriber: impl EventSubscriber + 'static) -> Self {
        self.subscriber_boxed(Box::new(subscriber))
    }

    /// Adds a boxed subscriber.
    pub fn subscriber_boxed(self, subscriber: Box<dyn EventSubscriber>) -> Self {
        self.backend_boxed(Box::new(SubscriberBackend::new(subscriber)))
    }

    /// Restricts the most recently added destination to `route`.
    pub fn route(mut self, route: Route) -> Self {
        if let Some(last) = self.pending.last_mut() {
            last.route = route;
        }
        self
    }

    /// Called on a destination thread for every delivery failure.
    pub fn on_error(mut self, f: impl Fn(&ErrorReport) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Arc::new(f));
        self
    }

    /// Reads time from `clock` instead of the system clock (tests use `ManualClock`).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Validates, creates and initializes every backend, and returns the collector
    /// not yet started.
    pub fn build(self) -> Result<Collector> {
        self.config.validate()?;
        if self.pending.is_empty() {
            return Err(VizError::invalid_config(
                "the collector has no destination; add a backend or a subscriber",
            ));
        }
        if let Some(i) = self.pending.iter().position(|p| p.route.accepts_nothing()) {
            return Err(VizError::invalid_config(format!(
                "destination {i} has a route that accepts no event kind"
            )));
        }
        let injected_clock = self.clock.is_some();
        let clock = self.clock.unwrap_or_else(|| {
            Arc::new(SystemClock {
                wall: self.config.wall_clock,
            })
        });
        let last_error = Arc::new(Mutex::new(None));
        let report = ReportSink {
            on_error: Arc::new(parking_lot::RwLock::new(self.on_error)),
            last_error: last_error.clone(),
        };
        let mut destinations = Vec::with_capacity(self.pending.len());
        for (index, pending) in self.pending.into_iter().enumerate() {
            let backend = match pending.source {
                Source::Backend(mut b) => {
                    if !b.is_initialized() {
                        let url = format!("{}://", b.type_name());
                        b.initialize(&url)
                            .map_err(|e| e.context(format_args!("destination {index}")))?;
                    }
                    b
                }
                Source::Config(c) => StorageBackendFactory::global()
                    .create_from_config(&c)
                    .map_err(|e| e.context(format_args!("destination {index}")))?,
            };
            let name = format!("{}#{index}", backend.type_name());
            destinations.push(Destination::new(
                name,
                backend,
                pending.route,
                self.config.destination_queue_batches,
                self.config.retry,
                clock.clone(),
                report.clone(),
            ));
        }
        let control = crossbeam_channel::unbounded::<Control>();
        let ingress = Arc::new(Ingress::new(
            self.config.max_queue_length,
            self.config.overflow,
            self.config.block_timeout,
            Arc::new(Budget::new(
                self.config.max_held_bytes,
                self.config.max_held_events,
            )),
            control.0.clone(),
        ));
        Ok(Collector::assemble(
            self.config,
            clock,
            injected_clock,
            control,
            ingress,
            destinations,
            report,
        ))
    }

    /// [`CollectorBuilder::build`], then [`Collector::start`].
    pub fn build_and_start(self) -> Result<Collector> {
        let collector = self.build()?;
        collector.start()?;
        Ok(collector)
    }
}
