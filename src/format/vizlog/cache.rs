//! The read cache (seed 002's LRU with TTL): segment indexes with their tag
//! indexes, shared by every reader in the process, bounded in bytes.
//!
//! An entry is keyed by the segment's path and checked against its header (base
//! offset and creation time), so a segment deleted and recreated is never served
//! from an old entry. Sealed data never goes stale: a segment's bytes only grow,
//! so an entry covering fewer bytes than the file is extended by indexing just the
//! new bytes. The one way a segment's bytes change is recovery truncating a torn
//! tail and new records landing where it was, so before use an entry's last
//! indexed frame is read back and compared: a mismatch rebuilds the entry.
//!
//! Entries unused for the TTL are dropped; past the byte capacity, the least
//! recently used go first. [`stats`] counts hits, misses and evictions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::index::SegmentIndex;
use super::scan::{extend_index, load_index};
use super::segfile::SegmentFile;
use super::segment::{FRAME_LEN, HEADER_LEN, Header};
use crate::error::Result;

/// Default capacity: about 20M indexed records.
pub const DEFAULT_CAPACITY: usize = 256 << 20;
/// Default time an unused entry is kept.
pub const DEFAULT_TTL: Duration = Duration::from_secs(600);

/// The cache's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Lookups answered from the cache (perhaps extended by new bytes).
    pub hits: u64,
    /// Lookups that loaded a sidecar or indexed a segment.
    pub misses: u64,
    /// Entries dropped for space or age.
    pub evictions: u64,
    /// Entries rebuilt because the segment changed under them.
    pub rebuilds: u64,
    /// Entries held now.
    pub entries: u64,
    /// Bytes held now (estimated).
    pub bytes: u64,
    /// The byte capacity.
    pub capacity: u64,
}

struct Entry {
    header: Header,
    index: Arc<SegmentIndex>,
    /// The last indexed frame's offset and first bytes, to detect rewritten tails.
    last_frame: Option<(u64, [u8; FRAME_LEN])>,
    bytes: usize,
    used: Instant,
}

/// The steps a segment's index covered, kept apart from the entries and never
/// evicted for space (a few dozen bytes a segment): a step-range read of a log
/// whose indexes outgrow the capacity then still skips the segments it does not
/// need without loading their indexes. Checked like an entry.
struct Span {
    header: Header,
    len: u64,
    last_frame: Option<(u64, [u8; FRAME_LEN])>,
    steps: Option<(i64, i64)>,
    used: Instant,
}

struct Inner {
    entries: HashMap<PathBuf, Entry>,
    spans: HashMap<PathBuf, Span>,
    bytes: usize,
    capacity: usize,
    ttl: Duration,
}

static CACHE: LazyLock<Mutex<Inner>> = LazyLock::new(|| {
    Mutex::new(Inner {
        entries: HashMap::new(),
        spans: HashMap::new(),
        bytes: 0,
        capacity: DEFAULT_CAPACITY,
        ttl: DEFAULT_TTL,
    })
});
static HITS: AtomicU64 = AtomicU64::new(0);
static MISSES: AtomicU64 = AtomicU64::new(0);
static EVICTIONS: AtomicU64 = AtomicU64::new(0);
static REBUILDS: AtomicU64 = AtomicU64::new(0);

/// Sets the cache's byte capacity (0 disables it) and the time an unused entry is
/// kept; applies at once.
pub fn configure(capacity: usize, ttl: Duration) {
    let mut inner = CACHE.lock();
    inner.capacity = capacity;
    inner.ttl = ttl;
    inner.evict(Instant::now());
}

/// The cache's counters now.
pub fn stats() -> CacheStats {
    let inner = CACHE.lock();
    CacheStats {
        hits: HITS.load(Ordering::Relaxed),
        misses: MISSES.load(Ordering::Relaxed),
        evictions: EVICTIONS.load(Ordering::Relaxed),
        rebuilds: REBUILDS.load(Ordering::Relaxed),
        entries: inner.entries.len() as u64,
        bytes: inner.bytes as u64,
        capacity: inner.capacity as u64,
    }
}

/// Drops every entry.
pub fn clear() {
    let mut inner = CACHE.lock();
    inner.entries.clear();
    inner.spans.clear();
    inner.bytes = 0;
}

impl Inner {
    fn evict(&mut self, now: Instant) {
        let ttl = self.ttl;
        let before = self.entries.len();
        self.entries
            .retain(|_, e| now.saturating_duration_since(e.used) < ttl);
        self.spans
            .retain(|_, s| now.saturating_duration_since(s.used) < ttl);
        while self.bytes_held() > self.capacity {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(p, _)| p.clone())
            else {
                break;
            };
            self.entries.remove(&oldest);
        }
        EVICTIONS.fetch_add((before - self.entries.len()) as u64, Ordering::Relaxed);
        self.bytes = self.bytes_held();
    }

    fn bytes_held(&self) -> usize {
        self.entries.values().map(|e| e.bytes).sum()
    }
}

fn frame_head(file: &SegmentFile, offset: u64) -> Result<Option<[u8; FRAME_LEN]>> {
    let b = file.read(offset, offset + FRAME_LEN as u64)?;
    Ok(b.as_ref().try_into().ok())
}

/// What [`index_of`] did, for a query's report.
#[derive(Clone, Copy, Debug, Default)]
pub struct Lookup {
    /// Segment bytes read to index it.
    pub bytes_read: u64,
}

/// Whether segment `path` (whose header is `header`, `len` bytes long, open as
/// `file`) may hold a record with a step in `start..=end`: `false` only when its
/// index, seen before at this length, says it holds none. Costs no index load.
pub fn may_overlap(
    path: &Path,
    header: &Header,
    file: &SegmentFile,
    len: u64,
    start: i64,
    end: i64,
) -> Result<bool> {
    let now = Instant::now();
    let known = {
        let mut inner = CACHE.lock();
        let ttl = inner.ttl;
        match inner.spans.get_mut(path) {
            Some(s)
                if s.header == *header
                    && s.len == len
                    && now.saturating_duration_since(s.used) < ttl =>
            {
                s.used = now;
                Some((s.steps, s.last_frame))
            }
            _ => None,
        }
    };
    let Some((steps, last)) = known else {
        return Ok(true);
    };
    // The same check as an entry's: a tail rewritten to the same length.
    if let Some((at, head)) = last
        && !file.is_compressed()
        && frame_head(file, at)? != Some(head)
    {
        return Ok(true);
    }
    Ok(steps.is_some_and(|(lo, hi)| lo <= end && hi >= start))
}

/// Notes what `index` (of `len` bytes of `path`) says about its steps.
fn remember_span(
    path: &Path,
    header: &Header,
    len: u64,
    index: &SegmentIndex,
    last_frame: Option<(u64, [u8; FRAME_LEN])>,
    now: Instant,
) {
    let mut inner = CACHE.lock();
    if inner.capacity > 0 && index.covered == len {
        let span = Span {
            header: *header,
            len,
            last_frame,
            steps: index.steps(),
            used: now,
        };
        inner.spans.insert(path.to_path_buf(), span);
    }
}

/// The index, with its tag index, of segment `path` (whose header is `header`,
/// `len` bytes long, open as `file`), from the cache or built and cached.
pub fn index_of(
    path: &Path,
    header: &Header,
    file: &SegmentFile,
    len: u64,
    lookup: &mut Lookup,
) -> Result<Arc<SegmentIndex>> {
    let now = Instant::now();
    let cached = {
        let mut inner = CACHE.lock();
        let ttl = inner.ttl;
        match inner.entries.get_mut(path) {
            Some(e)
                if e.header == *header
                    && e.index.covered <= len
                    && now.saturating_duration_since(e.used) < ttl =>
            {
                e.used = now;
                Some((e.index.clone(), e.last_frame))
            }
            _ => None,
        }
    };
    let mut index = match cached {
        Some((index, last)) => {
            // A compressed segment never changes, and reads as the segment it
            // was sealed from, so an index of either still holds.
            let unchanged = match last {
                _ if file.is_compressed() => true,
                Some((at, head)) => frame_head(file, at)? == Some(head),
                None => true,
            };
            if unchanged {
                HITS.fetch_add(1, Ordering::Relaxed);
                if index.covered == len {
                    remember_span(path, header, len, &index, last, now);
                    return Ok(index);
                }
                index
            } else {
                REBUILDS.fetch_add(1, Ordering::Relaxed);
                Arc::new(SegmentIndex::empty(HEADER_LEN))
            }
        }
        None => {
            MISSES.fetch_add(1, Ordering::Relaxed);
            Arc::new(
                load_index(path, len, header, true)
                    .filter(|i| i.has_tags)
                    .unwrap_or_else(|| SegmentIndex::empty(HEADER_LEN)),
            )
        }
    };
    if index.covered < len {
        let bytes = file.read(index.covered, len)?;
        lookup.bytes_read += bytes.len() as u64;
        extend_index(Arc::make_mut(&mut index), &bytes);
    }
    let last_frame = match last_record(&index) {
        Some(_) if file.is_compressed() => None,
        Some(at) => frame_head(file, at)?.map(|h| (at, h)),
        None => None,
    };
    remember_span(path, header, len, &index, last_frame, now);
    let mut inner = CACHE.lock();
    if inner.capacity > 0 {
        let bytes = index.tags.bytes() + 24 * index.blocks.len() + 256;
        inner.entries.insert(
            path.to_path_buf(),
            Entry {
                header: *header,
                index: index.clone(),
                last_frame,
                bytes,
                used: now,
            },
        );
        inner.evict(now);
    }
    Ok(index)
}

/// The offset of the last record the tag index holds.
fn last_record(index: &SegmentIndex) -> Option<u64> {
    index
        .tags
        .iter()
        .filter_map(|(_, p)| p.offsets.last())
        .max()
        .map(|&o| u64::from(o))
}
