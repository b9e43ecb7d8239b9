//! The cloud on loopback with the small fixture and three instances, and the files a manager's
//! app and an agent would make, written by the airgap crate.

#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use ed25519_dalek::Signer;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use reqwest::StatusCode;
use serde_json::{json, Value};
use usagedesk_airgap::{
    DelegationCertificate, Enrollment, FileKind, LicenseFile, PublicKey, SigningKey, SyncKey,
    SyncKeyRequest, UsageData, UsageRecord,
};
use usagedesk_cloud::airgap::identity;
use usagedesk_cloud::load::read_dataset;
use usagedesk_cloud::storage::{TokenKind, TokenScope};
use usagedesk_cloud::{tokens, RunningServer, Store};
use usagedesk_domain::Clock;
use usagedesk_testkit::engine;

/// `inst-de` (air-gapped) reports for acme-de's subtree, `inst-fr` (online) for acme-fr,
/// `inst-globex` (air-gapped) for globex-2's; none has a pinned key yet.
pub const INSTANCES_CSV: &str = "id,license_id,account_id,airgapped,public_key\n\
    inst-de,lic-de,acme-de,true,\n\
    inst-fr,lic-fr,acme-fr,false,\n\
    inst-globex,lic-globex,globex-2,true,\n";

/// Where the instances sit in the fixture's tree.
pub const DE_PATH: [&str; 3] = ["sp-acme", "acme-eu", "acme-de"];
pub const FR_PATH: [&str; 3] = ["sp-acme", "acme-eu", "acme-fr"];
pub const GLOBEX_PATH: [&str; 2] = ["sp-globex", "globex-2"];

/// A clock the test can move.
pub struct TestClock(Mutex<DateTime<Utc>>);

impl Clock for TestClock {
    fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }
}

/// Writes the small fixture with `instances` as its instances.csv into `dir`.
pub fn dataset(dir: &Path, instances: &str) {
    std::fs::create_dir_all(dir).expect("data dir");
    for f in ["accounts.csv", "daily_usage.csv"] {
        std::fs::copy(usagedesk_testkit::small_fixture().join(f), dir.join(f)).expect("copy");
    }
    std::fs::write(dir.join("instances.csv"), instances).expect("instances.csv");
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    /// The database of the engine `USAGEDESK_TEST_ENGINE` chose: a SQLite file in `dir`, or a
    /// fresh PostgreSQL database's URL.
    pub db: String,
    pub storage: Arc<dyn Store>,
    pub clock: Arc<TestClock>,
    pub server: RunningServer,
    http: reqwest::Client,
}

impl Harness {
    /// The service on a free port, the fixture loaded, the clock at the testkit's "now"
    /// (2024-07-15 12:00 UTC).
    pub async fn start() -> Self {
        Self::start_with(usagedesk_cloud::limits::Limits::default()).await
    }

    /// [`start`](Self::start) with the given limits.
    pub async fn start_with(limits: usagedesk_cloud::limits::Limits) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        dataset(&data, INSTANCES_CSV);
        let db = engine::database(dir.path());
        let storage = engine::open(&db);
        storage
            .load(
                read_dataset(&data).expect("dataset"),
                usagedesk_testkit::today(),
            )
            .expect("load");
        let clock = Arc::new(TestClock(Mutex::new(usagedesk_testkit::clock().now())));
        let server = usagedesk_cloud::spawn_with(
            storage.clone(),
            clock.clone(),
            "127.0.0.1:0".parse().expect("addr"),
            limits,
        )
        .await
        .expect("server");
        Self {
            dir,
            db,
            storage,
            clock,
            server,
            http: reqwest::Client::new(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn set_now(&self, t: DateTime<Utc>) {
        *self.clock.0.lock().expect("clock") = t;
    }

    pub fn token(&self, account: Option<&str>, kind: TokenKind) -> String {
        let token = tokens::generate(&mut rand::thread_rng());
        let scope = account.map_or(TokenScope::All, |a| TokenScope::Subtree(a.into()));
        self.storage
            .create_token(tokens::hash(&token), &scope, kind, "test-token", self.now())
            .expect("token");
        token
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(format!("{}{path}", self.server.url()));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        (status, resp.json().await.expect("every response is JSON"))
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        self.post_raw(path, token, serde_json::to_vec(body).expect("json"))
            .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.server.url()))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        (status, resp.json().await.expect("every response is JSON"))
    }

    /// The vendor root public key, as an agent is configured with it.
    pub async fn root(&self) -> PublicKey {
        let (s, body) = self.get("/api/v1/airgap/vendor-key", None).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        body["public_key"]
            .as_str()
            .expect("public_key")
            .parse()
            .expect("an ed25519 key")
    }

    /// A license file for `instance`, issued a week ago for 90 days, as `usagedesk-cloud
    /// license-file` writes it.
    pub fn license_file(&self, instance: &str) -> String {
        self.license_file_at(instance, self.now() - Duration::days(7))
    }

    /// The same, issued at `at`.
    pub fn license_file_at(&self, instance: &str, at: DateTime<Utc>) -> String {
        identity::issue_license_file(
            self.storage.as_ref(),
            instance,
            Duration::days(90),
            "test operator",
            at,
            &mut rand::thread_rng(),
        )
        .expect("a license file for a registered instance")
        .text
    }

    /// `POST /api/v1/instances/{instance}/sync-key` as `agent` sends it: signed by its key,
    /// with its enrollment when it has one.
    pub async fn ask_sync_key(&self, instance: &str, agent: &Agent) -> (StatusCode, Value) {
        let mut body = json!({ "public_key": agent.key.public_key().to_string() });
        if let Some(e) = &agent.enrollment {
            body["enrollment"] = json!(e.to_json());
        }
        let body = serde_json::to_vec(&body).expect("json");
        let (timestamp, signature) = agent.sign_request(instance, &body, self.now());
        self.post_with(
            &format!("/api/v1/instances/{instance}/sync-key"),
            &[
                ("x-usagedesk-timestamp", timestamp),
                ("x-usagedesk-signature", signature),
            ],
            body,
        )
        .await
    }

    /// A POST with extra headers and no token.
    pub async fn post_with(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.server.url()))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        (status, resp.json().await.expect("every response is JSON"))
    }

    /// The instance's key history, oldest first: `(event, actor, public key)`.
    pub fn key_events(&self, instance: &str) -> Vec<(String, String, Option<String>)> {
        self.storage
            .instance_key_events(instance)
            .expect("history")
            .into_iter()
            .map(|e| (e.event, e.actor, e.public_key))
            .collect()
    }

    /// `POST /api/v1/airgap/imports`.
    pub async fn import(&self, token: &str, sync_key: &str, usage: &str) -> (StatusCode, Value) {
        self.post(
            "/api/v1/airgap/imports",
            Some(token),
            &json!({ "sync_key": sync_key, "usage_data": usage }),
        )
        .await
    }

    /// Every row of every table the exchange writes to, for "nothing was written" checks.
    pub fn state(&self) -> String {
        let mut out = String::new();
        for (table, order) in [
            ("daily_usage", "account_id, date"),
            ("month_usage", "account_id, month"),
            ("instances", "id"),
            ("daily_sources", "account_id, date"),
            ("usage_files", "sha256"),
            ("online_sync_keys", "nonce"),
            ("instance_reports", "instance_id"),
            ("instance_events", "id"),
            ("instance_key_events", "id"),
            ("license_files", "id"),
            ("feed", "seq"),
        ] {
            for row in self.rows(&format!("SELECT * FROM {table} ORDER BY {order}")) {
                out.push_str(&format!("{table}: {row:?}\n"));
            }
        }
        out
    }

    /// The rows `sql` returns from the service's database, every value as text.
    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        engine::query_rows(&self.db, sql)
    }
}

pub fn path(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

pub fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

pub fn record(seq: u64, account: &str, date: &str, plan: &str, c: [u64; 3]) -> UsageRecord {
    UsageRecord {
        seq,
        account_id: account.into(),
        date: day(date),
        plan: plan.into(),
        users_registered: c[0],
        users_with_token: c[1],
        users_with_activity: c[2],
    }
}

/// A manager's app: a delegated key, certified by the cloud for the manager's token.
pub struct Manager {
    pub token: String,
    pub key: SigningKey,
    pub cert: DelegationCertificate,
    rng: ChaCha20Rng,
}

impl Manager {
    /// Obtains a certificate through `POST /api/v1/airgap/certificate` for a manager token
    /// of `account`'s subtree (`None`: every account).
    pub async fn certified(h: &Harness, account: Option<&str>, seed: u64) -> Self {
        let token = h.token(account, TokenKind::Manager);
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let key = SigningKey::generate(&mut rng);
        let (s, body) = h
            .post(
                "/api/v1/airgap/certificate",
                Some(&token),
                &json!({"public_key": key.public_key().to_string(), "subject": "alice@vendor.example"}),
            )
            .await;
        assert_eq!(
            s,
            StatusCode::OK,
            "a manager token gets a certificate: {body}"
        );
        let cert = DelegationCertificate::from_json(
            body["certificate"]
                .as_str()
                .expect("certificate")
                .as_bytes(),
        )
        .expect("the certificate parses");
        Self {
            token,
            key,
            cert,
            rng,
        }
    }

    /// [`certified`](Self::certified) with the cloud's clock at `at` (then put back): a
    /// manager who synced some days ago.
    pub async fn certified_at(
        h: &Harness,
        account: Option<&str>,
        seed: u64,
        at: DateTime<Utc>,
    ) -> Self {
        let now = h.now();
        h.set_now(at);
        let m = Self::certified(h, account, seed).await;
        h.set_now(now);
        m
    }

    /// Issues a sync key offline, at `at`, valid for `valid`.
    pub fn sync_key(
        &mut self,
        instance: &str,
        license: Option<&str>,
        account_path: &[&str],
        mark: u64,
        at: DateTime<Utc>,
        valid: Duration,
    ) -> String {
        SyncKey::issue(
            &SyncKeyRequest {
                instance_id: instance.into(),
                license_id: license.map(Into::into),
                account_path: path(account_path),
                high_water_mark: mark,
                expires_at: at + valid,
            },
            &self.key,
            &self.cert,
            &mut self.rng,
            at,
        )
        .expect("the manager can issue the sync key")
    }
}

/// An agent: an instance with its own key, and the enrollment its license file made.
pub struct Agent {
    pub id: String,
    pub license: String,
    pub seed: [u8; 32],
    pub key: SigningKey,
    /// `None`: no license file (an old agent, or a stranger): it writes version 1 files and
    /// asks for sync keys without an enrollment.
    pub enrollment: Option<Enrollment>,
}

impl Agent {
    pub fn new(id: &str, license: &str, seed: u8) -> Self {
        let seed = [seed; 32];
        Self {
            id: id.into(),
            license: license.into(),
            seed,
            key: SigningKey::from_bytes(&seed),
            enrollment: None,
        }
    }

    /// The agent of registered instance `id`, set up with a license file the cloud issues now.
    pub fn licensed(h: &Harness, id: &str, seed: u8) -> Self {
        let text = h.license_file(id);
        Self::from_license_file(h, &text, seed)
    }

    /// An agent set up with `license_file` (verified as the agent does).
    pub fn from_license_file(h: &Harness, license_file: &str, seed: u8) -> Self {
        let root = h.storage.vendor_root_key().expect("root").public_key();
        let file = LicenseFile::parse(license_file.as_bytes())
            .and_then(|f| f.verify(&root, h.now()))
            .expect("the agent accepts the license file");
        let mut agent = Self::new(&file.license.instance_id, &file.license.license_id, seed);
        agent.enrollment = Some(file.enroll(&agent.key.public_key()));
        agent
    }

    /// Signs a request body for `instance` (a sync key request) at `at`: the two headers.
    pub fn sign_request(&self, instance: &str, body: &[u8], at: DateTime<Utc>) -> (String, String) {
        let timestamp = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut message =
            format!("usagedesk-sync-key-request-v1\n{instance}\n{timestamp}\n").into_bytes();
        message.extend_from_slice(body);
        let key = ed25519_dalek::SigningKey::from_bytes(&self.seed);
        let sig = key.sign(&message);
        (
            timestamp,
            format!(
                "ed25519 {}",
                base64::engine::general_purpose::STANDARD.encode(sig.to_bytes())
            ),
        )
    }

    /// Verifies the sync key as the agent does (root key, its clock `at`) and answers it.
    pub fn answer(
        &self,
        root: &PublicKey,
        sync_key: &str,
        records: &[UsageRecord],
        at: DateTime<Utc>,
    ) -> String {
        let sk = SyncKey::parse(sync_key.as_bytes())
            .and_then(|s| s.verify(root, at))
            .expect("the agent accepts the sync key");
        UsageData::answer(
            &sk,
            &self.id,
            &self.license,
            records,
            &self.key,
            self.enrollment.as_ref(),
            at,
        )
        .expect("the agent answers")
    }

    /// Signs any usage data content with this agent's key, skipping every check a writer
    /// makes: what a broken or hostile agent would send.
    pub fn sign_raw(&self, body: &UsageData) -> String {
        let kind = FileKind::UsageData;
        let json = serde_json::to_string_pretty(body).expect("json");
        let version = if body.enrollment.is_some() { 2 } else { 1 };
        let signed = format!("{}\nVersion: {version}\n{json}\n", kind.begin_line());
        let key = ed25519_dalek::SigningKey::from_bytes(&self.seed);
        let sig = key.sign(signed.as_bytes());
        format!(
            "{signed}Signature: ed25519 {}\n{}\n",
            base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()),
            kind.end_line()
        )
    }
}

/// The usage data content of an armored file.
pub fn body_of(usage: &str) -> UsageData {
    UsageData::parse(usage.as_bytes())
        .expect("parses")
        .unverified()
        .clone()
}
