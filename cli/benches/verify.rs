//! `viz verify` on a log of many small segments: throughput (MB/s of segment
//! bytes) and the verifying process's peak RSS, which must stay bounded by a
//! segment however many there are (it held every event before: about 15 GB for a
//! 1.9 GB log of 466k segments).
//!
//! Run: `cargo bench -p viz-cli --bench verify -- [segments]` (default 100000).
//! Writing the log takes most of the time; it is kept in the temporary directory
//! (`viz-verify-bench-<segments>`) and reused by later runs.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use viz::{Event, StorageBackendFactory};

/// Writes a log of about `segments` 1 KiB segments (uncompressed, so writing is
/// quick), 16 scalars per segment.
fn write_log(dir: &Path, segments: u64) {
    let mut log = StorageBackendFactory::global()
        .create_url(&format!(
            "file://{}?segment_max_bytes=1024&compression=none&fsync=never",
            dir.display()
        ))
        .unwrap();
    let per = 16u64;
    let mut step = 0i64;
    for _ in 0..segments {
        let batch: Vec<Event> = (0..per)
            .map(|_| {
                step += 1;
                Event::scalar("bench/loss", step, 1.0 / step as f64).unwrap()
            })
            .collect();
        log.store_events(&batch).unwrap();
    }
    log.shutdown().unwrap();
}

fn main() {
    let segments: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map_or(100_000, |a| a.parse().expect("segments"));
    let dir = std::env::temp_dir().join(format!("viz-verify-bench-{segments}"));
    if !dir.join("LOCK").exists() {
        let t = Instant::now();
        write_log(&dir, segments);
        eprintln!("wrote the log in {:.1} s", t.elapsed().as_secs_f64());
    }
    let (files, bytes) = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "vzl"))
        .fold((0u64, 0u64), |(n, b), e| {
            (n + 1, b + e.metadata().map_or(0, |m| m.len()))
        });
    let mut times = Vec::new();
    let mut peak_kib = 0i64;
    for _ in 0..3 {
        let t = Instant::now();
        // Reaped by wait4 below, which std's Child cannot do with rusage.
        #[allow(clippy::zombie_processes)]
        let child = Command::new(env!("CARGO_BIN_EXE_viz"))
            .arg("verify")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // wait4: this child's own peak RSS, not the largest of all children.
        // SAFETY: wait4 writes one status and one rusage struct.
        let (status, rss) = unsafe {
            let mut status = 0;
            let mut usage: libc::rusage = std::mem::zeroed();
            libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage);
            (status, usage.ru_maxrss)
        };
        times.push(t.elapsed().as_secs_f64());
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "viz verify failed"
        );
        peak_kib = peak_kib.max(rss);
    }
    times.sort_by(f64::total_cmp);
    let median = times[1];
    println!(
        "verify: {files} segments, {:.1} MB: median {median:.2} s of 3 ({:.1} MB/s, {:.0} segments/s); peak RSS {:.1} MB",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / median,
        files as f64 / median,
        peak_kib as f64 / 1024.0
    );
}
