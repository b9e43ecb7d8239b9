//! The license file: the vendor root key's statement of which instance runs under which
//! license, where its account sits in the tree and whether it reports by file, with the
//! **enrollment secret** that lets the instance prove it is that instance.
//!
//! - The vendor writes it ([`LicenseFile::issue`], signed by the root key) and hands it to the
//!   customer with the product. The root's statement, [`InstanceLicense`], also carries its own
//!   root signature, so it can travel without the secret.
//! - The agent reads it once ([`LicenseFile::parse`], then [`Signed::verify`]) and learns its
//!   own account path from it. On first contact it proves its key with an [`Enrollment`]: the
//!   license and an Ed25519 signature of the instance key by the enrollment secret.
//! - The cloud and the manager's app check an enrollment against the root key and the instance
//!   as they know it ([`Enrollment::verify`]) before they take an instance key for the first
//!   time. The cloud keeps only the enrollment *public* key, so its database alone cannot
//!   enroll anything.

use std::fmt;

use chrono::{DateTime, Utc};
use ed25519_dalek::Signature;
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::armor::{self, Body, Signed, Verified};
use crate::error::{AirgapError, Artifact, Result};
use crate::fields::{
    check_account_path, check_id, show_path, signature_b64, timestamp, whole_seconds,
    MAX_CLOCK_SKEW,
};
use crate::file_kind::FileKind;
use crate::keys::{PublicKey, RootKey, SigningKey};

const WHAT: Artifact = Artifact::File(FileKind::License);
const LICENSE: Artifact = Artifact::License;
const ENROLLMENT: Artifact = Artifact::Enrollment;

/// The version of [`InstanceLicense`] this build writes and reads.
pub const LICENSE_VERSION: u32 = 1;

/// The largest enrollment accepted by [`Enrollment::from_json`] (bytes).
pub const MAX_ENROLLMENT_BYTES: usize = 16 * 1024;

/// What the root signs for an instance license: this tag, then the license without its
/// `signature`, as compact JSON in field order.
const LICENSE_TAG: &[u8] = b"USAGEDESK INSTANCE LICENSE\n";

/// What an enrollment secret signs: this tag, then `{"instance_id", "license_id",
/// "instance_key"}` as compact JSON.
const ENROLLMENT_TAG: &[u8] = b"USAGEDESK ENROLLMENT\n";

/// The vendor root key's statement about one instance. Embedded in the license file, and in
/// each enrollment the instance makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceLicense {
    pub version: u32,
    pub license_id: String,
    pub instance_id: String,
    /// The instance's account after its ancestors, root first: the agent answers only managers
    /// whose certificate scope holds it.
    pub account_path: Vec<String>,
    /// The instance reports by file (it cannot enroll online).
    pub airgapped: bool,
    /// The enrollment window: the license file sets up agents, and enrolls instance keys,
    /// from `issued_at` (less the clock skew) until just before `expires_at`.
    #[serde(with = "timestamp")]
    pub issued_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub expires_at: DateTime<Utc>,
    /// The public half of the license file's enrollment secret.
    pub enrollment_key: PublicKey,
    /// The fingerprint ([`PublicKey::fingerprint`]) of the root key that signed it.
    pub issuer: String,
    #[serde(with = "signature_b64")]
    pub signature: Signature,
}

/// The signed part of an [`InstanceLicense`]: every field but the signature, in order.
#[derive(Serialize)]
struct LicenseBody<'a> {
    version: u32,
    license_id: &'a str,
    instance_id: &'a str,
    account_path: &'a [String],
    airgapped: bool,
    #[serde(with = "timestamp")]
    issued_at: &'a DateTime<Utc>,
    #[serde(with = "timestamp")]
    expires_at: &'a DateTime<Utc>,
    enrollment_key: &'a PublicKey,
    issuer: &'a str,
}

/// The instance as the vendor knows it, to check an enrollment against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownInstance<'a> {
    pub instance_id: &'a str,
    pub license_id: &'a str,
    /// Its account's path in the vendor's tree now, root first.
    pub account_path: &'a [String],
    pub airgapped: bool,
}

impl InstanceLicense {
    fn signed_message(&self) -> Vec<u8> {
        let body = LicenseBody {
            version: self.version,
            license_id: &self.license_id,
            instance_id: &self.instance_id,
            account_path: &self.account_path,
            airgapped: self.airgapped,
            issued_at: &self.issued_at,
            expires_at: &self.expires_at,
            enrollment_key: &self.enrollment_key,
            issuer: &self.issuer,
        };
        let mut message = LICENSE_TAG.to_vec();
        // Plain strings, booleans, times and keys always serialize.
        message.extend(serde_json::to_vec(&body).unwrap_or_default());
        message
    }

    /// The rules that need no key: version, ids, path, period.
    pub(crate) fn check_fields(&self) -> Result<()> {
        if self.version != LICENSE_VERSION {
            return Err(AirgapError::UnknownVersion {
                what: LICENSE,
                found: self.version.to_string(),
                supported: &[LICENSE_VERSION],
            });
        }
        let invalid = |r: String| AirgapError::invalid(LICENSE, r);
        check_id("license_id", &self.license_id).map_err(invalid)?;
        check_id("instance_id", &self.instance_id).map_err(invalid)?;
        check_account_path(&self.account_path).map_err(invalid)?;
        if self.expires_at <= self.issued_at {
            return Err(invalid("it expires before it is issued".into()));
        }
        Ok(())
    }

    /// Checks that `root` issued and signed this license (whatever the time).
    pub fn verify_signature(&self, root: &PublicKey) -> Result<()> {
        self.check_fields()?;
        if self.issuer != root.fingerprint() {
            return Err(AirgapError::UntrustedKey {
                what: LICENSE,
                reason: format!(
                    "the license was issued by root key {}, but the vendor key trusted here is \
                     {}: check that the vendor key given here is the one of the cloud that \
                     issued the license file",
                    self.issuer,
                    root.fingerprint()
                ),
            });
        }
        if !root.verifies(&self.signed_message(), &self.signature) {
            return Err(AirgapError::BadSignature { what: LICENSE });
        }
        Ok(())
    }

    /// Checks that the license is in force at `t` (from `issued_at` less the clock skew,
    /// strictly before `expires_at`).
    pub fn check_valid_at(&self, t: DateTime<Utc>) -> Result<()> {
        if t + MAX_CLOCK_SKEW < self.issued_at {
            return Err(AirgapError::NotYetValid {
                what: LICENSE,
                valid_from: self.issued_at,
                now: t,
            });
        }
        if t >= self.expires_at {
            return Err(AirgapError::Expired {
                what: LICENSE,
                expired_at: self.expires_at,
            });
        }
        Ok(())
    }

    /// Checks that the license describes `known`, the instance as the vendor knows it now.
    pub fn check_describes(&self, known: &KnownInstance<'_>) -> Result<()> {
        let wrong = |expected: String, found: String| AirgapError::WrongInstance {
            what: LICENSE,
            expected,
            found,
        };
        if self.instance_id != known.instance_id {
            return Err(wrong(
                known.instance_id.to_owned(),
                self.instance_id.clone(),
            ));
        }
        if self.license_id != known.license_id {
            return Err(wrong(
                format!("{}` of license `{}", known.instance_id, known.license_id),
                format!("{}` of license `{}", self.instance_id, self.license_id),
            ));
        }
        if self.account_path != known.account_path {
            return Err(AirgapError::WrongAccount {
                what: LICENSE,
                expected: show_path(known.account_path),
                found: show_path(&self.account_path),
            });
        }
        if self.airgapped != known.airgapped {
            let mode = |airgapped: bool| if airgapped { "air-gapped" } else { "online" };
            return Err(wrong(
                format!("{}` ({})", known.instance_id, mode(known.airgapped)),
                format!("{}` ({})", self.instance_id, mode(self.airgapped)),
            ));
        }
        Ok(())
    }
}

/// The enrollment secret of a license file: an Ed25519 signing key. Text form
/// `ed25519-secret:…`; `Debug` never shows it.
#[derive(Clone)]
pub struct EnrollmentSecret(SigningKey);

impl EnrollmentSecret {
    pub fn public_key(&self) -> PublicKey {
        self.0.public_key()
    }
}

impl fmt::Debug for EnrollmentSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnrollmentSecret(public: {})", self.public_key())
    }
}

impl PartialEq for EnrollmentSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bytes() == other.0.to_bytes()
    }
}

impl Eq for EnrollmentSecret {}

impl Serialize for EnrollmentSecret {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_secret_text())
    }
}

impl<'de> Deserialize<'de> for EnrollmentSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // Exactly the written spelling: no trailing space or newline inside the string.
        if s.trim_end() != s {
            return Err(serde::de::Error::custom(
                "the enrollment secret has trailing white space",
            ));
        }
        SigningKey::from_secret_text(&s)
            .map(Self)
            .map_err(|e| match e {
                AirgapError::Malformed { reason, .. } => serde::de::Error::custom(reason),
                other => serde::de::Error::custom(other),
            })
    }
}

/// The content of a license file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseFile {
    pub license: InstanceLicense,
    /// Proves the instance's key on first contact. Whoever holds it can enroll the instance
    /// until the license expires: keep the file as secret as the product's license key.
    pub enrollment_secret: EnrollmentSecret,
}

/// What the vendor fills in to issue a license file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseRequest {
    pub license_id: String,
    pub instance_id: String,
    pub account_path: Vec<String>,
    pub airgapped: bool,
    pub expires_at: DateTime<Utc>,
}

impl Body for LicenseFile {
    const KIND: FileKind = FileKind::License;

    fn check(&self) -> Result<()> {
        self.license.check_fields()?;
        if self.enrollment_secret.public_key() != self.license.enrollment_key {
            return Err(AirgapError::invalid(
                WHAT,
                "the enrollment secret is not the one of the license's enrollment key",
            ));
        }
        Ok(())
    }
}

impl LicenseFile {
    /// Writes a license file for `request`, valid from `now`, with a fresh enrollment secret
    /// from `rng`, signed (file and license) by the vendor `root` key.
    pub fn issue<R: RngCore + CryptoRng>(
        root: &RootKey,
        request: &LicenseRequest,
        rng: &mut R,
        now: DateTime<Utc>,
    ) -> Result<String> {
        let (now, expires_at) = (whole_seconds(now), whole_seconds(request.expires_at));
        if expires_at <= now {
            return Err(AirgapError::request(
                WHAT,
                "its expiry must be in the future",
            ));
        }
        let secret = EnrollmentSecret(SigningKey::generate(rng));
        let mut license = InstanceLicense {
            version: LICENSE_VERSION,
            license_id: request.license_id.clone(),
            instance_id: request.instance_id.clone(),
            account_path: request.account_path.clone(),
            airgapped: request.airgapped,
            issued_at: now,
            expires_at,
            enrollment_key: secret.public_key(),
            issuer: root.public_key().fingerprint(),
            signature: Signature::from_bytes(&[0; 64]),
        };
        license.check_fields().map_err(|e| match e {
            AirgapError::InvalidData { reason, .. } => AirgapError::request(WHAT, reason),
            other => other,
        })?;
        license.signature = root.signing_key().sign(&license.signed_message());
        armor::write(
            &LicenseFile {
                license,
                enrollment_secret: secret,
            },
            root.signing_key(),
        )
    }

    /// Reads a license file: every check that needs no key. Call [`Signed::verify`] next.
    pub fn parse(bytes: &[u8]) -> Result<Signed<LicenseFile>> {
        armor::parse(bytes)
    }

    /// The enrollment of `instance_key`: the license, and the enrollment secret's signature of
    /// the instance key (bound to the instance and license ids).
    pub fn enroll(&self, instance_key: &PublicKey) -> Enrollment {
        let l = &self.license;
        let message = enrollment_message(&l.instance_id, &l.license_id, instance_key);
        Enrollment {
            license: l.clone(),
            proof: EnrollmentProof(self.enrollment_secret.0.sign(&message)),
        }
    }
}

impl Signed<LicenseFile> {
    /// Checks, in order: the license names the trusted `root` as its issuer
    /// (`untrusted_key`); the file's signature by `root` (`bad_signature`); the license's own
    /// signature by `root`; `now` within the license's validity (`not_yet_valid`, `expired`).
    pub fn verify(&self, root: &PublicKey, now: DateTime<Utc>) -> Result<Verified<LicenseFile>> {
        let license = &self.body.license;
        if license.issuer != root.fingerprint() {
            return Err(AirgapError::UntrustedKey {
                what: WHAT,
                reason: format!(
                    "it was issued by root key {}, but the vendor key given here is {}: check \
                     the vendor key (usagedesk-cloud vendor-key prints it) and that the license \
                     file comes from the same cloud",
                    license.issuer,
                    root.fingerprint()
                ),
            });
        }
        if !root.verifies(self.signed_bytes(), &self.signature) {
            return Err(AirgapError::BadSignature { what: WHAT });
        }
        license.verify_signature(root)?;
        license.check_valid_at(now).map_err(|e| match e {
            AirgapError::Expired { expired_at, .. } => AirgapError::Expired {
                what: WHAT,
                expired_at,
            },
            AirgapError::NotYetValid {
                valid_from, now, ..
            } => AirgapError::NotYetValid {
                what: WHAT,
                valid_from,
                now,
            },
            other => other,
        })?;
        Ok(self.verified())
    }
}

/// The enrollment secret's Ed25519 signature of an instance key. Serialized as standard
/// padded base64 (88 characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnrollmentProof(pub Signature);

impl Serialize for EnrollmentProof {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        signature_b64::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for EnrollmentProof {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        signature_b64::deserialize(d).map(Self)
    }
}

/// An instance's proof that its key belongs to the licensed instance: carried by its first
/// usage data file (format version 2) and its first online sync key request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    pub license: InstanceLicense,
    pub proof: EnrollmentProof,
}

/// The message an enrollment secret signs for `instance_key`.
fn enrollment_message(instance_id: &str, license_id: &str, instance_key: &PublicKey) -> Vec<u8> {
    #[derive(Serialize)]
    struct Message<'a> {
        instance_id: &'a str,
        license_id: &'a str,
        instance_key: &'a PublicKey,
    }
    let mut message = ENROLLMENT_TAG.to_vec();
    message.extend(
        serde_json::to_vec(&Message {
            instance_id,
            license_id,
            instance_key,
        })
        .unwrap_or_default(),
    );
    message
}

impl Enrollment {
    /// The checks that need neither the root key nor the vendor's records: the license's
    /// fields, that it names `instance_id` and `license_id`, and that the proof signs
    /// `instance_key` with the license's enrollment key.
    pub fn check_proof(
        &self,
        instance_id: &str,
        license_id: &str,
        instance_key: &PublicKey,
    ) -> Result<()> {
        let l = &self.license;
        l.check_fields()?;
        if l.instance_id != instance_id || l.license_id != license_id {
            return Err(AirgapError::WrongInstance {
                what: LICENSE,
                expected: format!("{instance_id}` of license `{license_id}"),
                found: format!("{}` of license `{}", l.instance_id, l.license_id),
            });
        }
        let message = enrollment_message(instance_id, license_id, instance_key);
        if !l.enrollment_key.verifies(&message, &self.proof.0) {
            return Err(AirgapError::BadSignature { what: ENROLLMENT });
        }
        Ok(())
    }

    /// Checks an enrollment of `instance_key` at time `at`, in order: the proof and the
    /// license's names ([`Enrollment::check_proof`]); the license's issuer and signature by
    /// `root`; that it describes `known` (instance, license, account path, air-gapped flag);
    /// that it is in force at `at`. The vendor also checks that it issued the enrollment key
    /// and did not revoke it: see `docs/security.md`.
    pub fn verify(
        &self,
        root: &PublicKey,
        instance_key: &PublicKey,
        known: &KnownInstance<'_>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.check_proof(known.instance_id, known.license_id, instance_key)?;
        self.license.verify_signature(root)?;
        self.license.check_describes(known)?;
        self.license.check_valid_at(at)
    }

    /// The transport form (the online sync key request): compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses [`Enrollment::to_json`]: strict (unknown fields refused, at most
    /// [`MAX_ENROLLMENT_BYTES`]). Call [`Enrollment::verify`] before trusting it.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_ENROLLMENT_BYTES {
            return Err(AirgapError::TooLarge {
                what: ENROLLMENT,
                size: bytes.len(),
                limit: MAX_ENROLLMENT_BYTES,
            });
        }
        let e: Self = serde_json::from_slice(bytes)
            .map_err(|e| AirgapError::malformed(ENROLLMENT, e.to_string()))?;
        e.license.check_fields()?;
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::error::ErrorKind;
    use crate::testutil::{path, t};

    struct Setup {
        root: RootKey,
        text: String,
        now: DateTime<Utc>,
        instance: SigningKey,
    }

    fn request(now: DateTime<Utc>) -> LicenseRequest {
        LicenseRequest {
            license_id: "lic-acme-2026".into(),
            instance_id: "inst-acme-1".into(),
            account_path: path(&["msp", "acme"]),
            airgapped: true,
            expires_at: now + Duration::days(90),
        }
    }

    fn setup() -> Setup {
        let root = RootKey::generate(&mut ChaCha20Rng::seed_from_u64(201));
        let now = t("2026-03-01T08:00:00Z");
        let text = LicenseFile::issue(
            &root,
            &request(now),
            &mut ChaCha20Rng::seed_from_u64(202),
            now,
        )
        .unwrap();
        let instance = SigningKey::generate(&mut ChaCha20Rng::seed_from_u64(203));
        Setup {
            root,
            text,
            now,
            instance,
        }
    }

    fn known(p: &[String]) -> KnownInstance<'_> {
        KnownInstance {
            instance_id: "inst-acme-1",
            license_id: "lic-acme-2026",
            account_path: p,
            airgapped: true,
        }
    }

    #[test]
    fn round_trip_and_enrollment() {
        let s = setup();
        let parsed = LicenseFile::parse(s.text.as_bytes()).unwrap();
        assert_eq!(parsed.text(), s.text, "canonical form is the written form");
        let file = parsed.verify(&s.root.public_key(), s.now).unwrap();
        assert_eq!(file.license.account_path, ["msp", "acme"]);
        assert!(file.license.airgapped);
        assert_eq!(file.license.issuer, s.root.public_key().fingerprint());
        assert!(
            !format!("{file:?}").contains(&file.enrollment_secret.0.to_secret_text()),
            "Debug hides the secret"
        );

        let enrollment = file.enroll(&s.instance.public_key());
        let p = path(&["msp", "acme"]);
        enrollment
            .verify(
                &s.root.public_key(),
                &s.instance.public_key(),
                &known(&p),
                s.now,
            )
            .unwrap();
        // The transport form round-trips.
        let back = Enrollment::from_json(enrollment.to_json().as_bytes()).unwrap();
        assert_eq!(back, enrollment);
    }

    #[test]
    fn an_enrollment_proves_one_key_for_one_instance_as_the_vendor_knows_it() {
        let s = setup();
        let root = s.root.public_key();
        let file = LicenseFile::parse(s.text.as_bytes())
            .unwrap()
            .verify(&root, s.now)
            .unwrap();
        let key = s.instance.public_key();
        let enrollment = file.enroll(&key);
        let p = path(&["msp", "acme"]);

        // Another key than the one enrolled: the proof does not cover it.
        let other = SigningKey::generate(&mut ChaCha20Rng::seed_from_u64(9)).public_key();
        let e = enrollment
            .verify(&root, &other, &known(&p), s.now)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadSignature, "{e}");
        assert!(e.to_string().contains("enrollment proof"), "{e}");

        // The vendor moved the account, relicensed or switched the instance online.
        let moved = path(&["other-msp", "acme"]);
        let e = enrollment
            .verify(&root, &key, &known(&moved), s.now)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WrongAccount, "{e}");
        assert!(e.to_string().contains("other-msp > acme"), "{e}");
        let mut k = known(&p);
        k.license_id = "lic-acme-2027";
        assert_eq!(
            enrollment
                .verify(&root, &key, &k, s.now)
                .unwrap_err()
                .kind(),
            ErrorKind::WrongInstance
        );
        let mut k = known(&p);
        k.airgapped = false;
        let e = enrollment.verify(&root, &key, &k, s.now).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WrongInstance, "{e}");
        assert!(e.to_string().contains("air-gapped"), "{e}");
        let mut k = known(&p);
        k.instance_id = "inst-acme-2";
        assert_eq!(
            enrollment
                .verify(&root, &key, &k, s.now)
                .unwrap_err()
                .kind(),
            ErrorKind::WrongInstance
        );

        // Out of its window.
        let e = enrollment
            .verify(&root, &key, &known(&p), s.now + Duration::days(90))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Expired, "{e}");
        let e = enrollment
            .verify(&root, &key, &known(&p), s.now - Duration::days(1))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotYetValid, "{e}");

        // Another vendor's root.
        let fake = RootKey::generate(&mut ChaCha20Rng::seed_from_u64(10)).public_key();
        let e = enrollment
            .verify(&fake, &key, &known(&p), s.now)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UntrustedKey, "{e}");
    }

    #[test]
    fn a_self_made_license_is_refused() {
        let s = setup();
        // An attacker makes their own root and license for the instance.
        let fake_root = RootKey::generate(&mut ChaCha20Rng::seed_from_u64(11));
        let text = LicenseFile::issue(
            &fake_root,
            &request(s.now),
            &mut ChaCha20Rng::seed_from_u64(12),
            s.now,
        )
        .unwrap();
        let root = s.root.public_key();
        let e = LicenseFile::parse(text.as_bytes())
            .unwrap()
            .verify(&root, s.now)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UntrustedKey, "{e}");
        // Even claiming the real root as issuer, the signatures do not hold.
        let mut body = LicenseFile::parse(text.as_bytes())
            .unwrap()
            .unverified()
            .clone();
        body.license.issuer = root.fingerprint();
        let forged = armor::write(&body, fake_root.signing_key()).unwrap();
        let e = LicenseFile::parse(forged.as_bytes())
            .unwrap()
            .verify(&root, s.now)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadSignature, "{e}");
        let enrollment = body.enroll(&s.instance.public_key());
        let p = path(&["msp", "acme"]);
        let e = enrollment
            .verify(&root, &s.instance.public_key(), &known(&p), s.now)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadSignature, "{e}");
    }

    #[test]
    fn a_widened_license_breaks_its_signature() {
        let s = setup();
        let file = LicenseFile::parse(s.text.as_bytes())
            .unwrap()
            .unverified()
            .clone();
        let mut enrollment = file.enroll(&s.instance.public_key());
        enrollment.license.expires_at += Duration::days(3650);
        let p = path(&["msp", "acme"]);
        let e = enrollment
            .verify(
                &s.root.public_key(),
                &s.instance.public_key(),
                &known(&p),
                s.now,
            )
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadSignature, "{e}");
    }

    #[test]
    fn a_secret_that_does_not_fit_the_license_is_refused_even_when_signed() {
        let s = setup();
        let mut body = LicenseFile::parse(s.text.as_bytes())
            .unwrap()
            .unverified()
            .clone();
        body.enrollment_secret =
            EnrollmentSecret(SigningKey::generate(&mut ChaCha20Rng::seed_from_u64(13)));
        let text = crate::testutil::sign_raw(
            FileKind::License,
            &serde_json::to_string_pretty(&body).unwrap(),
            s.root.signing_key(),
        );
        let e = LicenseFile::parse(text.as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    }

    #[test]
    fn a_license_out_of_its_window_sets_up_no_agent() {
        let s = setup();
        let parsed = LicenseFile::parse(s.text.as_bytes()).unwrap();
        let root = s.root.public_key();
        let e = parsed
            .verify(&root, s.now + Duration::days(90))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Expired, "{e}");
        assert!(e.to_string().contains("license file"), "{e}");
        let e = parsed.verify(&root, s.now - Duration::days(2)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotYetValid, "{e}");
    }

    #[test]
    fn bad_requests_cannot_be_written() {
        let s = setup();
        let mut r = request(s.now);
        r.account_path = vec![];
        let e =
            LicenseFile::issue(&s.root, &r, &mut ChaCha20Rng::seed_from_u64(1), s.now).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
        let mut r = request(s.now);
        r.expires_at = s.now;
        let e =
            LicenseFile::issue(&s.root, &r, &mut ChaCha20Rng::seed_from_u64(1), s.now).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
    }

    #[test]
    fn the_transport_form_is_strict() {
        let s = setup();
        let file = LicenseFile::parse(s.text.as_bytes())
            .unwrap()
            .unverified()
            .clone();
        let json = file.enroll(&s.instance.public_key()).to_json();
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["extra"] = serde_json::json!(1);
        let e = Enrollment::from_json(v.to_string().as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Malformed, "{e}");
        let e = Enrollment::from_json(&vec![b' '; MAX_ENROLLMENT_BYTES + 1]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
    }
}
