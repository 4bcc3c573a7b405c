//! The collector never stalls or starves: a flush completes while other threads keep
//! a slow backend saturated, a hung destination holds back neither the others nor
//! the producers, and large events meet the byte budget.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{Behaviour, LONG, ScriptedBackend, wait_until};
use parking_lot::Mutex;
use viz::{
    Collector, CollectorConfig, Event, MemoryBackend, OverflowPolicy, RawBytes, Result,
    StorageBackend, StorageConfiguration,
};

#[test]
fn a_flush_completes_while_another_thread_saturates_a_slow_backend() {
    let slow = ScriptedBackend::new(Behaviour::Slow(Duration::from_millis(2)));
    let c = Arc::new(
        Collector::builder()
            .config(CollectorConfig {
                batch_size: 100,
                buffer_capacity: 1000,
                max_queue_length: 1000,
                destination_queue_batches: 8,
                ..CollectorConfig::default()
            })
            .backend(slow.clone())
            .build_and_start()
            .unwrap(),
    );
    let running = Arc::new(AtomicBool::new(true));
    let producer = {
        let (c, running) = (c.clone(), running.clone());
        std::thread::spawn(move || {
            let tag = c.intern("load/x").unwrap();
            let mut step = 0;
            while running.load(Ordering::Relaxed) {
                let _ = c.collect_scalar(tag, step, 1.0);
                step += 1;
            }
        })
    };
    let mut collected = Vec::new();
    for i in 0..3 {
        std::thread::sleep(Duration::from_millis(100));
        c.collect(Event::text("load/marker", i, "before the flush").unwrap())
            .unwrap();
        c.flush(LONG).unwrap_or_else(|e| panic!("flush {i}: {e}"));
        let stored = slow.stored.lock();
        assert!(
            stored
                .iter()
                .any(|e| e.tag.as_str() == "load/marker" && e.step == i),
            "flush {i} returned before the marker collected ahead of it was stored"
        );
        drop(stored);
        collected.push(c.stats().collected);
    }
    running.store(false, Ordering::Relaxed);
    producer.join().unwrap();
    assert!(
        collected.windows(2).all(|w| w[1] > w[0]),
        "stats.collected froze: {collected:?}"
    );
}

#[test]
fn a_hung_destination_and_a_critical_event_hold_back_neither_others_nor_producers() {
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock();
    let mut hung = ScriptedBackend::new(Behaviour::Store);
    hung.gate = Some(gate.clone());
    let memory = MemoryBackend::new();
    let c = Arc::new(
        Collector::builder()
            .config(CollectorConfig {
                batch_size: 10,
                buffer_capacity: 100,
                max_queue_length: 100,
                destination_queue_batches: 4,
                destination_stall_timeout: Duration::from_millis(50),
                ..CollectorConfig::default()
            })
            .backend(hung.clone())
            .backend(memory.clone())
            .build_and_start()
            .unwrap(),
    );
    let done = Arc::new(AtomicBool::new(false));
    let producer = {
        let (c, done) = (c.clone(), done.clone());
        std::thread::spawn(move || {
            let tag = c.intern("hang/x").unwrap();
            for step in 0..2000 {
                if step == 500 {
                    c.collect(
                        Event::text("hang/alert", step, "critical")
                            .unwrap()
                            .critical(),
                    )
                    .unwrap();
                }
                c.collect_scalar(tag, step, step as f64).unwrap();
            }
            done.store(true, Ordering::Release);
        })
    };
    // Under the default Block policy the producer would wait on the hung backend
    // for ever; here it finishes, and the healthy destination receives everything.
    assert!(
        wait_until(LONG, || done.load(Ordering::Acquire)),
        "the producer is held back by the hung destination"
    );
    producer.join().unwrap();
    assert!(
        wait_until(LONG, || memory.len() == 2001),
        "memory:// got {} of 2001 events",
        memory.len()
    );
    let stats = c.stats();
    assert!(stats.destinations[0].dropped > 0, "{stats:?}");
    assert_eq!(stats.destinations[1].dropped, 0, "{stats:?}");
    // The critical event waits for the hung backend rather than being dropped:
    // release it, and it arrives.
    drop(held);
    assert!(
        wait_until(LONG, || hung
            .stored
            .lock()
            .iter()
            .any(|e| e.tag.as_str() == "hang/alert")),
        "the critical event never reached the released backend"
    );
    c.stop(LONG).unwrap();
}

/// Counts what it stores, slowly, without keeping the payloads.
#[derive(Clone, Default)]
struct SlowCounter {
    stored: Arc<AtomicU64>,
    open: bool,
}

impl StorageBackend for SlowCounter {
    fn type_name(&self) -> &str {
        "slowcounter"
    }
    fn initialize_with(&mut self, _: &StorageConfiguration) -> Result<()> {
        self.open = true;
        Ok(())
    }
    fn shutdown(&mut self) -> Result<()> {
        Ok(())
    }
    fn is_initialized(&self) -> bool {
        self.open
    }
    fn store_events(&mut self, events: &[Event]) -> Result<()> {
        std::thread::sleep(Duration::from_millis(5));
        self.stored
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
    fn event_count(&self) -> u64 {
        self.stored.load(Ordering::Relaxed)
    }
    fn clear(&mut self) -> Result<()> {
        Ok(())
    }
}

#[test]
fn large_events_meet_the_byte_budget_under_every_policy() {
    const BUDGET: u64 = 4 << 20;
    const N: u64 = 600;
    for policy in [
        OverflowPolicy::Block,
        OverflowPolicy::DropNewest,
        OverflowPolicy::DropOldest,
    ] {
        let backend = SlowCounter::default();
        let c = Arc::new(
            Collector::builder()
                .config(CollectorConfig {
                    batch_size: 10,
                    buffer_capacity: 1000,
                    max_queue_length: 10_000,
                    overflow: policy,
                    block_timeout: Some(Duration::from_secs(20)),
                    max_held_bytes: BUDGET,
                    destination_stall_timeout: Duration::from_secs(10),
                    ..CollectorConfig::default()
                })
                .backend(backend.clone())
                .build_and_start()
                .unwrap(),
        );
        let peak = Arc::new(AtomicU64::new(0));
        let saw_destination_queue = Arc::new(AtomicBool::new(false));
        let running = Arc::new(AtomicBool::new(true));
        let sampler = {
            let (c, peak, saw, running) = (
                c.clone(),
                peak.clone(),
                saw_destination_queue.clone(),
                running.clone(),
            );
            std::thread::spawn(move || {
                while running.load(Ordering::Relaxed) {
                    let s = c.stats();
                    peak.fetch_max(s.held_bytes, Ordering::Relaxed);
                    if s.destination_queued > 0
                        && c.pending_event_count() as u64 >= s.destination_queued
                    {
                        saw.store(true, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        let mut refused = 0u64;
        for step in 0..N as i64 {
            let raw = RawBytes::new("application/octet-stream", vec![7u8; 64 << 10]).unwrap();
            if c.collect(Event::raw("big/blob", step, raw).unwrap())
                .is_err()
            {
                refused += 1;
            }
        }
        c.flush(LONG).unwrap();
        running.store(false, Ordering::Relaxed);
        sampler.join().unwrap();
        let s = c.stats();
        let peak = peak.load(Ordering::Relaxed);
        assert!(
            peak <= BUDGET,
            "{policy:?}: held {peak} bytes, over the {BUDGET}-byte budget"
        );
        assert!(
            peak > BUDGET / 2,
            "{policy:?}: the budget never filled ({peak})"
        );
        assert!(
            saw_destination_queue.load(Ordering::Relaxed),
            "{policy:?}: stats never showed events waiting in the destination queue"
        );
        // Every event is accounted for: stored, or dropped and counted.
        let stored = backend.stored.load(Ordering::Relaxed);
        assert_eq!(s.written, stored, "{policy:?}");
        assert_eq!(
            stored + s.dropped() + s.destination_dropped,
            N,
            "{policy:?}: {s:?}"
        );
        assert_eq!(
            refused,
            s.dropped_newest + s.dropped_block_timeout,
            "{policy:?}"
        );
        match policy {
            OverflowPolicy::Block => assert_eq!(stored, N, "{policy:?}: {s:?}"),
            OverflowPolicy::DropNewest => assert!(s.dropped_newest > 0, "{s:?}"),
            OverflowPolicy::DropOldest => {
                assert!(s.dropped_oldest + s.dropped_newest > 0, "{s:?}")
            }
        }
        c.stop(LONG).unwrap();
        assert_eq!(c.stats().held_bytes, 0, "{policy:?}: bytes not given back");
    }
}

#[test]
fn an_event_larger_than_the_whole_budget_is_refused_by_name() {
    let c = Collector::builder()
        .config(CollectorConfig {
            max_held_bytes: 1 << 20,
            ..CollectorConfig::default()
        })
        .backend(MemoryBackend::new())
        .build_and_start()
        .unwrap();
    let raw = RawBytes::new("a/b", vec![0; 2 << 20]).unwrap();
    let e = c.collect(Event::raw("big", 0, raw).unwrap()).unwrap_err();
    assert!(
        e.message()
            .contains("more than the collector's whole byte budget"),
        "{e}"
    );
}

#[test]
fn a_timeout_too_long_for_the_clock_waits_instead_of_overflowing() {
    let c = Collector::builder()
        .backend(MemoryBackend::new())
        .build_and_start()
        .unwrap();
    c.collect(Event::scalar("t", 1, 1.0).unwrap()).unwrap();
    c.flush(Duration::MAX).unwrap();
    assert_eq!(c.get_events(0, 0, 5).unwrap().len(), 1);
    c.stop(Duration::MAX).unwrap();
}
