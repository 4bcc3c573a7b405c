//! The worker's side of one destination: an outbox through which batches and
//! flush or shutdown requests go to the destination's queue, in order.
//!
//! A destination whose queue is full (in batches, or in bytes past its share of the
//! byte budget) is waited on while it makes progress, so a slow backend pushes back
//! on the producers; one that finishes nothing for `destination_stall_timeout` is
//! stalled and loses normal batches, counted, until its queue drains to half.
//! Critical batches and requests are never dropped for being late: they wait in the
//! outbox and go as soon as there is room (a request past its deadline is answered
//! with a timeout in the destination's place), so a stuck backend holds back neither
//! the other destinations nor the worker.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

use super::budget::Batch;
use super::control::Reply;
use super::destination::{DestMsg, DestinationHandle, ReportSink};
use super::stats::bump;
use crate::error::{ErrorKind, Result, VizError};

/// How often the worker looks at outboxes that wait for room.
pub(crate) const OUTBOX_POLL: Duration = Duration::from_millis(2);

/// What waits in an outbox for room in a destination's queue, in order.
enum Outgoing {
    /// A batch, and whether it holds a critical event.
    Batch(Arc<Batch>, bool),
    /// A flush or shutdown someone waits for; answered with a timeout in the
    /// destination's place if still here at its deadline.
    Control {
        msg: DestMsg,
        reply: Sender<Result<()>>,
        deadline: Instant,
        what: &'static str,
    },
}

/// The worker's side of one destination.
pub(crate) struct Outlet {
    pub handle: DestinationHandle,
    /// The queue stayed full past the stall timeout; normal batches are dropped
    /// until it drains to half.
    stalled: bool,
    outbox: VecDeque<Outgoing>,
    /// Events dropped here and not yet reported: the worker reports them once a
    /// round ([`Outlet::report_drops`]), not once a batch, so a stalled
    /// destination cannot flood the error callback or slow the worker with it.
    unreported: u64,
    report: ReportSink,
}

impl Outlet {
    pub(crate) fn new(handle: DestinationHandle, report: ReportSink) -> Outlet {
        Outlet {
            handle,
            stalled: false,
            outbox: VecDeque::new(),
            unreported: 0,
            report,
        }
    }

    /// Reports the events dropped here since the last report, through the
    /// collector's error callback, as one report.
    pub(crate) fn report_drops(&mut self) {
        let n = std::mem::take(&mut self.unreported);
        if n == 0 {
            return;
        }
        let error = VizError::new(
            ErrorKind::QueueFull,
            format!(
                "{n} events dropped: the delivery queue stayed full past destination_stall_timeout (backend too slow or stuck)"
            ),
        );
        self.report
            .report(&self.handle.name, error, n as usize, false);
    }

    /// Whether anything waits in the outbox for room.
    pub(crate) fn is_waiting(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// Bytes in the destination's queue itself (not in the outbox or backlog
    /// counted with it, which the check below must not count twice).
    fn in_queue_bytes(&self) -> u64 {
        let outboxed: u64 = self
            .outbox
            .iter()
            .map(|o| match o {
                Outgoing::Batch(b, _) => b.bytes(),
                Outgoing::Control { .. } => 0,
            })
            .sum();
        self.handle
            .counters
            .queued_bytes
            .load(Ordering::Relaxed)
            .saturating_sub(outboxed)
    }

    /// Whether the destination's queue has room for a batch of `bytes` that was
    /// just taken from the outbox: its batch count and its share of the byte
    /// budget. An empty queue takes any one batch.
    ///
    /// The batch was counted as queued when it entered the outbox, so its own
    /// bytes come off first: counted twice, a batch over half the share waited
    /// for room that it held itself, and 256 KiB events into an idle memory://
    /// destination were all dropped as stalled.
    fn has_room(&self, bytes: u64, share: u64) -> bool {
        let queued = self.in_queue_bytes().saturating_sub(bytes);
        !self.handle.tx.is_full() && (queued == 0 || queued + bytes <= share)
    }

    /// Whether the queue has drained to half, so a stalled destination may resume.
    fn drained_to_half(&self, share: u64) -> bool {
        self.handle.tx.len() <= self.handle.tx.capacity().unwrap_or(0) / 2
            && self.in_queue_bytes() <= share / 2
    }

    /// Sends a batch now if there is room; gives it back if not. A destination
    /// whose thread is gone loses it (counted).
    fn try_send(&mut self, batch: Arc<Batch>, share: u64) -> std::result::Result<(), Arc<Batch>> {
        if !self.has_room(batch.bytes(), share) {
            return Err(batch);
        }
        match self.handle.tx.try_send(DestMsg::Batch(batch)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(DestMsg::Batch(b))) => Err(b),
            Err(TrySendError::Disconnected(DestMsg::Batch(b))) => {
                self.lose(&b);
                Ok(())
            }
            Err(_) => unreachable!("a batch comes back as itself"),
        }
    }

    /// A number that moves whenever the destination finishes a batch.
    fn progress(&self) -> u64 {
        let c = &self.handle.counters;
        [&c.written, &c.dropped, &c.failed_batches]
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .sum()
    }

    /// Counts a batch this destination lost before it was queued for it.
    fn drop_batch(&mut self, batch: &Batch) {
        bump(&self.handle.counters.dropped, batch.len() as u64);
        self.unreported += batch.len() as u64;
    }

    /// Counts a batch lost from the outbox, where it was already counted as queued.
    fn lose(&mut self, batch: &Batch) {
        self.drop_batch(batch);
        self.handle
            .counters
            .release(batch.len() as u64, batch.bytes());
    }

    /// Drops the normal batches waiting in the outbox (the destination stalled);
    /// critical batches and requests stay.
    fn shed(&mut self) {
        let outbox = std::mem::take(&mut self.outbox);
        for o in outbox {
            match o {
                Outgoing::Batch(batch, false) => self.lose(&batch),
                kept => self.outbox.push_back(kept),
            }
        }
    }

    /// Sends what waits in the outbox, in order, while there is room; answers a
    /// timeout for requests past their deadline.
    pub(crate) fn pump(&mut self, share: u64) {
        let now = Instant::now();
        while let Some(front) = self.outbox.pop_front() {
            match front {
                Outgoing::Batch(batch, critical) => match self.try_send(batch, share) {
                    Ok(()) => {}
                    Err(batch) => {
                        self.outbox.push_front(Outgoing::Batch(batch, critical));
                        return;
                    }
                },
                Outgoing::Control {
                    msg,
                    reply,
                    deadline,
                    what,
                } => {
                    if now >= deadline {
                        let _ = reply.send(Err(self.timed_out(what)));
                        continue;
                    }
                    match self.handle.tx.try_send(msg) {
                        Ok(()) => {}
                        Err(TrySendError::Full(msg)) => {
                            self.outbox.push_front(Outgoing::Control {
                                msg,
                                reply,
                                deadline,
                                what,
                            });
                            return;
                        }
                        Err(TrySendError::Disconnected(_)) => {
                            let _ = reply.send(Err(self.timed_out(what)));
                        }
                    }
                }
            }
        }
    }

    fn timed_out(&self, what: &str) -> VizError {
        VizError::timeout(format!(
            "{} did not accept the {what} request before the deadline (its queue stayed full)",
            self.handle.name
        ))
    }

    /// Sends a flush or shutdown someone waits for, behind whatever waits in the
    /// outbox; never blocks.
    pub(crate) fn send_control(
        &mut self,
        msg: DestMsg,
        request: &Reply,
        what: &'static str,
        share: u64,
    ) {
        self.outbox.push_back(Outgoing::Control {
            msg,
            reply: request.to.clone(),
            deadline: request.deadline,
            what,
        });
        self.pump(share);
    }

    /// Gives up on everything in the outbox: batches dropped and counted, requests
    /// answered with a timeout.
    pub(crate) fn abandon(&mut self) {
        for o in std::mem::take(&mut self.outbox) {
            match o {
                Outgoing::Batch(batch, _) => self.lose(&batch),
                Outgoing::Control { reply, what, .. } => {
                    let _ = reply.send(Err(self.timed_out(what)));
                }
            }
        }
    }
}

/// Hands a batch to a destination, through its outbox so order holds. A full queue
/// is waited on while the destination makes progress; one that finishes nothing for
/// `stall_timeout` is marked stalled and loses normal batches, counted, without further waits until
/// its queue drains to half. Critical batches are never dropped for being late:
/// they wait in the outbox, and the worker moves on.
pub(crate) fn send_batch(
    outlet: &mut Outlet,
    batch: Arc<Batch>,
    critical: bool,
    stall_timeout: Duration,
    share: u64,
) {
    outlet.pump(share);
    if outlet.stalled && outlet.outbox.is_empty() && outlet.drained_to_half(share) {
        outlet.stalled = false;
    }
    if outlet.stalled && !critical {
        outlet.drop_batch(&batch);
        return;
    }
    // Counted as queued from here; the destination (or a drop) releases it.
    outlet
        .handle
        .counters
        .hold(batch.len() as u64, batch.bytes());
    outlet.outbox.push_back(Outgoing::Batch(batch, critical));
    outlet.pump(share);
    if outlet.outbox.is_empty() || outlet.stalled {
        return;
    }
    // Wait while the destination makes progress: a slow backend pushes back on the
    // producers (backpressure), only a stuck one is given up on.
    let mut progress = outlet.progress();
    let mut deadline = Instant::now() + stall_timeout;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(500).min(stall_timeout));
        outlet.pump(share);
        if outlet.outbox.is_empty() {
            return;
        }
        let now = outlet.progress();
        if now != progress {
            progress = now;
            deadline = Instant::now() + stall_timeout;
        }
    }
    outlet.stalled = true;
    *outlet.handle.counters.last_error.lock() = Some(format!(
        "{}: delivery queue stayed full for {stall_timeout:?} (backend too slow or stuck); dropping its batches until it catches up",
        outlet.handle.name
    ));
    outlet.shed();
}
