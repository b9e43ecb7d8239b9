//! `usagedesk-bench`: measures the full sync of a large demo dataset and the tree queries,
//! and prints each figure with its ratio to a baseline measured in the same run on the same
//! machine (raw rusqlite inserts). Run it in release mode:
//!
//! `cargo run --release -p usagedesk-bench -- --accounts 100000 --months 24`
//! (`--export-only CACHE.db` measures only the export, on a cache synced before).

mod export;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use usagedesk_cache::Cache;
use usagedesk_cloud::storage::{Storage, TokenKind, TokenScope};
use usagedesk_cloud::{load, tokens, SqliteStorage};
use usagedesk_domain::{Clock, FixedClock, YearMonth};
use usagedesk_sync::{sync, Client, SyncOptions};

#[derive(Parser)]
#[command(about = "Benchmark full sync and tree queries against same-run baselines")]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    accounts: usize,
    #[arg(long, default_value_t = 24)]
    months: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Working folder (dataset, cloud database, cache); reused for the dataset when present.
    #[arg(long, default_value = "bench-data")]
    work: PathBuf,
    /// Runs of each query to take the median of.
    #[arg(long, default_value_t = 51)]
    runs: usize,
    /// Only benchmark the export, on this already synced cache.
    #[arg(long)]
    export_only: Option<PathBuf>,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() -> Result<()> {
    let args = Args::parse();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 15).context("date")?;
    let clock = FixedClock::on(today);
    if let Some(cache) = &args.export_only {
        return export::bench_export(cache, today, &args.work.join("export"));
    }
    let data = args.work.join(format!(
        "demo-{}-{}-{}",
        args.accounts, args.months, args.seed
    ));
    std::fs::create_dir_all(&args.work)?;

    // 1. Dataset and cloud.
    if !data.join("daily_usage.csv").exists() {
        let t = Instant::now();
        let s = usagedesk_demo::write_demo(
            &usagedesk_demo::DemoOptions {
                accounts: args.accounts,
                months: args.months,
                seed: args.seed,
                today,
                snapshots_per_month: usagedesk_demo::SnapshotDensity::MonthEndOnly,
            },
            &data,
        )?;
        println!(
            "demo-data: {} accounts, {} daily rows in {:.2} s",
            s.accounts,
            s.daily_rows,
            secs(t.elapsed())
        );
    }
    let cloud_db = args.work.join("cloud.db");
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", cloud_db.display()));
    }
    let storage = Arc::new(SqliteStorage::open(&cloud_db)?);
    let t = Instant::now();
    let stats = storage
        .load(load::read_dataset(&data)?, today)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "cloud load: {} accounts, {} daily rows, {} month-end rows in {:.2} s",
        stats.accounts_changed,
        stats.daily_rows,
        stats.months_changed,
        secs(t.elapsed())
    );
    let token = tokens::generate(&mut rand::thread_rng());
    storage.create_token(
        tokens::hash(&token),
        &TokenScope::All,
        TokenKind::Manager,
        "bench",
        clock.now(),
    )?;

    // 2. Full sync into an empty cache, through the real server on loopback.
    let cache_path = args.work.join("cache.db");
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", cache_path.display()));
    }
    let rt = tokio::runtime::Runtime::new()?;
    let (rows, sync_time) = rt.block_on(async {
        let server =
            usagedesk_cloud::spawn(storage.clone(), Arc::new(clock), "127.0.0.1:0".parse()?)
                .await?;
        let client = Client::new(&server.url(), &token)?;
        let mut cache = Cache::open(&cache_path)?;
        let t = Instant::now();
        let report = sync(&mut cache, &client, &clock, &SyncOptions::default(), |_| {}).await?;
        let elapsed = t.elapsed();
        server.stop().await?;
        anyhow::Ok((report.rows, elapsed))
    })?;
    let sync_rate = rows as f64 / secs(sync_time);

    // 3. Baseline: raw rusqlite inserts of as many narrow rows, one transaction.
    let raw_rate = raw_insert_rate(&args.work.join("raw.db"), rows as usize)?;

    // 4. Tree queries on the synced cache.
    let cache = Cache::open(&cache_path)?;
    let month = *cache
        .completed_months(today)?
        .last()
        .context("the cache holds no completed month")?;
    let (root, mid) = pick_accounts(&cache, month)?;
    let root_ms = median_ms(args.runs, || {
        cache
            .children(Some(&root), month, 0, 100, Default::default())
            .map(|_| ())
    })?;
    let mid_ms = median_ms(args.runs, || {
        cache
            .children(Some(&mid), month, 0, 100, Default::default())
            .map(|_| ())
    })?;
    let roots_ms = median_ms(args.runs, || {
        cache
            .children(None, month, 0, 100, Default::default())
            .map(|_| ())
    })?;

    println!();
    println!(
        "full sync: {rows} changes in {:.2} s = {:.0} rows/s (target: under 15 s)",
        secs(sync_time),
        sync_rate
    );
    println!("raw rusqlite insert baseline: {:.0} rows/s", raw_rate);
    println!("ratio sync / raw insert: {:.2}", sync_rate / raw_rate);
    println!(
        "children with aggregates, month {month}, median of {} runs (target: under 20 ms):",
        args.runs
    );
    println!("  roots:              {roots_ms:.2} ms");
    println!("  root {root:<14} {root_ms:.2} ms");
    println!("  mid-level {mid:<9} {mid_ms:.2} ms");
    drop(cache);

    // 5. Export of every tree against sqlite3's plain join.
    export::bench_export(&cache_path, today, &args.work.join("export"))
}

fn raw_insert_rate(path: &std::path::Path, rows: usize) -> Result<f64> {
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    let mut conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE t (account_id TEXT NOT NULL, month TEXT NOT NULL, plan TEXT NOT NULL,
           a INTEGER NOT NULL, b INTEGER NOT NULL, c INTEGER NOT NULL, PRIMARY KEY (account_id, month)) WITHOUT ROWID;",
    )?;
    let start = YearMonth::new(2024, 1).context("month")?;
    let t = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
        let mut month = start;
        for i in 0..rows {
            if i % 24 == 0 {
                month = start;
            }
            stmt.execute(rusqlite::params![
                format!("acc-{:06}", i / 24),
                month.to_string(),
                "basic",
                i as i64,
                2i64,
                3i64
            ])?;
            month = month.next();
        }
    }
    tx.commit()?;
    Ok(rows as f64 / secs(t.elapsed()))
}

/// The root with the most children, and a mid-level account (depth 2) with the most children.
fn pick_accounts(cache: &Cache, month: YearMonth) -> Result<(String, String)> {
    let roots = cache.children(None, month, 0, 1000, Default::default())?;
    let root = roots
        .items
        .iter()
        .max_by_key(|r| r.child_count)
        .context("no root account")?;
    let mut best: Option<(String, u64)> = None;
    for child in cache
        .children(
            Some(&root.usage.account_id),
            month,
            0,
            10_000,
            Default::default(),
        )?
        .items
    {
        let grandchildren = cache.children(
            Some(&child.usage.account_id),
            month,
            0,
            10_000,
            Default::default(),
        )?;
        for g in grandchildren.items {
            if best.as_ref().is_none_or(|(_, n)| g.child_count > *n) {
                best = Some((g.usage.account_id.clone(), g.child_count));
            }
        }
    }
    let mid = best
        .map(|(id, _)| id)
        .unwrap_or_else(|| root.usage.account_id.clone());
    Ok((root.usage.account_id.clone(), mid))
}

fn median_ms(
    runs: usize,
    mut f: impl FnMut() -> Result<(), usagedesk_cache::CacheError>,
) -> Result<f64> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(times[times.len() / 2])
}
