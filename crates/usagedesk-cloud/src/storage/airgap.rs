//! The air-gapped exchange: the vendor root key, the cloud's own signer, delegations, the
//! sync keys issued online, and accepted usage data files.

use chrono::{DateTime, Utc};
use usagedesk_airgap::RootKey;
use usagedesk_domain::Instance;

use super::identity::PinGrant;
use super::tenants::DailyRow;
use super::{StoreError, TokenScope};

/// The cloud's own delegated signing key, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigner {
    /// `ed25519-secret:…`
    pub secret: String,
    /// Its delegation certificate, compact JSON.
    pub certificate: String,
}

/// A delegation certificate given to a manager's key, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    pub public_key: String,
    pub subject: String,
    pub scope: String,
    pub token_name: String,
    /// The token the certificate was issued to.
    pub token_id: String,
    /// SHA-256 (hex) of the certificate's compact JSON.
    pub certificate_sha256: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A sync key the cloud issued to an instance (online mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineSyncKey {
    /// 64 lowercase hex digits.
    pub nonce: String,
    pub instance_id: String,
    /// The armored file.
    pub sync_key: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// How a usage data file reached the cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageVia {
    /// Uploaded by a manager (`POST /api/v1/airgap/imports`).
    Import,
    /// Sent by the instance itself (`POST /api/v1/instances/{id}/usage-data`).
    Online,
}

impl UsageVia {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Import => "import",
            Self::Online => "online",
        }
    }
}

/// A verified usage data file to write, its records already validated as daily rows.
#[derive(Debug, Clone)]
pub struct UsageFile {
    /// SHA-256 of the file (canonical form), hex.
    pub sha256: String,
    /// The nonce it answers, hex.
    pub nonce: String,
    pub instance_id: String,
    /// The key that signed it: must be the pinned one, or is pinned with `pin` when the instance
    /// has none yet.
    pub instance_key: String,
    /// First contact: the verified enrollment that allows pinning `instance_key`.
    pub pin: Option<PinGrant>,
    /// The highest record `seq` it carries (its mark when it carries none); at most `i64::MAX`.
    pub highest_seq: u64,
    /// One per record, in `seq` order.
    pub rows: Vec<DailyRow>,
    /// The records' `seq`, in the same order (each at most `i64::MAX`).
    pub seqs: Vec<u64>,
    pub via: UsageVia,
    /// The token name (imports) or `instance` (online).
    pub accepted_by: String,
    pub now: DateTime<Utc>,
}

/// How the records of a file compare with what the cloud held: the counts the verification
/// key reports (`new`: no daily row for (account, date) yet; `already_present`: the same plan
/// and counts held; `changed`: another plan or other counts held, replaced).
pub use usagedesk_airgap::ImportCounts;

/// The cloud's answer to a usage data file, stored with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedFile {
    pub instance_id: String,
    pub counts: ImportCounts,
    /// The instance's mark after the file.
    pub high_water_mark: u64,
    /// The cloud's verification key for the file (armored).
    pub verification_key: String,
    /// The file had been accepted before; nothing was written this time.
    pub replay: bool,
}

/// Writes the verification key of a file once its counts are known (inside the write).
pub type ReceiptWriter<'a> = dyn FnMut(&ImportCounts) -> Result<String, StoreError> + 'a;

/// Keys and files of the air-gapped exchange.
pub trait AirGap {
    /// The vendor root key, when one is stored.
    fn root_key(&self) -> Result<Option<RootKey>, StoreError>;

    /// Stores `key` as the vendor root key unless one is stored already; returns the stored
    /// one. Two processes creating one together both get the first that was stored.
    fn insert_root_key(&self, key: &RootKey, now: DateTime<Utc>) -> Result<RootKey, StoreError>;

    /// The vendor root key, created (from the operating system's random source) the first
    /// time it is asked for. It never leaves the service.
    fn vendor_root_key(&self) -> Result<RootKey, StoreError> {
        crate::airgap::keys::root_key(self, &mut rand::rngs::OsRng, Utc::now())
    }

    /// The cloud's own delegated key and certificate, when one was stored.
    fn cloud_signer(&self) -> Result<Option<StoredSigner>, StoreError>;

    /// Replaces the cloud's own delegated key and certificate.
    fn save_cloud_signer(
        &self,
        signer: &StoredSigner,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Stores `signer` as the cloud's own key unless one is stored already; returns the stored
    /// one. Two processes creating one together both get the first that was stored.
    fn insert_cloud_signer(
        &self,
        signer: &StoredSigner,
        now: DateTime<Utc>,
    ) -> Result<StoredSigner, StoreError>;

    /// Records a certificate given to a manager's key.
    fn record_delegation(&self, delegation: &Delegation) -> Result<(), StoreError>;

    /// The instance, when it exists and `scope` may see its account.
    fn instance(&self, scope: &TokenScope, id: &str) -> Result<Option<Instance>, StoreError>;

    /// The file accepted earlier with this SHA-256 (hex), if any.
    fn accepted_file(&self, sha256: &str) -> Result<Option<AcceptedFile>, StoreError>;

    /// Remembers the sync key issued to an instance whose key is `public_key`, in one
    /// transaction with its first pin: the instance must be pinned to `public_key` already, or
    /// have no key and `pin` must hold (its enrollment key issued for the instance and not
    /// revoked); else [`StoreError::Conflict`] and nothing is written. A pin is recorded in
    /// the instance's key history. Only the newest keys of an instance are kept (a bound of
    /// the engine's configuration).
    fn save_online_sync_key(
        &self,
        key: &OnlineSyncKey,
        public_key: &str,
        pin: Option<&PinGrant>,
    ) -> Result<(), StoreError>;

    /// A sync key the cloud issued, by nonce (hex).
    fn online_sync_key(&self, nonce: &str) -> Result<Option<OnlineSyncKey>, StoreError>;

    /// Writes a verified usage data file in one transaction: its daily rows (counted against
    /// what was held; a record older than the one of the same instance that last wrote its day
    /// is skipped as already present), the instance's pinned key, mark and last report, and
    /// the file itself with the verification key `receipt` writes. The same file again is a
    /// replay (nothing written); another file answering the same nonce is a
    /// [`StoreError::Conflict`].
    fn accept_usage_file(
        &self,
        file: &UsageFile,
        receipt: &mut ReceiptWriter<'_>,
    ) -> Result<AcceptedFile, StoreError>;
}
