//! The app's memory baseline: what WebKitGTK itself holds on this machine, measured in the
//! same run and the same way as the app (the process tree's resident memory, each physical
//! page once). The engine's own browser, MiniBrowser (shipped with the WebKitGTK runtime),
//! shows a static page in the same display with the same WebKit settings as the app under
//! test; its UI, web and network processes are what any WebKitGTK window costs here (under
//! Xvfb that includes Mesa's software renderer in the web process). What the app holds above it is
//! the app's own: its Rust side, its UI's JavaScript and DOM, its SQLite caches.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::procs::{tree_memory, TreeMemory};
use crate::webdriver::{cleared, webkit_process};
use usagedesk_desktop::webview_env::{lean_webkit_env, DRI};

/// Where distributions install MiniBrowser: `<libdir>/webkit2gtk-4.1/MiniBrowser`, the libdir
/// multiarch (`/usr/lib/x86_64-linux-gnu`) or not.
const LIB_ROOTS: &[&str] = &["/usr/lib", "/usr/lib64", "/usr/libexec", "/usr/local/lib"];
const RELATIVE: &str = "webkit2gtk-4.1/MiniBrowser";
/// The page it shows: a heading and a paragraph, no script.
const PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>floor</title></head>\
                    <body><h1>UsageDesk</h1><p>WebKitGTK's memory floor.</p></body></html>";
/// How long the tree may take to settle; it has when this many samples in a row, this far
/// apart, moved its RSS by less than [`STEADY_BYTES`] (the page drawn, the processes idle).
const SETTLE_WITHIN: Duration = Duration::from_secs(30);
const SAMPLE_EVERY: Duration = Duration::from_millis(500);
const STEADY_SAMPLES: u32 = 3;
const STEADY_BYTES: u64 = 1 << 20;

/// MiniBrowser of the installed WebKitGTK, if there is one.
pub fn minibrowser() -> Option<PathBuf> {
    LIB_ROOTS.iter().find_map(|root| {
        let direct = Path::new(root).join(RELATIVE);
        if direct.is_file() {
            return Some(direct);
        }
        std::fs::read_dir(root).ok()?.flatten().find_map(|e| {
            let p = e.path().join(RELATIVE);
            p.is_file().then_some(p)
        })
    })
}

/// Shows the static page in MiniBrowser (HOME and the runtime folder under `work`), waits until
/// its web and network processes are up and the tree's memory stops moving, measures it, and
/// stops it. Blocks the calling thread for a few seconds (the bench's async caller has nothing
/// else running meanwhile).
pub fn measure(work: &Path) -> Result<TreeMemory> {
    let browser = minibrowser().context("MiniBrowser (libwebkit2gtk-4.1-0) is not installed")?;
    let home = work.join("floor-home");
    let _ = std::fs::remove_dir_all(&home);
    let mut command = Command::new(&browser);
    // As the app is run here: with the WebKit settings the app gives itself, from the
    // environment the app gets.
    let inherited = |name: &str| std::env::var_os(name).filter(|_| !cleared(name));
    webkit_process(&mut command, &home)?.envs(lean_webkit_env(inherited, Path::new(DRI)));
    let page = home.join("floor.html");
    std::fs::write(&page, PAGE)?;
    let child = command
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", browser.display()))?;
    let group = Group(child);
    let root = group.0.id();
    let started = Instant::now();
    let (mut last, mut steady) = (None::<u64>, 0);
    loop {
        std::thread::sleep(SAMPLE_EVERY);
        if started.elapsed() > SETTLE_WITHIN {
            bail!("MiniBrowser's memory did not settle within {SETTLE_WITHIN:?}");
        }
        let procs = tree_memory(root);
        if procs.is_empty() {
            bail!("MiniBrowser exited (is DISPLAY an X server?)");
        }
        // Both of WebKit's processes (names cut to 15 characters by the kernel) are up.
        let up = |name: &str| procs.iter().any(|(_, n, ..)| n.starts_with(name));
        if !up("WebKitWebProces") || !up("WebKitNetworkPr") {
            continue;
        }
        let now = TreeMemory::of(&procs);
        steady = match last {
            Some(l) if l.abs_diff(now.rss) < STEADY_BYTES => steady + 1,
            _ => 0,
        };
        last = Some(now.rss);
        if steady >= STEADY_SAMPLES {
            return Ok(now);
        }
    }
}

/// MiniBrowser's process group, killed when dropped (its web and network processes too).
struct Group(std::process::Child);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        // MiniBrowser itself, should the group's kill not have run.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
