//! Recomputes the health tables from the cache as of one moment: each customer's facts,
//! gathered in a few set-based passes (customers, instances, month-end activity, every
//! license's entitlements in the last completed month), scored by [`crate::rules`], written
//! in one transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use usagedesk_cache::{Cache, CacheError, HealthRecord, RenewalRecord};
use usagedesk_domain::customer::INACTIVE_AFTER;
use usagedesk_domain::YearMonth;
use usagedesk_entitlements::each_entitlement_everywhere;

use crate::rules::{score, HealthInputs, TREND_HALF};
use crate::versions::ChannelVersions;
use crate::RenewalPlan;

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// Whole days from `a` to `b` (ns), rounded down.
fn days_between(a: i64, b: i64) -> i64 {
    (b - a).div_euclid(NANOS_PER_DAY)
}

fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn date_of(ns: i64) -> NaiveDate {
    DateTime::from_timestamp_nanos(ns).date_naive()
}

/// The usage trend's months as of `today`: the 3 earlier, then the 3 recent completed ones.
pub fn trend_months(today: NaiveDate) -> (Vec<YearMonth>, Vec<YearMonth>) {
    let last = YearMonth::last_completed(today);
    let mut months = vec![last];
    for _ in 1..2 * TREND_HALF {
        let prev = months[months.len() - 1].prev();
        months.push(prev);
    }
    months.reverse();
    let recent = months.split_off(TREND_HALF);
    (months, recent)
}

/// What is gathered per customer.
#[derive(Default)]
struct Customer {
    name: String,
    inputs: HealthInputs,
    /// (channel, version) of its instances with a report.
    versions: Vec<(String, String)>,
    latest_report: Option<i64>,
}

/// Per license, its plans in the last completed month.
#[derive(Default)]
struct LicenseFacts {
    seats: u64,
    used: u64,
    forecast: Option<f64>,
    over: bool,
    plans: Vec<RenewalPlan>,
}

/// Days from `today` to the soonest end not passed at `now`; when all have passed, minus the
/// days since the latest; `None` when a license never ends and none is pending.
fn days_to_expiry(ends: &[i64], now: DateTime<Utc>) -> Option<i64> {
    let now_ns = nanos(now);
    let today = now.date_naive();
    if let Some(soonest) = ends.iter().filter(|e| **e >= now_ns).min() {
        return Some((date_of(*soonest) - today).num_days());
    }
    ends.iter()
        .max()
        .map(|latest| (date_of(*latest) - today).num_days().min(-1))
}

/// Recomputes health and the renewal calendar as of `now` and stores them.
///
/// The facts are gathered in one read snapshot; each customer's and each license's record is
/// then made as it is written (holding every record at once took 120 MiB more at 100k
/// customers).
pub fn refresh(cache: &mut Cache, now: DateTime<Utc>) -> Result<(), CacheError> {
    let today = now.date_naive();
    let now_ns = nanos(now);
    let gathered = cache.read_snapshot(|c| gather(c, now, today, now_ns))?;
    let Gathered {
        customers,
        channels,
        ending,
    } = gathered;
    let records = customers
        .into_iter()
        .map(|(id, c)| health_record(id, c, &channels, now_ns));
    let renewals = ending
        .into_iter()
        .map(|(license_id, e)| renewal_record(license_id, e));
    cache.health_mut().replace_from(today, records, renewals)
}

/// Recomputes when the stored tables are not those of `now`'s day or lag behind the data;
/// returns whether it did.
pub fn ensure_current(cache: &mut Cache, now: DateTime<Utc>) -> Result<bool, CacheError> {
    if cache.health().as_of()? == Some(now.date_naive()) {
        return Ok(false);
    }
    refresh(cache, now)?;
    Ok(true)
}

/// A license that ends, as the calendar lists it, with its plans in the last completed month.
struct Ending {
    account_id: String,
    license_type: String,
    expires_at: String,
    facts: LicenseFacts,
}

/// Everything a refresh reads, from one snapshot.
struct Gathered {
    /// By account id, the order their records are written in.
    customers: BTreeMap<String, Customer>,
    channels: ChannelVersions,
    /// By license id, the order their rows are written in.
    ending: BTreeMap<String, Ending>,
}

fn gather(
    c: &Cache,
    now: DateTime<Utc>,
    today: NaiveDate,
    now_ns: i64,
) -> Result<Gathered, CacheError> {
    let mut customers: BTreeMap<String, Customer> = BTreeMap::new();
    c.health().each_customer(|f| {
        let g = Customer {
            name: f.name,
            inputs: HealthInputs {
                days_to_expiry: if f.no_expiry > 0 && !f.ends.iter().any(|e| *e >= now_ns) {
                    None
                } else {
                    days_to_expiry(&f.ends, now)
                },
                ..Default::default()
            },
            ..Default::default()
        };
        customers.insert(f.account_id, g);
        Ok(())
    })?;

    let mut channels = ChannelVersions::default();
    let inactive_ns = INACTIVE_AFTER.num_nanoseconds().unwrap_or(i64::MAX);
    c.health().each_instance(|i| {
        let Some(g) = customers.get_mut(&i.owner) else {
            return Ok(());
        };
        g.inputs.instances += 1;
        if let (Some(sev), Some(at)) = (i.severity, i.last_check_in) {
            if now_ns - at < inactive_ns {
                if let Some(s) = usagedesk_cache::status_of_severity(sev) {
                    g.inputs.reporting.push(s);
                }
            }
        }
        g.latest_report = [g.latest_report, i.last_check_in, i.verified_at]
            .into_iter()
            .flatten()
            .max();
        if let Some(v) = i.app_version.filter(|v| !v.trim().is_empty()) {
            let channel = i.channel.unwrap_or_default();
            channels.add(&channel, &v);
            g.versions.push((channel, v));
        }
        Ok(())
    })?;

    let (earlier, recent) = trend_months(today);
    let months: Vec<String> = earlier
        .iter()
        .chain(&recent)
        .map(|m| m.to_string())
        .collect();
    let earlier_texts = &months[..earlier.len()];
    c.health().each_activity(&months, |id, month, value| {
        if let Some(g) = customers.get_mut(id) {
            if earlier_texts.iter().any(|m| m == month) {
                g.inputs.earlier.push(value);
            } else {
                g.inputs.recent.push(value);
            }
        }
        Ok(())
    })?;

    // The licenses that end, then their plans in the last completed month (a license that
    // never ends has no row in the calendar: its plans are not kept).
    let mut ending: BTreeMap<String, Ending> = BTreeMap::new();
    c.health()
        .each_ending_license(|license_id, account_id, license_type, expires_at| {
            ending.insert(
                license_id,
                Ending {
                    account_id,
                    license_type,
                    expires_at,
                    facts: LicenseFacts::default(),
                },
            );
            Ok(())
        })?;
    let last = YearMonth::last_completed(today);
    each_entitlement_everywhere(c, last, 1, |e| {
        let e = e.entitlement;
        if let Some(g) = customers.get_mut(&e.account_id) {
            g.inputs.used += e.used;
            g.inputs.seats += e.seats.unwrap_or(0);
        }
        let Some(l) = ending.get_mut(&e.license_id).map(|e| &mut e.facts) else {
            return Ok(());
        };
        l.seats += e.seats.unwrap_or(0);
        l.used += e.used;
        if let Some(f) = e.forecast_at_expiry {
            l.forecast = Some(l.forecast.unwrap_or(0.0) + f);
        }
        l.over |= e.forecast_over_seats;
        l.plans.push(RenewalPlan {
            plan: e.plan,
            seats: e.seats,
            used: e.used,
            utilization: e.utilization,
            forecast_at_expiry: e.forecast_at_expiry,
            forecast_over_seats: e.forecast_over_seats,
        });
        Ok::<(), CacheError>(())
    })?;
    Ok(Gathered {
        customers,
        channels,
        ending,
    })
}

/// A customer's stored health: its score from what was gathered.
fn health_record(
    account_id: String,
    mut g: Customer,
    channels: &ChannelVersions,
    now_ns: i64,
) -> Result<HealthRecord, CacheError> {
    g.inputs.versions_behind = g
        .versions
        .iter()
        .map(|(ch, v)| channels.behind(ch, v))
        .max();
    g.inputs.days_since_report = g.latest_report.map(|at| days_between(at, now_ns).max(0));
    let h = score(&g.inputs);
    let factors_json = serde_json::to_string(&h.factors)
        .map_err(|e| CacheError::Invalid(format!("health factors: {e}")))?;
    let mut factor_scores = [None; 6];
    for (slot, f) in factor_scores.iter_mut().zip(&h.factors) {
        *slot = f.score;
    }
    Ok(HealthRecord {
        account_id,
        name: g.name,
        score: h.score,
        factor_scores,
        factors_json,
    })
}

/// A license's row of the renewal calendar, with its plans in the last completed month.
fn renewal_record(license_id: String, e: Ending) -> Result<RenewalRecord, CacheError> {
    let facts = e.facts;
    let plans_json = serde_json::to_string(&facts.plans)
        .map_err(|e| CacheError::Invalid(format!("renewal plans: {e}")))?;
    Ok(RenewalRecord {
        license_id,
        account_id: e.account_id,
        license_type: e.license_type,
        expires_at: e.expires_at,
        seats: facts.seats,
        used: facts.used,
        forecast: facts.forecast.map(usagedesk_entitlements::round1),
        forecast_over: facts.over,
        plans_json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_trend_months_are_the_six_last_completed() {
        let (earlier, recent) = trend_months(NaiveDate::from_ymd_opt(2024, 3, 10).unwrap());
        let s = |v: &[YearMonth]| v.iter().map(|m| m.to_string()).collect::<Vec<_>>();
        assert_eq!(s(&earlier), ["2023-09", "2023-10", "2023-11"]);
        assert_eq!(s(&recent), ["2023-12", "2024-01", "2024-02"]);
    }

    #[test]
    fn days_to_expiry_takes_the_soonest_pending_end() {
        let now = Utc.with_ymd_and_hms(2024, 3, 10, 12, 0, 0).unwrap();
        let at = |d: u32, m: u32| nanos(Utc.with_ymd_and_hms(2024, m, d, 0, 0, 0).unwrap());
        assert_eq!(days_to_expiry(&[at(20, 3), at(1, 6)], now), Some(10));
        assert_eq!(
            days_to_expiry(&[at(1, 3), at(1, 6)], now),
            Some(83),
            "the passed end is left out"
        );
        assert_eq!(days_to_expiry(&[at(1, 3), at(5, 3)], now), Some(-5));
        assert_eq!(
            days_to_expiry(&[at(10, 3)], now),
            Some(-1),
            "ended this morning: expired"
        );
        assert_eq!(days_to_expiry(&[], now), None);
    }
}
