//! Full-jitter exponential backoff, with or without a deadline: how the application waits
//! between attempts that lost a race (a branch moved under a registration) or failed for a
//! passing reason (a run retried in the background).
//!
//! "Full jitter": attempt `n` (from 0) waits a uniformly random time between zero and
//! `min(cap, base · 2ⁿ)`. Waiters that collided once spread out over the whole window instead
//! of colliding again in step, which is what makes two servers writing one repository finish
//! together rather than one starving.

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

/// The shape of a backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The window of the first wait.
    pub base: Duration,
    /// No window is wider than this.
    pub cap: Duration,
}

impl Backoff {
    /// The widest wait after attempt `attempt` (from 0) failed: `min(cap, base · 2^attempt)`.
    pub fn window(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait after attempt `attempt` failed, for `unit` drawn uniformly from `[0, 1)`
    /// ([`unit`] draws one): that fraction of the window.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        self.window(attempt).mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// Attempts under a deadline: after each failure, [`Deadline::next`] says how long to wait
/// before the next attempt, or that there is none (the deadline has passed). No wait reaches
/// past the deadline, so the last attempt is made at the deadline at the latest.
#[derive(Debug, Clone)]
pub struct Deadline {
    backoff: Backoff,
    limit: Duration,
    failures: u32,
}

impl Deadline {
    /// Attempts until `limit` after the first, waiting as `backoff` says.
    pub fn new(backoff: Backoff, limit: Duration) -> Self {
        Deadline { backoff, limit, failures: 0 }
    }

    /// The failures counted so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// An attempt failed, `elapsed` after the first began: the wait before the next attempt
    /// (`unit` picks where in the window, see [`Backoff::delay`]), or `None` when the deadline
    /// has passed.
    pub fn next(&mut self, elapsed: Duration, unit: f64) -> Option<Duration> {
        let left = self.limit.checked_sub(elapsed).filter(|left| !left.is_zero())?;
        let delay = self.backoff.delay(self.failures, unit).min(left);
        self.failures += 1;
        Some(delay)
    }
}

/// A number drawn uniformly from `[0, 1)`, for jitter: not for secrets. Every `RandomState`
/// is keyed afresh (randomly per thread, then stepped), so the draws differ between calls,
/// threads and processes.
pub fn unit() -> f64 {
    let bits = RandomState::new().hash_one(Instant::now()) >> 11;
    // 53 random bits: every f64 in [0, 1) with that spacing.
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn backoff() -> Backoff {
        Backoff { base: 10 * MS, cap: 100 * MS }
    }

    #[test]
    fn windows_double_up_to_the_cap_and_never_overflow() {
        let windows: Vec<u128> = (0..6).map(|n| backoff().window(n).as_millis()).collect();
        assert_eq!(windows, [10, 20, 40, 80, 100, 100]);
        assert_eq!(backoff().window(u32::MAX), 100 * MS);
        let huge = Backoff { base: Duration::from_secs(u64::MAX / 2), cap: Duration::MAX };
        assert_eq!(huge.window(40), Duration::MAX, "saturates instead of wrapping");
    }

    #[test]
    fn a_delay_is_the_drawn_part_of_its_window() {
        assert_eq!(backoff().delay(2, 0.0), Duration::ZERO);
        assert_eq!(backoff().delay(2, 0.5), 20 * MS);
        assert_eq!(backoff().delay(2, 0.999_999), backoff().window(2).mul_f64(0.999_999));
        assert_eq!(backoff().delay(2, 7.0), 40 * MS, "a unit out of range is clamped");
    }

    #[test]
    fn draws_are_spread_over_zero_to_one() {
        let draws: Vec<f64> = (0..2000).map(|_| unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        // Fair draws fill each tenth: a constant or a stuck generator would not.
        for tenth in 0..10 {
            let low = f64::from(tenth) / 10.0;
            let n = draws.iter().filter(|u| (low..low + 0.1).contains(*u)).count();
            assert!((100..=300).contains(&n), "{n} draws in [{low}, {}): {draws:?}", low + 0.1);
        }
    }

    #[test]
    fn a_deadline_allows_waits_until_it_passes_and_no_wait_reaches_past_it() {
        let mut deadline = Deadline::new(backoff(), 140 * MS);
        // The widest waits: 10, 20, 40 ms, then 80 ms cut to the 70 ms left of 140 ms.
        let mut elapsed = Duration::ZERO;
        let mut waits = Vec::new();
        while let Some(wait) = deadline.next(elapsed, 1.0) {
            waits.push(wait.as_millis());
            elapsed += wait;
        }
        assert_eq!(waits, [10, 20, 40, 70]);
        assert_eq!(elapsed, 140 * MS);
        assert_eq!(deadline.failures(), 4);
        assert_eq!(deadline.next(elapsed, 0.0), None, "past the deadline there is no next attempt");
        assert_eq!(deadline.next(Duration::from_secs(60), 0.5), None);
    }

    #[test]
    fn attempts_that_take_time_count_against_the_deadline() {
        let mut deadline = Deadline::new(backoff(), 100 * MS);
        assert_eq!(deadline.next(30 * MS, 1.0), Some(10 * MS));
        assert_eq!(deadline.next(95 * MS, 1.0), Some(5 * MS), "cut to the 5 ms left");
        assert_eq!(deadline.next(100 * MS, 0.0), None);
    }
}
