//! Runs (seed 003's namespaces, seed 002's repository): a run has a project, a name
//! and, in multi-process training, ranks, laid out under the project's directory:
//!
//! ```text
//! <project dir>/                      the project (its directory's name)
//!   <run>/run.json                    the run's identity: project, name, created
//!   <run>/meta.vzm                    its metadata, shared by its ranks
//!   <run>/rank-<N>/                   one durable log per rank (000….vzl, .vzi, LOCK)
//! ```
//!
//! A file:// backend writes into this layout when given `run=NAME` (and optionally
//! `rank=N`, default 0): `file:///runs/exp1?run=baseline&rank=3` writes rank 3 of run
//! `baseline` of project `exp1`. Each rank has its own log and writer lock, so the
//! ranks of a run never collide, and they share the run's metadata.
//!
//! [`RunRepository`] lists, finds, counts, reads and deletes the runs of a project;
//! [`RunReader`] reads a run's ranks as one run or one rank at a time.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ErrorKind, Result, VizError};

/// How a run ended, for backends that record it (MLflow's run status,
/// TensorBoard's HPARAMS session status). Set with
/// [`Collector::set_run_status`](crate::Collector::set_run_status) before stopping;
/// a run stopped without one ended `Finished`. The values are fixed: the C ABI
/// exposes them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum RunStatus {
    /// Ended normally.
    #[default]
    Finished = 0,
    /// Ended by an error (an exception in the training script, say).
    Failed = 1,
    /// Stopped from outside (a signal, a cancelled job).
    Killed = 2,
}
use crate::event::Event;
use crate::format::vizlog::LogReader;
use crate::metadata::{Metadata, MetadataLog};
use crate::query::{Aggregate, Bucket, Query, TagPattern};

/// The largest rank a run may have.
pub const MAX_RANK: u32 = 65_535;
const IDENTITY: &str = "run.json";

/// A run's identity, kept in `run.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunIdentity {
    /// The project: the name of the directory holding the run.
    pub project: String,
    /// The run's name.
    pub name: String,
    /// When its first writer created it, in milliseconds since the epoch.
    pub created_unix_ms: u64,
}

/// Checks a run name: 1 to 200 bytes, no `/`, no control characters, not `.` or `..`.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(VizError::invalid_argument(format!(
            "run name {name:?} {why}"
        )))
    };
    if name.is_empty() || name.len() > 200 {
        return bad("must be 1 to 200 bytes");
    }
    if name == "." || name == ".." || name.contains('/') || name.contains('\\') {
        return bad("must not be '.', '..' or contain a path separator");
    }
    if name.chars().any(char::is_control) {
        return bad("must not contain control characters");
    }
    Ok(())
}

/// The directory of rank `rank`'s log in the run at `run_dir`.
pub fn rank_dir(run_dir: &Path, rank: u32) -> PathBuf {
    run_dir.join(format!("rank-{rank}"))
}

/// Creates the run `name` under `project_dir` if it does not exist (identity
/// written atomically, so concurrent ranks agree on one), and returns its directory.
pub fn create(project_dir: &Path, name: &str) -> Result<PathBuf> {
    validate_name(name)?;
    let run_dir = project_dir.join(name);
    std::fs::create_dir_all(&run_dir)
        .map_err(|e| VizError::from(e).context(format_args!("creating {}", run_dir.display())))?;
    let path = run_dir.join(IDENTITY);
    if path.exists() {
        return Ok(run_dir);
    }
    let identity = RunIdentity {
        project: project_name(project_dir),
        name: name.to_owned(),
        created_unix_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    };
    let tmp = run_dir.join(format!("{IDENTITY}.{}.tmp", std::process::id()));
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(&identity).expect("serializes"),
    )
    .map_err(|e| VizError::from(e).context(format_args!("writing {}", tmp.display())))?;
    // A hard link fails if another rank created it first: theirs stands.
    let _ = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    Ok(run_dir)
}

/// The file in a log directory that records how its run ended.
const STATUS: &str = "status.json";

/// What `status.json` holds.
#[derive(Serialize, Deserialize)]
struct StatusFile {
    status: RunStatus,
    recorded_unix_ms: u64,
}

/// Records how the run behind the log directory `dir` ended, replacing the file
/// whole (written aside, then renamed), so a reader sees the old status or the
/// new one, never part of either.
pub fn write_status(dir: &Path, status: RunStatus) -> Result<()> {
    let path = dir.join(STATUS);
    let tmp = dir.join(format!("{STATUS}.{}.tmp", std::process::id()));
    let body = StatusFile {
        status,
        recorded_unix_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    };
    std::fs::write(&tmp, serde_json::to_vec(&body).expect("serializes"))
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| VizError::from(e).context(format_args!("writing {}", path.display())))
}

/// How the run behind the log directory `dir` ended; `None` while it runs, or if
/// it stopped without saying (a killed process).
pub fn read_status(dir: &Path) -> Result<Option<RunStatus>> {
    let path = dir.join(STATUS);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(VizError::from(e).context(format_args!("reading {}", path.display())));
        }
    };
    let file: StatusFile = serde_json::from_slice(&bytes).map_err(|e| {
        VizError::new(
            ErrorKind::CorruptData,
            format!("{} is not a run status: {e}", path.display()),
        )
    })?;
    Ok(Some(file.status))
}

fn project_name(dir: &Path) -> String {
    std::fs::canonicalize(dir)
        .ok()
        .as_deref()
        .unwrap_or(dir)
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// What a run holds, for listings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunInfo {
    /// Its identity.
    #[serde(flatten)]
    pub identity: RunIdentity,
    /// Its directory.
    pub path: PathBuf,
    /// Its ranks, ascending.
    pub ranks: Vec<u32>,
    /// Events stored, over every rank.
    pub events: u64,
    /// Bytes on disk (logs, indexes, metadata).
    pub bytes: u64,
    /// Each tag with its event count, over every rank.
    pub tags: BTreeMap<String, u64>,
    /// Smallest and largest step, if it holds any event.
    pub steps: Option<(i64, i64)>,
    /// Earliest and latest wall time (seconds since the epoch) of its events.
    pub wall_time: Option<(f64, f64)>,
    /// Its metadata.
    pub metadata: Metadata,
}

/// Which runs [`RunRepository::find`] returns: a name pattern and metadata values
/// that must match exactly. The default selects every run.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    /// Run names to select (exact, glob or regex); empty selects every name.
    pub names: Vec<TagPattern>,
    /// Metadata keys whose value must equal the one given.
    pub metadata: Metadata,
}

impl RunFilter {
    /// From the JSON hosts pass: `{"name": "base*", "metadata": {"lr": 0.1}}` (both
    /// optional; `name` as a query's tag pattern: a string, or `{"regex": ...}`).
    pub fn from_json(json: &str) -> Result<RunFilter> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            name: Option<Value>,
            #[serde(default)]
            metadata: Metadata,
        }
        let raw: Raw = serde_json::from_str(json)
            .map_err(|e| VizError::invalid_argument(format!("run filter: {e}")))?;
        let names = match raw.name {
            None => Vec::new(),
            Some(v) => {
                let q = Query::from_json(&serde_json::json!({ "tags": [v] }).to_string()).map_err(
                    |e| VizError::invalid_argument(format!("run filter name: {}", e.message())),
                )?;
                q.tags
            }
        };
        Ok(RunFilter {
            names,
            metadata: raw.metadata,
        })
    }

    fn matches(&self, name: &str, metadata: &Metadata) -> bool {
        (self.names.is_empty() || self.names.iter().any(|p| p.matches(name)))
            && self
                .metadata
                .iter()
                .all(|(k, v)| metadata.get(k) == Some(v))
    }
}

/// A store of runs, whatever holds them: a project directory ([`RunRepository`])
/// today, SQL and remote stores later. The provided methods build on the four
/// required ones.
pub trait RunStore {
    /// The names of its runs, sorted.
    fn names(&self) -> Result<Vec<String>>;
    /// What run `name` holds; an error naming it if there is no such run.
    fn info(&self, name: &str) -> Result<RunInfo>;
    /// Deletes run `name` with all its data.
    fn delete(&self, name: &str) -> Result<()>;
    /// The events of run `name` (every rank, as one run) that `query` selects.
    fn query(&self, name: &str, query: &Query) -> Result<Vec<Event>>;

    /// How many runs it holds.
    fn count(&self) -> Result<usize> {
        Ok(self.names()?.len())
    }

    /// Whether run `name` exists.
    fn exists(&self, name: &str) -> Result<bool> {
        Ok(self.names()?.iter().any(|n| n == name))
    }

    /// Every run's [`RunInfo`], by name.
    fn list(&self) -> Result<Vec<RunInfo>> {
        self.names()?.iter().map(|n| self.info(n)).collect()
    }

    /// The runs `filter` selects, by name.
    fn find(&self, filter: &RunFilter) -> Result<Vec<RunInfo>> {
        let mut out = Vec::new();
        for name in self.names()? {
            if !filter.names.is_empty() && !filter.names.iter().any(|p| p.matches(&name)) {
                continue;
            }
            let info = self.info(&name)?;
            if filter.matches(&name, &info.metadata) {
                out.push(info);
            }
        }
        Ok(out)
    }

    /// A query over several runs: the events `query` selects in each run `filter`
    /// selects, by run name.
    fn query_runs(
        &self,
        filter: &RunFilter,
        query: &Query,
    ) -> Result<BTreeMap<String, Vec<Event>>> {
        self.find(filter)?
            .into_iter()
            .map(|info| {
                let events = self.query(&info.identity.name, query)?;
                Ok((info.identity.name, events))
            })
            .collect()
    }
}

/// The runs of one project directory.
#[derive(Clone, Debug)]
pub struct RunRepository {
    root: PathBuf,
}

impl RunRepository {
    /// The repository of the project in directory `root`, which must exist.
    pub fn open(root: impl AsRef<Path>) -> Result<RunRepository> {
        let root = root.as_ref().to_path_buf();
        if !root.is_dir() {
            return Err(VizError::new(
                ErrorKind::Io,
                format!("{} is not a project directory of runs", root.display()),
            ));
        }
        Ok(RunRepository { root })
    }

    /// The project directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The names of its runs, sorted.
    pub fn names(&self) -> Result<Vec<String>> {
        let entries = std::fs::read_dir(&self.root).map_err(|e| {
            VizError::from(e).context(format_args!("listing {}", self.root.display()))
        })?;
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(IDENTITY).is_file())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Whether run `name` exists.
    pub fn exists(&self, name: &str) -> bool {
        validate_name(name).is_ok() && self.root.join(name).join(IDENTITY).is_file()
    }

    fn run_dir(&self, name: &str) -> Result<PathBuf> {
        validate_name(name)?;
        if !self.exists(name) {
            return Err(VizError::invalid_argument(format!(
                "no run '{name}' in {}",
                self.root.display()
            )));
        }
        Ok(self.root.join(name))
    }

    /// The ranks of run `name`, ascending.
    fn ranks(run_dir: &Path) -> Result<Vec<u32>> {
        let entries = std::fs::read_dir(run_dir).map_err(|e| {
            VizError::from(e).context(format_args!("listing {}", run_dir.display()))
        })?;
        let mut ranks: Vec<u32> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_prefix("rank-")?.parse().ok())
            .collect();
        ranks.sort_unstable();
        Ok(ranks)
    }

    /// What run `name` holds: ranks, events, tags, step and time span, size,
    /// metadata (from its logs' indexes, without reading its events).
    pub fn info(&self, name: &str) -> Result<RunInfo> {
        let run_dir = self.run_dir(name)?;
        let identity: RunIdentity =
            serde_json::from_slice(&std::fs::read(run_dir.join(IDENTITY)).map_err(|e| {
                VizError::from(e).context(format_args!("reading {name}'s identity"))
            })?)
            .map_err(|e| {
                VizError::new(
                    ErrorKind::CorruptData,
                    format!("{}: {e}", run_dir.join(IDENTITY).display()),
                )
            })?;
        let ranks = Self::ranks(&run_dir)?;
        let mut info = RunInfo {
            identity,
            path: run_dir.clone(),
            ranks: ranks.clone(),
            events: 0,
            bytes: dir_bytes(&run_dir),
            tags: BTreeMap::new(),
            steps: None,
            wall_time: None,
            metadata: MetadataLog::open(&run_dir)?.values().clone(),
        };
        for rank in ranks {
            let summary = LogReader::open(rank_dir(&run_dir, rank))?.summary()?;
            info.events += summary.events;
            for (tag, n) in summary.tags {
                *info.tags.entry(tag).or_default() += n;
            }
            info.steps = merge(info.steps, summary.steps, i64::min, i64::max);
            info.wall_time = merge(info.wall_time, summary.wall_time, f64::min, f64::max);
        }
        Ok(info)
    }

    /// Deletes run `name` with all its data. Refused while any of its ranks is
    /// being written (its writer holds the rank's lock).
    pub fn delete(&self, name: &str) -> Result<()> {
        let run_dir = self.run_dir(name)?;
        // Hold every rank's lock while deleting, so no writer starts meanwhile.
        let mut held = Vec::new();
        for rank in Self::ranks(&run_dir)? {
            let lock = rank_dir(&run_dir, rank).join("LOCK");
            let Ok(file) = File::open(&lock) else {
                continue;
            };
            // SAFETY: flock on a descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                return Err(VizError::new(
                    ErrorKind::Io,
                    format!(
                        "run '{name}' is being written (rank {rank}'s writer holds its lock); stop it first"
                    ),
                ));
            }
            held.push(file);
        }
        std::fs::remove_dir_all(&run_dir)
            .map_err(|e| VizError::from(e).context(format_args!("deleting {}", run_dir.display())))
    }

    /// A reader of run `name`'s ranks as one run.
    pub fn reader(&self, name: &str) -> Result<RunReader> {
        let run_dir = self.run_dir(name)?;
        let ranks = Self::ranks(&run_dir)?
            .into_iter()
            .map(|r| Ok((r, LogReader::open(rank_dir(&run_dir, r))?)))
            .collect::<Result<_>>()?;
        Ok(RunReader { ranks })
    }

    /// A reader of one rank of run `name`.
    pub fn rank_reader(&self, name: &str, rank: u32) -> Result<LogReader> {
        let dir = rank_dir(&self.run_dir(name)?, rank);
        if !dir.is_dir() {
            return Err(VizError::invalid_argument(format!(
                "run '{name}' has no rank {rank}"
            )));
        }
        LogReader::open(dir)
    }
}

impl RunStore for RunRepository {
    fn names(&self) -> Result<Vec<String>> {
        RunRepository::names(self)
    }

    fn info(&self, name: &str) -> Result<RunInfo> {
        RunRepository::info(self, name)
    }

    fn delete(&self, name: &str) -> Result<()> {
        RunRepository::delete(self, name)
    }

    fn query(&self, name: &str, query: &Query) -> Result<Vec<Event>> {
        self.reader(name)?.query(query)
    }

    fn exists(&self, name: &str) -> Result<bool> {
        Ok(RunRepository::exists(self, name))
    }
}

fn merge<T: Copy>(
    a: Option<(T, T)>,
    b: Option<(T, T)>,
    lo: fn(T, T) -> T,
    hi: fn(T, T) -> T,
) -> Option<(T, T)> {
    match (a, b) {
        (Some(a), Some(b)) => Some((lo(a.0, b.0), hi(a.1, b.1))),
        (x, None) | (None, x) => x,
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// A run's ranks read as one run: each answer gathers every rank's, rank by rank.
#[derive(Debug)]
pub struct RunReader {
    ranks: Vec<(u32, LogReader)>,
}

impl RunReader {
    /// The ranks it reads.
    pub fn ranks(&self) -> Vec<u32> {
        self.ranks.iter().map(|(r, _)| *r).collect()
    }

    /// Answers `q` over every rank: each rank through its tag index, then the
    /// union ordered as the query says (stored order: rank by rank).
    pub fn query(&self, q: &Query) -> Result<Vec<Event>> {
        q.validate()?;
        // Each rank need give no more than the whole page.
        let mut per_rank = q.clone();
        per_rank.offset = 0;
        per_rank.limit = q.limit.map(|l| l.saturating_add(q.offset));
        let mut all = Vec::new();
        for (_, reader) in &self.ranks {
            all.extend(reader.query(&per_rank)?.events);
        }
        q.run(all)
    }

    /// Per-tag statistics over every rank (see [`crate::StorageBackend::aggregate`]).
    pub fn aggregate(&self, q: &Query) -> Result<Vec<Aggregate>> {
        q.check_selection_only("an aggregate query")?;
        // One rank answers from its index. Several are read and computed over:
        // means skip NaN, so per-rank means cannot be merged exactly.
        if let [(_, only)] = self.ranks.as_slice() {
            return only.aggregate(q);
        }
        Ok(crate::query::aggregate(&self.query(q)?))
    }

    /// Downsampled buckets over every rank.
    pub fn downsample(
        &self,
        q: &Query,
        first: i64,
        last: i64,
        buckets: usize,
    ) -> Result<Vec<Bucket>> {
        q.check_selection_only("a downsample query")?;
        if let [(_, only)] = self.ranks.as_slice() {
            return only.downsample(q, first, last, buckets);
        }
        crate::query::downsample(&self.query(q)?, first, last, buckets)
    }

    /// The last event of each tag over every rank: the latest by wall time (then
    /// step), ordered by tag.
    pub fn latest(&self, q: &Query) -> Result<Vec<Event>> {
        q.check_selection_only("a latest-value query")?;
        let mut best: BTreeMap<&'static str, Event> = BTreeMap::new();
        for (_, reader) in &self.ranks {
            for e in reader.latest(q)? {
                let key = |e: &Event| (e.wall_time.unwrap_or(0.0), e.step);
                match best.get(e.tag.as_str()) {
                    Some(b) if key(b).partial_cmp(&key(&e)) != Some(std::cmp::Ordering::Less) => {}
                    _ => {
                        best.insert(e.tag.as_str(), e);
                    }
                }
            }
        }
        Ok(best.into_values().collect())
    }
}
