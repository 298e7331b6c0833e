//! When to try a failed export again: exponential backoff with full jitter.

use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(5),
            cap: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based): a random time up to
    /// base × 2^(attempt-1), capped; `unit` in [0, 1) is the randomness.
    pub fn delay(&self, attempt: i32, unit: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << (attempt.clamp(1, 16) - 1) as u32)
            .min(self.cap);
        // Never zero: half the window is fixed, half is jitter.
        exp / 2 + exp.mul_f64(unit.clamp(0.0, 1.0) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_with_jitter_and_a_cap() {
        let p = RetryPolicy {
            base: Duration::from_secs(4),
            cap: Duration::from_secs(20),
        };
        assert_eq!(p.delay(1, 0.0), Duration::from_secs(2));
        assert_eq!(p.delay(1, 1.0), Duration::from_secs(4));
        assert_eq!(p.delay(2, 0.0), Duration::from_secs(4));
        assert_eq!(p.delay(3, 0.5), Duration::from_secs(12));
        assert_eq!(p.delay(9, 1.0), Duration::from_secs(20));
    }
}
