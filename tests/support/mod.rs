//! A small W3C WebDriver client for tauri-driver, and the processes an end-to-end test needs.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait for the UI may take before the test fails.
pub const UI_TIMEOUT: Duration = Duration::from_secs(30);

/// tauri-driver on a free port, killed on drop. The apps it starts get a HOME of their own
/// (window state, WebKit caches, the default data folder) and no D-Bus session: a test never
/// touches the user's files or a running UsageDesk.
pub struct TauriDriver {
    child: Child,
    pub port: u16,
    home: tempfile::TempDir,
}

/// The ports tauri-driver and WebKitWebDriver are told to listen on come from below the
/// kernel's ephemeral range (`ip_local_port_range`: 32768 and up by default), where every
/// socket bound to port 0 gets its own. The tests' cloud servers and clients run in parallel
/// with the drivers, and a port probed free in that range could be handed to one of them
/// before the driver binds it (a session request then reaches the wrong listener). Each port
/// is handed out once per test process; processes start at different places.
const DRIVER_PORTS: std::ops::Range<u32> = 20_000..32_000;

fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = DRIVER_PORTS.end - DRIVER_PORTS.start;
    let start = std::process::id() % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(DRIVER_PORTS.start + (start + n) % span).expect("a port");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {DRIVER_PORTS:?} for tauri-driver");
}

fn tauri_driver_path() -> PathBuf {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return p.into();
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    home.join("bin/tauri-driver")
}

impl TauriDriver {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// With more environment for tauri-driver, which WebKitWebDriver and the app inherit.
    pub fn start_with(env: &[(&str, &std::ffi::OsStr)]) -> Self {
        let path = tauri_driver_path();
        assert!(
            path.exists(),
            "tauri-driver is not installed at {}: run ./scripts/setup.sh (or ./scripts/test.sh)",
            path.display()
        );
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "no DISPLAY: end-to-end tests need an X server; run them through ./scripts/test.sh, which starts Xvfb"
        );
        let port = free_port();
        let native = free_port();
        let home = tempfile::tempdir().expect("a HOME for the app");
        let runtime = home.path().join("run");
        std::fs::create_dir(&runtime).expect("runtime folder");
        let child = Command::new(path)
            // Its own process group: dropping the driver ends WebKitWebDriver and the app too,
            // even when a test fails half-way.
            .process_group(0)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .env("HOME", home.path())
            .env("XDG_RUNTIME_DIR", &runtime)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tauri-driver");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port, home }
    }

    /// The HOME the apps of this driver run with.
    pub fn home(&self) -> &Path {
        self.home.path()
    }
}

impl Drop for TauriDriver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asks the app's window to close as a window manager does when its close button is clicked
/// (`WM_DELETE_WINDOW`): the app then exits as it does for a user. Sent with python3-xlib,
/// since the virtual display has no window manager. Returns `false` when no such window is on
/// the screen any more (the message was not sent), `true` when it was sent.
pub fn close_like_a_window_manager(title: &str) -> bool {
    const SCRIPT: &str = r#"
import sys
from Xlib import X, display, protocol
d = display.Display()
protocols, delete = d.intern_atom("WM_PROTOCOLS"), d.intern_atom("WM_DELETE_WINDOW")
found = [w for w in d.screen().root.query_tree().children
         if w.get_wm_name() == sys.argv[1] and w.get_attributes().map_state == X.IsViewable]
if not found:
    sys.exit(3)
if len(found) != 1:
    sys.exit(f"expected one window named {sys.argv[1]!r} on the screen, found {len(found)}")
found[0].send_event(protocol.event.ClientMessage(
    window=found[0], client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0])))
d.sync()
"#;
    // The system's python3, where the python3-xlib package installs.
    let out = Command::new("/usr/bin/python3")
        .args(["-c", SCRIPT, title])
        .output()
        .expect("/usr/bin/python3 (with python3-xlib: scripts/setup.sh installs it)");
    if out.status.code() == Some(3) {
        return false;
    }
    assert!(
        out.status.success(),
        "closing the window: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// One WebDriver session: the real app window.
pub struct Session {
    http: reqwest::Client,
    base: String,
}

impl Session {
    /// Launches `app` with `args` through tauri-driver.
    pub async fn launch(driver: &TauriDriver, app: &Path, args: &[String]) -> Self {
        let http = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {"tauri:options": {
            "application": app, "args": args
        }}}});
        let resp: Value = http
            .post(format!("http://127.0.0.1:{}/session", driver.port))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session JSON");
        let id = resp["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {resp}"))
            .to_string();
        Self {
            http,
            base: format!("http://127.0.0.1:{}/session/{id}", driver.port),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req
            .send()
            .await
            .expect("webdriver request")
            .json()
            .await
            .expect("webdriver JSON");
        v["value"].clone()
    }

    /// Elements matching a CSS selector, now.
    pub async fn find_all(&self, css: &str) -> Vec<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until `css` matches, then returns the first match.
    pub async fn wait(&self, css: &str) -> String {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            if let Some(e) = self.find_all(css).await.into_iter().next() {
                return e;
            }
            if Instant::now() >= deadline {
                let page = self.script("return document.body.innerText;", vec![]).await;
                panic!(
                    "timed out waiting for {css}; the window shows:\n{}",
                    page.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the text of the first match of `css` satisfies `ok`; returns it.
    pub async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + UI_TIMEOUT;
        let mut last = String::new();
        loop {
            if let Some(e) = self.find_all(css).await.into_iter().next() {
                last = self.text(&e).await;
                if ok(&last) {
                    return last;
                }
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {css}; last text '{last}'"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn text(&self, el: &str) -> String {
        // textContent, not the rendered text: some labels are visually hidden on narrow windows.
        let v = self
            .call(
                reqwest::Method::POST,
                "/execute/sync",
                Some(
                    json!({"script": "return arguments[0].textContent;", "args": [{ELEMENT: el}]}),
                ),
            )
            .await;
        v.as_str().unwrap_or_default().trim().to_string()
    }

    pub async fn attr(&self, el: &str, name: &str) -> Option<String> {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{el}/attribute/{name}"),
                None,
            )
            .await;
        v.as_str().map(String::from)
    }

    pub async fn click(&self, el: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    pub async fn type_text(&self, el: &str, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Runs a script in the page and returns its value.
    pub async fn script(&self, script: &str, args: Vec<Value>) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Runs an asynchronous script (its last argument is the callback) and returns the
    /// value it calls back with.
    pub async fn script_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// A PNG of the X screen the window is on, taken with ImageMagick's `import` (WebKit's
    /// WebDriver screenshot stalls for a minute under Xvfb). Best effort: a missing `import`
    /// only costs the picture.
    pub async fn screenshot(&self, to: &Path) {
        let to = to.to_path_buf();
        let _ = tokio::task::spawn_blocking(move || {
            Command::new("import")
                .args(["-window", "root"])
                .arg(&to)
                .stderr(Stdio::null())
                .status()
        })
        .await;
    }

    /// The window's size and position: `(x, y, width, height)` in CSS pixels.
    pub async fn window_rect(&self) -> (i64, i64, i64, i64) {
        let v = self.call(reqwest::Method::GET, "/window/rect", None).await;
        let n = |k: &str| v[k].as_f64().map(|f| f.round() as i64).unwrap_or(-1);
        (n("x"), n("y"), n("width"), n("height"))
    }

    pub async fn set_window_rect(&self, x: i64, y: i64, width: i64, height: i64) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"x": x, "y": y, "width": width, "height": height})),
        )
        .await;
    }

    pub async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

/// Formats like the UI: 1234567 → "1,234,567".
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
