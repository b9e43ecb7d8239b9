//! One sync run: version check, who-am-I, then the change feed page by page. Each page is
//! applied together with its cursor in one cache transaction, so an interrupted sync loses
//! nothing and repeats nothing; the next run resumes at the stored cursor.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use usagedesk_cache::{Cache, OutboxBinding, SyncOutcome};
use usagedesk_domain::api::{ChangePage, ErrorCode, MAX_PAGE_SIZE};
use usagedesk_domain::Clock;

use crate::outbox::{kept_elsewhere, push_outbox, PushReport};
use crate::{Client, RawPage, SyncError};

#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub page_size: usize,
    /// Set to stop between pages; what was applied stays.
    pub cancel: Arc<AtomicBool>,
    /// Sync from another cloud or account than the cache's although imported files are
    /// still queued for others (they stay queued for theirs). Without it such a sync fails
    /// with [`SyncError::PendingElsewhere`] before it changes anything.
    pub allow_source_switch: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            // Large pages: fewer requests and transactions (a full sync of 100k accounts is
            // 3.2M changes); one is about 0.6 to 1.5 MB in the compact encoding.
            page_size: MAX_PAGE_SIZE,
            cancel: Arc::default(),
            allow_source_switch: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Phase {
    Connecting,
    Downloading,
    Aggregating,
    Done,
}

/// Reported after connecting, after every page and at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Progress {
    pub phase: Phase,
    pub rows_done: u64,
    /// Changes to fetch in this run, when the server counted them.
    pub rows_total: Option<u64>,
    pub pages: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncReport {
    pub rows: u64,
    pub pages: u32,
    pub full_resync: bool,
    pub finished_at: DateTime<Utc>,
    pub account_id: String,
    pub account_name: String,
    /// Usage data files imported offline that the cloud accepted in this run.
    pub uploaded: u64,
    /// What the push of those files did (accepted, still queued, refused).
    pub push: PushReport,
}

/// Syncs `cache` from `client`. `progress` is called from this task.
pub async fn sync(
    cache: &mut Cache,
    client: &Client,
    clock: &dyn Clock,
    opts: &SyncOptions,
    mut progress: impl FnMut(Progress),
) -> Result<SyncReport, SyncError> {
    let started = clock.now();
    let mut rows_applied = 0;
    // Hundreds of megabytes may be committed: checkpoints run beside the apply loop instead
    // of inside its commits.
    cache.sync_mut().checkpoint_in_background()?;
    let result = run(cache, client, clock, opts, &mut |p: Progress| {
        rows_applied = p.rows_done;
        progress(p)
    })
    .await;
    let checkpointing = Instant::now();
    let checkpoints = cache.sync_mut().checkpoint_inline();
    tracing::debug!(took = ?checkpointing.elapsed(), "last checkpoint of the sync");
    // Logged at the end: a run that changes source clears the cache, log included.
    let (outcome, error) = match &result {
        Ok(_) => (SyncOutcome::Succeeded, None),
        Err(SyncError::Cancelled) => (SyncOutcome::Cancelled, None),
        Err(e) => (SyncOutcome::Failed, Some(e.to_string())),
    };
    let id = cache.sync_mut().start_log(started)?;
    cache
        .sync_mut()
        .finish_log(id, clock.now(), outcome, rows_applied, error.as_deref())?;
    let report = result?;
    checkpoints?;
    Ok(report)
}

async fn run(
    cache: &mut Cache,
    client: &Client,
    clock: &dyn Clock,
    opts: &SyncOptions,
    progress: &mut impl FnMut(Progress),
) -> Result<SyncReport, SyncError> {
    let mut p = Progress {
        phase: Phase::Connecting,
        rows_done: 0,
        rows_total: None,
        pages: 0,
    };
    progress(p);
    client.check_version().await?;
    let me = client.whoami().await?;

    // Another server or another account's token: what is cached belongs to someone else.
    // Files imported under the old one stay queued for it, never sent here: ask first.
    let binding = OutboxBinding {
        cloud_url: client.base_url().to_owned(),
        account_id: me.account_id.clone(),
    };
    let mut full_resync = false;
    let same_source = cache.sync().server_url()?.as_deref() == Some(client.base_url())
        && cache.sync().scope_account_id()?.as_deref() == Some(me.account_id.as_str());
    if !same_source {
        if let Some(refusal) = kept_elsewhere(cache, &binding)? {
            if !opts.allow_source_switch {
                return Err(refusal);
            }
        }
        reset(cache, client, &me.account_id)?;
        full_resync = true;
    }

    // Files imported offline for this cloud and account go up first, so this run already
    // pulls what they changed.
    let push = push_outbox(cache, client, &me.account_id, clock.now()).await?;

    let mut cursor = cache.sync().cursor()?;
    let pages = loop {
        match download(cache, client, clock, opts, cursor.clone(), &mut p, progress).await {
            Err(SyncError::Api {
                code: Some(ErrorCode::CursorExpired),
                ..
            }) if cursor.is_some() => {
                tracing::info!("the cloud's dataset was replaced; starting a full sync");
                reset(cache, client, &me.account_id)?;
                full_resync = true;
                cursor = None;
                p.rows_done = 0;
            }
            other => break other?,
        }
    };

    p.phase = Phase::Aggregating;
    progress(p);
    let rebuilding = Instant::now();
    let rebuilt = cache.sync_mut().rebuild_aggregates()?;
    tracing::debug!(
        took = ?rebuilding.elapsed(),
        folded = rebuilt.rows_folded,
        aggregate_rows = rebuilt.aggregate_rows,
        "aggregates rebuilt"
    );
    let finished_at = clock.now();
    cache.sync_mut().set_last_synced_at(finished_at)?;
    p.phase = Phase::Done;
    progress(p);
    Ok(SyncReport {
        rows: p.rows_done,
        pages,
        full_resync,
        finished_at,
        account_id: me.account_id,
        account_name: me.account_name,
        uploaded: push.uploaded,
        push,
    })
}

/// Staged month rows worth folding while waiting for a page (a fraction of a second's work).
const FOLD_WHILE_WAITING: u64 = 50_000;

/// Bytes of pages received ahead of the one being applied (as received: a page decoded
/// takes several times its size). The cloud and this computer work at different paces on
/// different parts of the feed (a page of accounts or licenses costs more here than there, a
/// page of month rows the other way round): fetching well ahead lets one keep working while
/// the other is on a slow stretch. About 120 pages of month rows: at 100k accounts the cloud
/// sends every one of them while this computer refreshes the customer index and entitlement
/// tables (about 2 s); with 32 MB it stopped after 40 and the client then waited 0.7 s for
/// the rest. The pages held are bytes as received, far below the rebuild's peak.
const AHEAD_BYTES: usize = 96 << 20;

/// Fetches pages on a separate task (up to [`AHEAD_BYTES`] ahead) and decodes them on another
/// (one page ahead), while this task applies them.
async fn download(
    cache: &mut Cache,
    client: &Client,
    clock: &dyn Clock,
    opts: &SyncOptions,
    cursor: Option<String>,
    p: &mut Progress,
    progress: &mut impl FnMut(Progress),
) -> Result<u32, SyncError> {
    let kib = |bytes: usize| u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
    let budget = Arc::new(Semaphore::new(kib(AHEAD_BYTES) as usize));
    let (raw_tx, mut raw_rx) =
        mpsc::unbounded_channel::<Result<(RawPage, OwnedSemaphorePermit), SyncError>>();
    let fetcher = {
        let client = client.clone();
        let cancel = opts.cancel.clone();
        let limit = opts.page_size;
        let budget = budget.clone();
        tokio::spawn(async move {
            let mut cursor = cursor;
            // Changes counted and not fetched yet. The first page asks for the count, and a
            // later one again whenever the next page could use the count up: the cloud
            // counts at most so many at a time, and the total must stay ahead of progress.
            let mut counted: u64 = 0;
            loop {
                if cancel.load(Ordering::Relaxed) {
                    return;
                }
                let count = counted < limit as u64;
                let page = match client.changes_raw(cursor.as_deref(), limit, count).await {
                    Ok(page) => page,
                    Err(e) => {
                        let _ = raw_tx.send(Err(e));
                        return;
                    }
                };
                let head = &page.head;
                cursor = Some(head.next_cursor.clone());
                if let Some(remaining) = head.remaining {
                    counted = remaining;
                }
                counted = counted.saturating_sub(head.changes);
                let more = head.has_more;
                // Waits while the pages ahead fill the budget (a page larger than all of it
                // takes all of it).
                let need = kib(page.len()).clamp(1, kib(AHEAD_BYTES));
                let Ok(permit) = budget.clone().acquire_many_owned(need).await else {
                    return;
                };
                if raw_tx.send(Ok((page, permit))).is_err() || !more {
                    return;
                }
            }
        })
    };
    let (tx, mut rx) = mpsc::channel::<Result<ChangePage, SyncError>>(1);
    let decoder = tokio::spawn(async move {
        while let Some(raw) = raw_rx.recv().await {
            let page = raw.and_then(|(page, permit)| {
                let page = page.decode();
                drop(permit);
                page
            });
            let failed = page.is_err();
            if tx.send(page).await.is_err() || failed {
                return;
            }
        }
    });
    let _abort_decoder = AbortOnDrop(decoder);
    let _abort = AbortOnDrop(fetcher);

    p.phase = Phase::Downloading;
    let mut pages = 0;
    // Staged rows a fold left waiting for their account: not worth folding again.
    let mut waiting = 0;
    // A first sync folds everything at the end in one pass (see `has_month_rows`); folding
    // it in parts would write `month_usage` out of order and make the rebuild read it all
    // back.
    let fold_while_waiting = cache.sync().has_month_rows()?;
    // Whether the last page applied held only month-end rows.
    let mut only_month_rows = false;
    loop {
        let page = match rx.try_recv() {
            Ok(page) => page,
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => {
                // The cloud is behind: do now what would otherwise wait for the last page,
                // one piece at a time, looking for the next page in between. The customer
                // index and the entitlement tables once the feed has moved on to month rows
                // (refreshed while their records still come, they would be refreshed again).
                let refreshing = Instant::now();
                if only_month_rows && cache.sync_mut().refresh_derived()? {
                    tracing::debug!(took = ?refreshing.elapsed(), "derived tables refreshed");
                    continue;
                }
                if fold_while_waiting
                    && cache.sync().staged_rows()?.saturating_sub(waiting) >= FOLD_WHILE_WAITING
                {
                    waiting = cache.sync_mut().fold_staged()?.rows_waiting;
                    continue;
                }
                let waiting_since = Instant::now();
                let page = match rx.recv().await {
                    Some(page) => page,
                    None => break,
                };
                tracing::trace!(waited = ?waiting_since.elapsed(), "waited for a page");
                page
            }
        };
        if opts.cancel.load(Ordering::Relaxed) {
            return Err(SyncError::Cancelled);
        }
        let page = page?;
        if let Some(total) = page.remaining {
            p.rows_total = Some(p.rows_done + total);
        }
        let applying = Instant::now();
        let applied = cache.sync_mut().apply_page(&page, clock.now())?;
        tracing::trace!(
            took = ?applying.elapsed(),
            changes = page.changes.len(),
            accounts = applied.accounts_written,
            instances = applied.instances,
            customer_records = applied.customer_records,
            month_rows = applied.month_rows,
            "page applied"
        );
        only_month_rows = applied.accounts_written == 0
            && applied.tombstones == 0
            && applied.instances == 0
            && applied.customer_records == 0;
        pages += 1;
        p.pages += 1;
        p.rows_done += page.changes.len() as u64;
        progress(*p);
        // Freeing a page's 20,000 changes (their strings) takes a few milliseconds: off
        // this task, which applies the next page meanwhile.
        tokio::task::spawn_blocking(move || drop(page));
    }
    if opts.cancel.load(Ordering::Relaxed) {
        return Err(SyncError::Cancelled);
    }
    Ok(pages)
}

/// Forgets everything cached and records the new source.
fn reset(cache: &mut Cache, client: &Client, account_id: &str) -> Result<(), SyncError> {
    cache.clear()?;
    cache.sync_mut().set_server_url(client.base_url())?;
    cache.sync_mut().set_scope_account_id(account_id)?;
    Ok(())
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
