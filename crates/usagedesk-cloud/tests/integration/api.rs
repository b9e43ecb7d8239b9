//! The manager and ingest API, driven over HTTP against the real service on loopback.

use reqwest::StatusCode;
use serde_json::{json, Value};
use usagedesk_cloud::storage::TokenKind;
use usagedesk_testkit::{small_fixture, Cloud, Expected};

async fn get(cloud: &Cloud, token: &str, path: &str) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{}{path}", cloud.url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    (status, resp.json().await.expect("every response is JSON"))
}

async fn post_raw(cloud: &Cloud, token: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/usage", cloud.url()))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    (status, resp.json().await.expect("every response is JSON"))
}

/// Every change the token can see, from the start of the feed.
async fn feed(cloud: &Cloud, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let (s, page) = get(
            cloud,
            token,
            &format!("/api/v1/changes?limit=7&cursor={cursor}"),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{page}");
        out.extend(page["changes"].as_array().expect("changes").iter().cloned());
        cursor = page["next_cursor"].as_str().expect("cursor").to_string();
        if !page["has_more"].as_bool().expect("has_more") {
            return out;
        }
    }
}

fn snapshot(usage: &Value) -> json::Snapshot {
    json::Snapshot(usage.clone())
}

mod json {
    #[derive(Debug, PartialEq)]
    pub struct Snapshot(pub serde_json::Value);
}

#[tokio::test]
async fn summary_matches_an_independent_computation() {
    let cloud = Cloud::start(&small_fixture()).await;
    let exp = Expected::small();
    let token = cloud.token(None, TokenKind::Manager);
    for (account, scope) in [
        ("sp-acme", "tree"),
        ("acme-eu", "children"),
        ("acme-de-muc", "self"),
        ("sp-globex", "tree"),
    ] {
        let (s, body) = get(
            &cloud,
            &token,
            &format!("/api/v1/accounts/{account}/monthly-usage-summary?from=2024-01&to=2024-06&scope={scope}"),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let rows = body["rows"].as_array().expect("rows");
        let in_scope = exp.in_scope(account, scope);
        assert_eq!(
            rows.len(),
            in_scope.len() * 6,
            "one row per account in scope and month"
        );
        assert_eq!(
            rows[0]["account_id"], account,
            "the account itself comes first in tree order"
        );
        for row in rows {
            let id = row["account_id"].as_str().expect("id");
            let month = row["month"].as_str().expect("month");
            assert!(
                in_scope.iter().any(|a| *a == id),
                "{id} is in scope {scope} of {account}"
            );
            let availability = exp.availability(id, month);
            assert_eq!(row["availability"], availability, "{id} {month}");
            match exp.month_end.get(&(id.to_string(), month.to_string())) {
                Some((plan, c)) if availability == "ok" => {
                    assert_eq!(row["plan"], plan.as_str(), "{id} {month}");
                    assert_eq!(row["own"]["users_registered"], c[0]);
                    assert_eq!(row["own"]["users_with_token"], c[1]);
                    assert_eq!(row["own"]["users_with_activity"], c[2]);
                }
                _ => {
                    assert!(
                        row["own"].is_null() && row["plan"].is_null(),
                        "no value is shown as 0: {row}"
                    );
                }
            }
            for (plan, t) in exp.totals(id, month) {
                let got = &row["totals"][&plan];
                assert_eq!(
                    [
                        &got["users_registered"],
                        &got["users_with_token"],
                        &got["users_with_activity"]
                    ],
                    [&json!(t[0]), &json!(t[1]), &json!(t[2])],
                    "subtree total of {id} in {month} for {plan}"
                );
            }
        }
    }
    // The fixture holds the cases the definitions are about; make sure they were exercised.
    assert_eq!(exp.availability("acme-de-muc", "2024-02"), "non_existent");
    assert_eq!(exp.availability("acme-us", "2024-03"), "not_available");
    assert_eq!(
        exp.month_end[&("acme-fr".into(), "2024-02".into())].1[0],
        999,
        "the later of two rows for one date wins"
    );
}

#[tokio::test]
async fn summary_refuses_months_that_are_not_complete_and_bad_parameters() {
    let cloud = Cloud::start(&small_fixture()).await;
    let token = cloud.token(None, TokenKind::Manager);
    for (query, needle) in [
        ("from=2024-06&to=2024-07", "not a completed month"),
        ("from=2024-05&to=2024-04", "after"),
        ("from=2024-5&to=2024-06", "YYYY-MM"),
        (
            "from=2024-01&to=2024-06&scope=everything",
            "self, children or tree",
        ),
        ("to=2024-06", "from"),
    ] {
        let (s, body) = get(
            &cloud,
            &token,
            &format!("/api/v1/accounts/sp-acme/monthly-usage-summary?{query}"),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"]["code"], "bad_request");
        let msg = body["error"]["message"].as_str().expect("message");
        assert!(
            msg.contains(needle),
            "{query}: '{msg}' should mention '{needle}'"
        );
    }
}

#[tokio::test]
async fn a_scoped_token_sees_only_its_subtree_through_every_endpoint() {
    let cloud = Cloud::start(&small_fixture()).await;
    let exp = Expected::small();
    let token = cloud.token(Some("acme-eu"), TokenKind::Manager);

    let (s, me) = get(&cloud, &token, "/api/v1/me").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["account_id"], "acme-eu");

    for outside in [
        "sp-acme",
        "acme-us",
        "sp-globex",
        "globex-2a",
        "no-such-account",
    ] {
        let (s, body) = get(&cloud, &token, &format!("/api/v1/accounts/{outside}")).await;
        assert_eq!(
            s,
            StatusCode::NOT_FOUND,
            "{outside} is outside acme-eu: {body}"
        );
        let (s, _) = get(
            &cloud,
            &token,
            &format!("/api/v1/accounts/{outside}/monthly-usage-summary?from=2024-01&to=2024-06&scope=tree"),
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "no summary of {outside} either");
    }
    let (s, _) = get(&cloud, &token, "/api/v1/accounts/acme-de-muc").await;
    assert_eq!(s, StatusCode::OK, "a grandchild is inside the subtree");

    let changes = feed(&cloud, &token).await;
    let mut seen: Vec<&str> = changes
        .iter()
        .map(|c| c["account_id"].as_str().or(c["id"].as_str()).expect("id"))
        .collect();
    seen.sort();
    seen.dedup();
    let mut expected: Vec<&str> = exp
        .accounts
        .keys()
        .filter(|id| exp.is_descendant_or_self(id, "acme-eu"))
        .map(String::as_str)
        .collect();
    expected.sort();
    assert_eq!(seen, expected, "the feed holds exactly the subtree");

    let all = cloud.token(None, TokenKind::Manager);
    let everything = feed(&cloud, &all).await;
    let rows_in_subtree = everything
        .iter()
        .filter(|c| expected.contains(&c["account_id"].as_str().or(c["id"].as_str()).expect("id")))
        .count();
    assert_eq!(
        changes.len(),
        rows_in_subtree,
        "no change of the subtree is missing from the scoped feed"
    );
}

#[tokio::test]
async fn tokens_are_checked_and_kinds_kept_apart() {
    let cloud = Cloud::start(&small_fixture()).await;
    let manager = cloud.token(None, TokenKind::Manager);
    let ingest = cloud.token(Some("sp-acme"), TokenKind::Ingest);

    let (s, body) = get(&cloud, "udk_not-a-real-token", "/api/v1/me").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");

    let resp = reqwest::get(format!("{}/api/v1/changes", cloud.url()))
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "no token, no data");

    let (s, body) = get(&cloud, &ingest, "/api/v1/changes").await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "an ingest token cannot read: {body}"
    );

    let snap = json!({"snapshots":[{"account_id":"acme-fr","date":"2024-07-01","plan":"basic",
        "users_registered":1,"users_with_token":1,"users_with_activity":1}]});
    let (s, body) = post_raw(&cloud, &manager, serde_json::to_vec(&snap).expect("json")).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a manager token cannot write usage: {body}"
    );

    let (s, v) = get(&cloud, "", "/api/v1/version").await;
    assert_eq!(s, StatusCode::OK, "the version needs no token");
    assert_eq!(v["api_version"], 1);
}

#[tokio::test]
async fn bad_input_is_refused_with_a_reason_and_nothing_is_written() {
    let cloud = Cloud::start(&small_fixture()).await;
    let reader = cloud.token(None, TokenKind::Manager);
    let ingest = cloud.token(Some("sp-acme"), TokenKind::Ingest);
    let before = snapshot(&Value::Array(feed(&cloud, &reader).await));

    let good = json!({"account_id":"acme-fr","date":"2024-07-02","plan":"basic",
        "users_registered":5,"users_with_token":4,"users_with_activity":3});
    let with = |field: &str, value: Value| {
        let mut s = good.clone();
        s[field] = value;
        json!({ "snapshots": [good.clone(), s] })
    };
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        ("malformed JSON", b"{\"snapshots\": [".to_vec(), StatusCode::BAD_REQUEST, "not valid"),
        ("unknown account", serde_json::to_vec(&with("account_id", json!("nobody"))).unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "unknown"),
        ("account outside the token", serde_json::to_vec(&with("account_id", json!("globex-2"))).unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "unknown"),
        ("negative count", serde_json::to_vec(&with("users_with_token", json!(-3))).unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "0 or more"),
        ("date in the future", serde_json::to_vec(&with("date", json!("2024-07-16"))).unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "future"),
        ("date before the account existed", serde_json::to_vec(&with("account_id", json!("acme-de-muc"))).map(|_| serde_json::to_vec(&json!({"snapshots":[{"account_id":"acme-de-muc","date":"2024-03-01","plan":"basic","users_registered":1,"users_with_token":1,"users_with_activity":1}]})).unwrap()).unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "before account"),
        ("unknown plan", serde_json::to_vec(&with("plan", json!("gold"))).unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "catalog"),
        ("not a date", serde_json::to_vec(&with("date", json!("yesterday"))).unwrap(), StatusCode::BAD_REQUEST, "not valid"),
        ("unknown field", serde_json::to_vec(&with("color", json!("red"))).unwrap(), StatusCode::BAD_REQUEST, "color"),
        ("empty", serde_json::to_vec(&json!({"snapshots": []})).unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "at least one"),
        ("body over the limit", {
            let one = serde_json::to_string(&good).unwrap();
            let n = usagedesk_domain::api::MAX_BODY_BYTES / one.len() + 10;
            format!("{{\"snapshots\":[{}]}}", vec![one; n].join(",")).into_bytes()
        }, StatusCode::PAYLOAD_TOO_LARGE, "larger than"),
    ];
    for (what, body, status, needle) in cases {
        let (s, resp) = post_raw(&cloud, &ingest, body).await;
        assert_eq!(s, status, "{what}: {resp}");
        let msg = resp["error"]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains(needle),
            "{what}: '{msg}' should say '{needle}'"
        );
    }
    let after = snapshot(&Value::Array(feed(&cloud, &reader).await));
    assert_eq!(
        before, after,
        "refused requests change nothing, not even the valid first snapshot"
    );
}

#[tokio::test]
async fn ingest_derives_month_end_rows_and_moves_them_to_the_feed_head() {
    let cloud = Cloud::start(&small_fixture()).await;
    let reader = cloud.token(None, TokenKind::Manager);
    let ingest = cloud.token(Some("sp-acme"), TokenKind::Ingest);
    let (_, head) = get(&cloud, &reader, "/api/v1/changes?limit=20000").await;
    let cursor = head["next_cursor"].as_str().expect("cursor").to_string();

    // June's last snapshot of acme-us is on the 29th; a row on the 30th becomes the month-end
    // value, a row on the 1st does not.
    let body = json!({"snapshots":[
        {"account_id":"acme-us","date":"2024-06-30","plan":"premium","users_registered":70,"users_with_token":60,"users_with_activity":50},
        {"account_id":"acme-us","date":"2024-06-01","plan":"basic","users_registered":1,"users_with_token":1,"users_with_activity":1},
    ]});
    let (s, resp) = post_raw(&cloud, &ingest, serde_json::to_vec(&body).expect("json")).await;
    assert_eq!(s, StatusCode::OK, "{resp}");
    assert_eq!(resp["accepted"], 2);
    assert_eq!(
        resp["months_changed"], 1,
        "both rows fall in June: one month-end row"
    );

    let (_, page) = get(
        &cloud,
        &reader,
        &format!("/api/v1/changes?cursor={cursor}&count=true"),
    )
    .await;
    let changes = page["changes"].as_array().expect("changes");
    assert_eq!(
        changes.len(),
        1,
        "only the changed month row is new: {page}"
    );
    assert_eq!(page["remaining"], 1);
    let c = &changes[0];
    assert_eq!(
        (
            c["kind"].as_str(),
            c["account_id"].as_str(),
            c["month"].as_str()
        ),
        (Some("month_usage"), Some("acme-us"), Some("2024-06"))
    );
    assert_eq!(
        (c["plan"].as_str(), c["users_registered"].as_u64()),
        (Some("premium"), Some(70))
    );

    // Sending the same rows again changes no month-end row.
    let (_, resp) = post_raw(&cloud, &ingest, serde_json::to_vec(&body).expect("json")).await;
    assert_eq!(resp["months_changed"], 0, "ingest is idempotent");
}

#[tokio::test]
async fn cursors_from_elsewhere_are_refused_clearly() {
    let cloud = Cloud::start(&small_fixture()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let (s, body) = get(&cloud, &token, "/api/v1/changes?cursor=0123456789abcdef.10").await;
    assert_eq!(s, StatusCode::GONE, "a cursor of another dataset: {body}");
    assert_eq!(body["error"]["code"], "cursor_expired");
    let (s, body) = get(&cloud, &token, "/api/v1/changes?cursor=garbage").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (s, _) = get(&cloud, &token, "/api/v1/changes?limit=0").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, body) = get(&cloud, &token, "/api/v2/changes").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}
