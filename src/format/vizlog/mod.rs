//! viz's own durable event log: a directory of append-only segment files.
//!
//! Each segment is `<base offset, 20 digits>.vzl`: a header with magic and format
//! version ([`segment`]), then records framed with a length and CRC32C, each one
//! event ([`codec`]). Beside it, `<base>.vzi` holds the segment's sparse step index
//! ([`index`]). [`reader`] reads a log, also while a writer appends to it; the
//! writer is the `file://` backend (`crate::backend::file`).

use std::path::{Path, PathBuf};

pub mod blocks;
pub mod cache;
pub mod codec;
pub mod compressor;
pub mod groups;
pub mod index;
pub mod query;
pub mod reader;
pub mod records;
pub mod scan;
pub mod segfile;
pub mod segment;
pub mod tags;
pub mod tail;

pub use reader::{LogRead, LogReader, LogSummary};
pub use scan::Problem;
pub use tail::{Tail, TailRead};

/// The file name of the segment whose first record has offset `base`.
pub fn segment_name(base: u64) -> String {
    format!("{base:020}.vzl")
}

/// The index sidecar of a segment.
pub fn index_path(segment: &Path) -> PathBuf {
    segment.with_extension("vzi")
}

/// The segments in `dir`, ordered by base offset. Other files are ignored.
pub fn segment_files(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".vzl")) else {
            continue;
        };
        if stem.len() == 20
            && let Ok(base) = stem.parse::<u64>()
        {
            out.push((base, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}
