//! Appending to a file so that a failed write never leaves part of a record behind.
//!
//! Records are encoded into a pending buffer and written out at a known offset in
//! whole chunks (and fully on flush). If a write fails part way (a full disk, a file
//! size limit), the file is cut back to its last good length, so it always ends on
//! a record boundary; the caller rewinds the pending buffer to before the batch that
//! failed, and the collector's retry stores that batch exactly once. Every file
//! backend (`file://`, `tensorboard://`, `jsonl://`) appends through this.
//!
//! The fork rule: a file belongs to the process that opened it. A child made by
//! `fork` inherits the descriptor (and, for `file://` and `jsonl://`, the writer
//! lock, which is held per open file, not per process), so its writes would land
//! on top of its parent's. The appender refuses every write, sync and truncation
//! from a process other than its opener, with an error that says so; the child
//! opens backends of its own (on other paths) instead. Descriptors are opened with
//! `O_CLOEXEC` (Rust's default), so programs the child `exec`s inherit nothing.

use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Result, VizError};

/// A file being appended to, with the bytes not yet written out.
pub(crate) struct Appender {
    file: File,
    path: PathBuf,
    /// Bytes of the file known good; everything written lands after them.
    on_disk: u64,
    /// Encoded records not yet written.
    pending: Vec<u8>,
    /// Writes happen in multiples of this between flushes.
    chunk: usize,
    /// The process that opened the file: the only one that may write it.
    owner: u32,
}

impl Appender {
    /// Appends to `file`, whose first `on_disk` bytes are kept.
    pub(crate) fn new(file: File, path: &Path, on_disk: u64, chunk: usize) -> Appender {
        Appender {
            file,
            path: path.to_path_buf(),
            on_disk,
            pending: Vec::new(),
            chunk,
            owner: std::process::id(),
        }
    }

    /// Refuses use from a forked child (see the module docs).
    pub(crate) fn check_owner(&self) -> Result<()> {
        let me = std::process::id();
        if me == self.owner {
            return Ok(());
        }
        Err(VizError::new(
            crate::error::ErrorKind::Unsupported,
            format!(
                "{} was opened by process {}; this is a forked child (process {me}), which must not write to it: open a backend of its own in the child",
                self.path.display(),
                self.owner
            ),
        ))
    }

    /// Where the next record goes: written and pending bytes together.
    pub(crate) fn len(&self) -> u64 {
        self.on_disk + self.pending.len() as u64
    }

    /// The pending buffer, to encode records into.
    pub(crate) fn pending(&mut self) -> &mut Vec<u8> {
        &mut self.pending
    }

    /// A point to [`rewind`](Self::rewind) to: the records appended after it are
    /// forgotten, including any a failed write already put in the file.
    pub(crate) fn mark(&self) -> usize {
        self.pending.len()
    }

    /// Forgets what was appended since `mark`.
    pub(crate) fn rewind(&mut self, mark: usize) {
        self.pending.truncate(mark);
    }

    /// Writes out the pending bytes: all of them, or only whole chunks. On failure
    /// the file is cut back to its last good length and the pending bytes stay, so
    /// nothing half-written survives and nothing is lost.
    pub(crate) fn write_out(&mut self, all: bool) -> Result<()> {
        let n = if all {
            self.pending.len()
        } else {
            self.pending.len() / self.chunk * self.chunk
        };
        if n == 0 {
            return Ok(());
        }
        self.check_owner()?;
        if let Err(e) = self.file.write_all_at(&self.pending[..n], self.on_disk) {
            // Part may have landed; cut it off so a crash or a reader cannot see
            // records the caller was told failed.
            let _ = self.file.set_len(self.on_disk);
            return Err(VizError::from(e).context(format_args!("writing {}", self.path.display())));
        }
        self.on_disk += n as u64;
        self.pending.drain(..n);
        Ok(())
    }

    /// Syncs the file's data to the disk.
    pub(crate) fn sync(&self) -> Result<()> {
        self.check_owner()?;
        self.file
            .sync_data()
            .map_err(|e| VizError::from(e).context(format_args!("syncing {}", self.path.display())))
    }

    /// Bytes `[from, to)`, from the file and the pending buffer.
    pub(crate) fn bytes(&self, from: u64, to: u64) -> Result<Cow<'_, [u8]>> {
        // Clamped to what exists, so no range can index past the pending bytes.
        let from = from.min(self.len());
        let to = to.min(self.len()).max(from);
        if from >= self.on_disk {
            let at = (from - self.on_disk) as usize;
            let end = (to - self.on_disk) as usize;
            return Ok(Cow::Borrowed(&self.pending[at.min(end)..end]));
        }
        let mut out = crate::format::vizlog::scan::read_at(&self.file, from, to.min(self.on_disk))?
            .into_owned();
        if to > self.on_disk {
            out.extend_from_slice(&self.pending[..(to - self.on_disk) as usize]);
        }
        Ok(Cow::Owned(out))
    }

    /// Drops everything: the file is emptied down to `keep` bytes and nothing is
    /// pending.
    pub(crate) fn truncate(&mut self, keep: u64) -> Result<()> {
        self.check_owner()?;
        self.pending.clear();
        self.file.set_len(keep).map_err(|e| {
            VizError::from(e).context(format_args!("truncating {}", self.path.display()))
        })?;
        self.on_disk = keep;
        Ok(())
    }
}

impl crate::format::vizlog::query::Source for Appender {
    fn bytes(&self, from: u64, to: u64) -> Result<Cow<'_, [u8]>> {
        Appender::bytes(self, from, to)
    }
}
