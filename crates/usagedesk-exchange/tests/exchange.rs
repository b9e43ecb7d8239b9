//! The manager's side of the air-gapped exchange against the real cloud on loopback: the
//! certificate, a sync key issued offline, an instance's answer, the import (numbers show
//! at once, pending upload), the push on the next sync, and every refusal writing nothing.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::SeedableRng;
use usagedesk_airgap::{
    Enrollment, LicenseFile, LicenseRequest, PublicKey, RootKey, SigningKey, SyncKey, UsageData,
    UsageRecord, VerificationKey,
};
use usagedesk_cache::{Cache, LedgerQuery};
use usagedesk_cloud::storage::TokenKind;
use usagedesk_domain::{Clock, YearMonth};
use usagedesk_exchange::{
    import, issue_sync_key, preview_import, refresh_certificate, ExchangeError, Signer,
};
use usagedesk_secrets::MemoryStore;
use usagedesk_sync::{sync, Client, SyncOptions};
use usagedesk_testkit::{clock, small_fixture, Cloud};

fn now() -> DateTime<Utc> {
    clock().now()
}

/// The instance's side (what the agent does): checks `sync_key` against the vendor key and
/// answers it with `records`, signed by the instance's `key`.
fn answer(
    vendor: &PublicKey,
    sync_key: &str,
    key: &SigningKey,
    enrollment: Option<&Enrollment>,
    records: &[UsageRecord],
    at: DateTime<Utc>,
) -> String {
    let verified = SyncKey::parse(sync_key.as_bytes())
        .unwrap()
        .verify(vendor, at)
        .unwrap();
    UsageData::answer(
        &verified,
        "inst-de",
        "lic-acme-de",
        records,
        key,
        enrollment,
        at,
    )
    .unwrap()
}

/// What the agent keeps from its license file: the enrollment of its `key`.
fn enrollment(vendor: &PublicKey, license_file: &str, key: &SigningKey) -> Enrollment {
    LicenseFile::parse(license_file.as_bytes())
        .unwrap()
        .verify(vendor, now())
        .unwrap()
        .enroll(&key.public_key())
}

fn record(seq: u64, account: &str, date: &str, registered: u64) -> UsageRecord {
    UsageRecord {
        seq,
        account_id: account.into(),
        date: date.parse::<NaiveDate>().unwrap(),
        plan: "standard".into(),
        users_registered: registered,
        users_with_token: registered / 2,
        users_with_activity: registered / 4,
    }
}

fn month_row(cache: &Cache, account: &str, month: &str) -> Option<(String, u64)> {
    let usage = cache
        .usage()
        .account_month(account, month.parse::<YearMonth>().unwrap())
        .unwrap();
    usage.plan.zip(usage.own.map(|c| c.users_registered))
}

#[tokio::test]
async fn issue_answer_import_push_and_refusals() {
    let cloud = Cloud::start(&small_fixture()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path().join("cache.db")).unwrap();
    let client = Client::new(&cloud.url(), &token).unwrap();
    sync(
        &mut cache,
        &client,
        &clock(),
        &SyncOptions::default(),
        |_| {},
    )
    .await
    .unwrap();
    let secrets = MemoryStore::default();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);

    // Offline before any certificate: the message says to sync while online.
    assert!(matches!(
        Signer::load(&cache, &secrets, now()),
        Err(ExchangeError::NoCertificate)
    ));
    let status = refresh_certificate(&mut cache, &client, &secrets, "ann (root)", now(), &mut rng)
        .await
        .unwrap();
    assert!(status.renewed && status.scope == "*", "{status:?}");
    let again = refresh_certificate(&mut cache, &client, &secrets, "ann (root)", now(), &mut rng)
        .await
        .unwrap();
    assert!(!again.renewed, "a certificate valid for weeks is kept");
    let signer = Signer::load(&cache, &secrets, now()).unwrap();
    let vendor = signer.vendor_key;

    // The instances came with the feed.
    let instances = cache.airgap().instances().unwrap();
    assert_eq!(
        instances
            .iter()
            .map(|i| i.instance.id.as_str())
            .collect::<Vec<_>>(),
        ["inst-de", "inst-gx", "inst-fr"],
        "air-gapped first"
    );

    // A sync key, then the instance's answer: June 2024 for acme-de and its child.
    let key = issue_sync_key(
        &mut cache,
        &signer,
        "inst-de",
        Duration::days(30),
        now(),
        &mut rng,
    )
    .unwrap();
    assert_eq!(key.high_water_mark, 0);
    let instance_key = SigningKey::generate(&mut rng);
    let enrolled = enrollment(&vendor, &cloud.license_file("inst-de"), &instance_key);
    let records = [
        record(1, "acme-de", "2024-06-29", 500),
        record(2, "acme-de", "2024-06-30", 510),
        record(3, "acme-de-ber", "2024-06-30", 40),
    ];
    let file = answer(
        &vendor,
        &key.text,
        &instance_key,
        Some(&enrolled),
        &records,
        now(),
    );
    let before = month_row(&cache, "acme-de", "2024-06");

    let preview = preview_import(&cache, &signer, file.as_bytes(), now()).unwrap();
    assert_eq!((preview.records, preview.new, preview.accounts), (3, 3, 2));
    assert_eq!(
        month_row(&cache, "acme-de", "2024-06"),
        before,
        "a preview writes nothing"
    );

    // Every refusal leaves the ledger as it was.
    let ledger_len = cache
        .airgap()
        .ledger_page(&LedgerQuery {
            limit: 100,
            ..Default::default()
        })
        .unwrap()
        .items
        .len();
    let mut refusals: Vec<(Vec<u8>, &str)> = Vec::new();
    let mut flipped = file.clone().into_bytes();
    flipped[200] ^= 0x01;
    refusals.push((flipped, "in transit"));
    refusals.push((file.as_bytes()[..file.len() / 2].to_vec(), "is truncated"));
    refusals.push((vec![0xff, 0xfe, 0x00, 0x41], "not UTF-8"));
    refusals.push((b"random garbage, not a file".to_vec(), "must start with"));
    refusals.push((vec![b'a'; 5 << 20], "over the 4194304-byte limit"));
    // A file answering a sync key never issued here (another manager's computer).
    let foreign_key = {
        let mut other = Cache::open(dir.path().join("other.db")).unwrap();
        sync(
            &mut other,
            &client,
            &clock(),
            &SyncOptions::default(),
            |_| {},
        )
        .await
        .unwrap();
        let other_secrets = MemoryStore::default();
        refresh_certificate(
            &mut other,
            &client,
            &other_secrets,
            "bob (root)",
            now(),
            &mut rng,
        )
        .await
        .unwrap();
        let other_signer = Signer::load(&other, &other_secrets, now()).unwrap();
        issue_sync_key(
            &mut other,
            &other_signer,
            "inst-de",
            Duration::days(30),
            now(),
            &mut rng,
        )
        .unwrap()
    };
    refusals.push((
        answer(
            &vendor,
            &foreign_key.text,
            &instance_key,
            Some(&enrolled),
            &records,
            now(),
        )
        .into_bytes(),
        "not issued from this computer",
    ));
    // First contact (no key pinned yet) without the license's proof, or with a proof the
    // cloud would refuse: refused here as the cloud would, so no verification key goes out
    // for a file the cloud will not take.
    refusals.push((
        answer(&vendor, &key.text, &instance_key, None, &records, now()).into_bytes(),
        "has no registered key yet",
    ));
    let fake_root = RootKey::generate(&mut rng);
    let forged = LicenseFile::issue(
        &fake_root,
        &LicenseRequest {
            license_id: "lic-acme-de".into(),
            instance_id: "inst-de".into(),
            account_path: vec!["sp-acme".into(), "acme-eu".into(), "acme-de".into()],
            airgapped: true,
            expires_at: now() + Duration::days(30),
        },
        &mut rng,
        now() - Duration::days(1),
    )
    .unwrap();
    let forged = LicenseFile::parse(forged.as_bytes())
        .unwrap()
        .unverified()
        .enroll(&instance_key.public_key());
    refusals.push((
        answer(
            &vendor,
            &key.text,
            &instance_key,
            Some(&forged),
            &records,
            now(),
        )
        .into_bytes(),
        "not trusted here",
    ));
    // The vendor's own license, for another place in the tree than the instance's (issued
    // before a move): the cache knows where the instance is now.
    let elsewhere = LicenseFile::issue(
        &cloud.storage.vendor_root_key().unwrap(),
        &LicenseRequest {
            license_id: "lic-acme-de".into(),
            instance_id: "inst-de".into(),
            account_path: vec!["sp-globex".into(), "globex-2".into()],
            airgapped: true,
            expires_at: now() + Duration::days(30),
        },
        &mut rng,
        now() - Duration::days(1),
    )
    .unwrap();
    refusals.push((
        answer(
            &vendor,
            &key.text,
            &instance_key,
            Some(&enrollment(&vendor, &elsewhere, &instance_key)),
            &records,
            now(),
        )
        .into_bytes(),
        "but the instance belongs under sp-acme > acme-eu > acme-de",
    ));
    // Records the cloud would refuse are refused here first, so the agent never gets a
    // verification key for data the vendor will not take.
    let answered = |rs: &[UsageRecord]| {
        answer(
            &vendor,
            &key.text,
            &instance_key,
            Some(&enrolled),
            rs,
            now(),
        )
        .into_bytes()
    };
    refusals.push((
        answered(&[record(1, "globex-1", "2024-06-30", 5)]),
        "and its subtree only",
    ));
    refusals.push((
        answered(&[record(1, "acme-de", "2024-08-30", 5)]),
        "dated in the future",
    ));
    refusals.push((
        answered(&[record(1, "acme-de-muc", "2024-02-10", 5)]),
        "was created on 2024-03-10",
    ));
    let mut platinum = record(1, "acme-de", "2024-06-30", 5);
    platinum.plan = "platinum".into();
    refusals.push((answered(&[platinum]), "not in the catalog"));
    for (bytes, says) in &refusals {
        let err = import(&mut cache, &signer, bytes, now()).unwrap_err();
        assert!(
            err.to_string().contains(says),
            "expected '{says}' in: {err}"
        );
    }
    // Too late: the sync key expired before the file came back.
    let late = now() + Duration::days(31);
    let err = import(&mut cache, &signer, file.as_bytes(), late).unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    // A file from another instance answering this sync key.
    let verified = SyncKey::parse(key.text.as_bytes())
        .unwrap()
        .verify(&signer.vendor_key, now())
        .unwrap();
    assert!(
        UsageData::answer(
            &verified,
            "inst-gx",
            "lic-globex",
            &records,
            &instance_key,
            None,
            now()
        )
        .is_err(),
        "the agent itself refuses to answer another instance's sync key"
    );
    assert_eq!(
        cache
            .airgap()
            .ledger_page(&LedgerQuery {
                limit: 100,
                ..Default::default()
            })
            .unwrap()
            .items
            .len(),
        ledger_len,
        "no refusal was recorded as an import"
    );
    assert_eq!(
        month_row(&cache, "acme-de", "2024-06"),
        before,
        "no refusal changed a number"
    );

    // The import: numbers show at once, pending upload.
    let done = import(&mut cache, &signer, file.as_bytes(), now()).unwrap();
    assert_eq!(
        month_row(&cache, "acme-de", "2024-06"),
        Some(("standard".into(), 510)),
        "the last day of June wins"
    );
    assert_eq!(
        month_row(&cache, "acme-de-ber", "2024-06"),
        Some(("standard".into(), 40))
    );
    assert_eq!(
        cache.airgap().pending_months("acme-de").unwrap(),
        ["2024-06".parse::<YearMonth>().unwrap()]
    );
    let vk = VerificationKey::parse(done.verification_key.as_bytes()).unwrap();
    assert_eq!(vk.unverified().accepted_high_water_mark, 3);

    // Replaying the file changes nothing and hands back the same verification key.
    match import(&mut cache, &signer, file.as_bytes(), now()) {
        Err(ExchangeError::AlreadyImported {
            verification_key, ..
        }) => {
            assert_eq!(verification_key, done.verification_key)
        }
        other => panic!("a replay must be refused as already imported: {other:?}"),
    }

    // The next sync pushes the file; the cloud verifies it again and its rows come back.
    let report = sync(
        &mut cache,
        &client,
        &clock(),
        &SyncOptions::default(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(report.uploaded, 1);
    assert!(cache.outbox().items().unwrap().is_empty());
    assert!(
        cache.airgap().pending_months("acme-de").unwrap().is_empty(),
        "no longer pending once the cloud has it"
    );
    assert_eq!(
        month_row(&cache, "acme-de", "2024-06"),
        Some(("standard".into(), 510)),
        "the cloud's row agrees"
    );
    let inst = cache.airgap().instance("inst-de").unwrap().unwrap();
    assert_eq!(
        inst.instance.high_water_mark, 3,
        "the cloud raised its mark"
    );
    assert_eq!(
        inst.instance.public_key,
        Some(instance_key.public_key().to_string()),
        "and pinned the key"
    );

    // The next sync key names the new mark.
    let next = issue_sync_key(
        &mut cache,
        &signer,
        "inst-de",
        Duration::days(30),
        now(),
        &mut rng,
    )
    .unwrap();
    assert_eq!(next.high_water_mark, 3);
}

#[tokio::test]
async fn a_manager_of_a_subtree_issues_sync_keys_naming_the_whole_path() {
    // The token's feed holds acme-eu's subtree only; a sync key must still name where the
    // instance sits in the vendor's whole tree, as its license does.
    let cloud = Cloud::start(&small_fixture()).await;
    let token = cloud.token(Some("acme-eu"), TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path().join("cache.db")).unwrap();
    let client = Client::new(&cloud.url(), &token).unwrap();
    sync(
        &mut cache,
        &client,
        &clock(),
        &SyncOptions::default(),
        |_| {},
    )
    .await
    .unwrap();
    let secrets = MemoryStore::default();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(8);
    let status = refresh_certificate(&mut cache, &client, &secrets, "eve", now(), &mut rng)
        .await
        .unwrap();
    assert_eq!(status.scope, "acme-eu");
    let signer = Signer::load(&cache, &secrets, now()).unwrap();
    assert_eq!(signer.scope_path, ["sp-acme", "acme-eu"]);
    let key = issue_sync_key(
        &mut cache,
        &signer,
        "inst-de",
        Duration::days(30),
        now(),
        &mut rng,
    )
    .unwrap();
    let sk = SyncKey::parse(key.text.as_bytes()).unwrap();
    assert_eq!(
        sk.unverified().account_path,
        ["sp-acme", "acme-eu", "acme-de"],
        "the path above the token's account comes from the cloud"
    );

    // The instance's first file enrolls it; the desktop checks the license's whole path.
    let instance_key = SigningKey::generate(&mut rng);
    let enrolled = enrollment(
        &signer.vendor_key,
        &cloud.license_file("inst-de"),
        &instance_key,
    );
    let file = answer(
        &signer.vendor_key,
        &key.text,
        &instance_key,
        Some(&enrolled),
        &[record(1, "acme-de", "2024-06-30", 7)],
        now(),
    );
    import(&mut cache, &signer, file.as_bytes(), now()).unwrap();
    let report = sync(
        &mut cache,
        &client,
        &clock(),
        &SyncOptions::default(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(report.uploaded, 1, "and the cloud takes it");
}
