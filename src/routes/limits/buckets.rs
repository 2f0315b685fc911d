//! Token buckets, one per key: `burst` tokens at most, refilled at `rate`
//! a second. What a key is (a user, an address, a room) is the caller's.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Buckets kept before the full ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

pub struct Buckets<K> {
    /// Tokens a second; 0 or less: no limit at all.
    rate: f64,
    burst: f64,
    levels: Mutex<HashMap<K, Level>>,
}

struct Level {
    tokens: f64,
    updated: Instant,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    pub fn new(rate: f64, burst: f64) -> Buckets<K> {
        Buckets {
            rate,
            burst: burst.max(1.0),
            levels: Mutex::new(HashMap::new()),
        }
    }

    fn is_off(&self) -> bool {
        self.rate <= 0.0
    }

    /// How long until `key` has a token: zero when it has one now.
    pub fn wait(&self, key: &K) -> Duration {
        if self.is_off() {
            return Duration::ZERO;
        }
        let mut levels = self.lock();
        let tokens = self.refill(&mut levels, key, Instant::now());
        if tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - tokens) / self.rate)
        }
    }

    /// Takes a token from `key` (when the bucket is empty it goes below
    /// zero, so repeated takes keep it empty for longer).
    pub fn charge(&self, key: &K) {
        if self.is_off() {
            return;
        }
        let mut levels = self.lock();
        self.refill(&mut levels, key, Instant::now());
        if let Some(level) = levels.get_mut(key) {
            level.tokens = (level.tokens - 1.0).max(-self.burst);
        }
    }

    /// Takes a token if there is one, or says how long to wait.
    pub fn take(&self, key: &K) -> Result<(), Duration> {
        match self.wait(key) {
            Duration::ZERO => {
                self.charge(key);
                Ok(())
            }
            wait => Err(wait),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Level>> {
        self.levels.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The tokens of `key` now, after refilling.
    fn refill(&self, levels: &mut HashMap<K, Level>, key: &K, now: Instant) -> f64 {
        if levels.len() > PRUNE_ABOVE {
            // A bucket that would be full by now holds no information.
            let refill = 2.0 * self.burst / self.rate;
            levels.retain(|_, l| now.duration_since(l.updated).as_secs_f64() < refill);
        }
        let level = levels.entry(key.clone()).or_insert(Level {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.duration_since(level.updated).as_secs_f64();
        level.tokens = (level.tokens + elapsed * self.rate).min(self.burst);
        level.updated = now;
        level.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let buckets = Buckets::new(1.0, 3.0);
        for _ in 0..3 {
            assert!(buckets.take(&"u").is_ok());
        }
        let wait = buckets.take(&"u").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        assert!(buckets.take(&"v").is_ok(), "another key has its own");
    }

    #[test]
    fn charging_an_empty_bucket_makes_the_wait_longer() {
        let buckets = Buckets::new(1.0, 2.0);
        for _ in 0..4 {
            buckets.charge(&"u");
        }
        assert!(buckets.wait(&"u") > Duration::from_secs(2));
    }

    #[test]
    fn a_zero_rate_is_no_limit() {
        let buckets = Buckets::new(0.0, 1.0);
        for _ in 0..100 {
            assert!(buckets.take(&"u").is_ok());
        }
    }
}
