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

    let err = desk.connect(&cloud.url(), "udk_wrong").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    let err = desk.connect("localhost:1", &token).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadUrl, "{err}");
    assert!(
        secrets.get(&format!("{}/", cloud.url())).unwrap().is_none(),
        "nothing stored after failures"
    );

    let status = desk.connect(&cloud.url(), &token).await.unwrap();
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

    let status = desk.sign_out().unwrap();
    assert!(!status.signed_in);
    assert!(
        secrets.get(&url).unwrap().is_none(),
        "sign-out removes the keyring entry"
    );
    let status = desk.clear_cache().await.unwrap();
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

#[tokio::test]
async fn export_previews_writes_reports_progress_and_refuses_with_reasons() {
    let cloud = Cloud::start(&small_fixture()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(&dir, Arc::new(MemoryStore::default()), false);
    desk.connect(&cloud.url(), &token).await.unwrap();
    desk.sync(|_| {}).await.unwrap();
    drop(cloud); // the export needs only the cache

    let req = |scope, from: &str, to: &str| usagedesk_desktop::ExportRequest {
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
    let manifest = std::fs::read_to_string(dir.path().join("tree.csv.manifest.json")).unwrap();
    assert!(manifest.contains(&done.sha256) && manifest.contains(usagedesk_desktop::GENERATOR));

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
