//! A sync cut short between pages, then resumed, ends with the derived tables (the customer
//! index, the entitlement tables, the subtree aggregates) equal to what the definitions give
//! from the CSV files, worked out here and in `usagedesk_testkit` with plain loops. The sync
//! brings the derived tables up to date while it waits for the cloud, and on its last page:
//! wherever it stops, the next one must finish the job.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use chrono::Duration;
use common::entitlements_of;
use usagedesk_cache::{Cache, CustomerFilter, CustomerQuery, CustomerSort, PageStart};
use usagedesk_cloud::storage::TokenKind;
use usagedesk_domain::{Clock, FixedClock, UsageCounts};
use usagedesk_entitlements::EntitlementScope;
use usagedesk_sync::{sync, Client, SyncError, SyncOptions};
use usagedesk_testkit::{clock, entitlements_fixture, month_back, today, Cloud};
use usagedesk_testkit::{ExpEntitlement, ExpectedEntitlements};

/// Small pages, so the cut points fall between accounts, licenses and month rows.
const PAGE: usize = 3;

/// Applies `pages` pages, then cancels: what was applied stays, with its cursor.
async fn cut_after(cache: &mut Cache, client: &Client, clock: &FixedClock, pages: u32) {
    let opts = SyncOptions {
        page_size: PAGE,
        ..SyncOptions::default()
    };
    let cancel = opts.cancel.clone();
    let err = sync(cache, client, clock, &opts, |p| {
        if p.pages >= pages {
            cancel.store(true, Ordering::Relaxed);
        }
    })
    .await
    .expect_err("cancelled part-way");
    assert!(matches!(err, SyncError::Cancelled), "{err}");
}

/// The customers in the index: (account, name, instances), by account.
fn indexed_customers(cache: &Cache) -> Vec<(String, String, u32)> {
    let filter = CustomerFilter::default();
    let q = CustomerQuery {
        filter: &filter,
        sort: CustomerSort::Name,
        now: clock().now(),
        overdue_after: Duration::days(30),
    };
    let mut rows: Vec<(String, String, u32)> = cache
        .customers()
        .rows(&q, &PageStart::Offset(0), 1000)
        .unwrap()
        .into_iter()
        .map(|r| (r.account_id, r.name, r.instances))
        .collect();
    rows.sort();
    rows
}

fn same(g: &usagedesk_entitlements::Entitlement, w: &ExpEntitlement) -> bool {
    let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => false,
    };
    g.license_id == w.license_id
        && g.account_id == w.account_id
        && g.plan == w.plan
        && g.seats == w.seats
        && g.used == w.used
        && g.overage == w.overage
        && close(g.utilization, w.utilization)
        && close(g.forecast_at_expiry, w.forecast_at_expiry)
}

#[tokio::test]
async fn a_sync_cut_between_pages_and_resumed_ends_with_derived_tables_from_the_definitions() {
    let data = entitlements_fixture(today());
    let expected = ExpectedEntitlements::from_dir(data.path());
    let cloud = Cloud::start(data.path()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let client = Client::new(&cloud.url(), &token).unwrap();
    let clock = clock();
    let dir = tempfile::tempdir().unwrap();

    // Customers: every account holding a license, under its name; no instances here.
    let mut want_customers: Vec<(String, String, u32)> = expected
        .licenses
        .iter()
        .map(|l| {
            let name = expected.usage.accounts[&l.account].name.clone();
            (l.account.clone(), name, 0)
        })
        .collect();
    want_customers.sort();
    want_customers.dedup();
    assert!(
        want_customers.len() > 3,
        "the dataset has several customers"
    );

    let months: Vec<String> = (1..=9).rev().map(|b| month_back(today(), b)).collect();
    let accounts: Vec<String> = expected.usage.accounts.keys().cloned().collect();
    let total_pages = {
        let mut probe = Cache::open(dir.path().join("probe.db")).unwrap();
        let opts = SyncOptions {
            page_size: PAGE,
            ..SyncOptions::default()
        };
        sync(&mut probe, &client, &clock, &opts, |_| {})
            .await
            .unwrap()
            .pages
    };
    assert!(total_pages > 12, "{total_pages} pages: room for cut points");

    for cut in [1, 2, total_pages / 3, total_pages / 2, total_pages - 1] {
        let mut cache = Cache::open(dir.path().join(format!("cut-{cut}.db"))).unwrap();
        cut_after(&mut cache, &client, &clock, cut).await;
        // Reopened, as the app would after a crash or a quit.
        drop(cache);
        let mut cache = Cache::open(dir.path().join(format!("cut-{cut}.db"))).unwrap();
        let opts = SyncOptions {
            page_size: PAGE,
            ..SyncOptions::default()
        };
        let report = sync(&mut cache, &client, &clock, &opts, |_| {})
            .await
            .unwrap();
        assert!(!report.full_resync, "cut {cut}: resumed at the cursor");

        assert_eq!(
            indexed_customers(&cache),
            want_customers,
            "cut after page {cut}: the customer index"
        );

        let mut compared = 0;
        for account in &accounts {
            for (scope, name) in [
                (EntitlementScope::Own, "self"),
                (EntitlementScope::Children, "children"),
                (EntitlementScope::Tree, "tree"),
            ] {
                for month in &months {
                    let want = expected.entitlements(account, name, month);
                    let got = entitlements_of(&cache, account, scope, month);
                    assert_eq!(
                        got.len(),
                        want.len(),
                        "cut {cut}: {account} {name} {month}: (license, plan) pairs"
                    );
                    for (g, w) in got.iter().zip(&want) {
                        assert!(
                            same(g, w),
                            "cut {cut}: {account} {name} {month}:\n{g:#?}\n{w:#?}"
                        );
                        compared += 1;
                    }
                }
            }
            // Subtree aggregates: the totals per plan of the account's whole tree.
            for month in &months {
                let got: BTreeMap<String, UsageCounts> = cache
                    .usage()
                    .account_month(account, month.parse().unwrap())
                    .unwrap()
                    .totals
                    .into_iter()
                    .collect();
                let want: BTreeMap<String, UsageCounts> = expected
                    .usage
                    .totals(account, month)
                    .into_iter()
                    .map(|(p, t)| (p, UsageCounts::new(t[0], t[1], t[2])))
                    .collect();
                assert_eq!(
                    got, want,
                    "cut {cut}: subtree totals of {account} in {month}"
                );
            }
        }
        assert!(
            compared > 100,
            "cut {cut}: {compared} entitlements compared"
        );
    }
}
