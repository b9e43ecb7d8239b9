//! The service's limits, against the built `usagedesk-cloud serve` on 127.0.0.1 with small
//! limits: bounded request loops and raw TCP clients on loopback only.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::served::*;
use serde_json::json;

/// Reads what the service sends until it closes the connection (or `guard` passes, which
/// fails the test: the service must close it).
fn read_until_closed(stream: &mut TcpStream, guard: Duration) -> String {
    stream.set_read_timeout(Some(guard)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "the service kept the connection open ({e}); got so far: {}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn headers_sent_too_slowly_get_the_connection_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fixture_db(dir.path());
    let served = Served::start(&db, &["--header-timeout", "1s"]);

    // Half a request, then nothing: the slow-loris client.
    let mut slow = TcpStream::connect(served.addr).expect("connect");
    slow.write_all(b"GET /api/v1/version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1")
        .expect("write");
    let got = read_until_closed(&mut slow, Duration::from_secs(30));
    assert!(
        !got.contains("200 OK"),
        "a request whose headers never finish is not answered: {got}"
    );
    assert!(
        served.wait_for_log(&["connection of 127.0.0.1 ended", "timeout"]),
        "the service closed it for taking too long: {}",
        served.log()
    );

    // A client that sends whole requests is served meanwhile and afterwards.
    let mut fine = TcpStream::connect(served.addr).expect("connect");
    fine.write_all(b"GET /api/v1/version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .expect("write");
    let got = read_until_closed(&mut fine, Duration::from_secs(30));
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
}

#[test]
fn a_body_sent_too_slowly_is_answered_408_and_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fixture_db(dir.path());
    let ingest = token(&db, "*", &["--kind", "ingest"]);
    let served = Served::start(&db, &["--body-timeout", "1s", "--request-timeout", "10s"]);

    for (path, auth) in [
        ("/api/v1/instances/inst-fr/check-in", None),
        ("/api/v1/usage", Some(ingest.as_str())),
    ] {
        let mut slow = TcpStream::connect(served.addr).expect("connect");
        let auth = auth
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            slow,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: 1000\r\n\r\n{{\"snapshots\": ["
        )
        .expect("write");
        let got = read_until_closed(&mut slow, Duration::from_secs(30));
        assert!(got.starts_with("HTTP/1.1 408"), "{path}: {got}");
        assert!(got.contains("\"request_timeout\""), "{path}: {got}");
        assert!(
            got.contains("did not arrive within 1 s"),
            "says what happened: {got}"
        );
        assert!(!got.contains(&ingest), "the token is never echoed");
    }
}

#[test]
fn one_address_cannot_hold_more_connections_than_its_share() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fixture_db(dir.path());
    let served = Served::start(&db, &["--max-connections-per-address", "3"]);

    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(served.addr).expect("connect"))
        .collect();
    // Give the service time to accept the three before the fourth arrives.
    std::thread::sleep(Duration::from_millis(300));
    let mut fourth = TcpStream::connect(served.addr).expect("the OS accepts the TCP connection");
    let _ = fourth.write_all(b"GET /api/v1/version HTTP/1.1\r\nHost: x\r\n\r\n");
    let got = read_until_closed(&mut fourth, Duration::from_secs(30));
    assert_eq!(got, "", "the fourth connection is closed without an answer");

    // One of the three is still served; once they close, a new one is too.
    let mut first = held.into_iter().next().expect("a held connection");
    first
        .write_all(b"GET /api/v1/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    assert!(read_until_closed(&mut first, Duration::from_secs(30)).starts_with("HTTP/1.1 200"));
    std::thread::sleep(Duration::from_millis(300));
    let mut again = TcpStream::connect(served.addr).expect("connect");
    again
        .write_all(b"GET /api/v1/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    assert!(read_until_closed(&mut again, Duration::from_secs(30)).starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthenticated_requests_and_failed_sign_ins_are_rate_limited_by_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fixture_db(dir.path());
    let manager = token(&db, "*", &[]);
    let served = Served::start(&db, &["--rate-per-address", "5/1h"]);
    let version = format!("{}/api/v1/version", served.url);

    for i in 0..5 {
        assert_eq!(get(&version, None).await.status, 200, "request {i} of 5");
    }
    let refused = get(&version, None).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.code(), "rate_limited");
    let after = refused.retry_after.expect("a Retry-After header");
    assert!(
        (1..=720).contains(&after),
        "one request comes back every 12 minutes at 5/1h: {after}"
    );
    assert!(
        refused.message().contains(&format!("{after} s")),
        "{}",
        refused.message()
    );

    // Over budget, the address is refused before any token is looked at.
    let me = format!("{}/api/v1/me", served.url);
    let blocked = get(&me, Some(&manager)).await;
    assert_eq!((blocked.status, blocked.code()), (429, "rate_limited"));
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_sign_ins_spend_the_address_budget_and_good_tokens_do_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fixture_db(dir.path());
    let manager = token(&db, "*", &[]);
    let served = Served::start(&db, &["--rate-per-address", "3/1h"]);
    let me = format!("{}/api/v1/me", served.url);

    for _ in 0..10 {
        assert_eq!(
            get(&me, Some(&manager)).await.status,
            200,
            "signed-in requests do not spend the budget"
        );
    }
    for i in 0..3 {
        let wrong = format!("udk_{:064x}", i);
        assert_eq!(get(&me, Some(&wrong)).await.status, 401, "guess {i}");
    }
    let guess = get(&me, Some("udk_guess")).await;
    assert_eq!(
        (guess.status, guess.code()),
        (429, "rate_limited"),
        "a fourth guess is not even checked"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_endpoint_is_rate_limited_per_instance_whatever_the_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fixture_db(dir.path());
    let served = Served::start(
        &db,
        &[
            "--rate-per-instance",
            "3/1h",
            "--rate-per-address",
            "1000/1m",
        ],
    );
    let check_in = |id: &str| format!("{}/api/v1/instances/{id}/check-in", served.url);
    for i in 0..3 {
        let a = post(&check_in("inst-fr"), None, &json!({})).await;
        assert_ne!(a.status, 429, "request {i} of 3 is not rate limited");
    }
    let refused = post(&check_in("inst-fr"), None, &json!({})).await;
    assert_eq!((refused.status, refused.code()), (429, "rate_limited"));
    assert!(refused.retry_after.is_some());
    assert!(
        refused.message().contains("for this instance"),
        "{}",
        refused.message()
    );
    let other = post(&check_in("inst-de"), None, &json!({})).await;
    assert_ne!(other.status, 429, "another instance has its own budget");
}

#[tokio::test(flavor = "multi_thread")]
async fn over_the_concurrency_limit_requests_get_503_with_retry_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fixture_db(dir.path());
    let served = Served::start(
        &db,
        &[
            "--max-in-flight",
            "1",
            "--body-timeout",
            "60s",
            "--request-timeout",
            "60s",
        ],
    );
    // A request whose body is still arriving holds the one slot.
    let mut holder = TcpStream::connect(served.addr).expect("connect");
    holder
        .write_all(
            b"POST /api/v1/instances/inst-fr/check-in HTTP/1.1\r\nHost: x\r\n\
              Content-Length: 2\r\nConnection: close\r\n\r\n{",
        )
        .expect("write");
    std::thread::sleep(Duration::from_millis(500));
    let busy = get(&format!("{}/api/v1/version", served.url), None).await;
    assert_eq!((busy.status, busy.code()), (503, "busy"));
    assert_eq!(busy.retry_after, Some(1));

    // The slot comes back once the slow request is done.
    holder.write_all(b"}").expect("write");
    let got = read_until_closed(&mut holder, Duration::from_secs(30));
    assert!(got.starts_with("HTTP/1.1 "), "{got}");
    assert_eq!(
        get(&format!("{}/api/v1/version", served.url), None)
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn count_stops_at_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fixture_db(dir.path());
    let manager = token(&db, "*", &[]);
    let served = Served::start(&db, &["--max-feed-count", "10"]);
    let changes = |cursor: &str| {
        format!(
            "{}/api/v1/changes?limit=4&count=true&cursor={cursor}",
            served.url
        )
    };
    // The whole feed, counted by paging through it.
    let mut total = 0;
    let mut cursor = String::new();
    let mut first_count = None;
    loop {
        let page = get(&changes(&cursor), Some(&manager)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        first_count.get_or_insert(page.body["remaining"].as_u64().expect("remaining"));
        total += page.body["changes"].as_array().expect("changes").len() as u64;
        cursor = page.body["next_cursor"]
            .as_str()
            .expect("cursor")
            .to_string();
        if !page.body["has_more"].as_bool().expect("has_more") {
            break;
        }
    }
    assert!(total > 10, "the fixture has more than 10 changes ({total})");
    assert_eq!(first_count, Some(10), "the count stops at the limit");

    // A subtree's count reads as far: its changes among the feed's first 10 positions,
    // found here by reading the whole feed with the token of every account.
    let globex = ["sp-globex", "globex-1", "globex-2", "globex-2a"];
    let all = get(
        &format!("{}/api/v1/changes?limit=10", served.url),
        Some(&manager),
    )
    .await;
    let first_ten = all.body["changes"].as_array().expect("changes");
    assert_eq!(first_ten.len(), 10);
    let in_globex = first_ten
        .iter()
        .filter(|c| {
            let account = match c["kind"].as_str() {
                Some("account") => &c["id"],
                _ => &c["account_id"],
            };
            globex.iter().any(|g| account == g)
        })
        .count() as u64;
    let scoped = token(&db, "sp-globex", &[]);
    let page = get(&changes(""), Some(&scoped)).await;
    assert_eq!(
        page.body["remaining"].as_u64(),
        Some(in_globex),
        "sp-globex's changes within the first 10 positions: {}",
        page.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cursor_beyond_the_head_is_410() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fixture_db(dir.path());
    let manager = token(&db, "*", &[]);
    let served = Served::start(&db, &[]);
    let page = get(
        &format!("{}/api/v1/changes?limit=20000", served.url),
        Some(&manager),
    )
    .await;
    let head = page.body["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_string();
    let (epoch, seq) = head.split_once('.').expect("epoch.seq");
    let ahead = format!("{epoch}.{}", seq.parse::<u64>().expect("seq") + 1);
    let at_head = get(
        &format!("{}/api/v1/changes?cursor={head}", served.url),
        Some(&manager),
    )
    .await;
    assert_eq!(
        at_head.status, 200,
        "the head itself is fine: {}",
        at_head.body
    );
    let gone = get(
        &format!("{}/api/v1/changes?cursor={ahead}", served.url),
        Some(&manager),
    )
    .await;
    assert_eq!((gone.status, gone.code()), (410, "cursor_expired"));
    assert!(gone.message().contains("full sync"), "{}", gone.message());
}

/// A copy of the small fixture whose `inst-fr` has `key` registered in instances.csv.
fn fixture_with_registered_key(dir: &std::path::Path, key: &str) -> std::path::PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("dir");
    for f in ["accounts.csv", "daily_usage.csv"] {
        std::fs::copy(usagedesk_testkit::small_fixture().join(f), data.join(f)).expect("copy");
    }
    std::fs::write(
        data.join("instances.csv"),
        format!("id,license_id,account_id,airgapped,public_key\ninst-fr,lic-acme-fr,acme-fr,false,{key}\n"),
    )
    .expect("instances.csv");
    let db = dir.join("cloud.db");
    ok(&["load", "--db", path(&db), path(&data)]);
    db
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_newest_online_sync_keys_of_an_instance_are_kept() {
    use usagedesk_airgap::{PublicKey, SigningKey, SyncKey, UsageData};
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::from_bytes(&[7; 32]);
    let db = fixture_with_registered_key(dir.path(), &key.public_key().to_string());
    let served = Served::start(&db, &["--online-sync-keys", "3"]);
    let root: PublicKey = get(&format!("{}/api/v1/airgap/vendor-key", served.url), None)
        .await
        .body["public_key"]
        .as_str()
        .expect("key")
        .parse()
        .expect("ed25519");

    let mut issued = Vec::new();
    for i in 0..5 {
        let a = post_signed_sync_key_request(
            &served.url,
            "inst-fr",
            &[7; 32],
            &json!({ "public_key": key.public_key().to_string() }),
        )
        .await;
        assert_eq!(a.status, 200, "sync key {i}: {}", a.body);
        issued.push(a.body["sync_key"].as_str().expect("sync key").to_string());
    }
    let stored: i64 = rusqlite::Connection::open(&db)
        .expect("open")
        .query_row(
            "SELECT COUNT(*) FROM online_sync_keys WHERE instance_id = 'inst-fr'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(stored, 3, "five asked, the newest three kept");

    let answer = |sync_key: &str| {
        let now = chrono::Utc::now();
        let sk = SyncKey::parse(sync_key.as_bytes())
            .and_then(|s| s.verify(&root, now))
            .expect("the agent accepts it");
        UsageData::answer(&sk, "inst-fr", "lic-acme-fr", &[], &key, None, now).expect("answer")
    };
    let usage_data = format!("{}/api/v1/instances/inst-fr/usage-data", served.url);
    let oldest = post(
        &usage_data,
        None,
        &json!({ "usage_data": answer(&issued[0]) }),
    )
    .await;
    assert_eq!(
        oldest.status, 422,
        "the oldest key was forgotten: {}",
        oldest.body
    );
    assert!(
        oldest.message().contains("request a new sync key"),
        "{}",
        oldest.message()
    );
    let newest = post(
        &usage_data,
        None,
        &json!({ "usage_data": answer(&issued[4]) }),
    )
    .await;
    assert_eq!(
        newest.status, 200,
        "the newest key is answered: {}",
        newest.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_database_reader_serves_many_requests_at_once_by_turns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fixture_db(dir.path());
    let manager = token(&db, "*", &[]);
    // 32 clients at once, each on its own connection.
    let served = Served::start(
        &db,
        &["--db-readers", "1", "--max-connections-per-address", "64"],
    );
    let url = format!("{}/api/v1/changes?limit=20000&count=true", served.url);
    let all: Vec<_> = (0..32)
        .map(|_| {
            let (url, manager) = (url.clone(), manager.clone());
            tokio::spawn(async move { get(&url, Some(&manager)).await })
        })
        .collect();
    let mut changes = std::collections::BTreeSet::new();
    for a in all {
        let a = a.await.expect("join");
        assert_eq!(a.status, 200, "{}", a.body);
        changes.insert(a.body["changes"].as_array().expect("changes").len());
    }
    assert_eq!(changes.len(), 1, "every request read the same whole feed");
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fixture_db(dir.path());
    let version = |served: &Served| format!("{}/api/v1/version", served.url);
    let from = |url: String, client: &'static str| async move {
        let resp = reqwest::Client::new()
            .get(url)
            .header("x-forwarded-for", format!("203.0.113.50, {client}"))
            .send()
            .await
            .expect("request");
        answer(resp).await.status
    };

    // The proxy (here: this test, on 127.0.0.1) names the client in X-Forwarded-For.
    let proxied = Served::start(
        &db,
        &["--trusted-proxy", "127.0.0.1", "--rate-per-address", "2/1h"],
    );
    for _ in 0..2 {
        assert_eq!(from(version(&proxied), "198.51.100.1").await, 200);
    }
    assert_eq!(from(version(&proxied), "198.51.100.1").await, 429);
    assert_eq!(
        from(version(&proxied), "198.51.100.2").await,
        200,
        "another client behind the proxy has its own budget"
    );
    proxied.stop();

    // Without --trusted-proxy the header is the client's say-so: ignored.
    let direct = Served::start(&db, &["--rate-per-address", "2/1h"]);
    assert_eq!(from(version(&direct), "198.51.100.1").await, 200);
    assert_eq!(from(version(&direct), "198.51.100.2").await, 200);
    assert_eq!(
        from(version(&direct), "198.51.100.3").await,
        429,
        "every request counts for 127.0.0.1, whatever it claims"
    );
}
