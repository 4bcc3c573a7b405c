//! The tag index of a segment: for every tag, where each of its records sits, with
//! its step and kind, and a summary of its scalars per [`CHUNK`] records.
//!
//! A query for one tag reads only that tag's records (the step index alone would
//! read every block, since tags interleave); "last value of each tag" reads one
//! record per tag; aggregates and downsampling take whole chunks from their
//! summaries and read only the records at the edges of a range.
//!
//! In the sidecar, after the step index (see `index.rs`), each tag is:
//!
//! ```text
//! name length u16 | name | postings varint | steps sorted u8
//! | postings × (kind u8, step delta zigzag varint, offset delta varint)
//! | chunks × (scalars varint [, NaN-free count varint, sum f64, min f64, max f64])
//! ```
//!
//! The in-memory form costs 13 bytes a record plus 32 per chunk; on disk about 4
//! bytes a record.

use std::collections::HashMap;

use super::codec::Peek;

/// Records per scalar summary: smaller reads fewer edge records when
/// downsampling, larger keeps the index smaller.
pub const CHUNK: usize = 8;

/// Statistics of some scalars; NaN values count in `count` only.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    /// Scalars.
    pub count: u64,
    /// Scalars that are not NaN.
    pub numbers: u64,
    /// Sum of those.
    pub sum: f64,
    /// Smallest of those (NaN if none).
    pub min: f64,
    /// Largest of those (NaN if none).
    pub max: f64,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            count: 0,
            numbers: 0,
            sum: 0.0,
            min: f64::NAN,
            max: f64::NAN,
        }
    }
}

/// Bitwise, so a summary equals itself even when its min and max are NaN (no
/// value yet): equality means "the same summary", as round-trip checks need.
impl PartialEq for Summary {
    fn eq(&self, other: &Self) -> bool {
        let bits = |s: &Summary| {
            (
                s.count,
                s.numbers,
                s.sum.to_bits(),
                s.min.to_bits(),
                s.max.to_bits(),
            )
        };
        bits(self) == bits(other)
    }
}

impl Summary {
    /// Adds one scalar.
    pub fn add(&mut self, v: f64) {
        self.count += 1;
        if !v.is_nan() {
            self.numbers += 1;
            self.sum += v;
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }

    /// Adds another summary's scalars.
    pub fn merge(&mut self, other: &Summary) {
        self.count += other.count;
        self.numbers += other.numbers;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// The mean of the NaN-free values (NaN if none).
    pub fn mean(&self) -> f64 {
        if self.numbers == 0 {
            f64::NAN
        } else {
            self.sum / self.numbers as f64
        }
    }
}

/// One tag's records in a segment, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct Postings {
    /// Each record's step.
    pub steps: Vec<i64>,
    /// Each record's frame offset in the segment.
    pub offsets: Vec<u32>,
    /// Each record's kind code.
    pub kinds: Vec<u8>,
    /// Whether the steps never decrease, so step ranges are found by bisection.
    pub sorted: bool,
    /// Scalar summaries of postings `[i * CHUNK, (i + 1) * CHUNK)`.
    pub chunks: Vec<Summary>,
}

impl Default for Postings {
    fn default() -> Self {
        Postings {
            steps: Vec::new(),
            offsets: Vec::new(),
            kinds: Vec::new(),
            sorted: true,
            chunks: Vec::new(),
        }
    }
}

impl Postings {
    /// Records of the tag.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the tag has no record (never true of an indexed tag).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    fn push(&mut self, offset: u32, kind: u8, step: i64, scalar: Option<f64>) {
        if self.steps.last().is_some_and(|&last| step < last) {
            self.sorted = false;
        }
        if self.steps.len() % CHUNK == 0 {
            self.chunks.push(Summary::default());
        }
        self.steps.push(step);
        self.offsets.push(offset);
        self.kinds.push(kind);
        if let Some(v) = scalar {
            self.chunks.last_mut().expect("pushed above").add(v);
        }
    }

    /// Positions of the postings with a step in `first..=last`, in file order.
    pub fn in_steps(&self, first: i64, last: i64) -> Vec<usize> {
        if self.sorted {
            let lo = self.steps.partition_point(|&s| s < first);
            let hi = self.steps.partition_point(|&s| s <= last);
            (lo..hi.max(lo)).collect()
        } else {
            (0..self.len())
                .filter(|&i| (first..=last).contains(&self.steps[i]))
                .collect()
        }
    }
}

/// Every tag's postings in one segment.
#[derive(Clone, Debug, Default)]
pub struct TagIndex {
    tags: Vec<(Box<str>, Postings)>,
    by_name: HashMap<Box<str>, usize>,
    /// The writer's shortcut: process tag id → position in `tags` + 1 (0: not
    /// seen), so noting a record costs no hashing.
    by_id: Vec<u32>,
    /// A record sat past 4 GiB into its segment, which postings cannot address:
    /// the index is incomplete and readers scan instead.
    pub overflow: bool,
}

impl PartialEq for TagIndex {
    fn eq(&self, other: &Self) -> bool {
        self.tags == other.tags && self.overflow == other.overflow
    }
}

impl TagIndex {
    /// Notes the record whose frame starts at `offset` (`None`: one too damaged to
    /// peek at, which no tag can claim). `tag_id`, when the caller knows the
    /// record's interned tag id, spares a hash lookup.
    pub fn note(&mut self, offset: u64, peek: Option<Peek<'_>>, tag_id: Option<u32>) {
        let Some(p) = peek else { return };
        let Ok(offset) = u32::try_from(offset) else {
            self.overflow = true;
            return;
        };
        let known = tag_id.and_then(|id| self.by_id.get(id as usize)).copied();
        let i = match known {
            Some(slot) if slot > 0 => slot as usize - 1,
            _ => {
                let i = self.slot(p.tag);
                if let Some(id) = tag_id {
                    let id = id as usize;
                    if self.by_id.len() <= id {
                        self.by_id.resize(id + 1, 0);
                    }
                    self.by_id[id] = i as u32 + 1;
                }
                i
            }
        };
        self.tags[i].1.push(offset, p.kind, p.step, p.scalar);
    }

    /// The position of tag `bytes` in `tags`, added if new.
    fn slot(&mut self, bytes: &[u8]) -> usize {
        let name = String::from_utf8_lossy(bytes);
        if let Some(&i) = self.by_name.get(name.as_ref()) {
            return i;
        }
        let name: Box<str> = name.into();
        self.tags.push((name.clone(), Postings::default()));
        self.by_name.insert(name, self.tags.len() - 1);
        self.tags.len() - 1
    }

    /// Every tag with its postings.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Postings)> {
        self.tags.iter().map(|(n, p)| (n.as_ref(), p))
    }

    /// Records indexed.
    pub fn records(&self) -> usize {
        self.tags.iter().map(|(_, p)| p.len()).sum()
    }

    /// Bytes of memory it holds, roughly, for the read cache's budget.
    pub fn bytes(&self) -> usize {
        self.tags
            .iter()
            .map(|(n, p)| 2 * n.len() + 64 + 13 * p.len() + 40 * p.chunks.len())
            .sum()
    }

    /// Appends the sidecar form.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.overflow));
        put_varint(out, self.tags.len() as u64);
        for (name, p) in &self.tags {
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            put_varint(out, p.len() as u64);
            out.push(u8::from(p.sorted));
            let (mut step, mut offset) = (0i64, 0u32);
            for i in 0..p.len() {
                out.push(p.kinds[i]);
                put_varint(out, zigzag(p.steps[i].wrapping_sub(step)));
                put_varint(out, u64::from(p.offsets[i] - offset));
                (step, offset) = (p.steps[i], p.offsets[i]);
            }
            for c in &p.chunks {
                put_varint(out, c.count);
                if c.count > 0 {
                    put_varint(out, c.numbers);
                    for v in [c.sum, c.min, c.max] {
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                }
            }
        }
    }

    /// Parses the sidecar form; `None` if it is malformed or does not end the bytes.
    pub fn decode(b: &[u8]) -> Option<TagIndex> {
        let mut r = Cursor { b, at: 0 };
        let overflow = match r.u8()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        let n = r.varint()?;
        let mut index = TagIndex {
            overflow,
            ..TagIndex::default()
        };
        for _ in 0..n {
            let len = usize::from(u16::from_le_bytes(r.take(2)?.try_into().ok()?));
            let name: Box<str> = std::str::from_utf8(r.take(len)?).ok()?.into();
            let count = usize::try_from(r.varint()?).ok()?;
            // Each posting takes at least 3 bytes, so a count the bytes cannot
            // hold is refused before anything is allocated for it.
            if count > r.left() / 3 {
                return None;
            }
            let sorted = r.u8()? == 1;
            let mut p = Postings {
                steps: Vec::with_capacity(count),
                offsets: Vec::with_capacity(count),
                kinds: Vec::with_capacity(count),
                sorted,
                chunks: Vec::with_capacity(count.div_ceil(CHUNK)),
            };
            let (mut step, mut offset) = (0i64, 0u32);
            for _ in 0..count {
                p.kinds.push(r.u8()?);
                step = step.wrapping_add(unzigzag(r.varint()?));
                offset = offset.checked_add(u32::try_from(r.varint()?).ok()?)?;
                p.steps.push(step);
                p.offsets.push(offset);
            }
            // Bisection on steps that are not sorted would miss records.
            if sorted && p.steps.windows(2).any(|w| w[1] < w[0]) {
                return None;
            }
            for _ in 0..count.div_ceil(CHUNK) {
                let mut c = Summary {
                    count: r.varint()?,
                    ..Summary::default()
                };
                if c.count > 0 {
                    c.numbers = r.varint()?;
                    let mut f = || Some(f64::from_le_bytes(r.take(8)?.try_into().ok()?));
                    (c.sum, c.min, c.max) = (f()?, f()?, f()?);
                }
                p.chunks.push(c);
            }
            if index
                .by_name
                .insert(name.clone(), index.tags.len())
                .is_some()
            {
                return None;
            }
            index.tags.push((name, p));
        }
        (r.left() == 0).then_some(index)
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A bounds-checked reader: every read is `None` past the end.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn left(&self) -> usize {
        self.b.len() - self.at
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(out)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            v |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte < 0x80 {
                return Some(v);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peek(tag: &str, step: i64, scalar: Option<f64>) -> Option<Peek<'_>> {
        Some(Peek {
            kind: if scalar.is_some() { 0 } else { 1 },
            step,
            tag: tag.as_bytes(),
            scalar,
        })
    }

    #[test]
    fn postings_chunks_and_the_sidecar_form_round_trip() {
        let mut idx = TagIndex::default();
        for i in 0..100i64 {
            idx.note(
                32 + 40 * i as u64,
                peek(if i % 2 == 0 { "a" } else { "b" }, i / 2, Some(i as f64)),
                None,
            );
        }
        idx.note(5000, peek("b", 3, None), Some(7));
        idx.note(5020, peek("t", 1, None), None);
        idx.note(5040, peek("a", 49, Some(f64::NAN)), Some(9));
        let (name, a) = idx.iter().next().unwrap();
        assert_eq!(name, "a");
        assert_eq!(a.len(), 51);
        assert!(a.sorted);
        assert_eq!(a.chunks.len(), 51usize.div_ceil(CHUNK));
        assert_eq!(a.chunks[0].count, 8);
        assert_eq!(a.chunks[0].max, 14.0);
        assert_eq!(a.in_steps(10, 12), vec![10, 11, 12]);
        let t = idx.iter().nth(2).unwrap().1;
        assert_eq!(t.chunks[0].count, 0, "a tag without scalars");
        let b = idx.iter().nth(1).unwrap().1;
        assert!(!b.sorted, "step 3 after step 49");
        assert_eq!(b.in_steps(3, 3), vec![3, 50]);
        let last = a.chunks.last().unwrap();
        assert_eq!((last.count, last.numbers), (3, 2));

        let mut bytes = Vec::new();
        idx.encode(&mut bytes);
        let back = TagIndex::decode(&bytes).unwrap();
        assert_eq!(
            back.iter().collect::<Vec<_>>(),
            idx.iter().collect::<Vec<_>>()
        );
        assert!(
            bytes.len() < 6 * idx.records() + 200,
            "{} bytes",
            bytes.len()
        );
        for cut in 0..bytes.len() {
            assert!(TagIndex::decode(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        bytes.push(0);
        assert!(TagIndex::decode(&bytes).is_none(), "trailing bytes");
    }

    #[test]
    fn offsets_past_four_gib_mark_the_index_incomplete() {
        let mut idx = TagIndex::default();
        idx.note(1 << 32, peek("a", 1, Some(1.0)), None);
        assert!(idx.overflow);
        assert_eq!(idx.records(), 0);
    }
}
