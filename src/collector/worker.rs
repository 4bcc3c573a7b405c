//! The worker: drains the queue, stages events, applies the flush strategy and
//! hands batches to the destinations.
//!
//! It is never woken by producers on the normal path: it polls, backing off from
//! spinning to yielding to sleeping (up to `max_poll_interval`) while the queue is
//! empty. Control messages (flush, stop, a producer stuck on a full queue) wake it
//! through the control channel it sleeps on.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TrySendError};

use super::destination::{DestMsg, DestinationHandle, FlushAck};
use super::ingress::{Ingress, Record};
use super::lanes::Lane;
use super::stats::{WorkerCounters, bump};
use super::{Control, FlushRequest};
use crate::clock::Clock;
use crate::config::{CollectorConfig, FlushStrategy};
use crate::error::{VizError, panic_message};
use crate::event::{Event, EventData, Priority};
use crate::tag::TagCache;

pub(crate) struct Worker {
    pub ingress: Arc<Ingress>,
    pub control: Receiver<Control>,
    pub config: CollectorConfig,
    pub clock: Arc<dyn Clock>,
    pub counters: Arc<WorkerCounters>,
    pub destinations: Vec<DestinationHandle>,
    pub staging: Vec<Event>,
    pub tags: TagCache,
    pub last_flush: Instant,
    /// Whether anything was delivered since the last flush cycle.
    pub dirty: bool,
    /// The worker's copy of the lane list, refreshed when its epoch moves.
    pub lanes: Vec<Arc<Lane>>,
    pub lanes_epoch: u64,
    /// Lane the next drain starts from, rotated for fairness between producers.
    pub next_lane: usize,
    /// Records taken from the lanes in the current round.
    pub taken: usize,
}

impl Worker {
    pub(crate) fn run(mut self) {
        let mut idle_rounds = 0u32;
        loop {
            let outcome = catch_unwind(AssertUnwindSafe(|| self.round()));
            match outcome {
                Ok(Some(stop)) => {
                    self.stop(stop);
                    return;
                }
                Ok(None) => {}
                Err(payload) => {
                    *self.counters.last_error.lock() =
                        Some(format!("worker panicked: {}", panic_message(&*payload)));
                }
            }
            // Back off on no progress, not on an empty queue: under Manual with a
            // full staging buffer the queue stays non-empty until someone flushes,
            // and spinning on it would burn a core.
            if self.taken > 0 {
                idle_rounds = 0;
                continue;
            }
            idle_rounds = idle_rounds.saturating_add(1);
            if idle_rounds == 8 {
                self.ingress.lanes.retire_orphans(&self.lanes);
            }
            // Sleep at once, on the control channel so flush and stop wake us: no
            // spinning or yielding first. A polling worker slowed a lone producer's
            // collect_scalar from 51 to 104-124 ns at p50 on the reference machine,
            // and delivery is batched by the flush strategy anyway. 50 µs doubling,
            // so an idle worker reaches max_poll_interval within ~10 wakeups (each
            // costs ~30 µs of CPU on a VM).
            let step = Duration::from_micros(50 << (idle_rounds - 1).min(16));
            let mut sleep = step.min(self.config.max_poll_interval);
            if self.time_based() {
                let due = self.last_flush + self.config.flush_interval;
                sleep = sleep.min(due.saturating_duration_since(self.clock.now()));
            }
            match self.control.recv_timeout(sleep) {
                Ok(msg) => {
                    if let Some(stop) = self.handle(msg) {
                        self.stop(stop);
                        return;
                    }
                    idle_rounds = 0;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.stop(None);
                    return;
                }
            }
        }
    }

    /// One round: control messages, a drain, the strategy. Returns a stop request.
    fn round(&mut self) -> Option<Option<FlushRequest>> {
        self.taken = 0;
        while let Ok(msg) = self.control.try_recv() {
            if let Some(stop) = self.handle(msg) {
                return Some(stop);
            }
        }
        if self.ingress.critical_pending.swap(false, Ordering::AcqRel) {
            self.drain(usize::MAX);
            self.deliver_all();
            self.flush_destinations(None);
            return None;
        }
        let room = self
            .config
            .buffer_capacity
            .saturating_sub(self.staging.len());
        self.drain(room);
        let now = self.clock.now();
        let interval_due =
            self.time_based() && now.duration_since(self.last_flush) >= self.config.flush_interval;
        match self.config.strategy {
            FlushStrategy::SizeBased | FlushStrategy::Hybrid => self.deliver_full_batches(),
            FlushStrategy::TimeBased if self.staging.len() >= self.config.buffer_capacity => {
                self.deliver_all()
            }
            FlushStrategy::TimeBased | FlushStrategy::Manual => {}
        }
        if interval_due {
            self.deliver_all();
            if self.dirty {
                self.flush_destinations(None);
            }
            self.last_flush = now;
        }
        None
    }

    fn time_based(&self) -> bool {
        matches!(
            self.config.strategy,
            FlushStrategy::TimeBased | FlushStrategy::Hybrid
        )
    }

    /// Handles a control message; returns a stop request.
    fn handle(&mut self, msg: Control) -> Option<Option<FlushRequest>> {
        match msg {
            Control::Wake => {
                self.ingress.wake_pending.store(false, Ordering::Release);
                None
            }
            Control::Flush(request) => {
                self.flush_request(request);
                None
            }
            Control::Stop(request) => Some(Some(request)),
        }
    }

    /// Events waiting in the lanes and the rescue queue, as the worker sees them.
    fn queued(&self) -> usize {
        self.lanes.iter().map(|l| l.queue.len()).sum::<usize>() + self.ingress.rescue.len()
    }

    /// Moves up to `max` records from the lanes into staging, delivering along the
    /// way when `max` exceeds the staging buffer (a flush or stop drains everything).
    fn drain(&mut self, max: usize) {
        self.ingress
            .lanes
            .refresh(&mut self.lanes, &mut self.lanes_epoch);
        let queued = self.queued() as u64;
        self.counters
            .peak_queue_len
            .fetch_max(queued, Ordering::Relaxed);
        let mut taken = 0usize;
        // Rescued critical events were the oldest in their lane: they go first.
        while taken < max {
            let Some(record) = self.ingress.rescue.pop() else {
                break;
            };
            taken += 1;
            if !self.stage(record, max) {
                break;
            }
        }
        let lanes = std::mem::take(&mut self.lanes);
        let n = lanes.len();
        'lanes: for k in 0..n {
            let lane = &lanes[(self.next_lane + k) % n];
            while taken < max {
                let Some(record) = lane.queue.pop() else {
                    break;
                };
                taken += 1;
                if !self.stage(record, max) {
                    break 'lanes;
                }
            }
        }
        self.lanes = lanes;
        self.next_lane = (self.next_lane + 1) % n.max(1);
        self.taken += taken;
        bump(&self.counters.received, taken as u64);
        self.counters
            .staged
            .store(self.staging.len() as u64, Ordering::Relaxed);
    }

    /// Turns a record into a staged event. Returns false when staging is full and
    /// the drain should stop (it never is for an unbounded drain, which delivers).
    fn stage(&mut self, record: Record, max: usize) -> bool {
        let event = match record {
            Record::Scalar(s) => Event {
                tag: self.tags.resolve(s.tag),
                step: s.step,
                wall_time: Some(s.wall_time),
                priority: Priority::Normal,
                data: EventData::Scalar(s.value),
            },
            Record::Event(boxed) => *boxed,
        };
        self.staging.push(event);
        if self.staging.len() >= self.config.buffer_capacity {
            if max != usize::MAX {
                return false;
            }
            self.deliver_all();
        }
        true
    }

    fn deliver_full_batches(&mut self) {
        let n = self.config.batch_size;
        if self.staging.len() < n {
            return;
        }
        let whole = self.staging.len() / n * n;
        let rest = self.staging.split_off(whole);
        let full = std::mem::replace(&mut self.staging, rest);
        self.deliver(full);
    }

    fn deliver_all(&mut self) {
        if !self.staging.is_empty() {
            let all = std::mem::take(&mut self.staging);
            self.deliver(all);
        }
    }

    /// Sends `events` to every destination, in `batch_size` chunks.
    fn deliver(&mut self, mut events: Vec<Event>) {
        self.counters
            .staged
            .store(self.staging.len() as u64, Ordering::Relaxed);
        let n = self.config.batch_size;
        while !events.is_empty() {
            let rest = if events.len() > n {
                events.split_off(n)
            } else {
                Vec::new()
            };
            let batch = Arc::new(std::mem::replace(&mut events, rest));
            let critical = batch.iter().any(|e| e.priority == Priority::Critical);
            let stall_timeout = self.config.destination_stall_timeout;
            for dest in &mut self.destinations {
                let routed = if dest.route.is_all() {
                    batch.clone()
                } else {
                    let picked: Vec<Event> = batch
                        .iter()
                        .filter(|e| dest.route.matches(e))
                        .cloned()
                        .collect();
                    if picked.is_empty() {
                        continue;
                    }
                    Arc::new(picked)
                };
                send_batch(dest, routed, critical, stall_timeout);
            }
            bump(&self.counters.deliveries, 1);
            self.dirty = true;
        }
    }

    /// Asks every destination to flush; with a request, each answers to its reply
    /// channel (or the worker answers a timeout in its place).
    fn flush_destinations(&mut self, request: Option<&FlushRequest>) {
        for dest in &self.destinations {
            match request {
                Some(request) => {
                    let ack = FlushAck {
                        reply: request.reply.clone(),
                        deadline: request.deadline,
                    };
                    send_control(dest, DestMsg::Flush(Some(ack)), request, "flush");
                }
                None => {
                    let _ = dest.tx.try_send(DestMsg::Flush(None));
                }
            }
        }
        bump(&self.counters.flushes, 1);
        self.dirty = false;
    }

    fn flush_request(&mut self, request: FlushRequest) {
        self.drain(usize::MAX);
        self.deliver_all();
        self.flush_destinations(Some(&request));
        self.last_flush = self.clock.now();
    }

    /// Final drain and delivery, then a shutdown request to every destination.
    /// Each destination's answer (or a timeout in its place) goes to the request's
    /// reply channel; the collector waits for them, so a hung backend cannot hang us.
    fn stop(&mut self, request: Option<FlushRequest>) {
        self.drain(usize::MAX);
        self.deliver_all();
        // Without a request the collector is gone: dropping our senders ends the
        // destination threads, which shut their backends down on disconnect.
        let Some(request) = request else { return };
        for dest in &self.destinations {
            let ack = FlushAck {
                reply: request.reply.clone(),
                deadline: request.deadline,
            };
            send_control(dest, DestMsg::Shutdown(ack), &request, "shutdown");
        }
    }
}

/// Sends a flush or shutdown someone waits for, answering a timeout in the
/// destination's place if its queue has no room before the deadline.
fn send_control(dest: &DestinationHandle, msg: DestMsg, request: &FlushRequest, what: &str) {
    let wait = request.deadline.saturating_duration_since(Instant::now());
    if dest.tx.send_timeout(msg, wait).is_err() {
        let _ = request.reply.send(Err(VizError::timeout(format!(
            "{} did not accept the {what} request before the deadline",
            dest.name
        ))));
    }
}

/// Hands a batch to a destination. A full queue is waited on for up to
/// `stall_timeout` (critical batches: for as long as it takes); a destination
/// still full after that is marked stalled and loses batches, counted, without
/// further waits until its queue drains to half.
fn send_batch(
    dest: &mut DestinationHandle,
    batch: Arc<Vec<Event>>,
    critical: bool,
    stall_timeout: Duration,
) {
    let n = batch.len() as u64;
    if dest.stalled && dest.tx.len() <= dest.tx.capacity().unwrap_or(0) / 2 {
        dest.stalled = false;
    }
    let msg = match dest.tx.try_send(DestMsg::Batch(batch)) {
        Ok(()) => return,
        Err(TrySendError::Disconnected(_)) => {
            bump(&dest.counters.dropped, n);
            return;
        }
        Err(TrySendError::Full(msg)) => msg,
    };
    if dest.stalled && !critical {
        bump(&dest.counters.dropped, n);
        return;
    }
    let wait = if critical {
        Duration::from_secs(3600)
    } else {
        stall_timeout
    };
    if dest.tx.send_timeout(msg, wait).is_err() {
        dest.stalled = true;
        bump(&dest.counters.dropped, n);
        *dest.counters.last_error.lock() = Some(format!(
            "{}: delivery queue stayed full for {stall_timeout:?} (backend too slow); dropping its batches until it catches up",
            dest.name
        ));
    }
}
