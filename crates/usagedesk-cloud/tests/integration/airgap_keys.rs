//! The vendor root key and the delegation certificates the cloud gives managers' keys.

use crate::common;
use crate::common::{Harness, Manager, DE_PATH, FR_PATH, GLOBEX_PATH};
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;
use usagedesk_airgap::{
    CertScope, DelegationCertificate, ErrorKind, PublicKey, SigningKey, SyncKey,
};
use usagedesk_cloud::storage::prelude::*;
use usagedesk_cloud::storage::TokenKind;
use usagedesk_cloud::SqliteStorage;

#[tokio::test]
async fn the_vendor_key_is_public_stable_and_printed_by_the_cli() {
    let h = Harness::start().await;
    let (s, body) = h.get("/api/v1/airgap/vendor-key", None).await;
    assert_eq!(s, StatusCode::OK, "no token is needed: {body}");
    let key: PublicKey = body["public_key"].as_str().unwrap().parse().unwrap();
    assert_eq!(body["fingerprint"], key.fingerprint());
    assert!(
        !body.to_string().contains("secret"),
        "only the public key leaves the service: {body}"
    );

    // The key is kept with its database: reopening it gives the same key.
    let again = usagedesk_testkit::engine::open(&h.db)
        .vendor_root_key()
        .unwrap();
    assert_eq!(
        again.public_key(),
        key,
        "the root key is created once, then kept"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_usagedesk-cloud"))
        .arg("vendor-key")
        // From the environment: a PostgreSQL URL's password stays off the command line.
        .env("USAGEDESK_CLOUD_DB", &h.db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout,
        format!("{key}\n{}\n", key.fingerprint()),
        "the CLI prints the key, then its fingerprint, for scripts to read"
    );

    // A mistyped path does not create a new database with a new key.
    let missing = h.dir.path().join("nope.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_usagedesk-cloud"))
        .args(["vendor-key", "--db"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no database at"),
        "{out:?}"
    );
    assert!(!missing.exists(), "no database was created");
}

#[tokio::test]
async fn two_databases_have_two_root_keys() {
    let a = tempfile::tempdir().unwrap();
    let ka = SqliteStorage::open(&a.path().join("a.db"))
        .unwrap()
        .vendor_root_key()
        .unwrap();
    let kb = SqliteStorage::open(&a.path().join("b.db"))
        .unwrap()
        .vendor_root_key()
        .unwrap();
    assert_ne!(
        ka.public_key(),
        kb.public_key(),
        "each vendor's cloud makes its own root key"
    );
}

#[tokio::test]
async fn certificates_carry_the_token_scope_for_thirty_days() {
    let h = Harness::start().await;
    let root = h.root().await;

    let all = Manager::certified(&h, None, 1).await;
    assert_eq!(
        all.cert.scope,
        CertScope::All,
        "a `*` token certifies for every account"
    );
    assert_eq!(all.cert.subject, "alice@vendor.example");
    assert_eq!(all.cert.issued_at, h.now());
    assert_eq!(all.cert.expires_at, h.now() + Duration::days(30));
    all.cert
        .verify(&root, h.now())
        .expect("the certificate is signed by the root the agents trust");

    let eu = Manager::certified(&h, Some("acme-eu"), 2).await;
    assert_eq!(eu.cert.scope, CertScope::Subtree("acme-eu".into()));
    // Within its scope the manager issues sync keys offline; outside it the writer refuses.
    let mut eu = eu;
    let text = eu.sync_key("inst-de", None, &DE_PATH, 0, h.now(), Duration::days(7));
    SyncKey::parse(text.as_bytes())
        .unwrap()
        .verify(&root, h.now())
        .expect("an agent accepts it");
    eu.sync_key("inst-fr", None, &FR_PATH, 0, h.now(), Duration::days(7));
    let e = SyncKey::issue(
        &usagedesk_airgap::SyncKeyRequest {
            instance_id: "inst-globex".into(),
            license_id: None,
            account_path: common::path(&GLOBEX_PATH),
            high_water_mark: 0,
            expires_at: h.now() + Duration::days(7),
        },
        &eu.key,
        &eu.cert,
        &mut rand::thread_rng(),
        h.now(),
    )
    .unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::OutOfScope,
        "an acme-eu manager cannot ask globex's instance: {e}"
    );
}

#[tokio::test]
async fn certificate_requests_are_checked() {
    let h = Harness::start().await;
    let key = SigningKey::generate(&mut rand::thread_rng())
        .public_key()
        .to_string();
    let manager = h.token(None, TokenKind::Manager);
    let ingest = h.token(None, TokenKind::Ingest);
    let path = "/api/v1/airgap/certificate";
    let ok = json!({"public_key": key, "subject": "bob@vendor.example"});

    let (s, body) = h.post(path, None, &ok).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    let (s, body) = h.post(path, Some(&ingest), &ok).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "an ingest token cannot get a certificate"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("needs a manager token"),
        "{body}"
    );

    for (bad, status, needle) in [
        (
            json!({"public_key": "ssh-ed25519 AAAA", "subject": "bob"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "does not start with `ed25519:`",
        ),
        (
            json!({"public_key": key, "subject": " bob"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "surrounding spaces",
        ),
        (
            json!({"public_key": key, "subject": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "1 to 256 bytes",
        ),
        (
            json!({"public_key": key, "subject": "usagedesk-cloud"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "names the cloud itself",
        ),
        (
            json!({"public_key": key, "subject": "bob", "scope": "*"}),
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
    ] {
        let (s, body) = h.post(path, Some(&manager), &bad).await;
        assert_eq!(s, status, "{bad} -> {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(needle),
            "{bad}: '{message}' should say '{needle}'"
        );
    }

    let (s, body) = h.post(path, Some(&manager), &ok).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let cert =
        DelegationCertificate::from_json(body["certificate"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(cert.public_key.to_string(), key);
    assert_eq!(body["vendor_key"], h.root().await.to_string());

    // Every certificate given is on record (one: the refused requests left nothing).
    let rows = h.rows("SELECT public_key, subject, scope FROM delegations");
    assert_eq!(rows, [[key, "bob@vendor.example".into(), "*".into()]]);
}
