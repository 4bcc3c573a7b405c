//! Queries answered through the tag index: only the selected tags' records in the
//! step range are candidates, and only those the answer needs are read.
//!
//! - Stored or step order with no value or wall-time condition: the candidates
//!   are ordered from the index alone, and only the page asked for (offset,
//!   limit) is read, so "last N points of a tag" reads N records.
//! - With a condition, candidates are read a page at a time until the limit is met.
//! - Wall-time order reads every candidate (the index does not hold wall times).
//! - Aggregates and downsampling take whole chunks of a tag's scalars from their
//!   summaries and read only the records at the edges of each range.
//!
//! A record whose step or tag does not match its posting means the index does not
//! describe the segment (it changed under a cached index): the answer is `None` and
//! the caller scans instead.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::codec;
use super::index::SegmentIndex;
use super::scan::Problem;
use super::segment::{At, frame_at};
use super::tags::{CHUNK, Postings, Summary};
use crate::error::Result;
use crate::event::{Event, EventData, EventKind};
use crate::query::{Aggregate, Bucket, Order, Query};

/// Bytes read past a record's start in the hope that the record fits.
const GUESS: u64 = 128;
/// Records closer than this are read in one request.
const GAP: u64 = 4096;
/// Candidates read per round when a condition decides which ones count.
const PAGE: usize = 256;

pub use super::scan::Source;

/// One segment as a query sees it: its index (with tags) and its bytes.
pub struct Seg<'a> {
    /// The segment file, for reports.
    pub path: &'a Path,
    /// Its index, with a complete tag index.
    pub index: &'a SegmentIndex,
    /// Its bytes.
    pub source: &'a dyn Source,
}

/// A segment file opened for a query, with its index from the read cache.
pub struct Opened {
    /// The segment file's path.
    pub path: std::path::PathBuf,
    /// The open segment.
    pub file: super::segfile::SegmentFile,
    /// Its index, with a complete tag index.
    pub index: std::sync::Arc<SegmentIndex>,
}

/// Runs `answer` over `opened` segment files, then `tail` (a writer's active
/// segment, read through the writer).
pub fn over_files<R>(
    opened: &[Opened],
    tail: Option<Seg<'_>>,
    answer: impl FnOnce(&[Seg<'_>]) -> Result<Option<R>>,
) -> Result<Option<R>> {
    let mut segs: Vec<Seg<'_>> = opened
        .iter()
        .map(|o| Seg {
            path: &o.path,
            index: &o.index,
            source: &o.file,
        })
        .collect();
    segs.extend(tail);
    answer(&segs)
}

/// An indexed answer with what it cost.
#[derive(Debug, Default)]
pub struct IndexedRead {
    /// The events.
    pub events: Vec<Event>,
    /// Damage met in the records read.
    pub problems: Vec<Problem>,
    /// Segment bytes read.
    pub bytes_read: u64,
    /// Records decoded.
    pub records_read: u64,
}

/// A record the index says may be selected.
#[derive(Clone, Copy, Debug)]
struct Cand<'a> {
    seg: usize,
    offset: u32,
    step: i64,
    tag: &'a str,
}

fn kind_of(code: u8) -> Option<EventKind> {
    EventKind::ALL.get(usize::from(code)).copied()
}

/// Whether a query's condition can only be decided by reading a record.
fn needs_values(q: &Query) -> bool {
    q.filter.is_some() || q.wall_time != (f64::NEG_INFINITY, f64::INFINITY)
}

/// The tags of `seg` the query selects, with their postings.
fn tags<'s>(seg: &'s Seg<'_>, q: &'s Query) -> impl Iterator<Item = (&'s str, &'s Postings)> + 's {
    seg.index
        .tags
        .iter()
        .filter(move |(name, _)| q.tags.is_empty() || q.tags.iter().any(|t| t.matches(name)))
}

/// Every candidate, in stored order.
fn candidates<'s>(segs: &'s [Seg<'_>], q: &'s Query) -> Vec<Cand<'s>> {
    let mut out = Vec::new();
    for (si, seg) in segs.iter().enumerate() {
        let start = out.len();
        let mut tags_matched = 0;
        for (tag, p) in tags(seg, q) {
            tags_matched += 1;
            out.extend(
                p.in_steps(q.steps.0, q.steps.1)
                    .into_iter()
                    .filter(|&i| kind_of(p.kinds[i]).is_some_and(|k| q.kinds.contains(k)))
                    .map(|i| Cand {
                        seg: si,
                        offset: p.offsets[i],
                        step: p.steps[i],
                        tag,
                    }),
            );
        }
        if tags_matched > 1 {
            out[start..].sort_unstable_by_key(|c| c.offset);
        }
    }
    out
}

/// Reads the candidates' records: one event (or `None` for a damaged record, with
/// the damage in `out`) per candidate, in their order. `None` overall when a record
/// does not match its posting.
fn read(
    segs: &[Seg<'_>],
    cands: &[Cand<'_>],
    out: &mut IndexedRead,
) -> Result<Option<Vec<Option<Event>>>> {
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_unstable_by_key(|&i| (cands[i].seg, cands[i].offset));
    let mut events: Vec<Option<Event>> = vec![None; cands.len()];
    let mut run = 0;
    while run < order.len() {
        let first = cands[order[run]];
        let seg = &segs[first.seg];
        let from = u64::from(first.offset);
        let mut to = from + GUESS;
        let mut end = run + 1;
        while let Some(&next) = order.get(end) {
            let c = cands[next];
            if c.seg != first.seg || u64::from(c.offset) > to + GAP {
                break;
            }
            to = to.max(u64::from(c.offset) + GUESS);
            end += 1;
        }
        // Read when a candidate needs it: a source that finds records by tag (a
        // compressed segment) serves each candidate without reading the run's bytes.
        let mut bytes = None;
        for &i in &order[run..end] {
            let c = cands[i];
            let at = u64::from(c.offset);
            let (own, exact);
            let framed = if let Some(record) = seg.source.record(at, c.tag)? {
                out.bytes_read += record.len() as u64;
                own = record;
                frame_at(&own)
            } else {
                if bytes.is_none() {
                    let read = seg.source.bytes(from, to.min(seg.index.covered))?;
                    out.bytes_read += read.len() as u64;
                    bytes = Some(read);
                }
                let bytes = bytes.as_deref().expect("read above");
                let here = &bytes[((at - from) as usize).min(bytes.len())..];
                match frame_at(here) {
                    At::Short(total) => {
                        exact = seg.source.bytes(at, at + total as u64)?;
                        out.bytes_read += exact.len() as u64;
                        frame_at(&exact)
                    }
                    other => other,
                }
            };
            let problem = |what: String| Problem {
                segment: seg.path.to_path_buf(),
                offset: at,
                bytes: 0,
                what,
            };
            match framed {
                At::Record(payload) => {
                    let ours = codec::peek(payload)
                        .is_some_and(|p| p.step == c.step && p.tag == c.tag.as_bytes());
                    if !ours {
                        return Ok(None);
                    }
                    out.records_read += 1;
                    match codec::decode(payload) {
                        Ok(e) => events[i] = Some(e),
                        Err(why) => out
                            .problems
                            .push(problem(format!("record does not decode: {why}"))),
                    }
                }
                At::Short(_) => out.problems.push(problem("a record cut short".to_owned())),
                At::Bad(why) => out.problems.push(problem(why.to_owned())),
            }
        }
        run = end;
    }
    Ok(Some(events))
}

/// Answers `q` (see the module documentation for what each shape reads).
pub fn query(segs: &[Seg<'_>], q: &Query) -> Result<Option<IndexedRead>> {
    q.validate()?;
    let mut out = IndexedRead::default();
    let mut cands = candidates(segs, q);
    let exact = !needs_values(q);
    let limit = q.limit.unwrap_or(usize::MAX);
    let wanted = q.offset.saturating_add(limit).min(cands.len());
    let key = |c: &Cand<'_>| (c.seg, c.offset);
    match q.order {
        Order::Stored => {}
        Order::StepAsc | Order::StepDesc => {
            let desc = q.order == Order::StepDesc;
            let by = |a: &Cand<'_>, b: &Cand<'_>| {
                let steps = if desc {
                    b.step.cmp(&a.step)
                } else {
                    a.step.cmp(&b.step)
                };
                steps.then(key(a).cmp(&key(b)))
            };
            if exact && wanted < cands.len() {
                if wanted > 0 {
                    cands.select_nth_unstable_by(wanted - 1, by);
                }
                cands.truncate(wanted);
            }
            cands.sort_unstable_by(by);
        }
        Order::WallAsc | Order::WallDesc => {
            let Some(read) = read(segs, &cands, &mut out)? else {
                return Ok(None);
            };
            out.events = q.run(read.into_iter().flatten())?;
            return Ok(Some(out));
        }
    }
    // Without a condition every candidate is a result: skip the offset unread.
    let (mut next, mut skip) = if exact { (q.offset, 0) } else { (0, q.offset) };
    while next < cands.len() && out.events.len() < limit {
        let want = limit - out.events.len();
        let page = if exact { want } else { want.max(PAGE) };
        let end = next.saturating_add(page).min(cands.len());
        let Some(read) = read(segs, &cands[next..end], &mut out)? else {
            return Ok(None);
        };
        for e in read.into_iter().flatten() {
            if out.events.len() == limit {
                break;
            }
            if !exact && !q.matches(&e) {
                continue;
            }
            if skip > 0 {
                skip -= 1;
            } else {
                out.events.push(e);
            }
        }
        next = end;
    }
    Ok(Some(out))
}

/// The first and the last record of the log that `segs` make up (by offset), read
/// through the tag index: for a run's time span. `None` when the index does not
/// match its segment.
pub fn ends(segs: &[Seg<'_>]) -> Result<Option<Vec<Event>>> {
    let mut ends: Vec<Cand<'_>> = Vec::new();
    let in_seg = |si: usize, pick_last: bool| {
        let mut best: Option<Cand<'_>> = None;
        for (tag, p) in segs[si].index.tags.iter() {
            let i = if pick_last {
                p.len().checked_sub(1)
            } else {
                (!p.is_empty()).then_some(0)
            };
            let Some(i) = i else { continue };
            let c = Cand {
                seg: si,
                offset: p.offsets[i],
                step: p.steps[i],
                tag,
            };
            let better = best.is_none_or(|b| (c.offset < b.offset) != pick_last);
            if better {
                best = Some(c);
            }
        }
        best
    };
    if let Some(first) = (0..segs.len()).find_map(|si| in_seg(si, false)) {
        ends.push(first);
    }
    if let Some(last) = (0..segs.len()).rev().find_map(|si| in_seg(si, true)) {
        ends.push(last);
    }
    let mut out = IndexedRead::default();
    Ok(read(segs, &ends, &mut out)?.map(|events| events.into_iter().flatten().collect()))
}

/// The last stored event of each selected tag, ordered by tag. `None` when the
/// query has a condition (the caller answers through [`query`]) or the index does
/// not match.
pub fn latest(segs: &[Seg<'_>], q: &Query) -> Result<Option<IndexedRead>> {
    q.validate()?;
    if needs_values(q) {
        return Ok(None);
    }
    let mut last: BTreeMap<&str, Cand<'_>> = BTreeMap::new();
    for (si, seg) in segs.iter().enumerate().rev() {
        for (tag, p) in tags(seg, q) {
            if last.contains_key(tag) {
                continue;
            }
            let hit = p
                .in_steps(q.steps.0, q.steps.1)
                .into_iter()
                .rev()
                .find(|&i| kind_of(p.kinds[i]).is_some_and(|k| q.kinds.contains(k)));
            if let Some(i) = hit {
                last.insert(
                    tag,
                    Cand {
                        seg: si,
                        offset: p.offsets[i],
                        step: p.steps[i],
                        tag,
                    },
                );
            }
        }
    }
    let cands: Vec<Cand<'_>> = last.into_values().collect();
    let mut out = IndexedRead::default();
    let Some(read) = read(segs, &cands, &mut out)? else {
        return Ok(None);
    };
    out.events = read.into_iter().flatten().collect();
    Ok(Some(out))
}

/// Scalar statistics of the selected tags' scalars, reading only records at the
/// edges of each chunk-aligned run. `None` when the query has a condition or the
/// index does not match.
pub fn aggregate(
    segs: &[Seg<'_>],
    q: &Query,
    out: &mut IndexedRead,
) -> Result<Option<Vec<Aggregate>>> {
    q.validate()?;
    if needs_values(q) || !q.kinds.contains(EventKind::Scalar) {
        return Ok(None);
    }
    struct Acc<'a> {
        summary: Summary,
        first: Option<Cand<'a>>,
        last: Option<Cand<'a>>,
    }
    let mut by_tag: BTreeMap<&str, Acc<'_>> = BTreeMap::new();
    let mut edges: Vec<(Cand<'_>, &str)> = Vec::new();
    let scalar = EventKind::Scalar as u8;
    for (si, seg) in segs.iter().enumerate() {
        for (tag, p) in tags(seg, q) {
            let positions = p.in_steps(q.steps.0, q.steps.1);
            let cand = |i: usize| Cand {
                seg: si,
                offset: p.offsets[i],
                step: p.steps[i],
                tag,
            };
            let Some(&first) = positions.iter().find(|&&i| p.kinds[i] == scalar) else {
                continue;
            };
            let last = *positions
                .iter()
                .rev()
                .find(|&&i| p.kinds[i] == scalar)
                .expect("one exists");
            let acc = by_tag.entry(tag).or_insert(Acc {
                summary: Summary::default(),
                first: None,
                last: None,
            });
            acc.first.get_or_insert(cand(first));
            acc.last = Some(cand(last));
            for part in chunked(p, &positions) {
                match part {
                    Part::Chunk(c) => acc.summary.merge(&p.chunks[c]),
                    Part::Edge(i) if p.kinds[i] == scalar => edges.push((cand(i), tag)),
                    Part::Edge(_) => {}
                }
            }
        }
    }
    let mut wanted: Vec<Cand<'_>> = edges.iter().map(|(c, _)| *c).collect();
    let ends: Vec<Cand<'_>> = by_tag
        .values()
        .flat_map(|a| [a.first, a.last])
        .flatten()
        .collect();
    wanted.extend(&ends);
    let Some(values) = read(segs, &wanted, out)? else {
        return Ok(None);
    };
    let value = |e: &Option<Event>| match e.as_ref().map(|e| &e.data) {
        Some(EventData::Scalar(v)) => Some(*v),
        _ => None,
    };
    for ((_, tag), e) in edges.iter().zip(&values) {
        if let Some(v) = value(e) {
            by_tag.get_mut(tag).expect("noted").summary.add(v);
        }
    }
    let mut end_values: HashMap<(usize, u32), f64> = HashMap::new();
    for (c, e) in ends.iter().zip(&values[edges.len()..]) {
        if let Some(v) = value(e) {
            end_values.insert((c.seg, c.offset), v);
        }
    }
    let point = |c: Option<Cand<'_>>| {
        c.map_or((0, f64::NAN), |c| {
            (
                c.step,
                end_values
                    .get(&(c.seg, c.offset))
                    .copied()
                    .unwrap_or(f64::NAN),
            )
        })
    };
    Ok(Some(
        by_tag
            .into_iter()
            .map(|(tag, a)| Aggregate {
                tag: tag.to_owned(),
                count: a.summary.count,
                min: a.summary.min,
                max: a.summary.max,
                mean: a.summary.mean(),
                first: point(a.first),
                last: point(a.last),
            })
            .collect(),
    ))
}

/// Downsamples the selected scalars into `buckets` step buckets spanning
/// `first..=last`, as [`crate::query::downsample`] does, from chunk summaries and
/// the records at bucket edges. `None` when the query has a condition or the index
/// does not match.
pub fn downsample(
    segs: &[Seg<'_>],
    q: &Query,
    first: i64,
    last: i64,
    buckets: usize,
    out: &mut IndexedRead,
) -> Result<Option<Vec<Bucket>>> {
    q.validate()?;
    // The same checks and bucket arithmetic as the scan, on no events.
    crate::query::downsample(std::iter::empty(), first, last, buckets)?;
    if needs_values(q) || !q.kinds.contains(EventKind::Scalar) {
        return Ok(None);
    }
    let span = i128::from(last) - i128::from(first) + 1;
    let width = (span + buckets as i128 - 1) / buckets as i128;
    let lo_of = |b: usize| i128::from(first) + b as i128 * width;
    let (sel_lo, sel_hi) = (q.steps.0.max(first), q.steps.1.min(last));
    let mut sums = vec![Summary::default(); buckets];
    let mut edges: Vec<(Cand<'_>, usize)> = Vec::new();
    let scalar = EventKind::Scalar as u8;
    if sel_lo <= sel_hi {
        let bucket_of = |step: i64| ((i128::from(step) - i128::from(first)) / width) as usize;
        for (si, seg) in segs.iter().enumerate() {
            for (tag, p) in tags(seg, q) {
                let cand = |i: usize| Cand {
                    seg: si,
                    offset: p.offsets[i],
                    step: p.steps[i],
                    tag,
                };
                let all = p.in_steps(sel_lo, sel_hi);
                let (Some(&a), Some(&z)) = (all.first(), all.last()) else {
                    continue;
                };
                if !p.sorted {
                    edges.extend(
                        all.iter()
                            .filter(|&&i| p.kinds[i] == scalar)
                            .map(|&i| (cand(i), bucket_of(p.steps[i]))),
                    );
                    continue;
                }
                let (b_first, b_last) = (bucket_of(p.steps[a]), bucket_of(p.steps[z]));
                for (b, sum) in sums.iter_mut().enumerate().take(b_last + 1).skip(b_first) {
                    let b_lo = lo_of(b).max(i128::from(sel_lo)) as i64;
                    let b_hi = (lo_of(b) + width - 1).min(i128::from(sel_hi)) as i64;
                    let positions = p.in_steps(b_lo, b_hi);
                    for part in chunked(p, &positions) {
                        match part {
                            Part::Chunk(c) => sum.merge(&p.chunks[c]),
                            Part::Edge(i) if p.kinds[i] == scalar => edges.push((cand(i), b)),
                            Part::Edge(_) => {}
                        }
                    }
                }
            }
        }
    }
    let wanted: Vec<Cand<'_>> = edges.iter().map(|(c, _)| *c).collect();
    let Some(values) = read(segs, &wanted, out)? else {
        return Ok(None);
    };
    for ((_, b), e) in edges.iter().zip(values) {
        if let Some(EventData::Scalar(v)) = e.map(|e| e.data) {
            sums[*b].add(v);
        }
    }
    Ok(Some(
        sums.into_iter()
            .enumerate()
            .filter(|(_, s)| s.count > 0)
            .map(|(b, s)| Bucket {
                first_step: lo_of(b) as i64,
                last_step: (lo_of(b) + width - 1).min(i128::from(last)) as i64,
                count: s.count,
                min: s.min,
                max: s.max,
                mean: s.mean(),
            })
            .collect(),
    ))
}

/// A piece of a contiguous run of postings: a whole chunk, whose summary stands
/// for its records, or one record at an edge, to read.
enum Part {
    Chunk(usize),
    Edge(usize),
}

/// Splits `positions` (ascending) into whole chunks and edge records. Only a
/// contiguous run can use chunks; anything else is all edges.
fn chunked(p: &Postings, positions: &[usize]) -> Vec<Part> {
    let (Some(&lo), Some(&hi)) = (positions.first(), positions.last()) else {
        return Vec::new();
    };
    let hi = hi + 1;
    if !p.sorted || hi - lo != positions.len() {
        return positions.iter().map(|&i| Part::Edge(i)).collect();
    }
    let (c_lo, c_hi) = (lo.div_ceil(CHUNK), hi / CHUNK);
    if c_lo >= c_hi {
        return (lo..hi).map(Part::Edge).collect();
    }
    (lo..c_lo * CHUNK)
        .map(Part::Edge)
        .chain((c_lo..c_hi).map(Part::Chunk))
        .chain((c_hi * CHUNK..hi).map(Part::Edge))
        .collect()
}
