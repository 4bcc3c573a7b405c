//! Following a file:// log another writer appends to: every record once, in order,
//! from any offset, across segment rolls, while the writer runs.

mod common;

use common::{open_log, temp_dir};
use viz::format::vizlog::Tail;
use viz::{Event, StorageBackend};

fn scalars(steps: std::ops::Range<i64>) -> Vec<Event> {
    steps
        .map(|s| Event::scalar("t/x", s, s as f64).unwrap())
        .collect()
}

/// Everything the tail hands out until it has nothing new, `page` at a time.
fn drain(tail: &mut Tail, page: usize) -> Vec<i64> {
    let mut steps = Vec::new();
    loop {
        let read = tail.next(page).unwrap();
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        assert!(read.events.len() <= page);
        if read.events.is_empty() {
            return steps;
        }
        steps.extend(read.events.iter().map(|e| e.step));
    }
}

#[test]
fn a_tail_reads_from_any_offset_across_rolls_and_picks_up_new_records() {
    let dir = temp_dir("tail", "offsets");
    let mut log = open_log(&format!("file://{}?segment_max_bytes=1024", dir.display()));
    for chunk in scalars(0..100).chunks(10) {
        log.store_events(chunk).unwrap();
    }
    log.flush().unwrap();
    assert!(common::segments(&dir).len() > 3, "several segments");

    let mut from_start = Tail::from_offset(&dir, 0).unwrap();
    assert_eq!(drain(&mut from_start, 7), (0..100).collect::<Vec<_>>());
    assert_eq!(from_start.offset(), 100);
    let mut from_37 = Tail::from_offset(&dir, 37).unwrap();
    assert_eq!(from_37.offset(), 37);
    assert_eq!(drain(&mut from_37, 1000), (37..100).collect::<Vec<_>>());
    let mut from_end = Tail::from_end(&dir).unwrap();
    assert_eq!(from_end.offset(), 100);
    assert!(from_end.next(10).unwrap().events.is_empty());

    for chunk in scalars(100..150).chunks(10) {
        log.store_events(chunk).unwrap();
    }
    log.flush().unwrap();
    for tail in [&mut from_start, &mut from_37, &mut from_end] {
        assert_eq!(drain(tail, 9), (100..150).collect::<Vec<_>>());
        assert_eq!(tail.offset(), 150);
    }
    log.shutdown().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_tail_started_on_an_empty_log_sees_the_first_segment_when_it_appears() {
    let dir = temp_dir("tail", "empty");
    std::fs::create_dir_all(&dir).unwrap();
    let mut tail = Tail::from_end(&dir).unwrap();
    assert!(tail.next(10).unwrap().events.is_empty());
    let mut log = open_log(&format!("file://{}", dir.display()));
    log.store_events(&scalars(0..5)).unwrap();
    log.flush().unwrap();
    assert_eq!(drain(&mut tail, 2), (0..5).collect::<Vec<_>>());
    log.shutdown().unwrap();
    assert!(Tail::from_offset(dir.join("nope"), 0).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_tail_following_a_running_writer_misses_nothing_and_repeats_nothing() {
    let dir = temp_dir("tail", "live");
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!(
        "file://{}?segment_max_bytes=8192&fsync=never",
        dir.display()
    );
    let writer = std::thread::spawn(move || {
        let mut log = open_log(&url);
        for (i, chunk) in scalars(0..20_000).chunks(37).enumerate() {
            log.store_events(chunk).unwrap();
            if i % 5 == 0 {
                log.flush().unwrap();
            }
        }
        log.shutdown().unwrap();
    });
    let mut tail = Tail::from_offset(&dir, 0).unwrap();
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + common::LONG;
    while seen.len() < 20_000 && std::time::Instant::now() < deadline {
        let read = tail.next(500).unwrap();
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        seen.extend(read.events.iter().map(|e| e.step));
    }
    writer.join().unwrap();
    seen.extend(drain(&mut tail, 500));
    assert_eq!(seen.len(), 20_000);
    assert!(
        seen.iter().copied().eq(0..20_000),
        "every record once, in order"
    );
    assert!(common::segments(&dir).len() > 20, "it followed many rolls");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_tail_waits_at_a_torn_record_and_goes_on_after_recovery() {
    let dir = temp_dir("tail", "torn");
    // A crash leaves the active segment as written: uncompressed.
    let url = format!("file://{}?compression=none", dir.display());
    let mut log = open_log(&url);
    log.store_events(&scalars(0..10)).unwrap();
    log.shutdown().unwrap();
    drop(log);
    let seg = common::segments(&dir).pop().unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(len - 4)
        .unwrap();
    let mut tail = Tail::from_offset(&dir, 0).unwrap();
    assert_eq!(
        drain(&mut tail, 100),
        (0..9).collect::<Vec<_>>(),
        "up to the torn record"
    );
    // Recovery truncates the torn record; what is written next takes its place.
    let mut log = open_log(&url);
    log.store_events(&scalars(100..103)).unwrap();
    log.flush().unwrap();
    assert_eq!(drain(&mut tail, 100), vec![100, 101, 102]);
    log.shutdown().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
