//! The cloud side of the air-gapped exchange (`docs/airgap-format.md`, "Online endpoints"):
//! the vendor root key and the cloud's own delegated key ([`keys`]), instances and the
//! checks that bind a file to one ([`instances`]), manager uploads of usage data files
//! ([`imports`]), the agent's online mode ([`online`]), and instance identity: license files,
//! first contacts, key resets ([`identity`]).
//!
//! Nothing here trusts the desktop: every file is parsed and verified again against the
//! cloud's own root key, tree and pinned instance keys. Nothing here reads the clock or the
//! OS random source: time and randomness are arguments.

pub mod identity;
pub mod imports;
pub mod instances;
pub mod keys;
pub mod online;
pub mod records;
pub mod signed_request;

use chrono::{DateTime, NaiveDate, Utc};
use usagedesk_airgap::{AirgapError, ErrorKind};

use crate::storage::StoreError;

/// Why the cloud refused a request of the exchange. Every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The instance does not exist or the caller may not see it.
    #[error("{0}")]
    NotFound(String),
    /// A file or request that does not verify or breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request's signature or its time does not verify (an instance's check-in).
    #[error("{0}")]
    Unauthorized(String),
    /// The request contradicts what the cloud already accepted (a nonce answered twice).
    #[error("{0}")]
    Conflict(String),
    /// A file over its size limit.
    #[error("{0}")]
    TooLarge(String),
    /// Signed under a certificate of a revoked token.
    #[error("{0}")]
    Revoked(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(c) => Refusal::Conflict(c.to_string()),
            StoreError::Invalid(m) => Refusal::Invalid(m),
            other => Refusal::Store(other),
        }
    }
}

impl From<AirgapError> for Refusal {
    fn from(e: AirgapError) -> Self {
        match e.kind() {
            ErrorKind::TooLarge => Refusal::TooLarge(e.to_string()),
            _ => Refusal::Invalid(e.to_string()),
        }
    }
}

/// The cloud's clock, read once per request.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub now: DateTime<Utc>,
    /// Bounds the dates of ingested records.
    pub today: NaiveDate,
}

/// `2026-04-01 09:00:00 UTC`, as the files' own messages write times.
pub(crate) fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
