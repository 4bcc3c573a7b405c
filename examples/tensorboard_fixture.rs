//! Writes one run with every event kind to a TensorBoard log directory, with known
//! values, and hyperparameters as run metadata, through a collector with a
//! `tensorboard://` backend. The Python reader test
//! (tests/python) checks it with TensorBoard's own readers.
//!
//! Run: `cargo run --example tensorboard_fixture -- <logdir>`

use std::time::Duration;

use viz::{Collector, Event, Histogram, Image, RawBytes, Tensor};

fn main() -> Result<(), viz::VizError> {
    let logdir = std::env::args()
        .nth(1)
        .expect("usage: tensorboard_fixture <logdir>");
    let collector = Collector::builder()
        .backend_url(&format!("tensorboard://{logdir}"))
        .build_and_start()?;
    // Hyperparameters, for the HPARAMS dashboard.
    collector.set_metadata(viz::metadata::MetadataBatch::from_json_object(
        r#"{"lr": 0.01, "optimizer": "adam", "pretrained": true, "layers": [64, 128]}"#,
    )?)?;
    let base = 1_700_000_000.0;
    for step in 0..100 {
        // Values exact in f32, so readers see them unchanged.
        collector
            .collect(Event::scalar("fix/loss", step, step as f64 * 0.5)?.at(base + step as f64))?;
    }
    let histogram = Histogram::from_buckets(vec![1.0, 2.0, 3.0], vec![1.0, 2.0, 3.0])?;
    collector.collect(Event::histogram("fix/hist", 5, histogram)?.at(base + 5.0))?;
    collector.collect(Event::text("fix/text", 7, "hello tensorboard")?.at(base + 7.0))?;
    collector.collect(Event::text("fix/text", 8, "second note")?.at(base + 8.0))?;
    // A 2x1 RGBA image: red, then blue.
    let image = Image::from_rgba8(2, 1, &[255, 0, 0, 255, 0, 0, 255, 255])?;
    collector.collect(Event::image("fix/image", 9, image)?.at(base + 9.0))?;
    let tensor = Tensor::from_f32(vec![2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
    collector.collect(Event::tensor("fix/tensor", 11, tensor)?.at(base + 11.0))?;
    let raw = RawBytes::new("text/csv", b"a,b\n1,2\n".to_vec())?;
    collector.collect(Event::raw("fix/raw", 12, raw)?.at(base + 12.0))?;
    collector.stop(Duration::from_secs(10))?;
    println!("wrote {logdir}");
    Ok(())
}
