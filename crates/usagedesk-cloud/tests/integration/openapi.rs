//! The OpenAPI document at `/api/v1/openapi.json` against the real service on loopback:
//! every route the router serves is in the document and every documented operation is served
//! (routes read from the router itself, methods probed over HTTP), and the answers of every
//! operation, successes and refusals, are documented statuses whose bodies match the
//! document's schemas.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::common::{record, Agent, Harness, Manager, DE_PATH};
use base64::Engine;
use chrono::Duration;
use ed25519_dalek::Signer;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use usagedesk_cloud::customers::check_in::{signed_message, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use usagedesk_cloud::http::{router, AppState, DOCUMENT_PATH};
use usagedesk_cloud::limits::Limits;
use usagedesk_cloud::TokenKind;

/// Limits with rate budgets no test here reaches, so that every answer comes from a handler.
fn roomy() -> Limits {
    Limits {
        per_address: "100000/1m".parse().expect("rate"),
        per_instance: "100000/1m".parse().expect("rate"),
        ..Limits::default()
    }
}

/// The methods a route could be served under (HEAD follows GET in axum).
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

async fn fetch_document(h: &Harness) -> Value {
    let resp = reqwest::get(format!("{}{DOCUMENT_PATH}", h.server.url()))
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK, "the document needs no token");
    assert_eq!(
        resp.headers()["content-type"],
        "application/json",
        "served as JSON"
    );
    resp.json().await.expect("the document is JSON")
}

/// `(METHOD, path template)` of every operation in the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item")
                .keys()
                .filter(|m| METHODS.iter().any(|k| k.as_str().eq_ignore_ascii_case(m)))
                .map(|m| (m.to_ascii_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The path templates the router holds, read from its `Debug` output (axum prints each
/// route's id and path: `RouteId(3): "/api/v1/me"`); the router has no other way to list them.
fn router_paths(h: &Harness) -> BTreeSet<String> {
    let state = AppState::new(h.storage.clone(), h.clock.clone(), Arc::new(roomy()));
    let debug = format!("{:?}", router(state));
    // The routes, not the fallback router's catch-all paths that follow them.
    let (routes, _) = debug
        .split_once("fallback_router:")
        .expect("axum's Router Debug output names its path router, then its fallback router");
    let mut paths = BTreeSet::new();
    let mut rest = routes;
    while let Some(i) = rest.find("RouteId(") {
        rest = &rest[i..];
        let Some(open) = rest.find(": \"") else { break };
        let after = &rest[open + 3..];
        let close = after.find('"').expect("a closing quote");
        paths.insert(after[..close].to_string());
        rest = &after[close..];
    }
    paths
}

/// A concrete path for a template: each `{param}` becomes `probe`.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|seg| if seg.starts_with('{') { "probe" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_route_is_in_the_document_and_every_documented_route_is_served() {
    let h = Harness::start_with(roomy()).await;
    let doc = fetch_document(&h).await;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "OpenAPI 3.1: {}",
        doc["openapi"]
    );
    let documented = operations(&doc);
    let paths = router_paths(&h);
    let documented_paths: BTreeSet<String> = documented.iter().map(|(_, p)| p.clone()).collect();
    assert!(
        paths.is_superset(&documented_paths),
        "the router's paths as read from its Debug output ({paths:?}) miss documented ones: \
         either axum's Debug format changed (fix router_paths) or a documented path is not \
         served"
    );

    // Which methods each path answers: anything but the method fallback's 405 is a route.
    let http = reqwest::Client::new();
    let mut served = BTreeSet::new();
    for path in &paths {
        for method in METHODS {
            let resp = http
                .request(
                    method.clone(),
                    format!("{}{}", h.server.url(), concrete(path)),
                )
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("request");
            let status = resp.status();
            let body: Value = resp.json().await.expect("every answer is JSON");
            let fell_through = status == StatusCode::NOT_FOUND
                && body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("no such endpoint"));
            assert!(
                !fell_through,
                "{method} {path}: a path of the router reached the not-found fallback"
            );
            if status != StatusCode::METHOD_NOT_ALLOWED {
                served.insert((method.as_str().to_string(), path.clone()));
            }
        }
    }
    let undocumented: Vec<_> = served.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in the OpenAPI document: {undocumented:?}. Give each handler a \
         #[utoipa::path(...)] attribute and register it in documented() \
         (crates/usagedesk-cloud/src/http/openapi.rs) with .routes(routes!(handler)), not with \
         .route(...)"
    );
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        unserved.is_empty(),
        "in the OpenAPI document but not served: {unserved:?}"
    );
    assert!(
        served.len() >= 13,
        "the probe found the service's routes: {served:?}"
    );
}

/// Sends requests to the real service and checks each answer against the document: its
/// status is one the operation lists, its body matches that status's schema.
struct Checker {
    doc: Value,
    base: String,
    http: reqwest::Client,
    /// `(METHOD, template)` → the statuses seen and checked.
    seen: BTreeMap<(String, String), BTreeSet<u16>>,
}

/// Whether `path` is an instance of `template` (`{param}` matches one segment).
fn matches(template: &str, path: &str) -> bool {
    let (t, p): (Vec<_>, Vec<_>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
}

impl Checker {
    fn new(h: &Harness, doc: Value) -> Self {
        Self {
            doc,
            base: h.server.url(),
            http: reqwest::Client::new(),
            seen: BTreeMap::new(),
        }
    }

    fn get(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let req = self.http.get(format!("{}{path}", self.base));
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::RequestBuilder {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> reqwest::RequestBuilder {
        self.post(path, token, serde_json::to_vec(body).expect("json"))
    }

    /// Sends `req` (an instance of `template`), checks the answer, returns it.
    async fn send(&mut self, template: &str, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let req = req.build().expect("a request");
        let method = req.method().as_str().to_string();
        assert!(
            matches(template, req.url().path()),
            "{} is not an instance of {template}",
            req.url().path()
        );
        let resp = self.http.execute(req).await.expect("the service answers");
        let status = resp.status();
        let content_type = resp.headers().get("content-type").cloned();
        let body: Value = resp.json().await.expect("every answer is JSON");
        assert_eq!(
            content_type.as_ref().and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "{method} {template} → {status}: the document says JSON"
        );
        self.validate(&method, template, status, &body);
        self.seen
            .entry((method, template.to_string()))
            .or_default()
            .insert(status.as_u16());
        (status, body)
    }

    fn validate(&self, method: &str, template: &str, status: StatusCode, body: &Value) {
        let op = &self.doc["paths"][template][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {template} is not in the document");
        let response = &op["responses"][status.as_str()];
        assert!(
            response.is_object(),
            "{method} {template} answered {status}, a status the document does not list for \
             it (it lists {:?}): {body}",
            op["responses"]
                .as_object()
                .map(|r| r.keys().collect::<Vec<_>>())
        );
        let schema = &response["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {template} {status} has no JSON schema"
        );
        // The response's schema, with the document's components beside it so that its
        // `#/components/schemas/…` references resolve.
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"],
            "allOf": [schema],
        });
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{method} {template} {status}: the schema compiles: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{e} (at {})", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {template} {status}: the answer does not match the document: \
             {errors:#?}\n{body:#}"
        );
    }
}

/// A body of `n` bytes of valid JSON text (a long string).
fn padded(n: usize) -> Vec<u8> {
    let mut b = b"{\"x\":\"".to_vec();
    b.resize(n - 2, b'a');
    b.extend_from_slice(b"\"}");
    b
}

#[tokio::test]
async fn every_answer_is_a_documented_status_with_a_documented_shape() {
    let h = Harness::start_with(roomy()).await;
    let doc = fetch_document(&h).await;
    let mut c = Checker::new(&h, doc.clone());
    let all = h.token(None, TokenKind::Manager);
    let eu = h.token(Some("acme-eu"), TokenKind::Manager);
    let ingest = h.token(None, TokenKind::Ingest);

    // The service.
    let (s, _) = c
        .send("/api/v1/version", c.get("/api/v1/version", None))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, served) = c.send(DOCUMENT_PATH, c.get(DOCUMENT_PATH, None)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(served, doc, "the same document every time");
    let (s, _) = c
        .send(
            "/api/v1/airgap/vendor-key",
            c.get("/api/v1/airgap/vendor-key", None),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // Who am I, with every kind of caller.
    let me = "/api/v1/me";
    for (token, want) in [
        (Some(all.as_str()), StatusCode::OK),
        (Some(eu.as_str()), StatusCode::OK),
        (None, StatusCode::UNAUTHORIZED),
        (Some("not-a-token"), StatusCode::UNAUTHORIZED),
        (Some(ingest.as_str()), StatusCode::FORBIDDEN),
    ] {
        let (s, body) = c.send(me, c.get(me, token)).await;
        assert_eq!(s, want, "{body}");
    }

    // The change feed: two pages, then bad limits and cursors.
    let feed = "/api/v1/changes";
    let (s, page) = c
        .send(feed, c.get("/api/v1/changes?limit=7&count=true", Some(&eu)))
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let kinds: BTreeSet<&str> = page["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|ch| ch["kind"].as_str())
        .collect();
    assert!(!kinds.is_empty(), "the first page has changes: {page}");
    let cursor = page["next_cursor"].as_str().expect("a cursor").to_string();
    let (s, _) = c
        .send(
            feed,
            c.get(
                &format!("/api/v1/changes?limit=20000&cursor={cursor}"),
                Some(&eu),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // Every kind of change the fixture has, through a token that sees everything.
    let (s, everything) = c
        .send(feed, c.get("/api/v1/changes?limit=20000", Some(&all)))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(everything["has_more"], false, "the fixture fits one page");
    for (query, want) in [
        ("limit=0", StatusCode::BAD_REQUEST),
        ("limit=20001", StatusCode::BAD_REQUEST),
        ("limit=ten", StatusCode::BAD_REQUEST),
        ("cursor=not-a-cursor", StatusCode::BAD_REQUEST),
    ] {
        let (s, body) = c
            .send(feed, c.get(&format!("{feed}?{query}"), Some(&eu)))
            .await;
        assert_eq!(s, want, "{query}: {body}");
    }

    // The compact encoding of the feed: a content type the document lists for its 200.
    let compact = c
        .get("/api/v1/changes?limit=5", Some(&eu))
        .header("accept", usagedesk_domain::feed_codec::MEDIA_TYPE)
        .send()
        .await
        .expect("request");
    assert_eq!(compact.status(), StatusCode::OK);
    let media = compact.headers()["content-type"].to_str().expect("ascii");
    let media = media.split(';').next().expect("a media type");
    assert!(
        doc["paths"][feed]["get"]["responses"]["200"]["content"][media].is_object(),
        "the feed answered {media}, which its 200 does not list"
    );

    // Accounts and summaries.
    let account = "/api/v1/accounts/{id}";
    let (s, _) = c
        .send(account, c.get("/api/v1/accounts/acme-de", Some(&eu)))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = c
        .send(account, c.get("/api/v1/accounts/sp-globex", Some(&eu)))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "outside the token's subtree");
    let summary = "/api/v1/accounts/{id}/monthly-usage-summary";
    for (query, want) in [
        ("from=2024-01&to=2024-06&scope=tree", StatusCode::OK),
        ("from=2024-01&to=2024-06&scope=children", StatusCode::OK),
        ("from=2024-01&to=2024-06", StatusCode::OK),
        ("from=2024-13&to=2024-06", StatusCode::BAD_REQUEST),
        ("from=2024-01&to=2024-07", StatusCode::BAD_REQUEST),
        ("from=2024-06&to=2024-01", StatusCode::BAD_REQUEST),
        (
            "from=2024-01&to=2024-06&scope=everything",
            StatusCode::BAD_REQUEST,
        ),
        ("to=2024-06", StatusCode::BAD_REQUEST),
    ] {
        let (s, body) = c
            .send(
                summary,
                c.get(
                    &format!("/api/v1/accounts/acme-eu/monthly-usage-summary?{query}"),
                    Some(&eu),
                ),
            )
            .await;
        assert_eq!(s, want, "{query}: {body}");
    }
    let (s, _) = c
        .send(
            summary,
            c.get(
                "/api/v1/accounts/nobody/monthly-usage-summary?from=2024-01&to=2024-06",
                Some(&eu),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Ingest.
    let usage = "/api/v1/usage";
    let snapshot = json!({"account_id": "acme-fr", "date": "2024-07-01", "plan": "basic",
        "users_registered": 3, "users_with_token": 2, "users_with_activity": 1});
    let mut negative = snapshot.clone();
    negative["users_with_token"] = json!(-1);
    for (token, body, want) in [
        (&ingest, json!({"snapshots": [snapshot]}), StatusCode::OK),
        (
            &ingest,
            json!({"snapshots": [negative]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &ingest,
            json!({"snapshots": "none"}),
            StatusCode::BAD_REQUEST,
        ),
        (&all, json!({"snapshots": []}), StatusCode::FORBIDDEN),
    ] {
        let (s, answer) = c.send(usage, c.post_json(usage, Some(token), &body)).await;
        assert_eq!(s, want, "{body}: {answer}");
    }
    let (s, _) = c
        .send(usage, c.post(usage, Some(&ingest), padded(5 * 1024 * 1024)))
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);

    // The air-gapped exchange: a certificate, an imported file, refusals.
    let certificate = "/api/v1/airgap/certificate";
    let key = usagedesk_airgap::SigningKey::from_bytes(&[9; 32]);
    for (body, want) in [
        (
            json!({"public_key": key.public_key().to_string(), "subject": "bob@vendor.example"}),
            StatusCode::OK,
        ),
        (
            json!({"public_key": "ed25519:nope", "subject": "bob@vendor.example"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"public_key": key.public_key().to_string()}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (s, answer) = c
            .send(certificate, c.post_json(certificate, Some(&eu), &body))
            .await;
        assert_eq!(s, want, "{body}: {answer}");
    }
    let (s, _) = c
        .send(
            certificate,
            c.post(certificate, Some(&eu), padded(20 * 1024)),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);

    let root = h.root().await;
    let mut manager = Manager::certified(&h, Some("acme-eu"), 1).await;
    let de = Agent::licensed(&h, "inst-de", 3);
    let sync_key = manager.sync_key(
        "inst-de",
        Some("lic-de"),
        &DE_PATH,
        0,
        h.now(),
        Duration::days(7),
    );
    let file = de.answer(
        &root,
        &sync_key,
        &[record(1, "acme-de", "2024-07-01", "basic", [5, 4, 3])],
        h.now(),
    );
    let imports = "/api/v1/airgap/imports";
    let upload = json!({"sync_key": sync_key, "usage_data": file});
    for want in [StatusCode::OK, StatusCode::OK] {
        let (s, answer) = c
            .send(imports, c.post_json(imports, Some(&manager.token), &upload))
            .await;
        assert_eq!(s, want, "the file, then its replay: {answer}");
    }
    let cut = json!({"sync_key": sync_key, "usage_data": &file[..file.len() / 2]});
    let (s, _) = c
        .send(imports, c.post_json(imports, Some(&manager.token), &cut))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a file cut short");

    // The agent's online mode: a sync key, its answer, a check-in.
    let fr = Agent::licensed(&h, "inst-fr", 4);
    let sync = "/api/v1/instances/{id}/sync-key";
    let fr_key = json!({
        "public_key": fr.key.public_key().to_string(),
        "enrollment": fr.enrollment.as_ref().expect("a licensed agent").to_json(),
    });
    // Signed by the instance's key, as the agent sends it.
    let ask = |instance: &str, body: &Value| {
        let bytes = serde_json::to_vec(body).expect("json");
        let (timestamp, signature) = fr.sign_request(instance, &bytes, h.now());
        c.post(
            &format!("/api/v1/instances/{instance}/sync-key"),
            None,
            bytes,
        )
        .header(TIMESTAMP_HEADER, timestamp)
        .header(SIGNATURE_HEADER, signature)
    };
    let first = ask("inst-fr", &fr_key);
    let requests = [
        (
            ask("inst-fr", &json!({"public_key": "ed25519:nope"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (ask("nobody", &fr_key), StatusCode::NOT_FOUND),
        (ask("inst-globex", &fr_key), StatusCode::FORBIDDEN),
        (
            c.post_json("/api/v1/instances/inst-fr/sync-key", None, &fr_key),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    let (s, issued) = c.send(sync, first).await;
    assert_eq!(s, StatusCode::OK, "{issued}");
    for (req, want) in requests {
        let (s, answer) = c.send(sync, req).await;
        assert_eq!(s, want, "{answer}");
    }
    let online = "/api/v1/instances/{id}/usage-data";
    let answer = fr.answer(
        &root,
        issued["sync_key"].as_str().expect("a sync key"),
        &[record(1, "acme-fr", "2024-07-02", "basic", [6, 5, 4])],
        h.now(),
    );
    for (path, body, want) in [
        (
            "/api/v1/instances/inst-fr/usage-data",
            json!({"usage_data": answer}),
            StatusCode::OK,
        ),
        (
            "/api/v1/instances/inst-fr/usage-data",
            json!({"usage_data": "nonsense"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/instances/nobody/usage-data",
            json!({"usage_data": answer}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (s, reply) = c.send(online, c.post_json(path, None, &body)).await;
        assert_eq!(s, want, "{path}: {reply}");
    }

    let check_in = "/api/v1/instances/{id}/check-in";
    let report = serde_json::to_vec(&json!({
        "resources": {"web": "ready", "db": "degraded"},
        "app_version": "1.4.2",
        "cluster": {"distribution": "eks", "kubernetes_version": "1.30.2",
            "embedded_cluster": false, "nodes_ready": 3, "nodes_total": 3,
            "agent_version": "0.1.0", "cloud_provider": "aws", "region": "eu-west-3"},
    }))
    .expect("json");
    let timestamp = h.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let signing = ed25519_dalek::SigningKey::from_bytes(&fr.seed);
    let signature = format!(
        "ed25519 {}",
        base64::engine::general_purpose::STANDARD.encode(
            signing
                .sign(&signed_message("inst-fr", &timestamp, &report))
                .to_bytes()
        )
    );
    let signed = |path: &str, body: Vec<u8>| {
        c.post(path, None, body)
            .header(TIMESTAMP_HEADER, &timestamp)
            .header(SIGNATURE_HEADER, &signature)
    };
    let requests = [
        (
            signed("/api/v1/instances/inst-fr/check-in", report.clone()),
            StatusCode::OK,
        ),
        (
            c.post("/api/v1/instances/inst-fr/check-in", None, report.clone()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            signed("/api/v1/instances/inst-fr/check-in", b"{}".to_vec()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            signed("/api/v1/instances/nobody/check-in", report.clone()),
            StatusCode::NOT_FOUND,
        ),
        (
            signed("/api/v1/instances/inst-globex/check-in", report.clone()),
            StatusCode::FORBIDDEN,
        ),
        (
            signed("/api/v1/instances/inst-fr/check-in", padded(65 * 1024)),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (req, want) in requests {
        let (s, reply) = c.send(check_in, req).await;
        assert_eq!(s, want, "{reply}");
    }

    // Every documented operation answered with success at least once, and was checked.
    let unchecked: Vec<_> = operations(&doc)
        .into_iter()
        .filter(|op| !c.seen.get(op).is_some_and(|s| s.contains(&200)))
        .collect();
    assert!(
        unchecked.is_empty(),
        "no successful answer of these operations was checked against the document: \
         {unchecked:?}; seen: {:?}",
        c.seen
    );
}
