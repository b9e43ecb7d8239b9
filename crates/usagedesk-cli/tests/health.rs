//! `usagedesk-cli health` and `renewals`, the built binary, after a sync from the real cloud on
//! loopback: every customer once in score order, pages that concatenate to the whole list,
//! a factor sort, the calendar's licenses and their used seats against `ExpectedEntitlements`
//! (a computation of the entitlement definitions over the CSV files), the CSV's header and
//! rows, and the refusals.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use serde_json::Value;
use usagedesk_cloud::storage::TokenKind;
use usagedesk_testkit::{entitlements_fixture, month_back, Cloud, ExpectedEntitlements};

fn cli(data_dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_usagedesk-cli"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("USAGEDESK_TOKEN")
        .output()
        .expect("run usagedesk-cli")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("utf-8")
}

fn lines(out: &Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

fn ids(rows: &[Value], key: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r[key].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_renewals_from_the_built_binary() {
    // The binary reads the real clock: the dataset is dated relative to today.
    let today = chrono::Utc::now().date_naive();
    let data = entitlements_fixture(today);
    let expected = ExpectedEntitlements::from_dir(data.path());
    let cloud = Cloud::start_on(data.path(), Arc::new(usagedesk_domain::SystemClock)).await;
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let url = cloud.url();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_usagedesk-cli"))
            .arg("--data-dir")
            .arg(&d)
            .args(["sync", "--url", &url])
            .env("USAGEDESK_TOKEN", token)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("not recomputed")
            && text(&out.stderr).contains("account health computed as of"),
        "the CLI computes health once its sync has landed: {}",
        text(&out.stderr)
    );
    drop(cloud); // offline from here
    let dir = dir.path();

    // Every customer (an account holding a license) once, lowest score first.
    let customers: BTreeSet<String> = expected
        .licenses
        .iter()
        .map(|l| l.account.clone())
        .collect();
    let all = lines(&cli(dir, &["health", "--json"]));
    assert_eq!(
        ids(&all, "account_id").into_iter().collect::<BTreeSet<_>>(),
        customers
    );
    assert_eq!(all.len(), customers.len(), "each once");
    let scores: Vec<u64> = all.iter().map(|h| h["score"].as_u64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] <= w[1]), "{scores:?}");
    for h in &all {
        let factors = h["factors"].as_array().unwrap();
        let keys: Vec<&str> = factors
            .iter()
            .map(|f| f["factor"].as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "usage_trend",
                "utilization",
                "instance_status",
                "version_lag",
                "license_expiry",
                "reporting_freshness"
            ]
        );
        let weights: Vec<u64> = factors
            .iter()
            .map(|f| f["weight"].as_u64().unwrap())
            .collect();
        assert_eq!(weights, [20, 20, 20, 15, 15, 10], "docs/health.md");
        // The weighted mean over the factors with data (written here from the definition).
        let (mut sum, mut w) = (0.0, 0.0);
        for f in factors {
            if let Some(s) = f["score"].as_f64() {
                sum += f["weight"].as_f64().unwrap() * s;
                w += f["weight"].as_f64().unwrap();
            }
        }
        assert_eq!(
            h["score"].as_u64().unwrap(),
            (sum / w).round() as u64,
            "{h}"
        );
    }

    // Pages of two concatenate to the whole list; past the end: nothing.
    let mut paged = Vec::new();
    for offset in (0..all.len() + 2).step_by(2) {
        let page = lines(&cli(
            dir,
            &[
                "health",
                "--json",
                "--limit",
                "2",
                "--offset",
                &offset.to_string(),
            ],
        ));
        assert!(page.len() <= 2);
        paged.extend(ids(&page, "account_id"));
    }
    assert_eq!(paged, ids(&all, "account_id"));

    // By utilization, highest first, customers without seats in force last.
    let by_util = lines(&cli(
        dir,
        &["health", "--json", "--sort", "utilization", "--desc"],
    ));
    let util: Vec<Option<f64>> = by_util
        .iter()
        .map(|h| h["factors"][1]["score"].as_f64())
        .collect();
    let known = util.iter().take_while(|u| u.is_some()).count();
    assert!(util[known..].iter().all(Option::is_none), "{util:?}");
    assert!(util[..known].windows(2).all(|w| w[0] >= w[1]), "{util:?}");

    // The text table: a header, one line per customer, the count.
    let table = cli(dir, &["health"]);
    assert!(table.status.success());
    let t = text(&table.stdout);
    assert!(t.starts_with("score"), "{t}");
    assert!(
        t.contains(&format!(
            "{} of {} customers",
            customers.len(),
            customers.len()
        )),
        "{t}"
    );

    // The calendar: the licenses ending from now to the end of the 12th month, soonest first.
    let until = {
        let m = month_back(today, -12);
        format!("{m}-01")
    };
    let now = chrono::Utc::now();
    let want: Vec<&str> = {
        let mut v: Vec<_> = expected
            .licenses
            .iter()
            .filter(|l| {
                l.expires_at.as_deref().is_some_and(|e| {
                    e >= now.format("%Y-%m-%dT%H:%M:%S").to_string().as_str() && e < until.as_str()
                })
            })
            .collect();
        v.sort_by(|a, b| (&a.expires_at, &a.id).cmp(&(&b.expires_at, &b.id)));
        v.into_iter().map(|l| l.id.as_str()).collect()
    };
    assert!(
        !want.is_empty(),
        "the fixture has licenses ending within a year"
    );
    let cal = lines(&cli(dir, &["renewals", "--json"]));
    assert_eq!(ids(&cal, "license_id"), want);
    let month = month_back(today, 1);
    let health: BTreeMap<String, u64> = all
        .iter()
        .map(|h| {
            (
                h["account_id"].as_str().unwrap().to_owned(),
                h["score"].as_u64().unwrap(),
            )
        })
        .collect();
    for r in &cal {
        let l = expected
            .licenses
            .iter()
            .find(|l| l.id == r["license_id"].as_str().unwrap())
            .unwrap();
        // Seats and used seats of the last completed month, summed over its plans (every
        // plan with seats, and plans used without seats), from the definitions.
        let (mut seats, mut used) = (0, 0);
        if expected.in_force(l, &month) {
            for e in expected
                .entitlements(&l.account, "self", &month)
                .into_iter()
                .filter(|e| e.license_id == l.id)
            {
                seats += e.seats.unwrap_or(0);
                used += e.used;
            }
        }
        assert_eq!(r["seats"].as_u64(), Some(seats), "{r}");
        assert_eq!(r["used"].as_u64(), Some(used), "{r}");
        assert_eq!(r["health"].as_u64(), health.get(&l.account).copied(), "{r}");
        assert_eq!(
            r["month"].as_str(),
            Some(&r["expires_at"].as_str().unwrap()[..7])
        );
    }

    // The CSV: the documented header, the same licenses in the same order.
    let csv_path = dir.join("renewals.csv");
    let out = cli(dir, &["renewals", "--csv", csv_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "month",
            "expires_at",
            "license_id",
            "license_type",
            "account_id",
            "account_name",
            "seats",
            "used",
            "utilization",
            "utilization_month",
            "forecast_at_expiry",
            "forecast_over_seats",
            "health_score",
            "plans"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(
        rows.iter().map(|r| r[2].to_owned()).collect::<Vec<_>>(),
        want
    );
    for (row, json) in rows.iter().zip(&cal) {
        assert_eq!(row[7], json["used"].to_string());
        assert_eq!(row[9], month, "utilization of the last completed month");
    }

    // Refusals: an unknown sort, a calendar of 0 months; nothing written for a bad path.
    let bad = cli(dir, &["health", "--sort", "mood"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("usage_trend"),
        "names the choices"
    );
    let bad = cli(dir, &["renewals", "--months", "0"]);
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("1 to 120"));
    let missing = dir.join("no-such-folder").join("r.csv");
    let bad = cli(dir, &["renewals", "--csv", missing.to_str().unwrap()]);
    assert!(!bad.status.success());
    assert!(!missing.exists());
}
