//! The Entitlements card and the license list as the app asks for them, through the real
//! cloud service on loopback and the sync, against `ExpectedEntitlements` (a computation of
//! the definitions over the dataset's CSV files).

use std::sync::Arc;

use usagedesk_cloud::storage::TokenKind;
use usagedesk_desktop::{Desk, DeskOptions, ErrorKind, LicenseFilter};
use usagedesk_secrets::MemoryStore;
use usagedesk_testkit::{
    clock, entitlements_fixture, month_back, today, Cloud, ExpectedEntitlements,
};

async fn synced() -> (
    tempfile::TempDir,
    tempfile::TempDir,
    Desk,
    ExpectedEntitlements,
) {
    let data = entitlements_fixture(today());
    let expected = ExpectedEntitlements::from_dir(data.path());
    let cloud = Cloud::start(data.path()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let opts = DeskOptions {
        data_dir: dir.path().to_path_buf(),
        demo: false,
        demo_accounts: 0,
    };
    let desk = Desk::open(opts, Arc::new(MemoryStore::default()), Arc::new(clock())).unwrap();
    desk.connect(&cloud.url(), &token, false).await.unwrap();
    desk.sync(|_| {}).await.unwrap();
    // Everything asked below is read from the cache, offline.
    drop(cloud);
    (data, dir, desk, expected)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_card_shows_own_and_rolled_up_entitlements_as_defined() {
    let (_data, _dir, desk, expected) = synced().await;
    let mut own_seen = 0;
    for account in expected.usage.accounts.keys() {
        for back in 1..=6 {
            let month = month_back(today(), back);
            let card = desk.entitlement_card(account, &month).unwrap();
            assert_eq!(card.month.to_string(), month);
            let want = expected.entitlements(account, "self", &month);
            let got: Vec<_> = card.own.iter().map(|e| &e.entitlement).collect();
            assert_eq!(
                got.len(),
                want.len(),
                "{account} {month}: own (license, plan) pairs"
            );
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(
                    (&g.license_id, &g.plan, g.seats, g.used, g.overage),
                    (&w.license_id, &w.plan, w.seats, w.used, w.overage),
                    "{account} {month}"
                );
                let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
                    (Some(x), Some(y)) => (x - y).abs() < 1e-9,
                    (a, b) => a == b,
                };
                assert!(
                    close(g.utilization, w.utilization),
                    "{account} {month} utilization"
                );
                assert!(
                    close(g.forecast_at_expiry, w.forecast_at_expiry),
                    "{account} {month} forecast"
                );
                own_seen += 1;
            }
            // Each own entry's trend ends at the month with its used seats.
            for e in &card.own {
                let last = e
                    .trend
                    .last()
                    .expect("in force in the month: a trend point");
                assert_eq!((last.month, last.used), (card.month, e.entitlement.used));
                assert!(e.trend.len() <= 12);
            }
            let rolled = expected.rollup(account, &month);
            let shown: Vec<_> = card
                .rollup
                .iter()
                .filter(|p| p.licenses > 0)
                .map(|p| (p.plan.clone(), (p.seats, p.used, p.overage)))
                .collect();
            let want: Vec<_> = rolled.into_iter().collect();
            let mut shown_sorted = shown.clone();
            shown_sorted.sort();
            assert_eq!(shown_sorted, want, "{account} {month}: rolled up per plan");
            for p in &card.rollup {
                assert_eq!(p.trend.len(), 12, "a 12-month trend, every month present");
            }
        }
    }
    assert!(
        own_seen > 10,
        "the dataset holds own entitlements to compare: {own_seen}"
    );
    assert!(
        serde_json::to_vec(
            &desk
                .entitlement_card("root", &month_back(today(), 1))
                .unwrap()
        )
        .unwrap()
        .len()
            < 1 << 20
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_license_list_is_paged_and_refuses_bad_questions() {
    let (_data, _dir, desk, expected) = synced().await;
    let month = month_back(today(), 2);
    // Over seats anywhere: every (license, plan) in force whose used exceeds its seats.
    let want: usize = expected
        .licenses
        .iter()
        .map(|l| {
            expected
                .entitlements(&l.account, "self", &month)
                .into_iter()
                .filter(|e| e.license_id == l.id && e.overage > 0)
                .count()
        })
        .sum();
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let page = desk
            .license_list(None, &month, LicenseFilter::Over, offset, 1)
            .unwrap();
        assert_eq!(page.total as usize, want, "the total counts the whole list");
        if page.items.is_empty() {
            break;
        }
        offset += page.items.len() as u64;
        seen.extend(page.items);
    }
    assert_eq!(seen.len(), want);
    assert!(seen.iter().all(|i| i.overage > 0));
    assert!(
        seen.windows(2).all(|w| w[0].overage >= w[1].overage),
        "largest overage first"
    );
    assert!(
        want > 0,
        "the dataset has a license over its seats in {month}"
    );
    let capped = desk
        .license_list(Some("root"), &month, LicenseFilter::Under, 0, 100_000)
        .unwrap();
    assert_eq!(capped.limit, 500, "the page size is capped");

    let running = usagedesk_domain::YearMonth::last_completed(today())
        .next()
        .to_string();
    let err = desk.entitlement_card("root", &running).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{err}");
    assert_eq!(
        desk.entitlement_card("nobody", &month).unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        desk.license_list(Some("nobody"), &month, LicenseFilter::Near, 0, 10)
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        desk.entitlement_card("root", "May").unwrap_err().kind,
        ErrorKind::InvalidInput
    );
}
