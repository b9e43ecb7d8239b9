//! The environment WebKitGTK's processes start with (Linux): set before the first thread, so
//! the web process WebKitGTK spawns inherits it.

/// JavaScriptCore runs the UI in its interpreter, without its JIT compilers, unless the user
/// set `JSC_useJIT` themselves. The UI is a small script over virtualized lists: at 100,000
/// accounts every view still drew its first rows in 29–33 ms (median; Customers 45–53 ms
/// instead of 32 ms), and the app held 17–26 MiB less (`scripts/bench.sh --only app`: the
/// compilers' code and the code they emit). A webview without a JIT is also a smaller surface
/// for a crafted page.
///
/// Call before any other thread starts: the environment is process-wide.
#[cfg(target_os = "linux")]
pub fn web_process_without_jit() {
    if std::env::var_os("JSC_useJIT").is_none() {
        std::env::set_var("JSC_useJIT", "false");
    }
}

/// WebView2 (Windows) and WKWebView (macOS) start their web processes with environments of
/// their own.
#[cfg(not(target_os = "linux"))]
pub fn web_process_without_jit() {}
