//! The Air-gapped view's operations: instances, the ledger, issuing sync keys, and
//! previewing and importing dropped usage data files. Logic: `usagedesk-exchange`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use usagedesk_cache::{
    AirgapInstance, AirgapPage, InstanceQuery, LedgerEntry, LedgerQuery, LedgerRow,
};
use usagedesk_exchange::{
    discard_upload, import, is_overdue, issue_sync_key, overdue_cutoff, preview_import,
    read_exchange_file, retry_upload, write_exchange_file, ExchangeError, ExchangeErrorKind,
    ImportOutcome, ImportPreview, IssuedSyncKey, Retried, Signer,
};
use usagedesk_sync::outbox::PushReport;

use crate::{AppError, Desk, ErrorKind};

/// The largest page of instances or ledger entries the UI may ask for.
pub const MAX_AIRGAP_PAGE: usize = 500;

/// An instance as the Air-gapped view lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct InstanceView {
    #[serde(flatten)]
    pub row: AirgapInstance,
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
            ExchangeErrorKind::Io => ErrorKind::Io,
            ExchangeErrorKind::NotAnExchangeFile => ErrorKind::FileRefused,
        };
        Self::new(kind, e.to_string())
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, AppError> {
    Ok(read_exchange_file(path)?)
}

/// Writes `text` to the absolute `path` (one the save dialog gave).
fn write_file(path: &str, text: &str) -> Result<(), AppError> {
    let path = PathBuf::from(path);
    if !path.is_absolute() {
        return Err(AppError::invalid(
            "choose where to save with the save dialog",
        ));
    }
    Ok(write_exchange_file(&path, text.as_bytes())?)
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
        let page = self
            .reader()
            .airgap()
            .instance_page(&q, overdue_cutoff(now))?;
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
        Ok(self.reader().airgap().overdue_count(overdue_cutoff(now))?)
    }

    /// One page of the ledger, newest first, without documents.
    pub fn airgap_ledger(&self, query: &LedgerQuery) -> Result<AirgapPage<LedgerRow>, AppError> {
        let q = LedgerQuery {
            limit: query.limit.clamp(1, MAX_AIRGAP_PAGE),
            ..query.clone()
        };
        Ok(self.reader().airgap().ledger_page(&q)?)
    }

    /// Queues a kept file again (refused, or waiting after a transient failure) and tries
    /// to upload it now, with the others due for this cloud; offline it stays queued.
    pub async fn airgap_retry(&self, ledger_id: i64) -> Result<PushReport, AppError> {
        let client = self.client().await.ok(); // signed out: sent at the next sync
        let now = self.clock().now();
        let mut cache = self.writer().lock().await;
        Ok(
            match retry_upload(&mut cache, ledger_id, client.as_ref(), now).await? {
                Retried::Sent(report) => report,
                Retried::Queued { .. } | Retried::Offline { .. } => PushReport::default(),
            },
        )
    }

    /// Drops a kept file for good (the UI confirms first); the ledger keeps the entry,
    /// marked discarded.
    pub async fn airgap_discard(&self, ledger_id: i64) -> Result<(), AppError> {
        let now = self.clock().now();
        Ok(discard_upload(
            &mut *self.writer().lock().await,
            ledger_id,
            now,
        )?)
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
        let cache = self.reader();
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
                    already_imported: cache.airgap().import_by_file(&sha)?,
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
            .reader()
            .airgap()
            .ledger_document(ledger_id)?
            .ok_or_else(|| AppError::new(ErrorKind::NotFound, "no such ledger entry"))?;
        write_file(path, &document)
    }
}
