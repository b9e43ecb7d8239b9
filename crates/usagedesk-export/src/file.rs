//! Writing an export to a file and its manifest beside it, all or nothing: `FILE.manifest`
//! when signed, else `FILE.manifest.json`.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use usagedesk_cache::Cache;

use crate::{
    columns, manifest_format, write_csv, Control, ExportError, ExportPlan, ExportSignature,
    Manifest, SignedManifest, Signing,
};

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportOutcome {
    pub csv_path: String,
    pub manifest_path: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
    /// Whether the manifest is signed, by whom, or why not.
    pub signature: ExportSignature,
}

/// `FILE.manifest.json` for `FILE`: the unsigned manifest, plain JSON.
pub fn manifest_path(csv: &Path) -> PathBuf {
    sibling(csv, ".manifest.json")
}

/// `FILE.manifest` for `FILE`: the signed manifest, armored like the exchange files.
pub fn signed_manifest_path(csv: &Path) -> PathBuf {
    sibling(csv, ".manifest")
}

fn sibling(csv: &Path, suffix: &str) -> PathBuf {
    let mut name = csv.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    csv.with_file_name(name)
}

/// Writes `plan` to `path` and its manifest beside it, signed as `signing` says. Both are
/// written to temporary files in the same folder and renamed into place only once complete:
/// a failed or cancelled export leaves no partial file, and an existing file is replaced only
/// by a whole one. A manifest of the other kind left by an earlier export to the same path is
/// removed, so the one beside the CSV is always its own.
///
/// When signing fails (the certificate ended meanwhile, or does not cover the account), the
/// manifest is written unsigned and the outcome says why.
pub fn export_file(
    cache: &Cache,
    plan: &ExportPlan,
    path: &Path,
    generated_at: DateTime<Utc>,
    generator: &str,
    signing: Signing<'_>,
    control: &mut Control<'_>,
) -> Result<ExportOutcome, ExportError> {
    // The manifest speaks in whole seconds; the signature is checked against what it says.
    let generated_at =
        DateTime::from_timestamp(generated_at.timestamp(), 0).unwrap_or(generated_at);
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
    let mut manifest = Manifest {
        format: manifest_format(req.report).to_owned(),
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
        columns: columns(req.report, &cache.accounts().plans()?),
        generated_at,
        data_synced_at: cache.sync().last_synced_at()?,
        // A cache synced by an older version may hold a URL with user:password@.
        source: cache
            .sync()
            .server_url()?
            .map(|u| usagedesk_domain::redact::redact_secrets(&u).into_owned()),
        generator: generator.to_owned(),
        unsigned_reason: None,
    };
    let signed = match signing {
        Signing::Sign {
            key,
            certificate,
            account_path,
        } => SignedManifest::sign(manifest.clone(), account_path, key, certificate)
            .map(|text| (text, ExportSignature::of(certificate)))
            .map_err(|e| format!("it could not be signed: {e}")),
        Signing::Unsigned { reason } => Err(reason),
    };
    let (manifest_at, stale, text, signature) = match signed {
        Ok((text, signature)) => (
            signed_manifest_path(path),
            manifest_path(path),
            text.into_bytes(),
            signature,
        ),
        Err(reason) => {
            manifest.unsigned_reason = Some(reason.clone());
            let mut json =
                serde_json::to_vec_pretty(&manifest).map_err(|e| ExportError::Output(e.into()))?;
            json.push(b'\n');
            (
                manifest_path(path),
                signed_manifest_path(path),
                json,
                ExportSignature::Unsigned { reason },
            )
        }
    };
    let mut manifest_tmp = temp(".manifest.partial")?;
    manifest_tmp
        .write_all(&text)
        .and_then(|()| manifest_tmp.as_file().sync_all())
        .map_err(ExportError::io(&manifest_at))?;

    csv_tmp
        .persist(path)
        .map_err(|e| ExportError::io(path)(e.error))?;
    manifest_tmp
        .persist(&manifest_at)
        .map_err(|e| ExportError::io(&manifest_at)(e.error))?;
    match std::fs::remove_file(&stale) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(ExportError::io(&stale)(e));
        }
        _ => {}
    }
    Ok(ExportOutcome {
        csv_path: path.display().to_string(),
        manifest_path: manifest_at.display().to_string(),
        rows: summary.rows,
        bytes: summary.bytes,
        sha256: summary.sha256,
        signature,
    })
}
