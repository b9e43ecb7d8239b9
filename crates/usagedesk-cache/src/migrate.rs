//! Embedded, numbered, never-edited migrations, tracked with `PRAGMA user_version`.

use rusqlite::Connection;
use usagedesk_sqlite::{Migrator, SqliteError};

use crate::{CacheError, Result};

/// Migration `i` (0-based) brings the schema from version `i` to `i + 1`.
const MIGRATOR: Migrator = Migrator::new(&[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_airgap.sql"),
    include_str!("../migrations/0003_customers.sql"),
    include_str!("../migrations/0004_customer_index.sql"),
    include_str!("../migrations/0005_airgap_outbox.sql"),
    include_str!("../migrations/0006_entitlements.sql"),
    include_str!("../migrations/0007_health.sql"),
    include_str!("../migrations/0008_attention.sql"),
    include_str!("../migrations/0009_ent_used.sql"),
    include_str!("../migrations/0010_ent_used_shared.sql"),
    include_str!("../migrations/0011_ent_over_unindexed.sql"),
    include_str!("../migrations/0012_customer_index_all.sql"),
]);

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATOR.latest();

/// Applies the missing migrations, each in its own transaction with its version bump.
/// Returns how many were applied.
pub(crate) fn migrate(conn: &mut Connection, location: &str) -> Result<usize> {
    MIGRATOR.migrate(conn).map_err(|e| match e {
        SqliteError::TooNew { found, known } => CacheError::TooNew {
            location: location.to_owned(),
            found,
            known,
        },
        SqliteError::BadVersion { found } => {
            CacheError::corrupt(format!("schema version {found} of the cache {location}"))
        }
        SqliteError::Sqlite(e) | SqliteError::Migration { source: e, .. } => CacheError::Sqlite(e),
        other => CacheError::corrupt(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cache;

    fn table_names(cache: &Cache) -> Vec<String> {
        let mut st = cache
            .conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn migrations_apply_on_a_fresh_db_and_reopening_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        let cache = Cache::open(&path).unwrap();
        assert_eq!(cache.schema_version().unwrap(), SCHEMA_VERSION);
        let tables = table_names(&cache);
        for t in [
            "accounts",
            "dirty_months",
            "month_usage",
            "staged_pages",
            "months",
            "plans",
            "subtree_month",
            "subtree_plan",
            "sync_log",
            "sync_state",
        ] {
            assert!(tables.contains(&t.to_owned()), "migration 1 creates {t}");
        }
        drop(cache);

        let mut conn = Connection::open(&path).unwrap();
        assert_eq!(
            migrate(&mut conn, "test").unwrap(),
            0,
            "an up-to-date file needs no migration"
        );
        drop(conn);
        let cache = Cache::open(&path).unwrap();
        assert_eq!(cache.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(table_names(&cache), tables, "re-opening changes no schema");
    }

    #[test]
    fn a_cache_from_a_newer_build_is_refused_with_advice_to_update() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        drop(Cache::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let err = Cache::open(&path).unwrap_err();
        assert!(matches!(err, CacheError::TooNew { found, .. } if found == SCHEMA_VERSION + 1));
        assert!(
            err.to_string().contains("Update the app"),
            "the message tells the user what to do: {err}"
        );
    }

    #[test]
    fn file_caches_use_wal_and_enforce_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().join("c.sqlite")).unwrap();
        let mode: String = cache
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal", "readers must not block the syncing writer");
        let fk: i64 = cache
            .conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1, "month rows cascade with their account");
        let sync: i64 = cache
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 1, "NORMAL");
        let timeout: i64 = cache
            .conn
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .unwrap();
        assert_eq!(timeout, 5000);
    }
}
