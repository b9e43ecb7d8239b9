//! The app's status (`AppStatus`: settings, keyring, the cache's counts, the sync's state)
//! and the sync's outcome as the UI is told them.

use std::sync::Arc;

use serde::Serialize;
use usagedesk_cache::{Cache, CacheError};
use usagedesk_sync::SyncReport;

use crate::desk::stopped;
use crate::{AppError, Desk};

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

impl Desk {
    /// The app's status, read on the calling thread (see [`Desk::current_status`]).
    pub fn status(&self) -> Result<AppStatus, AppError> {
        let sign_in = self.sign_in()?;
        let cached = self.read(cached_status)?;
        self.status_of(sign_in, cached)
    }

    /// [`Desk::status`] for the app: the settings and the keyring on a pool thread (a keyring
    /// that has to be unlocked may take its time, and no view's read waits behind it), the
    /// cache's part on the view lane.
    pub async fn current_status(self: &Arc<Self>) -> Result<AppStatus, AppError> {
        let desk = self.clone();
        let sign_in = tokio::task::spawn_blocking(move || desk.sign_in())
            .await
            .map_err(|_| stopped())??;
        let cached = self.run_read(|d| d.read(cached_status)).await?;
        self.status_of(sign_in, cached)
    }

    /// A token is in the keyring for the cloud of the settings (or the demo runs): whether
    /// there is anything to sync from. Reads no table.
    pub fn signed_in(&self) -> bool {
        self.is_demo() || matches!(self.sign_in(), Ok((_, true)))
    }

    /// The cloud URL of the settings and whether the keyring holds its token.
    fn sign_in(&self) -> Result<(Option<String>, bool), AppError> {
        let url = self.cloud_url()?;
        let signed_in = match &url {
            _ if self.is_demo() => true,
            Some(u) => self.secrets().get(u).map(|t| t.is_some()).unwrap_or(false),
            None => false,
        };
        Ok((url, signed_in))
    }

    fn status_of(
        &self,
        (url, signed_in): (Option<String>, bool),
        cached: CachedStatus,
    ) -> Result<AppStatus, AppError> {
        let CachedStatus {
            stats,
            last_synced,
            account,
            outbox,
        } = cached;
        let (syncing, online, last_error) = self.run_state()?;
        Ok(AppStatus {
            version: env!("CARGO_PKG_VERSION").into(),
            data_dir: self.data_dir().display().to_string(),
            cache_path: self.cache_path().display().to_string(),
            cloud_url: url,
            account_name: account,
            signed_in,
            demo: self.is_demo(),
            keyring: if self.is_demo() {
                "memory (demo)".into()
            } else {
                self.secrets().describe()
            },
            last_synced_at: last_synced.map(|t| t.to_rfc3339()),
            syncing,
            online,
            last_error,
            accounts: stats.accounts,
            month_rows: stats.month_rows,
            db_bytes: stats.db_bytes,
            outbox,
        })
    }
}

/// The status's part the cache holds.
struct CachedStatus {
    stats: usagedesk_cache::CacheStats,
    last_synced: Option<chrono::DateTime<chrono::Utc>>,
    account: Option<String>,
    outbox: usagedesk_cache::OutboxSummary,
}

fn cached_status(c: &Cache) -> Result<CachedStatus, CacheError> {
    let account = match c.sync().scope_account_id()? {
        Some(id) if id == "*" => Some("All accounts".to_string()),
        Some(id) => c.accounts().get(&id)?.map(|a| a.name),
        None => None,
    };
    let current = match (c.sync().server_url()?, c.sync().scope_account_id()?) {
        (Some(cloud_url), Some(account_id)) => Some(usagedesk_cache::OutboxBinding {
            cloud_url,
            account_id,
        }),
        _ => None,
    };
    Ok(CachedStatus {
        outbox: c.outbox().summary(current.as_ref())?,
        stats: c.stats()?,
        last_synced: c.sync().last_synced_at()?,
        account,
    })
}
