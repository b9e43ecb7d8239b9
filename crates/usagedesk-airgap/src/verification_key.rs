//! The verification key: the vendor confirms receipt of one usage data file, so the instance
//! can drop the records up to the accepted mark.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::armor::{self, Body, Signed, Verified};
use crate::cert::{check_chain, check_signer, DelegationCertificate};
use crate::error::{AirgapError, Artifact, Result};
use crate::fields::{
    check_account_path, check_id, check_subject, timestamp, whole_seconds, Nonce, Sha256Digest,
    MAX_CLOCK_SKEW,
};
use crate::file_kind::FileKind;
use crate::keys::{PublicKey, SigningKey};
use crate::sync_key::SyncKey;
use crate::usage_data::{ExpectedAnswer, UsageData};
pub use usagedesk_domain::airgap_api::ImportCounts;

const WHAT: Artifact = Artifact::File(FileKind::VerificationKey);

/// The content of a verification key file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationKey {
    pub instance_id: String,
    /// As in the sync key the file answered: what the certificate's scope is checked against.
    pub account_path: Vec<String>,
    /// The nonce of the sync key the confirmed file answered.
    pub answers_nonce: Nonce,
    /// SHA-256 of the confirmed usage data file (canonical form).
    pub usage_file_sha256: Sha256Digest,
    /// The instance may drop every record with `seq` up to this.
    pub accepted_high_water_mark: u64,
    pub records: ImportCounts,
    #[serde(with = "timestamp")]
    pub issued_at: DateTime<Utc>,
    pub issued_by: String,
    pub certificate: DelegationCertificate,
}

/// The vendor's verdict on an imported file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acceptance {
    pub accepted_high_water_mark: u64,
    pub records: ImportCounts,
}

impl Body for VerificationKey {
    const KIND: FileKind = FileKind::VerificationKey;

    fn check(&self) -> Result<()> {
        let invalid = |r: String| AirgapError::invalid(WHAT, r);
        check_id("instance_id", &self.instance_id).map_err(invalid)?;
        check_account_path(&self.account_path).map_err(invalid)?;
        check_subject("issued_by", &self.issued_by).map_err(invalid)?;
        let c = &self.records;
        let sum = c
            .new
            .checked_add(c.already_present)
            .and_then(|s| s.checked_add(c.changed));
        if sum != Some(c.received) {
            return Err(invalid(
                "records.received must equal new + already_present + changed".into(),
            ));
        }
        self.certificate.check_fields()
    }
}

impl VerificationKey {
    /// Writes the verification key confirming `usage`, which answered `sync_key`, signed by
    /// the manager's delegated `key` that `cert` certifies.
    pub fn issue(
        sync_key: &Verified<SyncKey>,
        usage: &Verified<UsageData>,
        acceptance: Acceptance,
        key: &SigningKey,
        cert: &DelegationCertificate,
        now: DateTime<Utc>,
    ) -> Result<String> {
        let now = whole_seconds(now);
        check_signer(WHAT, key, cert, now)?;
        cert.check_scope(WHAT, &sync_key.account_path)?;
        if usage.answers_nonce != sync_key.nonce || usage.instance_id != sync_key.instance_id {
            return Err(AirgapError::request(
                WHAT,
                "the usage data file does not answer this sync key",
            ));
        }
        if acceptance.accepted_high_water_mark > usage.highest_seq() {
            return Err(AirgapError::request(
                WHAT,
                format!(
                    "the accepted mark {} is above the highest seq the file carries ({})",
                    acceptance.accepted_high_water_mark,
                    usage.highest_seq()
                ),
            ));
        }
        let body = VerificationKey {
            instance_id: usage.instance_id.clone(),
            account_path: sync_key.account_path.clone(),
            answers_nonce: usage.answers_nonce,
            usage_file_sha256: usage.sha256(),
            accepted_high_water_mark: acceptance.accepted_high_water_mark,
            records: acceptance.records,
            issued_at: now,
            issued_by: cert.subject.clone(),
            certificate: cert.clone(),
        };
        armor::write(&body, key)
    }

    /// Reads a verification key: every check that needs no key. Call [`Signed::verify`] next.
    pub fn parse(bytes: &[u8]) -> Result<Signed<VerificationKey>> {
        armor::parse(bytes)
    }
}

impl Signed<VerificationKey> {
    /// Checks, in order: the file's signature by the certificate's key; the certificate's
    /// signature by `root`; `issued_by` is the certificate's subject; the scope covers
    /// `account_path`; it was issued within the certificate's validity and not after `now`
    /// (give or take the clock skew); it names the expected instance, nonce and file hash;
    /// the accepted mark is not above what the file carried.
    ///
    /// A verification key does not expire: it only confirms one file, named by its hash.
    pub fn verify(
        &self,
        root: &PublicKey,
        expected: &ExpectedAnswer,
        now: DateTime<Utc>,
    ) -> Result<Verified<VerificationKey>> {
        let vk = &self.body;
        check_chain(
            WHAT,
            self,
            &vk.certificate,
            &vk.issued_by,
            &vk.account_path,
            vk.issued_at,
            root,
        )?;
        if now + MAX_CLOCK_SKEW < vk.issued_at {
            return Err(AirgapError::NotYetValid {
                what: WHAT,
                valid_from: vk.issued_at,
                now,
            });
        }
        if vk.instance_id != expected.instance_id {
            return Err(AirgapError::WrongInstance {
                what: WHAT,
                expected: expected.instance_id.clone(),
                found: vk.instance_id.clone(),
            });
        }
        if vk.answers_nonce != expected.answers_nonce {
            return Err(AirgapError::WrongNonce {
                what: WHAT,
                reason: format!(
                    "it confirms the answer to nonce {}, the last export answered nonce {}",
                    vk.answers_nonce, expected.answers_nonce
                ),
            });
        }
        if vk.usage_file_sha256 != expected.usage_file_sha256 {
            return Err(AirgapError::WrongFile {
                expected: expected.usage_file_sha256.to_hex(),
                found: vk.usage_file_sha256.to_hex(),
            });
        }
        if vk.accepted_high_water_mark > expected.highest_seq_sent {
            return Err(AirgapError::invalid(
                WHAT,
                format!(
                    "it accepts records up to seq {}, but the file carried records up to {} only",
                    vk.accepted_high_water_mark, expected.highest_seq_sent
                ),
            ));
        }
        Ok(self.verified())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::error::ErrorKind;
    use crate::testutil::{fixture, record, Fixture};

    fn exchange(f: &Fixture) -> (Verified<SyncKey>, Verified<UsageData>, String) {
        let sk = f.verified_sync_key();
        let text = UsageData::answer(
            &sk,
            "inst-acme-1",
            "lic-acme-2026",
            &[
                record(41, "acme", "2026-02-28"),
                record(42, "acme", "2026-03-01"),
            ],
            &f.instance,
            None,
            f.now,
        )
        .unwrap();
        let ud = UsageData::parse(text.as_bytes())
            .unwrap()
            .verify_for(&sk, None)
            .unwrap();
        let vk =
            VerificationKey::issue(&sk, &ud, f.acceptance(), &f.delegated, &f.cert, f.now).unwrap();
        (sk, ud, vk)
    }

    #[test]
    fn round_trip() {
        let f = fixture();
        let (_, ud, text) = exchange(&f);
        let parsed = VerificationKey::parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.text(), text);
        let vk = parsed
            .verify(&f.root.public_key(), &ud.expected_answer(), f.now)
            .unwrap();
        assert_eq!(vk.accepted_high_water_mark, 42);
        assert_eq!(vk.usage_file_sha256, ud.sha256());
        assert_eq!(vk.answers_nonce, ud.answers_nonce);
        assert_eq!(vk.records, f.acceptance().records);
        assert_eq!(vk.account_path, ["msp", "acme"]);
    }

    #[test]
    fn a_verification_key_does_not_expire_but_its_certificate_must_have_been_in_force() {
        let f = fixture();
        let (_, ud, text) = exchange(&f);
        let parsed = VerificationKey::parse(text.as_bytes()).unwrap();
        // Confirming a year later, after the certificate expired, still works: the key was
        // issued while the certificate was in force.
        parsed
            .verify(
                &f.root.public_key(),
                &ud.expected_answer(),
                f.now + Duration::days(365),
            )
            .unwrap();
    }

    #[test]
    fn wrong_nonce_file_or_instance_are_refused() {
        let f = fixture();
        let (_, ud, text) = exchange(&f);
        let parsed = VerificationKey::parse(text.as_bytes()).unwrap();
        let root = f.root.public_key();

        let mut expected = ud.expected_answer();
        expected.answers_nonce = Nonce([1; 32]);
        let e = parsed.verify(&root, &expected, f.now).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WrongNonce, "{e}");

        let mut expected = ud.expected_answer();
        expected.usage_file_sha256 = Sha256Digest::of(b"another file");
        let e = parsed.verify(&root, &expected, f.now).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WrongFile, "{e}");

        let mut expected = ud.expected_answer();
        expected.instance_id = "inst-globex-7".into();
        let e = parsed.verify(&root, &expected, f.now).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WrongInstance, "{e}");

        let mut expected = ud.expected_answer();
        expected.highest_seq_sent = 41;
        let e = parsed.verify(&root, &expected, f.now).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    }

    #[test]
    fn a_verification_key_from_the_future_is_refused() {
        let f = fixture();
        let (_, ud, text) = exchange(&f);
        let e = VerificationKey::parse(text.as_bytes())
            .unwrap()
            .verify(
                &f.root.public_key(),
                &ud.expected_answer(),
                f.now - Duration::days(2),
            )
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotYetValid, "{e}");
    }

    #[test]
    fn the_vendor_cannot_accept_more_than_was_sent() {
        let f = fixture();
        let (sk, ud, _) = exchange(&f);
        let acceptance = Acceptance {
            accepted_high_water_mark: 43,
            ..f.acceptance()
        };
        let e =
            VerificationKey::issue(&sk, &ud, acceptance, &f.delegated, &f.cert, f.now).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
    }

    #[test]
    fn counts_must_add_up() {
        let f = fixture();
        let (sk, ud, _) = exchange(&f);
        let acceptance = Acceptance {
            accepted_high_water_mark: 42,
            records: ImportCounts {
                received: 2,
                new: 2,
                already_present: 1,
                changed: 0,
            },
        };
        let e =
            VerificationKey::issue(&sk, &ud, acceptance, &f.delegated, &f.cert, f.now).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
        assert!(e.to_string().contains("received"), "{e}");
    }
}
