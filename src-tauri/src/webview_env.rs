//! The environment WebKitGTK's processes start with (Linux): set before the first thread, so
//! the web process WebKitGTK spawns inherits it. Each variable is left alone when the user set
//! it.

/// The settings below, applied to this process's environment.
///
/// Call before any other thread starts: the environment is process-wide.
#[cfg(target_os = "linux")]
pub fn lean_web_process() {
    for (name, value) in LEAN {
        if std::env::var_os(name).is_none() {
            std::env::set_var(name, value);
        }
    }
}

/// - `JSC_useJIT=false`: JavaScriptCore runs the UI in its interpreter, without its JIT
///   compilers. The UI is a small script over virtualized lists: at 100,000 accounts every
///   view still drew its first rows in 29–33 ms (median; Customers 45–53 ms instead of 32 ms),
///   and the app held 17–26 MiB less (`scripts/bench.sh --only app`: the compilers' code and
///   the code they emit). A webview without a JIT is also a smaller surface for a crafted page.
/// - `WEBKIT_DISABLE_COMPOSITING_MODE=1`: the page is painted in the web process, without
///   accelerated compositing. The UI has no animation or 3D layer that needs it, and with it
///   (WebKitGTK 2.50 on Mesa's software GL, 100,000 accounts) the web process held 128 MiB of
///   anonymous memory at launch instead of 32 MiB (RSS 337 MiB instead of 197 MiB).
#[cfg(target_os = "linux")]
const LEAN: [(&str, &str); 2] = [
    ("JSC_useJIT", "false"),
    ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
];

/// WebView2 (Windows) and WKWebView (macOS) start their web processes with environments of
/// their own.
#[cfg(not(target_os = "linux"))]
pub fn lean_web_process() {}
