//! The desktop app's figures at 100k accounts. Not measured yet: this section lists them with
//! their targets, so the table shows every figure and what is missing.
//!
//! Where they go: [`figures`] gets the [`AppContext`] of the run: the release binaries, the
//! `--data-dir` holding the cache the sync section just filled (the app opens it with
//! `--data-dir`), and the cloud still serving that data. A measurement would
//! - start `tauri-driver` on a free port and open a WebDriver session on the release app
//!   binary with `--data-dir` (see `tests/e2e.rs` and `tests/support` for the session and the `custom-protocol`
//!   build), under the caller's Xvfb display;
//! - cold start: time from spawning the session to the first tree row in the DOM (the app
//!   started with the cache present);
//! - per view (Accounts, Customers, Air-gapped, a customer page, an instance's history,
//!   Settings): click, then poll for the view's first row, 20+ times; report the median and
//!   95th percentile; the same for a filter and a sort change;
//! - memory: [`crate::procs::TreeSampler`] on the app's pid (it sums the app and every WebKit
//!   process under it) after visiting every view, then again after 50 view switches.

use std::path::PathBuf;

use crate::table::Figure;

/// What the app section gets from the run.
#[allow(dead_code)]
pub struct AppContext {
    /// Where the release binaries are.
    pub bins: PathBuf,
    /// The data folder of the synced 100k cache (`--data-dir`).
    pub data_dir: PathBuf,
    /// The cloud serving the same data.
    pub url: String,
}

/// The app's figures, with their targets (issue 10).
pub fn figures(_ctx: &AppContext) -> Vec<Figure> {
    const WHY: &str = "app section not written yet";
    [
        ("app: click to first rows, per view (median)", "<= 100 ms"),
        (
            "app: click to first rows, per view (95th percentile)",
            "<= 300 ms",
        ),
        ("app: filter or sort change to rows", "<= 100 ms"),
        ("app: RSS of app + WebKit after every view", "<= 250 MiB"),
        ("app: RSS growth over 50 view switches", "< 10 %"),
        ("app: cold start (cache present) to tree drawn", "<= 1 s"),
    ]
    .into_iter()
    .map(|(name, target)| {
        let mut f = Figure::not_measured(name, WHY);
        f.target = target.into();
        f
    })
    .collect()
}
