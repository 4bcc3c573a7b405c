//! One writer per run and rank in a `sqlite://` file: a claim row in the
//! `writers` table, with the holder's process, host and a heartbeat.
//!
//! file:// and jsonl:// hold a `flock`, which the kernel drops when the holder
//! dies. A SQLite file is shared by every rank of a project, so the lock is a row:
//! taken under the write lock (`BEGIN IMMEDIATE`), so two openers cannot both
//! find it free, and given back at shutdown. A holder that died keeps no claim:
//! on the same host a dead process is seen at once (`kill(pid, 0)`); elsewhere, or
//! for a reused pid, the claim lapses when its heartbeat is older than [`LEASE`].

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::{ErrorKind, Result, VizError};

/// How long a claim lasts without a heartbeat.
pub(crate) const LEASE: Duration = Duration::from_secs(30);

/// How often a holder renews its heartbeat: a third of the lease, so two missed
/// renewals still leave it held.
const RENEW: Duration = Duration::from_secs(10);

/// A claim this process holds on one run and rank.
pub(crate) struct RunClaim {
    run_id: i64,
    token: String,
    renewed: Instant,
}

/// Who holds a run, as read from its claim row.
struct Holder {
    pid: i64,
    host: String,
    heartbeat_ms: i64,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// This machine's host name (empty if it cannot be read: then only the lease
/// frees a dead holder's claim).
pub(crate) fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Whether process `pid` of this host exists (`EPERM`: it exists, as another user).
pub(crate) fn process_alive(pid: i64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

impl Holder {
    /// Whether the claim still holds: its heartbeat is within the lease and, on
    /// this host, its process exists.
    fn is_live(&self, host: &str, now_ms: i64) -> bool {
        let fresh = now_ms.saturating_sub(self.heartbeat_ms) < LEASE.as_millis() as i64;
        if !host.is_empty() && self.host == host {
            fresh && process_alive(self.pid)
        } else {
            fresh
        }
    }
}

impl RunClaim {
    /// Claims `run_id` for this process, or fails naming the run, the rank and the
    /// live holder. `what` names the run for messages (`run 'r' rank 0 of project 'p'`).
    pub(crate) fn take(
        conn: &mut Connection,
        path: &Path,
        run_id: i64,
        what: &str,
    ) -> Result<RunClaim> {
        let err = |doing: &'static str| move |e: rusqlite::Error| claim_error(path, doing, e);
        let host = host_name();
        let pid = std::process::id() as i64;
        let now = now_ms();
        let token = format!("{pid}-{host}-{}", unique());
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err("taking the write lock to claim a run in"))?;
        let holder = tx
            .query_row(
                "SELECT pid, host, heartbeat_unix_ms FROM writers WHERE run_id = ?1",
                [run_id],
                |r| {
                    Ok(Holder {
                        pid: r.get(0)?,
                        host: r.get(1)?,
                        heartbeat_ms: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(err("reading the writer claim in"))?;
        if let Some(h) = holder.filter(|h| h.is_live(&host, now)) {
            let ago = now.saturating_sub(h.heartbeat_ms) as f64 / 1000.0;
            return Err(VizError::new(
                ErrorKind::Io,
                format!(
                    "{what} in {} is being written by process {} on host '{}' (heartbeat {ago:.1} s ago); one writer per run and rank: give this writer another rank or run, or stop the other",
                    path.display(),
                    h.pid,
                    h.host
                ),
            ));
        }
        tx.execute(
            "INSERT OR REPLACE INTO writers (run_id, pid, host, token, heartbeat_unix_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![run_id, pid, host, token, now],
        )
        .map_err(err("claiming the run in"))?;
        tx.commit().map_err(err("committing the writer claim in"))?;
        Ok(RunClaim {
            run_id,
            token,
            renewed: Instant::now(),
        })
    }

    /// Renews the heartbeat when it is due. Fails if another writer took the
    /// claim over (this process was presumed dead: stopped past the lease).
    pub(crate) fn renew(&mut self, conn: &Connection, path: &Path, now: Instant) -> Result<()> {
        if now.saturating_duration_since(self.renewed) < RENEW {
            return Ok(());
        }
        let n = conn
            .execute(
                "UPDATE writers SET heartbeat_unix_ms = ?1 WHERE run_id = ?2 AND token = ?3",
                params![now_ms(), self.run_id, self.token],
            )
            .map_err(|e| claim_error(path, "renewing the writer claim in", e))?;
        self.renewed = now;
        if n == 0 {
            return Err(VizError::new(
                ErrorKind::Io,
                format!(
                    "{}: another writer took over this run's claim (this process went {} s without a heartbeat); two writers may now interleave steps",
                    path.display(),
                    LEASE.as_secs()
                ),
            ));
        }
        Ok(())
    }

    /// Gives the claim back (only if it is still this one's).
    pub(crate) fn release(&self, conn: &Connection, path: &Path) -> Result<()> {
        conn.execute(
            "DELETE FROM writers WHERE run_id = ?1 AND token = ?2",
            params![self.run_id, self.token],
        )
        .map(drop)
        .map_err(|e| claim_error(path, "releasing the writer claim in", e))
    }
}

/// An SQLite failure while claiming, naming the file and the step. (Not
/// `sqlite::sql_error`: that module imports this one.)
fn claim_error(path: &Path, doing: &str, e: rusqlite::Error) -> VizError {
    let busy = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    VizError::new(
        ErrorKind::Io,
        format!(
            "{} {doing}: {e}{}",
            path.display(),
            if busy {
                " (another writer held the database past busy_timeout)"
            } else {
                ""
            }
        ),
    )
}

/// A number no other claim of this process shares.
pub(crate) fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    (NEXT.fetch_add(1, Ordering::Relaxed) << 32) | nanos
}
