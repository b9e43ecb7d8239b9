//! Account health and the renewal calendar (`docs/health.md`), from the local cache.
//!
//! - [`rules`]: the factors, their weights and scoring, and the combination (pure).
//! - [`refresh`]: gathers each customer's facts from the cache as of a moment and stores the
//!   scores and the calendar's rows (cache migration 0007), so a page is one indexed read.
//! - [`health_list`], [`customer_health`], [`renewals`]: the views the CLI and the app show;
//!   each first brings the stored tables up to the `now` it is given.

pub mod refresh;
mod renewal_csv;
pub mod rules;
mod versions;

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use usagedesk_cache::{Cache, CacheError, HealthRecord, Page, RenewalListRow, MAX_HEALTH_PAGE};
use usagedesk_domain::YearMonth;

pub use refresh::{ensure_current, trend_months};
pub use renewal_csv::{export_renewals, renewal_record, write_renewals_csv, RENEWAL_COLUMNS};
pub use rules::{Factor, FactorScore, HealthInputs, HealthScore};
pub use versions::{ChannelVersions, Version};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("cannot write the CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("cannot write {}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// The calendar's default span in months.
pub const DEFAULT_RENEWAL_MONTHS: u32 = 12;
/// The calendar's longest span.
pub const MAX_RENEWAL_MONTHS: u32 = 120;

/// One customer's health in a list or on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CustomerHealth {
    pub account_id: String,
    pub name: String,
    /// 0–100.
    pub score: u32,
    /// The six factors, in [`Factor::ALL`] order.
    pub factors: Vec<FactorScore>,
}

/// A page of the health list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HealthPage {
    pub page: Page<CustomerHealth>,
    /// The UTC day the stored scores were computed for.
    pub as_of: Option<NaiveDate>,
    /// The stored scores lag behind today or the data and are being recomputed: the page
    /// shows the stored ones meanwhile (none before the first computation); ask again.
    pub computing: bool,
}

/// One plan of a license in the calendar, last completed month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RenewalPlan {
    pub plan: String,
    pub seats: Option<u64>,
    pub used: u64,
    pub utilization: Option<f64>,
    pub forecast_at_expiry: Option<f64>,
    pub forecast_over_seats: bool,
}

/// One license of the renewal calendar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Renewal {
    pub license_id: String,
    pub account_id: String,
    pub account_name: String,
    pub license_type: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
    /// The month it expires in (its calendar group).
    pub month: YearMonth,
    /// Summed over its plans in [`RenewalCalendar::utilization_month`].
    pub seats: u64,
    pub used: u64,
    /// used / seats; `None` without seats (or not in force that month).
    pub utilization: Option<f64>,
    /// The plans' forecasts at expiry summed (`None`: no plan has one).
    pub forecast_at_expiry: Option<f64>,
    /// A plan's forecast exceeds its seats.
    pub forecast_over_seats: bool,
    /// Its customer's health score.
    pub health: Option<u32>,
    pub plans: Vec<RenewalPlan>,
}

/// How many licenses a month of the calendar holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RenewalMonth {
    pub month: YearMonth,
    pub licenses: u64,
}

/// A page of the renewal calendar, with every month's count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RenewalCalendar {
    /// The month of "now" and the `months − 1` after it, each with its count (0 included).
    pub months: Vec<RenewalMonth>,
    pub page: Page<Renewal>,
    /// The month utilization is measured in (the last completed one).
    pub utilization_month: YearMonth,
    pub as_of: Option<NaiveDate>,
    /// As [`HealthPage::computing`]: the calendar's utilization and scores are recomputed.
    pub computing: bool,
}

fn customer(r: HealthRecord) -> Result<CustomerHealth, CacheError> {
    Ok(CustomerHealth {
        factors: serde_json::from_str(&r.factors_json).map_err(|e| CacheError::Corrupt {
            what: format!("stored health factors: {e}"),
        })?,
        account_id: r.account_id,
        name: r.name,
        score: r.score,
    })
}

fn sort_column(sort: Option<Factor>) -> Option<usize> {
    sort.map(|f| Factor::ALL.iter().position(|x| *x == f).unwrap_or(0))
}

/// One page of the customers by health as stored (`sort`: by that factor's score instead),
/// lowest first unless `descending`; customers without data for the factor last, by name.
/// Call [`ensure_current`] first (or use [`health_list`]).
pub fn health_page(
    cache: &Cache,
    sort: Option<Factor>,
    descending: bool,
    offset: usize,
    limit: usize,
) -> Result<HealthPage, CacheError> {
    cache.read_snapshot(|c| {
        let page = c.health().page(
            sort_column(sort),
            descending,
            offset,
            limit.min(MAX_HEALTH_PAGE),
        )?;
        Ok(HealthPage {
            page: Page {
                items: page
                    .items
                    .into_iter()
                    .map(customer)
                    .collect::<Result<_, _>>()?,
                total: page.total,
                offset: page.offset,
                limit: page.limit,
            },
            as_of: c.health().computed_for()?,
            computing: false,
        })
    })
}

/// [`ensure_current`] as of `now`, then [`health_page`].
pub fn health_list(
    cache: &mut Cache,
    now: DateTime<Utc>,
    sort: Option<Factor>,
    descending: bool,
    offset: usize,
    limit: usize,
) -> Result<HealthPage, CacheError> {
    ensure_current(cache, now)?;
    health_page(cache, sort, descending, offset, limit)
}

/// Streams the customers in [`health_page`]'s order from `offset` (one statement); `each`
/// returns `false` to stop.
pub fn each_customer_health<E: From<CacheError>>(
    cache: &Cache,
    sort: Option<Factor>,
    descending: bool,
    offset: usize,
    mut each: impl FnMut(CustomerHealth) -> Result<bool, E>,
) -> Result<(), E> {
    let mut failed: Option<E> = None;
    cache
        .health()
        .each(sort_column(sort), descending, offset, |r| {
            match each(customer(r)?) {
                Ok(go) => Ok(go),
                Err(e) => {
                    failed = Some(e);
                    Ok(false)
                }
            }
        })?;
    failed.map_or(Ok(()), Err)
}

/// One customer's stored health (`None`: the account holds no license).
pub fn customer_health_of(
    cache: &Cache,
    account_id: &str,
) -> Result<Option<CustomerHealth>, CacheError> {
    cache.health().of(account_id)?.map(customer).transpose()
}

/// [`ensure_current`] as of `now`, then [`customer_health_of`].
pub fn customer_health(
    cache: &mut Cache,
    now: DateTime<Utc>,
    account_id: &str,
) -> Result<Option<CustomerHealth>, CacheError> {
    ensure_current(cache, now)?;
    customer_health_of(cache, account_id)
}

/// The calendar's window: now's month and the `months − 1` after it.
pub fn renewal_window(now: DateTime<Utc>, months: u32) -> Vec<YearMonth> {
    let first = YearMonth::of(now.date_naive());
    let mut out = vec![first];
    for _ in 1..months.clamp(1, MAX_RENEWAL_MONTHS) {
        let next = out[out.len() - 1].next();
        out.push(next);
    }
    out
}

fn renewal(r: RenewalListRow) -> Result<Renewal, CacheError> {
    let l = r.renewal;
    let month = l
        .expires_at
        .get(..7)
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| CacheError::Corrupt {
            what: format!("license end '{}'", l.expires_at),
        })?;
    Ok(Renewal {
        plans: serde_json::from_str(&l.plans_json).map_err(|e| CacheError::Corrupt {
            what: format!("stored renewal plans: {e}"),
        })?,
        utilization: (l.seats > 0).then(|| l.used as f64 / l.seats as f64),
        license_id: l.license_id,
        account_id: l.account_id,
        account_name: r.account_name,
        license_type: l.license_type,
        expires_at: l.expires_at,
        month,
        seats: l.seats,
        used: l.used,
        forecast_at_expiry: l.forecast,
        forecast_over_seats: l.forecast_over,
        health: r.score,
    })
}

/// The calendar's months and their bounds, RFC 3339 in UTC (as licenses' ends are stored):
/// `now`, the first instant of each later month, and the first of the month after the last.
fn renewal_range(
    now: DateTime<Utc>,
    months: u32,
) -> Result<(Vec<YearMonth>, Vec<String>), CacheError> {
    if months == 0 || months > MAX_RENEWAL_MONTHS {
        return Err(CacheError::Invalid(format!(
            "months must be 1 to {MAX_RENEWAL_MONTHS}, not {months}"
        )));
    }
    let window = renewal_window(now, months);
    let bounds = std::iter::once(now.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string())
        .chain(
            window
                .iter()
                .map(|m| format!("{}T00:00:00Z", m.next().first_day())),
        )
        .collect();
    Ok((window, bounds))
}

/// One page of the licenses ending from `now` through the end of the `months`-th month
/// (now's month is the first), soonest first, as stored (call [`ensure_current`] first).
pub fn renewal_page(
    cache: &Cache,
    now: DateTime<Utc>,
    months: u32,
    offset: usize,
    limit: usize,
) -> Result<RenewalCalendar, CacheError> {
    let (window, bounds) = renewal_range(now, months)?;
    let (page, counts) = cache.health().renewal_page(&bounds, offset, limit)?;
    Ok(RenewalCalendar {
        months: window
            .iter()
            .zip(counts)
            .map(|(m, licenses)| RenewalMonth {
                month: *m,
                licenses,
            })
            .collect(),
        page: Page {
            items: page
                .items
                .into_iter()
                .map(renewal)
                .collect::<Result<_, _>>()?,
            total: page.total,
            offset: page.offset,
            limit: page.limit,
        },
        utilization_month: YearMonth::last_completed(now.date_naive()),
        as_of: cache.health().computed_for()?,
        computing: false,
    })
}

/// [`ensure_current`] as of `now`, then [`renewal_page`].
pub fn renewals(
    cache: &mut Cache,
    now: DateTime<Utc>,
    months: u32,
    offset: usize,
    limit: usize,
) -> Result<RenewalCalendar, CacheError> {
    renewal_range(now, months)?;
    ensure_current(cache, now)?;
    renewal_page(cache, now, months, offset, limit)
}

/// Streams the calendar's licenses, soonest first (one statement).
pub fn each_renewal<E: From<CacheError>>(
    cache: &Cache,
    now: DateTime<Utc>,
    months: u32,
    mut each: impl FnMut(Renewal) -> Result<(), E>,
) -> Result<(), E> {
    let (_, bounds) = renewal_range(now, months)?;
    let (from, until) = (&bounds[0], &bounds[bounds.len() - 1]);
    let mut failed: Option<E> = None;
    cache
        .health()
        .each_renewal(from, until, |r| match each(renewal(r)?) {
            Ok(()) => Ok(true),
            Err(e) => {
                failed = Some(e);
                Ok(false)
            }
        })?;
    failed.map_or(Ok(()), Err)
}
