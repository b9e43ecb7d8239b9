//! `POST /api/v1/airgap/imports`: a manager uploads a usage data file with the sync key it
//! answers; the cloud verifies both again, from scratch, and ingests the records.

use crate::common::{body_of, record, Agent, Harness, Manager, DE_PATH, GLOBEX_PATH};
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};
use usagedesk_airgap::{PublicKey, SyncKey, UsageData, UsageRecord, VerificationKey, Verified};
use usagedesk_cloud::http::max_upload_body_bytes;
use usagedesk_cloud::storage::{TokenKind, TokenScope};

/// What the instance of acme-de holds: one record the cloud has, one it holds with other
/// counts, two it lacks.
fn de_records() -> Vec<UsageRecord> {
    vec![
        record(1, "acme-de", "2024-06-29", "standard", [150, 100, 50]),
        record(2, "acme-de-muc", "2024-06-29", "basic", [181, 121, 60]),
        record(3, "acme-de", "2024-07-14", "standard", [158, 105, 53]),
        record(4, "acme-de-ber", "2024-07-14", "standard", [200, 150, 70]),
    ]
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

fn verified_sync_key(
    root: &PublicKey,
    text: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Verified<SyncKey> {
    SyncKey::parse(text.as_bytes())
        .unwrap()
        .verify(root, at)
        .unwrap()
}

/// A manager of acme-eu and the acme-de instance, with one exchange made offline: the sync
/// key issued three days ago, the file exported two days ago.
struct Setup {
    h: Harness,
    root: PublicKey,
    manager: Manager,
    agent: Agent,
    sync_key: String,
    usage: String,
}

async fn setup() -> Setup {
    let h = Harness::start().await;
    let root = h.root().await;
    let mut manager =
        Manager::certified_at(&h, Some("acme-eu"), 11, h.now() - Duration::days(4)).await;
    let agent = Agent::licensed(&h, "inst-de", 7);
    let issued = h.now() - Duration::days(3);
    let sync_key = manager.sync_key(
        "inst-de",
        Some("lic-de"),
        &DE_PATH,
        0,
        issued,
        Duration::days(20),
    );
    let usage = agent.answer(&root, &sync_key, &de_records(), h.now() - Duration::days(2));
    Setup {
        h,
        root,
        manager,
        agent,
        sync_key,
        usage,
    }
}

#[tokio::test]
async fn a_full_round_trip_ingests_the_records_and_confirms_them() {
    let Setup {
        h,
        root,
        mut manager,
        agent,
        sync_key,
        usage,
    } = setup().await;
    let (s, body) = h.import(&manager.token, &sync_key, &usage).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["instance_id"], "inst-de");
    assert_eq!(
        [
            &body["received"],
            &body["new"],
            &body["already_present"],
            &body["changed"]
        ],
        [4, 2, 1, 1],
        "two records were missing, one held as is, one held with other counts"
    );
    assert_eq!(body["high_water_mark"], 4);
    assert_eq!(body["replay"], false);

    // The verification key is the cloud's own, and the agent accepts it.
    let created = body_of(&usage).created_at;
    let sk = verified_sync_key(&root, &sync_key, created);
    let expected = UsageData::parse(usage.as_bytes())
        .unwrap()
        .verify_for(&sk, None)
        .unwrap()
        .expected_answer();
    let vk = VerificationKey::parse(body["verification_key"].as_str().unwrap().as_bytes())
        .unwrap()
        .verify(&root, &expected, h.now())
        .expect("the agent can confirm the export with the cloud's verification key");
    assert_eq!(
        vk.accepted_high_water_mark, 4,
        "the agent may drop records 1 to 4"
    );
    assert_eq!(vk.issued_by, "usagedesk-cloud");
    assert_eq!(
        (vk.records.received, vk.records.new, vk.records.changed),
        (4, 2, 1)
    );

    // The instance is pinned to the agent's key, its mark raised, its report dated.
    let inst = h
        .storage
        .instance(&TokenScope::All, "inst-de")
        .unwrap()
        .unwrap();
    assert_eq!(inst.public_key, Some(agent.key.public_key().to_string()));
    assert_eq!(inst.high_water_mark, 4);
    assert_eq!(inst.last_report_at, Some(h.now()));

    // The numbers show in the manager API: June's month-end of acme-de-muc is the file's.
    let (s, summary) = h
        .get(
            "/api/v1/accounts/acme-de/monthly-usage-summary?from=2024-06&to=2024-06&scope=tree",
            Some(&manager.token),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    let muc = summary["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["account_id"] == "acme-de-muc")
        .unwrap();
    assert_eq!(
        muc["own"]["users_registered"], 181,
        "the changed record replaced the held one"
    );

    // Replaying the same file changes nothing and answers the same.
    let before = h.state();
    let (s, again) = h.import(&manager.token, &sync_key, &usage).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["replay"], true);
    for field in [
        "received",
        "new",
        "already_present",
        "changed",
        "high_water_mark",
        "verification_key",
    ] {
        assert_eq!(
            again[field], body[field],
            "a replay answers as the import did: {field}"
        );
    }
    assert_eq!(h.state(), before, "a replay writes nothing");

    // The next exchange follows on from the mark; an overlapping record merges by key.
    let mut held = de_records();
    held.push(record(
        5,
        "acme-de",
        "2024-07-14",
        "standard",
        [159, 106, 54],
    ));
    let next = manager.sync_key(
        "inst-de",
        Some("lic-de"),
        &DE_PATH,
        4,
        h.now(),
        Duration::days(20),
    );
    let usage2 = agent.answer(&root, &next, &held, h.now());
    assert_eq!(
        body_of(&usage2).records.len(),
        1,
        "only the record above the mark travels"
    );
    let (s, body) = h.import(&manager.token, &next, &usage2).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        [
            &body["received"],
            &body["new"],
            &body["changed"],
            &body["high_water_mark"]
        ],
        [1, 0, 1, 5]
    );
}

#[tokio::test]
async fn a_file_imported_offline_days_ago_still_verifies() {
    let h = Harness::start().await;
    let root = h.root().await;
    let mut manager = Manager::certified_at(&h, None, 12, h.now() - Duration::days(21)).await;
    let license = h.license_file_at("inst-de", h.now() - Duration::days(25));
    let agent = Agent::from_license_file(&h, &license, 7);
    // Issued 20 days ago for a week; answered within the week; uploaded now, long after the
    // sync key expired (the desktop was offline).
    let issued = h.now() - Duration::days(20);
    let sync_key = manager.sync_key("inst-de", None, &DE_PATH, 0, issued, Duration::days(7));
    let usage = agent.answer(
        &root,
        &sync_key,
        &de_records()[..1],
        issued + Duration::days(2),
    );
    let (s, body) = h.import(&manager.token, &sync_key, &usage).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the sync key is checked at the file's creation time: {body}"
    );
    assert_eq!(body["already_present"], 1);
}

#[tokio::test]
async fn bad_files_are_refused_with_a_reason_and_nothing_is_written() {
    let Setup {
        h,
        root,
        mut manager,
        agent,
        sync_key,
        usage,
    } = setup().await;
    let now = h.now();
    let mut all = Manager::certified_at(&h, None, 13, now - Duration::days(4)).await;
    let globex_token = h.token(Some("sp-globex"), TokenKind::Manager);
    let ingest_token = h.token(None, TokenKind::Ingest);

    // Another sync key for the same instance: a fresh nonce.
    let other_key = manager.sync_key(
        "inst-de",
        Some("lic-de"),
        &DE_PATH,
        0,
        now - Duration::days(3),
        Duration::days(20),
    );
    // globex's instance answering its own sync key.
    let globex = Agent::licensed(&h, "inst-globex", 9);
    let globex_key = all.sync_key(
        "inst-globex",
        None,
        &GLOBEX_PATH,
        0,
        now,
        Duration::days(20),
    );
    let globex_usage = globex.answer(
        &root,
        &globex_key,
        &[record(1, "globex-2", "2024-07-14", "premium", [1, 1, 1])],
        now,
    );
    // A sync key that expired a day after it was issued, answered (by a broken agent) later.
    let short = manager.sync_key(
        "inst-de",
        Some("lic-de"),
        &DE_PATH,
        0,
        now - Duration::days(3),
        Duration::days(1),
    );
    let mut late = body_of(&agent.answer(&root, &short, &de_records(), now - Duration::days(3)));
    late.created_at = now - Duration::days(1);
    let late = agent.sign_raw(&late);
    // A file from the future.
    let mut ahead = body_of(&usage);
    ahead.created_at = now + Duration::hours(2);
    let ahead_key = manager.sync_key(
        "inst-de",
        Some("lic-de"),
        &DE_PATH,
        0,
        now,
        Duration::days(20),
    );
    ahead.answers_nonce = SyncKey::parse(ahead_key.as_bytes())
        .unwrap()
        .unverified()
        .nonce;
    ahead.sync_key_sha256 = SyncKey::parse(ahead_key.as_bytes()).unwrap().sha256();
    let ahead = agent.sign_raw(&ahead);
    // Records for acme-fr, outside acme-de's subtree.
    let mut stray = de_records();
    stray.push(record(5, "acme-fr", "2024-07-14", "basic", [1, 1, 1]));
    let stray_key = manager.sync_key(
        "inst-de",
        Some("lic-de"),
        &DE_PATH,
        0,
        now,
        Duration::days(20),
    );
    let stray_usage = agent.answer(&root, &stray_key, &stray, now);
    // A plan the catalog does not have.
    let gold_key = manager.sync_key(
        "inst-de",
        Some("lic-de"),
        &DE_PATH,
        0,
        now,
        Duration::days(20),
    );
    let gold_usage = agent.answer(
        &root,
        &gold_key,
        &[record(1, "acme-de", "2024-07-14", "gold", [1, 1, 1])],
        now,
    );
    // A sync key issued before the instance's account moved is accepted under its old
    // path (tests/airgap_moved.rs); one naming another account than the instance's is not.
    let moved_key = all.sync_key(
        "inst-de",
        None,
        &["sp-acme", "acme-eu", "acme-fr"],
        0,
        now,
        Duration::days(20),
    );
    let moved_usage = agent.answer(&root, &moved_key, &de_records(), now);
    // Another license than the instance's.
    let impostor = Agent::new("inst-de", "lic-other", 7);
    let license_key = all.sync_key("inst-de", None, &DE_PATH, 0, now, Duration::days(20));
    let license_usage = impostor.answer(&root, &license_key, &de_records(), now);
    // One bit of the file changed: 181 users became 189.
    let tampered = usage.replacen("\"users_registered\": 181", "\"users_registered\": 189", 1);
    assert_ne!(tampered, usage);
    // Over the usage data file's own limit, within the body limit.
    let huge = format!("{usage}{}", " ".repeat(4 * 1024 * 1024));

    let cases: Vec<(&str, &str, &str, &str, StatusCode, &str)> = vec![
        (
            "tampered",
            &manager.token,
            &sync_key,
            &tampered,
            StatusCode::UNPROCESSABLE_ENTITY,
            "altered in transit",
        ),
        (
            "wrong nonce",
            &manager.token,
            &other_key,
            &usage,
            StatusCode::UNPROCESSABLE_ENTITY,
            "does not answer this sync key",
        ),
        (
            "foreign instance",
            &all.token,
            &sync_key,
            &globex_usage,
            StatusCode::UNPROCESSABLE_ENTITY,
            "is for instance `inst-globex`",
        ),
        (
            "expired sync key",
            &manager.token,
            &short,
            &late,
            StatusCode::UNPROCESSABLE_ENTITY,
            "issue a new sync key",
        ),
        (
            "from the future",
            &manager.token,
            &ahead_key,
            &ahead,
            StatusCode::UNPROCESSABLE_ENTITY,
            "later than the cloud's clock",
        ),
        (
            "out-of-scope token",
            &globex_token,
            &sync_key,
            &usage,
            StatusCode::NOT_FOUND,
            "no instance 'inst-de' is visible to this token",
        ),
        (
            "ingest token",
            &ingest_token,
            &sync_key,
            &usage,
            StatusCode::FORBIDDEN,
            "needs a manager token",
        ),
        (
            "account outside the subtree",
            &manager.token,
            &stray_key,
            &stray_usage,
            StatusCode::UNPROCESSABLE_ENTITY,
            "is for account 'acme-fr', which is neither account 'acme-de'",
        ),
        (
            "plan not in the catalog",
            &manager.token,
            &gold_key,
            &gold_usage,
            StatusCode::UNPROCESSABLE_ENTITY,
            "record seq 1: plan 'gold' is not in the catalog",
        ),
        (
            "wrong place in the tree",
            &all.token,
            &moved_key,
            &moved_usage,
            StatusCode::UNPROCESSABLE_ENTITY,
            "which belongs to account 'acme-de'",
        ),
        (
            "another license",
            &all.token,
            &license_key,
            &license_usage,
            StatusCode::UNPROCESSABLE_ENTITY,
            "runs under license 'lic-de'",
        ),
        (
            "file over its limit",
            &manager.token,
            &sync_key,
            &huge,
            StatusCode::PAYLOAD_TOO_LARGE,
            "over the 4194304-byte limit",
        ),
        (
            "a sync key in place of the file",
            &manager.token,
            &sync_key,
            &sync_key,
            StatusCode::UNPROCESSABLE_ENTITY,
            "this is a sync key, not a usage data file",
        ),
        (
            "garbage",
            &manager.token,
            &sync_key,
            "\u{feff}hello",
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed",
        ),
    ];
    let before = h.state();
    for (why, token, sk, file, status, needle) in cases {
        let (s, body) = h.import(token, sk, file).await;
        assert_eq!(s, status, "{why}: {body}");
        assert!(
            message(&body).contains(needle),
            "{why}: '{}' should say '{needle}'",
            message(&body)
        );
        assert_eq!(h.state(), before, "{why}: nothing was written");
    }

    // A body over the route's limit is cut off before it is read.
    let mut big = serde_json::to_vec(&json!({"sync_key": sync_key, "usage_data": ""})).unwrap();
    big.truncate(big.len() - 2);
    big.extend(std::iter::repeat_n(b'a', max_upload_body_bytes()));
    big.extend(b"\"}");
    let (s, body) = h
        .post_raw("/api/v1/airgap/imports", Some(&manager.token), big)
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert!(
        message(&body).contains("export the usage data file again"),
        "{body}"
    );
    assert_eq!(h.state(), before, "over-size body: nothing was written");

    // After all that, the good pair still goes through.
    let (s, body) = h.import(&manager.token, &sync_key, &usage).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_nonce_is_answered_once_and_the_pinned_key_holds() {
    let Setup {
        h,
        root,
        mut manager,
        agent,
        sync_key,
        usage,
    } = setup().await;
    let (s, body) = h.import(&manager.token, &sync_key, &usage).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let before = h.state();

    // Another file (other records) answering the same sync key.
    let second = agent.answer(
        &root,
        &sync_key,
        &de_records()[..2],
        h.now() - Duration::days(1),
    );
    assert_ne!(second, usage);
    let (s, body) = h.import(&manager.token, &sync_key, &second).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(
        message(&body).contains("already answered by another usage data file"),
        "{body}"
    );
    assert!(message(&body).contains("issue a new sync key"), "{body}");
    assert_eq!(h.state(), before, "nothing was written");

    // The instance is pinned: a file signed by another key is refused.
    let stranger = Agent::new("inst-de", "lic-de", 8);
    let next = manager.sync_key(
        "inst-de",
        Some("lic-de"),
        &DE_PATH,
        4,
        h.now(),
        Duration::days(20),
    );
    let forged = stranger.answer(
        &root,
        &next,
        &[record(5, "acme-de", "2024-07-14", "standard", [1, 1, 1])],
        h.now(),
    );
    let (s, body) = h.import(&manager.token, &next, &forged).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        message(&body).contains("the vendor holds another key for instance `inst-de`"),
        "{body}"
    );
    let pinned = agent.key.public_key().to_string();
    assert!(
        !body
            .to_string()
            .contains(pinned.trim_start_matches("ed25519:")),
        "the refusal does not show the registered key: {body}"
    );
    assert_eq!(h.state(), before, "nothing was written");
}

#[tokio::test]
async fn a_file_that_arrives_late_does_not_undo_a_newer_record() {
    let h = Harness::start().await;
    let root = h.root().await;
    let mut manager = Manager::certified_at(&h, None, 14, h.now() - Duration::days(4)).await;
    let agent = Agent::licensed(&h, "inst-de", 7);
    let day = |c: [u64; 3]| record(0, "acme-de", "2024-07-14", "standard", c);
    let first = UsageRecord {
        seq: 1,
        ..day([160, 100, 50])
    };
    let newer = UsageRecord {
        seq: 2,
        ..day([170, 110, 60])
    };

    // Exported three days ago with only the first record; exported again a day later, when the
    // instance had corrected the day (seq 2). The later file reaches the cloud first.
    let early_key = manager.sync_key(
        "inst-de",
        None,
        &DE_PATH,
        0,
        h.now() - Duration::days(3),
        Duration::days(10),
    );
    let early = agent.answer(
        &root,
        &early_key,
        std::slice::from_ref(&first),
        h.now() - Duration::days(3),
    );
    let later_key = manager.sync_key(
        "inst-de",
        None,
        &DE_PATH,
        0,
        h.now() - Duration::days(2),
        Duration::days(10),
    );
    let later = agent.answer(
        &root,
        &later_key,
        &[first, newer],
        h.now() - Duration::days(2),
    );

    let (s, body) = h.import(&manager.token, &later_key, &later).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        [&body["new"], &body["changed"]],
        [1, 1],
        "seq 2 replaces seq 1 in the file"
    );
    let (s, body) = h.import(&manager.token, &early_key, &early).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        [
            &body["already_present"],
            &body["changed"],
            &body["high_water_mark"]
        ],
        [1, 0, 2],
        "the late file's older record is held already, in a newer version"
    );
    let users = h.rows(
        "SELECT users_registered FROM daily_usage WHERE account_id = 'acme-de' AND date = '2024-07-14'",
    );
    assert_eq!(users, [["170"]], "the day keeps the newer record's values");
}
