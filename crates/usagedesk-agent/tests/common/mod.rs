//! The vendor's side of the exchange, for the agent's tests: a root key, a manager's key it
//! certified (as `usagedesk-airgap`'s samples do), and what a manager's import does.

#![allow(dead_code)] // each test binary uses a part

use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use usagedesk_agent::{Agent, DailyUsage};
use usagedesk_airgap::{
    Acceptance, CertScope, DelegationCertificate, ImportCounts, LicenseFile, LicenseRequest,
    RootKey, SigningKey, SyncKey, SyncKeyRequest, UsageData, VerificationKey, Verified,
};

pub const INSTANCE: &str = "inst-acme-1";
pub const LICENSE: &str = "lic-acme-2026";

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub struct Vendor {
    pub root: RootKey,
    pub delegated: SigningKey,
    pub cert: DelegationCertificate,
    rng: ChaCha20Rng,
}

impl Vendor {
    /// A vendor whose manager `alice` holds a key certified for the `msp` subtree from
    /// `valid_from` for 90 days. `seed` tells vendors apart.
    pub fn new(seed: u64, valid_from: DateTime<Utc>) -> Self {
        let root = RootKey::generate(&mut ChaCha20Rng::seed_from_u64(seed));
        let delegated = SigningKey::generate(&mut ChaCha20Rng::seed_from_u64(seed + 1000));
        let cert = root
            .certify(
                &delegated.public_key(),
                "alice@vendor.example",
                CertScope::Subtree("msp".into()),
                valid_from,
                valid_from + Duration::days(90),
            )
            .unwrap();
        Vendor {
            root,
            delegated,
            cert,
            rng: ChaCha20Rng::seed_from_u64(seed + 2000),
        }
    }

    pub fn vendor_key(&self) -> usagedesk_airgap::PublicKey {
        self.root.public_key()
    }

    /// The license file of `instance` (license `license`, account `msp > acme`, air-gapped),
    /// issued at `now` for 90 days.
    pub fn license_file_for(
        &mut self,
        instance: &str,
        license: &str,
        now: DateTime<Utc>,
    ) -> String {
        self.license_file_at(instance, license, &["msp", "acme"], now)
    }

    /// The same for another account path.
    pub fn license_file_at(
        &mut self,
        instance: &str,
        license: &str,
        path: &[&str],
        now: DateTime<Utc>,
    ) -> String {
        LicenseFile::issue(
            &self.root,
            &LicenseRequest {
                license_id: license.into(),
                instance_id: instance.into(),
                account_path: path.iter().map(|p| p.to_string()).collect(),
                airgapped: true,
                expires_at: now + Duration::days(90),
            },
            &mut self.rng,
            now,
        )
        .unwrap()
    }

    pub fn license_file(&mut self, now: DateTime<Utc>) -> String {
        self.license_file_for(INSTANCE, LICENSE, now)
    }

    /// A sync key for `instance` asking for the records above `mark`, valid 30 days from `now`.
    pub fn sync_key_for(
        &mut self,
        instance: &str,
        license: Option<&str>,
        mark: u64,
        now: DateTime<Utc>,
    ) -> String {
        let request = SyncKeyRequest {
            instance_id: instance.into(),
            license_id: license.map(Into::into),
            account_path: vec!["msp".into(), "acme".into()],
            high_water_mark: mark,
            expires_at: now + Duration::days(30),
        };
        SyncKey::issue(&request, &self.delegated, &self.cert, &mut self.rng, now).unwrap()
    }

    pub fn sync_key(&mut self, mark: u64, now: DateTime<Utc>) -> String {
        self.sync_key_for(INSTANCE, Some(LICENSE), mark, now)
    }

    /// A sync key for this test's instance naming `path` as its account path.
    pub fn sync_key_at(&mut self, path: &[&str], mark: u64, now: DateTime<Utc>) -> String {
        let request = SyncKeyRequest {
            instance_id: INSTANCE.into(),
            license_id: Some(LICENSE.into()),
            account_path: path.iter().map(|p| p.to_string()).collect(),
            high_water_mark: mark,
            expires_at: now + Duration::days(30),
        };
        SyncKey::issue(&request, &self.delegated, &self.cert, &mut self.rng, now).unwrap()
    }

    /// What the vendor's import does first: the sync key it issued, then the file answering it.
    pub fn verify_usage(
        &self,
        sync_key: &str,
        usage: &str,
        pinned: &usagedesk_airgap::PublicKey,
        now: DateTime<Utc>,
    ) -> (Verified<SyncKey>, Verified<UsageData>) {
        let sk = SyncKey::parse(sync_key.as_bytes())
            .unwrap()
            .verify(&self.vendor_key(), now)
            .unwrap();
        let ud = UsageData::parse(usage.as_bytes())
            .expect("the agent writes a well-formed usage data file")
            .verify_for(&sk, Some(pinned))
            .expect("the agent's file verifies as the vendor checks it");
        (sk, ud)
    }

    /// The verification key for an import that accepted records up to `accepted`.
    pub fn verification_key(
        &self,
        sk: &Verified<SyncKey>,
        ud: &Verified<UsageData>,
        accepted: u64,
        now: DateTime<Utc>,
    ) -> String {
        let received = ud.records.len() as u64;
        VerificationKey::issue(
            sk,
            ud,
            Acceptance {
                accepted_high_water_mark: accepted,
                records: ImportCounts {
                    received,
                    new: received,
                    already_present: 0,
                    changed: 0,
                },
            },
            &self.delegated,
            &self.cert,
            now,
        )
        .unwrap()
    }
}

pub fn init_agent(dir: &Path, vendor: &mut Vendor, now: DateTime<Utc>) -> Agent {
    let license = vendor.license_file(now - Duration::hours(2));
    Agent::init(
        dir,
        license.as_bytes(),
        &vendor.vendor_key(),
        now,
        &mut ChaCha20Rng::seed_from_u64(77),
    )
    .unwrap()
}

pub fn usage(account: &str, date: &str, registered: u64) -> DailyUsage {
    DailyUsage {
        account_id: account.into(),
        date: day(date),
        plan: "standard".into(),
        users_registered: registered,
        users_with_token: registered / 2,
        users_with_activity: registered / 4,
    }
}

/// `n` rows with 128-byte account ids (about 330 bytes each in a usage data file): enough to
/// pass the 4 MiB limit with n above ~13,000.
pub fn many_rows(n: usize, date: &str) -> Vec<DailyUsage> {
    (0..n)
        .map(|i| usage(&format!("{i:0>128}"), date, i as u64))
        .collect()
}
