//! What a RUN argument names, opened for reading: a file:// log directory, a run
//! directory of a project (its ranks read as one), a `sqlite://` run, a
//! `jsonl://` file, or TensorBoard event files (read-only).

use std::path::{Path, PathBuf};

use viz::format::vizlog::LogReader;
use viz::query::{Aggregate, Bucket};
use viz::runs::{RunReader, RunRepository};
use viz::{Event, Query, StorageBackend, StorageBackendFactory};

use crate::fail::{Fail, usage};

/// A run opened for reading.
pub enum Source {
    /// One file:// log directory.
    Log(LogReader, PathBuf),
    /// A run of a project directory: its ranks.
    Run(RunReader, PathBuf),
    /// A run in a store the factory opens (sqlite://, jsonl://).
    Store(Box<dyn StorageBackend>),
}

/// Whether `dir` holds a file:// log (segments).
pub fn is_log_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(|e| e.ok())
            .any(|e| e.path().extension().is_some_and(|x| x == "vzl"))
    })
}

impl Source {
    /// Opens `spec`: a path or `file://` path (a log directory, or a run directory
    /// with `rank-N` logs), `sqlite://<file>?run=NAME`, or `jsonl://<file>`.
    pub fn open(spec: &str) -> Result<Source, Fail> {
        if let Some(rest) = spec.strip_prefix("sqlite://") {
            let (file, query) = rest.split_once('?').unwrap_or((rest, ""));
            let run = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("run="))
                .unwrap_or("default");
            if !Path::new(file).is_file() {
                return Err(usage(format!("no SQLite file at {file}")));
            }
            let runs = viz::factory::open_runs(&format!("sqlite://{file}"))?;
            if !runs.exists(run)? {
                return Err(usage(format!(
                    "no run '{run}' in {file} (its runs: {})",
                    runs.names()?.join(", ")
                )));
            }
            return Ok(Source::Store(
                StorageBackendFactory::global().create_url(spec)?,
            ));
        }
        if let Some(rest) = spec.strip_prefix("jsonl://") {
            let file = rest.split('?').next().unwrap_or("");
            if !Path::new(file).is_file() {
                return Err(usage(format!("no JSON Lines file at {file}")));
            }
            return Ok(Source::Store(
                StorageBackendFactory::global().create_url(spec)?,
            ));
        }
        if spec.starts_with("mlflow+http://") || spec.starts_with("mlflow+https://") {
            return Ok(Source::Store(crate::mlflow::open(spec)?));
        }
        if let Some(dir) = spec.strip_prefix("tensorboard://") {
            let dir = dir.split('?').next().unwrap_or("");
            if !Path::new(dir).is_dir() {
                return Err(usage(format!("no TensorBoard log directory at {dir}")));
            }
            return Ok(Source::Store(crate::tensorboard::open(Path::new(dir))?.0));
        }
        if let Some((scheme, _)) = spec.split_once("://")
            && scheme != "file"
        {
            return Err(usage(format!(
                "cannot read '{scheme}://' runs; give a log or run directory, sqlite://<file>?run=NAME, jsonl://<file>, tensorboard://<dir> or mlflow+http://<host>?experiment=&run="
            )));
        }
        let path = PathBuf::from(spec.strip_prefix("file://").unwrap_or(spec));
        let path = PathBuf::from(path.to_string_lossy().split('?').next().unwrap_or(""));
        if !path.is_dir() {
            return Err(usage(format!(
                "no run at {}: not a directory",
                path.display()
            )));
        }
        if is_log_dir(&path) {
            return Ok(Source::Log(LogReader::open(&path)?, path));
        }
        if crate::tensorboard::is_event_dir(&path) {
            return Ok(Source::Store(crate::tensorboard::open(&path)?.0));
        }
        let has_ranks = std::fs::read_dir(&path)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .any(|e| e.file_name().to_string_lossy().starts_with("rank-"))
            })
            .unwrap_or(false);
        if has_ranks {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let parent = path.parent().unwrap_or(Path::new("."));
            let reader = RunRepository::open(parent)?.reader(&name)?;
            return Ok(Source::Run(reader, path));
        }
        Err(usage(format!(
            "no run at {}: it holds no log segments (*.vzl) and no rank-N directories",
            path.display()
        )))
    }

    /// The events `q` selects.
    pub fn query(&self, q: &Query) -> viz::Result<Vec<Event>> {
        match self {
            Source::Log(r, _) => Ok(r.query(q)?.events),
            Source::Run(r, _) => r.query(q),
            Source::Store(b) => b.query(q),
        }
    }

    /// Per-tag scalar statistics.
    pub fn aggregate(&self, q: &Query) -> viz::Result<Vec<Aggregate>> {
        match self {
            Source::Log(r, _) => r.aggregate(q),
            Source::Run(r, _) => r.aggregate(q),
            Source::Store(b) => b.aggregate(q),
        }
    }

    /// Scalars in `buckets` step buckets over `first..=last`.
    pub fn downsample(
        &self,
        q: &Query,
        first: i64,
        last: i64,
        buckets: usize,
    ) -> viz::Result<Vec<Bucket>> {
        match self {
            Source::Log(r, _) => r.downsample(q, first, last, buckets),
            Source::Run(r, _) => r.downsample(q, first, last, buckets),
            Source::Store(b) => b.downsample(q, first, last, buckets),
        }
    }

    /// The last event of each tag.
    pub fn latest(&self, q: &Query) -> viz::Result<Vec<Event>> {
        match self {
            Source::Log(r, _) => r.latest(q),
            Source::Run(r, _) => r.latest(q),
            Source::Store(b) => b.latest(q),
        }
    }

    /// The run's metadata (hyperparameters and the like); empty if it keeps none.
    pub fn metadata(&self) -> viz::Result<viz::metadata::Metadata> {
        match self {
            Source::Log(_, dir) | Source::Run(_, dir) => {
                if !viz::metadata::path_in(dir).exists() {
                    return Ok(Default::default());
                }
                Ok(viz::metadata::MetadataLog::open(dir)?.values().clone())
            }
            Source::Store(b) => match b.metadata() {
                Err(e) if e.kind() == viz::ErrorKind::Unsupported => Ok(Default::default()),
                other => other,
            },
        }
    }

    /// How the run ended, if it says: a log's `status.json` (for a run of several
    /// ranks, rank 0's, or the first rank's that says), a store's own record.
    pub fn run_status(&self) -> viz::Result<Option<viz::RunStatus>> {
        match self {
            Source::Log(_, dir) => viz::runs::read_status(dir),
            Source::Run(..) => {
                for dir in self.log_dirs() {
                    if let Some(status) = viz::runs::read_status(&dir)? {
                        return Ok(Some(status));
                    }
                }
                Ok(None)
            }
            Source::Store(b) => match b.run_status() {
                Err(e) if e.kind() == viz::ErrorKind::Unsupported => Ok(None),
                other => other,
            },
        }
    }

    /// The log directories behind it (none for a store).
    pub fn log_dirs(&self) -> Vec<PathBuf> {
        match self {
            Source::Log(_, dir) => vec![dir.clone()],
            Source::Run(r, dir) => r
                .ranks()
                .iter()
                .map(|rank| viz::runs::rank_dir(dir, *rank))
                .collect(),
            Source::Store(_) => Vec::new(),
        }
    }
}

/// Bytes of the files under `path`.
pub fn disk_bytes(path: &Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| disk_bytes(&e.path()))
                    .sum()
            })
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}
