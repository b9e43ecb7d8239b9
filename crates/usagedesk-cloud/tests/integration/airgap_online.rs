//! The agent's online mode: `POST /api/v1/instances/{id}/sync-key` then
//! `POST /api/v1/instances/{id}/usage-data`, no token, the cloud acting as the manager.

use crate::common;
use crate::common::{body_of, record, Agent, Harness, Manager, FR_PATH};
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};
use usagedesk_airgap::{PublicKey, SyncKey, UsageData, UsageRecord, VerificationKey};
use usagedesk_cloud::storage::TokenScope;

fn fr_records() -> Vec<UsageRecord> {
    vec![
        record(1, "acme-fr", "2024-07-10", "premium", [246, 164, 82]),
        record(2, "acme-fr", "2024-07-14", "premium", [250, 166, 83]),
    ]
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

async fn send(h: &Harness, instance: &str, usage: &str) -> (StatusCode, Value) {
    h.post(
        &format!("/api/v1/instances/{instance}/usage-data"),
        None,
        &json!({ "usage_data": usage }),
    )
    .await
}

/// Asks for a sync key as `agent`, checking it as the agent does.
async fn sync_key(h: &Harness, root: &PublicKey, agent: &Agent) -> String {
    let (s, body) = h.ask_sync_key(&agent.id, agent).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let text = body["sync_key"].as_str().unwrap().to_string();
    SyncKey::parse(text.as_bytes())
        .unwrap()
        .verify(root, h.now())
        .expect("the agent trusts a sync key the cloud issued");
    text
}

#[tokio::test]
async fn an_online_exchange_round_trips_and_replays_change_nothing() {
    let h = Harness::start().await;
    let root = h.root().await;
    let agent = Agent::licensed(&h, "inst-fr", 21);

    let text = sync_key(&h, &root, &agent).await;
    let sk = SyncKey::parse(text.as_bytes())
        .unwrap()
        .verify(&root, h.now())
        .unwrap();
    assert_eq!(sk.instance_id, "inst-fr");
    assert_eq!(sk.license_id.as_deref(), Some("lic-fr"));
    assert_eq!(
        sk.account_path,
        common::path(&FR_PATH),
        "the instance's real place"
    );
    assert_eq!(sk.high_water_mark, 0, "the cloud holds nothing from it yet");
    assert_eq!(sk.issued_by, "usagedesk-cloud");
    assert_eq!(sk.expires_at, h.now() + Duration::hours(1));
    let pinned = h
        .storage
        .instance(&TokenScope::All, "inst-fr")
        .unwrap()
        .unwrap()
        .public_key;
    assert_eq!(
        pinned,
        Some(agent.key.public_key().to_string()),
        "first contact pins the key"
    );

    let usage = agent.answer(&root, &text, &fr_records(), h.now());
    let (s, body) = send(&h, "inst-fr", &usage).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        [
            &body["received"],
            &body["new"],
            &body["already_present"],
            &body["changed"]
        ],
        [2, 1, 1, 0],
        "2024-07-10 was held as is; 2024-07-14 is new"
    );
    assert_eq!(body["high_water_mark"], 2);
    let expected = UsageData::parse(usage.as_bytes())
        .unwrap()
        .verify_for(&sk, None)
        .unwrap()
        .expected_answer();
    let vk = VerificationKey::parse(body["verification_key"].as_str().unwrap().as_bytes())
        .unwrap()
        .verify(&root, &expected, h.now())
        .expect("the agent confirms its push");
    assert_eq!(vk.accepted_high_water_mark, 2);

    let before = h.state();
    let (s, again) = send(&h, "inst-fr", &usage).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["replay"], true);
    assert_eq!(again["verification_key"], body["verification_key"]);
    assert_eq!(h.state(), before, "a replay writes nothing");

    // The next sync key asks for what lies above the accepted mark.
    let next = sync_key(&h, &root, &agent).await;
    assert_eq!(body_of_sync_key(&next).high_water_mark, 2);
}

fn body_of_sync_key(text: &str) -> SyncKey {
    SyncKey::parse(text.as_bytes())
        .unwrap()
        .unverified()
        .clone()
}

#[tokio::test]
async fn online_refusals_say_why_and_write_nothing() {
    let h = Harness::start().await;
    let root = h.root().await;
    let agent = Agent::licensed(&h, "inst-fr", 21);
    let issued_at = h.now();
    let text = sync_key(&h, &root, &agent).await;
    let stranger = Agent::licensed(&h, "inst-fr", 22);
    let before = h.state();

    // Unknown instance, on both endpoints.
    let (s, body) = h.ask_sync_key("inst-nope", &agent).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    assert!(
        message(&body).contains("no instance 'inst-nope' is registered"),
        "{body}"
    );
    let usage = agent.answer(&root, &text, &fr_records(), h.now());
    let (s, body) = send(&h, "inst-nope", &usage).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        message(&body).contains("send it to /api/v1/instances/inst-fr/usage-data"),
        "{body}"
    );

    // Another key, once the instance is pinned, even with a license file of its own.
    let (s, body) = h.ask_sync_key("inst-fr", &stranger).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(
        message(&body).contains("is registered with another key"),
        "{body}"
    );
    let pinned = agent.key.public_key().to_string();
    let b64 = pinned.trim_start_matches("ed25519:");
    assert!(
        !body.to_string().contains(b64),
        "a refusal never shows the registered key: {body}"
    );

    // Not a key.
    let (s, body) = h
        .post(
            "/api/v1/instances/inst-fr/sync-key",
            None,
            &json!({ "public_key": "hello" }),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(message(&body).contains("public_key"), "{body}");

    // A file answering a sync key the cloud did not issue (a manager's).
    let mut manager = Manager::certified_at(&h, None, 23, h.now() - Duration::days(1)).await;
    let manager_key = manager.sync_key("inst-fr", None, &FR_PATH, 0, h.now(), Duration::days(5));
    let off_band = agent.answer(&root, &manager_key, &fr_records(), h.now());
    let (s, body) = send(&h, "inst-fr", &off_band).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        message(&body).contains("which this cloud did not issue"),
        "{body}"
    );
    assert!(message(&body).contains("request a new sync key"), "{body}");

    // Answered (by a broken agent) two hours later, after the hour the sync key lasts.
    h.set_now(issued_at + Duration::hours(3));
    let mut late = body_of(&usage);
    late.created_at = issued_at + Duration::hours(2);
    let late = agent.sign_raw(&late);
    let (s, body) = send(&h, "inst-fr", &late).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(message(&body).contains("expired"), "{body}");

    // Tampered in transit.
    let tampered = usage.replacen("\"users_registered\": 250", "\"users_registered\": 350", 1);
    assert_ne!(tampered, usage);
    let (s, body) = send(&h, "inst-fr", &tampered).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(message(&body).contains("altered in transit"), "{body}");

    assert_eq!(h.state(), before, "none of the refusals wrote anything");

    // The honest file, made within the hour, is still accepted afterwards.
    let (s, body) = send(&h, "inst-fr", &usage).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_cloud_renews_its_own_certificate_before_it_expires() {
    let h = Harness::start().await;
    let root = h.root().await;
    let agent = Agent::licensed(&h, "inst-fr", 21);
    let first = body_of_sync_key(&sync_key(&h, &root, &agent).await).certificate;
    let start = h.now();

    h.set_now(start + Duration::days(30));
    let same = body_of_sync_key(&sync_key(&h, &root, &agent).await).certificate;
    assert_eq!(same, first, "far from expiry, the cloud keeps its key");

    h.set_now(start + Duration::days(70));
    let renewed = body_of_sync_key(&sync_key(&h, &root, &agent).await).certificate;
    assert_ne!(
        renewed.public_key, first.public_key,
        "near expiry, a new key is certified"
    );
    assert!(renewed.expires_at > first.expires_at);
    renewed.verify(&root, h.now()).expect("by the same root");
    assert_eq!(renewed.scope, usagedesk_airgap::CertScope::All);
    assert_eq!(renewed.subject, "usagedesk-cloud");
}

#[tokio::test]
async fn an_empty_answer_tells_the_cloud_the_instance_is_alive() {
    let h = Harness::start().await;
    let root = h.root().await;
    let agent = Agent::licensed(&h, "inst-fr", 21);
    let text = sync_key(&h, &root, &agent).await;
    let usage = agent.answer(&root, &text, &[], h.now());
    let (s, body) = send(&h, "inst-fr", &usage).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!([&body["received"], &body["high_water_mark"]], [0, 0]);
    let inst = h
        .storage
        .instance(&TokenScope::All, "inst-fr")
        .unwrap()
        .unwrap();
    assert_eq!(inst.last_report_at, Some(h.now()), "the report is dated");
    assert_eq!(inst.high_water_mark, 0, "no record, no new mark");
}
