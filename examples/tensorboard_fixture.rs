//! Writes one run with every event kind to a TensorBoard log directory, with known
//! values, through a collector with a `tensorboard://` backend. The Python reader test
//! (tests/python) checks it with TensorBoard's own readers.
//!
//! Run: `cargo run --example tensorboard_fixture -- <logdir>`

use std::time::Duration;

use viz::{Collector, Event, Histogram, Image, RawBytes, Tensor};

/// CRC-32 (IEEE), as PNG chunks use.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(&png[start..]);
    png.extend_from_slice(&crc.to_be_bytes());
}

/// A valid 2x1 RGBA PNG (red, then blue), its pixels in an uncompressed zlib stream.
pub fn png_2x1() -> Vec<u8> {
    let raw = [0u8, 255, 0, 0, 255, 0, 0, 255, 255]; // filter byte, then 2 RGBA pixels
    let mut zlib = vec![0x78, 0x01, 0x01];
    zlib.extend_from_slice(&(raw.len() as u16).to_le_bytes());
    zlib.extend_from_slice(&(!(raw.len() as u16)).to_le_bytes());
    zlib.extend_from_slice(&raw);
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut png = vec![0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&2u32.to_be_bytes());
    ihdr.extend_from_slice(&1u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn main() -> Result<(), viz::VizError> {
    let logdir = std::env::args()
        .nth(1)
        .expect("usage: tensorboard_fixture <logdir>");
    let collector = Collector::builder()
        .backend_url(&format!("tensorboard://{logdir}"))
        .build_and_start()?;
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
    collector
        .collect(Event::image("fix/image", 9, Image::png(png_2x1(), 2, 1, 4)?)?.at(base + 9.0))?;
    let tensor = Tensor::from_f32(vec![2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
    collector.collect(Event::tensor("fix/tensor", 11, tensor)?.at(base + 11.0))?;
    let raw = RawBytes::new("text/csv", b"a,b\n1,2\n".to_vec())?;
    collector.collect(Event::raw("fix/raw", 12, raw)?.at(base + 12.0))?;
    collector.stop(Duration::from_secs(10))?;
    println!("wrote {logdir}");
    Ok(())
}
