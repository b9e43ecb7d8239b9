//! Deterministic generator of realistic UsageDesk demo datasets in the CSV load format.
//!
//! [`write_demo`] writes nine RFC 4180 files (CRLF line ends, quoting only where needed)
//! into a folder:
//!
//! - `accounts.csv`: `id,name,parent_id,status,created_at`, sorted by id (`acc-000001`…,
//!   then the service providers `sp-01`…, so many parents come after their children);
//! - `daily_usage.csv`: `account_id,date,plan,users_registered,users_with_token,users_with_activity`,
//!   by account (same order) then date;
//! - `plans.csv`: `id,name,seat_metric`, the default catalog (basic, standard, premium), whose
//!   seats count users registered, users with a token and users with activity;
//! - `instances.csv`: `id,license_id,account_id,airgapped,public_key,last_report_at`, by
//!   account (same order): one or two instances (`inst-000123-1`, `inst-000123-2`, sharing license
//!   `lic-000123`) per customer or division without children. About a fifth are air-gapped:
//!   the production instance of every account whose usage comes by monthly file, and half
//!   their staging ones. Online instances of accounts with usage rows carry a pinned public key
//!   (from the seed: nobody holds its secret); the others have none yet. An air-gapped
//!   instance of an account that sent usage files last reported when its last file came
//!   (`last_report_at`, the time of its last check-in): recent for most, more than 31 days ago
//!   (overdue) for those that stopped or skipped months, empty for those that never sent one;
//! - the customer-reporting files (`docs/load-format.md`), by account (same order): one
//!   license per account that runs the product (`licenses.csv`; its seats over or under what
//!   the account last used, and a few accounts with children holding a license above their
//!   customers'), what each instance that ever
//!   checked in last reported (`instance_reports.csv`) and the events that led there
//!   (`instance_events.csv`, instance by instance in time order), and the install attempts of
//!   recent licenses with their steps (`install_attempts.csv`, `install_steps.csv`); see the
//!   `customers` module for the stories they tell. Times are UTC seconds before `today`
//!   00:00.
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
mod customers;
mod instances;
mod model;
mod names;
mod tree;
mod usage;

#[cfg(test)]
mod tests;

use calendar::{fmt_date, Num, Period};
use usage::{Profile, PLAN_IDS, SEAT_METRICS};

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
    /// Rows of `licenses.csv` (one per account that runs the product).
    pub licenses: usize,
    /// Rows of `instance_reports.csv` (instances that ever checked in).
    pub instance_reports: usize,
    /// Rows of `instance_events.csv`.
    pub instance_events: usize,
    /// Rows of `install_attempts.csv`.
    pub install_attempts: usize,
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
    ACCOUNTS_FILE, DAILY_USAGE_FILE, INSTALL_ATTEMPTS_FILE, INSTALL_STEPS_FILE, INSTANCES_FILE,
    INSTANCE_EVENTS_FILE, INSTANCE_REPORTS_FILE, LICENSES_FILE, PLANS_FILE,
};
use usagedesk_domain::load_format::{
    ACCOUNTS_HEADER, DAILY_USAGE_HEADER, INSTALL_ATTEMPTS_HEADER, INSTALL_STEPS_HEADER,
    INSTANCES_HEADER_LAST_REPORT, INSTANCE_EVENTS_HEADER, INSTANCE_REPORTS_HEADER, LICENSES_HEADER,
    PLANS_HEADER,
};

/// Writes `accounts.csv`, `daily_usage.csv`, `plans.csv`, `instances.csv` and the
/// customer-reporting files (`licenses.csv`, `instance_reports.csv`, `instance_events.csv`,
/// `install_attempts.csv`, `install_steps.csv`) into `out_dir` (created when missing;
/// existing files are replaced).
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
    for (plan, metric) in PlanCatalog::default().0.into_iter().zip(SEAT_METRICS) {
        w.write_record([plan.id.as_str(), &plan.name, metric.as_str()])
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
        let mut last: Option<(chrono::NaiveDate, u8, [u64; 3])> = None;
        profile
            .for_each_snapshot(&period, opts.snapshots_per_month, &mut rng, |s| {
                daily_rows += 1;
                last = Some((s.date, s.plan, s.counts));
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
            last_report: last.map(|l| l.0),
            plan: last.map_or(0, |l| l.1),
            registered: last.map_or(0, |l| l.2[0]),
            last_counts: last.map_or([0; 3], |l| l.2),
        };
    }
    finish(w, &path)?;

    let hosts = instances::hosts(&base);
    let now = opts
        .today
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    // The forced customer stories go to the first accounts (in file order) that can hold
    // them: active, reporting online, and two months old.
    let mut forced = vec![None; base.accounts.len()];
    let mut to_force = customers::Forced::ALL.iter();
    for &i in &base.file_order {
        let a = &base.accounts[i as usize];
        let r = reporting[i as usize];
        if hosts[i as usize]
            && !a.disabled
            && r.reported
            && !r.airgapped
            && (opts.today - a.created_at).num_days() > 60
        {
            match to_force.next() {
                Some(f) => forced[i as usize] = Some(*f),
                None => break,
            }
        }
    }

    let mut files = CustomerWriters::open(out_dir)?;
    let mut summary = DemoSummary {
        accounts: base.accounts.len(),
        daily_rows,
        instances: 0,
        licenses: 0,
        instance_reports: 0,
        instance_events: 0,
        install_attempts: 0,
        months: period.months,
    };
    for &i in &base.file_order {
        if !hosts[i as usize] {
            // A few accounts with children hold a license of their own above their
            // customers' (nested licenses).
            let mut rng = model::stream(opts.seed, customers::NESTED_STREAM + i as u64);
            if let Some(l) = customers::nested_license(
                &base.accounts[i as usize],
                reporting[i as usize],
                now,
                &mut rng,
            ) {
                files.license(&base.accounts[i as usize].id, &l, &mut summary)?;
            }
            continue;
        }
        let account = &base.accounts[i as usize];
        let instances = instances::of_account(&base, i, reporting[i as usize], opts.seed);
        let mut rng = model::stream(opts.seed, customers::CUSTOMER_STREAM + i as u64);
        let data = customers::of_account(
            &customers::Context {
                account,
                instances: &instances,
                reporting: reporting[i as usize],
                forced: forced[i as usize],
                now,
            },
            &mut rng,
        );
        let sent_files = reporting[i as usize].last_report.is_some();
        files.write(&account.id, &instances, &data, sent_files, &mut summary)?;
    }
    files.finish()?;
    Ok(summary)
}

/// The writers of `instances.csv` and the customer-reporting files, written together as the
/// accounts are visited.
struct CustomerWriters {
    files: Vec<(PathBuf, csv::Writer<File>)>,
}

impl CustomerWriters {
    const INSTANCES: usize = 0;
    const LICENSES: usize = 1;
    const REPORTS: usize = 2;
    const EVENTS: usize = 3;
    const ATTEMPTS: usize = 4;
    const STEPS: usize = 5;

    fn open(dir: &Path) -> Result<Self, DemoError> {
        let mut files = Vec::new();
        for (name, header) in [
            (INSTANCES_FILE, &INSTANCES_HEADER_LAST_REPORT[..]),
            (LICENSES_FILE, &LICENSES_HEADER[..]),
            (INSTANCE_REPORTS_FILE, &INSTANCE_REPORTS_HEADER[..]),
            (INSTANCE_EVENTS_FILE, &INSTANCE_EVENTS_HEADER[..]),
            (INSTALL_ATTEMPTS_FILE, &INSTALL_ATTEMPTS_HEADER[..]),
            (INSTALL_STEPS_FILE, &INSTALL_STEPS_HEADER[..]),
        ] {
            let path = dir.join(name);
            let mut w = writer(&path)?;
            w.write_record(header).map_err(|source| DemoError::Csv {
                path: path.clone(),
                source,
            })?;
            files.push((path, w));
        }
        Ok(Self { files })
    }

    fn row<I, T>(&mut self, file: usize, record: I) -> Result<(), DemoError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let (path, w) = &mut self.files[file];
        w.write_record(record).map_err(|source| DemoError::Csv {
            path: path.clone(),
            source,
        })
    }

    fn license(
        &mut self,
        account: &str,
        l: &customers::DemoLicense,
        summary: &mut DemoSummary,
    ) -> Result<(), DemoError> {
        use customers::ts;
        self.row(
            Self::LICENSES,
            [
                l.id.as_str(),
                account,
                l.license_type,
                l.channel,
                &ts(&l.created_at),
                &l.expires_at.as_ref().map(ts).unwrap_or_default(),
                &l.features,
                &l.seats,
            ],
        )?;
        summary.licenses += 1;
        Ok(())
    }

    fn write(
        &mut self,
        account: &str,
        instances: &[instances::DemoInstance],
        data: &customers::CustomerData,
        sent_files: bool,
        summary: &mut DemoSummary,
    ) -> Result<(), DemoError> {
        use customers::ts;
        for inst in instances {
            // An air-gapped instance whose account sent usage files last reported with the
            // last one: the time its report carries.
            let last_report_at = data
                .reports
                .iter()
                .find(|r| inst.airgapped && sent_files && r.instance_id == inst.id)
                .map(|r| ts(&r.last_check_in))
                .unwrap_or_default();
            self.row(
                Self::INSTANCES,
                [
                    inst.id.as_str(),
                    inst.license_id.as_str(),
                    account,
                    if inst.airgapped { "true" } else { "false" },
                    inst.public_key.as_deref().unwrap_or(""),
                    &last_report_at,
                ],
            )?;
        }
        summary.instances += instances.len();
        if let Some(l) = &data.license {
            self.license(account, l, summary)?;
        }
        for r in &data.reports {
            let v = &r.values;
            self.row(
                Self::REPORTS,
                [
                    r.instance_id.as_str(),
                    &v[0],
                    &v[1],
                    &v[2],
                    &v[3],
                    &v[4],
                    &v[5],
                    &v[6],
                    &v[7],
                    &v[8],
                    &v[9],
                    &ts(&r.first_check_in),
                    &ts(&r.last_check_in),
                ],
            )?;
        }
        summary.instance_reports += data.reports.len();
        for e in &data.events {
            self.row(
                Self::EVENTS,
                [
                    e.instance_id.as_str(),
                    e.field,
                    e.previous.as_deref().unwrap_or(""),
                    &e.new,
                    &ts(&e.at),
                ],
            )?;
        }
        summary.instance_events += data.events.len();
        for a in &data.attempts {
            let license = data.license.as_ref().map_or("", |l| l.id.as_str());
            self.row(
                Self::ATTEMPTS,
                [
                    a.id.as_str(),
                    license,
                    a.status,
                    &ts(&a.started_at),
                    &a.user_email,
                    &a.environment,
                    a.mode,
                    a.registry,
                ],
            )?;
            for (name, at) in &a.steps {
                self.row(Self::STEPS, [a.id.as_str(), name, &ts(at)])?;
            }
        }
        summary.install_attempts += data.attempts.len();
        Ok(())
    }

    fn finish(self) -> Result<(), DemoError> {
        for (path, w) in self.files {
            finish(w, &path)?;
        }
        Ok(())
    }
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
