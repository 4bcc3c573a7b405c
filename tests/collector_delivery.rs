//! What the collector promises about delivery: nothing lost or duplicated, each
//! producer's order kept, flush means delivered-and-flushed, shutdown drains.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Behaviour, LONG, ScriptedBackend, values, wait_until};
use parking_lot::Mutex;
use viz::{
    Collector, CollectorConfig, ErrorKind, Event, EventKind, FlushStrategy, ManualClock,
    MemoryBackend, Route,
};

#[test]
fn four_producers_lose_nothing_duplicate_nothing_and_keep_order() {
    const PER_PRODUCER: i64 = 100_000;
    let memory = MemoryBackend::new();
    let c = Collector::builder()
        .backend(memory.clone())
        .build_and_start()
        .unwrap();
    std::thread::scope(|s| {
        for p in 0..4 {
            let c = &c;
            s.spawn(move || {
                let tag = c.intern(&format!("producer/{p}")).unwrap();
                for i in 0..PER_PRODUCER {
                    c.collect_scalar(tag, i, (p * PER_PRODUCER + i) as f64)
                        .unwrap();
                }
            });
        }
    });
    c.flush(LONG).unwrap();
    let events = memory.events();
    assert_eq!(events.len(), 4 * PER_PRODUCER as usize);
    for p in 0..4 {
        let tag = format!("producer/{p}");
        let steps: Vec<i64> = events
            .iter()
            .filter(|e| e.tag.as_str() == tag)
            .map(|e| e.step)
            .collect();
        assert_eq!(
            steps.len(),
            PER_PRODUCER as usize,
            "{tag}: lost or duplicated"
        );
        assert!(
            steps.iter().copied().eq(0..PER_PRODUCER),
            "{tag}: order not kept"
        );
    }
    let s = c.stats();
    assert_eq!((s.collected, s.written, s.dropped()), (400_000, 400_000, 0));
}

#[test]
fn flush_returns_after_everything_before_it_is_stored_and_flushed() {
    let backend = ScriptedBackend::new(Behaviour::Store);
    let c = Collector::builder()
        .strategy(FlushStrategy::Manual)
        .backend(backend.clone())
        .build_and_start()
        .unwrap();
    let tag = c.intern("d/flush").unwrap();
    for round in 0..20i64 {
        for i in 0..(round * 37) {
            c.collect_scalar(tag, round * 1000 + i, 0.0).unwrap();
        }
        let flushes_before = backend.flushes.load(Ordering::SeqCst);
        c.flush(LONG).unwrap();
        let expected: i64 = (0..=round).map(|r| r * 37).sum();
        assert_eq!(backend.len() as i64, expected, "round {round}");
        assert!(backend.flushes.load(Ordering::SeqCst) > flushes_before);
    }
}

#[test]
fn flush_from_many_threads_sees_each_threads_own_events() {
    let memory = MemoryBackend::new();
    let c = Collector::builder()
        .strategy(FlushStrategy::Manual)
        .backend(memory.clone())
        .build_and_start()
        .unwrap();
    std::thread::scope(|s| {
        for p in 0..4 {
            let (c, memory) = (&c, &memory);
            s.spawn(move || {
                let tag = c.intern(&format!("d/many/{p}")).unwrap();
                for round in 0..10 {
                    c.collect_scalar(tag, round, 0.0).unwrap();
                    c.flush(LONG).unwrap();
                    let mine = memory.events().iter().filter(|e| e.tag.id() == tag).count();
                    assert_eq!(mine as i64, round + 1);
                }
            });
        }
    });
}

#[test]
fn flush_reports_a_timeout_as_such() {
    let gate = Arc::new(Mutex::new(()));
    let mut backend = ScriptedBackend::new(Behaviour::Store);
    backend.gate = Some(gate.clone());
    let c = Collector::builder()
        .backend(backend.clone())
        .build_and_start()
        .unwrap();
    let held = gate.lock();
    c.collect(Event::scalar("d/timeout", 0, 0.0).unwrap())
        .unwrap();
    let e = c.flush(Duration::from_millis(50)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.message().contains("0 of 1 destinations answered"), "{e}");
    drop(held);
    c.flush(LONG).unwrap();
    assert_eq!(backend.len(), 1);
}

#[test]
fn stop_drains_everything_and_shuts_backends_down() {
    let backend = ScriptedBackend::new(Behaviour::Store);
    let clock = Arc::new(ManualClock::new());
    let c = Collector::builder()
        .strategy(FlushStrategy::Manual)
        .clock(clock)
        .backend(backend.clone())
        .build_and_start()
        .unwrap();
    let tag = c.intern("d/stop").unwrap();
    for i in 0..10_000 {
        c.collect_scalar(tag, i, 0.0).unwrap();
    }
    c.stop(LONG).unwrap();
    assert_eq!(backend.len(), 10_000);
    assert_eq!(backend.shutdowns.load(Ordering::SeqCst), 1);
    assert!(!c.is_running());
    let e = c.collect_scalar(tag, 0, 0.0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed);
    c.stop(LONG).unwrap();
    assert_eq!(c.start().unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(c.flush(LONG).unwrap_err().kind(), ErrorKind::Closed);
}

#[test]
fn dropping_the_collector_flushes() {
    let backend = ScriptedBackend::new(Behaviour::Store);
    {
        let c = Collector::builder()
            .strategy(FlushStrategy::Manual)
            .backend(backend.clone())
            .build_and_start()
            .unwrap();
        for i in 0..1234 {
            c.collect(Event::scalar("d/drop", i, 0.0).unwrap()).unwrap();
        }
    }
    assert_eq!(backend.len(), 1234);
    assert_eq!(backend.shutdowns.load(Ordering::SeqCst), 1);
}

#[test]
fn stopping_an_unstarted_collector_still_delivers() {
    let memory = MemoryBackend::new();
    let c = Collector::builder()
        .backend(memory.clone())
        .build()
        .unwrap();
    assert!(!c.is_running());
    c.collect(Event::scalar("d/unstarted", 0, 1.0).unwrap())
        .unwrap();
    assert_eq!(c.pending_event_count(), 1);
    c.stop(LONG).unwrap();
    assert_eq!(memory.len(), 1);
}

#[test]
fn stop_does_not_wait_for_the_flush_interval() {
    // Time-free: the clock is frozen and the interval is a minute, so a stop that
    // waited for the next interval would never get there and would report Timeout.
    let memory = MemoryBackend::new();
    let c = Collector::builder()
        .flush_interval(Duration::from_secs(60))
        .clock(Arc::new(ManualClock::new()))
        .backend(memory.clone())
        .build_and_start()
        .unwrap();
    c.collect(Event::scalar("d/prompt", 0, 0.0).unwrap())
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    c.stop(Duration::from_secs(5)).unwrap();
    assert_eq!(memory.len(), 1);
}

#[test]
fn routes_select_by_kind_and_tag_prefix() {
    let (all, scalars, train) = (
        MemoryBackend::new(),
        MemoryBackend::new(),
        MemoryBackend::new(),
    );
    let c = Collector::builder()
        .backend(all.clone())
        .backend(scalars.clone())
        .route(Route::kinds(&[EventKind::Scalar]))
        .backend(train.clone())
        .route(Route::all().tag_prefix("train/").tag_prefix("opt/"))
        .build_and_start()
        .unwrap();
    c.collect(Event::scalar("train/loss", 0, 1.0).unwrap())
        .unwrap();
    c.collect(Event::scalar("eval/loss", 0, 2.0).unwrap())
        .unwrap();
    c.collect(Event::text("train/note", 0, "hi").unwrap())
        .unwrap();
    c.collect(Event::text("opt/lr", 0, "1e-3").unwrap())
        .unwrap();
    c.flush(LONG).unwrap();
    let tags = |m: &MemoryBackend| {
        m.events()
            .iter()
            .map(|e| e.tag.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        tags(&all),
        vec!["train/loss", "eval/loss", "train/note", "opt/lr"]
    );
    assert_eq!(tags(&scalars), vec!["train/loss", "eval/loss"]);
    assert_eq!(tags(&train), vec!["train/loss", "train/note", "opt/lr"]);
}

#[test]
fn subscribers_receive_batches() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let c = Collector::with_subscribers(
        vec![Box::new(move |events: &[Event]| {
            sink.lock().extend(events.iter().map(|e| e.step))
        })],
        CollectorConfig::default(),
    )
    .unwrap();
    c.start().unwrap();
    for i in 0..500 {
        c.collect(Event::scalar("d/sub", i, 0.0).unwrap()).unwrap();
    }
    c.flush(LONG).unwrap();
    assert!(seen.lock().iter().copied().eq(0..500));
}

#[test]
fn the_seed_constructor_with_one_backend() {
    let memory = MemoryBackend::new();
    let c = Collector::with_backend(memory.clone(), CollectorConfig::default()).unwrap();
    assert!(!c.is_running());
    c.start().unwrap();
    assert!(c.is_running());
    c.collect(Event::scalar("d/seed", 0, 0.0).unwrap()).unwrap();
    c.flush(LONG).unwrap();
    assert_eq!(memory.len(), 1);
}

#[test]
fn wall_time_is_stamped_when_missing_and_kept_when_given() {
    let memory = MemoryBackend::new();
    let c = Collector::builder()
        .backend(memory.clone())
        .build_and_start()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let tag = c.intern("d/wall").unwrap();
    c.collect_scalar(tag, 0, 0.0).unwrap();
    c.collect(Event::text("d/wall", 1, "x").unwrap()).unwrap();
    c.collect(Event::scalar("d/wall", 2, 0.0).unwrap().at(1234.5))
        .unwrap();
    c.collect_scalar_at(tag, 3, 0.0, 99.0).unwrap();
    c.flush(LONG).unwrap();
    let walls: Vec<f64> = memory
        .events()
        .iter()
        .map(|e| e.wall_time.unwrap())
        .collect();
    assert!(
        (walls[0] - now).abs() < 60.0 && (walls[1] - now).abs() < 60.0,
        "{walls:?} vs {now}"
    );
    assert_eq!(&walls[2..], &[1234.5, 99.0]);
}

#[test]
fn invalid_events_are_rejected_before_queueing() {
    let memory = MemoryBackend::new();
    let c = Collector::builder()
        .backend(memory.clone())
        .build_and_start()
        .unwrap();
    let e = c
        .collect(Event::scalar("d/bad", 0, 0.0).unwrap().at(-1.0))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(c.stats().collected, 0);
}

#[test]
fn backends_are_queryable_through_the_collector() {
    let memory = MemoryBackend::new();
    let c = Collector::builder()
        .backend(memory.clone())
        .subscriber(|_: &[Event]| {})
        .build_and_start()
        .unwrap();
    let tag = c.intern("d/query").unwrap();
    for i in 0..100 {
        c.collect_scalar(tag, i, i as f64).unwrap();
    }
    c.flush(LONG).unwrap();
    let got = c.get_events(0, 40, 44).unwrap();
    assert_eq!(values(&got), vec![40.0, 41.0, 42.0, 43.0, 44.0]);
    assert_eq!(c.query_backend(0, LONG, |b| b.event_count()).unwrap(), 100);
    let e = c.get_events(1, 0, 10).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.message().contains("'subscriber' backend"), "{e}");
    let e = c.get_events(7, 0, 10).unwrap_err();
    assert!(
        e.message()
            .contains("index 7 is out of range; the collector has 2"),
        "{e}"
    );
}

#[test]
fn a_collector_needs_a_destination() {
    let e = Collector::builder().build().err().unwrap();
    assert!(e.message().contains("no destination"), "{e}");
    let e = Collector::builder()
        .backend_url("nope://")
        .build()
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::UnknownBackendType);
    assert!(e.message().starts_with("destination 0"), "{e}");
    let e = Collector::builder()
        .backend_url("memory://")
        .backend_url("memory://")
        .route(Route::kinds(&[]))
        .build()
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    assert!(
        e.message()
            .contains("destination 1 has a route that accepts no event kind"),
        "{e}"
    );
}

#[test]
fn stats_count_deliveries_and_flushes() {
    let memory = MemoryBackend::new();
    let c = Collector::builder()
        .batch_size(10)
        .backend(memory.clone())
        .build_and_start()
        .unwrap();
    let tag = c.intern("d/stats").unwrap();
    for i in 0..100 {
        c.collect_scalar(tag, i, 0.0).unwrap();
    }
    c.flush(LONG).unwrap();
    let s = c.stats();
    assert_eq!(s.collected, 100);
    assert_eq!(s.written, 100);
    assert!(s.deliveries >= 10);
    assert!(s.flushes >= 1);
    assert_eq!(s.destinations[0].name, "memory#0");
    assert_eq!(s.destinations[0].written, 100);
    assert!(s.peak_queue_len >= 1);
    assert_eq!(s.last_error, None);
    assert!(wait_until(LONG, || c.pending_event_count() == 0));
}

#[test]
fn the_collector_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Collector>();
}

#[test]
fn events_racing_stop_are_delivered_rejected_or_counted_never_silently_lost() {
    for _ in 0..20 {
        let memory = MemoryBackend::new();
        let c = Collector::builder()
            .backend(memory.clone())
            .build_and_start()
            .unwrap();
        let accepted = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                let tag = c.intern("d/race").unwrap();
                let mut step = 0;
                while c.collect_scalar(tag, step, 0.0).is_ok() {
                    accepted.fetch_add(1, Ordering::Relaxed);
                    step += 1;
                }
            });
            std::thread::sleep(Duration::from_millis(2));
            c.stop(LONG).unwrap_or(());
        });
        let s = c.stats();
        assert_eq!(
            accepted.into_inner(),
            memory.len() as u64 + s.lost_at_stop,
            "every accepted event was delivered or counted"
        );
    }
}
