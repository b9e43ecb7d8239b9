//! One complete exchange made from fixed seeds: the examples of `docs/airgap-format.md`, and
//! fixtures for other crates' tests. Same build, same bytes.
//!
//! The keys come from public seeds: never use them for anything real.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::cert::{DelegationCertificate, Scope};
use crate::keys::{RootKey, SigningKey};
use crate::sync_key::{SyncKey, SyncKeyRequest};
use crate::usage_data::{UsageData, UsageRecord};
use crate::verification_key::{Acceptance, ImportCounts, VerificationKey};

/// The exchange: keys, certificate, the three files, and the times each was made.
#[derive(Debug, Clone)]
pub struct Samples {
    pub root: RootKey,
    pub delegated: SigningKey,
    pub certificate: DelegationCertificate,
    pub instance: SigningKey,
    pub instance_id: String,
    pub license_id: String,
    /// All the records the instance holds (the file carries those above the mark, 40).
    pub records: Vec<UsageRecord>,
    pub sync_key: String,
    pub usage_data: String,
    pub verification_key: String,
    /// When the sync key was issued, the usage data exported, the verification key issued.
    pub issued_at: DateTime<Utc>,
    pub exported_at: DateTime<Utc>,
    pub confirmed_at: DateTime<Utc>,
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
            Scope::Subtree("msp-north".into()),
            at("2026-03-01T08:00:00Z"),
            at("2026-05-30T08:00:00Z"),
        )
        .expect("sample certificate");

    let issued_at = at("2026-03-02T09:00:00Z");
    let request = SyncKeyRequest {
        instance_id: "inst-acme-prod-1".into(),
        license_id: Some("lic-acme-2026".into()),
        account_path: vec!["msp-north".into(), "acme".into()],
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
    let usage_data = UsageData::answer(
        &verified_sync_key,
        "inst-acme-prod-1",
        "lic-acme-2026",
        &records,
        &instance,
        exported_at,
    )
    .expect("sample usage data");
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
        records,
        sync_key,
        usage_data,
        verification_key,
        issued_at,
        exported_at,
        confirmed_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::armor::FileKind;

    #[test]
    fn samples_are_deterministic_and_verify() {
        let a = samples();
        let b = samples();
        assert_eq!(a.sync_key, b.sync_key, "same seeds, same bytes");
        assert_eq!(a.usage_data, b.usage_data);
        assert_eq!(a.verification_key, b.verification_key);

        let root = a.root.public_key();
        let sk = SyncKey::parse(a.sync_key.as_bytes())
            .unwrap()
            .verify(&root, a.exported_at)
            .unwrap();
        let ud = UsageData::parse(a.usage_data.as_bytes())
            .unwrap()
            .verify_for(&sk, Some(&a.instance.public_key()))
            .unwrap();
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
