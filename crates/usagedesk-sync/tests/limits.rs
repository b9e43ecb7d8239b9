//! The client within the cloud's limits and its own: a capped count asked again, answers
//! read piece by piece up to a limit, Retry-After honoured, revoked tokens named.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use usagedesk_cache::Cache;
use usagedesk_cloud::limits::StorageLimits;
use usagedesk_cloud::load::read_dataset;
use usagedesk_cloud::storage::prelude::*;
use usagedesk_cloud::storage::{TokenKind, TokenScope};
use usagedesk_cloud::{tokens, SqliteStorage};
use usagedesk_domain::Clock;
use usagedesk_sync::{sync, Client, Progress, RetryPolicy, SyncError, SyncOptions};
use usagedesk_testkit::{clock, small_fixture, Cloud};

#[tokio::test(flavor = "multi_thread")]
async fn progress_counts_again_when_the_cloud_caps_its_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Arc::new(
        SqliteStorage::open_with(
            &dir.path().join("cloud.db"),
            StorageLimits {
                max_feed_count: 10,
                ..StorageLimits::default()
            },
        )
        .expect("open"),
    );
    storage
        .load(
            read_dataset(&small_fixture()).expect("dataset"),
            clock().today(),
        )
        .expect("load");
    let token = tokens::generate(&mut rand::thread_rng());
    storage
        .create_token(
            tokens::hash(&token),
            &TokenScope::All,
            TokenKind::Manager,
            "t",
            clock().now(),
        )
        .expect("token");
    let server = usagedesk_cloud::spawn(storage, Arc::new(clock()), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("serve");

    let mut cache = Cache::open(dir.path().join("cache.db")).expect("cache");
    let client = Client::new(&server.url(), &token).expect("client");
    let seen = Mutex::new(Vec::<Progress>::new());
    let opts = SyncOptions {
        page_size: 4,
        ..SyncOptions::default()
    };
    let report = sync(&mut cache, &client, &clock(), &opts, |p| {
        seen.lock().unwrap().push(p)
    })
    .await
    .expect("sync");
    let seen = seen.into_inner().unwrap();
    let totals: Vec<u64> = seen.iter().filter_map(|p| p.rows_total).collect();
    assert!(report.rows > 10, "more changes than one count covers");
    assert_eq!(totals.first(), Some(&10), "the first count stops at 10");
    assert_eq!(
        totals.last(),
        Some(&report.rows),
        "counted again as the sync went on, the total ends exact: {totals:?}"
    );
    assert!(
        seen.iter()
            .all(|p| p.rows_total.is_none_or(|t| p.rows_done <= t)),
        "progress never runs past its total: {seen:?}"
    );
    server.stop().await.expect("stop");
}

/// A server on loopback answering with `app`.
async fn fake_server(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn an_endless_answer_is_cut_at_the_limit_not_read_whole() {
    use axum::body::{Body, Bytes};
    use axum::routing::get;
    // One megabyte after another, forever, with no length announced.
    let endless = || async { Body::from_stream(Endless(Bytes::from(vec![b' '; 1 << 20]))) };
    let url = fake_server(axum::Router::new().route("/api/v1/me", get(endless))).await;
    let client = Client::new(&url, "udk_t")
        .unwrap()
        .with_retry(RetryPolicy::none());
    let err = tokio::time::timeout(Duration::from_secs(120), client.whoami())
        .await
        .expect("the client stops reading at its limit")
        .unwrap_err();
    assert!(
        matches!(&err, SyncError::Protocol(m) if m.contains("larger than 64 MB")),
        "{err}"
    );
}

/// The same chunk, forever.
struct Endless(axum::body::Bytes);

impl futures_core::Stream for Endless {
    type Item = Result<axum::body::Bytes, std::io::Error>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(Some(Ok(self.0.clone())))
    }
}

#[tokio::test]
async fn a_short_retry_after_is_waited_out_and_a_long_one_reported() {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::get;
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let version =
        serde_json::json!({"service":"usagedesk-cloud","api_version":1,"server_version":"0.1.0"});
    let url = fake_server(axum::Router::new().route(
        "/api/v1/version",
        get(move || {
            let n = c.fetch_add(1, Ordering::SeqCst);
            let version = version.clone();
            async move {
                if n == 0 {
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        [(header::RETRY_AFTER, "1")],
                        axum::Json(serde_json::json!({"error": {"code": "rate_limited",
                            "message": "too many requests from this address; try again in 1 s"}})),
                    )
                        .into_response()
                } else if n == 1 {
                    axum::Json(version).into_response()
                } else {
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        [(header::RETRY_AFTER, "3600")],
                        axum::Json(serde_json::json!({"error": {"code": "rate_limited",
                            "message": "too many requests from this address; try again in 3600 s"}})),
                    )
                        .into_response()
                }
            }
        }),
    ))
    .await;
    let client = Client::new(&url, "udk_t").unwrap();
    client
        .check_version()
        .await
        .expect("a 429 with Retry-After: 1 is waited out");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let err = client.check_version().await.unwrap_err();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "an hour is not waited out inside a request"
    );
    assert!(err.to_string().contains("3600 s"), "{err}");
}

#[tokio::test]
async fn a_revoked_or_expired_token_is_named_with_what_to_do() {
    let cloud = Cloud::start(&small_fixture()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let id = cloud.storage.tokens().unwrap()[0].id.clone();
    cloud.storage.revoke_token(&id, clock().now()).unwrap();
    let err = Client::new(&cloud.url(), &token)
        .unwrap()
        .whoami()
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Unauthorized { .. }), "{err}");
    let said = err.to_string();
    assert!(
        said.contains(&id) && said.contains("was revoked on") && said.contains("administrator"),
        "{said}"
    );
    assert!(!said.contains(&token), "{said}");
}
