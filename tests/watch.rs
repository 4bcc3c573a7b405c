//! Live watch: subscribers added and cancelled while a collector runs see exactly the
//! delivered events their filter selects; a slow or panicking watcher never holds
//! back the backends; callbacks are released exactly once.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{LONG, wait_until};
use parking_lot::Mutex;
use viz::{
    Collector, CollectorConfig, ErrorKind, Event, EventKind, MemoryBackend, Query, StorageBackend,
    TagPattern,
};

fn collector(memory: &MemoryBackend, batch_size: usize) -> Collector {
    Collector::builder()
        .config(CollectorConfig {
            batch_size,
            ..CollectorConfig::default()
        })
        .backend(memory.clone())
        .build_and_start()
        .unwrap()
}

/// `(tag, step)` of each event a watcher saw.
type Seen = Arc<Mutex<Vec<(String, i64)>>>;

/// A callback that appends `(tag, step)` of what it sees.
fn recorder() -> (Seen, impl FnMut(&[Event]) + Send + 'static) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (seen, move |events: &[Event]| {
        sink.lock()
            .extend(events.iter().map(|e| (e.tag.as_str().to_owned(), e.step)));
    })
}

#[test]
fn watchers_see_what_their_filter_selects_and_nothing_after_cancel() {
    let memory = MemoryBackend::new();
    let c = collector(&memory, 10);
    let (train, on_train) = recorder();
    let (texts, on_text) = recorder();
    let train_sub = c
        .subscribe(Query::all().tag(TagPattern::glob("train/*")), on_train)
        .unwrap();
    let text_sub = c
        .subscribe(Query::all().kinds(&[EventKind::Text]), on_text)
        .unwrap();
    assert!(train_sub.is_active());
    for step in 0..50 {
        c.collect(Event::scalar("train/loss", step, 0.5).unwrap())
            .unwrap();
        c.collect(Event::scalar("eval/acc", step, 0.5).unwrap())
            .unwrap();
    }
    c.collect(Event::text("train/note", 7, "hello").unwrap())
        .unwrap();
    c.flush(LONG).unwrap();
    assert!(wait_until(LONG, || train.lock().len() == 51));
    assert!(wait_until(LONG, || texts.lock().len() == 1));
    let seen = train.lock().clone();
    assert!(
        seen.iter().all(|(tag, _)| tag.starts_with("train/")),
        "{seen:?}"
    );
    let loss_steps: Vec<i64> = seen
        .iter()
        .filter(|(t, _)| t == "train/loss")
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(loss_steps, (0..50).collect::<Vec<_>>(), "in delivery order");
    assert_eq!(texts.lock().as_slice(), &[("train/note".to_owned(), 7)]);
    assert_eq!(train_sub.delivered(), 51);
    assert_eq!(train_sub.dropped(), 0);

    train_sub.cancel();
    for step in 50..60 {
        c.collect(Event::scalar("train/loss", step, 0.5).unwrap())
            .unwrap();
    }
    c.collect(Event::text("train/note", 60, "after").unwrap())
        .unwrap();
    c.flush(LONG).unwrap();
    assert!(wait_until(LONG, || texts.lock().len() == 2));
    assert_eq!(train.lock().len(), 51, "a cancelled watcher is not called");
    assert!(text_sub.is_active());
    assert_eq!(memory.event_count(), 112, "the backend got everything");
}

#[test]
fn a_watcher_added_while_running_sees_later_batches_and_stop_hands_out_the_rest() {
    let memory = MemoryBackend::new();
    let c = collector(&memory, 5);
    for step in 0..20 {
        c.collect(Event::scalar("a", step, 1.0).unwrap()).unwrap();
    }
    c.flush(LONG).unwrap();
    let (seen, on_a) = recorder();
    let sub = c.subscribe(Query::all(), on_a).unwrap();
    for step in 20..40 {
        c.collect(Event::scalar("a", step, 1.0).unwrap()).unwrap();
    }
    // No flush: stop delivers what is queued, and watchers get it before stop returns.
    c.stop(LONG).unwrap();
    let steps: Vec<i64> = seen.lock().iter().map(|(_, s)| *s).collect();
    assert_eq!(steps, (20..40).collect::<Vec<_>>());
    assert_eq!(sub.delivered(), 20);
    let late = c.subscribe(Query::all(), |_: &[Event]| {}).unwrap_err();
    assert_eq!(late.kind(), ErrorKind::Closed, "{late}");
    assert!(late.message().contains("stopped"), "{late}");
}

#[test]
fn a_filter_with_order_or_limit_is_refused_by_name() {
    let c = collector(&MemoryBackend::new(), 10);
    let e = c
        .subscribe(Query::all().limit(3), |_: &[Event]| {})
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("no order, offset or limit"), "{e}");
}

#[test]
fn a_panicking_watcher_is_unsubscribed_and_reported_and_the_others_go_on() {
    let memory = MemoryBackend::new();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let r = reports.clone();
    let c = Collector::builder()
        .config(CollectorConfig {
            batch_size: 1,
            ..CollectorConfig::default()
        })
        .backend(memory.clone())
        .on_error(move |report| r.lock().push(report.clone()))
        .build_and_start()
        .unwrap();
    let bad = c
        .subscribe(Query::all(), |_: &[Event]| panic!("watcher bug"))
        .unwrap();
    let (seen, good) = recorder();
    let _good = c.subscribe(Query::all(), good).unwrap();
    for step in 0..10 {
        c.collect(Event::scalar("x", step, 1.0).unwrap()).unwrap();
    }
    c.flush(LONG).unwrap();
    assert!(wait_until(LONG, || seen.lock().len() == 10));
    assert!(!bad.is_active());
    let reports = reports.lock();
    let panic = reports
        .iter()
        .find(|r| r.destination.starts_with("watch#"))
        .expect("the panic is reported");
    assert_eq!(panic.error.kind(), ErrorKind::Panic);
    assert!(panic.error.message().contains("watcher bug"), "{panic:?}");
    assert_eq!(memory.event_count(), 10);
}

#[test]
fn a_blocked_watcher_costs_watchers_batches_never_the_backend() {
    let memory = MemoryBackend::new();
    let c = collector(&memory, 1);
    let (release_tx, release) = crossbeam_channel::bounded::<()>(0);
    let calls = Arc::new(AtomicUsize::new(0));
    let n = calls.clone();
    let sub = c
        .subscribe(Query::all(), move |_: &[Event]| {
            n.fetch_add(1, Ordering::SeqCst);
            let _ = release.recv();
        })
        .unwrap();
    for step in 0..2000 {
        c.collect(Event::scalar("x", step, 1.0).unwrap()).unwrap();
    }
    c.flush(LONG).unwrap();
    assert_eq!(memory.event_count(), 2000, "storage is not held back");
    assert!(
        sub.dropped() > 0,
        "the watch queue overflowed and counted it"
    );
    drop(release_tx);
    c.stop(LONG).unwrap();
    assert_eq!(
        sub.delivered() + sub.dropped(),
        2000,
        "every event was either handed to the watcher or counted as dropped"
    );
}

/// Counts how often it is dropped.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_callback_is_released_exactly_once_on_cancel_and_on_collector_drop() {
    let drops = Arc::new(AtomicUsize::new(0));
    let c = collector(&MemoryBackend::new(), 10);
    let guard = DropCounter(drops.clone());
    let sub = c
        .subscribe(Query::all(), move |_: &[Event]| {
            let _ = &guard;
        })
        .unwrap();
    drop(sub);
    assert!(wait_until(LONG, || drops.load(Ordering::SeqCst) == 1));

    let guard = DropCounter(drops.clone());
    let sub = c
        .subscribe(Query::all(), move |_: &[Event]| {
            let _ = &guard;
        })
        .unwrap();
    drop(c);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2,
        "released when the collector goes"
    );
    assert!(!sub.is_active());
    drop(sub);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(drops.load(Ordering::SeqCst), 2, "and never again");
}
