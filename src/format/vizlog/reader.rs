//! Reading a log: by step range, through the sparse index, reporting damage.
//!
//! What a reader does past damage, per kind:
//! - a record whose payload fails its CRC (or does not decode) is skipped and
//!   reported; reading goes on at the next record;
//! - damaged framing (a length that fails its CRC, a zeroed page) is skipped to the
//!   next intact record and reported with its offset and size; if no intact record
//!   follows, the rest of the segment is reported unreadable;
//! - a segment whose header is damaged, or names another base offset than its file
//!   name, is reported and skipped;
//! - segments follow on by offset: after segment `b` holding `n` records comes the
//!   one named `b + n`, found by name rather than by listing the directory (a
//!   listing that races a writer rolling segments can miss one). Offsets that no
//!   segment holds (a deleted segment) are reported as a gap;
//! - an index sidecar that does not match its segment (another segment's, or
//!   stale) is rebuilt from the segment;
//! - a record cut short at the end of the newest segment is where a writer is still
//!   appending (or where one crashed): it is left out and noted in
//!   [`LogRead::incomplete_tail`], not reported as damage. The writer truncates such
//!   a tail when it reopens the log, and reports it then.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::cache;
use super::codec;
use super::index::SegmentIndex;
use super::query::{self, IndexedRead, Opened};
use super::scan::{Problem, extend_index, load_index};
use super::segfile::SegmentFile;
use super::segment::{FRAME_LEN, Frame, Frames, HEADER_LEN, Stop};
use crate::error::{ErrorKind, Result, VizError};
use crate::event::Event;
use crate::query::{Aggregate, Bucket, Query};

/// The result of a range read.
#[derive(Debug, Default)]
pub struct LogRead {
    /// Intact events in the range, in log order.
    pub events: Vec<Event>,
    /// Damage met on the way, each with its segment and offset.
    pub problems: Vec<Problem>,
    /// The newest segment and offset where a partial record starts, if any.
    pub incomplete_tail: Option<(PathBuf, u64)>,
    /// Segments whose records were read (others were skipped by their index).
    pub segments_read: usize,
    /// Segment bytes read, index rebuilds included.
    pub bytes_read: u64,
    /// Intact events found: `events.len()` for a read, the count for a
    /// [`LogReader::check`], which keeps none.
    pub intact: u64,
}

/// Reads a log directory without modifying it; safe while a writer appends.
#[derive(Debug, Clone)]
pub struct LogReader {
    dir: PathBuf,
}

impl LogReader {
    /// A reader for the log in `dir`, which must exist.
    pub fn open(dir: impl AsRef<Path>) -> Result<LogReader> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(VizError::new(
                ErrorKind::Io,
                format!("{} is not a viz event log directory", dir.display()),
            ));
        }
        Ok(LogReader { dir })
    }

    /// Intact events with `start <= step <= end`, and the damage met. The result is
    /// a consistent prefix of the log: segments are read in offset order with no
    /// holes, and a gap in the offsets is reported, not passed over.
    pub fn read(&self, start: i64, end: i64) -> Result<LogRead> {
        self.scan(start, end, true)
    }

    /// Checks every record's CRC and every segment's framing, as a full
    /// [`read`](LogReader::read) does, keeping no event: memory stays bounded by
    /// one segment whatever the log's size (a full read of a 1.9 GB log held
    /// about 15 GB of events). `intact` counts the events found.
    pub fn check(&self) -> Result<LogRead> {
        self.scan(i64::MIN, i64::MAX, false)
    }

    fn scan(&self, start: i64, end: i64, keep: bool) -> Result<LogRead> {
        let mut out = LogRead::default();
        let list = || {
            super::segment_files(&self.dir).map_err(|e| {
                VizError::from(e).context(format_args!("listing {}", self.dir.display()))
            })
        };
        let mut current = list()?.into_iter().next();
        while let Some((base, path)) = current.take() {
            let mut seg = scan_segment(&path, base, &mut out)?;
            let mut rescanned = false;
            let next = loop {
                let expected = seg.as_ref().and_then(|s| base.checked_add(s.index.records));
                let by_name = expected
                    .map(|n| (n, self.dir.join(super::segment_name(n))))
                    .filter(|(n, p)| *n != base && p.exists());
                if by_name.is_some() {
                    break by_name;
                }
                // Listed afresh, so a segment created since is seen too.
                let later = list()?.into_iter().find(|(b, _)| *b > base);
                let Some((b, later_path)) = &later else {
                    break None;
                };
                if Some(*b) == expected {
                    break later;
                }
                // A writer finishes a segment before it creates the next, so one
                // that was still growing when scanned is complete now: scan again.
                if !rescanned && seg.is_some() {
                    seg = scan_segment(&path, base, &mut out)?;
                    rescanned = true;
                    continue;
                }
                if let (Some(expected), Some(seg)) = (expected, &seg)
                    && seg.index.damaged_spans == 0
                {
                    out.problems.push(Problem {
                        segment: later_path.clone(),
                        offset: 0,
                        bytes: 0,
                        what: format!(
                            "a gap in the log: {} ends at offset {expected} but the next segment starts at offset {b} (a segment is missing or stray)",
                            path.display()
                        ),
                    });
                }
                break later;
            };
            if let Some(seg) = seg {
                match seg.stop {
                    Some(Stop::Torn { offset }) if next.is_none() => {
                        out.incomplete_tail = Some((path.clone(), offset));
                    }
                    Some(stop) => out.problems.push(Problem {
                        segment: path.clone(),
                        offset: stop.offset(),
                        bytes: seg.len - stop.offset(),
                        what: format!("{}; the rest of the segment is unreadable", stop.describe()),
                    }),
                    None => {}
                }
                let source = |from: u64, to: u64| seg.file.read(from, to);
                if !read_segment(&path, &seg.index, source, start, end, &mut out, false)? {
                    // The sidecar did not match the segment: rebuild and read again.
                    let bytes = source(HEADER_LEN, seg.len)?;
                    out.bytes_read += bytes.len() as u64;
                    let mut index = SegmentIndex::empty(HEADER_LEN);
                    extend_index(&mut index, &bytes);
                    read_segment(&path, &index, source, start, end, &mut out, true)?;
                }
                out.problems.extend(seg.file.take_problems());
            }
            if !keep {
                out.intact += out.events.len() as u64;
                out.events.clear();
            }
            current = next;
        }
        if keep {
            out.intact = out.events.len() as u64;
        }
        Ok(out)
    }
}

/// What a log holds, from its indexes: for listings of runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogSummary {
    /// Events stored (intact records).
    pub events: u64,
    /// Each tag with its event count.
    pub tags: std::collections::BTreeMap<String, u64>,
    /// Smallest and largest step.
    pub steps: Option<(i64, i64)>,
    /// Wall times of the first and the last record (seconds since the epoch), the
    /// earlier first.
    pub wall_time: Option<(f64, f64)>,
}

impl LogReader {
    /// What the log holds (events, tags with counts, steps, time span), from its
    /// indexes, reading two records.
    pub fn summary(&self) -> Result<LogSummary> {
        let mut out = IndexedRead::default();
        let opened = self.opened((i64::MIN, i64::MAX), &mut out)?;
        let mut summary = LogSummary::default();
        for o in &opened {
            for (tag, p) in o.index.tags.iter() {
                *summary.tags.entry(tag.to_owned()).or_default() += p.len() as u64;
                summary.events += p.len() as u64;
            }
            if let Some((lo, hi)) = o.index.steps() {
                summary.steps = Some(match summary.steps {
                    Some((a, b)) => (a.min(lo), b.max(hi)),
                    None => (lo, hi),
                });
            }
        }
        let ends = query::over_files(&opened, None, query::ends)?.unwrap_or_default();
        let walls: Vec<f64> = ends.iter().filter_map(|e| e.wall_time).collect();
        if let (Some(first), Some(last)) = (walls.first(), walls.last()) {
            summary.wall_time = Some((first.min(*last), first.max(*last)));
        }
        Ok(summary)
    }

    /// The segments that may hold steps in `steps`, opened, with their indexes
    /// (tag indexes included) from the read cache. Damaged headers go to `out`.
    fn opened(&self, steps: (i64, i64), out: &mut IndexedRead) -> Result<Vec<Opened>> {
        let mut read = LogRead::default();
        let mut opened = Vec::new();
        let list = super::segment_files(&self.dir).map_err(|e| {
            VizError::from(e).context(format_args!("listing {}", self.dir.display()))
        })?;
        for (base, path) in list {
            let Some(file) = open_segment(&path, &mut read)? else {
                continue;
            };
            let header = *file.header();
            if header.base_offset != base {
                continue;
            }
            if !cache::may_overlap(&path, &header, &file, file.len(), steps.0, steps.1)? {
                continue;
            }
            let mut lookup = cache::Lookup::default();
            let index = cache::index_of(&path, &header, &file, file.len(), &mut lookup)?;
            out.bytes_read += lookup.bytes_read;
            if index.overlaps(steps.0, steps.1) {
                opened.push(Opened { path, file, index });
            }
        }
        out.problems.append(&mut read.problems);
        Ok(opened)
    }

    /// Answers `q` through the tag indexes: only the selected tags' records are
    /// read (see [`super::query`]), with what it read. Falls back to a scan of the
    /// step range if an index does not describe its segment.
    pub fn query(&self, q: &Query) -> Result<IndexedRead> {
        q.validate()?;
        let mut out = IndexedRead::default();
        let opened = self.opened(q.steps, &mut out)?;
        if let Some(mut read) = query::over_files(&opened, None, |segs| query::query(segs, q))? {
            read.bytes_read += out.bytes_read;
            read.problems.append(&mut out.problems);
            for o in &opened {
                read.problems.extend(o.file.take_problems());
            }
            return Ok(read);
        }
        let read = self.read(q.steps.0, q.steps.1)?;
        out.events = q.run(read.events)?;
        out.problems.extend(read.problems);
        out.bytes_read += read.bytes_read;
        Ok(out)
    }

    /// Per-tag statistics of the selected scalars (see
    /// [`crate::StorageBackend::aggregate`]), from chunk summaries and edge records.
    pub fn aggregate(&self, q: &Query) -> Result<Vec<Aggregate>> {
        q.check_selection_only("an aggregate query")?;
        let mut out = IndexedRead::default();
        let opened = self.opened(q.steps, &mut out)?;
        match query::over_files(&opened, None, |segs| query::aggregate(segs, q, &mut out))? {
            Some(aggregates) => Ok(aggregates),
            None => Ok(crate::query::aggregate(&self.query(q)?.events)),
        }
    }

    /// The selected scalars in step buckets (see
    /// [`crate::StorageBackend::downsample`]), from chunk summaries and the records
    /// at bucket edges.
    pub fn downsample(
        &self,
        q: &Query,
        first: i64,
        last: i64,
        buckets: usize,
    ) -> Result<Vec<Bucket>> {
        q.check_selection_only("a downsample query")?;
        let mut out = IndexedRead::default();
        let opened = self.opened(q.steps, &mut out)?;
        let indexed = query::over_files(&opened, None, |segs| {
            query::downsample(segs, q, first, last, buckets, &mut out)
        })?;
        match indexed {
            Some(buckets) => Ok(buckets),
            None => crate::query::downsample(&self.query(q)?.events, first, last, buckets),
        }
    }

    /// The last stored event of each selected tag, ordered by tag.
    pub fn latest(&self, q: &Query) -> Result<Vec<Event>> {
        q.check_selection_only("a latest-value query")?;
        let mut out = IndexedRead::default();
        let opened = self.opened(q.steps, &mut out)?;
        if let Some(read) = query::over_files(&opened, None, |segs| query::latest(segs, q))? {
            return Ok(read.events);
        }
        Ok(crate::query::latest(self.query(q)?.events))
    }
}

/// A segment opened for reading, with its index brought up to its length.
struct Scanned {
    file: SegmentFile,
    len: u64,
    index: SegmentIndex,
    /// Why indexing stopped before the end, if it did.
    stop: Option<Stop>,
}

/// Opens segment `path` (named for offset `base`) and indexes it; a damaged header,
/// or one naming another base, is reported in `out` and gives `None`.
fn scan_segment(path: &Path, base: u64, out: &mut LogRead) -> Result<Option<Scanned>> {
    let Some(file) = open_segment(path, out)? else {
        return Ok(None);
    };
    let header = *file.header();
    let len = file.len();
    if header.base_offset != base {
        out.problems.push(Problem {
            segment: path.to_path_buf(),
            offset: 0,
            bytes: len,
            what: format!(
                "segment header says base offset {} but the file name says {base}; the segment is skipped",
                header.base_offset
            ),
        });
        return Ok(None);
    }
    let mut index =
        load_index(path, len, &header, false).unwrap_or_else(|| SegmentIndex::empty(HEADER_LEN));
    let mut stop = None;
    if index.covered < len {
        let bytes = file.read(index.covered, len)?;
        out.bytes_read += bytes.len() as u64;
        stop = extend_index(&mut index, &bytes);
        out.problems.extend(file.take_problems());
    }
    Ok(Some(Scanned {
        file,
        len,
        index,
        stop,
    }))
}

/// Opens a segment and checks its header; a damaged header is reported in `out`
/// and gives `None`.
fn open_segment(path: &Path, out: &mut LogRead) -> Result<Option<SegmentFile>> {
    match SegmentFile::open(path)? {
        Ok(file) => Ok(Some(file)),
        Err(why) => {
            out.problems.push(Problem {
                segment: path.to_path_buf(),
                offset: 0,
                bytes: std::fs::metadata(path).map_or(0, |m| m.len()),
                what: format!("segment header: {why}"),
            });
            Ok(None)
        }
    }
}

/// Reads the blocks of one segment that overlap `start..=end` through `source`
/// (which returns segment bytes `[from, to)`), appending to `out`. Unless `trusted`,
/// each block must start with a frame: if one does not, the index does not match
/// the segment (stale, or another's), nothing is appended, and the result is
/// `false` so the caller rebuilds the index and reads again.
pub(crate) fn read_segment<'s>(
    path: &Path,
    index: &SegmentIndex,
    source: impl Fn(u64, u64) -> Result<Cow<'s, [u8]>>,
    start: i64,
    end: i64,
    out: &mut LogRead,
    trusted: bool,
) -> Result<bool> {
    if !index.overlaps(start, end) {
        return Ok(true);
    }
    let mut blocks = Vec::new();
    for (from, to) in index.ranges(start, end) {
        let bytes = source(from, to)?;
        if !trusted
            && !matches!(
                Frames::new(&bytes, from).next(),
                Some(Frame::Record { .. } | Frame::Corrupt { .. })
            )
        {
            return Ok(false);
        }
        blocks.push((from, to, bytes));
    }
    out.segments_read += 1;
    for (from, to, bytes) in blocks {
        out.bytes_read += bytes.len() as u64;
        let mut frames = Frames::new(&bytes, from);
        for frame in frames.by_ref() {
            let problem = |offset: u64, bytes: u64, what: String| Problem {
                segment: path.to_path_buf(),
                offset,
                bytes,
                what,
            };
            match frame {
                Frame::Record { offset, payload } => {
                    if codec::step_of(payload).is_some_and(|s| s < start || s > end) {
                        continue;
                    }
                    match codec::decode(payload) {
                        Ok(event) => out.events.push(event),
                        Err(why) => out.problems.push(problem(
                            offset,
                            (FRAME_LEN + payload.len()) as u64,
                            format!("record does not decode: {why}"),
                        )),
                    }
                }
                Frame::Corrupt { offset, len } => out.problems.push(problem(
                    offset,
                    FRAME_LEN as u64 + len,
                    "record payload fails its CRC".to_owned(),
                )),
                Frame::Damaged { offset, len } => out.problems.push(problem(
                    offset,
                    len,
                    "damaged record framing; skipped to the next intact record".to_owned(),
                )),
            }
        }
        // The index says where records end, so a stop inside a range means the
        // segment changed under the index (it was damaged after being indexed).
        if let Some(stop) = frames.stop {
            out.problems.push(Problem {
                segment: path.to_path_buf(),
                offset: stop.offset(),
                bytes: to - stop.offset(),
                what: format!("{} inside an indexed block", stop.describe()),
            });
        }
    }
    Ok(true)
}
