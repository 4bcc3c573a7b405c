//! Time sources. The collector reads time through [`Clock`] so tests can drive
//! flush intervals deterministically with a [`ManualClock`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of monotonic time (for intervals) and wall time (for stamping events).
pub trait Clock: Send + Sync + 'static {
    /// Monotonic now, for flush intervals and deadlines.
    fn now(&self) -> Instant;
    /// Seconds since the Unix epoch, for stamping events that carry no wall time.
    fn wall_time(&self) -> f64;
}

/// How the system clock stamps wall time on the hot path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WallClock {
    /// `CLOCK_REALTIME_COARSE` on Linux: about 6 ns a read, at the kernel tick's
    /// resolution (4 ms on the reference machine). Other systems fall back to precise.
    #[default]
    Coarse,
    /// `SystemTime::now()`: nanosecond resolution, about 50 ns a read.
    Precise,
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock {
    /// Resolution of wall-time stamps.
    pub wall: WallClock,
}

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall_time(&self) -> f64 {
        match self.wall {
            WallClock::Coarse => coarse_wall_time(),
            WallClock::Precise => precise_wall_time(),
        }
    }
}

#[inline]
pub(crate) fn precise_wall_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(target_os = "linux")]
#[inline]
pub(crate) fn coarse_wall_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the vDSO serves this clock without a syscall.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    if rc == 0 {
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    } else {
        precise_wall_time()
    }
}

#[cfg(not(target_os = "linux"))]
#[inline]
pub(crate) fn coarse_wall_time() -> f64 {
    precise_wall_time()
}

/// A clock that moves only when told to. Starts at the real time of its creation.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    start_wall: f64,
    offset_nanos: AtomicU64,
}

impl ManualClock {
    /// A clock frozen at the current time.
    pub fn new() -> ManualClock {
        ManualClock {
            start: Instant::now(),
            start_wall: precise_wall_time(),
            offset_nanos: AtomicU64::new(0),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.offset_nanos.fetch_add(nanos, Ordering::SeqCst);
    }

    fn offset(&self) -> Duration {
        Duration::from_nanos(self.offset_nanos.load(Ordering::SeqCst))
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + self.offset()
    }

    fn wall_time(&self) -> f64 {
        self.start_wall + self.offset().as_secs_f64()
    }
}
