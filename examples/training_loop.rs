//! A simulated training loop: 1M steps with some compute each; four scalars every 10
//! steps; a histogram, a text note and an image every 10k steps. It writes a
//! TensorBoard run to `./runs/<name>` and, alongside, viz's durable event log to
//! `./runs/<name>/log` (TensorBoard ignores it), prints events/s, the share of loop
//! time spent inside viz and the collector's stats, reads a step range back from the
//! log, then prints the command that shows the run.
//!
//! Run: `cargo run --release --example training_loop`
//! Arguments (all optional): `<steps> <run name> <compute iterations per step>`
//! (defaults: 1000000, viz-<unix time>, 1000). With 0 compute the loop only logs, and
//! its time in collect includes waiting whenever it outruns the worker.

use std::hint::black_box;
use std::time::{Duration, Instant};

use std::sync::{Arc, Mutex};

use viz::{Collector, Event, EventKind, Histogram, Image, Order, Query, TagPattern};

/// Scalars are logged every this many steps, as training loops usually do.
const LOG_EVERY: i64 = 10;

fn main() -> Result<(), viz::VizError> {
    let mut args = std::env::args().skip(1);
    let steps: i64 = args
        .next()
        .map_or(1_000_000, |s| s.parse().expect("steps: an integer"));
    let run = args.next().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("viz-{secs}")
    });
    let tensorboard = format!("tensorboard://runs/{run}");
    let log = format!("file://runs/{run}/log");
    let work: u32 = args
        .next()
        .map_or(1000, |s| s.parse().expect("compute iterations: an integer"));

    let collector = Collector::builder()
        .backend_url(&tensorboard)
        .backend_url(&log)
        .build_and_start()?;
    // Hyperparameters as run metadata: durable in the log, and shown by TensorBoard's
    // HPARAMS dashboard next to the run's scalars.
    collector.set_metadata(viz::metadata::MetadataBatch::from_json_object(&format!(
        r#"{{"steps": {steps}, "work": {work}, "log_every": {LOG_EVERY}, "optimizer": "sgd"}}"#
    ))?)?;
    // Intern once, outside the loop: the hot path then neither hashes nor copies tags.
    let loss = collector.intern("train/loss")?;
    let accuracy = collector.intern("train/accuracy")?;
    let lr = collector.intern("train/learning_rate")?;
    let grad_norm = collector.intern("train/grad_norm")?;
    // A live watch: the notes, as they are delivered (on viz's watch thread).
    let notes = Arc::new(Mutex::new((0usize, String::new())));
    let seen = notes.clone();
    let watch = collector.subscribe(
        Query::all().kinds(&[EventKind::Text]),
        move |events: &[Event]| {
            let mut seen = seen.lock().expect("not poisoned");
            for e in events {
                if let viz::EventData::Text(t) = &e.data {
                    *seen = (seen.0 + 1, t.clone());
                }
            }
        },
    )?;

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

        // Time only steps that log, so the timing's own cost stays ~16 ns an event.
        let logs = step % LOG_EVERY == 0 || step % 10_000 == 0;
        let t0 = logs.then(Instant::now);
        if step % LOG_EVERY == 0 {
            collector.collect_scalar(loss, step, l)?;
            collector.collect_scalar(accuracy, step, a)?;
            collector.collect_scalar(lr, step, rate)?;
            collector.collect_scalar(grad_norm, step, norm)?;
            events += 4;
        }
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
            // A 32x8 heat strip that cools as the loss falls.
            let heat = (255.0 * (l / 2.55).min(1.0)) as u8;
            let pixels: Vec<u8> = (0..32 * 8)
                .flat_map(|i| [heat, (i % 32 * 8) as u8, 255 - heat, 255])
                .collect();
            let image = Image::from_rgba8(32, 8, &pixels)?;
            collector.collect(Event::image("train/heat", step, image)?)?;
            events += 3;
        }
        if let Some(t0) = t0 {
            in_viz += t0.elapsed();
        }
    }
    let loop_time = start.elapsed();
    collector.flush(Duration::from_secs(60))?;
    let total = start.elapsed();
    let stats = collector.stats();
    // The log answers step-range queries through its sparse index.
    let (from, to) = (steps / 2, steps / 2 + 99);
    let t = Instant::now();
    let back = collector.get_events(1, from, to)?;
    let query = t.elapsed();
    // A query: the three latest losses in the log.
    let latest = collector.query(
        1,
        Query::all()
            .tag(TagPattern::exact("train/loss"))
            .order(Order::StepDesc)
            .limit(3),
    )?;
    collector.stop(Duration::from_secs(10))?;
    let (watched, last_note) = notes.lock().expect("not poisoned").clone();
    drop(watch);

    println!(
        "steps:            {steps} ({work} compute iterations each, scalars every {LOG_EVERY})"
    );
    println!("events:           {events}");
    println!("backends:         {tensorboard}  and  {log}");
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
    println!(
        "read back:        {} events for steps {from}..={to} from the log in {:.2} ms",
        back.len(),
        query.as_secs_f64() * 1e3
    );
    // Stopping sealed the log's last segment, compressed (lz4 by default; add
    // `?compression=zstd` to the log's URL for the smallest files).
    let on_disk: u64 = std::fs::read_dir(format!("runs/{run}/log"))
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    println!(
        "durable log:      {on_disk} bytes on disk, {:.1} bytes per event",
        on_disk as f64 / events as f64
    );
    let latest: Vec<String> = latest
        .iter()
        .filter_map(|e| match e.data {
            viz::EventData::Scalar(v) => Some(format!("step {} loss {v:.4}", e.step)),
            _ => None,
        })
        .collect();
    println!("latest:           {}", latest.join(", "));
    println!("watched live:     {watched} notes, the last \"{last_note}\"");
    assert_eq!(
        stats.written,
        2 * events,
        "every event reached both backends"
    );
    println!("\nsee the run:      tensorboard --logdir runs   (this run is runs/{run})");
    black_box(x);
    Ok(())
}
