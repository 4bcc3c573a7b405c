//! The primitives the lock-free rings are built on, swapped for loom's when the
//! crate is built with `--cfg loom`, so loom can explore every interleaving of the
//! rings' atomics (`RUSTFLAGS="--cfg loom" cargo test --lib --release loom`).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicUsize, fence};

/// An `UnsafeCell` whose contents are reached through a closure, as loom needs to
/// track each access.
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(
    #[cfg(loom)] loom::cell::UnsafeCell<T>,
    #[cfg(not(loom))] std::cell::UnsafeCell<T>,
);

impl<T> UnsafeCell<T> {
    pub(crate) fn new(value: T) -> UnsafeCell<T> {
        #[cfg(loom)]
        return UnsafeCell(loom::cell::UnsafeCell::new(value));
        #[cfg(not(loom))]
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a pointer to the contents; the caller's protocol makes the
    /// access exclusive or shared as it needs.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(loom)]
        return self.0.with_mut(f);
        #[cfg(not(loom))]
        f(self.0.get())
    }
}

/// Waiting for another thread inside a lock-free loop: crossbeam's backoff, or a
/// yield loom can schedule around.
pub(crate) struct Backoff(#[cfg(not(loom))] crossbeam_utils::Backoff);

impl Backoff {
    pub(crate) fn new() -> Backoff {
        #[cfg(loom)]
        return Backoff();
        #[cfg(not(loom))]
        Backoff(crossbeam_utils::Backoff::new())
    }

    /// A short wait: another thread is between two steps.
    #[inline]
    pub(crate) fn spin(&self) {
        #[cfg(loom)]
        loom::thread::yield_now();
        #[cfg(not(loom))]
        self.0.spin();
    }

    /// A longer wait: another thread must make progress first.
    #[inline]
    pub(crate) fn snooze(&self) {
        #[cfg(loom)]
        loom::thread::yield_now();
        #[cfg(not(loom))]
        self.0.snooze();
    }
}
