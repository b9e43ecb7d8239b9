//! Which storage engine the cloud's tests run on, chosen by environment variables:
//!
//! - `USAGEDESK_TEST_ENGINE`: `sqlite` (the default) or `postgres`;
//! - `USAGEDESK_TEST_POSTGRES_URL`: a PostgreSQL server whose user may create databases
//!   (`scripts/postgres.sh start DIR` prints one). Each store gets a fresh database on it.
//!
//! A PostgreSQL test without a server prints that it is skipped, unless `CI` is set: then it
//! fails, so CI cannot skip the PostgreSQL half silently.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use usagedesk_cloud::storage::StoreError;
use usagedesk_cloud::{PgStorage, SqliteStorage, Store};

pub const ENGINE_VAR: &str = "USAGEDESK_TEST_ENGINE";
pub const POSTGRES_VAR: &str = "USAGEDESK_TEST_POSTGRES_URL";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    /// The server's URL.
    Postgres(String),
}

/// The engine `USAGEDESK_TEST_ENGINE` names (SQLite when unset).
pub fn engine() -> Engine {
    match std::env::var(ENGINE_VAR).as_deref() {
        Ok("postgres") => Engine::Postgres(postgres_server("this test").unwrap_or_else(|| {
            panic!("{ENGINE_VAR}=postgres needs {POSTGRES_VAR} (a server URL)")
        })),
        Ok("sqlite") | Ok("") | Err(_) => Engine::Sqlite,
        Ok(other) => panic!("{ENGINE_VAR}={other}: use sqlite or postgres"),
    }
}

/// The PostgreSQL server of `USAGEDESK_TEST_POSTGRES_URL`; `None` (after printing that `test`
/// is skipped) when it is unset, and a panic instead when `CI` is set.
pub fn postgres_server(test: &str) -> Option<String> {
    match std::env::var(POSTGRES_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!(
            "{POSTGRES_VAR} is not set and CI is: the PostgreSQL tests must run in CI \
             (scripts/test.sh starts a server with scripts/postgres.sh)"
        ),
        _ => {
            // Written to the process's stderr, past the test harness's capture, so a passing
            // run still shows what it skipped.
            use std::io::Write;
            static TOLD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if TOLD.swap(true, Ordering::Relaxed) {
                return None;
            }
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test}: set {POSTGRES_VAR} to a PostgreSQL server (scripts/postgres.sh \
                 start DIR prints one) to run it"
            );
            None
        }
    }
}

/// A new, empty database on the server at `server`: its URL. The first call of a process
/// first drops what earlier test processes left ([`sweep_left_databases`]).
pub fn fresh_postgres_database(server: &str) -> Result<String, StoreError> {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| sweep_left_databases(server));
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "t_{}_{}_{:08x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    );
    usagedesk_cloud::storage::create_database(server, &name)
}

/// Drops the databases that test processes of this machine made on `server` and left when
/// they ended (`t_PID_…` here; `fence_`, `months_` and `tls_PID_…` in the engine's own tests):
/// those whose process is no longer running. Tests keep their databases (a failed test's is
/// there to look at) and CI throws its cluster away, but a developer's long-lived cluster
/// gathered about a hundred a run, and autovacuum, which visits every database in turn, then
/// slowed everything on it (benchmarks by up to a fifth). On Linux only (a running process is
/// one under /proc); a database that cannot be dropped is left.
fn sweep_left_databases(server: &str) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let names = query_rows(server, "SELECT datname FROM pg_database");
    for name in names.into_iter().filter_map(|r| r.into_iter().next()) {
        let mut parts = name.splitn(3, '_');
        let (Some(prefix), Some(pid), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let ours = matches!(prefix, "t" | "fence" | "months" | "tls");
        let running = Path::new(&format!("/proc/{pid}")).exists();
        if ours && !running {
            let _ = usagedesk_cloud::storage::drop_database(server, &name);
        }
    }
}

/// Where a store of [`engine`] lives: a SQLite file in the test's folder, or a fresh database.
pub fn database(dir: &Path) -> String {
    match engine() {
        Engine::Sqlite => dir.join("cloud.db").display().to_string(),
        Engine::Postgres(server) => {
            fresh_postgres_database(&server).expect("a fresh PostgreSQL database")
        }
    }
}

/// Opens the store at `db` (a SQLite path or a `postgres://` URL from [`database`]).
pub fn open(db: &str) -> Arc<dyn Store> {
    if usagedesk_cloud::storage::is_postgres_url(db) {
        Arc::new(PgStorage::open(db).expect("open the PostgreSQL store"))
    } else {
        Arc::new(SqliteStorage::open(Path::new(db)).expect("open the SQLite store"))
    }
}

/// A fresh store of [`engine`] (its SQLite file in `dir`).
pub fn fresh_store(dir: &Path) -> Arc<dyn Store> {
    open(&database(dir))
}

/// The rows `sql` returns from the database at `db` (a SQLite path or a `postgres://` URL),
/// every value as text (`NULL` for null), for tests that look at what was stored. Runs on a
/// thread of its own, so async tests may call it.
pub fn query_rows(db: &str, sql: &str) -> Vec<Vec<String>> {
    let (db, sql) = (db.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        if usagedesk_cloud::storage::is_postgres_url(&db) {
            postgres_rows(&db, &sql)
        } else {
            sqlite_rows(&db, &sql)
        }
    })
    .join()
    .expect("the query thread")
}

fn sqlite_rows(db: &str, sql: &str) -> Vec<Vec<String>> {
    use rusqlite::types::Value;
    let conn = rusqlite::Connection::open(db).expect("open the SQLite database");
    let mut stmt = conn.prepare(sql).expect("a query");
    let n = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get::<_, Value>(i)? {
                        Value::Null => "NULL".to_owned(),
                        Value::Integer(v) => v.to_string(),
                        Value::Real(v) => v.to_string(),
                        Value::Text(v) => v,
                        Value::Blob(v) => format!("{v:?}"),
                    })
                })
                .collect::<Result<Vec<_>, rusqlite::Error>>()
        })
        .expect("rows");
    rows.collect::<Result<_, _>>().expect("row")
}

fn postgres_rows(db: &str, sql: &str) -> Vec<Vec<String>> {
    use sqlx::Connection;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(db).await.expect("connect");
        // Each row as an array of its columns as text, in order (`json_each_text` over a
        // `json` row keeps the columns' order).
        let wrapped = format!(
            "SELECT array(SELECT value FROM json_each_text(row_to_json(q))) FROM ({sql}) q"
        );
        let rows: Vec<Vec<Option<String>>> = sqlx::query_scalar(&wrapped)
            .fetch_all(&mut conn)
            .await
            .expect("rows");
        rows.into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|v| v.unwrap_or_else(|| "NULL".to_owned()))
                    .collect()
            })
            .collect()
    })
}

/// Whether [`engine`] is PostgreSQL; otherwise writes that `test` (about PostgreSQL only) is
/// skipped on this engine.
pub fn is_postgres(test: &str) -> bool {
    if matches!(engine(), Engine::Postgres(_)) {
        return true;
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped {test}: it runs with {ENGINE_VAR}=postgres"
    );
    false
}
