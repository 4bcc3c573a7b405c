//! The compressed block decoder, the block map decoder and the block encoder over
//! arbitrary bytes: a block either decodes to exactly the bytes its CRC names or is
//! refused, never a panic; whatever is encoded decodes back unchanged, under every
//! codec and transform; a compressed segment's reader reads or reports.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use viz::format::vizlog::blocks::{self, Codec, Compression};
use viz::format::vizlog::codec;
use viz::format::vizlog::segfile::SegmentFile;
use viz::format::vizlog::segment::{self, Header, Layout};

fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("viz-fuzz-block-{}.vzl", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok((head, raw)) = blocks::decode_block(data) {
        assert_eq!(
            raw.len(),
            head.raw_len as usize,
            "a block decodes to its length"
        );
    }
    if let Some((entries, len)) = blocks::decode_map(data) {
        let mut again = Vec::new();
        blocks::encode_map(&entries, len, &mut again);
        assert_eq!(blocks::decode_map(&again), Some((entries, len)));
    }
    // The input as a block's bytes (framed records, or damage kept as it is).
    for codec in [Codec::None, Codec::Lz4, Codec::Zstd] {
        for delta in [false, true] {
            let c = Compression {
                codec,
                level: 1,
                delta,
            };
            let mut payload = Vec::new();
            blocks::encode_block(&c, 32, data, &mut Vec::new(), &mut payload);
            let (head, raw) = blocks::decode_block(&payload).expect("an encoded block decodes");
            assert_eq!(head.logical, 32);
            assert_eq!(raw, data, "{codec:?} delta {delta} round-trips");
        }
    }
    // The input as the shape of a run: each byte a record of one of up to 20 tags,
    // so blocks group records by tag; every record reads back by its tag alone.
    let mut runs = Vec::new();
    let mut starts = Vec::new();
    for (i, b) in data.iter().take(400).enumerate() {
        let tag = format!("t/{}", b % 20);
        let event = viz::Event::scalar(&tag, i as i64 / 7, f64::from(*b))
            .unwrap()
            .at(1.7e9 + i as f64);
        starts.push((runs.len(), tag));
        segment::frame(&mut runs, |o| codec::encode(&event, o)).unwrap();
    }
    for codec in [Codec::None, Codec::Lz4, Codec::Zstd] {
        let c = Compression {
            codec,
            level: 1,
            delta: data.first().is_some_and(|b| b & 1 == 1),
        };
        let mut payload = Vec::new();
        blocks::encode_block(&c, 32, &runs, &mut Vec::new(), &mut payload);
        let decoded = blocks::decode(&payload).expect("an encoded block decodes");
        for (k, (at, tag)) in starts.iter().enumerate() {
            let end = starts.get(k + 1).map_or(runs.len(), |s| s.0);
            // A grouped block (transform 3 or 4) finds every record by its tag.
            match decoded.record(*at, tag.as_bytes()) {
                Some(record) => {
                    assert_eq!(record, &runs[*at..end], "{codec:?}: the record at {at}")
                }
                None => assert!(!matches!(payload[1], 3 | 4), "{codec:?}: no record at {at}"),
            }
        }
        assert_eq!(
            decoded.raw().unwrap(),
            runs,
            "{codec:?} grouped round-trips"
        );
    }
    // The input as the body of a compressed segment.
    let mut file = Header {
        base_offset: 0,
        created_unix_ms: 1,
        layout: Layout::Blocks,
    }
    .encode()
    .to_vec();
    file.extend_from_slice(data);
    std::fs::write(path(), &file).unwrap();
    if let Ok(Ok(segment)) = SegmentFile::open(path()) {
        let len = segment.len();
        let bytes = segment.read(0, len.min(1 << 24)).unwrap();
        assert!(bytes.len() as u64 <= len);
        let _ = segment.take_problems();
    }
});
