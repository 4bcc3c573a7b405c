//! A simulated training loop: 1M steps, a few scalar tags every step, a histogram
//! and a text note now and then. Prints events/s and the collector's stats.
//!
//! Run: `cargo run --release --example training_loop`
//! Options: `-- <steps> <connection string>` (defaults: 1000000 and memory://?capacity=100000).

use std::time::{Duration, Instant};

use viz::{Collector, Event, Histogram};

fn main() -> Result<(), viz::VizError> {
    let mut args = std::env::args().skip(1);
    let steps: i64 = args
        .next()
        .map_or(1_000_000, |s| s.parse().expect("steps must be an integer"));
    let url = args
        .next()
        .unwrap_or_else(|| "memory://?capacity=100000".to_owned());

    let collector = Collector::builder().backend_url(&url).build_and_start()?;
    // Intern once, outside the loop: the hot path then neither hashes nor copies tags.
    let loss = collector.intern("train/loss")?;
    let accuracy = collector.intern("train/accuracy")?;
    let lr = collector.intern("train/learning_rate")?;
    let grad_norm = collector.intern("train/grad_norm")?;

    let mut events = 0u64;
    let start = Instant::now();
    let mut collect_time = Duration::ZERO;
    for step in 0..steps {
        // Stand-ins for what a real loop computes.
        let t = step as f64 / steps as f64;
        let (l, a) = (2.5 * (-4.0 * t).exp() + 0.05, 1.0 - 0.9 * (-5.0 * t).exp());
        let rate = 1e-3 * (1.0 - t);
        let norm = 1.0 + (step % 97) as f64 / 97.0;

        let c0 = Instant::now();
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
        collect_time += c0.elapsed();
    }
    let loop_time = start.elapsed();
    collector.flush(Duration::from_secs(60))?;
    let total = start.elapsed();
    let stats = collector.stats();
    collector.stop(Duration::from_secs(10))?;

    println!("steps:            {steps}");
    println!("events:           {events}");
    println!("backend:          {url}");
    println!(
        "loop:             {:.3} s, {:.2} M events/s collected",
        loop_time.as_secs_f64(),
        events as f64 / loop_time.as_secs_f64() / 1e6
    );
    println!(
        "collect calls:    {:.1} ns per event on average (including timing overhead)",
        collect_time.as_nanos() as f64 / events as f64
    );
    println!(
        "end to end:       {:.3} s until flush confirmed, {:.2} M events/s",
        total.as_secs_f64(),
        events as f64 / total.as_secs_f64() / 1e6
    );
    println!(
        "stats:            {}",
        serde_json::to_string_pretty(&stats).expect("stats serialize")
    );
    assert_eq!(stats.written, events, "every event reached the backend");
    Ok(())
}
