//! `usagedesk-cli attention`, the built binary, after a sync from the real cloud on loopback:
//! the over-seats lines against `ExpectedEntitlements` (the definitions computed over the CSV
//! files), paging with --offset/--limit, --kind, the text output and a bad kind refused.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use serde_json::Value;
use usagedesk_cloud::storage::TokenKind;
use usagedesk_testkit::{entitlements_fixture, Cloud, ExpectedEntitlements};

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

fn lines(out: &Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn attention_lists_the_items_of_the_definitions_and_pages_them() {
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

    let all = lines(&cli(dir.path(), None, &["attention", "--json"]).await);
    // Kinds come in order: overdue, expiring, over seats.
    let order: Vec<&str> = all.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    let mut sorted = order.clone();
    sorted.sort_by_key(|k| {
        ["overdue", "expiring", "over_seats"]
            .iter()
            .position(|x| x == k)
    });
    assert_eq!(order, sorted, "kinds in the list's order");

    let month = usagedesk_domain::YearMonth::last_completed(today).to_string();
    let mut want = BTreeSet::new();
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
            let seats = l.seats.get(&p).copied().unwrap_or(0);
            if used > seats {
                want.insert((l.id.clone(), p, used, used - seats));
            }
        }
    }
    let over = lines(
        &cli(
            dir.path(),
            None,
            &["attention", "--json", "--kind", "over-seats"],
        )
        .await,
    );
    let got: BTreeSet<(String, String, u64, u64)> = over
        .iter()
        .map(|v| {
            assert_eq!(v["kind"], "over_seats");
            assert_eq!(v["occurrence"], month.as_str(), "the last completed month");
            (
                v["license_id"].as_str().unwrap().to_owned(),
                v["plan"].as_str().unwrap().to_owned(),
                v["used"].as_u64().unwrap(),
                v["overage"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);

    // Pages of 3 concatenate to the whole list.
    let mut paged = Vec::new();
    loop {
        let offset = paged.len().to_string();
        let page = lines(
            &cli(
                dir.path(),
                None,
                &["attention", "--json", "--offset", &offset, "--limit", "3"],
            )
            .await,
        );
        assert!(page.len() <= 3);
        if page.is_empty() {
            break;
        }
        paged.extend(page);
    }
    assert_eq!(paged, all);

    let out = cli(dir.path(), None, &["attention"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(t.contains("next: "), "each item says what to do: {t}");
    assert!(
        t.trim_end().lines().last().unwrap().starts_with(&format!(
            "{} of {} item(s) shown",
            all.len(),
            all.len()
        )),
        "{t}"
    );

    let out = cli(dir.path(), None, &["attention", "--kind", "late"]).await;
    assert_eq!(out.status.code(), Some(2), "a bad argument");
    assert!(
        text(&out.stderr).contains("none of overdue, expiring, over-seats"),
        "{}",
        text(&out.stderr)
    );
}
