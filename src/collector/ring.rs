//! A bounded lock-free MPMC ring whose every slot is exactly one cache line.
//!
//! The algorithm is the classic stamped ring (Dmitry Vyukov's bounded MPMC queue, the
//! one crossbeam's `ArrayQueue` also uses): each slot carries a stamp saying which
//! position may write or read it next, and `head`/`tail` hold a lap number above the
//! slot index, so any capacity works. What this ring adds is the layout: a slot is
//! `#[repr(align(64))]` and holds its stamp and value together, so a push touches one
//! line and never a line the consumer is reading for the neighbouring slot. With
//! crossbeam's 48-byte slots the p99 of a push under a draining worker was about
//! twice as high (docs/PERFORMANCE.md).
//!
//! `force_push` (drop-oldest) displaces the oldest value atomically by moving `head`
//! itself, so it stays correct with a concurrent consumer.

use std::mem::MaybeUninit;
use std::sync::atomic::Ordering;

use crossbeam_utils::CachePadded;

use super::sync::{AtomicUsize, Backoff, UnsafeCell, fence};

#[repr(align(64))]
struct Slot<T> {
    /// `pos` when the slot is free for a push at `pos`; `pos + 1` once it holds the
    /// value pushed at `pos` (so a pop at `pos` may take it).
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

pub(crate) struct Ring<T> {
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    cap: usize,
    /// A power of two above `cap`: positions are `lap * one_lap + index`.
    one_lap: usize,
}

// SAFETY: values move between threads through the ring, so `T: Send` suffices; the
// stamps give each slot a single owner at a time.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above; all shared state is atomic or guarded by the stamp protocol.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// A ring holding at most `cap` values. Panics if `cap` is 0 (config validation
    /// rejects that earlier with a message).
    pub(crate) fn new(cap: usize) -> Ring<T> {
        assert!(cap > 0, "ring capacity must be positive");
        let one_lap = (cap + 1).next_power_of_two();
        let slots = (0..cap)
            .map(|i| Slot {
                stamp: AtomicUsize::new(i),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ring {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            slots,
            cap,
            one_lap,
        }
    }

    /// The position after `pos`: the next index, or index 0 of the next lap.
    #[inline]
    fn next(&self, pos: usize) -> usize {
        let index = pos & (self.one_lap - 1);
        if index + 1 < self.cap {
            pos + 1
        } else {
            (pos & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    #[inline]
    fn slot(&self, pos: usize) -> &Slot<T> {
        // The index part of a position is always below `cap`.
        &self.slots[pos & (self.one_lap - 1)]
    }

    /// Pushes `value`, or hands it back if the ring is full.
    #[inline]
    pub(crate) fn push(&self, value: T) -> Result<(), T> {
        self.push_or_else(value, |value, _, _, _| Err(value))
    }

    /// Pushes `value`; if the ring is full, displaces and returns the oldest value.
    pub(crate) fn force_push(&self, value: T) -> Option<T> {
        self.push_or_else(value, |value, tail, new_tail, slot| {
            let head = tail.wrapping_sub(self.one_lap);
            let new_head = new_tail.wrapping_sub(self.one_lap);
            // Taking `head` past the oldest value makes it ours: no pop can claim it.
            if self
                .head
                .compare_exchange_weak(head, new_head, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
            {
                self.tail.store(new_tail, Ordering::SeqCst);
                // SAFETY: we own the slot (head moved past it, tail not yet published
                // past it to other producers until the stamp below), and it holds an
                // initialised value from the previous lap.
                let old = slot
                    .value
                    .with_mut(|p| unsafe { p.replace(MaybeUninit::new(value)).assume_init() });
                slot.stamp.store(tail + 1, Ordering::Release);
                Err(Some(old))
            } else {
                Ok(value)
            }
        })
        .err()
        .flatten()
    }

    /// The push loop. When the ring is full, `full(value, tail, new_tail, slot)`
    /// decides: `Err(x)` ends the push with `Err(x)`, `Ok(value)` retries.
    #[inline]
    fn push_or_else<E>(
        &self,
        mut value: T,
        full: impl Fn(T, usize, usize, &Slot<T>) -> Result<T, E>,
    ) -> Result<(), E> {
        let backoff = Backoff::new();
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            let slot = self.slot(tail);
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == tail {
                let new_tail = self.next(tail);
                match self.tail.compare_exchange_weak(
                    tail,
                    new_tail,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: the CAS made us the only writer of this slot for
                        // position `tail`, and its stamp says it is empty.
                        slot.value
                            .with_mut(|p| unsafe { p.write(MaybeUninit::new(value)) });
                        slot.stamp.store(tail + 1, Ordering::Release);
                        return Ok(());
                    }
                    Err(t) => {
                        tail = t;
                        backoff.spin();
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail + 1 {
                // The slot still holds last lap's value: full, unless a pop is mid-way.
                fence(Ordering::SeqCst);
                let head = self.head.load(Ordering::Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    value = full(value, tail, self.next(tail), slot)?;
                    backoff.spin();
                } else {
                    backoff.spin();
                }
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                // Another producer is between its CAS and its stamp store.
                backoff.snooze();
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Pops the oldest value, or `None` if the ring is empty.
    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        let backoff = Backoff::new();
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let slot = self.slot(head);
            let stamp = slot.stamp.load(Ordering::Acquire);
            if head + 1 == stamp {
                let new_head = self.next(head);
                match self.head.compare_exchange_weak(
                    head,
                    new_head,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: the CAS made us the only reader of this slot for
                        // position `head`, and its stamp says it holds a value.
                        let value = slot.value.with_mut(|p| unsafe { p.read().assume_init() });
                        slot.stamp
                            .store(head.wrapping_add(self.one_lap), Ordering::Release);
                        return Some(value);
                    }
                    Err(h) => {
                        head = h;
                        backoff.spin();
                    }
                }
            } else if stamp == head {
                // The slot is empty: the ring is empty unless a push is mid-way.
                fence(Ordering::SeqCst);
                if self.tail.load(Ordering::Relaxed) == head {
                    return None;
                }
                backoff.spin();
                head = self.head.load(Ordering::Relaxed);
            } else {
                backoff.snooze();
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Values in the ring (a snapshot; exact when nobody pushes or pops).
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            if self.tail.load(Ordering::SeqCst) == tail {
                let mask = self.one_lap - 1;
                let (hix, tix) = (head & mask, tail & mask);
                return if hix < tix {
                    tix - hix
                } else if hix > tix {
                    self.cap - hix + tix
                } else if tail == head {
                    0
                } else {
                    self.cap
                };
            }
        }
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        while self.pop().is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::Ring;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn slots_are_one_cache_line() {
        assert_eq!(
            std::mem::size_of::<super::Slot<crate::collector::record::Record>>(),
            64
        );
        assert_eq!(
            std::mem::align_of::<super::Slot<crate::collector::record::Record>>(),
            64
        );
    }

    #[test]
    fn fifo_full_and_empty_at_odd_capacities() {
        for cap in [1, 2, 3, 5, 7, 10] {
            let r = Ring::new(cap);
            for lap in 0..50 {
                for i in 0..cap {
                    r.push(lap * 100 + i).unwrap();
                }
                assert_eq!(r.push(999), Err(999), "cap {cap}: full");
                assert_eq!(r.len(), cap);
                for i in 0..cap {
                    assert_eq!(r.pop(), Some(lap * 100 + i), "cap {cap} lap {lap}");
                }
                assert_eq!(r.pop(), None);
                assert!(r.is_empty());
            }
        }
    }

    #[test]
    fn force_push_displaces_the_oldest() {
        for cap in [1, 3, 4] {
            let r = Ring::new(cap);
            for i in 0..cap {
                assert_eq!(r.force_push(i), None);
            }
            for i in cap..cap * 5 {
                assert_eq!(r.force_push(i), Some(i - cap), "cap {cap}");
                assert_eq!(r.len(), cap);
            }
            let rest: Vec<usize> = std::iter::from_fn(|| r.pop()).collect();
            assert_eq!(rest, (cap * 4..cap * 5).collect::<Vec<_>>());
        }
    }

    #[test]
    fn concurrent_producers_and_consumers_lose_and_duplicate_nothing() {
        const PER: usize = 100_000;
        let r = Arc::new(Ring::new(7));
        let seen = Arc::new(
            (0..4 * PER)
                .map(|_| AtomicUsize::new(0))
                .collect::<Vec<_>>(),
        );
        let done = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|s| {
            for p in 0..4 {
                let r = r.clone();
                s.spawn(move || {
                    for i in 0..PER {
                        let mut v = p * PER + i;
                        while let Err(back) = r.push(v) {
                            v = back;
                            std::hint::spin_loop();
                        }
                    }
                });
            }
            for _ in 0..2 {
                let (r, seen, done) = (r.clone(), seen.clone(), done.clone());
                s.spawn(move || {
                    let mut last = [None::<usize>; 4];
                    while done.load(Ordering::Relaxed) < 4 * PER {
                        if let Some(v) = r.pop() {
                            let (p, i) = (v / PER, v % PER);
                            assert!(last[p].is_none_or(|l| l < i), "producer {p} out of order");
                            last[p] = Some(i);
                            seen[v].fetch_add(1, Ordering::Relaxed);
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert!(seen.iter().all(|c| c.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn force_push_races_a_consumer_without_loss_or_duplication() {
        const N: usize = 200_000;
        let r = Arc::new(Ring::new(4));
        let displaced = AtomicUsize::new(0);
        let popped = AtomicUsize::new(0);
        let producing = AtomicUsize::new(1);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..N {
                    if r.force_push(i).is_some() {
                        displaced.fetch_add(1, Ordering::Relaxed);
                    }
                }
                producing.store(0, Ordering::Release);
            });
            s.spawn(|| {
                let mut last = None;
                loop {
                    match r.pop() {
                        Some(v) => {
                            assert!(
                                last.is_none_or(|l| l < v),
                                "out of order: {last:?} then {v}"
                            );
                            last = Some(v);
                            popped.fetch_add(1, Ordering::Relaxed);
                        }
                        None if producing.load(Ordering::Acquire) == 0 && r.is_empty() => break,
                        None => {}
                    }
                }
            });
        });
        assert_eq!(displaced.into_inner() + popped.into_inner(), N);
    }

    #[test]
    fn dropping_the_ring_drops_what_it_holds() {
        let token = Arc::new(());
        let r = Ring::new(5);
        for _ in 0..3 {
            r.push(token.clone()).unwrap();
        }
        assert_eq!(Arc::strong_count(&token), 4);
        drop(r);
        assert_eq!(Arc::strong_count(&token), 1);
    }
}

/// Every interleaving of the ring's atomics, explored by loom (`--cfg loom`).
#[cfg(loom)]
mod loom_tests {
    use super::Ring;
    use loom::sync::Arc;
    use loom::thread;

    #[test]
    fn loom_two_producers_and_a_consumer_lose_and_duplicate_nothing() {
        loom::model(|| {
            let r = Arc::new(Ring::new(2));
            let producers: Vec<_> = (0..2usize)
                .map(|p| {
                    let r = r.clone();
                    thread::spawn(move || r.push(p).unwrap())
                })
                .collect();
            // One pop races the pushes; the rest are taken once they are done.
            let mut seen: Vec<usize> = r.pop().into_iter().collect();
            for p in producers {
                p.join().unwrap();
            }
            seen.extend(std::iter::from_fn(|| r.pop()));
            seen.sort();
            assert_eq!(seen, [0, 1]);
        });
    }

    #[test]
    fn loom_a_push_and_a_pop_race() {
        loom::model(|| {
            let r = Arc::new(Ring::new(2));
            let producer = {
                let r = r.clone();
                thread::spawn(move || r.push(7usize).unwrap())
            };
            let got = r.pop();
            producer.join().unwrap();
            let rest = r.pop();
            assert_eq!(got.or(rest), Some(7));
        });
    }

    #[test]
    fn loom_force_push_racing_a_pop_keeps_every_value_once() {
        loom::model(|| {
            let r = Arc::new(Ring::new(1));
            r.push(0usize).unwrap();
            let producer = {
                let r = r.clone();
                thread::spawn(move || r.force_push(1))
            };
            let popped = r.pop();
            let displaced = producer.join().unwrap();
            let rest = r.pop();
            let mut all: Vec<usize> = popped.into_iter().chain(displaced).chain(rest).collect();
            all.sort();
            assert_eq!(all, [0, 1]);
        });
    }
}
