//! Who may report and whom an agent answers, with the built binaries only: `usagedesk-cloud
//! serve` on 127.0.0.1 (and its `load`, `token`, `license-file`, `instance` commands on the same
//! database), `usagedesk-agent` and `usagedesk-cli`; a stranger, a rogue agent and a manager of
//! another subtree are played with raw HTTP and the format crate, as they would be.

mod bins;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use base64::Engine;
use chrono::{Duration, Utc};
use ed25519_dalek::Signer;
use rand::rngs::OsRng;
use rand::RngCore;
use serde_json::{json, Value};
use usagedesk_airgap::{
    DelegationCertificate, FileKind, ImportCounts, SigningKey, SyncKey, SyncKeyRequest, UsageData,
    UsageRecord, VerificationKey,
};

fn bin(name: &str) -> PathBuf {
    bins::sibling(name, name)
}

fn run(bin: &Path, args: &[&str], token: Option<&str>) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_remove("USAGEDESK_TOKEN")
        .env_remove("USAGEDESK_AGENT_STATE")
        .env_remove("USAGEDESK_CLOUD_URL");
    if let Some(t) = token {
        cmd.env("USAGEDESK_TOKEN", t);
    }
    cmd.output().expect("run")
}

fn ok(o: Output) -> String {
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "failed: {out}\n{err}");
    format!("{out}{err}")
}

fn failed(o: Output) -> String {
    assert!(
        !o.status.success(),
        "should have failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `usagedesk-cloud serve` on a free loopback port, over the small fixture. Stopped (the
/// process this test started, by its own handle) when dropped.
struct Served {
    child: Child,
    url: String,
    db: String,
    dir: tempfile::TempDir,
    log: Arc<Mutex<String>>,
}

impl Served {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("cloud.db").display().to_string();
        let cloud = bin("usagedesk-cloud");
        let fixture = usagedesk_testkit::small_fixture().display().to_string();
        ok(run(&cloud, &["load", "--db", &db, &fixture], None));
        let mut child = Command::new(&cloud)
            .args(["serve", "--db", &db, "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "usagedesk_cloud=info,tower_http=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let log = Arc::new(Mutex::new(String::new()));
        let url = loop {
            let line = lines
                .next()
                .expect("the service says where it listens")
                .expect("stderr");
            log.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.trim_end_matches('/').to_owned();
            }
        };
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Self {
            child,
            url,
            db,
            dir,
            log,
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn cloud(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--db", &self.db]);
        run(&bin("usagedesk-cloud"), &all, None)
    }

    /// A manager token of `account`'s subtree, named `name`.
    fn token(&self, account: &str, name: &str) -> String {
        let out = ok(self.cloud(&["token", "create", "--account", account, "--name", name]));
        out.lines()
            .find(|l| !l.is_empty() && !l.contains(' '))
            .expect("the token")
            .to_owned()
    }

    fn license_file(&self, instance: &str) -> String {
        let file = self.path(&format!("{instance}-{}.license", OsRng.next_u32()));
        ok(self.cloud(&["license-file", "--instance", instance, "-o", &file]));
        file
    }

    fn vendor_key(&self) -> String {
        ok(self.cloud(&["vendor-key"]))
            .lines()
            .next()
            .expect("first line")
            .to_owned()
    }

    /// The instance's key history, as `usagedesk-cloud instance history --json` prints it.
    fn history(&self, instance: &str) -> Vec<Value> {
        ok(self.cloud(&["instance", "history", "--instance", instance, "--json"]))
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect()
    }

    /// The instance as the change feed sends it to a manager of every account.
    fn instance(&self, id: &str) -> Value {
        let token = self.token("*", "feed reader");
        let client =
            reqwest::blocking_get(&format!("{}/api/v1/changes?limit=20000", self.url), &token);
        client["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .find(|c| c["kind"] == "instance" && c["id"] == id)
            .cloned()
            .expect("the instance is on the feed")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Blocking HTTP, for a test that runs the binaries synchronously.
mod reqwest {
    use serde_json::Value;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    pub fn blocking_get(url: &str, token: &str) -> Value {
        runtime().block_on(async {
            ::reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("GET")
                .json()
                .await
                .expect("JSON")
        })
    }

    /// POST `body` with `headers` (and a bearer `token`): the status and the JSON answer.
    pub fn post(
        url: &str,
        token: Option<&str>,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (u16, Value) {
        runtime().block_on(async {
            let mut req = ::reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .body(body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            for (name, value) in headers {
                req = req.header(*name, value);
            }
            let resp = req.send().await.expect("POST");
            let status = resp.status().as_u16();
            (status, resp.json().await.unwrap_or(Value::Null))
        })
    }
}

/// A key the test holds the seed of, to sign what a stranger or rogue writes.
struct Key {
    seed: [u8; 32],
    key: SigningKey,
}

impl Key {
    fn new() -> Self {
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        Self {
            seed,
            key: SigningKey::from_bytes(&seed),
        }
    }

    fn public(&self) -> String {
        self.key.public_key().to_string()
    }

    fn sign(&self, message: &[u8]) -> String {
        let sig = ed25519_dalek::SigningKey::from_bytes(&self.seed).sign(message);
        base64::engine::general_purpose::STANDARD.encode(sig.to_bytes())
    }

    /// Armor and sign `body` as a file of `kind`, skipping every check a writer makes.
    fn armor<T: serde::Serialize>(&self, kind: FileKind, version: u32, body: &T) -> String {
        let json = serde_json::to_string_pretty(body).expect("json");
        let signed = format!("{}\nVersion: {version}\n{json}\n", kind.begin_line());
        format!(
            "{signed}Signature: ed25519 {}\n{}\n",
            self.sign(signed.as_bytes()),
            kind.end_line()
        )
    }

    /// `POST …/instances/{id}/sync-key` signed by this key, as an agent signs it.
    fn ask_sync_key(&self, served: &Served, instance: &str, body: Value) -> (u16, Value) {
        let body = serde_json::to_vec(&body).expect("json");
        let timestamp = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut message =
            format!("usagedesk-sync-key-request-v1\n{instance}\n{timestamp}\n").into_bytes();
        message.extend_from_slice(&body);
        reqwest::post(
            &format!("{}/api/v1/instances/{instance}/sync-key", served.url),
            None,
            &[
                ("x-usagedesk-timestamp", timestamp),
                (
                    "x-usagedesk-signature",
                    format!("ed25519 {}", self.sign(&message)),
                ),
            ],
            body,
        )
    }

    /// A delegation certificate for this key from the cloud, for `token`'s scope.
    fn certificate(&self, served: &Served, token: &str) -> DelegationCertificate {
        let (status, body) = reqwest::post(
            &format!("{}/api/v1/airgap/certificate", served.url),
            Some(token),
            &[],
            serde_json::to_vec(&json!({"public_key": self.public(), "subject": "mallory@globex"}))
                .unwrap(),
        );
        assert_eq!(status, 200, "{body}");
        DelegationCertificate::from_json(body["certificate"].as_str().unwrap().as_bytes())
            .expect("certificate")
    }
}

fn agent_status(state: &str) -> Value {
    let out = run(
        &bin("usagedesk-agent"),
        &["status", "--state", state, "--json"],
        None,
    );
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("status JSON")
}

fn init_agent(served: &Served, license: &str, name: &str) -> String {
    let state = served.path(name);
    ok(run(
        &bin("usagedesk-agent"),
        &[
            "init",
            "--state",
            &state,
            "--license-file",
            license,
            "--vendor-key",
            &served.vendor_key(),
        ],
        None,
    ));
    state
}

fn record_rows(served: &Served, state: &str, rows: &str) {
    let csv = served.path(&format!("rows-{}.csv", OsRng.next_u32()));
    std::fs::write(
        &csv,
        format!(
            "account_id,date,plan,users_registered,users_with_token,users_with_activity\n{rows}"
        ),
    )
    .unwrap();
    ok(run(
        &bin("usagedesk-agent"),
        &["record", "--state", state, &csv],
        None,
    ));
}

fn push(served: &Served, state: &str) -> Output {
    run(
        &bin("usagedesk-agent"),
        &["push", "--state", state, "--url", &served.url],
        None,
    )
}

#[test]
fn a_stranger_cannot_become_an_online_instance_and_no_refusal_shows_a_key() {
    let served = Served::start();
    let stranger = Key::new();

    // The first unauthenticated request for a guessable instance id: it pins nothing.
    let (status, body) = reqwest::post(
        &format!("{}/api/v1/instances/inst-fr/sync-key", served.url),
        None,
        &[],
        serde_json::to_vec(&json!({"public_key": stranger.public()})).unwrap(),
    );
    assert_eq!(status, 401, "an unsigned request is refused: {body}");
    // Signed by its own key, but without the license's enrollment.
    let (status, body) =
        stranger.ask_sync_key(&served, "inst-fr", json!({"public_key": stranger.public()}));
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("carries no enrollment"),
        "{body}"
    );
    assert_eq!(served.instance("inst-fr")["public_key"], Value::Null);
    assert!(served.history("inst-fr").is_empty(), "nothing was written");

    // The real agent, set up from the vendor's license file, pushes: its key is enrolled.
    let license = served.license_file("inst-fr");
    let state = init_agent(&served, &license, "fr");
    record_rows(&served, &state, "acme-fr,2024-06-30,standard,77,50,25\n");
    let out = ok(push(&served, &state));
    assert!(out.contains("pushed 1 records"), "{out}");
    let key = agent_status(&state)["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(served.instance("inst-fr")["public_key"], key.as_str());
    let events = served.history("inst-fr");
    let last = events.last().unwrap();
    assert_eq!(
        (&last["event"], &last["actor"], &last["public_key"]),
        (&json!("enrolled"), &json!("instance (online)"), &json!(key))
    );

    // From now on no refusal, to anyone, shows the registered key.
    let b64 = key.trim_start_matches("ed25519:");
    let (status, body) =
        stranger.ask_sync_key(&served, "inst-fr", json!({"public_key": stranger.public()}));
    assert_eq!(status, 403, "{body}");
    assert!(!body.to_string().contains(b64), "{body}");
    // An agent set up from a copy of the license file: refused, without the key.
    let copy = init_agent(&served, &license, "copy");
    let err = failed(push(&served, &copy));
    assert!(err.contains("registered with another key"), "{err}");
    assert!(!err.contains(b64), "{err}");
    let err = failed(run(
        &bin("usagedesk-agent"),
        &[
            "check-in",
            "--state",
            &copy,
            "--url",
            &served.url,
            "--app-version",
            "1.0",
        ],
        None,
    ));
    assert!(err.contains("HTTP 401"), "{err}");
    assert!(!err.contains(b64), "{err}");
    // Nor does the service's log.
    assert!(!served.log.lock().unwrap().contains(b64));
}

#[test]
fn an_agent_answers_only_managers_whose_scope_holds_its_own_account() {
    let served = Served::start();
    let license = served.license_file("inst-de");
    let state = init_agent(&served, &license, "de");
    record_rows(&served, &state, "acme-de,2024-06-30,premium,900,450,225\n");

    // A manager of sp-globex gets a certificate for his own subtree, and names it in a sync
    // key for the acme-de instance: the certificate covers what the sync key says.
    let mallory = Key::new();
    let globex = served.token("sp-globex", "mallory");
    let cert = mallory.certificate(&served, &globex);
    let now = Utc::now();
    let issue = |path: &[&str], key: &Key, cert: &DelegationCertificate| {
        SyncKey::issue(
            &SyncKeyRequest {
                instance_id: "inst-de".into(),
                license_id: Some("lic-acme-de".into()),
                account_path: path.iter().map(|s| s.to_string()).collect(),
                high_water_mark: 0,
                expires_at: now + Duration::days(1),
            },
            &key.key,
            cert,
            &mut OsRng,
            now,
        )
        .expect("issue")
    };
    let rogue = served.path("rogue.synckey");
    std::fs::write(&rogue, issue(&["sp-globex", "globex-2"], &mallory, &cert)).unwrap();
    let leaked = served.path("leaked.usage");
    let err = failed(run(
        &bin("usagedesk-agent"),
        &[
            "airgap",
            "export",
            "--state",
            &state,
            "--sync-key",
            &rogue,
            "-o",
            &leaked,
        ],
        None,
    ));
    assert!(
        err.contains("places the instance under sp-globex > globex-2, but the instance belongs under sp-acme > acme-eu > acme-de"),
        "{err}"
    );
    assert!(!Path::new(&leaked).exists(), "no usage left the instance");
    let status = agent_status(&state);
    assert_eq!(status["last_export"], Value::Null, "nothing was exported");

    // A manager of acme-eu (whose scope holds the instance's account) gets the answer.
    let alice = Key::new();
    let eu = served.token("acme-eu", "alice");
    let alice_cert = alice.certificate(&served, &eu);
    let good = served.path("good.synckey");
    std::fs::write(
        &good,
        issue(&["sp-acme", "acme-eu", "acme-de"], &alice, &alice_cert),
    )
    .unwrap();
    let usage = served.path("de.usage");
    ok(run(
        &bin("usagedesk-agent"),
        &[
            "airgap",
            "export",
            "--state",
            &state,
            "--sync-key",
            &good,
            "-o",
            &usage,
        ],
        None,
    ));

    // Mallory writes a verification key for that very file (its nonce and hash), signed
    // under his certificate for his own subtree: the agent drops nothing.
    let file = UsageData::parse(&std::fs::read(&usage).unwrap()).unwrap();
    let vk = VerificationKey {
        instance_id: "inst-de".into(),
        account_path: vec!["sp-globex".into(), "globex-2".into()],
        answers_nonce: file.unverified().answers_nonce,
        usage_file_sha256: file.sha256(),
        accepted_high_water_mark: 1,
        records: ImportCounts {
            received: 1,
            new: 1,
            already_present: 0,
            changed: 0,
        },
        issued_at: chrono::DateTime::from_timestamp(now.timestamp(), 0).unwrap(),
        issued_by: cert.subject.clone(),
        certificate: cert.clone(),
    };
    let vk_file = served.path("rogue.verificationkey");
    std::fs::write(&vk_file, mallory.armor(FileKind::VerificationKey, 1, &vk)).unwrap();
    let err = failed(run(
        &bin("usagedesk-agent"),
        &[
            "airgap",
            "confirm",
            "--state",
            &state,
            "--verification-key",
            &vk_file,
        ],
        None,
    ));
    assert!(
        err.contains("places the instance under sp-globex > globex-2"),
        "{err}"
    );
    let status = agent_status(&state);
    assert_eq!(status["records_waiting"], 1, "the record was not dropped");
    assert_eq!(status["confirmed_mark"], 0);
}

#[test]
fn a_first_file_pins_nothing_without_the_license_and_cannot_claim_an_absurd_mark() {
    let served = Served::start();
    let cli = bin("usagedesk-cli");
    let token = served.token("acme-eu", "eu-manager");
    let data = served.path("manager");
    ok(run(
        &cli,
        &["--data-dir", &data, "sync", "--url", &served.url],
        Some(&token),
    ));
    let sk = served.path("inst-de.synckey");
    ok(run(
        &cli,
        &[
            "--data-dir",
            &data,
            "airgap",
            "issue-sync-key",
            "--instance",
            "inst-de",
            "-o",
            &sk,
        ],
        None,
    ));
    let sk_text = std::fs::read_to_string(&sk).unwrap();
    let vendor = served.vendor_key().parse().unwrap();
    let verified = SyncKey::parse(sk_text.as_bytes())
        .unwrap()
        .verify(&vendor, Utc::now())
        .unwrap();

    // A rogue agent answers with its own key and no license: a record at the end of the
    // 63-bit range, which would hold the instance's mark there for good.
    let rogue = Key::new();
    let record = |seq| UsageRecord {
        seq,
        account_id: "acme-de".into(),
        date: "2024-06-30".parse().unwrap(),
        plan: "premium".into(),
        users_registered: 1,
        users_with_token: 1,
        users_with_activity: 1,
    };
    let modest = UsageData::answer(
        &verified,
        "inst-de",
        "lic-acme-de",
        &[record(1)],
        &rogue.key,
        None,
        Utc::now(),
    )
    .unwrap();
    let mut body = UsageData::parse(modest.as_bytes())
        .unwrap()
        .unverified()
        .clone();
    body.records[0].seq = i64::MAX as u64;
    let absurd = rogue.armor(FileKind::UsageData, 1, &body);

    // The manager's desktop refuses both, as the cloud would, and hands back nothing.
    for (name, text, says) in [
        ("absurd.usage", &absurd, "above the mark 0"),
        ("modest.usage", &modest, "has no registered key yet"),
    ] {
        let file = served.path(name);
        std::fs::write(&file, text).unwrap();
        let vk = served.path(&format!("{name}.vk"));
        let err = failed(run(
            &cli,
            &["--data-dir", &data, "airgap", "import", &file, "-o", &vk],
            None,
        ));
        assert!(err.contains(says), "{name}: {err}");
        assert!(!Path::new(&vk).exists(), "{name}: no verification key");
    }
    // Uploaded straight to the cloud with the manager's token: refused, nothing pinned.
    for text in [&absurd, &modest] {
        let (status, body) = reqwest::post(
            &format!("{}/api/v1/airgap/imports", served.url),
            Some(&token),
            &[],
            serde_json::to_vec(&json!({"sync_key": sk_text, "usage_data": text})).unwrap(),
        );
        assert_eq!(status, 422, "{body}");
    }
    let inst = served.instance("inst-de");
    assert_eq!(inst["public_key"], Value::Null);
    assert_eq!(inst["high_water_mark"], 0);

    // The real agent, set up from its license file, answers; its first file enrolls it.
    let license = served.license_file("inst-de");
    let state = init_agent(&served, &license, "de");
    record_rows(
        &served,
        &state,
        "acme-de,2024-06-30,premium,900,450,225\nacme-de-ber,2024-06-30,basic,41,20,10\n",
    );
    let usage = served.path("de.usage");
    ok(run(
        &bin("usagedesk-agent"),
        &[
            "airgap",
            "export",
            "--state",
            &state,
            "--sync-key",
            &sk,
            "-o",
            &usage,
        ],
        None,
    ));
    let vk = served.path("de.vk");
    let out = ok(run(
        &cli,
        &["--data-dir", &data, "airgap", "import", &usage, "-o", &vk],
        None,
    ));
    assert!(out.contains("2 new"), "{out}");
    ok(run(
        &bin("usagedesk-agent"),
        &[
            "airgap",
            "confirm",
            "--state",
            &state,
            "--verification-key",
            &vk,
        ],
        None,
    ));
    let synced = ok(run(&cli, &["--data-dir", &data, "sync"], Some(&token)));
    assert!(synced.contains("uploaded 1"), "{synced}");
    let key = agent_status(&state)["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let inst = served.instance("inst-de");
    assert_eq!(inst["public_key"], key.as_str());
    assert_eq!(inst["high_water_mark"], 2);
    let last = served.history("inst-de").pop().unwrap();
    assert_eq!(
        (&last["event"], &last["actor"]),
        (&json!("enrolled"), &json!("eu-manager")),
        "the upload that let the key in is recorded with its token"
    );
}

#[test]
fn the_vendor_resets_a_key_and_revokes_a_copied_license_file() {
    let served = Served::start();
    let license = served.license_file("inst-fr");
    let first = init_agent(&served, &license, "first");
    ok(push(&served, &first));

    // Reinstalled: a new state, a new key. Refused until the vendor resets the key.
    let again = init_agent(&served, &license, "again");
    let err = failed(push(&served, &again));
    assert!(err.contains("HTTP 403"), "{err}");
    let out = ok(served.cloud(&[
        "instance",
        "reset-key",
        "--instance",
        "inst-fr",
        "--by",
        "carol",
    ]));
    assert!(out.contains("removed the key of instance inst-fr"), "{out}");
    assert!(out.contains("1 license file can enroll it"), "{out}");
    ok(push(&served, &again));

    // The license file was copied: reset and revoke; the copy cannot enroll, a new one can.
    let out = ok(served.cloud(&[
        "instance",
        "reset-key",
        "--instance",
        "inst-fr",
        "--revoke-license-files",
        "--by",
        "carol",
    ]));
    assert!(out.contains("revoked 1 license file"), "{out}");
    let copy = init_agent(&served, &license, "copy");
    let err = failed(push(&served, &copy));
    assert!(err.contains("was revoked on"), "{err}");
    let renewed = served.license_file("inst-fr");
    let state = init_agent(&served, &renewed, "renewed");
    ok(push(&served, &state));

    let events: Vec<(String, String)> = served
        .history("inst-fr")
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let user = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    let expected: Vec<(String, String)> = [
        ("license_file_issued", user.as_str()),
        ("enrolled", "instance (online)"),
        ("reset", "carol"),
        ("enrolled", "instance (online)"),
        ("reset", "carol"),
        ("license_files_revoked", "carol"),
        ("license_file_issued", user.as_str()),
        ("enrolled", "instance (online)"),
    ]
    .iter()
    .map(|(e, a)| (e.to_string(), a.to_string()))
    .collect();
    assert_eq!(events, expected);
    let text = ok(served.cloud(&["instance", "history", "--instance", "inst-fr"]));
    assert!(
        text.contains("reset") && text.contains("by carol"),
        "{text}"
    );
}
