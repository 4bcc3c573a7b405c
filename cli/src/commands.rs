//! The commands other than `plot`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use viz::format::vizlog::{LogReader, Tail};
use viz::query::Order;
use viz::{Event, EventData, EventKind, Query, StorageBackendFactory};

use crate::fail::{Fail, failed, usage};
use crate::out::{self, Format, Table, num};
use crate::select::{OrderArg, Selection};
use crate::source::{Source, disk_bytes};

/// A statistic of `--agg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Agg {
    /// How many scalars.
    Count,
    /// The smallest.
    Min,
    /// The largest.
    Max,
    /// The mean.
    Mean,
    /// The first (by step).
    First,
    /// The last (by step).
    Last,
}

/// Order and page of `viz query`.
pub struct Paging {
    /// The order.
    pub order: OrderArg,
    /// Events to skip.
    pub offset: usize,
    /// Most events to print.
    pub limit: Option<usize>,
}

/// `viz runs`.
pub fn runs(root: &str, json: bool) -> Result<(), Fail> {
    if !root.starts_with("sqlite://") && !Path::new(root).is_dir() {
        return Err(usage(format!("no project directory at {root}")));
    }
    let store = viz::factory::open_runs(root)?;
    let runs = store.list()?;
    if json {
        let mut s = String::new();
        for r in &runs {
            s.push_str(&serde_json::to_string(r).map_err(|e| failed(e.to_string()))?);
            s.push('\n');
        }
        out::print(&s);
        return Ok(());
    }
    let mut t = Table::new(&[
        "run", "ranks", "events", "tags", "steps", "started", "span", "size", "metadata",
    ]);
    for r in &runs {
        let metadata: Vec<String> = r
            .metadata
            .iter()
            .take(4)
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect();
        t.row(vec![
            r.identity.name.clone(),
            r.ranks.len().to_string(),
            r.events.to_string(),
            r.tags.len().to_string(),
            r.steps.map_or("-".into(), |(a, b)| format!("{a}..{b}")),
            r.wall_time.map_or("-".into(), |(a, _)| out::time(a)),
            r.wall_time.map_or("-".into(), |(a, b)| span(b - a)),
            out::bytes(r.bytes),
            metadata.join(" "),
        ]);
    }
    out::print(&t.render(Format::Table));
    Ok(())
}

fn span(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{secs:.1}s")
    }
}

/// Each tag's event count: from the indexes for logs, by reading for stores.
fn tag_counts(source: &Source) -> Result<BTreeMap<String, u64>, Fail> {
    let mut counts = BTreeMap::new();
    match source {
        Source::Store(_) => {
            for e in source.query(&Query::all())? {
                *counts.entry(e.tag.as_str().to_owned()).or_default() += 1;
            }
        }
        _ => {
            for dir in source.log_dirs() {
                for (tag, n) in LogReader::open(&dir)?.summary()?.tags {
                    *counts.entry(tag).or_default() += n;
                }
            }
        }
    }
    Ok(counts)
}

/// `viz tags`.
pub fn tags(run: &str, format: Format) -> Result<(), Fail> {
    let source = Source::open(run)?;
    let counts = tag_counts(&source)?;
    let latest: BTreeMap<String, Event> = source
        .latest(&Query::all())?
        .into_iter()
        .map(|e| (e.tag.as_str().to_owned(), e))
        .collect();
    let aggregates: BTreeMap<String, viz::query::Aggregate> = source
        .aggregate(&Query::all().kinds(&[EventKind::Scalar]))?
        .into_iter()
        .map(|a| (a.tag.clone(), a))
        .collect();
    let mut t = Table::new(&[
        "tag",
        "kind",
        "count",
        "first_step",
        "last_step",
        "first",
        "last",
        "min",
        "max",
    ]);
    for (tag, count) in &counts {
        let kind = latest
            .get(tag)
            .map_or("-", |e| e.kind().as_str())
            .to_owned();
        let pattern = viz::TagPattern::exact(tag.clone());
        let edge = |order: Order| -> Result<String, Fail> {
            let q = Query {
                order,
                limit: Some(1),
                ..Query::all().tag(pattern.clone())
            };
            Ok(source
                .query(&q)?
                .first()
                .map_or("-".into(), |e| e.step.to_string()))
        };
        let (first_step, last_step) = (edge(Order::StepAsc)?, edge(Order::StepDesc)?);
        let stats = aggregates.get(tag).map_or_else(
            || vec!["-".to_owned(); 4],
            |a| vec![num(a.first.1), num(a.last.1), num(a.min), num(a.max)],
        );
        let mut row = vec![tag.clone(), kind, count.to_string(), first_step, last_step];
        row.extend(stats);
        t.row(row);
    }
    out::print(&t.render(format));
    Ok(())
}

/// One line's worth of an event's payload.
pub fn describe(e: &Event) -> String {
    match &e.data {
        EventData::Scalar(v) => num(*v),
        EventData::Text(s) => s.replace('\n', "\\n"),
        EventData::Histogram(h) => format!(
            "histogram n={} min={} max={} buckets={}",
            num(h.num),
            num(h.min),
            num(h.max),
            h.bucket_limits.len()
        ),
        EventData::Image(i) => format!("image {}x{}x{}", i.width, i.height, i.channels),
        EventData::Tensor(t) => format!("tensor {:?} {:?}", t.dtype, t.shape),
        EventData::Raw(r) => format!("raw {} bytes {}", r.data.len(), r.content_type),
    }
}

fn event_table(events: &[Event]) -> Table {
    let mut t = Table::new(&["tag", "step", "wall_time", "kind", "value"]);
    for e in events {
        t.row(vec![
            e.tag.as_str().to_owned(),
            e.step.to_string(),
            e.wall_time.map_or("-".into(), |w| format!("{w:.3}")),
            e.kind().as_str().to_owned(),
            describe(e),
        ]);
    }
    t
}

/// `viz query`.
pub fn query(
    run: &str,
    select: &Selection,
    paging: Paging,
    agg: Option<Agg>,
    buckets: Option<usize>,
    format: Format,
) -> Result<(), Fail> {
    let base = select.query()?;
    let source = Source::open(run)?;
    let Some(agg) = agg else {
        let q = Query {
            order: paging.order.into(),
            offset: paging.offset,
            limit: paging.limit,
            ..base
        };
        out::print(&event_table(&source.query(&q)?).render(format));
        return Ok(());
    };
    if paging.limit.is_some() || paging.offset > 0 || paging.order != OrderArg::Stored {
        return Err(usage(
            "--agg summarizes the selection: it takes no --order, --offset or --limit",
        ));
    }
    let aggregates = source.aggregate(&base)?;
    let Some(buckets) = buckets else {
        let name = format!("{agg:?}").to_lowercase();
        let mut t = Table::new(&["tag", "count", &name]);
        for a in &aggregates {
            let v = match agg {
                Agg::Count => a.count as f64,
                Agg::Min => a.min,
                Agg::Max => a.max,
                Agg::Mean => a.mean,
                Agg::First => a.first.1,
                Agg::Last => a.last.1,
            };
            t.row(vec![a.tag.clone(), a.count.to_string(), num(v)]);
        }
        out::print(&t.render(format));
        return Ok(());
    };
    if aggregates.len() != 1 {
        return Err(usage(format!(
            "--buckets needs the selection to hold one scalar tag; it holds {} ({})",
            aggregates.len(),
            aggregates
                .iter()
                .map(|a| a.tag.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let a = &aggregates[0];
    let (first, last) = match select.steps.as_deref() {
        Some(s) => {
            let (x, y) = crate::select::steps(s)?;
            (
                x.max(a.first.0.min(a.last.0)),
                y.min(a.first.0.max(a.last.0)),
            )
        }
        None => (a.first.0.min(a.last.0), a.first.0.max(a.last.0)),
    };
    let name = format!("{agg:?}").to_lowercase();
    let mut t = Table::new(&["first_step", "last_step", "count", &name]);
    for b in source.downsample(&base, first, last, buckets)? {
        let v = match agg {
            Agg::Count => b.count as f64,
            Agg::Min => b.min,
            Agg::Max => b.max,
            Agg::Mean => b.mean,
            Agg::First | Agg::Last => {
                return Err(usage("--buckets takes --agg count, min, max or mean"));
            }
        };
        t.row(vec![
            b.first_step.to_string(),
            b.last_step.to_string(),
            b.count.to_string(),
            num(v),
        ]);
    }
    out::print(&t.render(format));
    Ok(())
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// `viz tail`: a log, or every rank of a run (each event shows its rank).
pub fn tail(run: &str, follow: bool, tags: &[String], lines: usize) -> Result<(), Fail> {
    let source = Source::open(run)?;
    let dirs = source.log_dirs();
    if dirs.is_empty() {
        return Err(usage(format!(
            "tail follows file:// logs; {run} is not one (nor a run of them)"
        )));
    }
    let ranked = matches!(source, Source::Run(..));
    let select = Selection {
        tags: tags.to_vec(),
        ..Selection::default()
    }
    .query()?;
    // The last `lines` events the selection picks (by wall time across ranks),
    // then what comes after.
    let mut tails = Vec::new();
    let mut recent: Vec<(usize, Event)> = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let mut tail = Tail::from_offset(dir, 0)?;
        let mut mine: std::collections::VecDeque<Event> = std::collections::VecDeque::new();
        loop {
            let read = tail.next(100_000)?;
            if read.events.is_empty() {
                break;
            }
            for e in read.events.into_iter().filter(|e| select.matches(e)) {
                mine.push_back(e);
                if mine.len() > lines {
                    mine.pop_front();
                }
            }
        }
        recent.extend(mine.into_iter().map(|e| (i, e)));
        tails.push(tail);
    }
    recent.sort_by(|a, b| {
        a.1.wall_time
            .partial_cmp(&b.1.wall_time)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let skip = recent.len().saturating_sub(lines);
    let name = |i: usize| -> String {
        if ranked {
            format!(
                "{}  ",
                dirs[i]
                    .file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into_owned())
            )
        } else {
            String::new()
        }
    };
    let print_events = |events: &[(usize, Event)]| {
        if !events.is_empty() {
            let mut s = String::new();
            for (i, e) in events {
                s.push_str(&format!(
                    "{}{}  step {}  {}  {}\n",
                    name(*i),
                    e.tag.as_str(),
                    e.step,
                    e.kind().as_str(),
                    describe(e)
                ));
            }
            out::print(&s);
        }
    };
    print_events(&recent[skip..]);
    if !follow {
        return Ok(());
    }
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_interrupt as *const () as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGTERM,
            on_interrupt as *const () as libc::sighandler_t,
        );
    }
    while !INTERRUPTED.load(Ordering::SeqCst) {
        let mut any = false;
        for (i, tail) in tails.iter_mut().enumerate() {
            let read = tail.next(10_000)?;
            for p in &read.problems {
                eprintln!("viz: skipped damage: {p}");
            }
            any |= !read.events.is_empty();
            let picked: Vec<(usize, Event)> = read
                .events
                .into_iter()
                .filter(|e| select.matches(e))
                .map(|e| (i, e))
                .collect();
            print_events(&picked);
        }
        if !any {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

/// `viz verify`.
pub fn verify(run: &str) -> Result<(), Fail> {
    if let Some(rest) = run.strip_prefix("sqlite://") {
        let file = rest.split('?').next().unwrap_or("");
        if !Path::new(file).is_file() {
            return Err(usage(format!("no SQLite file at {file}")));
        }
        let conn =
            rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| failed(format!("{file}: {e}")))?;
        let mut stmt = conn
            .prepare("PRAGMA integrity_check")
            .map_err(|e| failed(format!("{file}: {e}")))?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| failed(format!("{file}: {e}")))?;
        if rows == ["ok"] {
            out::print(&format!("ok: {file} passes PRAGMA integrity_check\n"));
            return Ok(());
        }
        out::print(&(rows.join("\n") + "\n"));
        return Err(failed(format!(
            "{file}: PRAGMA integrity_check found {} problems",
            rows.len()
        )));
    }
    let source = Source::open(run)?;
    let dirs = source.log_dirs();
    if dirs.is_empty() {
        return Err(usage(format!(
            "verify checks file:// logs and sqlite:// files; {run} is neither"
        )));
    }
    let mut damage = 0u64;
    let mut report = String::new();
    for dir in &dirs {
        // Segment by segment, keeping no event: memory stays bounded.
        let read = LogReader::open(dir)?.check()?;
        for p in &read.problems {
            damage += 1;
            report.push_str(&format!("damage: {p}\n"));
        }
        damage += check_sidecars(dir, &mut report)?;
        if let Some((segment, offset)) = &read.incomplete_tail {
            damage += 1;
            report.push_str(&format!(
                "damage: {} at byte offset {offset}: a partial record at the end (a torn write; `viz repair` cuts it)\n",
                segment.display()
            ));
        }
        report.push_str(&format!(
            "{}: {} intact events in {} segments\n",
            dir.display(),
            read.intact,
            read.segments_read
        ));
    }
    out::print(&report);
    if damage > 0 {
        return Err(failed(format!("{run}: {damage} damaged places found")));
    }
    out::print("ok: every segment, index and CRC checks out\n");
    Ok(())
}

/// Checks each segment's index sidecar (`<segment>.vzi`) against the segment's
/// header: a sidecar that is damaged or belongs to another segment is reported
/// (readers rebuild it in memory; the writer rewrites it). Returns how many.
fn check_sidecars(dir: &Path, report: &mut String) -> Result<u64, Fail> {
    use viz::format::vizlog::{index::SegmentIndex, segment::Header};
    let mut bad = 0;
    for entry in std::fs::read_dir(dir)? {
        let segment = entry?.path();
        if segment.extension().is_none_or(|x| x != "vzl") {
            continue;
        }
        let sidecar = segment.with_extension("vzi");
        let Ok(index) = std::fs::read(&sidecar) else {
            continue; // The newest segment's may not be written yet.
        };
        let mut head = vec![0u8; 64];
        let n = std::fs::File::open(&segment).and_then(|mut f| f.read(&mut head))?;
        let Ok(header) = Header::decode(&head[..n]) else {
            continue; // A damaged header is the segment's problem, reported above.
        };
        if SegmentIndex::decode(&index, &header, true).is_none() {
            bad += 1;
            report.push_str(&format!(
                "damage: {}: the index sidecar is damaged or belongs to another segment (readers rebuild it in memory; `viz repair` rewrites it)\n",
                sidecar.display()
            ));
        }
    }
    Ok(bad)
}

/// `viz repair`.
pub fn repair(run: &str) -> Result<(), Fail> {
    let source = Source::open(run)?;
    let dirs = source.log_dirs();
    if dirs.is_empty() {
        return Err(usage(format!(
            "repair fixes file:// logs; {run} is not one"
        )));
    }
    for dir in dirs {
        let before = LogReader::open(&dir)?.check()?;
        let stale_before = check_sidecars(&dir, &mut String::new())?;
        let mut log = StorageBackendFactory::global()
            // Repair recovers; it leaves the log's compression as it was.
            .create_url(&format!("file://{}?compression=none", dir.display()))
            .map_err(|e| {
                failed(format!(
                    "{}: {} (is a writer still running?)",
                    dir.display(),
                    e.message()
                ))
            })?;
        let warnings = log.take_warnings();
        log.shutdown()?;
        let after = LogReader::open(&dir)?.check()?;
        let mut s = String::new();
        for w in &warnings {
            s.push_str(&format!("repaired: {}\n", w.message()));
        }
        s.push_str(&format!(
            "{}: kept {} intact events of the {} intact before",
            dir.display(),
            after.intact,
            before.intact
        ));
        let stale_after = check_sidecars(&dir, &mut String::new())?;
        if stale_before > stale_after {
            s.push_str(&format!(
                "; rewrote {} index sidecars",
                stale_before - stale_after
            ));
        }
        if warnings.is_empty() && stale_before == 0 {
            s.push_str("; nothing needed repair");
        }
        if stale_after > 0 {
            s.push_str(&format!(
                "; {stale_after} index sidecars of sealed segments still do not match (readers rebuild them in memory)"
            ));
        }
        s.push('\n');
        if !after.problems.is_empty() {
            s.push_str(&format!(
                "{} damaged places remain between intact records; they are skipped on every read\n",
                after.problems.len()
            ));
        }
        out::print(&s);
    }
    Ok(())
}

/// `viz stats`.
pub fn stats(run: &str, format: Format) -> Result<(), Fail> {
    let source = Source::open(run)?;
    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut times: Vec<f64> = Vec::new();
    let mut count = |events: &[Event]| {
        for e in events {
            *kinds.entry(e.kind().as_str()).or_default() += 1;
            if let Some(w) = e.wall_time {
                times.push(w);
            }
        }
    };
    let dirs = source.log_dirs();
    if dirs.is_empty() {
        count(&source.query(&Query::all())?);
    }
    for dir in &dirs {
        let mut tail = Tail::from_offset(dir, 0)?;
        loop {
            let read = tail.next(100_000)?;
            if read.events.is_empty() {
                break;
            }
            count(&read.events);
        }
    }
    let size: u64 = dirs.iter().map(|d| disk_bytes(d)).sum();
    let events: u64 = kinds.values().sum();
    let mut t = Table::new(&["what", "value"]);
    if !dirs.is_empty() {
        t.row(vec!["size".into(), out::bytes(size)]);
        t.row(vec![
            "bytes per event".into(),
            num((size as f64 / events.max(1) as f64 * 10.0).round() / 10.0),
        ]);
    }
    t.row(vec!["events".into(), events.to_string()]);
    for (k, n) in &kinds {
        t.row(vec![format!("{k} events"), n.to_string()]);
    }
    out::print(&t.render(format));
    // The write rate: events per tenth of the run's wall-time span, each tenth
    // named by its start in seconds after the first event.
    if let (Some(lo), Some(hi)) = (
        times.iter().copied().reduce(f64::min),
        times.iter().copied().reduce(f64::max),
    ) {
        let slots = 10;
        let width = ((hi - lo) / slots as f64).max(1e-9);
        let mut per = vec![0u64; slots];
        for w in &times {
            per[(((w - lo) / width) as usize).min(slots - 1)] += 1;
        }
        let mut rate = Table::new(&["from_s", "events", "events_per_s"]);
        for (i, n) in per.iter().enumerate() {
            rate.row(vec![
                num((width * i as f64 * 1000.0).round() / 1000.0),
                n.to_string(),
                num((*n as f64 / width).round()),
            ]);
        }
        out::print(&format!("\n{}", rate.render(format)));
    }
    Ok(())
}
