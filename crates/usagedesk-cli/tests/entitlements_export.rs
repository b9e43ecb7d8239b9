//! `usagedesk-cli export --report entitlements`, the built binary, after a sync from the real
//! cloud on loopback: every row of the CSV against `ExpectedEntitlements` (a computation from
//! the definitions over the dataset's CSV files: nested licenses, plan changes, not-available
//! and non-existent months, licenses created and expiring mid-range, a license without seats),
//! for every scope over a month range that starts before the synced data; the manifest; and
//! `export verify` accepting it and refusing one changed byte.

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

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A cell that must be empty for `None` and the number otherwise.
fn opt_f64(cell: &str) -> Option<f64> {
    (!cell.is_empty()).then(|| cell.parse().expect("a decimal number"))
}

fn opt_u64(cell: &str) -> Option<u64> {
    (!cell.is_empty()).then(|| cell.parse().expect("a whole number"))
}

const HEADER: &str = "month,license_id,account_id,plan,seat_metric,seats,used,utilization,\
                      overage,forecast_at_expiry,forecast_over_seats,expires_at";

#[tokio::test(flavor = "multi_thread")]
async fn the_entitlements_csv_holds_the_numbers_of_the_definitions_and_verifies() {
    // The binary reads the real clock: the dataset is dated relative to today.
    let today = chrono::Utc::now().date_naive();
    let data = entitlements_fixture(today);
    let expected = ExpectedEntitlements::from_dir(data.path());
    let cloud = Cloud::start_on(data.path(), Arc::new(usagedesk_domain::SystemClock)).await;
    let root_key = cloud.storage.vendor_root_key().unwrap().public_key();
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("data");
    let out = cli(&cache_dir, Some(&token), &["sync", "--url", &cloud.url()]).await;
    assert!(out.status.success(), "{}", text(&out));
    drop(cloud); // offline from here

    // The dataset reports months L-10..L-1; the range starts two months earlier.
    let (from, to) = (month_back(today, 12), month_back(today, 1));
    let with_data: Vec<String> = (1..=10).rev().map(|b| month_back(today, b)).collect();
    let mut compared = 0;
    for account in ["root", "sp", "cust-a", "cust-b"] {
        for scope in ["self", "children", "tree"] {
            let csv = dir.path().join(format!("{account}-{scope}.csv"));
            let out = cli(
                &cache_dir,
                None,
                &[
                    "export",
                    "--report",
                    "entitlements",
                    "--account",
                    account,
                    "--scope",
                    scope,
                    "--from",
                    &from,
                    "--to",
                    &to,
                    "-o",
                    csv.to_str().unwrap(),
                ],
            )
            .await;
            assert!(out.status.success(), "{}", text(&out));
            assert!(
                text(&out).contains(&format!("no synced data for {from}")),
                "the two months before the data are named: {}",
                text(&out)
            );

            // The rows, by license, plan, then month, as the definitions give them for each
            // month with data.
            let mut want = Vec::new();
            for month in &with_data {
                for e in expected.entitlements(account, scope, month) {
                    want.push((month.clone(), e));
                }
            }
            want.sort_by(|(ma, a), (mb, b)| {
                (&a.license_id, &a.plan, ma).cmp(&(&b.license_id, &b.plan, mb))
            });
            let bytes = std::fs::read(&csv).unwrap();
            let body = String::from_utf8(bytes.clone()).unwrap();
            assert!(
                body.starts_with(&format!("{HEADER}\r\n")),
                "the documented header, CRLF line ends: {body}"
            );
            let mut reader = csv::Reader::from_reader(bytes.as_slice());
            let got: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
            assert_eq!(got.len(), want.len(), "{account} {scope}: {body}");
            for (g, (month, w)) in got.iter().zip(&want) {
                let at = format!("{account} {scope} {month} {} {}", w.license_id, w.plan);
                assert_eq!(&g[0], month, "{at}");
                assert_eq!(&g[1], w.license_id, "{at}");
                assert_eq!(&g[2], w.account_id, "{at}");
                assert_eq!(&g[3], w.plan, "{at}");
                assert_eq!(&g[4], w.seat_metric, "{at}");
                assert_eq!(opt_u64(&g[5]), w.seats, "{at}");
                assert_eq!(g[6].parse::<u64>().unwrap(), w.used, "{at}");
                match (opt_f64(&g[7]), w.utilization) {
                    (None, None) => {}
                    (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{at}: {a} vs {b}"),
                    other => panic!("{at}: utilization {other:?}"),
                }
                assert_eq!(g[8].parse::<u64>().unwrap(), w.overage, "{at}");
                match (opt_f64(&g[9]), w.forecast_at_expiry) {
                    (None, None) => {}
                    (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{at}: {a} vs {b}"),
                    other => panic!("{at}: forecast {other:?}"),
                }
                let over = w
                    .forecast_at_expiry
                    .is_some_and(|f| f > w.seats.unwrap_or(0) as f64);
                assert_eq!(&g[10], if over { "true" } else { "false" }, "{at}");
                match &w.expires_at {
                    None => assert_eq!(&g[11], "", "{at}"),
                    Some(e) => assert_eq!(&g[11][..19], &e[..19], "{at}"),
                }
                compared += 1;
            }

            // The manifest says what the file is; the export verifies.
            let verify = cli(
                &cache_dir,
                None,
                &["export", "verify", csv.to_str().unwrap(), "--json"],
            )
            .await;
            let v: Value = serde_json::from_slice(&verify.stdout)
                .unwrap_or_else(|e| panic!("one JSON object ({e}): {}", text(&verify)));
            assert_eq!(verify.status.code(), Some(0), "{v}");
            assert_eq!(
                v["status"], "verified",
                "signed with the certified key: {v}"
            );
            let m = &v["manifest"];
            assert_eq!(m["format"], "usagedesk-entitlements-export/1");
            assert_eq!(m["scope"], scope);
            assert_eq!(m["rows"], want.len() as u64);
            assert_eq!(m["months"].as_array().unwrap().len(), with_data.len());
            assert_eq!(
                m["months_without_data"],
                serde_json::json!([month_back(today, 12), month_back(today, 11)])
            );
            assert_eq!(m["columns"].as_array().unwrap().len(), 12);
            assert_eq!(v["signer"]["root_key"], root_key.to_string());
        }
    }
    assert!(compared > 150, "{compared} rows compared");

    // One changed byte in the CSV (a digit of a used count): refused, exit 1.
    let csv = dir.path().join("root-tree.csv");
    let mut bytes = std::fs::read(&csv).unwrap();
    let at = HEADER.len()
        + 2
        + bytes[HEADER.len() + 2..]
            .iter()
            .position(u8::is_ascii_digit)
            .unwrap();
    bytes[at] = if bytes[at] == b'9' {
        b'8'
    } else {
        bytes[at] + 1
    };
    std::fs::write(&csv, &bytes).unwrap();
    let verify = cli(
        &cache_dir,
        None,
        &["export", "verify", csv.to_str().unwrap(), "--json"],
    )
    .await;
    let v: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(verify.status.code(), Some(1), "{v}");
    assert_eq!(
        (v["status"].as_str(), v["code"].as_str()),
        (Some("refused"), Some("csv_altered"))
    );

    // A report name the CLI does not know is refused before anything is written.
    let out = cli(
        &cache_dir,
        None,
        &[
            "export",
            "--report",
            "seats",
            "--account",
            "root",
            "--scope",
            "tree",
            "--from",
            &to,
            "--to",
            &to,
            "-o",
            "x.csv",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("neither usage nor entitlements"),
        "{}",
        text(&out)
    );
}
