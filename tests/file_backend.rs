//! The file:// durable event log: round trips, segments, the sparse index, options,
//! damage and recovery, concurrent readers, and a writer killed mid-stream.

mod common;

use common::{open_log as open, segments, steps};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use viz::backend::file::FileLogBackend;
use viz::format::vizlog::LogReader;
use viz::{
    Collector, ErrorKind, Event, Histogram, Image, RawBytes, StorageBackend, StorageBackendFactory,
    Tensor,
};

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("file", name)
}

fn scalars(tag: &str, steps: std::ops::Range<i64>) -> Vec<Event> {
    steps
        .map(|s| {
            Event::scalar(tag, s, s as f64 * 0.5)
                .unwrap()
                .at(1000.0 + s as f64)
        })
        .collect()
}

/// The documented size of a scalar record: 12 bytes of frame, a 22-byte head, the
/// tag, the f64.
fn scalar_record_len(tag: &str) -> u64 {
    12 + 22 + tag.len() as u64 + 8
}

const HEADER: u64 = 32;

fn every_kind() -> Vec<Event> {
    vec![
        Event::scalar("k/loss", 1, 0.25).unwrap().at(10.0),
        Event::histogram(
            "k/h",
            2,
            Histogram::from_values(&[1.0, 2.0, 3.0], 3).unwrap(),
        )
        .unwrap()
        .at(11.0),
        Event::text("k/note", 3, "línea\nzwei")
            .unwrap()
            .at(12.0)
            .critical(),
        Event::image(
            "k/img",
            4,
            Image::from_rgba8(2, 1, &[255, 0, 0, 255, 0, 0, 255, 255]).unwrap(),
        )
        .unwrap()
        .at(13.0),
        Event::tensor(
            "k/w",
            5,
            Tensor::from_f32(vec![2, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap(),
        )
        .unwrap()
        .at(14.0),
        Event::raw(
            "k/raw",
            6,
            RawBytes::new("text/csv", b"a,b\n1,2".to_vec()).unwrap(),
        )
        .unwrap()
        .at(15.0),
    ]
}

#[test]
fn every_kind_round_trips_through_a_collector_and_survives_reopening() {
    let dir = temp_dir("kinds");
    let url = format!("file://{}", dir.display());
    let c = Collector::builder()
        .backend_url(&url)
        .build_and_start()
        .unwrap();
    for e in every_kind() {
        c.collect(e).unwrap();
    }
    c.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(c.get_events(0, 0, 100).unwrap(), every_kind());
    assert_eq!(c.get_events(0, 2, 4).unwrap(), every_kind()[1..4].to_vec());
    c.stop(Duration::from_secs(10)).unwrap();

    let files = segments(&dir);
    assert_eq!(files.len(), 1);
    let bytes = std::fs::read(&files[0]).unwrap();
    assert_eq!(&bytes[..8], b"VIZ-LOG\0", "segment magic");
    assert_eq!(
        u32::from_le_bytes(bytes[8..12].try_into().unwrap()),
        2,
        "format version: closing sealed and compressed the segment (lz4 by default)"
    );

    let reopened = open(&url);
    assert_eq!(
        reopened.get_events(i64::MIN, i64::MAX).unwrap(),
        every_kind()
    );
    assert!(reopened.recoveries().is_empty());
    assert_eq!(reopened.next_offset(), Some(6));
    let read = LogReader::open(&dir).unwrap().read(0, 100).unwrap();
    assert_eq!(read.events, every_kind());
    assert!(read.problems.is_empty() && read.incomplete_tail.is_none());
}

#[test]
fn the_factory_knows_file_and_options_are_validated_by_name() {
    let dir = temp_dir("options");
    let ok = format!(
        "file://{}?segment_max_bytes=1048576&fsync=batch&segment_max_age=30m",
        dir.display()
    );
    let b = StorageBackendFactory::global().create_url(&ok).unwrap();
    assert_eq!(b.type_name(), "file");
    drop(b);
    for (query, names) in [
        ("segment_max_bytes=lots", ["segment_max_bytes", "lots"]),
        ("segment_max_bytes=100", ["segment_max_bytes", "1024"]),
        ("fsync=sometimes", ["fsync", "sometimes"]),
        ("segment_max_age=soon", ["segment_max_age", "soon"]),
        ("segment_max_age=0s", ["segment_max_age", "0s"]),
        ("segment_max_age=5d", ["segment_max_age", "5d"]),
        ("segmentmaxbytes=1", ["segmentmaxbytes", "unknown option"]),
        ("compression=gzip", ["compression", "gzip"]),
        ("compression=lz4&level=3", ["level", "compression=zstd"]),
        ("level=99", ["level", "99"]),
        ("delta=maybe", ["delta", "maybe"]),
    ] {
        let url = format!("file://{}?{query}", dir.display());
        let e = StorageBackendFactory::global()
            .create_url(&url)
            .map(drop)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{url}: {e}");
        for name in names {
            assert!(e.message().contains(name), "{url}: {e}");
        }
    }
    let e = StorageBackendFactory::global()
        .create_url("file://")
        .map(drop)
        .unwrap_err();
    assert!(e.message().contains("needs a directory"), "{e}");
}

#[test]
fn segments_roll_at_the_size_limit_and_reads_span_them() {
    let dir = temp_dir("roll-size");
    let mut b = open(&format!("file://{}?segment_max_bytes=4096", dir.display()));
    let events = scalars("r", 0..1000);
    for batch in events.chunks(10) {
        b.store_events(batch).unwrap();
    }
    b.shutdown().unwrap();
    let files = segments(&dir);
    let per_segment = (4096 - HEADER) / scalar_record_len("r");
    assert_eq!(
        files.len() as u64,
        1000_u64.div_ceil(per_segment / 10 * 10),
        "{files:?}"
    );
    for f in &files {
        let len = std::fs::metadata(f).unwrap().len();
        assert!(len <= 4096, "{} is {len} bytes", f.display());
    }
    let b = open(&format!("file://{}?segment_max_bytes=4096", dir.display()));
    assert_eq!(b.get_events(0, 999).unwrap(), events);
    let read = b.read(500, 509).unwrap();
    assert_eq!(steps(&read.events), (500..510).collect::<Vec<_>>());
    assert_eq!(
        read.segments_read, 1,
        "only the segment holding the range is read"
    );
}

#[test]
fn segments_roll_at_the_age_limit_even_across_restarts() {
    let dir = temp_dir("roll-age");
    // Uncompressed: closing a compressed log seals its last segment, and the next
    // writer starts a fresh one whatever its age. The age leaves room for a
    // loaded machine between the first two stores.
    let url = format!(
        "file://{}?segment_max_age=500ms&compression=none",
        dir.display()
    );
    let mut b = open(&url);
    b.store_events(&scalars("a", 0..5)).unwrap();
    b.store_events(&scalars("a", 5..10)).unwrap();
    assert_eq!(segments(&dir).len(), 1, "young segments are appended to");
    std::thread::sleep(Duration::from_millis(600));
    b.store_events(&scalars("a", 10..15)).unwrap();
    assert_eq!(segments(&dir).len(), 2);
    b.shutdown().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let mut b = open(&url);
    b.store_events(&scalars("a", 15..20)).unwrap();
    let names = segments(&dir);
    assert_eq!(names.len(), 3, "the age is read from the segment header");
    assert!(names[2].ends_with("00000000000000000015.vzl"), "{names:?}");
    assert_eq!(
        steps(&b.get_events(0, 100).unwrap()),
        (0..20).collect::<Vec<_>>()
    );
}

#[test]
fn a_narrow_range_reads_only_the_blocks_that_overlap() {
    let dir = temp_dir("index");
    let url = format!(
        "file://{}?segment_max_bytes=1048576&fsync=never",
        dir.display()
    );
    let mut b = open(&url);
    for batch in scalars("idx", 0..200_000).chunks(1000) {
        b.store_events(batch).unwrap();
    }
    let total: u64 = 200_000 * scalar_record_len("idx");
    let check = |read: viz::format::vizlog::LogRead| {
        assert_eq!(steps(&read.events), (150_000..151_000).collect::<Vec<_>>());
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        assert!(read.segments_read <= 2, "{}", read.segments_read);
        assert!(
            read.bytes_read < total / 20,
            "read {} of {total} bytes for 0.5% of the events",
            read.bytes_read
        );
    };
    check(b.read(150_000, 150_999).unwrap());
    b.shutdown().unwrap();
    assert!(segments(&dir).len() >= 8);
    check(
        LogReader::open(&dir)
            .unwrap()
            .read(150_000, 150_999)
            .unwrap(),
    );
    check(open(&url).read(150_000, 150_999).unwrap());

    // Index sidecars are a cache: damaged or missing, they are rebuilt.
    let files = segments(&dir);
    let sidecar = files[3].with_extension("vzi");
    let mut bytes = std::fs::read(&sidecar).unwrap();
    bytes[40] ^= 0xff;
    std::fs::write(&sidecar, bytes).unwrap();
    std::fs::remove_file(files[5].with_extension("vzi")).unwrap();
    let read = LogReader::open(&dir).unwrap().read(0, i64::MAX).unwrap();
    assert_eq!(steps(&read.events), (0..200_000).collect::<Vec<_>>());
    assert!(read.problems.is_empty());
}

/// A closed log of `n` "t" scalars whose last `cut` bytes are gone, as if the
/// writer died mid-record. Returns the directory, its URL and the segment.
fn torn_log(name: &str, n: i64, cut: u64) -> (PathBuf, String, PathBuf) {
    let dir = temp_dir(name);
    // A writer that dies never seals its active segment: it stays uncompressed.
    let url = format!("file://{}?compression=none", dir.display());
    let mut b = open(&url);
    b.store_events(&scalars("t", 0..n)).unwrap();
    b.shutdown().unwrap();
    let seg = segments(&dir).pop().unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    assert_eq!(len, HEADER + n as u64 * scalar_record_len("t"));
    let file = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    file.set_len(len - cut).unwrap();
    (dir, url, seg)
}

#[test]
fn a_torn_tail_is_truncated_on_open_and_reported_with_the_bytes_dropped() {
    let (dir, url, seg) = torn_log("torn", 100, 5);

    // A reader leaves the partial record out without calling it damage: a writer
    // may still be appending it.
    let read = LogReader::open(&dir).unwrap().read(0, 1000).unwrap();
    assert_eq!(read.events.len(), 99);
    assert!(read.problems.is_empty());
    let tail = HEADER + 99 * scalar_record_len("t");
    assert_eq!(read.incomplete_tail, Some((seg.clone(), tail)));

    let mut b = open(&url);
    let r = &b.recoveries()[0];
    assert_eq!(
        (r.offset, r.dropped_bytes),
        (tail, scalar_record_len("t") - 5)
    );
    assert!(r.reason.contains("torn"), "{r:?}");
    let warnings = b.take_warnings();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].kind(), ErrorKind::CorruptData);
    let text = warnings[0].message();
    assert!(
        text.contains(&format!(
            "dropped {} bytes from byte offset {tail}",
            scalar_record_len("t") - 5
        )),
        "{text}"
    );
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), tail);

    b.store_events(&scalars("t", 99..110)).unwrap();
    b.flush().unwrap();
    assert_eq!(
        steps(&b.get_events(0, 1000).unwrap()),
        (0..110).collect::<Vec<_>>()
    );
    assert_eq!(b.next_offset(), Some(110));
    let read = LogReader::open(&dir).unwrap().read(0, 1000).unwrap();
    assert_eq!(read.events.len(), 110);
    assert!(read.incomplete_tail.is_none());
}

#[test]
fn a_recovered_tail_reaches_the_collectors_error_callback_and_stats() {
    let (_, url, _) = torn_log("torn-collector", 10, 1);

    let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let c = Collector::builder()
        .backend_url(&url)
        .on_error(move |r| sink.lock().push(r.error.message().to_owned()))
        .build_and_start()
        .unwrap();
    c.flush(Duration::from_secs(10)).unwrap();
    let stats = c.stats();
    assert_eq!(stats.destinations[0].warnings, 1);
    let last = stats.last_error.unwrap();
    assert!(last.contains("dropped") && last.contains("bytes"), "{last}");
    assert!(
        seen.lock().iter().any(|m| m.contains("dropped")),
        "{:?}",
        seen.lock()
    );
    assert_eq!(c.get_events(0, 0, 100).unwrap().len(), 9);
    c.stop(Duration::from_secs(10)).unwrap();
}

/// Writes 3 segments of 50 "f" scalars each and returns their paths.
fn three_segments(name: &str) -> (PathBuf, Vec<PathBuf>) {
    let dir = temp_dir(name);
    let per_segment = 50;
    let max = HEADER + per_segment * scalar_record_len("f");
    let mut b = open(&format!(
        "file://{}?segment_max_bytes={max}&compression=none",
        dir.display()
    ));
    for batch in scalars("f", 0..150).chunks(per_segment as usize) {
        b.store_events(batch).unwrap();
    }
    b.shutdown().unwrap();
    let files = segments(&dir);
    assert_eq!(files.len(), 3);
    (dir, files)
}

fn flip(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x10;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_flipped_payload_byte_is_reported_at_its_offset_and_only_that_record_is_skipped() {
    let (dir, files) = three_segments("flip-payload");
    let record = scalar_record_len("f");
    let at = HEADER + 7 * record; // the 8th record of the middle segment: step 57
    flip(&files[1], at + 12 + 5); // a byte of its step
    let read = LogReader::open(&dir).unwrap().read(0, 1000).unwrap();
    let expected: Vec<i64> = (0..150).filter(|&s| s != 57).collect();
    assert_eq!(steps(&read.events), expected);
    assert_eq!(read.problems.len(), 1, "{:?}", read.problems);
    let p = &read.problems[0];
    assert_eq!((&p.segment, p.offset, p.bytes), (&files[1], at, record));
    assert!(p.to_string().contains("fails its CRC"), "{p}");
    assert!(p.to_string().contains(&format!("byte offset {at}")), "{p}");

    // Through the backend: the intact events, and the damage as a warning.
    let mut b = open(&format!("file://{}", dir.display()));
    assert!(
        b.take_warnings().is_empty(),
        "sealed segments are trusted through their index"
    );
    assert_eq!(
        steps(&b.get_events(50, 99).unwrap()),
        expected[50..99].to_vec()
    );
    let warnings = b.take_warnings();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].message().contains(&format!("byte offset {at}")),
        "{}",
        warnings[0]
    );
}

#[test]
fn a_flipped_length_byte_loses_only_its_record_and_reading_resumes_after_it() {
    let (dir, files) = three_segments("flip-length");
    let record = scalar_record_len("f");
    let at = HEADER + 20 * record;
    flip(&files[1], at + 1);
    // With the sidecars gone the damage is met while rebuilding the index.
    for f in &files {
        std::fs::remove_file(f.with_extension("vzi")).unwrap();
    }
    let read = LogReader::open(&dir).unwrap().read(0, 1000).unwrap();
    // The scan resynchronises on the next intact record: only step 70 is lost.
    let expected: Vec<i64> = (0..150).filter(|&s| s != 70).collect();
    assert_eq!(steps(&read.events), expected);
    assert_eq!(read.problems.len(), 1, "{:?}", read.problems);
    let p = &read.problems[0];
    assert_eq!((p.offset, p.bytes), (at, record));
    assert!(p.what.contains("damaged record framing"), "{p}");
    assert!(read.incomplete_tail.is_none());

    // With the sidecar intact, the same damage is met when reading the block.
    let (dir, files) = three_segments("flip-length-indexed");
    flip(&files[1], at + 1);
    let read = LogReader::open(&dir).unwrap().read(0, 1000).unwrap();
    assert_eq!(steps(&read.events), expected);
    assert_eq!(read.problems.len(), 1, "{:?}", read.problems);
    assert_eq!(read.problems[0].offset, at);
}

#[test]
fn a_damaged_header_is_reported_and_a_newer_format_is_refused() {
    let (dir, files) = three_segments("header");
    flip(&files[0], 2);
    let read = LogReader::open(&dir).unwrap().read(0, 1000).unwrap();
    assert_eq!(steps(&read.events), (50..150).collect::<Vec<_>>());
    assert_eq!(read.problems.len(), 1);
    assert!(
        read.problems[0].what.contains("bad magic"),
        "{:?}",
        read.problems
    );
    let mut b = open(&format!("file://{}", dir.display()));
    let w = b.take_warnings();
    assert!(w.iter().any(|w| w.message().contains("bad magic")), "{w:?}");

    // A segment claiming format version 3, with a valid header CRC.
    let (dir, files) = three_segments("newer");
    let mut bytes = std::fs::read(&files[2]).unwrap();
    bytes[8..12].copy_from_slice(&3u32.to_le_bytes());
    bytes[12..16].fill(0);
    let crc = crc32c::crc32c(&bytes[..32]);
    bytes[12..16].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&files[2], bytes).unwrap();
    let e = LogReader::open(&dir).unwrap().read(0, 10).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.message().contains("version 3"), "{e}");
    let mut b = FileLogBackend::default();
    let e = b
        .initialize(&format!("file://{}", dir.display()))
        .unwrap_err();
    assert!(e.message().contains("newer viz"), "{e}");
}

#[test]
fn one_writer_per_directory() {
    let dir = temp_dir("lock");
    let url = format!("file://{}", dir.display());
    let first = open(&url);
    let e = FileLogBackend::default().initialize(&url).unwrap_err();
    assert!(
        e.message().contains("in use by another file:// writer"),
        "{e}"
    );
    drop(first);
    open(&url);
}

#[test]
fn fsync_policies_decide_when_records_reach_the_file() {
    for (policy, visible_before_flush) in [("batch", true), ("flush", false), ("never", false)] {
        let dir = temp_dir(&format!("fsync-{policy}"));
        let mut b = open(&format!("file://{}?fsync={policy}", dir.display()));
        b.store_events(&scalars("s", 0..10)).unwrap();
        let reader = LogReader::open(&dir).unwrap();
        let seen = reader.read(0, 100).unwrap().events.len();
        assert_eq!(seen, if visible_before_flush { 10 } else { 0 }, "{policy}");
        assert_eq!(
            b.get_events(0, 100).unwrap().len(),
            10,
            "the writer reads its buffer too"
        );
        b.flush().unwrap();
        assert_eq!(reader.read(0, 100).unwrap().events.len(), 10, "{policy}");
    }
}

#[test]
fn clear_removes_every_segment_and_counts_restart() {
    let dir = temp_dir("clear");
    let mut b = open(&format!("file://{}?segment_max_bytes=4096", dir.display()));
    for batch in scalars("c", 0..300).chunks(20) {
        b.store_events(batch).unwrap();
    }
    assert_eq!(b.event_count(), 300);
    assert!(segments(&dir).len() > 2);
    b.clear().unwrap();
    assert_eq!(b.event_count(), 0);
    assert!(b.get_events(i64::MIN, i64::MAX).unwrap().is_empty());
    assert_eq!(segments(&dir).len(), 1);
    b.store_events(&scalars("c", 0..3)).unwrap();
    assert_eq!(b.get_events(0, 10).unwrap().len(), 3);
    assert_eq!(b.next_offset(), Some(303), "offsets keep increasing");
}

#[test]
fn readers_see_a_consistent_prefix_while_a_writer_appends() {
    let dir = temp_dir("concurrent");
    let url = format!(
        "file://{}?segment_max_bytes=65536&fsync=never",
        dir.display()
    );
    let mut b = open(&url);
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (dir, done) = (dir.clone(), done.clone());
            std::thread::spawn(move || {
                let reader = LogReader::open(&dir).unwrap();
                let mut reads = 0;
                let mut most = 0;
                loop {
                    // Read once more after the writer is done, so the last read sees all.
                    let finished = done.load(Ordering::Acquire);
                    let read = reader.read(0, i64::MAX).unwrap();
                    assert!(read.problems.is_empty(), "{:?}", read.problems);
                    let n = read.events.len();
                    assert_eq!(steps(&read.events), (0..n as i64).collect::<Vec<_>>());
                    assert!(n >= most, "a later read saw fewer events");
                    most = n;
                    reads += 1;
                    if finished && reads >= 5 {
                        break;
                    }
                }
                most
            })
        })
        .collect();
    for (i, batch) in scalars("cc", 0..50_000).chunks(250).enumerate() {
        b.store_events(batch).unwrap();
        if i % 4 == 0 {
            b.flush().unwrap();
        }
    }
    b.flush().unwrap();
    done.store(true, Ordering::Release);
    for r in readers {
        assert_eq!(r.join().unwrap(), 50_000);
    }
    assert!(segments(&dir).len() > 10);
}

/// The child: collects scalars through the API and reports each completed flush.
fn crash_child(dir: &str) {
    use std::io::Write;
    let c = Collector::builder()
        .backend_url(&format!("file://{dir}?segment_max_bytes=1073741824"))
        .build_and_start()
        .unwrap();
    let tag = c.intern("crash/loss").unwrap();
    let mut out = std::io::stdout();
    for step in 0..20_000_000i64 {
        c.collect_scalar(tag, step, step as f64).unwrap();
        if (step + 1) % 100_000 == 0 {
            c.flush(Duration::from_secs(30)).unwrap();
            writeln!(out, "durable {}", step + 1).unwrap();
            out.flush().unwrap();
        }
    }
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn a_writer_killed_mid_stream_loses_nothing_it_reported_durable() {
    use std::io::BufRead;
    if let Ok(dir) = std::env::var("VIZ_CRASH_CHILD_DIR") {
        crash_child(&dir);
        return;
    }
    let dir = temp_dir("sigkill");
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_writer_killed_mid_stream_loses_nothing_it_reported_durable",
            "--nocapture",
        ])
        .env("VIZ_CRASH_CHILD_DIR", &dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut durable = 0u64;
    while durable < 300_000 {
        let line = lines.next().expect("the child ended early").unwrap();
        if let Some(n) = line.strip_prefix("durable ") {
            durable = n.parse().unwrap();
        }
    }
    // Let the child get well into the next stretch, which it writes out in 1 MiB
    // chunks that end mid-record, then kill it there.
    std::thread::sleep(Duration::from_millis(60));
    child.kill().unwrap(); // SIGKILL: no destructor, no flush
    child.wait().unwrap();

    let seg = segments(&dir).pop().unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    let record = scalar_record_len("crash/loss");
    let whole = HEADER + (len - HEADER) / record * record;

    let b = open(&format!("file://{}", dir.display()));
    let events = b.get_events(0, i64::MAX).unwrap();
    let n = events.len() as u64;
    assert!(
        n >= durable,
        "{n} events recovered, but {durable} were reported durable"
    );
    assert_eq!(n, (whole - HEADER) / record);
    for (i, e) in events.iter().enumerate() {
        assert_eq!((e.step, e.tag.as_str()), (i as i64, "crash/loss"));
        assert_eq!(e.data, viz::EventData::Scalar(i as f64));
    }
    if whole < len {
        let r = b.recoveries();
        assert_eq!(r.len(), 1, "the torn tail must be reported");
        assert_eq!((r[0].offset, r[0].dropped_bytes), (whole, len - whole));
        eprintln!(
            "killed mid-record: {} torn bytes dropped and reported",
            len - whole
        );
    } else {
        assert!(b.recoveries().is_empty());
        eprintln!("killed on a record boundary: nothing to truncate");
    }
    let read = LogReader::open(&dir).unwrap().read(0, i64::MAX).unwrap();
    assert!(read.problems.is_empty() && read.incomplete_tail.is_none());
    assert_eq!(read.events.len() as u64, n);
}
