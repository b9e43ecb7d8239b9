//! Tauri commands: each adapts one `Desk` method (see docs/ipc.md). No logic lives here.

use std::sync::Arc;

use tauri::{AppHandle, Emitter, State};
use usagedesk_cache::{AccountRow, ChildSort, Page, SearchHit, TrendPoint};
use usagedesk_desktop::{
    AccountDetail, AppError, AppStatus, Desk, ExportOutcome, ExportPlan, ExportProgress,
    ExportRequest,
};
use usagedesk_domain::{Plan, YearMonth};
use usagedesk_sync::SyncReport;

use crate::events;

type Desktop<'a> = State<'a, Arc<Desk>>;

#[tauri::command]
pub fn app_status(desk: Desktop<'_>) -> Result<AppStatus, AppError> {
    desk.status()
}

#[tauri::command]
pub async fn connect(
    app: AppHandle,
    desk: Desktop<'_>,
    url: String,
    token: String,
) -> Result<AppStatus, AppError> {
    let status = desk.connect(&url, &token).await?;
    events::spawn_sync(app, desk.inner().clone());
    Ok(status)
}

#[tauri::command]
pub async fn start_demo(app: AppHandle, desk: Desktop<'_>) -> Result<AppStatus, AppError> {
    let status = desk.start_demo().await?;
    events::spawn_sync(app, desk.inner().clone());
    Ok(status)
}

#[tauri::command]
pub async fn sync_now(app: AppHandle, desk: Desktop<'_>) -> Result<SyncReport, AppError> {
    events::run_sync(&app, desk.inner()).await
}

#[tauri::command]
pub fn cancel_sync(desk: Desktop<'_>) -> Result<(), AppError> {
    desk.cancel_sync()
}

#[tauri::command]
pub fn sign_out(app: AppHandle, desk: Desktop<'_>) -> Result<AppStatus, AppError> {
    let status = desk.sign_out()?;
    let _ = app.emit(events::STATUS_CHANGED, &status);
    Ok(status)
}

#[tauri::command]
pub async fn clear_cache(app: AppHandle, desk: Desktop<'_>) -> Result<AppStatus, AppError> {
    let status = desk.clear_cache().await?;
    let _ = app.emit(events::STATUS_CHANGED, &status);
    Ok(status)
}

#[tauri::command]
pub fn plans(desk: Desktop<'_>) -> Result<Vec<Plan>, AppError> {
    desk.plans()
}

#[tauri::command]
pub fn completed_months(desk: Desktop<'_>) -> Result<Vec<YearMonth>, AppError> {
    desk.completed_months()
}

#[tauri::command]
pub fn children(
    desk: Desktop<'_>,
    parent: Option<String>,
    month: String,
    sort: ChildSort,
    offset: usize,
    limit: usize,
) -> Result<Page<AccountRow>, AppError> {
    desk.children(parent.as_deref(), &month, sort, offset, limit)
}

#[tauri::command]
pub fn account_detail(
    desk: Desktop<'_>,
    id: String,
    month: String,
) -> Result<AccountDetail, AppError> {
    desk.account_detail(&id, &month)
}

#[tauri::command]
pub fn search(desk: Desktop<'_>, text: String, limit: usize) -> Result<Vec<SearchHit>, AppError> {
    desk.search(&text, limit)
}

#[tauri::command]
pub fn trend(
    desk: Desktop<'_>,
    id: String,
    to: String,
    count: usize,
) -> Result<Vec<TrendPoint>, AppError> {
    desk.trend(&id, &to, count)
}

#[tauri::command]
pub fn export_preview(desk: Desktop<'_>, request: ExportRequest) -> Result<ExportPlan, AppError> {
    desk.export_preview(&request)
}

/// Writes the export to `path` (chosen in the save dialog), emitting `export://progress`.
#[tauri::command]
pub async fn export_csv(
    app: AppHandle,
    desk: Desktop<'_>,
    request: ExportRequest,
    path: String,
) -> Result<ExportOutcome, AppError> {
    let progress = move |p: ExportProgress| {
        let _ = app.emit(events::EXPORT_PROGRESS, p);
    };
    desk.export_csv(request, path, progress).await
}

#[tauri::command]
pub fn cancel_export(desk: Desktop<'_>) -> Result<(), AppError> {
    desk.cancel_export()
}
