//! The air-gapped exchange's files, in `docs/airgap-format.md`:
//!
//! 0. once, the vendor's **license file** for an instance, signed by the root key: the
//!    instance's license, account path and air-gapped flag, and the enrollment secret with
//!    which the instance proves its own key on first contact ([`LicenseFile::issue`],
//!    [`Enrollment`]);
//! 1. a **sync key**, issued offline by a manager with a delegated key the vendor root key
//!    certified ([`SyncKey::issue`]);
//! 2. the instance's answer, a **usage data file** signed by the instance's own key
//!    ([`UsageData::answer`]);
//! 3. the vendor's receipt, a **verification key** ([`VerificationKey::issue`]).
//!
//! Beside them, a manager signs the manifest of a CSV usage export the same way
//! ([`UsageExport::sign`]), so anyone holding the vendor's root public key can check it.
//!
//! Each is armored text around pretty JSON, Ed25519-signed, size-limited and strictly parsed.
//! Reading is two steps: `parse(&[u8])` (shape, never panics) returns a [`Signed`] file to
//! look at, then its `verify` / `verify_for` checks keys, bindings and time and returns a
//! [`Verified`] one. Nothing here reads the clock, the disk or the OS random source: time and
//! randomness are arguments.

#![forbid(unsafe_code)]

// Layers, each using only those above it (scripts/module-cycles.py checks there is no cycle):
// file_kind, fields → error → keys → armor → cert → license, sync_key, usage_export →
// usage_data → verification_key → samples.
mod armor;
mod cert;
mod error;
mod fields;
mod file_kind;
mod keys;
mod license;
pub mod samples;
mod sync_key;
mod usage_data;
mod usage_export;
mod verification_key;

#[cfg(test)]
mod refusals;
#[cfg(test)]
mod testutil;

pub use armor::{Signed, Verified};
pub use cert::{CertScope, DelegationCertificate, CERTIFICATE_VERSION, MAX_CERTIFICATE_BYTES};
pub use error::{AirgapError, Artifact, ErrorKind, Result};
pub use fields::{Nonce, Sha256Digest, MAX_ACCOUNT_PATH, MAX_CLOCK_SKEW, MAX_SUBJECT_LEN};
pub use file_kind::{FileKind, FORMAT_VERSION};
pub use keys::{PublicKey, RootKey, SigningKey, PUBLIC_KEY_PREFIX, SECRET_KEY_PREFIX};
pub use license::{
    Enrollment, EnrollmentProof, EnrollmentSecret, InstanceLicense, KnownInstance, LicenseFile,
    LicenseRequest, LICENSE_VERSION, MAX_ENROLLMENT_BYTES,
};
pub use sync_key::{SyncKey, SyncKeyRequest};
pub use usage_data::{ExpectedAnswer, Period, UsageData, UsageRecord, MAX_SEQ_ADVANCE};
pub use usage_export::{ExportManifest, UsageExport};
pub use verification_key::{Acceptance, ImportCounts, VerificationKey};

/// Which kind of file `bytes` claim to be, from their first line, without checking anything
/// else: for a drop handler to route a file. `None` when the first line is no BEGIN line.
pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
    let head = &bytes[..bytes.len().min(64)];
    FileKind::ALL
        .into_iter()
        .find(|k| head.starts_with(k.begin_line().as_bytes()))
}
