//! CSV export from the app: the preview the dialog shows, and the export itself, run on a
//! blocking thread with its own cache connection so the window stays responsive.

use std::path::PathBuf;

use usagedesk_cache::Cache;
use usagedesk_exchange::export_signer;
use usagedesk_export::{
    export_file, plan, Control, ExportError, ExportErrorKind, ExportOutcome, ExportPlan,
    ExportProgress, ExportRequest, Signing,
};

use crate::{AppError, Desk, ErrorKind};

/// What wrote an export, for its manifest.
pub const GENERATOR: &str = concat!("usagedesk ", env!("CARGO_PKG_VERSION"));

impl From<ExportError> for AppError {
    fn from(e: ExportError) -> Self {
        let kind = match e.kind() {
            ExportErrorKind::Invalid => ErrorKind::InvalidInput,
            ExportErrorKind::NotFound => ErrorKind::NotFound,
            ExportErrorKind::Cancelled => ErrorKind::Cancelled,
            ExportErrorKind::Io => ErrorKind::Io,
            ExportErrorKind::Cache => ErrorKind::Cache,
        };
        Self::new(kind, e.to_string())
    }
}

impl Desk {
    /// What an export would write: months with data, rows, a file name.
    pub fn export_preview(&self, req: &ExportRequest) -> Result<ExportPlan, AppError> {
        let today = self.clock().today();
        let cache = self.reader();
        Ok(plan(&cache, req, today)?)
    }

    /// Writes the export to `path` (from the save dialog) and its manifest beside it, signed
    /// with this computer's certified key, or unsigned with the reason in the outcome.
    /// `progress` is called every few thousand rows; [`Desk::cancel_export`] stops it and
    /// leaves no file behind.
    pub async fn export_csv(
        &self,
        req: ExportRequest,
        path: String,
        mut progress: impl FnMut(ExportProgress) + Send + 'static,
    ) -> Result<ExportOutcome, AppError> {
        let path = PathBuf::from(path);
        if !path.is_absolute() {
            return Err(AppError::invalid(format!(
                "'{}' is not a full path: choose where to save with the save dialog",
                path.display()
            )));
        }
        let cancel = self
            .export_job
            .begin("an export is already running; wait for it or cancel it")?;
        let cache_path = self.cache_path().to_path_buf();
        let (today, now) = (self.clock().today(), self.clock().now());
        let signer = export_signer(&self.reader(), self.secrets(), &req.account_id, now);
        let job = tokio::task::spawn_blocking(move || {
            let cache = Cache::open(&cache_path)?;
            let plan = plan(&cache, &req, today)?;
            let signing = match &signer {
                Ok((s, account_path)) => Signing::Sign {
                    key: &s.key,
                    certificate: &s.certificate,
                    account_path: account_path.clone(),
                },
                Err(e) => Signing::Unsigned {
                    reason: e.to_string(),
                },
            };
            let mut control = Control {
                cancel: Some(&cancel),
                progress: &mut progress,
            };
            Ok::<_, AppError>(export_file(
                &cache,
                &plan,
                &path,
                now,
                GENERATOR,
                signing,
                &mut control,
            )?)
        })
        .await;
        self.export_job.end();
        job.map_err(|e| AppError::new(ErrorKind::Internal, format!("the export stopped: {e}")))?
    }

    /// Stops the running export (nothing happens when none runs).
    pub fn cancel_export(&self) -> Result<(), AppError> {
        self.export_job.cancel()
    }
}
