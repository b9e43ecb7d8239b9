//! Offline CSV export of the usage and entitlements reports, read from the local cache (the column
//! contract is in `docs/export-format.md`).
//!
//! - [`ExportRequest`] (account, scope, month range) is checked by [`plan`] against the
//!   cache and today's date, giving an [`ExportPlan`]: the months with data, the row count
//!   and a file name, which the app shows before anything is written.
//! - [`write_csv`] streams the rows to any writer and returns their SHA-256; [`export_file`]
//!   writes the CSV through a temporary file (renamed into place only when complete, so a
//!   failed or cancelled export leaves nothing behind) and the manifest beside it, signed with
//!   the manager's delegated key when the caller holds one ([`Signing`]).
//! - [`verify_export`] checks an export: the CSV's hash against the manifest, the manifest's
//!   signature and its certificate up to the vendor root key.
//!
//! Both report progress every few thousand rows and stop when the cancel flag is raised.

mod columns;
mod error;
mod file;
mod manifest;
mod request;
mod signing;
mod verify;
mod writer;

pub use columns::{columns, header, neutralise, ENTITLEMENT_COLUMNS};
pub use error::{ExportError, ExportErrorKind};
pub use file::{export_file, manifest_path, signed_manifest_path, ExportOutcome};
pub use manifest::{
    manifest_format, Manifest, SignedManifest, ENTITLEMENTS_MANIFEST_FORMAT, MANIFEST_FORMAT,
};
pub use request::{entitlement_scope, plan, ExportPlan, ExportReport, ExportRequest, MAX_MONTHS};
pub use signing::{ExportSignature, Signing};
pub use verify::{verify_export, SignerFacts, Verification, VerifiedStatus, VerifyError};
pub use writer::{write_csv, Control, CsvSummary, ExportProgress, PROGRESS_EVERY};
