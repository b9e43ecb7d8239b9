//! No answer and no log line carries a secret: every endpoint of the built service, driven
//! with bad input made of the test's secrets (tokens valid, revoked, expired and unknown;
//! the vendor root's and the cloud's secret keys; an instance's secret key; a URL password),
//! and the service's debug log scanned for all of them.

use crate::served::*;
use base64::Engine;
use reqwest::Method;
use serde_json::json;
use usagedesk_airgap::SigningKey;

/// A request: method, path, bearer token, one more header, body.
type Case = (
    Method,
    String,
    Option<String>,
    Option<(&'static str, String)>,
    Option<String>,
);

/// The password of a URL the test puts in front of the service.
const URL_PASSWORD: &str = "hunter2-url-password";

fn fixture_with_fr_key(dir: &std::path::Path, key: &SigningKey) -> std::path::PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("dir");
    for f in ["accounts.csv", "daily_usage.csv"] {
        std::fs::copy(usagedesk_testkit::small_fixture().join(f), data.join(f)).expect("copy");
    }
    std::fs::write(
        data.join("instances.csv"),
        format!(
            "id,license_id,account_id,airgapped,public_key\ninst-fr,lic-acme-fr,acme-fr,false,{}\n",
            key.public_key()
        ),
    )
    .expect("instances.csv");
    let db = dir.join("cloud.db");
    ok(&["load", "--db", path(&db), path(&data)]);
    db
}

fn secret_key(db: &std::path::Path, role: &str) -> String {
    rusqlite::Connection::open(db)
        .expect("open")
        .query_row(
            "SELECT secret FROM signing_keys WHERE role = ?1",
            [role],
            |r| r.get(0),
        )
        .expect("a stored key")
}

#[tokio::test(flavor = "multi_thread")]
async fn no_answer_or_log_line_carries_a_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let instance = SigningKey::from_bytes(&[5; 32]);
    let db = fixture_with_fr_key(dir.path(), &instance);
    let manager = token(&db, "*", &["--name", "manager"]);
    let ingest = token(&db, "*", &["--name", "ingest", "--kind", "ingest"]);
    let revoked = token(&db, "*", &["--name", "revoked"]);
    ok(&[
        "token",
        "revoke",
        "--db",
        path(&db),
        &token_id(&db, "revoked"),
    ]);
    let expiring = token(&db, "*", &["--name", "expiring", "--expires-in", "1s"]);
    let unknown = format!("udk_{}", "7".repeat(64));
    let served = Served::start(&db, &[]);
    let base = served.url.clone();
    let http = reqwest::Client::new();

    // The cloud makes its own signing key on its first online sync key.
    let first = post_signed_sync_key_request(
        &base,
        "inst-fr",
        &[5; 32],
        &json!({"public_key": instance.public_key().to_string()}),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let root_secret = secret_key(&db, "vendor_root");
    let cloud_secret = secret_key(&db, "cloud");
    let instance_secret = instance.to_secret_text();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;

    let secrets: Vec<(&str, String)> = vec![
        ("manager token", manager.clone()),
        ("ingest token", ingest.clone()),
        ("revoked token", revoked.clone()),
        ("expired token", expiring.clone()),
        ("unknown token", unknown.clone()),
        ("vendor root secret", root_secret.clone()),
        (
            "vendor root secret, bare",
            root_secret["ed25519-secret:".len()..].to_string(),
        ),
        ("cloud secret", cloud_secret.clone()),
        ("instance secret", instance_secret.clone()),
        (
            "instance secret, bare",
            instance_secret["ed25519-secret:".len()..].to_string(),
        ),
        ("URL password", URL_PASSWORD.to_string()),
    ];
    let with_password = format!("https://alice:{URL_PASSWORD}@cloud.example/api");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("alice:{URL_PASSWORD}"));

    // (method, path, bearer, extra header, body): bad input everywhere a caller can put it.
    let t = manager.as_str();
    let cases: Vec<Case> = vec![
        (Method::GET, format!("/api/v1/version?token={t}"), None, None, None),
        (Method::GET, "/api/v1/me".into(), Some(revoked.clone()), None, None),
        (Method::GET, "/api/v1/me".into(), Some(expiring.clone()), None, None),
        (Method::GET, "/api/v1/me".into(), Some(unknown.clone()), None, None),
        (Method::GET, "/api/v1/me".into(), Some(root_secret.clone()), None, None),
        (Method::GET, "/api/v1/me".into(), None, Some(("authorization", format!("Basic {basic}"))), None),
        (Method::GET, "/api/v1/me".into(), None, Some(("authorization", format!("Bearer {t} {t}"))), None),
        (Method::GET, "/api/v1/me".into(), Some(ingest.clone()), None, None),
        (Method::GET, format!("/api/v1/changes?cursor={t}"), Some(manager.clone()), None, None),
        (Method::GET, format!("/api/v1/changes?cursor={instance_secret}"), Some(manager.clone()), None, None),
        (Method::GET, format!("/api/v1/changes?limit={t}"), Some(manager.clone()), None, None),
        (Method::GET, format!("/api/v1/changes?count={root_secret}"), Some(manager.clone()), None, None),
        (Method::GET, format!("/api/v1/accounts/{t}"), Some(manager.clone()), None, None),
        (Method::GET, format!("/api/v1/accounts/{root_secret}/monthly-usage-summary?from=2024-01&to=2024-02"), Some(manager.clone()), None, None),
        (Method::GET, format!("/api/v1/accounts/acme-eu/monthly-usage-summary?from={t}&to={t}&scope={t}"), Some(manager.clone()), None, None),
        (Method::GET, format!("/api/v1/accounts/acme-eu/monthly-usage-summary?from=2024-01&to=2024-02&scope={with_password}"), Some(manager.clone()), None, None),
        (Method::POST, "/api/v1/usage".into(), Some(ingest.clone()), None,
            Some(json!({"snapshots": [{"account_id": t, "date": "2024-06-30", "plan": root_secret,
                "users_registered": 1, "users_with_token": 1, "users_with_activity": 1}]}).to_string())),
        (Method::POST, "/api/v1/usage".into(), Some(ingest.clone()), None,
            Some(json!({"snapshots": root_secret, t: instance_secret}).to_string())),
        (Method::POST, "/api/v1/usage".into(), Some(ingest.clone()), None,
            Some(format!("{{\"snapshots\": [\"{t}\" {instance_secret}"))),
        (Method::POST, "/api/v1/usage".into(), Some(manager.clone()), None, Some("{}".into())),
        (Method::POST, "/api/v1/airgap/certificate".into(), Some(manager.clone()), None,
            Some(json!({"public_key": instance_secret, "subject": "alice@vendor.example"}).to_string())),
        (Method::POST, "/api/v1/airgap/certificate".into(), Some(manager.clone()), None,
            Some(json!({"public_key": root_secret, "subject": "x", t: t}).to_string())),
        (Method::POST, "/api/v1/airgap/imports".into(), Some(manager.clone()), None,
            Some(json!({"sync_key": root_secret, "usage_data": instance_secret}).to_string())),
        (Method::POST, "/api/v1/airgap/imports".into(), Some(manager.clone()), None,
            Some(json!({"sync_key": format!("-----BEGIN USAGEDESK SYNC KEY-----\n{t}\n"), "usage_data": with_password}).to_string())),
        (Method::POST, format!("/api/v1/instances/{t}/sync-key"), None, None,
            Some(json!({"public_key": instance_secret}).to_string())),
        (Method::POST, "/api/v1/instances/inst-fr/sync-key".into(), None, None,
            Some(json!({"public_key": root_secret}).to_string())),
        (Method::POST, "/api/v1/instances/inst-fr/usage-data".into(), None, None,
            Some(json!({"usage_data": instance_secret}).to_string())),
        (Method::POST, format!("/api/v1/instances/{root_secret}/usage-data"), None, None,
            Some(json!({"usage_data": t}).to_string())),
        (Method::POST, "/api/v1/instances/inst-fr/check-in".into(), None,
            Some(("x-usagedesk-timestamp", t.to_string())), Some("{}".into())),
        (Method::POST, "/api/v1/instances/inst-fr/check-in".into(), None,
            Some(("x-usagedesk-signature", format!("ed25519 {instance_secret}"))), Some(format!("{{\"x\": \"{t}\"}}"))),
        (Method::GET, format!("/api/v1/{t}"), Some(manager.clone()), None, None),
        (Method::DELETE, format!("/api/v1/accounts/{t}"), Some(manager.clone()), None, None),
        (Method::POST, "/api/v1/usage".into(), Some(ingest.clone()), None,
            Some(format!("{{\"snapshots\": \"{}\"}}", t.repeat(200_000)))),
    ];

    let mut refusals = 0;
    for (method, path, bearer, header, body) in cases {
        let mut req = http.request(method.clone(), format!("{base}{path}"));
        if let Some(b) = &bearer {
            req = req.bearer_auth(b);
        }
        if let Some((name, value)) = &header {
            req = req.header(*name, value);
        }
        // A body over the limit may be answered 413 and the connection closed while it is
        // still being sent: the client then sees a broken pipe, and no answer to check.
        let oversized = body.as_ref().is_some_and(|b| b.len() > 1 << 20);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = match req.send().await {
            Ok(resp) => resp,
            Err(e) if oversized && e.is_request() => {
                refusals += 1;
                continue;
            }
            Err(e) => panic!("{method} request: {e}"),
        };
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let shown: String = path.chars().take(80).collect();
        assert!(
            !status.is_server_error(),
            "{method} {shown}: bad input is no server error, got {status}: {text}"
        );
        let _: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {shown}: a JSON error, got {text}"));
        for (what, secret) in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{method} {shown}: the answer carries the {what}: {text}"
            );
        }
        refusals += usize::from(status.is_client_error());
    }
    assert!(refusals >= 30, "bad input is refused ({refusals} refusals)");

    let log = served.stop_and_log();
    assert!(
        log.contains("/api/v1/airgap/imports"),
        "the debug log records requests: {log}"
    );
    for (what, secret) in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "the log carries the {what}: {log}"
        );
    }
}
