//! Output: aligned tables, CSV and JSON Lines on stdout. A closed pipe
//! (`viz query ... | head`) ends the program quietly, with success.

use std::io::{IsTerminal, Write};

/// How rows are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns with a header.
    Table,
    /// Comma-separated values with a header.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// Writes `text` to stdout; exits 0 if the reader went away.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("viz: writing the output failed: {e}");
        std::process::exit(crate::fail::FAILED);
    }
}

/// Whether to color: stdout is a terminal and `NO_COLOR` is unset.
pub fn color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Rows under a header, printed in one of the [`Format`]s.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (as many cells as columns).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.aligned(),
            Format::Csv => {
                let mut s = csv_line(&self.header);
                for r in &self.rows {
                    s.push_str(&csv_line(r));
                }
                s
            }
            Format::Jsonl => {
                let mut s = String::new();
                for r in &self.rows {
                    let object: serde_json::Map<String, serde_json::Value> = self
                        .header
                        .iter()
                        .zip(r)
                        .map(|(k, v)| (k.clone(), json_cell(v)))
                        .collect();
                    s.push_str(&serde_json::Value::Object(object).to_string());
                    s.push('\n');
                }
                s
            }
        }
    }

    fn aligned(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([self.header[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                let pad = widths[i] - c.chars().count();
                // Numbers right-aligned, text left-aligned.
                if c.parse::<f64>().is_ok() {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    if i + 1 < cells.len() {
                        s.push_str(&" ".repeat(pad));
                    }
                }
            }
            s.trim_end().to_owned() + "\n"
        };
        let mut s = if color() {
            format!("\x1b[1m{}\x1b[0m", line(&self.header))
        } else {
            line(&self.header)
        };
        for r in &self.rows {
            s.push_str(&line(r));
        }
        s
    }
}

fn csv_line(cells: &[String]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect();
    quoted.join(",") + "\n"
}

/// A cell as JSON: a number when it reads as one, else a string.
fn json_cell(cell: &str) -> serde_json::Value {
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() && !cell.is_empty() => serde_json::json!(v),
        _ => serde_json::json!(cell),
    }
}

/// A number for a table: integers as they are, others with up to 6 significant
/// decimals.
pub fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn time(secs: f64) -> String {
    let t = secs.floor() as i64;
    let (days, rem) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Bytes as B, KiB, MiB or GiB.
pub fn bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(time(0.0), "1970-01-01 00:00:00");
        assert_eq!(time(1_700_000_000.5), "2023-11-14 22:13:20");
        assert_eq!(time(951_782_400.0), "2000-02-29 00:00:00");
    }

    #[test]
    fn numbers_and_sizes_read_well() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(0.125), "0.125");
        assert_eq!(num(1.0 / 3.0), "0.333333");
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
    }

    #[test]
    fn csv_quotes_what_needs_it_and_jsonl_types_numbers() {
        let mut t = Table::new(&["tag", "value"]);
        t.row(vec!["a,b".into(), "1.5".into()]);
        assert_eq!(t.render(Format::Csv), "tag,value\n\"a,b\",1.5\n");
        assert_eq!(t.render(Format::Jsonl), "{\"tag\":\"a,b\",\"value\":1.5}\n");
    }
}
