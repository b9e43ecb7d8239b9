//! One complete exchange made from fixed seeds: the examples of `docs/airgap-format.md`, and
//! fixtures for other crates' tests. Same build, same bytes.
//!
//! The keys come from public seeds: never use them for anything real.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::cert::{CertScope, DelegationCertificate};
use crate::keys::{RootKey, SigningKey};
use crate::license::{KnownInstance, LicenseFile, LicenseRequest};
use crate::sync_key::{SyncKey, SyncKeyRequest};
use crate::usage_data::{UsageData, UsageRecord};
use crate::verification_key::{Acceptance, ImportCounts, VerificationKey};

/// The exchange: keys, certificate, the four files, and the times each was made.
#[derive(Debug, Clone)]
pub struct Samples {
    pub root: RootKey,
    pub delegated: SigningKey,
    pub certificate: DelegationCertificate,
    pub instance: SigningKey,
    pub instance_id: String,
    pub license_id: String,
    /// Where the instance's account sits: `msp-north > acme`.
    pub account_path: Vec<String>,
    /// The instance's license file (air-gapped), issued at `licensed_at` for 90 days.
    pub license_file: String,
    /// All the records the instance holds (the file carries those above the mark, 40).
    pub records: Vec<UsageRecord>,
    pub sync_key: String,
    /// The answer, format version 2 (with the instance's enrollment).
    pub usage_data: String,
    /// The same answer in format version 1 (no enrollment), as older agents wrote it.
    pub usage_data_v1: String,
    /// The verification key confirming `usage_data`.
    pub verification_key: String,
    pub licensed_at: DateTime<Utc>,
    /// When the sync key was issued, the usage data exported, the verification key issued.
    pub issued_at: DateTime<Utc>,
    pub exported_at: DateTime<Utc>,
    pub confirmed_at: DateTime<Utc>,
}

impl Samples {
    /// The sample instance as the vendor knows it.
    pub fn known_instance(&self) -> KnownInstance<'_> {
        KnownInstance {
            instance_id: &self.instance_id,
            license_id: &self.license_id,
            account_path: &self.account_path,
            airgapped: true,
        }
    }
}

fn at(s: &str) -> DateTime<Utc> {
    crate::fields::timestamp::parse(s).unwrap_or_default()
}

fn record(seq: u64, account: &str, date: &str, plan: &str, counts: [u64; 3]) -> UsageRecord {
    UsageRecord {
        seq,
        account_id: account.into(),
        date: crate::fields::date::parse(date).unwrap_or(NaiveDate::MIN),
        plan: plan.into(),
        users_registered: counts[0],
        users_with_token: counts[1],
        users_with_activity: counts[2],
    }
}

/// Builds the sample exchange. Panics only if this crate is broken (the tests say so first).
pub fn samples() -> Samples {
    let root = RootKey::generate(&mut ChaCha20Rng::seed_from_u64(1));
    let delegated = SigningKey::generate(&mut ChaCha20Rng::seed_from_u64(2));
    let instance = SigningKey::generate(&mut ChaCha20Rng::seed_from_u64(3));
    let certificate = root
        .certify(
            &delegated.public_key(),
            "alice@vendor.example",
            CertScope::Subtree("msp-north".into()),
            at("2026-03-01T08:00:00Z"),
            at("2026-05-30T08:00:00Z"),
        )
        .expect("sample certificate");

    let account_path: Vec<String> = vec!["msp-north".into(), "acme".into()];
    let licensed_at = at("2026-03-01T08:00:00Z");
    let license_file = LicenseFile::issue(
        &root,
        &LicenseRequest {
            license_id: "lic-acme-2026".into(),
            instance_id: "inst-acme-prod-1".into(),
            account_path: account_path.clone(),
            airgapped: true,
            expires_at: licensed_at + Duration::days(90),
        },
        &mut ChaCha20Rng::seed_from_u64(5),
        licensed_at,
    )
    .expect("sample license file");
    let enrollment = LicenseFile::parse(license_file.as_bytes())
        .and_then(|l| l.verify(&root.public_key(), licensed_at))
        .expect("sample license file verifies")
        .enroll(&instance.public_key());

    let issued_at = at("2026-03-02T09:00:00Z");
    let request = SyncKeyRequest {
        instance_id: "inst-acme-prod-1".into(),
        license_id: Some("lic-acme-2026".into()),
        account_path: account_path.clone(),
        high_water_mark: 40,
        expires_at: issued_at + Duration::days(30),
    };
    let sync_key = SyncKey::issue(
        &request,
        &delegated,
        &certificate,
        &mut ChaCha20Rng::seed_from_u64(4),
        issued_at,
    )
    .expect("sample sync key");
    let verified_sync_key = SyncKey::parse(sync_key.as_bytes())
        .and_then(|s| s.verify(&root.public_key(), issued_at))
        .expect("sample sync key verifies");

    let records = vec![
        record(40, "acme", "2026-02-27", "standard", [119, 95, 61]),
        record(41, "acme", "2026-02-28", "standard", [120, 95, 60]),
        record(42, "acme-eu", "2026-02-28", "basic", [30, 12, 9]),
        record(43, "acme", "2026-03-01", "standard", [121, 96, 58]),
    ];
    let exported_at = at("2026-03-03T14:30:00Z");
    let answer = |enrollment| {
        UsageData::answer(
            &verified_sync_key,
            "inst-acme-prod-1",
            "lic-acme-2026",
            &records,
            &instance,
            enrollment,
            exported_at,
        )
        .expect("sample usage data")
    };
    let usage_data = answer(Some(&enrollment));
    let usage_data_v1 = answer(None);
    let verified_usage = UsageData::parse(usage_data.as_bytes())
        .and_then(|u| u.verify_for(&verified_sync_key, None))
        .expect("sample usage data verifies");

    let confirmed_at = at("2026-03-04T10:15:00Z");
    let verification_key = VerificationKey::issue(
        &verified_sync_key,
        &verified_usage,
        Acceptance {
            accepted_high_water_mark: 43,
            records: ImportCounts {
                received: 3,
                new: 2,
                already_present: 0,
                changed: 1,
            },
        },
        &delegated,
        &certificate,
        confirmed_at,
    )
    .expect("sample verification key");

    Samples {
        root,
        delegated,
        certificate,
        instance,
        instance_id: "inst-acme-prod-1".into(),
        license_id: "lic-acme-2026".into(),
        account_path,
        license_file,
        records,
        sync_key,
        usage_data,
        usage_data_v1,
        verification_key,
        licensed_at,
        issued_at,
        exported_at,
        confirmed_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file_kind::FileKind;

    #[test]
    fn samples_are_deterministic_and_verify() {
        let a = samples();
        let b = samples();
        assert_eq!(a.sync_key, b.sync_key, "same seeds, same bytes");
        assert_eq!(a.usage_data, b.usage_data);
        assert_eq!(a.usage_data_v1, b.usage_data_v1);
        assert_eq!(a.verification_key, b.verification_key);
        assert_eq!(a.license_file, b.license_file);

        let root = a.root.public_key();
        LicenseFile::parse(a.license_file.as_bytes())
            .unwrap()
            .verify(&root, a.licensed_at)
            .unwrap();
        let sk = SyncKey::parse(a.sync_key.as_bytes())
            .unwrap()
            .verify(&root, a.exported_at)
            .unwrap();
        let ud = UsageData::parse(a.usage_data.as_bytes())
            .unwrap()
            .verify_for(&sk, None)
            .unwrap();
        ud.check_enrollment(&root, &a.known_instance()).unwrap();
        assert!(a
            .usage_data
            .starts_with("-----BEGIN USAGEDESK USAGE DATA-----\nVersion: 2\n"));
        let v1 = UsageData::parse(a.usage_data_v1.as_bytes())
            .unwrap()
            .verify_for(&sk, Some(&a.instance.public_key()))
            .unwrap();
        assert_eq!(v1.records, ud.records);
        assert_eq!(
            v1.check_enrollment(&root, &a.known_instance())
                .unwrap_err()
                .kind(),
            crate::ErrorKind::EnrollmentRequired,
            "a version 1 file cannot enroll"
        );
        VerificationKey::parse(a.verification_key.as_bytes())
            .unwrap()
            .verify(&root, &ud.expected_answer(), a.confirmed_at)
            .unwrap();
    }

    /// The examples in the spec are these samples, byte for byte: the spec cannot show a file
    /// that does not verify. After a format change, regenerate them with
    /// `cargo run -p usagedesk-airgap --example airgap-samples`.
    #[test]
    fn the_spec_shows_the_real_samples() {
        let spec_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/airgap-format.md");
        let spec = std::fs::read_to_string(spec_path).expect("docs/airgap-format.md");
        let s = samples();
        for (kind, text) in [
            (FileKind::SyncKey, &s.sync_key),
            (FileKind::UsageData, &s.usage_data),
            (FileKind::VerificationKey, &s.verification_key),
            (FileKind::License, &s.license_file),
        ] {
            // The example is the fenced block that starts with the BEGIN line.
            let fence = format!("```\n{}", kind.begin_line());
            let begin = 4 + spec
                .find(&fence)
                .unwrap_or_else(|| panic!("the spec has no {} example", kind.noun()));
            let end_line = kind.end_line();
            let end = begin + spec[begin..].find(&end_line).expect("END line") + end_line.len();
            assert_eq!(
                format!("{}\n", &spec[begin..end]),
                *text,
                "the spec's {} example is stale: regenerate it",
                kind.noun()
            );
        }
        assert!(
            spec.contains(&s.root.public_key().to_string()),
            "the spec names the sample root key"
        );
    }
}
