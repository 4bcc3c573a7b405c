//! A durable queue of events (seed 003's queue with reserve, visibility timeout and
//! ack), for destinations that deliver elsewhere (a remote server) at least once.
//!
//! Events are appended to a file:// log in the spool's directory (segments, CRCs,
//! recovery: the durable log's guarantees) and made durable by each
//! [`Spool::enqueue`]. A sender [`reserve`](Spool::reserve)s the oldest events not
//! yet reserved, for a visibility timeout; [`ack`](Spool::ack) marks them delivered,
//! [`nack`](Spool::nack) returns them at once, and a reservation neither acked nor
//! nacked in time is handed out again (a redelivery). The acked position is
//! durable (`ACKED`, replaced atomically), so after a restart only unacked events are
//! sent again: delivery is at least once, and a crash repeats at most the batches
//! that were in flight. Segments wholly acked are deleted, and the spool refuses new
//! events ([`crate::ErrorKind::QueueFull`]) past its byte limit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::StorageBackend;
use crate::backend::file::FileLogBackend;
use crate::error::{ErrorKind, Result, VizError};
use crate::event::Event;
use crate::format::vizlog::Tail;

/// Default byte limit of a spool.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
const ACKED: &str = "ACKED";
/// The range being sent (advisory, not synced): after a crash, its events are the
/// ones a restart may send twice.
const IN_FLIGHT: &str = "IN_FLIGHT";

/// Events handed to a sender, to ack or nack.
#[derive(Debug)]
pub struct Reservation {
    /// Log offset of the first event.
    pub from: u64,
    /// The events, in order (offsets `from..from + events.len()`).
    pub events: Vec<Event>,
    /// How many times these offsets were handed out before (0: first delivery).
    pub redelivery: u32,
    /// Which hand-out this is: a late ack of an earlier one is refused.
    id: u64,
}

/// A spool's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Events enqueued and not yet acked.
    pub depth: u64,
    /// Bytes of the spool's log on disk.
    pub bytes: u64,
    /// Events handed out in reservations (redeliveries included).
    pub reserved: u64,
    /// Events acked.
    pub acked: u64,
    /// Events handed out again (after a nack or a visibility timeout).
    pub redelivered: u64,
}

struct Out {
    to: u64,
    deadline: Instant,
    redelivery: u32,
    id: u64,
}

/// A durable queue of events in a directory (see the module documentation).
pub struct Spool {
    dir: PathBuf,
    log: FileLogBackend,
    max_bytes: u64,
    /// Offsets below this are acked (durably).
    acked: u64,
    /// The next offset never reserved.
    fresh: u64,
    /// Reservations by first offset, and ranges due again (nacked or timed out),
    /// with how often they were handed out.
    out: BTreeMap<u64, Out>,
    due: BTreeMap<u64, (u64, u32)>,
    /// Acked ranges above `acked`, waiting for the ones below them.
    done: BTreeMap<u64, u64>,
    /// Ids of hand-outs so far.
    handed: u64,
    stats: SpoolStats,
}

fn io(path: &Path, doing: &str) -> impl FnOnce(std::io::Error) -> VizError {
    let what = format!("{doing} {}", path.display());
    move |e| VizError::from(e).context(what)
}

impl Spool {
    /// Opens (creating it if needed) the spool in `dir`, holding at most
    /// `max_bytes` of log on disk. One process at a time may own a spool.
    pub fn open(dir: impl AsRef<Path>, max_bytes: u64) -> Result<Spool> {
        let dir = dir.as_ref().to_path_buf();
        // Segments of a sixteenth of the limit, so acked data is freed in steps that
        // small (at least 64 KiB, at most the log's usual 64 MiB).
        let segment = (max_bytes / 16).clamp(64 << 10, 64 << 20);
        // Uncompressed: spooled events are read back once and deleted, so
        // compressing them would cost CPU for nothing, and the byte limit stays
        // what the events take as written (not what a background seal leaves).
        let mut log = FileLogBackend::default();
        log.initialize(&format!(
            "file://{}?fsync=flush&segment_max_bytes={segment}&compression=none",
            dir.display()
        ))?;
        let acked = match std::fs::read_to_string(dir.join(ACKED)) {
            Ok(text) => text.trim().parse::<u64>().map_err(|_| {
                VizError::new(
                    ErrorKind::CorruptData,
                    format!("{}: not an offset: {text:?}", dir.join(ACKED).display()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io(&dir.join(ACKED), "reading")(e)),
        };
        let next = log.next_offset().unwrap_or(0);
        let acked = acked.min(next);
        Ok(Spool {
            dir,
            log,
            max_bytes,
            acked,
            fresh: acked,
            out: BTreeMap::new(),
            due: BTreeMap::new(),
            done: BTreeMap::new(),
            handed: 0,
            stats: SpoolStats::default(),
        })
    }

    /// Bytes of the spool's files on disk.
    pub fn bytes(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Appends `events` durably (written and synced before it returns). Refused
    /// with `QueueFull`, storing nothing, past the spool's byte limit.
    pub fn enqueue(&mut self, events: &[Event]) -> Result<()> {
        if self.bytes() >= self.max_bytes {
            return Err(VizError::new(
                ErrorKind::QueueFull,
                format!(
                    "the spool in {} holds {} bytes, its limit: the destination is not keeping up",
                    self.dir.display(),
                    self.max_bytes
                ),
            ));
        }
        self.log.store_events(events)?;
        self.log.flush()
    }

    /// The offset the next enqueued event gets.
    pub fn next_offset(&self) -> u64 {
        self.log.next_offset().unwrap_or(0)
    }

    /// Every event below this offset is acked.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Records that `r` is being sent, so that a process which dies mid-send
    /// leaves word of which events the next one may deliver twice. Not synced: it
    /// only feeds the duplicate count.
    pub fn mark_in_flight(&self, r: &Reservation) -> Result<()> {
        let path = self.dir.join(IN_FLIGHT);
        std::fs::write(
            &path,
            format!("{} {}", r.from, r.from + r.events.len() as u64),
        )
        .map_err(io(&path, "writing"))
    }

    /// The range that was being sent when the spool was last closed or its process
    /// died, if any of it is still unacked.
    pub fn in_flight_at_open(&self) -> Option<(u64, u64)> {
        let text = std::fs::read_to_string(self.dir.join(IN_FLIGHT)).ok()?;
        let (from, to) = text.trim().split_once(' ')?;
        let (from, to) = (from.parse::<u64>().ok()?, to.parse::<u64>().ok()?);
        let from = from.max(self.acked);
        (from < to).then_some((from, to))
    }

    /// Events enqueued and not yet acked.
    pub fn depth(&self) -> u64 {
        self.log
            .next_offset()
            .unwrap_or(0)
            .saturating_sub(self.acked)
    }

    /// The wall time (seconds since the epoch) of the oldest unacked event, if any.
    pub fn oldest_wall_time(&self) -> Result<Option<f64>> {
        if self.depth() == 0 {
            return Ok(None);
        }
        let mut tail = Tail::from_offset(&self.dir, self.acked)?;
        Ok(tail.next(1)?.events.first().and_then(|e| e.wall_time))
    }

    /// Hands out at most `max` events for `visibility`: those due again first
    /// (nacked or timed out, oldest first), else the oldest never handed out.
    /// `None` when nothing is available now.
    pub fn reserve(&mut self, max: usize, visibility: Duration) -> Result<Option<Reservation>> {
        let now = Instant::now();
        // Reservations past their deadline are due again.
        let expired: Vec<u64> = self
            .out
            .iter()
            .filter(|(_, o)| o.deadline <= now)
            .map(|(&from, _)| from)
            .collect();
        for from in expired {
            let o = self.out.remove(&from).expect("listed");
            self.due.insert(from, (o.to, o.redelivery + 1));
        }
        let (from, to, redelivery) = if let Some((&from, &(to, times))) = self.due.iter().next() {
            self.due.remove(&from);
            // Hand out at most `max` of the range; the rest stays due.
            let end = to.min(from.saturating_add(max as u64));
            if end < to {
                self.due.insert(end, (to, times));
            }
            (from, end, times)
        } else {
            let next = self.log.next_offset().unwrap_or(0);
            if self.fresh >= next || max == 0 {
                return Ok(None);
            }
            (
                self.fresh,
                next.min(self.fresh.saturating_add(max as u64)),
                0,
            )
        };
        let mut tail = Tail::from_offset(&self.dir, from)?;
        let read = tail.next((to - from) as usize)?;
        if let Some(p) = read.problems.first() {
            return Err(p.to_error());
        }
        let to = from + read.events.len() as u64;
        if to == from {
            return Ok(None);
        }
        self.fresh = self.fresh.max(to);
        self.handed += 1;
        self.out.insert(
            from,
            Out {
                to,
                deadline: now + visibility,
                redelivery,
                id: self.handed,
            },
        );
        self.stats.reserved += to - from;
        if redelivery > 0 {
            self.stats.redelivered += to - from;
        }
        Ok(Some(Reservation {
            from,
            events: read.events,
            redelivery,
            id: self.handed,
        }))
    }

    fn take(&mut self, r: &Reservation) -> Result<Out> {
        if self.out.get(&r.from).is_some_and(|o| o.id == r.id) {
            return Ok(self.out.remove(&r.from).expect("checked"));
        }
        Err(VizError::invalid_argument(format!(
            "no reservation of the spool starts at offset {} (acked or nacked already, or timed out and handed out again)",
            r.from
        )))
    }

    /// Marks a reservation delivered. The acked position moves (durably) past every
    /// contiguous acked range; wholly acked segments are deleted.
    pub fn ack(&mut self, r: Reservation) -> Result<()> {
        let o = self.take(&r)?;
        self.stats.acked += o.to - r.from;
        self.done.insert(r.from, o.to);
        let before = self.acked;
        while let Some(to) = self.done.remove(&self.acked) {
            self.acked = to;
        }
        if self.acked != before {
            let path = self.dir.join(ACKED);
            let tmp = self.dir.join("ACKED.tmp");
            std::fs::write(&tmp, self.acked.to_string())
                .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
                .and_then(|()| std::fs::rename(&tmp, &path))
                // The rename is durable only once the directory is synced.
                .and_then(|()| std::fs::File::open(&self.dir)?.sync_all())
                .map_err(io(&path, "saving"))?;
            self.log.drop_segments_before(self.acked)?;
        }
        Ok(())
    }

    /// Returns a reservation's events at once, for another attempt.
    pub fn nack(&mut self, r: Reservation) -> Result<()> {
        let o = self.take(&r)?;
        self.due.insert(r.from, (o.to, o.redelivery + 1));
        Ok(())
    }

    /// The spool's counters.
    pub fn stats(&self) -> SpoolStats {
        SpoolStats {
            depth: self.depth(),
            bytes: self.bytes(),
            ..self.stats
        }
    }
}
