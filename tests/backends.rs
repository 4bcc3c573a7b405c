//! The memory backend and the buffered base.

mod common;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use viz::{
    BufferedSink, Clock, ErrorKind, Event, ManualClock, MemoryBackend, Result, StorageBackend,
    StorageBackendBase, StorageConfiguration, VizError,
};

fn scalars(steps: std::ops::Range<i64>) -> Vec<Event> {
    steps
        .map(|s| Event::scalar("b/x", s, s as f64).unwrap().at(1.0))
        .collect()
}

#[test]
fn memory_backend_answers_step_ranges_inclusively() {
    let mut m = MemoryBackend::new();
    m.initialize("memory://").unwrap();
    m.store_events(&scalars(0..100)).unwrap();
    let got = m.get_events(10, 19).unwrap();
    assert_eq!(
        got.iter().map(|e| e.step).collect::<Vec<_>>(),
        (10..=19).collect::<Vec<_>>()
    );
    assert_eq!(m.event_count(), 100);
    m.clear().unwrap();
    assert_eq!(m.event_count(), 0);
    assert!(m.get_events(i64::MIN, i64::MAX).unwrap().is_empty());
}

#[test]
fn memory_capacity_keeps_the_newest() {
    let mut m = MemoryBackend::with_capacity(Some(10)).unwrap();
    m.store_events(&scalars(0..7)).unwrap();
    m.store_events(&scalars(7..25)).unwrap();
    let steps: Vec<i64> = m.events().iter().map(|e| e.step).collect();
    assert_eq!(steps, (15..25).collect::<Vec<_>>());
    assert_eq!(m.evicted(), 15);
    assert_eq!(m.event_count(), 25);
}

#[test]
fn memory_backend_is_shared_across_threads() {
    let mut m = MemoryBackend::with_capacity(None).unwrap();
    let reader = m.clone();
    std::thread::scope(|s| {
        s.spawn(|| {
            for chunk in 0..100 {
                m.store_events(&scalars(chunk * 10..chunk * 10 + 10))
                    .unwrap();
            }
        });
        s.spawn(|| {
            for _ in 0..100 {
                let n = reader.get_events(0, i64::MAX).unwrap().len();
                assert_eq!(n % 10, 0, "a batch is stored atomically");
            }
        });
    });
    assert_eq!(reader.len(), 1000);
}

#[test]
fn uninitialized_memory_backend_refuses_writes() {
    let mut m = MemoryBackend::new();
    let e = m.store_events(&scalars(0..1)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed);
    assert!(
        e.message().contains("'memory' backend is not initialized"),
        "{e}"
    );
}

/// A sink recording each write and sync, failing while `fail` is set.
#[derive(Default, Clone)]
struct Sink {
    writes: Arc<Mutex<Vec<Vec<i64>>>>,
    syncs: Arc<Mutex<u32>>,
    fail: Arc<Mutex<bool>>,
    closed: Arc<Mutex<bool>>,
}

impl BufferedSink for Sink {
    fn type_name(&self) -> &str {
        "sink"
    }
    fn open(&mut self, _c: &StorageConfiguration) -> Result<()> {
        Ok(())
    }
    fn write_batch(&mut self, events: &[Event]) -> Result<()> {
        if *self.fail.lock() {
            return Err(VizError::backend("disk on fire"));
        }
        self.writes
            .lock()
            .push(events.iter().map(|e| e.step).collect());
        Ok(())
    }
    fn sync(&mut self) -> Result<()> {
        *self.syncs.lock() += 1;
        Ok(())
    }
    fn clear(&mut self) -> Result<()> {
        self.writes.lock().clear();
        Ok(())
    }
    fn close(&mut self) -> Result<()> {
        *self.closed.lock() = true;
        Ok(())
    }
}

fn base(sink: &Sink, clock: &Arc<ManualClock>, buffer: usize) -> StorageBackendBase<Sink> {
    let mut b = StorageBackendBase::with_clock(sink.clone(), clock.clone());
    b.initialize_with(&StorageConfiguration {
        backend_type: "sink".into(),
        write_buffer_size: buffer,
        ..Default::default()
    })
    .unwrap();
    b
}

#[test]
fn base_writes_when_the_buffer_reaches_its_size() {
    let (sink, clock) = (Sink::default(), Arc::new(ManualClock::new()));
    let mut b = base(&sink, &clock, 5);
    b.store_events(&scalars(0..4)).unwrap();
    assert!(sink.writes.lock().is_empty());
    assert_eq!(b.buffered(), 4);
    b.store_event(&scalars(4..5)[0]).unwrap();
    assert_eq!(*sink.writes.lock(), vec![vec![0, 1, 2, 3, 4]]);
    assert_eq!(b.event_count(), 5);
}

#[test]
fn base_writes_when_the_interval_passes() {
    let (sink, clock) = (Sink::default(), Arc::new(ManualClock::new()));
    let mut b = base(&sink, &clock, 100);
    b.store_events(&scalars(0..3)).unwrap();
    b.tick(clock.now()).unwrap();
    assert!(sink.writes.lock().is_empty(), "interval not yet passed");
    clock.advance(Duration::from_secs(1));
    b.tick(clock.now()).unwrap();
    assert_eq!(*sink.writes.lock(), vec![vec![0, 1, 2]]);
    assert_eq!(*sink.syncs.lock(), 1);
    // A store after the interval writes at once, even without a tick.
    clock.advance(Duration::from_secs(2));
    b.store_events(&scalars(3..4)).unwrap();
    assert_eq!(sink.writes.lock().len(), 2);
}

#[test]
fn base_flushes_on_drop_and_on_shutdown() {
    let (sink, clock) = (Sink::default(), Arc::new(ManualClock::new()));
    let mut b = base(&sink, &clock, 100);
    b.store_events(&scalars(0..3)).unwrap();
    drop(b);
    assert_eq!(*sink.writes.lock(), vec![vec![0, 1, 2]]);
    assert!(*sink.closed.lock());

    let sink = Sink::default();
    let mut b = base(&sink, &clock, 100);
    b.store_events(&scalars(0..2)).unwrap();
    b.shutdown().unwrap();
    assert!(!b.is_initialized());
    assert_eq!(*sink.writes.lock(), vec![vec![0, 1]]);
    assert_eq!(
        b.store_events(&scalars(0..1)).unwrap_err().kind(),
        ErrorKind::Closed
    );
}

#[test]
fn base_write_through_when_async_writes_are_off() {
    let (sink, clock) = (Sink::default(), Arc::new(ManualClock::new()));
    let mut b = StorageBackendBase::with_clock(sink.clone(), clock.clone());
    b.initialize_with(&StorageConfiguration {
        backend_type: "sink".into(),
        enable_async_writes: false,
        ..Default::default()
    })
    .unwrap();
    b.store_events(&scalars(0..1)).unwrap();
    b.store_events(&scalars(1..2)).unwrap();
    assert_eq!(*sink.writes.lock(), vec![vec![0], vec![1]]);
    assert_eq!(*sink.syncs.lock(), 2);
}

#[test]
fn base_store_is_atomic_when_the_sink_fails() {
    let (sink, clock) = (Sink::default(), Arc::new(ManualClock::new()));
    let mut b = base(&sink, &clock, 4);
    b.store_events(&scalars(0..2)).unwrap();
    *sink.fail.lock() = true;
    let e = b.store_events(&scalars(2..5)).unwrap_err();
    assert!(e.message().contains("disk on fire"));
    assert_eq!(
        b.buffered(),
        2,
        "the failed call's events are not kept; earlier ones are"
    );
    assert_eq!(b.event_count(), 2);
    *sink.fail.lock() = false;
    b.store_events(&scalars(2..5)).unwrap();
    assert_eq!(
        *sink.writes.lock(),
        vec![vec![0, 1, 2, 3, 4]],
        "no loss, no duplicate"
    );
}

#[test]
fn base_reads_see_buffered_events_and_report_unsupported_sinks() {
    let (sink, clock) = (Sink::default(), Arc::new(ManualClock::new()));
    let mut b = base(&sink, &clock, 100);
    b.store_events(&scalars(0..3)).unwrap();
    let e = b.get_events(0, 10).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(
        e.message()
            .contains("get_events is not supported by the 'sink' backend"),
        "{e}"
    );
}

#[test]
fn base_refuses_use_before_initialize() {
    let mut b = StorageBackendBase::new(Sink::default());
    assert!(!b.is_initialized());
    let e = b.store_events(&scalars(0..1)).unwrap_err();
    assert!(
        e.message().contains("'sink' backend is not initialized"),
        "{e}"
    );
    let e = b
        .initialize_with(&StorageConfiguration {
            write_buffer_size: 0,
            backend_type: "sink".into(),
            ..Default::default()
        })
        .unwrap_err();
    assert!(e.message().contains("write_buffer_size is 0"), "{e}");
}
