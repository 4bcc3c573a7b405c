//! Live watch (seed 001's observable, seed 004's subscribers): callbacks added and
//! removed while the collector runs, each seeing the delivered events its filter
//! selects.
//!
//! The worker offers every delivered batch to the hub with one `try_send` of the
//! shared `Arc<Batch>` (no copy), and only while someone watches. One thread,
//! "viz-watch", started by the first subscription, hands each batch to every
//! watcher. A slow watcher therefore never slows training or storage: when the
//! hub's queue is full the worker drops the batch for watchers and counts it
//! (`Subscription::dropped`); the backends still get it.
//!
//! A watcher is an `Arc`: cancelling removes it from the list, and the watch thread
//! drops its own clone after the call in flight, so the callback's captured state
//! (a C host's finalizer) is dropped exactly once, when nothing can call it any more.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::thread::{JoinHandle, ThreadId};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::{Mutex, RwLock};

use super::budget::Batch;
use super::destination::ReportSink;
use crate::error::{ErrorKind, Result, VizError, panic_message};
use crate::event::Event;
use crate::query::Query;

/// Batches the watch thread may fall behind by before the worker drops them for
/// watchers.
const QUEUE_BATCHES: usize = 256;

/// A watch callback: receives the selected events of each delivered batch.
pub type WatchCallback = Box<dyn FnMut(&[Event]) + Send>;

struct Watcher {
    id: u64,
    filter: Query,
    /// Locked for each call, so cancelling can wait out a call in progress.
    callback: Mutex<WatchCallback>,
    /// Set by cancelling, checked under the callback's lock before each call.
    cancelled: std::sync::atomic::AtomicBool,
    /// Events handed to the callback, shared with the `Subscription`.
    delivered: Arc<AtomicU64>,
}

/// What the collector, the worker's tap and the watch thread share.
pub(crate) struct Hub {
    watchers: RwLock<Vec<Arc<Watcher>>>,
    /// Watchers subscribed: the worker offers batches only while it is not 0.
    active: AtomicUsize,
    next_id: AtomicU64,
    /// Events the worker dropped for watchers because the queue was full.
    dropped: AtomicU64,
    rx: Receiver<Arc<Batch>>,
    thread: Mutex<Option<(JoinHandle<()>, Receiver<()>)>>,
    thread_id: std::sync::OnceLock<ThreadId>,
    /// Set when the collector stops: no thread may start any more.
    closed: std::sync::atomic::AtomicBool,
    report: ReportSink,
}

/// The worker's side: offers delivered batches to the hub.
pub(crate) struct Tap {
    tx: Sender<Arc<Batch>>,
    hub: Arc<Hub>,
}

impl Tap {
    /// Offers a delivered batch to watchers; never blocks.
    pub(crate) fn offer(&self, batch: &Arc<Batch>) {
        if self.hub.active.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Err(TrySendError::Full(b)) = self.tx.try_send(batch.clone()) {
            self.hub
                .dropped
                .fetch_add(b.len() as u64, Ordering::Relaxed);
        }
    }
}

/// Creates the hub and the worker's tap into it.
pub(crate) fn hub(report: ReportSink) -> (Arc<Hub>, Tap) {
    let (tx, rx) = crossbeam_channel::bounded(QUEUE_BATCHES);
    let hub = Arc::new(Hub {
        watchers: RwLock::new(Vec::new()),
        active: AtomicUsize::new(0),
        next_id: AtomicU64::new(1),
        dropped: AtomicU64::new(0),
        rx,
        thread: Mutex::new(None),
        thread_id: std::sync::OnceLock::new(),
        closed: Default::default(),
        report,
    });
    let tap = Tap {
        tx,
        hub: hub.clone(),
    };
    (hub, tap)
}

impl Hub {
    /// Adds a watcher, starting the watch thread if it is the first.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        filter: Query,
        callback: WatchCallback,
    ) -> Result<Subscription> {
        filter.check_selection_only("a watch filter")?;
        let mut thread = self.thread.lock();
        if self.closed.load(Ordering::Acquire) {
            return Err(VizError::closed(
                "the collector is stopped: no more events will be delivered to watch",
            ));
        }
        if thread.is_none() {
            let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
            let hub = Arc::downgrade(self);
            let rx = self.rx.clone();
            let handle = std::thread::Builder::new()
                .name("viz-watch".into())
                .spawn(move || {
                    let _done = done_tx;
                    run(&hub, &rx);
                })
                .map_err(|e| VizError::from(e).context("starting the watch thread"))?;
            let _ = self.thread_id.set(handle.thread().id());
            *thread = Some((handle, done_rx));
        }
        drop(thread);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let delivered = Arc::new(AtomicU64::new(0));
        let watcher = Arc::new(Watcher {
            id,
            filter,
            callback: Mutex::new(callback),
            cancelled: Default::default(),
            delivered: delivered.clone(),
        });
        let dropped_before = self.dropped.load(Ordering::Relaxed);
        self.watchers.write().push(watcher);
        self.active.fetch_add(1, Ordering::Release);
        Ok(Subscription {
            hub: Arc::downgrade(self),
            id,
            delivered,
            dropped_before,
        })
    }

    /// Cancels watcher `id`: once this returns, its callback is not running and
    /// will not run again (from its own callback, the call in progress finishes).
    fn remove(&self, id: u64) {
        let removed = {
            let mut watchers = self.watchers.write();
            let at = watchers.iter().position(|w| w.id == id);
            at.map(|i| watchers.swap_remove(i))
        };
        let Some(w) = removed else { return };
        self.active.fetch_sub(1, Ordering::Release);
        w.cancelled.store(true, Ordering::Release);
        let on_watch_thread = self.thread_id.get() == Some(&std::thread::current().id());
        if !on_watch_thread {
            drop(w.callback.lock());
        }
    }

    /// Waits until the watch thread has handed out every batch delivered before
    /// the worker exited (which closed the queue), or until `deadline`. From the
    /// watch thread itself (a watcher stopping the collector) it does not wait.
    pub(crate) fn finish(&self, deadline: Instant) {
        self.closed.store(true, Ordering::Release);
        let thread = self.thread.lock().take();
        let Some((handle, done)) = thread else {
            return;
        };
        if self.thread_id.get() == Some(&std::thread::current().id()) {
            return;
        }
        if done
            .recv_deadline(deadline)
            .is_err_and(|e| e.is_disconnected())
        {
            let _ = handle.join();
        }
    }

    /// Cancels every subscription (the collector is going away).
    pub(crate) fn clear(&self) {
        let ids: Vec<u64> = self.watchers.read().iter().map(|w| w.id).collect();
        for id in ids {
            self.remove(id);
        }
    }
}

/// The watch thread: every batch to every watcher whose filter selects from it.
fn run(hub: &Weak<Hub>, rx: &Receiver<Arc<Batch>>) {
    let mut picked: Vec<Event> = Vec::new();
    for batch in rx.iter() {
        let Some(hub) = hub.upgrade() else { return };
        let watchers = hub.watchers.read().clone();
        for w in &watchers {
            picked.clear();
            picked.extend(batch.iter().filter(|e| w.filter.matches(e)).cloned());
            if picked.is_empty() {
                continue;
            }
            let called = catch_unwind(AssertUnwindSafe(|| {
                let mut callback = w.callback.lock();
                let cancelled = w.cancelled.load(Ordering::Acquire);
                if !cancelled {
                    callback(&picked);
                }
                !cancelled
            }));
            match called {
                Ok(false) => {}
                Ok(true) => {
                    w.delivered
                        .fetch_add(picked.len() as u64, Ordering::Relaxed);
                }
                Err(panic) => {
                    // A panicking watcher is cancelled; the others go on.
                    hub.remove(w.id);
                    let error = VizError::new(
                        ErrorKind::Panic,
                        format!(
                            "the watch callback panicked ({}) and was unsubscribed",
                            panic_message(&*panic)
                        ),
                    );
                    hub.report
                        .report(&format!("watch#{}", w.id), error, picked.len(), false);
                }
            }
        }
    }
}

/// A live watch on a collector. Dropping it (or [`cancel`](Self::cancel)) stops
/// the callback: once that returns, the callback is not running and is not called
/// again (it waits for a call in progress; from inside the callback itself, that
/// call finishes normally).
#[must_use = "dropping a Subscription cancels it"]
pub struct Subscription {
    hub: Weak<Hub>,
    id: u64,
    delivered: Arc<AtomicU64>,
    /// The hub's drop count when it subscribed, so it reports only its own.
    dropped_before: u64,
}

impl Subscription {
    /// Stops the callback (see the type's documentation).
    pub fn cancel(self) {}

    /// Whether the callback may still be called: false once cancelled, after the
    /// callback panicked, or when the collector is gone.
    pub fn is_active(&self) -> bool {
        self.hub
            .upgrade()
            .is_some_and(|h| h.watchers.read().iter().any(|w| w.id == self.id))
    }

    /// Events handed to the callback so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Events delivered to the backends while this subscription was active but
    /// dropped for watchers, because the watch thread had fallen
    /// `256` batches behind (a slow callback). Counted for every watcher alike.
    pub fn dropped(&self) -> u64 {
        self.hub.upgrade().map_or(0, |h| {
            h.dropped.load(Ordering::Relaxed) - self.dropped_before
        })
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.remove(self.id);
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("active", &self.is_active())
            .finish()
    }
}
