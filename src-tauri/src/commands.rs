//! Tauri commands: each adapts one `Desk` method (see docs/ipc.md). No logic lives here.
//!
//! No command reads the cache on the main thread, where GTK draws the window and every IPC
//! answer passes (Tauri runs a plain command there): a 100 ms page of Air-gapped held back
//! the answers to every other view's request. The reads run on the thread of their reading
//! connection (`Desk::run_read`, `Desk::run_subtree_read`; see `lanes.rs` in the desktop
//! crate), not on the async runtime's few worker threads, which carry the sync's and the demo
//! cloud's I/O. The other `async` commands (sync, connect, import, export) are `Desk`'s own
//! async methods.

use std::sync::Arc;

use tauri::{AppHandle, Emitter, State};
use usagedesk_cache::{
    AccountRow, AirgapPage, ChildSort, InstanceQuery, LedgerQuery, LedgerRow, Page, SearchHit,
    TrendPoint,
};
use usagedesk_desktop::{
    AccountDetail, AppError, AppStatus, AttentionCounts, AttentionKind, AttentionPage,
    CustomerCounts, CustomerFilter, CustomerHealth, CustomerPage, CustomerSort, CustomerSummary,
    Desk, DroppedFile, EntitlementCard, ExportOutcome, ExportPlan, ExportProgress, ExportRequest,
    HealthFactor, HealthPage, ImportOutcome, InstanceCard, InstanceDetail, InstanceView,
    IssuedSyncKey, LicenseFilter, LicenseListItem, LocalZone, OpenedFile, OpenedFiles,
    RenewalCalendar,
};
use usagedesk_domain::customer::{InstallAttempt, InstanceEvent};
use usagedesk_domain::{Plan, YearMonth};
use usagedesk_sync::outbox::PushReport;
use usagedesk_sync::SyncReport;

use crate::events;

type Desktop<'a> = State<'a, Arc<Desk>>;

#[tauri::command]
pub async fn app_status(desk: Desktop<'_>) -> Result<AppStatus, AppError> {
    desk.inner().current_status().await
}

#[tauri::command]
pub async fn connect(
    app: AppHandle,
    desk: Desktop<'_>,
    url: String,
    token: String,
    force: Option<bool>,
) -> Result<AppStatus, AppError> {
    let status = desk.connect(&url, &token, force.unwrap_or(false)).await?;
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
pub async fn cancel_sync(desk: Desktop<'_>) -> Result<(), AppError> {
    // A flag: never behind the reads queued before it.
    desk.cancel_sync()
}

#[tauri::command]
pub async fn sign_out(app: AppHandle, desk: Desktop<'_>) -> Result<AppStatus, AppError> {
    let status = desk.sign_out().await?;
    let _ = app.emit(events::STATUS_CHANGED, &status);
    Ok(status)
}

#[tauri::command]
pub async fn clear_cache(
    app: AppHandle,
    desk: Desktop<'_>,
    force: Option<bool>,
) -> Result<AppStatus, AppError> {
    let status = desk.clear_cache(force.unwrap_or(false)).await?;
    let _ = app.emit(events::STATUS_CHANGED, &status);
    Ok(status)
}

#[tauri::command]
pub async fn plans(desk: Desktop<'_>) -> Result<Vec<Plan>, AppError> {
    desk.inner().run_read(move |d| d.plans()).await
}

#[tauri::command]
pub async fn completed_months(desk: Desktop<'_>) -> Result<Vec<YearMonth>, AppError> {
    desk.inner().run_read(move |d| d.completed_months()).await
}

#[tauri::command]
pub async fn children(
    desk: Desktop<'_>,
    parent: Option<String>,
    month: String,
    sort: ChildSort,
    offset: usize,
    limit: usize,
) -> Result<Page<AccountRow>, AppError> {
    desk.inner()
        .run_read(move |d| d.children(parent.as_deref(), &month, sort, offset, limit))
        .await
}

#[tauri::command]
pub async fn account_detail(
    desk: Desktop<'_>,
    id: String,
    month: String,
) -> Result<AccountDetail, AppError> {
    desk.inner()
        .run_read(move |d| d.account_detail(&id, &month))
        .await
}

#[tauri::command]
pub async fn search(
    desk: Desktop<'_>,
    text: String,
    limit: usize,
) -> Result<Vec<SearchHit>, AppError> {
    desk.inner().run_read(move |d| d.search(&text, limit)).await
}

#[tauri::command]
pub async fn trend(
    desk: Desktop<'_>,
    id: String,
    to: String,
    count: usize,
) -> Result<Vec<TrendPoint>, AppError> {
    desk.inner()
        .run_read(move |d| d.trend(&id, &to, count))
        .await
}

#[tauri::command]
pub async fn export_preview(
    desk: Desktop<'_>,
    request: ExportRequest,
) -> Result<ExportPlan, AppError> {
    desk.inner()
        .run_read(move |d| d.export_preview(&request))
        .await
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
pub async fn cancel_export(desk: Desktop<'_>) -> Result<(), AppError> {
    // A flag: never behind the reads queued before it.
    desk.cancel_export()
}

#[tauri::command]
pub async fn airgap_instances(
    desk: Desktop<'_>,
    query: InstanceQuery,
) -> Result<AirgapPage<InstanceView>, AppError> {
    desk.inner()
        .run_read(move |d| d.airgap_instances(&query))
        .await
}

#[tauri::command]
pub async fn airgap_overdue_count(desk: Desktop<'_>) -> Result<u64, AppError> {
    desk.inner()
        .run_read(move |d| d.airgap_overdue_count())
        .await
}

#[tauri::command]
pub async fn airgap_ledger(
    desk: Desktop<'_>,
    query: LedgerQuery,
) -> Result<AirgapPage<LedgerRow>, AppError> {
    desk.inner()
        .run_read(move |d| d.airgap_ledger(&query))
        .await
}

/// Queues a kept file again and tries to upload it now.
#[tauri::command]
pub async fn airgap_retry(
    app: AppHandle,
    desk: Desktop<'_>,
    ledger_id: i64,
) -> Result<PushReport, AppError> {
    let report = desk.airgap_retry(ledger_id).await?;
    events::emit_status(&app, desk.inner()).await;
    Ok(report)
}

/// Drops a kept file for good (the UI asks first).
#[tauri::command]
pub async fn airgap_discard(
    app: AppHandle,
    desk: Desktop<'_>,
    ledger_id: i64,
) -> Result<(), AppError> {
    desk.airgap_discard(ledger_id).await?;
    events::emit_status(&app, desk.inner()).await;
    Ok(())
}

/// Issues a sync key and saves it at `path` (chosen in the save dialog).
#[tauri::command]
pub async fn airgap_issue_sync_key(
    desk: Desktop<'_>,
    instance_id: String,
    valid_days: u32,
    path: String,
) -> Result<IssuedSyncKey, AppError> {
    desk.airgap_issue_sync_key(&instance_id, valid_days, &path)
        .await
}

/// What a file dropped on the window would import (the drop handler calls this).
#[tauri::command]
pub async fn airgap_preview(desk: Desktop<'_>, path: String) -> Result<DroppedFile, AppError> {
    desk.inner()
        .run_read(move |d| d.airgap_preview(&path))
        .await
}

#[tauri::command]
pub async fn airgap_import(
    app: AppHandle,
    desk: Desktop<'_>,
    path: String,
    verification_path: String,
) -> Result<ImportOutcome, AppError> {
    let done = desk.airgap_import(&path, &verification_path).await?;
    events::emit_status(&app, desk.inner()).await;
    Ok(done)
}

#[tauri::command]
pub async fn airgap_save_document(
    desk: Desktop<'_>,
    ledger_id: i64,
    path: String,
) -> Result<(), AppError> {
    desk.inner()
        .run_read(move |d| d.airgap_save_document(ledger_id, &path))
        .await
}

#[tauri::command]
pub async fn customers(
    desk: Desktop<'_>,
    filter: CustomerFilter,
    sort: CustomerSort,
    offset: u64,
    limit: u64,
) -> Result<Page<CustomerSummary>, AppError> {
    desk.inner()
        .run_read(move |d| d.customers(&filter, sort, offset, limit))
        .await
}

#[tauri::command]
pub async fn customer_counts(desk: Desktop<'_>) -> Result<CustomerCounts, AppError> {
    desk.inner().run_read(move |d| d.customer_counts()).await
}

#[tauri::command]
pub async fn customer(desk: Desktop<'_>, account_id: String) -> Result<CustomerPage, AppError> {
    desk.inner()
        .run_read(move |d| d.customer(&account_id))
        .await
}

#[tauri::command]
pub async fn customer_instances(
    desk: Desktop<'_>,
    account_id: String,
    offset: u64,
    limit: u64,
) -> Result<Page<InstanceCard>, AppError> {
    desk.inner()
        .run_read(move |d| d.customer_instances(&account_id, offset, limit))
        .await
}

#[tauri::command]
pub async fn install_attempts(
    desk: Desktop<'_>,
    account_id: String,
    offset: u64,
    limit: u64,
) -> Result<Page<InstallAttempt>, AppError> {
    desk.inner()
        .run_read(move |d| d.install_attempts(&account_id, offset, limit))
        .await
}

#[tauri::command]
pub async fn instance_detail(
    desk: Desktop<'_>,
    instance_id: String,
) -> Result<InstanceDetail, AppError> {
    desk.inner()
        .run_read(move |d| d.instance_detail(&instance_id))
        .await
}

#[tauri::command]
pub async fn instance_events(
    desk: Desktop<'_>,
    instance_id: String,
    offset: u64,
    limit: u64,
) -> Result<Page<InstanceEvent>, AppError> {
    desk.inner()
        .run_read(move |d| d.instance_events(&instance_id, offset, limit))
        .await
}

/// On the subtree lane: a large subtree's roll-up reads for a while.
#[tauri::command]
pub async fn entitlement_card(
    desk: Desktop<'_>,
    account_id: String,
    month: String,
) -> Result<EntitlementCard, AppError> {
    (desk.inner())
        .run_subtree_read(move |d| d.entitlement_card(&account_id, &month))
        .await
}

/// On the subtree lane: a large subtree's list reads for a while.
#[tauri::command]
pub async fn license_list(
    desk: Desktop<'_>,
    account_id: Option<String>,
    month: String,
    filter: LicenseFilter,
    offset: u64,
    limit: u64,
) -> Result<Page<LicenseListItem>, AppError> {
    (desk.inner())
        .run_subtree_read(move |d| {
            d.license_list(account_id.as_deref(), &month, filter, offset, limit)
        })
        .await
}

/// The first page of a day starts the recomputation of every customer's score, in the
/// background: the page shows the stored scores meanwhile.
#[tauri::command]
pub async fn health_list(
    desk: Desktop<'_>,
    sort: Option<HealthFactor>,
    descending: bool,
    offset: u64,
    limit: u64,
) -> Result<HealthPage, AppError> {
    desk.inner()
        .run_read(move |d| d.health_list(sort, descending, offset, limit))
        .await
}

#[tauri::command]
pub async fn customer_health(
    desk: Desktop<'_>,
    account_id: String,
) -> Result<CustomerHealth, AppError> {
    desk.inner()
        .run_read(move |d| d.customer_health(&account_id))
        .await
}

#[tauri::command]
pub async fn renewal_calendar(
    desk: Desktop<'_>,
    months: u32,
    offset: u64,
    limit: u64,
) -> Result<RenewalCalendar, AppError> {
    desk.inner()
        .run_read(move |d| d.renewal_calendar(months, offset, limit))
        .await
}

#[tauri::command(async)]
pub async fn export_renewals(
    desk: Desktop<'_>,
    months: u32,
    path: String,
) -> Result<u64, AppError> {
    desk.export_renewals(months, &path).await
}

/// Off the main thread: the over-seats items read the month's entitlements.
#[tauri::command]
pub async fn attention(
    desk: Desktop<'_>,
    kind: Option<AttentionKind>,
    offset: u64,
    limit: u64,
) -> Result<AttentionPage, AppError> {
    desk.inner()
        .run_read(move |d| d.attention(kind, offset, limit))
        .await
}

#[tauri::command]
pub async fn attention_counts(desk: Desktop<'_>) -> Result<AttentionCounts, AppError> {
    desk.inner().run_read(move |d| d.attention_counts()).await
}

#[tauri::command]
pub async fn reminders_enabled(desk: Desktop<'_>) -> Result<bool, AppError> {
    // The settings file only: no read of the cache to queue behind.
    desk.reminders_enabled()
}

#[tauri::command]
pub async fn set_reminders(desk: Desktop<'_>, enabled: bool) -> Result<bool, AppError> {
    // The settings file only (under its own lock).
    desk.set_reminders(enabled)
}

/// The files opened with the app before the UI listened; later ones come as `file://opened`.
#[tauri::command]
pub fn take_opened_files(opened: State<'_, Arc<OpenedFiles>>) -> Vec<OpenedFile> {
    opened.take()
}

/// The computer's time zone as UTC offsets, read once by the UI for its local dates and times.
#[tauri::command]
pub fn local_zone(desk: Desktop<'_>) -> LocalZone {
    desk.local_zone()
}
