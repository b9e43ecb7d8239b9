//! The materialized used seats and overage (cache migration 0009: `ent_used`, `ent_over`)
//! against `usagedesk_testkit::ExpectedEntitlements`, worked out from the definitions with
//! plain loops over the dataset's CSV files: after a full sync, after an incremental sync
//! that changes usage, after one that changes a license's seats, and after the tables are
//! rebuilt from scratch (a cache migrated from before them).

use std::path::Path;

use usagedesk_cache::{AttentionBounds, AttentionKind, Cache, CacheError};
use usagedesk_cloud::storage::{DailyRow, TokenKind};
use usagedesk_domain::{FixedClock, UsageCounts, YearMonth};
use usagedesk_entitlements::LicenseFilter;
use usagedesk_sync::{sync, Client, SyncOptions};
use usagedesk_testkit::{
    clock, entitlements_fixture, month_back, today, Cloud, ExpEntitlement, ExpectedEntitlements,
};

/// Every month of the dataset, and the current one.
fn months() -> Vec<String> {
    (0..=10).rev().map(|b| month_back(today(), b)).collect()
}

fn ym(m: &str) -> YearMonth {
    m.parse().expect("month")
}

/// (license, plan, month, seats, used), by license, plan and month.
type Row = (String, String, String, Option<u64>, u64);

/// What the definitions give for every license held anywhere (each holder's own licenses).
fn expected_rows(exp: &ExpectedEntitlements) -> Vec<Row> {
    let mut holders: Vec<&str> = exp.licenses.iter().map(|l| l.account.as_str()).collect();
    holders.sort();
    holders.dedup();
    let mut out = Vec::new();
    for m in months() {
        for h in &holders {
            for e in exp.entitlements(h, "self", &m) {
                out.push((e.license_id, e.plan, m.clone(), e.seats, e.used));
            }
        }
    }
    out.sort();
    out
}

/// The pairs over their seats in `month`, largest overage first, then license and plan.
fn expected_over(exp: &ExpectedEntitlements, month: &str) -> Vec<ExpEntitlement> {
    let mut holders: Vec<&str> = exp.licenses.iter().map(|l| l.account.as_str()).collect();
    holders.sort();
    holders.dedup();
    let mut out: Vec<ExpEntitlement> = holders
        .iter()
        .flat_map(|h| exp.entitlements(h, "self", month))
        .filter(|e| e.overage > 0)
        .collect();
    out.sort_by(|a, b| {
        (b.overage, &a.license_id, &a.plan).cmp(&(a.overage, &b.license_id, &b.plan))
    });
    out
}

/// Compares every license month the cache computes (from `ent_used`), the license list
/// "over" (from `ent_over`) in pages of 2 and Attention's over-seats kind, month by month.
fn check(cache: &Cache, exp: &ExpectedEntitlements, stage: &str) -> usize {
    let (from, to) = (months()[0].clone(), months()[months().len() - 1].clone());
    let mut got: Vec<Row> = Vec::new();
    cache
        .entitlements()
        .each_license_month_everywhere(ym(&from), ym(&to), |r| {
            got.push((r.license_id, r.plan, r.month.to_string(), r.seats, r.used));
            Ok::<(), CacheError>(())
        })
        .unwrap();
    got.sort();
    assert_eq!(
        got,
        expected_rows(exp),
        "{stage}: used seats per license, plan and month"
    );

    let mut over_rows = 0;
    for m in months() {
        let want: Vec<(String, String, Option<u64>, u64)> = expected_over(exp, &m)
            .into_iter()
            .map(|e| (e.license_id, e.plan, e.seats, e.used))
            .collect();
        let mut listed = Vec::new();
        let mut offset = 0;
        loop {
            let page = cache
                .entitlements()
                .license_list(None, ym(&m), LicenseFilter::Over, offset, 2)
                .unwrap();
            assert_eq!(
                page.total as usize,
                want.len(),
                "{stage} {m}: the list's total"
            );
            if page.items.is_empty() {
                break;
            }
            offset += page.items.len();
            listed.extend(
                page.items
                    .into_iter()
                    .map(|r| (r.license_id, r.plan, r.seats, r.used)),
            );
        }
        assert_eq!(
            listed, want,
            "{stage} {m}: licenses over their seats, in order"
        );

        let now = clock_now();
        let bounds = AttentionBounds {
            overdue_before: now,
            now,
            expiring_until: now,
            month: ym(&m),
        };
        let count = cache
            .attention()
            .count(AttentionKind::OverSeats, &bounds)
            .unwrap();
        assert_eq!(count as usize, want.len(), "{stage} {m}: Attention's count");
        let mut items = Vec::new();
        cache
            .attention()
            .each(AttentionKind::OverSeats, &bounds, 0, None, |r| {
                items.push((
                    r.subject,
                    r.plan.unwrap_or_default(),
                    r.seats,
                    r.used.unwrap(),
                ));
                Ok::<(), CacheError>(())
            })
            .unwrap();
        assert_eq!(
            items, want,
            "{stage} {m}: Attention's over-seats items, in order"
        );
        over_rows += want.len();
    }
    over_rows
}

fn clock_now() -> chrono::DateTime<chrono::Utc> {
    usagedesk_domain::Clock::now(&clock())
}

async fn sync_once(cache: &mut Cache, cloud: &Cloud, token: &str) {
    let client = Client::new(&cloud.url(), token).unwrap();
    let clock: FixedClock = clock();
    sync(cache, &client, &clock, &SyncOptions::default(), |_| {})
        .await
        .unwrap();
}

/// Reloads the dataset folder into the cloud (the licenses file changed).
fn reload(cloud: &Cloud, dir: &Path) {
    let data = usagedesk_cloud::load::read_dataset(dir).expect("read dataset");
    cloud.storage.load(data, today()).expect("reload dataset");
}

#[tokio::test]
async fn materialized_seats_follow_syncs_and_rebuilds() {
    let data = entitlements_fixture(today());
    let cloud = Cloud::start(data.path()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    let mut cache = Cache::open(&path).unwrap();
    sync_once(&mut cache, &cloud, &token).await;
    let over = check(
        &cache,
        &ExpectedEntitlements::from_dir(data.path()),
        "full sync",
    );
    assert!(
        over > 5,
        "the dataset has licenses over their seats: {over}"
    );

    // Usage: cust-d reports far more users at the end of the last completed month (its
    // license LIC-D has 3 standard seats), in the cloud and in the dataset the expectation
    // reads.
    let last = month_back(today(), 1);
    let day = format!("{last}-28");
    cloud
        .storage
        .ingest(&[DailyRow {
            account_id: "cust-d".into(),
            date: day.parse().unwrap(),
            plan: "standard".into(),
            counts: UsageCounts::new(90, 60, 30),
        }])
        .unwrap();
    let daily = data.path().join("daily_usage.csv");
    let mut text = std::fs::read_to_string(&daily).unwrap();
    text.push_str(&format!("cust-d,{day},standard,90,60,30\n"));
    std::fs::write(&daily, text).unwrap();
    sync_once(&mut cache, &cloud, &token).await;
    let exp = ExpectedEntitlements::from_dir(data.path());
    assert!(
        expected_over(&exp, &last)
            .iter()
            .any(|e| e.license_id == "LIC-D" && e.used == 60),
        "the new row puts LIC-D over its seats"
    );
    check(&cache, &exp, "incremental sync of usage");

    // A license: LIC-B1 goes from 10 basic seats to 1.
    let file = data.path().join("licenses.csv");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(",basic=10\n"));
    std::fs::write(&file, text.replace(",basic=10\n", ",basic=1\n")).unwrap();
    reload(&cloud, data.path());
    sync_once(&mut cache, &cloud, &token).await;
    let exp = ExpectedEntitlements::from_dir(data.path());
    assert!(
        months().iter().any(|m| expected_over(&exp, m)
            .iter()
            .any(|e| e.license_id == "LIC-B1" && e.seats == Some(1))),
        "the new seats put LIC-B1 over in some month"
    );
    check(&cache, &exp, "incremental sync of a license");

    // From scratch: a cache of the schema before the tables (emptied, marked to rebuild, as
    // the migration leaves it) fills them when opened.
    drop(cache);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DELETE FROM ent_used; DELETE FROM ent_over; INSERT OR IGNORE INTO ent_dirty VALUES (1);",
    )
    .unwrap();
    drop(conn);
    let cache = Cache::open(&path).unwrap();
    check(&cache, &exp, "rebuilt on open");
}
