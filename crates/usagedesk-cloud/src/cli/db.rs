//! `--db`: where the service keeps its data, a SQLite file or a PostgreSQL database.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use usagedesk_cloud::limits::StorageLimits;
use usagedesk_cloud::storage::{is_postgres_url, redact_url};
use usagedesk_cloud::{PgStorage, SqliteStorage, Store};

/// The environment variable `--db` falls back to, so a PostgreSQL password need not be on
/// the command line (where other users of the machine could read it).
pub const DB_ENV: &str = "USAGEDESK_CLOUD_DB";

/// Help shown for every `--db`.
pub const DB_HELP: &str = "The database: a SQLite file, or a PostgreSQL URL \
    (postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=verify-full); also from $USAGEDESK_CLOUD_DB";

/// A `--db` value.
#[derive(Clone)]
pub enum Db {
    Sqlite(PathBuf),
    /// The URL, password included: never printed (see [`Db`]'s `Display`).
    Postgres(String),
}

impl std::str::FromStr for Db {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("give a SQLite file or a postgres:// URL".into());
        }
        Ok(if is_postgres_url(s) {
            Db::Postgres(s.to_owned())
        } else {
            Db::Sqlite(PathBuf::from(s))
        })
    }
}

/// The file, or the URL without its password.
impl fmt::Display for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Db::Sqlite(p) => write!(f, "{}", p.display()),
            Db::Postgres(url) => f.write_str(&redact_url(url)),
        }
    }
}

impl Db {
    /// Opens the store (a new SQLite file is created; a PostgreSQL database must exist, its
    /// tables are created or migrated).
    pub fn open(&self) -> Result<Arc<dyn Store>> {
        self.open_with(StorageLimits::default())
    }

    pub fn open_with(&self, limits: StorageLimits) -> Result<Arc<dyn Store>> {
        Ok(match self {
            Db::Sqlite(p) => Arc::new(
                SqliteStorage::open_with(p, limits)
                    .with_context(|| format!("cannot open the database {self}"))?,
            ),
            Db::Postgres(url) => Arc::new(
                PgStorage::open_with(url, limits)
                    .with_context(|| format!("cannot open the database {self}"))?,
            ),
        })
    }

    /// Opens the store of a running service: a SQLite file must exist already.
    pub fn open_existing(&self) -> Result<Arc<dyn Store>> {
        if let Db::Sqlite(p) = self {
            if !p.is_file() {
                bail!("no database at {self}: give the --db of the running service");
            }
        }
        self.open()
    }

    /// The SQLite file, for the commands that only work on one.
    pub fn sqlite_file(&self, what: &str) -> Result<&std::path::Path> {
        match self {
            Db::Sqlite(p) => Ok(p),
            Db::Postgres(_) => {
                bail!("{what} works on a SQLite file; for PostgreSQL see docs/deploy.md ({self})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_postgres_and_shown_without_its_password() {
        let db: Db = "postgres://cloud:hunter2@db:5432/usage".parse().unwrap();
        assert!(matches!(db, Db::Postgres(_)));
        assert_eq!(db.to_string(), "postgres://cloud:***@db:5432/usage");
        let file: Db = "/var/lib/usagedesk/cloud.db".parse().unwrap();
        assert!(matches!(file, Db::Sqlite(_)));
        assert!("  ".parse::<Db>().is_err());
    }
}
