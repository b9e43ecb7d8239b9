//! The desktop app's and CLI's local SQLite cache (DESIGN.md, "Sync").
//!
//! What it holds: the tenant tree, month-end usage, the plan catalog, materialized subtree
//! aggregates, the sync cursor and a sync log. Schema: `migrations/0001_init.sql`.
//!
//! Each feature reads and writes through a handle of its own (`handles.rs`):
//! `cache.accounts()`, `usage()`, `customers()`, `airgap()`, `outbox()`, `entitlements()`,
//! `health()`, `attention()` and `sync()`, with `…_mut()` for the features that write
//! (`cache.outbox_mut().requeue(id)`). A handle's methods live in the module of its feature,
//! beside the tables they read. `Cache` itself opens, migrates, gives one read snapshot
//! ([`Cache::read_snapshot`]), bounds its memory, counts and clears.
//!
//! How data flows in:
//! - [`SyncHandleMut::apply_page`] stores one page of the server's change feed **and** the cursor
//!   after it in one transaction, so an interrupted sync loses nothing and repeats nothing.
//!   Accounts and tombstones are applied at once; the page's month-end rows are staged as
//!   one compact blob (whatever order the feed uses, staging costs next to nothing per row)
//!   and their months marked dirty.
//! - [`SyncHandleMut::rebuild_aggregates`] (the sync client calls it once after the last
//!   page) folds the staged rows into `month_usage` in key order and rebuilds the subtree
//!   aggregates of the dirty months, in one transaction. Usage and aggregate queries therefore read a
//!   consistent state: the one of the last rebuild. [`SyncHandle::needs_rebuild`] tells whether
//!   one is due (e.g. after a sync that was interrupted between pages).
//!
//! Reads never walk the tree in SQL: subtree totals come from the aggregate tables, which
//! hold rows for accounts with a grandchild or with more than 64 children. The subtree of
//! any other account is itself and at most 64 leaf children, summed on read from their own
//! rows (one indexed query). Leaves are most of a tenant tree, so a full rebuild writes a
//! fifth of the rows it would otherwise.
//!
//! Ordering: "by name" means by name then id, in byte order (as Rust compares `str`).

mod accounts;
pub mod airgap;
mod airgap_page;
mod apply;
mod attention;
mod checkpoint;
mod codec;
mod customer_index;
mod customer_list;
mod customers;
mod entitlements;
mod error;
mod handles;
mod health;
mod health_stage;
mod maint;
mod migrate;
mod outbox;
mod rebuild;
mod report;
mod stage;
pub mod state;
mod types;
mod usage;

#[cfg(test)]
mod airgap_tests;
#[cfg(test)]
mod bench_tests;
#[cfg(test)]
mod test_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};
use usagedesk_sqlite::{Settings, SqliteError, TempStore};

pub use airgap::{AirgapInstance, ImportRecord, LedgerEntry, LedgerEvent, UploadState};
pub use airgap_page::{
    AirgapPage, InstanceKind, InstanceQuery, InstanceSort, LedgerQuery, LedgerRow,
};
pub use attention::{AttentionBounds, AttentionKind, AttentionRow, Noted};
pub use customer_index::{severity, status_of_severity};
pub use customer_list::{
    CustomerCounts, CustomerCursor, CustomerFilter, CustomerIndexRow, CustomerQuery, CustomerSort,
    IndexedInstance, InstanceCounts, PageStart, INACTIVE_AFTER_HOURS,
};
pub use entitlements::{
    EntitlementScope, LicenseFilter, LicenseListRow, LicenseMonth, LicenseMonthCount, RollupMonth,
    MAX_LICENSE_PAGE,
};
pub use error::{CacheError, Result};
pub use handles::*;
pub use health::{
    HealthInstanceFacts, HealthRecord, RenewalListRow, RenewalRecord, HEALTH_FACTOR_COLUMNS,
    MAX_HEALTH_PAGE,
};
pub use health_stage::{EndingLicense, EndingLicenses, HealthFacts, HealthStage, Staged};
pub use migrate::SCHEMA_VERSION;
pub use outbox::{OutboxBinding, OutboxElsewhere, OutboxItem, OutboxSummary, QueuedUpload};
pub use report::{ReportRow, RowResult};
pub use types::*;

/// A handle on one cache database. Reads take `&self`, writes `&mut self`. The handle is
/// `Send` but not `Sync`: share it behind a mutex, or open one handle per thread (WAL lets
/// readers and one writer work side by side).
pub struct Cache {
    conn: Connection,
    path: Option<PathBuf>,
    /// The whole tree as last loaded, and the database state it was loaded from.
    tree_memo: std::cell::RefCell<Option<accounts::TreeMemo>>,
    /// The counts of [`Cache::stats`], and the database state they were read in.
    stats_memo: std::cell::RefCell<Option<((i64, u64), CacheStats)>>,
    /// Checkpoints on a thread of their own (see `checkpoint.rs`), during a sync.
    checkpointer: Option<checkpoint::Checkpointer>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("path", &self.path).finish()
    }
}

/// How long a writer waits for another process's lock before failing with `Busy`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The write-ahead log is truncated back to this size after checkpoints.
const WAL_LIMIT_BYTES: i64 = 64 << 20;
/// Page cache per connection (KiB, SQLite's negative `cache_size`).
const CACHE_KIB: u32 = 64 * 1024;
/// The page size of a new cache: 16 KiB instead of SQLite's 4 KiB. A sync writes millions of
/// small rows and the views scan ranges of them; B-trees of larger pages split less, log less
/// and read a range in fewer pages. A cache created before keeps its size.
const PAGE_SIZE: u32 = 16 * 1024;

/// How every cache connection is opened: the project's settings (WAL, `synchronous=NORMAL`,
/// foreign keys, busy timeout), URI paths, a bounded log after checkpoints (a full sync writes
/// ~250 MB), temporary tables in memory.
pub(crate) fn settings() -> Settings {
    Settings::new(BUSY_TIMEOUT)
        .uri(true)
        .journal_size_limit(WAL_LIMIT_BYTES)
        .cache_kib(CACHE_KIB)
        .temp_store(TempStore::Memory)
        .page_size(PAGE_SIZE)
}

impl Cache {
    /// Opens (creating if needed) the cache file at `path` and brings its schema up to date.
    /// A file written by a newer build is refused ([`CacheError::TooNew`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let conn = usagedesk_sqlite::open(path, &settings()).map_err(|e| match e {
            SqliteError::NoWal { mode } => CacheError::NoWal {
                path: path.to_path_buf(),
                mode,
            },
            SqliteError::Sqlite(source) => CacheError::Open {
                path: path.to_path_buf(),
                source,
            },
            other => CacheError::corrupt(other.to_string()),
        })?;
        Self::init(conn, Some(path.to_path_buf()))
    }

    /// A private cache in memory (tests, dry runs).
    pub fn open_in_memory() -> Result<Self> {
        let conn = usagedesk_sqlite::open_in_memory(&settings()).map_err(|e| match e {
            SqliteError::Sqlite(source) => CacheError::Sqlite(source),
            other => CacheError::corrupt(other.to_string()),
        })?;
        Self::init(conn, None)
    }

    fn init(mut conn: Connection, path: Option<PathBuf>) -> Result<Self> {
        conn.set_prepared_statement_cache_capacity(64);
        let location = match &path {
            Some(p) => format!("at {}", p.display()),
            None => "in memory".to_owned(),
        };
        migrate::migrate(&mut conn, &location)?;
        if customer_index::pending(&conn)? || entitlements::pending(&conn)? {
            // A cache synced before the customer index (or the entitlement tables) existed,
            // or a sync that stopped before its last page: bring them up to date once.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            apply::refresh_derived(&tx)?;
            tx.commit()?;
        }
        Ok(Self {
            conn,
            path,
            tree_memo: Default::default(),
            stats_memo: Default::default(),
            checkpointer: None,
        })
    }

    /// Sets this handle's page cache (KiB; default 64 MiB). A one-shot scan such as the CLI's
    /// streamed list reads each page once, so a small cache keeps its memory flat.
    pub fn set_page_cache_kib(&self, kib: u32) -> Result<()> {
        self.conn
            .execute_batch(&format!("PRAGMA cache_size = -{};", kib.max(256)))?;
        Ok(())
    }

    /// This handle's page cache (KiB), as [`Cache::set_page_cache_kib`] set it.
    pub fn page_cache_kib(&self) -> Result<u32> {
        let size: i64 = self.conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
        // Negative: KiB; positive: pages.
        let kib = if size < 0 {
            -size
        } else {
            size * self
                .conn
                .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))?
                / 1024
        };
        Ok(u32::try_from(kib).unwrap_or(u32::MAX))
    }

    /// Bounds this handle's memory for a long-lived process: a page cache of `kib` KiB, and
    /// sorts and temporary tables in temporary files (SQLite keeps a small cache of them;
    /// the OS caches the rest) instead of memory. In memory, one large sort (a rebuild, a
    /// list of 40k rows in order) grows the heap by tens of MiB that the allocator keeps
    /// after it is freed.
    pub fn bound_memory(&self, kib: u32) -> Result<()> {
        self.set_page_cache_kib(kib)?;
        self.conn.execute_batch("PRAGMA temp_store = FILE;")?;
        Ok(())
    }

    /// Hands back to the C library the pages this handle's cache holds beyond what it uses
    /// now (SQLite's `shrink_memory`), after a lower [`Cache::set_page_cache_kib`].
    pub fn release_memory(&self) -> Result<()> {
        self.conn.execute_batch("PRAGMA shrink_memory;")?;
        Ok(())
    }

    /// The file this cache lives in (`None` in memory).
    pub fn file_path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// A write transaction that takes the write lock up front, so two processes never
    /// deadlock upgrading read locks.
    fn write_tx(&mut self) -> Result<rusqlite::Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    /// Runs `f` on one consistent state of the cache (a read transaction): every query in it
    /// sees the same state whatever other connections commit meanwhile (WAL), so a page and
    /// its total, or a header and its first rows, agree. Inside a transaction already, that
    /// transaction is the snapshot.
    pub fn read_snapshot<T, E: From<CacheError>>(
        &self,
        f: impl FnOnce(&Cache) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        if !self.conn.is_autocommit() {
            return f(self);
        }
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| E::from(CacheError::from(e)))?;
        let out = f(self)?;
        // A read transaction has nothing to keep; ending it cannot lose anything.
        tx.commit().map_err(|e| E::from(CacheError::from(e)))?;
        Ok(out)
    }
}
