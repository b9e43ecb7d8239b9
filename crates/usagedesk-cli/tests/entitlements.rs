//! `usagedesk-cli entitlements`, the built binary, after a sync from the real cloud on
//! loopback: the JSON lines against `ExpectedEntitlements` (a computation from the
//! definitions over the CSV files), every scope and month; the table; the refusals.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use serde_json::Value;
use usagedesk_cloud::storage::TokenKind;
use usagedesk_testkit::{entitlements_fixture, month_back, Cloud, ExpectedEntitlements};

async fn cli(data_dir: &Path, token: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_usagedesk-cli"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("USAGEDESK_TOKEN");
    if let Some(t) = token {
        cmd.env("USAGEDESK_TOKEN", t);
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("run usagedesk-cli"))
        .await
        .expect("join")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("utf-8")
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

#[tokio::test(flavor = "multi_thread")]
async fn entitlements_json_matches_the_definitions_for_every_scope_and_month() {
    // The binary reads the real clock: the dataset is dated relative to today.
    let today = chrono::Utc::now().date_naive();
    let data = entitlements_fixture(today);
    let expected = ExpectedEntitlements::from_dir(data.path());
    let cloud = Cloud::start_on(data.path(), Arc::new(usagedesk_domain::SystemClock)).await;
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), Some(&token), &["sync", "--url", &cloud.url()]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    drop(cloud); // offline from here

    let mut rows = 0;
    for account in ["root", "sp", "cust-a", "cust-b"] {
        for scope in ["self", "children", "tree"] {
            for back in [1, 2, 4] {
                let month = month_back(today, back);
                let out = cli(
                    dir.path(),
                    None,
                    &[
                        "entitlements",
                        "--account",
                        account,
                        "--month",
                        &month,
                        "--scope",
                        scope,
                        "--json",
                    ],
                )
                .await;
                assert!(out.status.success(), "{}", text(&out.stderr));
                let got: Vec<Value> = text(&out.stdout)
                    .lines()
                    .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
                    .collect();
                let want = expected.entitlements(account, scope, &month);
                assert_eq!(got.len(), want.len(), "{account} {scope} {month}: {got:#?}");
                for (g, w) in got.iter().zip(&want) {
                    let at = format!("{account} {scope} {month} {} {}", w.license_id, w.plan);
                    assert_eq!(g["license_id"], w.license_id.as_str(), "{at}");
                    assert_eq!(g["account_id"], w.account_id.as_str(), "{at}");
                    assert_eq!(g["plan"], w.plan.as_str(), "{at}");
                    assert_eq!(g["seat_metric"], w.seat_metric.as_str(), "{at}");
                    assert_eq!(g["seats"].as_u64(), w.seats, "{at}");
                    assert_eq!(g["used"].as_u64(), Some(w.used), "{at}");
                    assert_eq!(g["overage"].as_u64(), Some(w.overage), "{at}");
                    match w.utilization {
                        None => assert!(g["utilization"].is_null(), "{at}"),
                        Some(u) => {
                            assert!((num(&g["utilization"]).unwrap() - u).abs() < 1e-9, "{at}")
                        }
                    }
                    match w.forecast_at_expiry {
                        None => assert!(g["forecast_at_expiry"].is_null(), "{at}"),
                        Some(f) => assert!(
                            (num(&g["forecast_at_expiry"]).unwrap() - f).abs() < 1e-9,
                            "{at}: {} vs {f}",
                            g["forecast_at_expiry"]
                        ),
                    }
                    match &w.expires_at {
                        None => assert!(g["expires_at"].is_null(), "{at}"),
                        Some(e) => {
                            assert_eq!(&g["expires_at"].as_str().unwrap()[..19], &e[..19], "{at}")
                        }
                    }
                    rows += 1;
                }
            }
        }
    }
    assert!(rows > 40, "{rows} rows compared");

    // The table names what it shows; a license without seats says so (cust-b used the
    // standard plan two months back, which neither of its licenses has seats for).
    let month = month_back(today, 2);
    let out = cli(
        dir.path(),
        None,
        &["entitlements", "--account", "cust-b", "--month", &month],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table.contains("LIC-B1") && table.contains("LIC-B2"),
        "{table}"
    );
    assert!(table.contains("none"), "LIC-B2 has no seats: {table}");

    // Refusals that say what to do.
    let running = month_back(today, 0);
    let out = cli(
        dir.path(),
        None,
        &["entitlements", "--account", "root", "--month", &running],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not a completed month"),
        "{}",
        text(&out.stderr)
    );
    let out = cli(
        dir.path(),
        None,
        &["entitlements", "--account", "nobody", "--month", &month],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("'nobody'"),
        "{}",
        text(&out.stderr)
    );
    let out = cli(
        dir.path(),
        None,
        &[
            "entitlements",
            "--account",
            "root",
            "--month",
            &month,
            "--scope",
            "all",
        ],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("self, children, tree"),
        "{}",
        text(&out.stderr)
    );
}
