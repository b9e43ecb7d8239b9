//! Instance identity: no first contact, online or by file, pins a key or writes anything unless
//! it carries an enrollment made with a license file this cloud issued for that instance; the
//! vendor can reset a key and revoke license files; every change is in the instance's history.

use crate::common;
use crate::common::{body_of, record, Agent, Harness, Manager, DE_PATH, FR_PATH};
use chrono::Duration;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use reqwest::StatusCode;
use serde_json::{json, Value};
use usagedesk_airgap::{LicenseFile, LicenseRequest, RootKey, MAX_SEQ_ADVANCE};
use usagedesk_cloud::airgap::identity;
use usagedesk_cloud::storage::TokenScope;

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

fn pinned(h: &Harness, id: &str) -> Option<String> {
    h.storage
        .instance(&TokenScope::All, id)
        .unwrap()
        .unwrap()
        .public_key
}

#[tokio::test]
async fn a_stranger_cannot_become_an_online_instance_and_the_real_agent_still_can() {
    let h = Harness::start().await;
    let agent = Agent::licensed(&h, "inst-fr", 21);
    let before = h.state();

    // A stranger who knows the instance id: its own key, no license file.
    let stranger = Agent::new("inst-fr", "lic-fr", 66);
    let (s, body) = h.ask_sync_key("inst-fr", &stranger).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(
        message(&body).contains("has no registered key yet, and the request carries no enrollment"),
        "{body}"
    );

    // The same without a signature (what agents sent before): not even looked at.
    let (s, body) = h
        .post(
            "/api/v1/instances/inst-fr/sync-key",
            None,
            &json!({ "public_key": stranger.key.public_key().to_string() }),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");

    // The real agent's enrollment, copied off the wire, with the stranger's key: the proof
    // covers the agent's key only.
    let mut thief = Agent::new("inst-fr", "lic-fr", 66);
    thief.enrollment = agent.enrollment.clone();
    let (s, body) = h.ask_sync_key("inst-fr", &thief).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("enrollment proof"), "{body}");

    // Another instance's license file (the stranger runs a licensed instance of its own).
    let mut neighbour = Agent::licensed(&h, "inst-de", 67);
    neighbour.id = "inst-fr".into();
    let (s, body) = h.ask_sync_key("inst-fr", &neighbour).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("inst-de"), "{body}");

    // A license file made with a root key of the stranger's own.
    let fake_root = RootKey::generate(&mut ChaCha20Rng::seed_from_u64(68));
    let fake = LicenseFile::issue(
        &fake_root,
        &LicenseRequest {
            license_id: "lic-fr".into(),
            instance_id: "inst-fr".into(),
            account_path: common::path(&FR_PATH),
            airgapped: false,
            expires_at: h.now() + Duration::days(30),
        },
        &mut ChaCha20Rng::seed_from_u64(69),
        h.now(),
    )
    .unwrap();
    let mut forger = Agent::new("inst-fr", "lic-fr", 70);
    forger.enrollment = Some(
        LicenseFile::parse(fake.as_bytes())
            .unwrap()
            .unverified()
            .enroll(&forger.key.public_key()),
    );
    let (s, body) = h.ask_sync_key("inst-fr", &forger).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("not trusted here"), "{body}");

    let after: Vec<_> = h.state().lines().map(str::to_owned).collect();
    let new_rows: Vec<_> = after
        .iter()
        .filter(|l| !before.lines().any(|b| b == l.as_str()))
        .collect();
    assert!(
        new_rows
            .iter()
            .all(|l| l.contains("license_file_issued") || l.starts_with("license_files:")),
        "no refused first contact wrote anything (only the neighbour's license file was \
         issued): {new_rows:#?}"
    );
    assert_eq!(pinned(&h, "inst-fr"), None);

    // The real agent enrolls, and its key is the one pinned.
    let (s, body) = h.ask_sync_key("inst-fr", &agent).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        pinned(&h, "inst-fr"),
        Some(agent.key.public_key().to_string())
    );
    let events = h.key_events("inst-fr");
    assert_eq!(
        events.last().unwrap(),
        &(
            "enrolled".to_string(),
            "instance (online)".to_string(),
            Some(agent.key.public_key().to_string())
        ),
        "{events:?}"
    );
    // Its enrollment is now ignored: the key alone, signed, gets sync keys.
    let mut plain = Agent::new("inst-fr", "lic-fr", 21);
    plain.enrollment = None;
    let (s, body) = h.ask_sync_key("inst-fr", &plain).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_enrollment_must_describe_the_instance_as_the_cloud_knows_it_now() {
    let h = Harness::start().await;
    // Air-gapped instances enroll by file only, whatever they carry.
    let de = Agent::licensed(&h, "inst-de", 31);
    let (s, body) = h.ask_sync_key("inst-de", &de).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("air-gapped"), "{body}");

    // A license file past its window.
    let old = h.license_file_at("inst-fr", h.now() - Duration::days(91));
    let root = h.storage.vendor_root_key().unwrap().public_key();
    let file = LicenseFile::parse(old.as_bytes()).unwrap();
    let mut late = Agent::new("inst-fr", "lic-fr", 32);
    late.enrollment = Some(file.unverified().enroll(&late.key.public_key()));
    assert!(
        file.verify(&root, h.now()).is_err(),
        "expired for the agent"
    );
    let (s, body) = h.ask_sync_key("inst-fr", &late).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("expired"), "{body}");

    // The account moved after the license file was issued: the license no longer says where
    // the instance is.
    let fr = Agent::licensed(&h, "inst-fr", 33);
    let data = h.dir.path().join("moved");
    common::dataset(&data, common::INSTANCES_CSV);
    let accounts = std::fs::read_to_string(data.join("accounts.csv")).unwrap();
    let moved = accounts.replace("acme-fr,Acme France,acme-eu", "acme-fr,Acme France,acme-us");
    assert_ne!(moved, accounts);
    std::fs::write(data.join("accounts.csv"), moved).unwrap();
    h.storage
        .load(
            usagedesk_cloud::load::read_dataset(&data).unwrap(),
            usagedesk_testkit::today(),
        )
        .unwrap();
    let (s, body) = h.ask_sync_key("inst-fr", &fr).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(
        message(&body).contains("sp-acme > acme-us > acme-fr"),
        "{body}"
    );
    assert_eq!(pinned(&h, "inst-fr"), None);
    // A license file issued after the move enrolls.
    let fresh = Agent::licensed(&h, "inst-fr", 34);
    let (s, body) = h.ask_sync_key("inst-fr", &fresh).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_first_file_pins_nothing_without_an_enrollment_and_cannot_claim_an_absurd_mark() {
    let h = Harness::start().await;
    let root = h.root().await;
    let mut manager =
        Manager::certified_at(&h, Some("acme-eu"), 41, h.now() - Duration::days(4)).await;
    let issued = h.now() - Duration::days(1);
    let sync_key = manager.sync_key(
        "inst-de",
        Some("lic-de"),
        &DE_PATH,
        0,
        issued,
        Duration::days(20),
    );

    // A rogue agent without the license file claims the air-gapped instance, with a record
    // at the end of the 63-bit range (a writer that skips the rules, as a rogue would).
    let rogue = Agent::new("inst-de", "lic-de", 42);
    let modest = rogue.answer(
        &root,
        &sync_key,
        &[record(1, "acme-de", "2024-07-14", "standard", [1, 1, 1])],
        h.now(),
    );
    let mut claim = body_of(&modest);
    claim.records[0].seq = i64::MAX as u64;
    let claim = rogue.sign_raw(&claim);
    let before = h.state();
    let (s, body) = h.import(&manager.token, &sync_key, &claim).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(message(&body).contains("above the mark 0"), "{body}");
    // With a plausible seq: refused for its missing enrollment.
    let (s, body) = h.import(&manager.token, &sync_key, &modest).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        message(&body).contains("has no registered key yet"),
        "{body}"
    );
    assert!(message(&body).contains("license file"), "{body}");
    assert_eq!(h.state(), before, "nothing was written");

    // The licensed agent's first file enrolls it; the mark is its highest seq.
    let agent = Agent::licensed(&h, "inst-de", 43);
    let first = agent.answer(
        &root,
        &sync_key,
        &[record(1, "acme-de", "2024-07-14", "standard", [9, 9, 9])],
        h.now(),
    );
    let (s, body) = h.import(&manager.token, &sync_key, &first).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["high_water_mark"], 1);
    assert_eq!(
        pinned(&h, "inst-de"),
        Some(agent.key.public_key().to_string())
    );
    let events = h.key_events("inst-de");
    let (event, actor, key) = events.last().unwrap();
    assert_eq!(
        (event.as_str(), actor.as_str(), key.as_deref()),
        (
            "enrolled",
            "test-token",
            Some(agent.key.public_key().to_string().as_str())
        ),
        "who let the key in is recorded"
    );

    // Even the enrolled instance cannot jump its mark by more than 2^32 in one file.
    let next = manager.sync_key(
        "inst-de",
        Some("lic-de"),
        &DE_PATH,
        1,
        h.now(),
        Duration::days(20),
    );
    let mut jump = body_of(&agent.answer(
        &root,
        &next,
        &[record(2, "acme-de", "2024-07-14", "standard", [9, 9, 9])],
        h.now(),
    ));
    jump.records[0].seq = 2 + MAX_SEQ_ADVANCE;
    let jump = agent.sign_raw(&jump);
    let before = h.state();
    let (s, body) = h.import(&manager.token, &next, &jump).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        message(&body).contains("4294967296 above the mark 1"),
        "{body}"
    );
    assert_eq!(h.state(), before);
}

#[tokio::test]
async fn keys_registered_in_instances_csv_stay_valid_for_version_1_files() {
    let h = Harness::start().await;
    let root = h.root().await;
    // An instance registered with its key, as before license files: its older agent writes
    // version 1 files, and they are accepted.
    let old = Agent::new("inst-old", "lic-old", 51);
    let data = h.dir.path().join("registered");
    common::dataset(
        &data,
        &format!(
            "{}inst-old,lic-old,acme-de,true,{}\n",
            common::INSTANCES_CSV,
            old.key.public_key()
        ),
    );
    h.storage
        .load(
            usagedesk_cloud::load::read_dataset(&data).unwrap(),
            usagedesk_testkit::today(),
        )
        .unwrap();
    let events = h.key_events("inst-old");
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].0.as_str(), events[0].1.as_str()),
        ("registered", "instances.csv")
    );
    let mut manager = Manager::certified_at(&h, None, 52, h.now() - Duration::days(2)).await;
    let sk = manager.sync_key(
        "inst-old",
        Some("lic-old"),
        &DE_PATH,
        0,
        h.now() - Duration::days(1),
        Duration::days(10),
    );
    let usage = old.answer(
        &root,
        &sk,
        &[record(1, "acme-de", "2024-07-14", "standard", [3, 2, 1])],
        h.now(),
    );
    assert!(usage.contains("\nVersion: 1\n"));
    let (s, body) = h.import(&manager.token, &sk, &usage).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(h.key_events("inst-old").len(), 1, "no new pin");
}

#[tokio::test]
async fn the_vendor_resets_a_key_and_revokes_license_files_and_it_is_recorded() {
    let h = Harness::start().await;
    let agent = Agent::licensed(&h, "inst-fr", 61);
    let (s, body) = h.ask_sync_key("inst-fr", &agent).await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // Reinstalled with a new state (a new key), from the same license file: refused until the
    // vendor resets the key.
    let license = h.license_file("inst-fr");
    let reinstalled = Agent::from_license_file(&h, &license, 62);
    let (s, body) = h.ask_sync_key("inst-fr", &reinstalled).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let reset =
        identity::reset_key(h.storage.as_ref(), "inst-fr", false, "carol", h.now()).expect("reset");
    assert_eq!(reset.previous_key, Some(agent.key.public_key().to_string()));
    assert_eq!(reset.revoked, 0);
    assert!(reset.usable_license_files >= 2);
    assert_eq!(pinned(&h, "inst-fr"), None);
    let (s, body) = h.ask_sync_key("inst-fr", &reinstalled).await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // A copied license file: the vendor resets and revokes every license file of the
    // instance; the copy cannot enroll, a new license file can.
    let reset =
        identity::reset_key(h.storage.as_ref(), "inst-fr", true, "carol", h.now()).expect("reset");
    assert!(reset.revoked >= 2, "{reset:?}");
    assert_eq!(reset.usable_license_files, 0);
    let copier = Agent::from_license_file(&h, &license, 63);
    let before = h.state();
    let (s, body) = h.ask_sync_key("inst-fr", &copier).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("was revoked on"), "{body}");
    assert_eq!(h.state(), before);
    let renewed = Agent::licensed(&h, "inst-fr", 64);
    let (s, body) = h.ask_sync_key("inst-fr", &renewed).await;
    assert_eq!(s, StatusCode::OK, "{body}");

    let events: Vec<(String, String)> = h
        .key_events("inst-fr")
        .into_iter()
        .map(|(e, a, _)| (e, a))
        .collect();
    let expected: Vec<(String, String)> = [
        ("license_file_issued", "test operator"),
        ("enrolled", "instance (online)"),
        ("license_file_issued", "test operator"),
        ("reset", "carol"),
        ("enrolled", "instance (online)"),
        ("reset", "carol"),
        ("license_files_revoked", "carol"),
        ("license_file_issued", "test operator"),
        ("enrolled", "instance (online)"),
    ]
    .iter()
    .map(|(e, a)| (e.to_string(), a.to_string()))
    .collect();
    assert_eq!(events, expected);
}
