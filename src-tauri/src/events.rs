//! Sync runs with their events: `sync://progress`, `sync://finished`, `status://changed`;
//! and `export://progress` while an export writes.

use std::sync::Arc;

use tauri::{AppHandle, Emitter};
use usagedesk_desktop::{AppError, Desk, SyncFinished};
use usagedesk_sync::SyncReport;

pub const PROGRESS: &str = "sync://progress";
pub const FINISHED: &str = "sync://finished";
pub const STATUS_CHANGED: &str = "status://changed";
pub const EXPORT_PROGRESS: &str = "export://progress";

/// Runs one sync, emitting progress, the outcome and the new status.
pub async fn run_sync(app: &AppHandle, desk: &Desk) -> Result<SyncReport, AppError> {
    let result = desk
        .sync(|p| {
            let _ = app.emit(PROGRESS, p);
        })
        .await;
    let _ = app.emit(FINISHED, SyncFinished::of(&result));
    if let Ok(s) = desk.status() {
        let _ = app.emit(STATUS_CHANGED, &s);
    }
    result
}

/// Starts a sync in the background (on start-up, after connecting).
pub fn spawn_sync(app: AppHandle, desk: Arc<Desk>) {
    tauri::async_runtime::spawn(async move {
        if let Err(e) = run_sync(&app, &desk).await {
            tracing::warn!("sync failed: {e}");
        }
    });
}
