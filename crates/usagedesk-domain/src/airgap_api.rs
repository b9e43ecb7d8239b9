//! Wire types of the air-gapped exchange's online side (the files themselves are in
//! `docs/airgap-format.md`, crate `usagedesk-airgap`).
//!
//! - The change feed sends [`Instance`]s, so a manager can issue sync keys offline.
//! - `GET /api/v1/airgap/vendor-key` (no token): the vendor root public key.
//! - `POST /api/v1/airgap/certificate` (manager token): certify a manager's delegated key for
//!   the token's scope.
//! - `POST /api/v1/airgap/imports` (manager token): a usage data file a manager imported,
//!   with the sync key it answers; the cloud verifies both again and ingests the records.
//! - `POST /api/v1/instances/{id}/sync-key` and `POST /api/v1/instances/{id}/usage-data` (no
//!   token; the agent's online mode): the same exchange over HTTP, the cloud acting as the
//!   manager.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One instance of the vendor's product at a customer, as the change feed sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Instance {
    pub id: String,
    pub license_id: String,
    /// The customer account the instance belongs to; it reports for this account's subtree.
    pub account_id: String,
    /// Reports by file (air-gapped) rather than online.
    pub airgapped: bool,
    /// The instance's own public key (`ed25519:…`) as the cloud pinned it, once known.
    pub public_key: Option<String>,
    /// The highest record `seq` the cloud holds from this instance (0: none yet).
    pub high_water_mark: u64,
    /// When the cloud last accepted usage from it, by file or online.
    pub last_report_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/airgap/vendor-key`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VendorKey {
    /// `ed25519:…`
    pub public_key: String,
    /// `sha256:…` of the key bytes.
    pub fingerprint: String,
}

/// `POST /api/v1/airgap/certificate`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CertificateRequest {
    /// The manager's delegated public key, `ed25519:…`.
    pub public_key: String,
    /// Who holds it (shown as `issued_by` in the files it signs), e.g. the manager's e-mail.
    pub subject: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CertificateResponse {
    /// The delegation certificate, compact JSON (`DelegationCertificate::to_json`).
    pub certificate: String,
    /// The root public key that signed it, `ed25519:…`.
    pub vendor_key: String,
    /// The certificate scope's account and its ancestors, root first (empty for `*`): a
    /// token's feed holds its subtree only, and sync keys name an instance's whole path.
    #[serde(default)]
    pub scope_path: Vec<String>,
}

/// `POST /api/v1/airgap/imports`: the armored files, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AirgapUpload {
    pub sync_key: String,
    pub usage_data: String,
}

/// What the cloud made of a usage data file (an upload, or the agent's online push).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AirgapAccepted {
    pub instance_id: String,
    /// Records in the file.
    pub received: u64,
    pub new: u64,
    pub already_present: u64,
    pub changed: u64,
    /// The instance's high-water mark after this file.
    pub high_water_mark: u64,
    /// The same file had been accepted before: nothing changed.
    pub replay: bool,
    /// The cloud's own verification key for the file (armored), for the agent's online mode.
    pub verification_key: String,
}

/// `POST /api/v1/instances/{id}/sync-key`, signed by the instance key (headers
/// `X-Usagedesk-Timestamp` and `X-Usagedesk-Signature`, context
/// `usagedesk-sync-key-request-v1`; docs/agent.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OnlineSyncKeyRequest {
    /// The instance's public key, `ed25519:…`: the one the cloud holds for the instance, or
    /// on first contact the one `enrollment` proves.
    pub public_key: String,
    /// First contact: the instance's enrollment (`usagedesk_airgap::Enrollment::to_json`,
    /// made with its license file). Ignored once the cloud holds the instance's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OnlineSyncKeyResponse {
    /// An armored sync key issued by the cloud for this instance.
    pub sync_key: String,
}

/// `POST /api/v1/instances/{id}/usage-data` (answers an online sync key)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OnlineUsageData {
    pub usage_data: String,
}

/// How the vendor's import treated a usage data file's records (in the verification key, the
/// cloud's receipt and the manager's import preview).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportCounts {
    /// Records in the file: `new + already_present + changed`.
    pub received: u64,
    /// Records the vendor did not have.
    pub new: u64,
    /// Records the vendor already had, identical.
    pub already_present: u64,
    /// Records the vendor had with other values, now replaced.
    pub changed: u64,
}
