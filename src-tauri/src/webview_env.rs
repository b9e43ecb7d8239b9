//! The environment WebKitGTK's processes start with (Linux): set before the first thread, so
//! the web process WebKitGTK spawns inherits it. What is set and why:
//! `usagedesk_desktop::webview_env`.

/// Applies [`usagedesk_desktop::webview_env::lean_webkit_env`] to this process's environment.
///
/// Call before any other thread starts: the environment is process-wide.
#[cfg(target_os = "linux")]
pub fn lean_web_process() {
    use usagedesk_desktop::webview_env::{lean_webkit_env, DRI};
    let vars = lean_webkit_env(|name| std::env::var_os(name), std::path::Path::new(DRI));
    for (name, value) in vars {
        std::env::set_var(name, value);
    }
}

/// WebView2 (Windows) and WKWebView (macOS) start their web processes with environments of
/// their own.
#[cfg(not(target_os = "linux"))]
pub fn lean_web_process() {}
