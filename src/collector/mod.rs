//! The asynchronous event collector (the seed's `IEventCollector` and
//! `AsyncEventCollector`).
//!
//! Data path: `collect*` → `ingress` (the calling thread's lock-free lane, in `lanes`,
//! `spsc` and `ring`) → `worker` (staging, flush strategy, routing) → one
//! `destination` thread per backend or subscriber.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

mod budget;
mod builder;
mod control;
mod destination;
mod ingress;
mod lanes;
mod outlet;
mod record;
mod ring;
mod route;
mod spec;
mod spsc;
mod stats;
mod sync;
mod watch;
mod worker;

pub use builder::CollectorBuilder;
pub use destination::{ErrorCallback, ErrorReport};
pub use route::Route;
pub use spec::CollectorSpec;
pub use stats::{CollectorStats, DestinationStats};
pub use watch::{Subscription, WatchCallback};

use control::{Control, Reply};
use destination::{DestMsg, Destination, DestinationHandle, ReportSink};
use ingress::{CREATED, DRAINED, Ingress, RUNNING, STOPPED};
use record::{Record, ScalarRecord};
use stats::{WorkerCounters, load};
use worker::Worker;

use crate::backend::StorageBackend;
use crate::clock::{Clock, WallClock};
use crate::config::CollectorConfig;
use crate::error::{ErrorKind, Result, VizError};
use crate::event::{Event, EventData, Priority};
use crate::tag::{Tag, TagId};

/// The seed's `IEventCollector`: the operations every collector offers.
pub trait EventCollector {
    /// The configuration (fixed once built).
    fn config(&self) -> &CollectorConfig;
    /// Queues an event; see [`Collector::collect`].
    fn collect(&self, event: Event) -> Result<()>;
    /// Delivers and flushes everything collected before the call; see [`Collector::flush`].
    fn flush(&self, timeout: Duration) -> Result<()>;
    /// Starts the background threads.
    fn start(&self) -> Result<()>;
    /// Stops accepting, drains, flushes, shuts backends down and joins.
    fn stop(&self, timeout: Duration) -> Result<()>;
    /// Whether started and not stopped.
    fn is_running(&self) -> bool;
    /// Events collected but not yet handed to the destinations.
    fn pending_event_count(&self) -> usize;
}

/// The seed's name for the collector.
pub type AsyncEventCollector = Collector;

struct Lifecycle {
    unstarted: Option<(Worker, Vec<Destination>)>,
    worker: Option<JoinHandle<()>>,
    destinations: Vec<JoinHandle<()>>,
}

/// Collects events from any number of threads and persists them in the background.
///
/// `Collector` is `Send + Sync`: share it by reference or in an `Arc`. Dropping it
/// stops it (draining and flushing, bounded by `shutdown_timeout`).
pub struct Collector {
    ingress: Arc<Ingress>,
    control: Sender<Control>,
    config: CollectorConfig,
    clock: HotClock,
    counters: Arc<WorkerCounters>,
    destinations: Vec<DestinationHandle>,
    /// The last error and the error callback every destination thread reads
    /// (`set_on_error`); the collector reports its own drops through it too.
    report: ReportSink,
    lifecycle: Mutex<Lifecycle>,
    /// Live watchers (`subscribe`).
    watch: Arc<watch::Hub>,
    /// The process that built it. Its threads do not survive `fork`, so a forked
    /// child cannot use it: see [`Collector::refuse_in_forked_child`].
    owner: u32,
}

impl Collector {
    /// A builder: the fluent way to make a collector with its backends.
    pub fn builder() -> CollectorBuilder {
        CollectorBuilder::new()
    }

    /// The seed's first constructor: one backend. Not started; call [`Collector::start`].
    pub fn with_backend(
        backend: impl StorageBackend + 'static,
        config: CollectorConfig,
    ) -> Result<Collector> {
        CollectorBuilder::new()
            .config(config)
            .backend(backend)
            .build()
    }

    /// The seed's second constructor: subscribers only. Not started.
    pub fn with_subscribers(
        subscribers: Vec<Box<dyn crate::EventSubscriber>>,
        config: CollectorConfig,
    ) -> Result<Collector> {
        subscribers
            .into_iter()
            .fold(CollectorBuilder::new().config(config), |b, s| {
                b.subscriber_boxed(s)
            })
            .build()
    }

    pub(crate) fn assemble(
        config: CollectorConfig,
        clock: Arc<dyn Clock>,
        injected_clock: bool,
        control: (Sender<Control>, Receiver<Control>),
        ingress: Arc<Ingress>,
        destinations: Vec<(Destination, DestinationHandle)>,
        report: ReportSink,
    ) -> Collector {
        let (watch, tap) = watch::hub(report.clone());
        let (dest_threads, handles): (Vec<_>, Vec<_>) = destinations.into_iter().unzip();
        let counters = Arc::new(WorkerCounters::default());
        let worker = Worker {
            ingress: ingress.clone(),
            control: control.1,
            config: config.clone(),
            clock: clock.clone(),
            counters: counters.clone(),
            outlets: handles
                .iter()
                .map(|h| outlet::Outlet::new(h.clone(), report.clone()))
                .collect(),
            report: report.clone(),
            reported_drops: [0; 3],
            staged_bytes: 0,
            budget: ingress.budget.clone(),
            staging: Vec::with_capacity(config.buffer_capacity),
            tags: Default::default(),
            last_flush: clock.now(),
            dirty: false,
            lanes: Vec::new(),
            lanes_epoch: 0,
            next_lane: 0,
            taken: 0,
            watch: tap,
        };
        let clock = if injected_clock {
            HotClock::Injected(clock)
        } else {
            HotClock::System(config.wall_clock)
        };
        Collector {
            ingress,
            control: control.0,
            config,
            clock,
            counters,
            destinations: handles,
            report,
            lifecycle: Mutex::new(Lifecycle {
                unstarted: Some((worker, dest_threads)),
                worker: None,
                destinations: Vec::new(),
            }),
            watch,
            owner: std::process::id(),
        }
    }

    /// A forked child inherits the collector's memory but none of its threads: a
    /// flush or stop there would wait for threads that do not exist. Refused at once.
    fn refuse_in_forked_child(&self) -> Result<()> {
        let me = std::process::id();
        if me == self.owner {
            return Ok(());
        }
        Err(VizError::closed(format!(
            "this collector belongs to process {}; this is a forked child (process {me}), where its threads do not exist: create a new collector in the child",
            self.owner
        )))
    }

    /// Watches the collector live: `callback` receives, on the collector's
    /// "viz-watch" thread, the events of each delivered batch that `filter`
    /// selects (its tags, kinds, steps, wall time and `where`; a filter with an
    /// order, offset or limit is refused). Any number of watchers may subscribe and
    /// cancel at any time, before or while the collector runs; dropping the
    /// returned [`Subscription`] cancels it. A slow callback never slows the
    /// collector: when the watch thread falls behind, batches are dropped for
    /// watchers (counted in [`Subscription::dropped`]), never for the backends.
    /// A callback that panics is unsubscribed and reported to the error callback.
    /// After [`stop`](Self::stop) returns, every watcher has seen every batch
    /// delivered before it; subscribing then fails with `Closed`.
    pub fn subscribe(
        &self,
        filter: crate::query::Query,
        callback: impl FnMut(&[Event]) + Send + 'static,
    ) -> Result<Subscription> {
        self.subscribe_boxed(filter, Box::new(callback))
    }

    /// [`subscribe`](Self::subscribe) with a boxed callback.
    pub fn subscribe_boxed(
        &self,
        filter: crate::query::Query,
        callback: WatchCallback,
    ) -> Result<Subscription> {
        self.refuse_in_forked_child()?;
        self.watch.subscribe(filter, callback)
    }

    /// Sets (or, with `None`, removes) the callback every delivery failure and
    /// warning is reported to, replacing the one given to the builder. It runs on
    /// delivery threads; the one it replaces is dropped once no thread is calling it.
    pub fn set_on_error(&self, callback: Option<ErrorCallback>) {
        *self.report.on_error.write() = callback;
    }

    /// Interns `tag` for [`Collector::collect_scalar`]. Call once per tag, outside the hot loop.
    pub fn intern(&self, tag: &str) -> Result<TagId> {
        Tag::new(tag).map(Tag::id)
    }

    /// The hot path: queues a scalar under an interned tag, stamped with the current
    /// wall time. Takes no lock, allocates nothing, makes no system call and does not
    /// wake the worker (unless the queue is full and the policy is `Block`).
    #[inline]
    pub fn collect_scalar(&self, tag: TagId, step: i64, value: f64) -> Result<()> {
        let wall_time = self.clock.wall_time();
        self.collect_scalar_at(tag, step, value, wall_time)
    }

    /// [`Collector::collect_scalar`] with a caller-given wall time (seconds since the epoch).
    #[inline]
    pub fn collect_scalar_at(
        &self,
        tag: TagId,
        step: i64,
        value: f64,
        wall_time: f64,
    ) -> Result<()> {
        self.ingress.push(Record::Scalar(ScalarRecord {
            tag,
            step,
            value,
            wall_time,
        }))
    }

    /// Queues any event. A missing wall time is stamped now. Normal-priority scalars
    /// take the allocation-free path; critical events are never dropped and make the
    /// worker deliver and flush at once.
    pub fn collect(&self, mut event: Event) -> Result<()> {
        event.validate()?;
        let wall_time = *event
            .wall_time
            .get_or_insert_with(|| self.clock.wall_time());
        match (event.priority, &event.data) {
            (Priority::Critical, _) => self.ingress.push_critical(Box::new(event)),
            (Priority::Normal, EventData::Scalar(value)) => {
                self.collect_scalar_at(event.tag.id(), event.step, *value, wall_time)
            }
            (Priority::Normal, _) => self.ingress.push_event(Box::new(event)),
        }
    }

    /// Queues events in order; stops at the first error and returns it with the
    /// number accepted before it.
    pub fn collect_batch(
        &self,
        events: impl IntoIterator<Item = Event>,
    ) -> std::result::Result<usize, (usize, VizError)> {
        let mut accepted = 0;
        for event in events {
            self.collect(event).map_err(|e| (accepted, e))?;
            accepted += 1;
        }
        Ok(accepted)
    }

    /// Starts the worker and destination threads. Events collected before `start`
    /// wait in the queue. Starting twice is a no-op; starting after `stop` fails.
    pub fn start(&self) -> Result<()> {
        self.refuse_in_forked_child()?;
        let mut lifecycle = self.lifecycle.lock();
        let Some((worker, destinations)) = lifecycle.unstarted.take() else {
            return match self.ingress.state.load(Ordering::Acquire) {
                STOPPED | DRAINED => Err(VizError::closed(
                    "the collector was stopped; build a new one",
                )),
                _ => Ok(()),
            };
        };
        for (dest, handle) in destinations.into_iter().zip(&self.destinations) {
            let thread = dest.spawn(handle.thread.clone())?;
            lifecycle.destinations.push(thread);
        }
        let thread = std::thread::Builder::new()
            .name("viz-worker".into())
            .spawn(move || worker.run())?;
        lifecycle.worker = Some(thread);
        self.ingress.state.store(RUNNING, Ordering::Release);
        Ok(())
    }

    /// Whether started and not stopped.
    pub fn is_running(&self) -> bool {
        self.ingress.state.load(Ordering::Acquire) == RUNNING
    }

    /// Returns once every event collected before the call has reached every
    /// destination and each has flushed, or fails with [`ErrorKind::Timeout`] (naming
    /// what did not finish) after `timeout`. A backend error is returned as such.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.refuse_in_forked_child()?;
        self.refuse_on_delivery_thread("flush")?;
        match self.ingress.state.load(Ordering::Acquire) {
            RUNNING => {}
            CREATED => {
                return Err(VizError::closed(
                    "the collector is not started; call start first",
                ));
            }
            _ => return Err(VizError::closed("the collector is stopped")),
        }
        let deadline = deadline_after(timeout);
        let (reply, answers) = crossbeam_channel::bounded(self.destinations.len());
        self.control
            .send(Control::Flush(Reply {
                to: reply,
                deadline,
            }))
            .map_err(|_| VizError::closed("the collector's worker has exited"))?;
        self.await_answers(&answers, deadline, "flush")
    }

    /// Flush and stop wait for every destination thread to answer; called from one
    /// of them (a backend or subscriber calling back into viz), that thread would
    /// wait for itself. Refuse at once instead of timing out.
    pub(crate) fn refuse_on_delivery_thread(&self, what: &str) -> Result<()> {
        let me = std::thread::current().id();
        match self
            .destinations
            .iter()
            .find(|d| d.thread.get() == Some(&me))
        {
            Some(d) => Err(VizError::new(
                ErrorKind::Unsupported,
                format!(
                    "cannot {what} from {}'s own delivery thread: it would wait for itself",
                    d.name
                ),
            )),
            None => Ok(()),
        }
    }

    /// Collects one answer per destination, or reports which are missing at the deadline.
    fn await_answers(
        &self,
        answers: &Receiver<Result<()>>,
        deadline: Instant,
        what: &str,
    ) -> Result<()> {
        let mut first_error = None;
        for received in 0..self.destinations.len() {
            match answers.recv_deadline(deadline) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(_) => {
                    return Err(VizError::timeout(format!(
                        "{what} did not complete in time: {} of {} destinations answered",
                        received,
                        self.destinations.len()
                    )));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Flushes, then waits until every remote destination (such as
    /// `mlflow+http://`) has had every event collected before the call
    /// acknowledged by its server, at most `timeout` in all. `flush` only makes
    /// events durable in the spool; this is the call that ends a training script
    /// with everything confirmed remote. Fails with `Timeout` naming how many
    /// events are still unacknowledged. Without remote destinations it is `flush`.
    pub fn wait_acknowledged(&self, timeout: Duration) -> Result<()> {
        let deadline = deadline_after(timeout);
        self.flush(timeout)?;
        for d in &self.destinations {
            if let Some(remote) = &d.remote {
                let left = deadline.saturating_duration_since(Instant::now());
                remote
                    .wait_acknowledged(remote.spooled(), left)
                    .map_err(|e| e.context(&d.name))?;
            }
        }
        Ok(())
    }

    /// Makes every event collected before the call durable beyond this machine,
    /// at most `timeout` in all: flushes, waits for remote destinations'
    /// servers ([`wait_acknowledged`](Self::wait_acknowledged)), and has each
    /// backend replicate what it holds (s3:// seals its staging log and uploads
    /// every segment). Fails with `Timeout` naming the destination still
    /// pending; what it holds stays staged and is delivered later.
    pub fn sync(&self, timeout: Duration) -> Result<()> {
        let deadline = deadline_after(timeout);
        self.wait_acknowledged(timeout)?;
        for (index, d) in self.destinations.iter().enumerate() {
            let left = deadline.saturating_duration_since(Instant::now());
            self.query_backend(index, left, move |backend| backend.replicate(left))
                .and_then(|r| r)
                .map_err(|e| e.context(&d.name))?;
        }
        Ok(())
    }

    /// Stops accepting events, drains the queue, delivers and flushes everything,
    /// shuts every backend down and joins the threads, waiting at most `timeout`.
    /// A backend still busy at the deadline is left on its thread and reported.
    /// Stopping a collector that was never started starts it first, so what was
    /// queued is still delivered. Stopping twice is a no-op.
    pub fn stop(&self, timeout: Duration) -> Result<()> {
        self.refuse_in_forked_child()?;
        self.refuse_on_delivery_thread("stop")?;
        if self.ingress.state.load(Ordering::Acquire) == CREATED {
            self.start()?;
        }
        let mut lifecycle = self.lifecycle.lock();
        let Some(worker) = lifecycle.worker.take() else {
            return Ok(());
        };
        self.ingress.state.store(STOPPED, Ordering::Release);
        let deadline = deadline_after(timeout);
        let (reply, answers) = crossbeam_channel::bounded(self.destinations.len());
        let result = match self.control.send(Control::Stop(Reply {
            to: reply,
            deadline,
        })) {
            Ok(()) => self.await_answers(&answers, deadline, "stop"),
            Err(_) => Err(VizError::closed("the collector's worker has exited")),
        };
        let worker_joined = join_until(worker, deadline);
        for thread in lifecycle.destinations.drain(..) {
            join_until(thread, deadline);
        }
        // Watchers see every batch delivered before the worker exited.
        self.watch.finish(deadline);
        // A producer on another thread that raced stop() may have pushed after the
        // worker's final drain. Such events cannot be delivered any more; count them
        // rather than lose them silently. Only once the worker is gone: a lane has
        // one consumer.
        if worker_joined {
            self.ingress.state.store(DRAINED, Ordering::Release);
            let lost = self.ingress.discard_remaining();
            if lost > 0 {
                self.ingress
                    .drops
                    .lost_at_stop
                    .fetch_add(lost, Ordering::Relaxed);
                let error = VizError::closed(format!(
                    "{lost} events collected concurrently with stop() arrived after the final drain and were dropped"
                ));
                self.report.report("collector", error, lost as usize, false);
            }
        }
        self.ingress.lanes.close();
        if let Err(e) = &result
            && e.kind() == ErrorKind::Timeout
        {
            // Counted and reported, so a host whose stop must not fail (C#'s
            // Stop, Dispose) still tells its user what was left undelivered.
            let pending = self.pending_event_count();
            let error = e.clone().context(format_args!(
                "stop: {pending} events were not delivered before the timeout"
            ));
            self.report.report("collector", error, pending, false);
        }
        result
    }

    /// Events collected and not yet stored: queued, staged, plus those waiting in
    /// the slowest destination's queue (its outbox, queue and retry backlog).
    pub fn pending_event_count(&self) -> usize {
        let waiting = self
            .destinations
            .iter()
            .map(|d| load(&d.counters.queued_events))
            .max()
            .unwrap_or(0);
        self.ingress.len() + load(&self.counters.staged) as usize + waiting as usize
    }

    /// The configuration.
    pub fn config(&self) -> &CollectorConfig {
        &self.config
    }

    /// Destination names, `<type>#<index>`, in the order they were added.
    pub fn destination_names(&self) -> Vec<String> {
        self.destinations.iter().map(|d| d.name.clone()).collect()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> CollectorStats {
        let drops = &self.ingress.drops;
        let destinations: Vec<DestinationStats> = self
            .destinations
            .iter()
            .map(|d| DestinationStats {
                name: d.name.clone(),
                written: load(&d.counters.written),
                failed_batches: load(&d.counters.failed_batches),
                warnings: load(&d.counters.warnings),
                queued_events: load(&d.counters.queued_events),
                queued_bytes: load(&d.counters.queued_bytes),
                retries: load(&d.counters.retries),
                dropped: load(&d.counters.dropped),
                flushes: load(&d.counters.flushes),
                panicked: d.counters.panicked.load(Ordering::Relaxed),
                last_error: d.counters.last_error.lock().clone(),
                remote: d.remote.as_ref().map(|r| r.stats()),
                replication: d.replication.as_ref().map(|r| r.stats()),
            })
            .collect();
        let queued = self.ingress.len() as u64;
        let mut peak = load(&self.counters.peak_queue_len);
        if load(&drops.queue_full_hits) > 0 {
            peak = peak.max(self.ingress.lanes.capacity() as u64);
        }
        let last_error = self
            .report
            .last_error
            .lock()
            .clone()
            .or_else(|| self.counters.last_error.lock().clone());
        CollectorStats {
            collected: load(&self.counters.received) + queued,
            queued,
            producer_lanes: self.ingress.lanes.count() as u64,
            staged: load(&self.counters.staged),
            destination_queued: destinations.iter().map(|d| d.queued_events).sum(),
            held_bytes: self.ingress.budget.held(),
            held_events: self.ingress.budget.held_events(),
            peak_queue_len: peak,
            dropped_oldest: load(&drops.dropped_oldest),
            dropped_newest: load(&drops.dropped_newest),
            dropped_block_timeout: load(&drops.dropped_block_timeout),
            rescued_critical: load(&drops.rescued_critical),
            // After a clean stop nothing drains the lanes again: a straggler that
            // raced stop and landed after the final drain is lost, and counted here.
            lost_at_stop: load(&drops.lost_at_stop)
                + if self.ingress.state.load(Ordering::Acquire) == DRAINED {
                    queued
                } else {
                    0
                },
            written: destinations.iter().map(|d| d.written).sum(),
            destination_dropped: destinations.iter().map(|d| d.dropped).sum(),
            failed_batches: destinations.iter().map(|d| d.failed_batches).sum(),
            deliveries: load(&self.counters.deliveries),
            flushes: load(&self.counters.flushes),
            last_error,
            destinations,
        }
    }

    fn destination(&self, index: usize) -> Result<&DestinationHandle> {
        self.destinations.get(index).ok_or_else(|| {
            VizError::invalid_argument(format!(
                "destination index {index} is out of range; the collector has {}",
                self.destinations.len()
            ))
        })
    }

    /// Runs `f` on destination `index`'s backend, on that destination's thread (so
    /// it sees what the backend stored so far), waiting at most `timeout`.
    pub fn query_backend<R: Send + 'static>(
        &self,
        index: usize,
        timeout: Duration,
        f: impl FnOnce(&mut dyn StorageBackend) -> R + Send + 'static,
    ) -> Result<R> {
        self.backend_caller(index)?.call(timeout, f)
    }

    /// A handle that calls destination `index`'s backend on its thread, as
    /// [`query_backend`](Self::query_backend) does, for as long as the collector
    /// runs: what a result read in pages keeps between pages. Once the collector
    /// stops, calls fail with `Closed`.
    pub fn backend_caller(&self, index: usize) -> Result<BackendCaller> {
        Ok(BackendCaller {
            dest: self.destination(index)?.clone(),
            ingress: self.ingress.clone(),
        })
    }

    /// Events with `start_step <= step <= end_step` from destination `index`'s
    /// backend. Events still queued or staged are not included: flush first.
    pub fn get_events(&self, index: usize, start_step: i64, end_step: i64) -> Result<Vec<Event>> {
        self.query_backend(index, self.config.shutdown_timeout, move |b| {
            b.get_events(start_step, end_step)
        })?
    }

    /// The events destination `index`'s backend stores that `query` selects, in
    /// its order (see [`crate::Query`]). Events still queued or staged are not
    /// included: flush first. A write-only backend answers `Unsupported`.
    pub fn query(&self, index: usize, query: crate::query::Query) -> Result<Vec<Event>> {
        query.validate()?;
        self.query_backend(index, self.config.shutdown_timeout, move |b| {
            b.query(&query)
        })?
    }

    /// `query`'s answer from destination `index`'s backend, read a page at a time
    /// (see [`crate::query::Pages`]): over a file:// log each page is fetched when
    /// asked for, each call waiting at most `timeout`, so a large answer is never
    /// held whole; `.into_iter(page)` iterates over the events. Once the collector
    /// stops, the next page fails with `Closed`.
    pub fn query_pages(
        &self,
        index: usize,
        query: crate::query::Query,
        timeout: Duration,
    ) -> Result<crate::query::Pages> {
        use crate::query::Pages;
        query.validate()?;
        let caller = self.backend_caller(index)?;
        let q = query.clone();
        if caller.call(timeout, move |b| b.pages_cheaply(&q))? {
            let fetch =
                move |page: crate::query::Query| caller.call(timeout, move |b| b.query(&page))?;
            return Ok(Pages::fetched(query, Box::new(fetch)));
        }
        Ok(Pages::held(
            caller.call(timeout, move |b| b.query(&query))??,
        ))
    }

    /// Per-tag statistics of the scalars destination `index`'s backend stores that
    /// a selection-only `query` picks (see [`StorageBackend::aggregate`]).
    pub fn aggregate(
        &self,
        index: usize,
        query: crate::query::Query,
    ) -> Result<Vec<crate::query::Aggregate>> {
        query.check_selection_only("an aggregate query")?;
        self.query_backend(index, self.config.shutdown_timeout, move |b| {
            b.aggregate(&query)
        })?
    }

    /// The selected scalars of destination `index`'s backend in `buckets` step
    /// buckets spanning `first..=last` (see [`StorageBackend::downsample`]).
    pub fn downsample(
        &self,
        index: usize,
        query: crate::query::Query,
        first: i64,
        last: i64,
        buckets: usize,
    ) -> Result<Vec<crate::query::Bucket>> {
        query.check_selection_only("a downsample query")?;
        self.query_backend(index, self.config.shutdown_timeout, move |b| {
            b.downsample(&query, first, last, buckets)
        })?
    }

    /// Applies a run-metadata batch to every destination whose backend keeps
    /// metadata (memory://, file://, and tensorboard://, which writes it as
    /// hyperparameters), each atomically; backends without metadata are skipped.
    /// Fails if none keeps it, or with the first failure after trying them all.
    pub fn set_metadata(&self, batch: crate::metadata::MetadataBatch) -> Result<()> {
        batch.validate()?;
        let batch = Arc::new(batch);
        self.apply_to_backends(
            "no backend of this collector keeps run metadata (memory://, file:// and tensorboard:// do)",
            move |backend| backend.set_metadata(&batch),
        )
    }

    /// Records how the run ended on every backend that keeps a run status
    /// (mlflow+http:// sets the MLflow run's status and tensorboard:// the HPARAMS
    /// session's, when they shut down; file:// and sqlite:// record it at once, and
    /// read it back with `run_status`). Call it before `stop`; without
    /// it a run ends `Finished`. Fails with `Unsupported` if no backend keeps one.
    pub fn set_run_status(&self, status: crate::runs::RunStatus) -> Result<()> {
        self.apply_to_backends(
            "no backend of this collector keeps a run status (file://, sqlite://, mlflow+http:// and tensorboard:// do)",
            move |backend| backend.set_run_status(status),
        )
    }

    /// Calls `apply` on every destination's backend, on its thread. Backends
    /// that do not support it (`Unsupported`) are passed over; the first other
    /// failure is returned, named by its destination, after every backend had its
    /// call; `Unsupported` with `none_supports` when no backend supports it.
    fn apply_to_backends(
        &self,
        none_supports: &'static str,
        apply: impl Fn(&mut dyn StorageBackend) -> Result<()> + Clone + Send + 'static,
    ) -> Result<()> {
        let mut kept = 0;
        let mut first_error = None;
        for index in 0..self.destinations.len() {
            let apply = apply.clone();
            let result = self
                .query_backend(index, self.config.shutdown_timeout, move |backend| {
                    apply(backend)
                })
                .and_then(|r| r);
            match result {
                Ok(()) => kept += 1,
                Err(e) if e.kind() == ErrorKind::Unsupported => {}
                Err(e) => {
                    let name = &self.destinations[index].name;
                    first_error.get_or_insert(e.context(format_args!("{name}")));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None if kept == 0 => Err(VizError::new(ErrorKind::Unsupported, none_supports)),
            None => Ok(()),
        }
    }

    /// The run metadata destination `index`'s backend keeps.
    pub fn metadata(&self, index: usize) -> Result<crate::metadata::Metadata> {
        self.query_backend(index, self.config.shutdown_timeout, |b| b.metadata())?
    }

    /// The last stored event of each selected tag in destination `index`'s backend
    /// (see [`StorageBackend::latest`]).
    pub fn latest(&self, index: usize, query: crate::query::Query) -> Result<Vec<Event>> {
        query.check_selection_only("a latest-value query")?;
        self.query_backend(index, self.config.shutdown_timeout, move |b| {
            b.latest(&query)
        })?
    }
}

/// Calls one destination's backend on its delivery thread (see
/// [`Collector::backend_caller`]).
#[derive(Clone)]
pub struct BackendCaller {
    dest: DestinationHandle,
    ingress: Arc<Ingress>,
}

impl BackendCaller {
    /// Runs `f` on the backend, on its destination's thread, waiting at most
    /// `timeout`. Fails with `Closed` once the collector is stopped.
    pub fn call<R: Send + 'static>(
        &self,
        timeout: Duration,
        f: impl FnOnce(&mut dyn StorageBackend) -> R + Send + 'static,
    ) -> Result<R> {
        let dest = &self.dest;
        if self.ingress.state.load(Ordering::Acquire) != RUNNING {
            return Err(VizError::closed("the collector is not running"));
        }
        if dest.thread.get() == Some(&std::thread::current().id()) {
            return Err(VizError::new(
                ErrorKind::Unsupported,
                format!("cannot query {} from its own delivery thread", dest.name),
            ));
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let call: destination::BackendCall = Box::new(move |backend| {
            let _ = tx.send(f(backend));
        });
        let deadline = deadline_after(timeout);
        dest.tx
            .send_deadline(DestMsg::Call(call), deadline)
            .map_err(|e| match e {
                crossbeam_channel::SendTimeoutError::Timeout(_) => {
                    VizError::timeout(format!("{} did not accept the query in time", dest.name))
                }
                crossbeam_channel::SendTimeoutError::Disconnected(_) => {
                    VizError::closed(format!("{} is closed", dest.name))
                }
            })?;
        rx.recv_deadline(deadline).map_err(|e| match e {
            crossbeam_channel::RecvTimeoutError::Timeout => {
                VizError::timeout(format!("{} did not answer the query in time", dest.name))
            }
            crossbeam_channel::RecvTimeoutError::Disconnected => VizError::new(
                ErrorKind::Panic,
                format!("{} panicked while answering the query", dest.name),
            ),
        })
    }
}

/// The wall clock the hot path reads: the system clocks dispatch statically, so
/// `collect_scalar` makes no indirect call unless a test injected a clock.
enum HotClock {
    System(WallClock),
    Injected(Arc<dyn Clock>),
}

impl HotClock {
    #[inline]
    fn wall_time(&self) -> f64 {
        match self {
            HotClock::System(WallClock::Coarse) => crate::clock::coarse_wall_time(),
            HotClock::System(WallClock::Precise) => crate::clock::precise_wall_time(),
            HotClock::Injected(clock) => clock.wall_time(),
        }
    }
}

/// The instant `timeout` from now; a timeout too long for the clock (a caller's
/// `Duration::MAX`) waits as good as for ever instead of overflowing.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Joins `thread` if it finishes by `deadline` (returning true); otherwise leaves it
/// running detached.
fn join_until(thread: JoinHandle<()>, deadline: Instant) -> bool {
    while !thread.is_finished() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let _ = thread.join();
    true
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.stop(self.config.shutdown_timeout);
        // Releases every watcher's callback now, not when the last
        // `Subscription` handle goes.
        self.watch.clear();
    }
}

impl EventCollector for Collector {
    fn config(&self) -> &CollectorConfig {
        Collector::config(self)
    }
    fn collect(&self, event: Event) -> Result<()> {
        Collector::collect(self, event)
    }
    fn flush(&self, timeout: Duration) -> Result<()> {
        Collector::flush(self, timeout)
    }
    fn start(&self) -> Result<()> {
        Collector::start(self)
    }
    fn stop(&self, timeout: Duration) -> Result<()> {
        Collector::stop(self, timeout)
    }
    fn is_running(&self) -> bool {
        Collector::is_running(self)
    }
    fn pending_event_count(&self) -> usize {
        Collector::pending_event_count(self)
    }
}
