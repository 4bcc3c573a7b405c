//! A simulated training loop: 1M steps with some compute each, four scalar tags every
//! step, a histogram and a text note every 10k steps. Prints events/s, the share of
//! loop time spent inside viz, and the collector's stats.
//!
//! Run: `cargo run --release --example training_loop`
//! Arguments (all optional): `<steps> <connection string> <compute iterations per step>`
//! (defaults: 1000000, memory://?capacity=100000, 1000). With 0 compute the loop only
//! logs, and its time in collect includes waiting whenever it outruns the worker.

use std::hint::black_box;
use std::time::{Duration, Instant};

use viz::{Collector, Event, Histogram};

fn main() -> Result<(), viz::VizError> {
    let mut args = std::env::args().skip(1);
    let steps: i64 = args
        .next()
        .map_or(1_000_000, |s| s.parse().expect("steps: an integer"));
    let url = args
        .next()
        .unwrap_or_else(|| "memory://?capacity=100000".to_owned());
    let work: u32 = args
        .next()
        .map_or(1000, |s| s.parse().expect("compute iterations: an integer"));

    let collector = Collector::builder().backend_url(&url).build_and_start()?;
    // Intern once, outside the loop: the hot path then neither hashes nor copies tags.
    let loss = collector.intern("train/loss")?;
    let accuracy = collector.intern("train/accuracy")?;
    let lr = collector.intern("train/learning_rate")?;
    let grad_norm = collector.intern("train/grad_norm")?;

    let mut events = 0u64;
    let mut in_viz = Duration::ZERO;
    let mut x = 1.0f64;
    let start = Instant::now();
    for step in 0..steps {
        // Stand-in for a training step's compute.
        for _ in 0..work {
            x = black_box(x * 1.000_000_1 + 1e-9);
        }
        let t = step as f64 / steps as f64;
        let (l, a) = (2.5 * (-4.0 * t).exp() + 0.05, 1.0 - 0.9 * (-5.0 * t).exp());
        let rate = 1e-3 * (1.0 - t);
        let norm = 1.0 + (step % 97) as f64 / 97.0;

        let t0 = Instant::now();
        collector.collect_scalar(loss, step, l)?;
        collector.collect_scalar(accuracy, step, a)?;
        collector.collect_scalar(lr, step, rate)?;
        collector.collect_scalar(grad_norm, step, norm)?;
        events += 4;
        if step % 10_000 == 0 {
            let weights: Vec<f64> = (0..1000)
                .map(|i| ((i * 7919 + step) % 1000) as f64 / 500.0 - 1.0)
                .collect();
            collector.collect(Event::histogram(
                "train/weights",
                step,
                Histogram::from_values(&weights, 30)?,
            )?)?;
            collector.collect(Event::text(
                "train/note",
                step,
                format!("step {step}: loss {l:.4}"),
            )?)?;
            events += 2;
        }
        in_viz += t0.elapsed();
    }
    let loop_time = start.elapsed();
    collector.flush(Duration::from_secs(60))?;
    let total = start.elapsed();
    let stats = collector.stats();
    collector.stop(Duration::from_secs(10))?;

    println!("steps:            {steps} ({work} compute iterations each)");
    println!("events:           {events}");
    println!("backend:          {url}");
    println!(
        "loop:             {:.3} s, {:.2} M events/s collected",
        loop_time.as_secs_f64(),
        events as f64 / loop_time.as_secs_f64() / 1e6
    );
    println!(
        "inside viz:       {:.1} ns per event on average, {:.2}% of loop time (includes the timing itself: two Instant reads a step, ~16 ns per event)",
        in_viz.as_nanos() as f64 / events as f64,
        in_viz.as_secs_f64() / loop_time.as_secs_f64() * 100.0
    );
    println!(
        "end to end:       {:.3} s until flush confirmed every event stored",
        total.as_secs_f64()
    );
    println!(
        "stats:            {}",
        serde_json::to_string_pretty(&stats).expect("stats serialize")
    );
    assert_eq!(stats.written, events, "every event reached the backend");
    black_box(x);
    Ok(())
}
