//! Run metadata (seed 001's key-value level): hyperparameters, config, code
//! version and free-form tags of a run, as typed values (string, number, bool or any
//! JSON), changed in atomic batches.
//!
//! [`Metadata`] is the value map and the rules for keys. [`MetadataLog`] keeps it
//! durable beside a file:// log as `meta.vzm`: an append-only file of CRC-framed
//! records (the log's own framing), one per batch, so a batch is applied whole or
//! not at all, a crash mid-append loses only that batch, and several processes (the
//! ranks of one run) may append under a lock. Opening replays the intact records;
//! a file that grew past [`COMPACT_AFTER`] records is rewritten as one.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{ErrorKind, Result, VizError};
use crate::format::vizlog::segment::{self, Frame, Frames};

/// The longest key, in bytes (MLflow's limit for a param key).
pub const MAX_KEY_LEN: usize = 250;
/// The largest value, as JSON text.
pub const MAX_VALUE_LEN: usize = 64 * 1024;
/// Records after which opening rewrites the file as one.
pub const COMPACT_AFTER: usize = 1000;

/// A run's metadata: key → JSON value, in key order.
pub type Metadata = BTreeMap<String, Value>;

/// One atomic change: keys to set, then keys to delete.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataBatch {
    /// Keys to set, with their values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: Metadata,
    /// Keys to delete (absent keys are ignored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete: Vec<String>,
}

impl MetadataBatch {
    /// A batch setting `entries`.
    pub fn set(entries: impl IntoIterator<Item = (String, Value)>) -> MetadataBatch {
        MetadataBatch {
            set: entries.into_iter().collect(),
            delete: Vec::new(),
        }
    }

    /// A batch deleting `keys`.
    pub fn delete(keys: impl IntoIterator<Item = String>) -> MetadataBatch {
        MetadataBatch {
            set: Metadata::new(),
            delete: keys.into_iter().collect(),
        }
    }

    /// A batch from the JSON hosts pass: an object of keys to set.
    pub fn from_json_object(json: &str) -> Result<MetadataBatch> {
        match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(map)) => Ok(MetadataBatch::set(map)),
            Ok(other) => Err(VizError::invalid_argument(format!(
                "metadata must be a JSON object of keys to set, not {}",
                kind_of(&other)
            ))),
            Err(e) => Err(VizError::invalid_argument(format!(
                "metadata is not valid JSON: {e}"
            ))),
        }
    }

    /// Checks every key and value; the error names the offending key.
    pub fn validate(&self) -> Result<()> {
        for key in self.set.keys().chain(&self.delete) {
            validate_key(key)?;
        }
        for (key, value) in &self.set {
            let len = value.to_string().len();
            if len > MAX_VALUE_LEN {
                return Err(VizError::invalid_argument(format!(
                    "metadata value of '{key}' is {len} bytes as JSON; the limit is {MAX_VALUE_LEN}"
                )));
            }
        }
        Ok(())
    }

    /// Applies the batch to `to`.
    pub fn apply(&self, to: &mut Metadata) {
        for (k, v) in &self.set {
            to.insert(k.clone(), v.clone());
        }
        for k in &self.delete {
            to.remove(k);
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks a metadata key: 1 to 250 bytes, no control characters.
pub fn validate_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(VizError::invalid_argument(format!(
            "metadata key '{}' is {} bytes; keys are 1 to {MAX_KEY_LEN} bytes",
            key.chars().take(40).collect::<String>(),
            key.len()
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(VizError::invalid_argument(format!(
            "metadata key {key:?} contains a control character"
        )));
    }
    Ok(())
}

/// A run's metadata kept durable in `meta.vzm` beside its log.
#[derive(Debug)]
pub struct MetadataLog {
    path: PathBuf,
    values: Metadata,
    /// Bytes of the file replayed so far (later appends by others are read on).
    read_to: u64,
}

/// The metadata file of the log or run in `dir`.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join("meta.vzm")
}

fn io(path: &Path, doing: &str) -> impl FnOnce(std::io::Error) -> VizError {
    let what = format!("{doing} {}", path.display());
    move |e| VizError::from(e).context(what)
}

/// Holds an exclusive `flock` on a file while alive.
struct Locked<'a>(&'a File);

impl<'a> Locked<'a> {
    fn new(file: &'a File, path: &Path) -> Result<Locked<'a>> {
        // SAFETY: flock on a descriptor the caller owns; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io(path, "locking")(std::io::Error::last_os_error()));
        }
        Ok(Locked(file))
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

impl MetadataLog {
    /// Opens (creating its directory if needed) the metadata of the log or run in
    /// `dir`. Damaged records are skipped; a torn last record (a crash mid-append)
    /// is ignored, and cut off by the next append.
    pub fn open(dir: &Path) -> Result<MetadataLog> {
        std::fs::create_dir_all(dir).map_err(io(dir, "creating"))?;
        let mut log = MetadataLog {
            path: path_in(dir),
            values: Metadata::new(),
            read_to: 0,
        };
        let records = log.refresh()?;
        if records > COMPACT_AFTER {
            log.compact()?;
        }
        Ok(log)
    }

    /// Reads what other writers appended since the last read; returns the number
    /// of records replayed in all.
    pub fn refresh(&mut self) -> Result<usize> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(&self.path, "reading")(e)),
        };
        if (bytes.len() as u64) < self.read_to {
            // Rewritten (compacted) by another writer: replay from the start.
            self.values.clear();
            self.read_to = 0;
        }
        let mut records = 0;
        let mut frames = Frames::new(&bytes[self.read_to as usize..], self.read_to);
        for frame in frames.by_ref() {
            if let Frame::Record { payload, .. } = frame
                && let Ok(batch) = serde_json::from_slice::<MetadataBatch>(payload)
            {
                batch.apply(&mut self.values);
                records += 1;
            }
        }
        // A torn record at the end is not consumed: a later refresh retries it
        // only if it was still being written.
        self.read_to = frames.offset();
        Ok(records)
    }

    /// The current values (after [`refresh`](Self::refresh) they include other
    /// writers' changes).
    pub fn values(&self) -> &Metadata {
        &self.values
    }

    /// Applies `batch` durably: one record, appended under the file's lock and
    /// synced, then applied in memory. Either all of it lands or none does.
    pub fn apply(&mut self, batch: &MetadataBatch) -> Result<()> {
        batch.validate()?;
        let mut record = Vec::new();
        segment::frame(&mut record, |out| {
            serde_json::to_writer(out, batch).expect("a batch serializes")
        })
        .map_err(|len| {
            VizError::invalid_argument(format!("a metadata batch of {len} bytes is too large"))
        })?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io(&self.path, "opening"))?;
        {
            let _lock = Locked::new(&file, &self.path)?;
            // Others' records first, so ours applies on top, as on a replay.
            self.refresh()?;
            let mut before = file.metadata().map_err(io(&self.path, "reading"))?.len();
            if before > self.read_to {
                // A torn record: appends happen under this lock, so only a writer
                // that died mid-append leaves one. Cut it off.
                file.set_len(self.read_to)
                    .map_err(io(&self.path, "truncating"))?;
                before = self.read_to;
            }
            if let Err(e) = (&file).write_all(&record).and_then(|()| file.sync_data()) {
                // Leave no partial record behind for the next append to follow.
                let _ = file.set_len(before);
                return Err(io(&self.path, "writing")(e));
            }
        }
        self.refresh()?;
        Ok(())
    }

    /// Rewrites the file as one record of the current values (atomically, by
    /// rename), so replays stay short.
    fn compact(&mut self) -> Result<()> {
        let tmp = self.path.with_extension("vzm.tmp");
        let mut record = Vec::new();
        let all = MetadataBatch::set(self.values.clone());
        segment::frame(&mut record, |out| {
            serde_json::to_writer(out, &all).expect("a batch serializes")
        })
        .map_err(|len| {
            VizError::new(
                ErrorKind::InvalidArgument,
                format!("metadata of {len} bytes is too large to compact"),
            )
        })?;
        std::fs::write(&tmp, &record).map_err(io(&tmp, "writing"))?;
        std::fs::rename(&tmp, &self.path).map_err(io(&self.path, "replacing"))?;
        self.read_to = record.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_and_values_are_checked_by_name() {
        assert!(validate_key("lr").is_ok());
        assert!(validate_key("").is_err());
        assert!(validate_key(&"k".repeat(251)).is_err());
        let e = validate_key("a\nb").unwrap_err();
        assert!(e.message().contains("control"), "{e}");
        let big = MetadataBatch::set([("x".to_owned(), json!("y".repeat(70_000)))]);
        assert!(big.validate().unwrap_err().message().contains("'x'"));
        let e = MetadataBatch::from_json_object("[1]").unwrap_err();
        assert!(e.message().contains("not an array"), "{e}");
    }
}
