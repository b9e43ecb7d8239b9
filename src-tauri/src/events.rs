//! Sync runs with their events: `sync://progress`, `sync://finished`, `status://changed`;
//! `export://progress` while an export writes; `file://opened` for files the OS opens with
//! the app once the UI listens.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tauri::{AppHandle, Emitter, Manager, RunEvent};
use tauri_plugin_notification::NotificationExt;
use usagedesk_desktop::{AppError, Desk, LaunchArgs, OpenedFiles, SyncFinished};
use usagedesk_sync::SyncReport;

pub const PROGRESS: &str = "sync://progress";
pub const FINISHED: &str = "sync://finished";
pub const STATUS_CHANGED: &str = "status://changed";
pub const EXPORT_PROGRESS: &str = "export://progress";
pub const FILE_OPENED: &str = "file://opened";

/// Tells the UI the app's status after something changed it (a sync, an air-gap step).
pub async fn emit_status(app: &AppHandle, desk: &Arc<Desk>) {
    if let Ok(s) = desk.current_status().await {
        let _ = app.emit(STATUS_CHANGED, &s);
    }
}

/// Runs one sync, emitting progress, the outcome and the new status.
pub async fn run_sync(app: &AppHandle, desk: &Arc<Desk>) -> Result<SyncReport, AppError> {
    let result = desk
        .sync(|p| {
            let _ = app.emit(PROGRESS, p);
        })
        .await;
    let _ = app.emit(FINISHED, SyncFinished::of(&result));
    emit_status(app, desk).await;
    if result.is_ok() {
        // Its check waits for the writing connection, which the health scores the sync
        // started hold for seconds: the sync answers without waiting for either.
        let (app, desk) = (app.clone(), desk.clone());
        tauri::async_runtime::spawn(async move { remind(&app, &desk).await });
    }
    result
}

/// How often reminders are checked while the app runs (items become due as time passes).
const REMINDER_EVERY: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// The first check after start (a sync that lands checks at once).
const FIRST_REMINDER_AFTER: std::time::Duration = std::time::Duration::from_secs(20);

/// Delivers the reminders a check decides on (`Desk::check_reminders`). Without a
/// notification service nothing is shown, and only that is logged.
pub async fn remind(app: &AppHandle, desk: &Desk) {
    match desk.check_reminders().await {
        Ok(check) => {
            if check.new > 0 {
                tracing::info!(
                    "{} item(s) newly need attention; {} notice(s) to show",
                    check.new,
                    check.notices.len()
                );
            }
            for n in check.notices {
                let shown = app
                    .notification()
                    .builder()
                    .title(&n.title)
                    .body(&n.body)
                    .show();
                if let Err(e) = shown {
                    tracing::warn!("a reminder could not be shown: {e}");
                }
            }
        }
        Err(e) => tracing::warn!("reminders were not checked: {e}"),
    }
}

/// Checks reminders now and then every [`REMINDER_EVERY`] while the app runs.
pub fn spawn_reminders(app: AppHandle, desk: Arc<Desk>) {
    tauri::async_runtime::spawn(async move {
        // Not while the window starts: at 100,000 accounts a check reads every item that
        // needs attention, on one of the two cores a small machine has.
        tokio::time::sleep(FIRST_REMINDER_AFTER).await;
        loop {
            remind(&app, &desk).await;
            tokio::time::sleep(REMINDER_EVERY).await;
        }
    });
}

/// Starts a sync in the background (on start-up, after connecting).
pub fn spawn_sync(app: AppHandle, desk: Arc<Desk>) {
    tauri::async_runtime::spawn(async move {
        if let Err(e) = run_sync(&app, &desk).await {
            tracing::warn!("sync failed: {e}");
        }
    });
}

/// Files to open (arguments of a second launch, macOS's open-document event): to the UI.
pub fn open_files(app: &AppHandle, paths: &[PathBuf]) {
    for file in app.state::<Arc<OpenedFiles>>().open(paths) {
        let _ = app.emit(FILE_OPENED, file);
    }
}

/// A second launch (single-instance plugin): focus this window and open its files.
pub fn second_launch(app: &AppHandle, argv: Vec<String>, cwd: String) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
    match LaunchArgs::parse(argv, Path::new(&cwd)) {
        Ok(args) => open_files(app, &args.files),
        Err(e) => tracing::warn!("a second launch passed arguments this app cannot use: {e}"),
    }
}

/// App events: on macOS, a file opened from the Finder arrives here rather than in the
/// arguments.
pub fn run_event(app: &AppHandle, event: RunEvent) {
    #[cfg(target_os = "macos")]
    if let RunEvent::Opened { urls } = &event {
        let paths: Vec<PathBuf> = urls.iter().filter_map(|u| u.to_file_path().ok()).collect();
        open_files(app, &paths);
    }
    let _ = (app, event);
}
