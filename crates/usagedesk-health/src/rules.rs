//! The health rules (`docs/health.md`): six factors, each scored 0–100 from one value, and
//! their weighted mean. Pure: no cache, no clock; the facts come in already measured against
//! the `today`/`now` the caller was given.

use serde::{Deserialize, Serialize};
use usagedesk_domain::customer::InstanceStatus;

/// The factors of the score, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Factor {
    /// Active users, the last 3 completed months against the 3 before.
    UsageTrend,
    /// Used seats over seats of the customer's licenses, last completed month.
    Utilization,
    /// The statuses of the instances that checked in within 24 hours.
    InstanceStatus,
    /// Versions the furthest-behind instance lags the newest seen on its channel.
    VersionLag,
    /// Days to the soonest end of a license.
    LicenseExpiry,
    /// Days since the latest check-in or usage file.
    ReportingFreshness,
}

impl Factor {
    pub const ALL: [Factor; 6] = [
        Factor::UsageTrend,
        Factor::Utilization,
        Factor::InstanceStatus,
        Factor::VersionLag,
        Factor::LicenseExpiry,
        Factor::ReportingFreshness,
    ];

    /// Its weight; the six add up to 100.
    pub fn weight(self) -> u32 {
        match self {
            Factor::UsageTrend => 20,
            Factor::Utilization => 20,
            Factor::InstanceStatus => 20,
            Factor::VersionLag => 15,
            Factor::LicenseExpiry => 15,
            Factor::ReportingFreshness => 10,
        }
    }

    /// The name used by the CLI's `--sort` and in JSON.
    pub fn key(self) -> &'static str {
        match self {
            Factor::UsageTrend => "usage_trend",
            Factor::Utilization => "utilization",
            Factor::InstanceStatus => "instance_status",
            Factor::VersionLag => "version_lag",
            Factor::LicenseExpiry => "license_expiry",
            Factor::ReportingFreshness => "reporting_freshness",
        }
    }

    pub fn from_key(s: &str) -> Option<Self> {
        Factor::ALL.into_iter().find(|f| f.key() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Factor::UsageTrend => "Usage trend",
            Factor::Utilization => "Utilization",
            Factor::InstanceStatus => "Instance status",
            Factor::VersionLag => "Version lag",
            Factor::LicenseExpiry => "License expiry",
            Factor::ReportingFreshness => "Reporting freshness",
        }
    }
}

/// Months on each side of the usage trend.
pub const TREND_HALF: usize = 3;
/// Days to expiry from which the expiry factor is full.
pub const EXPIRY_FULL_DAYS: i64 = 180;
/// Days without a report after which freshness is 0 (full up to [`FRESH_DAYS`]).
pub const STALE_DAYS: i64 = 30;
pub const FRESH_DAYS: i64 = 1;
/// Each version behind costs this many points.
pub const POINTS_PER_VERSION: f64 = 25.0;

/// Linear between the points `(x, y)` (ascending x), flat outside them.
fn piecewise(x: f64, points: &[(f64, f64)]) -> f64 {
    let (first, last) = (points[0], points[points.len() - 1]);
    if x <= first.0 {
        return first.1;
    }
    if x >= last.0 {
        return last.1;
    }
    for w in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if x <= x1 {
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0);
        }
    }
    last.1
}

/// The usage trend's value: the relative change of the mean of the recent months' active
/// users against the earlier months' (`None`: a side without any month-end value). Earlier 0:
/// recent 0 is no change, recent above 0 counts as +100 %.
pub fn usage_change(earlier: &[Option<u64>], recent: &[Option<u64>]) -> Option<f64> {
    let mean = |v: &[Option<u64>]| {
        let known: Vec<f64> = v.iter().flatten().map(|n| *n as f64).collect();
        (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64)
    };
    let (e, r) = (mean(earlier)?, mean(recent)?);
    Some(if e > 0.0 {
        (r - e) / e
    } else if r > 0.0 {
        1.0
    } else {
        0.0
    })
}

/// −50 % or worse: 0; no change: 70; +20 % or better: 100; linear between.
pub fn usage_trend_score(change: f64) -> f64 {
    piecewise(change, &[(-0.5, 0.0), (0.0, 70.0), (0.2, 100.0)])
}

/// Below 50 %: proportional (0 % → 0); 50–100 %: 100; over the seats: 20 points less per 25 %
/// over, down to 60 at 150 % and beyond (over seats is a billing matter more than a risk).
pub fn utilization_score(utilization: f64) -> f64 {
    piecewise(
        utilization,
        &[(0.0, 0.0), (0.5, 100.0), (1.0, 100.0), (1.5, 60.0)],
    )
}

/// Points of one instance's status.
pub fn status_points(s: InstanceStatus) -> f64 {
    match s {
        InstanceStatus::Ready => 100.0,
        InstanceStatus::Updating => 80.0,
        InstanceStatus::Degraded => 50.0,
        InstanceStatus::Unavailable => 10.0,
        InstanceStatus::Missing => 0.0,
    }
}

/// The mean points of the statuses (`None` without any).
pub fn instance_status_score(statuses: &[InstanceStatus]) -> Option<f64> {
    (!statuses.is_empty())
        .then(|| statuses.iter().map(|s| status_points(*s)).sum::<f64>() / statuses.len() as f64)
}

/// 100 − 25 per version behind, at least 0.
pub fn version_lag_score(behind: u32) -> f64 {
    (100.0 - POINTS_PER_VERSION * f64::from(behind)).max(0.0)
}

/// 0 days or fewer (expired): 0; linear up to 100 at 180 days and beyond.
pub fn license_expiry_score(days: i64) -> f64 {
    piecewise(days as f64, &[(0.0, 0.0), (EXPIRY_FULL_DAYS as f64, 100.0)])
}

/// Up to 1 day: 100; linear down to 0 at 30 days and beyond.
pub fn reporting_freshness_score(days: i64) -> f64 {
    piecewise(
        days as f64,
        &[(FRESH_DAYS as f64, 100.0), (STALE_DAYS as f64, 0.0)],
    )
}

/// The facts of one customer, measured against the time of asking.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthInputs {
    /// Active users at month end over the customer's subtree: the 3 earlier then the 3
    /// recent completed months (`None`: not available).
    pub earlier: Vec<Option<u64>>,
    pub recent: Vec<Option<u64>>,
    /// Summed over the customer's own licenses in force in the last completed month.
    pub used: u64,
    pub seats: u64,
    /// The statuses of the instances that checked in within 24 hours.
    pub reporting: Vec<InstanceStatus>,
    /// Instances in all.
    pub instances: u32,
    /// The most versions any of its reporting instances is behind (`None`: no version known).
    pub versions_behind: Option<u32>,
    /// Days from today to the soonest end of a license not expired yet; when all have
    /// expired, minus the days since the latest end. `None`: no license ends.
    pub days_to_expiry: Option<i64>,
    /// Days since the latest check-in or usage file; `None`: none ever.
    pub days_since_report: Option<i64>,
}

/// One factor of a customer's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FactorScore {
    pub factor: Factor,
    /// Its nominal weight (the six add up to 100).
    pub weight: u32,
    /// The value the factor is scored from (`None`: no data, the factor is left out).
    pub value: Option<f64>,
    /// The value in words ("+12 % (41 → 46 active users)").
    pub detail: String,
    /// 0–100 (`None`: no data).
    pub score: Option<f64>,
    /// Points it adds to the total: weight × score / (sum of the weights of the factors
    /// with data). The contributions add up to the total.
    pub contribution: f64,
}

/// A customer's score with its factors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HealthScore {
    /// 0–100, the contributions' sum rounded.
    pub score: u32,
    pub factors: Vec<FactorScore>,
}

fn pct(x: f64) -> String {
    format!("{:.0} %", x * 100.0)
}

fn signed_pct(x: f64) -> String {
    format!("{:+.0} %", x * 100.0)
}

fn plural(n: i64, one: &str) -> String {
    if n == 1 || n == -1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn mean_text(v: &[Option<u64>]) -> String {
    let known: Vec<u64> = v.iter().flatten().copied().collect();
    if known.is_empty() {
        "n/a".into()
    } else {
        format!(
            "{:.0}",
            known.iter().sum::<u64>() as f64 / known.len() as f64
        )
    }
}

fn status_text(reporting: &[InstanceStatus], instances: u32) -> String {
    let mut parts = Vec::new();
    for s in [
        InstanceStatus::Ready,
        InstanceStatus::Updating,
        InstanceStatus::Degraded,
        InstanceStatus::Unavailable,
        InstanceStatus::Missing,
    ] {
        let n = reporting.iter().filter(|r| **r == s).count();
        if n > 0 {
            parts.push(format!("{n} {s:?}"));
        }
    }
    let silent = instances as usize - reporting.len().min(instances as usize);
    if silent > 0 {
        parts.push(format!("{silent} not reporting (left out)"));
    }
    if parts.is_empty() {
        "no instances".into()
    } else {
        parts.join(", ")
    }
}

/// Each factor's value, score and detail (contributions not yet set).
fn factors(i: &HealthInputs) -> Vec<FactorScore> {
    let f = |factor: Factor, value: Option<f64>, score: Option<f64>, detail: String| FactorScore {
        factor,
        weight: factor.weight(),
        value,
        detail,
        score,
        contribution: 0.0,
    };
    let change = usage_change(&i.earlier, &i.recent);
    let utilization = (i.seats > 0).then(|| i.used as f64 / i.seats as f64);
    vec![
        f(
            Factor::UsageTrend,
            change,
            change.map(usage_trend_score),
            match change {
                Some(c) => format!(
                    "{} ({} → {} active users a month)",
                    signed_pct(c),
                    mean_text(&i.earlier),
                    mean_text(&i.recent)
                ),
                None => "not enough month-end values".into(),
            },
        ),
        f(
            Factor::Utilization,
            utilization,
            utilization.map(utilization_score),
            match utilization {
                Some(u) => format!("{} ({} of {} seats)", pct(u), i.used, i.seats),
                None if i.used > 0 => format!("{} used, no seats", i.used),
                None => "no seats in force".into(),
            },
        ),
        f(
            Factor::InstanceStatus,
            instance_status_score(&i.reporting),
            instance_status_score(&i.reporting),
            status_text(&i.reporting, i.instances),
        ),
        f(
            Factor::VersionLag,
            i.versions_behind.map(f64::from),
            i.versions_behind.map(version_lag_score),
            match i.versions_behind {
                Some(0) => "on the newest version of its channel".into(),
                Some(n) => format!("{} behind the newest", plural(i64::from(n), "version")),
                None => "no version reported".into(),
            },
        ),
        f(
            Factor::LicenseExpiry,
            i.days_to_expiry.map(|d| d as f64),
            Some(i.days_to_expiry.map_or(100.0, license_expiry_score)),
            match i.days_to_expiry {
                None => "no license ends".into(),
                Some(d) if d < 0 => format!("expired {} ago", plural(-d, "day")),
                Some(d) => format!("{} to the soonest end", plural(d, "day")),
            },
        ),
        f(
            Factor::ReportingFreshness,
            i.days_since_report.map(|d| d as f64),
            if i.instances == 0 {
                None
            } else {
                Some(i.days_since_report.map_or(0.0, reporting_freshness_score))
            },
            match (i.instances, i.days_since_report) {
                (0, _) => "no instances".into(),
                (_, None) => "never reported".into(),
                (_, Some(d)) => format!("last report {} ago", plural(d, "day")),
            },
        ),
    ]
}

/// The weighted mean of the factors with data: each contributes weight × score / (the sum of
/// the weights of the factors with data); the score is the sum rounded.
pub fn combine(mut factors: Vec<FactorScore>) -> HealthScore {
    let weights: u32 = factors
        .iter()
        .filter(|f| f.score.is_some())
        .map(|f| f.weight)
        .sum();
    let mut total = 0.0;
    for f in &mut factors {
        f.contribution = match f.score {
            Some(s) if weights > 0 => f64::from(f.weight) * s / f64::from(weights),
            _ => 0.0,
        };
        total += f.contribution;
    }
    HealthScore {
        score: total.round().clamp(0.0, 100.0) as u32,
        factors,
    }
}

/// A customer's score from its facts.
pub fn score(inputs: &HealthInputs) -> HealthScore {
    combine(factors(inputs))
}

#[cfg(test)]
mod tests;
