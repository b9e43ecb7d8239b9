//! A full sync over loopback against its baseline: raw rusqlite inserts of as many rows.
//!
//! The cloud is the real `usagedesk-cloud serve` process on a free loopback port (its own
//! process, as in production); the sync is the library the CLI and the app run, in this
//! process, into an empty cache in `cli-data/` (which `usagedesk-cli --data-dir` then reads).

use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use usagedesk_cache::Cache;
use usagedesk_domain::{SystemClock, YearMonth};
use usagedesk_sync::{sync, Client, Phase, SyncOptions};

use crate::procs::{cpu_time, own_peak_since_reset, own_rss, reset_own_peak, Bins, Guard};
use crate::table::{median_round, mib, peak_figure, rate, Figure, Goal};

/// The cloud service, serving `db` on a free loopback port until dropped.
pub struct Served {
    pub url: String,
    pub token: String,
    process: Guard,
}

impl Served {
    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }
}

/// Creates a manager token for every account and serves `db`.
pub fn serve(bins: &Bins, db: &Path, log: &Path, rt: &tokio::runtime::Runtime) -> Result<Served> {
    let out = bins
        .command("usagedesk-cloud")?
        .args([
            "token",
            "create",
            "--account",
            "*",
            "--name",
            "bench",
            "--db",
        ])
        .arg(db)
        .stderr(Stdio::null())
        .output()?;
    if !out.status.success() {
        bail!("usagedesk-cloud token create failed ({})", out.status);
    }
    let token = String::from_utf8(out.stdout)?
        .lines()
        .last()
        .context("token create printed nothing")?
        .trim()
        .to_string();
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let process = Guard(
        bins.command("usagedesk-cloud")?
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--db"])
            .arg(db)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log)?)
            .spawn()?,
    );
    let url = format!("http://127.0.0.1:{port}");
    let client = Client::new(&url, &token)?;
    let t = Instant::now();
    while rt.block_on(client.check_version()).is_err() {
        if t.elapsed() > Duration::from_secs(30) {
            bail!(
                "usagedesk-cloud serve did not answer on {url} within 30 s (log: {})",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Served {
        url,
        token,
        process,
    })
}

/// One round: a full sync into a new cache, then the raw insert of as many rows.
struct SyncRound {
    rows: usize,
    took: Duration,
    raw: Duration,
    /// RSS before the sync, its peak, at its end and 2 s later.
    memory: (Option<u64>, Option<u64>, Option<u64>, Option<u64>),
}

impl SyncRound {
    /// The sync's rate over the baseline's: the time of the baseline over ours.
    fn ratio(&self) -> f64 {
        self.raw.as_secs_f64() / self.took.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// Syncs everything from `served` into a new cache at `cache_path` and measures the baseline
/// right after it, `rounds` times; the rate is that of the round of median ratio, the memory
/// that of the first round (a first sync in this process, as the app's and the CLI's first;
/// later rounds start with the allocators grown). The last round's cache stays for the later
/// sections.
pub fn bench(
    served: &Served,
    cache_path: &Path,
    work: &Path,
    rt: &tokio::runtime::Runtime,
    rounds: usize,
) -> Result<Vec<Figure>> {
    let mut measured = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        let r = sync_round(served, cache_path, work, rt)?;
        eprintln!(
            "sync, round {round} of {rounds}: {:.2} s; raw insert of as many rows: {:.2} s; \
             ratio {:.2}",
            r.took.as_secs_f64(),
            r.raw.as_secs_f64(),
            r.ratio()
        );
        measured.push(r);
    }
    // The cloud it came from, as `usagedesk-cli login` records it: the app opens this
    // folder as a synced one (offline, the cloud gone), not on its connect screen.
    if let Some(data_dir) = cache_path.parent() {
        usagedesk_sync::Settings {
            cloud_url: Some(served.url.clone()),
            ..Default::default()
        }
        .save(data_dir)?;
    }
    let r = median_round(&measured, SyncRound::ratio).context("no sync round")?;
    let first = measured.first().context("no sync round")?;
    let (memory_before, memory_peak, memory_at_end, memory_after) = first.memory;
    // The sync runs in this process as in the app's and the CLI's: their peak is this one's
    // above what the process held before.
    let peak = peak_figure(
        "full sync: peak memory of the process running it (above its RSS before; round 1)",
        memory_before,
        memory_peak,
    );
    let after_name = "full sync: memory the process still holds at its end / 2 s later (above \
                      its RSS before; round 1)";
    let after = match (memory_before, memory_at_end, memory_after) {
        (Some(before), Some(at_end), Some(after)) => Figure::plain(
            after_name,
            format!(
                "{} / {} ({} before)",
                mib(at_end.saturating_sub(before)),
                mib(after.saturating_sub(before)),
                mib(before)
            ),
        ),
        _ => Figure::not_measured(after_name, "/proc/self/status could not be read"),
    };
    let rows = r.rows;
    Ok(vec![
        Figure::ratio(
            format!("full sync over loopback ({rows} changes; median of {rounds} rounds)"),
            (
                rows as f64 / r.took.as_secs_f64(),
                rate(rows as f64, r.took),
            ),
            (rows as f64 / r.raw.as_secs_f64(), rate(rows as f64, r.raw)),
            Goal::AtLeast(0.5),
        ),
        peak,
        after,
    ])
}

fn sync_round(
    served: &Served,
    cache_path: &Path,
    work: &Path,
    rt: &tokio::runtime::Runtime,
) -> Result<SyncRound> {
    crate::remove_db(cache_path);
    let client = Client::new(&served.url, &served.token)?;
    let mut cache = Cache::open(cache_path)?;
    let server_cpu = cpu_time(served.pid());
    let own_cpu = cpu_time(std::process::id());
    let memory_before = reset_own_peak();
    let t = Instant::now();
    let mut downloaded = None;
    let report = rt.block_on(sync(
        &mut cache,
        &client,
        &SystemClock,
        &SyncOptions::default(),
        |p| {
            if p.phase == Phase::Aggregating && downloaded.is_none() {
                downloaded = Some(t.elapsed());
            }
        },
    ))?;
    let took = t.elapsed();
    let memory_peak = own_peak_since_reset();
    let downloaded = downloaded.unwrap_or(took);
    let cpu = |before: Option<Duration>, pid: u32| {
        Some(cpu_time(pid)?.saturating_sub(before?).as_secs_f64())
    };
    eprintln!(
        "sync: {} changes in {} pages, {:.2} s: {:.2} s downloading and applying, {:.2} s \
         aggregating (CPU: cloud {:.2} s, client {:.2} s)",
        report.rows,
        report.pages,
        took.as_secs_f64(),
        downloaded.as_secs_f64(),
        (took - downloaded).as_secs_f64(),
        cpu(server_cpu, served.pid()).unwrap_or(f64::NAN),
        cpu(own_cpu, std::process::id()).unwrap_or(f64::NAN),
    );
    drop(cache);
    // What the process keeps once the sync is over: at once, and after two seconds and a
    // megabyte of small allocations (the allocator hands freed memory back to the system
    // lazily, on later calls of the thread that freed it; the app keeps allocating).
    let memory_at_end = own_rss();
    std::thread::sleep(Duration::from_secs(2));
    let burst: Vec<Vec<u8>> = (0..1000).map(|i| vec![i as u8; 1000]).collect();
    drop(std::hint::black_box(burst));
    let memory_after = own_rss();

    let rows = report.rows as usize;
    let raw = raw_insert(&work.join("raw-sync.db"), rows)?;
    crate::remove_db(&work.join("raw-sync.db"));
    Ok(SyncRound {
        rows,
        took,
        raw,
        memory: (memory_before, memory_peak, memory_at_end, memory_after),
    })
}

/// Raw rusqlite inserts of `rows` narrow rows (an account id, a month, a plan, three counts),
/// prepared statement, one transaction, WAL and synchronous=NORMAL; returns the time taken.
pub fn raw_insert(path: &Path, rows: usize) -> Result<Duration> {
    crate::remove_db(path);
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
    Ok(t.elapsed())
}
