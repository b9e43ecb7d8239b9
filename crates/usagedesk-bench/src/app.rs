//! The desktop app's figures on a synced cache: the release app binary (its UI embedded, as
//! the end-to-end tests build it) driven through `tauri-driver` + WebKitWebDriver in the
//! caller's X display (`DISPLAY`, e.g. an Xvfb), opened offline with `--data-dir` on the
//! cache: the views read only the cache.
//!
//! - cold start: from asking tauri-driver for a session (which starts the app) to the first
//!   tree row on screen, polled through WebDriver every 10 ms; the median of [`STARTS`]
//!   launches after a first one (which may migrate the cache and fills the OS file cache);
//! - per view (Accounts, Customers, a customer page, an instance's history, Air-gapped,
//!   Settings): a click, then the view's first row visible; timed inside the page (a
//!   `MutationObserver` sees the row appear, the time is taken at the next animation frame,
//!   when the browser draws it), [`ROUNDS`] rounds of every view; the median and the 95th
//!   percentile;
//! - a sort and a filter change in the Customers view: the change, then a different first row
//!   with no stale page shown;
//! - memory: the resident memory of the app and every process under it (WebKit's web and
//!   network processes) after the first round (every view visited once), then after
//!   [`GROWTH_SWITCHES`] more view switches; beside it, WebKitGTK's own floor measured the
//!   same way before the app's first launch ([`crate::webkit_floor`]);
//! - before the rounds, the day's account health: the Health view opened and its computation
//!   of today's scores waited for (when the cache's are older), with its time and peak RSS.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::procs::{process_tree, tree_memory, TreeMemory, TreeSampler};
use crate::table::{mib, ms, Figure};
use crate::webdriver::{Driver, Session};

/// Launches timed for the cold start (after one untimed first launch).
const STARTS: usize = 3;
/// Rounds of the nine views; each view's figures are over this many clicks.
const ROUNDS: usize = 22;
/// View switches between the two memory samples (whole rounds of nine).
const GROWTH_SWITCHES: usize = 54;
/// Changes of each of sort and filter.
const CHANGES: usize = 20;
/// A pause between two actions, about a quick user's: what a view starts in the background
/// (counts, the next pages) may finish, as it would between a person's clicks.
const PAUSE: Duration = Duration::from_millis(200);

const RSS_TARGET: u64 = 250 * 1024 * 1024;
/// How long the day's health computation may take before the run gives up.
const DAY_SCORES_PATIENCE: Duration = Duration::from_secs(300);
/// The row of WebKitGTK's own memory, the baseline of the app's (`crate::webkit_floor`).
const FLOOR_FIGURE: &str =
    "app: WebKitGTK's floor: MiniBrowser on a static page (each page once, same display)";
const MEDIAN_TARGET_MS: f64 = 100.0;
const P95_TARGET_MS: f64 = 300.0;

/// What the app section gets from the run.
pub struct AppContext {
    /// Where the release binaries are (the app is `usagedesk`).
    pub bins: PathBuf,
    /// The data folder of a synced cache (`--data-dir`); opening it may migrate it.
    pub data_dir: PathBuf,
    /// A scratch folder: the app's HOME (window state, WebKit caches).
    pub work: PathBuf,
}

/// Runs the app and returns its figures; the table says "not measured" and why when the app
/// cannot run here (no display, no tauri-driver).
pub fn figures(ctx: &AppContext, rt: &tokio::runtime::Runtime) -> Vec<Figure> {
    let mut out = Vec::new();
    if let Err(e) = rt.block_on(measure(ctx, &mut out)) {
        eprintln!("app section: {e:#}");
        out.push(Figure::not_measured("app (the rest)", format!("{e:#}")));
    }
    out
}

/// One view visited in a round: what to click, and what shows that its rows are drawn.
pub(crate) struct Step {
    pub(crate) name: &'static str,
    pub(crate) click: &'static str,
    pub(crate) rows: &'static str,
}

pub(crate) const VIEWS: [Step; 9] = [
    Step {
        name: "Accounts",
        click: "[data-testid=nav-accounts]",
        rows: "[data-testid=tree-row]",
    },
    Step {
        name: "Customers",
        click: "[data-testid=nav-customers]",
        rows: "[data-testid=customer-row]",
    },
    Step {
        name: "a customer page",
        click: "[data-testid=customer-open]",
        rows: "[data-testid=instance-card], [data-testid=instances-empty]",
    },
    Step {
        name: HISTORY,
        click: "[data-testid=instance-card] [data-testid=instance-open]",
        rows: "[data-testid=event-row], [data-testid=events-empty]",
    },
    Step {
        name: "Air-gapped",
        click: "[data-testid=nav-airgap]",
        rows: "[data-testid=instance-row]",
    },
    Step {
        name: "Settings",
        click: "[data-testid=nav-settings]",
        rows: "[data-testid=settings-accounts]",
    },
    Step {
        name: "Health",
        click: "[data-testid=nav-health]",
        rows: "[data-testid=health-row]",
    },
    Step {
        name: "Renewals",
        click: "[data-testid=nav-renewals]",
        rows: "[data-testid=renewal-row]",
    },
    Step {
        name: "Attention",
        click: "[data-testid=nav-attention]",
        rows: "[data-testid=attention-row]",
    },
];

/// The page side of a timed action. Arguments: the action (`css`, `index`, and `value` for a
/// select), the rows' selector, what must change (or null): an attribute (`attr`) or the
/// text of an element (`css`, default the first row), the callback. Calls back with `{drawn}` in milliseconds, or `{error}`.
const TIMED: &str = r#"
const [act, target, changed, done] = arguments;
const rows = () => [...document.querySelectorAll(target)].filter((e) => e.getClientRects().length > 0);
const mark = () => {
  if (!changed) return null;
  const e = changed.css ? document.querySelector(changed.css) : rows()[0];
  return e ? (changed.attr ? e.getAttribute(changed.attr) : e.textContent) : null;
};
const before = mark();
const el = document.querySelectorAll(act.css)[act.index];
if (!el) { done({ error: 'nothing matches ' + act.css + ' #' + act.index }); return; }
const ready = () => {
  const r = rows();
  if (r.length === 0) return false;
  if (!changed) return true;
  return !document.querySelector('table.stale') && mark() !== before;
};
let finished = false;
const stop = () => { finished = true; obs.disconnect(); clearInterval(timer); };
const check = () => {
  if (finished) return;
  if (ready()) { stop(); requestAnimationFrame(() => done({ drawn: performance.now() - t0 })); }
  else if (performance.now() - t0 > 60000) { stop(); done({ error: 'timed out waiting for ' + target }); }
};
const obs = new MutationObserver(check);
const timer = setInterval(check, 5);
const t0 = performance.now();
obs.observe(document.body, { childList: true, subtree: true, attributes: true });
if (act.value !== null) {
  el.value = act.value;
  el.dispatchEvent(new Event('change', { bubbles: true }));
} else {
  el.click();
}
check();
"#;

/// Clicks (or sets a select to `value`) and times until `rows` are drawn; milliseconds.
async fn timed(
    s: &Session,
    (css, index, value): (&str, usize, Option<&str>),
    rows: &str,
    changed: Option<serde_json::Value>,
) -> Result<f64> {
    let act = json!({"css": css, "index": index, "value": value});
    let v = s
        .script_async(TIMED, vec![act, rows.into(), json!(changed)])
        .await?;
    match v["drawn"].as_f64() {
        Some(ms) => Ok(ms),
        None => bail!("{css} → {rows}: {}", v["error"]),
    }
}

/// The step that opens an instance's history; the views after it start from the Customers list.
pub(crate) const HISTORY: &str = "an instance's history";
/// The Customers view's sort (a select) and its "reporting overdue" filter.
pub(crate) const CUSTOMER_SORT: &str = "[data-testid=customer-sort]";
pub(crate) const FILTER_OVERDUE: &str = "[data-testid=filter-overdue]";

/// From an instance's history back to the Customers list, untimed, for the next views.
pub(crate) async fn back_to_customers(s: &Session, every: Duration) -> Result<()> {
    click(s, "[data-testid=instance-detail-close]").await?;
    tokio::time::sleep(PAUSE).await;
    click(s, "[data-testid=customer-back]").await?;
    s.wait("[data-testid=customer-row]", every).await
}

/// Clicks the first match of `css`, untimed.
pub(crate) async fn click(s: &Session, css: &str) -> Result<()> {
    let v = s
        .script(
            "const e = document.querySelector(arguments[0]); if (e) e.click(); return !!e;",
            vec![css.into()],
        )
        .await?;
    if v.as_bool() != Some(true) {
        bail!("nothing to click at {css}");
    }
    Ok(())
}

/// The app's process: the descendant of tauri-driver running `app`.
fn app_pid(driver: &Driver, app: &Path) -> Option<u32> {
    let app = app.canonicalize().ok()?;
    process_tree(driver.pid())
        .into_iter()
        .find(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == app))
}

/// The memory of the app's tree now, printed with each process's share.
fn memory(pid: u32, when: &str) -> TreeMemory {
    let procs = tree_memory(pid);
    let parts: Vec<String> = procs
        .iter()
        .filter(|(_, _, rss, _)| *rss > 0)
        .map(|(_, name, rss, pss)| format!("{name} {} (PSS {})", mib(*rss), mib(*pss)))
        .collect();
    let m = TreeMemory::of(&procs);
    eprintln!("app memory {when}: {}: {}", m.summary(), parts.join(", "));
    m
}

/// The memory figures after every view, each beside WebKitGTK's floor when it was measured:
/// the floor's row, then RSS, PSS and the physical memory, then the app's own share.
fn memory_figures(
    out: &mut Vec<Figure>,
    TreeMemory { rss, pss, once }: TreeMemory,
    floor: Result<TreeMemory>,
) {
    let floor = match floor {
        Ok(f) => {
            out.push(Figure::plain(
                FLOOR_FIGURE,
                f.once.map_or_else(|| format!("RSS {}", mib(f.rss)), mib),
            ));
            Some(f)
        }
        Err(e) => {
            out.push(Figure::not_measured(FLOOR_FIGURE, format!("{e:#}")));
            None
        }
    };
    let beside = |figure: Figure, ours: u64, base: Option<u64>| match base {
        Some(b) => figure.beside((ours as f64, b as f64), mib(b)),
        None => figure,
    };
    // RSS counts each shared page in every process that maps it: the floor's processes alone
    // are over the target on this measure (shown for the record; the physical memory below is
    // the one the target can be met on).
    out.push(beside(
        Figure::plain("app: RSS of app + WebKit after every view", mib(rss))
            .target(format!("<= {}", mib(RSS_TARGET)), rss <= RSS_TARGET),
        rss,
        floor.map(|f| f.rss),
    ));
    out.push(beside(
        Figure::plain(
            "app: PSS of app + WebKit after every view (shared pages split)",
            mib(pss),
        ),
        pss,
        floor.map(|f| f.pss),
    ));
    let floor_once = floor.and_then(|f| f.once);
    match once {
        Some(b) => {
            out.push(beside(
                Figure::plain(
                    "app: physical memory of app + WebKit after every view (each page once)",
                    mib(b),
                )
                .target(format!("<= {}", mib(RSS_TARGET)), b <= RSS_TARGET),
                b,
                floor_once,
            ));
            if let Some(f) = floor_once {
                out.push(Figure::plain(
                    "app: its own share: physical memory above WebKitGTK's floor",
                    mib(b.saturating_sub(f)),
                ));
            }
        }
        None => out.push(Figure::not_measured(
            "app: physical memory of app + WebKit (each page once)",
            "page frame numbers need root",
        )),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// "median / p95" with the targets checked.
fn latency(name: String, samples: &mut [f64], median_target: f64, p95_target: f64) -> Figure {
    samples.sort_by(f64::total_cmp);
    let (med, p95) = (percentile(samples, 50.0), percentile(samples, 95.0));
    Figure::plain(
        format!("{name} ({} samples, median / p95)", samples.len()),
        format!("{} / {}", ms(med), ms(p95)),
    )
    .target(
        format!("<= {median_target:.0} ms / <= {p95_target:.0} ms"),
        med <= median_target && p95 <= p95_target,
    )
}

async fn measure(ctx: &AppContext, out: &mut Vec<Figure>) -> Result<()> {
    let app = ctx.bins.join("usagedesk");
    if !app.is_file() {
        bail!(
            "{} is missing: build it (npm --prefix ui run build; cargo build --release -p usagedesk)",
            app.display()
        );
    }
    if !ctx.data_dir.join("cache.db").is_file() {
        bail!("no cache at {}", ctx.data_dir.join("cache.db").display());
    }
    out.push(crate::link_order::figure(&app));
    let home = ctx.work.join("app-home");
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home)?;
    let driver = Driver::start(&home)?;
    // Before the app's first launch, once the display and tauri-driver are known to work.
    let floor = crate::webkit_floor::measure(&ctx.work);
    match &floor {
        Ok(f) => eprintln!(
            "WebKitGTK's floor (MiniBrowser, a static page): {}",
            f.summary()
        ),
        Err(e) => eprintln!("WebKitGTK's floor not measured: {e:#}"),
    }
    let args = vec!["--data-dir".to_string(), ctx.data_dir.display().to_string()];

    // Cold starts: the first launch opens (and may migrate) the cache; the next are timed.
    let mut starts = Vec::new();
    let mut session = None;
    for i in 0..=STARTS {
        if let Some(s) = session.take() {
            quit(s, &driver, &app).await?;
        }
        let t = Instant::now();
        let s = Session::launch(&driver, &app, &args).await?;
        s.wait("[data-testid=tree-row]", Duration::from_millis(10))
            .await?;
        let took = t.elapsed();
        eprintln!(
            "app launch {i}: tree drawn after {:.0} ms",
            took.as_secs_f64() * 1e3
        );
        if i == 0 {
            out.push(Figure::plain(
                "app: first launch on the cache to tree drawn (may migrate it)",
                ms(took.as_secs_f64() * 1e3),
            ));
        } else {
            starts.push(took.as_secs_f64() * 1e3);
        }
        session = Some(s);
    }
    starts.sort_by(f64::total_cmp);
    let cold = percentile(&starts, 50.0);
    out.push(
        Figure::plain(
            format!("app: cold start (cache present) to tree drawn (median of {STARTS})"),
            ms(cold),
        )
        .target("<= 1000 ms", cold <= 1000.0),
    );
    let s = session.context("no session")?;
    let pid = app_pid(&driver, &app).context("the app's process was not found")?;
    // The day's account health is computed when a view first needs it (the first launch of
    // a day, after a sync), in the background: waited for here, so that the rounds time the
    // views and the memory after them is the app's, not a computation's in flight (at 100k
    // it held over 120 MiB more while it ran).
    out.push(day_scores(&s, pid).await?);
    let peak = TreeSampler::start(pid);

    // Rounds of every view.
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); VIEWS.len()];
    let (mut after_all, mut after_growth) = (None, None);
    let mut switches = 0;
    for round in 0..ROUNDS {
        for (v, step) in VIEWS.iter().enumerate() {
            tokio::time::sleep(PAUSE).await;
            // A different customer each round, among the first rows.
            let index = if v == 2 { round % 8 } else { 0 };
            let t = timed(&s, (step.click, index, None), step.rows, None)
                .await
                .with_context(|| format!("{} (round {round})", step.name))?;
            times[v].push(t);
            if after_all.is_some() {
                switches += 1;
            }
            if step.name == "a customer page" && s.visible("[data-testid=instances-empty]").await? {
                bail!("customer #{index} has no instance: pick customers with instances");
            }
            if step.name == HISTORY {
                back_to_customers(&s, Duration::from_millis(20)).await?;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        if after_all.is_none() {
            after_all = Some(memory(pid, "after every view"));
        } else if switches >= GROWTH_SWITCHES && after_growth.is_none() {
            after_growth = Some(memory(pid, &format!("after {switches} more switches")));
        }
    }

    for (step, t) in VIEWS.iter().zip(&mut times) {
        out.push(latency(
            format!("app: click to first rows: {}", step.name),
            t,
            MEDIAN_TARGET_MS,
            P95_TARGET_MS,
        ));
    }
    let mut all: Vec<f64> = times.concat();
    out.push(latency(
        "app: click to first rows: every view".into(),
        &mut all,
        MEDIAN_TARGET_MS,
        P95_TARGET_MS,
    ));

    let after_all = after_all.context("no memory sample")?;
    let rss = after_all.rss;
    memory_figures(out, after_all, floor);
    match after_growth {
        Some(TreeMemory { rss: later, .. }) => {
            let growth = (later as f64 / rss as f64 - 1.0) * 100.0;
            out.push(
                Figure::plain(
                    format!("app: RSS growth over {GROWTH_SWITCHES} view switches"),
                    format!("{growth:+.1} % ({} → {})", mib(rss), mib(later)),
                )
                .target("< 10 %", growth < 10.0),
            );
        }
        None => out.push(Figure::not_measured(
            "app: RSS growth over view switches",
            "too few rounds",
        )),
    }
    out.push(Figure::plain(
        "app: peak RSS of app + WebKit while switching",
        mib(peak.stop()),
    ));

    // Sort and filter changes in the Customers view.
    click(&s, "[data-testid=nav-customers]").await?;
    s.wait("[data-testid=customer-row]", Duration::from_millis(20))
        .await?;
    let (mut sorts, mut filters) = (Vec::new(), Vec::new());
    for i in 0..CHANGES {
        tokio::time::sleep(PAUSE).await;
        let to = if i % 2 == 0 { "expiry" } else { "name" };
        sorts.push(
            timed(
                &s,
                (CUSTOMER_SORT, 0, Some(to)),
                "[data-testid=customer-row]",
                Some(json!({"css": null, "attr": "data-account-id"})),
            )
            .await
            .context("sort change")?,
        );
    }
    for _ in 0..CHANGES {
        tokio::time::sleep(PAUSE).await;
        filters.push(
            timed(
                &s,
                (FILTER_OVERDUE, 0, None),
                "[data-testid=customer-row]",
                // The count of matching customers changes with the filter.
                Some(json!({"css": "[data-testid=customer-count]", "attr": null})),
            )
            .await
            .context("filter change")?,
        );
    }
    out.push(latency(
        "app: sort change to rows (Customers)".into(),
        &mut sorts,
        MEDIAN_TARGET_MS,
        P95_TARGET_MS,
    ));
    out.push(latency(
        "app: filter change to rows (Customers, overdue)".into(),
        &mut filters,
        MEDIAN_TARGET_MS,
        P95_TARGET_MS,
    ));

    s.quit().await;
    Ok(())
}

/// Opens the Health view and waits while it says today's scores are being computed: how long
/// that took, with the peak RSS of the app and WebKit meanwhile, or that they were current.
async fn day_scores(s: &Session, pid: u32) -> Result<Figure> {
    const NAME: &str = "app: the day's account health, computed when a view first needs it";
    const COMPUTING: &str = "[data-testid=health-computing]";
    let sampler = TreeSampler::start(pid);
    let t = Instant::now();
    click(s, "[data-testid=nav-health]").await?;
    s.wait(
        &format!("[data-testid=health-row], {COMPUTING}"),
        Duration::from_millis(20),
    )
    .await?;
    let mut ran = false;
    while s.visible(COMPUTING).await? {
        ran = true;
        if t.elapsed() > DAY_SCORES_PATIENCE {
            bail!("today's scores were still being computed after {DAY_SCORES_PATIENCE:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.wait("[data-testid=health-row]", Duration::from_millis(20))
        .await?;
    let took = t.elapsed();
    let peak = sampler.stop();
    Ok(Figure::plain(
        NAME,
        if ran {
            format!(
                "{:.1} s, peak RSS of app + WebKit {}",
                took.as_secs_f64(),
                mib(peak)
            )
        } else {
            "current already (computed earlier today)".to_owned()
        },
    ))
}

/// Ends a session and waits until its app has exited, so the next launch starts cold.
async fn quit(s: Session, driver: &Driver, app: &Path) -> Result<()> {
    s.quit().await;
    let t = Instant::now();
    while app_pid(driver, app).is_some() {
        if t.elapsed() > Duration::from_secs(20) {
            bail!("the app did not exit within 20 s of the end of its session");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_95th_percentile_is_the_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        // ceil(0.95 × 20) = 19th value; ceil(0.5 × 20) = 10th.
        assert_eq!(percentile(&v, 95.0), 19.0);
        assert_eq!(percentile(&v, 50.0), 10.0);
        assert_eq!(
            percentile(&[7.0], 95.0),
            7.0,
            "one sample is every percentile"
        );
    }
}
