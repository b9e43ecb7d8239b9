//! Embedded, numbered, never-edited migrations, tracked with `PRAGMA user_version`.

use rusqlite::{Connection, TransactionBehavior};

use crate::SqliteError;

/// A database's migrations: the SQL of migration `i` (0-based) brings the schema from
/// version `i` to `i + 1`. Landed migrations are never edited; a change is a new one.
#[derive(Debug, Clone, Copy)]
pub struct Migrator {
    migrations: &'static [&'static str],
}

impl Migrator {
    pub const fn new(migrations: &'static [&'static str]) -> Self {
        Self { migrations }
    }

    /// The schema version this build writes (the number of migrations).
    pub const fn latest(&self) -> i64 {
        self.migrations.len() as i64
    }

    /// Applies the missing migrations, each in its own `IMMEDIATE` transaction together with
    /// its version bump, and returns how many it applied. An up-to-date database is only
    /// read (a WAL reader never waits for a writer, so opening it never waits for another
    /// process's long write); otherwise the version is read again inside the write lock, so
    /// two processes opening the same file never apply one migration twice.
    /// A failing migration is rolled back: the version and schema stay those before it.
    /// A schema newer than [`latest`](Self::latest) is refused ([`SqliteError::TooNew`])
    /// and left untouched.
    pub fn migrate(&self, conn: &mut Connection) -> Result<usize, SqliteError> {
        let known = self.latest();
        match user_version(conn)? {
            v if v > known => return Err(SqliteError::TooNew { found: v, known }),
            v if v == known => return Ok(0),
            _ => {}
        }
        let mut applied = 0;
        loop {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let version = user_version(&tx)?;
            if version > known {
                return Err(SqliteError::TooNew {
                    found: version,
                    known,
                });
            }
            if version == known {
                return Ok(applied);
            }
            let Some(sql) = usize::try_from(version)
                .ok()
                .and_then(|v| self.migrations.get(v))
            else {
                return Err(SqliteError::BadVersion { found: version });
            };
            let step = |e| SqliteError::Migration {
                version: version + 1,
                source: e,
            };
            tx.execute_batch(sql).map_err(step)?;
            tx.pragma_update(None, "user_version", version + 1)
                .map_err(step)?;
            tx.commit().map_err(step)?;
            applied += 1;
        }
    }
}

/// The schema version of the database (`PRAGMA user_version`; 0 for a new one).
pub fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{open, Settings};

    const TWO: Migrator = Migrator::new(&[
        "CREATE TABLE a (id INTEGER PRIMARY KEY);",
        "CREATE TABLE b (id INTEGER PRIMARY KEY, a INTEGER REFERENCES a(id));
         INSERT INTO a(id) VALUES (1);",
    ]);

    fn tables(conn: &Connection) -> Vec<String> {
        let mut st = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn open_file(path: &std::path::Path) -> Connection {
        open(path, &Settings::new(Duration::from_secs(5))).unwrap()
    }

    #[test]
    fn a_fresh_database_gets_every_migration_and_reopening_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = open_file(&path);
        assert_eq!(user_version(&conn).unwrap(), 0, "a new file");
        assert_eq!(TWO.migrate(&mut conn).unwrap(), 2);
        assert_eq!(user_version(&conn).unwrap(), TWO.latest());
        assert_eq!(tables(&conn), ["a", "b"]);
        drop(conn);

        let mut conn = open_file(&path);
        assert_eq!(TWO.migrate(&mut conn).unwrap(), 0, "up to date");
        assert_eq!(tables(&conn), ["a", "b"]);
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM a", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            rows, 1,
            "migration 2's insert ran once, not again on re-open"
        );
    }

    #[test]
    fn an_older_schema_gets_only_the_missing_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open_file(&dir.path().join("m.db"));
        let first = Migrator::new(&["CREATE TABLE a (id INTEGER PRIMARY KEY);"]);
        assert_eq!(first.migrate(&mut conn).unwrap(), 1);
        assert_eq!(
            TWO.migrate(&mut conn).unwrap(),
            1,
            "migration 1 is not run again (it would fail: table a exists)"
        );
        assert_eq!(user_version(&conn).unwrap(), 2);
    }

    #[test]
    fn a_schema_from_a_newer_build_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open_file(&dir.path().join("m.db"));
        TWO.migrate(&mut conn).unwrap();
        conn.pragma_update(None, "user_version", 3).unwrap();
        let e = TWO.migrate(&mut conn).unwrap_err();
        assert!(
            matches!(e, SqliteError::TooNew { found: 3, known: 2 }),
            "{e}"
        );
        assert_eq!(user_version(&conn).unwrap(), 3, "not rewritten");
        assert!(conn.is_autocommit(), "no transaction left open");
    }

    #[test]
    fn a_negative_version_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", -1).unwrap();
        let e = TWO.migrate(&mut conn).unwrap_err();
        assert!(matches!(e, SqliteError::BadVersion { found: -1 }), "{e}");
        assert!(tables(&conn).is_empty());
    }

    #[test]
    fn a_failing_migration_leaves_version_and_schema_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = open_file(&path);
        TWO.migrate(&mut conn).unwrap();
        let broken = Migrator::new(&[
            "CREATE TABLE a (id INTEGER PRIMARY KEY);",
            "CREATE TABLE b (id INTEGER PRIMARY KEY, a INTEGER REFERENCES a(id));
             INSERT INTO a(id) VALUES (1);",
            // Its first statement succeeds, its second fails: neither may stay.
            "CREATE TABLE c (id INTEGER PRIMARY KEY);
             INSERT INTO no_such_table VALUES (1);",
        ]);
        let e = broken.migrate(&mut conn).unwrap_err();
        assert!(
            matches!(e, SqliteError::Migration { version: 3, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("no_such_table"), "{e}");
        assert!(e.sqlite().is_some());
        assert_eq!(user_version(&conn).unwrap(), 2);
        assert_eq!(tables(&conn), ["a", "b"], "table c was rolled back");
        drop(conn);
        let conn = open_file(&path);
        assert_eq!(user_version(&conn).unwrap(), 2, "also on disk");
        assert_eq!(tables(&conn), ["a", "b"]);
    }

    #[test]
    fn a_second_connection_finds_the_work_done() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut one = open_file(&path);
        let mut two = open_file(&path);
        assert_eq!(TWO.migrate(&mut one).unwrap(), 2);
        assert_eq!(
            TWO.migrate(&mut two).unwrap(),
            0,
            "the version is re-read under the write lock"
        );
        assert_eq!(tables(&two), ["a", "b"]);
    }

    #[test]
    fn an_up_to_date_database_migrates_without_the_write_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        TWO.migrate(&mut open_file(&path)).unwrap();
        // Another process holds the write lock (a long load, say) for longer than the busy
        // timeout of the opener below.
        let writer = open_file(&path);
        writer
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO a(id) VALUES (2);")
            .unwrap();
        let mut reader = open(&path, &Settings::new(Duration::from_millis(50))).unwrap();
        assert_eq!(
            TWO.migrate(&mut reader).unwrap(),
            0,
            "nothing to apply: the version is only read, and a WAL reader does not wait"
        );
        writer.execute_batch("ROLLBACK").unwrap();
    }
}
