//! The embedded SQLite engine of the cloud service.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use usagedesk_airgap::RootKey;
use usagedesk_domain::api::IngestResponse;
use usagedesk_domain::{
    Account, AccountStatus, Instance, Plan, PlanCatalog, UsageCounts, YearMonth,
};

use usagedesk_domain::customer::{InstanceEvent, InstanceReport};

use super::{
    AcceptedFile, AirGap, CheckInRecord, CheckInWritten, Customers, DailyRow, Dataset, Delegation,
    EnrollmentKeyState, Feed, FeedRows, InstanceIdentity, KeyEvent, KeyReset, LastCheckIn,
    LicenseFileRecord, LoadError, LoadStats, MonthRow, NewToken, OnlineSyncKey, PinGrant,
    ReceiptWriter, RevokedCertificate, StoreError, StoredSigner, Tenants, TokenGrant, TokenInfo,
    TokenScope, Tokens, UsageFile,
};
use crate::limits::StorageLimits;
use crate::load::rules;

mod airgap;
mod customers;
mod daily_load;
mod feed_read;
mod feed_writer;
mod identity;
mod instances;
mod maintenance;
mod pool;
mod tokens;

pub use maintenance::{backup, rotate_epoch};

const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_airgap.sql"),
    include_str!("../../migrations/0003_customers.sql"),
    include_str!("../../migrations/0004_tokens.sql"),
    include_str!("../../migrations/0005_instance_identity.sql"),
];

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

/// Every connection's settings (after `journal_mode = WAL`, set once per connection), with
/// a page cache of `cache_kib` KiB.
fn connection_pragmas(cache_kib: u32) -> String {
    format!(
        "PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -{cache_kib};
         PRAGMA temp_store = DEFAULT;"
    )
}

/// The writer's settings for the transaction of a load (see [`Storage::load`]).
const LOAD_PRAGMAS: &str = "PRAGMA foreign_keys = OFF;
     PRAGMA cache_size = -262144;
     PRAGMA temp_store = MEMORY;";

fn open_connection(path: &Path, cache_kib: u32) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.execute_batch("PRAGMA journal_mode = WAL;")?;
    conn.execute_batch(&connection_pragmas(cache_kib))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::NewerSchema {
            path: path.display().to_string(),
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
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
                let e = format!("{:016x}", rand::random::<u64>());
                let tx = conn.transaction()?;
                tx.execute("INSERT INTO meta(key, value) VALUES ('epoch', ?1)", [&e])?;
                for (i, p) in PlanCatalog::default().0.iter().enumerate() {
                    tx.execute(
                        "INSERT OR IGNORE INTO plans(id, name, position) VALUES (?1, ?2, ?3)",
                        params![p.id, p.name, i as i64],
                    )?;
                }
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

    /// Runs `f` on a pooled read connection (waiting for one when all are busy).
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self
            .readers
            .lease(|| open_connection(&self.path, self.limits.reader_cache_kib))?;
        f(&conn)
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.writer.lock().map_err(poisoned)?;
        f(&mut conn)
    }
}

/// How the engine's driver errors reach the service: a busy or locked database (another
/// writer held it past the busy timeout) may pass, so it is [`StoreError::Unavailable`]; the rest
/// is [`StoreError::Other`] with the driver's error as its source.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            Some(C::DatabaseBusy | C::DatabaseLocked) => StoreError::Unavailable(
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
    let mut stmt = conn.prepare_cached("SELECT id, name FROM plans ORDER BY position")?;
    let plans = stmt
        .query_map([], |r| {
            Ok(Plan {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
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

/// Moves an entity to the head of the feed. `key`: '' for accounts and tombstones, the month
/// for month rows, the instance id for instances (whose `account_id` is their account).
fn touch(tx: &Transaction<'_>, kind: &str, account_id: &str, key: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO feed(kind, account_id, key) VALUES (?1, ?2, ?3)")?
        .execute(params![kind, account_id, key])?;
    Ok(())
}

/// Rebuilds the closure table from the full account set. Validated to be a forest.
fn rebuild_closure(
    tx: &Transaction<'_>,
    accounts: &HashMap<String, Account>,
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM closure", [])?;
    let mut insert =
        tx.prepare_cached("INSERT INTO closure(ancestor, descendant, depth) VALUES (?1, ?2, ?3)")?;
    for a in accounts.values() {
        let mut at = Some(a);
        let mut depth = 0i64;
        while let Some(node) = at {
            insert.execute(params![node.id, a.id, depth])?;
            depth += 1;
            at = node.parent_id.as_ref().and_then(|p| accounts.get(p));
        }
    }
    Ok(())
}

fn ancestors(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = tx.prepare_cached("SELECT ancestor FROM closure WHERE descendant = ?1")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    rows.collect()
}

fn descendants(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = tx.prepare_cached("SELECT descendant FROM closure WHERE ancestor = ?1")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    rows.collect()
}

/// Records that `id`'s subtree left the view of every scope that saw it through `old_ancestors`.
///
/// An account has one tombstone on the feed, moved to the head on each move. The scopes of
/// its earlier tombstone move with it: a cache of a scope the account left two moves ago
/// may not have read that tombstone yet, and must still find one after its cursor.
fn tombstone(tx: &Transaction<'_>, id: &str, old_ancestors: &[String]) -> rusqlite::Result<()> {
    let earlier: Option<i64> = tx
        .prepare_cached(
            "SELECT seq FROM feed WHERE kind = 'tombstone' AND account_id = ?1 AND key = ''",
        )?
        .query_row([id], |r| r.get(0))
        .optional()?;
    touch(tx, "tombstone", id, "")?;
    let seq = tx.last_insert_rowid();
    if let Some(earlier) = earlier {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO tombstone_scope(ancestor, seq)
             SELECT ancestor, ?2 FROM tombstone_scope WHERE seq = ?1",
        )?
        .execute(params![earlier, seq])?;
        tx.prepare_cached("DELETE FROM tombstone_scope WHERE seq = ?1")?
            .execute([earlier])?;
    }
    let mut ins =
        tx.prepare_cached("INSERT OR IGNORE INTO tombstone_scope(ancestor, seq) VALUES (?1, ?2)")?;
    for a in old_ancestors {
        ins.execute(params![a, seq])?;
    }
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
         (account_id, month, plan, snapshot_date, users_registered, users_with_token, users_with_activity)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
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
            upsert.execute(params![account, m, new.0, new.1, new.2, new.3, new.4])?;
            touch(tx, "month", account, &m)?;
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

impl Tenants for SqliteStorage {
    fn plans(&self) -> Result<PlanCatalog, StoreError> {
        self.read(load_catalog)
    }

    fn load(&self, dataset: Dataset<'_>, today: NaiveDate) -> Result<LoadStats, LoadError> {
        let mut conn = self.writer.lock().map_err(poisoned)?;
        // A load checks every reference it writes itself (accounts, parents, plans,
        // instances, licenses, attempts) before the row goes in, and never deletes, so its
        // transaction skips SQLite's per-row foreign-key lookups; a larger page cache keeps
        // the B-trees it fills in memory instead of spilling them to the WAL mid-way.
        conn.execute_batch(LOAD_PRAGMAS).map_err(StoreError::from)?;
        let out = load_dataset(&mut conn, dataset, today);
        conn.execute_batch(&connection_pragmas(WRITER_CACHE_KIB))
            .map_err(StoreError::from)?;
        out
    }

    fn ingest(&self, rows: &[DailyRow]) -> Result<IngestResponse, StoreError> {
        self.write(|conn| {
            let tx = conn.transaction()?;
            let mut touched = BTreeSet::new();
            let accepted = write_daily(&tx, rows.iter(), &mut touched)?;
            let months_changed = refresh_month_usage(&tx, &touched)?;
            tx.commit()?;
            Ok(IngestResponse {
                accepted,
                months_changed,
            })
        })
    }

    fn account(&self, scope: &TokenScope, id: &str) -> Result<Option<Account>, StoreError> {
        self.read(|conn| {
            let sql = match scope {
                TokenScope::All => {
                    format!("SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.id = ?1 AND ?2 IS NULL")
                }
                TokenScope::Subtree(_) => format!(
                    "SELECT {ACCOUNT_COLS} FROM accounts a
                     JOIN closure c ON c.descendant = a.id AND c.ancestor = ?2 WHERE a.id = ?1"
                ),
            };
            let root = match scope {
                TokenScope::All => None,
                TokenScope::Subtree(r) => Some(r.as_str()),
            };
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(params![id, root], account_row)
                .optional()?)
        })
    }

    fn account_path(&self, account_id: &str) -> Result<Vec<String>, StoreError> {
        self.read(|conn| airgap::account_path(conn, account_id))
    }
}

impl Tokens for SqliteStorage {
    fn add_token(&self, token: &NewToken) -> Result<(), StoreError> {
        self.write(|conn| tokens::add(conn, token))
    }

    fn authenticate(&self, hash: [u8; 32]) -> Result<Option<TokenGrant>, StoreError> {
        self.read(|conn| tokens::authenticate(conn, hash))
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.read(tokens::list)
    }

    fn revoke_token(&self, id: &str, now: DateTime<Utc>) -> Result<TokenInfo, StoreError> {
        self.write(|conn| tokens::revoke(conn, id, now))
    }

    fn revoked_certificate(
        &self,
        certificate_sha256: &str,
    ) -> Result<Option<RevokedCertificate>, StoreError> {
        self.read(|conn| tokens::revoked_certificate(conn, certificate_sha256))
    }
}

impl Feed for SqliteStorage {
    fn feed_epoch(&self) -> Result<String, StoreError> {
        Ok(self.epoch.clone())
    }

    fn feed_after(
        &self,
        scope: &TokenScope,
        after_seq: u64,
        limit: usize,
        count: bool,
    ) -> Result<FeedRows, StoreError> {
        let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
        self.read(|conn| {
            let head: i64 = conn
                .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'feed'")?
                .query_row([], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            let page = feed_read::page(conn, scope, after, limit)?;
            // Counted within the next `max_feed_count` positions of the feed, whatever the
            // scope: the work is bounded, and the count a lower bound when the feed is longer.
            let remaining = if count {
                let (filter, root) = scope_filter(scope);
                let sql = format!(
                    "SELECT COUNT(*) FROM (SELECT f.seq, f.kind, f.account_id FROM feed f
                     WHERE f.seq > ?1 ORDER BY f.seq LIMIT ?2) f WHERE {filter}"
                );
                let most = i64::try_from(self.limits.max_feed_count).unwrap_or(i64::MAX);
                Some(
                    conn.prepare_cached(&sql)?
                        .query_row(params![after, most, root], |r| r.get::<_, i64>(0))?
                        as u64,
                )
            } else {
                None
            };
            Ok(FeedRows {
                changes: page.changes,
                last_seq: page.last_seq.max(0) as u64,
                has_more: page.has_more,
                remaining,
                head: head.max(0) as u64,
            })
        })
    }

    fn subtree_accounts(&self, root: &str) -> Result<Vec<Account>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLS} FROM closure c JOIN accounts a ON a.id = c.descendant WHERE c.ancestor = ?1"
            ))?;
            let accounts = stmt.query_map([root], account_row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(accounts)
        })
    }

    fn subtree_month_rows(
        &self,
        root: &str,
        from: YearMonth,
        to: YearMonth,
    ) -> Result<Vec<MonthRow>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT m.account_id, m.month, m.plan, m.users_registered, m.users_with_token, m.users_with_activity
                 FROM closure c JOIN month_usage m ON m.account_id = c.descendant
                 WHERE c.ancestor = ?1 AND m.month >= ?2 AND m.month <= ?3",
            )?;
            let rows = stmt.query_map(params![root, from.to_string(), to.to_string()], |r| {
                Ok(MonthRow {
                    account_id: r.get(0)?,
                    month: month_col(r, 1)?,
                    plan: r.get(2)?,
                    counts: counts_cols(r, 3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}

impl AirGap for SqliteStorage {
    fn root_key(&self) -> Result<Option<RootKey>, StoreError> {
        self.read(airgap::root_key)
    }

    fn insert_root_key(&self, key: &RootKey, now: DateTime<Utc>) -> Result<RootKey, StoreError> {
        self.write(|conn| airgap::insert_root_key(conn, key, now))
    }

    fn cloud_signer(&self) -> Result<Option<StoredSigner>, StoreError> {
        self.read(airgap::cloud_signer)
    }

    fn save_cloud_signer(
        &self,
        signer: &StoredSigner,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(|conn| airgap::save_cloud_signer(conn, signer, now))
    }

    fn record_delegation(&self, delegation: &Delegation) -> Result<(), StoreError> {
        self.write(|conn| airgap::record_delegation(conn, delegation))
    }

    fn instance(&self, scope: &TokenScope, id: &str) -> Result<Option<Instance>, StoreError> {
        self.read(|conn| airgap::instance(conn, scope, id))
    }

    fn accepted_file(&self, sha256: &str) -> Result<Option<AcceptedFile>, StoreError> {
        self.read(|conn| airgap::accepted_file(conn, sha256))
    }

    fn save_online_sync_key(
        &self,
        key: &OnlineSyncKey,
        public_key: &str,
        pin: Option<&PinGrant>,
    ) -> Result<(), StoreError> {
        let keep = self.limits.online_sync_keys_per_instance;
        self.write(|conn| airgap::save_online_sync_key(conn, key, public_key, pin, keep))
    }

    fn online_sync_key(&self, nonce: &str) -> Result<Option<OnlineSyncKey>, StoreError> {
        self.read(|conn| airgap::online_sync_key(conn, nonce))
    }

    fn accept_usage_file(
        &self,
        file: &UsageFile,
        receipt: &mut ReceiptWriter<'_>,
    ) -> Result<AcceptedFile, StoreError> {
        self.write(|conn| airgap::accept_usage_file(conn, file, receipt))
    }
}

impl InstanceIdentity for SqliteStorage {
    fn record_license_file(&self, record: &LicenseFileRecord) -> Result<(), StoreError> {
        self.write(|conn| identity::record_license_file(conn, record))
    }

    fn enrollment_key_state(
        &self,
        instance_id: &str,
        enrollment_key: &str,
    ) -> Result<EnrollmentKeyState, StoreError> {
        self.read(|conn| identity::enrollment_key_state(conn, instance_id, enrollment_key))
    }

    fn reset_instance_key(
        &self,
        instance_id: &str,
        revoke_license_files: bool,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<KeyReset, StoreError> {
        self.write(|conn| {
            identity::reset_instance_key(conn, instance_id, revoke_license_files, actor, now)
        })
    }

    fn instance_key_events(&self, instance_id: &str) -> Result<Vec<KeyEvent>, StoreError> {
        self.read(|conn| identity::instance_key_events(conn, instance_id))
    }
}

impl Customers for SqliteStorage {
    fn last_check_in(&self, instance_id: &str) -> Result<Option<LastCheckIn>, StoreError> {
        self.read(|conn| customers::last_check_in(conn, instance_id))
    }

    fn write_check_in(&self, record: &CheckInRecord) -> Result<CheckInWritten, StoreError> {
        self.write(|conn| customers::write_check_in(conn, record))
    }

    fn instance_report(
        &self,
        scope: &TokenScope,
        instance_id: &str,
    ) -> Result<Option<InstanceReport>, StoreError> {
        self.read(|conn| customers::instance_report(conn, scope, instance_id))
    }

    fn instance_events(
        &self,
        scope: &TokenScope,
        instance_id: &str,
    ) -> Result<Vec<InstanceEvent>, StoreError> {
        self.read(|conn| customers::instance_events(conn, scope, instance_id))
    }
}

/// The body of [`Tenants::load`]: validate and write in one transaction.
fn load_dataset(
    conn: &mut Connection,
    mut dataset: Dataset<'_>,
    today: NaiveDate,
) -> Result<LoadStats, LoadError> {
    let started = std::time::Instant::now();
    let tx = conn.transaction().map_err(StoreError::from)?;
    let mut stats = LoadStats::default();

    if let Some(plans) = &dataset.plans {
        let mut up = tx
            .prepare_cached(
                "INSERT INTO plans(id, name, position) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name, position = excluded.position",
            )
            .map_err(StoreError::from)?;
        for (i, p) in plans.iter().enumerate() {
            up.execute(params![p.id, p.name, i as i64])
                .map_err(StoreError::from)?;
        }
    }
    let catalog = load_catalog(&tx)?;

    // Accounts: the file merged over what is stored, by the service's rules.
    let merge = rules::merge_accounts(load_accounts(&tx)?, &dataset.accounts)?;
    let all = &merge.all;
    let changed = &merge.changed;
    // Accounts that move leave the scopes of their old ancestors: tombstone them there.
    let mut moved_subtrees = Vec::new();
    for old in &merge.moved {
        let anc = ancestors(&tx, &old.id).map_err(StoreError::from)?;
        tombstone(&tx, &old.id, &anc).map_err(StoreError::from)?;
        moved_subtrees.push(old.id.clone());
    }
    {
        let mut up = tx
            .prepare_cached(
                "INSERT INTO accounts(id, name, parent_id, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name, parent_id = excluded.parent_id,
                   status = excluded.status, created_at = excluded.created_at",
            )
            .map_err(StoreError::from)?;
        for a in changed {
            let r = &a.row;
            up.execute(params![
                r.id,
                r.name,
                r.parent_id,
                r.status.as_str(),
                r.created_at.to_string()
            ])
            .map_err(StoreError::from)?;
            touch(&tx, "account", &r.id, "").map_err(StoreError::from)?;
        }
    }
    if merge.tree_changed {
        rebuild_closure(&tx, all)?;
    }
    // A moved subtree is sent again, in full, to the scopes that now see it.
    for id in &moved_subtrees {
        for d in descendants(&tx, id).map_err(StoreError::from)? {
            touch(&tx, "account", &d, "").map_err(StoreError::from)?;
            let months: Vec<String> = tx
                .prepare_cached("SELECT month FROM month_usage WHERE account_id = ?1")
                .and_then(|mut s| s.query_map([&d], |r| r.get(0))?.collect())
                .map_err(StoreError::from)?;
            for m in months {
                touch(&tx, "month", &d, &m).map_err(StoreError::from)?;
            }
            instances::touch_instances_of(&tx, &d).map_err(StoreError::from)?;
            customers::touch_customer_data_of(&tx, &d).map_err(StoreError::from)?;
        }
    }
    stats.accounts_changed = changed.len();
    tracing::debug!("load: accounts, {:.2} s", started.elapsed().as_secs_f64());
    let changed_instances = instances::load(&tx, all, &dataset.instances)?;
    stats.instances_changed = changed_instances.len();
    customers::load(
        &tx,
        all,
        &catalog,
        customers::CustomerFiles::take(&mut dataset),
        &changed_instances,
        today,
        &mut stats,
    )?;

    tracing::debug!(
        "load: instances and customer data, {:.2} s",
        started.elapsed().as_secs_f64()
    );
    // Daily usage, streamed and validated row by row; then the month-end rows it changes.
    daily_load::load_daily(&tx, dataset.daily, all, &catalog, today, &mut stats)?;
    tx.commit().map_err(StoreError::from)?;
    tracing::debug!("load: committed, {:.2} s", started.elapsed().as_secs_f64());
    Ok(stats)
}
