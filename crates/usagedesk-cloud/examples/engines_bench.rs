//! PostgreSQL beside SQLite in one run: a load of a dataset into a new database of each
//! engine, then a full read of the change feed from each, printed as times and ratios
//! (PostgreSQL / SQLite; the goal is at most 1.5):
//!
//! `USAGEDESK_BENCH_POSTGRES_URL=postgres://… cargo run --release -p usagedesk-cloud --example
//! engines_bench -- DATA_DIR [TODAY]`
//!
//! The URL names a server whose user may create databases (`scripts/postgres.sh start DIR`
//! prints one); each run makes a new database on it, dropped at the end.
//! `scripts/bench-engines.sh` does all of it: the dataset, a throwaway cluster, the runs.
//!
//! The feed is read with a token of every account as the service's handler reads it, twice:
//! in pages of 20,000 (what the sync asks for) and of 5,000 (the service's default when a
//! client names no limit).

use std::path::Path;
use std::time::Instant;

use usagedesk_cloud::storage::prelude::*;
use usagedesk_cloud::storage::TokenScope;
use usagedesk_cloud::{load, PgStorage, SqliteStorage};
use usagedesk_domain::api::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// The allocator of the `usagedesk-cloud` binary, whose loads this measures (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    // RUST_LOG=usagedesk_cloud=debug shows the load's phases.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(data) = args.first() else {
        anyhow::bail!("usage: engines_bench DATA_DIR [TODAY]");
    };
    let today = match args.get(1) {
        Some(t) => usagedesk_domain::month::parse_date(t)?,
        None => chrono::NaiveDate::from_ymd_opt(2026, 11, 15).expect("date"),
    };
    let server = std::env::var("USAGEDESK_BENCH_POSTGRES_URL")
        .map_err(|_| anyhow::anyhow!("set USAGEDESK_BENCH_POSTGRES_URL to a PostgreSQL server"))?;
    let dir = tempfile::tempdir()?;

    let sqlite = SqliteStorage::open(&dir.path().join("bench.db"))?;
    let name = format!("bench_{:08x}", rand::random::<u32>());
    let pg = PgStorage::open(&usagedesk_cloud::storage::create_database(&server, &name)?)?;

    let mut rows = Vec::new();
    for (engine, store) in [("sqlite", &sqlite as &dyn Store), ("postgres", &pg)] {
        // Each engine's load starts with the disk quiet: the writes of what ran before (the
        // other engine's 700 MB database, written back by the kernel for seconds after its
        // load returned) are flushed first, out of the timing.
        flush_disks();
        let t = Instant::now();
        let stats = store
            .load(load::read_dataset(Path::new(data))?, today)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let load_s = t.elapsed().as_secs_f64();
        let (feed_s, changes) = read_feed(store, MAX_PAGE_SIZE)?;
        let (small_s, small_changes) = read_feed(store, DEFAULT_PAGE_SIZE)?;
        anyhow::ensure!(
            changes == small_changes,
            "{engine}: the feed's length depends on the page size"
        );
        eprintln!(
            "{engine}: load {load_s:.1} s ({} daily rows, {} month-ends), feed {feed_s:.1} s in pages of {MAX_PAGE_SIZE}, {small_s:.1} s in pages of {DEFAULT_PAGE_SIZE} ({changes} changes)",
            stats.daily_rows, stats.months_changed
        );
        rows.push((load_s, feed_s, changes, small_s));
    }
    // The PostgreSQL database (2-3 GB) goes with the run.
    drop(pg);
    usagedesk_cloud::storage::drop_database(&server, &name)?;
    let (s, p) = (rows[0], rows[1]);
    anyhow::ensure!(
        s.2 == p.2,
        "the engines' feeds differ in length: {} vs {}",
        s.2,
        p.2
    );
    println!("| figure | SQLite | PostgreSQL | ratio (goal <= 1.5) |");
    println!("|---|---|---|---|");
    println!("| load | {:.1} s | {:.1} s | {:.2} |", s.0, p.0, p.0 / s.0);
    for (size, (sf, pf)) in [(MAX_PAGE_SIZE, (s.1, p.1)), (DEFAULT_PAGE_SIZE, (s.3, p.3))] {
        println!(
            "| full feed read ({} changes, pages of {size}) | {sf:.1} s | {pf:.1} s | {:.2} |",
            s.2,
            pf / sf
        );
    }
    Ok(())
}

/// Reads the whole feed in pages of `size`; returns the time taken and the changes read.
fn read_feed(store: &dyn Store, size: usize) -> anyhow::Result<(f64, usize)> {
    let t = Instant::now();
    let (mut cursor, mut changes) = (None::<String>, 0usize);
    loop {
        let page = store.changes(&TokenScope::All, cursor.as_deref(), size, false)?;
        changes += page.changes.len();
        cursor = Some(page.next_cursor);
        if !page.has_more {
            break;
        }
    }
    Ok((t.elapsed().as_secs_f64(), changes))
}

/// Writes every file system's dirty pages to disk (`sync`, on Linux and macOS); without it,
/// only the figures are noisier.
fn flush_disks() {
    if let Err(e) = std::process::Command::new("sync").status() {
        eprintln!("could not run sync ({e}): the loads may overlap earlier writes");
    }
}
