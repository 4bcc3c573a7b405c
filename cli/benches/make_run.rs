//! Writes a run for benches/cli.sh: `<project>/<name>/rank-0`, `n` scalars over
//! `tags` tags, through a collector, as a training loop would.
//!
//! Run: `cargo bench -p viz-cli --bench make_run -- <project> <name> <n> <tags>`

use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let [project, name, n, tags] = args.as_slice() else {
        eprintln!("usage: cargo bench -p viz-cli --bench make_run -- <project> <name> <n> <tags>");
        std::process::exit(2);
    };
    let (n, tags): (i64, usize) = (n.parse().expect("n"), tags.parse().expect("tags"));
    let c = viz::Collector::builder()
        .backend_url(&format!("file://{project}?run={name}&rank=0"))
        .build_and_start()
        .unwrap();
    let ids: Vec<viz::TagId> = (0..tags)
        .map(|i| c.intern(&format!("train/metric{i:03}")).unwrap())
        .collect();
    let start = Instant::now();
    for i in 0..n {
        let tag = ids[i as usize % tags];
        c.collect_scalar(tag, i / tags as i64, 1.0 / (i + 1) as f64)
            .unwrap();
    }
    c.stop(Duration::from_secs(600)).unwrap();
    eprintln!(
        "wrote {n} scalars in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}
