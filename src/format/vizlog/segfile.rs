//! A segment opened for reading. Whatever its layout ([`Layout`]), it reads as the
//! bytes a version 1 segment holds: framed records at the offsets the index and
//! the tag postings name. A sealed, compressed segment ([`super::blocks`])
//! decompresses only the blocks a read overlaps, and keeps the last one it
//! decoded, since readers walk a block's records in order.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::blocks::{self, MapEntry, TRAILER_LEN, TRAILER_MAGIC};
use super::index::SegmentIndex;
use super::scan::{Problem, read_at};
use super::segment::{At, Frame, Frames, HEADER_LEN, Header, HeaderError, Layout, frame_at};
use crate::error::{ErrorKind, Result, VizError};

/// One segment file, read in record offsets.
pub struct SegmentFile {
    file: File,
    path: PathBuf,
    header: Header,
    /// The file's length on disk.
    stored_len: u64,
    /// Present for [`Layout::Blocks`].
    blocks: Option<Blocks>,
}

struct Blocks {
    entries: Vec<MapEntry>,
    /// The length of the records' bytes, header included.
    len: u64,
    /// The block decoded last, by its place in `entries`.
    last: Mutex<Option<(usize, Arc<blocks::Decoded>)>>,
    /// Damage met, until a reader takes it; each block is reported once.
    problems: Mutex<(Vec<Problem>, HashSet<usize>)>,
}

impl SegmentFile {
    /// Opens `path`. `Ok(Err(why))` when its header is damaged, which callers
    /// report and skip; an error when a newer viz wrote it, since skipping would
    /// hide its data.
    pub fn open(path: &Path) -> Result<std::result::Result<SegmentFile, String>> {
        let file = File::open(path)
            .map_err(|e| VizError::from(e).context(format_args!("opening {}", path.display())))?;
        Self::from_file(file, path)
    }

    /// [`open`](Self::open), for a file the caller opened.
    pub fn from_file(file: File, path: &Path) -> Result<std::result::Result<SegmentFile, String>> {
        let header = match header_of(path, &read_at(&file, 0, HEADER_LEN)?)? {
            Ok(header) => header,
            Err(why) => return Ok(Err(why)),
        };
        let stored_len = file.metadata()?.len();
        let blocks = match header.layout {
            Layout::Records => None,
            Layout::Blocks => Some(load_blocks(&file, path, stored_len)?),
        };
        Ok(Ok(SegmentFile {
            file,
            path: path.to_path_buf(),
            header,
            stored_len,
            blocks,
        }))
    }

    /// [`from_file`](Self::from_file), but a segment whose header is damaged reads
    /// as version 1 records (for a reader that only walks frames, like a tail).
    pub fn from_file_lenient(file: File, path: &Path) -> Result<SegmentFile> {
        let header = match header_of(path, &read_at(&file, 0, HEADER_LEN)?)? {
            Ok(_) => return Ok(Self::from_file(file, path)?.expect("the header was intact")),
            Err(_) => Header {
                base_offset: 0,
                created_unix_ms: 0,
                layout: Layout::Records,
            },
        };
        Ok(SegmentFile {
            stored_len: file.metadata()?.len(),
            file,
            path: path.to_path_buf(),
            header,
            blocks: None,
        })
    }

    /// [`len`](Self::len) now: a version 1 segment may have grown since it was
    /// opened.
    pub fn current_len(&self) -> Result<u64> {
        match self.blocks {
            Some(_) => Ok(self.len()),
            None => Ok(self.file.metadata()?.len()),
        }
    }

    /// Its header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The length of its records' bytes (header included): the file's length for a
    /// version 1 segment, the decompressed length for a compressed one.
    pub fn len(&self) -> u64 {
        self.blocks.as_ref().map_or(self.stored_len, |b| b.len)
    }

    /// Whether it holds nothing but its header.
    pub fn is_empty(&self) -> bool {
        self.len() <= HEADER_LEN
    }

    /// Whether it is a sealed, compressed segment (which never changes).
    pub fn is_compressed(&self) -> bool {
        self.blocks.is_some()
    }

    /// The compressed blocks, in order (empty for a version 1 segment).
    pub fn block_map(&self) -> &[MapEntry] {
        self.blocks.as_ref().map_or(&[], |b| &b.entries)
    }

    /// Record bytes `[from, to)`, fewer at the end. Bytes of a compressed block
    /// that fails its checks read as zeros, which readers see as damaged framing
    /// and skip; the block itself is reported through
    /// [`take_problems`](Self::take_problems) with its offset in the file.
    pub fn read(&self, from: u64, to: u64) -> Result<Cow<'_, [u8]>> {
        let Some(blocks) = &self.blocks else {
            return read_at(&self.file, from, to);
        };
        let to = to.min(blocks.len);
        // Reserved up to a bound: the length comes from the file.
        let mut out = Vec::with_capacity(to.saturating_sub(from).min(1 << 26) as usize);
        let mut pos = from;
        if pos < HEADER_LEN.min(to) {
            out.extend_from_slice(&read_at(&self.file, pos, HEADER_LEN.min(to))?);
            pos = HEADER_LEN.min(to);
        }
        let first = blocks
            .entries
            .partition_point(|e| e.logical + u64::from(e.raw_len) <= pos);
        for (i, e) in blocks.entries.iter().enumerate().skip(first) {
            if pos >= to || e.logical >= to {
                break;
            }
            if e.logical > pos {
                // No block holds these bytes (its frame was lost): damage.
                out.resize(out.len() + (e.logical - pos) as usize, 0);
                pos = e.logical;
            }
            let end = to.min(e.logical + u64::from(e.raw_len));
            let (a, b) = ((pos - e.logical) as usize, (end - e.logical) as usize);
            let mark = out.len();
            if let Some(decoded) = self.block(blocks, i)?
                && let Err(why) = decoded.read(a, b, &mut out)
            {
                self.report(blocks, i, &why);
            }
            // What a damaged block held reads as zeros.
            out.resize(mark + (b - a), 0);
            pos = end;
        }
        if pos < to {
            out.resize(out.len() + (to - pos) as usize, 0);
        }
        Ok(Cow::Owned(out))
    }

    /// Block `i` decoded, or `None` (reported) when it fails its checks.
    fn block(&self, blocks: &Blocks, i: usize) -> Result<Option<Arc<blocks::Decoded>>> {
        if let Some((at, raw)) = &*blocks.last.lock()
            && *at == i
        {
            return Ok(Some(raw.clone()));
        }
        let e = blocks.entries[i];
        let stored = read_at(&self.file, e.physical, e.physical + u64::from(e.frame_len))?;
        let decoded = match frame_at(&stored) {
            At::Record(payload) => blocks::decode(payload).and_then(|decoded| {
                if decoded.head.logical == e.logical && decoded.head.raw_len == e.raw_len {
                    Ok(decoded)
                } else {
                    Err("its head disagrees with the block map".to_owned())
                }
            }),
            At::Short(_) => Err("its frame is cut short".to_owned()),
            At::Bad(why) => Err(why.to_owned()),
        };
        match decoded {
            Ok(raw) => {
                let raw = Arc::new(raw);
                *blocks.last.lock() = Some((i, raw.clone()));
                Ok(Some(raw))
            }
            Err(why) => {
                self.report(blocks, i, &why);
                Ok(None)
            }
        }
    }

    /// Records block `i` as damaged (once), with its offset in the file.
    fn report(&self, blocks: &Blocks, i: usize, why: &str) {
        let e = blocks.entries[i];
        let mut problems = blocks.problems.lock();
        if problems.1.insert(i) {
            problems.0.push(Problem {
                segment: self.path.clone(),
                offset: e.physical,
                bytes: u64::from(e.frame_len),
                what: format!(
                    "compressed block holding record offsets {}..{}: {why}; its records are skipped",
                    e.logical,
                    e.logical + u64::from(e.raw_len)
                ),
            });
        }
    }

    /// The framed record at offset `at` whose tag is `tag`, read by decompressing
    /// only that tag's group of its block; `None` when the segment is not
    /// compressed, its block is not grouped, or no record of the tag starts there
    /// (the caller then reads bytes with [`read`](Self::read), which reports damage).
    pub fn record(&self, at: u64, tag: &str) -> Result<Option<Vec<u8>>> {
        let Some(blocks) = &self.blocks else {
            return Ok(None);
        };
        let i = blocks
            .entries
            .partition_point(|e| e.logical + u64::from(e.raw_len) <= at);
        let Some(e) = blocks.entries.get(i).filter(|e| e.logical <= at) else {
            return Ok(None);
        };
        let at = (at - e.logical) as usize;
        Ok(self
            .block(blocks, i)?
            .and_then(|decoded| decoded.record(at, tag.as_bytes())))
    }

    /// Damaged blocks met since the last call, each with its offset in the file.
    pub fn take_problems(&self) -> Vec<Problem> {
        self.blocks
            .as_ref()
            .map(|b| std::mem::take(&mut b.problems.lock().0))
            .unwrap_or_default()
    }
}

impl super::scan::Source for SegmentFile {
    fn bytes(&self, from: u64, to: u64) -> Result<Cow<'_, [u8]>> {
        self.read(from, to)
    }

    fn record(&self, at: u64, tag: &str) -> Result<Option<Vec<u8>>> {
        SegmentFile::record(self, at, tag)
    }
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

/// The block map of a compressed segment: from its trailer when that is intact,
/// else by scanning the block frames (damaged ones are reported).
fn load_blocks(file: &File, path: &Path, stored_len: u64) -> Result<Blocks> {
    let blocks = |entries, len, problems| Blocks {
        entries,
        len,
        last: Mutex::new(None),
        problems: Mutex::new((problems, HashSet::new())),
    };
    let mut end = stored_len;
    if stored_len >= HEADER_LEN + TRAILER_LEN as u64 {
        let trailer = read_at(file, stored_len - TRAILER_LEN as u64, stored_len)?;
        if trailer[8..] == TRAILER_MAGIC {
            end = stored_len - TRAILER_LEN as u64;
            let map_at = u64::from_le_bytes(trailer[..8].try_into().expect("8 bytes"));
            if (HEADER_LEN..end).contains(&map_at) {
                let map = read_at(file, map_at, end)?;
                if let At::Record(payload) = frame_at(&map)
                    && let Some((entries, len)) = blocks::decode_map(payload)
                    && entries.first().map_or(len == HEADER_LEN, |e| {
                        e.logical == HEADER_LEN && e.physical >= HEADER_LEN
                    })
                    && entries
                        .last()
                        .is_none_or(|e| e.physical + u64::from(e.frame_len) <= map_at)
                {
                    return Ok(blocks(entries, len, Vec::new()));
                }
            }
        }
    }
    // No intact map: find the blocks by their frames.
    let bytes = read_at(file, HEADER_LEN, end)?;
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    let mut damaged = |offset: u64, bytes: u64, what: &str| {
        problems.push(Problem {
            segment: path.to_path_buf(),
            offset,
            bytes,
            what: format!("{what} in a compressed segment; the records it held are skipped"),
        })
    };
    let mut frames = Frames::new(&bytes, HEADER_LEN);
    for frame in frames.by_ref() {
        match frame {
            Frame::Record { offset, payload } => {
                if let Some(head) = blocks::block_head(payload) {
                    entries.push(MapEntry {
                        logical: head.logical,
                        raw_len: head.raw_len,
                        physical: offset,
                        frame_len: (super::segment::FRAME_LEN + payload.len()) as u32,
                    });
                }
            }
            Frame::Corrupt { offset, len } => damaged(offset, len, "a block that fails its CRC"),
            Frame::Damaged { offset, len } => damaged(offset, len, "damaged block framing"),
        }
    }
    if let Some(stop) = frames.stop {
        damaged(stop.offset(), end - stop.offset(), stop.describe());
    }
    if end == stored_len {
        damaged(end, 0, "no intact block map at the end");
    }
    entries.sort_by_key(|e| e.logical);
    let mut kept: Vec<MapEntry> = Vec::with_capacity(entries.len());
    for e in entries {
        if kept
            .last()
            .is_none_or(|l| l.logical + u64::from(l.raw_len) <= e.logical)
        {
            kept.push(e);
        }
    }
    let len = kept
        .last()
        .map_or(HEADER_LEN, |e| e.logical + u64::from(e.raw_len));
    Ok(blocks(kept, len, problems))
}

/// The sidecar of the segment at `path`, with its tag index packed (see
/// [`SegmentIndex::encode_packed`]); `None` when it is missing, unreadable or
/// has no tag index.
pub fn packed_sidecar(path: &Path, header: &Header) -> Option<Vec<u8>> {
    let bytes = std::fs::read(super::index_path(path)).ok()?;
    let index = SegmentIndex::decode(&bytes, header, true)?;
    index.has_tags.then(|| index.encode_packed(header))
}

/// Replaces the finished version 1 segment at `path` (whose header is `header`)
/// with the version 2 segment of `body` ([`blocks::seal`]'s bytes, or
/// [`blocks::seal_body`]'s), atomically: a reader sees either file whole, and
/// both read the same. `sync` makes the new file durable before it replaces the
/// old one. The sidecar is replaced by `sidecar` if given. Returns the new
/// file's length.
pub fn replace_sealed(
    path: &Path,
    header: &Header,
    body: &[u8],
    sidecar: Option<&[u8]>,
    sync: bool,
) -> std::io::Result<u64> {
    let sealed = Header {
        layout: Layout::Blocks,
        ..*header
    };
    let tmp = path.with_extension("vzl.tmp");
    {
        use std::io::Write;
        let mut f = File::create(&tmp)?;
        f.write_all(&sealed.encode())?;
        f.write_all(body)?;
        if sync {
            f.sync_all()?;
        }
    }
    std::fs::rename(&tmp, path)?;
    // The sidecar's tag index is most of a sealed segment's bytes on disk: the
    // packed one replaces it. It is a cache, so a failure here costs nothing but
    // space.
    if let Some(sidecar) = sidecar {
        let path = super::index_path(path);
        let tmp = path.with_extension("vzi.tmp");
        if std::fs::write(&tmp, sidecar).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    if sync && let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(HEADER_LEN + body.len() as u64)
}
