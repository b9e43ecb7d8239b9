//! Tokens that expire and can be revoked, through the built binary: `token create | list |
//! revoke` and `serve` on 127.0.0.1.

use std::time::Duration;

use crate::served::*;
use chrono::Utc;
use serde_json::json;
use usagedesk_airgap::{
    DelegationCertificate, PublicKey, SigningKey, SyncKey, SyncKeyRequest, UsageData, UsageRecord,
};

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_listed_by_id_expire_and_are_revoked_on_the_running_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fixture_db(dir.path());
    let alice = token(&db, "*", &["--name", "alice"]);
    let bob = token(&db, "acme-eu", &["--name", "bob", "--expires-in", "2s"]);
    let carol = token(&db, "*", &["--name", "carol", "--expires-in", "never"]);

    let bad = cloud(&[
        "token",
        "create",
        "--db",
        path(&db),
        "--account",
        "*",
        "--expires-in",
        "100000000y",
    ]);
    assert!(!bad.status.success());
    let said = text(&bad);
    assert!(
        said.contains("too long") && said.contains("3650 days"),
        "{said}"
    );
    assert!(!said.contains("panicked"), "{said}");

    // The list shows ids and states, never a token; the database holds no token either.
    let list = ok(&["token", "list", "--db", path(&db)]);
    for t in [&alice, &bob, &carol] {
        assert!(
            !list.contains(t.as_str()),
            "token list never shows a token: {list}"
        );
    }
    assert!(
        list.contains("alice") && list.contains("never") && list.contains("acme-eu"),
        "{list}"
    );
    let raw = std::fs::read(&db).expect("read the database file");
    for t in [&alice, &bob, &carol] {
        assert!(
            !raw.windows(t.len()).any(|w| w == t.as_bytes()),
            "tokens are stored hashed"
        );
    }

    let served = Served::start(&db, &[]);
    let me = format!("{}/api/v1/me", served.url);
    assert_eq!(get(&me, Some(&alice)).await.status, 200);

    let alice_id = token_id(&db, "alice");
    let revoked = ok(&["token", "revoke", "--db", path(&db), &alice_id]);
    assert!(
        revoked.contains(&alice_id) && revoked.contains("revoked"),
        "{revoked}"
    );
    let refused = get(&me, Some(&alice)).await;
    assert_eq!((refused.status, refused.code()), (401, "token_revoked"));
    assert!(
        refused.message().contains(&alice_id)
            && refused.message().contains("revoked")
            && refused
                .message()
                .contains("ask your administrator for a new token"),
        "{}",
        refused.message()
    );
    let listed = ok(&["token", "list", "--db", path(&db), "--json"]);
    let state = |name: &str| {
        listed
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
            .find(|v| v["name"] == name)
            .map(|v| v["state"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(state("alice").as_deref(), Some("revoked"));
    assert_eq!(state("carol").as_deref(), Some("active"));

    // Revoking by the secret instead of the id is refused without echoing it.
    let by_secret = cloud(&["token", "revoke", "--db", path(&db), &carol]);
    assert!(!by_secret.status.success());
    assert!(!text(&by_secret).contains(&carol), "{}", text(&by_secret));
    assert!(
        text(&by_secret).contains("token list"),
        "{}",
        text(&by_secret)
    );
    let unknown = cloud(&["token", "revoke", "--db", path(&db), "tok-000000000000"]);
    assert!(
        text(&unknown).contains("no token has the id"),
        "{}",
        text(&unknown)
    );

    // Bob's two seconds run out.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let expired = get(&me, Some(&bob)).await;
    assert_eq!((expired.status, expired.code()), (401, "token_expired"));
    assert!(
        expired.message().contains("expired on"),
        "{}",
        expired.message()
    );

    let stranger = get(&me, Some(&format!("udk_{}", "0".repeat(64)))).await;
    assert_eq!((stranger.status, stranger.code()), (401, "unauthorized"));
    assert_eq!(get(&me, Some(&carol)).await.status, 200);
}

/// `inst-de`'s path and the key registered for it in instances.csv.
const DE_PATH: [&str; 3] = ["sp-acme", "acme-eu", "acme-de"];

fn instance_key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn fixture_with_de_key(dir: &std::path::Path) -> std::path::PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("dir");
    for f in ["accounts.csv", "daily_usage.csv"] {
        std::fs::copy(usagedesk_testkit::small_fixture().join(f), data.join(f)).expect("copy");
    }
    std::fs::write(
        data.join("instances.csv"),
        format!(
            "id,license_id,account_id,airgapped,public_key\ninst-de,lic-acme-de,acme-de,true,{}\n",
            instance_key().public_key()
        ),
    )
    .expect("instances.csv");
    let db = dir.join("cloud.db");
    ok(&["load", "--db", path(&db), path(&data)]);
    db
}

/// A usage data file of inst-de answering a sync key the manager signs with `key` under
/// `cert`, with one record `seq`.
fn usage_file(
    key: &SigningKey,
    cert: &DelegationCertificate,
    root: &PublicKey,
    seq: u64,
) -> (String, String) {
    let now = Utc::now();
    let sync_key = SyncKey::issue(
        &SyncKeyRequest {
            instance_id: "inst-de".into(),
            license_id: Some("lic-acme-de".into()),
            account_path: DE_PATH.iter().map(|s| s.to_string()).collect(),
            high_water_mark: seq - 1,
            expires_at: now + chrono::Duration::days(7),
        },
        key,
        cert,
        &mut rand::rngs::OsRng,
        now,
    )
    .expect("the manager issues a sync key");
    let verified = SyncKey::parse(sync_key.as_bytes())
        .and_then(|s| s.verify(root, now))
        .expect("the agent accepts it");
    let record = UsageRecord {
        seq,
        account_id: "acme-de".into(),
        date: "2024-06-30".parse().expect("date"),
        plan: "standard".into(),
        users_registered: 100 + seq,
        users_with_token: 10,
        users_with_activity: 1,
    };
    let usage = UsageData::answer(
        &verified,
        "inst-de",
        "lic-acme-de",
        &[record],
        &instance_key(),
        None,
        now,
    )
    .expect("the agent answers");
    (sync_key, usage)
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_signed_under_a_revoked_tokens_certificate_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fixture_with_de_key(dir.path());
    let laptop_token = token(&db, "*", &["--name", "stolen-laptop"]);
    let colleague = token(&db, "*", &["--name", "colleague"]);
    let served = Served::start(&db, &[]);
    let root: PublicKey = get(&format!("{}/api/v1/airgap/vendor-key", served.url), None)
        .await
        .body["public_key"]
        .as_str()
        .expect("key")
        .parse()
        .expect("ed25519");

    // The laptop's app certifies its delegated key with its token.
    let laptop_key = SigningKey::from_bytes(&[3; 32]);
    let cert = post(
        &format!("{}/api/v1/airgap/certificate", served.url),
        Some(&laptop_token),
        &json!({"public_key": laptop_key.public_key().to_string(), "subject": "laptop@vendor.example"}),
    )
    .await;
    assert_eq!(cert.status, 200, "{}", cert.body);
    let cert = DelegationCertificate::from_json(
        cert.body["certificate"].as_str().expect("cert").as_bytes(),
    )
    .expect("certificate");

    let imports = format!("{}/api/v1/airgap/imports", served.url);
    let (key1, file1) = usage_file(&laptop_key, &cert, &root, 1);
    let (key2, file2) = usage_file(&laptop_key, &cert, &root, 2);
    let first = post(
        &imports,
        Some(&colleague),
        &json!({"sync_key": key1, "usage_data": file1}),
    )
    .await;
    assert_eq!(
        first.status, 200,
        "before the revocation the file is accepted: {}",
        first.body
    );

    let laptop_id = token_id(&db, "stolen-laptop");
    ok(&["token", "revoke", "--db", path(&db), &laptop_id]);
    let files_before: i64 = rusqlite::Connection::open(&db)
        .expect("open")
        .query_row("SELECT COUNT(*) FROM usage_files", [], |r| r.get(0))
        .expect("count");

    let refused = post(
        &imports,
        Some(&colleague),
        &json!({"sync_key": key2, "usage_data": file2}),
    )
    .await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "certificate_revoked"),
        "{}",
        refused.body
    );
    assert!(
        refused.message().contains(&laptop_id)
            && refused.message().contains("Issue a new sync key"),
        "{}",
        refused.message()
    );
    let files_after: i64 = rusqlite::Connection::open(&db)
        .expect("open")
        .query_row("SELECT COUNT(*) FROM usage_files", [], |r| r.get(0))
        .expect("count");
    assert_eq!(files_before, files_after, "a refusal writes nothing");

    // The file accepted before stays accepted: a retried upload gets the same answer.
    let replay = post(
        &imports,
        Some(&colleague),
        &json!({"sync_key": key1, "usage_data": file1}),
    )
    .await;
    assert_eq!(replay.status, 200, "{}", replay.body);
    assert_eq!(replay.body["replay"], true);

    // The revoked token itself gets no new certificate.
    let again = post(
        &format!("{}/api/v1/airgap/certificate", served.url),
        Some(&laptop_token),
        &json!({"public_key": laptop_key.public_key().to_string(), "subject": "laptop@vendor.example"}),
    )
    .await;
    assert_eq!((again.status, again.code()), (401, "token_revoked"));
}
