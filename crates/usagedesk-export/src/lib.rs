//! Offline CSV export of usage reports, read from the local cache (the column
//! contract is in `docs/export-format.md`).
//!
//! - [`ExportRequest`] (account, scope, month range) is checked by [`plan`] against the
//!   cache and today's date, giving an [`ExportPlan`]: the months with data, the row count
//!   and a file name, which the app shows before anything is written.
//! - [`write_csv`] streams the rows to any writer and returns their SHA-256; [`export_file`]
//!   writes the CSV through a temporary file (renamed into place only when complete, so a
//!   failed or cancelled export leaves nothing behind) and the manifest beside it.
//!
//! Both report progress every few thousand rows and stop when the cancel flag is raised.

mod columns;
mod error;
mod file;
mod manifest;
mod request;
mod writer;

pub use columns::{header, neutralise};
pub use error::{ExportError, ExportErrorKind};
pub use file::{export_file, manifest_path, ExportOutcome};
pub use manifest::{Manifest, MANIFEST_FORMAT};
pub use request::{plan, ExportPlan, ExportRequest, MAX_MONTHS};
pub use writer::{write_csv, Control, CsvSummary, ExportProgress, PROGRESS_EVERY};
