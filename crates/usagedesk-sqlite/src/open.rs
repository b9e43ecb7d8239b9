//! Opening a connection with the project's settings: write-ahead logging (refused when the
//! file system cannot do it), `synchronous = NORMAL`, foreign keys on and a busy timeout,
//! plus the per-database options of [`Settings`].

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::SqliteError;

/// Where SQLite keeps temporary tables and indices (sorts, `GROUP BY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TempStore {
    /// SQLite's compile-time default (a temporary file).
    #[default]
    Default,
    /// In memory: faster sorts, memory grows with them.
    Memory,
}

/// How a connection is opened. [`Settings::new`] gives the project's fixed settings; the
/// builder methods add what differs between databases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    busy_timeout: Duration,
    create: bool,
    uri: bool,
    cache_kib: Option<u32>,
    journal_size_limit: Option<i64>,
    temp_store: TempStore,
    page_size: Option<u32>,
}

impl Settings {
    /// WAL, `synchronous = NORMAL`, foreign keys on, and a writer waiting up to
    /// `busy_timeout` for another connection's lock. Creates a missing file; paths are plain
    /// file names (not `file:` URIs); SQLite's default page cache and temp store.
    pub fn new(busy_timeout: Duration) -> Self {
        Self {
            busy_timeout,
            create: true,
            uri: false,
            cache_kib: None,
            journal_size_limit: None,
            temp_store: TempStore::Default,
            page_size: None,
        }
    }

    /// The page size, in bytes, of a database this opening creates (a power of two from 512
    /// to 65,536). A database that already has tables keeps the size it was created with.
    pub fn page_size(mut self, bytes: u32) -> Self {
        self.page_size = Some(bytes);
        self
    }

    /// Whether a missing file is created (`false`: opening it fails).
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Whether a path beginning `file:` is read as an SQLite URI.
    pub fn uri(mut self, uri: bool) -> Self {
        self.uri = uri;
        self
    }

    /// The page cache of the connection, in KiB.
    pub fn cache_kib(mut self, kib: u32) -> Self {
        self.cache_kib = Some(kib);
        self
    }

    /// After a checkpoint, the write-ahead log is truncated back to this many bytes.
    pub fn journal_size_limit(mut self, bytes: i64) -> Self {
        self.journal_size_limit = Some(bytes);
        self
    }

    pub fn temp_store(mut self, store: TempStore) -> Self {
        self.temp_store = store;
        self
    }

    pub fn busy_timeout(&self) -> Duration {
        self.busy_timeout
    }

    fn flags(&self) -> OpenFlags {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if self.create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        if self.uri {
            flags |= OpenFlags::SQLITE_OPEN_URI;
        }
        flags
    }

    /// Sets these settings on `conn`, all but the journal mode (set once, by [`open`]): to
    /// restore a connection after a bulk load changed some of them for one transaction.
    pub fn apply(&self, conn: &Connection) -> Result<(), SqliteError> {
        conn.busy_timeout(self.busy_timeout)?;
        let mut pragmas = String::from(
            "PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;",
        );
        if let Some(kib) = self.cache_kib {
            // A negative cache size is in KiB, a positive one in pages.
            pragmas.push_str(&format!("PRAGMA cache_size = -{kib};"));
        }
        if let Some(bytes) = self.journal_size_limit {
            pragmas.push_str(&format!("PRAGMA journal_size_limit = {bytes};"));
        }
        pragmas.push_str(match self.temp_store {
            TempStore::Default => "PRAGMA temp_store = DEFAULT;",
            TempStore::Memory => "PRAGMA temp_store = MEMORY;",
        });
        conn.execute_batch(&pragmas)?;
        Ok(())
    }
}

/// Opens the database file at `path` with `settings`. Refuses a file system without
/// write-ahead logging ([`SqliteError::NoWal`]), so readers never block the writer.
pub fn open(path: &Path, settings: &Settings) -> Result<Connection, SqliteError> {
    let conn = Connection::open_with_flags(path, settings.flags())?;
    // The timeout first: switching to WAL takes a lock another process may hold.
    conn.busy_timeout(settings.busy_timeout)?;
    if let Some(bytes) = settings.page_size {
        // Only on an empty file, before WAL mode writes its header: on an existing one SQLite
        // would keep the size for the file but give it to a `VACUUM INTO` copy.
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        if pages == 0 {
            conn.execute_batch(&format!("PRAGMA page_size = {bytes}"))?;
        }
    }
    let mode = switch_to_wal(&conn, settings.busy_timeout)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(SqliteError::NoWal { mode });
    }
    settings.apply(&conn)?;
    Ok(conn)
}

/// Switches `conn` to write-ahead logging and returns the journal mode it got. SQLite does not
/// call the busy handler for this switch (it could deadlock), so two processes creating the
/// same new file at once would see "database is locked": the switch is tried again, for at
/// most `patience`.
fn switch_to_wal(conn: &Connection, patience: Duration) -> Result<String, SqliteError> {
    let started = std::time::Instant::now();
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && started.elapsed() < patience =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return Ok(other?),
        }
    }
}

/// A private database in memory with `settings` (no write-ahead log: nothing else can open
/// it), for tests and dry runs.
pub fn open_in_memory(settings: &Settings) -> Result<Connection, SqliteError> {
    let conn = Connection::open_in_memory()?;
    settings.apply(&conn)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pragma(conn: &Connection, name: &str) -> String {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| {
            r.get::<_, rusqlite::types::Value>(0)
        })
        .map(|v| match v {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Text(t) => t,
            other => format!("{other:?}"),
        })
        .unwrap()
    }

    #[test]
    fn a_file_database_gets_the_project_settings() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(
            &dir.path().join("a.db"),
            &Settings::new(Duration::from_millis(7_500)),
        )
        .unwrap();
        assert_eq!(
            pragma(&conn, "journal_mode"),
            "wal",
            "readers must not block the writer"
        );
        assert_eq!(
            pragma(&conn, "synchronous"),
            "1",
            "NORMAL: safe with WAL, fewer fsyncs"
        );
        assert_eq!(pragma(&conn, "foreign_keys"), "1");
        assert_eq!(pragma(&conn, "busy_timeout"), "7500");
        assert_eq!(pragma(&conn, "temp_store"), "0", "DEFAULT unless asked");
    }

    #[test]
    fn the_options_set_cache_journal_limit_and_temp_store() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::new(Duration::from_secs(5))
            .cache_kib(4096)
            .journal_size_limit(1 << 20)
            .temp_store(TempStore::Memory);
        let conn = open(&dir.path().join("a.db"), &settings).unwrap();
        assert_eq!(pragma(&conn, "cache_size"), "-4096", "negative: KiB");
        assert_eq!(pragma(&conn, "journal_size_limit"), (1 << 20).to_string());
        assert_eq!(pragma(&conn, "temp_store"), "2", "MEMORY");

        let memory = open_in_memory(&settings).unwrap();
        assert_eq!(pragma(&memory, "cache_size"), "-4096");
        assert_eq!(pragma(&memory, "foreign_keys"), "1");
        assert_eq!(pragma(&memory, "synchronous"), "1");
        assert_eq!(pragma(&memory, "busy_timeout"), "5000");
    }

    #[test]
    fn apply_restores_settings_a_bulk_load_changed() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::new(Duration::from_secs(5)).cache_kib(2048);
        let conn = open(&dir.path().join("a.db"), &settings).unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF; PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;",
        )
        .unwrap();
        settings.apply(&conn).unwrap();
        assert_eq!(pragma(&conn, "foreign_keys"), "1");
        assert_eq!(pragma(&conn, "cache_size"), "-2048");
        assert_eq!(pragma(&conn, "temp_store"), "0");
        assert_eq!(pragma(&conn, "journal_mode"), "wal", "untouched");
    }

    #[test]
    fn the_page_size_is_set_on_a_new_file_and_kept_by_an_existing_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let big = Settings::new(Duration::from_secs(5)).page_size(16384);
        let conn = open(&path, &big).unwrap();
        conn.execute_batch("CREATE TABLE t (x)").unwrap();
        assert_eq!(pragma(&conn, "page_size"), "16384", "a new file takes it");
        drop(conn);
        let again = open(
            &path,
            &Settings::new(Duration::from_secs(5)).page_size(4096),
        )
        .unwrap();
        assert_eq!(
            pragma(&again, "page_size"),
            "16384",
            "a file with tables keeps its size: changing it would need a VACUUM outside WAL"
        );
        assert_eq!(pragma(&again, "journal_mode"), "wal");

        let old = dir.path().join("old.db");
        Connection::open(&old)
            .unwrap()
            .execute_batch("PRAGMA page_size = 4096; CREATE TABLE t (x);")
            .unwrap();
        let conn = open(&old, &big).unwrap();
        assert_eq!(
            pragma(&conn, "page_size"),
            "4096",
            "created before the option"
        );
        let copy = dir.path().join("copy.db");
        conn.execute("VACUUM INTO ?1", [copy.display().to_string()])
            .unwrap();
        let copy = Connection::open(&copy).unwrap();
        assert_eq!(
            pragma(&copy, "page_size"),
            "4096",
            "a backup (VACUUM INTO) keeps the size of the file it copies"
        );
    }

    #[test]
    fn a_missing_file_is_created_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.db");
        let settings = Settings::new(Duration::from_secs(1)).create(false);
        let e = open(&path, &settings).unwrap_err();
        assert_eq!(
            e.sqlite().and_then(|e| e.sqlite_error_code()),
            Some(rusqlite::ErrorCode::CannotOpen),
            "{e}"
        );
        assert!(!path.exists(), "nothing was created");
        open(&path, &settings.create(true)).unwrap();
        assert!(path.is_file());
    }

    #[test]
    fn a_file_that_is_no_database_fails_with_the_sqlite_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("text.db");
        std::fs::write(&path, b"plain text, long enough to look like a header.....").unwrap();
        let e = open(&path, &Settings::new(Duration::from_secs(1))).unwrap_err();
        assert_eq!(
            e.sqlite().and_then(|e| e.sqlite_error_code()),
            Some(rusqlite::ErrorCode::NotADatabase),
            "{e}"
        );
    }

    #[test]
    fn switching_a_new_file_to_wal_waits_for_another_process_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        // Another process is creating the file's first table, still in the rollback journal
        // (it has not switched to WAL yet): changing the journal mode needs it to finish.
        let other = Connection::open(&path).unwrap();
        other
            .execute_batch("BEGIN IMMEDIATE; CREATE TABLE t (x);")
            .unwrap();
        let finisher = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            other.execute_batch("COMMIT").unwrap();
        });
        let conn = open(&path, &Settings::new(Duration::from_secs(5)))
            .expect("the switch is tried again until the other process commits");
        assert_eq!(pragma(&conn, "journal_mode"), "wal");
        finisher.join().unwrap();
    }
}
