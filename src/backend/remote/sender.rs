//! The sender thread: moves a spool's events to a destination, at least once.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::backoff::Backoff;
use super::progress::{Count, Remote};
use crate::backend::spool::{Reservation, Spool};
use crate::error::{Result, VizError, panic_message};
use crate::event::Event;

/// What a successful [`Delivery::send`] reports.
#[derive(Debug, Default)]
pub struct Sent {
    /// Requests made.
    pub requests: u64,
    /// Items the destination refused for good (dropped; not retried).
    pub rejected: u64,
    /// Why, one error per refusal, for the error callback.
    pub errors: Vec<VizError>,
}

/// A failed [`Delivery::send`]: the whole reservation is retried after a backoff.
#[derive(Debug)]
pub struct SendError {
    /// What went wrong (never holding credentials).
    pub error: VizError,
    /// Whether some of the events may have reached the destination before the
    /// failure (a request was sent and its answer lost): their second sending is
    /// counted as duplicates.
    pub maybe_delivered: bool,
}

/// A destination's protocol: turns spooled events into requests.
pub trait Delivery: Send {
    /// Sends `events` (spool offsets `first..first + events.len()`, so a delivery
    /// can name what it sends deterministically and a resend overwrites rather than
    /// duplicates). `Ok` acks them all, refused items included; `Err` retries them.
    fn send(&mut self, first: u64, events: &[Event]) -> std::result::Result<Sent, SendError>;

    /// Called once as the sender stops; `drained` says whether the spool was
    /// empty (everything acknowledged), such as to mark a run finished.
    fn finish(&mut self, drained: bool) -> Result<()>;
}

/// How a [`Sender`] paces itself.
#[derive(Clone, Copy, Debug)]
pub struct SenderOptions {
    /// Events reserved and sent at a time.
    pub batch: usize,
    /// How long a reservation stays invisible before it is handed out again.
    pub visibility: Duration,
    /// The first wait after a failure.
    pub backoff_initial: Duration,
    /// The longest wait between attempts.
    pub backoff_max: Duration,
}

impl Default for SenderOptions {
    fn default() -> Self {
        SenderOptions {
            batch: 1000,
            visibility: Duration::from_secs(300),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Run,
    /// Deliver what is spooled, until the deadline.
    Drain(Instant),
}

struct Signal {
    mode: Mutex<(Mode, bool)>,
    wake: Condvar,
}

/// A running sender thread (see the module documentation).
pub struct Sender {
    signal: Arc<Signal>,
    thread: Option<JoinHandle<()>>,
    /// The thread's result, sent as it ends, so `stop` can wait with a deadline.
    done: crossbeam_channel::Receiver<Result<bool>>,
}

/// How long `stop` waits past the drain deadline for the thread to finish what it
/// does after draining (telling the destination the run ended).
const FINISH_GRACE: Duration = Duration::from_millis(500);

struct Worker {
    spool: Arc<Mutex<Spool>>,
    delivery: Box<dyn Delivery>,
    remote: Remote,
    options: SenderOptions,
    signal: Arc<Signal>,
    backoff: Backoff,
    /// Offsets whose earlier sending may have reached the destination.
    maybe_sent: BTreeMap<u64, u64>,
}

impl Sender {
    /// Starts a thread named `name` that delivers `spool`'s events through `delivery`.
    pub fn spawn(
        name: &str,
        spool: Arc<Mutex<Spool>>,
        delivery: Box<dyn Delivery>,
        remote: Remote,
        options: SenderOptions,
    ) -> Result<Sender> {
        let signal = Arc::new(Signal {
            mode: Mutex::new((Mode::Run, false)),
            wake: Condvar::new(),
        });
        let mut maybe_sent = BTreeMap::new();
        if let Some((from, to)) = spool.lock().in_flight_at_open() {
            maybe_sent.insert(from, to);
        }
        let worker = Worker {
            spool,
            delivery,
            remote,
            options,
            signal: signal.clone(),
            backoff: Backoff::new(options.backoff_initial, options.backoff_max),
            maybe_sent,
        };
        let (tx, done) = crossbeam_channel::bounded(1);
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let result = catch_unwind(AssertUnwindSafe(|| worker.run())).unwrap_or_else(|p| {
                    Err(VizError::new(
                        crate::ErrorKind::Panic,
                        format!("the sender panicked: {}", panic_message(&*p)),
                    ))
                });
                let _ = tx.send(result);
            })
            .map_err(|e| VizError::from(e).context("starting the sender thread"))?;
        Ok(Sender {
            signal,
            thread: Some(thread),
            done,
        })
    }

    /// Wakes the thread: new events are spooled.
    pub fn notify(&self) {
        self.signal.mode.lock().1 = true;
        self.signal.wake.notify_one();
    }

    /// Delivers what is spooled until `deadline` (or the first failed attempt),
    /// then stops the thread and returns whether everything was delivered. What is
    /// left stays spooled for the next sender on this spool.
    ///
    /// A request in flight at the deadline (a server that accepts and never
    /// answers) is not waited for: the thread is left to end with it, and `stop`
    /// returns. Nothing is lost: the events it carries stay in the spool, reserved
    /// until their visibility timeout, and go again with the next sender.
    pub fn stop(&mut self, deadline: Instant) -> Result<bool> {
        {
            let mut mode = self.signal.mode.lock();
            mode.0 = Mode::Drain(deadline);
        }
        self.signal.wake.notify_one();
        let Some(thread) = self.thread.take() else {
            return Ok(false);
        };
        match self.done.recv_deadline(deadline + FINISH_GRACE) {
            Ok(result) => {
                let _ = thread.join();
                result
            }
            Err(_) => Err(VizError::timeout(
                "a request to the destination was still in flight at the drain deadline; it was left to end on its own and its events stay spooled",
            )),
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop(Instant::now());
        }
    }
}

impl Worker {
    fn run(mut self) -> Result<bool> {
        let drained = loop {
            let mode = self.signal.mode.lock().0;
            let now = Instant::now();
            // Draining delivers what the destination takes now: it ends at the
            // deadline, when the spool is empty, or at the first failed attempt (a
            // server that is down is not waited for at shutdown; the events stay
            // spooled, and wait_acknowledged is the call that waits).
            if let Mode::Drain(deadline) = mode
                && (now >= deadline
                    || self.backoff.failures() > 0
                    || self.spool.lock().depth() == 0)
            {
                break self.spool.lock().depth() == 0;
            }
            match self.step() {
                Ok(true) => {}
                Ok(false) => self.sleep(Duration::from_millis(100), true),
                Err(wait) => self.sleep(wait, false),
            }
        };
        self.observe();
        let why = if drained {
            "the sender stopped with everything delivered".to_owned()
        } else {
            "the sender stopped with events still spooled; they are sent when a backend opens this spool again".to_owned()
        };
        self.remote.close(why);
        let finished = catch_unwind(AssertUnwindSafe(|| self.delivery.finish(drained)))
            .unwrap_or_else(|p| {
                Err(VizError::new(
                    crate::ErrorKind::Panic,
                    format!("the delivery panicked finishing: {}", panic_message(&*p)),
                ))
            });
        finished.map(|()| drained)
    }

    /// Waits up to `wait`, or until new events (if `on_new`) or a change of mode.
    fn sleep(&self, wait: Duration, on_new: bool) {
        let mut mode = self.signal.mode.lock();
        let until = Instant::now() + wait;
        loop {
            if on_new && mode.1 {
                mode.1 = false;
                return;
            }
            let was = mode.0;
            let limit = match was {
                Mode::Drain(deadline) => until.min(deadline),
                Mode::Run => until,
            };
            if self.signal.wake.wait_until(&mut mode, limit).timed_out() || mode.0 != was {
                return;
            }
        }
    }

    fn observe(&self) {
        let spool = self.spool.lock();
        let oldest = spool.oldest_wall_time().ok().flatten();
        self.remote
            .observe(spool.next_offset(), spool.acked(), spool.bytes(), oldest);
    }

    /// One reservation: `Ok(true)` if something was sent, `Ok(false)` if nothing
    /// was due, `Err(wait)` to back off after a failure.
    fn step(&mut self) -> std::result::Result<bool, Duration> {
        let reserved = self
            .spool
            .lock()
            .reserve(self.options.batch, self.options.visibility);
        let r = match reserved {
            Ok(Some(r)) => r,
            Ok(None) => {
                self.observe();
                return Ok(false);
            }
            Err(e) => {
                self.remote.warn(e.context("reading the spool"));
                return Err(self.backoff.next_wait());
            }
        };
        self.count_redelivery(&r);
        let _ = self.spool.lock().mark_in_flight(&r);
        let sent = catch_unwind(AssertUnwindSafe(|| self.delivery.send(r.from, &r.events)))
            .unwrap_or_else(|p| {
                Err(SendError {
                    error: VizError::new(
                        crate::ErrorKind::Panic,
                        format!("the delivery panicked: {}", panic_message(&*p)),
                    ),
                    maybe_delivered: true,
                })
            });
        let events = r.events.len() as u64;
        let to = r.from + events;
        match sent {
            Ok(sent) => {
                self.remote.add(Count::Sends, sent.requests);
                self.remote.add(Count::Rejected, sent.rejected);
                for e in sent.errors {
                    self.remote.warn(e);
                }
                if let Err(e) = self.spool.lock().ack(r) {
                    self.remote
                        .warn(e.context("acking delivered events in the spool"));
                    return Err(self.backoff.next_wait());
                }
                self.remote.add(Count::Delivered, events);
                self.backoff.reset();
                self.observe();
                Ok(true)
            }
            Err(failed) => {
                if failed.maybe_delivered {
                    self.maybe_sent.insert(r.from, to);
                }
                self.remote.add(Count::Failures, 1);
                let _ = self.spool.lock().nack(r);
                let wait = self.backoff.next_wait();
                // Every failure is counted; only the 1st, 2nd, 4th, 8th... in a row
                // is reported, so an outage does not flood the error callback. A
                // panic is a bug, reported every time.
                if self.backoff.failures().is_power_of_two()
                    || failed.error.kind() == crate::ErrorKind::Panic
                {
                    self.remote.warn(failed.error.context(format_args!(
                        "delivery failed ({} attempts in a row); retrying in {} ms",
                        self.backoff.failures(),
                        wait.as_millis()
                    )));
                }
                self.observe();
                Err(wait)
            }
        }
    }

    /// Counts redeliveries, and duplicates among them: events an earlier attempt
    /// may have delivered.
    fn count_redelivery(&mut self, r: &Reservation) {
        let (from, to) = (r.from, r.from + r.events.len() as u64);
        if r.redelivery > 0 {
            self.remote.add(Count::Redeliveries, to - from);
        }
        let overlapping: Vec<(u64, u64)> = self
            .maybe_sent
            .range(..to)
            .filter(|&(_, &end)| end > from)
            .map(|(&a, &b)| (a, b))
            .collect();
        for (a, b) in overlapping {
            self.maybe_sent.remove(&a);
            self.remote.add(Count::Duplicates, b.min(to) - a.max(from));
            if a < from {
                self.maybe_sent.insert(a, from);
            }
            if b > to {
                self.maybe_sent.insert(to, b);
            }
        }
    }
}
