//! The real app window driven through `tauri-driver` (which starts WebKitWebDriver, which
//! starts the app): a small W3C WebDriver client, enough for the app section's timings.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use usagedesk_desktop::webview_env::VARIABLES;

/// How long one wait for the window may take before the bench gives up.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// `tauri-driver` on a free port, in a process group of its own that is killed on drop (the
/// app and its WebKit processes with it). The apps it starts get `home` as their HOME (window
/// state, WebKit caches) and no D-Bus session: the bench never touches the user's files.
pub struct Driver {
    child: Child,
    port: u16,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Where `tauri-driver` is: `$TAURI_DRIVER`, else `cargo install`'s folder.
fn tauri_driver_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return Ok(p.into());
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    Ok(cargo_home.join("bin/tauri-driver"))
}

impl Driver {
    pub fn start(home: &Path) -> Result<Self> {
        let path = tauri_driver_path()?;
        if !path.exists() {
            bail!(
                "tauri-driver is not installed at {}: run ./scripts/setup.sh",
                path.display()
            );
        }
        if std::env::var_os("DISPLAY").is_none() {
            bail!(
                "no DISPLAY: the app section needs an X server (e.g. `Xvfb :63 &` and DISPLAY=:63)"
            );
        }
        let (port, native) = (free_port()?, free_port()?);
        let mut command = Command::new(&path);
        let child = webkit_process(&mut command, home)?
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", path.display()))?;
        let driver = Self { child, port };
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if t.elapsed() > Duration::from_secs(10) {
                bail!("tauri-driver did not listen on {port} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(driver)
    }

    /// The pid of `tauri-driver`; the app is a descendant of it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Whether the bench takes `name` out of the caller's environment for every WebKit process
/// tree it runs: the WebKit and graphics variables the app sets itself
/// (`usagedesk_desktop::webview_env::VARIABLES`; the end-to-end tests set two of them), so the
/// app is measured with the settings it gives itself, as a user who starts it gets them. A
/// `JSC_*` variable set by the caller passes through (`JSC_useJIT=true` measures the app with
/// the JIT, which it leaves alone when set).
pub fn cleared(name: &str) -> bool {
    VARIABLES.contains(&name) && !name.starts_with("JSC_")
}

/// Sets `command` up as the bench runs every WebKit process tree (the app's through
/// tauri-driver, MiniBrowser's for the floor): a process group of its own (killed as one), a
/// HOME with its own runtime folder under `home` (created), no desktop session bus, and none
/// of the variables [`cleared`] names.
pub fn webkit_process<'c>(command: &'c mut Command, home: &Path) -> Result<&'c mut Command> {
    let runtime = home.join("run");
    std::fs::create_dir_all(&runtime)?;
    command
        .process_group(0)
        .env("HOME", home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    for name in VARIABLES.into_iter().filter(|name| cleared(name)) {
        command.env_remove(name);
    }
    Ok(command)
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group started above: tauri-driver, WebKitWebDriver, the app and its WebKit
        // processes.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// One WebDriver session: one app process and its window.
pub struct Session {
    http: reqwest::Client,
    base: String,
    /// How long one wait or one call may take ([`TIMEOUT`] unless [`Session::patient`]).
    patience: Duration,
}

impl Session {
    /// Launches `app` with `args`; returns once WebKitWebDriver has the window.
    pub async fn launch(driver: &Driver, app: &Path, args: &[String]) -> Result<Self> {
        let http = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {"tauri:options": {
            "application": app, "args": args
        }}}});
        let resp: Value = http
            .post(format!("http://127.0.0.1:{}/session", driver.port))
            .json(&caps)
            .send()
            .await?
            .json()
            .await?;
        let Some(id) = resp["value"]["sessionId"].as_str() else {
            bail!("tauri-driver opened no session: {resp}");
        };
        Ok(Self {
            base: format!("http://127.0.0.1:{}/session/{id}", driver.port),
            http,
            patience: TIMEOUT,
        })
    }

    /// The same session, waiting up to `patience` for each wait and call (an app under
    /// valgrind runs tens of times slower).
    pub fn patient(self, patience: Duration) -> Self {
        Self { patience, ..self }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(self.patience + Duration::from_secs(30));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await?.json().await?;
        if let Some(err) = v["value"]["error"].as_str() {
            bail!(
                "webdriver {path}: {err}: {}",
                v["value"]["message"].as_str().unwrap_or_default()
            );
        }
        Ok(v["value"].clone())
    }

    /// Whether `css` matches a visible element now.
    pub async fn visible(&self, css: &str) -> Result<bool> {
        let v = self
            .script(
                "return [...document.querySelectorAll(arguments[0])].some((e) => e.getClientRects().length > 0);",
                vec![css.into()],
            )
            .await?;
        Ok(v.as_bool() == Some(true))
    }

    /// Waits until `css` matches a visible element, polling every `every`.
    pub async fn wait(&self, css: &str, every: Duration) -> Result<()> {
        let t = Instant::now();
        while !self.visible(css).await? {
            if t.elapsed() > self.patience {
                let text = self
                    .script("return document.body.innerText;", vec![])
                    .await?;
                bail!(
                    "timed out waiting for {css}; the window shows:\n{}",
                    text.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(every).await;
        }
        Ok(())
    }

    pub async fn script(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Runs a script whose last argument is the callback; returns what it calls back with.
    pub async fn script_async(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        let timeouts = json!({"script": self.patience.as_millis() as u64});
        self.call(reqwest::Method::POST, "/timeouts", Some(timeouts))
            .await?;
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    pub async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}
