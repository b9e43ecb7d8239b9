//! Fixtures for the unit tests: fixed keys, a fixed "now", and helpers.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::armor::Verified;
use crate::cert::{CertScope, DelegationCertificate};
use crate::fields::signature_b64;
use crate::file_kind::FileKind;
use crate::keys::{PublicKey, RootKey, SigningKey};
use crate::license::{Enrollment, LicenseFile, LicenseRequest};
use crate::sync_key::{SyncKey, SyncKeyRequest};
use crate::usage_data::UsageRecord;
use crate::verification_key::{Acceptance, ImportCounts};

pub fn t(s: &str) -> DateTime<Utc> {
    crate::fields::timestamp::parse(s).unwrap()
}

pub fn day(s: &str) -> NaiveDate {
    crate::fields::date::parse(s).unwrap()
}

pub fn path(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

pub fn record(seq: u64, account: &str, date: &str) -> UsageRecord {
    UsageRecord {
        seq,
        account_id: account.into(),
        date: day(date),
        plan: "standard".into(),
        users_registered: 10,
        users_with_token: 7,
        users_with_activity: 5,
    }
}

pub struct Fixture {
    pub root: RootKey,
    pub delegated: SigningKey,
    pub instance: SigningKey,
    pub cert: DelegationCertificate,
    pub now: DateTime<Utc>,
}

pub fn fixture() -> Fixture {
    let root = RootKey::generate(&mut ChaCha20Rng::seed_from_u64(101));
    let delegated = SigningKey::generate(&mut ChaCha20Rng::seed_from_u64(102));
    let instance = SigningKey::generate(&mut ChaCha20Rng::seed_from_u64(103));
    let now = t("2026-03-02T09:00:00Z");
    let cert = root
        .certify(
            &delegated.public_key(),
            "alice@vendor.example",
            CertScope::Subtree("msp".into()),
            now - Duration::days(1),
            now + Duration::days(89),
        )
        .unwrap();
    Fixture {
        root,
        delegated,
        instance,
        cert,
        now,
    }
}

impl Fixture {
    /// The same stream every call: fixed nonces.
    pub fn rng(&self) -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(104)
    }

    pub fn sync_request(&self) -> SyncKeyRequest {
        SyncKeyRequest {
            instance_id: "inst-acme-1".into(),
            license_id: Some("lic-acme-2026".into()),
            account_path: path(&["msp", "acme"]),
            high_water_mark: 40,
            expires_at: self.now + Duration::days(30),
        }
    }

    pub fn sync_key_text(&self) -> String {
        SyncKey::issue(
            &self.sync_request(),
            &self.delegated,
            &self.cert,
            &mut self.rng(),
            self.now,
        )
        .unwrap()
    }

    pub fn verified_sync_key(&self) -> Verified<SyncKey> {
        SyncKey::parse(self.sync_key_text().as_bytes())
            .unwrap()
            .verify(&self.root.public_key(), self.now)
            .unwrap()
    }

    /// A license file for the fixture's instance (air-gapped, `msp > acme`), issued a day
    /// before "now", and the enrollment of `key` it makes.
    pub fn enrollment(&self, key: &PublicKey) -> Enrollment {
        let issued = self.now - Duration::days(1);
        let text = LicenseFile::issue(
            &self.root,
            &LicenseRequest {
                license_id: "lic-acme-2026".into(),
                instance_id: "inst-acme-1".into(),
                account_path: path(&["msp", "acme"]),
                airgapped: true,
                expires_at: self.now + Duration::days(60),
            },
            &mut ChaCha20Rng::seed_from_u64(105),
            issued,
        )
        .unwrap();
        LicenseFile::parse(text.as_bytes())
            .unwrap()
            .verify(&self.root.public_key(), self.now)
            .unwrap()
            .enroll(key)
    }

    pub fn acceptance(&self) -> Acceptance {
        Acceptance {
            accepted_high_water_mark: 42,
            records: ImportCounts {
                received: 2,
                new: 1,
                already_present: 0,
                changed: 1,
            },
        }
    }
}

/// Armor and sign arbitrary JSON, skipping every check a writer makes: how a buggy or hostile
/// writer would.
pub fn sign_raw(kind: FileKind, json: &str, key: &SigningKey) -> String {
    sign_raw_versioned(kind, "1", json, key)
}

pub fn sign_raw_versioned(kind: FileKind, version: &str, json: &str, key: &SigningKey) -> String {
    let signed = format!("{}\nVersion: {version}\n{json}\n", kind.begin_line());
    let sig = key.sign(signed.as_bytes());
    format!(
        "{signed}Signature: ed25519 {}\n{}\n",
        signature_b64::encode(&sig),
        kind.end_line()
    )
}

/// A small stand-in for the exporter's manifest (crate `usagedesk-export` has the real one).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleManifest {
    pub csv_file: String,
    pub account_id: String,
    pub rows: u64,
    pub sha256: String,
    #[serde(with = "crate::fields::timestamp")]
    pub generated_at: DateTime<Utc>,
}

impl crate::usage_export::ExportManifest for SampleManifest {
    fn account_id(&self) -> &str {
        &self.account_id
    }
    fn generated_at(&self) -> DateTime<Utc> {
        self.generated_at
    }
}

/// The samples' manager signs the export of `acme` at `at`.
pub fn sample_export(s: &crate::samples::Samples, at: DateTime<Utc>) -> String {
    let manifest = SampleManifest {
        csv_file: "usage-acme-self-2026-02_2026-02.csv".into(),
        account_id: "acme".into(),
        rows: 1,
        sha256: "5e".repeat(32),
        generated_at: at,
    };
    crate::usage_export::UsageExport::sign(
        manifest,
        s.account_path.clone(),
        &s.delegated,
        &s.certificate,
    )
    .unwrap()
}
