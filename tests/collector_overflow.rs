//! Buffer bounds and every overflow policy. A collector that is built but not
//! started has no worker draining its queue, which makes "full" deterministic.

mod common;

use std::time::Duration;

use common::{LONG, values, wait_until};
use viz::{
    Collector, CollectorConfig, ErrorKind, Event, FlushStrategy, MemoryBackend, OverflowPolicy,
};

fn collector(policy: OverflowPolicy, queue: usize, memory: &MemoryBackend) -> Collector {
    Collector::builder()
        .config(CollectorConfig {
            max_queue_length: queue,
            overflow: policy,
            ..Default::default()
        })
        .backend(memory.clone())
        .build()
        .unwrap()
}

#[test]
fn drop_newest_rejects_and_counts_only_the_overflow() {
    let memory = MemoryBackend::new();
    let c = collector(OverflowPolicy::DropNewest, 4, &memory);
    let tag = c.intern("o/newest").unwrap();
    for step in 0..4 {
        c.collect_scalar(tag, step, step as f64).unwrap();
    }
    for step in 4..7 {
        let e = c.collect_scalar(tag, step, step as f64).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::QueueFull);
        assert!(e.message().contains("drop_newest"), "{e}");
    }
    let s = c.stats();
    assert_eq!(
        (s.dropped_newest, s.dropped_oldest, s.dropped_block_timeout),
        (3, 0, 0)
    );
    assert_eq!(s.queued, 4);
    assert_eq!(s.peak_queue_len, 4);
    c.start().unwrap();
    c.flush(LONG).unwrap();
    assert_eq!(values(&memory.events()), vec![0.0, 1.0, 2.0, 3.0]);
}

#[test]
fn drop_oldest_keeps_the_newest_in_order() {
    let memory = MemoryBackend::new();
    let c = collector(OverflowPolicy::DropOldest, 4, &memory);
    let tag = c.intern("o/oldest").unwrap();
    for step in 0..10 {
        c.collect_scalar(tag, step, step as f64).unwrap();
    }
    let s = c.stats();
    assert_eq!((s.dropped_oldest, s.dropped_newest), (6, 0));
    assert_eq!(s.dropped(), 6);
    c.start().unwrap();
    c.flush(LONG).unwrap();
    assert_eq!(values(&memory.events()), vec![6.0, 7.0, 8.0, 9.0]);
}

#[test]
fn drop_oldest_never_drops_a_critical_event() {
    let memory = MemoryBackend::new();
    let c = collector(OverflowPolicy::DropOldest, 2, &memory);
    c.collect(Event::scalar("o/crit", 0, 100.0).unwrap().critical())
        .unwrap();
    let tag = c.intern("o/crit").unwrap();
    for step in 1..5 {
        c.collect_scalar(tag, step, step as f64).unwrap();
    }
    let s = c.stats();
    assert_eq!(s.rescued_critical, 1);
    assert_eq!(s.dropped_oldest, 2, "steps 1 and 2 were displaced");
    c.start().unwrap();
    c.flush(LONG).unwrap();
    assert_eq!(
        values(&memory.events()),
        vec![100.0, 3.0, 4.0],
        "the critical event kept its place"
    );
}

#[test]
fn block_on_an_unstarted_full_queue_fails_instead_of_hanging() {
    let memory = MemoryBackend::new();
    let c = collector(OverflowPolicy::Block, 2, &memory);
    let tag = c.intern("o/block-unstarted").unwrap();
    c.collect_scalar(tag, 0, 0.0).unwrap();
    c.collect_scalar(tag, 1, 1.0).unwrap();
    let e = c.collect_scalar(tag, 2, 2.0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::QueueFull);
    assert!(e.message().contains("not started"), "{e}");
}

/// Manual strategy, staging of 2, queue of 2: after four events the worker can take
/// no more until someone flushes, so the fifth meets a full queue.
fn stalled(
    policy: OverflowPolicy,
    block_timeout: Option<Duration>,
    memory: &MemoryBackend,
) -> (Collector, viz::TagId) {
    let c = Collector::builder()
        .config(CollectorConfig {
            strategy: FlushStrategy::Manual,
            buffer_capacity: 2,
            batch_size: 1,
            max_queue_length: 2,
            overflow: policy,
            block_timeout,
            ..Default::default()
        })
        .backend(memory.clone())
        .build_and_start()
        .unwrap();
    let tag = c.intern("o/stalled").unwrap();
    for step in 0..2 {
        c.collect_scalar(tag, step, step as f64).unwrap();
    }
    assert!(wait_until(LONG, || c.stats().staged == 2));
    for step in 2..4 {
        c.collect_scalar(tag, step, step as f64).unwrap();
    }
    assert!(wait_until(LONG, || {
        let s = c.stats();
        s.staged == 2 && s.queued == 2
    }));
    (c, tag)
}

#[test]
fn block_with_timeout_drops_and_counts_after_waiting() {
    let memory = MemoryBackend::new();
    let (c, tag) = stalled(
        OverflowPolicy::Block,
        Some(Duration::from_millis(30)),
        &memory,
    );
    let e = c.collect_scalar(tag, 4, 4.0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::QueueFull);
    assert!(e.message().contains("block_timeout"), "{e}");
    assert_eq!(c.stats().dropped_block_timeout, 1);
    assert_eq!(c.pending_event_count(), 4);
    c.flush(LONG).unwrap();
    assert_eq!(values(&memory.events()), vec![0.0, 1.0, 2.0, 3.0]);
}

#[test]
fn block_without_timeout_waits_until_room_is_made() {
    let memory = MemoryBackend::new();
    std::thread::scope(|s| {
        // The queue is per producing thread, so the thread that fills it is the one
        // that blocks.
        let (tx, rx) = std::sync::mpsc::channel();
        let memory = &memory;
        let producer = s.spawn(move || {
            let (c, tag) = stalled(OverflowPolicy::Block, None, memory);
            let c = std::sync::Arc::new(c);
            tx.send(c.clone()).unwrap();
            c.collect_scalar(tag, 4, 4.0).unwrap();
            c
        });
        let c = rx.recv().unwrap();
        // The producer stays blocked while nothing drains...
        assert!(!wait_until(Duration::from_millis(100), || producer.is_finished()));
        assert_eq!(c.stats().queued, 2);
        // ...and goes through once a flush makes room.
        c.flush(LONG).unwrap();
        drop(producer.join().unwrap());
        c.flush(LONG).unwrap();
        assert_eq!(values(&memory.events()), vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(c.stats().dropped(), 0);
    });
}

#[test]
fn each_producing_thread_has_its_own_queue() {
    let memory = MemoryBackend::new();
    let c = collector(OverflowPolicy::DropNewest, 3, &memory);
    std::thread::scope(|s| {
        for p in 0..4 {
            let c = &c;
            s.spawn(move || {
                let tag = c.intern("o/lanes").unwrap();
                for step in 0..5 {
                    let r = c.collect_scalar(tag, p * 10 + step, 0.0);
                    assert_eq!(r.is_ok(), step < 3, "thread {p} step {step}");
                }
            });
        }
    });
    let s = c.stats();
    assert_eq!((s.queued, s.dropped_newest), (12, 8));
    c.start().unwrap();
    c.flush(LONG).unwrap();
    assert_eq!(memory.len(), 12);
}

#[test]
fn a_critical_event_gets_through_a_stalled_queue() {
    let memory = MemoryBackend::new();
    let (c, _tag) = stalled(OverflowPolicy::DropNewest, None, &memory);
    c.collect(Event::scalar("o/stalled", 4, 4.0).unwrap().critical())
        .unwrap();
    // Delivered (and flushed) without anyone calling flush.
    assert!(wait_until(LONG, || memory.len() == 5));
    assert_eq!(values(&memory.events()), vec![0.0, 1.0, 2.0, 3.0, 4.0]);
    assert_eq!(c.stats().dropped(), 0);
}

#[test]
fn staging_never_exceeds_buffer_capacity() {
    let memory = MemoryBackend::new();
    let (c, _tag) = stalled(OverflowPolicy::DropNewest, None, &memory);
    std::thread::sleep(Duration::from_millis(20));
    let s = c.stats();
    assert_eq!(s.staged, 2);
    assert_eq!(s.queued, 2);
    assert!(memory.is_empty(), "manual strategy delivered nothing");
}

#[test]
fn lanes_of_exited_threads_are_retired() {
    let memory = MemoryBackend::new();
    let c = Collector::builder()
        .backend(memory.clone())
        .build_and_start()
        .unwrap();
    for t in 0..20i64 {
        let c = &c;
        std::thread::scope(|s| {
            s.spawn(move || {
                let tag = c.intern("o/retire").unwrap();
                for i in 0..10 {
                    c.collect_scalar(tag, t * 10 + i, 0.0).unwrap();
                }
            });
        });
    }
    c.flush(LONG).unwrap();
    assert_eq!(memory.len(), 200);
    // Only the shared fallback lane remains once the worker has idled.
    assert!(
        wait_until(LONG, || c.stats().producer_lanes == 1),
        "{:?}",
        c.stats()
    );
}

/// `max_held_events` bounds the whole collector: with a slow backend, a producer's
/// lane, staging and the backend's queue together never hold more (each stage
/// bounded on its own let about three times the setting wait), and every
/// collected event is written or counted as dropped.
#[test]
fn max_held_events_bounds_the_whole_collector() {
    for policy in [
        OverflowPolicy::DropOldest,
        OverflowPolicy::DropNewest,
        OverflowPolicy::Block,
    ] {
        let slow = common::ScriptedBackend::new(common::Behaviour::Slow(Duration::from_millis(5)));
        let c = Collector::builder()
            .config(CollectorConfig {
                max_queue_length: 1000,
                buffer_capacity: 1000,
                batch_size: 100,
                destination_queue_batches: 10,
                max_held_events: 1000,
                overflow: policy,
                block_timeout: Some(Duration::from_millis(50)),
                ..Default::default()
            })
            .backend(slow.clone())
            .build()
            .unwrap();
        c.start().unwrap();
        let tag = c.intern("o/bounded").unwrap();
        let mut most = 0;
        let mut refused = 0u64;
        const N: i64 = 20_000;
        for step in 0..N {
            match c.collect_scalar(tag, step, step as f64) {
                Ok(()) => {}
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::QueueFull, "{policy:?}: {e}");
                    assert!(
                        e.message().contains("max_held_events 1000"),
                        "{policy:?}: {e}"
                    );
                    refused += 1;
                }
            }
            if step % 97 == 0 {
                most = most.max(c.stats().held_events);
            }
        }
        assert!(most <= 1000, "{policy:?}: {most} events held at once");
        c.stop(LONG).unwrap();
        let s = c.stats();
        assert_eq!(s.held_events, 0, "{policy:?}: everything given back");
        assert_eq!(
            slow.len() as u64 + s.dropped(),
            N as u64,
            "{policy:?}: written + dropped = collected ({s:?})"
        );
        assert_eq!(
            s.dropped_newest + s.dropped_block_timeout,
            refused,
            "{policy:?}"
        );
        // The producer outruns the backend, so the bound is reached, and it holds.
        assert!(
            most >= 900,
            "{policy:?}: at most {most} held; the bound never bit"
        );
        if policy != OverflowPolicy::Block {
            assert!(s.dropped() > 0, "{policy:?}: the bound dropped events");
        }
    }
}

#[test]
fn max_held_events_smaller_than_a_batch_is_refused() {
    let e = Collector::builder()
        .config(CollectorConfig {
            batch_size: 100,
            max_held_events: 50,
            ..Default::default()
        })
        .build()
        .err()
        .expect("refused");
    assert!(
        e.message()
            .contains("max_held_events is 50 but batch_size is 100"),
        "{e}"
    );
}
