//! Why an export could not be written. Every message says what to do next.

use std::path::PathBuf;

use usagedesk_cache::CacheError;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The request itself is wrong (bad month, reversed range, unknown account, ...).
    #[error("{0}")]
    Invalid(String),

    #[error("the export was cancelled; no file was written")]
    Cancelled,

    // The I/O error is part of the message (not a `source`), so it is printed once.
    #[error("cannot write {path}: {error}. Choose a folder you can write to, with free space")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },

    /// Writing the CSV failed (a stream: the file variant is `Io`).
    #[error("cannot write the export: {0}. Check free space and that the destination is writable")]
    Output(std::io::Error),

    #[error(transparent)]
    Cache(CacheError),
}

/// What kind of failure, for callers that branch on it (the app's error kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportErrorKind {
    Invalid,
    NotFound,
    Cancelled,
    Io,
    Cache,
}

impl ExportError {
    pub fn kind(&self) -> ExportErrorKind {
        match self {
            Self::Invalid(_) => ExportErrorKind::Invalid,
            Self::Cancelled => ExportErrorKind::Cancelled,
            Self::Io { .. } | Self::Output(_) => ExportErrorKind::Io,
            Self::Cache(CacheError::UnknownAccount { .. }) => ExportErrorKind::NotFound,
            Self::Cache(_) => ExportErrorKind::Cache,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |error| Self::Io { path, error }
    }
}

impl From<CacheError> for ExportError {
    fn from(e: CacheError) -> Self {
        Self::Cache(e)
    }
}
