//! The PostgreSQL engine of the cloud service: the same storage traits as the embedded SQLite
//! engine, for vendors who run several cloud processes on one managed database.
//!
//! - **Driver:** sqlx's `PgPool` on tokio, TLS through rustls (the URL's `sslmode` is
//!   honoured, no OpenSSL). The traits are synchronous and called off the async runtime
//!   ([`crate::storage`] says why): each call runs its future to completion on the calling
//!   thread ([`PgStorage::run`]) while the pool's sockets are driven by one small runtime of
//!   the engine's own, so callers need no runtime and the server's workers never wait here.
//! - **Writes are serialised** by a transaction-level advisory lock ([`WRITE_LOCK`]) that every
//!   writing transaction takes first, in every process on the database: the service's
//!   read-then-write rules (a check-in judged against the stored report, a nonce answered
//!   once, a first key pinned once) hold as on SQLite's single writer, and the change feed's
//!   positions become visible in the order they were handed out (see [`feed`]). Reads run in
//!   parallel, a feed page in one snapshot.
//! - **Migrations** (`migrations/postgres/NNNN_….sql`, embedded) run under a session-level
//!   advisory lock, so processes starting together migrate once ([`migrate`]).

use std::future::Future;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};
use usagedesk_domain::{Account, AccountStatus, Instance, PlanCatalog, UsageCounts, YearMonth};

use super::{AirGap, StoreError};
use crate::limits::StorageLimits;

mod airgap;
mod bulk_indexes;
mod copy;
mod copy_out;
mod customer_rows;
mod customers;
mod daily;
mod feed;
mod feed_copied;
mod feed_page;
mod first_load;
mod identity;
mod load;
mod migrate;
mod rates;
mod store;
mod tokens;

/// The advisory lock every writing transaction holds until it ends (`pg_advisory_xact_lock`).
/// Advisory locks are per database, so databases on one cluster do not share it.
pub(crate) const WRITE_LOCK: i64 = 0x5573_6167_6544_0001;

/// How long a write waits for the write lock before it answers "busy" (503), as SQLite's
/// busy timeout.
const WRITE_LOCK_WAIT: &str = "5s";

/// The cloud's storage on PostgreSQL.
pub struct PgStorage {
    pool: PgPool,
    /// The URL without its password, for messages and logs.
    label: String,
    limits: StorageLimits,
    epoch: String,
    /// When this process last deleted full rate budgets.
    sweep: rates::Sweep,
    /// Set while a connection is being opened for feed pages' second readers (one at a time).
    opening: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// How long a pooled connection may sit idle before it is pinged when taken.
const PING_AFTER_IDLE: Duration = Duration::from_secs(5);

/// The runtime that drives every pool's sockets and timers (two threads, process-wide).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("usagedesk-pg")
            .enable_all()
            .build()
            .expect("the PostgreSQL engine's runtime starts")
    })
}

/// Whether `db` names a PostgreSQL database (`postgres://…` or `postgresql://…`) rather than a
/// SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// `url` with its password replaced by `***` (in the user part and in a `password=` query
/// parameter), safe for messages and logs.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest_start + colon + 1..rest_start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_owned(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

/// Creates an empty database `name` (lowercase letters, digits, `_`) on the server at
/// `server_url`, whose user may create databases, and returns the new database's URL. For
/// provisioning scripts and tests (each test gets a database of its own).
pub fn create_database(server_url: &str, name: &str) -> Result<String, StoreError> {
    run_on_server(server_url, name, &format!("CREATE DATABASE {name}"))?;
    Ok(with_database(server_url, name))
}

/// Drops the database `name` (one [`create_database`] made) on the server at `server_url`,
/// closing any connection still open to it; nothing when it does not exist.
pub fn drop_database(server_url: &str, name: &str) -> Result<(), StoreError> {
    run_on_server(
        server_url,
        name,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
}

/// Runs `sql` (which names the database `name`, checked here) on the server at `server_url`.
fn run_on_server(server_url: &str, name: &str, sql: &str) -> Result<(), StoreError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(StoreError::Invalid(format!(
            "'{name}' is not a database name this tool creates: use lowercase letters, digits \
             and '_'"
        )));
    }
    let options = PgConnectOptions::from_str(server_url).map_err(|e| {
        StoreError::Invalid(format!(
            "{} is not a PostgreSQL URL: {}",
            redact_url(server_url),
            redact_url(&e.to_string())
        ))
    })?;
    let _enter = runtime().enter();
    futures_executor::block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect_with(&options).await?;
        sqlx::query(sql).execute(&mut conn).await?;
        conn.close().await?;
        Ok::<_, StoreError>(())
    })
}

/// `url` naming database `name` instead of its own.
fn with_database(url: &str, name: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let query = url[start..].find('?').map_or(url.len(), |i| start + i);
    let path = url[start..query].find('/').map_or(query, |i| start + i);
    format!("{}/{name}{}", &url[..path], &url[query..])
}

impl PgStorage {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db?sslmode=…`),
    /// brings its schema up to date, and gives a new database the default plan catalog, a
    /// dataset epoch and a vendor root key, each once whoever opens first.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, StorageLimits::default())
    }

    /// [`open`](Self::open) with the given bounds: `readers` + 2 connections at most, a call
    /// waiting `reader_wait` for one before it answers busy.
    pub fn open_with(url: &str, limits: StorageLimits) -> Result<Self, StoreError> {
        let label = redact_url(url);
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| {
                StoreError::Invalid(format!(
                    "{label} is not a PostgreSQL URL the service can use: {}",
                    redact_url(&e.to_string())
                ))
            })?
            .application_name("usagedesk-cloud")
            // The service's queries read a page or write a batch: starting parallel workers
            // costs more than they save (10 ms a feed page, measured), and PostgreSQL never
            // runs a write's query in parallel anyway.
            .options([
                ("max_parallel_workers_per_gather", "0"),
                // The feed's pages join a few thousand rows by primary key: with the default
                // cost of a random read (4, for spinning disks) the planner hashes whole
                // tables instead, once per page. 1.1 is the usual setting for SSDs and for
                // data in memory.
                ("random_page_cost", "1.1"),
            ]);
        let _enter = runtime().enter();
        let pool = PgPoolOptions::new()
            .max_connections(u32::try_from(limits.readers).unwrap_or(64).max(1) + 2)
            .acquire_timeout(limits.reader_wait)
            // A connection back from a call within the last seconds is handed out as it is:
            // a ping before every call was a round trip of its own (a feed page takes two
            // connections, each pinged when taken). One idle for longer (a restarted server,
            // a proxy's idle cut) is pinged first, and replaced when it does not answer.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > PING_AFTER_IDLE {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .idle_timeout(Some(Duration::from_secs(300)))
            .connect_lazy_with(options.clone());
        let mut storage = Self {
            pool,
            label,
            limits,
            epoch: String::new(),
            sweep: rates::Sweep::new(),
            opening: Default::default(),
        };
        let epoch = storage.run(async {
            // A connection of its own first: its error says why (TLS refused, a wrong
            // password, no server), where the pool would only time out.
            let connect = sqlx::Connection::connect_with(&options);
            let mut conn: sqlx::PgConnection =
                match tokio::time::timeout(storage.limits.reader_wait, connect).await {
                    Ok(Ok(conn)) => conn,
                    Ok(Err(e)) => {
                        let why = format!(
                            "cannot connect to PostgreSQL at {}: {}",
                            storage.label,
                            redact_url(&e.to_string())
                        );
                        return Err(match StoreError::from(e) {
                            StoreError::Unavailable(_) => StoreError::Unavailable(why),
                            _ => StoreError::other(why),
                        });
                    }
                    Err(_) => {
                        return Err(StoreError::Unavailable(format!(
                            "cannot connect to PostgreSQL at {}: no answer within {} s",
                            storage.label,
                            storage.limits.reader_wait.as_secs()
                        )))
                    }
                };
            migrate::migrate(&mut conn, &storage.label).await?;
            sqlx::Connection::close(conn).await?;
            storage.init_meta().await
        })?;
        storage.epoch = epoch;
        // Created with the database, so every backup holds it.
        storage.vendor_root_key()?;
        Ok(storage)
    }

    /// Gives the database at `url` a new dataset epoch drawn from `rng`, so every cursor
    /// issued before is answered 410 and every cache starts a full sync (after restoring a
    /// backup). Returns the old and the new epoch. Run it with every service process stopped:
    /// a running one keeps the epoch it read at start.
    pub fn rotate_epoch(
        url: &str,
        rng: &mut impl rand::RngCore,
    ) -> Result<(String, String), StoreError> {
        let storage = Self::open(url)?;
        let old = storage.epoch.clone();
        let new = loop {
            let e = format!("{:016x}", rng.next_u64());
            if e != old {
                break e;
            }
        };
        storage.run(async {
            let mut tx = storage.write_tx().await?;
            sqlx::query("UPDATE meta SET value = $1 WHERE key = 'epoch'")
                .bind(&new)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        Ok((old, new))
    }

    /// The URL the storage was opened with, its password hidden.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The dataset epoch and the default catalog, written once whoever opens first.
    async fn init_meta(&self) -> Result<String, StoreError> {
        if let Some(e) =
            sqlx::query_scalar::<_, String>("SELECT value FROM meta WHERE key = 'epoch'")
                .fetch_optional(&self.pool)
                .await?
        {
            return Ok(e);
        }
        let mut tx = self.write_tx().await?;
        let created = sqlx::query(
            "INSERT INTO meta(key, value) VALUES ('epoch', $1) ON CONFLICT (key) DO NOTHING",
        )
        .bind(format!("{:016x}", rand::random::<u64>()))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if created {
            for (i, p) in PlanCatalog::default().0.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO plans(id, name, position, seat_metric) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(&p.id)
                .bind(&p.name)
                .bind(i as i64)
                .bind(p.seat_metric.as_str())
                .execute(&mut *tx)
                .await?;
            }
        }
        let epoch = sqlx::query_scalar::<_, String>("SELECT value FROM meta WHERE key = 'epoch'")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(epoch)
    }

    /// Runs one call's future to completion on the calling thread; the engine's runtime drives
    /// the sockets meanwhile.
    fn run<T, E>(&self, f: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        let _enter = runtime().enter();
        futures_executor::block_on(f)
    }

    /// A transaction holding the write lock ([`WRITE_LOCK`]); waits at most
    /// [`WRITE_LOCK_WAIT`] for it, then answers busy.
    async fn write_tx(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!("SET LOCAL lock_timeout = '{WRITE_LOCK_WAIT}'"))
            .execute(&mut *tx)
            .await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Unavailable(_) => StoreError::Unavailable(
                    "the database is busy with other writes; try again in a moment".into(),
                ),
                other => other,
            })?;
        sqlx::query("SET LOCAL lock_timeout = 0")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

/// How sqlx's errors reach the service: a lost or refused connection, a pool with every
/// connection busy, a lock not had in time, a serialization failure or a server shutting
/// down may pass, so they are [`StoreError::Unavailable`] (503 with a retry hint; the server
/// rolled the transaction back); a unique violation is a [`Conflict`](super::Conflict); the
/// rest is [`StoreError::Other`].
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        let lost = || {
            StoreError::Unavailable(
                "the connection to the database was lost or refused; try again in a moment".into(),
            )
        };
        match &e {
            E::PoolTimedOut => StoreError::Unavailable(
                "every database connection stayed busy; try again in a moment".into(),
            ),
            E::PoolClosed => StoreError::Unavailable("the database pool is closed".into()),
            E::Io(_) | E::Tls(_) | E::WorkerCrashed | E::Protocol(_) => lost(),
            E::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                match code.as_str() {
                    "23505" => super::Conflict::Refused(format!(
                        "another write stored the same {} first; nothing was written, try again",
                        db.constraint().unwrap_or("row")
                    ))
                    .into(),
                    "40001" | "40P01" | "55P03" | "53300" | "53400" | "57014" => {
                        StoreError::Unavailable(
                            "the database is busy; try again in a moment".into(),
                        )
                    }
                    c if c.starts_with("08") || c.starts_with("57P") => lost(),
                    _ => StoreError::Other(Box::new(e)),
                }
            }
            _ => StoreError::Other(Box::new(e)),
        }
    }
}

// ---- Reading columns ----

/// Column `i` of `row` as `T`.
fn col<'r, T>(row: &'r PgRow, i: usize) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    // The queries are the engine's own, each column's type fixed by the schema: debug builds
    // (every test) check it; release builds decode without the check, which was a fifth of
    // the client's time reading a feed page.
    if cfg!(debug_assertions) {
        Ok(row.try_get::<T, _>(i)?)
    } else {
        Ok(row.try_get_unchecked::<T, _>(i)?)
    }
}

fn unreadable(what: &str, value: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::other(format!("a stored {what} '{value}' is unreadable: {e}"))
}

fn date_col(row: &PgRow, i: usize) -> Result<NaiveDate, StoreError> {
    parse_date(col(row, i)?)
}

/// A stored date (`YYYY-MM-DD`).
fn parse_date(s: &str) -> Result<NaiveDate, StoreError> {
    usagedesk_domain::month::parse_date(s).map_err(|e| unreadable("date", s, e))
}

fn month_col(row: &PgRow, i: usize) -> Result<YearMonth, StoreError> {
    parse_month(col(row, i)?)
}

/// A stored month (`YYYY-MM`).
fn parse_month(s: &str) -> Result<YearMonth, StoreError> {
    s.parse().map_err(|e| unreadable("month", s, e))
}

fn account_status_col(row: &PgRow, i: usize) -> Result<AccountStatus, StoreError> {
    let s: &str = col(row, i)?;
    s.parse().map_err(|e| unreadable("account status", s, e))
}

fn u64_col(row: &PgRow, i: usize) -> Result<u64, StoreError> {
    Ok(col::<i64>(row, i)?.max(0) as u64)
}

fn counts_cols(row: &PgRow, i: usize) -> Result<UsageCounts, StoreError> {
    Ok(UsageCounts::new(
        u64_col(row, i)?,
        u64_col(row, i + 1)?,
        u64_col(row, i + 2)?,
    ))
}

/// How the air-gapped tables write times: `YYYY-MM-DDTHH:MM:SSZ`.
fn time_text(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| unreadable("time", s, e))
}

fn time_col(row: &PgRow, i: usize) -> Result<DateTime<Utc>, StoreError> {
    parse_time(col::<&str>(row, i)?)
}

fn opt_time_col(row: &PgRow, i: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
    col::<Option<String>>(row, i)?
        .map(|s| parse_time(&s))
        .transpose()
}

const ACCOUNT_COLS: &str = "a.id, a.name, a.parent_id, a.status, a.created_at";

fn account_row(row: &PgRow, at: usize) -> Result<Account, StoreError> {
    Ok(Account {
        id: col(row, at)?,
        name: col(row, at + 1)?,
        parent_id: col(row, at + 2)?,
        status: account_status_col(row, at + 3)?,
        created_at: date_col(row, at + 4)?,
    })
}

/// The columns [`instance_row`] reads, in order (table alias `i`).
const INSTANCE_COLS: &str =
    "i.id, i.license_id, i.account_id, i.airgapped, i.public_key, i.high_water_mark, i.last_report_at";

fn instance_row(row: &PgRow, at: usize) -> Result<Instance, StoreError> {
    Ok(Instance {
        id: col(row, at)?,
        license_id: col(row, at + 1)?,
        account_id: col(row, at + 2)?,
        airgapped: col(row, at + 3)?,
        public_key: col(row, at + 4)?,
        high_water_mark: u64_col(row, at + 5)?,
        last_report_at: opt_time_col(row, at + 6)?,
    })
}

fn scope_root(scope: &super::TokenScope) -> Option<&str> {
    match scope {
        super::TokenScope::All => None,
        super::TokenScope::Subtree(root) => Some(root.as_str()),
    }
}

#[cfg(test)]
mod feed_tests;
#[cfg(test)]
mod fence_tests;
#[cfg(test)]
mod first_load_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(
            redact_url("postgres://app:s3cr%40t@db.example:5432/cloud?sslmode=require"),
            "postgres://app:***@db.example:5432/cloud?sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://db/cloud?user=app&password=hunter2&sslmode=verify-full"),
            "postgresql://db/cloud?user=app&password=***&sslmode=verify-full"
        );
        assert_eq!(
            redact_url("postgres://app@db/cloud"),
            "postgres://app@db/cloud",
            "no password, nothing hidden"
        );
    }

    #[test]
    fn a_url_names_another_database() {
        assert_eq!(
            with_database("postgres://u:p@h:5/usagedesk?sslmode=disable", "t_1"),
            "postgres://u:p@h:5/t_1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t_2"), "postgres://h/t_2");
    }

    #[test]
    fn postgres_urls_are_told_from_sqlite_paths() {
        assert!(is_postgres_url("postgres://h/db"));
        assert!(is_postgres_url("postgresql://h/db"));
        assert!(!is_postgres_url("/var/lib/usagedesk/cloud.db"));
        assert!(!is_postgres_url("postgres.db"));
    }
}
