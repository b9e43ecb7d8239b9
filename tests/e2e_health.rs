//! End to end: the Health view in the real app window (tauri-driver + WebKitWebDriver under
//! Xvfb) against the real cloud on loopback. One customer's score and factors on screen are
//! compared with a computation of docs/health.md's definitions written here from the dataset's
//! CSV rows (and the entitlement definitions' `ExpectedEntitlements`).

#[allow(dead_code)]
mod bins;
#[allow(dead_code)]
mod support;

use std::path::Path;
use std::sync::Arc;

use support::{Session, TauriDriver};
use usagedesk_cloud::storage::TokenKind;
use usagedesk_testkit::{entitlements_fixture, month_back, Cloud, ExpectedEntitlements};

fn shots() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
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

/// The factor scores of `customer` (usage trend, utilization, license expiry; the dataset has
/// no instances, so status, version and freshness have no data) and the total.
fn expected(
    exp: &ExpectedEntitlements,
    customer: &str,
    today: chrono::NaiveDate,
) -> ([Option<f64>; 3], u64) {
    // Trend: mean month-end active users over the subtree, months −6..−4 against −3..−1.
    let activity = |m: &str| -> Option<u64> {
        let rows: Vec<u64> = exp
            .usage
            .accounts
            .keys()
            .filter(|a| exp.usage.is_descendant_or_self(a, customer))
            .filter_map(|a| exp.usage.month_end.get(&(a.clone(), m.to_string())))
            .map(|(_, c)| c[2])
            .collect();
        (!rows.is_empty()).then(|| rows.iter().sum())
    };
    let mean = |backs: [i32; 3]| {
        let v: Vec<u64> = backs
            .iter()
            .filter_map(|b| activity(&month_back(today, *b)))
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<u64>() as f64 / v.len() as f64)
    };
    let trend = match (mean([6, 5, 4]), mean([3, 2, 1])) {
        (Some(e), Some(r)) => {
            let c = if e > 0.0 {
                (r - e) / e
            } else if r > 0.0 {
                1.0
            } else {
                0.0
            };
            Some(lerp(c, &[(-0.5, 0.0), (0.0, 70.0), (0.2, 100.0)]))
        }
        _ => None,
    };
    // Utilization: its own licenses' (license, plan) pairs in the last completed month.
    let last = month_back(today, 1);
    let (mut used, mut seats) = (0u64, 0u64);
    for e in exp.entitlements(customer, "self", &last) {
        used += e.used;
        seats += e.seats.unwrap_or(0);
    }
    let util = (seats > 0).then(|| {
        lerp(
            used as f64 / seats as f64,
            &[(0.0, 0.0), (0.5, 100.0), (1.0, 100.0), (1.5, 60.0)],
        )
    });
    // Expiry: days to the soonest end not passed.
    let now = chrono::Utc::now();
    let ends: Vec<chrono::DateTime<chrono::Utc>> = exp
        .licenses
        .iter()
        .filter(|l| l.account == customer)
        .filter_map(|l| l.expires_at.as_deref())
        .map(|e| {
            chrono::DateTime::parse_from_rfc3339(e)
                .unwrap()
                .with_timezone(&chrono::Utc)
        })
        .collect();
    let expiry = ends.iter().filter(|e| **e >= now).min().map(|e| {
        let days = (e.date_naive() - today).num_days();
        lerp(days as f64, &[(0.0, 0.0), (180.0, 100.0)])
    });
    let weighted = [(trend, 20.0), (util, 20.0), (expiry, 15.0)];
    let w: f64 = weighted
        .iter()
        .filter(|(s, _)| s.is_some())
        .map(|(_, w)| w)
        .sum();
    let s: f64 = weighted.iter().filter_map(|(s, w)| s.map(|s| s * w)).sum();
    ([trend, util, expiry], (s / w).round() as u64)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_health_view_shows_a_score_and_its_factors() {
    // The app reads the real clock: the dataset is built around today's month.
    let today = chrono::Utc::now().date_naive();
    let data = entitlements_fixture(today);
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

    let nav = s.wait("[data-testid=nav-health]").await;
    s.click(&nav).await;
    // cust-b: a license with seats, one without that ended last month, one ending in 100 days.
    // The list reloads once the first sync has landed: click until the choice holds.
    let mut chosen = false;
    for _ in 0..20 {
        let name = s
            .wait("[data-testid=health-row][data-account-id=cust-b] button")
            .await;
        s.click(&name).await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let shown = s.wait("[data-testid=health-detail-name]").await;
        if s.text(&shown).await == usagedesk_testkit::CUSTOMER_B {
            chosen = true;
            break;
        }
    }
    if !chosen {
        s.screenshot(&shots().join("20-health-failed.png")).await;
    }
    assert!(chosen, "choosing cust-b shows its factors");
    let (factors, total) = expected(&exp, "cust-b", today);
    s.wait_text("[data-testid=health-detail-score]", |t| {
        t == total.to_string()
    })
    .await;

    let rows = s.find_all("[data-testid=health-factor]").await;
    assert_eq!(rows.len(), 6, "six factors");
    let mut shown = Vec::new();
    for r in &rows {
        let factor = s.attr(r, "data-factor").await.unwrap_or_default();
        let cell = |what: &'static str| {
            format!("[data-testid=health-factor][data-factor={factor}] [data-testid=health-factor-{what}]")
        };
        let weight = s.text(&s.wait(&cell("weight")).await).await;
        let score = s.text(&s.wait(&cell("score")).await).await;
        let adds = s.text(&s.wait(&cell("contribution")).await).await;
        shown.push((factor, weight, score, adds));
    }
    let text =
        |x: Option<f64>| x.map_or_else(|| "n/a".to_string(), |v| format!("{}", v.round() as i64));
    let w_with_data: f64 = [20.0, 20.0, 15.0]
        .iter()
        .zip(&factors)
        .filter(|(_, s)| s.is_some())
        .map(|(w, _)| w)
        .sum();
    let want = [
        ("usage_trend", "20", factors[0], 20.0),
        ("utilization", "20", factors[1], 20.0),
        ("instance_status", "20", None, 20.0),
        ("version_lag", "15", None, 15.0),
        ("license_expiry", "15", factors[2], 15.0),
        ("reporting_freshness", "10", None, 10.0),
    ];
    for ((factor, weight, score, adds), (wf, ww, ws, wweight)) in shown.iter().zip(want) {
        assert_eq!(factor, wf);
        assert_eq!(weight, ww, "{factor}: weight");
        assert_eq!(score, &text(ws), "{factor}: score");
        let want_adds = ws.map_or_else(
            || "left out".to_string(),
            |s| format!("+{:.1}", wweight * s / w_with_data),
        );
        assert_eq!(adds, &want_adds, "{factor}: contribution");
    }
    assert!(
        factors[1].is_some() && factors[2].is_some(),
        "utilization and expiry have data"
    );
    s.screenshot(&shots().join("20-health.png")).await;

    // The Renewals view lists cust-b's license ending in 100 days with its customer's score.
    let nav = s.wait("[data-testid=nav-renewals]").await;
    s.click(&nav).await;
    let row = s
        .wait("[data-testid=renewal-row][data-license-id=LIC-B1]")
        .await;
    let health = s
        .wait_text(
            "[data-testid=renewal-row][data-license-id=LIC-B1] [data-testid=renewal-health]",
            |t| !t.is_empty(),
        )
        .await;
    assert_eq!(health, total.to_string());
    assert!(!row.is_empty());
    s.screenshot(&shots().join("21-renewals.png")).await;
    s.quit().await;
}
