//! `s3://BUCKET/PREFIX?run=NAME&rank=N`: a run on any S3-compatible object store,
//! written at local speed.
//!
//! Events land in a local `file://` log first, the *staging* directory (by
//! default `$XDG_CACHE_HOME/viz/s3/<bucket>/<prefix>`, or `staging=DIR`), laid out
//! as a local project is (`<run>/rank-<N>/`). `collect` and the worker cost what
//! they cost with file://. An uploader thread puts each *final* segment (sealed,
//! and compressed if the log compresses) as one immutable object under
//! `PREFIX/<run>/rank-<N>/<segment>.vzl`, beside `PREFIX/<run>/run.json`, the
//! run's metadata `PREFIX/<run>/meta.vzm` and `rank-<N>/status.json`.
//!
//! Objects are never appended to: a segment is uploaded once it will never change,
//! so a retried upload writes the same bytes under the same key. The run-level
//! files (metadata, status) are replaced whole by a PUT, which S3 makes atomic.
//! What has been uploaded is listed in `uploaded.s3` in the staging rank
//! directory; a process that opens a staging directory a dead one left behind
//! uploads what is left.
//!
//! Freshness is the sealer's: a segment is uploaded once it rolls
//! (`segment_max_bytes`, `segment_max_age`, passed on to the staging log), so
//! smaller or younger segments mean a fresher shared copy and more requests.
//! `ack=replicated` makes `flush` seal the active segment and return only once
//! the store holds everything; `ack=local` (the default) returns once the
//! staging log does. Stop seals and uploads what is left, waiting up to
//! `drain_timeout` (default 30 s); what it could not upload stays in staging,
//! reported, for the next process or `viz sync`.
//!
//! One writer per run and rank under a prefix, with no server between writers:
//! opening claims `rank-<N>/writer.json` with a conditional PUT
//! (`If-None-Match: *`), so of two processes on any machines one wins and the
//! other is refused, naming the holder's pid and host. A claim whose process is
//! gone from this host is taken over; one from another host stays until its
//! writer closes (which deletes it) or someone deletes it by hand. A store
//! without conditional writes (older MinIO, some gateways) accepts both claims:
//! then nothing detects two writers of one rank.
//!
//! Reads through this backend answer from the staging copy.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::StorageBackend;
use super::file::FileLogBackend;
use crate::config::StorageConfiguration;
use crate::error::{ErrorKind, Result, VizError};
use crate::event::Event;
use crate::format::vizlog::segment::{HEADER_LEN, Header, Layout};
use crate::metadata::{Metadata, MetadataBatch};
use crate::object_store::ObjectStore;
use crate::query::{Aggregate, Bucket, Query};
use crate::url::ConnectionString;

/// How often the uploader looks for final segments when nobody wakes it.
const POLL: Duration = Duration::from_millis(500);
/// The longest it waits between attempts while the store fails.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// The staging rank directory's list of uploaded segments.
const UPLOADED: &str = "uploaded.s3";

/// An `s3://` destination's replication status (seed 001's
/// `getReplicationStatus`), as [`DestinationStats::replication`] shows it.
/// Pending counts are taken at each uploader pass (every 500 ms, and at `sync`).
///
/// [`DestinationStats::replication`]: crate::DestinationStats::replication
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplicationStats {
    /// Segments this process uploaded.
    pub segments_uploaded: u64,
    /// Their bytes.
    pub bytes_uploaded: u64,
    /// Segments in staging not yet in the store (the active one included).
    pub segments_pending: u64,
    /// Their bytes.
    pub bytes_pending: u64,
    /// Age in milliseconds of the oldest pending segment (0: none).
    pub oldest_pending_ms: u64,
    /// Requests the store answered with success (segments and run files).
    pub uploads: u64,
    /// Passes that failed and will be retried (the store unreachable or refusing).
    pub failures: u64,
    /// The most recent failure, if the last pass failed.
    pub last_error: Option<String>,
}

/// The counters an uploader keeps and the collector reads (cheap to clone).
#[derive(Clone, Default)]
pub struct Replication(Arc<Mutex<ReplicationStats>>);

impl Replication {
    /// A snapshot.
    pub fn stats(&self) -> ReplicationStats {
        self.0.lock().clone()
    }
}

/// The `s3://` backend: a staging `file://` log and its uploader.
#[derive(Default)]
pub struct S3Backend {
    replication: Replication,
    staging: FileLogBackend,
    uploader: Option<Uploader>,
    replicated: bool,
    drain_timeout: Duration,
    where_: String,
}

impl S3Backend {
    pub(crate) fn boxed() -> Box<dyn StorageBackend> {
        Box::new(S3Backend::default())
    }

    fn uploader(&self) -> Result<&Uploader> {
        self.uploader.as_ref().ok_or_else(|| {
            VizError::new(
                ErrorKind::Closed,
                "the s3 backend is not initialized; call initialize first",
            )
        })
    }

    /// Seals the staging log and waits until the store holds every event.
    fn upload_all(&mut self, timeout: Duration) -> Result<()> {
        self.staging.seal()?;
        self.uploader()?
            .drain(timeout)
            .map_err(|e| e.context(format_args!("replicating to {}", self.where_)))
    }
}

/// The default staging root: `$XDG_CACHE_HOME/viz/s3`, else `~/.cache/viz/s3`.
fn default_staging_root() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("viz/s3"));
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".cache/viz/s3")),
        None => Err(VizError::invalid_config(
            "s3://: neither XDG_CACHE_HOME nor HOME is set; give staging=DIR",
        )),
    }
}

impl StorageBackend for S3Backend {
    fn type_name(&self) -> &str {
        "s3"
    }

    fn initialize_with(&mut self, config: &StorageConfiguration) -> Result<()> {
        config.validate()?;
        let mut url = ConnectionString::parse(&config.connection_string)?;
        let location = std::mem::take(&mut url.location);
        let store = ObjectStore::from_options(&location, &mut url)?;
        let run = url.take::<String>("run")?.ok_or_else(|| {
            VizError::invalid_config("s3:// needs option run: s3://BUCKET/PREFIX?run=NAME&rank=N")
        })?;
        crate::runs::validate_name(&run)
            .map_err(|e| VizError::invalid_config(format!("option run: {}", e.message())))?;
        let rank = url.take::<u32>("rank")?.unwrap_or(0);
        let staging = match url.take::<String>("staging")? {
            Some(dir) => PathBuf::from(dir),
            None => default_staging_root()?
                .join(store.bucket())
                .join(store.prefix()),
        };
        let replicated = url.take_choice("ack", &["local", "replicated"])? == Some("replicated");
        let drain_timeout = url
            .take_duration("drain_timeout")?
            .unwrap_or(Duration::from_secs(30));
        // The staging log's own options pass through. It compresses sealed
        // segments (lz4) unless told not to.
        let compression = url.take_choice("compression", &["none", "lz4", "zstd"])?;
        let compresses = compression != Some("none");
        let mut file_url = format!("file://{}?run={run}&rank={rank}", staging.display());
        for key in ["segment_max_bytes", "segment_max_age", "fsync", "level"] {
            if let Some(value) = url.take::<String>(key)? {
                file_url.push_str(&format!("&{key}={value}"));
            }
        }
        if let Some(c) = compression {
            file_url.push_str(&format!("&compression={c}"));
        }
        url.finish()?;
        if self.uploader.is_some() {
            self.shutdown()?;
        }
        self.staging.initialize(&file_url)?;
        // Claim the rank now; a store that cannot be reached is claimed from
        // before the first upload instead, so a run starts while the store is down.
        let wanted = Wanted {
            key: store.key(&format!("{run}/rank-{rank}/writer.json")),
            run: run.clone(),
            rank,
        };
        let claim = match Claim::take(&store, &wanted) {
            Ok(c) => Ok(c),
            Err(e) if matches!(e.kind(), ErrorKind::Io | ErrorKind::Timeout) => Err(wanted),
            Err(e) => {
                let _ = self.staging.shutdown();
                return Err(e);
            }
        };
        let rank_dir = self.staging.dir().expect("initialized").to_path_buf();
        let run_dir = rank_dir
            .parent()
            .expect("a rank directory is in its run directory")
            .to_path_buf();
        let remote_run = store.key(&run);
        self.where_ = format!("s3://{}/{remote_run}", store.bucket());
        self.uploader = Some(Uploader::start(Plan {
            replication: self.replication.clone(),
            store: Arc::new(store),
            claim,
            rank_dir,
            run_dir,
            remote_run,
            rank_name: format!("rank-{rank}"),
            compresses,
        })?);
        self.replicated = replicated;
        self.drain_timeout = drain_timeout;
        Ok(())
    }

    fn shutdown(&mut self) -> Result<()> {
        let Some(uploader) = self.uploader.take() else {
            return Ok(());
        };
        // Seal, so the last events are in a final segment, then upload what is left.
        let sealed = self.staging.seal();
        let drained = sealed.and_then(|()| uploader.drain(self.drain_timeout));
        uploader.stop();
        let closed = self.staging.shutdown();
        drained.map_err(|e| {
            e.context(format_args!(
                "uploading to {} at close (what is left stays in staging, uploaded by the next process on it or `viz sync`)",
                self.where_
            ))
        })?;
        closed
    }

    fn is_initialized(&self) -> bool {
        self.uploader.is_some()
    }

    fn store_events(&mut self, events: &[Event]) -> Result<()> {
        // No wake: the uploader polls (every POLL), which bounds how late a
        // sealed segment starts uploading; a wake per batch made every batch
        // start a pass over staging.
        self.staging.store_events(events)
    }

    fn get_events(&self, start_step: i64, end_step: i64) -> Result<Vec<Event>> {
        self.staging.get_events(start_step, end_step)
    }

    fn query(&self, query: &Query) -> Result<Vec<Event>> {
        self.staging.query(query)
    }

    fn aggregate(&self, query: &Query) -> Result<Vec<Aggregate>> {
        self.staging.aggregate(query)
    }

    fn downsample(
        &self,
        query: &Query,
        first: i64,
        last: i64,
        buckets: usize,
    ) -> Result<Vec<Bucket>> {
        self.staging.downsample(query, first, last, buckets)
    }

    fn latest(&self, query: &Query) -> Result<Vec<Event>> {
        self.staging.latest(query)
    }

    fn set_metadata(&mut self, batch: &MetadataBatch) -> Result<()> {
        self.staging.set_metadata(batch)?;
        self.uploader()?.wake();
        Ok(())
    }

    fn metadata(&self) -> Result<Metadata> {
        self.staging.metadata()
    }

    fn set_run_status(&mut self, status: crate::runs::RunStatus) -> Result<()> {
        self.staging.set_run_status(status)?;
        self.uploader()?.wake();
        Ok(())
    }

    fn run_status(&self) -> Result<Option<crate::runs::RunStatus>> {
        self.staging.run_status()
    }

    fn flush(&mut self) -> Result<()> {
        self.staging.flush()?;
        if self.replicated {
            self.upload_all(self.drain_timeout)?;
        }
        Ok(())
    }

    fn replicate(&mut self, timeout: Duration) -> Result<()> {
        self.staging.flush()?;
        self.upload_all(timeout)
    }

    fn event_count(&self) -> u64 {
        self.staging.event_count()
    }

    fn replication(&self) -> Option<Replication> {
        Some(self.replication.clone())
    }

    fn clear(&mut self) -> Result<()> {
        Err(VizError::new(
            ErrorKind::Unsupported,
            "clear: an s3:// run's uploaded segments are immutable; delete the run instead",
        ))
    }

    fn take_warnings(&mut self) -> Vec<VizError> {
        let mut warnings = self.staging.take_warnings();
        if let Some(u) = &self.uploader {
            warnings.extend(std::mem::take(&mut *u.shared.warnings.lock()));
        }
        warnings
    }
}

/// What the uploader uploads, from where to where.
struct Plan {
    replication: Replication,
    store: Arc<ObjectStore>,
    /// The staging rank directory (the log's).
    rank_dir: PathBuf,
    /// The staging run directory (run.json, meta.vzm).
    run_dir: PathBuf,
    /// `PREFIX/<run>` in the bucket.
    remote_run: String,
    rank_name: String,
    /// Whether the staging log compresses sealed segments: then a sealed
    /// segment is final only once compressed (the sealer rewrites it).
    compresses: bool,
    /// The rank's claim, or what to claim before the first upload.
    claim: std::result::Result<Claim, Wanted>,
}

enum Msg {
    Wake,
    /// Upload everything final now and answer.
    /// Retried, while the failure is one a retry may cure, until the deadline.
    Drain(SyncSender<Result<()>>, Instant),
    Stop,
}

/// State the uploader shares with the backend.
#[derive(Default)]
struct Shared {
    warnings: Mutex<Vec<VizError>>,
}

struct Uploader {
    tx: Sender<Msg>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Uploader {
    fn start(plan: Plan) -> Result<Uploader> {
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = Arc::new(Shared::default());
        let state = State::load(plan, shared.clone())?;
        let thread = std::thread::Builder::new()
            .name("viz-s3-upload".into())
            .spawn(move || state.run(&rx))
            .map_err(|e| VizError::from(e).context("starting the s3 uploader thread"))?;
        Ok(Uploader {
            tx,
            thread: Some(thread),
            shared,
        })
    }

    fn wake(&self) {
        let _ = self.tx.send(Msg::Wake);
    }

    /// Uploads everything final, waiting at most `timeout`.
    fn drain(&self, timeout: Duration) -> Result<()> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        self.tx
            .send(Msg::Drain(reply, Instant::now() + timeout))
            .map_err(|_| VizError::closed("the s3 uploader has stopped"))?;
        match answer.recv_timeout(timeout) {
            Ok(result) => result,
            Err(_) => Err(VizError::new(
                ErrorKind::Timeout,
                format!(
                    "the object store did not take every segment within {} ms",
                    timeout.as_millis()
                ),
            )),
        }
    }

    fn stop(mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            // An upload in flight ends within the request timeout.
            let _ = t.join();
        }
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
    }
}

/// The uploader thread's state.
struct State {
    plan: Plan,
    shared: Arc<Shared>,
    uploaded: BTreeSet<String>,
    /// The run-level files as last uploaded: name → (length, modified).
    run_files: Vec<(String, Option<(u64, std::time::SystemTime)>)>,
    /// The sender's backoff (exponential, full jitter), so ranks retrying after
    /// an outage do not arrive at the store in lockstep.
    backoff: super::remote::backoff::Backoff,
    retry_at: Option<Instant>,
}

impl State {
    fn load(plan: Plan, shared: Arc<Shared>) -> Result<State> {
        let list = plan.rank_dir.join(UPLOADED);
        let uploaded = match std::fs::read_to_string(&list) {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => {
                return Err(VizError::from(e).context(format_args!("reading {}", list.display())));
            }
        };
        Ok(State {
            plan,
            shared,
            uploaded,
            run_files: ["run.json", "meta.vzm", "status.json"]
                .into_iter()
                .map(|n| (n.to_owned(), None))
                .collect(),
            backoff: super::remote::backoff::Backoff::new(POLL, MAX_BACKOFF),
            retry_at: None,
        })
    }

    fn run(mut self, rx: &Receiver<Msg>) {
        loop {
            let msg = match rx.recv_timeout(POLL) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => Msg::Wake,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            match msg {
                Msg::Stop => {
                    if let Ok(claim) = &self.plan.claim
                        && let Err(e) = claim.release(&self.plan.store)
                    {
                        self.shared.warnings.lock().push(e);
                    }
                    return;
                }
                Msg::Wake => {
                    if self.retry_at.is_some_and(|t| Instant::now() < t) {
                        continue;
                    }
                    if let Err(e) = self.pass(false) {
                        self.failed(e);
                    }
                }
                Msg::Drain(reply, deadline) => {
                    let result = loop {
                        match self.pass(true) {
                            Ok(()) => break Ok(()),
                            Err(e) => {
                                self.failed(e.clone());
                                // A store that answers 5xx or cannot be reached
                                // may recover (SeaweedFS answers 500 while it
                                // creates a bucket); a refusal will not.
                                let wait = self.retry_at.map_or(Duration::ZERO, |t| {
                                    t.saturating_duration_since(Instant::now())
                                });
                                let retryable =
                                    matches!(e.kind(), ErrorKind::Io | ErrorKind::Timeout);
                                if !retryable || Instant::now() + wait >= deadline {
                                    break Err(e);
                                }
                                std::thread::sleep(wait);
                            }
                        }
                    };
                    let _ = reply.send(result);
                }
            }
        }
    }

    /// Remembers a failure (reported once per streak) and backs off.
    fn failed(&mut self, e: VizError) {
        {
            let mut r = self.plan.replication.0.lock();
            r.failures += 1;
            r.last_error = Some(e.to_string());
        }
        if self.backoff.failures() == 0 {
            self.shared.warnings.lock().push(e);
        }
        self.retry_at = Some(Instant::now() + self.backoff.next_wait());
    }

    /// Uploads every final segment not yet uploaded, in order, then the
    /// run-level files that changed. `all`: everything in staging is final
    /// (the log was just sealed).
    fn pass(&mut self, all: bool) -> Result<()> {
        let passed = self.upload(all);
        self.count_pending();
        passed
    }

    /// Counts what staging holds that the store does not, for the stats.
    fn count_pending(&self) {
        let Ok(segments) = crate::format::vizlog::segment_files(&self.plan.rank_dir) else {
            return;
        };
        let (mut n, mut bytes, mut oldest) = (0u64, 0u64, 0u64);
        for (base, path) in &segments {
            if self
                .uploaded
                .contains(&crate::format::vizlog::segment_name(*base))
            {
                continue;
            }
            let Ok((head, len)) = read_head(path) else {
                continue;
            };
            if len <= HEADER_LEN {
                continue;
            }
            if n == 0
                && let Ok(h) = Header::decode(&head)
            {
                oldest = (super::run_claim::now_ms() as u64).saturating_sub(h.created_unix_ms);
            }
            n += 1;
            bytes += len;
        }
        let mut r = self.plan.replication.0.lock();
        r.segments_pending = n;
        r.bytes_pending = bytes;
        r.oldest_pending_ms = oldest;
    }

    /// The uploads of a pass (see [`State::pass`]).
    fn upload(&mut self, all: bool) -> Result<()> {
        if let Err(wanted) = &self.plan.claim {
            self.plan.claim = Ok(Claim::take(&self.plan.store, wanted)?);
        }
        let segments = crate::format::vizlog::segment_files(&self.plan.rank_dir).map_err(|e| {
            VizError::from(e).context(format_args!("listing {}", self.plan.rank_dir.display()))
        })?;
        let newest = segments.last().map(|(base, _)| *base);
        for (base, path) in &segments {
            let name = crate::format::vizlog::segment_name(*base);
            if self.uploaded.contains(&name) {
                continue;
            }
            // Not final yet: the segment being appended to, or one the sealer
            // has still to compress (it is rewritten then). Decided from the
            // header alone, so a pass never reads a growing segment.
            if !all && Some(*base) == newest {
                break;
            }
            let (head, len) = read_head(path)?;
            if len <= HEADER_LEN {
                continue; // no record yet: the active segment after a seal
            }
            let compressing = matches!(Header::decode(&head), Ok(h) if h.layout == Layout::Records)
                && self.plan.compresses;
            if !all && compressing {
                break;
            }
            let bytes = std::fs::read(path).map_err(|e| {
                VizError::from(e).context(format_args!("reading {}", path.display()))
            })?;
            let key = format!("{}/{}/{name}", self.plan.remote_run, self.plan.rank_name);
            self.plan.store.put(&key, &bytes)?;
            {
                let mut r = self.plan.replication.0.lock();
                r.segments_uploaded += 1;
                r.bytes_uploaded += bytes.len() as u64;
                r.uploads += 1;
            }
            self.uploaded.insert(name.clone());
            let list = self.plan.rank_dir.join(UPLOADED);
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&list)
                .and_then(|mut f| writeln!(f, "{name}"))
                .map_err(|e| {
                    VizError::from(e).context(format_args!("writing {}", list.display()))
                })?;
        }
        for i in 0..self.run_files.len() {
            let (name, seen) = &self.run_files[i];
            let (path, key) = if name == "status.json" {
                (
                    self.plan.rank_dir.join(name),
                    format!("{}/{}/{name}", self.plan.remote_run, self.plan.rank_name),
                )
            } else {
                (
                    self.plan.run_dir.join(name),
                    format!("{}/{name}", self.plan.remote_run),
                )
            };
            let now = std::fs::metadata(&path)
                .ok()
                .and_then(|m| Some((m.len(), m.modified().ok()?)));
            if now.is_none() || now == *seen {
                continue;
            }
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(
                        VizError::from(e).context(format_args!("reading {}", path.display()))
                    );
                }
            };
            self.plan.store.put(&key, &bytes)?;
            self.plan.replication.0.lock().uploads += 1;
            self.run_files[i].1 = now;
        }
        self.plan.replication.0.lock().last_error = None;
        self.backoff.reset();
        self.retry_at = None;
        Ok(())
    }
}

/// A claim to take: the object and the run and rank it stands for.
struct Wanted {
    key: String,
    run: String,
    rank: u32,
}

/// This process's claim on a run and rank under a prefix.
struct Claim {
    key: String,
    token: String,
}

impl Claim {
    /// Claims `key` with a conditional PUT; a claim left by a process gone from
    /// this host is taken over, any other refuses by name.
    fn take(store: &ObjectStore, wanted: &Wanted) -> Result<Claim> {
        let Wanted { key, run, rank } = wanted;
        let token = format!("{:x}-{}", super::run_claim::unique(), std::process::id());
        let body = serde_json::json!({
            "pid": std::process::id(),
            "host": super::run_claim::host_name(),
            "token": token,
            "started_unix_ms": super::run_claim::now_ms(),
        })
        .to_string();
        for _ in 0..2 {
            if store.put_new(key, body.as_bytes())? {
                return Ok(Claim {
                    key: key.to_owned(),
                    token,
                });
            }
            let holder: serde_json::Value = store
                .get(key)?
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            let pid = holder["pid"].as_i64().unwrap_or(0);
            let host = holder["host"].as_str().unwrap_or("?");
            let gone =
                host == super::run_claim::host_name() && !super::run_claim::process_alive(pid);
            if !gone {
                return Err(VizError::invalid_config(format!(
                    "run '{run}' rank {rank} at s3://{}/{key} is being written by process {pid} on host {host}; give another rank or run, or, if that process is gone, delete that object",
                    store.bucket()
                )));
            }
            // Its writer died on this host: take it over.
            store.delete(key)?;
        }
        Err(VizError::invalid_config(format!(
            "run '{run}' rank {rank}: another process claimed s3://{}/{key} while a dead writer's claim was taken over",
            store.bucket()
        )))
    }

    /// Deletes the claim if it is still this process's.
    fn release(&self, store: &ObjectStore) -> Result<()> {
        let ours = store
            .get(&self.key)?
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|v| v["token"] == self.token.as_str());
        if ours {
            store.delete(&self.key)?;
        }
        Ok(())
    }
}

/// A segment file's header bytes (as many as there are) and its length.
fn read_head(path: &std::path::Path) -> Result<(Vec<u8>, u64)> {
    use std::io::Read;
    let read = std::fs::File::open(path).and_then(|f| {
        let len = f.metadata()?.len();
        let mut head = Vec::with_capacity(HEADER_LEN as usize);
        f.take(HEADER_LEN).read_to_end(&mut head)?;
        Ok((head, len))
    });
    read.map_err(|e| VizError::from(e).context(format_args!("reading {}", path.display())))
}
