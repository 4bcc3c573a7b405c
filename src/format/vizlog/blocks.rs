//! Compressed blocks: how a sealed segment of format version 2 holds its records.
//!
//! Sealing rewrites a finished segment one block at a time, one block per entry of
//! its sparse step index, so a step- or tag-indexed read decompresses only the
//! blocks it needs. A block decodes to exactly the bytes the version 1 segment held
//! at the same offsets (framed records, each with its CRCs), so indexes, tag
//! postings and readers work in those *logical* offsets whatever the layout.
//!
//! ```text
//! segment: header (version 2) | block frame … | map frame | map frame offset u64 | "VZL-MAP\0"
//! block:   a frame (segment.rs) whose payload is
//!          codec u8 | transform u8 | 0 u16 | CRC32C of the encoded bytes u32
//!          | logical offset u64 | raw length u32 | encoded length u32 | data
//! map:     a frame whose payload is
//!          0xff u8 | 0 u8 | 0 u16 | blocks u32 | logical length u64
//!          | blocks × (logical offset u64, raw length u32, frame offset u64, frame length u32)
//! ```
//!
//! Each block is checked twice: its frame's CRCs cover the stored bytes, and the
//! CRC32C of the encoded bytes (what the transform wrote, before the codec) checks
//! what decompressing produced, so neither bit rot nor a codec fault can hand a
//! reader wrong records. Records are rebuilt from those checked bytes only when
//! read, each with fresh CRCs ([`Decoded`]). The map at the end lets a reader
//! find blocks with two reads; a missing or damaged map is rebuilt by scanning the
//! block frames.
//!
//! Transforms run before the codec. Records (a block with nothing but intact
//! records) drop their frames, which decoding rebuilds: a varint length per record
//! instead of 12 bytes, four of them random CRC bytes no codec can shrink. Delta
//! also replaces each record's step and wall time with the difference from the
//! previous record's (a zigzag varint) and the XOR with its bits (a varint), since
//! consecutive records share most of both. A block whose records carry two tags or
//! more is split into groups by tag, each encoded and compressed on its own
//! ([`groups`]; transforms 3 and 4), so a read for one tag decompresses its group
//! only. A block holding damage is kept framed, as it was, for readers to report.
//!
//! Transforms 0 to 2 (FRAMED, RECORDS, DELTA) and the grouped 3 and 4 all belong
//! to format version 2: grouping was added before any release wrote version 2.

pub use super::compressor::Codec;
use super::compressor::{compress, decompress, zstd_bound, zstd_compress, zstd_decompress};
use super::groups::{self, Grouped};
use super::records::{Rec, index_records, le_u32, le_u64, place, put_record};
use super::segment::{self, Frame, Frames};

/// How sealed segments are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compression {
    /// The compressor; [`Codec::None`] leaves segments in version 1, as they are.
    pub codec: Codec,
    /// The zstd level (1 to 22; negative levels trade size for speed).
    pub level: i32,
    /// Whether steps and wall times are delta-encoded before the codec.
    pub delta: bool,
}

/// The zstd level used when none is given: level 1 to 9 differ by under 4% in
/// size on viz's records, and 3 writes at half the cost of 9 (docs/PERFORMANCE.md).
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

impl Compression {
    /// zstd at [`DEFAULT_ZSTD_LEVEL`], with delta encoding: the smallest, for runs
    /// kept long or copied around, and sqlite://'s default for payloads (read whole).
    pub const ZSTD: Compression = Compression {
        codec: Codec::Zstd,
        level: DEFAULT_ZSTD_LEVEL,
        delta: true,
    };
    /// lz4 with delta encoding: file://'s default. Queries read as fast as with
    /// zstd (blocks group records by tag, so little is decompressed), and sealing
    /// costs half as much, which matters while a run is writing (docs/PERFORMANCE.md).
    pub const LZ4: Compression = Compression {
        codec: Codec::Lz4,
        level: DEFAULT_ZSTD_LEVEL,
        delta: true,
    };
}

const FRAMED: u8 = 0;
const RECORDS: u8 = 1;
const DELTA: u8 = 2;
/// Records grouped by tag ([`groups`]), without and with delta encoding.
const GROUPED: u8 = 3;
const GROUPED_DELTA: u8 = 4;
const MAP: u8 = 0xff;

/// Bytes before a block's data.
pub const BLOCK_HEAD: usize = 24;
const MAP_HEAD: usize = 16;
const MAP_ENTRY: usize = 24;
/// The last bytes of a version 2 segment: the map frame's offset, then this.
pub const TRAILER_MAGIC: [u8; 8] = *b"VZL-MAP\0";
/// Trailer length in bytes.
pub const TRAILER_LEN: usize = 16;

/// The records of `raw` with their frames dropped (and deltas taken), or `None`
/// when `raw` is not a run of intact records.
fn strip(raw: &[u8], delta: bool, out: &mut Vec<u8>) -> Option<u8> {
    let mut frames = Frames::new(raw, 0);
    let mut prev = (0u64, 0u64);
    for frame in frames.by_ref() {
        let Frame::Record { payload, .. } = frame else {
            return None;
        };
        put_record(out, payload, delta, &mut prev);
    }
    frames
        .stop
        .is_none()
        .then_some(if delta { DELTA } else { RECORDS })
}

/// A decoded block, whose records are rebuilt only when read: a query that wants
/// a few of a block's records pays for decompressing it, not for reframing all.
#[derive(Debug)]
pub struct Decoded {
    /// What the block's head says.
    pub head: BlockHead,
    body: Body,
}

#[derive(Debug)]
enum Body {
    /// A block kept framed: its stream is the raw bytes.
    Framed(Vec<u8>),
    /// Records without frames, each found in the stream.
    Records {
        stream: Vec<u8>,
        recs: Vec<Rec>,
        delta: bool,
    },
    /// Records grouped by tag, each group decompressed when first read.
    Grouped(Grouped),
}

impl Decoded {
    /// Appends the block's raw bytes `[from, to)` (offsets from its start); an
    /// error (a grouped block's group failing its checks) says what is wrong.
    pub fn read(&self, from: usize, to: usize, out: &mut Vec<u8>) -> Result<(), String> {
        let (stream, recs, delta) = match &self.body {
            Body::Framed(raw) => {
                out.extend_from_slice(&raw[from..to]);
                return Ok(());
            }
            Body::Grouped(grouped) => return grouped.read(from, to, out),
            Body::Records {
                stream,
                recs,
                delta,
            } => (stream, recs, *delta),
        };
        let base = out.len();
        out.resize(base + (to - from), 0);
        place(stream, recs, delta, (from, to), &mut out[base..]);
        Ok(())
    }

    /// The framed record at block offset `at` whose tag is `tag`, decoding only
    /// that tag's group, when the block is grouped and holds it; `None` otherwise
    /// (the caller then reads the bytes with [`read`](Self::read)).
    pub fn record(&self, at: usize, tag: &[u8]) -> Option<Vec<u8>> {
        match &self.body {
            Body::Grouped(grouped) => grouped.record(at, tag),
            _ => None,
        }
    }

    /// All of the block's raw bytes.
    pub fn raw(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(self.head.raw_len as usize);
        self.read(0, self.head.raw_len as usize, &mut out)?;
        Ok(out)
    }
}

/// Appends the payload of a block frame holding `raw` (segment bytes starting at
/// `logical`) to `out`. `scratch` is reused between calls.
pub fn encode_block(
    c: &Compression,
    logical: u64,
    raw: &[u8],
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    out.extend_from_slice(&[0; BLOCK_HEAD]);
    let (codec, transform, groups, crc, encoded) = match groups::split(raw, c.delta) {
        Some(split) => {
            let (codec, crc, encoded) = groups::encode(c.codec, c.level, &split, out);
            let transform = if c.delta { GROUPED_DELTA } else { GROUPED };
            (codec, transform, split.len() as u8, crc, encoded)
        }
        None => {
            scratch.clear();
            let transform = strip(raw, c.delta, scratch).unwrap_or_else(|| {
                scratch.clear();
                scratch.extend_from_slice(raw);
                FRAMED
            });
            let mut codec = c.codec;
            if !compress(codec, c.level, scratch, out)
                // Data that does not shrink (PNG images, say) is stored as it is:
                // reading it then costs nothing.
                || (codec != Codec::None && out.len() - start - BLOCK_HEAD >= scratch.len())
            {
                out.truncate(start + BLOCK_HEAD);
                codec = Codec::None;
                out.extend_from_slice(scratch);
            }
            (codec, transform, 0, crc32c::crc32c(scratch), scratch.len())
        }
    };
    let head = &mut out[start..start + BLOCK_HEAD];
    head[0] = codec as u8;
    head[1] = transform;
    head[2] = groups;
    head[4..8].copy_from_slice(&crc.to_le_bytes());
    head[8..16].copy_from_slice(&logical.to_le_bytes());
    head[16..20].copy_from_slice(&(raw.len() as u32).to_le_bytes());
    head[20..24].copy_from_slice(&(encoded as u32).to_le_bytes());
}

/// One payload (a tensor's or raw bytes' record, in sqlite://) compressed on its
/// own, or `None` when compressing does not make it smaller.
pub fn compress_payload(c: &Compression, data: &[u8]) -> Option<Vec<u8>> {
    let out = match c.codec {
        Codec::None => return None,
        Codec::Lz4 => lz4_flex::block::compress_prepend_size(data),
        Codec::Zstd => {
            let mut out = vec![0; zstd::zstd_safe::compress_bound(data.len())];
            let n = zstd_compress(data, &mut out, c.level).ok()?;
            out.truncate(n);
            out
        }
    };
    (out.len() < data.len()).then_some(out)
}

/// A payload [`compress_payload`] wrote with `codec` (its code), at most `max`
/// bytes once decompressed; the error says what is wrong.
pub fn decompress_payload(codec: u8, data: &[u8], max: usize) -> Result<Vec<u8>, String> {
    match Codec::from_u8(codec) {
        Some(Codec::None) => Ok(data.to_vec()),
        Some(Codec::Lz4) => {
            let len = data
                .get(..4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
                .ok_or("lz4 payload shorter than its length")?;
            if len > max || len / 255 > data.len() {
                return Err(format!("lz4 payload claims {len} bytes"));
            }
            lz4_flex::block::decompress_size_prepended(data).map_err(|e| format!("lz4: {e}"))
        }
        Some(Codec::Zstd) => match zstd::zstd_safe::get_frame_content_size(data) {
            Ok(Some(n)) if n <= max as u64 && n <= zstd_bound(data) => {
                zstd_decompress(data, n as usize).map_err(|e| format!("zstd: {e}"))
            }
            _ => Err("zstd payload without a size this viz accepts".to_owned()),
        },
        None => Err(format!("unknown payload codec {codec}")),
    }
}

/// What a block frame's head says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHead {
    /// Segment offset of the block's raw bytes.
    pub logical: u64,
    /// Length of the raw bytes.
    pub raw_len: u32,
}

/// The head of a block frame's payload, if it is one.
pub fn block_head(payload: &[u8]) -> Option<BlockHead> {
    if payload.len() < BLOCK_HEAD || payload[0] == MAP {
        return None;
    }
    Some(BlockHead {
        logical: le_u64(payload, 8),
        raw_len: le_u32(payload, 16),
    })
}

/// A block frame's payload decoded and checked against the CRC of what was
/// encoded (a grouped block's groups are checked when first read); the error
/// says what is wrong.
pub fn decode(payload: &[u8]) -> Result<Decoded, String> {
    let head = block_head(payload).ok_or("not a block (too short, or the map)")?;
    let codec =
        Codec::from_u8(payload[0]).ok_or_else(|| format!("unknown codec {}", payload[0]))?;
    let transform = payload[1];
    let crc = le_u32(payload, 4);
    let encoded_len = le_u32(payload, 20) as usize;
    let raw_len = head.raw_len as usize;
    let data = &payload[BLOCK_HEAD..];
    // Refuse lengths no encoder writes before allocating for them.
    if encoded_len > raw_len {
        return Err(format!(
            "encoded length {encoded_len} exceeds the raw length {raw_len}"
        ));
    }
    if let GROUPED | GROUPED_DELTA = transform {
        let groups = usize::from(payload[2]);
        let delta = transform == GROUPED_DELTA;
        let grouped = Grouped::parse(codec, delta, groups, crc, encoded_len, raw_len, data)?;
        return Ok(Decoded {
            head,
            body: Body::Grouped(grouped),
        });
    }
    let stream = decompress(codec, data, encoded_len)?;
    if crc32c::crc32c(&stream) != crc {
        return Err("decompressed bytes fail the block's CRC".to_owned());
    }
    let body = match transform {
        FRAMED if stream.len() == raw_len => Body::Framed(stream),
        FRAMED => return Err("stored records have the wrong length".to_owned()),
        RECORDS | DELTA => {
            let delta = transform == DELTA;
            let recs = index_records(&stream, delta, raw_len, false)
                .ok_or("records do not decode from the block")?;
            Body::Records {
                stream,
                recs,
                delta,
            }
        }
        t => return Err(format!("unknown transform {t}")),
    };
    Ok(Decoded { head, body })
}

/// [`decode`], with every record rebuilt: the block's raw bytes.
pub fn decode_block(payload: &[u8]) -> Result<(BlockHead, Vec<u8>), String> {
    let decoded = decode(payload)?;
    let raw = decoded.raw()?;
    Ok((decoded.head, raw))
}

/// Where one block is, logically and in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapEntry {
    /// Segment offset of the block's raw bytes.
    pub logical: u64,
    /// Their length.
    pub raw_len: u32,
    /// File offset of the block's frame.
    pub physical: u64,
    /// The frame's length, framing included.
    pub frame_len: u32,
}

/// Appends the map frame's payload.
pub fn encode_map(entries: &[MapEntry], logical_len: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&[MAP, 0, 0, 0]);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    out.extend_from_slice(&logical_len.to_le_bytes());
    for e in entries {
        out.extend_from_slice(&e.logical.to_le_bytes());
        out.extend_from_slice(&e.raw_len.to_le_bytes());
        out.extend_from_slice(&e.physical.to_le_bytes());
        out.extend_from_slice(&e.frame_len.to_le_bytes());
    }
}

/// The entries and logical length a map frame's payload holds, if it is a map
/// whose blocks follow one another.
pub fn decode_map(b: &[u8]) -> Option<(Vec<MapEntry>, u64)> {
    if b.len() < MAP_HEAD || b[0] != MAP {
        return None;
    }
    let n = le_u32(b, 4) as usize;
    let logical_len = le_u64(b, 8);
    if b.len() != MAP_HEAD + n.checked_mul(MAP_ENTRY)? {
        return None;
    }
    let entries: Vec<MapEntry> = b[MAP_HEAD..]
        .chunks_exact(MAP_ENTRY)
        .map(|e| MapEntry {
            logical: le_u64(e, 0),
            raw_len: le_u32(e, 8),
            physical: le_u64(e, 12),
            frame_len: le_u32(e, 20),
        })
        .collect();
    // Sealing writes blocks that follow one another with no gap, ending the records:
    // a map saying otherwise (which would make readers fill gaps) is not trusted.
    let ordered = entries.windows(2).all(|w| {
        w[0].logical.checked_add(u64::from(w[0].raw_len)) == Some(w[1].logical)
            && w[0].physical + u64::from(w[0].frame_len) <= w[1].physical
    });
    let ends = match entries.last() {
        Some(e) => e.logical.checked_add(u64::from(e.raw_len)) == Some(logical_len),
        None => true,
    };
    (ordered && ends).then_some((entries, logical_len))
}

/// The version 2 body of a segment: `raw` is the whole version 1 segment (header
/// included), cut into blocks at `starts` (segment offsets, ascending, the first
/// one past the header). Returns the bytes that follow the new header.
pub fn seal(c: &Compression, raw: &[u8], starts: &[u64], header_len: u64) -> Vec<u8> {
    let spans = block_spans(starts, header_len, raw.len() as u64);
    let mut scratch = Vec::new();
    let framed: Vec<Vec<u8>> = spans
        .iter()
        .map(|&(from, to)| seal_block(c, from, &raw[from as usize..to as usize], &mut scratch))
        .collect();
    seal_body(&spans, &framed, raw.len() as u64, header_len)
}

/// The `(from, to)` segment offsets of the blocks a segment of `len` bytes is
/// cut into at `starts` (as [`seal`] takes them): contiguous, from the header's
/// end to `len`, none empty.
pub fn block_spans(starts: &[u64], header_len: u64, len: u64) -> Vec<(u64, u64)> {
    let mut bounds: Vec<u64> = starts
        .iter()
        .copied()
        .filter(|&s| s >= header_len && s < len)
        .collect();
    if bounds.first() != Some(&header_len) {
        bounds.insert(0, header_len);
    }
    bounds.dedup();
    let mut spans = Vec::with_capacity(bounds.len());
    for (i, &from) in bounds.iter().enumerate() {
        let to = bounds.get(i + 1).copied().unwrap_or(len);
        if from < to {
            spans.push((from, to));
        }
    }
    spans
}

/// One block frame holding `raw` (segment bytes starting at `logical`): the
/// unit of sealing work, independent of every other block. `scratch` is reused
/// between calls.
pub fn seal_block(c: &Compression, logical: u64, raw: &[u8], scratch: &mut Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() / 3);
    segment::frame(&mut out, |o| encode_block(c, logical, raw, scratch, o))
        .expect("a block is at most one index block or one record");
    out
}

/// The version 2 body from its block frames ([`seal_block`] of each of `spans`,
/// in order) for a version 1 segment of `len` bytes: the blocks, the block map
/// and the trailer.
pub fn seal_body<F: AsRef<[u8]>>(
    spans: &[(u64, u64)],
    framed: &[F],
    len: u64,
    header_len: u64,
) -> Vec<u8> {
    let size: usize = framed.iter().map(|f| f.as_ref().len()).sum();
    let mut out = Vec::with_capacity(size + 64);
    let mut entries = Vec::with_capacity(spans.len());
    for (&(from, to), frame) in spans.iter().zip(framed) {
        let frame = frame.as_ref();
        entries.push(MapEntry {
            logical: from,
            raw_len: (to - from) as u32,
            physical: header_len + out.len() as u64,
            frame_len: frame.len() as u32,
        });
        out.extend_from_slice(frame);
    }
    let map_at = header_len + out.len() as u64;
    segment::frame(&mut out, |o| encode_map(&entries, len, o)).expect("a map is small");
    out.extend_from_slice(&map_at.to_le_bytes());
    out.extend_from_slice(&TRAILER_MAGIC);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::vizlog::codec;
    use crate::format::vizlog::groups::{ENTRY, MAX_GROUPS, group_of};
    use crate::format::vizlog::segment::FRAME_LEN;

    /// Every codec, without and with delta.
    fn every_compression() -> impl Iterator<Item = Compression> {
        [Codec::None, Codec::Lz4, Codec::Zstd]
            .into_iter()
            .flat_map(|codec| {
                [false, true].map(|delta| Compression {
                    codec,
                    level: 3,
                    delta,
                })
            })
    }

    /// `n` scalars over `tags` tags, interleaved as a training loop logs them.
    fn tagged(n: usize, tags: usize) -> Vec<u8> {
        let mut raw = Vec::new();
        for i in 0..n {
            let tag = format!("train/tag{}", i % tags);
            let mut event =
                crate::event::Event::scalar(&tag, (i / tags) as i64, 1.0 / (i + 1) as f64).unwrap();
            event.wall_time = Some(1.7e9 + i as f64 * 0.001);
            segment::frame(&mut raw, |o| codec::encode(&event, o)).unwrap();
        }
        raw
    }

    fn encoded(c: &Compression, raw: &[u8]) -> Vec<u8> {
        let mut payload = Vec::new();
        encode_block(c, 32, raw, &mut Vec::new(), &mut payload);
        payload
    }

    /// Each record of `raw`: its offset, framed bytes and tag.
    fn each(raw: &[u8]) -> Vec<(usize, &[u8], &[u8])> {
        Frames::new(raw, 0)
            .map(|f| match f {
                Frame::Record { offset, payload } => {
                    let at = offset as usize;
                    let tag = codec::peek(payload).unwrap().tag;
                    (at, &raw[at..at + FRAME_LEN + payload.len()], tag)
                }
                other => panic!("intact records only: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn many_tags_are_grouped_and_round_trip_under_every_codec() {
        let raw = tagged(600, 40);
        for c in every_compression() {
            let (codec, delta) = (c.codec, c.delta);
            let payload = encoded(&c, &raw);
            assert_eq!(payload[1], if delta { 4 } else { 3 }, "grouped");
            assert_eq!(usize::from(payload[2]), MAX_GROUPS);
            assert_eq!(decode_block(&payload).unwrap().1, raw, "{codec:?} {delta}");
            // A flipped bit anywhere is caught, never decoded into records.
            for i in (0..payload.len()).step_by(5) {
                let mut bad = payload.clone();
                bad[i] ^= 0x08;
                if let Ok((_, got)) = decode_block(&bad) {
                    assert_eq!(
                        got, raw,
                        "{codec:?} {delta}: a flip at {i} changed the records"
                    );
                }
            }
        }
        // One tag has nothing to group by.
        assert_eq!(encoded(&Compression::LZ4, &tagged(100, 1))[1], 2);
        // Two tags make two groups.
        assert_eq!(encoded(&Compression::LZ4, &tagged(100, 2))[2], 2);
    }

    #[test]
    fn a_record_reads_from_its_tags_group_alone_and_a_damaged_group_is_named() {
        let raw = tagged(600, 40);
        let mut payload = encoded(&Compression::LZ4, &raw);
        let decoded = decode(&payload).unwrap();
        for (at, framed, tag) in each(&raw) {
            assert_eq!(decoded.record(at, tag).as_deref(), Some(framed));
        }
        assert_eq!(
            decoded.record(1, b"train/tag0"),
            None,
            "no record starts there"
        );

        // Damage the stored bytes of the group of train/tag7.
        let damaged = group_of(b"train/tag7", MAX_GROUPS);
        let table = &payload[BLOCK_HEAD..BLOCK_HEAD + MAX_GROUPS * ENTRY];
        let start: usize = (0..damaged)
            .map(|g| le_u32(table, g * ENTRY) as usize)
            .sum();
        let at = BLOCK_HEAD + MAX_GROUPS * ENTRY + start + 3;
        payload[at] ^= 0x40;
        let decoded = decode(&payload).unwrap();
        // Every other group still reads, without touching the damaged one.
        for (at, framed, tag) in each(&raw) {
            let got = decoded.record(at, tag);
            if group_of(tag, MAX_GROUPS) == damaged {
                assert_eq!(got, None);
            } else {
                assert_eq!(got.as_deref(), Some(framed));
            }
        }
        let why = decoded.read(0, raw.len(), &mut Vec::new()).unwrap_err();
        assert!(why.contains(&format!("group {damaged}")), "{why}");
    }

    fn records(n: usize) -> Vec<u8> {
        let mut raw = Vec::new();
        for i in 0..n {
            let mut event =
                crate::event::Event::scalar("loss", i as i64 / 3, 1.0 / (i + 1) as f64).unwrap();
            event.wall_time = Some(1.7e9 + i as f64 * 0.001);
            segment::frame(&mut raw, |o| super::super::codec::encode(&event, o)).unwrap();
        }
        raw
    }

    #[test]
    fn every_codec_and_transform_round_trips_and_checks_what_it_decodes() {
        let raw = records(500);
        for c in every_compression() {
            let (codec, delta) = (c.codec, c.delta);
            let mut payload = Vec::new();
            encode_block(&c, 32, &raw, &mut Vec::new(), &mut payload);
            let (head, back) = decode_block(&payload).unwrap();
            assert_eq!(head.logical, 32);
            assert_eq!(back, raw, "{codec:?} delta {delta}");
            if codec != Codec::None {
                assert!(
                    payload.len() < raw.len() / 3,
                    "{codec:?}: {}",
                    payload.len()
                );
            }
            // Any single flipped bit is caught, never decoded into records.
            for i in (0..payload.len()).step_by(7) {
                let mut bad = payload.clone();
                bad[i] ^= 0x10;
                if let Ok((_, got)) = decode_block(&bad) {
                    assert_eq!(got, raw, "a flip at {i} changed the records");
                }
            }
        }
    }

    #[test]
    fn damaged_records_are_kept_framed_and_incompressible_data_is_stored() {
        let mut raw = records(10);
        raw[40] ^= 1;
        let mut payload = Vec::new();
        encode_block(&Compression::ZSTD, 32, &raw, &mut Vec::new(), &mut payload);
        assert_eq!(payload[1], FRAMED);
        assert_eq!(decode_block(&payload).unwrap().1, raw);

        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        let mut one = Vec::new();
        segment::frame(&mut one, |o| o.extend_from_slice(&noise)).unwrap();
        let mut payload = Vec::new();
        encode_block(&Compression::ZSTD, 32, &one, &mut Vec::new(), &mut payload);
        assert_eq!(payload[0], Codec::None as u8);
        assert_eq!(decode_block(&payload).unwrap().1, one);
    }

    #[test]
    fn a_zstd_frame_claiming_more_than_it_can_hold_is_refused_before_allocating() {
        // A megabyte of zeros compresses to a few dozen bytes, and still decodes.
        let zeros = vec![0u8; 1 << 20];
        let packed = compress_payload(&Compression::ZSTD, &zeros).unwrap();
        assert!(packed.len() < 200, "{}", packed.len());
        assert_eq!(decompress_payload(2, &packed, 1 << 20).unwrap(), zeros);
        // Its header alone claims the same megabyte, which 14 bytes cannot hold.
        let e = decompress_payload(2, &packed[..14], 1 << 20).unwrap_err();
        assert!(e.contains("zstd payload"), "{e}");
    }

    #[test]
    fn seal_writes_a_map_that_finds_every_block() {
        let mut raw = vec![0u8; 32];
        raw.extend(records(300));
        let offsets: Vec<u64> = Frames::new(&raw[32..], 32)
            .map(|f| match f {
                Frame::Record { offset, .. } => offset,
                _ => panic!("intact"),
            })
            .collect();
        let starts = [offsets[0], offsets[63], offsets[190]];
        let body = seal(&Compression::ZSTD, &raw, &starts, 32);
        let tail = &body[body.len() - TRAILER_LEN..];
        assert_eq!(tail[8..], TRAILER_MAGIC);
        let map_at = le_u64(tail, 0) as usize - 32;
        let segment::At::Record(map) = segment::frame_at(&body[map_at..]) else {
            panic!("map frame")
        };
        let (entries, len) = decode_map(map).unwrap();
        assert_eq!(len, raw.len() as u64);
        assert_eq!(entries.len(), 3);
        let mut back = raw[..32].to_vec();
        for e in &entries {
            let at = e.physical as usize - 32;
            let segment::At::Record(p) = segment::frame_at(&body[at..]) else {
                panic!("block frame")
            };
            let (head, bytes) = decode_block(p).unwrap();
            assert_eq!(head.logical, e.logical);
            back.extend(bytes);
        }
        assert_eq!(back, raw);
    }
}
