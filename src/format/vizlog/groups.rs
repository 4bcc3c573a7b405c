//! Records grouped by tag inside a compressed block, so that a read for one tag
//! decompresses only that tag's group.
//!
//! Tags interleave in a log: in a block of a run logging 100 tags, one tag holds
//! about 1% of the records, yet an ungrouped block must be decompressed whole to
//! reach any of them. A block of records with two or more tags is therefore split
//! into up to [`MAX_GROUPS`] groups by a hash of each record's tag ([`group_of`]),
//! and each group is encoded and compressed on its own. A reader that knows the
//! tag it wants (the tag index's postings say so) decodes one group; a reader of
//! a byte range decodes every group and puts each record back at its offset.
//!
//! A group holds its records in block order, each encoded as an ungrouped block
//! encodes it (`blocks.rs`: a varint length instead of the frame, with the step
//! and wall time delta-encoded against the group's previous record), preceded by
//! one more varint: the bytes between the previous record of the group and this
//! one, so a group finds its records' offsets without the other groups.
//!
//! ```text
//! block payload: codec u8 | 3, or 4 with delta, u8 | groups u8 | 0 u8 | CRC32C of the table u32
//!                | logical offset u64 | raw length u32 | encoded length (all groups) u32
//!                | groups × (stored length u32, encoded length u32, CRC32C of the encoded bytes u32)
//!                | the groups' stored bytes, in order
//! ```

use std::sync::OnceLock;

use super::codec;
use super::compressor::{self, Codec};
use super::records::{self, Rec};
use super::segment::{FRAME_LEN, Frame, Frames};

/// The most groups a block is split into. More would make one tag's reads cheaper
/// still, at the cost of smaller groups, which compress worse.
pub const MAX_GROUPS: usize = 16;
/// Bytes per entry of the group table.
pub const ENTRY: usize = 12;

/// The group, among `groups`, of records whose tag is `tag`. The hash is viz's
/// own, fixed by the format: std's may change between releases.
pub fn group_of(tag: &[u8], groups: usize) -> usize {
    hash(tag) as usize % groups
}

/// Eight bytes at a time, then murmur3's finalizer: a tag costs two or three
/// multiplications. A byte-at-a-time hash (FNV-1a) was the largest cost of
/// splitting a block when profiled.
fn hash(tag: &[u8]) -> u32 {
    let mut h = 0x9e37_79b9_7f4a_7c15u64 ^ tag.len() as u64;
    for chunk in tag.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h = h.rotate_left(31);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h as u32
}

/// `raw`'s records encoded group by group, or `None` when `raw` is not a run of
/// intact, decodable records with at least two tags (which the caller encodes
/// ungrouped).
pub fn split(raw: &[u8], delta: bool) -> Option<Vec<Vec<u8>>> {
    // Each record with its tag's hash, from which its group follows.
    let mut records: Vec<(usize, &[u8], u32)> = Vec::new();
    let mut frames = Frames::new(raw, 0);
    for frame in frames.by_ref() {
        let Frame::Record { offset, payload } = frame else {
            return None;
        };
        records.push((offset as usize, payload, hash(codec::peek(payload)?.tag)));
    }
    if frames.stop.is_some() {
        return None;
    }
    // Distinct tags, counted by their hashes up to MAX_GROUPS (a collision only
    // means fewer groups).
    let mut seen = [0u32; MAX_GROUPS];
    let mut distinct = 0;
    for r in &records {
        if distinct == MAX_GROUPS {
            break;
        }
        if !seen[..distinct].contains(&r.2) {
            seen[distinct] = r.2;
            distinct += 1;
        }
    }
    if distinct < 2 {
        return None;
    }
    let groups = distinct;
    let mut out = vec![Vec::with_capacity(raw.len() / groups); groups];
    // Per group: where its previous record ended, and that record's step and wall.
    let mut state = vec![(0usize, (0u64, 0u64)); groups];
    for (at, payload, h) in records {
        let g = h as usize % groups;
        let (end, prev) = &mut state[g];
        records::put_varint(&mut out[g], (at - *end) as u64);
        records::put_record(&mut out[g], payload, delta, prev);
        *end = at + FRAME_LEN + payload.len();
    }
    Some(out)
}

/// One group's place in a block's table.
#[derive(Clone, Copy, Debug)]
struct Entry {
    stored: usize,
    encoded: usize,
    crc: u32,
}

/// A decoded group: its encoded bytes and where each record is.
#[derive(Debug)]
struct Group {
    stream: Vec<u8>,
    recs: Vec<Rec>,
}

/// A grouped block, each group decompressed the first time a read needs it.
#[derive(Debug)]
pub struct Grouped {
    codec: Codec,
    delta: bool,
    raw_len: usize,
    /// The groups' stored bytes, in order.
    stored: Vec<u8>,
    /// Each group's start in `stored`, and its table entry.
    entries: Vec<(usize, Entry)>,
    groups: Vec<OnceLock<Result<Group, String>>>,
}

impl Grouped {
    /// Parses a grouped block's table and keeps its stored bytes; nothing is
    /// decompressed yet. `rest` follows the block head; the error says what is wrong.
    pub fn parse(
        codec: Codec,
        delta: bool,
        groups: usize,
        table_crc: u32,
        encoded_len: usize,
        raw_len: usize,
        rest: &[u8],
    ) -> Result<Grouped, String> {
        if groups == 0 || groups > MAX_GROUPS {
            return Err(format!("{groups} groups (1 to {MAX_GROUPS} are valid)"));
        }
        let table = rest
            .get(..groups * ENTRY)
            .ok_or("the group table is cut short")?;
        if crc32c::crc32c(table) != table_crc {
            return Err("the group table fails its CRC".to_owned());
        }
        let (mut at, mut encoded) = (0usize, 0usize);
        let mut entries = Vec::with_capacity(groups);
        for e in table.chunks_exact(ENTRY) {
            let entry = Entry {
                stored: records::le_u32(e, 0) as usize,
                encoded: records::le_u32(e, 4) as usize,
                crc: records::le_u32(e, 8),
            };
            entries.push((at, entry));
            at = at
                .checked_add(entry.stored)
                .ok_or("group lengths overflow")?;
            encoded = encoded
                .checked_add(entry.encoded)
                .ok_or("group lengths overflow")?;
        }
        let stored = &rest[groups * ENTRY..];
        if at != stored.len() || encoded != encoded_len {
            return Err("the group table disagrees with the block's lengths".to_owned());
        }
        Ok(Grouped {
            codec,
            delta,
            raw_len,
            stored: stored.to_vec(),
            entries,
            groups: (0..groups).map(|_| OnceLock::new()).collect(),
        })
    }

    fn group(&self, g: usize) -> Result<&Group, String> {
        self.groups[g]
            .get_or_init(|| {
                let (at, e) = self.entries[g];
                let data = &self.stored[at..at + e.stored];
                let stream = compressor::decompress(self.codec, data, e.encoded)?;
                if crc32c::crc32c(&stream) != e.crc {
                    return Err(format!("group {g}'s decompressed bytes fail their CRC"));
                }
                let recs = records::index_records(&stream, self.delta, self.raw_len, true)
                    .ok_or_else(|| format!("group {g}'s records do not decode"))?;
                Ok(Group { stream, recs })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Appends the block's raw bytes `[from, to)`: every group's records in that
    /// range, each at its offset. Bytes no record covers (only in a crafted block)
    /// read as zeros, which readers see as damaged framing.
    pub fn read(&self, from: usize, to: usize, out: &mut Vec<u8>) -> Result<(), String> {
        let base = out.len();
        out.resize(base + (to - from), 0);
        for g in 0..self.groups.len() {
            let group = self.group(g)?;
            records::place(
                &group.stream,
                &group.recs,
                self.delta,
                (from, to),
                &mut out[base..],
            );
        }
        Ok(())
    }

    /// The framed record at block offset `at`, if the group of `tag` holds one
    /// there; `None` sends the caller to [`read`](Self::read), which reports damage.
    pub fn record(&self, at: usize, tag: &[u8]) -> Option<Vec<u8>> {
        let group = self.group(group_of(tag, self.groups.len())).ok()?;
        let i = group
            .recs
            .binary_search_by_key(&at, |r| r.at as usize)
            .ok()?;
        let mut out = Vec::with_capacity(FRAME_LEN + group.recs[i].len as usize);
        records::rebuild(&group.stream, &group.recs[i], self.delta, &mut out);
        Some(out)
    }
}

/// Appends a grouped block's table and stored groups (each compressed with
/// `codec`) to `out`; returns the codec used ([`Codec::None`] when compressing did
/// not shrink the groups), the table's CRC and the encoded length.
pub fn encode(
    codec: Codec,
    level: i32,
    groups: &[Vec<u8>],
    out: &mut Vec<u8>,
) -> (Codec, u32, usize) {
    let encoded: usize = groups.iter().map(Vec::len).sum();
    let table_at = out.len();
    let data_at = table_at + groups.len() * ENTRY;
    out.resize(data_at, 0);
    let mut stored = Vec::with_capacity(groups.len());
    let mut used = codec;
    if codec != Codec::None {
        for g in groups {
            let before = out.len();
            if !compressor::compress(codec, level, g, out) {
                used = Codec::None;
                break;
            }
            stored.push(out.len() - before);
        }
        // Data that does not shrink is stored as it is: reading it then costs nothing.
        if out.len() - data_at >= encoded {
            used = Codec::None;
        }
    }
    if used == Codec::None {
        out.truncate(data_at);
        stored.clear();
        for g in groups {
            out.extend_from_slice(g);
            stored.push(g.len());
        }
    }
    for (i, g) in groups.iter().enumerate() {
        let e = &mut out[table_at + i * ENTRY..table_at + (i + 1) * ENTRY];
        e[0..4].copy_from_slice(&(stored[i] as u32).to_le_bytes());
        e[4..8].copy_from_slice(&(g.len() as u32).to_le_bytes());
        e[8..12].copy_from_slice(&crc32c::crc32c(g).to_le_bytes());
    }
    let crc = crc32c::crc32c(&out[table_at..data_at]);
    (used, crc, encoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_of_never_changes() {
        // The format depends on these: a reader must find the group the writer chose.
        // hash("train/loss") is 0x95d41dce, computed independently (in Python).
        assert_eq!(hash(b"train/loss"), 0x95d4_1dce);
        assert_eq!(group_of(b"train/loss", 16), 0x95d4_1dce % 16);
        let spread: std::collections::HashSet<usize> = (0..100)
            .map(|i| group_of(format!("bench/tag{i:03}").as_bytes(), 16))
            .collect();
        assert_eq!(spread.len(), 16, "100 tags fill every group");
    }
}
