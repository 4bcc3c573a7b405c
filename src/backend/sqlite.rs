//! The `sqlite://<path>` backend: every run of a project in one SQLite file that any
//! SQL tool, pandas or DuckDB opens (schema and example SQL in docs/SQLITE.md).
//!
//! Options:
//! - `run=NAME` (default `default`), `rank=N` (0 to 65,535, default 0) and
//!   `project=NAME` (default: the file's stem): the run this backend writes.
//! - `synchronous=normal|full` (default `normal`): with WAL, `normal` survives a
//!   killed process; `full` also a power cut.
//! - `busy_timeout` (a duration, default `5s`): how long a write waits for another
//!   writer's lock before failing (and being retried by the collector).
//! - `compression=zstd|lz4|none` (default `zstd`) and `level` (zstd, default 3):
//!   how the payloads of tensors and raw bytes of 256 bytes or more are stored;
//!   `events.payload_codec` says which (0 none, 1 lz4, 2 zstd). A payload that
//!   does not shrink is stored as it is; images are PNG already.
//!
//! Each delivered batch is one transaction of prepared inserts (`BEGIN IMMEDIATE`,
//! so the write lock is taken up front); a batch that fails is rolled back whole
//! and tried once more before the error goes to the collector, which keeps the
//! events under its retry policy. The file is in WAL mode, so readers in other
//! processes read while a run writes. Queries, aggregates, downsampling and latest
//! values are SQL: filters, order, limits and grouping run inside SQLite.
//!
//! A host may group stores and metadata changes into one atomic unit
//! (`begin_transaction`, then `commit_transaction` or `rollback_transaction`; see
//! [`crate::backend::transaction`]); each batch inside it is a savepoint. Shutting
//! down with one open rolls it back.
//!
//! Schema changes are migrations ([`MIGRATIONS`]): `PRAGMA user_version` says which
//! have run; opening applies the missing ones in order, each in its own
//! transaction; a file from a newer viz is refused by name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params, params_from_iter};

use super::run_claim::RunClaim;
use super::{StorageBackend, ensure_initialized};
use crate::config::StorageConfiguration;
use crate::error::{ErrorKind, Result, VizError};
use crate::event::{Event, EventData, EventKind, Priority};
use crate::format::vizlog::blocks::{self, Codec, Compression};
use crate::format::vizlog::codec;
use crate::metadata::{Metadata, MetadataBatch};
use crate::query::{Aggregate, Bucket, Cmp, Order, Predicate, Query};
use crate::runs::{RunIdentity, RunInfo, RunStore};
use crate::tag::Tag;
use crate::url::ConnectionString;

/// The schema, as the ordered migrations that build it: migration `i` (1-based)
/// takes a file from version `i - 1` to `i`.
pub const MIGRATIONS: &[&str] = &[
    // 1: runs, tags, events, metadata.
    "CREATE TABLE runs (
         id INTEGER PRIMARY KEY,
         project TEXT NOT NULL,
         name TEXT NOT NULL,
         rank INTEGER NOT NULL DEFAULT 0,
         created_unix_ms INTEGER NOT NULL,
         UNIQUE (project, name, rank));
     CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
     CREATE TABLE events (
         id INTEGER PRIMARY KEY,
         run_id INTEGER NOT NULL REFERENCES runs (id),
         tag_id INTEGER NOT NULL REFERENCES tags (id),
         kind INTEGER NOT NULL,
         step INTEGER NOT NULL,
         wall_time REAL,
         priority INTEGER NOT NULL DEFAULT 0,
         value REAL,
         text TEXT,
         payload BLOB);
     CREATE INDEX events_run_tag_step ON events (run_id, tag_id, step);
     CREATE TABLE metadata (
         run_id INTEGER NOT NULL REFERENCES runs (id),
         key TEXT NOT NULL,
         value TEXT NOT NULL,
         PRIMARY KEY (run_id, key));",
    // 2: time-range reads, and names for kinds and a view of scalars for SQL users.
    "CREATE INDEX events_run_wall_time ON events (run_id, wall_time);
     CREATE TABLE kinds (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
     INSERT INTO kinds VALUES (0, 'scalar'), (1, 'histogram'), (2, 'text'), (3, 'image'),
                              (4, 'tensor'), (5, 'raw');
     CREATE VIEW scalars AS
         SELECT r.project, r.name AS run, r.rank, t.name AS tag, e.step, e.wall_time, e.value
         FROM events e JOIN runs r ON r.id = e.run_id JOIN tags t ON t.id = e.tag_id
         WHERE e.kind = 0;",
    // 3: each tag's last stored event per run, so "the latest value of each tag"
    // reads one row a tag instead of scanning the run.
    "CREATE TABLE tag_last (
         run_id INTEGER NOT NULL REFERENCES runs (id),
         tag_id INTEGER NOT NULL REFERENCES tags (id),
         event_id INTEGER NOT NULL REFERENCES events (id),
         PRIMARY KEY (run_id, tag_id));
     INSERT INTO tag_last SELECT run_id, tag_id, MAX(id) FROM events GROUP BY run_id, tag_id;",
    // 4: payloads of tensors and raw bytes may be compressed; payload_codec says
    // how (the code of `blocks::Codec`: 0 none, 1 lz4, 2 zstd).
    "ALTER TABLE events ADD COLUMN payload_codec INTEGER NOT NULL DEFAULT 0;",
    // 5: one writer per run and rank: the live writer's claim (see
    // `backend::run_claim`).
    "CREATE TABLE writers (
         run_id INTEGER PRIMARY KEY REFERENCES runs (id),
         pid INTEGER NOT NULL,
         host TEXT NOT NULL,
         token TEXT NOT NULL,
         heartbeat_unix_ms INTEGER NOT NULL);",
    // 6: how each run ended ('finished', 'failed', 'killed'); NULL while it runs
    // or if it stopped without saying.
    "ALTER TABLE runs ADD COLUMN status TEXT;",
];

/// The schema version this viz writes.
pub fn schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

const SCALAR: i64 = EventKind::Scalar as i64;
const TEXT: i64 = EventKind::Text as i64;

/// Writes (and reads back) a run in a SQLite file.
#[derive(Default)]
pub struct SqliteBackend {
    db: Option<Db>,
}

struct Db {
    conn: Connection,
    path: PathBuf,
    run_id: i64,
    /// Tag ids, interned in the `tags` table.
    tags: HashMap<Tag, i64>,
    stored: u64,
    /// Whether a host's transaction is open (`begin_transaction`).
    in_tx: bool,
    /// Events stored in the open transaction, counted when it commits.
    pending: u64,
    /// How tensor and raw payloads are compressed; `None` stores them as they are.
    compression: Option<Compression>,
    /// This writer's claim on its run and rank (`None` for a reader's Db).
    claim: Option<RunClaim>,
}

/// An error from SQLite, naming the file and what was being done, of the kind the
/// cause calls for.
fn sql_error(path: &Path, doing: &str, e: rusqlite::Error) -> VizError {
    let kind = match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => ErrorKind::CorruptData,
        Some(ErrorCode::DatabaseCorrupt) => ErrorKind::CorruptData,
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => ErrorKind::Io,
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::DiskFull) => ErrorKind::Io,
        _ => ErrorKind::Backend,
    };
    let hint = match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => " (it is not a SQLite database)",
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            " (another writer held the database past busy_timeout)"
        }
        Some(ErrorCode::ReadOnly) => " (the file or its directory is read-only)",
        Some(ErrorCode::CannotOpen) => " (a directory, or a path that cannot be created?)",
        _ => "",
    };
    VizError::new(kind, format!("{} {doing}: {e}{hint}", path.display()))
}

/// A backend dropped without `shutdown` still gives its claim back, so this
/// process can open the run again.
impl Drop for SqliteBackend {
    fn drop(&mut self) {
        if let Some(Db {
            claim: Some(claim),
            conn,
            path,
            ..
        }) = &self.db
        {
            let _ = claim.release(conn, path);
        }
    }
}

impl SqliteBackend {
    pub(crate) fn boxed() -> Box<dyn StorageBackend> {
        Box::new(SqliteBackend::default())
    }

    fn db(&self) -> Result<&Db> {
        ensure_initialized(self.db.is_some(), "sqlite")?;
        Ok(self.db.as_ref().expect("checked"))
    }

    fn db_mut(&mut self) -> Result<&mut Db> {
        ensure_initialized(self.db.is_some(), "sqlite")?;
        Ok(self.db.as_mut().expect("checked"))
    }
}

/// Brings the schema of `conn` up to this viz's version; refuses a file written by
/// a newer viz.
///
/// Everything happens under the write lock (`BEGIN IMMEDIATE`), and the version is
/// read again inside it: ranks that open one new file at once each wait for the
/// lock, and all but the first find the schema already there. Read outside the
/// lock, two openers both saw version 0 and the second failed with "table runs
/// already exists" (half the ranks of a four-rank start, in the audit).
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let err = |doing: &str| {
        let doing = doing.to_owned();
        move |e| sql_error(path, &doing, e)
    };
    let read_version = |conn: &Connection| -> Result<i64> {
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err("reading the schema version of"))
    };
    let newer = |version: i64| {
        VizError::new(
            ErrorKind::Unsupported,
            format!(
                "{} has schema version {version}, but this viz writes version {} (a newer viz made it; upgrade viz to open it)",
                path.display(),
                schema_version()
            ),
        )
    };
    // Most opens find the schema current: no write lock for them.
    let version = read_version(conn)?;
    if version > schema_version() {
        return Err(newer(version));
    }
    if version == schema_version() {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err("taking the write lock to migrate"))?;
    let version = read_version(&tx)?;
    if version > schema_version() {
        return Err(newer(version));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)
            .and_then(|()| tx.pragma_update(None, "user_version", (i + 1) as i64))
            .map_err(err(&format!("applying schema migration {} to", i + 1)))?;
    }
    tx.commit()
        .map_err(err("committing the schema migrations of"))
}

/// Puts the file in WAL mode (persistent, so once per file) and returns the mode
/// it is in. Switching takes an exclusive lock for which SQLite does not always
/// call the busy handler: ranks opening one new file at once got "database is
/// locked" at once (one in 160 opens), so a busy switch is retried until `busy`
/// has passed.
fn switch_to_wal(conn: &Connection, path: &Path, busy: Duration) -> Result<String> {
    let deadline = std::time::Instant::now() + busy;
    let mut pause = Duration::from_millis(1);
    loop {
        let current: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| sql_error(path, "reading the journal mode of", e))?;
        if current.eq_ignore_ascii_case("wal") {
            return Ok(current);
        }
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(mode) => return Ok(mode),
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(sql_error(path, "switching to WAL", e)),
        }
    }
}

/// Opens (creating if needed) the database at `path` with the connection settings
/// viz uses, and migrates it.
pub fn open(path: &Path, synchronous: &str, busy: Duration) -> Result<Connection> {
    if path.is_dir() {
        return Err(VizError::new(
            ErrorKind::Io,
            format!(
                "{} is a directory; sqlite:// needs a file path",
                path.display()
            ),
        ));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| VizError::from(e).context(format_args!("creating {}", dir.display())))?;
    }
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sql_error(path, "opening", e))?;
    conn.busy_timeout(busy)
        .map_err(|e| sql_error(path, "setting busy_timeout on", e))?;
    let mode = switch_to_wal(&conn, path, busy)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(VizError::new(
            ErrorKind::Io,
            format!(
                "{} could not switch to WAL mode (it stays '{mode}')",
                path.display()
            ),
        ));
    }
    conn.pragma_update(None, "synchronous", synchronous)
        .map_err(|e| sql_error(path, "setting synchronous on", e))?;
    // The REFERENCES clauses document the schema; checking them on every insert
    // would cost each row two more index searches, and viz writes ids it just read.
    migrate(&mut conn, path)?;
    Ok(conn)
}

impl Db {
    fn tag_id(&mut self, tag: Tag) -> rusqlite::Result<i64> {
        if let Some(&id) = self.tags.get(&tag) {
            return Ok(id);
        }
        self.conn.execute(
            "INSERT OR IGNORE INTO tags (name) VALUES (?1)",
            [tag.as_str()],
        )?;
        let id =
            self.conn
                .query_row("SELECT id FROM tags WHERE name = ?1", [tag.as_str()], |r| {
                    r.get(0)
                })?;
        self.tags.insert(tag, id);
        Ok(id)
    }

    /// One batch, as one transaction.
    fn insert(&mut self, events: &[Event]) -> rusqlite::Result<()> {
        // Inside a host's transaction a batch is a savepoint: it still fails whole.
        let (begin, commit, undo) = if self.in_tx {
            (
                "SAVEPOINT batch",
                "RELEASE batch",
                "ROLLBACK TO batch; RELEASE batch",
            )
        } else {
            ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
        };
        self.conn.execute_batch(begin)?;
        let done = (|| {
            // Tags first, so the insert statement is prepared once for the batch.
            let tags = events
                .iter()
                .map(|e| self.tag_id(e.tag))
                .collect::<rusqlite::Result<Vec<i64>>>()?;
            let tags_of_batch = tags.clone();
            // Rows go in groups of ROWS per statement: one statement step per group
            // rather than per row, which is most of an insert's cost here.
            let mut group = self.conn.prepare_cached(&insert_sql(ROWS))?;
            let mut single = self.conn.prepare_cached(&insert_sql(1))?;
            let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(ROWS * 9);
            for (events, tags) in events.chunks(ROWS).zip(tags.chunks(ROWS)) {
                values.clear();
                for (e, &tag) in events.iter().zip(tags) {
                    let mut payload_codec = Codec::None;
                    let (value, text, payload) = match &e.data {
                        // NaN is stored as NULL (SQLite has no NaN); kind tells them apart.
                        EventData::Scalar(v) => ((!v.is_nan()).then_some(*v), None, None),
                        EventData::Text(t) => (None, Some(t.clone()), None),
                        data => {
                            let mut record = Vec::new();
                            codec::encode(e, &mut record);
                            // Images are PNG already; histograms are small.
                            let squeeze = matches!(data, EventData::Tensor(_) | EventData::Raw(_))
                                && record.len() >= MIN_COMPRESSED;
                            if let Some(c) = self.compression.filter(|_| squeeze)
                                && let Some(packed) = blocks::compress_payload(&c, &record)
                            {
                                (record, payload_codec) = (packed, c.codec);
                            }
                            (None, None, Some(record))
                        }
                    };
                    values.extend([
                        self.run_id.into(),
                        tag.into(),
                        (e.kind() as i64).into(),
                        e.step.into(),
                        e.wall_time.into(),
                        (e.priority as i64).into(),
                        value.into(),
                        text.into(),
                        payload.into(),
                        (payload_codec as i64).into(),
                    ]);
                }
                if events.len() == ROWS {
                    group.execute(params_from_iter(values.iter()))?;
                } else {
                    for row in values.chunks(10) {
                        single.execute(params_from_iter(row.iter()))?;
                    }
                }
            }
            // The batch's rows took consecutive ids (the transaction holds the write
            // lock), ending at the last insert's: each tag's last one goes in tag_last.
            let last = self.conn.last_insert_rowid();
            let first = last - events.len() as i64 + 1;
            let mut last_of: HashMap<i64, i64> = HashMap::new();
            for (i, &tag) in tags_of_batch.iter().enumerate() {
                last_of.insert(tag, first + i as i64);
            }
            let mut upsert = self.conn.prepare_cached(
                "INSERT INTO tag_last (run_id, tag_id, event_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (run_id, tag_id) DO UPDATE SET event_id = excluded.event_id",
            )?;
            for (tag, id) in last_of {
                upsert.execute(params![self.run_id, tag, id])?;
            }
            Ok(())
        })();
        match done.and_then(|()| self.conn.execute_batch(commit)) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.conn.execute_batch(undo);
                // Ids interned by the rolled-back transaction are gone with it.
                self.tags.clear();
                Err(e)
            }
        }
    }
}

/// Rows per multi-row insert (10 parameters each, well under SQLite's limit).
const ROWS: usize = 64;

/// Payloads shorter than this are stored as they are: too small to gain.
const MIN_COMPRESSED: usize = 256;

/// An insert of `rows` events.
fn insert_sql(rows: usize) -> String {
    let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    format!(
        "INSERT INTO events (run_id, tag_id, kind, step, wall_time, priority, value, text, payload, payload_codec) VALUES {}",
        vec![row; rows].join(", ")
    )
}

/// An event from its row: kind, tag name, step, wall time, priority, value, text,
/// payload, payload codec.
type Row = (
    i64,
    String,
    i64,
    Option<f64>,
    i64,
    Option<f64>,
    Option<String>,
    Option<Vec<u8>>,
    u8,
);

fn event_of(row: Row) -> Result<Event> {
    let (kind, tag, step, wall, priority, value, text, payload, payload_codec) = row;
    if let Some(mut record) = payload {
        if payload_codec != Codec::None as u8 {
            record = blocks::decompress_payload(payload_codec, &record, u32::MAX as usize)
                .map_err(|why| {
                    VizError::new(
                        ErrorKind::CorruptData,
                        format!("sqlite event payload (compressed): {why}"),
                    )
                })?;
        }
        return codec::decode(&record).map_err(|why| {
            VizError::new(
                ErrorKind::CorruptData,
                format!("sqlite event payload: {why}"),
            )
        });
    }
    let data = match kind {
        SCALAR => EventData::Scalar(value.unwrap_or(f64::NAN)),
        TEXT => EventData::Text(text.unwrap_or_default()),
        k => {
            return Err(VizError::new(
                ErrorKind::CorruptData,
                format!("sqlite event of kind {k} has no payload"),
            ));
        }
    };
    Ok(Event {
        tag: Tag::new(&tag)?,
        step,
        wall_time: wall,
        priority: if priority == 1 {
            Priority::Critical
        } else {
            Priority::Normal
        },
        data,
    })
}

/// A SQL condition with its parameters.
struct Sql {
    text: String,
    params: Vec<rusqlite::types::Value>,
}

impl Sql {
    fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    fn param(&mut self, v: impl Into<rusqlite::types::Value>) {
        self.text.push('?');
        self.params.push(v.into());
    }
}

/// `predicate` as SQL with IEEE semantics: NaN (stored NULL) compares false with
/// everything but `ne` and `not in`; other kinds never match a value condition.
fn predicate_sql(p: &Predicate, out: &mut Sql) {
    let leaf = |out: &mut Sql, nan: bool, cmp: &dyn Fn(&mut Sql)| {
        out.push(&format!(
            "(CASE WHEN kind != {SCALAR} THEN 0 WHEN value IS NULL THEN {} ELSE COALESCE(",
            i32::from(nan)
        ));
        cmp(out);
        out.push(", 0) END)");
    };
    match p {
        Predicate::Value(cmp, x) => {
            let op = match cmp {
                Cmp::Eq => "=",
                Cmp::Ne => "!=",
                Cmp::Lt => "<",
                Cmp::Lte => "<=",
                Cmp::Gt => ">",
                Cmp::Gte => ">=",
            };
            // A NaN operand compares false with everything, `ne` true.
            if x.is_nan() {
                let ne = *cmp == Cmp::Ne;
                out.push(&format!("(kind = {SCALAR} AND {})", i32::from(ne)));
                return;
            }
            let x = *x;
            leaf(out, *cmp == Cmp::Ne, &|out: &mut Sql| {
                out.push(&format!("value {op} "));
                out.param(x);
            });
        }
        Predicate::In(xs) | Predicate::NotIn(xs) => {
            let not = matches!(p, Predicate::NotIn(_));
            let xs: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
            leaf(out, not, &|out: &mut Sql| {
                out.push(if not { "value NOT IN (" } else { "value IN (" });
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        out.push(", ");
                    }
                    out.param(*x);
                }
                out.push(")");
            });
        }
        Predicate::Finite => leaf(out, false, &|out: &mut Sql| {
            out.push("(value > -9e999 AND value < 9e999)");
        }),
        Predicate::And(all) | Predicate::Or(all) => {
            let (join, empty) = if matches!(p, Predicate::And(_)) {
                (" AND ", "1")
            } else {
                (" OR ", "0")
            };
            if all.is_empty() {
                out.push(empty);
                return;
            }
            out.push("(");
            for (i, q) in all.iter().enumerate() {
                if i > 0 {
                    out.push(join);
                }
                predicate_sql(q, out);
            }
            out.push(")");
        }
        Predicate::Not(q) => {
            out.push("(NOT ");
            predicate_sql(q, out);
            out.push(")");
        }
    }
}

impl Db {
    /// The `WHERE` clause of `q`'s selection (run, tags, kinds, steps, wall time,
    /// condition).
    fn selection(&self, q: &Query) -> Result<Sql> {
        let mut sql = Sql {
            text: "run_id = ".to_owned(),
            params: Vec::new(),
        };
        sql.param(self.run_id);
        if !q.tags.is_empty() {
            // Patterns match in Rust against the (small) tags table.
            let mut stmt = self
                .conn
                .prepare_cached("SELECT id, name FROM tags")
                .map_err(|e| sql_error(&self.path, "reading tags of", e))?;
            let ids: Vec<i64> = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(|e| sql_error(&self.path, "reading tags of", e))?
                .into_iter()
                .filter(|(_, name)| q.tags.iter().any(|t| t.matches(name)))
                .map(|(id, _)| id)
                .collect();
            sql.push(" AND tag_id IN (");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.param(*id);
            }
            sql.push(")");
        }
        let kinds: Vec<i64> = EventKind::ALL
            .iter()
            .filter(|k| q.kinds.contains(**k))
            .map(|k| *k as i64)
            .collect();
        if kinds.len() < EventKind::ALL.len() {
            sql.push(&format!(
                " AND kind IN ({})",
                kinds
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if q.steps != (i64::MIN, i64::MAX) {
            sql.push(" AND step BETWEEN ");
            sql.param(q.steps.0);
            sql.push(" AND ");
            sql.param(q.steps.1);
        }
        if q.wall_time != (f64::NEG_INFINITY, f64::INFINITY) {
            sql.push(" AND (wall_time IS NULL OR wall_time BETWEEN ");
            sql.param(q.wall_time.0);
            sql.push(" AND ");
            sql.param(q.wall_time.1);
            sql.push(")");
        }
        if let Some(p) = &q.filter {
            sql.push(" AND ");
            predicate_sql(p, &mut sql);
        }
        Ok(sql)
    }

    fn events(&self, sql: &str, params: &[rusqlite::types::Value]) -> Result<Vec<Event>> {
        let mut stmt = self
            .conn
            .prepare(sql)
            .map_err(|e| sql_error(&self.path, "querying", e))?;
        let rows = stmt
            .query_map(params_from_iter(params), |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<Row>>>())
            .map_err(|e| sql_error(&self.path, "querying", e))?;
        rows.into_iter().map(event_of).collect()
    }
}

const COLUMNS: &str =
    "e.kind, t.name, e.step, e.wall_time, e.priority, e.value, e.text, e.payload, e.payload_codec";

impl StorageBackend for SqliteBackend {
    fn type_name(&self) -> &str {
        "sqlite"
    }

    fn initialize_with(&mut self, config: &StorageConfiguration) -> Result<()> {
        config.validate()?;
        let mut url = ConnectionString::parse(&config.connection_string)?;
        let run = url
            .take::<String>("run")?
            .unwrap_or_else(|| "default".to_owned());
        let rank = url.take::<u32>("rank")?.unwrap_or(0);
        let project = url.take::<String>("project")?;
        let synchronous = url
            .take_choice("synchronous", &["normal", "full"])?
            .unwrap_or("normal")
            .to_owned();
        let busy = url
            .take_duration("busy_timeout")?
            .unwrap_or(Duration::from_secs(5));
        let compression = super::compression::option(&mut url, "sqlite://", Compression::ZSTD)?;
        let location = std::mem::take(&mut url.location);
        url.finish()?;
        if location.is_empty() {
            return Err(VizError::invalid_config(
                "sqlite:// needs a file path, such as sqlite:///runs/exp1.db or sqlite://runs/exp1.db",
            ));
        }
        crate::runs::validate_name(&run)
            .map_err(|e| VizError::invalid_config(format!("option run: {}", e.message())))?;
        if rank > crate::runs::MAX_RANK {
            return Err(VizError::invalid_config(format!(
                "option rank has invalid value '{rank}' for a sqlite:// (0 to {})",
                crate::runs::MAX_RANK
            )));
        }
        let path = PathBuf::from(&location);
        let project = project.unwrap_or_else(|| {
            path.file_stem()
                .map_or_else(|| "viz".to_owned(), |s| s.to_string_lossy().into_owned())
        });
        let mut conn = open(&path, &synchronous, busy)?;
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        conn.execute(
            "INSERT OR IGNORE INTO runs (project, name, rank, created_unix_ms) VALUES (?1, ?2, ?3, ?4)",
            params![project, run, rank, created],
        )
        .map_err(|e| sql_error(&path, "creating the run in", e))?;
        let run_id: i64 = conn
            .query_row(
                "SELECT id FROM runs WHERE project = ?1 AND name = ?2 AND rank = ?3",
                params![project, run, rank],
                |r| r.get(0),
            )
            .map_err(|e| sql_error(&path, "finding the run in", e))?;
        // What the run already holds counts (seed 000's EventCount), once.
        let held: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM events WHERE run_id = ?1",
                [run_id],
                |r| r.get(0),
            )
            .map_err(|e| sql_error(&path, "counting the run's events in", e))?;
        let claim = RunClaim::take(
            &mut conn,
            &path,
            run_id,
            &format!("run '{run}' rank {rank} of project '{project}'"),
        )?;
        self.db = Some(Db {
            conn,
            path,
            run_id,
            tags: HashMap::new(),
            stored: held as u64,
            in_tx: false,
            pending: 0,
            compression,
            claim: Some(claim),
        });
        Ok(())
    }

    fn shutdown(&mut self) -> Result<()> {
        if let Some(db) = self.db.take() {
            // Given back before closing; a failure here only leaves a claim that
            // lapses with this process.
            let released = db
                .claim
                .as_ref()
                .map_or(Ok(()), |c| c.release(&db.conn, &db.path));
            db.conn
                .close()
                .map_err(|(_, e)| sql_error(&db.path, "closing", e))?;
            released?;
        }
        Ok(())
    }

    fn tick(&mut self, now: std::time::Instant) -> Result<()> {
        match &mut self.db {
            Some(Db {
                claim: Some(claim),
                conn,
                path,
                ..
            }) => claim.renew(conn, path, now),
            _ => Ok(()),
        }
    }

    fn is_initialized(&self) -> bool {
        self.db.is_some()
    }

    fn store_events(&mut self, events: &[Event]) -> Result<()> {
        let db = self.db_mut()?;
        // A batch that fails is rolled back whole and tried once more.
        let result = db.insert(events).or_else(|_| db.insert(events));
        result.map_err(|e| sql_error(&db.path, "storing a batch in", e))?;
        if db.in_tx {
            db.pending += events.len() as u64;
        } else {
            db.stored += events.len() as u64;
        }
        Ok(())
    }

    fn get_events(&self, start_step: i64, end_step: i64) -> Result<Vec<Event>> {
        self.query(&Query::all().steps(start_step, end_step))
    }

    fn query(&self, q: &Query) -> Result<Vec<Event>> {
        q.validate()?;
        let db = self.db()?;
        let mut sql = db.selection(q)?;
        let order = match q.order {
            Order::Stored => "e.id",
            Order::StepAsc => "e.step, e.id",
            Order::StepDesc => "e.step DESC, e.id",
            Order::WallAsc => "COALESCE(e.wall_time, 0), e.id",
            Order::WallDesc => "COALESCE(e.wall_time, 0) DESC, e.id",
        };
        let limit = q.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let text = format!(
            "SELECT {COLUMNS} FROM events e JOIN tags t ON t.id = e.tag_id WHERE {} ORDER BY {order} LIMIT {limit} OFFSET {}",
            sql.text.replace("run_id", "e.run_id"),
            q.offset
        );
        sql.text = text;
        db.events(&sql.text, &sql.params)
    }

    fn aggregate(&self, q: &Query) -> Result<Vec<Aggregate>> {
        q.check_selection_only("an aggregate query")?;
        if !q.kinds.contains(EventKind::Scalar) {
            return Ok(Vec::new());
        }
        let db = self.db()?;
        let sel = db.selection(q)?;
        let sql = format!(
            "WITH s AS (SELECT id, tag_id, step, value FROM events WHERE {} AND kind = {SCALAR}),
                  g AS (SELECT tag_id, COUNT(*) AS n, MIN(value) AS lo, MAX(value) AS hi, AVG(value) AS mean,
                               MIN(id) AS first_id, MAX(id) AS last_id FROM s GROUP BY tag_id)
             SELECT t.name, g.n, g.lo, g.hi, g.mean, f.step, f.value, l.step, l.value
             FROM g JOIN tags t ON t.id = g.tag_id
                    JOIN events f ON f.id = g.first_id JOIN events l ON l.id = g.last_id
             ORDER BY t.name",
            sel.text
        );
        let mut stmt = db
            .conn
            .prepare(&sql)
            .map_err(|e| sql_error(&db.path, "aggregating", e))?;
        let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
        stmt.query_map(params_from_iter(&sel.params), |r| {
            Ok(Aggregate {
                tag: r.get(0)?,
                count: r.get::<_, i64>(1)? as u64,
                min: nan(r.get(2)?),
                max: nan(r.get(3)?),
                mean: nan(r.get(4)?),
                first: (r.get(5)?, nan(r.get(6)?)),
                last: (r.get(7)?, nan(r.get(8)?)),
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| sql_error(&db.path, "aggregating", e))
    }

    fn downsample(&self, q: &Query, first: i64, last: i64, buckets: usize) -> Result<Vec<Bucket>> {
        q.check_selection_only("a downsample query")?;
        // The same checks and bucket arithmetic as the scan.
        crate::query::downsample(std::iter::empty(), first, last, buckets)?;
        if !q.kinds.contains(EventKind::Scalar) {
            return Ok(Vec::new());
        }
        let span = i128::from(last) - i128::from(first) + 1;
        let width = (span + buckets as i128 - 1) / buckets as i128;
        let db = self.db()?;
        let mut sel = db.selection(q)?;
        // Offsets from `first` fit in i64 unless the range spans all of i64, where
        // SQLite's integers would overflow: then the scan answers.
        let Ok(width64) = i64::try_from(width) else {
            return crate::query::downsample(&self.query(q)?, first, last, buckets);
        };
        if span > i128::from(i64::MAX) {
            return crate::query::downsample(&self.query(q)?, first, last, buckets);
        }
        sel.push(" AND step BETWEEN ");
        sel.param(first);
        sel.push(" AND ");
        sel.param(last);
        let sql = format!(
            "SELECT (step - {first}) / {width64} AS b, COUNT(*), MIN(value), MAX(value), AVG(value)
             FROM events WHERE {} AND kind = {SCALAR} GROUP BY b ORDER BY b",
            sel.text
        );
        let mut stmt = db
            .conn
            .prepare(&sql)
            .map_err(|e| sql_error(&db.path, "downsampling", e))?;
        let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
        stmt.query_map(params_from_iter(&sel.params), |r| {
            let b: i64 = r.get(0)?;
            let lo = i128::from(first) + i128::from(b) * width;
            Ok(Bucket {
                first_step: lo as i64,
                last_step: (lo + width - 1).min(i128::from(last)) as i64,
                count: r.get::<_, i64>(1)? as u64,
                min: nan(r.get(2)?),
                max: nan(r.get(3)?),
                mean: nan(r.get(4)?),
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| sql_error(&db.path, "downsampling", e))
    }

    fn latest(&self, q: &Query) -> Result<Vec<Event>> {
        q.check_selection_only("a latest-value query")?;
        let db = self.db()?;
        let sel = db.selection(q)?;
        // Selecting by tag alone, each tag's last event is in tag_last; any other
        // restriction needs the last event that meets it.
        let by_tag_only = q.kinds == crate::event::KindSet::ALL
            && q.steps == (i64::MIN, i64::MAX)
            && q.wall_time == (f64::NEG_INFINITY, f64::INFINITY)
            && q.filter.is_none();
        let last_ids = if by_tag_only {
            format!("SELECT event_id FROM tag_last WHERE {}", sel.text)
        } else {
            format!(
                "SELECT MAX(id) FROM events WHERE {} GROUP BY tag_id",
                sel.text
            )
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM events e JOIN tags t ON t.id = e.tag_id
             WHERE e.id IN ({last_ids}) ORDER BY t.name"
        );
        db.events(&sql, &sel.params)
    }

    fn set_metadata(&mut self, batch: &MetadataBatch) -> Result<()> {
        batch.validate()?;
        let db = self.db_mut()?;
        let path = db.path.clone();
        let run = db.run_id;
        // A savepoint: its own transaction, or part of a host's open one.
        let tx = db
            .conn
            .savepoint()
            .map_err(|e| sql_error(&path, "setting metadata in", e))?;
        let applied = (|| {
            for (k, v) in &batch.set {
                tx.execute(
                    "INSERT INTO metadata (run_id, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                    params![run, k, v.to_string()],
                )?;
            }
            for k in &batch.delete {
                tx.execute(
                    "DELETE FROM metadata WHERE run_id = ?1 AND key = ?2",
                    params![run, k],
                )?;
            }
            tx.commit()
        })();
        applied.map_err(|e| sql_error(&path, "setting metadata in", e))
    }

    fn begin_transaction(&mut self) -> Result<()> {
        let db = self.db_mut()?;
        if db.in_tx {
            return Err(VizError::invalid_argument(format!(
                "{}: a transaction is already open; commit or roll it back first",
                db.path.display()
            )));
        }
        db.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| sql_error(&db.path, "beginning a transaction in", e))?;
        db.in_tx = true;
        db.pending = 0;
        Ok(())
    }

    fn commit_transaction(&mut self) -> Result<()> {
        let db = self.db_mut()?;
        if !db.in_tx {
            return Err(VizError::invalid_argument(format!(
                "{}: no transaction is open to commit",
                db.path.display()
            )));
        }
        db.conn
            .execute_batch("COMMIT")
            .map_err(|e| sql_error(&db.path, "committing a transaction in", e))?;
        db.in_tx = false;
        db.stored += std::mem::take(&mut db.pending);
        Ok(())
    }

    fn rollback_transaction(&mut self) -> Result<()> {
        let db = self.db_mut()?;
        if !db.in_tx {
            return Err(VizError::invalid_argument(format!(
                "{}: no transaction is open to roll back",
                db.path.display()
            )));
        }
        db.in_tx = false;
        db.pending = 0;
        // Tag ids interned in it are gone with it.
        db.tags.clear();
        db.conn
            .execute_batch("ROLLBACK")
            .map_err(|e| sql_error(&db.path, "rolling back a transaction in", e))
    }

    fn set_run_status(&mut self, status: crate::runs::RunStatus) -> Result<()> {
        let db = self.db_mut()?;
        db.conn
            .execute(
                "UPDATE runs SET status = ?1 WHERE id = ?2",
                params![status_name(status), db.run_id],
            )
            .map(drop)
            .map_err(|e| sql_error(&db.path, "recording the run status in", e))
    }

    fn run_status(&self) -> Result<Option<crate::runs::RunStatus>> {
        let db = self.db()?;
        let name: Option<String> = db
            .conn
            .query_row("SELECT status FROM runs WHERE id = ?1", [db.run_id], |r| {
                r.get(0)
            })
            .map_err(|e| sql_error(&db.path, "reading the run status of", e))?;
        name.map(|n| {
            serde_json::from_value(serde_json::Value::String(n.clone())).map_err(|_| {
                VizError::new(
                    ErrorKind::CorruptData,
                    format!(
                        "{}: run status '{n}' is not finished, failed or killed",
                        db.path.display()
                    ),
                )
            })
        })
        .transpose()
    }

    fn metadata(&self) -> Result<Metadata> {
        let db = self.db()?;
        let mut stmt = db
            .conn
            .prepare_cached("SELECT key, value FROM metadata WHERE run_id = ?1")
            .map_err(|e| sql_error(&db.path, "reading metadata of", e))?;
        let rows: Vec<(String, String)> = stmt
            .query_map([db.run_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| sql_error(&db.path, "reading metadata of", e))?;
        rows.into_iter()
            .map(|(k, v)| {
                let value = serde_json::from_str(&v).map_err(|e| {
                    VizError::new(
                        ErrorKind::CorruptData,
                        format!("metadata '{k}' is not JSON: {e}"),
                    )
                })?;
                Ok((k, value))
            })
            .collect()
    }

    fn flush(&mut self) -> Result<()> {
        // Every batch is committed when stored; a checkpoint keeps the WAL short.
        let db = self.db_mut()?;
        db.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .optional()
            .map_err(|e| sql_error(&db.path, "checkpointing", e))?;
        Ok(())
    }

    fn event_count(&self) -> u64 {
        self.db.as_ref().map_or(0, |db| db.stored)
    }

    fn clear(&mut self) -> Result<()> {
        let db = self.db_mut()?;
        db.conn
            .execute_batch(&format!(
                "BEGIN; DELETE FROM tag_last WHERE run_id = {0}; DELETE FROM events WHERE run_id = {0}; COMMIT;",
                db.run_id
            ))
            .map_err(|e| sql_error(&db.path, "clearing", e))?;
        db.stored = 0;
        Ok(())
    }
}

/// The runs of a SQLite file as a [`RunStore`]: listed, summarised, read and
/// deleted by SQL. Each `(project, name, rank)` row is one rank of run `name`.
pub struct SqliteRuns {
    path: PathBuf,
    conn: parking_lot::Mutex<Connection>,
}

impl SqliteRuns {
    /// The runs in the SQLite file at `path`, which must exist.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteRuns> {
        let path = path.as_ref().to_path_buf();
        if !path.is_file() {
            return Err(VizError::new(
                ErrorKind::Io,
                format!("{} is not a sqlite:// file of runs", path.display()),
            ));
        }
        let conn = open(&path, "normal", Duration::from_secs(5))?;
        Ok(SqliteRuns {
            path,
            conn: parking_lot::Mutex::new(conn),
        })
    }

    /// The ids and ranks of run `name`, by rank; an error naming it if none.
    fn ranks(&self, conn: &Connection, name: &str) -> Result<Vec<(i64, u32)>> {
        let mut stmt = conn
            .prepare_cached("SELECT id, rank FROM runs WHERE name = ?1 ORDER BY rank, id")
            .map_err(|e| sql_error(&self.path, "reading runs of", e))?;
        let ranks: Vec<(i64, u32)> = stmt
            .query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| sql_error(&self.path, "reading runs of", e))?;
        if ranks.is_empty() {
            return Err(VizError::invalid_argument(format!(
                "no run '{name}' in {}",
                self.path.display()
            )));
        }
        Ok(ranks)
    }
}

impl RunStore for SqliteRuns {
    fn names(&self) -> Result<Vec<String>> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached("SELECT DISTINCT name FROM runs ORDER BY name")
            .map_err(|e| sql_error(&self.path, "reading runs of", e))?;
        stmt.query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| sql_error(&self.path, "reading runs of", e))
    }

    fn info(&self, name: &str) -> Result<RunInfo> {
        let conn = self.conn.lock();
        let ranks = self.ranks(&conn, name)?;
        let ids = ranks
            .iter()
            .map(|(id, _)| id.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let err = |e| sql_error(&self.path, "summarising a run in", e);
        let (project, created): (String, i64) = conn
            .query_row(
                &format!("SELECT project, MIN(created_unix_ms) FROM runs WHERE id IN ({ids})"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(err)?;
        let (events, lo, hi, first, last): (
            i64,
            Option<i64>,
            Option<i64>,
            Option<f64>,
            Option<f64>,
        ) = conn
            .query_row(
                &format!(
                    "SELECT COUNT(*), MIN(step), MAX(step), MIN(wall_time), MAX(wall_time)
                     FROM events WHERE run_id IN ({ids})"
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .map_err(err)?;
        let mut stmt = conn
            .prepare(&format!(
                "SELECT t.name, COUNT(*) FROM events e JOIN tags t ON t.id = e.tag_id
                 WHERE e.run_id IN ({ids}) GROUP BY e.tag_id"
            ))
            .map_err(err)?;
        let tags = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<_>>())
            .map_err(err)?;
        let mut stmt = conn
            .prepare(&format!(
                "SELECT key, value FROM metadata WHERE run_id IN ({ids}) ORDER BY run_id"
            ))
            .map_err(err)?;
        let pairs: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(err)?;
        let metadata = pairs
            .into_iter()
            .filter_map(|(k, v)| Some((k, serde_json::from_str(&v).ok()?)))
            .collect();
        Ok(RunInfo {
            identity: RunIdentity {
                project,
                name: name.to_owned(),
                created_unix_ms: created as u64,
            },
            path: self.path.clone(),
            ranks: ranks.iter().map(|(_, r)| *r).collect(),
            events: events as u64,
            // The runs share the file; its size is what there is to report.
            bytes: std::fs::metadata(&self.path).map_or(0, |m| m.len()),
            tags,
            steps: lo.zip(hi),
            wall_time: first.zip(last),
            metadata,
        })
    }

    fn delete(&self, name: &str) -> Result<()> {
        let mut conn = self.conn.lock();
        let ids = self
            .ranks(&conn, name)?
            .iter()
            .map(|(id, _)| id.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| sql_error(&self.path, "deleting a run from", e))?;
        tx.execute_batch(&format!(
            "DELETE FROM tag_last WHERE run_id IN ({ids});
             DELETE FROM writers WHERE run_id IN ({ids});
             DELETE FROM metadata WHERE run_id IN ({ids});
             DELETE FROM events WHERE run_id IN ({ids});
             DELETE FROM runs WHERE id IN ({ids});"
        ))
        .and_then(|()| tx.commit())
        .map_err(|e| sql_error(&self.path, "deleting a run from", e))
    }

    fn query(&self, name: &str, query: &Query) -> Result<Vec<Event>> {
        query.validate()?;
        let ranks = self.ranks(&self.conn.lock(), name)?;
        // Each rank's answer, at most the page, then the union in the query's order.
        let mut per_rank = query.clone();
        per_rank.offset = 0;
        per_rank.limit = query.limit.map(|l| l.saturating_add(query.offset));
        let mut all = Vec::new();
        for (run_id, _) in ranks {
            let conn = open(&self.path, "normal", Duration::from_secs(5))?;
            let rank = SqliteBackend {
                db: Some(Db {
                    conn,
                    path: self.path.clone(),
                    run_id,
                    tags: HashMap::new(),
                    stored: 0,
                    in_tx: false,
                    pending: 0,
                    compression: None, // It only reads,
                    claim: None,       // so it claims nothing.
                }),
            };
            all.extend(rank.query(&per_rank)?);
        }
        query.run(all)
    }
}

/// A run status as the `runs.status` column spells it (its serde name).
fn status_name(status: crate::runs::RunStatus) -> &'static str {
    match status {
        crate::runs::RunStatus::Finished => "finished",
        crate::runs::RunStatus::Failed => "failed",
        crate::runs::RunStatus::Killed => "killed",
    }
}
