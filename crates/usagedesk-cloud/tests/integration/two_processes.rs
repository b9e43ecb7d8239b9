//! Two `usagedesk-cloud serve` processes on one PostgreSQL database (runs when
//! `USAGEDESK_TEST_ENGINE` is `postgres`): started together they create one vendor root key;
//! they answer the same API; a client whose pages alternate between them reads exactly what
//! one process serves. The database URL is given in `USAGEDESK_CLOUD_DB` and its password
//! appears in no log.

use std::process::Command;

use crate::served::{Served, BIN};
use serde_json::Value;
use usagedesk_testkit::engine;

/// `usagedesk-cloud ARGS` with the database in the environment; must succeed; its stdout.
fn cli(db: &str, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env("USAGEDESK_CLOUD_DB", db)
        .env_remove("RUST_LOG")
        .output()
        .expect("run usagedesk-cloud");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "usagedesk-cloud {args:?}: {text}");
    String::from_utf8(out.stdout).expect("utf-8")
}

async fn get(url: &str, token: Option<&str>) -> Value {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    assert!(resp.status().is_success(), "{url}: {}", resp.status());
    resp.json().await.expect("JSON")
}

/// Every change from the start, each page from the next server in turn.
async fn read(servers: &[&str], token: &str, limit: usize) -> Vec<Value> {
    let (mut out, mut cursor, mut turn) = (Vec::new(), String::new(), 0);
    loop {
        let base = servers[turn % servers.len()];
        turn += 1;
        let page = get(
            &format!("{base}/api/v1/changes?limit={limit}&cursor={cursor}"),
            Some(token),
        )
        .await;
        out.extend(page["changes"].as_array().expect("changes").iter().cloned());
        cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
        if page["has_more"] == false {
            return out;
        }
    }
}

#[tokio::test]
async fn two_processes_on_one_database_serve_one_dataset() {
    if !engine::is_postgres("the two-process test") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = engine::database(dir.path());
    let password = db
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(user, _)| user.split_once(':'))
        .map(|(_, p)| p.to_owned())
        .expect("the test server's URL has a password");

    // Started together on a new database: both migrate it (once) and ask for its root key.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Served::start_env(&db, &[]));
        let b = s.spawn(|| Served::start_env(&db, &[]));
        (a.join().expect("a"), b.join().expect("b"))
    });
    let key_a = get(&format!("{}/api/v1/airgap/vendor-key", a.url), None).await;
    let key_b = get(&format!("{}/api/v1/airgap/vendor-key", b.url), None).await;
    assert_eq!(
        key_a, key_b,
        "one vendor root key, whichever process created it"
    );
    let roots = engine::query_rows(
        &db,
        "SELECT COUNT(*) FROM signing_keys WHERE role = 'vendor_root'",
    );
    assert_eq!(roots, [["1"]]);
    assert_eq!(
        cli(&db, &["vendor-key"]).lines().next(),
        key_a["public_key"].as_str(),
        "the CLI reads the same key"
    );

    // Loaded by the CLI while both serve.
    let data = usagedesk_testkit::small_fixture();
    cli(&db, &["load", data.to_str().expect("path")]);
    let token = cli(&db, &["token", "create", "--account", "*", "--name", "two"]);
    let token = token.lines().last().expect("token").trim().to_owned();

    let one = read(&[&a.url], &token, 5000).await;
    assert!(one.len() > 20, "the fixture is on the feed: {}", one.len());
    let alternating = read(&[&a.url, &b.url], &token, 3).await;
    assert_eq!(
        alternating, one,
        "pages alternating between the processes give exactly one process's feed"
    );
    let acme = get(&format!("{}/api/v1/accounts/acme-eu", b.url), Some(&token)).await;
    let same = get(&format!("{}/api/v1/accounts/acme-eu", a.url), Some(&token)).await;
    assert_eq!(acme, same, "both processes answer the same account");

    for (name, s) in [("a", &a), ("b", &b)] {
        let log = s.log();
        assert!(!log.is_empty(), "process {name} logged");
        assert!(
            !log.contains(&password),
            "process {name}'s log shows the database password: {log}"
        );
    }
}

/// A request's status, its code and its `Retry-After`, whatever the status.
async fn send(req: reqwest::RequestBuilder) -> (u16, String, Option<u64>) {
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (status, code, retry_after)
}

#[tokio::test]
async fn rate_budgets_are_shared_by_the_processes_on_one_database() {
    if !engine::is_postgres("the shared rate budgets test") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = engine::database(dir.path());
    let limits = ["--rate-per-address", "6/1h", "--rate-per-instance", "2/1h"];
    let a = Served::start_env(&db, &limits);
    let b = Served::start_env(&db, &limits);
    let servers = [&a.url, &b.url];
    let client = reqwest::Client::new();

    // An instance's budget (2 an hour) is spent alternately on both processes: each process
    // alone has spent only one or two, so only the shared budget can refuse the third.
    for i in 0..2 {
        let (status, ..) = send(
            client
                .post(format!(
                    "{}/api/v1/instances/inst-fr/check-in",
                    servers[i % 2]
                ))
                .json(&serde_json::json!({})),
        )
        .await;
        assert_ne!(
            status, 429,
            "check-in {i} of 2 is within the instance's budget"
        );
    }
    let (status, code, retry_after) = send(
        client
            .post(format!("{}/api/v1/instances/inst-fr/check-in", a.url))
            .json(&serde_json::json!({})),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (429, "rate_limited"),
        "the instance's third"
    );
    let wait = retry_after.expect("a Retry-After header");
    assert!(
        (1..=1800).contains(&wait),
        "one check-in comes back every 30 minutes at 2/1h: {wait}"
    );

    // The address has spent 3 of its 6 (the third check-in was refused by the instance's
    // budget after the address's was spent); 3 more pass, alternating, and the next is
    // refused by whichever process gets it.
    for i in 0..3 {
        let (status, ..) = send(client.get(format!("{}/api/v1/version", servers[i % 2]))).await;
        assert_eq!(status, 200, "request {i} of the address's last 3");
    }
    for url in servers {
        let (status, code, retry_after) = send(client.get(format!("{url}/api/v1/version"))).await;
        assert_eq!(
            (status, code.as_str()),
            (429, "rate_limited"),
            "{url}: the address spent its 6 across both processes"
        );
        assert!(retry_after.is_some_and(|s| (1..=600).contains(&s)));
    }
}
