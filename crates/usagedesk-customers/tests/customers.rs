//! Customer reporting through the real cloud, the sync and the cache, checked against the
//! values worked out by hand for `usagedesk_testkit::customers_fixture`.

use std::sync::Arc;

use chrono::{Duration, Utc};
use usagedesk_cache::Cache;
use usagedesk_cloud::storage::TokenKind;
use usagedesk_customers::{
    customer, customer_instances, customers, install_attempts, instance, instance_events,
    CustomerFilter, CustomerSort, CustomerSummary,
};
use usagedesk_domain::customer::{InstanceStatus, LicenseType};
use usagedesk_domain::SystemClock;
use usagedesk_sync::{sync, Client, SyncOptions};
use usagedesk_testkit::{customers_fixture, Cloud};

#[tokio::test]
async fn list_page_and_instance_match_the_hand_computed_values() {
    let now = Utc::now();
    let data = customers_fixture(now);
    let cloud = Cloud::start_on(data.path(), Arc::new(SystemClock)).await;
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path().join("cache.db")).unwrap();
    let client = Client::new(&cloud.url(), &token).unwrap();
    sync(
        &mut cache,
        &client,
        &SystemClock,
        &SyncOptions::default(),
        |_| {},
    )
    .await
    .unwrap();
    let now = Utc::now();
    let list = |f: &CustomerFilter| -> Vec<CustomerSummary> {
        let page = customers(&cache, now, f, CustomerSort::Name, 0, 100).unwrap();
        assert_eq!(
            page.total as usize,
            page.items.len(),
            "one page holds them all"
        );
        page.items
    };

    let all = list(&CustomerFilter::default());
    let ids: Vec<&str> = all.iter().map(|c| c.account_id.as_str()).collect();
    assert_eq!(
        ids,
        ["acme-de", "acme-fr", "globex-2"],
        "accounts holding a license, by name"
    );
    let fr = &all[1];
    assert_eq!((fr.instances, fr.not_ready, fr.inactive), (2, 0, 0));
    assert_eq!(fr.worst_status, Some(InstanceStatus::Ready));
    let de = &all[0];
    assert!(
        de.reporting_overdue,
        "inst-de is air-gapped and never reported"
    );
    assert_eq!(
        (de.instances, de.not_ready),
        (1, 1),
        "never checked in: not Ready"
    );

    let only =
        |f: CustomerFilter| -> Vec<String> { list(&f).into_iter().map(|c| c.account_id).collect() };
    assert_eq!(
        only(CustomerFilter {
            license_type: Some(LicenseType::Trial),
            ..Default::default()
        }),
        ["acme-de"]
    );
    assert_eq!(
        only(CustomerFilter {
            expiring_within_days: Some(30),
            ..Default::default()
        }),
        ["acme-de"],
        "9 days left"
    );
    assert_eq!(
        only(CustomerFilter {
            not_ready: true,
            ..Default::default()
        }),
        ["acme-de", "globex-2"]
    );
    assert_eq!(
        only(CustomerFilter {
            reporting_overdue: true,
            ..Default::default()
        }),
        ["acme-de", "globex-2"]
    );
    assert_eq!(
        only(CustomerFilter {
            text: Some("GLOBEX".into()),
            ..Default::default()
        }),
        ["globex-2"]
    );

    let page = customer(&cache, "acme-fr", now).unwrap();
    let tti = page.time_to_install.expect("a Ready instance");
    assert_eq!(
        tti.instance_id, "inst-fr",
        "the most recent first Ready, not spare-fr2's older one"
    );
    assert_eq!(
        tti.license,
        Duration::days(2) + Duration::hours(2),
        "created 12 d ago, Ready 10 d − 2 h ago"
    );
    assert_eq!(tti.instance, Duration::hours(2));
    let cards = customer_instances(&cache, "acme-fr", now, 0, 100).unwrap();
    assert_eq!(cards.total, 2);
    assert_eq!(page.counts.instances, 2);
    let card = cards
        .items
        .iter()
        .find(|c| c.instance_id == "inst-fr")
        .unwrap();
    let up = card.uptime.expect("uptime");
    let ratio = up.ratio.expect("a ratio");
    assert!(
        (ratio - 0.95).abs() < 1e-4,
        "9 d 12 h up of 10 d with data: {ratio}"
    );
    assert!((up.down - Duration::hours(12)).num_seconds().abs() <= 1);
    assert!(
        (up.no_data - Duration::days(4)).num_seconds().abs() <= 60,
        "{:?}",
        up.no_data
    );
    assert_eq!(card.graph.len(), 14);
    assert_eq!(card.short_id, "inst-fr");
    assert_eq!(page.install_attempt_count, 2);
    let attempts = install_attempts(&cache, "acme-fr", 0, 100).unwrap().items;
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].id, "att-2", "newest first");
    assert_eq!(attempts[1].steps.len(), 3);

    let detail = instance(&cache, "inst-fr", now).unwrap();
    assert_eq!(detail.event_count, 5, "every recorded change");
    let events = instance_events(&cache, "inst-fr", now, 0, 100)
        .unwrap()
        .items;
    assert_eq!(events.len(), 5, "every recorded change");
    assert_eq!(events[0].field, "app_version", "newest first");
    assert!(instance(&cache, "nope", now).is_err());
}
