//! Health and the renewal calendar over a real cache file, against a computation of the
//! definitions in `docs/health.md` written here from the fixture's plain tables: nested
//! licenses, an expired license beside one that never ends, a license younger than the
//! trend, not-available and non-existent months, instances on two channels with different
//! versions and statuses, one that never reported, one air-gapped.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use usagedesk_cache::Cache;
use usagedesk_domain::api::{Change, MonthUsage};
use usagedesk_domain::customer::{
    ClusterDetails, InstanceReport, InstanceStatus, License, LicenseFeatures, LicenseType,
};
use usagedesk_domain::{Account, AccountStatus, Instance, Metric, Plan, UsageCounts, YearMonth};
use usagedesk_health::{health_list, renewals, Factor};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 7, 10, 12, 0, 0).unwrap()
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

// (id, name, parent, created)
const ACCOUNTS: &[(&str, &str, Option<&str>, &str)] = &[
    ("sp", "Sparrow Group", None, "2023-01-01"),
    ("c1", "Cedar Labs", Some("sp"), "2023-01-01"),
    ("c1a", "Cedar Annex", Some("c1"), "2023-01-01"),
    ("c2", "Delta Works", Some("sp"), "2023-01-01"),
    ("c3", "Elm Systems", Some("sp"), "2023-01-01"),
    ("c4", "Fir Health", Some("sp"), "2024-05-01"),
    ("c5", "Gale Co", None, "2023-01-01"),
];

// (id, account, channel, created, expires, seats)
type Lic = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static [(&'static str, u64)],
);
const LICENSES: &[Lic] = &[
    (
        "L-sp",
        "sp",
        "stable",
        "2023-06-01T00:00:00Z",
        Some("2025-09-01T00:00:00Z"),
        &[("basic", 100)],
    ),
    (
        "L-c1",
        "c1",
        "stable",
        "2023-06-01T00:00:00Z",
        Some("2024-08-15T00:00:00Z"),
        &[("basic", 10)],
    ),
    (
        "L-c3",
        "c3",
        "stable",
        "2023-06-01T00:00:00Z",
        Some("2024-05-01T00:00:00Z"),
        &[("basic", 20)],
    ),
    (
        "L-c3b",
        "c3",
        "beta",
        "2023-06-01T00:00:00Z",
        None,
        &[("basic", 5), ("premium", 2)],
    ),
    (
        "L-c4",
        "c4",
        "stable",
        "2024-05-10T00:00:00Z",
        Some("2025-03-20T00:00:00Z"),
        &[("basic", 50)],
    ),
    (
        "L-c5",
        "c5",
        "stable",
        "2023-06-01T00:00:00Z",
        Some("2024-07-31T23:00:00Z"),
        &[("basic", 8)],
    ),
];

const MONTHS: [&str; 6] = [
    "2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06",
];

/// (account, month, plan, registered, activity); token = registered / 2.
fn usage_rows() -> Vec<(&'static str, &'static str, &'static str, u64, u64)> {
    let mut rows = Vec::new();
    for (i, m) in MONTHS.iter().enumerate() {
        rows.push(("sp", *m, "basic", 40, [10, 12, 11, 9, 8, 7][i]));
        rows.push((
            "c1",
            *m,
            "basic",
            [5, 6, 7, 8, 9, 12][i],
            [3, 3, 3, 4, 5, 6][i],
        ));
        if *m != "2024-03" {
            rows.push(("c1a", *m, "basic", 3, 1));
        }
        if *m == "2024-06" {
            rows.push(("c2", *m, "premium", 20, 9));
        } else {
            rows.push(("c2", *m, "basic", 20, 10));
        }
        if *m <= "2024-03" {
            rows.push(("c3", *m, "basic", 4, 2));
        }
        if *m >= "2024-05" {
            rows.push(("c4", *m, "basic", 30, 20));
        }
    }
    rows
}

/// (instance, license, status and version reported, last check-in, last usage file)
type Inst = (
    &'static str,
    &'static str,
    Option<(InstanceStatus, &'static str)>,
    Option<Duration>,
    Option<Duration>,
);
fn instances() -> Vec<Inst> {
    use InstanceStatus::*;
    vec![
        (
            "i1",
            "L-sp",
            Some((Ready, "2.1.0")),
            Some(Duration::hours(2)),
            None,
        ),
        (
            "i2",
            "L-sp",
            Some((Degraded, "2.0.0")),
            Some(Duration::days(3)),
            None,
        ),
        (
            "i3",
            "L-c1",
            Some((Ready, "2.2.0")),
            Some(Duration::hours(1)),
            None,
        ),
        (
            "i4",
            "L-c3b",
            Some((Unavailable, "3.0.0")),
            Some(Duration::hours(20)),
            None,
        ),
        ("i5", "L-c3", None, None, Some(Duration::days(40))),
        (
            "i6",
            "L-c4",
            Some((Updating, "2.2.0")),
            Some(Duration::days(12)),
            Some(Duration::days(2)),
        ),
    ]
}

fn plans() -> Vec<Plan> {
    vec![
        Plan {
            id: "basic".into(),
            name: "Basic".into(),
            seat_metric: Metric::UsersRegistered,
        },
        Plan {
            id: "premium".into(),
            name: "Premium".into(),
            seat_metric: Metric::UsersWithActivity,
        },
    ]
}

fn changes() -> Vec<Change> {
    let mut out = Vec::new();
    for (id, name, parent, created) in ACCOUNTS {
        out.push(Change::Account(Account {
            id: (*id).into(),
            name: (*name).into(),
            parent_id: parent.map(Into::into),
            status: AccountStatus::Active,
            created_at: NaiveDate::parse_from_str(created, "%Y-%m-%d").unwrap(),
        }));
    }
    for (account, month, plan, reg, act) in usage_rows() {
        let month: YearMonth = month.parse().unwrap();
        out.push(Change::MonthUsage(MonthUsage {
            account_id: account.into(),
            month,
            plan: plan.into(),
            snapshot_date: month.last_day(),
            counts: UsageCounts::new(reg, reg / 2, act),
        }));
    }
    for (id, account, channel, created, expires, seats) in LICENSES {
        out.push(Change::License(License {
            id: (*id).into(),
            account_id: (*account).into(),
            license_type: LicenseType::Prod,
            channel: (*channel).into(),
            created_at: t(created),
            expires_at: expires.map(t),
            features: LicenseFeatures::default(),
            seats: seats.iter().map(|(p, n)| ((*p).into(), *n)).collect(),
        }));
    }
    for (id, license, report, check_in, file) in instances() {
        let account = LICENSES.iter().find(|l| l.0 == license).unwrap().1;
        out.push(Change::Instance(Instance {
            id: id.into(),
            license_id: license.into(),
            account_id: account.into(),
            airgapped: file.is_some(),
            public_key: None,
            high_water_mark: 0,
            last_report_at: file.map(|ago| now() - ago),
        }));
        if let (Some((status, version)), Some(ago)) = (report, check_in) {
            out.push(Change::InstanceReport(InstanceReport {
                instance_id: id.into(),
                status,
                app_version: version.into(),
                cluster: ClusterDetails::default(),
                first_check_in: now() - Duration::days(200),
                last_check_in: now() - ago,
            }));
        }
    }
    out
}

fn cache() -> (tempfile::TempDir, Cache) {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path().join("cache.db")).unwrap();
    cache
        .sync_mut()
        .apply_changes(&changes(), &plans(), "c1", now())
        .unwrap();
    cache.sync_mut().rebuild_aggregates().unwrap();
    (dir, cache)
}

// ---- The definitions, computed from the tables above ----

fn parent(id: &str) -> Option<&'static str> {
    ACCOUNTS.iter().find(|a| a.0 == id).unwrap().2
}

fn in_subtree(id: &str, root: &str) -> bool {
    let mut at = Some(id.to_owned());
    while let Some(a) = at {
        if a == root {
            return true;
        }
        at = parent(&a).map(Into::into);
    }
    false
}

fn month_last_day(m: &str) -> NaiveDate {
    m.parse::<YearMonth>().unwrap().last_day()
}

/// In force in M: created on or before M's last day, not expired before it.
fn in_force(l: &Lic, m: &str) -> bool {
    let last = month_last_day(m);
    t(l.3).date_naive() <= last && l.4.is_none_or(|e| t(e).date_naive() >= last)
}

/// The account whose licenses cover `id` in `m`: the nearest ancestor-or-self holding one
/// in force.
fn holder(id: &str, m: &str) -> Option<String> {
    let mut at = Some(id.to_owned());
    while let Some(a) = at {
        if LICENSES.iter().any(|l| l.1 == a && in_force(l, m)) {
            return Some(a);
        }
        at = parent(&a).map(Into::into);
    }
    None
}

/// Used seats of license `l` in `m`, all plans (a plan's seat metric).
fn used(l: &Lic, m: &str) -> u64 {
    usage_rows()
        .iter()
        .filter(|r| r.1 == m && holder(r.0, m).as_deref() == Some(l.1))
        .map(|r| if r.2 == "premium" { r.4 } else { r.3 })
        .sum()
}

fn seats(l: &Lic) -> u64 {
    l.5.iter().map(|(_, n)| n).sum()
}

/// Active users over the subtree in a month; `None` when no account there has a row.
fn activity(root: &str, m: &str) -> Option<u64> {
    let rows: Vec<u64> = usage_rows()
        .iter()
        .filter(|r| r.1 == m && in_subtree(r.0, root))
        .map(|r| r.4)
        .collect();
    (!rows.is_empty()).then(|| rows.iter().sum())
}

fn lerp(x: f64, pts: &[(f64, f64)]) -> f64 {
    if x <= pts[0].0 {
        return pts[0].1;
    }
    for w in pts.windows(2) {
        if x <= w[1].0 {
            return w[0].1 + (w[1].1 - w[0].1) * (x - w[0].0) / (w[1].0 - w[0].0);
        }
    }
    pts[pts.len() - 1].1
}

fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap()).collect()
}

/// Per customer: each factor's (value, score), `None` without data, in `Factor::ALL` order.
type Expected = BTreeMap<String, (String, [Option<(Option<f64>, f64)>; 6])>;

fn expected() -> Expected {
    let mut out = Expected::new();
    let customers: BTreeSet<&str> = LICENSES.iter().map(|l| l.1).collect();
    let channel_versions = |ch: &str| -> BTreeSet<Vec<u64>> {
        instances()
            .iter()
            .filter(|i| LICENSES.iter().find(|l| l.0 == i.1).unwrap().2 == ch)
            .filter_map(|i| i.2.map(|r| version_key(r.1)))
            .collect()
    };
    for c in customers {
        let name = ACCOUNTS.iter().find(|a| a.0 == c).unwrap().1.to_owned();
        // Usage trend: Jan–Mar against Apr–Jun.
        let mean = |ms: &[&str]| {
            let v: Vec<u64> = ms.iter().filter_map(|m| activity(c, m)).collect();
            (!v.is_empty()).then(|| v.iter().sum::<u64>() as f64 / v.len() as f64)
        };
        let trend = match (mean(&MONTHS[..3]), mean(&MONTHS[3..])) {
            (Some(e), Some(r)) => {
                let change = if e > 0.0 {
                    (r - e) / e
                } else if r > 0.0 {
                    1.0
                } else {
                    0.0
                };
                Some((
                    Some(change),
                    lerp(change, &[(-0.5, 0.0), (0.0, 70.0), (0.2, 100.0)]),
                ))
            }
            _ => None,
        };
        // Utilization: its licenses in force in June.
        let own: Vec<&Lic> = LICENSES
            .iter()
            .filter(|l| l.1 == c && in_force(l, "2024-06"))
            .collect();
        let (u, s) = own
            .iter()
            .fold((0, 0), |(u, s), l| (u + used(l, "2024-06"), s + seats(l)));
        let utilization = (s > 0).then(|| {
            let x = u as f64 / s as f64;
            (
                Some(x),
                lerp(x, &[(0.0, 0.0), (0.5, 100.0), (1.0, 100.0), (1.5, 60.0)]),
            )
        });
        // Instances: those under its licenses.
        let mine: Vec<Inst> = instances()
            .into_iter()
            .filter(|i| LICENSES.iter().find(|l| l.0 == i.1).unwrap().1 == c)
            .collect();
        let reporting: Vec<f64> = mine
            .iter()
            .filter(|i| i.3.is_some_and(|ago| ago < Duration::hours(24)))
            .filter_map(|i| i.2)
            .map(|(s, _)| match s {
                InstanceStatus::Ready => 100.0,
                InstanceStatus::Updating => 80.0,
                InstanceStatus::Degraded => 50.0,
                InstanceStatus::Unavailable => 10.0,
                InstanceStatus::Missing => 0.0,
            })
            .collect();
        let status = (!reporting.is_empty()).then(|| {
            let m = reporting.iter().sum::<f64>() / reporting.len() as f64;
            (Some(m), m)
        });
        let behind = mine
            .iter()
            .filter_map(|i| {
                let (_, v) = i.2?;
                let ch = LICENSES.iter().find(|l| l.0 == i.1).unwrap().2;
                Some(
                    channel_versions(ch)
                        .iter()
                        .filter(|w| **w > version_key(v))
                        .count(),
                )
            })
            .max();
        let version = behind.map(|b| (Some(b as f64), (100.0 - 25.0 * b as f64).max(0.0)));
        // Expiry: the soonest end not passed; all passed: days since the latest.
        let ends: Vec<DateTime<Utc>> = LICENSES
            .iter()
            .filter(|l| l.1 == c)
            .filter_map(|l| l.4.map(t))
            .collect();
        let never = LICENSES.iter().any(|l| l.1 == c && l.4.is_none());
        let today = now().date_naive();
        let pending = ends.iter().filter(|e| **e >= now()).min();
        let days = match pending {
            Some(e) => Some((e.date_naive() - today).num_days()),
            None if never => None,
            None => ends
                .iter()
                .max()
                .map(|e| (e.date_naive() - today).num_days().min(-1)),
        };
        let expiry = Some((
            days.map(|d| d as f64),
            days.map_or(100.0, |d| lerp(d as f64, &[(0.0, 0.0), (180.0, 100.0)])),
        ));
        // Freshness: whole days since the latest check-in or usage file.
        let latest = mine
            .iter()
            .flat_map(|i| [i.3, i.4])
            .flatten()
            .map(|ago| now() - ago)
            .max();
        let freshness = if mine.is_empty() {
            None
        } else {
            let d = latest.map(|at| (now() - at).num_days());
            Some((
                d.map(|d| d as f64),
                d.map_or(0.0, |d| lerp(d as f64, &[(1.0, 100.0), (30.0, 0.0)])),
            ))
        };
        out.insert(
            c.to_owned(),
            (
                name,
                [trend, utilization, status, version, expiry, freshness],
            ),
        );
    }
    out
}

const WEIGHTS: [f64; 6] = [20.0, 20.0, 20.0, 15.0, 15.0, 10.0];

fn total(f: &[Option<(Option<f64>, f64)>; 6]) -> u32 {
    let w: f64 = f
        .iter()
        .zip(WEIGHTS)
        .filter(|(x, _)| x.is_some())
        .map(|(_, w)| w)
        .sum();
    let s: f64 = f
        .iter()
        .zip(WEIGHTS)
        .filter_map(|(x, w)| x.map(|(_, s)| w * s))
        .sum();
    (s / w).round() as u32
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn each_factor_and_the_score_follow_the_definitions() {
    let (_dir, mut cache) = cache();
    let expect = expected();
    let page = health_list(&mut cache, now(), None, false, 0, 100).unwrap();
    assert_eq!(page.page.total, 5, "sp, c1, c3, c4, c5 hold licenses");
    for h in &page.page.items {
        let (name, factors) = &expect[&h.account_id];
        assert_eq!(&h.name, name);
        for (i, (got, want)) in h.factors.iter().zip(factors).enumerate() {
            assert_eq!(got.factor, Factor::ALL[i]);
            match want {
                None => assert_eq!(
                    got.score, None,
                    "{}: {:?} has no data",
                    h.account_id, got.factor
                ),
                Some((value, score)) => {
                    let s = got.score.unwrap_or(f64::NAN);
                    assert!(
                        close(s, *score),
                        "{} {:?}: score {s} vs {score}",
                        h.account_id,
                        got.factor
                    );
                    match (got.value, value) {
                        (Some(a), Some(b)) => assert!(
                            close(a, *b),
                            "{} {:?}: value {a} vs {b}",
                            h.account_id,
                            got.factor
                        ),
                        (a, b) => assert_eq!(a, *b, "{} {:?}", h.account_id, got.factor),
                    }
                }
            }
        }
        assert_eq!(h.score, total(factors), "{}: weighted mean", h.account_id);
        let sum: f64 = h.factors.iter().map(|f| f.contribution).sum();
        assert!(
            (sum - f64::from(h.score)).abs() <= 0.5,
            "contributions add up to the score"
        );
    }
    // The cases the fixture was built for, spelled out.
    let c1 = &expect["c1"].1;
    assert_eq!(
        c1[1].unwrap().0,
        Some(1.5),
        "L-c1 covers c1 and c1a: 15 of 10 seats"
    );
    let sp = &expect["sp"].1;
    assert_eq!(
        sp[1].unwrap().0,
        Some(0.49),
        "sp 40 + c2's premium 9 (no seats) of 100"
    );
    assert_eq!(
        sp[3].unwrap().0,
        Some(2.0),
        "i2 runs 2.0.0, 2.1.0 and 2.2.0 are newer"
    );
    assert!(
        expect["c4"].1[0].is_none(),
        "c4 did not exist in the earlier months"
    );
    assert!(
        expect["c4"].1[2].is_none(),
        "c4's only instance has not checked in for 12 days"
    );
    assert_eq!(
        expect["c4"].1[5].unwrap().0,
        Some(2.0),
        "but its usage file is 2 days old"
    );
    assert_eq!(
        expect["c3"].1[4].unwrap().1,
        100.0,
        "L-c3 expired, L-c3b never ends"
    );
    assert!(expect["c5"].1[5].is_none(), "c5 has no instances");
}

/// The full answer in the list's order, from the expected values.
fn expected_order(factor: Option<usize>, descending: bool) -> Vec<String> {
    let expect = expected();
    let mut known: Vec<(f64, String, String)> = Vec::new();
    let mut unknown: Vec<(String, String)> = Vec::new();
    for (id, (name, f)) in &expect {
        let key = match factor {
            None => Some(f64::from(total(f))),
            Some(i) => f[i].map(|(_, s)| s),
        };
        match key {
            Some(k) => known.push((k, name.clone(), id.clone())),
            None => unknown.push((name.clone(), id.clone())),
        }
    }
    known.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if descending {
        known.reverse();
    }
    unknown.sort();
    known
        .into_iter()
        .map(|k| k.2)
        .chain(unknown.into_iter().map(|u| u.1))
        .collect()
}

#[test]
fn pages_concatenate_to_the_full_answer_in_every_order() {
    let (_dir, mut cache) = cache();
    let sorts: Vec<Option<Factor>> = std::iter::once(None)
        .chain(Factor::ALL.into_iter().map(Some))
        .collect();
    for sort in sorts {
        for descending in [false, true] {
            let index = sort.map(|f| Factor::ALL.iter().position(|x| *x == f).unwrap());
            let want = expected_order(index, descending);
            for limit in [1, 2, 3] {
                let mut got = Vec::new();
                let mut offset = 0;
                loop {
                    let p =
                        health_list(&mut cache, now(), sort, descending, offset, limit).unwrap();
                    assert_eq!(p.page.total, 5, "the total does not depend on the page");
                    if p.page.items.is_empty() {
                        break;
                    }
                    assert!(p.page.items.len() <= limit);
                    offset += p.page.items.len();
                    got.extend(p.page.items.into_iter().map(|h| h.account_id));
                }
                assert_eq!(got, want, "{sort:?} descending={descending} limit={limit}");
            }
        }
    }
}

/// Least squares through (x, y), at `at`, clamped at 0 and rounded to one decimal.
fn least_squares(points: &[(f64, f64)], at: f64) -> f64 {
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    ((my + sxy / sxx * (at - mx)).max(0.0) * 10.0).round() / 10.0
}

#[test]
fn the_calendar_lists_the_licenses_ending_in_the_window_by_month() {
    let (_dir, mut cache) = cache();
    let scores: BTreeMap<String, u32> = expected()
        .iter()
        .map(|(id, (_, f))| (id.clone(), total(f)))
        .collect();
    let cal = renewals(&mut cache, now(), 12, 0, 50).unwrap();
    assert_eq!(cal.months.len(), 12, "July 2024 through June 2025");
    assert_eq!(cal.months[0].month.to_string(), "2024-07");
    assert_eq!(cal.months[11].month.to_string(), "2025-06");
    let counts: Vec<(String, u64)> = cal
        .months
        .iter()
        .filter(|m| m.licenses > 0)
        .map(|m| (m.month.to_string(), m.licenses))
        .collect();
    assert_eq!(
        counts,
        [
            ("2024-07".into(), 1),
            ("2024-08".into(), 1),
            ("2025-03".into(), 1)
        ],
        "L-c3 ended before now, L-sp after the window, L-c3b never"
    );
    let ids: Vec<&str> = cal
        .page
        .items
        .iter()
        .map(|r| r.license_id.as_str())
        .collect();
    assert_eq!(ids, ["L-c5", "L-c1", "L-c4"], "soonest first");
    assert_eq!(cal.page.total, 3);
    for r in &cal.page.items {
        let l = LICENSES.iter().find(|l| l.0 == r.license_id).unwrap();
        assert_eq!(
            (r.used, r.seats),
            (used(l, "2024-06"), seats(l)),
            "{}",
            r.license_id
        );
        assert_eq!(
            r.health,
            Some(scores[l.1]),
            "{}: its customer's score",
            r.license_id
        );
    }
    // L-c1: in force all six months: c1 + c1a's registered users, at its expiry (August).
    let pts: Vec<(f64, f64)> = MONTHS
        .iter()
        .enumerate()
        .map(|(i, m)| (i as f64, used(&LICENSES[1], m) as f64))
        .collect();
    assert_eq!(
        pts.iter().map(|p| p.1).collect::<Vec<_>>(),
        [8.0, 9.0, 7.0, 11.0, 12.0, 15.0]
    );
    let c1 = &cal.page.items[1];
    let f = least_squares(&pts, 7.0);
    assert_eq!(c1.forecast_at_expiry, Some(f));
    assert!(c1.forecast_over_seats, "{f} > 10 seats");
    assert_eq!(
        cal.page.items[2].forecast_at_expiry, None,
        "L-c4: two months in force"
    );
    assert_eq!(
        cal.page.items[0].forecast_at_expiry,
        Some(0.0),
        "L-c5: nothing used"
    );
    // Pages of one concatenate to the same; 15 months reach L-sp.
    let mut paged = Vec::new();
    for offset in 0..4 {
        let p = renewals(&mut cache, now(), 12, offset, 1).unwrap();
        paged.extend(p.page.items.into_iter().map(|r| r.license_id));
    }
    assert_eq!(paged, ["L-c5", "L-c1", "L-c4"]);
    let longer = renewals(&mut cache, now(), 15, 0, 50).unwrap();
    assert_eq!(longer.page.items.last().unwrap().license_id, "L-sp");
    assert!(
        renewals(&mut cache, now(), 0, 0, 50).is_err(),
        "0 months is refused"
    );
}

#[test]
fn the_tables_follow_new_data_and_a_new_day() {
    let (_dir, mut cache) = cache();
    let before = health_list(&mut cache, now(), None, false, 0, 10).unwrap();
    assert_eq!(before.as_of, Some(now().date_naive()));
    // c5 gets an instance that checked in an hour ago: status and freshness now count.
    cache
        .sync_mut()
        .apply_changes(
            &[
                Change::Instance(Instance {
                    id: "i7".into(),
                    license_id: "L-c5".into(),
                    account_id: "c5".into(),
                    airgapped: false,
                    public_key: None,
                    high_water_mark: 0,
                    last_report_at: None,
                }),
                Change::InstanceReport(InstanceReport {
                    instance_id: "i7".into(),
                    status: InstanceStatus::Ready,
                    app_version: "2.2.0".into(),
                    cluster: ClusterDetails::default(),
                    first_check_in: now() - Duration::days(1),
                    last_check_in: now() - Duration::hours(1),
                }),
            ],
            &[],
            "c2",
            now(),
        )
        .unwrap();
    let c5 = usagedesk_health::customer_health(&mut cache, now(), "c5")
        .unwrap()
        .unwrap();
    assert_eq!(c5.factors[2].score, Some(100.0), "one Ready instance");
    assert_eq!(c5.factors[5].score, Some(100.0), "reported an hour ago");
    // 22 days later (1 August) L-c5 has expired and nothing reported since.
    let later = now() + Duration::days(22);
    let c5 = usagedesk_health::customer_health(&mut cache, later, "c5")
        .unwrap()
        .unwrap();
    assert_eq!(c5.factors[4].value, Some(-1.0), "ended the day before");
    assert_eq!(
        c5.factors[2].score, None,
        "no instance checked in within 24 hours"
    );
    assert!(
        close(c5.factors[5].score.unwrap(), 100.0 - 100.0 * 21.0 / 29.0),
        "22 days"
    );
}
