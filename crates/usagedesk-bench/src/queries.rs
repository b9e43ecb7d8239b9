//! Queries of the synced cache behind the views: children with aggregates (every tree
//! expansion), and the entitlements card and license list.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use usagedesk_cache::Cache;
use usagedesk_domain::YearMonth;

use crate::table::{ms, Figure};

/// What a tree expansion may take.
const TARGET_MS: f64 = 20.0;
/// What a view's first rows may take.
const VIEW_TARGET_MS: f64 = 100.0;
/// Runs of the entitlement queries (each takes up to seconds at 100k accounts).
const ENTITLEMENT_RUNS: usize = 5;

/// Median latency of a page of children with aggregates, for the roots, the largest root and a
/// mid-level account, over `runs` runs each.
pub fn bench(cache_path: &Path, today: chrono::NaiveDate, runs: usize) -> Result<Vec<Figure>> {
    let cache = Cache::open(cache_path)?;
    let month = *cache
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
    Ok(vec![
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
    ])
}

/// The root with the most children, and a mid-level account (depth 2) with the most children.
fn pick_accounts(cache: &Cache, month: YearMonth) -> Result<(String, String)> {
    let roots = cache.children(None, month, 0, 1000, Default::default())?;
    let root = roots
        .items
        .iter()
        .max_by_key(|r| r.child_count)
        .context("no root account")?;
    let mut best: Option<(String, u64)> = None;
    for child in cache
        .children(
            Some(&root.usage.account_id),
            month,
            0,
            10_000,
            Default::default(),
        )?
        .items
    {
        let grandchildren = cache.children(
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
