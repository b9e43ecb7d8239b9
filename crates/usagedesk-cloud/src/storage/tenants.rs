//! The tenant tree and its usage: the plan catalog, loads, ingested snapshots, accounts.

use chrono::{DateTime, NaiveDate, Utc};
use usagedesk_domain::api::IngestResponse;
use usagedesk_domain::customer::{
    InstallAttempt, InstallStep, InstanceEvent, InstanceReport, License,
};
use usagedesk_domain::{Account, Plan, PlanCatalog, UsageCounts, YearMonth};

use super::{StoreError, TokenScope};

/// A row that failed validation, located in its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}, line {line}: {message}")]
pub struct RowError {
    pub file: String,
    pub line: u64,
    pub message: String,
}

/// A value with where it came from (a file and line, or a request and index). The file's
/// name is shared by every row of the file.
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub file: std::sync::Arc<str>,
    pub line: u64,
    pub row: T,
}

impl<T> Located<T> {
    pub fn error(&self, message: impl Into<String>) -> RowError {
        RowError {
            file: self.file.to_string(),
            line: self.line,
            message: message.into(),
        }
    }
}

/// One daily usage snapshot, already parsed (counts non-negative by type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyRow {
    pub account_id: String,
    pub date: NaiveDate,
    pub plan: String,
    pub counts: UsageCounts,
}

/// One row of `instances.csv`, already parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRow {
    pub id: String,
    pub license_id: String,
    pub account_id: String,
    pub airgapped: bool,
    /// `ed25519:…`, checked; `None` keeps the key the cloud pinned (if any).
    pub public_key: Option<String>,
    /// When it last reported, from the optional `last_report_at` column: moves the stored
    /// last report forward, never back; `None` keeps it.
    pub last_report_at: Option<DateTime<Utc>>,
}

/// One row of `install_steps.csv`, already parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRow {
    pub attempt_id: String,
    pub step: InstallStep,
}

/// A stream of rows read from a file as the load consumes them.
pub type RowStream<'a, T> = Box<dyn Iterator<Item = Result<Located<T>, RowError>> + 'a>;

/// A dataset to load: the accounts, instances and the other small files in memory, the
/// (large) daily rows and instance events streamed.
pub struct Dataset<'a> {
    pub plans: Option<Vec<Plan>>,
    pub accounts: Vec<Located<Account>>,
    /// Empty when the folder has no `instances.csv`.
    pub instances: Vec<Located<InstanceRow>>,
    pub daily: RowStream<'a, DailyRow>,
    /// The customer-reporting files; each empty when the folder does not have it.
    pub licenses: Vec<Located<License>>,
    pub reports: Vec<Located<InstanceReport>>,
    pub events: RowStream<'a, InstanceEvent>,
    /// Their `steps` are empty: steps come in [`Dataset::steps`].
    pub attempts: Vec<Located<InstallAttempt>>,
    pub steps: Vec<Located<StepRow>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadStats {
    pub accounts_changed: usize,
    pub instances_changed: usize,
    pub daily_rows: usize,
    pub months_changed: usize,
    pub licenses_changed: usize,
    pub reports_changed: usize,
    pub events_changed: usize,
    /// Attempts whose row or steps changed.
    pub attempts_changed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Row(#[from] RowError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An account of a subtree, with its depth below the subtree's root.
#[derive(Debug, Clone)]
pub struct SubtreeAccount {
    pub account: Account,
    pub depth: u32,
}

/// A month-end row read back for reports.
#[derive(Debug, Clone)]
pub struct MonthRow {
    pub account_id: String,
    pub month: YearMonth,
    pub plan: String,
    pub counts: UsageCounts,
}

/// Accounts, plans and usage rows.
pub trait Tenants {
    fn plans(&self) -> Result<PlanCatalog, StoreError>;

    /// Loads a dataset: all or nothing. Every row is checked with the service's rules
    /// ([`crate::load::rules`]) against the file and what is stored, inside the load's
    /// transaction; the first refusal rolls everything back. `today` bounds dates.
    fn load(&self, dataset: Dataset<'_>, today: NaiveDate) -> Result<LoadStats, LoadError>;

    /// Writes validated daily snapshots in one transaction and derives month-end rows.
    fn ingest(&self, rows: &[DailyRow]) -> Result<IngestResponse, StoreError>;

    /// The account, when it exists and `scope` may see it.
    fn account(&self, scope: &TokenScope, id: &str) -> Result<Option<Account>, StoreError>;

    /// The ids from the root of `account_id`'s tree down to it (empty: no such account).
    fn account_path(&self, account_id: &str) -> Result<Vec<String>, StoreError>;
}
