//! The renewal calendar and the seats behind utilization at a size where the computation's
//! streams cross their pages: 1,500 licenses arriving in a shuffled order, those that end
//! interleaved with those that never do, some ending with plans in force, some expired
//! before the month, some without seats. Expected values are written here from the fixture.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use usagedesk_cache::Cache;
use usagedesk_domain::api::Change;
use usagedesk_domain::customer::{License, LicenseFeatures, LicenseType};
use usagedesk_domain::{Account, AccountStatus, PlanCatalog};
use usagedesk_health::{customer_health_of, ensure_current, Factor};

const LICENSES: usize = 1_500;
/// Prime to 4: every account holds licenses of every kind.
const ACCOUNTS: usize = 19;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 7, 10, 12, 0, 0).unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// License `i`: its holder, its end, and its seats per plan, by `i % 4`:
/// 0 never ends; 1 ends next year with two plans; 2 ended in March (not in force in June,
/// the last completed month); 3 ends next year without seats.
fn license(i: usize) -> (String, Option<&'static str>, Vec<(&'static str, u64)>) {
    let holder = format!("acc-{:02}", i % ACCOUNTS);
    match i % 4 {
        0 => (holder, None, vec![("basic", 10)]),
        1 => (
            holder,
            Some("2025-01-31T00:00:00Z"),
            vec![("basic", (i % 7) as u64 + 1), ("premium", 2)],
        ),
        2 => (holder, Some("2024-03-31T00:00:00Z"), vec![("basic", 4)]),
        _ => (holder, Some("2025-06-30T00:00:00Z"), vec![]),
    }
}

fn id(i: usize) -> String {
    format!("L-{i:04}")
}

fn cache() -> (tempfile::TempDir, Cache) {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path().join("cache.db")).unwrap();
    let mut changes: Vec<Change> = (0..ACCOUNTS)
        .map(|a| {
            Change::Account(Account {
                id: format!("acc-{a:02}"),
                name: format!("Account {a}"),
                parent_id: None,
                status: AccountStatus::Active,
                created_at: NaiveDate::from_ymd_opt(2023, 1, 1).unwrap(),
            })
        })
        .collect();
    // A fixed permutation: every license once, not in id order.
    let order = (0..LICENSES).map(|k| (k * 7_919) % LICENSES);
    for i in order {
        let (holder, ends, seats) = license(i);
        changes.push(Change::License(License {
            id: id(i),
            account_id: holder,
            license_type: LicenseType::Prod,
            channel: "stable".into(),
            created_at: at("2023-06-01T00:00:00Z"),
            expires_at: ends.map(at),
            features: LicenseFeatures::default(),
            seats: seats.iter().map(|(p, n)| ((*p).into(), *n)).collect(),
        }));
    }
    cache
        .sync_mut()
        .apply_changes(&changes, &PlanCatalog::default().0, "c1", now())
        .unwrap();
    cache.sync_mut().rebuild_aggregates().unwrap();
    (dir, cache)
}

/// A calendar row: holder, seats, and each plan's seats.
type Row = (String, u64, Vec<(String, u64)>);

#[test]
fn the_calendar_has_every_license_that_ends_once_with_its_plans_in_force() {
    let (_dir, mut cache) = cache();
    assert!(ensure_current(&mut cache, now()).unwrap());
    let mut got: BTreeMap<String, Row> = BTreeMap::new();
    cache
        .health()
        .each_renewal("0", "9", |r| {
            let plans: Vec<serde_json::Value> =
                serde_json::from_str(&r.renewal.plans_json).unwrap();
            let plans = plans
                .iter()
                .map(|p| {
                    let name = p["plan"].as_str().unwrap().to_owned();
                    (name, p["seats"].as_u64().unwrap())
                })
                .collect();
            let before = got.insert(
                r.renewal.license_id,
                (r.renewal.account_id, r.renewal.seats, plans),
            );
            assert!(before.is_none(), "each license once");
            Ok(true)
        })
        .unwrap();
    let mut expected = BTreeMap::new();
    for i in 0..LICENSES {
        let (holder, ends, seats) = license(i);
        if ends.is_none() {
            continue;
        }
        // Plans in force in June: a license that ended in March has none.
        let plans: Vec<(String, u64)> = if i % 4 == 2 {
            Vec::new()
        } else {
            seats.iter().map(|(p, n)| ((*p).to_owned(), *n)).collect()
        };
        let total = plans.iter().map(|p| p.1).sum();
        expected.insert(id(i), (holder, total, plans));
    }
    assert_eq!(got.len(), LICENSES * 3 / 4, "three kinds of four end");
    assert_eq!(got, expected);
}

#[test]
fn a_customer_s_utilization_counts_the_seats_of_every_license_it_holds_in_force() {
    let (_dir, mut cache) = cache();
    ensure_current(&mut cache, now()).unwrap();
    for a in 0..ACCOUNTS {
        let account = format!("acc-{a:02}");
        let seats: u64 = (0..LICENSES)
            .map(license)
            .enumerate()
            .filter(|(i, l)| l.0 == account && i % 4 != 2)
            .flat_map(|(_, l)| l.2)
            .map(|(_, n)| n)
            .sum();
        let health = customer_health_of(&cache, &account).unwrap().unwrap();
        let utilization = health
            .factors
            .iter()
            .find(|f| f.factor == Factor::Utilization)
            .unwrap();
        assert!(seats > 0, "{account} holds seats in force");
        assert_eq!(
            utilization.detail,
            format!("0 % (0 of {seats} seats)"),
            "{account}: no usage, every seat in force"
        );
    }
}
