//! The `file://<dir>` backend: viz's durable, append-only event log
//! (format in [`crate::format::vizlog`]).
//!
//! Options:
//! - `segment_max_bytes` (default 64 MiB, at least 1024): a batch that would take
//!   the active segment past this starts a new segment. A segment is larger only
//!   when one batch alone is.
//! - `segment_max_age` (default `24h`; `500ms`, `30s`, `10m`, `24h`): a batch
//!   arriving after the active segment reached this age starts a new one. Age is
//!   measured from the segment header, so it survives restarts.
//! - `fsync=never|flush|batch` (default `flush`): when data is synced to the disk.
//!   With `flush`, a completed collector flush means the events survive a power
//!   cut; with `batch`, every stored batch does; with `never`, the OS decides
//!   (a killed process still loses nothing that was written out).
//!
//! Records are buffered and written out in whole 1 MiB chunks, and fully on flush;
//! a process killed between the two leaves a torn record at the end of the newest
//! segment. Opening the log finds such a tail (or damaged records at the end),
//! truncates the segment to its last intact record and reports the bytes dropped:
//! through [`StorageBackend::take_warnings`] (the collector passes them to its error
//! callback and `last_error`), [`FileLogBackend::recoveries`], and standard error when
//! the host sets `VIZ_WARNINGS=stderr`.
//!
//! - `compression=lz4|zstd|none` (default `lz4`), `level` (zstd's, default 3) and
//!   `delta=true|false` (default `true`): how a segment is compressed when it is
//!   sealed. It becomes format version 2, one compressed block per index block
//!   (see [`crate::format::vizlog::blocks`]); the segment being appended to stays
//!   version 1. `none` leaves segments as written, readable by a viz from before
//!   compression. A segment finished at a roll is compressed in the background on
//!   CPU time nothing else wants (see `sealer.rs`), so the writer never waits for
//!   it and a training loop that logs flat out keeps its cores; closing the log
//!   compresses the last segment and whatever still waits before it returns.
//! - `run=NAME` and `rank=N` (0 to 65,535, default 0): the location is then a
//!   project directory, and the log goes to `<location>/<NAME>/rank-<N>`, with the
//!   run's metadata in `<location>/<NAME>` (see [`crate::runs`]).
//!
//! One writer per directory: a second one, in this process or another, is refused
//! (an advisory `flock` on `<dir>/LOCK`). Any number of [`LogReader`]s may read
//! meanwhile.
//!
//! [`LogReader`]: crate::format::vizlog::LogReader

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use super::appender::Appender;
use super::sealer::{Job, Sealer};
use super::writer_lock::WriterLock;
use super::{StorageBackend, ensure_initialized};
use crate::config::StorageConfiguration;
use crate::error::{ErrorKind, Result, VizError};
use crate::event::Event;
use crate::format::vizlog::blocks::Compression;
use crate::format::vizlog::index::SegmentIndex;
use crate::format::vizlog::query::{self, IndexedRead, Opened, Seg};
use crate::format::vizlog::reader::read_segment;
use crate::format::vizlog::scan::{extend_index, load_index, read_at};
use crate::format::vizlog::segfile::{SegmentFile, header_of};
use crate::format::vizlog::segment::{self, Frame, Frames, HEADER_LEN, Header, Layout};
use crate::format::vizlog::{LogRead, cache, codec, index_path, segment_files, segment_name};
use crate::metadata::{Metadata, MetadataBatch, MetadataLog};
use crate::query::{Aggregate, Bucket, Order, Query};
use crate::url::ConnectionString;

/// Records are written out in multiples of this between flushes.
const CHUNK: usize = 1 << 20;
const DEFAULT_MAX_BYTES: u64 = 64 << 20;
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// When the log syncs data to the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fsync {
    Never,
    Flush,
    Batch,
}

/// A torn or damaged tail that opening the log truncated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// The segment that was truncated.
    pub segment: PathBuf,
    /// Its new length: the end of its last intact record.
    pub offset: u64,
    /// Bytes dropped from there.
    pub dropped_bytes: u64,
    /// What the dropped bytes held.
    pub reason: String,
}

/// Writes (and reads back) viz's durable event log.
#[derive(Default)]
pub struct FileLogBackend {
    log: Option<Log>,
    /// The run's metadata (`meta.vzm` in the log directory), once opened.
    metadata: Option<Mutex<MetadataLog>>,
    recoveries: Vec<Recovery>,
    /// Damage found by reads and on open, until someone takes it.
    warnings: Mutex<Vec<VizError>>,
    stored: u64,
}

struct Segment {
    /// Its header: the offset of its first record, and when it was created.
    header: Header,
    path: PathBuf,
    index: SegmentIndex,
}

impl Segment {
    /// The offset of the record after its last; `None` past the end of `u64`
    /// (a stray segment with a huge base offset, say), never a wrapped value.
    fn next_offset(&self) -> Option<u64> {
        self.header.base_offset.checked_add(self.index.records)
    }
}

/// The segment being appended to.
struct Active {
    seg: Segment,
    /// The segment file; `index.covered` is its `len()`.
    out: Appender,
    /// `index.covered` when the sidecar was last saved, and whether with the tags.
    index_saved: (u64, bool),
    /// Whether this writer appended to it: closing seals only such a segment, so
    /// opening a log to read it leaves its files as they were.
    appended: bool,
}

struct Log {
    dir: PathBuf,
    max_bytes: u64,
    max_age: Duration,
    fsync: Fsync,
    /// How sealed segments are compressed; `None` leaves them as written.
    compression: Option<Compression>,
    /// Compresses finished segments in the background on idle CPU time, so a roll
    /// never stalls the writer (and through it the collector); started at the
    /// first segment to compress.
    sealer: Option<Sealer>,
    /// Holds the directory's writer lock while open.
    _lock: WriterLock,
    sealed: Vec<Segment>,
    active: Active,
    /// One batch's frames, encoded before deciding which segment they go to.
    scratch: Vec<u8>,
    /// `(offset in scratch, frame length, step)` per event of the batch.
    frames: Vec<(usize, usize, i64)>,
}

fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn io_context(path: &Path, doing: &str) -> impl FnOnce(std::io::Error) -> VizError {
    let what = format!("{doing} {}", path.display());
    move |e| VizError::from(e).context(what)
}

impl FileLogBackend {
    pub(crate) fn boxed() -> Box<dyn StorageBackend> {
        Box::new(FileLogBackend::default())
    }

    /// Tails truncated when the log was opened.
    pub fn recoveries(&self) -> &[Recovery] {
        &self.recoveries
    }

    /// Deletes the sealed segments whose every record has an offset below `offset`
    /// (a consumer has them all), with their index sidecars; returns how many. The
    /// active segment always stays. A reader positioned in a deleted segment goes
    /// on from the next one.
    pub fn drop_segments_before(&mut self, offset: u64) -> Result<usize> {
        // A segment being compressed is replaced when that ends: not after it is gone.
        self.wait_sealed()?;
        let log = self.log()?;
        let mut dropped = 0;
        while let Some(seg) = log.sealed.first() {
            if seg.next_offset().is_none_or(|next| next > offset) {
                break;
            }
            let seg = log.sealed.remove(0);
            std::fs::remove_file(&seg.path).map_err(io_context(&seg.path, "removing"))?;
            let _ = std::fs::remove_file(index_path(&seg.path));
            dropped += 1;
        }
        Ok(dropped)
    }

    /// Seals the active segment now if it holds any record (a new one takes its
    /// place), and waits until every sealed segment is compressed: from then on
    /// each sealed segment file is final, never written again. The object-store
    /// tier (`s3://`) uploads only such files.
    pub fn seal(&mut self) -> Result<()> {
        let log = self.log()?;
        if log.active.seg.index.records > 0 {
            if let Some(e) = log.roll() {
                return Err(e);
            }
        }
        self.wait_sealed()
    }

    /// The directory the log is in, once opened.
    pub fn dir(&self) -> Option<&Path> {
        self.log.as_ref().map(|l| l.dir.as_path())
    }

    /// Waits until every segment being compressed is done (they are compressed in
    /// the background after a roll); failures go to the warnings, as always.
    pub fn wait_sealed(&mut self) -> Result<()> {
        for failure in self.log()?.reap(true) {
            self.warn(failure);
        }
        Ok(())
    }

    /// The offset the next event will get: events ever written to this log.
    pub fn next_offset(&self) -> Option<u64> {
        self.log.as_ref().and_then(|l| l.active.seg.next_offset())
    }

    /// Reads `start..=end` with the full report: damage met, bytes and segments read.
    pub fn read(&self, start: i64, end: i64) -> Result<LogRead> {
        ensure_initialized(self.log.is_some(), "file")?;
        let log = self.log.as_ref().expect("checked");
        let mut out = LogRead::default();
        for seg in &log.sealed {
            if !seg.index.overlaps(start, end) {
                continue;
            }
            let Some(file) = self.open_segment(&seg.path)? else {
                continue;
            };
            let source = |f, t| file.read(f, t);
            if !read_segment(&seg.path, &seg.index, source, start, end, &mut out, false)? {
                // The segment changed under its index since it was opened: index
                // it afresh for this read.
                let mut index = SegmentIndex::empty(HEADER_LEN);
                extend_index(&mut index, &source(HEADER_LEN, file.len())?);
                read_segment(&seg.path, &index, source, start, end, &mut out, true)?;
            }
            out.problems.extend(file.take_problems());
        }
        // The writer built the active segment's index itself: it is the truth.
        let active = &log.active;
        read_segment(
            &active.seg.path,
            &active.seg.index,
            |f, t| active.out.bytes(f, t),
            start,
            end,
            &mut out,
            true,
        )?;
        Ok(out)
    }

    /// Runs `answer` over the segments that may hold what `q` selects: sealed ones
    /// through the read cache, the active one through the writer's own index.
    /// `None` when an index cannot answer (the caller scans instead).
    fn indexed<R>(
        &self,
        q: &Query,
        answer: impl FnOnce(&[Seg<'_>]) -> Result<Option<R>>,
    ) -> Result<Option<R>> {
        ensure_initialized(self.log.is_some(), "file")?;
        let log = self.log.as_ref().expect("checked");
        if !log.active.seg.index.has_tags || log.active.seg.index.tags.overflow {
            return Ok(None);
        }
        let mut opened = Vec::new();
        for seg in &log.sealed {
            if !seg.index.overlaps(q.steps.0, q.steps.1) {
                continue;
            }
            let Some(file) = self.open_segment(&seg.path)? else {
                continue;
            };
            let mut lookup = cache::Lookup::default();
            let index = cache::index_of(&seg.path, file.header(), &file, file.len(), &mut lookup)?;
            if index.tags.overflow {
                return Ok(None);
            }
            opened.push(Opened {
                path: seg.path.clone(),
                file,
                index,
            });
        }
        let active = &log.active;
        let tail = Seg {
            path: &active.seg.path,
            index: &active.seg.index,
            source: &active.out,
        };
        query::over_files(&opened, Some(tail), answer)
    }

    /// Answers `q` through the tag index, with what it read; `None` when the
    /// index cannot answer it (then [`StorageBackend::query`] scans).
    pub fn indexed_query(&self, q: &Query) -> Result<Option<IndexedRead>> {
        q.validate()?;
        let read = self.indexed(q, |segs| query::query(segs, q))?;
        for problem in read.iter().flat_map(|r| &r.problems) {
            self.warn(problem.to_error());
        }
        Ok(read)
    }

    /// A sealed segment opened for reading; one whose header was damaged since the
    /// log was opened is reported and skipped (`None`).
    fn open_segment(&self, path: &Path) -> Result<Option<SegmentFile>> {
        match SegmentFile::open(path)? {
            Ok(file) => Ok(Some(file)),
            Err(why) => {
                self.skip_segment(path, &why);
                Ok(None)
            }
        }
    }

    fn warn(&self, error: VizError) {
        crate::error::warn_on_stderr(&error);
        self.warnings.lock().push(error);
    }

    fn log(&mut self) -> Result<&mut Log> {
        ensure_initialized(self.log.is_some(), "file")?;
        Ok(self.log.as_mut().expect("checked"))
    }

    /// Loads the sealed segments' indexes and recovers the newest segment.
    fn open(&mut self, dir: &Path, options: Options) -> Result<Log> {
        std::fs::create_dir_all(dir).map_err(io_context(dir, "creating log directory"))?;
        let lock = lock_dir(dir)?;
        remove_stray_temporaries(dir)?;
        let mut found = segment_files(dir).map_err(io_context(dir, "listing"))?;
        let mut newest = found.pop();
        // A compressed segment was sealed (at a roll, or when the log was closed):
        // writing goes on in a fresh one after it.
        if let Some((_, path)) = &newest
            && matches!(SegmentFile::open(path)?, Ok(f) if f.is_compressed())
        {
            found.extend(newest.take());
        }
        let Options {
            max_bytes,
            max_age,
            fsync,
            compression,
        } = options;
        let mut sealed: Vec<Segment> = Vec::new();
        for (base, path) in found {
            if let Some(seg) = self.open_sealed(base, &path)? {
                self.check_follows(sealed.last(), &seg);
                sealed.push(seg);
            }
        }
        let next_base = match sealed.last() {
            Some(last) => last
                .next_offset()
                .ok_or_else(|| offsets_exhausted(&last.path))?,
            None => 0,
        };
        let recovered = match &newest {
            Some((base, path)) => self.recover(*base, path)?,
            None => None,
        };
        let active = match recovered {
            Some(active) => {
                self.check_follows(sealed.last(), &active.seg);
                active
            }
            // No segment, or the newest one's header was damaged (moved aside): a
            // fresh segment follows the sealed ones, whatever the damaged one's
            // name claimed.
            None => Active::create(dir, next_base, fsync)?,
        };
        Ok(Log {
            dir: dir.to_path_buf(),
            max_bytes,
            max_age,
            fsync,
            compression,
            sealer: None,
            _lock: lock,
            sealed,
            active,
            scratch: Vec::new(),
            frames: Vec::new(),
        })
    }

    /// Reports a gap in the offsets between two consecutive segments (a segment
    /// deleted from the middle, or a stray one), unless damage explains it.
    fn check_follows(&self, previous: Option<&Segment>, seg: &Segment) {
        let Some(previous) = previous else { return };
        let expected = previous.next_offset();
        if expected != Some(seg.header.base_offset) && previous.index.damaged_spans == 0 {
            self.warn(VizError::new(
                ErrorKind::CorruptData,
                format!(
                    "a gap in the log: {} ends at offset {} but {} starts at offset {} (a segment is missing or stray)",
                    previous.path.display(),
                    expected.map_or_else(|| "past the end of u64".to_owned(), |e| e.to_string()),
                    seg.path.display(),
                    seg.header.base_offset
                ),
            ));
        }
    }

    /// A sealed segment with its index, rebuilt (and saved) if the sidecar is
    /// missing, stale or another segment's. `None` for a damaged header, or one
    /// naming another base than the file name: reported and skipped.
    fn open_sealed(&mut self, base: u64, path: &Path) -> Result<Option<Segment>> {
        let file = File::open(path).map_err(io_context(path, "opening"))?;
        let Some(header) = self.check_header(base, path, &read_at(&file, 0, HEADER_LEN)?)? else {
            return Ok(None);
        };
        let Ok(file) = SegmentFile::from_file(file, path)? else {
            return Ok(None);
        };
        for problem in file.take_problems() {
            self.warn(problem.to_error());
        }
        let len = file.len();
        // The writer keeps no sealed segment's tag index in memory: queries load
        // them through the read cache.
        if let Some(index) = load_index(path, len, &header, false)
            && index.covered == len
        {
            return Ok(Some(Segment {
                header,
                path: path.to_path_buf(),
                index,
            }));
        }
        let mut index = SegmentIndex::empty(HEADER_LEN);
        let bytes = file.read(index.covered, len)?;
        let stop = extend_index(&mut index, &bytes);
        for problem in file.take_problems() {
            self.warn(problem.to_error());
        }
        self.report_damage(path, &bytes, index.covered.min(len) - bytes.len() as u64);
        if let Some(stop) = stop {
            self.warn(VizError::new(
                ErrorKind::CorruptData,
                format!(
                    "{} at byte offset {}: {}; the {} bytes from there are unreadable",
                    path.display(),
                    stop.offset(),
                    stop.describe(),
                    len - stop.offset()
                ),
            ));
        }
        let _ = save_index(path, &header, &index, true);
        drop_tags(&mut index);
        Ok(Some(Segment {
            header,
            path: path.to_path_buf(),
            index,
        }))
    }

    /// Reports each damaged record and stretch of framing in `bytes` (which start
    /// at segment offset `at`); readers skip them.
    fn report_damage(&self, path: &Path, bytes: &[u8], at: u64) {
        for frame in Frames::new(bytes, at) {
            let what = match frame {
                Frame::Record { .. } => continue,
                Frame::Corrupt { offset, .. } => {
                    format!("byte offset {offset}: record payload fails its CRC")
                }
                Frame::Damaged { offset, len } => format!(
                    "byte offset {offset}: {len} bytes of damaged record framing, followed by intact records"
                ),
            };
            self.warn(VizError::new(
                ErrorKind::CorruptData,
                format!("{} at {what}; readers skip it", path.display()),
            ));
        }
    }

    /// Checks a segment header: a damaged one, or one naming another base offset
    /// than the file name (`base`), is reported (`None`); one from a newer viz is an
    /// error, since writing on would hide its data.
    fn check_header(&self, base: u64, path: &Path, head: &[u8]) -> Result<Option<Header>> {
        let why = match header_of(path, head)? {
            Ok(header) if header.base_offset == base => return Ok(Some(header)),
            Ok(header) => format!(
                "it says base offset {} but the file name says {base}",
                header.base_offset
            ),
            Err(why) => why,
        };
        self.skip_segment(path, &why);
        Ok(None)
    }

    /// Reports a segment skipped for its header.
    fn skip_segment(&self, path: &Path, why: &str) {
        self.warn(VizError::new(
            ErrorKind::CorruptData,
            format!(
                "{}: segment header: {why}; the segment is skipped",
                path.display()
            ),
        ));
    }

    /// Opens the newest segment for appending: rebuilds its index and truncates a
    /// torn tail, reporting it. Only damage that runs to the end of the file is a
    /// tail: damaged records and framing followed by intact records are reported
    /// and kept for readers to skip, never deleted. `None` when its header is
    /// damaged: it is moved aside to `<name>.damaged` and the caller starts a fresh
    /// segment.
    fn recover(&mut self, base: u64, path: &Path) -> Result<Option<Active>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_context(path, "opening"))?;
        let len = file.metadata()?.len();
        let bytes = read_at(&file, 0, len)?;
        let Some(header) = self.check_header(base, path, &bytes)? else {
            let aside = path.with_extension("vzl.damaged");
            std::fs::rename(path, &aside).map_err(io_context(path, "moving aside"))?;
            let _ = std::fs::remove_file(index_path(path));
            return Ok(None);
        };
        let body = &bytes[HEADER_LEN as usize..];
        // Keep everything up to the last intact record.
        let mut keep = HEADER_LEN;
        let mut frames = Frames::new(body, HEADER_LEN);
        while let Some(frame) = frames.next() {
            if let Frame::Record { .. } = frame {
                keep = frames.offset();
            }
        }
        self.report_damage(path, &bytes[HEADER_LEN as usize..keep as usize], HEADER_LEN);
        if keep < len {
            let reason = match frames.stop {
                Some(stop) if stop.offset() == keep => stop.describe().to_owned(),
                _ => "records that fail their CRC".to_owned(),
            };
            file.set_len(keep).map_err(io_context(path, "truncating"))?;
            file.sync_all().map_err(io_context(path, "syncing"))?;
            let recovery = Recovery {
                segment: path.to_path_buf(),
                offset: keep,
                dropped_bytes: len - keep,
                reason,
            };
            self.warn(VizError::new(
                ErrorKind::CorruptData,
                format!(
                    "recovered {}: dropped {} bytes from byte offset {} ({})",
                    path.display(),
                    recovery.dropped_bytes,
                    keep,
                    recovery.reason
                ),
            ));
            self.recoveries.push(recovery);
        }
        let mut index = SegmentIndex::empty(HEADER_LEN);
        extend_index(&mut index, &bytes[HEADER_LEN as usize..keep as usize]);
        save_index(path, &header, &index, true).map_err(io_context(path, "saving the index of"))?;
        Ok(Some(Active {
            index_saved: (index.covered, true),
            appended: false,
            seg: Segment {
                header,
                path: path.to_path_buf(),
                index,
            },
            out: Appender::new(file, path, keep, CHUNK),
        }))
    }
}

/// How a log is opened.
struct Options {
    max_bytes: u64,
    max_age: Duration,
    fsync: Fsync,
    compression: Option<Compression>,
}

/// The work of compressing a finished segment in place, one block per index
/// block; its sidecar stays valid, since the records keep their offsets.
fn seal_job(seg: &Segment, c: Compression, fsync: Fsync) -> Result<Job> {
    let starts: Vec<u64> = seg.index.blocks.iter().map(|b| b.offset).collect();
    Job::new(
        seg.path.clone(),
        seg.header,
        &starts,
        c,
        fsync != Fsync::Never,
    )
    .map_err(io_context(&seg.path, "opening to compress"))
}

fn offsets_exhausted(path: &Path) -> VizError {
    VizError::new(
        ErrorKind::CorruptData,
        format!(
            "{}: its offsets run past the end of u64 (a stray segment with a huge base offset?); move it away",
            path.display()
        ),
    )
}

/// Removes the temporary files a writer killed mid-roll or mid-save leaves.
fn remove_stray_temporaries(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(io_context(dir, "listing"))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if [".vzl.tmp", ".vzi.tmp", ".vzm.tmp"]
            .iter()
            .any(|t| name.ends_with(t))
        {
            std::fs::remove_file(&path).map_err(io_context(&path, "removing"))?;
        }
    }
    Ok(())
}

/// Takes the directory's writer lock, or says who cannot have it.
fn lock_dir(dir: &Path) -> Result<WriterLock> {
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_context(&path, "opening"))?;
    WriterLock::try_take(&file)
        .map_err(io_context(&path, "locking"))?
        .ok_or_else(|| {
            VizError::new(
                ErrorKind::Io,
                format!(
                    "{} is in use by another file:// writer (in this process or another); give each run its own directory",
                    dir.display()
                ),
            )
        })
}

/// Saves an index sidecar atomically (a reader never sees half of one).
fn save_index(
    segment: &Path,
    header: &Header,
    index: &SegmentIndex,
    with_tags: bool,
) -> std::io::Result<()> {
    let path = index_path(segment);
    let tmp = path.with_extension("vzi.tmp");
    std::fs::write(&tmp, index.encode(header, with_tags))?;
    std::fs::rename(&tmp, &path)
}

/// Frees a sealed segment's tag index: it is in its sidecar, and queries load it
/// through the read cache when they need it.
fn drop_tags(index: &mut SegmentIndex) {
    index.tags = Default::default();
    index.has_tags = false;
}

impl Active {
    /// Creates segment `base` with its header, atomically: readers never see a
    /// segment without one, and an existing segment is never replaced (a second
    /// segment at the same offset is an error, not an overwrite).
    fn create(dir: &Path, base: u64, fsync: Fsync) -> Result<Active> {
        let path = dir.join(segment_name(base));
        let tmp = path.with_extension("vzl.tmp");
        let header = Header {
            base_offset: base,
            created_unix_ms: now_unix_ms(),
            layout: Layout::Records,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_context(&tmp, "creating"))?;
        file.write_all_at(&header.encode(), 0)
            .map_err(io_context(&tmp, "writing"))?;
        if fsync != Fsync::Never {
            file.sync_all().map_err(io_context(&tmp, "syncing"))?;
        }
        // A hard link, unlike a rename, fails if the name is taken.
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        linked.map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                VizError::new(
                    ErrorKind::CorruptData,
                    format!(
                        "{} already exists: a new segment would overwrite it (the log's offsets are inconsistent)",
                        path.display()
                    ),
                )
            } else {
                io_context(&path, "creating")(e)
            }
        })?;
        if fsync != Fsync::Never {
            // The new name must survive a power cut too.
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_context(dir, "syncing"))?;
        }
        let _ = std::fs::remove_file(index_path(&path));
        Ok(Active {
            out: Appender::new(file, &path, HEADER_LEN, CHUNK),
            seg: Segment {
                header,
                path,
                index: SegmentIndex::empty(HEADER_LEN),
            },
            index_saved: (0, false),
            appended: false,
        })
    }

    /// Rebuilds the tag index from the segment's bytes, after a failed write
    /// rewound records it had noted.
    fn rebuild_tags(&mut self) -> Result<()> {
        let bytes = self.out.bytes(HEADER_LEN, self.seg.index.covered)?;
        let mut index = SegmentIndex::empty(HEADER_LEN);
        extend_index(&mut index, &bytes);
        self.seg.index.tags = index.tags;
        self.seg.index.has_tags = true;
        Ok(())
    }

    /// Saves the sidecar if it is behind; `with_tags` when sealing or closing
    /// (see `index.rs` for why a flush leaves the tag index out).
    fn save_index(&mut self, with_tags: bool) -> Result<()> {
        let (covered, had_tags) = self.index_saved;
        if covered != self.seg.index.covered || (with_tags && !had_tags) {
            save_index(&self.seg.path, &self.seg.header, &self.seg.index, with_tags)
                .map_err(io_context(&self.seg.path, "saving the index of"))?;
            self.index_saved = (self.seg.index.covered, with_tags);
        }
        Ok(())
    }
}

impl Log {
    /// Starts a new segment if the next `incoming` bytes should not go in the
    /// active one. A failure leaves the active segment in place (it grows past its
    /// limit) and is returned as a warning, so the batch is still stored.
    fn roll_if_due(&mut self, incoming: usize) -> Option<VizError> {
        let active = &self.active;
        let used = active.seg.index.covered;
        if active.seg.index.records == 0 {
            return None;
        }
        let age =
            Duration::from_millis(now_unix_ms().saturating_sub(active.seg.header.created_unix_ms));
        if used + incoming as u64 <= self.max_bytes && age < self.max_age {
            return None;
        }
        self.roll()
    }

    /// Seals the active segment and starts a new one, queueing the sealed one
    /// for compression; an error says what failed, and the log goes on.
    fn roll(&mut self) -> Option<VizError> {
        let rolled = (|| {
            self.active.out.write_out(true)?;
            if self.fsync != Fsync::Never {
                self.active.out.sync()?;
            }
            self.active.save_index(true)?;
            let next = (self.active.seg.next_offset())
                .ok_or_else(|| offsets_exhausted(&self.active.seg.path))?;
            let fresh = Active::create(&self.dir, next, self.fsync)?;
            let mut old = std::mem::replace(&mut self.active, fresh);
            drop_tags(&mut old.seg.index);
            self.sealed.push(old.seg);
            Ok::<_, VizError>(())
        })();
        if let Err(e) = rolled {
            return Some(e.context(
                "starting a new segment (the current one grows past its limit meanwhile)",
            ));
        }
        if let Some(c) = self.compression {
            let sealed = self.sealed.last().expect("just pushed");
            let queued = seal_job(sealed, c, self.fsync).and_then(|job| {
                self.sealer()?.push(job);
                Ok(())
            });
            if let Err(e) = queued {
                return Some(e.context("starting to compress a segment (it stays uncompressed)"));
            }
        }
        None
    }

    /// The log's sealer, started the first time a segment is compressed.
    fn sealer(&mut self) -> Result<&Sealer> {
        match &mut self.sealer {
            Some(sealer) => Ok(sealer),
            empty => Ok(empty.insert(Sealer::start()?)),
        }
    }

    /// Waits for the segments being compressed (`all`), or collects those done;
    /// returns the failures. A segment that failed stays readable as written.
    fn reap(&mut self, all: bool) -> Vec<VizError> {
        match &self.sealer {
            None => Vec::new(),
            Some(sealer) if all => sealer.wait(),
            Some(sealer) => sealer.take_failures(),
        }
    }

    fn store(&mut self, events: &[Event]) -> Result<Option<VizError>> {
        self.active.out.check_owner()?;
        self.scratch.clear();
        self.frames.clear();
        for event in events {
            let at = self.scratch.len();
            segment::frame(&mut self.scratch, |out| codec::encode(event, out)).map_err(|len| {
                VizError::invalid_argument(format!(
                    "event '{}' at step {} encodes to {len} bytes; a log record holds at most {} bytes",
                    event.tag,
                    event.step,
                    segment::MAX_RECORD
                ))
            })?;
            self.frames.push((at, self.scratch.len() - at, event.step));
        }
        let warning = self.roll_if_due(self.scratch.len());
        let active = &mut self.active;
        let (pending_mark, index_mark) = (active.out.mark(), active.seg.index.mark());
        let mut offset = active.seg.index.covered;
        for (&(at, len, _), event) in self.frames.iter().zip(events) {
            let payload = &self.scratch[at + segment::FRAME_LEN..at + len];
            let id = Some(event.tag.id().as_u32());
            let peek = codec::peek(payload);
            active.seg.index.note_tagged(offset, len as u64, peek, id);
            offset += len as u64;
        }
        active.out.pending().extend_from_slice(&self.scratch);
        active.appended = true;
        let written = match self.fsync {
            Fsync::Batch => active.out.write_out(true).and_then(|()| active.out.sync()),
            Fsync::Never | Fsync::Flush => active.out.write_out(false),
        };
        if let Err(e) = written {
            // Nothing of this batch counts as stored, so the collector's retry
            // cannot duplicate it.
            active.out.rewind(pending_mark);
            active.seg.index.rewind(index_mark);
            if !active.seg.index.has_tags {
                active.rebuild_tags()?;
            }
            return Err(e);
        }
        Ok(warning)
    }

    fn flush(&mut self, closing: bool) -> Result<()> {
        self.active.out.write_out(true)?;
        if self.fsync != Fsync::Never {
            self.active.out.sync()?;
        }
        self.active.save_index(closing)?;
        // Closing seals the active segment: the next writer starts a fresh one.
        if closing
            && self.active.appended
            && self.active.seg.index.records > 0
            && let Some(c) = self.compression
        {
            let job = seal_job(&self.active.seg, c, self.fsync)?;
            match self.sealer() {
                Ok(sealer) => sealer.push(job),
                // No thread to help: the writer compresses it alone.
                Err(_) => job.seal(&mut Vec::new())?,
            }
            if let Some(failure) = self.reap(true).into_iter().next() {
                return Err(failure);
            }
        }
        Ok(())
    }

    fn clear(&mut self) -> Result<()> {
        self.active.out.check_owner()?;
        self.flush(false)?;
        // Everything goes, compressed or not.
        drop(self.reap(true));
        let next = (self.active.seg.next_offset())
            .ok_or_else(|| offsets_exhausted(&self.active.seg.path))?;
        let paths: Vec<PathBuf> = self.sealed.drain(..).map(|s| s.path).collect();
        for path in paths.iter().chain([&self.active.seg.path]) {
            std::fs::remove_file(path).map_err(io_context(path, "removing"))?;
            let _ = std::fs::remove_file(index_path(path));
        }
        self.active = Active::create(&self.dir, next, self.fsync)?;
        Ok(())
    }
}

impl Drop for FileLogBackend {
    fn drop(&mut self) {
        // Buffered records must reach the file even when nobody called shutdown.
        let _ = self.shutdown();
    }
}

impl StorageBackend for FileLogBackend {
    fn type_name(&self) -> &str {
        "file"
    }

    fn initialize_with(&mut self, config: &StorageConfiguration) -> Result<()> {
        config.validate()?;
        let mut url = ConnectionString::parse(&config.connection_string)?;
        let max_bytes = url
            .take::<u64>("segment_max_bytes")?
            .unwrap_or(DEFAULT_MAX_BYTES);
        if max_bytes < 1024 {
            return Err(VizError::invalid_config(format!(
                "option segment_max_bytes has invalid value '{max_bytes}' for a file:// (use at least 1024)"
            )));
        }
        let max_age = url
            .take_duration("segment_max_age")?
            .unwrap_or(DEFAULT_MAX_AGE);
        let fsync = match url.take_choice("fsync", &["never", "flush", "batch"])? {
            Some("never") => Fsync::Never,
            Some("batch") => Fsync::Batch,
            _ => Fsync::Flush,
        };
        let compression = super::compression::option(&mut url, "file://", Compression::LZ4)?;
        let run = url.take::<String>("run")?;
        let rank = url.take::<u32>("rank")?;
        let location = std::mem::take(&mut url.location);
        url.finish()?;
        if location.is_empty() {
            return Err(VizError::invalid_config(
                "file:// needs a directory, such as file:///runs/exp1/log or file://runs/exp1/log",
            ));
        }
        if let Some(rank) = rank.filter(|&r| r > crate::runs::MAX_RANK) {
            return Err(VizError::invalid_config(format!(
                "option rank has invalid value '{rank}' for a file:// (0 to {})",
                crate::runs::MAX_RANK
            )));
        }
        // With `run`, the location is the project directory (see `crate::runs`).
        let (log_dir, meta_dir) = match (run, rank) {
            (Some(run), rank) => {
                crate::runs::validate_name(&run).map_err(|e| {
                    VizError::invalid_config(format!("option run: {}", e.message()))
                })?;
                let run_dir = crate::runs::create(Path::new(&location), &run)?;
                (crate::runs::rank_dir(&run_dir, rank.unwrap_or(0)), run_dir)
            }
            (None, Some(_)) => {
                return Err(VizError::invalid_config(
                    "option rank needs option run: file://<project dir>?run=NAME&rank=N",
                ));
            }
            (None, None) => (PathBuf::from(&location), PathBuf::from(&location)),
        };
        if self.log.is_some() {
            self.shutdown()?;
        }
        self.recoveries.clear();
        let options = Options {
            max_bytes,
            max_age,
            fsync,
            compression,
        };
        self.log = Some(self.open(&log_dir, options)?);
        self.metadata = Some(Mutex::new(MetadataLog::open(&meta_dir)?));
        self.stored = 0;
        Ok(())
    }

    fn shutdown(&mut self) -> Result<()> {
        if self.log.is_none() {
            return Ok(());
        }
        self.wait_sealed()?;
        let flushed = self.log()?.flush(true);
        self.log = None;
        self.metadata = None;
        flushed
    }

    fn is_initialized(&self) -> bool {
        self.log.is_some()
    }

    fn store_events(&mut self, events: &[Event]) -> Result<()> {
        let log = self.log()?;
        let warning = log.store(events)?;
        let failures = log.reap(false);
        self.stored += events.len() as u64;
        for w in warning.into_iter().chain(failures) {
            self.warn(w);
        }
        Ok(())
    }

    fn get_events(&self, start_step: i64, end_step: i64) -> Result<Vec<Event>> {
        let read = self.read(start_step, end_step)?;
        for problem in &read.problems {
            self.warn(problem.to_error());
        }
        Ok(read.events)
    }

    fn query(&self, q: &Query) -> Result<Vec<Event>> {
        match self.indexed_query(q)? {
            Some(read) => Ok(read.events),
            None => q.run(self.get_events(q.steps.0, q.steps.1)?),
        }
    }

    fn pages_cheaply(&self, q: &Query) -> bool {
        // The tag index orders stored- and step-ordered candidates without reading
        // them, so a page skips its offset unread; conditions and wall-time order
        // need every candidate read.
        self.log
            .as_ref()
            .is_some_and(|l| l.active.seg.index.has_tags)
            && q.filter.is_none()
            && q.wall_time == (f64::NEG_INFINITY, f64::INFINITY)
            && matches!(q.order, Order::Stored | Order::StepAsc | Order::StepDesc)
    }

    fn aggregate(&self, q: &Query) -> Result<Vec<Aggregate>> {
        q.check_selection_only("an aggregate query")?;
        let mut read = IndexedRead::default();
        match self.indexed(q, |segs| query::aggregate(segs, q, &mut read))? {
            Some(aggregates) => Ok(aggregates),
            None => Ok(crate::query::aggregate(&self.query(q)?)),
        }
    }

    fn downsample(&self, q: &Query, first: i64, last: i64, buckets: usize) -> Result<Vec<Bucket>> {
        q.check_selection_only("a downsample query")?;
        let mut read = IndexedRead::default();
        let indexed = self.indexed(q, |segs| {
            query::downsample(segs, q, first, last, buckets, &mut read)
        })?;
        match indexed {
            Some(buckets) => Ok(buckets),
            None => crate::query::downsample(&self.query(q)?, first, last, buckets),
        }
    }

    fn latest(&self, q: &Query) -> Result<Vec<Event>> {
        q.check_selection_only("a latest-value query")?;
        match self.indexed(q, |segs| query::latest(segs, q))? {
            Some(read) => Ok(read.events),
            None => Ok(crate::query::latest(self.query(q)?)),
        }
    }

    fn flush(&mut self) -> Result<()> {
        self.log()?.flush(false)
    }

    /// The events the log holds, from every segment's index (seed 000's
    /// EventCount): not only those this writer stored, so a log opened to read
    /// reports what it holds.
    fn event_count(&self) -> u64 {
        self.log.as_ref().map_or(0, |l| {
            l.sealed.iter().map(|s| s.index.records).sum::<u64>() + l.active.seg.index.records
        })
    }

    fn clear(&mut self) -> Result<()> {
        self.log()?.clear()?;
        self.stored = 0;
        Ok(())
    }

    fn take_warnings(&mut self) -> Vec<VizError> {
        std::mem::take(self.warnings.get_mut())
    }

    fn set_metadata(&mut self, batch: &MetadataBatch) -> Result<()> {
        ensure_initialized(self.log.is_some(), "file")?;
        let metadata = self.metadata.as_ref().expect("opened with the log");
        metadata.lock().apply(batch)
    }

    /// Kept in `status.json` beside the segments, recorded at once: a run that
    /// says how it ended has ended.
    fn set_run_status(&mut self, status: crate::runs::RunStatus) -> Result<()> {
        crate::runs::write_status(&self.log()?.dir, status)
    }

    fn run_status(&self) -> Result<Option<crate::runs::RunStatus>> {
        ensure_initialized(self.log.is_some(), "file")?;
        crate::runs::read_status(&self.log.as_ref().expect("checked").dir)
    }

    fn metadata(&self) -> Result<Metadata> {
        ensure_initialized(self.log.is_some(), "file")?;
        let mut metadata = self.metadata.as_ref().expect("opened with the log").lock();
        // Other writers of the run (its other ranks) may have changed it.
        metadata.refresh()?;
        Ok(metadata.values().clone())
    }
}
