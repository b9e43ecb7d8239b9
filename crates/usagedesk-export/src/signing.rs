//! Whether an export's manifest is signed, and by whom: asked for by the caller (who holds the
//! manager's key), reported back with the outcome.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use usagedesk_airgap::{DelegationCertificate, SigningKey};

/// How to write the manifest.
pub enum Signing<'a> {
    /// Sign it with the manager's delegated key, which `certificate` certifies.
    Sign {
        key: &'a SigningKey,
        certificate: &'a DelegationCertificate,
        /// The exported account's path in the vendor's tree, root first, ending with it.
        account_path: Vec<String>,
    },
    /// No key or certificate in force here: write a plain manifest that says why.
    Unsigned { reason: String },
}

/// What the manifest of a written export says about its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ExportSignature {
    /// Signed with the manager's delegated key; the certificate is in the manifest.
    Signed {
        /// The certificate's subject: the manager who signed.
        signed_by: String,
        /// `*` or the account whose subtree the certificate covers.
        scope: String,
        certificate_expires_at: DateTime<Utc>,
        /// `sha256:…` of the vendor root key that certified the signing key.
        root_fingerprint: String,
    },
    /// Not signed: anyone can check the CSV against the manifest's hash, but nothing proves
    /// who wrote them.
    Unsigned { reason: String },
}

impl ExportSignature {
    pub(crate) fn of(certificate: &DelegationCertificate) -> Self {
        Self::Signed {
            signed_by: certificate.subject.clone(),
            scope: certificate.scope.to_string(),
            certificate_expires_at: certificate.expires_at,
            root_fingerprint: certificate.issuer.clone(),
        }
    }
}
