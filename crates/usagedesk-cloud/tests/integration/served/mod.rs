//! The `usagedesk-cloud` binary: `load`, `token`, `epoch`, `backup`, and `serve` on
//! 127.0.0.1 with a free port and its log captured.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_usagedesk-cloud");

/// Runs `usagedesk-cloud ARGS` to completion.
pub fn cloud(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run usagedesk-cloud")
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `usagedesk-cloud ARGS`, which must succeed; its stdout.
pub fn ok(args: &[&str]) -> String {
    let o = cloud(args);
    assert!(o.status.success(), "usagedesk-cloud {args:?}: {}", text(&o));
    String::from_utf8(o.stdout).expect("utf-8")
}

/// A database in `dir` with the small fixture (and its instances) loaded by the binary.
pub fn fixture_db(dir: &Path) -> PathBuf {
    let db = dir.join("cloud.db");
    let data = usagedesk_testkit::small_fixture();
    ok(&["load", "--db", path(&db), path(&data)]);
    db
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// `token create` for `account` (`*`: all) with `extra` flags: the token (last stdout line).
pub fn token(db: &Path, account: &str, extra: &[&str]) -> String {
    let mut args = vec!["token", "create", "--db", path(db), "--account", account];
    args.extend_from_slice(extra);
    let out = ok(&args);
    out.lines().last().expect("the token").trim().to_string()
}

/// The id of the token named `name` in `token list --json`.
pub fn token_id(db: &Path, name: &str) -> String {
    let out = ok(&["token", "list", "--db", path(db), "--json"]);
    out.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .find(|v| v["name"] == name)
        .and_then(|v| v["id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no token named {name} in {out}"))
}

/// `usagedesk-cloud serve` on a free loopback port.
pub struct Served {
    pub url: String,
    pub addr: std::net::SocketAddr,
    child: Child,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Served {
    /// Starts `serve --db DB --listen 127.0.0.1:0 ARGS` with the service's debug log on, and
    /// waits until it listens.
    pub fn start(db: &Path, args: &[&str]) -> Self {
        let mut command = Command::new(BIN);
        command.args(["serve", "--db", path(db)]);
        Self::spawn(command, args)
    }

    /// Starts `serve` on the database `db` (a file or a URL) given in `USAGEDESK_CLOUD_DB`, as
    /// [`start`](Self::start) does.
    pub fn start_env(db: &str, args: &[&str]) -> Self {
        let mut command = Command::new(BIN);
        command.arg("serve").env("USAGEDESK_CLOUD_DB", db);
        Self::spawn(command, args)
    }

    fn spawn(mut command: Command, args: &[&str]) -> Self {
        let mut child = command
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "usagedesk_cloud=debug,tower_http=debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start usagedesk-cloud serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let reader = {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(url) = line.strip_prefix("listening on ") {
                        let _ = tx.send(url.trim().to_string());
                    }
                    let mut log = log.lock().expect("log");
                    log.push_str(&line);
                    log.push('\n');
                }
            })
        };
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("serve did not start: {}", log.lock().expect("log"));
            }
        };
        let addr = url
            .trim_start_matches("http://")
            .parse()
            .expect("an address");
        Self {
            url,
            addr,
            child,
            log,
            reader: Some(reader),
        }
    }

    /// Everything the service wrote to its log so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    /// Waits (up to 30 s) until the log holds a line containing all of `needles`.
    pub fn wait_for_log(&self, needles: &[&str]) -> bool {
        for _ in 0..300 {
            if self
                .log()
                .lines()
                .any(|l| needles.iter().all(|n| l.contains(n)))
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Stops the service (the process this test started) and waits for it.
    pub fn stop(mut self) {
        self.kill();
    }

    /// Stops the service and returns its whole log, every line it wrote included.
    pub fn stop_and_log(mut self) -> String {
        self.kill();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.log()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A JSON answer: status, `Retry-After` and body.
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub body: serde_json::Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

pub async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let bytes = resp.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "every answer is JSON, got {status}: {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    Answer {
        status,
        retry_after,
        body,
    }
}

pub async fn get(url: &str, token: Option<&str>) -> Answer {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    answer(req.send().await.expect("request")).await
}

pub async fn post(url: &str, token: Option<&str>, body: &serde_json::Value) -> Answer {
    let mut req = reqwest::Client::new().post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    answer(req.send().await.expect("request")).await
}

/// `POST` of an online sync key request for `instance`, signed by the instance key's seed as
/// the agent signs it (docs/airgap-format.md, "Online mode").
#[allow(dead_code)]
pub async fn post_signed_sync_key_request(
    base: &str,
    instance: &str,
    seed: &[u8; 32],
    body: &serde_json::Value,
) -> Answer {
    use base64::Engine;
    use ed25519_dalek::Signer;
    let bytes = serde_json::to_vec(body).expect("json");
    let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let message = usagedesk_cloud::airgap::signed_request::signed_message(
        "usagedesk-sync-key-request-v1",
        instance,
        &timestamp,
        &bytes,
    );
    let signature = ed25519_dalek::SigningKey::from_bytes(seed).sign(&message);
    let req = reqwest::Client::new()
        .post(format!("{base}/api/v1/instances/{instance}/sync-key"))
        .header("content-type", "application/json")
        .header("x-usagedesk-timestamp", timestamp)
        .header(
            "x-usagedesk-signature",
            format!(
                "ed25519 {}",
                base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())
            ),
        )
        .body(bytes);
    answer(req.send().await.expect("request")).await
}
