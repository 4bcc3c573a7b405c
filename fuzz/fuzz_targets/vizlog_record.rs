//! The durable log's record decoder, frame scanner and tag index decoder over
//! arbitrary bytes: every input is an error or a valid value, never a panic, and a
//! scan always ends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use viz::format::vizlog::codec;
use viz::format::vizlog::segment::{Frame, Frames};
use viz::format::vizlog::tags::TagIndex;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = codec::decode(data) {
        // What decodes is a valid event, and survives encoding and decoding again.
        event.validate().expect("a decoded event is valid");
        let mut again = Vec::new();
        codec::encode(&event, &mut again);
        let back = codec::decode(&again).expect("an encoded event decodes");
        let json = |e: &viz::Event| serde_json::to_string(e).unwrap();
        assert_eq!(
            json(&back),
            json(&event),
            "decode, encode, decode round-trips"
        );
    }
    let _ = codec::step_of(data);
    let _ = codec::peek(data);
    let _ = viz::format::vizlog::segment::frame_at(data);
    if let Some(tags) = TagIndex::decode(data) {
        // What decodes encodes to a form that decodes to the same index.
        let mut again = Vec::new();
        tags.encode(&mut again);
        assert_eq!(TagIndex::decode(&again), Some(tags));
    }
    let mut covered = 0u64;
    let mut frames = Frames::new(data, 0);
    while let Some(frame) = frames.next() {
        let (offset, len) = match frame {
            Frame::Record { offset, payload } => (offset, 12 + payload.len() as u64),
            Frame::Corrupt { offset, len } => (offset, 12 + len),
            Frame::Damaged { offset, len } => (offset, len),
        };
        assert_eq!(offset, covered, "frames tile the bytes");
        covered += len;
    }
    assert_eq!(frames.offset(), covered);
    assert!(covered <= data.len() as u64);
});
