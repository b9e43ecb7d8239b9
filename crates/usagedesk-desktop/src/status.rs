use serde::Serialize;

use usagedesk_sync::SyncReport;

use crate::AppError;

/// What the UI needs to know about the app as a whole (see docs/ipc.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct AppStatus {
    pub version: String,
    pub data_dir: String,
    pub cache_path: String,
    /// `None`: never connected (the UI shows the connect screen).
    pub cloud_url: Option<String>,
    /// Whose subtree the token sees.
    pub account_name: Option<String>,
    /// A token is in the keyring (or the demo runs).
    pub signed_in: bool,
    pub demo: bool,
    /// Where the token is kept.
    pub keyring: String,
    /// RFC 3339.
    pub last_synced_at: Option<String>,
    pub syncing: bool,
    /// `None`: not known yet.
    pub online: Option<bool>,
    pub last_error: Option<AppError>,
    pub accounts: u64,
    pub month_rows: u64,
    pub db_bytes: u64,
    /// Imported usage data files kept until the cloud accepts them: queued for this cloud
    /// and account, refused, or queued for another cloud or account.
    pub outbox: usagedesk_cache::OutboxSummary,
}

/// The payload of the `sync://finished` event: emitted after every sync, whoever started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SyncFinished {
    pub ok: bool,
    pub report: Option<SyncReport>,
    pub error: Option<AppError>,
}

impl SyncFinished {
    pub fn of(result: &Result<SyncReport, AppError>) -> Self {
        Self {
            ok: result.is_ok(),
            report: result.as_ref().ok().cloned(),
            error: result.as_ref().err().cloned(),
        }
    }
}
