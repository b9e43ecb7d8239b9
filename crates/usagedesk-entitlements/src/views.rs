//! The entitlement views: per license and plan (CLI rows, the card's own licenses), rolled
//! up over a subtree, and the paged list of licenses over, near or under their seats.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use usagedesk_cache::{
    Cache, CacheError, EntitlementScope, LicenseFilter, LicenseMonth, Page, MAX_LICENSE_PAGE,
};
use usagedesk_domain::{Metric, YearMonth};

use crate::forecast::{forecast_at, FORECAST_MONTHS};
use crate::{overage, utilization};

/// Months of the card's trends.
pub const TREND_MONTHS: usize = 12;
/// The card shows at most this many of an account's own (license, plan) pairs.
pub const MAX_OWN_ON_CARD: usize = 50;

/// One license and plan in one completed month (the CLI's JSON object, the CSV's row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Entitlement {
    pub license_id: String,
    /// The account holding the license.
    pub account_id: String,
    pub plan: String,
    pub seat_metric: Metric,
    /// `None`: the license has no seats for the plan (any use is overage).
    pub seats: Option<u64>,
    pub used: u64,
    /// used / seats; `None` without seats.
    pub utilization: Option<f64>,
    pub overage: u64,
    /// The least-squares line through the last ≤ 6 completed months (up to `month`) in force,
    /// at the expiry month; `None` under 3 months or without expiry. One decimal, never < 0.
    pub forecast_at_expiry: Option<f64>,
    /// The forecast exceeds the seats (0 without seats).
    pub forecast_over_seats: bool,
    /// RFC 3339; `None`: never expires.
    pub expires_at: Option<String>,
    pub month: YearMonth,
}

/// Used seats in one month (`seats` for the seat line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UsedPoint {
    pub month: YearMonth,
    pub used: u64,
    pub seats: Option<u64>,
}

/// An entitlement with its trend: the months of the window in which the license was in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EntitlementTrend {
    pub entitlement: Entitlement,
    pub trend: Vec<UsedPoint>,
}

/// One month of a plan rolled up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RollupPoint {
    pub month: YearMonth,
    pub seats: u64,
    pub used: u64,
    pub overage: u64,
}

/// A plan rolled up over the licenses in force held in an account's subtree: seats, used and
/// overage summed (overage per license, never netted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlanRollup {
    pub plan: String,
    pub seat_metric: Metric,
    pub seats: u64,
    pub used: u64,
    /// used / seats of the sums; `None` without seats.
    pub utilization: Option<f64>,
    pub overage: u64,
    /// (license, plan) pairs in force in the month.
    pub licenses: u64,
    /// The window's months, oldest first, each present (0 where nothing was in force).
    pub trend: Vec<RollupPoint>,
}

/// The account view's Entitlements card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EntitlementCard {
    pub account_id: String,
    pub month: YearMonth,
    /// The account's own licenses, per plan, by license then plan (at most
    /// [`MAX_OWN_ON_CARD`]).
    pub own: Vec<EntitlementTrend>,
    /// More own (license, plan) pairs than shown.
    pub own_more: bool,
    /// Per plan (catalog order, then others), over the subtree.
    pub rollup: Vec<PlanRollup>,
}

/// A row of the list of licenses over, near or under their seats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LicenseListItem {
    pub license_id: String,
    pub account_id: String,
    pub account_name: String,
    pub plan: String,
    pub seat_metric: Metric,
    pub seats: Option<u64>,
    pub used: u64,
    pub utilization: Option<f64>,
    pub overage: u64,
}

/// The first month a window of `months` months ending at `month` needs.
fn window_start(month: YearMonth, months: usize) -> YearMonth {
    (1..months.max(1)).fold(month, |m, _| m.prev())
}

/// Folds the rows of one (license, plan), months ascending, into its entitlement at `month`
/// and its trend from `from`. `None` when the license is not in force in `month`, or has no
/// seats for the plan and did not use it in `month`.
fn fold(rows: &[LicenseMonth], from: YearMonth, month: YearMonth) -> Option<EntitlementTrend> {
    let first = rows.first()?;
    let in_force = |m: YearMonth| m >= first.first_month && first.last_month.is_none_or(|l| m <= l);
    if !in_force(month) {
        return None;
    }
    // Seats do not vary by month; a month without a row (a plan without seats, unused then)
    // counts 0.
    let seats = first.seats;
    let by_month: BTreeMap<YearMonth, u64> = rows.iter().map(|r| (r.month, r.used)).collect();
    if seats.is_none() && !by_month.contains_key(&month) {
        return None;
    }
    let trend: Vec<UsedPoint> = from
        .through(month)
        .filter(|m| in_force(*m))
        .map(|m| UsedPoint {
            month: m,
            used: by_month.get(&m).copied().unwrap_or(0),
            seats,
        })
        .collect();
    let used = by_month.get(&month).copied().unwrap_or(0);
    let recent: Vec<(YearMonth, u64)> = trend
        .iter()
        .rev()
        .take(FORECAST_MONTHS)
        .map(|p| (p.month, p.used))
        .rev()
        .collect();
    // The expiry's month: the first 7 characters of its RFC 3339 time in UTC.
    let forecast = first
        .expires_at
        .as_deref()
        .and_then(|at| at.get(..7)?.parse::<YearMonth>().ok())
        .and_then(|expiry| forecast_at(&recent, expiry));
    Some(EntitlementTrend {
        entitlement: Entitlement {
            license_id: first.license_id.clone(),
            account_id: first.account_id.clone(),
            plan: first.plan.clone(),
            seat_metric: first.seat_metric,
            seats,
            used,
            utilization: utilization(used, seats),
            overage: overage(used, seats),
            forecast_at_expiry: forecast,
            forecast_over_seats: forecast.is_some_and(|f| f > seats.unwrap_or(0) as f64),
            expires_at: first.expires_at.clone(),
            month,
        },
        trend,
    })
}

/// Streams the entitlements in `month` of the licenses held in `scope` of `account`, by
/// license then plan, each with its trend over the `trend_months` months ending at `month`.
/// Reads at most one (license, plan)'s months at a time.
pub fn each_entitlement<E: From<CacheError>>(
    cache: &Cache,
    account: &str,
    scope: EntitlementScope,
    month: YearMonth,
    trend_months: usize,
    each: impl FnMut(EntitlementTrend) -> Result<(), E>,
) -> Result<(), E> {
    fold_stream(month, trend_months, each, |from, feed| {
        cache
            .entitlements()
            .each_license_month(account, scope, from, month, feed)
    })
}

/// [`each_entitlement`] over every license in the cache (the health tables' rebuild).
pub fn each_entitlement_everywhere<E: From<CacheError>>(
    cache: &Cache,
    month: YearMonth,
    trend_months: usize,
    each: impl FnMut(EntitlementTrend) -> Result<(), E>,
) -> Result<(), E> {
    fold_stream(month, trend_months, each, |from, feed| {
        cache
            .entitlements()
            .each_license_month_everywhere(from, month, feed)
    })
}

/// Groups the rows `source` streams (from the month it is given) by (license, plan) and
/// folds each group into its entitlement.
fn fold_stream<E: From<CacheError>>(
    month: YearMonth,
    trend_months: usize,
    mut each: impl FnMut(EntitlementTrend) -> Result<(), E>,
    source: impl FnOnce(YearMonth, &mut dyn FnMut(LicenseMonth) -> Result<(), E>) -> Result<(), E>,
) -> Result<(), E> {
    let from = window_start(month, trend_months.max(FORECAST_MONTHS));
    let shown_from = window_start(month, trend_months.max(1));
    by_license_plan(
        |feed| source(from, feed),
        |group| {
            if let Some(mut e) = fold(group, from, month) {
                e.trend.retain(|p| p.month >= shown_from);
                each(e)?;
            }
            Ok(())
        },
    )
}

/// Hands the rows `source` streams (ordered by license, then plan) to `group` one
/// (license, plan) at a time, holding only that group's rows.
fn by_license_plan<E>(
    source: impl FnOnce(&mut dyn FnMut(LicenseMonth) -> Result<(), E>) -> Result<(), E>,
    mut group: impl FnMut(&[LicenseMonth]) -> Result<(), E>,
) -> Result<(), E> {
    let mut rows: Vec<LicenseMonth> = Vec::new();
    source(&mut |row: LicenseMonth| {
        let same = rows
            .first()
            .is_some_and(|g| g.license_id == row.license_id && g.plan == row.plan);
        if !same && !rows.is_empty() {
            group(&rows)?;
            rows.clear();
        }
        rows.push(row);
        Ok(())
    })?;
    if rows.is_empty() {
        return Ok(());
    }
    group(&rows)
}

/// Streams, for every month of `months` (ascending), the entitlements of the licenses held in
/// `scope` of `account`, by license, then plan, then month: the rows of [`each_entitlement`]
/// for each month (same numbers, same forecast), read in one pass over the range. Holds one
/// (license, plan)'s months at a time.
pub fn each_entitlement_over<E: From<CacheError>>(
    cache: &Cache,
    account: &str,
    scope: EntitlementScope,
    months: &[YearMonth],
    mut each: impl FnMut(Entitlement) -> Result<(), E>,
) -> Result<(), E> {
    let (Some(&first), Some(&last)) = (months.first(), months.last()) else {
        return Ok(());
    };
    if months.windows(2).any(|w| w[0] >= w[1]) {
        return Err(CacheError::Invalid("months must ascend without repeats".into()).into());
    }
    let from = window_start(first, FORECAST_MONTHS);
    by_license_plan(
        |feed| {
            cache
                .entitlements()
                .each_license_month(account, scope, from, last, feed)
        },
        |group| {
            for &m in months {
                if let Some(e) = fold(group, window_start(m, FORECAST_MONTHS), m) {
                    each(e.entitlement)?;
                }
            }
            Ok(())
        },
    )
}

/// Per plan, the licenses in force held in `account`'s subtree rolled up in `month`, with a
/// trend over the `trend_months` months ending there.
pub fn rollup(
    cache: &Cache,
    account: &str,
    month: YearMonth,
    trend_months: usize,
) -> Result<Vec<PlanRollup>, CacheError> {
    let from = window_start(month, trend_months);
    let catalog = cache.accounts().plans()?;
    let mut plans: BTreeMap<String, Vec<RollupPoint>> = BTreeMap::new();
    let mut licenses: BTreeMap<String, u64> = BTreeMap::new();
    for r in cache.entitlements().rollup(account, from, month)? {
        if r.month == month {
            licenses.insert(r.plan.clone(), r.licenses);
        }
        plans.entry(r.plan).or_default().push(RollupPoint {
            month: r.month,
            seats: r.seats,
            used: r.used,
            overage: r.overage,
        });
    }
    let mut out: Vec<PlanRollup> = plans
        .into_iter()
        .map(|(plan, points)| {
            let at = |m: YearMonth| points.iter().find(|p| p.month == m).copied();
            let trend: Vec<RollupPoint> = from
                .through(month)
                .map(|m| {
                    at(m).unwrap_or(RollupPoint {
                        month: m,
                        seats: 0,
                        used: 0,
                        overage: 0,
                    })
                })
                .collect();
            let now = trend.last().copied().unwrap_or(RollupPoint {
                month,
                seats: 0,
                used: 0,
                overage: 0,
            });
            let seat_metric = catalog
                .0
                .iter()
                .find(|p| p.id == plan)
                .map_or(usagedesk_domain::plan::DEFAULT_SEAT_METRIC, |p| {
                    p.seat_metric
                });
            PlanRollup {
                licenses: licenses.get(&plan).copied().unwrap_or(0),
                plan,
                seat_metric,
                seats: now.seats,
                used: now.used,
                utilization: utilization(now.used, Some(now.seats)),
                overage: now.overage,
                trend,
            }
        })
        .collect();
    // Catalog order, then plans the catalog does not list, by id.
    out.sort_by_key(|p| {
        (
            catalog.index_of(&p.plan).unwrap_or(usize::MAX),
            p.plan.clone(),
        )
    });
    Ok(out)
}

/// The account view's Entitlements card for `month`.
pub fn card(cache: &Cache, account: &str, month: YearMonth) -> Result<EntitlementCard, CacheError> {
    cache.read_snapshot(|cache| {
        let mut own = Vec::new();
        let mut own_more = false;
        each_entitlement(
            cache,
            account,
            EntitlementScope::Own,
            month,
            TREND_MONTHS,
            |e| {
                if own.len() < MAX_OWN_ON_CARD {
                    own.push(e);
                } else {
                    own_more = true;
                }
                Ok::<(), CacheError>(())
            },
        )?;
        Ok(EntitlementCard {
            account_id: account.to_owned(),
            month,
            own,
            own_more,
            rollup: rollup(cache, account, month, TREND_MONTHS)?,
        })
    })
}

/// One page of the licenses of `month` that `filter` selects (held in `account`'s subtree, or
/// anywhere with `None`).
pub fn license_list(
    cache: &Cache,
    account: Option<&str>,
    month: YearMonth,
    filter: LicenseFilter,
    offset: usize,
    limit: usize,
) -> Result<Page<LicenseListItem>, CacheError> {
    let page = cache.entitlements().license_list(
        account,
        month,
        filter,
        offset,
        limit.min(MAX_LICENSE_PAGE),
    )?;
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|r| LicenseListItem {
                utilization: utilization(r.used, r.seats),
                overage: overage(r.used, r.seats),
                license_id: r.license_id,
                account_id: r.account_id,
                account_name: r.account_name,
                plan: r.plan,
                seat_metric: r.seat_metric,
                seats: r.seats,
                used: r.used,
            })
            .collect(),
        total: page.total,
        offset: page.offset,
        limit: page.limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ym(s: &str) -> YearMonth {
        s.parse().unwrap()
    }

    fn row(month: &str, used: u64, seats: Option<u64>) -> LicenseMonth {
        LicenseMonth {
            license_id: "L".into(),
            account_id: "a".into(),
            plan: "basic".into(),
            seat_metric: Metric::UsersRegistered,
            seats,
            used,
            month: ym(month),
            first_month: ym("2024-02"),
            last_month: Some(ym("2024-11")),
            expires_at: Some("2024-12-15T00:00:00Z".into()),
        }
    }

    #[test]
    fn a_plan_without_seats_is_shown_in_months_it_was_used_and_counts_0_in_the_others() {
        let rows = [row("2024-03", 4, None), row("2024-05", 8, None)];
        let e = fold(&rows, ym("2024-01"), ym("2024-05")).unwrap();
        assert_eq!(e.entitlement.overage, 8, "no seats: all use is overage");
        assert_eq!(e.entitlement.utilization, None);
        // In force from February: Feb 0, Mar 4, Apr 0, May 8, at the expiry month.
        let expected = forecast_at(
            &[
                (ym("2024-02"), 0),
                (ym("2024-03"), 4),
                (ym("2024-04"), 0),
                (ym("2024-05"), 8),
            ],
            ym("2024-12"),
        );
        assert_eq!(e.entitlement.forecast_at_expiry, expected);
        assert_eq!(e.trend.len(), 4, "February to May");
        assert!(
            fold(&rows, ym("2024-01"), ym("2024-04")).is_none(),
            "not used and no seats in April: no row"
        );
    }

    #[test]
    fn a_license_not_in_force_in_the_month_has_no_entitlement() {
        let rows = [row("2024-10", 4, Some(5)), row("2024-11", 4, Some(5))];
        assert!(fold(&rows, ym("2024-07"), ym("2024-12")).is_none());
        assert!(fold(&rows, ym("2024-07"), ym("2024-11")).is_some());
    }
}
