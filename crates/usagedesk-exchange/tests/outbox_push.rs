//! Pushing an imported file through every kind of answer: the real cloud on loopback behind
//! a gate (a real HTTP server on loopback, a protocol peer) that answers the upload
//! endpoint with scripted statuses (503, 429 with Retry-After, 408, 401, 413) before it
//! forwards to the cloud. Transient answers keep the file queued with backoff; a definite
//! refusal keeps it, marked refused, not sent again until retried by hand; only the cloud's
//! acceptance takes it out of the outbox.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::SeedableRng;
use usagedesk_airgap::{SigningKey, SyncKey, UsageData, UsageRecord};
use usagedesk_cache::{Cache, OutboxBinding, UploadState};
use usagedesk_cloud::storage::TokenKind;
use usagedesk_domain::Clock;
use usagedesk_exchange::{import, issue_sync_key, refresh_certificate, Signer};
use usagedesk_secrets::MemoryStore;
use usagedesk_sync::outbox::push_outbox;
use usagedesk_sync::{sync, Client, RetryPolicy, SyncError, SyncOptions};
use usagedesk_testkit::{clock, small_fixture, Cloud};

fn now() -> DateTime<Utc> {
    clock().now()
}

/// What the gate answers to the next uploads (then it forwards to the cloud).
#[derive(Default)]
struct Script {
    answers: Mutex<VecDeque<(u16, Option<u64>)>>,
    uploads_seen: AtomicU32,
}

async fn gate(cloud: String, script: Arc<Script>) -> String {
    let http = reqwest::Client::new();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (http, cloud, script) = (http.clone(), cloud.clone(), script.clone());
            async move {
                let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
                if path.starts_with("/api/v1/airgap/imports") {
                    script.uploads_seen.fetch_add(1, Ordering::SeqCst);
                    let next = script.answers.lock().unwrap().pop_front();
                    if let Some((status, retry_after)) = next {
                        let body = serde_json::json!({"error": {"code": "bad_request", "message": format!("scripted {status}")}});
                        let mut r = (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
                        if let Some(s) = retry_after {
                            r.headers_mut().insert("retry-after", s.to_string().parse().unwrap());
                        }
                        return r;
                    }
                }
                let mut req = http.request(method, format!("{}{path}", cloud.trim_end_matches('/')));
                for (name, value) in &headers {
                    if name == "authorization" || name == "content-type" {
                        req = req.header(name, value);
                    }
                }
                let resp = req.body(body).send().await.unwrap();
                let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
                let bytes = resp.bytes().await.unwrap();
                Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(bytes))
                    .unwrap()
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/")
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

/// The small fixture with inst-de's key pinned (registered by the vendor in instances.csv).
fn dataset(instance_key: &SigningKey) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["accounts.csv", "daily_usage.csv"] {
        std::fs::copy(small_fixture().join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(
        dir.path().join("instances.csv"),
        format!(
            "id,license_id,account_id,airgapped,public_key\n\
             inst-de,lic-acme-de,acme-de,true,{}\n",
            instance_key.public_key()
        ),
    )
    .unwrap();
    dir
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        first_delay: StdDuration::from_millis(5),
        max_delay: StdDuration::from_millis(5),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_answer_keeps_the_file_until_the_cloud_accepts_it() {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
    let instance_key = SigningKey::generate(&mut rng);
    let data = dataset(&instance_key);
    let cloud = Cloud::start(data.path()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let script = Arc::new(Script::default());
    let url = gate(cloud.url(), script.clone()).await;
    let client = Client::new(&url, &token).unwrap().with_retry(fast());

    // Sync, certificate, a sync key, the instance's answer, the import: one file queued.
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path().join("cache.db")).unwrap();
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
    refresh_certificate(&mut cache, &client, &secrets, "ann (root)", now(), &mut rng)
        .await
        .unwrap();
    let signer = Signer::load(&cache, &secrets, now()).unwrap();
    let key = issue_sync_key(
        &mut cache,
        &signer,
        "inst-de",
        Duration::days(20),
        now(),
        &mut rng,
    )
    .unwrap();
    let verified = SyncKey::parse(key.text.as_bytes())
        .unwrap()
        .verify(&signer.vendor_key, now())
        .unwrap();
    let file = UsageData::answer(
        &verified,
        "inst-de",
        "lic-acme-de",
        &[record(1, "acme-de", "2024-06-30", 777)],
        &instance_key,
        None,
        now(),
    )
    .unwrap();
    let done = import(&mut cache, &signer, file.as_bytes(), now()).unwrap();
    let id = done.ledger_id;
    let here = OutboxBinding {
        cloud_url: client.base_url().to_owned(),
        account_id: "*".into(),
    };
    assert_eq!(
        cache.outbox().items().unwrap()[0].binding,
        here,
        "queued for this cloud and account"
    );

    let state = |cache: &Cache| {
        let row = cache.airgap().ledger_row(id).unwrap().unwrap();
        (row.upload, row.queued)
    };

    // 503 on every try (two in the call): kept, retried no sooner than 30 s.
    script
        .answers
        .lock()
        .unwrap()
        .extend([(503, None), (503, None)]);
    let r = push_outbox(&mut cache, &client, "*", now()).await.unwrap();
    assert_eq!((r.uploaded, r.deferred, r.refused), (0, 1, 0));
    let (upload, queued) = state(&cache);
    let queued = queued.expect("kept");
    assert_eq!(upload, Some(UploadState::Pending));
    assert_eq!((queued.attempts, queued.refused_status), (1, None));
    assert_eq!(queued.next_attempt_at, Some(now() + Duration::seconds(30)));
    assert!(queued.last_error.unwrap().contains("503"));
    assert_eq!(script.uploads_seen.load(Ordering::SeqCst), 2);

    // Not due yet: nothing is sent.
    push_outbox(&mut cache, &client, "*", now() + Duration::seconds(29))
        .await
        .unwrap();
    assert_eq!(script.uploads_seen.load(Ordering::SeqCst), 2);

    // 429 asking for two minutes: one request (not waited out in the call), and the next
    // try no sooner than the cloud asked (more than the 60 s backoff of a second failure).
    let t = now() + Duration::seconds(31);
    script.answers.lock().unwrap().push_back((429, Some(120)));
    let r = push_outbox(&mut cache, &client, "*", t).await.unwrap();
    assert_eq!(r.deferred, 1);
    assert_eq!(script.uploads_seen.load(Ordering::SeqCst), 3);
    let queued = state(&cache).1.unwrap();
    assert_eq!(queued.next_attempt_at, Some(t + Duration::seconds(120)));
    assert_eq!(queued.attempts, 2);

    // 408 twice: transient too.
    let t = t + Duration::seconds(121);
    script
        .answers
        .lock()
        .unwrap()
        .extend([(408, None), (408, None)]);
    assert_eq!(
        push_outbox(&mut cache, &client, "*", t)
            .await
            .unwrap()
            .deferred,
        1
    );
    assert_eq!(state(&cache).1.unwrap().attempts, 3);

    // 401: the sync fails (sign in again); the file stays queued.
    let t = t + Duration::hours(2);
    script.answers.lock().unwrap().push_back((401, None));
    let err = push_outbox(&mut cache, &client, "*", t).await.unwrap_err();
    assert!(matches!(err, SyncError::Unauthorized { .. }), "{err}");
    assert!(state(&cache).1.is_some());

    // 413, a definite refusal: kept, marked refused with the cloud's reason, not sent again.
    script.answers.lock().unwrap().push_back((413, None));
    let r = push_outbox(&mut cache, &client, "*", t).await.unwrap();
    assert_eq!(r.refused, 1);
    let (upload, queued) = state(&cache);
    assert_eq!(upload, Some(UploadState::Rejected));
    assert_eq!(queued.as_ref().and_then(|q| q.refused_status), Some(413));
    assert_eq!(
        cache
            .airgap()
            .ledger_row(id)
            .unwrap()
            .unwrap()
            .upload_error
            .as_deref(),
        Some("scripted 413")
    );
    let seen = script.uploads_seen.load(Ordering::SeqCst);
    push_outbox(&mut cache, &client, "*", t + Duration::days(3))
        .await
        .unwrap();
    assert_eq!(
        script.uploads_seen.load(Ordering::SeqCst),
        seen,
        "a refused file waits for a person"
    );
    assert_eq!(
        cache.airgap().pending_months("acme-de").unwrap().len(),
        1,
        "its values stay, unconfirmed"
    );

    // Another cloud, or another account: nothing queued here is ever sent to it.
    cache.outbox_mut().requeue(id).unwrap();
    let elsewhere = Client::new("http://127.0.0.1:9/", &token)
        .unwrap()
        .with_retry(fast());
    let r = push_outbox(&mut cache, &elsewhere, "*", t).await.unwrap();
    assert_eq!(r, Default::default(), "another cloud gets nothing");
    let r = push_outbox(&mut cache, &client, "acme-de", t)
        .await
        .unwrap();
    assert_eq!(
        r,
        Default::default(),
        "another account's token gets nothing"
    );
    assert_eq!(script.uploads_seen.load(Ordering::SeqCst), seen);

    // Retried by hand, the cloud accepts it: out of the outbox, numbers from the cloud.
    cache.outbox_mut().requeue(id).unwrap();
    let report = sync(
        &mut cache,
        &client,
        &clock(),
        &SyncOptions::default(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!((report.push.uploaded, report.uploaded), (1, 1));
    assert!(cache.outbox().items().unwrap().is_empty());
    assert_eq!(state(&cache).0, Some(UploadState::Uploaded));
    assert!(cache.airgap().pending_months("acme-de").unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_network_failure_keeps_the_file_queued_for_a_later_sync() {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(4);
    let instance_key = SigningKey::generate(&mut rng);
    let data = dataset(&instance_key);
    let cloud = Cloud::start(data.path()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let client = Client::new(&cloud.url(), &token).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path().join("cache.db")).unwrap();
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
    refresh_certificate(&mut cache, &client, &secrets, "ann", now(), &mut rng)
        .await
        .unwrap();
    let signer = Signer::load(&cache, &secrets, now()).unwrap();
    let key = issue_sync_key(
        &mut cache,
        &signer,
        "inst-de",
        Duration::days(20),
        now(),
        &mut rng,
    )
    .unwrap();
    let verified = SyncKey::parse(key.text.as_bytes())
        .unwrap()
        .verify(&signer.vendor_key, now())
        .unwrap();
    let file = UsageData::answer(
        &verified,
        "inst-de",
        "lic-acme-de",
        &[record(1, "acme-de", "2024-06-30", 9)],
        &instance_key,
        None,
        now(),
    )
    .unwrap();
    import(&mut cache, &signer, file.as_bytes(), now()).unwrap();

    // The cloud goes away: the upload fails on the network, the file stays, due in 30 s.
    let url = client.base_url().to_owned();
    drop(cloud);
    let gone = Client::new(&url, &token).unwrap().with_retry(fast());
    let r = push_outbox(&mut cache, &gone, "*", now()).await.unwrap();
    assert_eq!(r.deferred, 1);
    let kept = cache.outbox().items().unwrap();
    assert_eq!(kept.len(), 1);
    let q = cache.outbox().queued(kept[0].ledger_id).unwrap().unwrap();
    assert!(
        q.last_error.unwrap().contains("cannot reach"),
        "the network failure is kept to show"
    );
    assert_eq!(q.next_attempt_at, Some(now() + Duration::seconds(30)));
}
