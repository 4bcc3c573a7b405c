//! Following a log another process is writing (seed 003's `ReadFromOffset(offset,
//! limit)`): a [`Tail`] hands out the records after a log offset, in order, with no
//! holes, across segment rolls, and picks up where it stopped on the next call.
//!
//! A log offset numbers records from the first ever written (a segment named `b`
//! holds offsets `b`, `b + 1`, ...). The tail keeps its segment, its byte position
//! in it and the offset of the next record. At the end of a segment it moves on only
//! once a later segment exists, and reads the current one to its end again first:
//! the writer finishes a segment before it creates the next, so nothing appended in
//! between is skipped. A record cut short at the end is where the writer is still
//! appending; the tail waits for it. Damage is skipped and reported; a span of
//! damaged framing hides how many records it held, so offsets after it are counted
//! from the next intact record.

use std::path::{Path, PathBuf};

use super::scan::Problem;
use super::segfile::SegmentFile;
use super::segment::{FRAME_LEN, Frame, Frames, HEADER_LEN};
use super::{codec, segment_files, segment_name};
use crate::error::{ErrorKind, Result, VizError};
use crate::event::Event;

/// What one [`Tail::next`] call read.
#[derive(Debug, Default)]
pub struct TailRead {
    /// New events, in log order.
    pub events: Vec<Event>,
    /// Damage skipped on the way.
    pub problems: Vec<Problem>,
}

/// A position in a log, moving forward as records are read.
#[derive(Clone, Debug)]
pub struct Tail {
    dir: PathBuf,
    /// The segment being read (its base offset), if any exists yet.
    segment: Option<u64>,
    /// Byte position of the next frame in it.
    byte: u64,
    /// Log offset of the next record.
    offset: u64,
}

impl Tail {
    /// A tail of the log in `dir` positioned at log offset `offset` (0: the first
    /// record ever written; past the end: wait for it). Offsets before the oldest
    /// segment (it was cleared) start at the oldest record still there.
    pub fn from_offset(dir: impl AsRef<Path>, offset: u64) -> Result<Tail> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(VizError::new(
                ErrorKind::Io,
                format!("{} is not a viz event log directory", dir.display()),
            ));
        }
        let mut tail = Tail {
            dir,
            segment: None,
            byte: HEADER_LEN,
            offset,
        };
        let segments = tail.segments()?;
        // The segment holding `offset`: the last one starting at or before it.
        let Some(&(base, _)) = segments
            .iter()
            .rev()
            .find(|(b, _)| *b <= offset)
            .or(segments.first())
        else {
            // An empty log: everything written from now on is after `offset`.
            tail.offset = 0;
            return Ok(tail);
        };
        tail.segment = Some(base);
        tail.offset = base;
        tail.skip_to(offset)?;
        Ok(tail)
    }

    /// A tail positioned after the last record written so far: it reads only what
    /// is appended from now on.
    pub fn from_end(dir: impl AsRef<Path>) -> Result<Tail> {
        Tail::from_offset(dir, u64::MAX)
    }

    /// Log offset of the next record this tail will hand out.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn segments(&self) -> Result<Vec<(u64, PathBuf)>> {
        segment_files(&self.dir)
            .map_err(|e| VizError::from(e).context(format_args!("listing {}", self.dir.display())))
    }

    /// Moves forward, reading no events, until the next record is `target` or the
    /// end of what is written.
    fn skip_to(&mut self, target: u64) -> Result<()> {
        while self.offset < target {
            let read = self.step(usize::MAX, Some(target - self.offset))?;
            if read.moved == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Reads the records after its position, at most `max`, moving to later
    /// segments as the writer rolls. An empty read means nothing new yet.
    pub fn next(&mut self, max: usize) -> Result<TailRead> {
        let mut out = TailRead::default();
        while out.events.len() < max {
            let step = self.step(max - out.events.len(), None)?;
            out.events.extend(step.events);
            out.problems.extend(step.problems);
            if step.moved == 0 {
                break;
            }
        }
        Ok(out)
    }

    /// One round: frames from the current position on (at most `max` events, or
    /// `skip` records without decoding them), or the move to the next segment.
    /// `moved` is 0 when there is nothing more for now.
    fn step(&mut self, max: usize, skip: Option<u64>) -> Result<Step> {
        let mut out = Step::default();
        let Some(base) = self.segment else {
            // No segment yet: start at the first one once it exists.
            if let Some(&(b, _)) = self.segments()?.first() {
                (self.segment, self.byte, self.offset) = (Some(b), HEADER_LEN, b);
                out.moved = 1;
            }
            return Ok(out);
        };
        let path = self.dir.join(segment_name(base));
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Cleared: go on from the oldest segment after it.
                let later = self.segments()?.into_iter().find(|(b, _)| *b > base);
                if let Some((b, _)) = later {
                    (self.segment, self.byte, self.offset) = (Some(b), HEADER_LEN, b);
                    out.moved = 1;
                }
                return Ok(out);
            }
            Err(e) => {
                return Err(VizError::from(e).context(format_args!("opening {}", path.display())));
            }
        };
        let file = SegmentFile::from_file_lenient(file, &path)?;
        let len = file.current_len()?;
        let mut window = WINDOW;
        let mut stuck = None;
        while self.byte < len {
            let to = len.min(self.byte.saturating_add(window));
            let bytes = file.read(self.byte, to)?;
            out.problems.extend(file.take_problems());
            let mut frames = Frames::new(&bytes, self.byte);
            let mut budget = skip.unwrap_or(u64::MAX);
            for frame in frames.by_ref() {
                let (at, end) = match &frame {
                    Frame::Record { offset, payload } => {
                        (*offset, offset + (FRAME_LEN + payload.len()) as u64)
                    }
                    Frame::Corrupt { offset, len } => (*offset, offset + FRAME_LEN as u64 + len),
                    Frame::Damaged { offset, len } => (*offset, offset + len),
                };
                let problem = |what: String| Problem {
                    segment: path.clone(),
                    offset: at,
                    bytes: end - at,
                    what,
                };
                match frame {
                    Frame::Record { payload, .. } => {
                        if skip.is_none() {
                            match codec::decode(payload) {
                                Ok(e) => out.events.push(e),
                                Err(why) => out
                                    .problems
                                    .push(problem(format!("record does not decode: {why}"))),
                            }
                        }
                        self.offset += 1;
                        budget -= 1;
                    }
                    Frame::Corrupt { .. } => {
                        out.problems
                            .push(problem("record payload fails its CRC".to_owned()));
                        self.offset += 1;
                        budget -= 1;
                    }
                    Frame::Damaged { .. } => out.problems.push(problem(
                        "damaged record framing; skipped to the next intact record".to_owned(),
                    )),
                }
                self.byte = end;
                out.moved += 1;
                if out.events.len() >= max || budget == 0 {
                    return Ok(out);
                }
            }
            match frames.stop {
                // The window ended inside a frame: read on, or a larger window for
                // a frame larger than it.
                Some(_) if to < len && out.moved == 0 => window = window.saturating_mul(2),
                Some(_) if to < len => {}
                // Cut short at the end of the file: the writer is mid-append (or
                // the rest is damaged, which only a later segment can tell).
                Some(stop) => {
                    stuck = Some(stop);
                    break;
                }
                None => {}
            }
            if out.moved > 0 {
                return Ok(out);
            }
        }
        if out.moved > 0 {
            return Ok(out);
        }
        // At the end of this segment: move on once a later one exists, after
        // reading this one to its end again (it may have grown meanwhile).
        let later = self.segments()?.into_iter().find(|(b, _)| *b > base);
        let Some((next, _)) = later else {
            return Ok(out);
        };
        let len_now = file.current_len()?;
        if len_now > len {
            out.moved = 1;
            return Ok(out);
        }
        if let Some(stop) = stuck {
            out.problems.push(Problem {
                segment: path.clone(),
                offset: stop.offset(),
                bytes: len_now - stop.offset(),
                what: format!("{}; the rest of the segment is unreadable", stop.describe()),
            });
        }
        if next != self.offset {
            out.problems.push(Problem {
                segment: self.dir.join(segment_name(next)),
                offset: 0,
                bytes: 0,
                what: format!(
                    "a gap in the log: {} ends at offset {} but the next segment starts at offset {next}",
                    path.display(),
                    self.offset
                ),
            });
        }
        (self.segment, self.byte, self.offset) = (Some(next), HEADER_LEN, next);
        out.moved = 1;
        Ok(out)
    }
}

/// Bytes read per request; a frame larger than this doubles it.
const WINDOW: u64 = 1 << 20;

#[derive(Default)]
struct Step {
    events: Vec<Event>,
    problems: Vec<Problem>,
    /// Frames read, or 1 for a move to another segment.
    moved: usize,
}
