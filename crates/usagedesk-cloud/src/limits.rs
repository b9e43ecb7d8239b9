//! The service's limits: time, connections, concurrency, request rates, stored sync keys and
//! database readers. Every one has a default meant for the open internet and a `serve` flag
//! (docs/operations.md lists them).

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use usagedesk_domain::duration::{describe, parse_duration};

/// `BURST/PERIOD`: up to `burst` requests at once, refilled evenly over `period`
/// (`60/1m`: a burst of 60, then one a second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub burst: u32,
    pub period: Duration,
}

impl RateLimit {
    /// The time one request's budget takes to come back.
    pub fn interval(&self) -> Duration {
        self.period / self.burst.max(1)
    }
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let period = chrono::Duration::from_std(self.period).unwrap_or(chrono::Duration::zero());
        write!(f, "{} requests per {}", self.burst, describe(period))
    }
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let form = || format!("'{s}' is not a rate: write BURST/PERIOD, e.g. 60/1m or 30/1h");
        let (burst, period) = s.split_once('/').ok_or_else(form)?;
        let burst: u32 = burst.trim().parse().map_err(|_| form())?;
        if !(1..=1_000_000).contains(&burst) {
            return Err(format!("'{s}': the burst must be between 1 and 1000000"));
        }
        let period = parse_duration(period, chrono::Duration::days(1), "the period")
            .map_err(|e| format!("'{s}': {e}"))?;
        Ok(Self {
            burst,
            period: period.to_std().map_err(|_| form())?,
        })
    }
}

/// Everything `serve` bounds. [`Limits::default`] is what `usagedesk-cloud serve` runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Time for a client to send a request's headers (also how long an idle keep-alive
    /// connection stays open); the connection is closed after it.
    pub header_timeout: Duration,
    /// Time for a client to send a request's body, from the end of its headers: 408.
    pub body_timeout: Duration,
    /// Time for a whole request, body and answer: 408 while the body is still arriving,
    /// else 503.
    pub request_timeout: Duration,
    /// Open connections at most; further ones wait in the operating system's queue.
    pub max_connections: usize,
    /// Open connections from one client address at most; more are closed at once. Below
    /// `max_in_flight`, so one address cannot hold every request slot with slow bodies.
    pub max_connections_per_address: usize,
    /// Requests being answered at once at most; more get 503 with `Retry-After`.
    pub max_in_flight: usize,
    /// Per client address: requests without a token (version, vendor key, the instances'
    /// endpoints) and failed authentications. Over it, every request of the address gets 429
    /// until the budget refills, before any token is looked at.
    pub per_address: RateLimit,
    /// Per instance id, whatever the address: `/api/v1/instances/{id}/…`.
    pub per_instance: RateLimit,
    /// Addresses of reverse proxies whose `X-Forwarded-For` (last entry) names the client.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(120),
            max_connections: 1024,
            max_connections_per_address: 16,
            max_in_flight: 64,
            per_address: RateLimit {
                burst: 120,
                period: Duration::from_secs(60),
            },
            per_instance: RateLimit {
                burst: 30,
                period: Duration::from_secs(3600),
            },
            trusted_proxies: Vec::new(),
        }
    }
}

/// Most client addresses and instance ids the rate limiters track at once.
pub const MAX_RATE_KEYS: usize = 100_000;

/// Bounds of the SQLite engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageLimits {
    /// Read connections open at most; a reader waits for a free one.
    pub readers: usize,
    /// Page cache of each read connection (KiB).
    pub reader_cache_kib: u32,
    /// How long a request waits for a free read connection before it gets 503.
    pub reader_wait: Duration,
    /// Online sync keys kept per instance (the most recent; older ones are forgotten).
    pub online_sync_keys_per_instance: usize,
    /// How far one `count=true` reads: the changes of the scope among the next this many
    /// positions of the feed (a lower bound of what remains when the feed is longer).
    pub max_feed_count: u64,
}

impl Default for StorageLimits {
    fn default() -> Self {
        Self {
            readers: 4,
            reader_cache_kib: 16 * 1024,
            reader_wait: Duration::from_secs(10),
            online_sync_keys_per_instance: 16,
            max_feed_count: 200_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_as_burst_per_period() {
        let r: RateLimit = "60/1m".parse().unwrap();
        assert_eq!(r.burst, 60);
        assert_eq!(r.interval(), Duration::from_secs(1));
        assert_eq!(r.to_string(), "60 requests per 1 minute");
        for bad in ["60", "0/1m", "60/", "x/1m", "60/100000000y", "60/0s"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
    }
}
