//! LogReader and the writer's recovery over an arbitrary segment and index sidecar:
//! the input is split into a segment file and its `.vzi`, in a directory of this
//! process's own. Reading and opening report damage, never panic or hang.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use viz::StorageBackend;
use viz::backend::file::FileLogBackend;
use viz::format::vizlog::LogReader;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| std::env::temp_dir().join(format!("viz-fuzz-reader-{}", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    let dir = dir();
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    // The first two bytes say where the segment ends and the sidecar begins.
    let (split, rest) = match data {
        [a, b, rest @ ..] => (
            usize::from(u16::from_le_bytes([*a, *b])) % (rest.len() + 1),
            rest,
        ),
        _ => (0, data),
    };
    let (segment, index) = rest.split_at(split);
    // A valid header often, so the fuzzer reaches the records behind it: version 1
    // records, or (bit 1) a version 2 segment of compressed blocks.
    let mut file = Vec::new();
    if let Some(&first) = segment.first().filter(|b| *b & 1 == 0) {
        use viz::format::vizlog::segment::{Header, Layout};
        let layout = if first & 2 == 0 {
            Layout::Records
        } else {
            Layout::Blocks
        };
        file.extend_from_slice(
            &Header {
                base_offset: 0,
                created_unix_ms: 1,
                layout,
            }
            .encode(),
        );
        file.extend_from_slice(&segment[1..]);
    } else {
        file.extend_from_slice(segment);
    }
    std::fs::write(dir.join("00000000000000000000.vzl"), &file).unwrap();
    std::fs::write(dir.join("00000000000000000000.vzi"), index).unwrap();
    // Each input is a log of its own: no index cached from the last one.
    viz::format::vizlog::cache::clear();
    let reader = LogReader::open(dir).unwrap();
    if let Ok(read) = reader.read(i64::MIN, i64::MAX) {
        for e in &read.events {
            e.validate().expect("what a reader returns is valid");
        }
        // The tag index answers as the scan does.
        let q = viz::Query::all().tag(viz::TagPattern::glob("*"));
        if let Ok(indexed) = reader.query(&q) {
            let scanned = q.run(read.events.clone()).unwrap();
            assert_eq!(indexed.events.len(), scanned.len(), "index and scan agree");
        }
        let _ = reader.latest(&q);
        let _ = reader.aggregate(&q);
        let _ = reader.downsample(&q, -5, 5, 3);
    }
    let mut writer = FileLogBackend::default();
    if writer
        .initialize(&format!("file://{}", dir.display()))
        .is_ok()
    {
        let _ = writer.get_events(i64::MIN, i64::MAX);
        let _ = writer.query(&viz::Query::all().order(viz::Order::StepDesc).limit(2));
        let _ = writer.shutdown();
    }
});
