//! Instance identity: license files issued, enrollment keys, key resets and key history.

use chrono::{DateTime, Utc};

use super::StoreError;

/// The right to pin a first key for an instance: an enrollment the service verified, made with
/// the license file whose enrollment key this is. Re-checked (issued for the instance, not
/// revoked) in the transaction that pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinGrant {
    /// `ed25519:…`, the license file's enrollment public key.
    pub enrollment_key: String,
    /// Who brought the enrollment: `instance (online)`, or the manager token's name.
    pub actor: String,
    pub now: DateTime<Utc>,
}

/// A license file the vendor issued, as the service records it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseFileRecord {
    pub instance_id: String,
    pub license_id: String,
    /// `ed25519:…`
    pub enrollment_key: String,
    pub account_path: Vec<String>,
    pub airgapped: bool,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Who issued it (the operator's name).
    pub issued_by: String,
}

/// What the service knows of a license file's enrollment key, for one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentKeyState {
    /// Issued for the instance and not revoked.
    Usable,
    /// Issued for the instance, revoked then.
    Revoked(DateTime<Utc>),
    /// Never issued for this instance by this service.
    Unknown,
}

/// A change of an instance's key, for its history (`usagedesk-cloud instance history`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyEvent {
    pub instance_id: String,
    pub at: DateTime<Utc>,
    /// `license_file_issued`, `enrolled`, `registered`, `reset`, `license_files_revoked`.
    pub event: String,
    pub actor: String,
    /// The instance key enrolled, registered or reset; a license file's enrollment key.
    pub public_key: Option<String>,
    pub detail: String,
}

/// What `reset_instance_key` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReset {
    /// The key that was pinned (`None`: there was none).
    pub previous_key: Option<String>,
    /// License files revoked.
    pub revoked: u64,
    /// License files still able to enroll the instance (issued, not revoked, not expired).
    pub usable_license_files: u64,
}

/// What the vendor issued for an instance and what happened to its key.
pub trait InstanceIdentity {
    /// Records a license file issued for an instance (and the event in its key history).
    fn record_license_file(&self, record: &LicenseFileRecord) -> Result<(), StoreError>;

    /// Whether `enrollment_key` belongs to a license file issued for `instance_id`, and
    /// whether it was revoked.
    fn enrollment_key_state(
        &self,
        instance_id: &str,
        enrollment_key: &str,
    ) -> Result<EnrollmentKeyState, StoreError>;

    /// Removes the instance's pinned key (its next first contact must enroll again), forgets
    /// the online sync keys issued to it, and with `revoke_license_files` revokes every
    /// license file issued for it; records who did it and when. In one transaction.
    fn reset_instance_key(
        &self,
        instance_id: &str,
        revoke_license_files: bool,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<KeyReset, StoreError>;

    /// The instance's key history, oldest first.
    fn instance_key_events(&self, instance_id: &str) -> Result<Vec<KeyEvent>, StoreError>;
}
