//! [`SharedBackend`]: one backend instance used from several places at once, such
//! as a collector's delivery thread writing it while the program reads it.
//!
//! Not a backend type of its own (it is not in `BUILTIN`): it wraps any backend
//! behind a mutex. Each call locks for its own duration only, so a reader waits at
//! most for one batch. A [`lent`](SharedBackend::lent) handle, as given to a
//! collector, only flushes on `shutdown`: the backend stays open for its owner,
//! and is shut down when its last handle goes.

use crate::metadata::{Metadata, MetadataBatch};
use crate::query::{Aggregate, Bucket, Query};
use std::sync::Arc;

use parking_lot::Mutex;

use super::StorageBackend;
use crate::config::StorageConfiguration;
use crate::error::{Result, VizError};
use crate::event::Event;

/// A cloneable handle to one backend instance.
#[derive(Clone)]
pub struct SharedBackend {
    inner: Arc<Inner>,
    type_name: String,
    lent: bool,
}

struct Inner(Mutex<Box<dyn StorageBackend>>);

impl Drop for Inner {
    fn drop(&mut self) {
        // Whatever a backend buffers must not vanish with the last handle.
        let backend = self.0.get_mut();
        if backend.is_initialized() {
            let _ = backend.shutdown();
        }
    }
}

impl SharedBackend {
    /// Shares `backend`.
    pub fn new(backend: Box<dyn StorageBackend>) -> SharedBackend {
        SharedBackend {
            type_name: backend.type_name().to_owned(),
            inner: Arc::new(Inner(Mutex::new(backend))),
            lent: false,
        }
    }

    /// A handle whose `shutdown` only flushes, for users other than the owner.
    pub fn lent(&self) -> SharedBackend {
        SharedBackend {
            lent: true,
            ..self.clone()
        }
    }

    /// Runs `f` on the backend, holding its lock.
    pub fn with<R>(&self, f: impl FnOnce(&mut dyn StorageBackend) -> R) -> R {
        f(&mut **self.inner.0.lock())
    }
}

impl StorageBackend for SharedBackend {
    fn type_name(&self) -> &str {
        &self.type_name
    }

    fn initialize_with(&mut self, config: &StorageConfiguration) -> Result<()> {
        self.with(|b| b.initialize_with(config))
    }

    fn shutdown(&mut self) -> Result<()> {
        if self.lent {
            return self.with(|b| {
                if b.is_initialized() {
                    b.flush()
                } else {
                    Ok(())
                }
            });
        }
        self.with(|b| b.shutdown())
    }

    fn is_initialized(&self) -> bool {
        self.with(|b| b.is_initialized())
    }

    fn store_events(&mut self, events: &[Event]) -> Result<()> {
        self.with(|b| b.store_events(events))
    }

    fn get_events(&self, start_step: i64, end_step: i64) -> Result<Vec<Event>> {
        self.with(|b| b.get_events(start_step, end_step))
    }

    fn query(&self, query: &Query) -> Result<Vec<Event>> {
        self.with(|b| b.query(query))
    }

    fn pages_cheaply(&self, query: &Query) -> bool {
        self.with(|b| b.pages_cheaply(query))
    }

    fn aggregate(&self, query: &Query) -> Result<Vec<Aggregate>> {
        self.with(|b| b.aggregate(query))
    }

    fn downsample(
        &self,
        query: &Query,
        first: i64,
        last: i64,
        buckets: usize,
    ) -> Result<Vec<Bucket>> {
        self.with(|b| b.downsample(query, first, last, buckets))
    }

    fn latest(&self, query: &Query) -> Result<Vec<Event>> {
        self.with(|b| b.latest(query))
    }

    fn begin_transaction(&mut self) -> Result<()> {
        self.with(|b| b.begin_transaction())
    }

    fn commit_transaction(&mut self) -> Result<()> {
        self.with(|b| b.commit_transaction())
    }

    fn rollback_transaction(&mut self) -> Result<()> {
        self.with(|b| b.rollback_transaction())
    }

    fn set_metadata(&mut self, batch: &MetadataBatch) -> Result<()> {
        self.with(|b| b.set_metadata(batch))
    }

    fn metadata(&self) -> Result<Metadata> {
        self.with(|b| b.metadata())
    }

    fn flush(&mut self) -> Result<()> {
        self.with(|b| b.flush())
    }

    fn event_count(&self) -> u64 {
        self.with(|b| b.event_count())
    }

    fn clear(&mut self) -> Result<()> {
        self.with(|b| b.clear())
    }

    fn tick(&mut self, now: std::time::Instant) -> Result<()> {
        self.with(|b| b.tick(now))
    }

    fn take_warnings(&mut self) -> Vec<VizError> {
        self.with(|b| b.take_warnings())
    }

    fn set_run_status(&mut self, status: crate::runs::RunStatus) -> Result<()> {
        self.with(|b| b.set_run_status(status))
    }
    fn replication(&self) -> Option<super::s3::Replication> {
        self.with(|b| b.replication())
    }
    fn replicate(&mut self, timeout: std::time::Duration) -> Result<()> {
        self.with(|b| b.replicate(timeout))
    }
    fn run_status(&self) -> Result<Option<crate::runs::RunStatus>> {
        self.with(|b| b.run_status())
    }

    fn remote(&self) -> Option<crate::backend::remote::Remote> {
        self.with(|b| b.remote())
    }
}
