//! The `jsonl://<path>` backend: one JSON object per event per line, for export and
//! debugging. Appends to an existing file rather than replace it.
//!
//! Options: `atomic=true` writes `<path>.tmp` and renames it to `<path>` on shutdown,
//! so readers never see a half-written export; `fsync=flush|never` (default `flush`).
//! Reads (`get_events`) parse the file back, and the lines not yet written out; a
//! damaged line (torn by a power loss or an external truncate, or garbled) is
//! skipped and reported as a warning naming its line number, as file:// does for a
//! damaged record, so one bad line never makes the file unreadable. Non-finite
//! numbers are the strings `"NaN"`, `"Infinity"` and `"-Infinity"`.
//!
//! One writer per file: a second one, in this process or another, is refused (an
//! advisory `flock`), since two appenders would interleave lines. A write that
//! fails part way is cut off the file, so it always ends with a whole line. A
//! writer that opens a file ending mid-line (a crash) ends that line and reports
//! it, so what it appends stays readable.

use std::fs::OpenOptions;
use std::path::PathBuf;

use super::appender::Appender;
use super::writer_lock::WriterLock;
use super::{StorageBackend, ensure_initialized};
use crate::config::StorageConfiguration;
use crate::error::{ErrorKind, Result, VizError};
use crate::event::Event;
use crate::url::ConnectionString;

/// Writes events as JSON Lines.
#[derive(Default)]
pub struct JsonlBackend {
    /// Where the lines go now (`<path>.tmp` in atomic mode).
    writing: PathBuf,
    /// Where they end up.
    target: PathBuf,
    atomic: bool,
    fsync: bool,
    out: Option<Appender>,
    /// Held while `out` is open.
    lock: Option<WriterLock>,
    written: u64,
    /// Damage met since the collector last asked (`take_warnings`): a read skips a
    /// damaged line from `&self`, hence the lock.
    warnings: parking_lot::Mutex<Vec<VizError>>,
}

/// Writes are made in multiples of this between flushes.
const CHUNK: usize = 1 << 16;

/// The newline-ended lines in `file`, read in chunks from its start.
fn count_lines(file: &std::fs::File) -> Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 1 << 20];
    let (mut at, mut lines) = (0u64, 0u64);
    loop {
        let n = file.read_at(&mut buf, at)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        at += n as u64;
    }
}

impl JsonlBackend {
    pub(crate) fn boxed() -> Box<dyn StorageBackend> {
        Box::new(JsonlBackend::default())
    }

    fn out(&mut self) -> Result<&mut Appender> {
        ensure_initialized(self.out.is_some(), "jsonl")?;
        Ok(self.out.as_mut().expect("checked"))
    }
}

impl StorageBackend for JsonlBackend {
    fn type_name(&self) -> &str {
        "jsonl"
    }

    fn initialize_with(&mut self, config: &StorageConfiguration) -> Result<()> {
        config.validate()?;
        let mut url = ConnectionString::parse(&config.connection_string)?;
        self.atomic = url.take::<bool>("atomic")?.unwrap_or(false);
        self.fsync = url.take_choice("fsync", &["flush", "never"])? != Some("never");
        let location = std::mem::take(&mut url.location);
        url.finish()?;
        if location.is_empty() {
            return Err(VizError::invalid_config(
                "jsonl:// needs a file path, such as jsonl:///runs/a/events.jsonl",
            ));
        }
        self.target = PathBuf::from(location);
        self.writing = if self.atomic {
            let mut tmp = self.target.clone().into_os_string();
            tmp.push(".tmp");
            tmp.into()
        } else {
            self.target.clone()
        };
        if let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                VizError::from(e).context(format_args!("creating {}", dir.display()))
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&self.writing)
            .map_err(|e| {
                VizError::from(e).context(format_args!("opening {}", self.writing.display()))
            })?;
        let lock = WriterLock::try_take(&file).map_err(|e| {
            VizError::from(e).context(format_args!("locking {}", self.writing.display()))
        })?;
        let Some(lock) = lock else {
            return Err(VizError::new(
                ErrorKind::Io,
                format!(
                    "{} is in use by another jsonl:// writer (in this process or another); give each writer its own file",
                    self.writing.display()
                ),
            ));
        };
        let len = file.metadata()?.len();
        // What the file holds counts (seed 000's EventCount): its whole lines.
        self.written = count_lines(&file)?;
        let mut out = Appender::new(file, &self.writing, len, CHUNK);
        // A file a crash left mid-line gets its line ended, so the next starts whole.
        if len > 0 && out.bytes(len - 1, len)?.as_ref() != b"\n" {
            out.pending().push(b'\n');
            self.warnings.lock().push(VizError::new(
                ErrorKind::CorruptData,
                format!(
                    "{} ends mid-line (a torn write at byte {len}); the line was ended so what follows stays readable, and reads skip it",
                    self.writing.display()
                ),
            ));
        }
        self.out = Some(out);
        self.lock = Some(lock);
        Ok(())
    }

    fn shutdown(&mut self) -> Result<()> {
        if self.out.is_none() {
            return Ok(());
        }
        // Stay open if the last write fails, so a retry can still deliver.
        self.flush()?;
        self.out = None;
        // Released as this returns: after the rename, which another writer of the
        // same path must not race.
        let _lock = self.lock.take();
        if self.atomic {
            std::fs::rename(&self.writing, &self.target).map_err(|e| {
                VizError::from(e).context(format_args!(
                    "renaming {} to {}",
                    self.writing.display(),
                    self.target.display()
                ))
            })?;
        }
        Ok(())
    }

    fn is_initialized(&self) -> bool {
        self.out.is_some()
    }

    fn store_events(&mut self, events: &[Event]) -> Result<()> {
        let out = self.out()?;
        out.check_owner()?;
        let mark = out.mark();
        for event in events {
            let line = out.pending();
            if let Err(e) = serde_json::to_writer(&mut *line, event) {
                out.rewind(mark);
                return Err(VizError::new(ErrorKind::Io, format!("writing JSON: {e}")));
            }
            out.pending().push(b'\n');
        }
        if let Err(e) = out.write_out(false) {
            // Forget the batch; the file was cut back to whole lines.
            out.rewind(mark);
            return Err(e);
        }
        self.written += events.len() as u64;
        Ok(())
    }

    fn get_events(&self, start_step: i64, end_step: i64) -> Result<Vec<Event>> {
        ensure_initialized(self.out.is_some(), "jsonl")?;
        let out = self.out.as_ref().expect("checked");
        let bytes = out.bytes(0, out.len())?;
        let mut events = Vec::new();
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let event: Event = match serde_json::from_slice(line) {
                Ok(event) => event,
                Err(e) => {
                    self.warnings.lock().push(VizError::new(
                        ErrorKind::CorruptData,
                        format!(
                            "{} line {}: skipped a damaged line ({e})",
                            self.writing.display(),
                            i + 1
                        ),
                    ));
                    continue;
                }
            };
            if (start_step..=end_step).contains(&event.step) {
                events.push(event);
            }
        }
        Ok(events)
    }

    fn flush(&mut self) -> Result<()> {
        let fsync = self.fsync;
        let out = self.out()?;
        out.write_out(true)?;
        if fsync {
            out.sync()?;
        }
        Ok(())
    }

    fn event_count(&self) -> u64 {
        self.written
    }

    fn clear(&mut self) -> Result<()> {
        self.out()?.truncate(0)?;
        self.written = 0;
        Ok(())
    }

    fn take_warnings(&mut self) -> Vec<VizError> {
        std::mem::take(&mut *self.warnings.lock())
    }
}
