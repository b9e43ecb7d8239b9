//! Deterministic generator of realistic UsageDesk demo datasets in the CSV load format.
//!
//! [`write_demo`] writes four RFC 4180 files (CRLF line ends, quoting only where needed)
//! into a folder:
//!
//! - `accounts.csv`: `id,name,parent_id,status,created_at`, sorted by id (`acc-000001`…,
//!   then the service providers `sp-01`…, so many parents come after their children);
//! - `daily_usage.csv`: `account_id,date,plan,users_registered,users_with_token,users_with_activity`,
//!   by account (same order) then date;
//! - `plans.csv`: `id,name`, the default catalog (basic, standard, premium);
//! - `instances.csv`: `id,license_id,account_id,airgapped,public_key`, by account (same
//!   order): one or two instances (`inst-000123-1`, `inst-000123-2`, sharing license
//!   `lic-000123`) per customer or division without children. About a fifth are air-gapped:
//!   the production instance of every account whose usage comes by monthly file, and half
//!   their staging ones. Online instances of accounts with usage rows carry a pinned public key
//!   (from the seed: nobody holds its secret); the others have none yet.
//!
//! The base looks like a real vendor's: a few service providers with resellers, customers
//! and divisions down to depth 6 and very uneven branching; plan upgrades and downgrades,
//! growth and churn, disabled accounts, accounts created during the period, reporting gaps,
//! accounts that never report, and names with commas, quotes, line breaks and non-ASCII
//! letters. Each of those edge cases is forced onto at least one account whenever the base
//! and the period can hold it (about ten accounts and three covered months, i.e.
//! `months >= 2` with `today` after the 1st), so even a small demo shows them.
//!
//! Same options, same bytes: all randomness comes from ChaCha8 streams seeded with
//! [`DemoOptions::seed`], nothing reads the clock, and rows are streamed to the writer.

use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use usagedesk_domain::{PlanCatalog, YearMonth};

mod calendar;
mod instances;
mod model;
mod names;
mod tree;
mod usage;

#[cfg(test)]
mod tests;

use calendar::{fmt_date, Num, Period};
use usage::{Profile, PLAN_IDS};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// Number of accounts, service providers included.
    pub accounts: usize,
    /// Completed months of history before `today`'s month (the running month comes on top).
    pub months: u32,
    pub seed: u64,
    /// The day the dataset is generated "on": no row is dated on or after it.
    pub today: NaiveDate,
    pub snapshots_per_month: SnapshotDensity,
}

impl DemoOptions {
    /// Options with the density that suits the size: weekly snapshots for small bases
    /// (up to 1,000 accounts), month-end ones above.
    pub fn new(accounts: usize, months: u32, seed: u64, today: NaiveDate) -> Self {
        Self {
            accounts,
            months,
            seed,
            today,
            snapshots_per_month: if accounts <= 1_000 {
                SnapshotDensity::Weekly
            } else {
                SnapshotDensity::MonthEndOnly
            },
        }
    }
}

/// How many daily snapshots an account reports in a month it reports at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SnapshotDensity {
    /// One to three a month (about two on average), the last one on one of the month's last
    /// four days (in the running month: one of the last three days before today).
    /// Air-gapped accounts send one.
    #[default]
    MonthEndOnly,
    /// One every seven days on an account-specific weekday (for small datasets).
    Weekly,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub accounts: usize,
    pub daily_rows: usize,
    /// Rows of `instances.csv`.
    pub instances: usize,
    /// The covered months in order: the completed ones, then the running month when it
    /// already has a day before `today`.
    pub months: Vec<YearMonth>,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot write the demo dataset at {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write CSV file {}: {source}", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("invalid demo options: {0}")]
    InvalidOptions(String),
}

/// File names inside the output folder.
pub use usagedesk_domain::load_format::{
    ACCOUNTS_FILE, DAILY_USAGE_FILE, INSTANCES_FILE, PLANS_FILE,
};
use usagedesk_domain::load_format::{
    ACCOUNTS_HEADER, DAILY_USAGE_HEADER, INSTANCES_HEADER, PLANS_HEADER,
};

/// Writes `accounts.csv`, `daily_usage.csv`, `plans.csv` and `instances.csv` into `out_dir`
/// (created when missing; existing files are replaced).
pub fn write_demo(opts: &DemoOptions, out_dir: &Path) -> Result<DemoSummary, DemoError> {
    let period = Period::new(opts.today, opts.months)?;
    std::fs::create_dir_all(out_dir).map_err(|source| DemoError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let base = model::generate(opts.accounts, opts.seed, &period);

    let path = out_dir.join(PLANS_FILE);
    let mut w = writer(&path)?;
    let csv_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DemoError::Csv { path, source }
    };
    w.write_record(PLANS_HEADER).map_err(csv_err(&path))?;
    for plan in PlanCatalog::default().0 {
        w.write_record([plan.id, plan.name])
            .map_err(csv_err(&path))?;
    }
    finish(w, &path)?;

    let path = out_dir.join(ACCOUNTS_FILE);
    let mut w = writer(&path)?;
    w.write_record(ACCOUNTS_HEADER).map_err(csv_err(&path))?;
    for &i in &base.file_order {
        let a = &base.accounts[i as usize];
        let parent = a
            .parent
            .map_or("", |p| base.accounts[p as usize].id.as_str());
        let status = if a.disabled { "disabled" } else { "active" };
        w.write_record([
            a.id.as_bytes(),
            a.name.as_bytes(),
            parent.as_bytes(),
            status.as_bytes(),
            &fmt_date(a.created_at),
        ])
        .map_err(csv_err(&path))?;
    }
    finish(w, &path)?;

    let path = out_dir.join(DAILY_USAGE_FILE);
    let mut w = writer(&path)?;
    w.write_record(DAILY_USAGE_HEADER).map_err(csv_err(&path))?;
    let mut daily_rows = 0usize;
    let mut reporting = vec![instances::Reporting::default(); base.accounts.len()];
    for &i in &base.file_order {
        let a = &base.accounts[i as usize];
        let mut rng = model::stream(opts.seed, model::USAGE_STREAM + i as u64);
        let profile = Profile::new(a, &period, &mut rng);
        let before = daily_rows;
        profile
            .for_each_snapshot(&period, opts.snapshots_per_month, &mut rng, |s| {
                daily_rows += 1;
                w.write_record([
                    a.id.as_bytes(),
                    &fmt_date(s.date),
                    PLAN_IDS[s.plan as usize].as_bytes(),
                    Num::new(s.counts[0]).as_bytes(),
                    Num::new(s.counts[1]).as_bytes(),
                    Num::new(s.counts[2]).as_bytes(),
                ])
            })
            .map_err(csv_err(&path))?;
        reporting[i as usize] = instances::Reporting {
            reported: daily_rows > before,
            airgapped: profile.airgapped(),
        };
    }
    finish(w, &path)?;

    let path = out_dir.join(INSTANCES_FILE);
    let mut w = writer(&path)?;
    w.write_record(INSTANCES_HEADER).map_err(csv_err(&path))?;
    let hosts = instances::hosts(&base);
    let mut instance_rows = 0usize;
    for &i in &base.file_order {
        if !hosts[i as usize] {
            continue;
        }
        let account = &base.accounts[i as usize].id;
        for inst in instances::of_account(&base, i, reporting[i as usize], opts.seed) {
            instance_rows += 1;
            w.write_record([
                inst.id.as_str(),
                inst.license_id.as_str(),
                account.as_str(),
                if inst.airgapped { "true" } else { "false" },
                inst.public_key.as_deref().unwrap_or(""),
            ])
            .map_err(csv_err(&path))?;
        }
    }
    finish(w, &path)?;

    Ok(DemoSummary {
        accounts: base.accounts.len(),
        daily_rows,
        instances: instance_rows,
        months: period.months,
    })
}

fn writer(path: &Path) -> Result<csv::Writer<File>, DemoError> {
    let file = File::create(path).map_err(|source| DemoError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .buffer_capacity(1 << 16)
        .from_writer(file))
}

/// Flushes explicitly: dropping a writer would swallow a failed final write.
fn finish(mut w: csv::Writer<File>, path: &Path) -> Result<(), DemoError> {
    w.flush().map_err(|source| DemoError::Io {
        path: path.to_path_buf(),
        source,
    })
}
