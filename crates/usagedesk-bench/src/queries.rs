//! Queries of the synced cache behind the views: children with aggregates (every tree
//! expansion), the entitlements card and license lists, account health (its computation and
//! its page), the renewal calendar and the Attention list.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use usagedesk_cache::Cache;
use usagedesk_domain::YearMonth;

use crate::procs::{own_peak_since_reset, reset_own_peak};
use crate::table::{ms, peak_figure, Figure};

/// What a tree expansion may take.
const TARGET_MS: f64 = 20.0;
/// What a view's first rows may take.
const VIEW_TARGET_MS: f64 = 100.0;
/// Runs of the entitlement queries (each takes up to seconds at 100k accounts).
const ENTITLEMENT_RUNS: usize = 5;
/// What the first computation of every customer's health may take (it runs in the
/// background; the views show the stored scores meanwhile).
const HEALTH_TARGET_MS: f64 = 3000.0;
/// The app's writing connection's page cache (KiB; `usagedesk-desktop`'s desk.rs).
const APP_WRITER_CACHE_KIB: u32 = 8 * 1024;

/// Median latency of a page of children with aggregates, for the roots, the largest root and a
/// mid-level account, over `runs` runs each.
pub fn bench(cache_path: &Path, today: chrono::NaiveDate, runs: usize) -> Result<Vec<Figure>> {
    let mut cache = Cache::open(cache_path)?;
    let month = *cache
        .usage()
        .completed_months(today)?
        .last()
        .context("the cache holds no completed month")?;
    let (root, mid) = pick_accounts(&cache, month)?;
    let mut out = Vec::new();
    for (label, parent) in [
        ("roots".to_string(), None),
        (format!("root {root}"), Some(root.as_str())),
        (format!("mid-level {mid}"), Some(mid.as_str())),
    ] {
        let median = median_ms(runs, || {
            cache
                .accounts()
                .children(parent, month, 0, 100, Default::default())
                .map(|_| ())
        })?;
        out.push(
            Figure::plain(
                format!("children with aggregates, {label} (median of {runs})"),
                ms(median),
            )
            .target(format!("< {TARGET_MS} ms"), median < TARGET_MS),
        );
    }
    out.extend(entitlements(&cache, month, &root)?);
    out.extend(health(&mut cache, today, runs)?);
    Ok(out)
}

/// The entitlements card of the largest root (own and rolled-up, 12-month trend) and the first
/// page of the licenses over their seats, across the whole cache.
fn entitlements(cache: &Cache, month: YearMonth, root: &str) -> Result<Vec<Figure>> {
    let card = median_ms(ENTITLEMENT_RUNS, || {
        usagedesk_entitlements::card(cache, root, month).map(|_| ())
    })?;
    let list = median_ms(ENTITLEMENT_RUNS, || {
        usagedesk_entitlements::license_list(
            cache,
            None,
            month,
            usagedesk_entitlements::LicenseFilter::Over,
            0,
            100,
        )
        .map(|_| ())
    })?;
    // A customer's page: the holder of the license most over its seats.
    let customer = usagedesk_entitlements::license_list(
        cache,
        None,
        month,
        usagedesk_entitlements::LicenseFilter::Over,
        0,
        1,
    )?
    .items
    .into_iter()
    .next()
    .map(|l| l.account_id);
    let mut out = Vec::new();
    if let Some(customer) = customer {
        let card = median_ms(ENTITLEMENT_RUNS, || {
            usagedesk_entitlements::card(cache, &customer, month).map(|_| ())
        })?;
        out.push(view_figure(
            format!("entitlements card, customer {customer} (median of {ENTITLEMENT_RUNS})"),
            card,
        ));
    }
    for (filter, name) in [
        (usagedesk_entitlements::LicenseFilter::Near, "near"),
        (usagedesk_entitlements::LicenseFilter::Under, "under"),
    ] {
        let t = median_ms(ENTITLEMENT_RUNS, || {
            usagedesk_entitlements::license_list(cache, None, month, filter, 0, 100).map(|_| ())
        })?;
        out.push(view_figure(
            format!(
                "licenses {name} their seats, first page of all (median of {ENTITLEMENT_RUNS})"
            ),
            t,
        ));
    }
    out.extend([
        Figure::plain(
            format!("entitlements card, root {root} (median of {ENTITLEMENT_RUNS})"),
            ms(card),
        )
        .target(format!("< {VIEW_TARGET_MS} ms"), card < VIEW_TARGET_MS),
        Figure::plain(
            format!("licenses over their seats, first page of all (median of {ENTITLEMENT_RUNS})"),
            ms(list),
        )
        .target(format!("< {VIEW_TARGET_MS} ms"), list < VIEW_TARGET_MS),
    ]);
    Ok(out)
}

fn view_figure(name: String, median: f64) -> Figure {
    Figure::plain(name, ms(median))
        .target(format!("< {VIEW_TARGET_MS} ms"), median < VIEW_TARGET_MS)
}

/// Account health computed for every customer as of `today` (the first computation of a
/// day), then a page of the Health view, of the renewal calendar and of the Attention list.
fn health(cache: &mut Cache, today: chrono::NaiveDate, runs: usize) -> Result<Vec<Figure>> {
    let now = today.and_hms_opt(12, 0, 0).context("noon")?.and_utc();
    let path = cache
        .file_path()
        .context("the bench's cache is a file")?
        .to_path_buf();
    let before = reset_own_peak();
    let t = Instant::now();
    {
        // As the app computes it: on a writing connection of its own, SQLite's page cache
        // bounded and temporary tables in files.
        let mut writer = Cache::open(&path)?;
        writer.bound_memory(APP_WRITER_CACHE_KIB)?;
        usagedesk_health::refresh::refresh(&mut writer, now)?;
    }
    let first = t.elapsed().as_secs_f64() * 1000.0;
    let peak = peak_figure(
        "health of every customer, first computation: peak memory (above the RSS before)",
        before,
        own_peak_since_reset(),
    );
    let page = median_ms(runs, || {
        usagedesk_health::health_page(cache, None, false, 0, 100).map(|_| ())
    })?;
    let sorted = median_ms(runs, || {
        usagedesk_health::health_page(cache, Some(usagedesk_health::Factor::ALL[1]), true, 0, 100)
            .map(|_| ())
    })?;
    let renewals = median_ms(runs, || {
        usagedesk_health::renewal_page(cache, now, 12, 0, 50).map(|_| ())
    })?;
    let bounds = usagedesk_attention::bounds(now);
    let attention = median_ms(runs, || {
        usagedesk_attention::page(cache, &bounds, None, 0, 100).map(|_| ())
    })?;
    let over = median_ms(runs, || {
        usagedesk_attention::page(
            cache,
            &bounds,
            Some(usagedesk_attention::AttentionKind::OverSeats),
            0,
            100,
        )
        .map(|_| ())
    })?;
    let counts = usagedesk_attention::counts(cache, &bounds)?;
    Ok(vec![
        Figure::plain("health of every customer, first computation of a day", ms(first))
            .target(format!("< {HEALTH_TARGET_MS} ms"), first < HEALTH_TARGET_MS),
        peak,
        view_figure(format!("health, first page by score (median of {runs})"), page),
        view_figure(
            format!("health, first page by utilization, highest first (median of {runs})"),
            sorted,
        ),
        view_figure(
            format!("renewals, first page of 12 months with month counts (median of {runs})"),
            renewals,
        ),
        view_figure(
            format!(
                "attention, first page with counts ({} overdue, {} expiring, {} over seats; median of {runs})",
                counts.overdue, counts.expiring, counts.over_seats
            ),
            attention,
        ),
        view_figure(
            format!("attention, first page of over seats with counts (median of {runs})"),
            over,
        ),
    ])
}

/// The root with the most children, and a mid-level account (depth 2) with the most children.
fn pick_accounts(cache: &Cache, month: YearMonth) -> Result<(String, String)> {
    let roots = cache
        .accounts()
        .children(None, month, 0, 1000, Default::default())?;
    let root = roots
        .items
        .iter()
        .max_by_key(|r| r.child_count)
        .context("no root account")?;
    let mut best: Option<(String, u64)> = None;
    for child in cache
        .accounts()
        .children(
            Some(&root.usage.account_id),
            month,
            0,
            10_000,
            Default::default(),
        )?
        .items
    {
        let grandchildren = cache.accounts().children(
            Some(&child.usage.account_id),
            month,
            0,
            10_000,
            Default::default(),
        )?;
        for g in grandchildren.items {
            if best.as_ref().is_none_or(|(_, n)| g.child_count > *n) {
                best = Some((g.usage.account_id.clone(), g.child_count));
            }
        }
    }
    let mid = best
        .map(|(id, _)| id)
        .unwrap_or_else(|| root.usage.account_id.clone());
    Ok((root.usage.account_id.clone(), mid))
}

fn median_ms(
    runs: usize,
    mut f: impl FnMut() -> Result<(), usagedesk_cache::CacheError>,
) -> Result<f64> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(times[times.len() / 2])
}
