//! Entitlements through the real cloud, the sync and the cache file, against the numbers
//! `usagedesk_testkit::ExpectedEntitlements` works out from the definitions with plain loops
//! over the CSV files: every account, scope and month of the dataset (nested licenses, plan
//! changes, not-available and non-existent months, licenses created and expiring mid-range,
//! a license without seats).

mod common;

use common::entitlements_of;
use usagedesk_cache::Cache;
use usagedesk_cloud::storage::TokenKind;
use usagedesk_domain::FixedClock;
use usagedesk_entitlements::{license_list, rollup, Entitlement, EntitlementScope, LicenseFilter};
use usagedesk_sync::{sync, Client, SyncOptions};
use usagedesk_testkit::{
    clock, entitlements_fixture, month_back, today, Cloud, ExpEntitlement, ExpectedEntitlements,
};

async fn synced_cache() -> (
    tempfile::TempDir,
    tempfile::TempDir,
    Cache,
    ExpectedEntitlements,
) {
    let data = entitlements_fixture(today());
    let expected = ExpectedEntitlements::from_dir(data.path());
    let cloud = Cloud::start(data.path()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path().join("cache.db")).unwrap();
    let client = Client::new(&cloud.url(), &token).unwrap();
    let clock: FixedClock = clock();
    sync(&mut cache, &client, &clock, &SyncOptions::default(), |_| {})
        .await
        .unwrap();
    (data, dir, cache, expected)
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => false,
    }
}

fn same(got: &Entitlement, want: &ExpEntitlement) -> bool {
    got.license_id == want.license_id
        && got.account_id == want.account_id
        && got.plan == want.plan
        && got.seat_metric.as_str() == want.seat_metric
        && got.seats == want.seats
        && got.used == want.used
        && close(got.utilization, want.utilization)
        && got.overage == want.overage
        && close(got.forecast_at_expiry, want.forecast_at_expiry)
        && got.expires_at.as_deref().map(|s| &s[..19])
            == want.expires_at.as_deref().map(|s| &s[..19])
}

fn months() -> Vec<String> {
    (1..=9).rev().map(|b| month_back(today(), b)).collect()
}

#[tokio::test]
async fn every_account_scope_and_month_matches_the_definitions() {
    let (_data, _dir, cache, expected) = synced_cache().await;
    let accounts: Vec<String> = expected.usage.accounts.keys().cloned().collect();
    let mut compared = 0;
    let mut with_forecast = 0;
    let mut over = 0;
    for account in &accounts {
        for (scope, name) in [
            (EntitlementScope::Own, "self"),
            (EntitlementScope::Children, "children"),
            (EntitlementScope::Tree, "tree"),
        ] {
            for month in months() {
                let want = expected.entitlements(account, name, &month);
                let got = entitlements_of(&cache, account, scope, &month);
                assert_eq!(
                    got.len(),
                    want.len(),
                    "{account} {name} {month}: the (license, plan) pairs\n got {got:#?}\nwant {want:#?}"
                );
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        same(g, w),
                        "{account} {name} {month}:\n got {g:#?}\nwant {w:#?}"
                    );
                    compared += 1;
                    with_forecast += usize::from(w.forecast_at_expiry.is_some());
                    over += usize::from(w.overage > 0);
                }
            }
        }
    }
    // The dataset exercises what it is meant to.
    assert!(compared > 100, "{compared} rows compared");
    assert!(with_forecast > 20, "{with_forecast} rows with a forecast");
    assert!(over > 5, "{over} rows over their seats");
}

#[tokio::test]
async fn nested_licenses_cover_what_the_definitions_say_month_by_month() {
    let (_data, _dir, _cache, expected) = synced_cache().await;
    let lic = |id: &str| expected.licenses.iter().find(|l| l.id == id).unwrap();
    let m = |b: i32| month_back(today(), b);
    // While LIC-A is in force, cust-a's subtree is its own; LIC-ROOT does not count it.
    assert!(expected.in_force(lic("LIC-A"), &m(2)));
    assert!(!expected.in_force(lic("LIC-A"), &m(1)), "expired mid-month");
    assert!(
        expected.in_force(lic("LIC-B2"), &m(1)),
        "expires on the last day"
    );
    let root_now = expected.covered(lic("LIC-ROOT"), &m(1));
    let root_then = expected.covered(lic("LIC-ROOT"), &m(2));
    assert!(root_now.contains(&"div-a1".to_string()) && !root_then.contains(&"div-a1".to_string()));
    assert!(
        !root_now.contains(&"cust-b".to_string()),
        "cust-b holds licenses"
    );
    // div-a1's own old license wins over LIC-ROOT while in force.
    assert!(expected.in_force(lic("LIC-OLD"), &m(7)));
    assert_eq!(expected.covered(lic("LIC-OLD"), &m(7)), ["div-a1"]);
}

#[tokio::test]
async fn rollups_sum_seats_used_and_per_license_overage_over_the_subtree() {
    let (_data, _dir, cache, expected) = synced_cache().await;
    for account in expected.usage.accounts.keys() {
        for month in months() {
            let want = expected.rollup(account, &month);
            let got = rollup(&cache, account, month.parse().unwrap(), 12).unwrap();
            let got_at_month: std::collections::BTreeMap<String, (u64, u64, u64)> = got
                .iter()
                .filter(|p| p.licenses > 0)
                .map(|p| (p.plan.clone(), (p.seats, p.used, p.overage)))
                .collect();
            assert_eq!(got_at_month, want, "{account} {month}");
            for p in &got {
                // Each trend point is the rollup of its own month.
                for point in &p.trend {
                    let w = expected
                        .rollup(account, &point.month.to_string())
                        .get(&p.plan)
                        .copied()
                        .unwrap_or_default();
                    assert_eq!(
                        (point.seats, point.used, point.overage),
                        w,
                        "{account} {} {}",
                        p.plan,
                        point.month
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_license_lists_hold_exactly_the_licenses_over_near_and_under_their_seats() {
    let (_data, _dir, cache, expected) = synced_cache().await;
    for month in months() {
        let all: Vec<ExpEntitlement> = expected
            .usage
            .accounts
            .keys()
            .filter(|a| expected.usage.accounts[*a].parent_id.is_none())
            .flat_map(|root| expected.entitlements(root, "tree", &month))
            .collect();
        for filter in [
            LicenseFilter::Over,
            LicenseFilter::Near,
            LicenseFilter::Under,
        ] {
            let mut want: Vec<(String, String)> = all
                .iter()
                .filter(|e| match filter {
                    LicenseFilter::Over => e.used > e.seats.unwrap_or(0),
                    LicenseFilter::Near => e.utilization.is_some_and(|u| u > 0.9 && u <= 1.0),
                    LicenseFilter::Under => e.utilization.is_some_and(|u| u < 0.5),
                })
                .map(|e| (e.license_id.clone(), e.plan.clone()))
                .collect();
            want.sort();
            // Page by 2 to go through the paging.
            let mut got = Vec::new();
            let mut offset = 0;
            loop {
                let page =
                    license_list(&cache, None, month.parse().unwrap(), filter, offset, 2).unwrap();
                assert_eq!(page.total as usize, want.len(), "{month} {filter:?} total");
                if page.items.is_empty() {
                    break;
                }
                offset += page.items.len();
                got.extend(page.items);
            }
            // The order the list promises.
            for w in got.windows(2) {
                let ok = match filter {
                    LicenseFilter::Over => w[0].overage >= w[1].overage,
                    LicenseFilter::Near => w[0].utilization >= w[1].utilization,
                    LicenseFilter::Under => w[0].utilization <= w[1].utilization,
                };
                assert!(ok, "{month} {filter:?}: {w:?}");
            }
            let mut got: Vec<(String, String)> =
                got.into_iter().map(|r| (r.license_id, r.plan)).collect();
            got.sort();
            assert_eq!(got, want, "{month} {filter:?}");
        }
    }
}
