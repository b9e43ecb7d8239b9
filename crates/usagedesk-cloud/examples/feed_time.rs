//! Times a load and a full read of the change feed, for before/after comparisons:
//!
//! `cargo run --release -p usagedesk-cloud --example feed_time -- DATA_DIR DB [TODAY [PAGE [ROOT]]]`
//!
//! Loads `DATA_DIR` (load format) into a new database at `DB_FILE` (removed first), then reads
//! the whole feed with a token of every account in pages of `PAGE` changes (default 5,000,
//! the service's default; the sync asks for 20,000), counting the changes of each kind; with
//! `ROOT`, with a token of that account's subtree instead. With `DATA_DIR` given as `-`, the
//! database is kept and only the feed is read; with `+DATA_DIR`, the folder is loaded into
//! the existing database. `DB` may be a `postgres://` URL of an
//! existing database (for example one `engines_bench` left): nothing is removed there.

use std::collections::BTreeMap;
use std::time::Instant;

use usagedesk_cloud::storage::prelude::*;
use usagedesk_cloud::storage::TokenScope;
use usagedesk_cloud::{load, PgStorage, SqliteStorage};
use usagedesk_domain::api::{Change, DEFAULT_PAGE_SIZE};

/// The allocator of the `usagedesk-cloud` binary, whose loads and feed reads this times
/// (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data, db, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: feed_time DATA_DIR DB_FILE [TODAY [PAGE [ROOT]]]");
    };
    let today = match rest.first() {
        Some(t) => usagedesk_domain::month::parse_date(t)?,
        None => chrono::NaiveDate::from_ymd_opt(2026, 11, 15).expect("date"),
    };
    let scope = match rest.get(2) {
        Some(root) => TokenScope::Subtree(root.clone()),
        None => TokenScope::All,
    };
    let page_size = match rest.get(1) {
        Some(n) => n.parse()?,
        None => DEFAULT_PAGE_SIZE,
    };
    let (data, keep) = match data.strip_prefix('+') {
        Some(d) => (d, true),
        None => (data.as_str(), data == "-"),
    };
    let storage: Box<dyn Store> = if usagedesk_cloud::storage::is_postgres_url(db) {
        Box::new(PgStorage::open(db)?)
    } else {
        if !keep {
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{db}{ext}"));
            }
        }
        Box::new(SqliteStorage::open(std::path::Path::new(db))?)
    };
    if data != "-" {
        let t = Instant::now();
        let stats = storage
            .load(load::read_dataset(std::path::Path::new(data))?, today)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("load: {stats:?} in {:.2} s", t.elapsed().as_secs_f64());
    }

    let t = Instant::now();
    let mut cursor: Option<String> = None;
    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut pages = 0;
    loop {
        let page = storage.changes(&scope, cursor.as_deref(), page_size, false)?;
        pages += 1;
        for c in &page.changes {
            let k = match c {
                Change::Account(_) => "account",
                Change::MonthUsage(_) => "month",
                Change::Tombstone { .. } => "tombstone",
                Change::Instance(_) => "instance",
                Change::License(_) => "license",
                Change::InstanceReport(_) => "report",
                Change::InstanceEvent(_) => "event",
                Change::InstallAttempt(_) => "attempt",
            };
            *kinds.entry(k).or_default() += 1;
        }
        cursor = Some(page.next_cursor);
        if !page.has_more {
            break;
        }
    }
    let total: u64 = kinds.values().sum();
    println!(
        "feed: {total} changes in {pages} pages in {:.2} s ({kinds:?})",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
