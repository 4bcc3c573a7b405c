//! The hot path: producers push records into their own bounded lock-free lane.
//!
//! A push is a thread-local lookup plus one push on the calling thread's lane (an
//! SPSC ring: plain stores, no locked instruction): no lock, no allocation for
//! scalars, no system call and no wake-up; the worker polls. Only the full-lane path
//! does more, and it is `#[cold]`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use crossbeam_queue::SegQueue;
use crossbeam_utils::CachePadded;

use super::budget::Budget;
use super::control::Control;
use super::lanes::{Lane, Lanes};
use super::record::Record;
use crate::config::OverflowPolicy;
use crate::error::{ErrorKind, Result, VizError};
use crate::event::Event;

/// The collector's lifecycle, in order; kept in `Ingress::state`, the one place a
/// producer, the worker and `stop` all read it. `collect` is accepted before
/// `STOPPED`.
pub(crate) const CREATED: u8 = 0;
pub(crate) const RUNNING: u8 = 1;
/// Stopped: `collect` fails, the worker makes its final drain.
pub(crate) const STOPPED: u8 = 2;
/// Stopped and the worker joined: nothing will drain the lanes again, so whatever
/// lands in them now is lost (and counted).
pub(crate) const DRAINED: u8 = 3;

/// Counters written by producers, only on the full-queue path.
#[derive(Default)]
pub(crate) struct DropCounters {
    pub dropped_oldest: AtomicU64,
    pub dropped_newest: AtomicU64,
    pub dropped_block_timeout: AtomicU64,
    pub rescued_critical: AtomicU64,
    pub queue_full_hits: AtomicU64,
    pub lost_at_stop: AtomicU64,
}

pub(crate) struct Ingress {
    pub lanes: Lanes,
    /// Critical events that a drop-oldest push displaced: delivered before the lanes.
    pub rescue: SegQueue<Record>,
    pub state: CachePadded<AtomicU8>,
    pub budget: Arc<Budget>,
    policy: OverflowPolicy,
    block_timeout: Option<Duration>,
    pub drops: DropCounters,
    /// Set by a producer that needs the worker now (full queue, critical event), so
    /// at most one wake message is in flight.
    pub wake_pending: AtomicBool,
    /// Set when a critical event is queued: the worker then delivers and flushes.
    pub critical_pending: AtomicBool,
    control: Sender<Control>,
    /// The process that made it: in a forked child no worker drains the lanes.
    owner: u32,
}

impl Ingress {
    pub(crate) fn new(
        capacity: usize,
        policy: OverflowPolicy,
        block_timeout: Option<Duration>,
        budget: Arc<Budget>,
        control: Sender<Control>,
    ) -> Ingress {
        Ingress {
            lanes: Lanes::new(capacity, policy == OverflowPolicy::DropOldest),
            rescue: SegQueue::new(),
            state: CachePadded::new(AtomicU8::new(CREATED)),
            budget,
            policy,
            block_timeout,
            drops: DropCounters::default(),
            wake_pending: AtomicBool::new(false),
            critical_pending: AtomicBool::new(false),
            control,
            owner: std::process::id(),
        }
    }

    /// Queues a record under the overflow policy.
    #[inline]
    pub(crate) fn push(&self, record: Record) -> Result<()> {
        if self.state.load(Ordering::Relaxed) >= STOPPED {
            return Err(closed());
        }
        if !self.budget.try_take_event() {
            return self.push_over_budget(record);
        }
        self.lanes.with_lane(|lane| match lane.queue.push(record) {
            Ok(()) => Ok(()),
            Err(record) => self.push_counted_full(lane, record),
        })
    }

    /// `max_held_events` is reached: applies the overflow policy until the record
    /// fits, then queues it.
    #[cold]
    #[inline(never)]
    fn push_over_budget(&self, record: Record) -> Result<()> {
        self.lanes.with_lane(|lane| {
            self.make_room(lane, 0)?;
            match lane.queue.push(record) {
                Ok(()) => Ok(()),
                Err(record) => self.push_counted_full(lane, record),
            }
        })
    }

    /// A full lane for a record already counted in the budget: gives its count
    /// back if the policy refuses it.
    #[cold]
    fn push_counted_full(&self, lane: &Lane, record: Record) -> Result<()> {
        let bytes = record.budget_bytes();
        let pushed = self.push_full(lane, record);
        if pushed.is_err() {
            self.budget.give(bytes);
            self.budget.give_events(1);
        }
        pushed
    }

    /// Queues a non-scalar event under the overflow policy, which applies both to a
    /// full queue and to a full budget (bytes, or events when they are bounded).
    pub(crate) fn push_event(&self, event: Box<Event>) -> Result<()> {
        if self.state.load(Ordering::Relaxed) >= STOPPED {
            return Err(closed());
        }
        let bytes = event.footprint() as u64;
        if bytes > self.budget.max() {
            return Err(VizError::invalid_argument(format!(
                "event '{}' takes {bytes} bytes, more than the collector's whole byte budget (max_held_bytes {})",
                event.tag,
                self.budget.max()
            )));
        }
        self.lanes.with_lane(|lane| {
            if !self.budget.try_admit(bytes) {
                self.make_room(lane, bytes)?;
            }
            match lane.queue.push(Record::Event(event)) {
                Ok(()) => Ok(()),
                Err(record) => self.push_counted_full(lane, record),
            }
        })
    }

    /// Queues a critical event: never dropped (the byte budget counts it but never
    /// refuses it), and the worker is told to flush.
    pub(crate) fn push_critical(&self, event: Box<Event>) -> Result<()> {
        if self.state.load(Ordering::Relaxed) >= STOPPED {
            return Err(closed());
        }
        let bytes = event.footprint() as u64;
        self.budget.take(bytes);
        self.budget.take_events(1);
        // Flag first: if the queue is full (say, Manual strategy with a full staging
        // buffer), the worker must deliver everything to make room for this event.
        self.critical_pending.store(true, Ordering::Release);
        let pushed = self
            .lanes
            .with_lane(|lane| match lane.queue.push(Record::Event(event)) {
                Ok(()) => Ok(()),
                Err(record) => self.push_blocking(lane, record, None),
            });
        if pushed.is_err() {
            self.budget.give(bytes);
            self.budget.give_events(1);
        }
        // Again after the push, so the worker delivers the critical event itself now.
        self.critical_pending.store(true, Ordering::Release);
        self.wake();
        pushed
    }

    #[cold]
    #[inline(never)]
    fn push_full(&self, lane: &Lane, record: Record) -> Result<()> {
        self.drops.queue_full_hits.fetch_add(1, Ordering::Relaxed);
        match self.policy {
            OverflowPolicy::DropNewest => {
                self.drops.dropped_newest.fetch_add(1, Ordering::Relaxed);
                Err(VizError::new(
                    ErrorKind::QueueFull,
                    "queue is full; the event was dropped (policy drop_newest)",
                ))
            }
            OverflowPolicy::DropOldest => {
                if let Some(victim) = lane.queue.force_push(record) {
                    self.displaced(victim);
                }
                Ok(())
            }
            OverflowPolicy::Block => self.push_blocking(lane, record, self.block_timeout),
        }
    }

    /// A record the drop-oldest policy pushed out: a critical one is saved (it was
    /// the oldest queued, so delivering it before the queue keeps it in order), any
    /// other is dropped, counted, and its bytes given back.
    fn displaced(&self, victim: Record) {
        if victim.is_critical() {
            self.rescue.push(victim);
            self.drops.rescued_critical.fetch_add(1, Ordering::Relaxed);
        } else {
            self.budget.give(victim.budget_bytes());
            self.budget.give_events(1);
            self.drops.dropped_oldest.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The budget has no room for one more event of `bytes` (0 for a scalar,
    /// whose bytes are counted once staged): applies the overflow policy until it
    /// is taken, or fails.
    #[cold]
    #[inline(never)]
    fn make_room(&self, lane: &Lane, bytes: u64) -> Result<()> {
        let limit = self.full_limit();
        match self.policy {
            OverflowPolicy::DropNewest => {
                self.drops.dropped_newest.fetch_add(1, Ordering::Relaxed);
                Err(VizError::new(
                    ErrorKind::QueueFull,
                    format!("{limit} is full; the event was dropped (policy drop_newest)"),
                ))
            }
            OverflowPolicy::DropOldest => {
                // Drop-oldest lanes are multi-consumer, so this thread may take
                // the oldest records of its own lane.
                while let Some(victim) = lane.queue.pop_displacing() {
                    self.displaced(victim);
                    if self.budget.try_admit(bytes) {
                        return Ok(());
                    }
                }
                self.drops.dropped_newest.fetch_add(1, Ordering::Relaxed);
                Err(VizError::new(
                    ErrorKind::QueueFull,
                    format!(
                        "{limit} is held by events already handed to the backends; the event was dropped"
                    ),
                ))
            }
            OverflowPolicy::Block => self
                .block_until(self.block_timeout, || {
                    self.budget.try_admit(bytes).then_some(())
                })
                .map_err(|e| e.context(format!("{limit} stayed full"))),
        }
    }

    /// Which of the budget's limits is reached, for an error message.
    fn full_limit(&self) -> String {
        if self.budget.counts_events() && self.budget.held_events() >= self.budget.max_events() {
            format!(
                "the collector's event bound (max_held_events {})",
                self.budget.max_events()
            )
        } else {
            "the byte budget (max_held_bytes)".to_string()
        }
    }

    /// Waits for room, waking the worker so it drains now instead of at its next poll.
    #[cold]
    fn push_blocking(&self, lane: &Lane, record: Record, timeout: Option<Duration>) -> Result<()> {
        let mut record = Some(record);
        self.block_until(timeout, || match lane.queue.push(record.take()?) {
            Ok(()) => Some(()),
            Err(r) => {
                record = Some(r);
                None
            }
        })
    }

    /// Retries `attempt` until it succeeds, the collector stops, or `timeout` passes
    /// (counted as a block-timeout drop), backing off from spinning to sleeping.
    fn block_until(
        &self,
        timeout: Option<Duration>,
        mut attempt: impl FnMut() -> Option<()>,
    ) -> Result<()> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut spins = 0u32;
        loop {
            self.wake();
            if attempt().is_some() {
                return Ok(());
            }
            if spins == 0 && std::process::id() != self.owner {
                return Err(VizError::closed(
                    "the queue is full and this is a forked child, where the collector's worker does not exist: create a new collector in the child",
                ));
            }
            match self.state.load(Ordering::Relaxed) {
                STOPPED | DRAINED => return Err(closed()),
                // Nobody drains an unstarted collector: waiting would never end.
                CREATED => {
                    return Err(VizError::new(
                        ErrorKind::QueueFull,
                        "the collector is not started and its queue is full; call start",
                    ));
                }
                _ => {}
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                self.drops
                    .dropped_block_timeout
                    .fetch_add(1, Ordering::Relaxed);
                return Err(VizError::new(
                    ErrorKind::QueueFull,
                    "queue stayed full past block_timeout; the event was dropped",
                ));
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else if spins < 128 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }

    /// Asks the worker to poll now; at most one request is in flight.
    pub(crate) fn wake(&self) {
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            let _ = self.control.send(Control::Wake);
        }
    }

    /// Empties every lane and the rescue queue, returning how many records it
    /// dropped. Only for after the worker has exited: a lane has one consumer.
    pub(crate) fn discard_remaining(&self) -> u64 {
        let mut n = 0u64;
        let mut discard = |record: Record| {
            self.budget.give(record.budget_bytes());
            self.budget.give_events(1);
            n += 1;
        };
        while let Some(record) = self.rescue.pop() {
            discard(record);
        }
        self.lanes.discard_all(&mut discard);
        n
    }

    /// Events queued in every lane and the rescue queue.
    pub(crate) fn len(&self) -> usize {
        self.lanes.len() + self.rescue.len()
    }
}

fn closed() -> VizError {
    VizError::closed("the collector is stopped; events are no longer accepted")
}
