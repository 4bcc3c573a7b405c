//! Compresses the file log's finished segments in the background, on CPU time
//! that nothing else wants.
//!
//! A training loop that logs flat out keeps the producer, the collector's worker
//! and the log's writer busy; compression beside them at normal priority took a
//! quarter or more of their throughput on two cores. So the work is split:
//!
//! - a **helper** thread at `SCHED_IDLE` compresses blocks, one at a time, only
//!   when a core would otherwise idle;
//! - a **finisher** thread at normal priority waits for a segment's blocks and
//!   writes the sealed segment. When the segment is *urgent* it compresses what is
//!   left itself, so a helper starved by other processes never holds anything up.
//!
//! A segment becomes urgent when more than [`MAX_WAITING`] wait (so a run that
//! never pauses still gets compressed, a little behind), and every one does when
//! the log waits for them ([`Sealer::wait`]: closing, clearing, dropping old
//! segments). The thread that waits helps with the work meanwhile.
//!
//! Two threads rather than one whose priority is raised when it matters: an
//! unprivileged thread cannot leave `SCHED_IDLE`. Work items are claimed with
//! one atomic counter per segment and never run under the lock, so no thread
//! ever waits on the helper: an item it claimed but has not finished is simply
//! done again by whoever needs it first.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{JoinHandle, Thread};

use crossbeam_queue::SegQueue;
use parking_lot::{Condvar, Mutex};

use crate::error::{ErrorKind, Result, VizError};
use crate::format::vizlog::blocks::{self, Compression};
use crate::format::vizlog::segfile;
use crate::format::vizlog::segment::{HEADER_LEN, Header};

/// How many finished segments may wait for idle time before the oldest is
/// compressed at normal priority: at most this many segments' worth of disk
/// space (`segment_max_bytes` each) is held uncompressed by a run that never
/// pauses.
pub const MAX_WAITING: usize = 4;

/// One finished segment to compress.
pub struct Job {
    path: PathBuf,
    header: Header,
    compression: Compression,
    sync: bool,
    /// The segment as written: every item reads its own bytes from it.
    file: File,
    len: u64,
    /// The blocks' segment offsets; item `spans.len()` is the packed sidecar.
    spans: Vec<(u64, u64)>,
    /// The next item nobody has claimed.
    next: AtomicUsize,
    /// Each item's output, set once by whoever finishes it first: a block
    /// frame, or the packed sidecar (empty when there is none to pack).
    done: Vec<OnceLock<std::result::Result<Vec<u8>, String>>>,
    /// Items not yet done.
    remaining: AtomicUsize,
    /// Whether the finisher should do what is left itself, now.
    urgent: AtomicBool,
}

impl Job {
    /// A job for the finished version 1 segment at `path`, cut into blocks at
    /// `starts` (its index's block offsets).
    pub fn new(
        path: PathBuf,
        header: Header,
        starts: &[u64],
        compression: Compression,
        sync: bool,
    ) -> std::io::Result<Job> {
        let file = File::open(&path)?;
        let len = file.metadata()?.len();
        let spans = blocks::block_spans(starts, HEADER_LEN, len);
        let items = spans.len() + 1;
        Ok(Job {
            path,
            header,
            compression,
            sync,
            file,
            len,
            spans,
            next: AtomicUsize::new(0),
            done: (0..items).map(|_| OnceLock::new()).collect(),
            remaining: AtomicUsize::new(items),
            urgent: AtomicBool::new(false),
        })
    }

    fn items(&self) -> usize {
        self.done.len()
    }

    /// Item `i`'s output; a panic is caught and becomes the item's error, so a
    /// bug in an encoder costs one segment its compression, never a thread.
    fn compute(&self, i: usize, scratch: &mut Vec<u8>) -> std::result::Result<Vec<u8>, String> {
        let run = || -> std::io::Result<Vec<u8>> {
            let Some(&(from, to)) = self.spans.get(i) else {
                return Ok(segfile::packed_sidecar(&self.path, &self.header).unwrap_or_default());
            };
            let mut raw = vec![0; (to - from) as usize];
            self.file.read_exact_at(&mut raw, from)?;
            Ok(blocks::seal_block(&self.compression, from, &raw, scratch))
        };
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => Err(format!("reading it: {e}")),
            Err(_) => Err("compressing a block panicked".to_owned()),
        }
    }

    /// Records item `i`'s output unless someone did first; `true` when that
    /// made the job complete.
    fn complete(&self, i: usize, out: std::result::Result<Vec<u8>, String>) -> bool {
        self.done[i].set(out).is_ok() && self.remaining.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Claims and does items until none is left unclaimed, or until `stop` says
    /// so; `true` when this made the job complete.
    fn work(&self, scratch: &mut Vec<u8>, stop: impl Fn() -> bool) -> bool {
        let mut completed = false;
        while !stop() {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.items() {
                break;
            }
            if self.done[i].get().is_none() {
                completed |= self.complete(i, self.compute(i, scratch));
            }
        }
        completed
    }

    /// Does every item still undone, claimed by another thread or not.
    fn work_all(&self, scratch: &mut Vec<u8>) {
        self.work(scratch, || false);
        for i in 0..self.items() {
            if self.done[i].get().is_none() {
                self.complete(i, self.compute(i, scratch));
            }
        }
    }

    /// Does whatever is left, then writes the sealed segment: the finisher's
    /// work, and the log's own when no sealer could start.
    pub fn seal(&self, scratch: &mut Vec<u8>) -> Result<()> {
        self.work_all(scratch);
        self.write()
    }

    /// Writes the sealed segment from the items' outputs.
    fn write(&self) -> Result<()> {
        let failed = |why: &str| {
            VizError::new(
                ErrorKind::Io,
                format!(
                    "compressing {}: {why}; it stays readable uncompressed",
                    self.path.display()
                ),
            )
        };
        let mut framed = Vec::with_capacity(self.spans.len());
        for out in &self.done[..self.spans.len()] {
            match out.get() {
                Some(Ok(frame)) => framed.push(frame.as_slice()),
                Some(Err(why)) => return Err(failed(why)),
                None => return Err(failed("a block was never compressed")),
            }
        }
        let body = blocks::seal_body(&self.spans, &framed, self.len, HEADER_LEN);
        let sidecar = match self.done[self.spans.len()].get() {
            Some(Ok(packed)) if !packed.is_empty() => Some(packed.as_slice()),
            _ => None,
        };
        segfile::replace_sealed(&self.path, &self.header, &body, sidecar, self.sync)
            .map(drop)
            .map_err(|e| failed(&e.to_string()))
    }
}

struct Shared {
    /// Segments not yet written sealed, oldest first. Only threads at normal
    /// priority take this lock, and never while compressing or writing: an idle
    /// thread preempted while holding one of our locks would stall whoever
    /// waits on it for as long as the cores stay busy.
    queue: Mutex<VecDeque<Arc<Job>>>,
    /// Notified when a segment is written sealed.
    written: Condvar,
    /// The helper's inbox, lock-free for the same reason.
    fresh: SegQueue<Arc<Job>>,
    closed: AtomicBool,
    failures: Mutex<Vec<VizError>>,
}

/// The background compression of one log's finished segments.
pub struct Sealer {
    shared: Arc<Shared>,
    finisher: Option<JoinHandle<()>>,
    /// `None` only in tests, standing for a helper that never gets a core.
    helper: Option<Thread>,
}

impl Sealer {
    /// Starts the finisher and the helper.
    pub fn start() -> std::io::Result<Sealer> {
        Sealer::spawn(true)
    }

    fn spawn(with_helper: bool) -> std::io::Result<Sealer> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            written: Condvar::new(),
            fresh: SegQueue::new(),
            closed: AtomicBool::new(false),
            failures: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        let finisher = std::thread::Builder::new()
            .name("viz-file-seal".into())
            .spawn(move || finish(&s))?;
        let (s, wake) = (shared.clone(), finisher.thread().clone());
        // Detached: it only ever computes into memory, and leaves once the sealer
        // is closed (or with the process).
        let helper = if !with_helper {
            Ok(None)
        } else {
            std::thread::Builder::new()
                .name("viz-file-seal-idle".into())
                .spawn(move || help(&s, &wake))
                .map(|h| Some(h.thread().clone()))
        };
        let helper = match helper {
            Ok(helper) => helper,
            Err(e) => {
                shared.closed.store(true, Ordering::Release);
                finisher.thread().unpark();
                let _ = finisher.join();
                return Err(e);
            }
        };
        Ok(Sealer {
            shared,
            finisher: Some(finisher),
            helper,
        })
    }

    fn wake_finisher(&self) {
        if let Some(finisher) = &self.finisher {
            finisher.thread().unpark();
        }
    }

    /// Queues a finished segment; the oldest waiting ones become urgent when
    /// more than [`MAX_WAITING`] wait.
    pub fn push(&self, job: Job) {
        let job = Arc::new(job);
        {
            let mut queue = self.shared.queue.lock();
            queue.push_back(job.clone());
            let over = queue.len().saturating_sub(MAX_WAITING);
            for job in queue.iter().take(over) {
                job.urgent.store(true, Ordering::Release);
            }
        }
        if let Some(helper) = &self.helper {
            self.shared.fresh.push(job);
            helper.unpark();
        }
        self.wake_finisher();
    }

    /// Segments queued and not yet written sealed.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.shared.queue.lock().len()
    }

    /// Makes every queued segment urgent, helps compress them, and returns once
    /// all are written, with the failures since the last call.
    pub fn wait(&self) -> Vec<VizError> {
        let jobs: Vec<Arc<Job>> = {
            let queue = self.shared.queue.lock();
            for job in queue.iter() {
                job.urgent.store(true, Ordering::Release);
            }
            queue.iter().cloned().collect()
        };
        self.wake_finisher();
        let mut scratch = Vec::new();
        for job in &jobs {
            if job.work(&mut scratch, || false) {
                self.wake_finisher();
            }
        }
        let mut queue = self.shared.queue.lock();
        while !queue.is_empty() {
            self.shared.written.wait(&mut queue);
        }
        drop(queue);
        self.take_failures()
    }

    /// Failures since the last call: each leaves its segment as written.
    pub fn take_failures(&self) -> Vec<VizError> {
        std::mem::take(&mut *self.shared.failures.lock())
    }
}

impl Drop for Sealer {
    /// Finishes every queued segment first: a closed log is a compressed one.
    fn drop(&mut self) {
        for failure in self.wait() {
            crate::error::warn_on_stderr(&failure);
        }
        self.shared.closed.store(true, Ordering::Release);
        if let Some(helper) = &self.helper {
            helper.unpark();
        }
        self.wake_finisher();
        if let Some(finisher) = self.finisher.take() {
            let _ = finisher.join();
        }
    }
}

/// The finisher: writes each segment, oldest first, once its items are done,
/// doing them itself when it is urgent. It parks between: whoever changes what
/// it waits for unparks it, and a wake-up that comes before it parks is kept.
fn finish(shared: &Shared) {
    let mut scratch = Vec::new();
    loop {
        let job = {
            let queue = shared.queue.lock();
            match queue.front() {
                Some(job)
                    if job.remaining.load(Ordering::Acquire) == 0
                        || job.urgent.load(Ordering::Acquire) =>
                {
                    job.clone()
                }
                None if shared.closed.load(Ordering::Acquire) => return,
                _ => {
                    drop(queue);
                    std::thread::park();
                    continue;
                }
            }
        };
        if let Err(e) = job.seal(&mut scratch) {
            shared.failures.lock().push(e);
        }
        let mut queue = shared.queue.lock();
        queue.pop_front();
        shared.written.notify_all();
    }
}

/// The helper: at idle priority, does the items of each queued segment in turn,
/// and wakes the finisher when it completes one.
fn help(shared: &Shared, finisher: &Thread) {
    lower_to_idle_priority();
    let mut scratch = Vec::new();
    loop {
        match shared.fresh.pop() {
            // A job turned urgent is the finisher's: the helper moves on.
            Some(job) => {
                if job.work(&mut scratch, || job.urgent.load(Ordering::Acquire)) {
                    finisher.unpark();
                }
            }
            None if shared.closed.load(Ordering::Acquire) => return,
            None => std::thread::park(),
        }
    }
}

/// Moves the calling thread to `SCHED_IDLE`: it then runs only when no other
/// thread wants the core (RocksDB lowers its compaction threads the same way). A
/// failure (a seccomp filter, say) leaves it at normal priority, which costs
/// throughput, not correctness.
fn lower_to_idle_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sets the calling thread's own policy from a valid sched_param.
    unsafe {
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::format::vizlog::segfile::SegmentFile;
    use crate::format::vizlog::segment::{self, Layout};
    use crate::format::vizlog::{codec, segment_name};
    use std::path::Path;
    use std::time::{Duration, Instant};

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("viz-sealer-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A version 1 segment of `n` scalars over 10 tags, with an index block
    /// every 100 records; returns the job for it and its records' bytes.
    fn segment(dir: &Path, base: u64, n: usize) -> (Job, Vec<u8>) {
        let header = Header {
            base_offset: base,
            created_unix_ms: 1,
            layout: Layout::Records,
        };
        let mut raw = Vec::new();
        let mut starts = Vec::new();
        for i in 0..n {
            if i % 100 == 0 {
                starts.push(HEADER_LEN + raw.len() as u64);
            }
            let event = Event::scalar(&format!("t/{}", i % 10), i as i64, i as f64).unwrap();
            segment::frame(&mut raw, |o| codec::encode(&event, o)).unwrap();
        }
        let path = dir.join(segment_name(base));
        std::fs::write(&path, [&header.encode()[..], &raw].concat()).unwrap();
        let lz4 = Compression {
            codec: blocks::Codec::Lz4,
            level: 3,
            delta: true,
        };
        (Job::new(path, header, &starts, lz4, false).unwrap(), raw)
    }

    /// The segment at `path`, if compressed, with its records' bytes.
    fn sealed(path: &Path) -> Option<Vec<u8>> {
        let file = SegmentFile::open(path).unwrap().unwrap();
        file.is_compressed()
            .then(|| file.read(HEADER_LEN, file.len()).unwrap().into_owned())
    }

    /// Waits (up to a minute: a hang guard, not a timing) for `done`.
    fn eventually(what: &str, done: impl Fn() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < Duration::from_secs(60), "never: {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn the_helper_seals_a_segment_nobody_waits_for() {
        let dir = dir("helper");
        let sealer = Sealer::start().unwrap();
        let (job, raw) = segment(&dir, 0, 3000);
        let path = job.path.clone();
        sealer.push(job);
        // One segment is not urgent: only the helper's work completes it.
        eventually("the segment is written sealed", || sealer.waiting() == 0);
        assert_eq!(sealed(&path).as_deref(), Some(&raw[..]));
        assert!(sealer.wait().is_empty());
        drop(sealer);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn waiting_never_depends_on_the_helper() {
        let dir = dir("starved");
        // No helper: one that never gets a core, having claimed an item.
        let sealer = Sealer::spawn(false).unwrap();
        let (first, raw0) = segment(&dir, 0, 2500);
        let (second, raw1) = segment(&dir, 2500, 700);
        first.next.store(1, Ordering::Relaxed);
        let paths = [first.path.clone(), second.path.clone()];
        sealer.push(first);
        sealer.push(second);
        let sealer = Arc::new(sealer);
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = sealer.clone();
        std::thread::spawn(move || tx.send(waiter.wait()).unwrap());
        let failures = rx.recv_timeout(Duration::from_secs(60));
        assert!(failures.expect("wait() returns").is_empty());
        assert_eq!(sealer.waiting(), 0);
        assert_eq!(sealed(&paths[0]).as_deref(), Some(&raw0[..]));
        assert_eq!(sealed(&paths[1]).as_deref(), Some(&raw1[..]));
        drop(sealer);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_backlog_past_the_limit_is_sealed_at_normal_priority() {
        let dir = dir("backlog");
        let sealer = Sealer::spawn(false).unwrap();
        let mut paths = Vec::new();
        for i in 0..=MAX_WAITING as u64 {
            let (job, _) = segment(&dir, i * 300, 300);
            paths.push(job.path.clone());
            sealer.push(job);
        }
        // With no helper, only urgency gets the oldest one sealed.
        eventually("the oldest is written", || sealer.waiting() == MAX_WAITING);
        assert!(sealed(&paths[0]).is_some());
        assert!(paths[1..].iter().all(|p| sealed(p).is_none()));
        assert!(sealer.wait().is_empty());
        assert!(paths.iter().all(|p| sealed(p).is_some()));
        drop(sealer);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_segment_that_cannot_be_read_stays_as_written_and_is_reported() {
        let dir = dir("unreadable");
        let sealer = Sealer::spawn(false).unwrap();
        let (job, _) = segment(&dir, 0, 1000);
        let path = job.path.clone();
        let len = job.len;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len / 2)
            .unwrap();
        sealer.push(job);
        let failures = sealer.wait();
        assert_eq!(failures.len(), 1, "{failures:?}");
        let message = failures[0].message();
        assert!(
            message.contains(&path.display().to_string())
                && message.contains("stays readable uncompressed"),
            "{message}"
        );
        assert!(sealed(&path).is_none());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len / 2);
        drop(sealer);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_helper_runs_at_idle_priority() {
        let sealer = Sealer::start().unwrap();
        // The kernel shows a thread's name cut to 15 bytes.
        let helpers = || -> Vec<i32> {
            std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(|t| {
                    let t = t.ok()?.path();
                    let name = std::fs::read_to_string(t.join("comm")).ok()?;
                    (name.trim() == "viz-file-seal-i")
                        .then(|| t.file_name()?.to_str()?.parse().ok())?
                })
                .collect()
        };
        // SAFETY: only reads a thread's policy.
        let policy = |tid: i32| unsafe { libc::sched_getscheduler(tid) };
        eventually("a helper at SCHED_IDLE", || {
            helpers().into_iter().any(|t| policy(t) == libc::SCHED_IDLE)
        });
        // The finisher, which a close waits on, keeps normal priority.
        use std::os::unix::thread::JoinHandleExt;
        let finisher = sealer.finisher.as_ref().unwrap().as_pthread_t();
        let (mut finisher_policy, mut param) = (-1, libc::sched_param { sched_priority: 0 });
        // SAFETY: the finisher is not joined until the sealer drops.
        let got =
            unsafe { libc::pthread_getschedparam(finisher, &mut finisher_policy, &mut param) };
        assert_eq!((got, finisher_policy), (0, libc::SCHED_OTHER));
        drop(sealer);
    }
}
