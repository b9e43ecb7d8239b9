//! The signed manifest of a CSV usage export: a manager vouches, with the delegated key the
//! vendor root key certified, for what a CSV holds (its SHA-256 among it), in the armor of the
//! exchange files. The manifest's own fields belong to the exporter (crate `usagedesk-export`,
//! `docs/export-format.md`); this file adds who signed it and where the account sits.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::armor::{self, Body, Signed, Verified};
use crate::cert::{check_chain, check_signer, DelegationCertificate};
use crate::error::{AirgapError, Artifact, Result};
use crate::fields::{check_account_path, check_subject, MAX_CLOCK_SKEW};
use crate::file_kind::FileKind;
use crate::keys::{PublicKey, SigningKey};

const WHAT: Artifact = Artifact::File(FileKind::UsageExport);

/// What the signature needs to know of a manifest.
pub trait ExportManifest: Serialize + DeserializeOwned + Clone {
    /// The account the export is about: the last id of the file's `account_path`.
    fn account_id(&self) -> &str;
    /// When the export was written, in whole seconds: the time the signature speaks for.
    fn generated_at(&self) -> DateTime<Utc>;
}

/// The content of a signed usage export manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageExport<M> {
    /// The exporter's manifest: what the CSV holds and its SHA-256.
    pub manifest: M,
    /// Where the exported account sits in the vendor's tree, root first, ending with it:
    /// what the certificate's scope is checked against.
    pub account_path: Vec<String>,
    /// The manager: must equal the certificate's `subject`.
    pub issued_by: String,
    /// Certifies the key that signed this file.
    pub certificate: DelegationCertificate,
}

impl<M: ExportManifest> Body for UsageExport<M> {
    const KIND: FileKind = FileKind::UsageExport;

    fn check(&self) -> Result<()> {
        let invalid = |r: String| AirgapError::invalid(WHAT, r);
        check_account_path(&self.account_path).map_err(invalid)?;
        if self.account_path.last().map(String::as_str) != Some(self.manifest.account_id()) {
            return Err(invalid(format!(
                "account_path must end with the exported account `{}`",
                self.manifest.account_id()
            )));
        }
        check_subject("issued_by", &self.issued_by).map_err(invalid)?;
        self.certificate.check_fields()
    }
}

impl<M: ExportManifest> UsageExport<M> {
    /// Writes `manifest` signed by the manager's delegated `key`, which `cert` certifies; the
    /// certificate must be in force at the manifest's `generated_at` and its scope must hold
    /// `account_path`.
    pub fn sign(
        manifest: M,
        account_path: Vec<String>,
        key: &SigningKey,
        cert: &DelegationCertificate,
    ) -> Result<String> {
        check_signer(WHAT, key, cert, manifest.generated_at())?;
        cert.check_scope(WHAT, &account_path)?;
        let body = UsageExport {
            manifest,
            account_path,
            issued_by: cert.subject.clone(),
            certificate: cert.clone(),
        };
        armor::write(&body, key)
    }

    /// Reads a signed manifest: every check that needs no key. Call [`Signed::verify`] next.
    pub fn parse(bytes: &[u8]) -> Result<Signed<UsageExport<M>>> {
        armor::parse(bytes)
    }
}

impl<M: ExportManifest> Signed<UsageExport<M>> {
    /// Checks, in order: the file's signature by the certificate's key; the certificate's
    /// signature by `root`; `issued_by` is the certificate's subject; the scope holds
    /// `account_path`; the manifest's `generated_at` lies within the certificate's validity
    /// and not after `now` (give or take the clock skew).
    ///
    /// An export does not expire: a certificate that has ended since still vouches for what
    /// it signed while in force.
    pub fn verify(&self, root: &PublicKey, now: DateTime<Utc>) -> Result<Verified<UsageExport<M>>> {
        let body = &self.body;
        let generated_at = body.manifest.generated_at();
        check_chain(
            WHAT,
            self,
            &body.certificate,
            &body.issued_by,
            &body.account_path,
            generated_at,
            root,
        )?;
        if now + MAX_CLOCK_SKEW < generated_at {
            return Err(AirgapError::NotYetValid {
                what: WHAT,
                valid_from: generated_at,
                now,
            });
        }
        Ok(self.verified())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::cert::CertScope;
    use crate::error::ErrorKind;
    use crate::keys::RootKey;
    use crate::testutil::t;

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Note {
        account_id: String,
        sha256: String,
        #[serde(with = "crate::fields::timestamp")]
        generated_at: DateTime<Utc>,
    }

    impl ExportManifest for Note {
        fn account_id(&self) -> &str {
            &self.account_id
        }
        fn generated_at(&self) -> DateTime<Utc> {
            self.generated_at
        }
    }

    fn path(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn setup() -> (RootKey, SigningKey, DelegationCertificate, Note) {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let root = RootKey::generate(&mut rng);
        let key = SigningKey::generate(&mut rng);
        let cert = root
            .certify(
                &key.public_key(),
                "alice@vendor.example",
                CertScope::Subtree("msp".into()),
                t("2026-03-01T00:00:00Z"),
                t("2026-06-01T00:00:00Z"),
            )
            .unwrap();
        let note = Note {
            account_id: "acme".into(),
            sha256: "ab".repeat(32),
            generated_at: t("2026-04-01T10:00:00Z"),
        };
        (root, key, cert, note)
    }

    #[test]
    fn a_signed_manifest_verifies_after_its_certificate_ended() {
        let (root, key, cert, note) = setup();
        let text = UsageExport::sign(note.clone(), path(&["msp", "acme"]), &key, &cert).unwrap();
        assert!(text.starts_with("-----BEGIN USAGEDESK USAGE EXPORT-----\nVersion: 1\n{\n"));
        let file = UsageExport::<Note>::parse(text.as_bytes()).unwrap();
        // Long after the certificate's end: it was in force when the export was signed.
        let ok = file
            .verify(&root.public_key(), t("2027-01-01T00:00:00Z"))
            .unwrap();
        assert_eq!(ok.manifest, note);
        assert_eq!(ok.issued_by, "alice@vendor.example");
        assert_eq!(ok.text(), text, "the canonical form is the bytes written");
    }

    #[test]
    fn one_changed_byte_breaks_the_signature() {
        let (root, key, cert, note) = setup();
        let text = UsageExport::sign(note, path(&["msp", "acme"]), &key, &cert).unwrap();
        // Change one hex digit of the CSV's hash: still well-formed, no longer signed.
        let at = text.find(&"ab".repeat(32)).unwrap();
        let mut bytes = text.into_bytes();
        bytes[at] = b'c';
        let e = UsageExport::<Note>::parse(&bytes)
            .unwrap()
            .verify(&root.public_key(), t("2026-04-02T00:00:00Z"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadSignature, "{e}");
        assert!(e.to_string().contains("usage export manifest"), "{e}");
    }

    #[test]
    fn another_root_an_expired_certificate_or_another_scope_is_refused() {
        let (root, key, cert, note) = setup();
        let text = UsageExport::sign(note.clone(), path(&["msp", "acme"]), &key, &cert).unwrap();
        let other = RootKey::generate(&mut ChaCha20Rng::seed_from_u64(12));
        let e = UsageExport::<Note>::parse(text.as_bytes())
            .unwrap()
            .verify(&other.public_key(), t("2026-04-02T00:00:00Z"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UntrustedKey, "{e}");

        // The writer refuses a certificate that ended before the export was written...
        let late = Note {
            generated_at: t("2026-06-01T00:00:00Z"),
            ..note.clone()
        };
        let e = UsageExport::sign(late, path(&["msp", "acme"]), &key, &cert).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Expired, "{e}");
        // ... and an account outside its scope.
        let e = UsageExport::sign(note.clone(), path(&["other", "acme"]), &key, &cert).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfScope, "{e}");
        // A path that does not end with the exported account is not written.
        let e = UsageExport::sign(note.clone(), path(&["msp"]), &key, &cert).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");

        // A manifest dated in the future is not yet valid.
        let e = UsageExport::<Note>::parse(text.as_bytes())
            .unwrap()
            .verify(&root.public_key(), note.generated_at - Duration::hours(2))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotYetValid, "{e}");
    }
}
