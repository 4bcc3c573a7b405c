//! Ingest into s3:// against file:// on the same machine, side by side: one
//! producer collects N scalars, then the collector stops (for s3://, stop seals
//! the staging log and uploads what is left). Reports the collect loop's rate and
//! the end-to-end rate (until stop returns), medians of alternating rounds.
//!
//! Needs the repo's venv (scripts/test.sh makes it): the bench starts its own
//! SeaweedFS with scripts/s3-server.sh and stops it at the end.
//!
//!     cargo bench --bench s3_ingest            # 2,000,000 scalars, 3 rounds
//!     VIZ_BENCH_SCALARS=500000 cargo bench --bench s3_ingest

use std::process::Command;
use std::time::{Duration, Instant};

use viz::Collector;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n: i64 = std::env::var("VIZ_BENCH_SCALARS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let out = Command::new("bash")
        .arg(format!("{ROOT}/scripts/s3-server.sh"))
        .arg("start")
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "scripts/s3-server.sh start: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    let var = |name: &str| -> String {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {line}"))
            .to_owned()
    };
    let (endpoint, dir) = (var("VIZ_S3_ENDPOINT"), var("VIZ_S3_DIR"));
    // SAFETY: set before any other thread exists.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", var("AWS_ACCESS_KEY_ID"));
        std::env::set_var("AWS_SECRET_ACCESS_KEY", var("AWS_SECRET_ACCESS_KEY"));
    }
    let scratch = std::env::temp_dir().join(format!("viz-bench-s3-{}", std::process::id()));
    println!("s3:// against file://: {n} scalars, one producer, default segments (64 MiB, lz4)");
    let mut rates: [(Vec<f64>, Vec<f64>); 2] = Default::default();
    for round in 0..3 {
        for (k, kind) in ["file", "s3"].into_iter().enumerate() {
            let place = scratch.join(format!("{kind}-{round}"));
            let url = match kind {
                "file" => format!("file://{}?run=r&rank=0", place.display()),
                _ => format!(
                    "s3://viz-bench/r{round}?run=r&rank=0&endpoint={endpoint}&staging={}",
                    place.display()
                ),
            };
            let c = Collector::builder()
                .backend_url(&url)
                .build_and_start()
                .unwrap();
            let tag = c.intern("bench/loss").unwrap();
            let t = Instant::now();
            for step in 0..n {
                c.collect_scalar(tag, step, step as f64).unwrap();
            }
            let collected = t.elapsed();
            c.stop(Duration::from_secs(600)).unwrap();
            let total = t.elapsed();
            rates[k].0.push(n as f64 / collected.as_secs_f64());
            rates[k].1.push(n as f64 / total.as_secs_f64());
        }
    }
    for (k, kind) in ["file://", "s3://"].into_iter().enumerate() {
        println!(
            "  {kind:8} collect loop {:>6.2} M/s (rounds {}), until stop returns {:>6.2} M/s (rounds {})",
            median(rates[k].0.clone()) / 1e6,
            rates[k]
                .0
                .iter()
                .map(|r| format!("{:.2}", r / 1e6))
                .collect::<Vec<_>>()
                .join(", "),
            median(rates[k].1.clone()) / 1e6,
            rates[k]
                .1
                .iter()
                .map(|r| format!("{:.2}", r / 1e6))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    println!(
        "  s3:// / file://: collect loop {:.2}x, end to end {:.2}x",
        median(rates[1].0.clone()) / median(rates[0].0.clone()),
        median(rates[1].1.clone()) / median(rates[0].1.clone())
    );
    let _ = std::fs::remove_dir_all(&scratch);
    let _ = Command::new("bash")
        .arg(format!("{ROOT}/scripts/s3-server.sh"))
        .args(["stop", &dir])
        .status();
}
