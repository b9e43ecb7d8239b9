//! Times what the storage limits bound, on a database loaded before (e.g. by `feed_time`):
//!
//! `cargo run --release -p usagedesk-cloud --example limits_time -- DB_FILE [ACCOUNT]`
//!
//! - `count=true` on the first page, uncounted, counted whole, and counted up to the default
//!   limit, for every account and for `ACCOUNT`'s subtree;
//! - a full read of the feed in pages of 5,000 with reader page caches of 16, 32 and 64 MiB,
//!   twice.

use std::time::Instant;

use usagedesk_cloud::limits::StorageLimits;
use usagedesk_cloud::storage::prelude::*;
use usagedesk_cloud::storage::TokenScope;
use usagedesk_cloud::SqliteStorage;
use usagedesk_domain::api::DEFAULT_PAGE_SIZE;

fn open(db: &str, limits: StorageLimits) -> anyhow::Result<SqliteStorage> {
    Ok(SqliteStorage::open_with(std::path::Path::new(db), limits)?)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: limits_time DB_FILE [ACCOUNT]");
    };
    let mut scopes = vec![("all accounts".to_string(), TokenScope::All)];
    if let Some(a) = rest.first() {
        scopes.push((format!("subtree of {a}"), TokenScope::Subtree(a.clone())));
    }
    let defaults = StorageLimits::default();
    for (name, scope) in &scopes {
        for (what, cap, count) in [
            ("no count", u64::MAX, false),
            ("count, whole feed", u64::MAX, true),
            ("count, default limit", defaults.max_feed_count, true),
        ] {
            let storage = open(
                db,
                StorageLimits {
                    max_feed_count: cap,
                    ..defaults
                },
            )?;
            // Warm the page cache once, then time the median of three.
            storage.changes(scope, None, DEFAULT_PAGE_SIZE, count)?;
            let mut times = Vec::new();
            let mut remaining = None;
            for _ in 0..3 {
                let t = Instant::now();
                remaining = storage
                    .changes(scope, None, DEFAULT_PAGE_SIZE, count)?
                    .remaining;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "{name}: first page, {what}: {:.1} ms (remaining {remaining:?})",
                times[1]
            );
        }
    }
    for cache_kib in [
        16 * 1024,
        32 * 1024,
        64 * 1024,
        16 * 1024,
        32 * 1024,
        64 * 1024,
    ] {
        let storage = open(
            db,
            StorageLimits {
                reader_cache_kib: cache_kib,
                ..defaults
            },
        )?;
        let t = Instant::now();
        let mut cursor: Option<String> = None;
        let mut total = 0;
        loop {
            let page = storage.changes(
                &TokenScope::All,
                cursor.as_deref(),
                DEFAULT_PAGE_SIZE,
                false,
            )?;
            total += page.changes.len();
            cursor = Some(page.next_cursor);
            if !page.has_more {
                break;
            }
        }
        println!(
            "full feed read, reader cache {} MiB: {total} changes in {:.2} s",
            cache_kib / 1024,
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
