//! The manager's side of the air-gapped exchange (DESIGN.md, "Air-gapped exchange"), shared
//! by the CLI and the desktop app. Files and signatures: crate `usagedesk-airgap`; storage:
//! `usagedesk_cache::airgap`.
//!
//! - [`sync_and_certify`]: the sync both the app and the CLI run, with
//!   [`refresh_certificate`] (while online, after a sync): fetches the vendor key and has the
//!   cloud certify this manager's delegated key (kept in the OS keyring) for the token's scope.
//! - [`Signer::load`] then works offline: [`issue_sync_key`] for an instance, and
//!   [`preview_import`] / [`import`] of the usage data file that answers it, which writes the
//!   records to the cache at once (marked pending upload), queues the file for the cloud
//!   (pushed by the next sync, where the cloud verifies it again) and returns the
//!   verification key for the instance.

mod error;
mod files;
mod import;
mod issue;
mod session;
mod signer;

pub use error::{ExchangeError, ExchangeErrorKind};
pub use files::{read_exchange_file, write_exchange_file, MAX_EXCHANGE_FILE_BYTES};
pub use import::{import, preview_import, ImportOutcome, ImportPreview};
pub use issue::{issue_sync_key, IssuedSyncKey, DEFAULT_SYNC_KEY_DAYS};
pub use session::{discard_upload, retry_upload, subject, sync_and_certify, Retried, Synced};
pub use signer::{
    cached_vendor_key, export_signer, forget_signer, refresh_certificate, CertificateStatus, Signer,
};

pub use usagedesk_domain::overdue::{overdue_cutoff, OVERDUE_DAYS};

/// Whether an air-gapped instance is overdue at `now` ([`usagedesk_domain::overdue`]): its
/// last verified exchange is the latest of its import here and its report through the cloud.
pub fn is_overdue(
    row: &usagedesk_cache::AirgapInstance,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    usagedesk_domain::overdue::is_overdue(
        row.instance.airgapped,
        [row.last_import_at, row.instance.last_report_at],
        now,
    )
}
