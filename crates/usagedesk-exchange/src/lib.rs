//! The manager's side of the air-gapped exchange (DESIGN.md, "Air-gapped exchange"), shared
//! by the CLI and the desktop app. Files and signatures: crate `usagedesk-airgap`; storage:
//! `usagedesk_cache::airgap`.
//!
//! - [`refresh_certificate`] (while online, after a sync): fetches the vendor key and has the
//!   cloud certify this manager's delegated key (kept in the OS keyring) for the token's scope.
//! - [`Signer::load`] then works offline: [`issue_sync_key`] for an instance, and
//!   [`preview_import`] / [`import`] of the usage data file that answers it, which writes the
//!   records to the cache at once (marked pending upload), queues the file for the cloud
//!   (pushed by the next sync, where the cloud verifies it again) and returns the
//!   verification key for the instance.

mod error;
mod import;
mod issue;
mod signer;

pub use error::{ExchangeError, ExchangeErrorKind};
pub use import::{import, preview_import, ImportOutcome, ImportPreview};
pub use issue::{issue_sync_key, IssuedSyncKey, DEFAULT_SYNC_KEY_DAYS};
pub use signer::{forget_signer, refresh_certificate, CertificateStatus, Signer};

/// Days without a verified usage data file after which an air-gapped instance is overdue.
pub const OVERDUE_DAYS: i64 = 31;

/// The time before which an air-gapped instance's last verified exchange makes it overdue
/// at `now` (what [`is_overdue`] means, for the cache's paged queries).
pub fn overdue_cutoff(now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    now - chrono::Duration::days(OVERDUE_DAYS)
}

/// Whether an air-gapped instance last reported (by file, here or through the cloud) more
/// than [`OVERDUE_DAYS`] ago, or never.
pub fn is_overdue(row: &usagedesk_cache::InstanceRow, now: chrono::DateTime<chrono::Utc>) -> bool {
    let last = [row.last_import_at, row.instance.last_report_at]
        .into_iter()
        .flatten()
        .max();
    row.instance.airgapped && last.is_none_or(|t| now - t > chrono::Duration::days(OVERDUE_DAYS))
}
