//! What can go wrong opening or migrating a database.

/// An error of this crate. The messages say what happened to "the database"; callers name
/// their file and add what to do next.
#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// The file system refused write-ahead logging (e.g. a network share): readers would
    /// block the writer, so the database is not used.
    #[error("the database cannot use write-ahead logging (journal mode {mode})")]
    NoWal { mode: String },

    /// The schema was written by a newer build: this one must not touch it.
    #[error("the database has schema version {found}; this build knows up to {known}")]
    TooNew { found: i64, known: i64 },

    /// A schema version no build writes (negative).
    #[error("the database has schema version {found}, which no build writes")]
    BadVersion { found: i64 },

    /// Migration `version` (1-based: it brings the schema to `version`) failed; its
    /// transaction was rolled back, so the schema is still at `version - 1`.
    #[error("migration {version} of the database failed: {source}")]
    Migration {
        version: i64,
        #[source]
        source: rusqlite::Error,
    },
}

impl SqliteError {
    /// The SQLite error underneath, if any (e.g. to tell a busy lock from a damaged file).
    pub fn sqlite(&self) -> Option<&rusqlite::Error> {
        match self {
            Self::Sqlite(e) | Self::Migration { source: e, .. } => Some(e),
            Self::NoWal { .. } | Self::TooNew { .. } | Self::BadVersion { .. } => None,
        }
    }
}
