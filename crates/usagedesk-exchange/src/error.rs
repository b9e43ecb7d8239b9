//! Why an exchange step was refused. Every message says what to do next.

use chrono::{DateTime, Utc};
use usagedesk_airgap::AirgapError;
use usagedesk_cache::CacheError;

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The file itself was refused (size, format, signature, expiry, instance, nonce...).
    #[error("{0}")]
    File(#[from] AirgapError),

    #[error(
        "this usage data file was already imported on {at}; nothing changed. Its verification \
         key is shown again: hand it to the customer"
    )]
    AlreadyImported {
        at: DateTime<Utc>,
        verification_key: String,
    },

    #[error(
        "this usage data file answers a sync key (nonce {nonce}) that was not issued from this \
         computer: import it where the sync key was issued, or issue a new sync key for the \
         instance"
    )]
    UnknownSyncKey { nonce: String },

    #[error(
        "the sync key this file answers was already answered by another file, imported on \
         {at}: issue a new sync key and ask the customer for a new file"
    )]
    AnsweredBefore { at: DateTime<Utc> },

    #[error(
        "instance '{id}' is not in the local cache: check the id, or sync to fetch new instances"
    )]
    UnknownInstance { id: String },

    #[error(
        "no signing certificate yet: sync once while online (the cloud certifies this \
         computer's key then), and try again"
    )]
    NoCertificate,

    #[error(
        "the signing certificate expired on {0}: sync while online to renew it, then try again"
    )]
    CertificateExpired(DateTime<Utc>),

    /// A record of the file cannot be accepted (the cloud would refuse the whole file).
    #[error("{0}")]
    Records(String),

    #[error("{0}")]
    Invalid(String),

    #[error(transparent)]
    Cache(#[from] CacheError),

    #[error(transparent)]
    Secrets(#[from] usagedesk_secrets::SecretError),

    #[error(transparent)]
    Sync(#[from] usagedesk_sync::SyncError),

    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: std::path::PathBuf,
        source: std::io::Error,
    },

    #[error(
        "{} is {len} bytes, more than any exchange file: check it is the right file",
        path.display()
    )]
    NotAnExchangeFile { path: std::path::PathBuf, len: u64 },
}

/// What kind of failure, for callers that branch on it (the app's error codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeErrorKind {
    /// A refused file; `usagedesk_airgap::ErrorKind` says why.
    File(usagedesk_airgap::ErrorKind),
    AlreadyImported,
    WrongNonce,
    /// A record the cloud would refuse (another account, unknown plan, bad date).
    Records,
    NotFound,
    NoCertificate,
    Invalid,
    Cache,
    Keyring,
    Sync,
    /// Reading or writing a file failed.
    Io,
    /// A file far larger than any exchange file.
    NotAnExchangeFile,
}

impl ExchangeError {
    pub fn kind(&self) -> ExchangeErrorKind {
        match self {
            Self::File(e) => ExchangeErrorKind::File(e.kind()),
            Self::AlreadyImported { .. } => ExchangeErrorKind::AlreadyImported,
            Self::UnknownSyncKey { .. } | Self::AnsweredBefore { .. } => {
                ExchangeErrorKind::WrongNonce
            }
            Self::Records(_) => ExchangeErrorKind::Records,
            Self::UnknownInstance { .. } => ExchangeErrorKind::NotFound,
            Self::NoCertificate | Self::CertificateExpired(_) => ExchangeErrorKind::NoCertificate,
            Self::Invalid(_) => ExchangeErrorKind::Invalid,
            Self::Cache(_) => ExchangeErrorKind::Cache,
            Self::Secrets(_) => ExchangeErrorKind::Keyring,
            Self::Sync(_) => ExchangeErrorKind::Sync,
            Self::Io { .. } => ExchangeErrorKind::Io,
            Self::NotAnExchangeFile { .. } => ExchangeErrorKind::NotAnExchangeFile,
        }
    }
}
