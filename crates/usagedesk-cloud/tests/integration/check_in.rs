//! `POST /api/v1/instances/{id}/check-in` with the real agent library signing: the round trip,
//! events recorded only for changed fields, the feed, and every refusal (nothing written).

use std::collections::BTreeMap;

use crate::common::Harness;
use chrono::{DateTime, Duration, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use reqwest::StatusCode;
use serde_json::{json, Value};
use usagedesk_agent::check_in::{timestamp_text, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use usagedesk_agent::{Agent, CloudClient};
use usagedesk_cloud::storage::{TokenKind, TokenScope};
use usagedesk_domain::customer::{CheckIn, ClusterDetails, InstanceStatus};

/// The agent of `inst-fr` (online, acme-fr), its key pinned through the sync-key endpoint
/// as its first contact does.
async fn pinned_agent(h: &Harness) -> (tempfile::TempDir, Agent) {
    let dir = tempfile::tempdir().unwrap();
    let root = h.root().await;
    let agent = Agent::init(
        &dir.path().join("state"),
        h.license_file("inst-fr").as_bytes(),
        &root,
        h.now(),
        &mut ChaCha20Rng::seed_from_u64(5),
    )
    .unwrap();
    // First contact: the agent's sync key request enrolls its key.
    let client = CloudClient::new(&h.server.url()).unwrap();
    client
        .request_sync_key(&agent, h.now())
        .await
        .expect("first contact enrolls the key");
    (dir, agent)
}

fn check_in(resources: &[(&str, InstanceStatus)], version: &str, k8s: &str) -> CheckIn {
    CheckIn {
        resources: resources
            .iter()
            .map(|(n, s)| (n.to_string(), *s))
            .collect::<BTreeMap<_, _>>(),
        app_version: version.into(),
        cluster: ClusterDetails {
            distribution: "eks".into(),
            kubernetes_version: k8s.into(),
            embedded_cluster: false,
            nodes_ready: None,
            nodes_total: None,
            agent_version: "0.1.0".into(),
            cloud_provider: Some("aws".into()),
            region: Some("eu-west-3".into()),
        },
    }
}

fn fields(events: &[usagedesk_domain::customer::InstanceEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            format!(
                "{}: {} -> {}",
                e.field,
                e.previous.as_deref().unwrap_or("-"),
                e.new
            )
        })
        .collect()
}

#[tokio::test]
async fn a_signed_check_in_updates_the_report_and_records_only_what_changed() {
    use InstanceStatus::*;
    let h = Harness::start().await;
    let (_dir, agent) = pinned_agent(&h).await;
    let client = CloudClient::new(&h.server.url()).unwrap();
    let eu = h.token(Some("acme-eu"), TokenKind::Manager);
    let globex = h.token(Some("sp-globex"), TokenKind::Manager);
    let (_, page) = h.get("/api/v1/changes?limit=20000", Some(&eu)).await;
    let eu_cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, page) = h.get("/api/v1/changes?limit=20000", Some(&globex)).await;
    let globex_cursor = page["next_cursor"].as_str().unwrap().to_string();

    // First check-in: starting up. The status and the version start their history.
    let t0 = h.now();
    let r = agent
        .check_in(
            &client,
            &check_in(&[("web", Ready), ("db", Unavailable)], "1.4.2", "1.30.2"),
            t0,
        )
        .await
        .unwrap();
    assert_eq!(
        r.report.status, Unavailable,
        "any Unavailable → Unavailable"
    );
    assert_eq!(r.report.first_check_in, t0);
    assert_eq!(
        fields(&r.events),
        ["status: - -> unavailable", "app_version: - -> 1.4.2"]
    );

    // The same again, later: nothing changed, no event; the last check-in moves.
    h.set_now(t0 + Duration::minutes(3));
    let r = agent
        .check_in(
            &client,
            &check_in(&[("web", Ready), ("db", Unavailable)], "1.4.2", "1.30.2"),
            h.now(),
        )
        .await
        .unwrap();
    assert!(r.events.is_empty(), "{:?}", r.events);
    assert_eq!(r.report.last_check_in, t0 + Duration::minutes(3));
    assert_eq!(r.report.first_check_in, t0);

    // Ready: one status event.
    h.set_now(t0 + Duration::minutes(10));
    let r = agent
        .check_in(
            &client,
            &check_in(&[("web", Ready), ("db", Ready)], "1.4.2", "1.30.2"),
            h.now(),
        )
        .await
        .unwrap();
    assert_eq!(fields(&r.events), ["status: unavailable -> ready"]);

    // An upgrade: Updating with the new version and a new Kubernetes; the cloud provider
    // is no longer reported.
    h.set_now(t0 + Duration::hours(2));
    let mut upgrade = check_in(&[("web", Updating), ("db", Ready)], "1.5.0", "1.31.0");
    upgrade.cluster.cloud_provider = None;
    let r = agent.check_in(&client, &upgrade, h.now()).await.unwrap();
    assert_eq!(
        fields(&r.events),
        [
            "status: ready -> updating",
            "app_version: 1.4.2 -> 1.5.0",
            "kubernetes_version: 1.30.2 -> 1.31.0",
            "cloud_provider: aws -> ",
        ]
    );
    assert!(r.events.iter().all(|e| e.received_at == h.now()));

    // A resource missing, the others ready: Missing (usagedesk_domain::customer's rule).
    h.set_now(t0 + Duration::hours(3));
    let mut gone = upgrade.clone();
    gone.resources = [("web", Ready), ("db", Missing)]
        .into_iter()
        .map(|(n, s)| (n.to_string(), s))
        .collect();
    let r = agent.check_in(&client, &gone, h.now()).await.unwrap();
    assert_eq!(r.report.status, Missing);
    assert_eq!(fields(&r.events), ["status: updating -> missing"]);

    // No resources reported: Missing as well, so nothing changed.
    h.set_now(t0 + Duration::hours(4));
    let mut none = upgrade.clone();
    none.resources.clear();
    let r = agent.check_in(&client, &none, h.now()).await.unwrap();
    assert_eq!(r.report.status, Missing);
    assert!(r.events.is_empty());

    // The stored history, and the feed: the report once (at its latest), every event, for the
    // scopes that see acme-fr only.
    let events = h
        .storage
        .instance_events(&TokenScope::All, "inst-fr")
        .unwrap();
    assert_eq!(events.len(), 8);
    assert!(h
        .storage
        .instance_events(&TokenScope::Subtree("sp-globex".into()), "inst-fr")
        .unwrap()
        .is_empty());
    let (_, page) = h
        .get(
            &format!("/api/v1/changes?limit=20000&cursor={eu_cursor}"),
            Some(&eu),
        )
        .await;
    let changes = page["changes"].as_array().unwrap();
    let reports: Vec<&Value> = changes
        .iter()
        .filter(|c| c["kind"] == "instance_report")
        .collect();
    assert_eq!(reports.len(), 1, "one row per report: {changes:?}");
    assert_eq!(reports[0]["status"], "missing");
    assert_eq!(
        changes
            .iter()
            .filter(|c| c["kind"] == "instance_event")
            .count(),
        8
    );
    let (_, page) = h
        .get(
            &format!("/api/v1/changes?limit=20000&cursor={globex_cursor}"),
            Some(&globex),
        )
        .await;
    assert_eq!(page["changes"], json!([]), "another scope sees nothing");
}

/// Sends a check-in body with the given headers (`None`: header left out).
async fn post_check_in(
    h: &Harness,
    instance: &str,
    body: Vec<u8>,
    timestamp: Option<&str>,
    signature: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/instances/{instance}/check-in",
            h.server.url()
        ))
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = timestamp {
        req = req.header(TIMESTAMP_HEADER, t);
    }
    if let Some(s) = signature {
        req = req.header(SIGNATURE_HEADER, s);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.expect("every answer is JSON"))
}

fn body(c: &CheckIn) -> Vec<u8> {
    serde_json::to_vec(c).unwrap()
}

#[tokio::test]
async fn check_ins_that_do_not_verify_are_refused_and_write_nothing() {
    use InstanceStatus::*;
    let h = Harness::start().await;
    let (_dir, agent) = pinned_agent(&h).await;
    let other_dir = tempfile::tempdir().unwrap();
    let impostor = Agent::init(
        &other_dir.path().join("state"),
        h.license_file("inst-fr").as_bytes(),
        &h.root().await,
        h.now(),
        &mut ChaCha20Rng::seed_from_u64(6),
    )
    .unwrap();
    let ok = body(&check_in(&[("web", Ready)], "1.4.2", "1.30.2"));
    let now: DateTime<Utc> = h.now();
    let before = h.state();

    let expect = |case: &str, got: (StatusCode, Value), status: StatusCode, needle: &str| {
        assert_eq!(got.0, status, "{case}: {}", got.1);
        let message = got.1["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{case}: '{message}' should say '{needle}'"
        );
    };

    let (ts, sig) = agent.sign_check_in(&ok, now);
    expect(
        "unknown instance",
        post_check_in(&h, "inst-ghost", ok.clone(), Some(&ts), Some(&sig)).await,
        StatusCode::NOT_FOUND,
        "no instance 'inst-ghost' is registered",
    );
    expect(
        "no pinned key",
        post_check_in(&h, "inst-de", ok.clone(), Some(&ts), Some(&sig)).await,
        StatusCode::FORBIDDEN,
        "has no registered key yet",
    );
    expect(
        "no signature",
        post_check_in(&h, "inst-fr", ok.clone(), Some(&ts), None).await,
        StatusCode::UNAUTHORIZED,
        "no x-usagedesk-signature header",
    );
    expect(
        "no timestamp",
        post_check_in(&h, "inst-fr", ok.clone(), None, Some(&sig)).await,
        StatusCode::UNAUTHORIZED,
        "no x-usagedesk-timestamp header",
    );
    let (its, isig) = impostor.sign_check_in(&ok, now);
    let refused = post_check_in(&h, "inst-fr", ok.clone(), Some(&its), Some(&isig)).await;
    let pinned = agent.public_key().to_string();
    assert!(
        !refused
            .1
            .to_string()
            .contains(pinned.trim_start_matches("ed25519:")),
        "a refusal never shows the registered key: {}",
        refused.1
    );
    expect(
        "another key",
        refused,
        StatusCode::UNAUTHORIZED,
        "does not verify with the instance's key",
    );
    let mut altered = ok.clone();
    let at = altered.iter().position(|&b| b == b'4').unwrap();
    altered[at] = b'9';
    expect(
        "altered body",
        post_check_in(&h, "inst-fr", altered, Some(&ts), Some(&sig)).await,
        StatusCode::UNAUTHORIZED,
        "does not verify",
    );
    expect(
        "another time than signed",
        post_check_in(
            &h,
            "inst-fr",
            ok.clone(),
            Some(&timestamp_text(now + Duration::seconds(1))),
            Some(&sig),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "does not verify",
    );
    expect(
        "malformed signature",
        post_check_in(&h, "inst-fr", ok.clone(), Some(&ts), Some("ed25519 AAAA")).await,
        StatusCode::UNAUTHORIZED,
        "64 signature bytes in base64",
    );
    let (old_ts, old_sig) = agent.sign_check_in(&ok, now - Duration::minutes(6));
    expect(
        "stale",
        post_check_in(&h, "inst-fr", ok.clone(), Some(&old_ts), Some(&old_sig)).await,
        StatusCode::UNAUTHORIZED,
        "6 minutes behind the cloud's clock",
    );
    let (new_ts, new_sig) = agent.sign_check_in(&ok, now + Duration::minutes(7));
    expect(
        "from the future",
        post_check_in(&h, "inst-fr", ok.clone(), Some(&new_ts), Some(&new_sig)).await,
        StatusCode::UNAUTHORIZED,
        "7 minutes ahead of the cloud's clock",
    );
    let mut many = check_in(&[], "1.4.2", "1.30.2");
    many.resources = (0..3000)
        .map(|i| (format!("deployment/app/{i:040}"), Ready))
        .collect();
    let huge = body(&many);
    assert!(huge.len() > 64 * 1024);
    let (hts, hsig) = agent.sign_check_in(&huge, now);
    expect(
        "oversize",
        post_check_in(&h, "inst-fr", huge, Some(&hts), Some(&hsig)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "larger than 65536 bytes",
    );
    for (case, text, needle) in [
        ("not JSON", "resources=web", "the check-in is not valid"),
        (
            "unknown field",
            r#"{"resources":{},"app_version":"1","cluster":{"distribution":"","kubernetes_version":"","embedded_cluster":false,"agent_version":""},"extra":1}"#,
            "unknown field `extra`",
        ),
        (
            "unknown state",
            r#"{"resources":{"web":"sleeping"},"app_version":"1","cluster":{"distribution":"","kubernetes_version":"","embedded_cluster":false,"agent_version":""}}"#,
            "unknown variant `sleeping`",
        ),
        (
            "nodes",
            r#"{"resources":{},"app_version":"1","cluster":{"distribution":"","kubernetes_version":"","embedded_cluster":true,"nodes_ready":5,"nodes_total":3,"agent_version":""}}"#,
            "nodes_ready (5) is more than nodes_total (3)",
        ),
        (
            "control characters",
            "{\"resources\":{\"web\\n\":\"ready\"},\"app_version\":\"1\",\"cluster\":{\"distribution\":\"\",\"kubernetes_version\":\"\",\"embedded_cluster\":false,\"agent_version\":\"\"}}",
            "resource name",
        ),
    ] {
        let (t, s) = agent.sign_check_in(text.as_bytes(), now);
        expect(
            case,
            post_check_in(&h, "inst-fr", text.as_bytes().to_vec(), Some(&t), Some(&s)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            needle,
        );
    }
    assert_eq!(h.state(), before, "no refusal wrote anything");
    assert!(h
        .storage
        .instance_report(&TokenScope::All, "inst-fr")
        .unwrap()
        .is_none());

    // A good one goes through; the same request again is a replay.
    let (s, _) = post_check_in(&h, "inst-fr", ok.clone(), Some(&ts), Some(&sig)).await;
    assert_eq!(s, StatusCode::OK);
    expect(
        "replay",
        post_check_in(&h, "inst-fr", ok.clone(), Some(&ts), Some(&sig)).await,
        StatusCode::CONFLICT,
        "not later than the last one the cloud recorded",
    );
    let (earlier_ts, earlier_sig) = agent.sign_check_in(&ok, now - Duration::seconds(30));
    expect(
        "older than the last",
        post_check_in(&h, "inst-fr", ok, Some(&earlier_ts), Some(&earlier_sig)).await,
        StatusCode::CONFLICT,
        "a check-in is accepted once",
    );
    assert_eq!(
        h.storage
            .instance_events(&TokenScope::All, "inst-fr")
            .unwrap()
            .len(),
        2,
        "only the accepted check-in recorded events"
    );
}

#[tokio::test]
async fn the_agent_reports_the_cloud_s_refusal() {
    let h = Harness::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Never pinned: the agent says what to do.
    let agent = Agent::init(
        &dir.path().join("state"),
        h.license_file("inst-fr").as_bytes(),
        &h.root().await,
        h.now(),
        &mut ChaCha20Rng::seed_from_u64(9),
    )
    .unwrap();
    let client = CloudClient::new(&h.server.url()).unwrap();
    let e = agent
        .check_in(
            &client,
            &check_in(&[("web", InstanceStatus::Ready)], "1", "1.30"),
            h.now(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "cloud_refused");
    assert!(
        e.to_string().contains("HTTP 403") && e.to_string().contains("usagedesk-agent push"),
        "{e}"
    );
}
