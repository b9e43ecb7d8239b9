//! The delegation certificate: the vendor root key vouches for a manager's key, for an account
//! scope and a period. Sync keys and verification keys embed it, so an agent that trusts only
//! the root public key can check them offline.

use std::fmt;

use chrono::{DateTime, Utc};
use ed25519_dalek::Signature;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::armor::Signed;
use crate::error::{when, AirgapError, Artifact, Result};
use crate::fields::{
    check_id, check_subject, show_path, signature_b64, timestamp, whole_seconds, MAX_CLOCK_SKEW,
};
use crate::keys::{PublicKey, RootKey, SigningKey};

/// The certificate format version this build writes and reads.
pub const CERTIFICATE_VERSION: u32 = 1;

/// The largest standalone certificate accepted by [`DelegationCertificate::from_json`].
pub const MAX_CERTIFICATE_BYTES: usize = 16 * 1024;

/// What the root signs: this tag, then the certificate without its `signature`, as compact
/// JSON in field order.
const SIGNING_TAG: &[u8] = b"USAGEDESK DELEGATION CERTIFICATE\n";

/// Which accounts a delegated key may issue files for: `*` (all), or one account and all its
/// descendants. Serialized as that string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CertScope {
    All,
    /// The subtree rooted at this account.
    Subtree(String),
}

impl CertScope {
    /// True when an instance whose account has this path (root first, the instance's own
    /// account last) lies in the scope.
    pub fn covers(&self, account_path: &[String]) -> bool {
        match self {
            CertScope::All => true,
            CertScope::Subtree(root) => account_path.iter().any(|a| a == root),
        }
    }
}

impl fmt::Display for CertScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertScope::All => f.write_str("*"),
            CertScope::Subtree(id) => f.write_str(id),
        }
    }
}

impl Serialize for CertScope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CertScope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "*" {
            return Ok(CertScope::All);
        }
        check_id("scope", &s).map_err(serde::de::Error::custom)?;
        Ok(CertScope::Subtree(s))
    }
}

/// A manager's delegated public key, certified by the vendor root key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegationCertificate {
    pub version: u32,
    /// The delegated key: the one that signs sync keys and verification keys.
    pub public_key: PublicKey,
    /// Who holds the delegated key (e.g. the manager's e-mail address).
    pub subject: String,
    pub scope: CertScope,
    #[serde(with = "timestamp")]
    pub issued_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub expires_at: DateTime<Utc>,
    /// The fingerprint ([`PublicKey::fingerprint`]) of the root key that signed it.
    pub issuer: String,
    #[serde(with = "signature_b64")]
    pub signature: Signature,
}

/// The signed part: every field but the signature, in the same order.
#[derive(Serialize)]
struct CertBody<'a> {
    version: u32,
    public_key: &'a PublicKey,
    subject: &'a str,
    scope: &'a CertScope,
    #[serde(with = "timestamp")]
    issued_at: &'a DateTime<Utc>,
    #[serde(with = "timestamp")]
    expires_at: &'a DateTime<Utc>,
    issuer: &'a str,
}

const CERT: Artifact = Artifact::Certificate;

impl DelegationCertificate {
    pub(crate) fn issue(
        root: &SigningKey,
        delegated: &PublicKey,
        subject: &str,
        scope: CertScope,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Self> {
        let (now, expires_at) = (whole_seconds(now), whole_seconds(expires_at));
        check_subject("subject", subject).map_err(|r| AirgapError::request(CERT, r))?;
        if expires_at <= now {
            return Err(AirgapError::request(CERT, "expires_at must be after now"));
        }
        let mut cert = DelegationCertificate {
            version: CERTIFICATE_VERSION,
            public_key: *delegated,
            subject: subject.to_owned(),
            scope,
            issued_at: now,
            expires_at,
            issuer: root.public_key().fingerprint(),
            signature: Signature::from_bytes(&[0; 64]),
        };
        cert.signature = root.sign(&cert.signed_message());
        Ok(cert)
    }

    fn signed_message(&self) -> Vec<u8> {
        let body = CertBody {
            version: self.version,
            public_key: &self.public_key,
            subject: &self.subject,
            scope: &self.scope,
            issued_at: &self.issued_at,
            expires_at: &self.expires_at,
            issuer: &self.issuer,
        };
        let mut message = SIGNING_TAG.to_vec();
        // Serializing plain strings, numbers and keys cannot fail.
        message.extend(serde_json::to_vec(&body).unwrap_or_default());
        message
    }

    /// Checks the fields that need no key: version, subject, period.
    pub(crate) fn check_fields(&self) -> Result<()> {
        if self.version != CERTIFICATE_VERSION {
            return Err(AirgapError::UnknownVersion {
                what: CERT,
                found: self.version.to_string(),
                supported: &[CERTIFICATE_VERSION],
            });
        }
        check_subject("subject", &self.subject).map_err(|r| AirgapError::invalid(CERT, r))?;
        if self.expires_at <= self.issued_at {
            return Err(AirgapError::invalid(CERT, "it expires before it is issued"));
        }
        Ok(())
    }

    /// Checks that `root` issued and signed this certificate (whatever the time).
    pub fn verify_signature(&self, root: &PublicKey) -> Result<()> {
        self.check_fields()?;
        if self.issuer != root.fingerprint() {
            return Err(AirgapError::UntrustedKey {
                what: CERT,
                reason: format!(
                    "its certificate was issued by root key {}, but the vendor key trusted here \
                     is {} ({}): check that the vendor key configured here is the one of the \
                     cloud that issued the certificate",
                    self.issuer,
                    root.fingerprint(),
                    root
                ),
            });
        }
        if !root.verifies(&self.signed_message(), &self.signature) {
            return Err(AirgapError::BadSignature { what: CERT });
        }
        Ok(())
    }

    /// Checks that the certificate is in force at `t` (within [`MAX_CLOCK_SKEW`] before its
    /// start, strictly before its end).
    pub fn check_valid_at(&self, t: DateTime<Utc>) -> Result<()> {
        if t + MAX_CLOCK_SKEW < self.issued_at {
            return Err(AirgapError::NotYetValid {
                what: CERT,
                valid_from: self.issued_at,
                now: t,
            });
        }
        if t >= self.expires_at {
            return Err(AirgapError::Expired {
                what: CERT,
                expired_at: self.expires_at,
            });
        }
        Ok(())
    }

    /// Signature by `root` and validity at `now`.
    pub fn verify(&self, root: &PublicKey, now: DateTime<Utc>) -> Result<()> {
        self.verify_signature(root)?;
        self.check_valid_at(now)
    }

    /// Refuses a file for an account outside the scope.
    pub fn check_scope(&self, what: Artifact, account_path: &[String]) -> Result<()> {
        if self.scope.covers(account_path) {
            return Ok(());
        }
        Err(AirgapError::OutOfScope {
            what,
            scope: self.scope.to_string(),
            account_path: show_path(account_path),
        })
    }

    /// The transport form (from the cloud to the manager's app): compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses [`DelegationCertificate::to_json`]: strict (unknown fields refused, at most
    /// [`MAX_CERTIFICATE_BYTES`]). Call [`DelegationCertificate::verify`] before trusting it.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_CERTIFICATE_BYTES {
            return Err(AirgapError::TooLarge {
                what: CERT,
                size: bytes.len(),
                limit: MAX_CERTIFICATE_BYTES,
            });
        }
        let cert: Self = serde_json::from_slice(bytes)
            .map_err(|e| AirgapError::malformed(CERT, e.to_string()))?;
        cert.check_fields()?;
        Ok(cert)
    }
}

/// The checks on the signer of a file about to be written.
pub(crate) fn check_signer(
    what: Artifact,
    key: &SigningKey,
    cert: &DelegationCertificate,
    now: DateTime<Utc>,
) -> Result<()> {
    if key.public_key() != cert.public_key {
        return Err(AirgapError::request(
            what,
            "the signing key is not the one the certificate certifies: sync with the cloud to \
             fetch the certificate of this key",
        ));
    }
    cert.check_fields()?;
    cert.check_valid_at(now)
}

/// The chain of a manager-signed file: the file is signed by the certificate's key, the
/// certificate by `root`; the signer's name, the scope and the file's time fit the certificate.
pub(crate) fn check_chain<T>(
    what: Artifact,
    file: &Signed<T>,
    cert: &DelegationCertificate,
    issued_by: &str,
    account_path: &[String],
    issued_at: DateTime<Utc>,
    root: &PublicKey,
) -> Result<()> {
    if !cert
        .public_key
        .verifies(file.signed_bytes(), &file.signature)
    {
        return Err(AirgapError::BadSignature { what });
    }
    cert.verify_signature(root)?;
    if issued_by != cert.subject {
        return Err(AirgapError::UntrustedKey {
            what,
            reason: format!(
                "it names `{issued_by}` as its issuer, but its certificate was given to `{}`: \
                 {}",
                cert.subject,
                what.remedy()
            ),
        });
    }
    cert.check_scope(what, account_path)?;
    if issued_at + MAX_CLOCK_SKEW < cert.issued_at || issued_at >= cert.expires_at {
        return Err(AirgapError::UntrustedKey {
            what,
            reason: format!(
                "it was issued on {}, outside its certificate's validity ({} to {}): {}",
                when(&issued_at),
                when(&cert.issued_at),
                when(&cert.expires_at),
                what.remedy()
            ),
        });
    }
    Ok(())
}

impl RootKey {
    /// Certifies a manager's delegated key for `scope` from `now` until `expires_at`.
    /// `subject` names the manager (e.g. an e-mail address) and becomes the `issued_by` of
    /// everything that key signs.
    pub fn certify(
        &self,
        delegated: &PublicKey,
        subject: &str,
        scope: CertScope,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<DelegationCertificate> {
        DelegationCertificate::issue(
            self.signing_key(),
            delegated,
            subject,
            scope,
            now,
            expires_at,
        )
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::error::ErrorKind;
    use crate::keys::RootKey;
    use crate::testutil::t;

    fn setup() -> (RootKey, SigningKey, DelegationCertificate) {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let root = RootKey::generate(&mut rng);
        let delegated = SigningKey::generate(&mut rng);
        let cert = root
            .certify(
                &delegated.public_key(),
                "alice@vendor.example",
                CertScope::Subtree("msp".into()),
                t("2026-03-01T00:00:00Z"),
                t("2026-06-01T00:00:00Z"),
            )
            .unwrap();
        (root, delegated, cert)
    }

    #[test]
    fn a_certificate_verifies_against_its_root_while_in_force() {
        let (root, delegated, cert) = setup();
        assert_eq!(cert.public_key, delegated.public_key());
        cert.verify(&root.public_key(), t("2026-04-01T00:00:00Z"))
            .unwrap();
        // The transport form round-trips to an equal, still valid certificate.
        let back = DelegationCertificate::from_json(cert.to_json().as_bytes()).unwrap();
        assert_eq!(back, cert);
        back.verify(&root.public_key(), t("2026-04-01T00:00:00Z"))
            .unwrap();
    }

    #[test]
    fn expiry_and_start_are_enforced() {
        let (root, _, cert) = setup();
        let e = cert
            .verify(&root.public_key(), t("2026-06-01T00:00:00Z"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Expired, "{e}");
        assert!(
            e.to_string().contains("renew the signing certificate"),
            "{e}"
        );
        // Within the clock skew of the start is fine; a day before is not.
        cert.verify(
            &root.public_key(),
            t("2026-03-01T00:00:00Z") - Duration::minutes(30),
        )
        .unwrap();
        let e = cert
            .verify(&root.public_key(), t("2026-02-28T00:00:00Z"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotYetValid, "{e}");
    }

    #[test]
    fn another_root_is_not_trusted() {
        let (_, _, cert) = setup();
        let other = RootKey::generate(&mut ChaCha20Rng::seed_from_u64(8));
        let e = cert
            .verify(&other.public_key(), t("2026-04-01T00:00:00Z"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UntrustedKey, "{e}");
    }

    #[test]
    fn a_widened_scope_or_period_breaks_the_signature() {
        let (root, _, cert) = setup();
        let mut wider = cert.clone();
        wider.scope = CertScope::All;
        let e = wider
            .verify(&root.public_key(), t("2026-04-01T00:00:00Z"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadSignature, "{e}");

        let mut longer = cert;
        longer.expires_at = t("2027-06-01T00:00:00Z");
        let e = longer
            .verify(&root.public_key(), t("2026-04-01T00:00:00Z"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadSignature, "{e}");
    }

    #[test]
    fn scope_covers_the_subtree_only() {
        let (_, _, cert) = setup();
        let path = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        cert.check_scope(CERT, &path(&["msp", "acme"])).unwrap();
        cert.check_scope(CERT, &path(&["msp"])).unwrap();
        let e = cert
            .check_scope(CERT, &path(&["other", "acme"]))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfScope, "{e}");
        assert!(e.to_string().contains("other > acme"), "{e}");
        assert!(CertScope::All.covers(&path(&["anything"])));
    }

    #[test]
    fn strict_json_refuses_unknown_fields_and_versions() {
        let (_, _, cert) = setup();
        let mut v: serde_json::Value = serde_json::from_str(&cert.to_json()).unwrap();
        v["extra"] = serde_json::json!(1);
        let e = DelegationCertificate::from_json(v.to_string().as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Malformed, "{e}");
        assert!(e.to_string().contains("unknown field `extra`"), "{e}");

        let mut v: serde_json::Value = serde_json::from_str(&cert.to_json()).unwrap();
        v["version"] = serde_json::json!(2);
        let e = DelegationCertificate::from_json(v.to_string().as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownVersion, "{e}");

        let e =
            DelegationCertificate::from_json(&vec![b' '; MAX_CERTIFICATE_BYTES + 1]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
    }
}
