//! Exponential backoff with full jitter, so many ranks retrying against one server
//! after an outage do not arrive in lockstep.

use std::time::Duration;

/// Waits between failed attempts: a random time in `[initial * 2^n / 2, initial * 2^n]`,
/// `n` the failures so far, capped at `max`.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
    seed: u64,
}

impl Backoff {
    /// A backoff starting at `initial` and never above `max`.
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        // Seeded per process and instance, so ranks draw different waits.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            ^ (u64::from(std::process::id()) << 32)
            | 1;
        Backoff {
            initial,
            max: max.max(initial),
            failures: 0,
            seed,
        }
    }

    /// The wait before the next attempt, counting one more failure.
    pub fn next_wait(&mut self) -> Duration {
        let ceiling = self
            .initial
            .saturating_mul(1u32 << self.failures.min(30))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        // xorshift64: plenty for spreading retries.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let fraction = (self.seed >> 11) as f64 / (1u64 << 53) as f64;
        ceiling.mul_f64(0.5 + 0.5 * fraction)
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// A success: the next failure waits `initial` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let waits: Vec<Duration> = (0..8).map(|_| b.next_wait()).collect();
        for (n, w) in waits.iter().enumerate() {
            let ceiling = Duration::from_millis(100 * (1 << n)).min(Duration::from_secs(2));
            assert!(*w <= ceiling && *w >= ceiling / 2, "wait {n}: {w:?}");
        }
        assert_eq!(b.failures(), 8);
        b.reset();
        assert!(b.next_wait() <= Duration::from_millis(100));
    }
}
