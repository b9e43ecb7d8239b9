//! What the cache's API takes and returns.

use chrono::{DateTime, NaiveDate, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use usagedesk_domain::{Account, AccountMonthUsage, Metric, UsageCounts, YearMonth};

/// How many accounts of a subtree had each availability in a month.
/// (The domain's `rollup::AvailabilityCounts`, serializable and widened for the UI.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SubtreeCounts {
    pub ok: u64,
    pub not_available: u64,
    pub non_existent: u64,
}

impl SubtreeCounts {
    /// Accounts in the subtree (whatever their availability).
    pub fn accounts(&self) -> u64 {
        self.ok + self.not_available + self.non_existent
    }
}

/// One account of the tree view for one month: its own month-end usage (`usage.own`,
/// `usage.plan`, `usage.availability`), the subtree totals per plan (`usage.totals`: every
/// plan of the catalog, in catalog order, zero-filled), the subtree availability counts and
/// how many direct children it has (so the UI knows whether it can be expanded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AccountRow {
    #[serde(flatten)]
    pub usage: AccountMonthUsage,
    pub created_at: NaiveDate,
    pub subtree: SubtreeCounts,
    pub child_count: u64,
}

impl AccountRow {
    /// The subtree total of one metric, summed over all plans.
    pub fn subtree_total(&self, metric: Metric) -> u64 {
        self.usage.totals.values().map(|c| c.get(metric)).sum()
    }
}

/// One page of a longer list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Items in the whole list.
    pub total: u64,
    pub offset: usize,
    pub limit: usize,
}

/// The order of [`crate::AccountsHandle::children`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "metric")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ChildSort {
    /// By name, then id (byte order, as everywhere in tree order).
    #[default]
    Name,
    /// By the subtree total of a metric (summed over plans), largest first; ties by name, id.
    SubtreeTotal(Metric),
}

/// Why an account matched a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum SearchMatch {
    ExactId,
    IdPrefix,
    Name,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SearchHit {
    pub account: Account,
    pub matched: SearchMatch,
    /// Names of the account's ancestors, root first (the account itself not included).
    pub path: Vec<String>,
}

/// An account met by a tree-order walk, `depth` levels below where the walk started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeEntry {
    pub account: Account,
    pub depth: usize,
}

/// One month of an account's subtree, for charts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TrendPoint {
    pub month: YearMonth,
    /// Every plan of the catalog, in catalog order: the sum over the subtree.
    pub totals: IndexMap<String, UsageCounts>,
    pub subtree: SubtreeCounts,
}

/// What one [`crate::SyncHandleMut::apply_page`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyStats {
    /// Account changes that created or changed an account.
    pub accounts_written: u64,
    /// Account changes identical to what the cache held.
    pub accounts_unchanged: u64,
    /// Month-end rows staged (folded in by the next rebuild).
    pub month_rows: u64,
    pub tombstones: u64,
    /// Accounts removed by tombstones (whole subtrees).
    pub accounts_deleted: u64,
    /// Whether the tree changed so that every month's aggregates must be rebuilt.
    pub tree_changed: bool,
    /// Instances registered or changed.
    pub instances: u64,
    /// Licenses, instance reports and events, install attempts.
    pub customer_records: u64,
}

impl ApplyStats {
    /// Changes in the page.
    pub fn changes(&self) -> u64 {
        self.accounts_written
            + self.accounts_unchanged
            + self.month_rows
            + self.tombstones
            + self.instances
            + self.customer_records
    }
}

/// What one [`crate::SyncHandleMut::rebuild_aggregates`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildStats {
    /// Staged month-end rows folded into `month_usage`.
    pub rows_folded: u64,
    /// Staged rows still waiting for their account to arrive.
    pub rows_waiting: u64,
    /// Months whose aggregates were rebuilt (including months that no longer have rows).
    pub months: Vec<YearMonth>,
    pub accounts: u64,
    /// Rows written to the aggregate tables.
    pub aggregate_rows: u64,
}

/// Sizes, for the app's "about the cache" panel and the CLI's `cache stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStats {
    pub accounts: u64,
    pub month_rows: u64,
    /// Month-end rows staged and not yet folded in (see `SyncHandleMut::rebuild_aggregates`).
    pub pending_rows: u64,
    pub aggregate_rows: u64,
    pub dirty_months: u64,
    /// Bytes of the database file (pages in use and free), without the write-ahead log.
    pub db_bytes: u64,
}

/// How a sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncOutcome {
    Succeeded,
    Failed,
    Cancelled,
}

impl SyncOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// One entry of the sync log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncLogEntry {
    pub id: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `None`: still running, or the process stopped before it could record the end.
    pub outcome: Option<SyncOutcome>,
    pub rows: u64,
    pub error: Option<String>,
}
