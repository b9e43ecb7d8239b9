//! The release app's link order (`src-tauri/link-order.txt`): the functions of the app
//! binary that run while it is launched on a synced cache and every view is visited once,
//! which `src-tauri/build.rs` hands to the linker so that they sit together in the binary.
//!
//! Linux maps a program's code into memory 64 KiB around each page it runs (fault-around),
//! so a few thousand small functions spread over 16 MB of code kept most of it resident
//! (`docs/architecture.md`, "Memory"). Which functions ran is read exactly, not sampled: the
//! release app runs under valgrind's callgrind, driven through tauri-driver like the bench's
//! app section (the same views), and callgrind's profile names every function it entered.
//!
//! `usagedesk-bench --bin target/release --link-order src-tauri/link-order.txt` (an X
//! display, valgrind and the synced bench cache needed; about ten minutes at 100k), on the app
//! built alone as `tauri build` builds it (`scripts/bench.sh` does): built in one `cargo build`
//! with other packages, its dependencies get other features and its functions other names.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::app::{
    back_to_customers, click, AppContext, CUSTOMER_SORT, FILTER_OVERDUE, HISTORY, VIEWS,
};
use crate::table::Figure;
use crate::webdriver::{Driver, Session};

/// The link order `src-tauri/build.rs` gives the linker, from the repository's root.
pub const FILE: &str = "src-tauri/link-order.txt";

/// How long one wait may take under valgrind (the first tree row came after about 100 s).
const PATIENCE: Duration = Duration::from_secs(600);
/// How often to look for what a click should show (each look is slow under valgrind).
const EVERY: Duration = Duration::from_millis(500);

/// Profiles the app in `ctx.bins` on `ctx.data_dir` and writes its link order to `out`;
/// returns how many functions it names.
pub fn write(ctx: &AppContext, out: &Path, rt: &tokio::runtime::Runtime) -> Result<usize> {
    let app = ctx.bins.join("usagedesk");
    if !app.is_file() {
        bail!("{} is missing: build the release app first", app.display());
    }
    let valgrind =
        on_path("valgrind").context("valgrind is not installed (apt install valgrind)")?;
    let dumps = ctx.work.join("link-order");
    let _ = std::fs::remove_dir_all(&dumps);
    std::fs::create_dir_all(&dumps)?;
    rt.block_on(profile(ctx, &app, &valgrind, &dumps))?;

    let mut files: Vec<PathBuf> = std::fs::read_dir(&dumps)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("callgrind."))
        })
        .collect();
    // The app's own profile first (the largest); the others are children between fork and exec.
    files.sort_by_key(|p| std::cmp::Reverse(p.metadata().map_or(0, |m| m.len())));
    let object = app.canonicalize()?.display().to_string();
    let mut names = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        for name in functions_in(&text, &object) {
            if seen.insert(name.clone()) {
                names.push(name);
            }
        }
    }
    if names.is_empty() {
        bail!(
            "callgrind's profiles ({}) name no function of {object}",
            dumps.display()
        );
    }
    let mut text = String::from(HEADER);
    for n in &names {
        text.push_str(n);
        text.push('\n');
    }
    std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(names.len())
}

const HEADER: &str = "\
# The release app's link order on x86_64 Linux (src-tauri/build.rs): the functions of the app
# binary that ran while it was launched on the 100k bench cache and every view was visited,
# in the order callgrind's profile names them. Written by
# `usagedesk-bench --bin target/release --link-order src-tauri/link-order.txt`; names that
# are no longer in the binary are skipped by the linker (crates/usagedesk-bench/src/link_order.rs).
";

/// Launches the app under callgrind, visits every view, and has callgrind write its profile.
async fn profile(ctx: &AppContext, app: &Path, valgrind: &Path, dumps: &Path) -> Result<()> {
    let driver = Driver::start(&dumps.join("home"))?;
    let args = vec![
        "--tool=callgrind".to_string(),
        "--dump-instr=no".into(),
        // Symbol names as the linker knows them.
        "--demangle=no".into(),
        format!("--callgrind-out-file={}/callgrind.%p.out", dumps.display()),
        app.display().to_string(),
        "--data-dir".into(),
        ctx.data_dir.display().to_string(),
    ];
    let s = Session::launch(&driver, valgrind, &args)
        .await?
        .patient(PATIENCE);
    s.wait("[data-testid=tree-row]", EVERY).await?;
    eprintln!("link order: the app is up under callgrind; visiting every view");
    for step in &VIEWS {
        click(&s, step.click).await?;
        s.wait(step.rows, EVERY)
            .await
            .with_context(|| format!("link order: {}", step.name))?;
        eprintln!("link order: {} drawn", step.name);
        if step.name == HISTORY {
            back_to_customers(&s, EVERY).await?;
        }
    }
    // A sort and a filter change in the Customers view, as the bench's.
    click(&s, "[data-testid=nav-customers]").await?;
    s.wait("[data-testid=customer-row]", EVERY).await?;
    s.script(
        "const e = document.querySelector(arguments[0]); e.value = 'expiry'; \
         e.dispatchEvent(new Event('change', { bubbles: true })); return true;",
        vec![CUSTOMER_SORT.into()],
    )
    .await?;
    click(&s, FILTER_OVERDUE).await?;
    s.wait("[data-testid=customer-row]", EVERY).await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    // Every process under callgrind writes its profile now (the app is the only one running).
    let dumped = Command::new("callgrind_control").arg("-d").output()?;
    if !dumped.status.success() {
        bail!(
            "callgrind_control -d failed: {}",
            String::from_utf8_lossy(&dumped.stderr)
        );
    }
    s.quit().await;
    Ok(())
}

/// The names of the functions of `object` (its path) that ran, in a callgrind profile: the
/// `fn=` entries under `ob=` of that object. Callgrind names a file or function once in full
/// (`fn=(12) name`) and by number after (`fn=(12)`); `cfn=` (a callee) and `cob=` define names
/// too. Entries without a symbol (`0x...`, `(below main)`) are left out, and a recursion
/// cycle's suffix (`name'2`) is taken off.
fn functions_in(profile: &str, object: &str) -> Vec<String> {
    let mut objects: std::collections::HashMap<&str, &str> = Default::default();
    let mut functions: std::collections::HashMap<&str, &str> = Default::default();
    let mut in_object = false;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for line in profile.lines() {
        let Some((key, rest)) = line.split_once('=') else {
            continue;
        };
        let Some((id, name)) = compressed(rest) else {
            continue;
        };
        match key {
            "ob" | "cob" => {
                let name = *objects.entry(id).or_insert(name);
                if key == "ob" {
                    in_object = name == object;
                }
            }
            "fn" | "cfn" => {
                let name = *functions.entry(id).or_insert(name);
                if key == "fn" && in_object {
                    let name = name.split('\'').next().unwrap_or(name);
                    if !name.is_empty()
                        && !name.starts_with("0x")
                        && !name.starts_with('(')
                        && seen.insert(name)
                    {
                        out.push(name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// How many of the link order's names the app binary defines. Rust's names carry hashes that
/// change with the compiler and with any crate under the one a function is in (Cargo mixes
/// the dependencies' into each crate's), so after an upgrade most names may be gone: the
/// linker skips them and the code they named is spread out again. Read with `nm`.
pub fn figure(app: &Path) -> Figure {
    const NAME: &str = "app: link order names the binary defines (src-tauri/link-order.txt)";
    match coverage(app, Path::new(FILE)) {
        Ok((found, named)) => Figure::plain(NAME, format!("{found} of {named}"))
            .target(">= 90 %, else rerun --link-order", found * 10 >= named * 9),
        Err(e) => Figure::not_measured(NAME, format!("{e:#}")),
    }
}

fn coverage(app: &Path, order: &Path) -> Result<(usize, usize)> {
    let text = std::fs::read_to_string(order)
        .with_context(|| format!("cannot read {}", order.display()))?;
    let names: std::collections::HashSet<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let out = Command::new("nm")
        .arg("--defined-only")
        .arg(app)
        .output()
        .context("cannot run nm (binutils)")?;
    if !out.status.success() {
        bail!(
            "nm {}: {}",
            app.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let symbols = String::from_utf8_lossy(&out.stdout);
    let found: std::collections::HashSet<&str> = symbols
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|s| names.contains(s))
        .collect();
    Ok((found.len(), names.len()))
}

/// `(12) name` → ("12", "name"); `(12)` → ("12", "") (the name was given before).
fn compressed(rest: &str) -> Option<(&str, &str)> {
    let rest = rest.strip_prefix('(')?;
    let (id, name) = rest.split_once(')')?;
    Some((id, name.trim_start()))
}

/// `program`'s path on `PATH` (tauri-driver is given the path, not a name to look up).
fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile as callgrind writes it (shortened): two objects, names given once in full
    /// and then by number, a callee in another object, a recursion cycle, a function without
    /// a symbol.
    const PROFILE: &str = "\
version: 1
ob=(1) /usr/lib/libc.so.6
fn=(1) malloc
0 12
ob=(2) /opt/app/usagedesk
fn=(2) _ZN3app4main17h0123456789abcdefE
0 40
cob=(1)
cfn=(1)
calls=1 0
0 7
cfn=(3) sqlite3_prepare_v2
calls=2 0
fn=(3)
0 90
fn=(4) 0x0000000000012345
0 3
fn=(5) sqlite3WalkExpr'2
0 5
ob=(1)
fn=(6) free
0 2
fn=(7) (below main)
0 1
ob=(2)
fn=(2)
0 1
";

    #[test]
    fn names_the_objects_functions_once_each_in_the_order_they_appear() {
        let names = functions_in(PROFILE, "/opt/app/usagedesk");
        // malloc and free ran in libc, not in the app; sqlite3_prepare_v2 is named first as
        // a callee (cfn) and counts when its own entry (fn=(3)) comes under the app's object;
        // the address without a symbol is no name to order; the cycle's suffix is dropped;
        // main's second entry is not a second name.
        assert_eq!(
            names,
            [
                "_ZN3app4main17h0123456789abcdefE",
                "sqlite3_prepare_v2",
                "sqlite3WalkExpr"
            ]
        );
    }

    #[test]
    fn coverage_counts_the_names_the_binary_defines() {
        // This test binary defines `main` (rustc writes it); the other name is nobody's.
        let order =
            std::env::temp_dir().join(format!("link-order-test-{}.txt", std::process::id()));
        std::fs::write(
            &order,
            "# a comment\nmain\n_ZN7missing4name17h0000000000000000E\n\n",
        )
        .unwrap();
        let found = coverage(&std::env::current_exe().unwrap(), &order);
        std::fs::remove_file(&order).unwrap();
        assert_eq!(
            found.unwrap(),
            (1, 2),
            "comments and blank lines are no names"
        );
    }

    #[test]
    fn another_objects_functions_are_not_the_apps() {
        assert_eq!(
            functions_in(PROFILE, "/usr/lib/libc.so.6"),
            ["malloc", "free"]
        );
        assert!(functions_in(PROFILE, "/opt/other").is_empty());
    }
}
