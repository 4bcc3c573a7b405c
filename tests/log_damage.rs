//! The durable log never throws away intact data and reports what it cannot read:
//! damage in the middle of the newest segment is skipped, not truncated; readers see
//! a consistent prefix with no holes while a writer rolls segments; deleted segments
//! are gaps, stale sidecars are rebuilt, stray files cannot make offsets wrap or a
//! roll overwrite a segment; a forked or exec'd child cannot write with the
//! parent's lock.

mod common;

use common::{open_log as open, segments, steps};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use viz::format::vizlog::LogReader;
use viz::format::vizlog::index::SegmentIndex;
use viz::format::vizlog::segment::Header;
use viz::{Event, StorageBackend};

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("damage", name)
}

fn scalars(steps: std::ops::Range<i64>) -> Vec<Event> {
    steps
        .map(|s| Event::scalar("d", s, s as f64).unwrap().at(1000.0))
        .collect()
}

/// 12 bytes of frame, a 22-byte head, the 1-byte tag, the f64.
const RECORD: u64 = 12 + 22 + 1 + 8;
const HEADER: u64 = 32;

fn one_segment(name: &str, n: i64) -> (PathBuf, PathBuf) {
    let dir = temp_dir(name);
    let mut b = open(&format!("file://{}?compression=none", dir.display()));
    b.store_events(&scalars(0..n)).unwrap();
    b.shutdown().unwrap();
    let files = segments(&dir);
    assert_eq!(files.len(), 1);
    (dir, files[0].clone())
}

fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    let mut all = std::fs::read(path).unwrap();
    all[offset as usize..offset as usize + bytes.len()].copy_from_slice(bytes);
    std::fs::write(path, all).unwrap();
}

#[test]
fn damage_followed_by_intact_records_in_the_newest_segment_is_skipped_not_truncated() {
    for (name, offset, damage) in [
        // One damaged length field.
        ("length", HEADER + 500 * RECORD + 1, vec![0x55]),
        // A zeroed page across several records.
        ("zeroed", 30_000, vec![0u8; 4096]),
    ] {
        let (dir, file) = one_segment(name, 2000);
        let len = std::fs::metadata(&file).unwrap().len();
        write_at(&file, offset, &damage);
        let _ = std::fs::remove_file(file.with_extension("vzi"));

        let mut b = open(&format!("file://{}?compression=none", dir.display()));
        assert!(b.recoveries().is_empty(), "{name}: {:?}", b.recoveries());
        assert_eq!(
            std::fs::metadata(&file).unwrap().len(),
            len,
            "{name}: bytes deleted"
        );
        let warnings = b.take_warnings();
        assert!(
            warnings
                .iter()
                .any(|w| w.message().contains("damaged record framing")),
            "{name}: {warnings:?}"
        );
        // Appending goes on after the intact records, which all read back.
        b.store_events(&scalars(2000..2010)).unwrap();
        b.shutdown().unwrap();
        let read = LogReader::open(&dir)
            .unwrap()
            .read(i64::MIN, i64::MAX)
            .unwrap();
        let got = steps(&read.events);
        let first_lost = ((offset - HEADER) / RECORD) as i64;
        let last_lost = ((offset + damage.len() as u64 - 1 - HEADER) / RECORD) as i64;
        let want: Vec<i64> = (0..2010)
            .filter(|s| !(first_lost..=last_lost).contains(s))
            .collect();
        assert_eq!(got, want, "{name}");
        // Reported from the first damaged record, through no further than the last.
        assert!(!read.problems.is_empty(), "{name}");
        assert_eq!(
            read.problems[0].offset,
            HEADER + first_lost as u64 * RECORD,
            "{name}"
        );
        let end = read
            .problems
            .iter()
            .map(|p| p.offset + p.bytes)
            .max()
            .unwrap();
        assert_eq!(
            end,
            HEADER + (last_lost as u64 + 1) * RECORD,
            "{name}: {:?}",
            read.problems
        );
    }
}

#[test]
fn readers_never_see_holes_while_a_writer_rolls_thousands_of_segments() {
    let dir = temp_dir("rolls");
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!(
        "file://{}?compression=none&segment_max_bytes=1024&fsync=never",
        dir.display()
    );
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut b = open(&url);
            for chunk in (0..40_000i64).collect::<Vec<_>>().chunks(10) {
                b.store_events(&scalars(chunk[0]..chunk[0] + 10)).unwrap();
            }
            b.shutdown().unwrap();
            done.store(true, Ordering::Release);
        })
    };
    let reader = LogReader::open(&dir).unwrap();
    let mut reads = 0;
    loop {
        let finished = done.load(Ordering::Acquire);
        let read = reader.read(i64::MIN, i64::MAX).unwrap();
        let got = steps(&read.events);
        assert!(
            got.iter().enumerate().all(|(i, &s)| s == i as i64),
            "read {reads}: not a prefix without holes ({} events, problems {:?})",
            got.len(),
            read.problems
        );
        assert!(
            read.problems.is_empty(),
            "read {reads}: {:?}",
            read.problems
        );
        reads += 1;
        if finished {
            assert_eq!(got.len(), 40_000);
            break;
        }
    }
    writer.join().unwrap();
    assert!(segments(&dir).len() > 1000, "{}", segments(&dir).len());
}

fn three_segments(name: &str) -> (PathBuf, Vec<PathBuf>) {
    let dir = temp_dir(name);
    let mut b = open(&format!(
        "file://{}?compression=none&segment_max_bytes={}",
        dir.display(),
        HEADER + 50 * RECORD
    ));
    for batch in scalars(0..150).chunks(50) {
        b.store_events(batch).unwrap();
    }
    b.shutdown().unwrap();
    let files = segments(&dir);
    assert_eq!(files.len(), 3);
    (dir, files)
}

#[test]
fn a_deleted_middle_segment_is_reported_as_a_gap() {
    let (dir, files) = three_segments("gap");
    std::fs::remove_file(&files[1]).unwrap();
    let read = LogReader::open(&dir).unwrap().read(0, 1000).unwrap();
    assert_eq!(
        steps(&read.events),
        (0..50).chain(100..150).collect::<Vec<_>>()
    );
    assert_eq!(read.problems.len(), 1, "{:?}", read.problems);
    let p = read.problems[0].to_string();
    assert!(
        p.contains("gap") && p.contains("ends at offset 50") && p.contains("offset 100"),
        "{p}"
    );
    // A check (viz verify, viz repair) finds the same, keeping no event.
    let check = LogReader::open(&dir).unwrap().check().unwrap();
    assert!(check.events.is_empty());
    assert_eq!(check.intact, 100);
    assert_eq!(read.intact, 100);
    assert_eq!(
        check
            .problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        read.problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    let mut b = open(&format!("file://{}?compression=none", dir.display()));
    let warnings = b.take_warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.message().contains("a gap in the log")),
        "{warnings:?}"
    );
}

#[test]
fn a_stale_or_foreign_index_is_rebuilt_not_reported_as_damage() {
    let (dir, files) = three_segments("stale");
    // Segment 0's sidecar put beside segment 1: it names another segment.
    std::fs::copy(
        files[0].with_extension("vzi"),
        files[1].with_extension("vzi"),
    )
    .unwrap();
    // Segment 2's own sidecar with its blocks moved off the record boundaries.
    let bytes = std::fs::read(&files[2]).unwrap();
    let header = Header::decode(&bytes).unwrap();
    let sidecar = files[2].with_extension("vzi");
    let mut index = SegmentIndex::decode(&std::fs::read(&sidecar).unwrap(), &header, true).unwrap();
    index.blocks[0].offset += 5;
    std::fs::write(&sidecar, index.encode(&header, true)).unwrap();

    let reader = LogReader::open(&dir).unwrap();
    let read = reader.read(0, 1000).unwrap();
    assert_eq!(steps(&read.events), (0..150).collect::<Vec<_>>());
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    // Queries through the tag index see the same.
    let queried = reader.query(&viz::Query::all()).unwrap();
    assert_eq!(steps(&queried.events), (0..150).collect::<Vec<_>>());
    let mut b = open(&format!("file://{}?compression=none", dir.display()));
    assert_eq!(
        steps(&b.get_events(0, 1000).unwrap()),
        (0..150).collect::<Vec<_>>()
    );
    assert!(b.take_warnings().is_empty());
}

#[test]
fn a_stray_segment_at_the_top_of_the_offsets_never_wraps_or_overwrites() {
    for valid_header in [false, true] {
        let (dir, file0) = one_segment(&format!("stray-{valid_header}"), 40);
        let stray = dir.join("18446744073709551615.vzl");
        let content = if valid_header {
            Header {
                base_offset: u64::MAX,
                created_unix_ms: 1,
                layout: Default::default(),
            }
            .encode()
            .to_vec()
        } else {
            b"not a segment at all".to_vec()
        };
        std::fs::write(&stray, content).unwrap();
        let before = std::fs::read(&file0).unwrap();
        let mut b = open(&format!(
            "file://{}?compression=none&segment_max_bytes=1024",
            dir.display()
        ));
        for batch in scalars(40..200).chunks(10) {
            b.store_events(batch).unwrap();
        }
        b.shutdown().unwrap();
        let after = std::fs::read(&file0).unwrap();
        assert_eq!(
            &after[..before.len()],
            &before[..],
            "valid header {valid_header}: segment 0 overwritten"
        );
        let read = LogReader::open(&dir).unwrap().read(0, 1000).unwrap();
        let mut got = steps(&read.events);
        got.sort();
        assert_eq!(
            got,
            (0..200).collect::<Vec<_>>(),
            "valid header {valid_header}"
        );
    }
}

#[test]
fn stray_temporary_files_are_removed_on_open() {
    let (dir, _) = one_segment("tmp", 5);
    let strays = [
        dir.join("00000000000000000005.vzl.tmp"),
        dir.join("00000000000000000000.vzi.tmp"),
    ];
    for s in &strays {
        std::fs::write(s, b"left by a kill").unwrap();
    }
    let _b = open(&format!("file://{}?compression=none", dir.display()));
    for s in &strays {
        assert!(!s.exists(), "{} is still there", s.display());
    }
}
