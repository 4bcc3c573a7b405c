//! `s3://` end to end against a real SeaweedFS (signing on): a run written through
//! a collector lands in the bucket as final segments plus the run's identity,
//! metadata and status, and a copy fetched from the bucket alone reads back every
//! event; `ack=replicated` makes `flush` wait for the store; with the store down a
//! close keeps everything in staging, reported, and the next process on that
//! staging uploads it.
//!
//! One test in its own binary: it sets the AWS credential variables, which the
//! backend reads, before any other thread could read the environment.

mod common;

use std::path::Path;
use std::time::Duration;

use common::s3::Server;
use common::{LONG, temp_dir};
use viz::format::vizlog::LogReader;
use viz::metadata::{MetadataBatch, MetadataLog};
use viz::object_store::ObjectStore;
use viz::{Collector, Event, StorageBackend, StorageBackendFactory};

/// Copies every object under `prefix/` into `dest`, keeping the key's path.
fn download(store: &ObjectStore, prefix: &str, dest: &Path) -> Vec<String> {
    let mut keys = Vec::new();
    for o in store.list(&format!("{prefix}/")).unwrap() {
        let rel = o.key.strip_prefix(&format!("{prefix}/")).unwrap();
        let path = dest.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, store.get(&o.key).unwrap().unwrap()).unwrap();
        keys.push(rel.to_owned());
    }
    keys
}

fn values(dir: &Path) -> Vec<f64> {
    let mut log = viz::backend::file::FileLogBackend::default();
    log.initialize(&format!("file://{}", dir.display()))
        .unwrap();
    let events = log.get_events(i64::MIN, i64::MAX).unwrap();
    log.shutdown().unwrap();
    events
        .iter()
        .filter_map(|e| match e.data {
            viz::EventData::Scalar(v) => Some(v),
            _ => None,
        })
        .collect()
}

#[test]
fn a_run_on_s3_reads_back_from_the_bucket_alone() {
    let Some(server) = Server::start() else {
        return;
    };
    // SAFETY: the only test in this binary sets them before it starts a thread.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", &server.key);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", &server.secret);
    }
    let bucket = server.open("viz-runs");
    bucket.create_bucket().unwrap();
    let dir = temp_dir("s3-backend", "run");
    let staging = dir.join("staging");
    let url = |rank: u32, extra: &str| {
        format!(
            "s3://viz-runs/team?run=r&rank={rank}&endpoint={}&staging={}&segment_max_bytes=65536{extra}",
            server.endpoint,
            staging.display()
        )
    };

    // Rank 0 through a collector: 20,000 scalars over many 64 KiB segments.
    const N: i64 = 20_000;
    let c = Collector::builder()
        .backend_url(&url(0, ""))
        .build_and_start()
        .unwrap();
    let tag = c.intern("train/loss").unwrap();
    for step in 0..N {
        c.collect_scalar(tag, step, step as f64 * 0.5).unwrap();
    }
    c.set_metadata(MetadataBatch::set([(
        "lr".to_owned(),
        serde_json::json!(0.1),
    )]))
    .unwrap();
    c.set_run_status(viz::RunStatus::Failed).unwrap();
    // sync: the store holds everything; the replication status says so.
    c.sync(LONG).unwrap();
    let r = c.stats().destinations[0].replication.clone().unwrap();
    assert!(r.segments_uploaded >= 3 && r.bytes_uploaded > 0, "{r:?}");
    assert_eq!(
        (r.segments_pending, r.bytes_pending, r.failures),
        (0, 0, 0),
        "{r:?}"
    );
    assert!(
        r.uploads > r.segments_uploaded,
        "segments and run files: {r:?}"
    );
    assert_eq!(r.last_error, None);
    c.stop(LONG).unwrap();

    // A fresh reader with nothing but the bucket.
    let copy = dir.join("copy");
    let keys = download(&bucket, "team/r", &copy);
    let segments = keys.iter().filter(|k| k.ends_with(".vzl")).count();
    assert!(segments >= 3, "{segments} segments uploaded: {keys:?}");
    assert!(keys.contains(&"run.json".to_owned()), "{keys:?}");
    assert!(keys.contains(&"rank-0/status.json".to_owned()), "{keys:?}");
    let rank0 = copy.join("rank-0");
    assert_eq!(
        LogReader::open(&rank0).unwrap().summary().unwrap().events,
        N as u64
    );
    let want: Vec<f64> = (0..N).map(|s| s as f64 * 0.5).collect();
    assert_eq!(values(&rank0), want, "every event, once, in order");
    assert_eq!(MetadataLog::open(&copy).unwrap().values()["lr"], 0.1);
    assert_eq!(
        viz::runs::read_status(&rank0).unwrap(),
        Some(viz::RunStatus::Failed)
    );

    // ack=replicated: flush returns once the store holds the events.
    let mut replicated = StorageBackendFactory::global()
        .create_url(&url(1, "&ack=replicated"))
        .unwrap();
    let batch: Vec<Event> = (0..100)
        .map(|s| Event::scalar("x", s, 1.0).unwrap())
        .collect();
    replicated.store_events(&batch).unwrap();
    replicated.flush().unwrap();
    let before_close = dir.join("replicated");
    download(&bucket, "team/r/rank-1", &before_close);
    assert_eq!(values(&before_close).len(), 100, "in the store at flush");
    replicated.shutdown().unwrap();

    // The store unreachable: close reports what stays in staging, and the next
    // process on that staging uploads it.
    let dead = format!(
        "s3://viz-runs/team?run=r&rank=2&endpoint=http://127.0.0.1:9&staging={}&drain_timeout=2s&request_timeout=1s",
        staging.display()
    );
    let mut down = StorageBackendFactory::global().create_url(&dead).unwrap();
    down.store_events(&batch).unwrap();
    assert!(down.replicate(Duration::from_secs(3)).is_err());
    let r = down.replication().unwrap().stats();
    assert!(r.failures >= 1 && r.segments_pending >= 1, "{r:?}");
    assert!(
        r.last_error
            .as_deref()
            .unwrap_or("")
            .contains("127.0.0.1:9"),
        "{r:?}"
    );
    let e = down.shutdown().unwrap_err();
    assert!(e.message().contains("stays in staging"), "{e}");
    assert!(bucket.list("team/r/rank-2/").unwrap().is_empty());
    let mut back = StorageBackendFactory::global()
        .create_url(&url(2, ""))
        .unwrap();
    back.shutdown().unwrap();
    let recovered = dir.join("recovered");
    download(&bucket, "team/r/rank-2", &recovered);
    assert_eq!(
        values(&recovered).len(),
        100,
        "uploaded by the next process"
    );

    // One writer per run and rank under a prefix: a second one, staged
    // elsewhere (another machine, say), is refused by name while the first
    // holds the rank; closed, the claim is gone.
    let elsewhere = dir.join("elsewhere");
    let other_staging = |rank: u32| {
        format!(
            "s3://viz-runs/team?run=r&rank={rank}&endpoint={}&staging={}",
            server.endpoint,
            elsewhere.display()
        )
    };
    let mut first = StorageBackendFactory::global()
        .create_url(&url(3, ""))
        .unwrap();
    let e = StorageBackendFactory::global()
        .create_url(&other_staging(3))
        .map(drop)
        .unwrap_err();
    assert!(
        e.message().contains("run 'r' rank 3")
            && e.message()
                .contains(&format!("process {}", std::process::id())),
        "{e}"
    );
    first.shutdown().unwrap();
    assert_eq!(bucket.get("team/r/rank-3/writer.json").unwrap(), None);
    // A claim left by a process gone from this host is taken over; one from
    // another host is not.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    let stale = |pid: u32, host: &str| {
        serde_json::json!({"pid": pid, "host": host, "token": "t"}).to_string()
    };
    bucket
        .put(
            "team/r/rank-4/writer.json",
            stale(999_999_999, &host).as_bytes(),
        )
        .unwrap();
    StorageBackendFactory::global()
        .create_url(&other_staging(4))
        .unwrap()
        .shutdown()
        .unwrap();
    bucket
        .put(
            "team/r/rank-5/writer.json",
            stale(1, "another-host").as_bytes(),
        )
        .unwrap();
    let e = StorageBackendFactory::global()
        .create_url(&other_staging(5))
        .map(drop)
        .unwrap_err();
    assert!(e.message().contains("on host another-host"), "{e}");

    // A retried upload writes the same bytes under the same key: a second pass
    // over the same staging uploads nothing new and changes nothing.
    let listed = bucket.list("team/r/rank-0/").unwrap();
    let mut again = StorageBackendFactory::global()
        .create_url(&url(0, ""))
        .unwrap();
    again.shutdown().unwrap();
    assert_eq!(bucket.list("team/r/rank-0/").unwrap(), listed);
    std::thread::sleep(Duration::from_millis(10));
    std::fs::remove_dir_all(&dir).unwrap();
}
