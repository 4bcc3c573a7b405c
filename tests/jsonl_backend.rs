//! The jsonl:// backend: one JSON object per line, atomic rename, reads back.

use std::path::PathBuf;
use std::time::Duration;

use viz::{Collector, ErrorKind, Event, Histogram, RawBytes, StorageBackendFactory, Tensor};

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("viz-jsonl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("nested").join("events.jsonl")
}

fn sample() -> Vec<Event> {
    vec![
        Event::scalar("j/loss", 1, 0.5).unwrap().at(10.0),
        Event::histogram(
            "j/hist",
            2,
            Histogram::from_values(&[1.0, 2.0, 3.0], 3).unwrap(),
        )
        .unwrap()
        .at(11.0),
        Event::text("j/note", 3, "line one\nline two")
            .unwrap()
            .at(12.0)
            .critical(),
        Event::tensor("j/w", 4, Tensor::from_f32(vec![2], &[1.0, 2.0]).unwrap())
            .unwrap()
            .at(13.0),
        Event::raw(
            "j/raw",
            5,
            RawBytes::new("text/csv", b"a,b".to_vec()).unwrap(),
        )
        .unwrap()
        .at(14.0),
    ]
}

#[test]
fn every_kind_round_trips_one_line_each() {
    let path = temp_path("kinds");
    let c = Collector::builder()
        .backend_url(&format!("jsonl://{}", path.display()))
        .build_and_start()
        .unwrap();
    for e in sample() {
        c.collect(e).unwrap();
    }
    c.flush(Duration::from_secs(10)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["tag"].as_str().unwrap().starts_with("j/"), "{line}");
    }
    assert_eq!(c.get_events(0, 0, 100).unwrap(), sample());
    assert_eq!(c.get_events(0, 2, 3).unwrap(), sample()[1..3].to_vec());
    c.stop(Duration::from_secs(10)).unwrap();
    std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap()).unwrap();
}

#[test]
fn atomic_mode_renames_on_close_and_appending_keeps_old_lines() {
    let path = temp_path("atomic");
    let url = format!("jsonl://{}?atomic=true", path.display());
    let mut tmp = path.clone().into_os_string();
    tmp.push(".tmp");
    for round in 1..=2 {
        let c = Collector::builder()
            .backend_url(&url)
            .build_and_start()
            .unwrap();
        c.collect(Event::scalar("j/x", round, 1.0).unwrap())
            .unwrap();
        c.flush(Duration::from_secs(10)).unwrap();
        if round == 1 {
            assert!(!path.exists(), "the target appears only on close");
        }
        assert!(PathBuf::from(&tmp).exists());
        c.stop(Duration::from_secs(10)).unwrap();
        assert!(path.exists() && !PathBuf::from(&tmp).exists());
    }
    // Atomic mode writes a fresh export each time; plain mode appends.
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    let plain = format!("jsonl://{}", path.display());
    for step in 0..2 {
        let c = Collector::builder()
            .backend_url(&plain)
            .build_and_start()
            .unwrap();
        c.collect(Event::scalar("j/x", 10 + step, 1.0).unwrap())
            .unwrap();
        c.stop(Duration::from_secs(10)).unwrap();
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
    std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap()).unwrap();
}

#[test]
fn clear_empties_the_file() {
    let path = temp_path("clear");
    let mut b = StorageBackendFactory::global()
        .create_url(&format!("jsonl://{}", path.display()))
        .unwrap();
    b.store_events(&sample()).unwrap();
    b.flush().unwrap();
    assert_eq!(b.get_events(0, 100).unwrap().len(), 5);
    b.clear().unwrap();
    assert_eq!(b.event_count(), 0);
    assert!(b.get_events(0, 100).unwrap().is_empty());
    b.shutdown().unwrap();
    std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap()).unwrap();
}

#[test]
fn errors_name_the_option_or_the_line() {
    let f = StorageBackendFactory::global();
    let e = f.create_url("jsonl://").err().unwrap();
    assert!(e.message().contains("needs a file path"), "{e}");
    let path = temp_path("errors");
    let e = f
        .create_url(&format!("jsonl://{}?atomic=maybe", path.display()))
        .err()
        .unwrap();
    assert!(
        e.message()
            .contains("option atomic has invalid value 'maybe'"),
        "{e}"
    );
    let e = f
        .create_url(&format!("jsonl://{}?fsync=always", path.display()))
        .err()
        .unwrap();
    assert!(
        e.message()
            .contains("option fsync has invalid value 'always'"),
        "{e}"
    );

    let mut b = f
        .create_url(&format!("jsonl://{}", path.display()))
        .unwrap();
    b.store_events(&sample()[..2]).unwrap();
    b.flush().unwrap();
    // Damage the second line on disk, behind the writer's back.
    let first_line = std::fs::read(&path)
        .unwrap()
        .iter()
        .position(|&c| c == b'\n')
        .unwrap();
    std::os::unix::fs::FileExt::write_all_at(
        &std::fs::OpenOptions::new().write(true).open(&path).unwrap(),
        b"{not json",
        first_line as u64 + 1,
    )
    .unwrap();
    // The damaged line is skipped and named; the good one still reads.
    let read = b.get_events(0, 100).unwrap();
    assert_eq!(read.len(), 1);
    let warnings = b.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].kind(), ErrorKind::CorruptData);
    assert!(warnings[0].message().contains("line 2"), "{}", warnings[0]);
    b.shutdown().unwrap();
    std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap()).unwrap();
}

/// A torn last line (a power loss, an external truncate) costs that line only: a
/// reader skips and reports it, and a writer that reopens the file ends it, says so,
/// and appends lines that read back.
#[test]
fn a_torn_last_line_is_skipped_reported_and_written_past() {
    let path = temp_path("torn");
    let url = format!("jsonl://{}?fsync=never", path.display());
    let f = StorageBackendFactory::global();
    let mut b = f.create_url(&url).unwrap();
    let events: Vec<Event> = (0..100)
        .map(|i| Event::scalar("t/x", i, i as f64).unwrap().at(1.0))
        .collect();
    b.store_events(&events).unwrap();
    b.shutdown().unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 7)
        .unwrap();

    let mut w = f.create_url(&url).unwrap();
    let opened = w.take_warnings();
    assert!(
        opened.iter().any(|e| e.message().contains("ends mid-line")),
        "{opened:?}"
    );
    let read = w.get_events(i64::MIN, i64::MAX).unwrap();
    assert_eq!(read.len(), 99, "the 99 whole lines read");
    let skipped = w.take_warnings();
    assert!(
        skipped.iter().any(|e| e.message().contains("line 100")),
        "{skipped:?}"
    );
    let more: Vec<Event> = (100..110)
        .map(|i| Event::scalar("t/x", i, i as f64).unwrap().at(1.0))
        .collect();
    w.store_events(&more).unwrap();
    w.shutdown().unwrap();

    // Through a collector, as viz query and convert read it.
    let c = Collector::builder()
        .backend_url(&url)
        .build_and_start()
        .unwrap();
    let steps: Vec<i64> = c
        .get_events(0, i64::MIN, i64::MAX)
        .unwrap()
        .iter()
        .map(|e| e.step)
        .collect();
    let want: Vec<i64> = (0..99).chain(100..110).collect();
    assert_eq!(steps, want);
    c.stop(Duration::from_secs(20)).unwrap();
    std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap()).unwrap();
}
