//! Nothing the customer was told we hold is lost, with the real binaries: `usagedesk-cloud
//! serve` on 127.0.0.1 (its dataset loaded, and loaded again to move an account, with
//! `usagedesk-cloud load`), `usagedesk-agent` at the customer, `usagedesk-cli` at the vendor.
//!
//! - A file whose sync key was issued before its account moved is accepted at the next sync.
//! - A file the cloud refuses (its account moved out of the token's scope) stays kept, shown
//!   with the reason; discard needs --yes; a retry after the cause is fixed uploads it.
//! - A file queued for one account is not sent with another account's token: the switch
//!   needs --force, and the file goes up once back.
//! - Logout removes the signing key and certificate, and keeps the file queued.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

/// A workspace binary beside this test's CLI, brought up to date first (a lone
/// `cargo test -p usagedesk-cli` does not rebuild the other packages' binaries).
fn sibling(package: &str) -> PathBuf {
    let cli = Path::new(env!("CARGO_BIN_EXE_usagedesk-cli"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let ok = Command::new(cargo)
        .args(["build", "-p", package, "--bin", package])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cannot build {package}");
    cli.with_file_name(format!("{package}{}", std::env::consts::EXE_SUFFIX))
}

fn run(bin: &Path, args: &[&str], token: Option<&str>) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args).env_remove("USAGEDESK_TOKEN");
    if let Some(t) = token {
        cmd.env("USAGEDESK_TOKEN", t);
    }
    cmd.output().expect("run")
}

fn ok(o: Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "failed: {text}");
    text
}

fn failed(o: Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!o.status.success(), "should have failed: {text}");
    text
}

/// The cloud service, stopped when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct World {
    dir: tempfile::TempDir,
    cloud: PathBuf,
    cli: PathBuf,
    agent: PathBuf,
    db: String,
    url: String,
    vendor: String,
    _serve: Serve,
}

impl World {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Writes the small fixture into `data` with acme-de under `parent` and inst-de's key.
    fn dataset(&self, parent: &str, instance_key: &str) -> String {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/small");
        let data = self.dir.path().join(format!("data-{parent}"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::copy(
            fixture.join("daily_usage.csv"),
            data.join("daily_usage.csv"),
        )
        .unwrap();
        let accounts = std::fs::read_to_string(fixture.join("accounts.csv"))
            .unwrap()
            .replace(
                "acme-de,\"Acme \"\"Deutschland\"\" GmbH\",acme-eu,",
                &format!("acme-de,\"Acme \"\"Deutschland\"\" GmbH\",{parent},"),
            );
        std::fs::write(data.join("accounts.csv"), accounts).unwrap();
        std::fs::write(
            data.join("instances.csv"),
            format!(
                "id,license_id,account_id,airgapped,public_key\n\
                 inst-de,lic-acme-de,acme-de,true,{instance_key}\n"
            ),
        )
        .unwrap();
        data.display().to_string()
    }

    /// `usagedesk-cloud load` of the fixture with acme-de under `parent`, while it serves.
    fn load(&self, parent: &str, instance_key: &str) {
        let data = self.dataset(parent, instance_key);
        ok(run(&self.cloud, &["load", "--db", &self.db, &data], None));
    }

    fn token(&self, account: &str) -> String {
        let out = ok(run(
            &self.cloud,
            &["token", "create", "--db", &self.db, "--account", account],
            None,
        ));
        out.lines()
            .find(|l| l.starts_with("udk_"))
            .expect("a token line")
            .trim()
            .to_owned()
    }

    fn cli(&self, data: &str, args: &[&str], token: Option<&str>) -> Output {
        let mut all = vec!["--data-dir", data];
        all.extend_from_slice(args);
        run(&self.cli, &all, token)
    }

    /// The customer answers a fresh sync key from `data` and confirms the verification key:
    /// the agent drops the records, the vendor's desktop is the only one holding them.
    fn exchange(&self, data: &str, state: &str, csv_rows: &str, tag: &str) {
        let csv = self.path(&format!("{tag}.csv"));
        std::fs::write(
            &csv,
            format!("account_id,date,plan,users_registered,users_with_token,users_with_activity\n{csv_rows}"),
        )
        .unwrap();
        ok(run(&self.agent, &["record", "--state", state, &csv], None));
        let (sk, ud, vk) = (
            self.path(&format!("{tag}.synckey")),
            self.path(&format!("{tag}.usage")),
            self.path(&format!("{tag}.verificationkey")),
        );
        ok(self.cli(
            data,
            &[
                "airgap",
                "issue-sync-key",
                "--instance",
                "inst-de",
                "-o",
                &sk,
            ],
            None,
        ));
        ok(run(
            &self.agent,
            &[
                "airgap",
                "export",
                "--state",
                state,
                "--sync-key",
                &sk,
                "-o",
                &ud,
            ],
            None,
        ));
        ok(self.cli(data, &["airgap", "import", &ud, "-o", &vk], None));
        ok(run(
            &self.agent,
            &[
                "airgap",
                "confirm",
                "--state",
                state,
                "--verification-key",
                &vk,
            ],
            None,
        ));
    }

    /// acme-de's own June 2024 users registered, as a fresh manager syncs it from the cloud.
    fn cloud_value(&self, token: &str, tag: &str) -> Option<u64> {
        let fresh = self.path(&format!("fresh-{tag}"));
        ok(self.cli(&fresh, &["sync", "--url", &self.url], Some(token)));
        let out = ok(self.cli(
            &fresh,
            &[
                "usage",
                "--account",
                "acme-de",
                "--month",
                "2024-06",
                "--json",
            ],
            None,
        ));
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        v["own"]["users_registered"].as_u64()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The cloud loaded and serving, the agent set up with its key pinned by the vendor.
fn world() -> (World, String) {
    let dir = tempfile::tempdir().unwrap();
    let (cloud, cli, agent) = (
        sibling("usagedesk-cloud"),
        PathBuf::from(env!("CARGO_BIN_EXE_usagedesk-cli")),
        sibling("usagedesk-agent"),
    );
    let db = dir.path().join("cloud.db").display().to_string();
    let mut w = World {
        dir,
        cloud,
        cli,
        agent,
        db,
        url: String::new(),
        vendor: String::new(),
        _serve: Serve(Command::new("true").spawn().unwrap()),
    };
    // Load once without a key, to have the vendor key; the agent makes its own key; the
    // vendor registers it in instances.csv (a key pinned by the vendor).
    w.load("acme-eu", "");
    w.vendor = ok(run(&w.cloud, &["vendor-key", "--db", &w.db], None))
        .lines()
        .find(|l| l.starts_with("ed25519:"))
        .unwrap()
        .to_owned();
    let license = w.path("inst-de.license");
    ok(run(
        &w.cloud,
        &[
            "license-file",
            "--db",
            &w.db,
            "--instance",
            "inst-de",
            "-o",
            &license,
        ],
        None,
    ));
    let state = w.path("agent");
    ok(run(
        &w.agent,
        &[
            "init",
            "--state",
            &state,
            "--license-file",
            &license,
            "--vendor-key",
            &w.vendor,
        ],
        None,
    ));
    let status: serde_json::Value = serde_json::from_str(&ok(run(
        &w.agent,
        &["status", "--state", &state, "--json"],
        None,
    )))
    .unwrap();
    let key = status["public_key"]
        .as_str()
        .expect("the agent's key")
        .to_owned();
    w.load("acme-eu", &key);
    let port = free_port();
    let child = Command::new(&w.cloud)
        .args([
            "serve",
            "--db",
            &w.db,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    w._serve = Serve(child);
    w.url = format!("http://127.0.0.1:{port}/");
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    (w, key)
}

#[test]
fn a_file_whose_account_moved_before_the_next_sync_is_not_lost() {
    let (w, key) = world();
    let all = w.token("*");
    let data = w.path("manager");
    let state = w.path("agent");
    ok(w.cli(&data, &["sync", "--url", &w.url], Some(&all)));
    w.exchange(
        &data,
        &state,
        "acme-de,2024-06-30,premium,900,450,225\n",
        "one",
    );

    // The vendor moves acme-de to another parent and loads the tree again before the sync.
    w.load("sp-globex", &key);
    let synced = ok(w.cli(&data, &["sync"], Some(&all)));
    assert!(
        synced.contains("uploaded 1"),
        "accepted under the path of the time: {synced}"
    );
    assert_eq!(
        w.cloud_value(&all, "moved"),
        Some(900),
        "the cloud holds the customer's usage"
    );
    let outbox = ok(w.cli(&data, &["airgap", "outbox"], None));
    assert!(outbox.contains("the outbox is empty"), "{outbox}");
    // The agent answers only sync keys naming the path its license names: the vendor sends a
    // new license file for the moved account.
    let license = w.path("inst-de-moved.license");
    ok(run(
        &w.cloud,
        &[
            "license-file",
            "--db",
            &w.db,
            "--instance",
            "inst-de",
            "-o",
            &license,
        ],
        None,
    ));
    let taken = ok(run(
        &w.agent,
        &["license", "--state", &state, "--license-file", &license],
        None,
    ));
    assert!(taken.contains("account moved from"), "{taken}");

    // A file queued, then logout: the signing key and certificate go, the file stays.
    w.exchange(
        &data,
        &state,
        "acme-de,2024-06-30,premium,905,450,225\n",
        "two",
    );
    let out = ok(w.cli(&data, &["logout"], None));
    assert!(out.contains("signing key were removed"), "{out}");
    assert!(
        out.contains("1 imported usage data file(s) stay queued for"),
        "{out}"
    );
    let refused = failed(w.cli(
        &data,
        &[
            "airgap",
            "issue-sync-key",
            "--instance",
            "inst-de",
            "-o",
            &w.path("x.synckey"),
        ],
        None,
    ));
    assert!(
        refused.contains("no signing certificate"),
        "nothing can be signed: {refused}"
    );
    let synced = ok(w.cli(&data, &["sync"], Some(&all)));
    assert!(
        synced.contains("uploaded 1"),
        "signed in again, the file goes up: {synced}"
    );
    assert_eq!(w.cloud_value(&all, "after-logout"), Some(905));
}

#[test]
fn a_refused_file_is_kept_shown_and_uploaded_on_retry_and_never_sent_with_another_token() {
    let (w, key) = world();
    let acme = w.token("sp-acme");
    let data = w.path("manager");
    let state = w.path("agent");
    ok(w.cli(&data, &["sync", "--url", &w.url], Some(&acme)));
    w.exchange(
        &data,
        &state,
        "acme-de,2024-06-30,premium,901,450,225\n",
        "one",
    );

    // acme-de moves out of the token's subtree: the cloud refuses the upload (404).
    w.load("sp-globex", &key);
    let synced = ok(w.cli(&data, &["sync"], Some(&acme)));
    assert!(
        synced.contains("refused 1") && synced.contains("kept"),
        "{synced}"
    );
    let outbox = ok(w.cli(&data, &["airgap", "outbox"], None));
    assert!(outbox.contains("REFUSED (404)"), "{outbox}");
    assert!(
        outbox.contains("is visible to this token"),
        "the cloud's reason is shown: {outbox}"
    );
    assert!(
        outbox.contains("airgap retry ID"),
        "and what to do: {outbox}"
    );
    let line = ok(w.cli(&data, &["airgap", "outbox", "--json"], None));
    let row: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    let id = row["id"].as_i64().unwrap().to_string();
    assert_eq!(row["queued"]["refused_status"], 404);

    // Discarding asks for --yes; without it nothing changes.
    let refused = failed(w.cli(&data, &["airgap", "discard", &id], None));
    assert!(
        refused.contains("--yes") && refused.contains("for good"),
        "{refused}"
    );
    assert!(ok(w.cli(&data, &["airgap", "outbox"], None)).contains("REFUSED"));
    // A later sync does not send it again by itself.
    let again = ok(w.cli(&data, &["sync"], Some(&acme)));
    assert!(!again.contains("refused 1"), "{again}");

    // The vendor moves it back; the manager retries: accepted.
    w.load("acme-eu", &key);
    let retried = ok(w.cli(&data, &["airgap", "retry", &id], Some(&acme)));
    assert!(retried.contains("uploaded"), "{retried}");
    assert_eq!(w.cloud_value(&w.token("*"), "retried"), Some(901));

    // Another file, then another account's token: the sync refuses to switch, says why,
    // and with --force the file stays queued for its own account, sent only once back.
    ok(w.cli(&data, &["sync"], Some(&acme)));
    w.exchange(
        &data,
        &state,
        "acme-de,2024-06-30,premium,902,450,225\n",
        "two",
    );
    let other = w.token("sp-globex");
    let refused = failed(w.cli(&data, &["sync"], Some(&other)));
    assert!(
        refused.contains("still queued for") && refused.contains("--force"),
        "{refused}"
    );
    let switched = ok(w.cli(&data, &["sync", "--force"], Some(&other)));
    assert!(!switched.contains("uploaded"), "{switched}");
    assert_eq!(
        w.cloud_value(&w.token("*"), "switched"),
        Some(901),
        "not sent with the other token"
    );
    let status = ok(w.cli(&data, &["status"], None));
    assert!(
        status.contains("1 for another cloud or account"),
        "{status}"
    );
    let back = ok(w.cli(&data, &["sync"], Some(&acme)));
    assert!(back.contains("uploaded 1"), "{back}");
    assert_eq!(w.cloud_value(&w.token("*"), "back"), Some(902));
}
