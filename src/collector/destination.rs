//! One delivery thread per destination, so a slow, failing or panicking backend
//! delays and endangers only itself.
//!
//! The thread owns its backend: every backend call happens here, outside any viz
//! lock, inside `catch_unwind`. A failed batch is kept and retried under the
//! [`RetryPolicy`]; a panic retires the backend and later batches are counted as dropped.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::budget::Batch;
use super::control::Reply;
use super::route::Route;
use super::stats::{DestinationCounters, bump};
use crate::backend::StorageBackend;
use crate::clock::Clock;
use crate::config::RetryPolicy;
use crate::error::{ErrorKind, Result, VizError, panic_message};

/// How often a destination thread calls `StorageBackend::tick` when idle.
const TICK: Duration = Duration::from_millis(50);

/// The outcome of one attempt at a destination's kept events.
enum Retry {
    /// Nothing is kept any more: delivered, or there was nothing to deliver.
    Done,
    /// Failed; kept for the next attempt.
    Pending,
    /// Failed for the last allowed time; the events were dropped and counted.
    GaveUp(VizError),
}

/// A delivery failure, handed to the collector's error callback.
#[derive(Clone, Debug)]
pub struct ErrorReport {
    /// The destination, as `<type>#<index>`.
    pub destination: String,
    /// What went wrong.
    pub error: VizError,
    /// Events affected by the failed call.
    pub events: usize,
    /// Whether the events are kept for another attempt (false: they were dropped).
    pub will_retry: bool,
}

/// Called on a destination thread for every delivery failure.
pub type ErrorCallback = Arc<dyn Fn(&ErrorReport) + Send + Sync>;

pub(crate) type BackendCall = Box<dyn FnOnce(&mut dyn StorageBackend) + Send>;

pub(crate) enum DestMsg {
    Batch(Arc<Batch>),
    Flush(Option<Reply>),
    Call(BackendCall),
    Shutdown(Reply),
}

/// The collector's side of a destination.
#[derive(Clone)]
pub(crate) struct DestinationHandle {
    pub name: String,
    pub route: Route,
    pub tx: Sender<DestMsg>,
    pub counters: Arc<DestinationCounters>,
    pub thread: Arc<OnceLock<ThreadId>>,
    /// The backend's delivery onward, if it delivers to a remote destination.
    pub remote: Option<crate::backend::remote::Remote>,
    /// The backend's replication counters, if it replicates to an object store.
    pub replication: Option<crate::backend::s3::Replication>,
}

/// Shared context every destination thread reports through.
#[derive(Clone)]
pub(crate) struct ReportSink {
    /// Replaceable while the collector runs (`Collector::set_on_error`).
    pub on_error: Arc<parking_lot::RwLock<Option<ErrorCallback>>>,
    pub last_error: Arc<parking_lot::Mutex<Option<String>>>,
}

impl ReportSink {
    /// Records a failure of `source` as the collector's last error and hands it to
    /// the error callback, if any.
    pub(crate) fn report(&self, source: &str, error: VizError, events: usize, will_retry: bool) {
        *self.last_error.lock() = Some(format!("{source}: {error}"));
        // Cloned out, so the lock is not held while host code runs.
        let on_error = self.on_error.read().clone();
        if let Some(cb) = on_error {
            let report = ErrorReport {
                destination: source.to_owned(),
                error,
                events,
                will_retry,
            };
            // A panicking callback must not take the caller down with it.
            let _ = catch_unwind(AssertUnwindSafe(|| cb(&report)));
        }
    }
}

pub(crate) struct Destination {
    name: String,
    backend: Box<dyn StorageBackend>,
    rx: Receiver<DestMsg>,
    counters: Arc<DestinationCounters>,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    report: ReportSink,
    /// Batches kept for a retry, oldest first; later batches wait behind them.
    backlog: VecDeque<Arc<Batch>>,
    /// Events in `backlog`.
    backlog_events: usize,
    attempts: u32,
    next_retry: Option<Instant>,
    /// Why the backend was retired, once it panicked.
    panicked: Option<String>,
}

impl Destination {
    pub(crate) fn new(
        name: String,
        backend: Box<dyn StorageBackend>,
        route: Route,
        queue_batches: usize,
        retry: RetryPolicy,
        clock: Arc<dyn Clock>,
        report: ReportSink,
    ) -> (Destination, DestinationHandle) {
        let (tx, rx) = crossbeam_channel::bounded(queue_batches);
        let counters = Arc::new(DestinationCounters::default());
        let handle = DestinationHandle {
            name: name.clone(),
            route,
            tx,
            counters: counters.clone(),
            thread: Arc::new(OnceLock::new()),
            // Asked once, here: a panicking backend only loses its remote stats.
            remote: catch_unwind(AssertUnwindSafe(|| backend.remote()))
                .ok()
                .flatten(),
            replication: catch_unwind(AssertUnwindSafe(|| backend.replication()))
                .ok()
                .flatten(),
        };
        let dest = Destination {
            name,
            backend,
            rx,
            counters,
            retry,
            clock,
            report,
            backlog: VecDeque::new(),
            backlog_events: 0,
            attempts: 0,
            next_retry: None,
            panicked: None,
        };
        (dest, handle)
    }

    pub(crate) fn spawn(
        self,
        thread_id: Arc<OnceLock<ThreadId>>,
    ) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name(format!("viz-{}", self.name))
            .spawn(move || {
                let _ = thread_id.set(std::thread::current().id());
                self.run();
            })
    }

    fn run(mut self) {
        self.report_warnings();
        loop {
            let now = self.clock.now();
            let wait = self
                .next_retry
                .map(|t| t.saturating_duration_since(now).min(TICK))
                .unwrap_or(TICK);
            match self.rx.recv_timeout(wait) {
                Ok(DestMsg::Batch(batch)) => self.store(batch),
                Ok(DestMsg::Flush(ack)) => match ack {
                    Some(ack) => {
                        let result = self.flush(Some(ack.deadline));
                        let _ = ack.to.send(result);
                    }
                    None => {
                        let _ = self.flush(None);
                    }
                },
                Ok(DestMsg::Call(call)) => {
                    // The closure runs the backend call itself; guard it like any other.
                    if let Err(payload) =
                        catch_unwind(AssertUnwindSafe(|| call(&mut *self.backend)))
                    {
                        self.retire(&panic_message(&*payload), "a query");
                    }
                }
                Ok(DestMsg::Shutdown(ack)) => {
                    let _ = ack.to.send(self.shutdown(Some(ack.deadline)));
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.shutdown(None);
                    return;
                }
            }
            self.report_warnings();
            let now = self.clock.now();
            if self.next_retry.is_some_and(|t| now >= t) {
                // Failures are counted and reported inside; nobody waits on this one.
                let _ = self.retry_backlog();
            }
            if self.panicked.is_none()
                && let Err(e) = self.guarded("tick", |b| b.tick(now))
            {
                self.report(e, 0, false);
            }
        }
    }

    fn store(&mut self, batch: Arc<Batch>) {
        if self.panicked.is_some() {
            bump(&self.counters.dropped, batch.len() as u64);
            self.done(batch);
            return;
        }
        if !self.backlog.is_empty() {
            // Keep order: new events wait behind the ones being retried.
            self.keep(batch);
            return;
        }
        match self.guarded("store_events", |b| b.store_events(&batch)) {
            Ok(()) => {
                bump(&self.counters.written, batch.len() as u64);
                self.done(batch);
            }
            Err(e) if e.kind() == ErrorKind::Panic => {
                bump(&self.counters.dropped, batch.len() as u64);
                self.report(e, batch.len(), false);
                self.done(batch);
            }
            Err(e) => {
                bump(&self.counters.failed_batches, 1);
                self.attempts = 1;
                let will_retry = self.retry.max_attempts > 1;
                let n = batch.len();
                if will_retry {
                    self.keep(batch);
                    self.next_retry = Some(self.clock.now() + self.retry.initial_backoff);
                } else {
                    bump(&self.counters.dropped, n as u64);
                    self.done(batch);
                }
                self.report(e, n, will_retry);
            }
        }
    }

    /// Finished with a batch (stored or dropped): it no longer waits here.
    fn done(&self, batch: Arc<Batch>) {
        self.counters.release(batch.len() as u64, batch.bytes());
    }

    /// Keeps a batch for a retry, dropping the oldest kept batches beyond the
    /// policy's limit (whole batches, so a little fewer events may remain).
    fn keep(&mut self, batch: Arc<Batch>) {
        self.backlog_events += batch.len();
        self.backlog.push_back(batch);
        while self.backlog_events > self.retry.max_pending_events {
            let Some(oldest) = self.backlog.pop_front() else {
                break;
            };
            self.backlog_events -= oldest.len();
            bump(&self.counters.dropped, oldest.len() as u64);
            self.done(oldest);
        }
    }

    /// Drops every kept batch, counted.
    fn drop_backlog(&mut self) {
        bump(&self.counters.dropped, self.backlog_events as u64);
        for batch in std::mem::take(&mut self.backlog) {
            self.done(batch);
        }
        self.backlog_events = 0;
    }

    /// One more attempt at the kept batches, oldest first.
    fn retry_backlog(&mut self) -> Retry {
        if self.backlog.is_empty() {
            return Retry::Done;
        }
        bump(&self.counters.retries, 1);
        let mut stored_some = false;
        let e = loop {
            let Some(front) = self.backlog.front().map(Arc::clone) else {
                self.attempts = 0;
                self.next_retry = None;
                return Retry::Done;
            };
            match self.guarded("store_events", |b| b.store_events(&front)) {
                Ok(()) => {
                    bump(&self.counters.written, front.len() as u64);
                    self.backlog.pop_front();
                    self.backlog_events -= front.len();
                    self.done(front);
                    stored_some = true;
                }
                Err(e) => break e,
            }
        };
        bump(&self.counters.failed_batches, 1);
        // Attempts count per batch: the one that failed now is on its first try
        // unless it was also the front before.
        self.attempts = if stored_some { 1 } else { self.attempts + 1 };
        let n = self.backlog_events;
        if self.panicked.is_some() || self.attempts >= self.retry.max_attempts {
            self.drop_backlog();
            self.attempts = 0;
            self.next_retry = None;
            let e = e.context(format_args!(
                "{}: gave up on {n} events after {} attempts",
                self.name, self.retry.max_attempts
            ));
            self.report(e.clone(), n, false);
            return Retry::GaveUp(e);
        }
        let factor = 1u32 << (self.attempts - 1).min(16);
        let backoff = (self.retry.initial_backoff * factor).min(self.retry.max_backoff);
        self.next_retry = Some(self.clock.now() + backoff);
        self.report(e, n, true);
        Retry::Pending
    }

    /// Delivers the kept events (retrying, under the policy, until `deadline` when
    /// someone waits) and flushes the backend.
    fn flush(&mut self, deadline: Option<Instant>) -> Result<()> {
        if self.panicked.is_some() {
            return Err(self.panicked_error());
        }
        loop {
            match self.retry_backlog() {
                Retry::Done => break,
                Retry::GaveUp(e) => return Err(e),
                Retry::Pending => {}
            }
            let next = match (self.next_retry, deadline) {
                (Some(next), Some(deadline)) if next < deadline => next,
                _ => {
                    return Err(VizError::backend(format!(
                        "{}: {} events are still waiting for a retry",
                        self.name, self.backlog_events
                    )));
                }
            };
            std::thread::sleep(next.saturating_duration_since(self.clock.now()));
        }
        match self.guarded("flush", |b| b.flush()) {
            Ok(()) => {
                bump(&self.counters.flushes, 1);
                Ok(())
            }
            Err(e) => {
                bump(&self.counters.failed_batches, 1);
                self.report(e.clone(), 0, false);
                Err(e.context(&self.name))
            }
        }
    }

    fn shutdown(&mut self, deadline: Option<Instant>) -> Result<()> {
        let flushed = self.flush(deadline);
        if self.panicked.is_some() {
            return flushed;
        }
        self.drop_backlog();
        let closed = self.guarded("shutdown", |b| b.shutdown());
        // What the backend met while closing (a remote one: what it could not deliver).
        self.report_warnings();
        flushed.and(closed.map_err(|e| e.context(&self.name)))
    }

    /// Runs a backend call inside `catch_unwind`; a panic retires the backend.
    fn guarded<R>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut dyn StorageBackend) -> Result<R>,
    ) -> Result<R> {
        if self.panicked.is_some() {
            return Err(self.panicked_error());
        }
        match catch_unwind(AssertUnwindSafe(|| f(&mut *self.backend))) {
            Ok(result) => result,
            Err(payload) => Err(self.retire(&panic_message(&*payload), what)),
        }
    }

    /// Passes on what the backend worked around (see `StorageBackend::take_warnings`).
    fn report_warnings(&mut self) {
        if let Ok(warnings) = self.guarded("take_warnings", |b| Ok(b.take_warnings())) {
            for warning in warnings {
                bump(&self.counters.warnings, 1);
                self.report(warning, 0, false);
            }
        }
    }

    fn retire(&mut self, message: &str, during: &str) -> VizError {
        self.panicked = Some(format!("panicked in {during}: {message}"));
        self.counters
            .panicked
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.drop_backlog();
        VizError::new(
            ErrorKind::Panic,
            format!(
                "backend {} panicked in {during}: {message}; it receives no more events",
                self.name
            ),
        )
    }

    fn panicked_error(&self) -> VizError {
        VizError::new(
            ErrorKind::Panic,
            format!(
                "backend {} {} and receives no more events",
                self.name,
                self.panicked.as_deref().unwrap_or("panicked")
            ),
        )
    }

    fn report(&self, error: VizError, events: usize, will_retry: bool) {
        *self.counters.last_error.lock() = Some(format!("{}: {error}", self.name));
        self.report.report(&self.name, error, events, will_retry);
    }
}
