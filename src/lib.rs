//! # viz
//!
//! Records visualization events — scalars, histograms, text, images, tensors and raw
//! bytes — from an ML training loop, and persists them in batches on background
//! threads through pluggable storage backends.
//!
//! The data path: [`Collector::collect_scalar`] (no lock, no allocation, no system
//! call) → the calling thread's own bounded lane → the worker thread (staging, flush
//! strategy, routing) → one delivery thread per [`StorageBackend`] or
//! [`EventSubscriber`]. ARCHITECTURE.md traces it in detail.
//!
//! ```
//! use std::time::Duration;
//! use viz::{Collector, MemoryBackend};
//!
//! let memory = MemoryBackend::new();
//! let collector = Collector::builder().backend(memory.clone()).build_and_start()?;
//! let loss = collector.intern("train/loss")?;
//! for step in 0..1000 {
//!     collector.collect_scalar(loss, step, 1.0 / (step + 1) as f64)?;
//! }
//! collector.flush(Duration::from_secs(5))?;
//! assert_eq!(memory.len(), 1000);
//! # Ok::<(), viz::VizError>(())
//! ```

#![deny(missing_docs)]

pub mod backend;
pub mod clock;
pub mod collector;
pub mod config;
pub mod error;
pub mod event;
pub mod factory;
pub mod ffi;
mod float_serde;
pub mod format;
pub mod limits;
pub mod metadata;
pub mod object_store;
pub mod payload;
pub mod query;
pub mod runs;
pub mod tag;
pub mod url;

pub use backend::StorageBackend;
pub use backend::base::{BufferedSink, StorageBackendBase};
pub use backend::memory::MemoryBackend;
pub use backend::subscriber::EventSubscriber;
pub use backend::{remote, spool};
pub use clock::{Clock, ManualClock, SystemClock, WallClock};
pub use collector::{
    AsyncEventCollector, BackendCaller, Collector, CollectorBuilder, CollectorSpec, CollectorStats,
    DestinationStats, ErrorCallback, ErrorReport, EventCollector, Route, Subscription,
    WatchCallback,
};
pub use config::{
    CollectorConfig, FlushStrategy, OverflowPolicy, RetryPolicy, StorageConfiguration,
};
pub use error::{ErrorKind, Result, VizError};
pub use event::{Event, EventData, EventKind, KindSet, Priority};
pub use factory::StorageBackendFactory;
pub use payload::{DType, Histogram, Image, RawBytes, Tensor};
pub use query::{Order, Predicate, Query, TagPattern};
pub use runs::RunStatus;
pub use tag::{MAX_TAG_LEN, Tag, TagId};

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The C ABI version, bumped on every incompatible change to the `viz_*` functions.
pub const ABI_VERSION: u32 = ffi::version::VIZ_ABI_VERSION;

/// Compiles and runs the README's example as a doc test, so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
