//! The embedded SQLite engine of the cloud service.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use usagedesk_domain::{
    Account, AccountStatus, Instance, Metric, Plan, PlanCatalog, UsageCounts, YearMonth,
};
use usagedesk_sqlite::{Migrator, Settings, SqliteError};

use super::{AirGap, DailyRow, StoreError, TokenScope};
use crate::limits::StorageLimits;

mod airgap;
mod customers;
mod daily_load;
mod feed_read;
mod feed_writer;
mod identity;
mod instances;
mod load;
mod maintenance;
mod month_feed;
mod pool;
mod store;
mod tokens;

pub use maintenance::{backup, rotate_epoch};

/// Migration `i` (0-based) brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_airgap.sql"),
    include_str!("../../migrations/0003_customers.sql"),
    include_str!("../../migrations/0004_tokens.sql"),
    include_str!("../../migrations/0005_instance_identity.sql"),
    include_str!("../../migrations/0006_seat_metric.sql"),
    include_str!("../../migrations/0007_month_rows_off_feed.sql"),
];

const MIGRATOR: Migrator = Migrator::new(MIGRATIONS);

/// Page cache of the writer connection (KiB): loads rewrite large parts of the database.
const WRITER_CACHE_KIB: u32 = 64 * 1024;

/// SQLite storage: one writer connection, a bounded pool of readers (WAL lets them run
/// together).
pub struct SqliteStorage {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: pool::Readers,
    limits: StorageLimits,
    epoch: String,
}

/// The page size of a new database. 16 KiB instead of SQLite's 4 KiB: a load or a feed page
/// moves millions of small rows through B-trees that then have a quarter of the pages to
/// split, write to the log and checkpoint (the 100k bench's first load: 13.0 s at 4 KiB,
/// 11.2 s at 16 KiB). A database created before keeps its size.
const PAGE_SIZE: u32 = 16 * 1024;

/// Every connection's settings: the project's (WAL, `synchronous=NORMAL`, foreign keys, a
/// busy timeout) with a page cache of `cache_kib` KiB, and [`PAGE_SIZE`] for a new file.
fn connection_settings(cache_kib: u32) -> Settings {
    Settings::new(std::time::Duration::from_secs(5))
        .uri(true)
        .cache_kib(cache_kib)
        .page_size(PAGE_SIZE)
}

/// The writer's settings for the transaction of a load (see [`Tenants::load`]); the
/// writer's [`connection_settings`] are applied again after it.
const LOAD_PRAGMAS: &str = "PRAGMA foreign_keys = OFF;
     PRAGMA cache_size = -262144;
     PRAGMA temp_store = MEMORY;";

fn open_connection(path: &Path, cache_kib: u32) -> Result<Connection, StoreError> {
    usagedesk_sqlite::open(path, &connection_settings(cache_kib)).map_err(|e| match e {
        SqliteError::NoWal { mode } => StoreError::other(format!(
            "the database at {} cannot use write-ahead logging (journal mode {mode}): put it on a \
             local disk",
            path.display()
        )),
        SqliteError::Sqlite(e) => e.into(),
        other => StoreError::other(other.to_string()),
    })
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    MIGRATOR.migrate(conn).map_err(|e| match e {
        SqliteError::TooNew { found, known } => StoreError::NewerSchema {
            path: path.display().to_string(),
            found,
            known,
        },
        SqliteError::Sqlite(e) => e.into(),
        SqliteError::Migration { version, source } => match StoreError::from(source) {
            busy @ StoreError::Unavailable(_) => busy,
            other => StoreError::other(format!(
                "migration {version} of {} failed: {other}",
                path.display()
            )),
        },
        other => StoreError::other(format!("{other} ({})", path.display())),
    })?;
    Ok(())
}

impl SqliteStorage {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    /// A new database gets the default plan catalog, a fresh dataset epoch and (by the
    /// service's rule, [`crate::airgap::keys::root_key`]) a vendor root key from the operating
    /// system's random source.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, StorageLimits::default())
    }

    /// [`open`](Self::open) with the given bounds.
    pub fn open_with(path: &Path, limits: StorageLimits) -> Result<Self, StoreError> {
        let mut conn = open_connection(path, WRITER_CACHE_KIB)?;
        migrate(&mut conn, path)?;
        let epoch: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let epoch = match epoch {
            Some(e) => e,
            None => {
                // Under the write lock, and keeping what another process starting together
                // may have written first: one epoch and one catalog whoever wins.
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let created = tx.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES ('epoch', ?1)",
                    [format!("{:016x}", rand::random::<u64>())],
                )? == 1;
                let catalog = if created {
                    PlanCatalog::default().0
                } else {
                    Vec::new()
                };
                for (i, p) in catalog.iter().enumerate() {
                    tx.execute(
                        "INSERT OR IGNORE INTO plans(id, name, position, seat_metric)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![p.id, p.name, i as i64, p.seat_metric.as_str()],
                    )?;
                }
                let e: String =
                    tx.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
                        r.get(0)
                    })?;
                tx.commit()?;
                e
            }
        };
        let storage = Self {
            path: path.to_path_buf(),
            writer: Mutex::new(conn),
            readers: pool::Readers::new(limits.readers, limits.reader_wait),
            limits,
            epoch,
        };
        // Created with the database, so every backup holds it.
        storage.vendor_root_key()?;
        Ok(storage)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a pooled read connection (waiting for one when all are busy), in one read
    /// transaction: every statement of the call sees the same snapshot. (Without it each
    /// statement had its own, and a feed page, read as one query of positions and then one
    /// per kind, could meet an entity moved to the head in between and report it missing.)
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self
            .readers
            .lease(|| open_connection(&self.path, self.limits.reader_cache_kib))?;
        let snapshot = conn.unchecked_transaction()?;
        let out = f(&snapshot)?;
        snapshot.commit()?;
        Ok(out)
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.writer.lock().map_err(poisoned)?;
        f(&mut conn)
    }
}

/// How the engine's driver errors reach the service: a busy database (another writer held it
/// past the busy timeout) may pass, so it is [`StoreError::Unavailable`]; the rest, `LOCKED`
/// included (without a shared cache it is a conflict inside one connection, a bug that does
/// not pass by waiting), is [`StoreError::Other`] with the driver's error as its source.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            Some(C::DatabaseBusy) => StoreError::Unavailable(
                "the database is busy with other writes; try again in a moment".into(),
            ),
            _ => StoreError::Other(Box::new(e)),
        }
    }
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> StoreError {
    StoreError::other("a database lock was poisoned by an earlier panic; restart the service")
}

fn date_col(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<NaiveDate> {
    let s = row.get_ref(i)?.as_str()?;
    usagedesk_domain::month::parse_date(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn month_col(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<YearMonth> {
    let s: String = row.get(i)?;
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn status_col(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<AccountStatus> {
    let s: String = row.get(i)?;
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn counts_cols(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<UsageCounts> {
    Ok(UsageCounts::new(
        row.get(i)?,
        row.get(i + 1)?,
        row.get(i + 2)?,
    ))
}

const ACCOUNT_COLS: &str = "a.id, a.name, a.parent_id, a.status, a.created_at";

fn account_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: row.get(0)?,
        name: row.get(1)?,
        parent_id: row.get(2)?,
        status: status_col(row, 3)?,
        created_at: date_col(row, 4)?,
    })
}

/// The columns [`instance_row`] reads, in order (table alias `i`).
const INSTANCE_COLS: &str =
    "i.id, i.license_id, i.account_id, i.airgapped, i.public_key, i.high_water_mark, i.last_report_at";

/// An instance from [`INSTANCE_COLS`] starting at column `at`.
fn instance_row(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Instance> {
    let mark: i64 = row.get(at + 5)?;
    let last: Option<String> = row.get(at + 6)?;
    Ok(Instance {
        id: row.get(at)?,
        license_id: row.get(at + 1)?,
        account_id: row.get(at + 2)?,
        airgapped: row.get(at + 3)?,
        public_key: row.get(at + 4)?,
        high_water_mark: mark.max(0) as u64,
        last_report_at: last
            .map(|t| {
                parse_time(&t).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        at + 6,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })
            })
            .transpose()?,
    })
}

/// How the air-gapped tables write times: `YYYY-MM-DDTHH:MM:SSZ`.
fn time_text(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
}

fn load_catalog(conn: &Connection) -> Result<PlanCatalog, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, name, seat_metric FROM plans ORDER BY position")?;
    let plans = stmt
        .query_map([], |r| {
            let metric: String = r.get(2)?;
            Ok((
                Plan::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                metric,
            ))
        })?
        .map(|row| {
            let (plan, metric) = row?;
            // The column's CHECK admits only the three names.
            let metric = Metric::from_column(&metric)
                .ok_or_else(|| StoreError::Invalid(format!("seat metric '{metric}' stored")))?;
            Ok(plan.with_seat_metric(metric))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(PlanCatalog(plans))
}

fn load_accounts(conn: &Connection) -> Result<HashMap<String, Account>, StoreError> {
    let mut stmt = conn.prepare(&format!("SELECT {ACCOUNT_COLS} FROM accounts a"))?;
    let rows = stmt.query_map([], account_row)?;
    let mut out = HashMap::new();
    for a in rows {
        let a = a?;
        out.insert(a.id.clone(), a);
    }
    Ok(out)
}

/// Moves an entity to the head of the feed. `key`: '' for accounts and tombstones, the
/// instance id for instances (whose `account_id` is their account), the row's id for
/// customer records. Month rows keep their position on the row (`month_feed`).
fn touch(tx: &Transaction<'_>, kind: &str, account_id: &str, key: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO feed(kind, account_id, key) VALUES (?1, ?2, ?3)")?
        .execute(params![kind, account_id, key])?;
    Ok(())
}

/// Inserts or replaces daily rows; returns the (account, month) pairs they touch.
fn write_daily<'r>(
    tx: &Transaction<'_>,
    rows: impl Iterator<Item = &'r DailyRow>,
    touched: &mut BTreeSet<(String, YearMonth)>,
) -> rusqlite::Result<usize> {
    let mut stmt = tx.prepare_cached(
        "INSERT OR REPLACE INTO daily_usage
         (account_id, date, plan, users_registered, users_with_token, users_with_activity)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut n = 0;
    for r in rows {
        stmt.execute(params![
            r.account_id,
            r.date.to_string(),
            r.plan,
            r.counts.users_registered,
            r.counts.users_with_token,
            r.counts.users_with_activity
        ])?;
        touched.insert((r.account_id.clone(), YearMonth::of(r.date)));
        n += 1;
    }
    Ok(n)
}

/// Derives the month-end row of every touched (account, month) from its last daily snapshot
/// and moves changed rows to the head of the feed. Returns how many changed.
fn refresh_month_usage(
    tx: &Transaction<'_>,
    touched: &BTreeSet<(String, YearMonth)>,
) -> rusqlite::Result<usize> {
    let mut last = tx.prepare_cached(
        "SELECT plan, date, users_registered, users_with_token, users_with_activity
         FROM daily_usage WHERE account_id = ?1 AND date >= ?2 AND date <= ?3
         ORDER BY date DESC LIMIT 1",
    )?;
    let mut current = tx.prepare_cached(
        "SELECT plan, snapshot_date, users_registered, users_with_token, users_with_activity
         FROM month_usage WHERE account_id = ?1 AND month = ?2",
    )?;
    let mut upsert = tx.prepare_cached(
        "INSERT OR REPLACE INTO month_usage
         (account_id, month, plan, snapshot_date, users_registered, users_with_token,
          users_with_activity, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    type Row = (String, String, i64, i64, i64);
    let read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Row> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    };
    let mut changed = 0;
    for (account, month) in touched {
        let m = month.to_string();
        let Some(new) = last
            .query_row(
                params![
                    account,
                    month.first_day().to_string(),
                    month.last_day().to_string()
                ],
                read,
            )
            .optional()?
        else {
            continue;
        };
        let old = current.query_row(params![account, m], read).optional()?;
        if old.as_ref() != Some(&new) {
            // At the head of the feed: the next position.
            let seq = month_feed::draw(tx, 1)?;
            upsert.execute(params![account, m, new.0, new.1, new.2, new.3, new.4, seq])?;
            changed += 1;
        }
    }
    Ok(changed)
}

fn scope_filter(scope: &TokenScope) -> (&'static str, Option<&str>) {
    match scope {
        TokenScope::All => ("?3 IS NULL", None),
        TokenScope::Subtree(root) => (
            "CASE WHEN f.kind = 'tombstone'
                THEN EXISTS (SELECT 1 FROM tombstone_scope t WHERE t.ancestor = ?3 AND t.seq = f.seq)
                ELSE EXISTS (SELECT 1 FROM closure c WHERE c.ancestor = ?3 AND c.descendant = f.account_id)
             END",
            Some(root.as_str()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Dataset, Feed, Located, Tenants};

    #[test]
    fn a_feed_entry_without_its_row_is_an_internal_error_not_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cloud.db");
        let store = SqliteStorage::open(&path).unwrap();
        let day = NaiveDate::from_ymd_opt(2024, 1, 5).unwrap();
        let dataset = Dataset {
            plans: None,
            accounts: vec![Located {
                file: "accounts.csv".into(),
                line: 2,
                row: usagedesk_domain::Account {
                    id: "a".into(),
                    name: "A".into(),
                    parent_id: None,
                    status: usagedesk_domain::AccountStatus::Active,
                    created_at: day,
                },
            }],
            instances: Vec::new(),
            daily: Box::new(std::iter::once(Ok(Located {
                file: "daily_usage.csv".into(),
                line: 2,
                row: DailyRow {
                    account_id: "a".into(),
                    date: day,
                    plan: "basic".into(),
                    counts: usagedesk_domain::UsageCounts::new(3, 2, 1),
                },
            }))),
            licenses: Vec::new(),
            reports: Vec::new(),
            events: Box::new(std::iter::empty()),
            attempts: Vec::new(),
            steps: Vec::new(),
        };
        store.load(dataset, day).unwrap();
        assert_eq!(
            store
                .feed_after(&TokenScope::All, 0, 100, false)
                .unwrap()
                .changes
                .len(),
            2,
            "the account and its month row"
        );
        // The account's row goes (foreign keys are off on this connection: its month row
        // stays); its feed entry stays.
        Connection::open(&path)
            .unwrap()
            .execute("DELETE FROM accounts", [])
            .unwrap();
        let err = store
            .feed_after(&TokenScope::All, 0, 100, false)
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Other(_)) && err.to_string().contains("inconsistent"),
            "{err:?}"
        );
    }

    #[test]
    fn a_busy_database_is_unavailable_and_other_errors_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy.db");
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t(x); BEGIN IMMEDIATE;")
            .unwrap();
        // A second writer that does not wait meets the first one's lock.
        let writer = Connection::open(&path).unwrap();
        writer.busy_timeout(std::time::Duration::ZERO).unwrap();
        let busy = writer.execute("INSERT INTO t VALUES (1)", []).unwrap_err();
        assert!(
            matches!(StoreError::from(busy), StoreError::Unavailable(_)),
            "a lock held by another writer may pass: the client is told to retry"
        );
        let missing = writer
            .execute("INSERT INTO nowhere VALUES (1)", [])
            .unwrap_err();
        assert!(
            matches!(StoreError::from(missing), StoreError::Other(_)),
            "a statement that cannot succeed is not worth retrying"
        );
    }
}
