//! The sync key: a manager asks one instance for its usage above a mark.

use chrono::{DateTime, Utc};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::armor::{self, Body, Signed, Verified};
use crate::cert::{check_chain, check_signer, DelegationCertificate};
use crate::error::{AirgapError, Artifact, Result};
use crate::fields::{
    check_account_path, check_id, check_subject, timestamp, whole_seconds, Nonce, MAX_CLOCK_SKEW,
};
use crate::file_kind::FileKind;
use crate::keys::{PublicKey, SigningKey};

const WHAT: Artifact = Artifact::File(FileKind::SyncKey);

/// The content of a sync key file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncKey {
    /// The instance asked to report.
    pub instance_id: String,
    /// The instance's license, when the manager knows it; the answer must name the same.
    pub license_id: Option<String>,
    /// The account the instance's license belongs to, after its ancestors (root first). The
    /// certificate's scope must name one of them.
    pub account_path: Vec<String>,
    /// 32 fresh random bytes naming this request; the answer echoes them.
    pub nonce: Nonce,
    /// The highest record `seq` the vendor already holds for this instance (0: none). The
    /// answer carries the records above it.
    pub high_water_mark: u64,
    #[serde(with = "timestamp")]
    pub issued_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub expires_at: DateTime<Utc>,
    /// The manager who issued it: the certificate's subject.
    pub issued_by: String,
    pub certificate: DelegationCertificate,
}

/// What a manager fills in to issue a sync key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncKeyRequest {
    pub instance_id: String,
    pub license_id: Option<String>,
    pub account_path: Vec<String>,
    pub high_water_mark: u64,
    pub expires_at: DateTime<Utc>,
}

impl Body for SyncKey {
    const KIND: FileKind = FileKind::SyncKey;

    fn check(&self) -> Result<()> {
        let invalid = |r: String| AirgapError::invalid(WHAT, r);
        check_id("instance_id", &self.instance_id).map_err(invalid)?;
        if let Some(license) = &self.license_id {
            check_id("license_id", license).map_err(invalid)?;
        }
        check_account_path(&self.account_path).map_err(invalid)?;
        check_subject("issued_by", &self.issued_by).map_err(invalid)?;
        if self.expires_at <= self.issued_at {
            return Err(invalid("it expires before it is issued".into()));
        }
        self.certificate.check_fields()
    }
}

impl SyncKey {
    /// Writes a sync key signed by the manager's delegated `key`, which `cert` certifies.
    /// The nonce comes from `rng`; `issued_at` is `now`.
    pub fn issue<R: RngCore + CryptoRng>(
        request: &SyncKeyRequest,
        key: &SigningKey,
        cert: &DelegationCertificate,
        rng: &mut R,
        now: DateTime<Utc>,
    ) -> Result<String> {
        let now = whole_seconds(now);
        let expires_at = whole_seconds(request.expires_at);
        check_signer(WHAT, key, cert, now)?;
        cert.check_scope(WHAT, &request.account_path)?;
        if expires_at <= now {
            return Err(AirgapError::request(
                WHAT,
                "its expiry must be in the future",
            ));
        }
        if expires_at > cert.expires_at {
            return Err(AirgapError::request(
                WHAT,
                format!(
                    "it would outlive the signing certificate, which expires on {}: choose an \
                     earlier expiry, or sync with the cloud to renew the certificate",
                    crate::error::when(&cert.expires_at)
                ),
            ));
        }
        let body = SyncKey {
            instance_id: request.instance_id.clone(),
            license_id: request.license_id.clone(),
            account_path: request.account_path.clone(),
            nonce: Nonce::generate(rng),
            high_water_mark: request.high_water_mark,
            issued_at: now,
            expires_at,
            issued_by: cert.subject.clone(),
            certificate: cert.clone(),
        };
        armor::write(&body, key)
    }

    /// Reads a sync key: every check that needs no key. Call [`Signed::verify`] next.
    pub fn parse(bytes: &[u8]) -> Result<Signed<SyncKey>> {
        armor::parse(bytes)
    }
}

impl Signed<SyncKey> {
    /// Checks, in order: the file's signature by the certificate's key; the certificate's
    /// signature by `root`; `issued_by` is the certificate's subject; the certificate's scope
    /// covers `account_path`; the sync key was issued within the certificate's validity and
    /// does not outlive it; `now` is within the sync key's validity.
    pub fn verify(&self, root: &PublicKey, now: DateTime<Utc>) -> Result<Verified<SyncKey>> {
        let sk = &self.body;
        let cert = &sk.certificate;
        check_chain(
            WHAT,
            self,
            cert,
            &sk.issued_by,
            &sk.account_path,
            sk.issued_at,
            root,
        )?;
        if sk.expires_at > cert.expires_at {
            return Err(AirgapError::UntrustedKey {
                what: WHAT,
                reason: format!(
                    "it expires on {}, after its certificate ({}): {}",
                    crate::error::when(&sk.expires_at),
                    crate::error::when(&cert.expires_at),
                    WHAT.remedy()
                ),
            });
        }
        if now + MAX_CLOCK_SKEW < sk.issued_at {
            return Err(AirgapError::NotYetValid {
                what: WHAT,
                valid_from: sk.issued_at,
                now,
            });
        }
        if now >= sk.expires_at {
            return Err(AirgapError::Expired {
                what: WHAT,
                expired_at: sk.expires_at,
            });
        }
        Ok(self.verified())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::cert::CertScope;
    use crate::error::ErrorKind;
    use crate::testutil::{fixture, path, Fixture};

    fn issue(f: &Fixture, request: &SyncKeyRequest) -> Result<String> {
        SyncKey::issue(request, &f.delegated, &f.cert, &mut f.rng(), f.now)
    }

    #[test]
    fn round_trip() {
        let f = fixture();
        let text = issue(&f, &f.sync_request()).unwrap();
        let parsed = SyncKey::parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.text(), text, "canonical form is the written form");
        let sk = parsed.verify(&f.root.public_key(), f.now).unwrap();
        assert_eq!(sk.instance_id, "inst-acme-1");
        assert_eq!(sk.license_id.as_deref(), Some("lic-acme-2026"));
        assert_eq!(sk.high_water_mark, 40);
        assert_eq!(sk.issued_by, "alice@vendor.example");
        assert_eq!(sk.issued_at, f.now);
        assert_eq!(sk.certificate, f.cert);
        assert_eq!(sk.sha256(), parsed.sha256());
    }

    #[test]
    fn nonces_are_fresh_per_issue() {
        let f = fixture();
        let mut rng = f.rng();
        let a = SyncKey::issue(&f.sync_request(), &f.delegated, &f.cert, &mut rng, f.now).unwrap();
        let b = SyncKey::issue(&f.sync_request(), &f.delegated, &f.cert, &mut rng, f.now).unwrap();
        let (a, b) = (
            SyncKey::parse(a.as_bytes()).unwrap(),
            SyncKey::parse(b.as_bytes()).unwrap(),
        );
        assert_ne!(a.unverified().nonce, b.unverified().nonce);
    }

    #[test]
    fn an_expired_sync_key_is_refused() {
        let f = fixture();
        let text = issue(&f, &f.sync_request()).unwrap();
        let parsed = SyncKey::parse(text.as_bytes()).unwrap();
        let expiry = f.sync_request().expires_at;
        parsed
            .verify(&f.root.public_key(), expiry - Duration::seconds(1))
            .unwrap();
        let e = parsed.verify(&f.root.public_key(), expiry).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Expired, "{e}");
        assert!(e.to_string().contains("issue a new sync key"), "{e}");
    }

    #[test]
    fn a_sync_key_from_the_future_is_refused() {
        let f = fixture();
        let parsed = SyncKey::parse(issue(&f, &f.sync_request()).unwrap().as_bytes()).unwrap();
        let e = parsed
            .verify(&f.root.public_key(), f.now - Duration::days(1))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotYetValid, "{e}");
    }

    #[test]
    fn a_sync_key_under_an_expired_certificate_cannot_be_issued() {
        let f = fixture();
        let e = SyncKey::issue(
            &f.sync_request(),
            &f.delegated,
            &f.cert,
            &mut f.rng(),
            f.cert.expires_at,
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Expired, "{e}");
        assert!(
            e.to_string().contains("renew the signing certificate"),
            "{e}"
        );
    }

    #[test]
    fn a_sync_key_may_not_outlive_its_certificate() {
        let f = fixture();
        let mut request = f.sync_request();
        request.expires_at = f.cert.expires_at + Duration::days(1);
        let e = issue(&f, &request).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
        assert!(
            e.to_string().contains("outlive the signing certificate"),
            "{e}"
        );
    }

    #[test]
    fn out_of_scope_accounts_are_refused_on_issue_and_verify() {
        let f = fixture();
        let mut request = f.sync_request();
        request.account_path = path(&["other-msp", "globex"]);
        let e = issue(&f, &request).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfScope, "{e}");

        // A certificate scoped elsewhere, signing a file for msp > acme: refused on verify.
        let other = f
            .root
            .certify(
                &f.delegated.public_key(),
                "alice@vendor.example",
                CertScope::Subtree("other-msp".into()),
                f.now,
                f.cert.expires_at,
            )
            .unwrap();
        let body = SyncKey {
            instance_id: "inst-acme-1".into(),
            license_id: None,
            account_path: path(&["msp", "acme"]),
            nonce: Nonce([9; 32]),
            high_water_mark: 0,
            issued_at: f.now,
            expires_at: f.now + Duration::days(1),
            issued_by: "alice@vendor.example".into(),
            certificate: other,
        };
        let text = armor::write(&body, &f.delegated).unwrap();
        let e = SyncKey::parse(text.as_bytes())
            .unwrap()
            .verify(&f.root.public_key(), f.now)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfScope, "{e}");
    }

    #[test]
    fn a_key_the_certificate_does_not_name_is_refused() {
        let f = fixture();
        let intruder = SigningKey::generate(&mut f.rng());
        // Writing with the wrong key is refused up front...
        let e =
            SyncKey::issue(&f.sync_request(), &intruder, &f.cert, &mut f.rng(), f.now).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
        // ...and a file signed by it anyway does not verify.
        let body = SyncKey::parse(issue(&f, &f.sync_request()).unwrap().as_bytes())
            .unwrap()
            .unverified()
            .clone();
        let forged = armor::write(&body, &intruder).unwrap();
        let e = SyncKey::parse(forged.as_bytes())
            .unwrap()
            .verify(&f.root.public_key(), f.now)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadSignature, "{e}");
    }

    #[test]
    fn a_self_made_certificate_is_refused() {
        let f = fixture();
        // An attacker makes their own root, certifies their own key and signs a sync key.
        let mut rng = f.rng();
        let fake_root = crate::keys::RootKey::generate(&mut rng);
        let key = SigningKey::generate(&mut rng);
        let cert = fake_root
            .certify(
                &key.public_key(),
                "mallory",
                CertScope::All,
                f.now,
                f.now + Duration::days(90),
            )
            .unwrap();
        let text = SyncKey::issue(&f.sync_request(), &key, &cert, &mut rng, f.now).unwrap();
        let e = SyncKey::parse(text.as_bytes())
            .unwrap()
            .verify(&f.root.public_key(), f.now)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UntrustedKey, "{e}");
        assert!(
            e.to_string()
                .contains(&fake_root.public_key().fingerprint()),
            "{e}"
        );
    }

    #[test]
    fn a_sync_key_outside_its_certificate_validity_is_refused() {
        let f = fixture();
        let good = SyncKey::parse(issue(&f, &f.sync_request()).unwrap().as_bytes())
            .unwrap()
            .unverified()
            .clone();
        // Signed with the right key, but outliving the certificate (a writer that skipped
        // the check), or issued before the certificate existed.
        let mut outliving = good.clone();
        outliving.expires_at = f.cert.expires_at + Duration::days(1);
        let mut early = good;
        early.issued_at = f.cert.issued_at - Duration::days(2);
        for body in [outliving, early] {
            let text = armor::write(&body, &f.delegated).unwrap();
            let e = SyncKey::parse(text.as_bytes())
                .unwrap()
                .verify(&f.root.public_key(), f.now)
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::UntrustedKey, "{e}");
        }
    }

    #[test]
    fn issued_by_must_be_the_certificate_subject() {
        let f = fixture();
        let mut body = SyncKey::parse(issue(&f, &f.sync_request()).unwrap().as_bytes())
            .unwrap()
            .unverified()
            .clone();
        body.issued_by = "bob@vendor.example".into();
        let text = armor::write(&body, &f.delegated).unwrap();
        let e = SyncKey::parse(text.as_bytes())
            .unwrap()
            .verify(&f.root.public_key(), f.now)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UntrustedKey, "{e}");
    }

    #[test]
    fn a_bad_instance_id_cannot_be_written() {
        let f = fixture();
        let mut request = f.sync_request();
        request.instance_id = " inst".into();
        let e = issue(&f, &request).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
        assert!(e.to_string().contains("instance_id"), "{e}");
    }
}
