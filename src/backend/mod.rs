//! The storage backend trait and the built-in backends.
//!
//! Adding a backend is one file in this folder plus one line in `BUILTIN` below.

use std::time::Instant;

use crate::config::StorageConfiguration;
use crate::error::{Result, VizError};
use crate::event::Event;
use crate::metadata::{Metadata, MetadataBatch};
use crate::query::{Aggregate, Bucket, Query, aggregate, downsample, latest};

mod appender;
pub mod base;
mod compression;
pub mod file;
pub mod jsonl;
pub mod memory;
pub mod mlflow;
pub mod remote;
mod run_claim;
pub mod s3;
mod sealer;
pub mod shared;
pub mod spool;
pub mod sqlite;
pub mod subscriber;
pub mod tensorboard;
mod writer_lock;

/// A constructor for a backend type, as kept by the factory.
pub type BackendConstructor = fn() -> Box<dyn StorageBackend>;

/// Built-in backend types: `(type name, constructor)`. One line per backend.
pub(crate) const BUILTIN: &[(&str, BackendConstructor)] = &[
    ("memory", memory::MemoryBackend::boxed),
    ("jsonl", jsonl::JsonlBackend::boxed),
    ("tensorboard", tensorboard::TensorBoardBackend::boxed),
    ("file", file::FileLogBackend::boxed),
    ("sqlite", sqlite::SqliteBackend::boxed),
    ("mlflow", mlflow::MlflowBackend::boxed),
    ("s3", s3::S3Backend::boxed),
];

/// Where a collector persists events (the seed's `IStorageBackend`).
///
/// Methods are synchronous; the collector is the asynchronous path and calls every
/// method of a backend from that backend's own delivery thread, so an implementation
/// needs no locking of its own. `Send` lets the collector move the backend there.
pub trait StorageBackend: Send {
    /// The registered type name, used in errors and stats.
    fn type_name(&self) -> &str;

    /// Opens the backend from a typed configuration.
    fn initialize_with(&mut self, config: &StorageConfiguration) -> Result<()>;

    /// Opens the backend from a connection string such as `memory://`.
    fn initialize(&mut self, connection_string: &str) -> Result<()> {
        self.initialize_with(&StorageConfiguration::for_url(connection_string))
    }

    /// Flushes and closes. Later calls other than `is_initialized` may fail.
    fn shutdown(&mut self) -> Result<()>;

    /// Whether `initialize` succeeded and `shutdown` has not run.
    fn is_initialized(&self) -> bool;

    /// Stores one event.
    fn store_event(&mut self, event: &Event) -> Result<()> {
        self.store_events(std::slice::from_ref(event))
    }

    /// Stores a batch. An error should mean none of the batch was stored: the
    /// collector retries the whole batch, so a partial store would duplicate events.
    fn store_events(&mut self, events: &[Event]) -> Result<()>;

    /// Events with `start_step <= step <= end_step`, in stored order.
    /// Write-only backends keep this default, which reports the operation unsupported.
    fn get_events(&self, start_step: i64, end_step: i64) -> Result<Vec<Event>> {
        let _ = (start_step, end_step);
        Err(VizError::unsupported("get_events", self.type_name()))
    }

    /// The stored events a [`Query`] selects, in its order and page. This default
    /// reads the query's step range with [`StorageBackend::get_events`] and scans it;
    /// a backend with indexes answers it better.
    fn query(&self, query: &Query) -> Result<Vec<Event>> {
        query.validate()?;
        query.run(self.get_events(query.steps.0, query.steps.1)?)
    }

    /// Whether answering `query` a page at a time (its offset moved on, a limit per
    /// page) costs about the pages' own size, so a cursor should fetch its pages
    /// lazily rather than the whole answer at once. True only where an index finds
    /// a page without reading what comes before it.
    fn pages_cheaply(&self, query: &Query) -> bool {
        let _ = query;
        false
    }

    /// Per-tag statistics (count, min, max, mean, first, last) of the scalars a
    /// selection-only query picks (no order, offset or limit). This default runs
    /// the query and computes over its events.
    fn aggregate(&self, query: &Query) -> Result<Vec<Aggregate>> {
        query.check_selection_only("an aggregate query")?;
        Ok(aggregate(&self.query(query)?))
    }

    /// The selected scalars cut into `buckets` step buckets spanning
    /// `first..=last` (see [`crate::query::downsample`]), for plots: a million
    /// points read as a thousand. This default runs the query and computes.
    fn downsample(
        &self,
        query: &Query,
        first: i64,
        last: i64,
        buckets: usize,
    ) -> Result<Vec<Bucket>> {
        query.check_selection_only("a downsample query")?;
        downsample(&self.query(query)?, first, last, buckets)
    }

    /// The last stored event of each selected tag, ordered by tag ("the latest
    /// value of each tag"). This default runs the query and keeps the last of each.
    fn latest(&self, query: &Query) -> Result<Vec<Event>> {
        query.check_selection_only("a latest-value query")?;
        Ok(latest(self.query(query)?))
    }

    /// Applies a run-metadata batch (keys to set, keys to delete) atomically: all
    /// of it or none. Backends without metadata keep this default, which reports
    /// the operation unsupported.
    fn set_metadata(&mut self, batch: &MetadataBatch) -> Result<()> {
        let _ = batch;
        Err(no_metadata("set_metadata", self.type_name()))
    }

    /// The run's metadata, key → value. Backends without readable metadata keep
    /// this default, which reports the operation unsupported.
    fn metadata(&self) -> Result<Metadata> {
        Err(no_metadata("metadata", self.type_name()))
    }

    /// Records how the run ended, applied when the backend shuts down. Backends
    /// that keep no run status keep this default, which reports the operation
    /// unsupported.
    fn set_run_status(&mut self, status: crate::runs::RunStatus) -> Result<()> {
        let _ = status;
        Err(VizError::new(
            crate::error::ErrorKind::Unsupported,
            format!(
                "set_run_status: the '{}' backend keeps no run status",
                self.type_name()
            ),
        ))
    }

    /// Makes everything stored so far durable beyond this machine, waiting at
    /// most `timeout`: s3:// seals its staging log and waits until the object
    /// store holds every segment. Backends whose storage is already final once
    /// flushed keep this default, a flush.
    fn replicate(&mut self, timeout: std::time::Duration) -> Result<()> {
        let _ = timeout;
        self.flush()
    }

    /// How the run ended, as recorded by [`set_run_status`](Self::set_run_status);
    /// `None` while it runs or if it stopped without saying. Backends that keep no
    /// readable run status keep this default, which reports the operation
    /// unsupported.
    fn run_status(&self) -> Result<Option<crate::runs::RunStatus>> {
        Err(VizError::new(
            crate::error::ErrorKind::Unsupported,
            format!(
                "run_status: the '{}' backend keeps no readable run status",
                self.type_name()
            ),
        ))
    }

    /// Opens a transaction: the stores and metadata changes until
    /// [`commit_transaction`](Self::commit_transaction) land together, or none of them
    /// if [`rollback_transaction`](Self::rollback_transaction) (seed 002's
    /// TransactionManager). Backends without transactions keep this default, which
    /// reports the operation unsupported. See [`transaction`] for the safe form.
    fn begin_transaction(&mut self) -> Result<()> {
        Err(VizError::new(
            crate::error::ErrorKind::Unsupported,
            format!("transactions: the '{}' backend has none", self.type_name()),
        ))
    }

    /// Commits the open transaction.
    fn commit_transaction(&mut self) -> Result<()> {
        Err(VizError::new(
            crate::error::ErrorKind::Unsupported,
            format!("transactions: the '{}' backend has none", self.type_name()),
        ))
    }

    /// Undoes everything since `begin_transaction`.
    fn rollback_transaction(&mut self) -> Result<()> {
        Err(VizError::new(
            crate::error::ErrorKind::Unsupported,
            format!("transactions: the '{}' backend has none", self.type_name()),
        ))
    }

    /// Makes everything stored so far durable (as far as this backend goes).
    fn flush(&mut self) -> Result<()>;

    /// Events stored since initialization or the last `clear`.
    fn event_count(&self) -> u64;

    /// Removes every stored event.
    fn clear(&mut self) -> Result<()>;

    /// Called periodically by the collector so time-based work (such as the buffered
    /// base's interval flush) happens without a timer thread per backend.
    fn tick(&mut self, now: Instant) -> Result<()> {
        let _ = now;
        Ok(())
    }

    /// For a backend that delivers elsewhere after storing (a remote server,
    /// through a spool): the handle that counts its deliveries and waits until the
    /// destination acknowledged what was stored
    /// ([`Collector::wait_acknowledged`](crate::Collector::wait_acknowledged)).
    /// `None`, this default, for a backend whose storing is its delivery.
    fn remote(&self) -> Option<crate::backend::remote::Remote> {
        None
    }

    /// For a backend that replicates what it stores to an object store (s3://):
    /// the handle its uploader counts on, read by the collector's stats without
    /// calling the backend. `None`, this default, elsewhere.
    fn replication(&self) -> Option<s3::Replication> {
        None
    }

    /// Problems the backend worked around but someone must hear about, such as a
    /// torn tail it truncated on open or a damaged record a read skipped. The
    /// collector takes them after start, after each batch and after each query,
    /// and reports each through its error callback and `last_error`.
    fn take_warnings(&mut self) -> Vec<VizError> {
        Vec::new()
    }
}

/// Runs `work` in a transaction on `backend`: committed if it succeeds, rolled back
/// (and its error returned) if it fails.
pub fn transaction<R>(
    backend: &mut dyn StorageBackend,
    work: impl FnOnce(&mut dyn StorageBackend) -> Result<R>,
) -> Result<R> {
    backend.begin_transaction()?;
    match work(&mut *backend) {
        Ok(r) => {
            backend.commit_transaction()?;
            Ok(r)
        }
        Err(e) => {
            // The work's error is the one that matters; a failed rollback adds to it.
            match backend.rollback_transaction() {
                Ok(()) => Err(e),
                Err(r) => Err(VizError::new(
                    e.kind(),
                    format!(
                        "{}; rolling the transaction back failed too: {r}",
                        e.message()
                    ),
                )),
            }
        }
    }
}

/// The error of a backend that keeps no run metadata.
fn no_metadata(operation: &str, backend: &str) -> VizError {
    VizError::new(
        crate::error::ErrorKind::Unsupported,
        format!("{operation}: the '{backend}' backend keeps no run metadata"),
    )
}

/// Checks that a backend is initialized before use; the message names the type.
pub(crate) fn ensure_initialized(initialized: bool, type_name: &str) -> Result<()> {
    if initialized {
        Ok(())
    } else {
        Err(VizError::closed(format!(
            "the '{type_name}' backend is not initialized (call initialize first, or it was shut down)"
        )))
    }
}
