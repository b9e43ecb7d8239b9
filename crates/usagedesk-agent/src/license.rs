//! The instance's license, from the vendor's license file: who the instance is, where its
//! account sits (whom the agent answers), and the enrollment that proves its key on first
//! contact. What the state holds and how it is checked; taking a new file is in
//! [`crate::enrollment`].

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use usagedesk_airgap::{Enrollment, LicenseFile, PublicKey, Verified};

use crate::error::{AgentError, Result};

/// What the agent holds of its license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LicenseInfo {
    /// The instance's account after its ancestors, root first: the agent answers only sync
    /// keys naming this path, under a certificate whose scope holds it.
    pub account_path: Vec<String>,
    pub airgapped: bool,
    /// The license file's enrollment window.
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The enrollment of this instance's key (the license and the proof).
    #[serde(skip)]
    pub enrollment: Enrollment,
}

/// What `usagedesk-agent license` changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LicenseChange {
    /// The license before (`None`: the state had none).
    pub previous: Option<LicenseInfo>,
    pub license_id: String,
    pub current: LicenseInfo,
}

impl LicenseInfo {
    pub(crate) fn of(enrollment: Enrollment) -> Self {
        let l = &enrollment.license;
        LicenseInfo {
            account_path: l.account_path.clone(),
            airgapped: l.airgapped,
            issued_at: l.issued_at,
            expires_at: l.expires_at,
            enrollment,
        }
    }
}

/// Reads and verifies a license file against the vendor key at `now`.
pub(crate) fn read_license_file(
    bytes: &[u8],
    vendor_key: &PublicKey,
    now: DateTime<Utc>,
) -> Result<Verified<LicenseFile>> {
    Ok(LicenseFile::parse(bytes)?.verify(vendor_key, now)?)
}

/// The enrollment the state holds, checked: the license signed by `vendor_key`, for
/// `instance_id`/`license_id`, proving `public_key`. `None` for a state set up before license
/// files.
pub(crate) fn load(
    conn: &Connection,
    dir: &std::path::Path,
    instance_id: &str,
    license_id: &str,
    public_key: &PublicKey,
    vendor_key: &PublicKey,
) -> Result<Option<LicenseInfo>> {
    let stored: Option<String> = conn
        .query_row("SELECT enrollment FROM instance", [], |r| r.get(0))
        .optional()?
        .flatten();
    let Some(text) = stored else {
        return Ok(None);
    };
    let damaged = |why: String| AgentError::corrupt(dir, format!("agent.db's license {why}"));
    let enrollment: Enrollment =
        serde_json::from_str(&text).map_err(|e| damaged(format!("cannot be read ({e})")))?;
    enrollment
        .check_proof(instance_id, license_id, public_key)
        .map_err(|e| damaged(format!("does not hold ({e})")))?;
    enrollment
        .license
        .verify_signature(vendor_key)
        .map_err(|e| damaged(format!("is not the vendor's ({e})")))?;
    Ok(Some(LicenseInfo::of(enrollment)))
}

/// The column `init` and `license` write: the enrollment, as JSON.
pub(crate) fn column(enrollment: &Enrollment) -> String {
    enrollment.to_json()
}
