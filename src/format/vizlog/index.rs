//! The sparse step index of a segment: one entry per block of about
//! [`BLOCK_BYTES`], holding the block's first byte offset and its step range.
//!
//! Steps need not increase (several tags share a step; a resumed run may go
//! back), so each block keeps its own min and max and a range read visits every
//! block that overlaps. The index is kept in memory by the writer and saved beside
//! the segment as `<base>.vzi` (a cache: a missing, damaged or stale one is rebuilt
//! from the segment).
//!
//! ```text
//! sidecar: magic "VIZ-IDX\0" | version u32 | CRC32C of the rest u32 | covered length u64
//!          | records u64 | segment base offset u64 | segment created unix ms u64
//!          | damaged spans u32 | entries u32 | entries × (offset u64, min step i64, max step i64)
//!          | has tags u8 (0 no, 1 yes, 2 compressed) [| the tag index, see `tags.rs`, or
//!          it compressed with zstd]
//! ```
//!
//! The writer saves the tag index with a segment when it seals it (and on
//! shutdown); the sidecar it saves at each flush of the active segment leaves it out,
//! since rewriting every record's posting each flush would cost the writer more
//! than a reader pays to index the active segment once (and then incrementally,
//! through the read cache).
//!
//! The sidecar names the segment it indexes (base offset and creation time, from the
//! segment header), so one left from another segment is never trusted. Version 1
//! sidecars, which did not, are rebuilt.

/// Bytes of records per index entry: small enough that a narrow read touches
/// little, large enough that the index is 1/2700 of the data.
pub const BLOCK_BYTES: u64 = 64 * 1024;

use super::blocks;
use super::codec::Peek;
use super::segment::Header;
use super::tags::TagIndex;

const MAGIC: [u8; 8] = *b"VIZ-IDX\0";
const VERSION: u32 = 3;
const FIXED: usize = 8 + 4 + 4 + 8 + 8 + 8 + 8 + 4 + 4;
const ENTRY: usize = 24;
/// The tag section's marker when it is compressed. Readers from before it rebuild
/// such a sidecar, as they do any they cannot parse.
const PACKED: u8 = 2;
/// The most a compressed tag section may expand to: well past what a 4 GiB
/// segment's records need.
const MAX_TAGS_BYTES: usize = 1 << 31;

/// One block of records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// Segment offset of the block's first record.
    pub offset: u64,
    /// Smallest step in the block.
    pub min_step: i64,
    /// Largest step in the block.
    pub max_step: i64,
}

/// The index of one segment.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentIndex {
    /// Blocks in file order.
    pub blocks: Vec<Block>,
    /// Segment bytes the index covers (header included).
    pub covered: u64,
    /// Records (intact or not) in the covered bytes, damaged spans not counted.
    pub records: u64,
    /// Stretches of damaged framing in the covered bytes; each hid an unknown
    /// number of records, so `records` is then a lower bound.
    pub damaged_spans: u32,
    /// Where each tag's records are (complete only when `has_tags`).
    pub tags: TagIndex,
    /// Whether `tags` covers every record in the covered bytes.
    pub has_tags: bool,
}

/// Enough of an index to undo the records noted after it.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    blocks: usize,
    last: Option<Block>,
    covered: u64,
    records: u64,
    damaged_spans: u32,
    tag_records: usize,
}

impl SegmentIndex {
    /// The index of a segment holding only its header.
    pub fn empty(header_len: u64) -> SegmentIndex {
        SegmentIndex {
            blocks: Vec::new(),
            covered: header_len,
            records: 0,
            damaged_spans: 0,
            tags: TagIndex::default(),
            has_tags: true,
        }
    }

    /// Records a stretch of `len` damaged bytes at `offset` (which must be
    /// `covered`): covered, but holding no record the index can count.
    pub fn note_damage(&mut self, offset: u64, len: u64) {
        debug_assert_eq!(offset, self.covered);
        self.covered = offset + len;
        self.damaged_spans += 1;
        if self.blocks.is_empty() {
            self.blocks.push(Block {
                offset,
                min_step: i64::MAX,
                max_step: i64::MIN,
            });
        }
    }

    /// Records a frame of `len` bytes at `offset` (which must be `covered`), with
    /// what its payload holds (`None` for a damaged one).
    pub fn note(&mut self, offset: u64, len: u64, peek: Option<Peek<'_>>) {
        self.note_tagged(offset, len, peek, None);
    }

    /// [`note`](Self::note), by a writer that knows the record's interned tag id.
    pub fn note_tagged(
        &mut self,
        offset: u64,
        len: u64,
        peek: Option<Peek<'_>>,
        tag_id: Option<u32>,
    ) {
        debug_assert_eq!(offset, self.covered);
        self.covered = offset + len;
        self.records += 1;
        if self.has_tags {
            self.tags.note(offset, peek, tag_id);
        }
        let step = peek.map(|p| p.step);
        // A damaged record has no step; it still belongs to the block it sits in.
        let Some(step) = step else {
            if self.blocks.is_empty() {
                self.blocks.push(Block {
                    offset,
                    min_step: i64::MAX,
                    max_step: i64::MIN,
                });
            }
            return;
        };
        match self.blocks.last_mut() {
            Some(b) if offset - b.offset < BLOCK_BYTES => {
                b.min_step = b.min_step.min(step);
                b.max_step = b.max_step.max(step);
            }
            _ => self.blocks.push(Block {
                offset,
                min_step: step,
                max_step: step,
            }),
        }
    }

    /// A point to [`rewind`](Self::rewind) to.
    pub fn mark(&self) -> Mark {
        Mark {
            blocks: self.blocks.len(),
            last: self.blocks.last().copied(),
            covered: self.covered,
            records: self.records,
            damaged_spans: self.damaged_spans,
            tag_records: self.tags.records(),
        }
    }

    /// Forgets every record noted since `mark`. The tag index cannot take records
    /// back, so when it had noted any it is left incomplete (`has_tags` false) for
    /// the caller to rebuild from the segment's bytes.
    pub fn rewind(&mut self, mark: Mark) {
        if self.tags.records() != mark.tag_records {
            self.tags = TagIndex::default();
            self.has_tags = false;
        }
        self.blocks.truncate(mark.blocks);
        if let (Some(b), Some(last)) = (self.blocks.last_mut(), mark.last) {
            *b = last;
        }
        self.covered = mark.covered;
        self.records = mark.records;
        self.damaged_spans = mark.damaged_spans;
    }

    /// The step range of the whole segment, if it holds any readable record.
    pub fn steps(&self) -> Option<(i64, i64)> {
        self.blocks
            .iter()
            .filter(|b| b.min_step <= b.max_step)
            .fold(None, |acc, b| match acc {
                None => Some((b.min_step, b.max_step)),
                Some((lo, hi)) => Some((lo.min(b.min_step), hi.max(b.max_step))),
            })
    }

    /// Whether any readable record may have a step in `start..=end`.
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        self.steps()
            .is_some_and(|(lo, hi)| lo <= end && hi >= start)
    }

    /// Byte ranges `[from, to)` of the blocks overlapping `start..=end`, adjacent
    /// ones merged so a read makes one request per run of blocks.
    pub fn ranges(&self, start: i64, end: i64) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (i, b) in self.blocks.iter().enumerate() {
            if b.max_step < start || b.min_step > end {
                continue;
            }
            let to = self.blocks.get(i + 1).map_or(self.covered, |n| n.offset);
            match out.last_mut() {
                Some(last) if last.1 == b.offset => last.1 = to,
                _ => out.push((b.offset, to)),
            }
        }
        out
    }

    /// The sidecar file's bytes, for the segment whose header is `segment`, with
    /// the tag index if `with_tags` (and it is complete).
    pub fn encode(&self, segment: &Header, with_tags: bool) -> Vec<u8> {
        self.encode_as(segment, with_tags, false)
    }

    /// [`encode`](Self::encode) with the tag index compressed (zstd): what a
    /// sealed segment keeps, where the tag index is most of the bytes on disk.
    pub fn encode_packed(&self, segment: &Header) -> Vec<u8> {
        self.encode_as(segment, true, true)
    }

    fn encode_as(&self, segment: &Header, with_tags: bool, packed: bool) -> Vec<u8> {
        let mut b = Vec::with_capacity(FIXED + ENTRY * self.blocks.len());
        b.extend_from_slice(&MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&self.covered.to_le_bytes());
        b.extend_from_slice(&self.records.to_le_bytes());
        b.extend_from_slice(&segment.base_offset.to_le_bytes());
        b.extend_from_slice(&segment.created_unix_ms.to_le_bytes());
        b.extend_from_slice(&self.damaged_spans.to_le_bytes());
        b.extend_from_slice(&(self.blocks.len() as u32).to_le_bytes());
        for e in &self.blocks {
            b.extend_from_slice(&e.offset.to_le_bytes());
            b.extend_from_slice(&e.min_step.to_le_bytes());
            b.extend_from_slice(&e.max_step.to_le_bytes());
        }
        if with_tags && self.has_tags {
            let mut tags = Vec::new();
            self.tags.encode(&mut tags);
            match blocks::compress_payload(&blocks::Compression::ZSTD, &tags).filter(|_| packed) {
                Some(z) => {
                    b.push(PACKED);
                    b.extend_from_slice(&z);
                }
                None => {
                    b.push(1);
                    b.extend_from_slice(&tags);
                }
            }
        } else {
            b.push(0);
        }
        let crc = crc32c::crc32c(&b[16..]);
        b[12..16].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses a sidecar; `None` when it is not a well-formed current-version index
    /// of the segment whose header is `segment` (the caller rebuilds it then). The
    /// tag index is parsed only if `want_tags` (else `has_tags` is false).
    pub fn decode(b: &[u8], segment: &Header, want_tags: bool) -> Option<SegmentIndex> {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        if b.len() < FIXED
            || b[..8] != MAGIC
            || b[8..12] != VERSION.to_le_bytes()
            || b[12..16] != crc32c::crc32c(&b[16..]).to_le_bytes()
            || u64_at(32) != segment.base_offset
            || u64_at(40) != segment.created_unix_ms
        {
            return None;
        }
        let n = u32_at(52) as usize;
        let end = FIXED + n.checked_mul(ENTRY)?;
        let (has_tags, tags) = match b.get(end..)? {
            [0] => (false, TagIndex::default()),
            [1, rest @ ..] if want_tags => (true, TagIndex::decode(rest)?),
            [PACKED, rest @ ..] if want_tags => {
                let tags =
                    blocks::decompress_payload(blocks::Codec::Zstd as u8, rest, MAX_TAGS_BYTES)
                        .ok()?;
                (true, TagIndex::decode(&tags)?)
            }
            [1 | PACKED, ..] => (false, TagIndex::default()),
            _ => return None,
        };
        let blocks: Vec<Block> = (0..n)
            .map(|i| {
                let at = FIXED + i * ENTRY;
                Block {
                    offset: u64_at(at),
                    min_step: u64_at(at + 8) as i64,
                    max_step: u64_at(at + 16) as i64,
                }
            })
            .collect();
        let covered = u64_at(16);
        // Blocks in file order and inside the covered bytes, or it is not ours.
        if blocks.windows(2).any(|w| w[0].offset >= w[1].offset)
            || blocks.last().is_some_and(|b| b.offset >= covered)
        {
            return None;
        }
        Some(SegmentIndex {
            blocks,
            covered,
            records: u64_at(24),
            damaged_spans: u32_at(48),
            has_tags: has_tags && !tags.overflow,
            tags,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peek(step: i64) -> Option<Peek<'static>> {
        Some(Peek {
            kind: 0,
            step,
            tag: b"t",
            scalar: Some(1.0),
        })
    }

    #[test]
    fn blocks_split_by_bytes_and_ranges_select_overlaps() {
        let mut idx = SegmentIndex::empty(32);
        let mut at = 32;
        for step in 0..10_000i64 {
            idx.note(at, 40, peek(step));
            at += 40;
        }
        assert!(idx.blocks.len() > 5, "{}", idx.blocks.len());
        assert_eq!(idx.steps(), Some((0, 9_999)));
        let ranges = idx.ranges(5_000, 5_010);
        assert_eq!(ranges.len(), 1);
        let (from, to) = ranges[0];
        assert!(to - from <= BLOCK_BYTES + 40, "{ranges:?}");
        assert!(from <= 32 + 5_000 * 40 && to >= 32 + 5_011 * 40);
        assert_eq!(idx.ranges(0, i64::MAX), vec![(32, at)]);
        assert!(idx.ranges(10_000, 20_000).is_empty());

        let header = Header {
            base_offset: 7,
            created_unix_ms: 99,
            layout: Default::default(),
        };
        let back = SegmentIndex::decode(&idx.encode(&header, true), &header, true).unwrap();
        assert_eq!(back, idx);
        let packed = idx.encode_packed(&header);
        assert!(packed.len() * 3 < idx.encode(&header, true).len());
        assert_eq!(SegmentIndex::decode(&packed, &header, true).unwrap(), idx);
        let mut damaged = packed.clone();
        let last = damaged.len() - 3;
        damaged[last] ^= 1;
        damaged[12..16].fill(0);
        let crc = crc32c::crc32c(&damaged[16..]);
        damaged[12..16].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            SegmentIndex::decode(&damaged, &header, true),
            None,
            "a bad zstd frame"
        );
        let without = SegmentIndex::decode(&idx.encode(&header, false), &header, true).unwrap();
        assert!(!without.has_tags && without.blocks == idx.blocks);
        let skipped = SegmentIndex::decode(&idx.encode(&header, true), &header, false).unwrap();
        assert!(!skipped.has_tags && skipped.blocks == idx.blocks);
        let mut damaged = idx.encode(&header, true);
        damaged[60] ^= 1;
        assert_eq!(SegmentIndex::decode(&damaged, &header, true), None);
        // Another segment's sidecar is not this one's.
        let other = Header {
            base_offset: 8,
            ..header
        };
        assert_eq!(
            SegmentIndex::decode(&idx.encode(&header, true), &other, true),
            None
        );
    }

    #[test]
    fn rewind_forgets_later_records() {
        let mut idx = SegmentIndex::empty(32);
        idx.note(32, 10, peek(5));
        let mark = idx.mark();
        let before = idx.clone();
        idx.rewind(mark);
        assert_eq!(idx, before, "nothing to forget");
        idx.note(42, 10, peek(-1));
        idx.note(52, BLOCK_BYTES, peek(9));
        idx.note(52 + BLOCK_BYTES, 10, peek(9));
        idx.rewind(mark);
        assert!(!idx.has_tags, "the tag index must be rebuilt");
        assert_eq!(idx.blocks, before.blocks);
        assert_eq!((idx.covered, idx.records), (before.covered, before.records));
    }
}
