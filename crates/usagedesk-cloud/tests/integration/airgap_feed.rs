//! Instances on the change feed: scoped like accounts, moved to a new seq when they change.

use crate::common;
use std::collections::BTreeSet;

use crate::common::{record, Agent, Harness, Manager, DE_PATH};
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::Value;
use usagedesk_cloud::load::read_dataset;
use usagedesk_cloud::storage::TokenKind;

/// The changes a token sees after `cursor`, and the cursor after them.
async fn feed(h: &Harness, token: &str, cursor: &str) -> (Vec<Value>, String) {
    let (s, page) = h
        .get(
            &format!("/api/v1/changes?limit=20000&cursor={cursor}"),
            Some(token),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["has_more"], false);
    (
        page["changes"].as_array().unwrap().clone(),
        page["next_cursor"].as_str().unwrap().to_string(),
    )
}

fn instances(changes: &[Value]) -> BTreeSet<String> {
    changes
        .iter()
        .filter(|c| c["kind"] == "instance")
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn each_token_sees_the_instances_of_its_subtree_and_their_changes() {
    let h = Harness::start().await;
    let eu = h.token(Some("acme-eu"), TokenKind::Manager);
    let globex = h.token(Some("sp-globex"), TokenKind::Manager);
    let all = h.token(None, TokenKind::Manager);
    let fr_only = h.token(Some("acme-fr"), TokenKind::Manager);

    let (eu_changes, eu_cursor) = feed(&h, &eu, "").await;
    let (globex_changes, globex_cursor) = feed(&h, &globex, "").await;
    assert_eq!(instances(&eu_changes), set(&["inst-de", "inst-fr"]));
    assert_eq!(instances(&globex_changes), set(&["inst-globex"]));
    assert_eq!(
        instances(&feed(&h, &all, "").await.0),
        set(&["inst-de", "inst-fr", "inst-globex"])
    );
    assert_eq!(
        instances(&feed(&h, &fr_only, "").await.0),
        set(&["inst-fr"])
    );
    let de = eu_changes
        .iter()
        .find(|c| c["kind"] == "instance" && c["id"] == "inst-de")
        .unwrap();
    assert_eq!(
        *de,
        serde_json::json!({
            "kind": "instance", "id": "inst-de", "license_id": "lic-de",
            "account_id": "acme-de", "airgapped": true, "public_key": null,
            "high_water_mark": 0, "last_report_at": null
        }),
        "the feed sends what a manager needs to issue a sync key offline"
    );

    // An import pins the key, raises the mark and dates the report: the instance moves to a
    // new seq, for the scopes that see it only.
    let root = h.root().await;
    let mut manager =
        Manager::certified_at(&h, Some("acme-eu"), 31, h.now() - Duration::days(1)).await;
    let agent = Agent::licensed(&h, "inst-de", 7);
    let sk = manager.sync_key(
        "inst-de",
        Some("lic-de"),
        &DE_PATH,
        0,
        h.now(),
        Duration::days(7),
    );
    let usage = agent.answer(
        &root,
        &sk,
        &[record(
            9,
            "acme-de",
            "2024-07-14",
            "standard",
            [158, 105, 53],
        )],
        h.now(),
    );
    let (s, body) = h.import(&manager.token, &sk, &usage).await;
    assert_eq!(s, StatusCode::OK, "{body}");

    let (eu_new, _) = feed(&h, &eu, &eu_cursor).await;
    let moved: Vec<&Value> = eu_new.iter().filter(|c| c["kind"] == "instance").collect();
    assert_eq!(moved.len(), 1, "{eu_new:?}");
    assert_eq!(moved[0]["id"], "inst-de");
    assert_eq!(moved[0]["high_water_mark"], 9);
    assert_eq!(moved[0]["public_key"], agent.key.public_key().to_string());
    assert_eq!(moved[0]["last_report_at"], "2024-07-15T12:00:00Z");
    assert!(
        eu_new.iter().any(|c| c["kind"] == "month_usage"
            && c["account_id"] == "acme-de"
            && c["month"] == "2024-07"),
        "with the month-end row the file changed: {eu_new:?}"
    );
    let (globex_new, _) = feed(&h, &globex, &globex_cursor).await;
    assert!(
        globex_new.is_empty(),
        "other scopes see nothing: {globex_new:?}"
    );
}

#[tokio::test]
async fn an_account_that_moves_takes_its_instances_to_its_new_scopes() {
    let h = Harness::start().await;
    let globex = h.token(Some("sp-globex"), TokenKind::Manager);
    let (_, cursor) = feed(&h, &globex, "").await;

    let data = h.dir.path().join("moved");
    common::dataset(&data, common::INSTANCES_CSV);
    let accounts = std::fs::read_to_string(data.join("accounts.csv"))
        .unwrap()
        .replace(
            "acme-de,\"Acme \"\"Deutschland\"\" GmbH\",acme-eu,",
            "acme-de,\"Acme \"\"Deutschland\"\" GmbH\",sp-globex,",
        );
    std::fs::write(data.join("accounts.csv"), accounts).unwrap();
    h.storage
        .load(read_dataset(&data).unwrap(), usagedesk_testkit::today())
        .unwrap();

    let (changes, _) = feed(&h, &globex, &cursor).await;
    assert_eq!(
        instances(&changes),
        set(&["inst-de"]),
        "the new scope receives the moved account's instance"
    );
}
