//! The worker: drains the queue, stages events, applies the flush strategy and
//! hands batches to the destinations.
//!
//! It is never woken by producers on the normal path: it polls, backing off from
//! spinning to yielding to sleeping (up to `max_poll_interval`) while the queue is
//! empty. Control messages (flush, stop, a producer stuck on a full queue) wake it
//! through the control channel it sleeps on.
//!
//! It hands batches and requests to each destination through an [`Outlet`], which
//! never lets one stuck destination hold up the worker. Draining for a flush, a
//! critical event or a stop takes what was queued when it began, so producers that
//! keep collecting cannot keep it going forever.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::budget::{Batch, Budget};
use super::control::{Control, Reply};
use super::destination::{DestMsg, ReportSink};
use super::ingress::Ingress;
use super::lanes::Lane;
use super::outlet::{OUTBOX_POLL, Outlet, send_batch};
use super::record::Record;
use super::stats::{WorkerCounters, bump};
use crate::clock::Clock;
use crate::config::{CollectorConfig, FlushStrategy};
use crate::error::{ErrorKind, VizError, panic_message};
use crate::event::{Event, EventData, Priority};
use crate::tag::TagCache;

pub(crate) struct Worker {
    pub ingress: Arc<Ingress>,
    pub control: Receiver<Control>,
    pub config: CollectorConfig,
    pub clock: Arc<dyn Clock>,
    pub counters: Arc<WorkerCounters>,
    pub outlets: Vec<Outlet>,
    pub budget: Arc<Budget>,
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
    /// Where delivered batches go to live watchers.
    pub watch: super::watch::Tap,
    /// Where drops are reported (the collector's error callback).
    pub report: ReportSink,
    /// The overflow policy's drop counters (oldest, newest, block timeout) as
    /// last reported, so each report names only what is new.
    pub reported_drops: [u64; 3],
    /// Bytes of the events in `staging` (their footprints).
    pub staged_bytes: u64,
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
            if self.outlets.iter().any(Outlet::is_waiting) {
                sleep = sleep.min(OUTBOX_POLL);
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

    /// One round, then the drops it saw reported. Returns a stop request.
    fn round(&mut self) -> Option<Option<Reply>> {
        let stop = self.deliver_round();
        self.report_drops();
        stop
    }

    /// Reports, through the error callback, the events the overflow policy
    /// dropped and those the outlets dropped since the last report: one report
    /// per cause, so nothing is dropped unreported, at a cost of three atomic
    /// loads a round.
    fn report_drops(&mut self) {
        let drops = &self.ingress.drops;
        let now = [
            drops.dropped_oldest.load(Ordering::Relaxed),
            drops.dropped_newest.load(Ordering::Relaxed),
            drops.dropped_block_timeout.load(Ordering::Relaxed),
        ];
        const CAUSES: [&str; 3] = [
            "displaced by newer events (policy drop_oldest)",
            "refused at collect (the queue or the byte budget was full; policy drop_newest)",
            "refused at collect after waiting block_timeout (policy block)",
        ];
        for (i, cause) in CAUSES.iter().enumerate() {
            let n = now[i].saturating_sub(self.reported_drops[i]);
            if n > 0 {
                self.reported_drops[i] = now[i];
                let error =
                    VizError::new(ErrorKind::QueueFull, format!("{n} events dropped: {cause}"));
                self.report.report("collector", error, n as usize, false);
            }
        }
        for outlet in &mut self.outlets {
            outlet.report_drops();
        }
    }

    /// One round: control messages, a drain, the strategy. Returns a stop request.
    fn deliver_round(&mut self) -> Option<Option<Reply>> {
        self.taken = 0;
        self.pump_all();
        while let Ok(msg) = self.control.try_recv() {
            if let Some(stop) = self.handle(msg) {
                return Some(stop);
            }
        }
        if self.ingress.critical_pending.swap(false, Ordering::AcqRel) {
            self.drain_queued();
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
    fn handle(&mut self, msg: Control) -> Option<Option<Reply>> {
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

    /// Moves up to `max` records from the lanes into staging (a round's drain: it
    /// stops when staging is full).
    fn drain(&mut self, max: usize) {
        self.drain_with(|_| max, false);
    }

    /// Moves everything queued when it starts into staging, delivering whenever
    /// staging fills: for a flush, a critical event or a stop. Each lane gives at
    /// most what it held at the start, so producers that keep collecting cannot
    /// keep the drain going; a flush waits only for what preceded it.
    fn drain_queued(&mut self) {
        self.drain_with(|queue_len| queue_len, true);
    }

    /// Drains the rescue queue, then each lane (from a rotating start), taking from
    /// each at most `quota(its length now)` records in all.
    fn drain_with(&mut self, quota: impl Fn(usize) -> usize, deliver_when_full: bool) {
        self.ingress
            .lanes
            .refresh(&mut self.lanes, &mut self.lanes_epoch);
        let queued = self.queued() as u64;
        self.counters
            .peak_queue_len
            .fetch_max(queued, Ordering::Relaxed);
        let bounded = !deliver_when_full;
        let mut left = if bounded { quota(0) } else { usize::MAX };
        let mut taken = 0usize;
        let mut scalars = 0u64;
        // Rescued critical events were the oldest in their lane: they go first.
        let rescue_quota = if bounded {
            left
        } else {
            self.ingress.rescue.len()
        };
        let mut full = false;
        for _ in 0..rescue_quota {
            let Some(record) = self.ingress.rescue.pop() else {
                break;
            };
            taken += 1;
            left -= usize::from(bounded);
            if !self.stage(record, &mut scalars, deliver_when_full) {
                full = true;
                break;
            }
        }
        let lanes = std::mem::take(&mut self.lanes);
        let n = lanes.len();
        if !full {
            'lanes: for k in 0..n {
                let lane = &lanes[(self.next_lane + k) % n];
                let mut from_lane = if bounded {
                    left
                } else {
                    quota(lane.queue.len())
                };
                while from_lane > 0 {
                    let Some(record) = lane.queue.pop() else {
                        break;
                    };
                    from_lane -= 1;
                    taken += 1;
                    if bounded {
                        left -= 1;
                    }
                    if !self.stage(record, &mut scalars, deliver_when_full) {
                        break 'lanes;
                    }
                }
                if bounded && left == 0 {
                    break;
                }
            }
        }
        self.lanes = lanes;
        self.next_lane = (self.next_lane + 1) % n.max(1);
        self.taken += taken;
        self.budget
            .take(scalars * std::mem::size_of::<Event>() as u64);
        bump(&self.counters.received, taken as u64);
        self.counters
            .staged
            .store(self.staging.len() as u64, Ordering::Relaxed);
    }

    /// Turns a record into a staged event. Returns false when staging is full and
    /// the drain should stop; with `deliver_when_full` it delivers instead.
    fn stage(&mut self, record: Record, scalars: &mut u64, deliver_when_full: bool) -> bool {
        let event = match record {
            Record::Scalar(s) => {
                *scalars += 1;
                self.staged_bytes += std::mem::size_of::<Event>() as u64;
                Event {
                    tag: self.tags.resolve(s.tag),
                    step: s.step,
                    wall_time: Some(s.wall_time),
                    priority: Priority::Normal,
                    data: EventData::Scalar(s.value),
                }
            }
            Record::Event(boxed) => {
                self.staged_bytes += boxed.footprint() as u64;
                *boxed
            }
        };
        self.staging.push(event);
        if self.staging.len() >= self.config.buffer_capacity {
            if !deliver_when_full {
                return false;
            }
            // Count the scalars staged so far before their batch can give them back.
            self.budget
                .take(std::mem::take(scalars) * std::mem::size_of::<Event>() as u64);
            self.deliver_all();
        }
        true
    }

    /// Delivers what fills whole batches: `batch_size` events, or a batch's worth
    /// of bytes. Without the byte trigger, large events filled the byte budget
    /// long before `batch_size` of them were staged, and producers waited for the
    /// flush interval.
    fn deliver_full_batches(&mut self) {
        let n = self.config.batch_size;
        if self.staged_bytes >= self.max_batch_bytes() {
            // Everything: `deliver` cuts it by bytes and by count.
            self.deliver_all();
            return;
        }
        if self.staging.len() < n {
            return;
        }
        let whole = self.staging.len() / n * n;
        let rest = self.staging.split_off(whole);
        let full = std::mem::replace(&mut self.staging, rest);
        self.staged_bytes = self.staging.iter().map(|e| e.footprint() as u64).sum();
        self.deliver(full);
    }

    fn deliver_all(&mut self) {
        if !self.staging.is_empty() {
            let all = std::mem::take(&mut self.staging);
            self.staged_bytes = 0;
            self.deliver(all);
        }
    }

    /// The most bytes one batch may hold: a quarter of a destination's share of
    /// the byte budget, so a destination's queue always takes several batches
    /// and none waits for room it holds itself. A single larger event still
    /// travels, alone.
    fn max_batch_bytes(&self) -> u64 {
        (self.share() / 4).max(1)
    }

    /// Sends `events` to every destination, in batches of at most `batch_size`
    /// events and [`Worker::max_batch_bytes`] bytes.
    fn deliver(&mut self, mut events: Vec<Event>) {
        self.counters
            .staged
            .store(self.staging.len() as u64, Ordering::Relaxed);
        let n = self.config.batch_size;
        let max_bytes = self.max_batch_bytes();
        let share = self.share();
        while !events.is_empty() {
            let mut len = 0;
            let mut bytes = 0u64;
            for e in events.iter().take(n) {
                let b = e.footprint() as u64;
                if len > 0 && bytes + b > max_bytes {
                    break;
                }
                len += 1;
                bytes += b;
            }
            let rest = events.split_off(len);
            let batch = Arc::new(Batch::counted_as(
                std::mem::replace(&mut events, rest),
                bytes,
                &self.budget,
            ));
            self.watch.offer(&batch);
            let critical = batch.iter().any(|e| e.priority == Priority::Critical);
            let stall_timeout = self.config.destination_stall_timeout;
            for outlet in &mut self.outlets {
                let routed = if outlet.handle.route.is_all() {
                    batch.clone()
                } else {
                    let picked: Vec<Event> = batch
                        .iter()
                        .filter(|e| outlet.handle.route.matches(e))
                        .cloned()
                        .collect();
                    if picked.is_empty() {
                        continue;
                    }
                    Arc::new(Batch::copied(picked, &self.budget))
                };
                send_batch(outlet, routed, critical, stall_timeout, share);
            }
            bump(&self.counters.deliveries, 1);
            self.dirty = true;
        }
    }

    /// Each destination's share of the byte budget.
    fn share(&self) -> u64 {
        self.budget.max() / self.outlets.len().max(1) as u64
    }

    fn pump_all(&mut self) {
        let share = self.share();
        for outlet in &mut self.outlets {
            if outlet.is_waiting() {
                outlet.pump(share);
            }
        }
    }

    /// Asks every destination to flush; with a request, each answers to its reply
    /// channel (or the worker answers a timeout in its place).
    fn flush_destinations(&mut self, request: Option<&Reply>) {
        let share = self.share();
        for outlet in &mut self.outlets {
            match request {
                Some(request) => {
                    let ack = request.clone();
                    outlet.send_control(DestMsg::Flush(Some(ack)), request, "flush", share);
                }
                None if !outlet.is_waiting() => {
                    let _ = outlet.handle.tx.try_send(DestMsg::Flush(None));
                }
                None => {}
            }
        }
        bump(&self.counters.flushes, 1);
        self.dirty = false;
    }

    fn flush_request(&mut self, request: Reply) {
        self.drain_queued();
        self.deliver_all();
        self.flush_destinations(Some(&request));
        self.last_flush = self.clock.now();
    }

    /// Final drain and delivery, then a shutdown request to every destination.
    /// Each destination's answer (or a timeout in its place) goes to the request's
    /// reply channel; the collector waits for them, so a hung backend cannot hang us.
    fn stop(&mut self, request: Option<Reply>) {
        self.drain_queued();
        self.deliver_all();
        // Without a request the collector is gone: dropping our senders ends the
        // destination threads, which shut their backends down on disconnect.
        let Some(request) = request else {
            for outlet in &mut self.outlets {
                outlet.abandon();
            }
            self.report_drops();
            return;
        };
        let share = self.share();
        for outlet in &mut self.outlets {
            let ack = request.clone();
            outlet.send_control(DestMsg::Shutdown(ack), &request, "shutdown", share);
        }
        // Nothing else runs after this: send what waits until the deadline.
        while self.outlets.iter().any(Outlet::is_waiting) && Instant::now() < request.deadline {
            std::thread::sleep(OUTBOX_POLL);
            self.pump_all();
        }
        for outlet in &mut self.outlets {
            outlet.abandon();
        }
        self.report_drops();
    }
}
