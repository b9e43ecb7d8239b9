//! The export benchmark: every root's whole tree over the last 24 completed months, written
//! by `usagedesk-export` (rows, subtree totals, SHA-256 and manifest), against the `sqlite3`
//! command-line shell writing a plain join of the same month-end rows from the same file.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{TimeZone, Utc};
use usagedesk_cache::Cache;
use usagedesk_domain::Scope;
use usagedesk_export::{export_file, plan, Control, ExportReport, ExportRequest, Signing};

use crate::table::{Figure, Goal};

/// Best of this many runs of each side.
const ROUNDS: usize = 2;

pub fn bench_export(
    cache_path: &Path,
    today: chrono::NaiveDate,
    out: &Path,
) -> Result<Vec<Figure>> {
    std::fs::create_dir_all(out)?;
    let cache = Cache::open(cache_path)?;
    let months = cache.usage().completed_months(today)?;
    let months = &months[months.len().saturating_sub(24)..];
    let (Some(from), Some(to)) = (months.first().copied(), months.last().copied()) else {
        bail!(
            "the cache at {} holds no completed month",
            cache_path.display()
        );
    };
    let roots = cache.accounts().all_children(None)?;
    let sql = format!(
        "SELECT mu.month, a.id, a.name, a.parent_id, p.name, a.status, mu.plan, \
         mu.users_registered, mu.users_with_token, mu.users_with_activity \
         FROM month_usage mu JOIN accounts a ON a.k = mu.account_k \
         LEFT JOIN accounts p ON p.id = a.parent_id \
         WHERE mu.month BETWEEN '{from}' AND '{to}'"
    );
    let (mut ours, mut theirs) = (f64::MAX, f64::MAX);
    let (mut our_rows, mut our_bytes, mut their_bytes) = (0, 0, 0);
    for _ in 0..ROUNDS {
        let sqlite_out = out.join("sqlite3.csv");
        let t = Instant::now();
        let status = Command::new("sqlite3")
            .args(["-csv", "-header"])
            .arg(cache_path)
            .arg(&sql)
            .stdout(std::fs::File::create(&sqlite_out)?)
            .stderr(Stdio::inherit())
            .status()
            .context("cannot run sqlite3: install it (apt-get install sqlite3)")?;
        if !status.success() {
            bail!("sqlite3 failed: {status}");
        }
        theirs = theirs.min(t.elapsed().as_secs_f64());
        their_bytes = std::fs::metadata(&sqlite_out)?.len();

        let t = Instant::now();
        (our_rows, our_bytes) = (0, 0);
        for root in &roots {
            let req = ExportRequest {
                report: ExportReport::Usage,
                account_id: root.id.clone(),
                scope: Scope::Tree,
                from,
                to,
            };
            let p = plan(&cache, &req, today)?;
            let done = export_file(
                &cache,
                &p,
                &out.join(&p.suggested_file_name),
                Utc.from_utc_datetime(&today.and_hms_opt(12, 0, 0).context("time")?),
                "usagedesk-bench",
                Signing::Unsigned {
                    reason: "benchmark".into(),
                },
                &mut Control {
                    cancel: None,
                    progress: &mut |_| {},
                },
            )?;
            our_rows += done.rows;
            our_bytes += done.bytes;
        }
        ours = ours.min(t.elapsed().as_secs_f64());
    }
    let their_rows: u64 = cache_rows(cache_path, from, to)?;
    eprintln!(
        "export, {} roots' whole trees, {from}..{to}, best of {ROUNDS}: usagedesk-export {our_rows} rows, \
         {:.0} MB with totals, SHA-256 and manifest in {ours:.2} s; sqlite3 -csv plain join {their_rows} rows, \
         {:.0} MB in {theirs:.2} s",
        roots.len(),
        our_bytes as f64 / 1e6,
        their_bytes as f64 / 1e6,
    );
    Ok(vec![Figure::ratio(
        format!("CSV export of every tree, 24 months ({our_rows} rows)"),
        (ours, format!("{ours:.2} s")),
        (
            theirs,
            format!("{theirs:.2} s sqlite3 -csv ({their_rows} rows)"),
        ),
        Goal::AtMost(1.0),
    )])
}

fn cache_rows(
    path: &Path,
    from: impl std::fmt::Display,
    to: impl std::fmt::Display,
) -> Result<u64> {
    let conn = rusqlite::Connection::open(path)?;
    Ok(conn.query_row(
        "SELECT count(*) FROM month_usage WHERE month BETWEEN ?1 AND ?2",
        [from.to_string(), to.to_string()],
        |r| r.get(0),
    )?)
}
