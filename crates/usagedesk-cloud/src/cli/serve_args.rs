//! The limit flags of `usagedesk-cloud serve`, each checked against a sane range.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use usagedesk_cloud::limits::{Limits, RateLimit, StorageLimits};
use usagedesk_domain::duration::parse_duration;

/// A timeout flag: a duration between 1 second and 1 hour.
fn timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s, chrono::Duration::hours(1), "the timeout").map_err(|e| e.0)?;
    let d = d
        .to_std()
        .map_err(|_| "the timeout must be positive".to_string())?;
    if d < Duration::from_secs(1) {
        return Err("the timeout must be at least 1s".into());
    }
    Ok(d)
}

fn rate(s: &str) -> Result<RateLimit, String> {
    s.parse()
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Time a client has to send a request's headers; also how long an idle keep-alive
    /// connection stays open.
    #[arg(long, default_value = "10s", value_parser = timeout)]
    header_timeout: Duration,
    /// Time a client has to send a request's body, after its headers (then 408).
    #[arg(long, default_value = "60s", value_parser = timeout)]
    body_timeout: Duration,
    /// Time for a whole request, body and answer (then 408, or 503 if the service was slow).
    #[arg(long, default_value = "120s", value_parser = timeout)]
    request_timeout: Duration,
    /// Open connections at most; more wait in the operating system's queue.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_connections: u32,
    /// Open connections from one client address at most; more are closed at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_connections_per_address: u32,
    /// Requests answered at once at most; more get 503 with Retry-After.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    max_in_flight: u32,
    /// Per client address, BURST/PERIOD: requests without a token and failed sign-ins
    /// (then 429 with Retry-After).
    #[arg(long, default_value = "120/1m", value_parser = rate)]
    rate_per_address: RateLimit,
    /// Per instance, BURST/PERIOD: requests to /api/v1/instances/{id}/… (then 429).
    #[arg(long, default_value = "30/1h", value_parser = rate)]
    rate_per_instance: RateLimit,
    /// A reverse proxy whose X-Forwarded-For names the client (repeat for several).
    #[arg(long = "trusted-proxy", value_name = "IP")]
    trusted_proxies: Vec<IpAddr>,
    /// Database read connections at most (PostgreSQL: the pool's connections, plus 2).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    db_readers: u32,
    /// Page cache of each read connection, in MiB.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    db_reader_cache_mib: u32,
    /// Online sync keys kept per instance (the newest; older ones can no longer be answered).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    online_sync_keys: u32,
    /// How many positions of the feed one `changes?count=true` reads (a lower bound beyond;
    /// clients ask again).
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    max_feed_count: u64,
}

impl ServeArgs {
    pub fn into_limits(self) -> Result<(Limits, StorageLimits)> {
        if self.body_timeout > self.request_timeout {
            bail!(
                "--body-timeout ({} s) is longer than --request-timeout ({} s): the body is \
                 part of the request",
                self.body_timeout.as_secs(),
                self.request_timeout.as_secs()
            );
        }
        if self.max_connections_per_address > self.max_connections {
            bail!("--max-connections-per-address is larger than --max-connections");
        }
        let limits = Limits {
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            request_timeout: self.request_timeout,
            max_connections: self.max_connections as usize,
            max_connections_per_address: self.max_connections_per_address as usize,
            max_in_flight: self.max_in_flight as usize,
            per_address: self.rate_per_address,
            per_instance: self.rate_per_instance,
            // `::ffff:10.0.0.1` is the proxy 10.0.0.1, as connections from it are seen.
            trusted_proxies: self
                .trusted_proxies
                .into_iter()
                .map(usagedesk_cloud::http::canonical_addr)
                .collect(),
        };
        let storage = StorageLimits {
            readers: self.db_readers as usize,
            reader_cache_kib: self.db_reader_cache_mib * 1024,
            online_sync_keys_per_instance: self.online_sync_keys as usize,
            max_feed_count: self.max_feed_count,
            ..StorageLimits::default()
        };
        Ok((limits, storage))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServeArgs,
    }

    #[test]
    fn the_flags_default_to_the_library_defaults() {
        let (limits, storage) = Cli::parse_from(["serve"]).args.into_limits().unwrap();
        assert_eq!(limits, Limits::default());
        assert_eq!(storage, StorageLimits::default());
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for args in [
            &["serve", "--header-timeout", "100000000y"][..],
            &["serve", "--body-timeout", "0s"],
            &["serve", "--max-in-flight", "0"],
            &["serve", "--db-readers", "65"],
            &["serve", "--rate-per-address", "10"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?}");
        }
        let cli = Cli::parse_from(["serve", "--body-timeout", "5m", "--request-timeout", "1m"]);
        assert!(cli.args.into_limits().is_err());
        let cli = Cli::parse_from(["serve", "--trusted-proxy", "::ffff:10.0.0.1"]);
        let (limits, _) = cli.args.into_limits().unwrap();
        assert_eq!(
            limits.trusted_proxies,
            ["10.0.0.1".parse::<IpAddr>().unwrap()]
        );
    }
}
