//! The `jsonl://<path>` backend: one JSON object per event per line, for export and
//! debugging. Appends to an existing file rather than replace it.
//!
//! Options: `atomic=true` writes `<path>.tmp` and renames it to `<path>` on shutdown,
//! so readers never see a half-written export; `fsync=flush|never` (default `flush`).
//! Reads (`get_events`) parse the file back; a malformed line is `CorruptData`
//! naming its line number.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

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
    file: Option<BufWriter<File>>,
    written: u64,
}

impl JsonlBackend {
    pub(crate) fn boxed() -> Box<dyn StorageBackend> {
        Box::new(JsonlBackend::default())
    }

    fn file(&mut self) -> Result<&mut BufWriter<File>> {
        ensure_initialized(self.file.is_some(), "jsonl")?;
        Ok(self.file.as_mut().expect("checked"))
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
            .append(true)
            .open(&self.writing)
            .map_err(|e| {
                VizError::from(e).context(format_args!("opening {}", self.writing.display()))
            })?;
        self.file = Some(BufWriter::with_capacity(1 << 16, file));
        Ok(())
    }

    fn shutdown(&mut self) -> Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        self.flush()?;
        self.file = None;
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
        self.file.is_some()
    }

    fn store_events(&mut self, events: &[Event]) -> Result<()> {
        let file = self.file()?;
        for event in events {
            serde_json::to_writer(&mut *file, event)
                .map_err(|e| VizError::new(ErrorKind::Io, format!("writing JSON: {e}")))?;
            file.write_all(b"\n")?;
        }
        self.written += events.len() as u64;
        Ok(())
    }

    fn get_events(&self, start_step: i64, end_step: i64) -> Result<Vec<Event>> {
        ensure_initialized(self.file.is_some(), "jsonl")?;
        let reader = BufReader::new(File::open(&self.writing)?);
        let mut events = Vec::new();
        for (i, line) in reader.lines().enumerate() {
            let line = line?;
            let event: Event = serde_json::from_str(&line).map_err(|e| {
                VizError::new(
                    ErrorKind::CorruptData,
                    format!("{} line {}: {e}", self.writing.display(), i + 1),
                )
            })?;
            if (start_step..=end_step).contains(&event.step) {
                events.push(event);
            }
        }
        Ok(events)
    }

    fn flush(&mut self) -> Result<()> {
        let fsync = self.fsync;
        let file = self.file()?;
        file.flush()?;
        if fsync {
            file.get_ref().sync_data()?;
        }
        Ok(())
    }

    fn event_count(&self) -> u64 {
        self.written
    }

    fn clear(&mut self) -> Result<()> {
        let file = self.file()?;
        file.flush()?;
        file.get_ref().set_len(0)?;
        self.written = 0;
        Ok(())
    }
}
