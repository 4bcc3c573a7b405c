//! `viz plot`: scalar tags as lines, downsampled through the read side (one bucket
//! per horizontal dot or pixel, so ten million points draw as fast as a thousand),
//! in the terminal with Unicode braille or as a PNG.

use std::path::Path;

use viz::{EventKind, Query, TagPattern};

use crate::fail::{Fail, failed, usage};
use crate::out;
use crate::source::Source;

/// One tag's line: (x in steps, mean value) per non-empty bucket.
struct Series {
    tag: String,
    points: Vec<(f64, f64)>,
}

/// `viz plot`.
pub fn plot(
    run: &str,
    tags: &[String],
    steps: Option<&str>,
    png: Option<&Path>,
    width: Option<u32>,
    height: Option<u32>,
) -> Result<(), Fail> {
    let source = Source::open(run)?;
    let (columns, rows) = match png {
        Some(_) => (width.unwrap_or(800), height.unwrap_or(400)),
        None => {
            let cols = std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse::<u32>().ok())
                .unwrap_or(80);
            (
                width.unwrap_or(cols.saturating_sub(12).max(20)),
                height.unwrap_or(16),
            )
        }
    };
    if columns < 16 || rows < 4 || columns > 10_000 || rows > 10_000 {
        return Err(usage(format!(
            "a plot of {columns}x{rows} is too small or too large (16x4 to 10000x10000)"
        )));
    }
    let range = steps.map(crate::select::steps).transpose()?;
    // Each tag's step span, from its aggregate (an index lookup for file:// logs).
    let mut spans = Vec::new();
    for tag in tags {
        let q = Query::all()
            .tag(TagPattern::exact(tag.clone()))
            .kinds(&[EventKind::Scalar]);
        let a = source.aggregate(&q)?;
        let Some(a) = a.first() else {
            return Err(usage(format!("{run} has no scalars tagged '{tag}'")));
        };
        spans.push((q, a.first.0.min(a.last.0), a.first.0.max(a.last.0)));
    }
    let mut first = spans.iter().map(|s| s.1).min().expect("a tag");
    let mut last = spans.iter().map(|s| s.2).max().expect("a tag");
    if let Some((a, b)) = range {
        first = first.max(a);
        last = last.min(b);
        if first > last {
            return Err(usage("the step range holds none of the tags' steps"));
        }
    }
    // One bucket per horizontal dot (2 per braille cell) or pixel.
    let buckets = if png.is_some() { columns } else { columns * 2 } as usize;
    let mut series = Vec::new();
    for ((q, _, _), tag) in spans.iter().zip(tags) {
        let points = source
            .downsample(q, first, last, buckets)?
            .into_iter()
            .filter(|b| b.count > 0 && b.mean.is_finite())
            .map(|b| ((b.first_step as f64 + b.last_step as f64) / 2.0, b.mean))
            .collect();
        series.push(Series {
            tag: tag.clone(),
            points,
        });
    }
    let lo = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(f64::INFINITY, f64::min);
    let hi = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        return Err(usage("no finite values to plot in that range"));
    }
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
    };
    let frame = Frame {
        first: first as f64,
        last: (last as f64).max(first as f64 + 1.0),
        lo,
        hi,
    };
    match png {
        Some(path) => write_png(path, &series, &frame, columns, rows),
        None => {
            out::print(&terminal(&series, &frame, columns, rows, out::color()));
            Ok(())
        }
    }
}

/// The data's extent.
struct Frame {
    first: f64,
    last: f64,
    lo: f64,
    hi: f64,
}

impl Frame {
    /// `(x, y)` as fractions of the plot, y upward.
    fn fraction(&self, x: f64, y: f64) -> (f64, f64) {
        (
            (x - self.first) / (self.last - self.first),
            (y - self.lo) / (self.hi - self.lo),
        )
    }
}

const COLORS: [&str; 6] = ["34", "31", "32", "35", "33", "36"];

/// Braille dots: 2 wide and 4 high per character cell.
fn terminal(series: &[Series], frame: &Frame, columns: u32, rows: u32, color: bool) -> String {
    let (w, h) = (columns as usize, rows as usize);
    let mut cells = vec![0u8; w * h];
    let mut owner = vec![usize::MAX; w * h];
    for (i, s) in series.iter().enumerate() {
        let mut previous: Option<(i64, i64)> = None;
        for &(x, y) in &s.points {
            let (fx, fy) = frame.fraction(x, y);
            let dx = (fx * (w * 2 - 1) as f64).round() as i64;
            let dy = ((1.0 - fy) * (h * 4 - 1) as f64).round() as i64;
            // Joined to the previous point, so steep changes stay one line.
            let from = previous.unwrap_or((dx, dy));
            for (px, py) in line(from, (dx, dy)) {
                let (cx, cy) = (px as usize / 2, py as usize / 4);
                if cx < w && cy < h {
                    let bit = match (px % 2, py % 4) {
                        (0, 0) => 0x01,
                        (0, 1) => 0x02,
                        (0, 2) => 0x04,
                        (0, _) => 0x40,
                        (_, 0) => 0x08,
                        (_, 1) => 0x10,
                        (_, 2) => 0x20,
                        _ => 0x80,
                    };
                    cells[cy * w + cx] |= bit;
                    owner[cy * w + cx] = i;
                }
            }
            previous = Some((dx, dy));
        }
    }
    let label = |v: f64| format!("{:>10}", out::num(v));
    let mut s = String::new();
    for row in 0..h {
        let axis = if row == 0 {
            label(frame.hi)
        } else if row == h - 1 {
            label(frame.lo)
        } else if row == h / 2 {
            label((frame.hi + frame.lo) / 2.0)
        } else {
            " ".repeat(10)
        };
        s.push_str(&axis);
        s.push_str(" ┤");
        for col in 0..w {
            let bits = cells[row * w + col];
            let ch = char::from_u32(0x2800 + u32::from(bits)).unwrap_or(' ');
            match owner[row * w + col] {
                i if color && i != usize::MAX => {
                    s.push_str(&format!("\x1b[{}m{ch}\x1b[0m", COLORS[i % COLORS.len()]))
                }
                _ => s.push(ch),
            }
        }
        s.push('\n');
    }
    s.push_str(&" ".repeat(11));
    s.push('└');
    s.push_str(&"─".repeat(w));
    s.push('\n');
    let left = out::num(frame.first.round());
    let right = out::num(frame.last.round());
    let gap = w.saturating_sub(left.len() + right.len());
    s.push_str(&format!(
        "{}{left}{}{right}  step\n",
        " ".repeat(12),
        " ".repeat(gap)
    ));
    for (i, serie) in series.iter().enumerate() {
        let mark = if color {
            format!("\x1b[{}m⣿\x1b[0m", COLORS[i % COLORS.len()])
        } else {
            format!("{}", i + 1)
        };
        s.push_str(&format!("{}{mark} {}\n", " ".repeat(12), serie.tag));
    }
    s
}

/// The points of a line from `a` to `b` (Bresenham).
fn line(a: (i64, i64), b: (i64, i64)) -> Vec<(i64, i64)> {
    let (mut x, mut y) = a;
    let (dx, dy) = ((b.0 - x).abs(), -(b.1 - y).abs());
    let (sx, sy) = (if x < b.0 { 1 } else { -1 }, if y < b.1 { 1 } else { -1 });
    let mut err = dx + dy;
    let mut out = Vec::new();
    loop {
        out.push((x, y));
        if (x, y) == b {
            return out;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

const RGB: [[u8; 3]; 6] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [148, 103, 189],
    [255, 127, 14],
    [23, 190, 207],
];

/// A 3x5 font for axis numbers: each glyph is 5 rows of 3 bits.
fn glyph(c: char) -> Option<[u8; 5]> {
    Some(match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        '-' => [0, 0, 7, 0, 0],
        'e' => [7, 5, 7, 4, 7],
        'N' => [5, 7, 7, 7, 5],
        'a' => [0, 7, 1, 7, 7],
        'i' => [2, 0, 2, 2, 2],
        'n' => [0, 6, 5, 5, 5],
        'f' => [3, 4, 6, 4, 4],
        _ => return None,
    })
}

struct Canvas {
    w: usize,
    h: usize,
    rgb: Vec<u8>,
}

impl Canvas {
    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = (y as usize * self.w + x as usize) * 3;
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    /// Text at `(x, y)` (its top left), each font dot `scale` pixels square.
    fn text(&mut self, x: i64, y: i64, s: &str, scale: i64) {
        for (i, c) in s.chars().enumerate() {
            let Some(rows) = glyph(c) else { continue };
            for (r, bits) in rows.iter().enumerate() {
                for b in 0..3 {
                    if bits >> (2 - b) & 1 == 1 {
                        for dy in 0..scale {
                            for dx in 0..scale {
                                self.set(
                                    x + (i as i64 * 4 + b) * scale + dx,
                                    y + r as i64 * scale + dy,
                                    [0, 0, 0],
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

fn write_png(
    path: &Path,
    series: &[Series],
    frame: &Frame,
    width: u32,
    height: u32,
) -> Result<(), Fail> {
    let (w, h) = (width as usize, height as usize);
    let mut c = Canvas {
        w,
        h,
        rgb: vec![255; w * h * 3],
    };
    let scale = if h >= 300 { 2 } else { 1 };
    let (left, bottom, top, right) = (12 * 4 * scale + 8, 10 * scale + 10, 10, 10);
    let (pw, ph) = (
        (w as i64 - left - right).max(2),
        (h as i64 - top - bottom).max(2),
    );
    for x in left..left + pw {
        c.set(x, top + ph, [0, 0, 0]);
    }
    for y in top..=top + ph {
        c.set(left - 1, y, [0, 0, 0]);
    }
    for (i, s) in series.iter().enumerate() {
        let color = RGB[i % RGB.len()];
        let mut previous: Option<(i64, i64)> = None;
        for &(x, y) in &s.points {
            let (fx, fy) = frame.fraction(x, y);
            let p = (
                left + (fx * (pw - 1) as f64).round() as i64,
                top + ((1.0 - fy) * (ph - 1) as f64).round() as i64,
            );
            for (px, py) in line(previous.unwrap_or(p), p) {
                c.set(px, py, color);
            }
            previous = Some(p);
        }
    }
    let glyph_h = 5 * scale;
    c.text(4, top, &out::num(frame.hi), scale);
    c.text(4, top + ph - glyph_h, &out::num(frame.lo), scale);
    c.text(left, top + ph + 6, &out::num(frame.first.round()), scale);
    let right_label = out::num(frame.last.round());
    c.text(
        left + pw - right_label.len() as i64 * 4 * scale,
        top + ph + 6,
        &right_label,
        scale,
    );
    let file = std::fs::File::create(path)
        .map_err(|e| failed(format!("cannot write {}: {e}", path.display())))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&c.rgb))
        .map_err(|e| failed(format!("writing {}: {e}", path.display())))?;
    out::print(&format!(
        "wrote {} ({width}x{height}): {}\n",
        path.display(),
        series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let [r, g, b] = RGB[i % RGB.len()];
                format!("{} in #{r:02x}{g:02x}{b:02x}", s.tag)
            })
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_join_their_ends() {
        assert_eq!(line((0, 0), (3, 1)), vec![(0, 0), (1, 0), (2, 1), (3, 1)]);
        assert_eq!(line((2, 2), (2, 2)), vec![(2, 2)]);
    }

    #[test]
    fn a_rising_line_draws_bottom_left_to_top_right_with_labels() {
        let s = Series {
            tag: "x".into(),
            points: (0..40).map(|i| (i as f64, i as f64)).collect(),
        };
        let frame = Frame {
            first: 0.0,
            last: 39.0,
            lo: 0.0,
            hi: 39.0,
        };
        let text = terminal(&[s], &frame, 20, 5, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].trim_start().starts_with("39 ┤"), "{text}");
        assert!(lines[4].trim_start().starts_with("0 ┤"), "{text}");
        // The top row has dots only at the right, the bottom row only at the left.
        let dots = |l: &str| -> Vec<bool> {
            l.chars()
                .skip_while(|&c| c != '┤')
                .skip(1)
                .map(|c| c != '⠀')
                .collect()
        };
        assert!(dots(lines[0])[19] && !dots(lines[0])[0], "{text}");
        assert!(dots(lines[4])[0] && !dots(lines[4])[19], "{text}");
        assert!(text.contains("  step"), "{text}");
    }
}
