//! The app's state and every operation the UI can ask for.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use usagedesk_cache::{AccountRow, Cache, ChildSort, Page, SearchHit, TrendPoint};
use usagedesk_domain::{Account, Clock, Plan, YearMonth};
use usagedesk_secrets::SecretStore;
use usagedesk_sync::{Client, Progress, Settings, SyncOptions, SyncReport};

use crate::demo::{self, DemoCloud, DEFAULT_DEMO_ACCOUNTS};
use crate::error::lock_err;
use crate::job::JobSlot;
use crate::lanes::Lane;
use crate::{AppError, AppStatus, ErrorKind};

/// Largest page of children, search result list and trend the UI may ask for.
pub const MAX_PAGE: usize = 500;
pub const MAX_SEARCH: usize = 100;
pub const MAX_TREND: usize = 36;
/// Page cache of each of the app's reading connections (KiB). The views read a page of rows
/// through indexes, and the OS's file cache serves what SQLite's misses. At 100k accounts every
/// view filled a 2 MiB cache, and the three connections held 4-5 MiB more after every view
/// than with 512 KiB; 8 MiB drew no view faster than 2 MiB did.
const READER_PAGE_CACHE_KIB: u32 = 512;
/// Page cache of the writing connection between large jobs (KiB): the reminder check and the
/// air-gap steps read and write a few pages. It was 8 MiB all the time: the first reminder
/// check, 20 s after start, filled it and the app held 6-8 MiB more from then on.
const WRITER_PAGE_CACHE_KIB: u32 = 512;
/// Page cache of the connection a sync runs on (KiB), closed when it ends ([`LargeJob`]).
const SYNC_PAGE_CACHE_KIB: u32 = 8 * 1024;
/// Page cache of the connection a health computation runs on (KiB): its passes read each
/// page about once. What SQLite allocates on a job's thread stays in the C library's arena
/// while it is under the trim threshold (16 MiB once a sort has freed an 8 MiB buffer): after
/// a computation at 100,000 accounts the app process held 8 MiB more with an 8 MiB cache
/// (120-121 MiB after every view, 112 before the computation was streamed), 1.6-2.4 MiB
/// more with 1 MiB, and computed as fast (5.4-6.9 s, the views running meanwhile).
const HEALTH_PAGE_CACHE_KIB: u32 = 1024;

/// The selected account with its breadcrumb.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct AccountDetail {
    pub row: AccountRow,
    /// Root first, the account last.
    pub path: Vec<Account>,
    /// Months of this account whose values come from a usage data file imported here and
    /// not yet accepted by the cloud ("pending upload").
    pub pending_months: Vec<YearMonth>,
    /// Holds a license: the account has a customer page.
    pub is_customer: bool,
}

pub struct DeskOptions {
    pub data_dir: PathBuf,
    /// Use the embedded demo cloud (its own cache, under `data_dir/demo`).
    pub demo: bool,
    pub demo_accounts: usize,
}

impl DeskOptions {
    pub fn new(data_dir: PathBuf, demo: bool) -> Self {
        let demo_accounts = std::env::var("USAGEDESK_DEMO_ACCOUNTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_DEMO_ACCOUNTS);
        Self {
            data_dir,
            demo,
            demo_accounts,
        }
    }
}

/// A sync or a health computation: a connection of its own on the cache file, with a page
/// cache sized for the job, opened while the writing connection's lock is held (one writer at a time) and
/// closed when the job ends. Closing frees everything SQLite allocated for the job (its page
/// cache, sorts, statements) at once. On the writing connection those allocations outlived it
/// in the C library's heap: at 100,000 accounts the app held 16 MiB more after each health
/// computation, though the page cache was made small again and shrunk.
pub(crate) struct LargeJob<'w> {
    cache: Cache,
    /// The writing connection, locked while the job writes.
    _writer: &'w mut Cache,
}

impl<'w> LargeJob<'w> {
    /// A sync's connection.
    pub(crate) fn sync(writer: &'w mut Cache) -> Result<Self, AppError> {
        Self::start(writer, SYNC_PAGE_CACHE_KIB)
    }

    /// A health computation's connection.
    pub(crate) fn health(writer: &'w mut Cache) -> Result<Self, AppError> {
        Self::start(writer, HEALTH_PAGE_CACHE_KIB)
    }

    fn start(writer: &'w mut Cache, page_cache_kib: u32) -> Result<Self, AppError> {
        let path = writer.file_path().ok_or_else(|| {
            AppError::new(
                ErrorKind::Internal,
                "a sync or a health computation needs the cache's file on disk",
            )
        })?;
        let cache = Cache::open(path)?;
        cache.bound_memory(page_cache_kib)?;
        Ok(Self {
            cache,
            _writer: writer,
        })
    }
}

impl std::ops::Deref for LargeJob<'_> {
    type Target = Cache;
    fn deref(&self) -> &Cache {
        &self.cache
    }
}

impl std::ops::DerefMut for LargeJob<'_> {
    fn deref_mut(&mut self) -> &mut Cache {
        &mut self.cache
    }
}

#[derive(Default)]
struct RunState {
    syncing: bool,
    online: Option<bool>,
    last_error: Option<AppError>,
    cancel: Arc<AtomicBool>,
}

impl RunState {
    /// A sync ended with `result`: whether the cloud answered, and the error to show.
    fn ended(&mut self, result: &Result<SyncReport, AppError>) {
        self.syncing = false;
        match result {
            Ok(_) => {
                self.online = Some(true);
                self.last_error = None;
            }
            Err(e) => {
                if e.kind == ErrorKind::Offline {
                    self.online = Some(false);
                } else if e.kind != ErrorKind::Cancelled {
                    self.online = Some(true);
                }
                self.last_error = (e.kind != ErrorKind::Cancelled).then(|| e.clone());
            }
        }
    }
}

pub struct Desk {
    data_dir: PathBuf,
    cache_path: PathBuf,
    demo_mode: bool,
    demo_accounts: usize,
    /// Queries read through their own connection, so they answer while a sync writes.
    reader: Mutex<Cache>,
    /// Reads that walk a whole subtree (an Entitlements card, the license lists: 0.7 s for
    /// the largest of 100,000 accounts) go through a second connection, so a view's page
    /// never waits behind one.
    subtree_reader: Mutex<Cache>,
    writer: Arc<tokio::sync::Mutex<Cache>>,
    /// The threads the two reading connections are used on ([`Desk::run_read`],
    /// [`Desk::run_subtree_read`]; see `lanes.rs`).
    view_lane: Lane,
    subtree_lane: Lane,
    /// Account health is being recomputed in the background (see `health.rs`).
    health_job: Arc<AtomicBool>,
    secrets: Arc<dyn SecretStore>,
    clock: Arc<dyn Clock>,
    state: Mutex<RunState>,
    demo: tokio::sync::Mutex<Option<DemoCloud>>,
    /// Held while the settings file is read, changed and written (`update_settings`).
    settings_lock: Mutex<()>,
    /// The running export (one at a time).
    pub(crate) export_job: JobSlot,
}

impl Desk {
    pub fn open(
        opts: DeskOptions,
        secrets: Arc<dyn SecretStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AppError> {
        if opts.demo && !demo::AVAILABLE {
            return Err(demo::no_demo());
        }
        let data_dir = if opts.demo {
            opts.data_dir.join("demo")
        } else {
            opts.data_dir
        };
        std::fs::create_dir_all(&data_dir).map_err(|e| {
            AppError::new(
                ErrorKind::Cache,
                format!("cannot create the data folder {}: {e}", data_dir.display()),
            )
        })?;
        let cache_path = data_dir.join("cache.db");
        let mut writer = Cache::open(&cache_path)?;
        // A sync stopped between pages leaves rows staged: fold them in before the first read.
        if writer.sync().needs_rebuild()? {
            writer.sync_mut().rebuild_aggregates()?;
        }
        let reader = Cache::open(&cache_path)?;
        let subtree_reader = Cache::open(&cache_path)?;
        subtree_reader.bound_memory(READER_PAGE_CACHE_KIB)?;
        // The views read one page at a time through indexes: a small page cache holds what
        // they touch again. SQLite keeps a cache at its high-water mark for as long as the
        // connection lives, and two at the 64 MiB default held over 100 MiB after a scan;
        // sorts in memory (a sync's rebuilds, the reminder check) left 64 MiB more.
        reader.bound_memory(READER_PAGE_CACHE_KIB)?;
        writer.bound_memory(WRITER_PAGE_CACHE_KIB)?;
        // What a rebuild above filled beyond the small cache.
        writer.release_memory()?;
        Ok(Self {
            data_dir,
            cache_path,
            demo_mode: opts.demo,
            demo_accounts: opts.demo_accounts,
            reader: Mutex::new(reader),
            subtree_reader: Mutex::new(subtree_reader),
            settings_lock: Mutex::default(),
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            view_lane: Lane::start("usagedesk-reads").map_err(no_thread)?,
            subtree_lane: Lane::start("usagedesk-subtree-reads").map_err(no_thread)?,
            health_job: Arc::default(),
            secrets,
            clock,
            state: Mutex::new(RunState::default()),
            demo: tokio::sync::Mutex::new(None),
            export_job: JobSlot::default(),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn is_demo(&self) -> bool {
        self.demo_mode
    }

    pub(crate) fn secrets(&self) -> &dyn SecretStore {
        self.secrets.as_ref()
    }

    pub(crate) fn writer(&self) -> &tokio::sync::Mutex<Cache> {
        &self.writer
    }

    /// The writing connection, for work that outlives a call (`health.rs`).
    pub(crate) fn writer_handle(&self) -> Arc<tokio::sync::Mutex<Cache>> {
        self.writer.clone()
    }

    pub(crate) fn clock_handle(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    pub(crate) fn health_job(&self) -> Arc<AtomicBool> {
        self.health_job.clone()
    }

    /// The sync's state as the status shows it: syncing, online, the last error.
    pub(crate) fn run_state(&self) -> Result<(bool, Option<bool>, Option<AppError>), AppError> {
        let state = self.state.lock().map_err(lock_err)?;
        Ok((state.syncing, state.online, state.last_error.clone()))
    }

    pub(crate) fn cache_path(&self) -> &Path {
        &self.cache_path
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The reading connection, for queries that need more than one call.
    pub(crate) fn reader(&self) -> MutexGuard<'_, Cache> {
        connection(&self.reader)
    }

    pub(crate) fn read<T>(&self, f: impl FnOnce(&Cache) -> CacheResult<T>) -> Result<T, AppError> {
        read_through(&self.reader, f)
    }

    /// [`Desk::read`] for a query over a whole subtree, on the second reading connection.
    pub(crate) fn read_subtree<T>(
        &self,
        f: impl FnOnce(&Cache) -> CacheResult<T>,
    ) -> Result<T, AppError> {
        read_through(&self.subtree_reader, f)
    }

    /// Changes the settings file: read, changed by `f`, written, with no other change in
    /// between (commands run at the same time; each would otherwise write back what it read,
    /// dropping the other's change).
    pub(crate) fn update_settings(&self, f: impl FnOnce(&mut Settings)) -> Result<(), AppError> {
        let _one_at_a_time = self.settings_lock.lock().map_err(lock_err)?;
        let mut settings = Settings::load(&self.data_dir)?;
        f(&mut settings);
        Ok(settings.save(&self.data_dir)?)
    }

    /// Reads the cache's counts ahead on the view lane, so the status the UI asks for first
    /// at launch finds them ready ([`Cache::stats`] keeps them until the data changes; counting
    /// 2 million month rows took 21-24 ms).
    pub fn warm(self: &Arc<Self>) {
        let desk = self.clone();
        // Queued now; nobody waits for the answer (the log says if it failed).
        let _queued = self.view_lane.run(move || {
            if let Err(e) = desk.read(|c| c.stats()) {
                tracing::warn!("the cache's counts were not read ahead: {e}");
            }
        });
    }

    /// Runs `f` on the view lane: the thread the views' reading connection is used on, after
    /// the reads asked for before it. The runtime's few worker threads stay free meanwhile.
    pub async fn run_read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Desk) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        self.run_on(&self.view_lane, f).await
    }

    /// [`Desk::run_read`] for a read over a whole subtree (an Entitlements card, a license
    /// list: 0.7 s for the largest of 100,000 accounts), on a lane and connection of its own:
    /// a view's page never waits behind one.
    pub async fn run_subtree_read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Desk) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        self.run_on(&self.subtree_lane, f).await
    }

    async fn run_on<T: Send + 'static>(
        self: &Arc<Self>,
        lane: &Lane,
        f: impl FnOnce(&Desk) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let desk = self.clone();
        lane.run(move || f(&desk))
            .await
            .unwrap_or_else(|_| Err(stopped()))
    }

    pub(crate) fn cloud_url(&self) -> Result<Option<String>, AppError> {
        Ok(Settings::load(&self.data_dir)?.cloud_url)
    }

    /// Checks the URL and token against the cloud, then keeps the token in the keyring and the
    /// URL in the settings. The caller starts a sync next. When imported files are still
    /// queued for another cloud or account, fails with [`ErrorKind::PendingUploads`] unless
    /// `force`: then the cache switches to the new source at once (its synced data is
    /// cleared) and the files stay queued for theirs, never sent to this one.
    pub async fn connect(
        &self,
        url: &str,
        token: &str,
        force: bool,
    ) -> Result<AppStatus, AppError> {
        if self.demo_mode {
            return Err(AppError::invalid(
                "the demo runs on its own cloud; restart without --demo to connect",
            ));
        }
        if token.trim().is_empty() {
            return Err(AppError::new(
                ErrorKind::Unauthorized,
                "enter the API token your administrator gave you",
            ));
        }
        // The app connects to https:// (or a cloud on this computer) only.
        let client = Client::new(url, token)?;
        client.check_version().await?;
        let me = client.whoami().await?;
        let binding = usagedesk_cache::OutboxBinding {
            cloud_url: client.base_url().to_owned(),
            account_id: me.account_id.clone(),
        };
        {
            let mut cache = self.writer.lock().await;
            let same = usagedesk_sync::outbox::current_binding(&cache)?.as_ref() == Some(&binding);
            if !same {
                if let Some(pending) = usagedesk_sync::outbox::kept_elsewhere(&cache, &binding)? {
                    if !force {
                        return Err(pending.into());
                    }
                    // Switch now, so the next sync does not ask again.
                    cache.clear()?;
                    cache.sync_mut().set_server_url(&binding.cloud_url)?;
                    cache.sync_mut().set_scope_account_id(&binding.account_id)?;
                }
            }
        }
        self.secrets.set(client.base_url(), token.trim())?;
        self.update_settings(|s| {
            s.cloud_url = Some(client.base_url().to_string());
            s.allow_insecure_http = false;
        })?;
        self.status()
    }

    /// Starts the embedded demo cloud (once) and points the settings at it.
    pub async fn start_demo(&self) -> Result<AppStatus, AppError> {
        if !demo::AVAILABLE {
            return Err(demo::no_demo());
        }
        if !self.demo_mode {
            return Err(AppError::invalid(
                "start the app with --demo to explore the demo data",
            ));
        }
        self.demo_client().await?;
        self.status()
    }

    async fn demo_client(&self) -> Result<Client, AppError> {
        let mut demo = self.demo.lock().await;
        if demo.is_none() {
            let cloud =
                DemoCloud::start(&self.data_dir, self.demo_accounts, self.clock.clone()).await?;
            // The demo listens on a new port each start; it is still the same dataset.
            let url = Client::new(&cloud.url(), cloud.token())?
                .base_url()
                .to_string();
            let mut cache = self.writer.lock().await;
            // Files imported in an earlier run of the demo go to this run's cloud.
            if let Some(old) = cache.sync().server_url()? {
                cache.outbox_mut().rebind(&old, &url)?;
            }
            cache.sync_mut().set_server_url(&url)?;
            drop(cache);
            // Only the cloud changes: other settings (reminders) stay as they were. A damaged
            // file is refused, as at sign-in, rather than silently reset.
            self.update_settings(|s| {
                s.cloud_url = Some(url);
                s.allow_insecure_http = false;
            })?;
            *demo = Some(cloud);
        }
        let cloud = demo
            .as_ref()
            .ok_or_else(|| AppError::new(ErrorKind::Internal, "demo cloud missing"))?;
        Ok(Client::new(&cloud.url(), cloud.token())?)
    }

    pub(crate) async fn client(&self) -> Result<Client, AppError> {
        if self.demo_mode {
            return self.demo_client().await;
        }
        let settings = Settings::load(&self.data_dir)?;
        let url = settings
            .cloud_url
            .clone()
            .ok_or_else(|| AppError::new(ErrorKind::Unauthorized, "connect to a cloud first"))?;
        let token = self.secrets.get(&url)?.ok_or_else(|| {
            AppError::new(
                ErrorKind::Unauthorized,
                "you are signed out: sign in again with your API token",
            )
        })?;
        Ok(Client::new_with(&url, &token, settings.client_options())?)
    }

    /// Pulls changes from the cloud. One sync at a time; `progress` is called per page. Once
    /// it has landed, account health is brought up to date in the background.
    pub async fn sync(&self, progress: impl FnMut(Progress)) -> Result<SyncReport, AppError> {
        let cancel = {
            let mut st = self.state.lock().map_err(lock_err)?;
            if st.syncing {
                return Err(AppError::new(ErrorKind::Busy, "a sync is already running"));
            }
            st.syncing = true;
            st.cancel = Arc::default();
            st.cancel.clone()
        };
        let started = std::time::Instant::now();
        let result = self.sync_inner(cancel, progress).await;
        if let Ok(r) = &result {
            tracing::info!(
                "synced {} changes in {} pages in {:.1} s",
                r.rows,
                r.pages,
                started.elapsed().as_secs_f64()
            );
        }
        self.state.lock().map_err(lock_err)?.ended(&result);
        // Changes synced leave the scores lagging (and a new day makes them old): they are
        // recomputed in the background, as when a view finds them so, and the sync lands
        // without waiting for them (about 6 s at 100,000 accounts).
        if result.is_ok() {
            if let Err(e) = self.health_current() {
                tracing::warn!("account health was not recomputed after the sync: {e}");
            }
        }
        result
    }

    async fn sync_inner(
        &self,
        cancel: Arc<AtomicBool>,
        progress: impl FnMut(Progress),
    ) -> Result<SyncReport, AppError> {
        let client = self.client().await?;
        let opts = SyncOptions {
            cancel,
            ..SyncOptions::default()
        };
        let mut writer = self.writer.lock().await;
        let mut cache = LargeJob::sync(&mut writer)?;
        let synced = usagedesk_exchange::sync_and_certify(
            &mut cache,
            &client,
            self.clock.as_ref(),
            self.secrets.as_ref(),
            &opts,
            progress,
        )
        .await?;
        // Without a certificate only offline exchange steps fail: logged, not the sync's.
        match synced.certificate {
            Ok(c) if c.renewed => {
                tracing::info!("air-gap signing certificate valid until {}", c.expires_at)
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("the air-gap signing certificate was not renewed: {e}"),
        }
        Ok(synced.report)
    }

    pub fn cancel_sync(&self) -> Result<(), AppError> {
        self.state
            .lock()
            .map_err(lock_err)?
            .cancel
            .store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Removes the token and this computer's air-gap signing key from the keyring, and the
    /// signing certificate from the cache. Cached data stays until cleared; imported files
    /// not yet accepted stay queued for their cloud and account, uploaded when this computer
    /// signs in to them again and syncs.
    pub async fn sign_out(&self) -> Result<AppStatus, AppError> {
        if let Some(url) = self.cloud_url()? {
            self.secrets.delete(&url)?;
            let mut cache = self.writer.lock().await;
            let source = cache.sync().server_url()?.unwrap_or(url);
            usagedesk_exchange::forget_signer(&mut cache, self.secrets.as_ref(), &source)?;
        }
        self.status()
    }

    /// Clears the synced data. Imported files not yet accepted by the cloud stay queued
    /// (bound to their cloud and account); with any kept, fails with
    /// [`ErrorKind::PendingUploads`] unless `force`, so the user is asked first.
    pub async fn clear_cache(&self, force: bool) -> Result<AppStatus, AppError> {
        if self.state.lock().map_err(lock_err)?.syncing {
            return Err(AppError::new(
                ErrorKind::Busy,
                "wait for the sync to finish, or cancel it, then clear",
            ));
        }
        let mut cache = self.writer.lock().await;
        let kept = cache.outbox().items()?.len();
        if kept > 0 && !force {
            return Err(AppError::new(
                ErrorKind::PendingUploads,
                format!(
                    "{kept} imported usage data file(s) have not reached the cloud yet. Clearing \
                     keeps them queued for the cloud and account they were imported under (they \
                     are uploaded at the next sync with them); the usage they hold is not shown \
                     until then. Confirm to clear"
                ),
            ));
        }
        cache.clear()?;
        drop(cache);
        self.status()
    }

    pub fn plans(&self) -> Result<Vec<Plan>, AppError> {
        self.read(|c| Ok(c.accounts().plans()?.0))
    }

    pub fn completed_months(&self) -> Result<Vec<YearMonth>, AppError> {
        let today = self.clock.today();
        self.read(|c| c.usage().completed_months(today))
    }

    pub fn children(
        &self,
        parent: Option<&str>,
        month: &str,
        sort: ChildSort,
        offset: usize,
        limit: usize,
    ) -> Result<Page<AccountRow>, AppError> {
        let month: YearMonth = month.parse()?;
        let limit = limit.clamp(1, MAX_PAGE);
        self.read(|c| c.accounts().children(parent, month, offset, limit, sort))
    }

    pub fn account_detail(&self, id: &str, month: &str) -> Result<AccountDetail, AppError> {
        let month: YearMonth = month.parse()?;
        self.read(|c| {
            let row = c.accounts().row(id, month)?.ok_or_else(|| {
                usagedesk_cache::CacheError::UnknownAccount { id: id.to_string() }
            })?;
            Ok(AccountDetail {
                row,
                path: c.accounts().path(id)?,
                pending_months: c.airgap().pending_months(id)?,
                is_customer: c.customers().contains(id)?,
            })
        })
    }

    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>, AppError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        if text.len() > 200 {
            return Err(AppError::invalid("search for at most 200 characters"));
        }
        self.read(|c| c.accounts().search(text, limit.clamp(1, MAX_SEARCH)))
    }

    pub fn trend(&self, id: &str, to: &str, count: usize) -> Result<Vec<TrendPoint>, AppError> {
        let to: YearMonth = to.parse()?;
        let count = count.clamp(1, MAX_TREND);
        let mut months = vec![to];
        while months.len() < count {
            let prev = months[months.len() - 1].prev();
            months.push(prev);
        }
        months.reverse();
        self.read(|c| c.usage().trend(id, &months))
    }
}

type CacheResult<T> = Result<T, usagedesk_cache::CacheError>;

pub(crate) fn stopped() -> AppError {
    AppError::new(
        ErrorKind::Internal,
        "a query stopped unexpectedly; try again",
    )
}

fn no_thread(e: std::io::Error) -> AppError {
    AppError::new(
        ErrorKind::Internal,
        format!(
            "cannot start the app's reading threads ({e}); close other programs and start it again"
        ),
    )
}

/// `f` on the connection behind `conn`, once no other call holds it.
fn read_through<T>(
    conn: &Mutex<Cache>,
    f: impl FnOnce(&Cache) -> CacheResult<T>,
) -> Result<T, AppError> {
    Ok(f(&connection(conn))?)
}

/// The connection behind `conn`, once no other call holds it. A read that panicked (its
/// caller got an error) leaves the connection as it was: no transaction spans two calls, so
/// the next read goes on with it.
fn connection(conn: &Mutex<Cache>) -> MutexGuard<'_, Cache> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_job_runs_on_a_connection_of_its_own_that_writes_to_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Cache::open(dir.path().join("cache.db")).unwrap();
        writer.bound_memory(WRITER_PAGE_CACHE_KIB).unwrap();
        let now = usagedesk_testkit::clock().now();
        {
            let mut job = LargeJob::health(&mut writer).unwrap();
            assert_eq!(job.page_cache_kib().unwrap(), HEALTH_PAGE_CACHE_KIB);
            assert!(usagedesk_health::ensure_current(&mut job, now).unwrap());
        }
        // The job's connection is closed; the writer kept its small cache and reads what the
        // job wrote to the file.
        assert_eq!(writer.page_cache_kib().unwrap(), WRITER_PAGE_CACHE_KIB);
        assert_eq!(writer.health().as_of().unwrap(), Some(now.date_naive()));
    }

    #[test]
    fn a_large_job_needs_the_cache_file() {
        let mut cache = Cache::open_in_memory().unwrap();
        let refused = LargeJob::sync(&mut cache).err().map(|e| e.kind);
        assert_eq!(
            refused,
            Some(ErrorKind::Internal),
            "nothing to open beside it"
        );
    }

    /// A desk on an empty cache in `dir`, the keyring in memory, the clock fixed.
    fn desk_in(dir: &Path) -> Desk {
        Desk::open(
            DeskOptions::new(dir.to_path_buf(), false),
            Arc::new(usagedesk_secrets::MemoryStore::default()),
            Arc::new(usagedesk_testkit::clock()),
        )
        .unwrap()
    }

    #[test]
    fn settings_changed_at_the_same_time_keep_both_changes() {
        let dir = tempfile::tempdir().unwrap();
        let desk = desk_in(dir.path());
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..200 {
                    desk.update_settings(|st| st.cloud_url = Some(format!("http://h{i}/")))
                        .unwrap();
                }
            });
            s.spawn(|| desk.set_reminders(false).unwrap());
        });
        // Without the lock, a URL change that read the file before reminders went off would
        // write them back on.
        let settings = Settings::load(dir.path()).unwrap();
        assert!(settings.reminders_off, "the reminders change was kept");
        assert_eq!(settings.cloud_url.as_deref(), Some("http://h199/"));
    }

    #[test]
    fn a_view_reads_while_a_subtree_read_holds_its_lane_and_connection() {
        let dir = tempfile::tempdir().unwrap();
        let desk = Arc::new(desk_in(dir.path()));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (holding, held) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let subtree = {
            let desk = desk.clone();
            rt.spawn(async move {
                desk.run_subtree_read(move |d| {
                    d.read_subtree(|_| {
                        holding.send(()).unwrap();
                        released.recv().unwrap();
                        Ok(())
                    })
                })
                .await
            })
        };
        held.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the subtree read started");
        // On one lane, or one connection, for both, the view's read would wait for the
        // release below.
        let answered = rt.block_on(async {
            let view = desk.run_read(|d| d.read(|c| c.stats()).map(|st| st.accounts));
            tokio::time::timeout(std::time::Duration::from_secs(10), view).await
        });
        release.send(()).unwrap();
        let accounts = answered
            .expect("the view's read answered while the subtree read held its lane")
            .unwrap();
        assert_eq!(accounts, 0, "an empty cache");
        rt.block_on(subtree).unwrap().unwrap();
    }

    /// Waits until `done` holds, at most 30 s (then fails, saying `what` did not happen).
    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let started = std::time::Instant::now();
        while !done() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "{what}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// A desk shared as the app shares it, on an empty cache in a new folder (kept with it),
    /// and a runtime to await its lanes on.
    fn shared_desk() -> (tempfile::TempDir, Arc<Desk>, tokio::runtime::Runtime) {
        let dir = tempfile::tempdir().unwrap();
        let desk = Arc::new(desk_in(dir.path()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        (dir, desk, rt)
    }

    #[test]
    fn a_health_page_read_on_the_view_lane_starts_the_scores_in_the_background() {
        let (_dir, desk, rt) = shared_desk();
        let page = |desk: &Arc<Desk>| {
            rt.block_on(desk.run_read(|d| d.health_list(None, false, 0, 10)))
                .unwrap()
        };
        // Never computed: the page answers at once, from the stored scores, and says they are
        // being computed, on a thread the lane starts (the lane's thread has no async runtime
        // to lend one). The writing connection is held here, so the computation cannot run
        // before the page answers: the page does not wait for it.
        {
            let _writing = desk.writer().blocking_lock();
            assert!(page(&desk).computing);
            assert!(
                page(&desk).computing,
                "asked again while it runs: still computing"
            );
        }
        wait_until("the background computation ends", || !page(&desk).computing);
        let stored = desk.read(|c| c.health().as_of()).unwrap();
        assert_eq!(stored, Some(usagedesk_testkit::clock().now().date_naive()));
    }

    #[test]
    fn a_sync_lands_without_the_scores_and_starts_them_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let desk = desk_in(dir.path());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let today = usagedesk_testkit::clock().now();
        let fixture = usagedesk_testkit::customers_fixture(today);
        let cloud = rt.block_on(usagedesk_testkit::Cloud::start(fixture.path()));
        let token = cloud.token(None, usagedesk_cloud::storage::TokenKind::Manager);
        rt.block_on(desk.connect(&cloud.url(), &token, false))
            .unwrap();
        let scored_for = |desk: &Desk| desk.read(|c| c.health().as_of()).unwrap();
        let today = today.date_naive();

        // As if a computation were under way (the flag a running one holds): the one this
        // sync would start is left to it. Had the sync scored the customers itself, they
        // would be stored for today when it returns.
        let job = desk.health_job();
        job.store(true, Ordering::SeqCst);
        let first = rt.block_on(desk.sync(|_| {})).unwrap();
        assert!(first.rows > 0, "the fixture's data was synced");
        assert_eq!(
            scored_for(&desk),
            None,
            "the sync landed without computing the scores"
        );
        job.store(false, Ordering::SeqCst);

        // Nothing new to sync and the scores still lag: this sync starts their computation,
        // which ends in the background.
        let second = rt.block_on(desk.sync(|_| {})).unwrap();
        assert_eq!(second.rows, 0, "nothing changed in the cloud");
        wait_until("the background computation ends", || {
            scored_for(&desk) == Some(today)
        });
        let page = desk.health_list(None, false, 0, 10).unwrap();
        assert!(!page.computing, "today's scores, computed");
        let mut scored: Vec<String> = page.page.items.into_iter().map(|h| h.account_id).collect();
        scored.sort();
        assert_eq!(
            scored,
            ["acme-de", "acme-fr", "globex-2"],
            "the fixture's three license holders are scored"
        );
    }

    #[test]
    fn a_read_that_panics_fails_alone_and_the_next_read_uses_the_connection() {
        let (_dir, desk, rt) = shared_desk();
        let failed = rt.block_on(
            desk.run_read(|d| d.read(|_| -> CacheResult<()> { panic!("a bug in one query") })),
        );
        assert_eq!(
            failed.unwrap_err().kind,
            ErrorKind::Internal,
            "the caller gets an error, not a hang"
        );
        // The panic unwound while the connection's lock was held: the lock is poisoned, and
        // the next read still gets the connection instead of an error until a restart.
        let accounts = rt
            .block_on(desk.run_read(|d| d.read(|c| c.stats()).map(|st| st.accounts)))
            .unwrap();
        assert_eq!(accounts, 0);
    }
}
