//! Writes N scalars through a collector into `tensorboard://<dir>` and prints the rate
//! as JSON, for benches/python_writers.py to compare with the Python writers.
//!
//! Run: `cargo bench --bench tb_writer -- <dir> <n>`

use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let (dir, n) = match args.as_slice() {
        [dir, n, ..] => (dir.clone(), n.parse::<i64>().expect("n: an integer")),
        _ => {
            eprintln!("usage: cargo bench --bench tb_writer -- <dir> <n>");
            std::process::exit(2);
        }
    };
    let c = viz::Collector::builder()
        .backend_url(&format!("tensorboard://{dir}"))
        .build_and_start()
        .unwrap();
    let tag = c.intern("bench/loss").unwrap();
    let start = Instant::now();
    for step in 0..n {
        c.collect_scalar(tag, step, 1.0 / (step + 1) as f64)
            .unwrap();
    }
    let loop_secs = start.elapsed().as_secs_f64();
    // Like the Python writers' close(): everything written, synced and closed.
    c.stop(Duration::from_secs(300)).unwrap();
    let total_secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"n\": {n}, \"add_per_sec\": {:.1}, \"until_closed_per_sec\": {:.1}}}",
        n as f64 / loop_secs,
        n as f64 / total_secs
    );
}
