//! The pieces every reader of a log shares: reading a byte range of a segment,
//! indexing frames, loading a sidecar, and the report of damage met.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::codec;
use super::index::SegmentIndex;
use super::segment::{FRAME_LEN, Frame, Frames, HEADER_LEN, Header, Stop};
use crate::error::{ErrorKind, Result, VizError};

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

/// Where a segment's bytes come from: its file, or a writer that may still hold
/// some in memory.
pub trait Source {
    /// Segment bytes `[from, to)`, fewer at the end.
    fn bytes(&self, from: u64, to: u64) -> Result<Cow<'_, [u8]>>;

    /// The framed record at `at`, which the tag index says is `tag`'s, when the
    /// source can find it for less than reading bytes (a compressed segment whose
    /// blocks group records by tag); `None` sends the caller to [`bytes`](Self::bytes).
    fn record(&self, at: u64, tag: &str) -> Result<Option<Vec<u8>>> {
        let _ = (at, tag);
        Ok(None)
    }
}

impl Source for std::fs::File {
    fn bytes(&self, from: u64, to: u64) -> Result<Cow<'_, [u8]>> {
        read_at(self, from, to)
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
pub(crate) fn load_index(
    segment: &Path,
    len: u64,
    header: &Header,
    want_tags: bool,
) -> Option<SegmentIndex> {
    let bytes = std::fs::read(super::index_path(segment)).ok()?;
    SegmentIndex::decode(&bytes, header, want_tags)
        .filter(|i| i.covered <= len && i.covered >= HEADER_LEN)
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
                    codec::peek(payload),
                );
            }
            Frame::Corrupt { offset, len } => index.note(offset, FRAME_LEN as u64 + len, None),
            Frame::Damaged { offset, len } => index.note_damage(offset, len),
        }
    }
    frames.stop
}
