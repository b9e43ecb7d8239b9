//! The desktop app's operations against the real cloud service on loopback, with the
//! keyring replaced by an in-memory store and the clock fixed.

use std::sync::Arc;

use usagedesk_cache::ChildSort;
use usagedesk_cloud::storage::TokenKind;
use usagedesk_desktop::{Desk, DeskOptions, ErrorKind};
use usagedesk_domain::{Metric, Scope};
use usagedesk_secrets::{MemoryStore, SecretStore};
use usagedesk_testkit::{clock, small_fixture, Cloud, Expected};

fn desk(dir: &tempfile::TempDir, secrets: Arc<MemoryStore>, demo: bool) -> Desk {
    let opts = DeskOptions {
        data_dir: dir.path().to_path_buf(),
        demo,
        demo_accounts: 120,
    };
    Desk::open(opts, secrets, Arc::new(clock())).expect("open desk")
}

#[tokio::test]
async fn connect_sync_browse_then_work_offline_and_sign_out() {
    let cloud = Cloud::start(&small_fixture()).await;
    let exp = Expected::small();
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemoryStore::default());
    let desk = desk(&dir, secrets.clone(), false);

    let first = desk.status().unwrap();
    assert_eq!(
        (first.cloud_url.clone(), first.signed_in),
        (None, false),
        "a new install shows the connect screen"
    );

    let err = desk
        .connect(&cloud.url(), "udk_wrong", false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    let err = desk
        .connect("localhost:1", &token, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadUrl, "{err}");
    assert!(
        secrets.get(&format!("{}/", cloud.url())).unwrap().is_none(),
        "nothing stored after failures"
    );

    let status = desk.connect(&cloud.url(), &token, false).await.unwrap();
    assert!(status.signed_in);
    let url = status.cloud_url.clone().unwrap();
    assert_eq!(
        secrets.get(&url).unwrap().as_deref(),
        Some(token.as_str()),
        "the token went to the secret store"
    );
    let settings = std::fs::read_to_string(dir.path().join("settings.json")).unwrap();
    assert!(
        !settings.contains(&token),
        "the token is never written to disk"
    );

    let mut pages = Vec::new();
    let report = desk.sync(|p| pages.push(p)).await.unwrap();
    assert!(report.rows > 0 && !pages.is_empty());
    let status = desk.status().unwrap();
    assert_eq!(status.online, Some(true));
    assert_eq!(status.accounts as usize, exp.accounts.len());

    let months = desk.completed_months().unwrap();
    assert_eq!(months.last().unwrap().to_string(), "2024-06");
    let roots = desk
        .children(None, "2024-06", ChildSort::Name, 0, 50)
        .unwrap();
    let names: Vec<&str> = roots
        .items
        .iter()
        .map(|r| r.usage.account_name.as_str())
        .collect();
    assert_eq!(names, ["Acme Service Provider", "Globex Partners"]);

    let by_total = desk
        .children(
            Some("acme-eu"),
            "2024-06",
            ChildSort::SubtreeTotal(Metric::UsersWithActivity),
            0,
            50,
        )
        .unwrap();
    let totals: Vec<u64> = by_total
        .items
        .iter()
        .map(|r| r.subtree_total(Metric::UsersWithActivity))
        .collect();
    assert!(
        totals.windows(2).all(|w| w[0] >= w[1]),
        "largest first: {totals:?}"
    );

    let detail = desk.account_detail("acme-de-muc", "2024-02").unwrap();
    let path: Vec<&str> = detail.path.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        path,
        ["sp-acme", "acme-eu", "acme-de", "acme-de-muc"],
        "breadcrumb, root first"
    );
    assert_eq!(detail.row.usage.availability.as_str(), "non_existent");

    let hits = desk.search("deutsch", 10).unwrap();
    assert_eq!(hits[0].account.id, "acme-de");
    let trend = desk.trend("sp-acme", "2024-06", 12).unwrap();
    assert_eq!(trend.len(), 12, "twelve months, gaps included");
    assert_eq!(trend[11].month.to_string(), "2024-06");
    assert_eq!(trend[0].subtree.ok, 0, "no account reported in July 2023");

    // The cloud goes away: queries still answer, a sync says offline.
    cloud.server.stop().await.unwrap();
    let err = desk.sync(|_| {}).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Offline, "{err}");
    let status = desk.status().unwrap();
    assert_eq!(status.online, Some(false));
    assert_eq!(status.last_error.map(|e| e.kind), Some(ErrorKind::Offline));
    assert_eq!(
        desk.children(None, "2024-06", ChildSort::Name, 0, 50)
            .unwrap()
            .items
            .len(),
        2,
        "cached data still browsable"
    );

    let status = desk.sign_out().await.unwrap();
    assert!(!status.signed_in);
    assert!(
        secrets.get(&url).unwrap().is_none(),
        "sign-out removes the keyring entry"
    );
    let status = desk.clear_cache(false).await.unwrap();
    assert_eq!(status.accounts, 0);
    assert_eq!(
        status.cloud_url.as_deref(),
        Some(url.as_str()),
        "clearing the cache keeps the settings"
    );
}

#[tokio::test]
async fn bad_arguments_from_the_ui_are_refused_with_a_kind() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(&dir, Arc::new(MemoryStore::default()), false);
    let err = desk
        .children(None, "June", ChildSort::Name, 0, 10)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    let err = desk.account_detail("nobody", "2024-06").unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(desk.search("   ", 10).unwrap().is_empty());
    let err = desk.sync(|_| {}).await.unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::Unauthorized,
        "no cloud configured: {err}"
    );
}

#[cfg(feature = "demo")]
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_runs_the_real_cloud_in_process_and_syncs_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(&dir, Arc::new(MemoryStore::default()), true);
    let status = desk.start_demo().await.unwrap();
    assert!(status.demo && status.signed_in);
    assert!(status
        .cloud_url
        .as_deref()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    desk.sync(|_| {}).await.unwrap();
    let status = desk.status().unwrap();
    assert_eq!(status.accounts, 120);
    assert!(
        desk.completed_months().unwrap().len() >= 20,
        "two years of months"
    );
    assert!(
        dir.path().join("demo/cache.db").exists(),
        "the demo keeps its own cache"
    );
}

#[cfg(feature = "demo")]
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_refuses_a_damaged_settings_file_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(&dir, Arc::new(MemoryStore::default()), true);
    let settings = dir.path().join("demo/settings.json");
    std::fs::write(&settings, b"{\"reminders_off\": tru").unwrap();
    let err = desk
        .start_demo()
        .await
        .expect_err("a damaged settings file is not silently reset");
    assert!(
        err.message.contains("settings file") && err.message.contains("damaged"),
        "the error names the file and what is wrong with it: {err}"
    );
    assert_eq!(
        std::fs::read(&settings).unwrap(),
        b"{\"reminders_off\": tru",
        "the file is left as it was, for the person to look at"
    );
}

#[cfg(feature = "demo")]
#[tokio::test(flavor = "multi_thread")]
async fn customer_commands_answer_bounded_pages_of_the_demo() {
    use usagedesk_desktop::{CustomerFilter, CustomerSort};
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(&dir, Arc::new(MemoryStore::default()), true);
    desk.start_demo().await.unwrap();
    desk.sync(|_| {}).await.unwrap();
    let all = CustomerFilter::default();
    let counts = desk.customer_counts().unwrap();
    assert!(counts.customers > 10, "the demo has customers: {counts:?}");
    // Pages concatenate to the whole list; the total is the count's.
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let page = desk.customers(&all, CustomerSort::Name, offset, 7).unwrap();
        assert_eq!(page.total, counts.customers);
        if page.items.is_empty() {
            break;
        }
        offset += page.items.len() as u64;
        seen.extend(page.items.into_iter().map(|c| c.account_id));
    }
    assert_eq!(seen.len() as u64, counts.customers);
    let biggest = desk.customers(&all, CustomerSort::Name, 0, 10_000).unwrap();
    assert_eq!(biggest.limit, 500, "the page size is capped");
    assert!(
        serde_json::to_vec(&biggest).unwrap().len() < 1 << 20,
        "the largest page is under 1 MB"
    );
    let not_ready = CustomerFilter {
        not_ready: true,
        ..Default::default()
    };
    assert_eq!(
        desk.customers(&not_ready, CustomerSort::Attention, 0, 1)
            .unwrap()
            .total,
        counts.not_ready,
        "the badge counts what the filter lists"
    );
    let long = CustomerFilter {
        text: Some("x".repeat(201)),
        ..Default::default()
    };
    assert_eq!(
        desk.customers(&long, CustomerSort::Name, 0, 10)
            .unwrap_err()
            .kind,
        ErrorKind::InvalidInput
    );

    let first = &seen[0];
    let header = desk.customer(first).unwrap();
    let cards = desk.customer_instances(first, 0, 1_000).unwrap();
    assert_eq!(cards.total, u64::from(header.counts.instances));
    assert!(cards.items.len() <= 100, "at most 100 cards a page");
    let attempts = desk.install_attempts(first, 0, 10).unwrap();
    assert_eq!(attempts.total, header.install_attempt_count);
    if let Some(card) = cards.items.first() {
        let detail = desk.instance_detail(&card.instance_id).unwrap();
        let events = desk.instance_events(&card.instance_id, 0, 3).unwrap();
        assert_eq!(events.total, detail.event_count);
        assert!(events.items.len() <= 3);
        assert!(
            events
                .items
                .windows(2)
                .all(|w| w[0].received_at >= w[1].received_at),
            "newest first"
        );
    }

    let month = desk.completed_months().unwrap().last().unwrap().to_string();
    assert!(desk.account_detail(first, &month).unwrap().is_customer);
    let page = desk.children(None, &month, ChildSort::Name, 0, 50).unwrap();
    let root = &page.items[0].usage.account_id;
    assert_eq!(
        desk.account_detail(root, &month).unwrap().is_customer,
        seen.contains(root),
        "is_customer agrees with the list"
    );
}

/// A build without the `demo` feature links no demo cloud: asking for the demo, at launch or
/// from the connect screen, is refused with a reason and creates no demo folder.
#[cfg(not(feature = "demo"))]
#[tokio::test]
async fn a_build_without_the_demo_refuses_it_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DeskOptions {
        data_dir: dir.path().to_path_buf(),
        demo: true,
        demo_accounts: 120,
    };
    let err = Desk::open(opts, Arc::new(MemoryStore::default()), Arc::new(clock()))
        .err()
        .expect("--demo is refused");
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{err:?}");
    assert!(
        err.message.starts_with("this build has no demo: "),
        "{err:?}"
    );
    assert!(
        !dir.path().join("demo").exists(),
        "the refusal comes before the demo's own data folder is made"
    );

    let desk = desk(&dir, Arc::new(MemoryStore::default()), false);
    let err = desk.start_demo().await.expect_err("start_demo is refused");
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{err:?}");
    assert!(
        err.message.starts_with("this build has no demo: "),
        "{err:?}"
    );
    assert!(!desk.status().unwrap().demo);
}

#[tokio::test]
async fn export_previews_writes_reports_progress_and_refuses_with_reasons() {
    let cloud = Cloud::start(&small_fixture()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(&dir, Arc::new(MemoryStore::default()), false);
    desk.connect(&cloud.url(), &token, false).await.unwrap();
    desk.sync(|_| {}).await.unwrap();
    let root = { cloud.storage.vendor_root_key().unwrap().public_key() };
    drop(cloud); // the export needs only the cache

    let req = |scope, from: &str, to: &str| usagedesk_desktop::ExportRequest {
        report: usagedesk_desktop::ExportReport::Usage,
        account_id: "sp-acme".into(),
        scope,
        from: from.parse().unwrap(),
        to: to.parse().unwrap(),
    };
    let plan = desk
        .export_preview(&req(Scope::Children, "2024-01", "2024-06"))
        .unwrap();
    assert_eq!(
        (plan.accounts, plan.rows),
        (3, 18),
        "sp-acme and its two children, 6 months"
    );
    assert_eq!(
        plan.suggested_file_name,
        "usage-sp-acme-children-2024-01_2024-06.csv"
    );

    let err = desk
        .export_preview(&req(Scope::Tree, "2024-06", "2024-07"))
        .unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::InvalidInput,
        "July 2024 is running in the test clock: {err}"
    );
    let err = desk
        .export_csv(
            req(Scope::Tree, "2024-01", "2024-06"),
            "relative.csv".into(),
            |_| {},
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{err}");

    let path = dir.path().join("tree.csv");
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let done = desk
        .export_csv(
            req(Scope::Tree, "2024-01", "2024-06"),
            path.display().to_string(),
            move |p| sink.lock().unwrap().push(p),
        )
        .await
        .unwrap();
    assert_eq!(done.rows, 42);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(done.bytes, bytes.len() as u64);
    let last = *seen.lock().unwrap().last().expect("progress reported");
    assert_eq!((last.written, last.total), (42, 42));
    // The sync certified this computer's key: the manifest is signed with it, and checks out
    // against the vendor's root key.
    match &done.signature {
        usagedesk_export::ExportSignature::Signed {
            root_fingerprint, ..
        } => {
            assert_eq!(root_fingerprint, &root.fingerprint())
        }
        unsigned => panic!("signed with the certificate of the sync: {unsigned:?}"),
    }
    assert_eq!(
        done.manifest_path,
        dir.path().join("tree.csv.manifest").display().to_string()
    );
    let now = usagedesk_domain::Clock::now(&clock());
    let checked = usagedesk_export::verify_export(&path, Some(&root), now).unwrap();
    assert_eq!(checked.manifest.sha256, done.sha256);
    assert_eq!(checked.manifest.generator, usagedesk_desktop::GENERATOR);

    // Cancelling when nothing runs is harmless; an unwritable folder is an io error.
    desk.cancel_export().unwrap();
    let err = desk
        .export_csv(
            req(Scope::Tree, "2024-01", "2024-06"),
            dir.path().join("missing/x.csv").display().to_string(),
            |_| {},
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Io, "{err}");
}

#[tokio::test]
async fn a_dropped_usage_file_is_previewed_imported_shown_pending_and_pushed() {
    use rand::SeedableRng;
    let cloud = Cloud::start(&small_fixture()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(&dir, Arc::new(MemoryStore::default()), false);
    desk.connect(&cloud.url(), &token, false).await.unwrap();
    desk.sync(|_| {}).await.unwrap(); // also fetches the signing certificate

    let instances = desk
        .airgap_instances(&usagedesk_cache::InstanceQuery {
            kind: usagedesk_cache::InstanceKind::All,
            limit: 500,
            ..Default::default()
        })
        .unwrap()
        .items;
    let de = instances
        .iter()
        .find(|i| i.row.instance.id == "inst-de")
        .unwrap();
    assert!(
        de.overdue,
        "an air-gapped instance that never reported is overdue"
    );

    let sk_path = dir.path().join("inst-de.synckey");
    let key = desk
        .airgap_issue_sync_key("inst-de", 30, sk_path.to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&sk_path).unwrap(),
        key.text,
        "saved where the dialog said"
    );

    // The customer's answer.
    let vendor: usagedesk_airgap::PublicKey = reqwest::get(format!(
        "{}/api/v1/airgap/vendor-key",
        cloud.url().trim_end_matches('/')
    ))
    .await
    .unwrap()
    .json::<serde_json::Value>()
    .await
    .unwrap()["public_key"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = usagedesk_domain::Clock::now(&clock());
    let sync_key = usagedesk_airgap::SyncKey::parse(key.text.as_bytes())
        .unwrap()
        .verify(&vendor, now)
        .unwrap();
    let instance_key =
        usagedesk_airgap::SigningKey::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(3));
    let record = usagedesk_airgap::UsageRecord {
        seq: 1,
        account_id: "acme-de".into(),
        date: "2024-06-30".parse().unwrap(),
        plan: "premium".into(),
        users_registered: 4321,
        users_with_token: 3000,
        users_with_activity: 1000,
    };
    let file = usagedesk_airgap::UsageData::answer(
        &sync_key,
        "inst-de",
        "lic-acme-de",
        &[record],
        &instance_key,
        Some(
            &usagedesk_airgap::LicenseFile::parse(cloud.license_file("inst-de").as_bytes())
                .expect("license file")
                .verify(&vendor, now)
                .expect("the agent accepts its license file")
                .enroll(&instance_key.public_key()),
        ),
        now,
    )
    .unwrap();
    let dropped = dir.path().join("dropped.usage");
    std::fs::write(&dropped, &file).unwrap();

    let seen = desk.airgap_preview(dropped.to_str().unwrap()).unwrap();
    let preview = seen.preview.expect("a preview");
    assert_eq!(
        (preview.instance_id.as_str(), preview.new, preview.records),
        ("inst-de", 1, 1)
    );

    let vk_path = dir.path().join("inst-de.verificationkey");
    let done = desk
        .airgap_import(dropped.to_str().unwrap(), vk_path.to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&vk_path).unwrap(),
        done.verification_key
    );
    let detail = desk.account_detail("acme-de", "2024-06").unwrap();
    assert_eq!(
        detail.row.usage.own.map(|c| c.users_registered),
        Some(4321),
        "shown at once"
    );
    assert_eq!(
        detail.pending_months,
        ["2024-06".parse::<usagedesk_domain::YearMonth>().unwrap()]
    );

    // Dropped again: already imported, nothing changes, its verification key can be saved again.
    let again = desk.airgap_preview(dropped.to_str().unwrap()).unwrap();
    let earlier = again.already_imported.expect("recognised");
    let copy = dir.path().join("copy.vk");
    desk.airgap_save_document(earlier.id, copy.to_str().unwrap())
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&copy).unwrap(),
        done.verification_key
    );

    // Garbage dropped on the window: refused with the reason, as a file refusal.
    let junk = dir.path().join("junk.txt");
    std::fs::write(&junk, "hello").unwrap();
    let err = desk.airgap_preview(junk.to_str().unwrap()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::FileRefused, "{err}");

    // The next sync pushes it; the cloud's row replaces the pending one.
    let report = desk.sync(|_| {}).await.unwrap();
    assert_eq!(report.uploaded, 1);
    let detail = desk.account_detail("acme-de", "2024-06").unwrap();
    assert!(detail.pending_months.is_empty());
    assert_eq!(detail.row.usage.own.map(|c| c.users_registered), Some(4321));
    let ledger = desk
        .airgap_ledger(&usagedesk_cache::LedgerQuery {
            instance: Some("inst-de".into()),
            limit: 500,
            ..Default::default()
        })
        .unwrap()
        .items;
    assert_eq!(ledger.len(), 2, "one sync key, one import");
}

/// Signs in to `cloud`, syncs, issues a sync key for inst-de and imports the instance's
/// answer: one file queued for `cloud`.
async fn import_one_file(desk: &Desk, dir: &tempfile::TempDir, cloud: &Cloud, token: &str) {
    use rand::SeedableRng;
    desk.connect(&cloud.url(), token, false).await.unwrap();
    desk.sync(|_| {}).await.unwrap();
    let sk = dir.path().join("k.synckey");
    let key = desk
        .airgap_issue_sync_key("inst-de", 20, sk.to_str().unwrap())
        .await
        .unwrap();
    let vendor: usagedesk_airgap::PublicKey = reqwest::get(format!(
        "{}/api/v1/airgap/vendor-key",
        cloud.url().trim_end_matches('/')
    ))
    .await
    .unwrap()
    .json::<serde_json::Value>()
    .await
    .unwrap()["public_key"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = usagedesk_domain::Clock::now(&clock());
    let verified = usagedesk_airgap::SyncKey::parse(key.text.as_bytes())
        .unwrap()
        .verify(&vendor, now)
        .unwrap();
    let instance_key =
        usagedesk_airgap::SigningKey::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(9));
    let record = usagedesk_airgap::UsageRecord {
        seq: 1,
        account_id: "acme-de".into(),
        date: "2024-06-30".parse().unwrap(),
        plan: "premium".into(),
        users_registered: 4321,
        users_with_token: 3000,
        users_with_activity: 1000,
    };
    let file = usagedesk_airgap::UsageData::answer(
        &verified,
        "inst-de",
        "lic-acme-de",
        &[record],
        &instance_key,
        // The instance's first contact: its license file's enrollment of its key.
        Some(
            &usagedesk_airgap::LicenseFile::parse(cloud.license_file("inst-de").as_bytes())
                .expect("license file")
                .verify(&vendor, now)
                .expect("the agent accepts its license file")
                .enroll(&instance_key.public_key()),
        ),
        now,
    )
    .unwrap();
    let dropped = dir.path().join("answer.usage");
    std::fs::write(&dropped, file).unwrap();
    let vk = dir.path().join("answer.verificationkey");
    desk.airgap_import(dropped.to_str().unwrap(), vk.to_str().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn queued_files_survive_sign_out_clear_and_a_switch_and_go_only_to_their_cloud() {
    let first = Cloud::start(&small_fixture()).await;
    let first_token = first.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemoryStore::default());
    let desk = desk(&dir, secrets.clone(), false);
    import_one_file(&desk, &dir, &first, &first_token).await;
    let url = usagedesk_sync::Client::new(&first.url(), "t")
        .unwrap()
        .base_url()
        .to_owned();
    assert!(
        secrets
            .get(&format!("{url}#airgap-signing-key"))
            .unwrap()
            .is_some(),
        "the delegated signing key is in the keyring while signed in"
    );
    assert_eq!(desk.status().unwrap().outbox.queued, 1);

    // Sign-out removes the token, the signing key and the certificate; the file stays queued.
    let status = desk.sign_out().await.unwrap();
    assert!(!status.signed_in);
    assert!(secrets
        .get(&format!("{url}#airgap-signing-key"))
        .unwrap()
        .is_none());
    let err = desk
        .airgap_issue_sync_key("inst-de", 20, dir.path().join("x").to_str().unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::NoCertificate,
        "nothing can be signed here now: {err}"
    );
    assert_eq!(
        status.outbox.queued, 1,
        "signing out keeps the file queued for its cloud"
    );

    // Clearing asks first, and keeps the file when confirmed.
    let err = desk.clear_cache(false).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::PendingUploads, "{err}");
    assert!(err.message.contains("1 imported usage data file"), "{err}");
    let status = desk.clear_cache(true).await.unwrap();
    assert_eq!(status.accounts, 0);
    assert_eq!(status.outbox.total(), 1, "the file is still kept");

    // Another cloud: asked first; when confirmed, the file is never sent to it.
    let second = Cloud::start(&small_fixture()).await;
    let second_token = second.token(None, TokenKind::Manager);
    let err = desk
        .connect(&second.url(), &second_token, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::PendingUploads, "{err}");
    assert!(
        err.message.contains(&url),
        "names the cloud the file waits for: {err}"
    );
    desk.connect(&second.url(), &second_token, true)
        .await
        .unwrap();
    let report = desk.sync(|_| {}).await.unwrap();
    assert_eq!(report.uploaded, 0, "nothing goes to the other cloud");
    let status = desk.status().unwrap();
    assert_eq!(status.outbox.elsewhere.len(), 1);
    assert_eq!(status.outbox.elsewhere[0].binding.cloud_url, url);
    let fresh = tempfile::tempdir().unwrap();
    let check = self::desk(&fresh, Arc::new(MemoryStore::default()), false);
    check
        .connect(&second.url(), &second_token, false)
        .await
        .unwrap();
    check.sync(|_| {}).await.unwrap();
    assert_ne!(
        check
            .account_detail("acme-de", "2024-06")
            .unwrap()
            .row
            .usage
            .own
            .map(|c| c.users_registered),
        Some(4321),
        "the second cloud never got the file"
    );

    // Back on the first cloud (no question: the file is for it), the file goes up.
    desk.connect(&first.url(), &first_token, false)
        .await
        .unwrap();
    let report = desk.sync(|_| {}).await.unwrap();
    assert_eq!(report.uploaded, 1);
    assert_eq!(desk.status().unwrap().outbox.total(), 0);
    assert_eq!(
        desk.account_detail("acme-de", "2024-06")
            .unwrap()
            .row
            .usage
            .own
            .map(|c| c.users_registered),
        Some(4321),
        "the first cloud has it"
    );
}
