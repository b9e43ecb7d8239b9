//! `usagedesk-bench`: every performance figure of UsageDesk at scale, each printed with the
//! baseline measured in the same run on the same machine and their ratio (a shared machine's
//! speed varies from run to run; the ratios hold). `scripts/bench.sh` builds the release
//! binaries and runs it:
//!
//! 1. dataset: `usagedesk-cloud demo-data` (100k accounts, 24 months, seed 1), kept for
//!    later runs;
//! 2. load: `usagedesk-cloud load` into a new database vs raw inserts of the same rows;
//! 3. sync: `usagedesk-cloud serve` on loopback, a full sync into an empty cache vs raw
//!    inserts of as many rows (load and sync: `--rounds` of each, every one with its baseline
//!    right after it, the round of median ratio reported);
//! 4. queries: children with aggregates on that cache;
//! 5. export: every tree as CSV vs the `sqlite3` shell;
//! 6. cli: `usagedesk-cli customers --json` and `airgap instances`, time and peak memory;
//! 7. app: the desktop app's figures (see `app.rs`), on `cli-data/` or on `--data-dir`:
//!    `--only app --data-dir DIR` measures the app alone on an existing synced cache.

/// The app's and the CLI's allocator: the sync section runs their sync library in this
/// process, so it measures it as they run it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod app;
mod cli;
mod export;
mod link_order;
mod load;
mod procs;
mod queries;
mod sync;
mod table;
mod webdriver;
mod webkit_floor;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};

use procs::Bins;
use table::Figure;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Section {
    Load,
    Sync,
    Queries,
    Export,
    Cli,
    App,
}

#[derive(Parser)]
#[command(about = "UsageDesk benchmarks, each against a baseline measured in the same run")]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    accounts: usize,
    #[arg(long, default_value_t = 24)]
    months: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The dataset's today (YYYY-MM-DD): fixed, so every run loads the same rows.
    #[arg(long, default_value = "2026-11-15")]
    today: String,
    /// Use this dataset folder (load format) instead of generating one.
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// Working folder: the dataset, the cloud database, the synced cache (`cli-data/`).
    #[arg(long, default_value = "target/bench")]
    work: PathBuf,
    /// Where the release binaries are (default: beside this one).
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Run only these sections (comma-separated); later ones reuse what earlier runs left
    /// in the working folder.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Section>,
    /// The synced cache the app section opens (default: the sync section's `cli-data/`).
    /// Opening it with a newer app migrates it: give a copy.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Measure nothing: profile the release app under valgrind on the app section's cache,
    /// every view visited, and write its link order to this file (`src-tauri/link-order.txt`;
    /// `crates/usagedesk-bench/src/link_order.rs`).
    #[arg(long, value_name = "FILE")]
    link_order: Option<PathBuf>,
    /// Runs of each query to take the median of.
    #[arg(long, default_value_t = 51)]
    runs: usize,
    /// Rounds of the load and of the sync (odd), each with its baseline right after it; the
    /// figure is the round of median ratio.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// Removes a SQLite database and its WAL files.
pub(crate) fn remove_db(path: &Path) {
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.rounds % 2 == 0 {
        bail!("--rounds must be odd: the figure is the round in the middle by ratio");
    }
    // Off unless asked: `RUST_LOG=usagedesk_sync=trace` times every page of the sync and
    // `usagedesk_sync=debug` its phases.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let today = usagedesk_domain::month::parse_date(&args.today)?;
    let bins = Bins(match &args.bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("the bench binary has no folder")?
            .to_path_buf(),
    });
    let runs = |s: Section| args.only.is_empty() || args.only.contains(&s);
    std::fs::create_dir_all(&args.work)?;
    let work = args.work.canonicalize()?;
    let cloud_db = work.join("cloud.db");
    let data_dir = work.join("cli-data");
    let cache_path = data_dir.join("cache.db");
    std::fs::create_dir_all(&data_dir)?;
    let rt = tokio::runtime::Runtime::new()?;
    let app_context = || -> Result<app::AppContext> {
        Ok(app::AppContext {
            bins: bins.0.clone(),
            data_dir: match &args.data_dir {
                Some(d) => d.canonicalize()?,
                None => data_dir.clone(),
            },
            work: work.clone(),
        })
    };
    if let Some(out) = &args.link_order {
        let n = link_order::write(&app_context()?, out, &rt)?;
        eprintln!("link order: {n} functions written to {}", out.display());
        return Ok(());
    }
    let started = Instant::now();
    let mut figures: Vec<Figure> = Vec::new();

    if runs(Section::Load) {
        let dataset = match &args.dataset {
            Some(d) => d.clone(),
            None => demo_data(&bins, &args, &work)?,
        };
        figures.extend(load::bench(&bins, &dataset, &work, args.rounds)?);
    }
    if runs(Section::Sync) {
        if !cloud_db.exists() {
            bail!(
                "no loaded cloud database at {}: run the load section first",
                cloud_db.display()
            );
        }
        let served = sync::serve(&bins, &cloud_db, &work.join("serve.log"), &rt)?;
        figures.extend(sync::bench(&served, &cache_path, &work, &rt, args.rounds)?);
    }
    let needs_cache = [Section::Queries, Section::Export, Section::Cli];
    if needs_cache.iter().any(|s| runs(*s)) && !cache_path.exists() {
        bail!(
            "no synced cache at {}: run the sync section first",
            cache_path.display()
        );
    }
    if runs(Section::Queries) {
        figures.extend(queries::bench(&cache_path, today, args.runs)?);
    }
    if runs(Section::Export) {
        figures.extend(export::bench_export(
            &cache_path,
            today,
            &work.join("export"),
        )?);
    }
    if runs(Section::Cli) {
        figures.extend(cli::bench(&bins, &data_dir, &work)?);
    }
    // The app opens the cache offline: its views read only the cache.
    if runs(Section::App) {
        figures.extend(app::figures(&app_context()?, &rt));
    }

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    table::print(
        &format!(
            "UsageDesk bench: {} accounts, {} months, seed {}; {} cores, load average {}; {:.0} s in all",
            args.accounts,
            args.months,
            args.seed,
            cores,
            load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
            started.elapsed().as_secs_f64()
        ),
        &figures,
    );
    Ok(())
}

/// The demo dataset of the arguments, generated with the real binary unless a complete one is
/// in the working folder already.
fn demo_data(bins: &Bins, args: &Args, work: &Path) -> Result<PathBuf> {
    let dir = work.join(format!(
        "dataset-{}-{}-{}-{}",
        args.accounts, args.months, args.seed, args.today
    ));
    let done = dir.join(".complete");
    if done.exists() {
        return Ok(dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let t = Instant::now();
    let out = bins
        .command("usagedesk-cloud")?
        .arg("demo-data")
        .arg("--out")
        .arg(&dir)
        .args([
            "--accounts",
            &args.accounts.to_string(),
            "--months",
            &args.months.to_string(),
            "--seed",
            &args.seed.to_string(),
            "--today",
            &args.today,
        ])
        .output()?;
    if !out.status.success() {
        bail!(
            "usagedesk-cloud demo-data failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("demo-data: {:.2} s", t.elapsed().as_secs_f64());
    std::fs::write(&done, "")?;
    Ok(dir)
}
