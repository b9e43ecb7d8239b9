//! Where the cloud keeps its data. The service talks to the [`Storage`] trait only, so the
//! embedded SQLite engine can be joined by PostgreSQL behind the same interface.

mod sqlite;

use chrono::NaiveDate;
use usagedesk_domain::api::{Change, IngestResponse};
use usagedesk_domain::{Account, Plan, PlanCatalog, UsageCounts, YearMonth};

pub use sqlite::SqliteStorage;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database at {path} was written by a newer usagedesk-cloud (schema {found}, this build knows {known}); upgrade usagedesk-cloud")]
    NewerSchema {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("the cursor belongs to another dataset; start a full sync")]
    CursorExpired,
    #[error("the cursor '{0}' was not issued by this service; start a full sync")]
    BadCursor(String),
    #[error("storage worker failed: {0}")]
    Worker(String),
}

/// A row that failed validation, located in its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}, line {line}: {message}")]
pub struct RowError {
    pub file: String,
    pub line: u64,
    pub message: String,
}

/// A value with where it came from (a file and line, or a request and index).
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub file: String,
    pub line: u64,
    pub row: T,
}

impl<T> Located<T> {
    pub fn error(&self, message: impl Into<String>) -> RowError {
        RowError {
            file: self.file.clone(),
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

/// A dataset to load: the accounts in memory, the (large) daily rows streamed.
pub struct Dataset<'a> {
    pub plans: Option<Vec<Plan>>,
    pub accounts: Vec<Located<Account>>,
    pub daily: Box<dyn Iterator<Item = Result<Located<DailyRow>, RowError>> + 'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadStats {
    pub accounts_changed: usize,
    pub daily_rows: usize,
    pub months_changed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Row(#[from] RowError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a token may see: the whole vendor, or one account's subtree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    All,
    Subtree(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Reads through the manager API and the change feed.
    Manager,
    /// Posts daily usage.
    Ingest,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manager => "manager",
            Self::Ingest => "ingest",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub scope: TokenScope,
    pub kind: TokenKind,
    pub name: String,
}

/// A page of the change feed after a cursor.
#[derive(Debug, Clone)]
pub struct FeedPage {
    pub changes: Vec<Change>,
    pub next_cursor: String,
    pub has_more: bool,
    pub remaining: Option<u64>,
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

/// The storage interface of the cloud service. Calls block; the HTTP layer runs them on
/// tokio's blocking pool.
pub trait Storage: Send + Sync + 'static {
    fn plans(&self) -> Result<PlanCatalog, StoreError>;

    /// Loads a dataset: all or nothing. `today` bounds snapshot dates.
    fn load(&self, dataset: Dataset<'_>, today: NaiveDate) -> Result<LoadStats, LoadError>;

    /// Stores a token by its SHA-256 hash.
    fn create_token(
        &self,
        hash: [u8; 32],
        scope: &TokenScope,
        kind: TokenKind,
        name: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError>;

    fn authenticate(&self, hash: [u8; 32]) -> Result<Option<TokenGrant>, StoreError>;

    /// The account, when it exists and `scope` may see it.
    fn account(&self, scope: &TokenScope, id: &str) -> Result<Option<Account>, StoreError>;

    /// The change feed of `scope` after `cursor` (`None`: from the start).
    fn changes(
        &self,
        scope: &TokenScope,
        cursor: Option<&str>,
        limit: usize,
        count: bool,
    ) -> Result<FeedPage, StoreError>;

    /// The subtree of `root` in tree order (depth-first, siblings by name then id).
    fn subtree(&self, root: &str) -> Result<Vec<SubtreeAccount>, StoreError>;

    /// Month-end rows of `root`'s subtree for months `from..=to`.
    fn subtree_month_rows(
        &self,
        root: &str,
        from: YearMonth,
        to: YearMonth,
    ) -> Result<Vec<MonthRow>, StoreError>;

    /// Writes validated daily snapshots in one transaction and derives month-end rows.
    fn ingest(&self, rows: &[DailyRow]) -> Result<IngestResponse, StoreError>;
}
