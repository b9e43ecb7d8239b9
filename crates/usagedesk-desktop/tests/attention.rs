//! The Attention list and reminders as the app asks for them, through the real cloud service
//! on loopback and the sync: the over-seats items against `ExpectedEntitlements` (the
//! definitions computed over the dataset's CSV files), the expiring ones against its license
//! expiries, paging against the whole list, reminders once only, and the Settings switch.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Duration;
use usagedesk_cloud::storage::TokenKind;
use usagedesk_desktop::{AttentionKind, Desk, DeskOptions};
use usagedesk_domain::{Clock, YearMonth};
use usagedesk_secrets::MemoryStore;
use usagedesk_testkit::{clock, entitlements_fixture, today, Cloud, ExpectedEntitlements};

fn open(dir: &tempfile::TempDir) -> Desk {
    let opts = DeskOptions {
        data_dir: dir.path().to_path_buf(),
        demo: false,
        demo_accounts: 0,
    };
    Desk::open(opts, Arc::new(MemoryStore::default()), Arc::new(clock())).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_lists_what_the_definitions_say_and_reminds_once() {
    let data = entitlements_fixture(today());
    let expected = ExpectedEntitlements::from_dir(data.path());
    let cloud = Cloud::start(data.path()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let desk = open(&dir);
    desk.connect(&cloud.url(), &token, false).await.unwrap();
    desk.sync(|_| {}).await.unwrap();
    drop(cloud);

    // Over seats in the last completed month: every (license, plan) whose used seats exceed
    // its seats (none: 0), from the test's own computation.
    let month = YearMonth::last_completed(today()).to_string();
    let mut want_over = BTreeSet::new();
    for l in expected
        .licenses
        .iter()
        .filter(|l| expected.in_force(l, &month))
    {
        let plans: BTreeSet<String> = l
            .seats
            .keys()
            .cloned()
            .chain(expected.metric.keys().cloned())
            .collect();
        for p in plans {
            let used = expected.used(l, &p, &month);
            if used > l.seats.get(&p).copied().unwrap_or(0) {
                want_over.insert((l.id.clone(), p));
            }
        }
    }
    assert!(
        !want_over.is_empty(),
        "the dataset has licenses over their seats"
    );
    // Expiring: after now and at the latest 30 days on.
    let now = clock().now();
    let want_expiring: BTreeSet<String> = expected
        .licenses
        .iter()
        .filter(|l| {
            l.expires_at.as_deref().is_some_and(|e| {
                let e = chrono::DateTime::parse_from_rfc3339(e).unwrap();
                e > now && e <= now + Duration::days(30)
            })
        })
        .map(|l| l.id.clone())
        .collect();

    let counts = desk.attention_counts().unwrap();
    let all = desk.attention(None, 0, 500).unwrap();
    assert_eq!(all.total, counts.total);
    assert_eq!(
        all.items.len() as u64,
        all.total,
        "the whole list fits one page here"
    );
    let got_over: BTreeSet<(String, String)> = all
        .items
        .iter()
        .filter(|i| i.kind == AttentionKind::OverSeats)
        .map(|i| (i.license_id.clone(), i.plan.clone().unwrap()))
        .collect();
    assert_eq!(got_over, want_over);
    let got_expiring: BTreeSet<String> = all
        .items
        .iter()
        .filter(|i| i.kind == AttentionKind::Expiring)
        .map(|i| i.license_id.clone())
        .collect();
    assert_eq!(got_expiring, want_expiring);
    assert_eq!(counts.over_seats, want_over.len() as u64);

    // Pages of 2 concatenate to the whole list.
    let mut paged = Vec::new();
    while let Some(p) =
        Some(desk.attention(None, paged.len() as u64, 2).unwrap()).filter(|p| !p.items.is_empty())
    {
        paged.extend(p.items);
    }
    assert_eq!(paged, all.items);

    // Reminders: the first check sees everything, the next nothing.
    assert!(desk.reminders_enabled().unwrap(), "on by default");
    let first = desk.check_reminders().await.unwrap();
    assert_eq!(first.new, counts.total);
    assert!(!first.notices.is_empty());
    let second = desk.check_reminders().await.unwrap();
    assert_eq!((second.new, second.notices.len()), (0, 0), "once only");

    // The switch is kept with the settings, across a restart.
    assert!(!desk.set_reminders(false).unwrap());
    drop(desk);
    let desk = open(&dir);
    assert!(!desk.reminders_enabled().unwrap(), "off after a restart");
    let off = desk.check_reminders().await.unwrap();
    assert_eq!((off.new, off.notices.len()), (0, 0));
    let settings = std::fs::read_to_string(dir.path().join("settings.json")).unwrap();
    assert!(settings.contains("\"reminders_off\": true"), "{settings}");
}
