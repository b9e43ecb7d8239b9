//! The Air-gapped view's operations: instances, the ledger, issuing sync keys, and
//! previewing and importing dropped usage data files. Logic: `usagedesk-exchange`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use usagedesk_cache::{
    AirgapPage, InstanceQuery, InstanceRow, LedgerEntry, LedgerQuery, LedgerRow,
};
use usagedesk_exchange::{
    import, is_overdue, issue_sync_key, overdue_cutoff, preview_import, ExchangeError,
    ExchangeErrorKind, ImportOutcome, ImportPreview, IssuedSyncKey, Signer,
};
use usagedesk_sync::outbox::PushReport;

use crate::{AppError, Desk, ErrorKind};

/// The largest file read for an import (the format's own limit is checked when parsing).
const MAX_FILE_BYTES: u64 = 8 << 20;
/// The largest page of instances or ledger entries the UI may ask for.
pub const MAX_AIRGAP_PAGE: usize = 500;

/// An instance as the Air-gapped view lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct InstanceView {
    #[serde(flatten)]
    pub row: InstanceRow,
    /// Air-gapped, and no verified file for more than 31 days.
    pub overdue: bool,
}

/// What a dropped file is: a preview of its import, or the import it already had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DroppedFile {
    pub path: String,
    pub preview: Option<ImportPreview>,
    /// Set when this exact file was imported before (its verification key can be saved again).
    pub already_imported: Option<LedgerEntry>,
}

/// Who signs here: the OS user, and the account the token is for.
pub(crate) fn subject(account_id: &str) -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "manager".into());
    format!("{user} ({account_id})")
}

impl From<ExchangeError> for AppError {
    fn from(e: ExchangeError) -> Self {
        let kind = match e.kind() {
            ExchangeErrorKind::File(_)
            | ExchangeErrorKind::WrongNonce
            | ExchangeErrorKind::Records => ErrorKind::FileRefused,
            ExchangeErrorKind::AlreadyImported => ErrorKind::AlreadyImported,
            ExchangeErrorKind::NotFound => ErrorKind::NotFound,
            ExchangeErrorKind::NoCertificate => ErrorKind::NoCertificate,
            ExchangeErrorKind::Invalid => ErrorKind::InvalidInput,
            ExchangeErrorKind::Cache => ErrorKind::Cache,
            ExchangeErrorKind::Keyring => ErrorKind::Keyring,
            ExchangeErrorKind::Sync => ErrorKind::Offline,
        };
        Self::new(kind, e.to_string())
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, AppError> {
    let io = |e: std::io::Error| {
        AppError::new(
            ErrorKind::Io,
            format!("cannot read {}: {e}", path.display()),
        )
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(AppError::new(
            ErrorKind::FileRefused,
            format!(
                "{} is {len} bytes, more than any exchange file: check you dropped the right file",
                path.display()
            ),
        ));
    }
    std::fs::read(path).map_err(io)
}

/// Writes `text` to the absolute `path` through a temporary file beside it.
fn write_file(path: &str, text: &str) -> Result<(), AppError> {
    let path = PathBuf::from(path);
    if !path.is_absolute() {
        return Err(AppError::invalid(
            "choose where to save with the save dialog",
        ));
    }
    let io = |e: std::io::Error| {
        AppError::new(
            ErrorKind::Io,
            format!("cannot write {}: {e}", path.display()),
        )
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(io)?;
    tmp.persist(&path).map_err(|e| io(e.error))?;
    Ok(())
}

impl Desk {
    /// One page of instances: filtered, searched and sorted in the cache (at most
    /// [`MAX_AIRGAP_PAGE`] rows).
    pub fn airgap_instances(
        &self,
        query: &InstanceQuery,
    ) -> Result<AirgapPage<InstanceView>, AppError> {
        if query.text.as_deref().is_some_and(|t| t.len() > 200) {
            return Err(AppError::invalid("search for at most 200 characters"));
        }
        let now = self.clock().now();
        let q = InstanceQuery {
            limit: query.limit.clamp(1, MAX_AIRGAP_PAGE),
            ..query.clone()
        };
        let page = self.reader()?.instances_page(&q, overdue_cutoff(now))?;
        Ok(AirgapPage {
            items: page
                .items
                .into_iter()
                .map(|row| InstanceView {
                    overdue: is_overdue(&row, now),
                    row,
                })
                .collect(),
            total: page.total,
            offset: page.offset,
            generation: page.generation,
        })
    }

    /// Air-gapped instances overdue with their usage data file (the sidebar's badge).
    pub fn airgap_overdue_count(&self) -> Result<u64, AppError> {
        let now = self.clock().now();
        Ok(self.reader()?.overdue_count(overdue_cutoff(now))?)
    }

    /// One page of the ledger, newest first, without documents.
    pub fn airgap_ledger(&self, query: &LedgerQuery) -> Result<AirgapPage<LedgerRow>, AppError> {
        let q = LedgerQuery {
            limit: query.limit.clamp(1, MAX_AIRGAP_PAGE),
            ..query.clone()
        };
        Ok(self.reader()?.ledger_page(&q)?)
    }

    /// Queues a kept file again (refused, or waiting after a transient failure) and tries
    /// to upload it now, with the others due for this cloud; offline it stays queued.
    pub async fn airgap_retry(&self, ledger_id: i64) -> Result<PushReport, AppError> {
        self.writer().lock().await.requeue(ledger_id)?;
        let client = match self.client().await {
            Ok(c) => c,
            Err(_) => return Ok(PushReport::default()), // signed out: sent at the next sync
        };
        let mut cache = self.writer().lock().await;
        let Some(binding) = usagedesk_sync::outbox::current_binding(&cache)? else {
            return Ok(PushReport::default());
        };
        if binding.cloud_url != client.base_url() {
            return Ok(PushReport::default());
        }
        let now = self.clock().now();
        match usagedesk_sync::outbox::push_outbox(&mut cache, &client, &binding.account_id, now)
            .await
        {
            Ok(report) => Ok(report),
            Err(e) if e.is_offline() => Ok(PushReport::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// Drops a kept file for good (the UI confirms first); the ledger keeps the entry,
    /// marked discarded.
    pub async fn airgap_discard(&self, ledger_id: i64) -> Result<(), AppError> {
        let now = self.clock().now();
        let mut cache = self.writer().lock().await;
        let by = subject(cache.scope_account_id()?.as_deref().unwrap_or("signed out"));
        cache.discard(ledger_id, &by, now)?;
        Ok(())
    }

    /// Issues a sync key for `instance_id`, valid `valid_days`, and saves it at `path`.
    pub async fn airgap_issue_sync_key(
        &self,
        instance_id: &str,
        valid_days: u32,
        path: &str,
    ) -> Result<IssuedSyncKey, AppError> {
        let now = self.clock().now();
        let mut cache = self.writer().lock().await;
        let signer = Signer::load(&cache, self.secrets(), now)?;
        let days = chrono::Duration::days(i64::from(valid_days.clamp(1, 365)));
        let key = issue_sync_key(
            &mut cache,
            &signer,
            instance_id,
            days,
            now,
            &mut rand::rngs::OsRng,
        )?;
        write_file(path, &key.text)?;
        Ok(key)
    }

    /// What a dropped file would import; nothing is written.
    pub fn airgap_preview(&self, path: &str) -> Result<DroppedFile, AppError> {
        let bytes = read_file(Path::new(path))?;
        let now = self.clock().now();
        let cache = self.reader()?;
        let signer = Signer::load(&cache, self.secrets(), now)?;
        match preview_import(&cache, &signer, &bytes, now) {
            Ok(p) => Ok(DroppedFile {
                path: path.to_owned(),
                preview: Some(p),
                already_imported: None,
            }),
            Err(ExchangeError::AlreadyImported { .. }) => {
                let sha = usagedesk_airgap::UsageData::parse(&bytes)
                    .map_err(ExchangeError::from)?
                    .sha256()
                    .to_string();
                Ok(DroppedFile {
                    path: path.to_owned(),
                    preview: None,
                    already_imported: cache.import_by_file(&sha)?,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Imports the file at `path` and saves the verification key at `verification_path`.
    pub async fn airgap_import(
        &self,
        path: &str,
        verification_path: &str,
    ) -> Result<ImportOutcome, AppError> {
        let bytes = read_file(Path::new(path))?;
        let now = self.clock().now();
        let mut cache = self.writer().lock().await;
        let signer = Signer::load(&cache, self.secrets(), now)?;
        let done = import(&mut cache, &signer, &bytes, now)?;
        write_file(verification_path, &done.verification_key)?;
        Ok(done)
    }

    /// Saves a ledger entry's document again (a sync key, or an import's verification key).
    pub fn airgap_save_document(&self, ledger_id: i64, path: &str) -> Result<(), AppError> {
        let document = self
            .reader()?
            .ledger_document(ledger_id)?
            .ok_or_else(|| AppError::new(ErrorKind::NotFound, "no such ledger entry"))?;
        write_file(path, &document)
    }
}
