//! A usage data file answering a sync key issued before the instance's account moved: the
//! customer already holds a verification key for it, so the cloud accepts it under the path
//! that held when the key was issued. A move out of the uploading token's scope is a clear
//! refusal that writes nothing, and the same file is accepted on a retry once a token that
//! sees the account (or the account back in scope) uploads it.

use crate::common;
use crate::common::{record, Agent, Harness, Manager, DE_PATH};
use chrono::Duration;
use reqwest::StatusCode;
use usagedesk_cloud::load::read_dataset;

/// Loads the fixture again with `acme-de` under `parent` and `instances` as instances.csv.
fn reload(h: &Harness, parent: &str, instances: &str) {
    let data = h.dir.path().join(format!("reload-{parent}"));
    common::dataset(&data, instances);
    let accounts = std::fs::read_to_string(data.join("accounts.csv"))
        .unwrap()
        .replace(
            "acme-de,\"Acme \"\"Deutschland\"\" GmbH\",acme-eu,",
            &format!("acme-de,\"Acme \"\"Deutschland\"\" GmbH\",{parent},"),
        );
    std::fs::write(data.join("accounts.csv"), accounts).unwrap();
    h.storage
        .load(read_dataset(&data).unwrap(), usagedesk_testkit::today())
        .unwrap();
    assert_eq!(
        h.storage
            .account_path("acme-de")
            .unwrap()
            .first()
            .map(String::as_str),
        Some(if parent == "acme-eu" {
            "sp-acme"
        } else {
            parent
        }),
        "the reload moved the account"
    );
}

#[tokio::test]
async fn a_file_answering_a_key_issued_before_its_account_moved_is_accepted() {
    let h = Harness::start().await;
    let root = h.root().await;
    let mut manager = Manager::certified_at(&h, None, 3, h.now() - Duration::days(1)).await;
    // Set up before the move: its license file names the path of the time, and its first
    // file enrolls its key under that path.
    let agent = Agent::licensed(&h, "inst-de", 7);
    let at = h.now() - Duration::hours(2);
    let key = manager.sync_key(
        "inst-de",
        Some("lic-de"),
        &DE_PATH,
        0,
        at,
        Duration::days(20),
    );
    let records = [
        record(1, "acme-de", "2024-06-30", "standard", [321, 200, 100]),
        record(2, "acme-de-ber", "2024-06-30", "basic", [12, 6, 3]),
    ];
    let usage = agent.answer(&root, &key, &records, at + Duration::minutes(5));

    // The vendor moves acme-de (and its subtree) out of acme-eu to the top of the tree.
    reload(&h, "sp-globex", common::INSTANCES_CSV);
    let (status, body) = h.import(&manager.token, &key, &usage).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "accepted under the path of the time: {body}"
    );
    assert_eq!(body["received"].as_u64(), Some(2), "{body}");
    assert_eq!(
        body["new"].as_u64().unwrap_or(0) + body["changed"].as_u64().unwrap_or(0),
        2,
        "both records are new to the cloud or change what it held: {body}"
    );
    assert_eq!(body["high_water_mark"].as_u64(), Some(2));
    assert!(
        body["verification_key"]
            .as_str()
            .is_some_and(|v| v.contains("VERIFICATION KEY")),
        "{body}"
    );

    // The records were credited to the accounts, where they are now.
    let (status, summary) = h
        .get(
            "/api/v1/accounts/acme-de/monthly-usage-summary?from=2024-06&to=2024-06&scope=tree",
            Some(&manager.token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    let text = summary.to_string();
    assert!(text.contains("321") && text.contains("12"), "{summary}");

    // The same upload again is a replay: the same answer, nothing new.
    let (status, again) = h.import(&manager.token, &key, &usage).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["replay"], true);
}

#[tokio::test]
async fn a_move_out_of_the_tokens_scope_is_refused_clearly_and_a_retry_succeeds_once_back() {
    let h = Harness::start().await;
    let root = h.root().await;
    let mut manager =
        Manager::certified_at(&h, Some("acme-eu"), 5, h.now() - Duration::days(1)).await;
    // Set up before the move: its license file names the path of the time, and its first
    // file enrolls its key under that path.
    let agent = Agent::licensed(&h, "inst-de", 7);
    let at = h.now() - Duration::hours(2);
    let key = manager.sync_key(
        "inst-de",
        Some("lic-de"),
        &DE_PATH,
        0,
        at,
        Duration::days(20),
    );
    let usage = agent.answer(
        &root,
        &key,
        &[record(1, "acme-de", "2024-07-10", "standard", [5, 4, 3])],
        at,
    );

    // The vendor moves acme-de out of acme-eu, the manager's subtree.
    reload(&h, "sp-globex", common::INSTANCES_CSV);
    let before = h.state();
    let (status, body) = h.import(&manager.token, &key, &usage).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("no instance 'inst-de' is visible to this token")
            && message.contains("whose account includes the instance's account"),
        "the refusal says what to do: {message}"
    );
    assert_eq!(h.state(), before, "a refusal writes nothing");

    // Back in the manager's subtree, the same file, retried, is accepted.
    reload(&h, "acme-eu", common::INSTANCES_CSV);
    let (status, body) = h.import(&manager.token, &key, &usage).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["received"].as_u64(), Some(1));
}
