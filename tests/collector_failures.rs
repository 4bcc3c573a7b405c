//! Failing, panicking, slow and blocked backends stay isolated; the others go on.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Behaviour, LONG, ScriptedBackend, wait_until};
use parking_lot::Mutex;
use viz::{Collector, CollectorConfig, ErrorKind, ErrorReport, Event, MemoryBackend, RetryPolicy};

fn fast_retry(max_attempts: u32) -> CollectorConfig {
    CollectorConfig {
        retry: RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
            ..RetryPolicy::default()
        },
        ..Default::default()
    }
}

fn collect_n(c: &Collector, tag: &str, n: i64) {
    let id = c.intern(tag).unwrap();
    for i in 0..n {
        c.collect_scalar(id, i, i as f64).unwrap();
    }
}

#[test]
fn a_failing_backend_is_retried_then_given_up_while_others_go_on() {
    let memory = MemoryBackend::new();
    let failing = ScriptedBackend::new(Behaviour::FailAlways);
    let reports: Arc<Mutex<Vec<ErrorReport>>> = Arc::default();
    let sink = reports.clone();
    let c = Collector::builder()
        .config(fast_retry(3))
        .backend(failing.clone())
        .backend(memory.clone())
        .on_error(move |r| sink.lock().push(r.clone()))
        .build_and_start()
        .unwrap();
    collect_n(&c, "f/fail", 50);
    let e = c.flush(LONG).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Backend);
    assert!(
        e.message()
            .contains("scripted#0: gave up on 50 events after 3 attempts"),
        "{e}"
    );
    assert_eq!(memory.len(), 50, "the healthy backend got everything");
    assert!(wait_until(LONG, || c.stats().destinations[0].dropped == 50));
    let s = c.stats();
    let d = &s.destinations[0];
    assert_eq!(d.written, 0);
    assert!(d.failed_batches >= 3 && d.retries >= 2, "{d:?}");
    assert!(
        d.last_error
            .as_deref()
            .unwrap()
            .contains("scripted failure"),
        "{d:?}"
    );
    assert!(s.last_error.is_some());
    let reports = reports.lock();
    assert!(reports.iter().any(|r| r.will_retry));
    let last = reports.iter().rev().find(|r| !r.will_retry).unwrap();
    assert!(
        last.error
            .message()
            .contains("gave up on 50 events after 3 attempts"),
        "{:?}",
        last.error
    );
    assert_eq!(last.destination, "scripted#0");
}

#[test]
fn a_recovering_backend_gets_every_event_once_in_order() {
    let flaky = ScriptedBackend::new(Behaviour::FailFirst(3));
    let c = Collector::builder()
        .config(CollectorConfig {
            batch_size: 10,
            ..fast_retry(10)
        })
        .backend(flaky.clone())
        .build_and_start()
        .unwrap();
    collect_n(&c, "f/flaky", 100);
    c.flush(LONG).unwrap();
    let steps: Vec<i64> = flaky.stored.lock().iter().map(|e| e.step).collect();
    assert!(steps.iter().copied().eq(0..100), "{steps:?}");
    let d = &c.stats().destinations[0];
    assert_eq!((d.written, d.dropped), (100, 0));
    assert_eq!(d.failed_batches, 3);
}

#[test]
fn a_panicking_backend_is_retired_and_the_others_go_on() {
    let memory = MemoryBackend::new();
    let c = Collector::builder()
        .backend(ScriptedBackend::new(Behaviour::Panic))
        .backend(memory.clone())
        .build_and_start()
        .unwrap();
    collect_n(&c, "f/panic", 300);
    let e = c.flush(LONG).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Panic);
    assert!(e.message().contains("scripted#0"), "{e}");
    assert_eq!(memory.len(), 300);
    collect_n(&c, "f/panic", 10);
    assert!(c.flush(LONG).is_err());
    assert_eq!(memory.len(), 310, "still delivering after the panic");
    let d = &c.stats().destinations[0];
    assert!(d.panicked);
    assert_eq!(d.dropped, 310);
    assert!(
        d.last_error.as_deref().unwrap().contains("scripted panic"),
        "{d:?}"
    );
    // Shutdown reports the retired backend but completes.
    assert_eq!(c.stop(LONG).unwrap_err().kind(), ErrorKind::Panic);
}

#[test]
fn a_panicking_subscriber_is_isolated() {
    let memory = MemoryBackend::new();
    let c = Collector::builder()
        .subscriber(|_: &[Event]| panic!("subscriber bug"))
        .backend(memory.clone())
        .build_and_start()
        .unwrap();
    collect_n(&c, "f/sub", 20);
    assert!(c.flush(LONG).is_err());
    assert_eq!(memory.len(), 20);
    assert!(c.stats().destinations[0].panicked);
}

#[test]
fn a_panicking_error_callback_does_not_kill_delivery() {
    let memory = MemoryBackend::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let c = Collector::builder()
        .config(fast_retry(1))
        .backend(ScriptedBackend::new(Behaviour::FailAlways))
        .backend(memory.clone())
        .on_error(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            panic!("callback bug");
        })
        .build_and_start()
        .unwrap();
    for round in 0..3 {
        collect_n(&c, "f/cb", 10);
        let _ = c.flush(LONG);
        assert_eq!(memory.len(), 10 * (round + 1));
    }
    assert!(calls.load(Ordering::SeqCst) >= 3);
}

#[test]
fn a_slow_backend_does_not_hold_back_the_others() {
    let memory = MemoryBackend::new();
    let slow = ScriptedBackend::new(Behaviour::Slow(Duration::from_millis(50)));
    let c = Collector::builder()
        .batch_size(10)
        .backend(slow.clone())
        .backend(memory.clone())
        .build_and_start()
        .unwrap();
    collect_n(&c, "f/slow", 300);
    // 30 batches at 50 ms each take the slow one 1.5 s; the fast one must have
    // everything while the slow one is still behind.
    assert!(wait_until(LONG, || memory.len() == 300));
    assert!(slow.len() < 300, "slow backend already has {}", slow.len());
    c.flush(Duration::from_secs(60)).unwrap();
    assert_eq!(slow.len(), 300, "slow is not lost, only late");
}

#[test]
fn a_stalled_backend_loses_batches_counted_while_the_others_lose_none() {
    let gate = Arc::new(Mutex::new(()));
    let mut stuck = ScriptedBackend::new(Behaviour::Store);
    stuck.gate = Some(gate.clone());
    let memory = MemoryBackend::new();
    let c = Collector::builder()
        .config(CollectorConfig {
            batch_size: 1,
            buffer_capacity: 10,
            destination_queue_batches: 2,
            destination_stall_timeout: Duration::from_millis(20),
            ..Default::default()
        })
        .backend(stuck.clone())
        .backend(memory.clone())
        .build_and_start()
        .unwrap();
    let held = gate.lock();
    collect_n(&c, "f/behind", 50);
    assert!(wait_until(LONG, || memory.len() == 50));
    let s = c.stats();
    let d = &s.destinations[0];
    // One batch is in the stuck call, two wait in its queue; the rest were dropped.
    assert_eq!(d.dropped, 47, "{d:?}");
    assert!(
        d.last_error.as_deref().unwrap().contains("stayed full"),
        "{d:?}"
    );
    assert_eq!(s.destinations[1].dropped, 0);
    drop(held);
    c.flush(LONG).unwrap();
    assert_eq!(stuck.len(), 3);
}

#[test]
fn a_burst_into_a_small_destination_queue_loses_nothing() {
    // The worker outruns a healthy destination thread that has to wake up first;
    // it must wait for room rather than drop.
    let memory = MemoryBackend::new();
    let c = Collector::builder()
        .config(CollectorConfig {
            batch_size: 1,
            buffer_capacity: 10,
            destination_queue_batches: 1,
            strategy: viz::FlushStrategy::Manual,
            ..Default::default()
        })
        .backend(memory.clone())
        .build_and_start()
        .unwrap();
    collect_n(&c, "f/burst", 5000);
    c.flush(LONG).unwrap();
    assert_eq!(memory.len(), 5000);
    assert_eq!(c.stats().destinations[0].dropped, 0);
}

#[test]
fn a_blocked_backend_cannot_hang_stop() {
    let gate = Arc::new(Mutex::new(()));
    let mut blocked = ScriptedBackend::new(Behaviour::Store);
    blocked.gate = Some(gate.clone());
    let memory = MemoryBackend::new();
    let c = Collector::builder()
        .backend(blocked.clone())
        .backend(memory.clone())
        .build_and_start()
        .unwrap();
    let held = gate.lock();
    collect_n(&c, "f/blocked", 10);
    let e = c.stop(Duration::from_millis(200)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.message().contains("1 of 2 destinations answered"), "{e}");
    assert_eq!(
        memory.len(),
        10,
        "the healthy backend was drained and shut down"
    );
    drop(held);
    assert!(
        wait_until(LONG, || blocked.len() == 10),
        "the abandoned thread finishes once unblocked"
    );
}

#[test]
fn a_backend_failing_to_initialize_fails_build_with_its_message() {
    struct Broken;
    impl viz::StorageBackend for Broken {
        fn type_name(&self) -> &str {
            "broken"
        }
        fn initialize_with(&mut self, _: &viz::StorageConfiguration) -> viz::Result<()> {
            Err(viz::VizError::backend("cannot open /nonexistent"))
        }
        fn shutdown(&mut self) -> viz::Result<()> {
            Ok(())
        }
        fn is_initialized(&self) -> bool {
            false
        }
        fn store_events(&mut self, _: &[Event]) -> viz::Result<()> {
            Ok(())
        }
        fn flush(&mut self) -> viz::Result<()> {
            Ok(())
        }
        fn event_count(&self) -> u64 {
            0
        }
        fn clear(&mut self) -> viz::Result<()> {
            Ok(())
        }
    }
    let e = Collector::builder().backend(Broken).build().err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Backend);
    assert!(
        e.message().contains("destination 0") && e.message().contains("/nonexistent"),
        "{e}"
    );
}

#[test]
fn a_query_from_the_backends_own_thread_is_refused_not_deadlocked() {
    let memory = MemoryBackend::new();
    let answer: Arc<Mutex<Option<viz::Result<Vec<Event>>>>> = Arc::default();
    let collector: Arc<Mutex<Option<Arc<Collector>>>> = Arc::default();
    let (slot, handle) = (answer.clone(), collector.clone());
    let c = Arc::new(
        Collector::builder()
            .subscriber(move |_: &[Event]| {
                if let Some(c) = handle.lock().as_ref() {
                    *slot.lock() = Some(c.get_events(0, 0, 10));
                }
            })
            .backend(memory.clone())
            .build_and_start()
            .unwrap(),
    );
    *collector.lock() = Some(c.clone());
    c.collect(Event::scalar("f/reenter", 0, 0.0).unwrap())
        .unwrap();
    c.flush(LONG).unwrap();
    let e = answer.lock().take().unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.message().contains("own delivery thread"), "{e}");
    // Break the Arc cycle so the collector can drop.
    collector.lock().take();
}

#[test]
fn flush_or_stop_from_a_delivery_thread_is_refused_not_deadlocked() {
    type Answers = Arc<Mutex<Vec<viz::Result<()>>>>;
    let answers: Answers = Arc::default();
    let collector: Arc<Mutex<Option<Arc<Collector>>>> = Arc::default();
    let (slot, handle) = (answers.clone(), collector.clone());
    let memory = MemoryBackend::new();
    let c = Arc::new(
        Collector::builder()
            .subscriber(move |_: &[Event]| {
                if let Some(c) = handle.lock().as_ref() {
                    slot.lock().push(c.flush(Duration::from_secs(60)));
                    slot.lock().push(c.stop(Duration::from_secs(60)));
                }
            })
            .backend(memory.clone())
            .build_and_start()
            .unwrap(),
    );
    *collector.lock() = Some(c.clone());
    c.collect(Event::scalar("f/reenter-flush", 0, 0.0).unwrap())
        .unwrap();
    c.flush(LONG).unwrap();
    let answers = answers.lock();
    assert_eq!(answers.len(), 2);
    for (what, answer) in ["flush", "stop"].iter().zip(answers.iter()) {
        let e = answer.as_ref().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(
            e.message().contains(&format!(
                "cannot {what} from subscriber#0's own delivery thread"
            )),
            "{e}"
        );
    }
    assert!(
        c.is_running(),
        "the refused stop did not stop the collector"
    );
    assert_eq!(memory.len(), 1);
    collector.lock().take();
}
