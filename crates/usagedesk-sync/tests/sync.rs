//! The real sync client against the real cloud service on loopback, into a real SQLite cache.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use usagedesk_cache::Cache;
use usagedesk_cloud::storage::{DailyRow, TokenKind};
use usagedesk_domain::{AccountMonthUsage, Scope, UsageCounts, YearMonth};
use usagedesk_sync::{sync, Client, Progress, RetryPolicy, SyncError, SyncOptions};
use usagedesk_testkit::{clock, small_fixture, today, Cloud, Expected};

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(10),
    }
}

fn month(s: &str) -> YearMonth {
    s.parse().expect("month")
}

/// Everything the cache answers about every account and month, for comparing two caches.
fn dump(cache: &Cache, exp: &Expected) -> Vec<AccountMonthUsage> {
    let mut out = Vec::new();
    for m in exp.months() {
        for root in ["sp-acme", "sp-globex"] {
            out.extend(
                cache
                    .usage()
                    .rows(root, month(&m), Scope::Tree)
                    .expect("usage rows"),
            );
        }
    }
    out
}

async fn synced_cache(
    cloud: &Cloud,
    token: &str,
    dir: &tempfile::TempDir,
    name: &str,
    page_size: usize,
) -> Cache {
    let mut cache = Cache::open(dir.path().join(name)).expect("open cache");
    let client = Client::new(&cloud.url(), token).expect("client");
    let opts = SyncOptions {
        page_size,
        ..SyncOptions::default()
    };
    sync(&mut cache, &client, &clock(), &opts, |_| {})
        .await
        .expect("sync");
    cache
}

#[tokio::test]
async fn a_full_sync_gives_the_values_computed_from_the_input_rows() {
    let cloud = Cloud::start(&small_fixture()).await;
    let exp = Expected::small();
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let cache = synced_cache(&cloud, &token, &dir, "cache.db", 10).await;

    let completed: Vec<String> = cache
        .usage()
        .completed_months(today())
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        completed,
        ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"],
        "July is still running on 2024-07-15"
    );

    let mut checked = std::collections::BTreeSet::new();
    for m in exp.months() {
        for id in exp.accounts.keys() {
            let got = cache.usage().account_month(id, month(&m)).unwrap();
            let availability = exp.availability(id, &m);
            assert_eq!(got.availability.as_str(), availability, "{id} {m}");
            checked.insert(availability);
            match availability {
                "ok" => {
                    let (plan, c) = &exp.month_end[&(id.clone(), m.clone())];
                    assert_eq!(got.plan.as_deref(), Some(plan.as_str()), "{id} {m}");
                    assert_eq!(
                        got.own,
                        Some(UsageCounts::new(c[0], c[1], c[2])),
                        "{id} {m}"
                    );
                }
                _ => assert_eq!(
                    (got.plan, got.own),
                    (None, None),
                    "{id} {m}: missing months are not 0"
                ),
            }
            let want: std::collections::BTreeMap<String, UsageCounts> = exp
                .totals(id, &m)
                .into_iter()
                .map(|(p, t)| (p, UsageCounts::new(t[0], t[1], t[2])))
                .collect();
            let got_totals: std::collections::BTreeMap<String, UsageCounts> =
                got.totals.into_iter().collect();
            assert_eq!(got_totals, want, "subtree totals of {id} in {m}");
            assert_eq!(
                got.account_name, exp.accounts[id].name,
                "names survive CSV quoting and JSON"
            );
        }
    }
    assert_eq!(
        checked.len(),
        3,
        "the fixture exercises ok, not available and non-existent"
    );
}

#[tokio::test]
async fn an_interrupted_sync_resumes_to_exactly_the_cache_of_an_uninterrupted_one() {
    let mut cloud = Cloud::start(&small_fixture()).await;
    let exp = Expected::small();
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let reference = synced_cache(&cloud, &token, &dir, "reference.db", 7).await;

    // Stop the server after the third page has been applied.
    let mut cache = Cache::open(dir.path().join("interrupted.db")).unwrap();
    let stopper = Mutex::new(cloud.server.stopper());
    let client = Client::new(&cloud.url(), &token)
        .unwrap()
        .with_retry(fast_retry());
    let opts = SyncOptions {
        page_size: 7,
        ..SyncOptions::default()
    };
    let pages_seen = Arc::new(Mutex::new(0));
    let err = sync(&mut cache, &client, &clock(), &opts, |p: Progress| {
        *pages_seen.lock().unwrap() = p.pages;
        if p.pages == 3 {
            if let Some(tx) = stopper.lock().unwrap().take() {
                let _ = tx.send(());
            }
        }
    })
    .await
    .expect_err("the server went away mid-sync");
    assert!(err.is_offline(), "a stopped server reads as offline: {err}");
    let pages_before = *pages_seen.lock().unwrap();
    assert!(
        (3..10).contains(&pages_before),
        "stopped part-way, after {pages_before} pages"
    );
    let cursor = cache.sync().cursor().unwrap();
    assert!(cursor.is_some(), "the applied pages' cursor was kept");

    cloud.restart().await;
    let client = Client::new(&cloud.url(), &token).unwrap();
    // A new port is another URL: point the cache at it so the resume is not a full resync.
    cache.sync_mut().set_server_url(client.base_url()).unwrap();
    let report = sync(&mut cache, &client, &clock(), &opts, |_| {})
        .await
        .expect("resumed sync");
    assert!(
        !report.full_resync,
        "the second run resumed at the stored cursor"
    );
    let total: u64 = reference.sync().log(10).unwrap()[0].rows;
    assert_eq!(
        report.rows + (pages_before as u64 * 7),
        total,
        "the resumed run fetched exactly what the first run had not applied"
    );
    assert_eq!(
        dump(&cache, &exp),
        dump(&reference, &exp),
        "same cache as an uninterrupted sync"
    );
}

#[tokio::test]
async fn an_incremental_sync_fetches_only_what_changed() {
    let cloud = Cloud::start(&small_fixture()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let mut cache = synced_cache(&cloud, &token, &dir, "cache.db", 5000).await;
    let before = cache
        .usage()
        .account_month("sp-acme", month("2024-03"))
        .unwrap();
    assert_eq!(
        before.availability.as_str(),
        "not_available",
        "the provider itself never reports"
    );

    cloud
        .storage
        .ingest(&[DailyRow {
            account_id: "sp-acme".into(),
            date: "2024-03-31".parse().unwrap(),
            plan: "premium".into(),
            counts: UsageCounts::new(40, 30, 20),
        }])
        .unwrap();

    let client = Client::new(&cloud.url(), &token).unwrap();
    let mut totals_seen = Vec::new();
    let report = sync(
        &mut cache,
        &client,
        &clock(),
        &SyncOptions::default(),
        |p| totals_seen.push(p.rows_total),
    )
    .await
    .unwrap();
    assert_eq!(report.rows, 1, "one month-end row changed");
    assert!(
        totals_seen.contains(&Some(1)),
        "progress knew the total: {totals_seen:?}"
    );
    let after = cache
        .usage()
        .account_month("sp-acme", month("2024-03"))
        .unwrap();
    assert_eq!(after.own, Some(UsageCounts::new(40, 30, 20)));
    assert_eq!(
        after.totals["premium"].users_registered,
        before.totals["premium"].users_registered + 40,
        "the root's aggregate includes its own new value"
    );
}

#[tokio::test]
async fn a_scoped_token_syncs_only_its_subtree() {
    let cloud = Cloud::start(&small_fixture()).await;
    let token = cloud.token(Some("acme-eu"), TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let cache = synced_cache(&cloud, &token, &dir, "cache.db", 5000).await;
    let roots: Vec<String> = cache
        .accounts()
        .all_children(None)
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(
        roots,
        ["acme-eu"],
        "the token's account is the root of what the cache holds"
    );
    assert!(cache.accounts().get("sp-globex").unwrap().is_none());
    assert!(cache.accounts().get("acme-de-muc").unwrap().is_some());
}

#[tokio::test]
async fn failures_come_with_a_message_that_says_what_to_do() {
    let cloud = Cloud::start(&small_fixture()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path().join("c.db")).unwrap();
    let opts = SyncOptions::default();

    assert!(matches!(
        Client::new("localhost:8787", "t"),
        Err(SyncError::BadUrl { .. })
    ));

    let bad = Client::new(&cloud.url(), "udk_wrong").unwrap();
    let err = sync(&mut cache, &bad, &clock(), &opts, |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("Sign in again"), "{err}");

    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = Client::new(&format!("http://127.0.0.1:{port}"), "t")
        .unwrap()
        .with_retry(fast_retry());
    let err = sync(&mut cache, &down, &clock(), &opts, |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("offline"), "{err}");

    let log = cache.sync().log(10).unwrap();
    assert_eq!(log.len(), 2, "failed runs are logged too");
    assert!(log.iter().all(|e| e.error.is_some()));
}

/// A server that is not (or not the right version of) UsageDesk.
async fn fake_server(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_wrong_server_or_api_version_is_named() {
    use axum::routing::get;
    use axum::Json;
    let other = fake_server(axum::Router::new().route("/", get(|| async { "hello" }))).await;
    let err = Client::new(&other, "t")
        .unwrap()
        .check_version()
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::NotUsageDesk { .. }), "{err}");

    let newer = fake_server(axum::Router::new().route(
        "/api/v1/version",
        get(|| async { Json(serde_json::json!({"service":"usagedesk-cloud","api_version":2,"server_version":"9.0.0"})) }),
    ))
    .await;
    let err = Client::new(&newer, "t")
        .unwrap()
        .check_version()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::VersionMismatch {
                server: 2,
                client: 1
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("update this app"), "{err}");
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff() {
    use axum::http::StatusCode;
    use axum::routing::get;
    use std::sync::atomic::{AtomicU32, Ordering};
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let flaky = fake_server(axum::Router::new().route(
        "/api/v1/version",
        get(move || {
            let n = c.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(StatusCode::SERVICE_UNAVAILABLE)
                } else {
                    Ok(axum::Json(serde_json::json!({"service":"usagedesk-cloud","api_version":1,"server_version":"0.1.0"})))
                }
            }
        }),
    ))
    .await;
    let policy = RetryPolicy {
        attempts: 3,
        first_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    };
    let v = Client::new(&flaky, "t")
        .unwrap()
        .with_retry(policy)
        .check_version()
        .await
        .expect("third try succeeds");
    assert_eq!(v.api_version, 1);
    assert_eq!(calls.load(Ordering::SeqCst), 3, "two 503s, then success");
}
