//! Entitlements: a hand-made dataset with nested licenses, plan changes, not-available and
//! non-existent months, licenses created and expiring mid-range and licenses without seats,
//! dated relative to a `today`; and the expected numbers worked out from the definitions
//! (`docs/entitlements.md`) with plain loops over the CSV files, sharing no code with the
//! product.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};

use crate::Expected;

/// A month as `YYYY-MM`, `back` months before the month of `today`.
pub fn month_back(today: NaiveDate, back: i32) -> String {
    let i = today.year() * 12 + today.month0() as i32 - back;
    format!("{:04}-{:02}", i.div_euclid(12), i.rem_euclid(12) + 1)
}

fn day(month: &str, d: u32) -> NaiveDate {
    let y: i32 = month[..4].parse().expect("year");
    let m: u32 = month[5..].parse().expect("month");
    NaiveDate::from_ymd_opt(y, m, d).expect("valid day")
}

fn last_day(month: &str) -> NaiveDate {
    let first = day(month, 1);
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .expect("next month");
    next.pred_opt().expect("a day before")
}

/// Writes the dataset into a new folder. Months are counted back from `today`'s: L = 1 is
/// the last completed month. The tree, the licenses and their seats:
///
/// ```text
/// root        LIC-ROOT  basic=100, standard=20    created L-7, never expires
/// ├─ sp       (none)
/// │  ├─ cust-a   LIC-A  premium=5                 created L-5, expires L-1 day 15 (in force through L-2)
/// │  │  └─ div-a1  LIC-OLD basic=2                created L-9, expires L-6 day 1 (in force L-9..L-7)
/// │  └─ cust-b   LIC-B1 basic=10                  created L-7, expires in 100 days
/// │              LIC-B2 no seats at all            created L-7, expires on L's last day (in force through L)
/// ├─ cust-c   (none; created mid L-3, non-existent before; basic → standard from L-2)
/// └─ cust-d      LIC-D  standard=3                 created L-1 day 20 (young: no forecast)
/// ```
///
/// Plans: basic counts users registered, standard users with a token, premium users with
/// activity. Every account reports two rows a month (days 3 and 20; the second is the
/// month-end value) except some months left out (not available).
pub fn entitlements_fixture(today: NaiveDate) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = |back: i32| month_back(today, back);
    let write =
        |name: &str, text: String| std::fs::write(dir.path().join(name), text).expect("write");
    let accounts = [
        ("root", "Root Holdings", "", m(10)),
        ("sp", "Service \"Provider\"", "root", m(10)),
        ("cust-a", "Customer A", "sp", m(10)),
        ("div-a1", "Division A1, North", "cust-a", m(10)),
        // A name longer than the license list's account column at the default window size.
        ("cust-b", CUSTOMER_B, "sp", m(10)),
        ("cust-c", "Customer C", "root", m(3)),
        ("cust-d", "Customer D", "root", m(2)),
    ];
    let mut text = String::from("id,name,parent_id,status,created_at\n");
    for (id, name, parent, created) in &accounts {
        let created = if *id == "cust-c" {
            day(created, 15)
        } else {
            day(created, 1)
        };
        let name = if name.contains(['"', ',']) {
            format!("\"{}\"", name.replace('"', "\"\""))
        } else {
            (*name).to_string()
        };
        text.push_str(&format!("{id},{name},{parent},active,{created}\n"));
    }
    write("accounts.csv", text);
    write(
        "plans.csv",
        "id,name,seat_metric\nbasic,Basic,users_registered\nstandard,Standard,users_with_token\npremium,Premium,users_with_activity\n"
            .into(),
    );

    let mut daily = String::from(
        "account_id,date,plan,users_registered,users_with_token,users_with_activity\n",
    );
    for (i, (id, _, _, created)) in accounts.iter().enumerate() {
        for back in (1..=10).rev() {
            let month = m(back);
            if month < *created {
                continue;
            }
            // Not available: a few account-months without a row.
            if (i as i32 + back) % 5 == 0 {
                continue;
            }
            let plan = match *id {
                "root" => "basic",
                "sp" => "standard",
                "cust-a" => "premium",
                "div-a1" if back % 3 == 0 => "basic",
                "div-a1" => "premium",
                "cust-b" if back % 2 == 0 => "standard",
                "cust-b" => "basic",
                "cust-c" if back >= 3 => "basic",
                "cust-c" => "standard",
                _ => "standard",
            };
            let base = 4 + 3 * i as u64 + 2 * (10 - back as u64);
            // cust-c exists from the 15th of its first month.
            let first = if *id == "cust-c" && back == 3 { 16 } else { 3 };
            for (d, extra) in [(first, 0), (20, 1 + i as u64 % 3)] {
                let reg = base + extra;
                daily.push_str(&format!(
                    "{id},{},{plan},{reg},{},{}\n",
                    day(&month, d),
                    reg * 2 / 3,
                    reg / 2
                ));
            }
        }
    }
    write("daily_usage.csv", daily);

    let t = |d: NaiveDate, h: u32| format!("{d}T{h:02}:00:00Z");
    let licenses = [
        (
            "LIC-ROOT",
            "root",
            t(day(&m(7), 12), 9),
            String::new(),
            "basic=100;standard=20",
        ),
        (
            "LIC-A",
            "cust-a",
            t(day(&m(5), 10), 9),
            t(day(&m(1), 15), 12),
            "premium=5",
        ),
        (
            "LIC-OLD",
            "div-a1",
            t(day(&m(9), 2), 9),
            t(day(&m(6), 1), 0),
            "basic=2",
        ),
        (
            "LIC-B1",
            "cust-b",
            t(day(&m(7), 1), 8),
            t(today + chrono::Duration::days(100), 10),
            "basic=10",
        ),
        (
            "LIC-B2",
            "cust-b",
            t(day(&m(7), 1), 8),
            t(last_day(&m(1)), 18),
            "",
        ),
        (
            "LIC-D",
            "cust-d",
            t(day(&m(1), 20), 9),
            t(today + chrono::Duration::days(300), 10),
            "standard=3",
        ),
    ];
    let mut text =
        String::from("id,account_id,type,channel,created_at,expires_at,features,seats\n");
    for (id, account, created, expires, seats) in &licenses {
        text.push_str(&format!(
            "{id},{account},prod,Stable,{created},{expires},,{seats}\n"
        ));
    }
    write("licenses.csv", text);
    dir
}

/// A license as the test reads it back from `licenses.csv`.
#[derive(Debug, Clone)]
pub struct ExpLicense {
    pub id: String,
    pub account: String,
    pub created: NaiveDate,
    /// The expiry's date and its `YYYY-MM`.
    pub expires: Option<(NaiveDate, String)>,
    pub expires_at: Option<String>,
    pub seats: BTreeMap<String, u64>,
}

/// One expected (license, plan) in a month.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpEntitlement {
    pub license_id: String,
    pub account_id: String,
    pub plan: String,
    pub seat_metric: String,
    pub seats: Option<u64>,
    pub used: u64,
    pub utilization: Option<f64>,
    pub overage: u64,
    pub forecast_at_expiry: Option<f64>,
    pub expires_at: Option<String>,
}

/// The expected entitlements of a dataset folder, from the definitions.
pub struct ExpectedEntitlements {
    pub usage: Expected,
    pub licenses: Vec<ExpLicense>,
    /// plan → index of its seat metric in (registered, with token, with activity).
    pub metric: BTreeMap<String, usize>,
}

/// cust-b's name in [`entitlements_fixture`].
pub const CUSTOMER_B: &str = "Customer B Logistics and Distribution Holdings International";

pub const METRIC_NAMES: [&str; 3] = [
    "users_registered",
    "users_with_token",
    "users_with_activity",
];

impl ExpectedEntitlements {
    pub fn from_dir(dir: &Path) -> Self {
        let usage = Expected::from_dir(dir);
        let mut metric = BTreeMap::new();
        for rec in csv::Reader::from_path(dir.join("plans.csv"))
            .expect("plans.csv")
            .records()
        {
            let r = rec.expect("record");
            let at = METRIC_NAMES.iter().position(|m| *m == &r[2]).unwrap_or(0);
            metric.insert(r[0].to_string(), at);
        }
        let mut licenses = Vec::new();
        for rec in csv::Reader::from_path(dir.join("licenses.csv"))
            .expect("licenses.csv")
            .records()
        {
            let r = rec.expect("record");
            let date = |s: &str| NaiveDate::parse_from_str(&s[..10], "%Y-%m-%d").expect("date");
            let seats = r[7]
                .split(';')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (plan, n) = p.split_once('=').expect("plan=n");
                    (plan.to_string(), n.parse().expect("seats"))
                })
                .collect();
            licenses.push(ExpLicense {
                id: r[0].to_string(),
                account: r[1].to_string(),
                created: date(&r[4]),
                expires: (!r[5].is_empty()).then(|| (date(&r[5]), r[5][..7].to_string())),
                expires_at: (!r[5].is_empty()).then(|| r[5].to_string()),
                seats,
            });
        }
        Self {
            usage,
            licenses,
            metric,
        }
    }

    /// Created on or before the month's last day and not expired before it.
    pub fn in_force(&self, l: &ExpLicense, month: &str) -> bool {
        let end = last_day(month);
        l.created <= end && l.expires.as_ref().is_none_or(|(d, _)| *d >= end)
    }

    fn holds_in_force(&self, account: &str, month: &str) -> bool {
        self.licenses
            .iter()
            .any(|l| l.account == account && self.in_force(l, month))
    }

    /// The license's account and its descendants, except the subtrees of descendants that
    /// hold a license (in force in the month) of their own.
    pub fn covered(&self, l: &ExpLicense, month: &str) -> Vec<String> {
        let mut out = Vec::new();
        'accounts: for id in self.usage.accounts.keys() {
            let mut at = id.clone();
            loop {
                if at == l.account {
                    out.push(id.clone());
                    continue 'accounts;
                }
                if self.holds_in_force(&at, month) {
                    continue 'accounts;
                }
                match self.usage.accounts[&at].parent_id.clone() {
                    Some(p) => at = p,
                    None => continue 'accounts,
                }
            }
        }
        out
    }

    /// The sum of the month-end values of the plan's seat metric over the covered accounts
    /// whose month-end plan is that plan.
    pub fn used(&self, l: &ExpLicense, plan: &str, month: &str) -> u64 {
        let k = self.metric.get(plan).copied().unwrap_or(0);
        self.covered(l, month)
            .iter()
            .filter_map(|a| self.usage.month_end.get(&(a.clone(), month.to_string())))
            .filter(|(p, _)| p == plan)
            .map(|(_, c)| c[k])
            .sum()
    }

    fn months_before(month: &str, n: i32) -> String {
        let y: i32 = month[..4].parse().expect("year");
        let m: i32 = month[5..].parse().expect("month");
        let i = y * 12 + m - 1 - n;
        format!("{:04}-{:02}", i.div_euclid(12), i.rem_euclid(12) + 1)
    }

    fn index(month: &str) -> f64 {
        let y: f64 = month[..4].parse().expect("year");
        let m: f64 = month[5..].parse().expect("month");
        y * 12.0 + m - 1.0
    }

    /// Least squares through the last ≤ 6 months in force up to `month`, at the expiry month;
    /// none under 3 months. Clamped at 0, one decimal.
    pub fn forecast(&self, l: &ExpLicense, plan: &str, month: &str) -> Option<f64> {
        let (_, expiry_month) = l.expires.as_ref()?;
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for back in (0..6).rev() {
            let m = Self::months_before(month, back);
            if self.in_force(l, &m) {
                xs.push(Self::index(&m));
                ys.push(self.used(l, plan, &m) as f64);
            }
        }
        if xs.len() < 3 {
            return None;
        }
        let n = xs.len() as f64;
        let mx = xs.iter().sum::<f64>() / n;
        let my = ys.iter().sum::<f64>() / n;
        let mut sxy = 0.0;
        let mut sxx = 0.0;
        for i in 0..xs.len() {
            sxy += (xs[i] - mx) * (ys[i] - my);
            sxx += (xs[i] - mx) * (xs[i] - mx);
        }
        let v = my + sxy / sxx * (Self::index(expiry_month) - mx);
        Some((v.max(0.0) * 10.0).round() / 10.0)
    }

    /// Licenses held by the accounts of `scope` ("self", "children", "tree") of `account`.
    pub fn licenses_in(&self, account: &str, scope: &str) -> Vec<&ExpLicense> {
        let accounts = self.usage.in_scope(account, scope);
        self.licenses
            .iter()
            .filter(|l| accounts.contains(&l.account))
            .collect()
    }

    /// Every (license, plan) in force in `month` in the scope: plans with seats, and plans
    /// used without seats; by license id, then plan.
    pub fn entitlements(&self, account: &str, scope: &str, month: &str) -> Vec<ExpEntitlement> {
        let mut out = Vec::new();
        let mut licenses = self.licenses_in(account, scope);
        licenses.sort_by(|a, b| a.id.cmp(&b.id));
        for l in licenses {
            if !self.in_force(l, month) {
                continue;
            }
            for plan in self.metric.keys() {
                let seats = l.seats.get(plan).copied();
                let used = self.used(l, plan, month);
                if seats.is_none() && used == 0 {
                    continue;
                }
                out.push(ExpEntitlement {
                    license_id: l.id.clone(),
                    account_id: l.account.clone(),
                    plan: plan.clone(),
                    seat_metric: METRIC_NAMES[self.metric[plan]].to_string(),
                    seats,
                    used,
                    utilization: seats.filter(|s| *s > 0).map(|s| used as f64 / s as f64),
                    overage: used.saturating_sub(seats.unwrap_or(0)),
                    forecast_at_expiry: self.forecast(l, plan, month),
                    expires_at: l.expires_at.clone(),
                });
            }
        }
        out.sort_by(|a, b| (&a.license_id, &a.plan).cmp(&(&b.license_id, &b.plan)));
        out
    }

    /// plan → (seats, used, overage) summed over the licenses in force held in the subtree.
    pub fn rollup(&self, account: &str, month: &str) -> BTreeMap<String, (u64, u64, u64)> {
        let mut out: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
        for e in self.entitlements(account, "tree", month) {
            let t = out.entry(e.plan.clone()).or_default();
            t.0 += e.seats.unwrap_or(0);
            t.1 += e.used;
            t.2 += e.overage;
        }
        out
    }
}
