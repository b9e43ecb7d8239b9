//! End to end: the Attention view in the real app window (tauri-driver + WebKitWebDriver
//! under Xvfb) against the real cloud on loopback: the sidebar badge, the items on screen
//! (the over-seats ones against `ExpectedEntitlements`, the definitions computed over the
//! dataset's CSV rows), and the Reminders switch in Settings kept in `settings.json`.
//! Notifications themselves need a notification service, which Xvfb has not: their decision
//! is tested in `crates/usagedesk-attention/tests/attention.rs`.

#[allow(dead_code)]
mod bins;
#[allow(dead_code)]
mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use support::{Session, TauriDriver};
use usagedesk_cloud::storage::TokenKind;
use usagedesk_testkit::{Cloud, ExpectedEntitlements};

async fn rows(s: &Session) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for r in s.find_all("[data-testid=attention-row]").await {
        out.push((
            s.attr(&r, "data-kind").await.unwrap_or_default(),
            s.attr(&r, "data-license-id").await.unwrap_or_default(),
            s.attr(&r, "data-plan").await.unwrap_or_default(),
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_attention_view_lists_the_items_of_the_definitions() {
    // The app reads the real clock: the dataset is built around today's month.
    let today = chrono::Utc::now().date_naive();
    let data = usagedesk_testkit::entitlements_fixture(today);
    let exp = ExpectedEntitlements::from_dir(data.path());
    let cloud = Cloud::start_on(data.path(), Arc::new(usagedesk_domain::SystemClock)).await;
    let token = cloud.token(None, TokenKind::Manager);
    let driver = TauriDriver::start();
    let dir = tempfile::tempdir().expect("data dir");
    let s = Session::launch(
        &driver,
        bins::app(),
        &["--data-dir".into(), dir.path().display().to_string()],
    )
    .await;
    let u = s.wait("[data-testid=connect-url]").await;
    s.type_text(&u, &cloud.url()).await;
    let t = s.wait("[data-testid=connect-token]").await;
    s.type_text(&t, &token).await;
    let submit = s.wait("[data-testid=connect-submit]").await;
    s.click(&submit).await;
    s.wait("[data-testid=tree-row][data-account-id=root]").await;

    // Over seats in the last completed month, from the definitions.
    let month = usagedesk_domain::YearMonth::last_completed(today).to_string();
    let mut want_over = BTreeSet::new();
    for l in exp.licenses.iter().filter(|l| exp.in_force(l, &month)) {
        let plans: BTreeSet<String> = l
            .seats
            .keys()
            .cloned()
            .chain(exp.metric.keys().cloned())
            .collect();
        for p in plans {
            if exp.used(l, &p, &month) > l.seats.get(&p).copied().unwrap_or(0) {
                want_over.insert(("over_seats".to_string(), l.id.clone(), p));
            }
        }
    }
    assert!(
        !want_over.is_empty(),
        "the dataset has licenses over their seats"
    );

    // The badge counts the list, after the first sync landed.
    let badge = s
        .wait_text("[data-testid=nav-attention-count]", |t| {
            !t.trim().is_empty()
        })
        .await;
    let nav = s.wait("[data-testid=nav-attention]").await;
    s.click(&nav).await;
    s.wait("[data-testid=attention-row]").await;
    let digits: String = badge
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let total: usize = digits
        .parse()
        .unwrap_or_else(|_| panic!("a number: {badge:?}"));
    s.wait_text("[data-testid=attention-count]", |t| {
        t.starts_with(&format!("{total} item"))
    })
    .await;
    assert!(total >= want_over.len());
    s.screenshot(&std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("attention.png"))
        .await;

    // The over-seats items: exactly the definitions' (license, plan) pairs.
    let chip = s.wait("[data-testid=attention-kind-over_seats]").await;
    s.click(&chip).await;
    let mut shown = BTreeSet::new();
    for _ in 0..50 {
        let r = rows(&s).await;
        if r.iter().all(|(k, ..)| k == "over_seats") && r.len() == want_over.len() {
            shown = r.into_iter().collect();
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(shown, want_over, "over-seats items on screen");
    let first = s
        .wait("[data-testid=attention-row] [data-testid=attention-title]")
        .await;
    let title = s.text(&first).await;
    assert!(title.contains("seats used"), "{title}");

    // Reminders are on by default; switching them off is kept with the settings.
    let settings = s.wait("[data-testid=nav-settings]").await;
    s.click(&settings).await;
    let toggle = s.wait("[data-testid=reminders-toggle]").await;
    for _ in 0..50 {
        if s.script(
            "return arguments[0].checked && !arguments[0].disabled",
            vec![serde_json::json!({"element-6066-11e4-a52e-4f735466cecf": toggle})],
        )
        .await
            == serde_json::json!(true)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.click(&toggle).await;
    let file = dir.path().join("settings.json");
    let mut kept = String::new();
    for _ in 0..50 {
        kept = std::fs::read_to_string(&file).unwrap_or_default();
        if kept.contains("\"reminders_off\": true") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(kept.contains("\"reminders_off\": true"), "{kept}");
    s.quit().await;
}
