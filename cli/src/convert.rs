//! `viz convert`: copies a run into any destination exactly once, resumably.
//!
//! Events are read in log order, in batches, by one thread while another writes
//! them. The position goes to a checkpoint file after each durable flush (at most
//! once a second). A copy killed between two checkpoints has written more than
//! its checkpoint says; at resume, a destination that can count what it holds
//! (file://, sqlite://, jsonl://: their event_count; tensorboard://: its event
//! files read back) says how many, and that many selected events after the
//! checkpoint are skipped, so the destination ends with each source event once.
//! sqlite:// counts exactly because each batch is one transaction. Elsewhere
//! (mlflow+http://) a resume is at least once: the events copied in the last
//! second before the interruption may repeat, and convert says so.
//!
//! A finished copy keeps its checkpoint, marked complete: running it again is a
//! no-op that says so. A fresh copy into a destination that already holds events
//! is refused unless `--append`. The source's run metadata and run status are
//! copied too.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use viz::format::vizlog::{LogReader, Tail};
use viz::metadata::MetadataBatch;
use viz::{Event, Query, StorageBackend, StorageBackendFactory};

use crate::fail::{Fail, usage};
use crate::out::{self, num};
use crate::select::Selection;
use crate::source::Source;

/// A copy's progress, as its checkpoint file keeps it (JSON; a bare number, the
/// form before, is a position).
#[derive(Clone, Copy, Debug, Default)]
struct Progress {
    /// Source events read (selected or not) and handled, in log order.
    position: u64,
    /// Selected events among them: what the destination received from this copy.
    copied: u64,
    /// Events the destination held before the copy began.
    base: u64,
    /// The copy finished.
    complete: bool,
}

impl Progress {
    fn read(path: &Path, selecting: bool) -> Option<Progress> {
        let text = std::fs::read_to_string(path).ok()?;
        if let Ok(position) = text.trim().parse::<u64>() {
            // The old form: only a position, which equals the copied count
            // when nothing is filtered out.
            return Some(Progress {
                position,
                copied: if selecting { 0 } else { position },
                ..Progress::default()
            });
        }
        let v: Value = serde_json::from_str(&text).ok()?;
        Some(Progress {
            position: v["position"].as_u64()?,
            copied: v["copied"].as_u64()?,
            base: v["base"].as_u64()?,
            complete: v["complete"].as_bool()?,
        })
    }

    /// Written whole, then renamed over the old one: a kill never leaves half.
    fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        let text = json!({
            "position": self.position,
            "copied": self.copied,
            "base": self.base,
            "complete": self.complete,
        });
        std::fs::write(&tmp, text.to_string())?;
        std::fs::rename(&tmp, path)
    }
}

/// How many events `dst` holds now, if it can tell.
fn held(dst: &str, out: &dyn StorageBackend) -> Result<Option<u64>, Fail> {
    let scheme = dst.split("://").next().unwrap_or("");
    Ok(match scheme {
        "file" | "sqlite" | "jsonl" => Some(out.event_count()),
        _ if !dst.contains("://") => Some(out.event_count()),
        "tensorboard" => {
            let dir = dst["tensorboard://".len()..]
                .split('?')
                .next()
                .unwrap_or("");
            if crate::tensorboard::is_event_dir(Path::new(dir)) {
                // Values viz has no kind for (the hparams summary its metadata
                // became) are not events it copied.
                let (store, _) = crate::tensorboard::open(Path::new(dir))?;
                Some(store.query(&Query::all())?.len() as u64)
            } else {
                Some(0)
            }
        }
        _ => None,
    })
}

/// Writes batches to the destination and keeps the position.
struct Copier {
    out: Box<dyn StorageBackend>,
    query: Query,
    /// Whether the query selects: copying everything passes batches through.
    selecting: bool,
    progress: Progress,
    /// Selected events still to skip: the destination holds them already.
    skip: u64,
    /// Written by this run, skipped as already held, and not selected.
    written: u64,
    already: u64,
    not_selected: u64,
    checkpoint: PathBuf,
    saved: Instant,
}

impl Copier {
    /// Copies `events`, the next `events.len()` source events.
    fn write(&mut self, events: Vec<Event>) -> Result<(), Fail> {
        let read = events.len() as u64;
        let mut picked = if self.selecting {
            self.query.run(events)?
        } else {
            events
        };
        self.not_selected += read - picked.len() as u64;
        let selected = picked.len() as u64;
        let held = self.skip.min(selected);
        if held > 0 {
            picked.drain(..held as usize);
            self.skip -= held;
            self.already += held;
        }
        self.out.store_events(&picked)?;
        self.written += picked.len() as u64;
        self.progress.position += read;
        self.progress.copied += selected;
        Ok(())
    }

    /// Saves the position after a flush, so what it counts is durable in the
    /// destination; at most once a second unless `now`.
    fn save(&mut self, now: bool) -> Result<(), Fail> {
        if now || self.saved.elapsed() >= Duration::from_secs(1) {
            self.out.flush()?;
            self.progress.save(&self.checkpoint)?;
            self.saved = Instant::now();
        }
        Ok(())
    }
}

/// `viz convert`.
pub fn convert(
    src: &str,
    dst: &str,
    select: &Selection,
    batch: usize,
    checkpoint: Option<PathBuf>,
    append: bool,
) -> Result<(), Fail> {
    let source = Source::open(src)?;
    let query = select.query()?;
    let selecting = query != Query::all();
    let checkpoint = checkpoint.unwrap_or_else(|| checkpoint_path(src, dst));
    let mut out = StorageBackendFactory::global()
        .create_url(dst)
        .map_err(|e| usage(e.to_string()))?;
    let held_now = held(dst, &*out)?;
    let saved = Progress::read(&checkpoint, selecting).filter(|p| {
        // A finished copy whose destination is empty now (deleted since) is
        // forgotten: the copy starts afresh.
        !(p.complete && p.copied > 0 && held_now == Some(0))
    });
    // An unfinished copy of this source into this destination: resume it.
    let resuming = saved.is_some_and(|p| !p.complete);
    let mut progress = match saved {
        Some(p) if p.complete && !append => {
            out.shutdown()?;
            out::print(&format!(
                "nothing to do: {dst} already holds the {} events copied from {src} (pass --append to copy them again)\n",
                p.copied
            ));
            return Ok(());
        }
        Some(p) if !p.complete => p,
        _ => {
            let held = held_now.unwrap_or(0);
            if held > 0 && !append {
                out.shutdown()?;
                return Err(usage(format!(
                    "{dst} already holds {held} events; copying {src} into it would add its events beside them: pass --append to do so, or give an empty destination"
                )));
            }
            Progress {
                base: held,
                ..Progress::default()
            }
        }
    };
    let resumed = progress.position;
    // What the destination holds beyond the checkpoint: written after it, before
    // the interruption.
    let skip = match held_now {
        Some(h) if resuming => {
            let expected = progress.base + progress.copied;
            if h < expected {
                eprintln!(
                    "viz: {dst} holds {h} events, fewer than the {expected} its checkpoint counts; continuing after the checkpoint"
                );
            }
            h.saturating_sub(expected)
        }
        Some(_) => 0,
        None => {
            if resuming {
                eprintln!(
                    "viz: {dst} cannot tell what it holds, so this resume is at least once: the events copied in the last second before the interruption may be there twice"
                );
            }
            0
        }
    };
    progress.complete = false;
    // Saved before anything is written, so a copy killed before its first
    // checkpoint still knows what the destination held when it began.
    progress.save(&checkpoint)?;
    let total = match &source {
        Source::Store(_) => None,
        _ => Some(
            source
                .log_dirs()
                .iter()
                .map(|d| {
                    LogReader::open(d)
                        .and_then(|r| r.summary())
                        .map(|s| s.events)
                })
                .sum::<viz::Result<u64>>()?,
        ),
    };
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total.unwrap_or(0));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} events  {per_sec}  ETA {eta}",
            )
            .expect("a valid template"),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let started = Instant::now();
    let metadata = source.metadata()?;
    if !metadata.is_empty() {
        // Set first, so a resumed copy sets it again: setting is idempotent.
        match out.set_metadata(&MetadataBatch::set(metadata.clone())) {
            Err(e) if e.kind() == viz::ErrorKind::Unsupported => eprintln!(
                "viz: {dst} keeps no run metadata; {} keys not copied",
                metadata.len()
            ),
            other => other?,
        }
    }
    let mut copier = Copier {
        out,
        selecting,
        query,
        progress,
        skip,
        written: 0,
        already: 0,
        not_selected: 0,
        checkpoint: checkpoint.clone(),
        saved: Instant::now(),
    };
    let batch = batch.max(1);
    match &source {
        Source::Store(_) => {
            let all = source.query(&Query::all())?;
            let rest: Vec<Event> = all.into_iter().skip(resumed as usize).collect();
            for chunk in rest.chunks(batch) {
                copier.write(chunk.to_vec())?;
                copier.save(false)?;
            }
        }
        _ => {
            // Positions count events over the logs in order, rank by rank.
            let dirs = source.log_dirs();
            let (tx, rx) = std::sync::mpsc::sync_channel::<viz::Result<Vec<Event>>>(2);
            let reader = std::thread::spawn(move || {
                let mut position = 0u64;
                for dir in dirs {
                    let events = match LogReader::open(&dir).and_then(|r| r.summary()) {
                        Ok(s) => s.events,
                        Err(e) => return drop(tx.send(Err(e))),
                    };
                    if position + events <= resumed {
                        position += events;
                        continue;
                    }
                    let skip = resumed.saturating_sub(position);
                    position += skip;
                    let mut tail = match Tail::from_offset(&dir, skip) {
                        Ok(t) => t,
                        Err(e) => return drop(tx.send(Err(e))),
                    };
                    loop {
                        match tail.next(batch) {
                            Ok(chunk) if chunk.events.is_empty() => break,
                            Ok(chunk) => {
                                position += chunk.events.len() as u64;
                                if tx.send(Ok(chunk.events)).is_err() {
                                    return;
                                }
                            }
                            Err(e) => return drop(tx.send(Err(e))),
                        }
                    }
                }
            });
            for events in rx {
                copier.write(events?)?;
                copier.save(false)?;
                bar.set_position(copier.progress.position);
            }
            let _ = reader.join();
        }
    }
    copier.save(true)?;
    // The status last, once every event is there: a destination that says how
    // its run ended holds all of it. Setting it again on a resume is harmless.
    let status = source.run_status()?;
    if let Some(status) = status {
        match copier.out.set_run_status(status) {
            Err(e) if e.kind() == viz::ErrorKind::Unsupported => {
                eprintln!("viz: {dst} keeps no run status; '{status:?}' not copied")
            }
            other => other?,
        }
    }
    // A remote destination: wait until its server has everything.
    if let Some(remote) = copier.out.remote() {
        remote.wait_acknowledged(remote.spooled(), Duration::from_secs(3600))?;
    }
    copier.out.shutdown()?;
    copier.progress.complete = true;
    copier.progress.save(&checkpoint)?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let written = copier.written;
    let mut notes = String::new();
    if resumed > 0 {
        notes.push_str(&format!("; resumed after {resumed} events copied before"));
    }
    if copier.already > 0 {
        notes.push_str(&format!(
            "; {} were already in the destination",
            copier.already
        ));
    }
    if !metadata.is_empty() {
        notes.push_str(&format!("; {} metadata keys", metadata.len()));
    }
    if let Some(status) = status {
        notes.push_str(&format!("; run status {status:?}"));
    }
    out::print(&format!(
        "copied {written} events to {dst} in {secs:.1} s ({} events/s); {} not selected{notes}\n",
        num((written as f64 / secs.max(1e-9)).round()),
        copier.not_selected,
    ));
    Ok(())
}

/// Where `viz convert` keeps its position for a source and destination.
fn checkpoint_path(src: &str, dst: &str) -> PathBuf {
    // FNV-1a: a stable name for the pair.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in src.bytes().chain([0]).chain(dst.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    std::env::temp_dir().join(format!("viz-convert-{h:016x}.pos"))
}
