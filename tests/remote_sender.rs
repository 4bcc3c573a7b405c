//! The sender thread (src/backend/remote): at-least-once delivery of a spool through a
//! `Delivery`, here one the test scripts to fail, refuse, panic or succeed.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::temp_dir;
use parking_lot::Mutex;
use viz::remote::{Delivery, Remote, SendError, Sender, SenderOptions, Sent};
use viz::spool::Spool;
use viz::{ErrorKind, Event, VizError};

/// What the scripted delivery does on each call, in order; then it succeeds.
#[derive(Clone, Copy, Debug)]
enum Step {
    Fail { maybe_delivered: bool },
    Refuse(u64),
    Panic,
}

#[derive(Default)]
struct Log {
    /// Steps of every event of every successful send, in order.
    delivered: Vec<i64>,
    calls: u64,
    finished: Option<bool>,
}

struct Scripted {
    script: Vec<Step>,
    log: Arc<Mutex<Log>>,
    always_fail: bool,
}

impl Delivery for Scripted {
    fn send(&mut self, _first: u64, events: &[Event]) -> Result<Sent, SendError> {
        self.log.lock().calls += 1;
        let fail = |maybe_delivered| SendError {
            error: VizError::new(ErrorKind::Io, "scripted failure"),
            maybe_delivered,
        };
        if self.always_fail {
            return Err(fail(false));
        }
        let step = (!self.script.is_empty()).then(|| self.script.remove(0));
        match step {
            Some(Step::Fail { maybe_delivered }) => Err(fail(maybe_delivered)),
            Some(Step::Panic) => panic!("scripted panic"),
            Some(Step::Refuse(n)) => {
                self.log
                    .lock()
                    .delivered
                    .extend(events.iter().map(|e| e.step));
                Ok(Sent {
                    requests: 1,
                    rejected: n,
                    errors: vec![VizError::invalid_argument("scripted refusal")],
                })
            }
            None => {
                self.log
                    .lock()
                    .delivered
                    .extend(events.iter().map(|e| e.step));
                Ok(Sent {
                    requests: 1,
                    ..Sent::default()
                })
            }
        }
    }

    fn finish(&mut self, drained: bool) -> viz::Result<()> {
        self.log.lock().finished = Some(drained);
        Ok(())
    }
}

fn events(steps: std::ops::Range<i64>) -> Vec<Event> {
    steps
        .map(|s| Event::scalar("x", s, s as f64).unwrap().at(1000.0))
        .collect()
}

fn quick() -> SenderOptions {
    SenderOptions {
        batch: 100,
        visibility: Duration::from_secs(60),
        backoff_initial: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
    }
}

struct Harness {
    spool: Arc<Mutex<Spool>>,
    remote: Remote,
    sender: Sender,
    log: Arc<Mutex<Log>>,
}

fn start(dir: &std::path::Path, script: Vec<Step>, always_fail: bool) -> Harness {
    let spool = Arc::new(Mutex::new(Spool::open(dir, 1 << 30).unwrap()));
    let log = Arc::new(Mutex::new(Log::default()));
    let remote = Remote::new();
    let sender = Sender::spawn(
        "test-sender",
        spool.clone(),
        Box::new(Scripted {
            script,
            log: log.clone(),
            always_fail,
        }),
        remote.clone(),
        quick(),
    )
    .unwrap();
    Harness {
        spool,
        remote,
        sender,
        log,
    }
}

impl Harness {
    fn enqueue(&self, steps: std::ops::Range<i64>) -> u64 {
        let mut spool = self.spool.lock();
        spool.enqueue(&events(steps)).unwrap();
        spool.next_offset()
    }
}

const LONG: Duration = Duration::from_secs(30);

#[test]
fn every_event_is_delivered_in_order_and_the_run_finished() {
    let dir = temp_dir("sender", "order");
    let mut h = start(&dir, vec![], false);
    let end = h.enqueue(0..1000);
    h.sender.notify();
    h.remote.wait_acknowledged(end, LONG).unwrap();
    let end = h.enqueue(1000..1250);
    h.sender.notify();
    h.remote.wait_acknowledged(end, LONG).unwrap();
    assert!(h.sender.stop(Instant::now() + LONG).unwrap(), "drained");
    let log = h.log.lock();
    assert_eq!(log.delivered, (0..1250).collect::<Vec<_>>());
    assert_eq!(log.finished, Some(true));
    let s = h.remote.stats();
    assert_eq!((s.delivered, s.depth, s.sends), (1250, 0, 13));
    assert_eq!((s.failures, s.redeliveries, s.duplicates), (0, 0, 0));
}

#[test]
fn failures_are_retried_and_only_maybe_delivered_ones_count_as_duplicates() {
    let dir = temp_dir("sender", "retry");
    let script = vec![
        Step::Fail {
            maybe_delivered: false,
        },
        Step::Fail {
            maybe_delivered: true,
        },
        Step::Panic,
    ];
    let mut h = start(&dir, script, false);
    let end = h.enqueue(0..100);
    h.sender.notify();
    h.remote.wait_acknowledged(end, LONG).unwrap();
    h.sender.stop(Instant::now() + LONG).unwrap();
    let s = h.remote.stats();
    assert_eq!(s.failures, 3, "{s:?}");
    assert_eq!(
        s.redeliveries, 300,
        "three more hand-outs of the 100: {s:?}"
    );
    // The connection failure sent nothing; the lost answer and the panic may each
    // have delivered a copy, so the two sends after them each count 100.
    assert_eq!(s.duplicates, 200, "{s:?}");
    assert_eq!(h.log.lock().delivered, (0..100).collect::<Vec<_>>());
    let warnings: Vec<String> = h
        .remote
        .take_warnings()
        .iter()
        .map(|w| w.to_string())
        .collect();
    assert!(
        warnings.iter().any(|w| w.contains("scripted failure")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("the delivery panicked")),
        "{warnings:?}"
    );
}

#[test]
fn refused_items_are_counted_reported_and_do_not_block_what_follows() {
    let dir = temp_dir("sender", "refused");
    let mut h = start(&dir, vec![Step::Refuse(7)], false);
    let end = h.enqueue(0..300);
    h.sender.notify();
    h.remote.wait_acknowledged(end, LONG).unwrap();
    h.sender.stop(Instant::now() + LONG).unwrap();
    let s = h.remote.stats();
    assert_eq!((s.rejected, s.delivered, s.failures), (7, 300, 0));
    assert!(
        h.remote
            .take_warnings()
            .iter()
            .any(|w| w.message().contains("scripted refusal"))
    );
}

/// A destination that never answers: stop gives up at its deadline, waits end
/// with Closed, and the events stay spooled for the next sender, which delivers
/// them and counts the batch in flight at the "crash" as duplicates.
#[test]
fn undelivered_events_survive_a_stop_and_a_crash_for_the_next_sender() {
    let dir = temp_dir("sender", "restart");
    let mut h = start(&dir, vec![], true);
    let end = h.enqueue(0..250);
    h.sender.notify();
    let err = h
        .remote
        .wait_acknowledged(end, Duration::from_millis(100))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(
        !h.sender
            .stop(Instant::now() + Duration::from_millis(50))
            .unwrap()
    );
    assert_eq!(h.log.lock().finished, Some(false));
    let err = h.remote.wait_acknowledged(end, LONG).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
    assert!(h.remote.stats().failures >= 1);
    // A process that dies mid-send leaves its reservation marked in flight.
    {
        let mut spool = h.spool.lock();
        let r = spool.reserve(100, LONG).unwrap().unwrap();
        spool.mark_in_flight(&r).unwrap();
    }
    drop(h);
    let mut next = start(&dir, vec![], false);
    next.sender.notify();
    next.remote.wait_acknowledged(250, LONG).unwrap();
    assert!(next.sender.stop(Instant::now() + LONG).unwrap());
    assert_eq!(next.log.lock().delivered, (0..250).collect::<Vec<_>>());
    let s = next.remote.stats();
    assert_eq!((s.delivered, s.duplicates), (250, 100), "{s:?}");
}

#[test]
fn backoff_waits_grow_between_failures() {
    let dir = temp_dir("sender", "backoff");
    let spool = Arc::new(Mutex::new(Spool::open(&dir, 1 << 30).unwrap()));
    spool.lock().enqueue(&events(0..10)).unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let remote = Remote::new();
    let mut sender = Sender::spawn(
        "test-sender",
        spool,
        Box::new(Scripted {
            script: vec![],
            log: log.clone(),
            always_fail: true,
        }),
        remote.clone(),
        SenderOptions {
            backoff_initial: Duration::from_millis(20),
            backoff_max: Duration::from_millis(80),
            ..quick()
        },
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    sender.stop(Instant::now()).unwrap();
    // Waits of 10-20, 20-40, 40-80, then 40-80 ms each: in 600 ms at least 7 and
    // at most about 14 attempts, never the thousands a loop without backoff makes.
    let calls = log.lock().calls;
    assert!((3..=20).contains(&calls), "{calls} attempts");
}
