//! The one error shape that crosses IPC: `{kind, message}`. The UI branches on `kind`, never
//! on the message; the message tells the user what to do.

use serde::Serialize;
use usagedesk_sync::SyncError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Offline,
    Unauthorized,
    VersionMismatch,
    BadUrl,
    NotUsageDesk,
    NotFound,
    InvalidInput,
    Cache,
    Keyring,
    /// Reading or writing a file the user chose failed.
    Io,
    /// An air-gap exchange file was refused (the message says why and what to do).
    FileRefused,
    /// This usage data file was imported before; nothing changed.
    AlreadyImported,
    /// No air-gap signing certificate yet (or it expired): sync while online.
    NoCertificate,
    Cancelled,
    Busy,
    /// Imported usage data files are still queued for another cloud or account (or the
    /// cache is being cleared with files queued): ask the user, then call again with `force`.
    PendingUploads,
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
}

impl AppError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }
}

/// A lock held by a thread that panicked.
pub(crate) fn lock_err<T>(_: std::sync::PoisonError<T>) -> AppError {
    AppError::new(
        ErrorKind::Internal,
        "an earlier failure left the app in a bad state; restart it",
    )
}

impl From<SyncError> for AppError {
    fn from(e: SyncError) -> Self {
        let kind = match &e {
            SyncError::BadUrl { .. } => ErrorKind::BadUrl,
            SyncError::Unreachable { .. } | SyncError::Timeout { .. } => ErrorKind::Offline,
            SyncError::Unauthorized { .. } => ErrorKind::Unauthorized,
            SyncError::NotUsageDesk { .. } => ErrorKind::NotUsageDesk,
            SyncError::VersionMismatch { .. } => ErrorKind::VersionMismatch,
            SyncError::Cache(_) => ErrorKind::Cache,
            SyncError::Cancelled => ErrorKind::Cancelled,
            SyncError::PendingElsewhere { .. } => ErrorKind::PendingUploads,
            SyncError::Api { status: 404, .. } => ErrorKind::NotFound,
            SyncError::Api { .. } | SyncError::Protocol(_) => ErrorKind::Internal,
        };
        Self::new(kind, e.to_string())
    }
}

impl From<usagedesk_cache::CacheError> for AppError {
    fn from(e: usagedesk_cache::CacheError) -> Self {
        let kind = match &e {
            usagedesk_cache::CacheError::UnknownAccount { .. } => ErrorKind::NotFound,
            _ => ErrorKind::Cache,
        };
        Self::new(kind, e.to_string())
    }
}

impl From<usagedesk_secrets::SecretError> for AppError {
    fn from(e: usagedesk_secrets::SecretError) -> Self {
        Self::new(ErrorKind::Keyring, e.to_string())
    }
}

impl From<usagedesk_sync::SettingsError> for AppError {
    fn from(e: usagedesk_sync::SettingsError) -> Self {
        Self::new(ErrorKind::Internal, e.to_string())
    }
}

impl From<usagedesk_domain::ParseError> for AppError {
    fn from(e: usagedesk_domain::ParseError) -> Self {
        Self::invalid(e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_serialize_as_kind_and_message() {
        let e = AppError::from(SyncError::Unauthorized {
            message: "revoked".into(),
        });
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["kind"], "unauthorized");
        assert!(json["message"].as_str().unwrap().contains("Sign in again"));
        let offline = AppError::from(SyncError::Unreachable {
            url: "http://x/".into(),
            reason: "refused".into(),
        });
        assert_eq!(offline.kind, ErrorKind::Offline);
    }
}
