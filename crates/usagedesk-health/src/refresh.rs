//! Recomputes the health tables from the cache as of one moment, in one read snapshot and
//! a few set-based passes, each streamed (`usagedesk_cache::HealthStage`): the channels'
//! versions; every license's entitlements in the last completed month, merged with the
//! licenses that end into the renewal calendar; then each customer with its instances,
//! month-end activity and seats, scored by [`crate::rules`]. Each row is staged as it is
//! made and the day's rows are merged into the stored tables in one transaction.

use chrono::{DateTime, NaiveDate, Utc};
use usagedesk_cache::{
    Cache, CacheError, EndingLicense, EndingLicenses, HealthFacts, HealthRecord, HealthStage,
    RenewalRecord,
};
use usagedesk_domain::customer::INACTIVE_AFTER;
use usagedesk_domain::YearMonth;
use usagedesk_entitlements::{each_entitlement_everywhere, Entitlement};

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
pub fn refresh(cache: &mut Cache, now: DateTime<Utc>) -> Result<(), CacheError> {
    let today = now.date_naive();
    let staged = cache.read_snapshot(|c| {
        let stage = c.health().stage()?;
        let mut channels = ChannelVersions::default();
        stage.each_channel_version(|channel, version| {
            channels.add(channel, version);
            Ok(())
        })?;
        let mut renewals = Renewals::new(&stage);
        each_entitlement_everywhere(c, YearMonth::last_completed(today), 1, |t| {
            let e = t.entitlement;
            stage.add_seats(&e.account_id, e.seats.unwrap_or(0), e.used)?;
            renewals.add(e)
        })?;
        renewals.finish()?;
        let (earlier, recent) = trend_months(today);
        let months: Vec<String> = earlier
            .iter()
            .chain(&recent)
            .map(|m| m.to_string())
            .collect();
        stage.each_customer(&months, |f| {
            stage.put_health(&health_record(f, earlier.len(), &channels, now)?)
        })?;
        Ok::<_, CacheError>(stage.finish())
    })?;
    cache.health_mut().commit_staged(today, staged)
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

/// The renewal calendar, made from the entitlements (by license, then plan) merged with the
/// licenses that end (by license): a license's row is staged once its last plan is read; a
/// license that ends without a plan in the month has a row with none.
struct Renewals<'s> {
    stage: &'s HealthStage<'s>,
    ending: EndingLicenses<'s>,
    /// The next license that ends, not reached yet.
    next: Option<EndingLicense>,
    /// The license that ends whose plans are being read.
    open: Option<(EndingLicense, LicenseFacts)>,
}

impl<'s> Renewals<'s> {
    fn new(stage: &'s HealthStage<'s>) -> Self {
        Self {
            stage,
            ending: stage.ending_licenses(),
            next: None,
            open: None,
        }
    }

    fn add(&mut self, e: Entitlement) -> Result<(), CacheError> {
        if self
            .open
            .as_ref()
            .is_some_and(|(l, _)| l.license_id != e.license_id)
        {
            self.close()?;
        }
        if self.open.is_none() {
            self.open = self
                .reach(Some(&e.license_id))?
                .map(|l| (l, LicenseFacts::default()));
        }
        let Some((_, l)) = self.open.as_mut() else {
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
        Ok(())
    }

    /// Stages every license that ends before `license_id` (`None`: all that are left), without
    /// plans, and takes the one that is `license_id`, if it ends.
    fn reach(&mut self, license_id: Option<&str>) -> Result<Option<EndingLicense>, CacheError> {
        loop {
            if self.next.is_none() {
                self.next = self.ending.next_license()?;
            }
            let Some(next) = self.next.take() else {
                return Ok(None);
            };
            match license_id.map(|id| next.license_id.as_str().cmp(id)) {
                Some(std::cmp::Ordering::Equal) => return Ok(Some(next)),
                Some(std::cmp::Ordering::Greater) => {
                    self.next = Some(next);
                    return Ok(None);
                }
                _ => self
                    .stage
                    .put_renewal(&renewal_record(next, LicenseFacts::default())?)?,
            }
        }
    }

    fn close(&mut self) -> Result<(), CacheError> {
        if let Some((l, facts)) = self.open.take() {
            self.stage.put_renewal(&renewal_record(l, facts)?)?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), CacheError> {
        self.close()?;
        self.reach(None)?;
        Ok(())
    }
}

/// A customer's stored health: its score from its facts (`earlier`: how many of its activity
/// months are the trend's earlier ones).
fn health_record(
    f: HealthFacts,
    earlier: usize,
    channels: &ChannelVersions,
    now: DateTime<Utc>,
) -> Result<HealthRecord, CacheError> {
    let now_ns = nanos(now);
    let inactive_ns = INACTIVE_AFTER.num_nanoseconds().unwrap_or(i64::MAX);
    let mut inputs = HealthInputs {
        days_to_expiry: if f.no_expiry > 0 && !f.ends.iter().any(|e| *e >= now_ns) {
            None
        } else {
            days_to_expiry(&f.ends, now)
        },
        seats: f.seats,
        used: f.used,
        instances: u32::try_from(f.instances.len()).unwrap_or(u32::MAX),
        ..Default::default()
    };
    let mut latest_report = None;
    for i in &f.instances {
        if let (Some(sev), Some(at)) = (i.severity, i.last_check_in) {
            if now_ns - at < inactive_ns {
                if let Some(s) = usagedesk_cache::status_of_severity(sev) {
                    inputs.reporting.push(s);
                }
            }
        }
        latest_report = [latest_report, i.last_check_in, i.verified_at]
            .into_iter()
            .flatten()
            .max();
        if let Some(v) = i.app_version.as_deref().filter(|v| !v.trim().is_empty()) {
            let behind = channels.behind(i.channel.as_deref().unwrap_or_default(), v);
            inputs.versions_behind = inputs.versions_behind.max(Some(behind));
        }
    }
    inputs.days_since_report = latest_report.map(|at| days_between(at, now_ns).max(0));
    let (e, r) = f.activity.split_at(earlier.min(f.activity.len()));
    inputs.earlier = e.to_vec();
    inputs.recent = r.to_vec();
    let h = score(&inputs);
    let factors_json = serde_json::to_string(&h.factors)
        .map_err(|e| CacheError::Invalid(format!("health factors: {e}")))?;
    let mut factor_scores = [None; 6];
    for (slot, f) in factor_scores.iter_mut().zip(&h.factors) {
        *slot = f.score;
    }
    Ok(HealthRecord {
        account_id: f.account_id,
        name: f.name,
        score: h.score,
        factor_scores,
        factors_json,
    })
}

/// A license's row of the renewal calendar, with its plans in the last completed month.
fn renewal_record(l: EndingLicense, facts: LicenseFacts) -> Result<RenewalRecord, CacheError> {
    let plans_json = serde_json::to_string(&facts.plans)
        .map_err(|e| CacheError::Invalid(format!("renewal plans: {e}")))?;
    Ok(RenewalRecord {
        license_id: l.license_id,
        account_id: l.account_id,
        license_type: l.license_type,
        expires_at: l.expires_at,
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
