//! A failed write never corrupts a file or duplicates events. Each file backend runs
//! in a child process under a file size limit (RLIMIT_FSIZE, with SIGXFSZ ignored so
//! writes fail with EFBIG instead of killing it), so writes fail part way through;
//! once the collector has seen failures the limit is lifted and its retries go
//! through. The file must then hold every event exactly once, in order, with no
//! damaged record, as each format's own reader sees it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{LONG, wait_until};
use prost::Message;
use viz::format::tb_proto as pb;
use viz::format::tfrecord::read_records;
use viz::format::vizlog::LogReader;
use viz::{Collector, CollectorConfig, Event, EventData, RetryPolicy, StorageBackendFactory};

const CHILD: &str = "VIZ_WRITE_FAILURE_CHILD";
const N: i64 = 20_000;
const LIMIT: u64 = 100_000;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("viz-wfail-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn set_file_size_limit(limit: Option<u64>) {
    // SAFETY: plain libc calls on a local struct.
    unsafe {
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut rl), 0);
        rl.rlim_cur = limit.unwrap_or(rl.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &rl), 0);
    }
}

/// The child process's side: not a test of its own. It runs only when the parent
/// test below starts this binary with `CHILD` set to a connection string.
#[test]
fn write_failure_child() {
    let Ok(url) = std::env::var(CHILD) else {
        return;
    };
    // SAFETY: ignoring a signal; no handler runs.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let failures = Arc::new(AtomicU64::new(0));
    let seen = failures.clone();
    let c = Collector::builder()
        .config(CollectorConfig {
            batch_size: 100,
            retry: RetryPolicy {
                max_attempts: 1_000,
                initial_backoff: Duration::from_millis(2),
                max_backoff: Duration::from_millis(20),
                max_pending_events: 1_000_000,
            },
            ..CollectorConfig::default()
        })
        .backend_url(&url)
        .on_error(move |_| {
            seen.fetch_add(1, Ordering::Relaxed);
        })
        .build_and_start()
        .unwrap();
    set_file_size_limit(Some(LIMIT));
    let x = c.intern("w/x").unwrap();
    for step in 0..N {
        c.collect_scalar_at(x, step, step as f64, 1.7e9).unwrap();
        if step % 1000 == 0 {
            c.collect(
                Event::text("w/note", step, "a longer record ".repeat(20))
                    .unwrap()
                    .at(1.7e9),
            )
            .unwrap();
        }
    }
    // Flushes fail while the limit holds; the failures must not have cost a byte.
    let _ = c.flush(Duration::from_millis(300));
    assert!(
        wait_until(LONG, || failures.load(Ordering::Relaxed) >= 3),
        "no write failed under the file size limit"
    );
    set_file_size_limit(None);
    c.flush(LONG).unwrap();
    let stats = c.stats();
    assert_eq!(stats.written, (N + N / 1000) as u64, "{stats:?}");
    c.stop(LONG).unwrap();
    println!("failures={}", failures.load(Ordering::Relaxed));
}

/// Runs the child for `url`; returns how many write failures it met.
fn run_child(url: &str) -> u64 {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "write_failure_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, url)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child for {url} failed:\n{text}");
    let failures = text
        .lines()
        .find_map(|l| l.split_once("failures=").map(|(_, n)| n))
        .unwrap_or_else(|| panic!("child for {url} said nothing:\n{text}"));
    failures.trim().parse().unwrap()
}

/// Every step of `w/x` exactly once, in order, and every note.
fn check_steps(events: &[(String, i64)], what: &str) {
    let steps: Vec<i64> = events
        .iter()
        .filter(|(t, _)| t == "w/x")
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(
        steps.len() as i64,
        N,
        "{what}: {} scalars, want {N}",
        steps.len()
    );
    assert!(
        steps.iter().enumerate().all(|(i, &s)| s == i as i64),
        "{what}: scalars out of order or duplicated"
    );
    let notes = events.iter().filter(|(t, _)| t == "w/note").count() as i64;
    assert_eq!(notes, N / 1000, "{what}: notes");
}

fn only_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn tensorboard_files_stay_whole_and_exact_through_failed_writes() {
    let dir = temp_dir("tb");
    let failures = run_child(&format!("tensorboard://{}", dir.display()));
    assert!(failures >= 3);
    let bytes = std::fs::read(only_file(&dir)).unwrap();
    let records = read_records(&bytes).expect("every record intact, no torn tail");
    let events: Vec<(String, i64)> = records
        .into_iter()
        .filter_map(|r| {
            let e = pb::Event::decode(r).unwrap();
            match e.what {
                Some(pb::event::What::Summary(s)) => Some((s.value[0].tag.clone(), e.step)),
                _ => None,
            }
        })
        .collect();
    check_steps(&events, "tensorboard://");
}

#[test]
fn jsonl_files_stay_whole_and_exact_through_failed_writes() {
    let dir = temp_dir("jsonl");
    let path = dir.join("events.jsonl");
    let failures = run_child(&format!("jsonl://{}", path.display()));
    assert!(failures >= 3);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with('\n'));
    let events: Vec<(String, i64)> = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let e: Event = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("line {} does not parse: {e}: {line}", i + 1));
            (e.tag.as_str().to_owned(), e.step)
        })
        .collect();
    check_steps(&events, "jsonl://");
}

#[test]
fn durable_logs_stay_whole_and_exact_through_failed_writes() {
    let dir = temp_dir("file");
    let failures = run_child(&format!(
        "file://{}?segment_max_bytes=200000",
        dir.display()
    ));
    assert!(failures >= 3);
    let read = LogReader::open(&dir)
        .unwrap()
        .read(i64::MIN, i64::MAX)
        .unwrap();
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    assert!(read.incomplete_tail.is_none(), "{:?}", read.incomplete_tail);
    let events: Vec<(String, i64)> = read
        .events
        .iter()
        .map(|e| (e.tag.as_str().to_owned(), e.step))
        .collect();
    check_steps(&events, "file://");
    assert!(
        read.events
            .iter()
            .all(|e| matches!(e.data, EventData::Scalar(_) | EventData::Text(_)))
    );
}

#[test]
fn a_second_jsonl_writer_is_refused_and_reads_see_unflushed_events() {
    let dir = temp_dir("lock");
    let url = format!("jsonl://{}", dir.join("e.jsonl").display());
    let f = StorageBackendFactory::global();
    let mut first = f.create_url(&url).unwrap();
    let e = f.create_url(&url).err().unwrap();
    assert!(
        e.message().contains("in use by another jsonl:// writer"),
        "{e}"
    );
    let events: Vec<Event> = (0..10)
        .map(|i| Event::scalar("l/x", i, i as f64).unwrap().at(1.0))
        .collect();
    first.store_events(&events).unwrap();
    assert_eq!(
        first.get_events(0, 100).unwrap().len(),
        10,
        "stored, not yet flushed"
    );
    first.shutdown().unwrap();
    drop(first);
    // Released with the writer: the next one opens, and appends after the first's lines.
    let mut second = f.create_url(&url).unwrap();
    second.store_events(&events[..1]).unwrap();
    assert_eq!(second.get_events(0, 100).unwrap().len(), 11);
    second.shutdown().unwrap();
}
