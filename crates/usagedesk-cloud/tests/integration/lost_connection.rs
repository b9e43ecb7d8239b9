//! Database connections killed under load (PostgreSQL only: `pg_terminate_backend`): every
//! request is answered either 200, with all it wrote stored, or 503 `busy` with `Retry-After`,
//! with nothing of it stored; never a half-applied write. Runs when `USAGEDESK_TEST_ENGINE`
//! is `postgres`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Days, NaiveDate};
use reqwest::StatusCode;
use serde_json::{json, Value};
use usagedesk_cloud::limits::{Limits, RateLimit};
use usagedesk_cloud::storage::TokenKind;
use usagedesk_testkit::engine;
use usagedesk_testkit::{clock, small_fixture, Cloud};

const WRITERS: usize = 4;
const REQUESTS: usize = 25;
/// One writer per account (active, created before 2023-09).
const ACCOUNTS: [&str; WRITERS] = ["acme-us", "acme-fr", "acme-de", "globex-2"];

fn unlimited() -> Limits {
    let lots = RateLimit {
        burst: 1_000_000,
        period: Duration::from_secs(1),
    };
    Limits {
        per_address: lots,
        per_instance: lots,
        ..Limits::default()
    }
}

/// The two days request `i` writes (its own, so what it stored can be told apart).
fn days(i: usize) -> [NaiveDate; 2] {
    let base = NaiveDate::from_ymd_opt(2023, 9, 1).expect("date");
    let first = base
        .checked_add_days(Days::new(2 * i as u64))
        .expect("date");
    [first, first.succ_opt().expect("date")]
}

fn marker(writer: usize, i: usize) -> u64 {
    100_000 + (writer * 1000 + i) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_connections_answer_503_and_write_nothing_half() {
    if !engine::is_postgres("the lost-connection test") {
        return;
    }
    let cloud = Cloud::start_with(&small_fixture(), Arc::new(clock()), unlimited()).await;
    let token = cloud.token(None, TokenKind::Ingest);
    let http = reqwest::Client::new();
    let url = cloud.url();

    let writing = Arc::new(AtomicBool::new(true));
    let killer = {
        let (db, writing) = (cloud.db.clone(), writing.clone());
        tokio::spawn(async move {
            let mut killed = 0usize;
            // Bounded: at most 200 rounds, one every 5 ms, while the writers write.
            for _ in 0..200 {
                if !writing.load(Ordering::SeqCst) {
                    break;
                }
                let db = db.clone();
                let rows = tokio::task::spawn_blocking(move || {
                    engine::query_rows(
                        &db,
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                         WHERE datname = current_database() AND pid <> pg_backend_pid()
                           AND application_name = 'usagedesk-cloud' AND state <> 'idle'",
                    )
                })
                .await
                .expect("killer");
                killed += rows.len();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            killed
        })
    };
    let mut writers = Vec::new();
    for (w, account) in ACCOUNTS.iter().enumerate() {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        writers.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for i in 0..REQUESTS {
                let n = marker(w, i);
                let snapshots: Vec<Value> = days(i)
                    .iter()
                    .map(|d| {
                        json!({"account_id": account, "date": d.to_string(), "plan": "basic",
                               "users_registered": n, "users_with_token": 1, "users_with_activity": 1})
                    })
                    .collect();
                let resp = http
                    .post(format!("{url}/api/v1/usage"))
                    .bearer_auth(&token)
                    .json(&json!({ "snapshots": snapshots }))
                    .send()
                    .await
                    .expect("post usage");
                let status = resp.status();
                let retry_after = resp.headers().get("retry-after").is_some();
                let body: Value = resp.json().await.expect("a JSON answer");
                answers.push((i, status, retry_after, body));
            }
            answers
        }));
    }
    let mut answers = Vec::new();
    for (w, writer) in writers.into_iter().enumerate() {
        for a in writer.await.expect("writer") {
            answers.push((w, a));
        }
    }
    writing.store(false, Ordering::SeqCst);
    let killed = killer.await.expect("killer");

    let mut busy = 0;
    for (w, (i, status, retry_after, body)) in &answers {
        let [d1, d2] = days(*i);
        let account = ACCOUNTS[*w];
        let rows = engine::query_rows(
            &cloud.db,
            &format!(
                "SELECT date, users_registered FROM daily_usage
                 WHERE account_id = '{account}' AND date IN ('{d1}', '{d2}') ORDER BY date"
            ),
        );
        let mine = rows
            .iter()
            .filter(|r| r[1] == marker(*w, *i).to_string())
            .count();
        match *status {
            StatusCode::OK => assert_eq!(mine, 2, "request {w}/{i} answered 200: {body}"),
            StatusCode::SERVICE_UNAVAILABLE => {
                busy += 1;
                assert_eq!(body["error"]["code"], "busy", "{body}");
                assert!(*retry_after, "a 503 says when to try again: {body}");
                assert_eq!(mine, 0, "request {w}/{i} answered 503 but stored {rows:?}");
            }
            other => panic!("request {w}/{i}: {other} {body}"),
        }
    }
    assert!(killed > 0, "connections were killed while requests ran");
    eprintln!(
        "{} requests, {killed} connections killed, {busy} answered 503",
        answers.len()
    );
    // The service recovers by itself: a request after the kills is answered and stored.
    let resp = http
        .post(format!("{url}/api/v1/usage"))
        .bearer_auth(&token)
        .json(
            &json!({"snapshots": [{"account_id": "acme-us", "date": "2024-07-01", "plan": "basic",
                       "users_registered": 7, "users_with_token": 7, "users_with_activity": 7}]}),
        )
        .send()
        .await
        .expect("post usage");
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "after the kills the service answers again"
    );
}

/// Connections the pool holds idle are handed out without a ping for a few seconds after
/// their last call (a ping was a round trip per call): one killed meanwhile fails the call
/// that takes it with 503 `busy` and `Retry-After`, and is replaced; no call waits or fails
/// for long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_killed_while_idle_cost_at_most_one_retry_each() {
    if !engine::is_postgres("the lost-connection test") {
        return;
    }
    let cloud = Cloud::start_with(&small_fixture(), Arc::new(clock()), unlimited()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let http = reqwest::Client::new();
    let get = || {
        http.get(format!("{}/api/v1/changes?limit=5", cloud.url()))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(get().await.expect("get").status(), StatusCode::OK);
    let db = cloud.db.clone();
    let killed = tokio::task::spawn_blocking(move || {
        engine::query_rows(
            &db,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND application_name = 'usagedesk-cloud' AND state = 'idle'",
        )
        .len()
    })
    .await
    .expect("killer");
    assert!(killed > 0, "the pool held idle connections");
    let mut busy = 0;
    loop {
        let resp = get().await.expect("get");
        match resp.status() {
            StatusCode::OK => break,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(resp.headers().get("retry-after").is_some());
                let body: Value = resp.json().await.expect("a JSON answer");
                assert_eq!(body["error"]["code"], "busy", "{body}");
                busy += 1;
                assert!(
                    busy <= killed,
                    "{busy} calls failed for {killed} killed connections"
                );
            }
            other => panic!("{other}: {:?}", resp.text().await),
        }
    }
    eprintln!("{killed} idle connections killed, {busy} calls answered 503 before one was served");
}
