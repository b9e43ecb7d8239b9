//! `health` and `renewals`: account health and the renewal calendar (`docs/health.md`), from
//! the local cache (offline), streamed a page at a time.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Result};
use usagedesk_domain::Clock;
use usagedesk_health::{
    each_customer_health, each_renewal, ensure_current, export_renewals, health_page, renewal_page,
    CustomerHealth, Factor, MAX_RENEWAL_MONTHS,
};

use crate::context::Context;
use crate::output::one_line;

/// `--sort`: by the score (`None`) or by a factor.
#[derive(Debug, Clone, Copy)]
pub struct SortBy(pub Option<Factor>);

/// `--sort`: `score` or a factor's key.
pub fn parse_sort(s: &str) -> Result<SortBy, String> {
    if s == "score" {
        return Ok(SortBy(None));
    }
    Factor::from_key(s).map(|f| SortBy(Some(f))).ok_or_else(|| {
        let keys: Vec<&str> = Factor::ALL.iter().map(|f| f.key()).collect();
        format!("'{s}' is not score or one of {}", keys.join(", "))
    })
}

fn score_cell(s: Option<f64>) -> String {
    s.map_or_else(|| "n/a".into(), |s| format!("{s:.0}"))
}

fn line(out: &mut impl Write, h: &CustomerHealth) -> std::io::Result<()> {
    write!(out, "{:>5}  ", h.score)?;
    for f in &h.factors {
        write!(out, "{:>6}  ", score_cell(f.score))?;
    }
    let name = one_line(&h.name);
    writeln!(out, "{name} [{}]", one_line(&h.account_id))
}

/// SQLite's page cache (KiB) while streaming, where each page is read once, and while
/// computing health, whose passes read each table once (temporary tables in files).
const STREAM_CACHE_KIB: u32 = 4 * 1024;

/// Streams the customers by health from `offset`, at most `limit` of them.
pub fn health(
    ctx: &Context,
    sort: Option<Factor>,
    descending: bool,
    offset: u64,
    limit: Option<u64>,
    json: bool,
) -> Result<()> {
    let mut cache = ctx.open_cache()?;
    cache.bound_memory(STREAM_CACHE_KIB)?;
    let now = ctx.clock.now();
    if ensure_current(&mut cache, now)? {
        eprintln!("health computed as of {}", now.date_naive());
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if !json {
        write!(out, "{:>5}  ", "score")?;
        for label in ["trend", "util", "status", "ver", "expiry", "fresh"] {
            write!(out, "{label:>6}  ")?;
        }
        writeln!(out, "customer")?;
    }
    let limit = limit.unwrap_or(u64::MAX);
    let mut shown = 0u64;
    if limit > 0 {
        each_customer_health(
            &cache,
            sort,
            descending,
            usize::try_from(offset)?,
            |h| -> Result<bool> {
                if json {
                    serde_json::to_writer(&mut out, &h)?;
                    writeln!(out)?;
                } else {
                    line(&mut out, &h)?;
                }
                shown += 1;
                Ok(shown < limit)
            },
        )?;
    }
    if !json {
        let total = health_page(&cache, None, false, 0, 1)?.page.total;
        writeln!(
            out,
            "{shown} of {total} customers (0–100, higher is healthier; weights: {})",
            Factor::ALL
                .iter()
                .map(|f| format!("{} {}", f.key(), f.weight()))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Streams the licenses ending in the next `months` months, or writes them to `csv`.
pub fn renewal_calendar(ctx: &Context, months: u32, json: bool, csv: Option<&Path>) -> Result<()> {
    if months == 0 || months > MAX_RENEWAL_MONTHS {
        bail!("--months must be 1 to {MAX_RENEWAL_MONTHS}, not {months}");
    }
    let mut cache = ctx.open_cache()?;
    cache.bound_memory(STREAM_CACHE_KIB)?;
    let now = ctx.clock.now();
    if let Some(path) = csv {
        let rows = export_renewals(&mut cache, now, months, path)?;
        eprintln!("wrote {rows} licenses to {}", path.display());
        return Ok(());
    }
    if ensure_current(&mut cache, now)? {
        eprintln!("health computed as of {}", now.date_naive());
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if !json {
        let cal = renewal_page(&cache, now, months, 0, 1)?;
        let counts: Vec<String> = cal
            .months
            .iter()
            .map(|m| format!("{} {}", m.month, m.licenses))
            .collect();
        writeln!(
            out,
            "{} licenses end in the next {months} months ({}); utilization of {}",
            cal.page.total,
            counts.join(", "),
            cal.utilization_month
        )?;
    }
    let mut current = None;
    each_renewal(&cache, now, months, |r| -> Result<()> {
        if json {
            serde_json::to_writer(&mut out, &r)?;
            writeln!(out)?;
            return Ok(());
        }
        if current != Some(r.month) {
            writeln!(out, "\n{}", r.month)?;
            current = Some(r.month);
        }
        let util = r
            .utilization
            .map_or_else(|| "—".into(), |u| format!("{:.0} %", u * 100.0));
        let forecast = match r.forecast_at_expiry {
            None => "—".to_string(),
            Some(f) if r.forecast_over_seats => format!("{f:.1} OVER SEATS"),
            Some(f) => format!("{f:.1}"),
        };
        writeln!(
            out,
            "  {}  {:<24} {:<36} {:>6} used {:>5}/{:<5} forecast {:<16} health {}",
            r.expires_at.get(..10).unwrap_or(&r.expires_at),
            one_line(&r.license_id),
            format!(
                "{} [{}]",
                one_line(&r.account_name),
                one_line(&r.account_id)
            ),
            util,
            r.used,
            r.seats,
            forecast,
            r.health.map_or_else(|| "n/a".into(), |h| h.to_string()),
        )?;
        Ok(())
    })?;
    out.flush()?;
    Ok(())
}
