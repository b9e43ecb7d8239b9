//! The change feed stays exact while writers commit concurrently: eight writers post daily
//! usage through the ingest API, each request rewriting many month-end rows (so each
//! transaction spans many feed positions), while a reader pages the feed through the manager
//! API without pause. Once the writers are done and the reader has caught up, the reader's
//! month-end rows must equal the database's, row for row.
//!
//! On PostgreSQL a sequence hands out positions at insert time and transactions may commit
//! them out of order; a reader paging on `seq > cursor` would then skip a row that commits
//! late, and keep a stale value. Runs on the engine `USAGEDESK_TEST_ENGINE` names.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use reqwest::StatusCode;
use serde_json::{json, Value};
use usagedesk_cloud::limits::{Limits, RateLimit};
use usagedesk_cloud::storage::TokenKind;
use usagedesk_testkit::{clock, Cloud};

const WRITERS: usize = 8;
const ROUNDS: usize = 10;
/// Accounts per writer: each writer writes its own (so writers never wait for each other's
/// row locks and their transactions overlap freely), twelve months each per request.
const ACCOUNTS_PER_WRITER: usize = 40;

/// (account, "YYYY-MM") → (plan, [registered, with token, with activity]).
type Months = BTreeMap<(String, String), (String, [u64; 3])>;

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

fn account(writer: usize, i: usize) -> String {
    format!("w{writer}-a{i:03}")
}

/// A root and every writer's accounts under it, created in 2023, one daily row each.
fn dataset(dir: &Path) {
    let mut accounts =
        String::from("id,name,parent_id,status,created_at\nroot,Root,,active,2023-01-01\n");
    let mut daily = String::from(
        "account_id,date,plan,users_registered,users_with_token,users_with_activity\n",
    );
    for w in 0..WRITERS {
        for i in 0..ACCOUNTS_PER_WRITER {
            let id = account(w, i);
            accounts.push_str(&format!("{id},Account {id},root,active,2023-01-01\n"));
            daily.push_str(&format!("{id},2023-01-01,basic,3,2,1\n"));
        }
    }
    std::fs::write(dir.join("accounts.csv"), accounts).expect("accounts.csv");
    std::fs::write(dir.join("daily_usage.csv"), daily).expect("daily_usage.csv");
}

/// Writer `writer`'s request of round `round`: a row on the 28th of every month of 2023 for
/// each of its accounts, counts naming the writer and the round.
fn request(writer: usize, round: usize) -> Value {
    let mut snapshots = Vec::new();
    for i in 0..ACCOUNTS_PER_WRITER {
        for month in 1..=12u32 {
            let n = (writer * 1000 + round * 10) as u64;
            snapshots.push(json!({
                "account_id": account(writer, i),
                "date": NaiveDate::from_ymd_opt(2023, month, 28).expect("date").to_string(),
                "plan": if round.is_multiple_of(2) { "basic" } else { "premium" },
                "users_registered": n + 2,
                "users_with_token": n + 1,
                "users_with_activity": n,
            }));
        }
    }
    json!({ "snapshots": snapshots })
}

/// Applies one page's changes to the reader's copy.
fn apply(months: &mut Months, changes: &[Value]) {
    for c in changes {
        if c["kind"] == "month_usage" {
            let key = (
                c["account_id"].as_str().expect("account").to_owned(),
                c["month"].as_str().expect("month").to_owned(),
            );
            let counts = [
                c["users_registered"].as_u64().expect("count"),
                c["users_with_token"].as_u64().expect("count"),
                c["users_with_activity"].as_u64().expect("count"),
            ];
            months.insert(key, (c["plan"].as_str().expect("plan").to_owned(), counts));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_paging_during_concurrent_writes_ends_with_the_database() {
    let data = tempfile::tempdir().expect("tempdir");
    dataset(data.path());
    let cloud = Cloud::start_with(data.path(), Arc::new(clock()), unlimited()).await;
    let reader_token = cloud.token(None, TokenKind::Manager);
    let ingest_token = cloud.token(None, TokenKind::Ingest);
    let http = reqwest::Client::new();
    let url = cloud.url();

    let writing = Arc::new(AtomicBool::new(true));
    let reader = {
        let (http, url, token, writing) = (
            http.clone(),
            url.clone(),
            reader_token.clone(),
            writing.clone(),
        );
        tokio::spawn(async move {
            let mut months = Months::new();
            let mut cursor = String::new();
            let mut pages = 0u64;
            loop {
                // Read before asking, so the page after the writers finished is a full one.
                let writers_done = !writing.load(Ordering::SeqCst);
                let page: Value = http
                    .get(format!("{url}/api/v1/changes?limit=100&cursor={cursor}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("page")
                    .json()
                    .await
                    .expect("json page");
                pages += 1;
                let changes = page["changes"].as_array();
                apply(
                    &mut months,
                    changes.unwrap_or_else(|| panic!("a page of changes: {page}")),
                );
                cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
                if writers_done && page["has_more"] == false {
                    return (months, pages);
                }
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (http, url, token) = (http.clone(), url.clone(), ingest_token.clone());
        writers.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                let resp = http
                    .post(format!("{url}/api/v1/usage"))
                    .bearer_auth(&token)
                    .json(&request(w, round))
                    .send()
                    .await
                    .expect("post usage");
                assert_eq!(
                    resp.status(),
                    StatusCode::OK,
                    "{}",
                    resp.text().await.unwrap_or_default()
                );
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    writing.store(false, Ordering::SeqCst);
    let (read, pages) = reader.await.expect("reader");

    // The database's month-end rows, read straight from the tables.
    let storage = cloud.storage.clone();
    let stored: Months = tokio::task::spawn_blocking(move || {
        storage
            .subtree_month_rows(
                "root",
                "2000-01".parse().unwrap(),
                "2100-12".parse().unwrap(),
            )
            .expect("month rows")
            .into_iter()
            .map(|r| {
                let c = r.counts;
                (
                    (r.account_id, r.month.to_string()),
                    (
                        r.plan,
                        [
                            c.users_registered,
                            c.users_with_token,
                            c.users_with_activity,
                        ],
                    ),
                )
            })
            .collect()
    })
    .await
    .expect("read the database");
    assert!(
        pages > 10,
        "the reader paged while the writers wrote ({pages} pages)"
    );
    assert_eq!(
        stored.len(),
        WRITERS * ACCOUNTS_PER_WRITER * 12,
        "every account has a month-end row for every month of 2023"
    );
    let stale: Vec<_> = stored
        .iter()
        .filter(|(k, v)| read.get(*k) != Some(*v))
        .collect();
    assert!(
        stale.is_empty(),
        "the reader ended with other values than the database for {} month rows \
         (a change committed late was skipped): {:?}",
        stale.len(),
        stale.iter().take(5).collect::<Vec<_>>()
    );
    assert_eq!(
        read.len(),
        stored.len(),
        "the reader holds exactly the database's month rows"
    );
    // The last round wrote every row.
    let last = ((ROUNDS - 1) * 10) as u64;
    for ((account, _), (_, counts)) in &stored {
        let writer: u64 = account[1..2].parse().expect("writer digit");
        assert_eq!(
            counts[2],
            writer * 1000 + last,
            "{account}: the last round's value"
        );
    }
}
