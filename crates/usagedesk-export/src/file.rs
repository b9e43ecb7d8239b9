//! Writing an export to a file and its manifest beside it, all or nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use usagedesk_cache::Cache;

use crate::{header, write_csv, Control, ExportError, ExportPlan, Manifest, MANIFEST_FORMAT};

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportOutcome {
    pub csv_path: String,
    pub manifest_path: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// `FILE.manifest.json` for `FILE`.
pub fn manifest_path(csv: &Path) -> PathBuf {
    let mut name = csv.file_name().unwrap_or_default().to_os_string();
    name.push(".manifest.json");
    csv.with_file_name(name)
}

/// Writes `plan` to `path` and its manifest beside it. Both are written to temporary files
/// in the same folder and renamed into place only once complete: a failed or cancelled
/// export leaves no partial file, and an existing file is replaced only by a whole one.
pub fn export_file(
    cache: &Cache,
    plan: &ExportPlan,
    path: &Path,
    generated_at: DateTime<Utc>,
    generator: &str,
    control: &mut Control<'_>,
) -> Result<ExportOutcome, ExportError> {
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| ExportError::Invalid(format!("{} is not a file name", path.display())))?
        .to_owned();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = |what: &str| {
        let prefix = format!(".{file_name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(what);
        // Temporary files are private (0600); the export is an ordinary document. Windows has
        // no mode bits: the file takes the folder's ACL like any document saved there, and
        // tempfile drops its temporary attribute when it is persisted.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
        builder.tempfile_in(&dir).map_err(ExportError::io(&dir))
    };
    let csv_tmp = temp(".partial")?;
    let summary = {
        let out = std::io::BufWriter::with_capacity(1 << 16, csv_tmp.as_file());
        write_csv(cache, plan, out, control).map_err(|e| match e {
            ExportError::Output(error) => ExportError::Io {
                path: path.to_path_buf(),
                error,
            },
            e => e,
        })?
    };
    csv_tmp
        .as_file()
        .sync_all()
        .map_err(ExportError::io(path))?;

    let req = &plan.request;
    let manifest = Manifest {
        format: MANIFEST_FORMAT.to_owned(),
        csv_file: file_name.clone(),
        account_id: req.account_id.clone(),
        account_name: plan.account_name.clone(),
        scope: req.scope,
        from: req.from,
        to: req.to,
        months: plan.months.clone(),
        months_without_data: plan.months_without_data.clone(),
        rows: summary.rows,
        bytes: summary.bytes,
        sha256: summary.sha256.clone(),
        columns: header(&cache.plans()?),
        generated_at,
        data_synced_at: cache.last_synced_at()?,
        // A cache synced by an older version may hold a URL with user:password@.
        source: cache
            .server_url()?
            .map(|u| usagedesk_domain::redact::redact_secrets(&u).into_owned()),
        generator: generator.to_owned(),
    };
    let manifest_at = manifest_path(path);
    let mut manifest_tmp = temp(".manifest.partial")?;
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| ExportError::Output(e.into()))?;
    manifest_tmp
        .write_all(&json)
        .and_then(|()| manifest_tmp.write_all(b"\n"))
        .and_then(|()| manifest_tmp.as_file().sync_all())
        .map_err(ExportError::io(&manifest_at))?;

    csv_tmp
        .persist(path)
        .map_err(|e| ExportError::io(path)(e.error))?;
    manifest_tmp
        .persist(&manifest_at)
        .map_err(|e| ExportError::io(&manifest_at)(e.error))?;
    Ok(ExportOutcome {
        csv_path: path.display().to_string(),
        manifest_path: manifest_at.display().to_string(),
        rows: summary.rows,
        bytes: summary.bytes,
        sha256: summary.sha256,
    })
}
