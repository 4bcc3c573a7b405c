//! A bounded single-producer single-consumer ring for a producer thread's own lane.
//!
//! The producer keeps its write position and a cached copy of the consumer's read
//! position in a line only it touches, and publishes with a plain release store: a
//! push never executes a locked instruction and never loads a line the consumer
//! writes, unless the cached view says the ring is full. Under a worker that polls
//! between small bursts, the MPMC ring's CAS and stamp load each stalled on a
//! cross-core transfer; this ring avoids both (docs/PERFORMANCE.md).
//!
//! Safety rests on the roles: exactly one thread pushes (the lane's owner, enforced
//! by the lane being reachable only through that thread's thread-local) and exactly
//! one thread pops (the worker).

use std::mem::MaybeUninit;
use std::sync::atomic::Ordering;

use crossbeam_utils::CachePadded;

use super::sync::{AtomicUsize, UnsafeCell};

#[repr(align(64))]
struct Slot<T>(UnsafeCell<MaybeUninit<T>>);

/// How many slots ahead of the write position the producer prefetches for writing.
#[cfg(all(target_arch = "x86_64", not(loom)))]
const PREFETCH_AHEAD: usize = 8;

/// Position counters plus the slot index they map to (kept separately, so no
/// division by a capacity that need not be a power of two).
struct End {
    pos: usize,
    index: usize,
    /// The other end's position, as last seen.
    cached: usize,
}

pub(crate) struct SpscRing<T> {
    /// Read position, published by the consumer.
    head: CachePadded<AtomicUsize>,
    /// Write position, published by the producer.
    tail: CachePadded<AtomicUsize>,
    producer: CachePadded<UnsafeCell<End>>,
    consumer: CachePadded<UnsafeCell<End>>,
    slots: Box<[Slot<T>]>,
}

// SAFETY: values move between the two threads; the role discipline in the module
// docs keeps each `End` to one thread, and slots are handed over by the
// release/acquire pairs on `head` and `tail`.
unsafe impl<T: Send> Send for SpscRing<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SpscRing<T> {}

impl<T> SpscRing<T> {
    pub(crate) fn new(cap: usize) -> SpscRing<T> {
        assert!(cap > 0, "ring capacity must be positive");
        let end = || {
            CachePadded::new(UnsafeCell::new(End {
                pos: 0,
                index: 0,
                cached: 0,
            }))
        };
        let slots: Box<[Slot<T>]> = (0..cap)
            .map(|_| Slot(UnsafeCell::new(MaybeUninit::uninit())))
            .collect();
        // Touch every page now, while the lane is being created (once per thread),
        // so the first lap of pushes takes no page faults.
        #[cfg(not(loom))]
        for slot in slots.iter() {
            // SAFETY: the slot is ours and uninitialised; a byte write is in bounds.
            slot.0
                .with_mut(|p| unsafe { p.cast::<u8>().write_volatile(0) });
        }
        SpscRing {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            producer: end(),
            consumer: end(),
            slots,
        }
    }

    fn cap(&self) -> usize {
        self.slots.len()
    }

    /// Pushes `value`, or hands it back if the ring is full.
    ///
    /// # Safety
    /// Only one thread may ever call `push` on a given ring.
    #[inline]
    pub(crate) unsafe fn push(&self, value: T) -> Result<(), T> {
        // SAFETY: the caller is the only producer, so nobody else touches this End.
        self.producer
            .with_mut(|p| unsafe { self.push_as_producer(&mut *p, value) })
    }

    /// # Safety
    /// `p` is the producer's End, and this is the only producer.
    #[inline(always)]
    unsafe fn push_as_producer(&self, p: &mut End, value: T) -> Result<(), T> {
        if p.pos.wrapping_sub(p.cached) == self.cap() {
            p.cached = self.head.load(Ordering::Acquire);
            if p.pos.wrapping_sub(p.cached) == self.cap() {
                return Err(value);
            }
        }
        // SAFETY: the slot at `index` is free (fewer than `cap` values are in the
        // ring) and the consumer will not read it before the store to `tail` below.
        self.slots[p.index]
            .0
            .with_mut(|slot| unsafe { (*slot).write(value) });
        p.pos = p.pos.wrapping_add(1);
        p.index = if p.index + 1 == self.cap() {
            0
        } else {
            p.index + 1
        };
        self.tail.store(p.pos, Ordering::Release);
        // Ask for ownership of the line a few pushes ahead now, so the store to it
        // does not wait for the worker's core to give it up. Measured: p99.9 of a
        // burst after idle 375-428 ns -> 270-319 ns (docs/PERFORMANCE.md).
        #[cfg(all(target_arch = "x86_64", not(loom)))]
        {
            let ahead = p.index + PREFETCH_AHEAD;
            // Divide only when wrapping (rare); a division on every push costs more.
            let ahead = if ahead < self.cap() {
                ahead
            } else {
                ahead % self.cap()
            };
            // SAFETY: prefetch is a hint; the address is inside the slot array.
            self.slots[ahead].0.with_mut(|slot| unsafe {
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_ET0 }>(
                    slot.cast::<i8>(),
                )
            });
        }
        Ok(())
    }

    /// Pops the oldest value.
    ///
    /// # Safety
    /// Only one thread may ever call `pop` on a given ring (drop excepted).
    #[inline]
    pub(crate) unsafe fn pop(&self) -> Option<T> {
        // SAFETY: the caller is the only consumer.
        self.consumer
            .with_mut(|c| unsafe { self.pop_as_consumer(&mut *c) })
    }

    /// # Safety
    /// `c` is the consumer's End, and this is the only consumer.
    #[inline(always)]
    unsafe fn pop_as_consumer(&self, c: &mut End) -> Option<T> {
        if c.pos == c.cached {
            c.cached = self.tail.load(Ordering::Acquire);
            if c.pos == c.cached {
                return None;
            }
        }
        // SAFETY: the acquire load of `tail` covers this slot, which holds a value
        // the producer wrote and will not overwrite before the store to `head` below.
        let value = self.slots[c.index]
            .0
            .with_mut(|slot| unsafe { (*slot).assume_init_read() });
        c.pos = c.pos.wrapping_add(1);
        c.index = if c.index + 1 == self.cap() {
            0
        } else {
            c.index + 1
        };
        self.head.store(c.pos, Ordering::Release);
        Some(value)
    }

    /// Values in the ring (a snapshot).
    pub(crate) fn len(&self) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        tail.wrapping_sub(head).min(self.cap())
    }
}

impl<T> Drop for SpscRing<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no other thread can be pushing or popping.
        while unsafe { self.pop() }.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::SpscRing;
    use std::sync::Arc;

    #[test]
    fn fifo_full_and_empty_at_odd_capacities() {
        for cap in [1, 2, 3, 7, 10] {
            let r = SpscRing::new(cap);
            for lap in 0..50 {
                for i in 0..cap {
                    unsafe { r.push(lap * 100 + i) }.unwrap();
                }
                assert_eq!(unsafe { r.push(999) }, Err(999), "cap {cap}: full");
                assert_eq!(r.len(), cap);
                for i in 0..cap {
                    assert_eq!(unsafe { r.pop() }, Some(lap * 100 + i));
                }
                assert_eq!(unsafe { r.pop() }, None);
                assert_eq!(r.len(), 0);
            }
        }
    }

    #[test]
    fn one_producer_one_consumer_keep_order_and_lose_nothing() {
        const N: usize = 1_000_000;
        let r = SpscRing::new(5);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..N {
                    let mut v = i;
                    while let Err(back) = unsafe { r.push(v) } {
                        v = back;
                        std::hint::spin_loop();
                    }
                }
            });
            s.spawn(|| {
                let mut next = 0;
                while next < N {
                    if let Some(v) = unsafe { r.pop() } {
                        assert_eq!(v, next);
                        next += 1;
                    }
                }
            });
        });
    }

    #[test]
    fn dropping_the_ring_drops_what_it_holds() {
        let token = Arc::new(());
        let r = SpscRing::new(4);
        for _ in 0..3 {
            unsafe { r.push(token.clone()) }.unwrap();
        }
        assert_eq!(unsafe { r.pop() }.map(|_| ()), Some(()));
        drop(r);
        assert_eq!(Arc::strong_count(&token), 1);
    }
}

/// Every interleaving of the ring's atomics, explored by loom (`--cfg loom`).
#[cfg(loom)]
mod loom_tests {
    use super::SpscRing;
    use loom::sync::Arc;
    use loom::thread;

    #[test]
    fn loom_one_producer_one_consumer_keep_order_through_a_full_ring() {
        loom::model(|| {
            let r = Arc::new(SpscRing::new(1));
            let producer = {
                let r = r.clone();
                thread::spawn(move || {
                    for i in 0..3usize {
                        let mut v = i;
                        // SAFETY: this thread is the only producer.
                        while let Err(back) = unsafe { r.push(v) } {
                            v = back;
                            thread::yield_now();
                        }
                    }
                })
            };
            let mut got = Vec::new();
            while got.len() < 3 {
                // SAFETY: this thread is the only consumer.
                match unsafe { r.pop() } {
                    Some(v) => got.push(v),
                    None => thread::yield_now(),
                }
            }
            producer.join().unwrap();
            assert_eq!(got, [0, 1, 2]);
        });
    }
}
