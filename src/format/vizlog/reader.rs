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
use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::codec;
use super::index::SegmentIndex;
use super::segment::{FRAME_LEN, Frame, Frames, HEADER_LEN, Header, HeaderError, Stop};
use crate::error::{ErrorKind, Result, VizError};
use crate::event::Event;

/// Damage found while reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The segment file.
    pub segment: PathBuf,
    /// Byte offset in the segment where the damage starts.
    pub offset: u64,
    /// Bytes skipped because of it.
    pub bytes: u64,
    /// What is wrong.
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte offset {}: {} ({} bytes skipped)",
            self.segment.display(),
            self.offset,
            self.what,
            self.bytes
        )
    }
}

impl Problem {
    /// The problem as an error of kind `CorruptData`.
    pub fn to_error(&self) -> VizError {
        VizError::new(ErrorKind::CorruptData, self.to_string())
    }
}

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
                let source = |from: u64, to: u64| read_at(&seg.file, from, to);
                if !read_segment(&path, &seg.index, source, start, end, &mut out, false)? {
                    // The sidecar did not match the segment: rebuild and read again.
                    let bytes = source(HEADER_LEN, seg.len)?;
                    out.bytes_read += bytes.len() as u64;
                    let mut index = SegmentIndex::empty(HEADER_LEN);
                    extend_index(&mut index, &bytes);
                    read_segment(&path, &index, source, start, end, &mut out, true)?;
                }
            }
            current = next;
        }
        Ok(out)
    }
}

/// A segment opened for reading, with its index brought up to its length.
struct Scanned {
    file: File,
    len: u64,
    index: SegmentIndex,
    /// Why indexing stopped before the end, if it did.
    stop: Option<Stop>,
}

/// Opens segment `path` (named for offset `base`) and indexes it; a damaged header,
/// or one naming another base, is reported in `out` and gives `None`.
fn scan_segment(path: &Path, base: u64, out: &mut LogRead) -> Result<Option<Scanned>> {
    let Some((file, header)) = open_segment(path, out)? else {
        return Ok(None);
    };
    let len = file.metadata()?.len();
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
        load_index(path, len, &header).unwrap_or_else(|| SegmentIndex::empty(HEADER_LEN));
    let mut stop = None;
    if index.covered < len {
        let bytes = read_at(&file, index.covered, len)?;
        out.bytes_read += bytes.len() as u64;
        stop = extend_index(&mut index, &bytes);
    }
    Ok(Some(Scanned {
        file,
        len,
        index,
        stop,
    }))
}

/// The header of segment `path`: `Ok(Err(why))` when it is damaged, which callers
/// report and skip; an error when a newer viz wrote it, since skipping would hide data.
pub(crate) fn header_of(path: &Path, head: &[u8]) -> Result<std::result::Result<Header, String>> {
    match Header::decode(head) {
        Ok(header) => Ok(Ok(header)),
        Err(e @ HeaderError::Newer(_)) => Err(VizError::new(
            ErrorKind::Unsupported,
            format!("{}: {e}", path.display()),
        )),
        Err(HeaderError::Damaged(why)) => Ok(Err(why)),
    }
}

/// Opens a segment and checks its header; a damaged header is reported in `out`
/// and gives `None`.
fn open_segment(path: &Path, out: &mut LogRead) -> Result<Option<(File, Header)>> {
    let file = File::open(path)
        .map_err(|e| VizError::from(e).context(format_args!("opening {}", path.display())))?;
    match header_of(path, &read_at(&file, 0, HEADER_LEN)?)? {
        Ok(header) => Ok(Some((file, header))),
        Err(why) => {
            out.problems.push(Problem {
                segment: path.to_path_buf(),
                offset: 0,
                bytes: file.metadata()?.len(),
                what: format!("segment header: {why}"),
            });
            Ok(None)
        }
    }
}

/// Reads bytes `[from, to)` of `file`, or fewer if the file is shorter.
pub(crate) fn read_at(file: &File, from: u64, to: u64) -> Result<Cow<'static, [u8]>> {
    let mut buf = vec![0u8; to.saturating_sub(from) as usize];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], from + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    buf.truncate(filled);
    Ok(Cow::Owned(buf))
}

/// The saved index of `segment` (whose header is `header`), if it is intact, is
/// this segment's, and fits a file of `len` bytes.
pub(crate) fn load_index(segment: &Path, len: u64, header: &Header) -> Option<SegmentIndex> {
    let bytes = std::fs::read(super::index_path(segment)).ok()?;
    SegmentIndex::decode(&bytes, header).filter(|i| i.covered <= len && i.covered >= HEADER_LEN)
}

/// Indexes the frames in `bytes`, which start at `index.covered`. Returns why the
/// scan stopped early, if it did; the index then covers everything before that.
pub(crate) fn extend_index(index: &mut SegmentIndex, bytes: &[u8]) -> Option<Stop> {
    let mut frames = Frames::new(bytes, index.covered);
    for frame in frames.by_ref() {
        match frame {
            Frame::Record { offset, payload } => {
                index.note(
                    offset,
                    (FRAME_LEN + payload.len()) as u64,
                    codec::step_of(payload),
                );
            }
            Frame::Corrupt { offset, len } => index.note(offset, FRAME_LEN as u64 + len, None),
            Frame::Damaged { offset, len } => index.note_damage(offset, len),
        }
    }
    frames.stop
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
