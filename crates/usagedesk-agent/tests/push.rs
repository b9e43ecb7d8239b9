//! `push` against a stand-in for the cloud's online endpoints, built from the wire types of
//! `usagedesk_domain::airgap_api` and the `usagedesk-airgap` crate (the real cloud is tested
//! against the agent where its endpoints live).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use common::*;
use usagedesk_agent::{Agent, CloudClient};
use usagedesk_airgap::{PublicKey, SyncKey, UsageData};
use usagedesk_domain::airgap_api::{
    AirgapAccepted, OnlineSyncKeyRequest, OnlineSyncKeyResponse, OnlineUsageData,
};
use usagedesk_domain::api::{ErrorBody, ErrorCode, ErrorDetail};
use usagedesk_domain::FixedClock;

const NOW: &str = "2026-03-02T09:00:00Z";

struct Cloud {
    vendor: Vendor,
    /// Signs the sync keys it hands out (a misconfigured or impostor cloud: another root).
    signer: Option<Vendor>,
    now: DateTime<Utc>,
    mark: u64,
    pinned: Option<PublicKey>,
    issued: HashMap<String, String>,
    usage_posts: usize,
    refuse_usage: Option<(StatusCode, String)>,
}

type Shared = Arc<Mutex<Cloud>>;
type Refusal = (StatusCode, Json<ErrorBody>);

fn refuse(status: StatusCode, code: ErrorCode, message: &str) -> Refusal {
    (
        status,
        Json(ErrorBody {
            error: ErrorDetail {
                code,
                message: message.into(),
            },
        }),
    )
}

async fn sync_key(
    State(cloud): State<Shared>,
    Path(id): Path<String>,
    Json(req): Json<OnlineSyncKeyRequest>,
) -> Result<Json<OnlineSyncKeyResponse>, Refusal> {
    let mut c = cloud.lock().unwrap();
    if id != INSTANCE {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such instance",
        ));
    }
    let key: PublicKey = req.public_key.parse().unwrap();
    if c.pinned.is_some_and(|p| p != key) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "pinned to another key",
        ));
    }
    c.pinned = Some(key);
    let (mark, now) = (c.mark, c.now);
    let text = match c.signer.as_mut() {
        Some(other) => other.sync_key(mark, now),
        None => c.vendor.sync_key(mark, now),
    };
    let nonce = SyncKey::parse(text.as_bytes())
        .unwrap()
        .unverified()
        .nonce
        .to_hex();
    c.issued.insert(nonce, text.clone());
    Ok(Json(OnlineSyncKeyResponse { sync_key: text }))
}

async fn usage_data(
    State(cloud): State<Shared>,
    Path(id): Path<String>,
    Json(req): Json<OnlineUsageData>,
) -> Result<Json<AirgapAccepted>, Refusal> {
    let mut c = cloud.lock().unwrap();
    c.usage_posts += 1;
    assert_eq!(id, INSTANCE);
    if let Some((status, message)) = c.refuse_usage.clone() {
        return Err(refuse(status, ErrorCode::Forbidden, &message));
    }
    // The cloud re-verifies everything: the sync key it issued, then the file against it.
    let nonce = UsageData::parse(req.usage_data.as_bytes())
        .unwrap()
        .unverified()
        .answers_nonce
        .to_hex();
    let sk_text = c
        .issued
        .get(&nonce)
        .cloned()
        .expect("answers a sync key we issued");
    let pinned = c.pinned.unwrap();
    let (sk, ud) = c
        .vendor
        .verify_usage(&sk_text, &req.usage_data, &pinned, c.now);
    let accepted = ud.highest_seq();
    c.mark = c.mark.max(accepted);
    let vk = c.vendor.verification_key(&sk, &ud, accepted, c.now);
    let n = ud.records.len() as u64;
    Ok(Json(AirgapAccepted {
        instance_id: ud.instance_id.clone(),
        received: n,
        new: n,
        already_present: 0,
        changed: 0,
        high_water_mark: c.mark,
        replay: false,
        verification_key: vk,
    }))
}

/// Starts the stand-in cloud on loopback; returns its URL and state.
async fn start(signer: Option<Vendor>) -> (String, Shared, Vendor) {
    let now = t(NOW);
    let cloud = Arc::new(Mutex::new(Cloud {
        vendor: Vendor::new(11, now - Duration::days(1)),
        signer,
        now,
        mark: 0,
        pinned: None,
        issued: HashMap::new(),
        usage_posts: 0,
        refuse_usage: None,
    }));
    let app = Router::new()
        .route("/api/v1/instances/{id}/sync-key", post(sync_key))
        .route("/api/v1/instances/{id}/usage-data", post(usage_data))
        // A 4 MiB usage data file grows when escaped into JSON: the endpoint must take more
        // than axum's default 2 MB (the real cloud must too).
        .layer(axum::extract::DefaultBodyLimit::max(8 << 20))
        .with_state(cloud.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // The agent's copy of the vendor: same seed, same root key.
    (url, cloud, Vendor::new(11, now - Duration::days(1)))
}

fn clock() -> FixedClock {
    FixedClock(t(NOW))
}

#[tokio::test]
async fn push_runs_rounds_until_nothing_remains_and_drops_what_the_cloud_holds() {
    let (url, cloud, mut vendor) = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init_agent(dir.path(), &mut vendor, t(NOW));
    let total = 15_000u64; // over one file's 4 MiB
    agent
        .record_rows(
            &many_rows(total as usize, "2026-03-01"),
            t(NOW).date_naive(),
        )
        .unwrap();

    let client = CloudClient::new(&url).unwrap();
    let summary = agent.push(&client, &clock()).await.unwrap();
    assert_eq!(
        summary.rounds.len(),
        2,
        "the rest follows in a second round"
    );
    assert_eq!(summary.records_sent(), total);
    assert_eq!(
        summary.rounds[1].export.above_mark,
        summary.rounds[0].export.highest_seq_sent
    );
    assert_eq!(
        (summary.waiting, summary.confirmed_mark()),
        (0, Some(total))
    );
    assert_eq!(cloud.lock().unwrap().mark, total);
    assert_eq!(cloud.lock().unwrap().pinned, Some(agent.public_key()));
    let status = agent.status().unwrap();
    assert_eq!((status.records_waiting, status.confirmed_mark), (0, total));
    assert_eq!(
        status.last_export.unwrap().via,
        usagedesk_agent::Via::Online
    );

    // Nothing new: one round with an empty file tells the cloud the instance is alive.
    let summary = agent.push(&client, &clock()).await.unwrap();
    assert_eq!((summary.rounds.len(), summary.records_sent()), (1, 0));
}

#[tokio::test]
async fn the_clouds_refusal_is_shown_and_the_records_stay() {
    let (url, cloud, mut vendor) = start(None).await;
    cloud.lock().unwrap().refuse_usage = Some((
        StatusCode::FORBIDDEN,
        "instance inst-acme-1 is pinned to another key: ask the vendor to reset it".into(),
    ));
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init_agent(dir.path(), &mut vendor, t(NOW));
    agent
        .record_rows(&[usage("acme", "2026-03-01", 5)], t(NOW).date_naive())
        .unwrap();
    let e = agent
        .push(&CloudClient::new(&url).unwrap(), &clock())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "cloud_refused");
    assert_eq!(
        e.to_string(),
        "the cloud refused the usage data (HTTP 403, forbidden): instance inst-acme-1 is pinned \
         to another key: ask the vendor to reset it"
    );
    assert_eq!(
        agent.pending_count().unwrap(),
        1,
        "nothing is dropped without a confirmation"
    );
    assert_eq!(agent.status().unwrap().confirmed_mark, 0);
}

#[tokio::test]
async fn a_sync_key_not_signed_under_the_vendor_key_stops_the_push_before_any_data_goes_out() {
    let (url, cloud, mut vendor) = start(Some(Vendor::new(99, t(NOW) - Duration::days(1)))).await;
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init_agent(dir.path(), &mut vendor, t(NOW));
    agent
        .record_rows(&[usage("acme", "2026-03-01", 5)], t(NOW).date_naive())
        .unwrap();
    let e = agent
        .push(&CloudClient::new(&url).unwrap(), &clock())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "untrusted_key", "{e}");
    assert_eq!(
        cloud.lock().unwrap().usage_posts,
        0,
        "no usage data for an untrusted cloud"
    );
    assert!(agent.exports(10).unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_cloud_says_so() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let mut vendor = Vendor::new(12, t(NOW) - Duration::days(1));
    let dir = tempfile::tempdir().unwrap();
    let mut agent: Agent = init_agent(dir.path(), &mut vendor, t(NOW));
    let e = agent
        .push(&CloudClient::new(&url).unwrap(), &clock())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "unreachable", "{e}");
    assert!(
        e.to_string().contains("check the URL and the network"),
        "{e}"
    );
}
