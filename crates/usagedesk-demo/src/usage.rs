//! Per-account usage histories: size, growth, plan changes, churn, reporting gaps, and the
//! few daily snapshots each month that the load format carries.
//!
//! Every account has a latent month-end value for each covered month (a smooth trajectory
//! with a little noise); a snapshot taken on day `d` of month `i` lies on the straight line
//! from month `i - 1`'s value to month `i`'s at the fraction of the month elapsed. A convex
//! combination of two ordered triples is ordered, and rounding is monotone, so
//! `activity <= token <= registered` holds by construction (and is clamped anyway).

use chrono::{Datelike, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::calendar::{add_days, sub_days, Period};
use crate::model::{DemoAccount, Scenario};
use crate::tree::Role;
use crate::SnapshotDensity;

/// Catalog positions of the default plans.
pub(crate) const PLAN_IDS: [&str; 3] = ["basic", "standard", "premium"];
/// The seat metric of each plan of [`PLAN_IDS`] (`plans.csv`).
pub(crate) const SEAT_METRICS: [usagedesk_domain::Metric; 3] = [
    usagedesk_domain::Metric::UsersRegistered,
    usagedesk_domain::Metric::UsersWithToken,
    usagedesk_domain::Metric::UsersWithActivity,
];

/// One row of `daily_usage.csv` for the account being generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub date: NaiveDate,
    pub plan: u8,
    /// registered, with token, with activity
    pub counts: [u64; 3],
}

#[derive(Debug, Clone, Copy)]
struct PlanChange {
    month: usize,
    /// Snapshots dated before this day (in `month`) still carry the old plan.
    day: NaiveDate,
    to: u8,
    size_factor: f64,
}

#[derive(Debug, Clone, Copy)]
struct Churn {
    from: usize,
    act_decay: f64,
    /// Activity is zero from the `zero_after`-th month of the decline on.
    zero_after: i32,
}

/// Everything that shapes one account's history, drawn once per account.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    reports: bool,
    created_at: NaiveDate,
    /// Covered-month index of `created_at` (negative when created before the period).
    created_idx: i64,
    /// Created inside the period: ramps up from zero.
    new: bool,
    base: f64,
    growth: f64,
    tok_ratio: f64,
    act_ratio: f64,
    plan: u8,
    change: Option<PlanChange>,
    churn: Option<Churn>,
    /// Months with this index or later carry no rows (disabled, or churned away).
    stop_from: usize,
    gaps: [Option<(usize, usize)>; 2],
    skip_partial: bool,
    /// Air-gapped installations send one file a month, near month end.
    airgapped: bool,
    weekly_phase: i32,
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Month-to-month wobble of registered users, tokens and activity.
fn noise(rng: &mut ChaCha8Rng) -> [f64; 3] {
    [
        (0.008 * rng.gen_range(-1.7..1.7f64)).exp(),
        (0.015 * rng.gen_range(-1.7..1.7f64)).exp(),
        (0.06 * rng.gen_range(-1.7..1.7f64)).exp(),
    ]
}

/// Activity dips in the holiday months.
fn season(month: u32) -> f64 {
    match month {
        8 => 0.92,
        12 => 0.85,
        1 => 0.95,
        _ => 1.0,
    }
}

impl Profile {
    pub fn new(account: &DemoAccount, period: &Period, rng: &mut ChaCha8Rng) -> Self {
        let m = period.len();
        let created_idx = period.month_index(account.created_at);
        let new = account.created_at >= period.start;
        let first = created_idx.max(0) as usize;
        let scenario = account.scenario;

        let reports = match scenario {
            Some(Scenario::NeverReports) => false,
            Some(_) => true,
            None => match account.role {
                // Providers and resellers mostly sell; about half also run the product
                // for their own staff.
                Role::Provider => rng.gen_bool(0.5),
                Role::Reseller => rng.gen_bool(0.55),
                Role::Customer | Role::Division => !rng.gen_bool(0.03),
            },
        };

        let (median, sigma) = match account.role {
            Role::Provider | Role::Reseller => (60.0, 0.8),
            Role::Customer => (40.0, 1.2),
            Role::Division => (25.0, 1.0),
        };
        let mut base = median * (sigma * normal(rng)).exp();
        if account.role == Role::Customer && rng.gen_bool(0.04) {
            base *= 12.0; // an enterprise
        }
        let base = base.clamp(1.0, 150_000.0);
        let growth = (0.012 + 0.02 * normal(rng)).clamp(-0.05, 0.08);
        let tok_ratio = rng.gen_range(0.55..0.97);
        let act_ratio = rng.gen_range(0.30..0.92);
        let plan = {
            let (basic, standard) = if base < 20.0 {
                (60, 30)
            } else if base < 300.0 {
                (35, 45)
            } else {
                (15, 40)
            };
            match rng.gen_range(0..100) {
                x if x < basic => 0,
                x if x < basic + standard => 1,
                _ => 2,
            }
        };
        let airgapped = rng.gen_bool(0.25);
        let weekly_phase = rng.gen_range(0..7);
        let forced = scenario.is_some();
        let skip_partial = period.partial
            && !forced
            && if airgapped {
                rng.gen_bool(0.7)
            } else {
                rng.gen_bool(0.1)
            };

        let change = {
            let month = if scenario == Some(Scenario::PlanChange) && m >= 2 {
                // Forced accounts were created before the period and report every month:
                // the change shows between two months that both have data.
                Some(if m >= 3 { rng.gen_range(1..=m - 2) } else { 1 })
            } else if !forced && first + 1 < m && rng.gen_bool(0.10) {
                Some(rng.gen_range(first + 1..m))
            } else {
                None
            };
            month.map(|month| {
                let ym = period.months[month];
                let day = if forced {
                    ym.first_day()
                } else {
                    add_days(ym.first_day(), rng.gen_range(0..ym.last_day().day()) as u64)
                };
                let to = match plan {
                    0 if rng.gen_bool(0.15) => 2,
                    0 => 1,
                    1 if rng.gen_bool(0.7) => 2,
                    1 => 0,
                    _ => 1,
                };
                let size_factor = if to > plan {
                    rng.gen_range(1.05..1.4)
                } else {
                    rng.gen_range(0.6..0.95)
                };
                PlanChange {
                    month,
                    day,
                    to,
                    size_factor,
                }
            })
        };

        let mut stop_from = m;
        let churn = if scenario == Some(Scenario::Churn) && m >= 2 {
            // Keeps reporting, so the slide to zero activity is visible: with three or more
            // covered months, the last one has only zero-activity rows.
            let (from, zero_after) = if m <= 4 { (1, 1) } else { (m / 2, 2) };
            Some(Churn {
                from,
                act_decay: rng.gen_range(0.25..0.5),
                zero_after,
            })
        } else if !forced && account.role != Role::Provider && first + 1 < m && rng.gen_bool(0.07) {
            let from = rng.gen_range(first + 1..m);
            if rng.gen_bool(0.5) {
                stop_from = stop_from.min(from + rng.gen_range(2..=5));
            }
            Some(Churn {
                from,
                act_decay: rng.gen_range(0.25..0.6),
                zero_after: rng.gen_range(3..=6),
            })
        } else {
            None
        };

        if account.disabled {
            let stop = if scenario == Some(Scenario::Disabled) {
                if m >= 2 {
                    rng.gen_range(1..m)
                } else {
                    0
                }
            } else if first + 1 < m && rng.gen_bool(0.65) {
                rng.gen_range(first + 1..m)
            } else {
                // Disabled before the period (or right after creation): no rows at all.
                first
            };
            stop_from = stop_from.min(stop);
        }

        let mut gaps = [None, None];
        if scenario == Some(Scenario::Gap) {
            gaps[0] = Some(if m >= 3 {
                let g = rng.gen_range(1..=m - 2);
                (g, g)
            } else {
                (0, 0)
            });
        } else if !forced && m > first {
            for (k, p) in [(0, 0.10), (1, 0.02)] {
                if rng.gen_bool(p) {
                    let start = rng.gen_range(first..m);
                    gaps[k] = Some((start, start + rng.gen_range(0..3)));
                }
            }
        }

        Self {
            reports,
            created_at: account.created_at,
            created_idx,
            new,
            base,
            growth,
            tok_ratio,
            act_ratio,
            plan,
            change,
            churn,
            stop_from,
            gaps,
            skip_partial,
            airgapped,
            weekly_phase,
        }
    }

    /// Whether the account's usage comes by file, once a month (its instances follow).
    pub fn airgapped(&self) -> bool {
        self.airgapped
    }

    fn has_rows(&self, i: usize, period: &Period) -> bool {
        self.reports
            && i as i64 >= self.created_idx
            && i < self.stop_from
            && !self
                .gaps
                .iter()
                .flatten()
                .any(|&(from, to)| (from..=to).contains(&i))
            && !(self.skip_partial && period.partial && i + 1 == period.len())
    }

    /// The latent month-end value of month `i` (may be -1) whose calendar month is `month`.
    fn latent(&self, i: i64, month: u32, noise: [f64; 3]) -> [f64; 3] {
        if self.new && i < self.created_idx {
            return [0.0; 3];
        }
        let t = (i as f64).clamp(-60.0, 60.0);
        let mut reg = self.base * (self.growth * t).exp();
        if self.new {
            let age = (i - self.created_idx) as f64;
            reg *= (0.3 + 0.2 * age).min(1.0);
        }
        let mut tok_f = self.tok_ratio;
        let mut act_f = self.act_ratio * season(month);
        if let Some(c) = self.change {
            if i >= c.month as i64 {
                reg *= c.size_factor;
            }
        }
        if let Some(ch) = self.churn {
            if i >= ch.from as i64 {
                let k = (i - ch.from as i64 + 1) as i32;
                reg *= 0.97f64.powi(k);
                tok_f *= 0.85f64.powi(k);
                act_f *= if k >= ch.zero_after {
                    0.0
                } else {
                    ch.act_decay.powi(k)
                };
            }
        }
        let reg = (reg * noise[0]).min(500_000.0);
        let tok = reg * (tok_f * noise[1]).min(1.0);
        let act = tok * (act_f * noise[2]).min(1.0);
        [reg, tok, act]
    }

    fn plan_on(&self, i: usize, date: NaiveDate) -> u8 {
        match self.change {
            Some(c) if i > c.month || (i == c.month && date >= c.day) => c.to,
            _ => self.plan,
        }
    }

    /// Calls `emit` for each snapshot of this account, in date order.
    pub fn for_each_snapshot<E>(
        &self,
        period: &Period,
        density: SnapshotDensity,
        rng: &mut ChaCha8Rng,
        mut emit: impl FnMut(&Snapshot) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(&first_month) = period.months.first() else {
            return Ok(());
        };
        let mut prev = self.latent(-1, first_month.prev().month(), [1.0; 3]);
        for (i, ym) in period.months.iter().enumerate() {
            let cur = self.latent(i as i64, ym.month(), noise(rng));
            if self.has_rows(i, period) {
                let lo = ym.first_day().max(self.created_at);
                let hi = ym.last_day().min(period.yesterday);
                if lo <= hi {
                    let days = self.days(lo, hi, ym.last_day(), density, rng);
                    let len = ym.last_day().day() as f64;
                    for &date in days.as_slice() {
                        let f = date.day() as f64 / len;
                        let v =
                            |k: usize| (prev[k] + (cur[k] - prev[k]) * f).round().max(0.0) as u64;
                        let reg = v(0);
                        let tok = v(1).min(reg);
                        let act = v(2).min(tok);
                        emit(&Snapshot {
                            date,
                            plan: self.plan_on(i, date),
                            counts: [reg, tok, act],
                        })?;
                    }
                }
            }
            prev = cur;
        }
        Ok(())
    }

    /// Snapshot days inside `[lo, hi]` of a month ending `month_end` (`hi < month_end` in
    /// the running month).
    fn days(
        &self,
        lo: NaiveDate,
        hi: NaiveDate,
        month_end: NaiveDate,
        density: SnapshotDensity,
        rng: &mut ChaCha8Rng,
    ) -> Days {
        let mut out = Days::default();
        match density {
            SnapshotDensity::Weekly => {
                let mut d = lo;
                // First day on this account's weekly rhythm.
                let off = (d.num_days_from_ce() + self.weekly_phase).rem_euclid(7);
                if off != 0 {
                    d = add_days(d, (7 - off) as u64);
                }
                while d <= hi {
                    out.push(d);
                    d = add_days(d, 7);
                }
                if out.len == 0 {
                    // A stretch shorter than a week still gets its one report.
                    out.push(hi);
                }
            }
            SnapshotDensity::MonthEndOnly => {
                let k = if self.airgapped {
                    1
                } else if rng.gen_bool(0.6) {
                    2
                } else {
                    3
                };
                let back = if hi < month_end {
                    // The running month: the latest report is from the last day or two.
                    rng.gen_range(0..=2)
                } else if self.airgapped {
                    [0, 0, 0, 0, 0, 1, 1, 2, 2, 3][rng.gen_range(0..10)]
                } else {
                    [0, 0, 0, 0, 0, 0, 0, 0, 1, 2][rng.gen_range(0..10)]
                };
                let last = sub_days(hi, back).max(lo);
                let span = (last - lo).num_days();
                for s in 1..k {
                    let jitter = rng.gen_range(-1..=1);
                    if span == 0 {
                        continue;
                    }
                    let off = (span * s as i64 / k as i64 + jitter).clamp(0, span - 1);
                    let d = add_days(lo, off as u64);
                    match out.last() {
                        Some(p) if p >= d => {}
                        _ => out.push(d),
                    }
                }
                out.push(last);
            }
        }
        out
    }
}

/// Up to six dates of one month, without allocating.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Days {
    buf: [NaiveDate; 6],
    len: usize,
}

impl Default for Days {
    fn default() -> Self {
        Self {
            buf: [NaiveDate::MIN; 6],
            len: 0,
        }
    }
}

impl Days {
    fn push(&mut self, d: NaiveDate) {
        self.buf[self.len] = d;
        self.len += 1;
    }

    fn last(&self) -> Option<NaiveDate> {
        self.len.checked_sub(1).map(|i| self.buf[i])
    }

    fn as_slice(&self) -> &[NaiveDate] {
        &self.buf[..self.len]
    }
}
