//! The state database `agent.db`: connection settings and embedded, numbered, never-edited
//! migrations tracked with `PRAGMA user_version`.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};
use usagedesk_sqlite::{Migrator, Settings, SqliteError};

use crate::error::{AgentError, Result};

/// Migration `i` (0-based) brings the schema from version `i` to `i + 1`.
const MIGRATOR: Migrator = Migrator::new(&[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_license.sql"),
]);

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATOR.latest();

/// How long a writer waits for another agent process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens `path` (creating it when `create`), sets WAL, `synchronous = NORMAL`, foreign keys
/// and the busy timeout, and brings the schema up to date.
pub(crate) fn open(path: &Path, dir: &Path, create: bool) -> Result<Connection> {
    let settings = Settings::new(BUSY_TIMEOUT).create(create);
    let mut conn = usagedesk_sqlite::open(path, &settings).map_err(|e| plumbing_err(dir, e))?;
    migrate(&mut conn, dir)?;
    Ok(conn)
}

/// Applies the missing migrations, each in its own transaction with its version bump.
/// Returns how many were applied.
pub(crate) fn migrate(conn: &mut Connection, dir: &Path) -> Result<usize> {
    MIGRATOR.migrate(conn).map_err(|e| plumbing_err(dir, e))
}

/// An error opening or migrating `agent.db`, in the agent's words.
fn plumbing_err(dir: &Path, e: SqliteError) -> AgentError {
    match e {
        SqliteError::Sqlite(e) | SqliteError::Migration { source: e, .. } => sql_err(dir, e),
        SqliteError::NoWal { mode } => AgentError::corrupt(
            dir,
            format!("agent.db cannot use write-ahead logging (journal mode {mode})"),
        ),
        SqliteError::TooNew { found, known } => AgentError::TooNew {
            dir: dir.to_path_buf(),
            found,
            known,
        },
        SqliteError::BadVersion { found } => {
            AgentError::corrupt(dir, format!("agent.db has schema version {found}"))
        }
    }
}

/// A database error with the state directory named: a lock held too long becomes
/// [`AgentError::Busy`], a file that is no database [`AgentError::Corrupt`].
pub(crate) fn sql_err(dir: &Path, e: rusqlite::Error) -> AgentError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => AgentError::Busy {
            dir: dir.to_path_buf(),
        },
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            AgentError::corrupt(dir, format!("agent.db: {e}"))
        }
        _ => AgentError::Db(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_db_is_migrated_in_wal_with_the_settings_and_reopening_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.db");
        let mut conn = open(&path, dir.path(), true).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let pragma = |name: &str| -> String {
            conn.query_row(&format!("PRAGMA {name}"), [], |r| {
                r.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| match v {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
            .unwrap()
        };
        assert_eq!(
            pragma("journal_mode"),
            "wal",
            "a cron `record` must not block `status`"
        );
        assert_eq!(
            pragma("synchronous"),
            "1",
            "NORMAL: safe with WAL, fewer fsyncs"
        );
        assert_eq!(pragma("foreign_keys"), "1");
        assert_eq!(pragma("busy_timeout"), "10000");
        assert_eq!(migrate(&mut conn, dir.path()).unwrap(), 0, "up to date");
    }

    #[test]
    fn a_state_from_a_newer_agent_is_refused_with_advice_to_update() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.db");
        let conn = open(&path, dir.path(), true).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let e = open(&path, dir.path(), false).unwrap_err();
        assert!(matches!(e, AgentError::TooNew { found, .. } if found == SCHEMA_VERSION + 1));
        assert!(e.to_string().contains("update usagedesk-agent"), "{e}");
    }

    #[test]
    fn a_file_that_is_no_database_is_reported_as_damaged_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.db");
        std::fs::write(
            &path,
            b"this is not sqlite, just some text that is long enough....",
        )
        .unwrap();
        let e = open(&path, dir.path(), false).unwrap_err();
        assert_eq!(e.code(), "corrupt_state", "{e}");
        assert!(
            e.to_string()
                .contains("restore the directory from a backup"),
            "{e}"
        );
    }
}
