//! Every flush strategy, driven by a ManualClock so no assertion depends on timing.
//! "Nothing delivered yet" is checked only after the worker has provably run a
//! round that saw the events (they show up as staged) under the current clock.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Behaviour, LONG, ScriptedBackend, wait_until};
use viz::{Collector, CollectorConfig, FlushStrategy, ManualClock};

fn setup(
    strategy: FlushStrategy,
    batch: usize,
    buffer: usize,
) -> (Collector, ScriptedBackend, Arc<ManualClock>) {
    let backend = ScriptedBackend::new(Behaviour::Store);
    let clock = Arc::new(ManualClock::new());
    let c = Collector::builder()
        .config(CollectorConfig {
            strategy,
            batch_size: batch,
            buffer_capacity: buffer,
            flush_interval: Duration::from_secs(1),
            ..Default::default()
        })
        .clock(clock.clone())
        .backend(backend.clone())
        .build_and_start()
        .unwrap();
    (c, backend, clock)
}

fn collect(c: &Collector, steps: std::ops::Range<i64>) {
    let tag = c.intern("s/x").unwrap();
    for s in steps {
        c.collect_scalar(tag, s, s as f64).unwrap();
    }
}

fn staged(c: &Collector, n: u64) -> bool {
    wait_until(LONG, || c.stats().staged == n)
}

#[test]
fn size_based_delivers_at_batch_size_and_not_before() {
    let (c, backend, clock) = setup(FlushStrategy::SizeBased, 10, 100);
    collect(&c, 0..9);
    assert!(staged(&c, 9));
    clock.advance(Duration::from_secs(60));
    collect(&c, 9..9);
    assert_eq!(backend.len(), 0, "size-based ignores time");
    collect(&c, 9..10);
    assert!(wait_until(LONG, || backend.len() == 10));
    assert_eq!(c.stats().staged, 0);
    assert_eq!(
        backend.flushes.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "size deliveries do not flush backends"
    );
    collect(&c, 10..25);
    assert!(wait_until(LONG, || backend.len() == 20));
    assert!(staged(&c, 5));
}

#[test]
fn time_based_delivers_and_flushes_on_the_interval() {
    let (c, backend, clock) = setup(FlushStrategy::TimeBased, 10, 100);
    collect(&c, 0..50);
    assert!(staged(&c, 50));
    assert_eq!(
        backend.len(),
        0,
        "batch size does not trigger time-based delivery"
    );
    clock.advance(Duration::from_millis(1000));
    assert!(wait_until(LONG, || backend.len() == 50));
    assert!(wait_until(LONG, || backend
        .flushes
        .load(std::sync::atomic::Ordering::SeqCst)
        >= 1));
    // Batches are at most batch_size.
    assert!(backend.calls.load(std::sync::atomic::Ordering::SeqCst) >= 5);
}

#[test]
fn time_based_delivers_a_full_buffer_early() {
    let (c, backend, _clock) = setup(FlushStrategy::TimeBased, 10, 20);
    collect(&c, 0..45);
    assert!(
        wait_until(LONG, || backend.len() >= 40),
        "two full buffers went out without the clock moving"
    );
    assert_eq!(c.stats().dropped(), 0);
}

#[test]
fn hybrid_delivers_on_size_and_on_time() {
    let (c, backend, clock) = setup(FlushStrategy::Hybrid, 10, 100);
    collect(&c, 0..15);
    assert!(wait_until(LONG, || backend.len() == 10));
    assert!(staged(&c, 5));
    clock.advance(Duration::from_secs(1));
    assert!(wait_until(LONG, || backend.len() == 15));
    assert!(wait_until(LONG, || backend
        .flushes
        .load(std::sync::atomic::Ordering::SeqCst)
        >= 1));
}

#[test]
fn manual_delivers_only_on_flush() {
    let (c, backend, clock) = setup(FlushStrategy::Manual, 10, 100);
    collect(&c, 0..50);
    assert!(staged(&c, 50));
    clock.advance(Duration::from_secs(60));
    collect(&c, 50..51);
    assert!(
        staged(&c, 51),
        "the worker ran a round after the clock moved"
    );
    assert_eq!(backend.len(), 0);
    c.flush(LONG).unwrap();
    assert_eq!(backend.len(), 51);
    assert_eq!(backend.flushes.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn a_critical_event_triggers_an_early_flush() {
    let (c, backend, _clock) = setup(FlushStrategy::Manual, 10, 100);
    collect(&c, 0..5);
    c.collect(
        viz::Event::text("s/alert", 5, "loss is NaN")
            .unwrap()
            .critical(),
    )
    .unwrap();
    assert!(wait_until(LONG, || backend.len() == 6));
    assert!(wait_until(LONG, || backend
        .flushes
        .load(std::sync::atomic::Ordering::SeqCst)
        >= 1));
    let steps: Vec<i64> = backend.stored.lock().iter().map(|e| e.step).collect();
    assert_eq!(steps, vec![0, 1, 2, 3, 4, 5]);
}
