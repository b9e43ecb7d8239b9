//! A small W3C WebDriver client for tauri-driver, and the processes an end-to-end test needs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait for the UI may take before the test fails.
pub const UI_TIMEOUT: Duration = Duration::from_secs(30);

/// tauri-driver on a free port, killed on drop.
pub struct TauriDriver {
    child: Child,
    pub port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
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
        let child = Command::new(path)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
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
        Self { child, port }
    }
}

impl Drop for TauriDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
