//! The cache's errors. Every message says what the user can do next.

use std::path::PathBuf;

/// Everything that can go wrong in the local cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(
        "cannot open the local cache at {path}: {source}. Check that its folder exists and is \
         writable, and that no other program holds the file locked"
    )]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error(
        "the local cache at {path} cannot use write-ahead logging (journal mode stayed \
         '{mode}'), which it needs so the app can read while a sync writes. Put the cache on \
         a local disk (not a network share)"
    )]
    NoWal { path: PathBuf, mode: String },

    #[error(
        "the local cache {location} was written by a newer UsageDesk (schema version {found}; \
         this build knows up to {known}). Update the app, or delete the cache file to start \
         over with a full sync"
    )]
    TooNew {
        location: String,
        found: i64,
        known: i64,
    },

    #[error(
        "account '{id}' is not in the local cache. Check the id (search finds accounts by id \
         prefix or name), or sync to fetch accounts added recently"
    )]
    UnknownAccount { id: String },

    #[error(
        "the server sent a count ({value}) too large to store for account '{account_id}' in \
         {month}. Nothing from this page was stored; report this to the vendor"
    )]
    CountTooLarge {
        account_id: String,
        month: String,
        value: u64,
    },

    #[error(
        "the local cache holds an unreadable value ({what}). Clear the cache and sync again \
         to rebuild it from the server"
    )]
    Corrupt { what: String },

    /// A request the cache cannot answer as asked; the message says why.
    #[error("{0}")]
    Invalid(String),

    #[error(
        "the local cache is busy in another UsageDesk window or command ({0}). Wait for it to \
         finish, then retry"
    )]
    Busy(#[source] rusqlite::Error),

    #[error(
        "the local cache failed: {0}. Retry; if it keeps failing, clear the cache and sync \
         again (the server holds all the data)"
    )]
    Sqlite(#[source] rusqlite::Error),
}

impl From<rusqlite::Error> for CacheError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                Self::Busy(e)
            }
            _ => Self::Sqlite(e),
        }
    }
}

pub type Result<T, E = CacheError> = std::result::Result<T, E>;

impl CacheError {
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt { what: what.into() }
    }
}

impl From<rusqlite::types::FromSqlError> for CacheError {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        Self::corrupt(format!("a column of an unexpected type: {e}"))
    }
}
