//! One queue ("lane") per producing thread, so producers never contend with each
//! other: a push touches only its own thread's lane.
//!
//! A thread finds its lane through a thread-local cache of its most recently used
//! lane — a `Cell` with no destructor, so reading it is a plain thread-local load
//! and one comparison. The lane itself is owned by a thread-local list whose
//! destructor clears the cache, so the cached pointer never outlives its lane. The first push from a thread to a collector
//! allocates and registers a lane (once); a thread whose thread-locals are already
//! destroyed (a push from another thread-local's destructor) uses a shared lane.
//! The worker drains every registered lane and retires lanes whose thread has exited.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

use super::record::Record;
use super::ring::Ring;
use super::spsc::SpscRing;

/// A lane's queue. A thread's own lane is single-producer; the drop-oldest policy
/// needs the producer to displace the oldest record while the worker pops, and the
/// shared fallback lane has many producers, so those use the MPMC ring.
// One per lane, already behind an `Arc`: boxing the larger variant would only add a
// pointer chase to every push.
#[allow(clippy::large_enum_variant)]
pub(crate) enum LaneQueue {
    Spsc(SpscRing<Record>),
    Mpmc(Ring<Record>),
}

impl LaneQueue {
    /// Pushes, or hands the record back when full. Called only by the lane's
    /// producer (its owning thread; any thread for the MPMC shared lane).
    #[inline]
    pub(crate) fn push(&self, record: Record) -> Result<(), Record> {
        match self {
            // SAFETY: an SPSC lane is reachable only through its owning thread's
            // thread-local, so this thread is its only producer.
            LaneQueue::Spsc(ring) => unsafe { ring.push(record) },
            LaneQueue::Mpmc(ring) => ring.push(record),
        }
    }

    /// Pushes, displacing and returning the oldest record when full. SPSC lanes are
    /// never created under drop-oldest; were one asked, it refuses the new record
    /// instead (returned as the displaced one), which loses no more than the policy.
    pub(crate) fn force_push(&self, record: Record) -> Option<Record> {
        match self {
            LaneQueue::Spsc(_) => self.push(record).err(),
            LaneQueue::Mpmc(ring) => ring.force_push(record),
        }
    }

    /// Pops the oldest record from a multi-consumer lane, for a producer making
    /// room under drop-oldest; `None` for a single-consumer lane (only the worker
    /// may pop those).
    pub(crate) fn pop_displacing(&self) -> Option<Record> {
        match self {
            LaneQueue::Spsc(_) => None,
            LaneQueue::Mpmc(ring) => ring.pop(),
        }
    }

    /// Pops the oldest record. Called only by the worker.
    pub(crate) fn pop(&self) -> Option<Record> {
        match self {
            // SAFETY: the worker is the only consumer of every lane.
            LaneQueue::Spsc(ring) => unsafe { ring.pop() },
            LaneQueue::Mpmc(ring) => ring.pop(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            LaneQueue::Spsc(ring) => ring.len(),
            LaneQueue::Mpmc(ring) => ring.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A producer's bounded lock-free queue.
pub(crate) struct Lane {
    pub queue: LaneQueue,
    /// Set when the collector stops, so threads drop their reference on a later miss.
    closed: AtomicBool,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// This thread's lanes, keyed by collector id, most recently used first.
struct LocalLanes(Vec<(u64, Arc<Lane>)>);

impl Drop for LocalLanes {
    fn drop(&mut self) {
        // The lanes go away with this list: forget the cached pointer first. FAST
        // has no destructor, so it is still accessible here.
        FAST.with(|f| f.set((0, std::ptr::null())));
    }
}

thread_local! {
    static LOCAL: RefCell<LocalLanes> = const { RefCell::new(LocalLanes(Vec::new())) };
    /// `(collector id, lane)` of `LOCAL`'s first entry, or `(0, null)`. Ids start at 1.
    static FAST: Cell<(u64, *const Lane)> = const { Cell::new((0, std::ptr::null())) };
}

pub(crate) struct Lanes {
    id: u64,
    capacity: usize,
    /// Whether per-thread lanes must be MPMC (the drop-oldest policy).
    mpmc: bool,
    registry: Mutex<Vec<Arc<Lane>>>,
    epoch: AtomicU64,
    shared: Arc<Lane>,
}

impl Lanes {
    pub(crate) fn new(capacity: usize, mpmc: bool) -> Lanes {
        let shared = Arc::new(Lane {
            queue: LaneQueue::Mpmc(Ring::new(capacity)),
            closed: AtomicBool::new(false),
        });
        Lanes {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            capacity,
            mpmc,
            registry: Mutex::new(vec![shared.clone()]),
            epoch: AtomicU64::new(1),
            shared,
        }
    }

    /// Runs `f` on the calling thread's lane. The fast path is a thread-local read
    /// and one comparison: no lock, no allocation, no reference-count change.
    #[inline]
    pub(crate) fn with_lane<R>(&self, f: impl FnOnce(&Lane) -> R) -> R {
        let (id, lane) = FAST.with(Cell::get);
        if id == self.id {
            // SAFETY: FAST mirrors the first entry of LOCAL, which holds an `Arc` to
            // this lane; LOCAL's destructor and every change to its front update FAST.
            return f(unsafe { &*lane });
        }
        self.with_lane_slow(f)
    }

    #[cold]
    #[inline(never)]
    fn with_lane_slow<R>(&self, f: impl FnOnce(&Lane) -> R) -> R {
        let lane = LOCAL
            .try_with(|local| {
                let mut local = local.try_borrow_mut().ok()?;
                let lanes = &mut local.0;
                lanes.retain(|(_, lane)| !lane.closed.load(Ordering::Relaxed));
                let lane = match lanes.iter().position(|(id, _)| *id == self.id) {
                    Some(i) => lanes.remove(i).1,
                    None => self.register(),
                };
                lanes.insert(0, (self.id, lane.clone()));
                FAST.with(|fast| fast.set((self.id, Arc::as_ptr(&lane))));
                Some(lane)
            })
            .ok()
            .flatten();
        // No thread-local list (this thread is exiting): the shared lane takes it.
        f(lane.as_ref().unwrap_or(&self.shared))
    }

    fn register(&self) -> Arc<Lane> {
        let queue = if self.mpmc {
            LaneQueue::Mpmc(Ring::new(self.capacity))
        } else {
            LaneQueue::Spsc(SpscRing::new(self.capacity))
        };
        let lane = Arc::new(Lane {
            queue,
            closed: AtomicBool::new(false),
        });
        self.registry.lock().push(lane.clone());
        self.epoch.fetch_add(1, Ordering::Release);
        lane
    }

    /// Refreshes the worker's copy of the lane list if lanes were added or retired.
    pub(crate) fn refresh(&self, cache: &mut Vec<Arc<Lane>>, seen_epoch: &mut u64) {
        let epoch = self.epoch.load(Ordering::Acquire);
        if epoch != *seen_epoch {
            *cache = self.registry.lock().clone();
            *seen_epoch = epoch;
        }
    }

    /// Removes empty lanes no thread can reach any more (their thread exited): only
    /// the registry and the worker's copy still hold them.
    pub(crate) fn retire_orphans(&self, cache: &[Arc<Lane>]) {
        let orphan = |lane: &Arc<Lane>| {
            Arc::strong_count(lane) == 2
                && lane.queue.is_empty()
                && !Arc::ptr_eq(lane, &self.shared)
        };
        if cache.iter().any(orphan) {
            self.registry.lock().retain(|lane| !orphan(lane));
            self.epoch.fetch_add(1, Ordering::Release);
        }
    }

    /// Events queued in every lane.
    pub(crate) fn len(&self) -> usize {
        self.registry.lock().iter().map(|l| l.queue.len()).sum()
    }

    /// Pops everything in every lane into `discard`. Only for after the worker has
    /// exited (lanes have a single consumer).
    pub(crate) fn discard_all(&self, discard: &mut impl FnMut(Record)) {
        for lane in self.registry.lock().iter() {
            while let Some(record) = lane.queue.pop() {
                discard(record);
            }
        }
    }

    /// Number of registered lanes.
    pub(crate) fn count(&self) -> usize {
        self.registry.lock().len()
    }

    /// Capacity of each lane.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Marks every lane closed, so producer threads let go of them.
    pub(crate) fn close(&self) {
        for lane in self.registry.lock().iter() {
            lane.closed.store(true, Ordering::Relaxed);
        }
    }
}
