//! Rate limits by key (a client address, an instance id): a burst, then one request per
//! interval (the generic cell rate algorithm, one instant per key). The table of keys is
//! bounded; keys whose budget is full again are forgotten first.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::limits::RateLimit;

/// Per-key budgets of one [`RateLimit`].
pub struct RateLimiter<K> {
    limit: RateLimit,
    max_keys: usize,
    /// Per key: the "theoretical arrival time", when its budget is full again.
    keys: Mutex<HashMap<K, Instant>>,
}

/// A request over its budget: when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied {
    pub retry_after: Duration,
    /// The table of keys was full (many clients at once), not this key's own budget.
    pub crowded: bool,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(limit: RateLimit, max_keys: usize) -> Self {
        Self {
            limit,
            max_keys: max_keys.max(1),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `key` at `now`, or says when it may come.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Denied> {
        let interval = self.limit.interval();
        // How far ahead of `now` the budget may be spent: the burst minus this request.
        let tolerance = interval.saturating_mul(self.limit.burst.saturating_sub(1));
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if !keys.contains_key(key) && keys.len() >= self.max_keys {
            keys.retain(|_, full_at| *full_at > now);
            if keys.len() >= self.max_keys {
                return Err(Denied {
                    retry_after: interval.min(Duration::from_secs(60)),
                    crowded: true,
                });
            }
        }
        let full_at = keys.get(key).copied().unwrap_or(now).max(now);
        let allowed_at = full_at.checked_sub(tolerance).unwrap_or(now);
        if allowed_at > now {
            return Err(Denied {
                retry_after: allowed_at - now,
                crowded: false,
            });
        }
        keys.insert(key.clone(), full_at + interval);
        Ok(())
    }

    /// Whether `key` has budget left at `now`, without spending any.
    pub fn would_allow(&self, key: &K, now: Instant) -> Result<(), Denied> {
        let interval = self.limit.interval();
        let tolerance = interval.saturating_mul(self.limit.burst.saturating_sub(1));
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let Some(full_at) = keys.get(key).copied() else {
            return Ok(());
        };
        let allowed_at = full_at.checked_sub(tolerance).unwrap_or(now);
        if allowed_at > now {
            return Err(Denied {
                retry_after: allowed_at - now,
                crowded: false,
            });
        }
        Ok(())
    }
}

/// `Retry-After` in whole seconds, rounded up, at least 1.
pub fn retry_after_secs(d: Duration) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(burst: u32, per_secs: u64) -> RateLimit {
        RateLimit {
            burst,
            period: Duration::from_secs(per_secs),
        }
    }

    #[test]
    fn a_burst_then_one_request_per_interval() {
        // 4 requests per 8 s: one every 2 s once the burst of 4 is spent.
        let l = RateLimiter::new(limit(4, 8), 100);
        let t0 = Instant::now();
        for i in 0..4 {
            assert_eq!(l.check(&"a", t0), Ok(()), "request {i} of the burst");
        }
        let denied = l.check(&"a", t0).unwrap_err();
        assert_eq!(denied.retry_after, Duration::from_secs(2));
        assert!(!denied.crowded);
        assert_eq!(l.check(&"b", t0), Ok(()), "another key has its own budget");
        assert!(l.check(&"a", t0 + Duration::from_millis(1999)).is_err());
        assert_eq!(l.check(&"a", t0 + Duration::from_secs(2)), Ok(()));
        assert!(l.check(&"a", t0 + Duration::from_secs(2)).is_err());
        // After a long pause the whole burst is back, no more.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..4 {
            assert_eq!(l.check(&"a", later), Ok(()));
        }
        assert!(l.check(&"a", later).is_err());
    }

    #[test]
    fn the_key_table_is_bounded_and_forgets_idle_keys_first() {
        let l = RateLimiter::new(limit(2, 10), 2);
        let t0 = Instant::now();
        l.check(&1, t0).unwrap();
        l.check(&2, t0).unwrap();
        let crowded = l.check(&3, t0).unwrap_err();
        assert!(crowded.crowded, "two busy keys fill the table");
        // Once key 1 and 2 have their budget back they are forgotten, making room.
        let later = t0 + Duration::from_secs(30);
        assert_eq!(l.check(&3, later), Ok(()));
        assert_eq!(l.keys.lock().unwrap().len(), 1);
    }

    #[test]
    fn would_allow_spends_nothing() {
        let l = RateLimiter::new(limit(1, 60), 10);
        let t0 = Instant::now();
        assert_eq!(l.would_allow(&"a", t0), Ok(()));
        assert_eq!(l.would_allow(&"a", t0), Ok(()));
        l.check(&"a", t0).unwrap();
        assert_eq!(
            l.would_allow(&"a", t0).unwrap_err().retry_after,
            Duration::from_secs(60)
        );
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
