//! Checking an export someone hands over: the CSV against its manifest's SHA-256, and a signed
//! manifest's signature and certificate up to the vendor root key (`docs/export-format.md`,
//! "Verifying an export").

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use usagedesk_airgap::{AirgapError, FileKind, PublicKey};

use crate::{manifest_path, signed_manifest_path, Manifest, SignedManifest};

/// An export that checked out.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// `verified` (signed, and the signature holds) or `unsigned` (the CSV matches its
    /// manifest, but nothing proves who wrote them).
    pub status: VerifiedStatus,
    pub csv_file: String,
    pub manifest_file: String,
    pub manifest: Manifest,
    /// Who signed it (signed manifests only).
    pub signer: Option<SignerFacts>,
    /// Things worth knowing that do not make the export wrong (e.g. the CSV was renamed).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifiedStatus {
    Verified,
    Unsigned,
}

/// The signature chain of a verified manifest.
#[derive(Debug, Clone, Serialize)]
pub struct SignerFacts {
    /// The manager, as the certificate names them.
    pub signed_by: String,
    /// `*` or the account whose subtree the certificate covers.
    pub scope: String,
    /// The exported account's path in the vendor's tree, root first.
    pub account_path: Vec<String>,
    /// The manager's delegated public key, `ed25519:…`.
    pub public_key: String,
    pub certificate_issued_at: DateTime<Utc>,
    pub certificate_expires_at: DateTime<Utc>,
    /// The root key the chain ends in (the one trusted here), `sha256:…`.
    pub root_fingerprint: String,
}

/// Why an export was refused or could not be checked. [`VerifyError::code`] is stable.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "no manifest beside {csv}: looked for {signed} and {plain}. Ask the sender for the \
         manifest written with the CSV (keep the two in one folder, with their names)",
        signed = .signed.display(), plain = .plain.display(), csv = .csv.display()
    )]
    NoManifest {
        csv: PathBuf,
        signed: PathBuf,
        plain: PathBuf,
    },

    #[error("cannot read {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error(
        "the manifest is signed, but no vendor root key is known here to check it against: \
         sync once while signed in, or pass the vendor's root public key (--root-key FILE)"
    )]
    NoRootKey,

    /// The signed manifest was refused (damaged, altered, signed outside the vendor's trust).
    #[error("{0}")]
    Manifest(AirgapError),

    #[error(
        "the unsigned manifest {path} is not a UsageDesk export manifest ({reason}): it was \
         damaged or edited; ask the sender for the original files, or export again"
    )]
    PlainManifest { path: PathBuf, reason: String },

    #[error(
        "the CSV was changed after it was exported: its SHA-256 is {found} ({found_bytes} \
         bytes), the manifest says {expected} ({expected_bytes} bytes). Ask the sender for the \
         original file, or export again"
    )]
    CsvAltered {
        expected: String,
        expected_bytes: u64,
        found: String,
        found_bytes: u64,
    },
}

impl VerifyError {
    /// A stable code: `csv_altered`, the air-gap format's codes for a signed manifest
    /// (`bad_signature`, `untrusted_key`, `malformed`, …), `malformed` for a plain one,
    /// `no_manifest`, `no_root_key`, `io`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoManifest { .. } => "no_manifest",
            Self::Io { .. } => "io",
            Self::NoRootKey => "no_root_key",
            Self::Manifest(e) => e.kind().as_str(),
            Self::PlainManifest { .. } => "malformed",
            Self::CsvAltered { .. } => "csv_altered",
        }
    }

    /// True when the export is refused (altered or untrusted); false when it could not be
    /// checked at all (missing file, no root key, I/O).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::Manifest(_) | Self::PlainManifest { .. } | Self::CsvAltered { .. }
        )
    }
}

/// Checks the export `csv`: finds its manifest (`FILE.manifest`, signed, else
/// `FILE.manifest.json`), verifies a signed one against `root` at `now` (file signature,
/// certificate by `root`, signer, scope, the certificate in force when the export was
/// written), then the CSV's SHA-256 and size against the manifest. An unsigned manifest
/// needs no root key and gives [`VerifiedStatus::Unsigned`].
pub fn verify_export(
    csv: &Path,
    root: Option<&PublicKey>,
    now: DateTime<Utc>,
) -> Result<Verification, VerifyError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| VerifyError::Io { path, error }
    };
    let (signed_at, plain_at) = (signed_manifest_path(csv), manifest_path(csv));
    let limit = FileKind::UsageExport.max_bytes() as u64;
    let (manifest_file, manifest, signer) = if signed_at.exists() {
        let bytes = read_limited(&signed_at, limit).map_err(io(&signed_at))?;
        let parsed = SignedManifest::parse(&bytes).map_err(VerifyError::Manifest)?;
        let root = root.ok_or(VerifyError::NoRootKey)?;
        let ok = parsed.verify(root, now).map_err(VerifyError::Manifest)?;
        let cert = &ok.certificate;
        let signer = SignerFacts {
            signed_by: ok.issued_by.clone(),
            scope: cert.scope.to_string(),
            account_path: ok.account_path.clone(),
            public_key: cert.public_key.to_string(),
            certificate_issued_at: cert.issued_at,
            certificate_expires_at: cert.expires_at,
            root_fingerprint: root.fingerprint(),
        };
        (signed_at, ok.into_inner().manifest, Some(signer))
    } else if plain_at.exists() {
        let bytes = read_limited(&plain_at, limit).map_err(io(&plain_at))?;
        let bad = |reason: String| VerifyError::PlainManifest {
            path: plain_at.clone(),
            reason,
        };
        if bytes.len() as u64 > limit {
            return Err(bad(format!("over {limit} bytes")));
        }
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        (plain_at, manifest, None)
    } else {
        return Err(VerifyError::NoManifest {
            csv: csv.to_path_buf(),
            signed: signed_at,
            plain: plain_at,
        });
    };

    let (found, found_bytes) = sha256_of(csv).map_err(io(csv))?;
    if found != manifest.sha256 || found_bytes != manifest.bytes {
        return Err(VerifyError::CsvAltered {
            expected: manifest.sha256.clone(),
            expected_bytes: manifest.bytes,
            found,
            found_bytes,
        });
    }
    let mut notes = Vec::new();
    let name = csv.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if name != manifest.csv_file {
        notes.push(format!(
            "the CSV was written as {} and renamed since (its content is unchanged)",
            manifest.csv_file
        ));
    }
    Ok(Verification {
        status: if signer.is_some() {
            VerifiedStatus::Verified
        } else {
            VerifiedStatus::Unsigned
        },
        csv_file: csv.display().to_string(),
        manifest_file: manifest_file.display().to_string(),
        manifest,
        signer,
        notes,
    })
}

/// The file's bytes, at most `limit + 1` of them (so an oversized file is seen as such
/// without reading it all).
fn read_limited(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// SHA-256 (lowercase hex) and size of a file, read in 64 KiB pieces.
fn sha256_of(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}
