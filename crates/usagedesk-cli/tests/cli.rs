//! The built `usagedesk-cli` binary against the real cloud service on loopback.

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use usagedesk_cloud::storage::TokenKind;
use usagedesk_testkit::{small_fixture, Cloud, Expected};

/// Runs the CLI (off the async runtime, which serves the cloud meanwhile).
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

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8 stderr")
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_then_usage_json_prints_the_contract_lines() {
    let cloud = Cloud::start(&small_fixture()).await;
    let exp = Expected::small();
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();

    let out = cli(dir.path(), Some(&token), &["sync", "--url", &cloud.url()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("downloading:"),
        "plain progress lines when stdout is not a terminal: {text}"
    );
    assert!(text.contains("synced"), "{text}");

    // The usage command refuses a month that is not complete; July 2024 is long complete in
    // real time, so check with the current month instead.
    let now = chrono::Utc::now().format("%Y-%m").to_string();
    let out = cli(
        dir.path(),
        None,
        &["usage", "--account", "sp-acme", "--month", &now],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a completed month"),
        "{}",
        stderr(&out)
    );

    for (account, scope) in [
        ("sp-acme", "tree"),
        ("acme-de", "children"),
        ("acme-de-muc", "self"),
    ] {
        for month in ["2024-02", "2024-03", "2024-06"] {
            let out = cli(
                dir.path(),
                None,
                &[
                    "usage",
                    "--account",
                    account,
                    "--month",
                    month,
                    "--scope",
                    scope,
                    "--json",
                ],
            )
            .await;
            assert!(out.status.success(), "{}", stderr(&out));
            let raw = stdout(&out);
            let lines: Vec<Value> = raw
                .lines()
                .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
                .collect();
            for l in raw.lines() {
                let totals = &l[l.find("\"totals\"").expect("totals")..];
                let at = |p: &str| totals.find(&format!("\"{p}\"")).expect("plan present");
                assert!(
                    at("basic") < at("standard") && at("standard") < at("premium"),
                    "catalog order: {l}"
                );
            }
            let in_scope = exp.in_scope(account, scope).len();
            assert_eq!(lines.len(), in_scope, "{account} {scope} {month}");
            for l in &lines {
                let keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
                let mut sorted = keys.clone();
                sorted.sort();
                assert_eq!(
                    sorted,
                    [
                        "account_id",
                        "account_name",
                        "availability",
                        "month",
                        "own",
                        "parent_id",
                        "plan",
                        "status",
                        "totals"
                    ],
                    "exactly the contract's fields"
                );
                let id = l["account_id"].as_str().unwrap();
                assert_eq!(l["account_name"], exp.accounts[id].name.as_str());
                assert_eq!(
                    l["parent_id"].as_str(),
                    exp.accounts[id].parent_id.as_deref()
                );
                assert_eq!(l["status"], exp.accounts[id].status.as_str());
                assert_eq!(l["month"], month);
                assert_eq!(
                    l["availability"],
                    exp.availability(id, month),
                    "{id} {month}"
                );
                match exp.month_end.get(&(id.to_string(), month.to_string())) {
                    Some((plan, c)) => {
                        assert_eq!(l["plan"], plan.as_str());
                        assert_eq!(l["own"]["users_registered"], c[0]);
                        assert_eq!(l["own"]["users_with_token"], c[1]);
                        assert_eq!(l["own"]["users_with_activity"], c[2]);
                    }
                    None => assert!(l["own"].is_null() && l["plan"].is_null(), "{l}"),
                }
                let totals = l["totals"].as_object().unwrap();
                assert_eq!(totals.len(), 3, "every plan of the catalog");
                for (plan, t) in exp.totals(id, month) {
                    assert_eq!(
                        totals[&plan]["users_registered"], t[0],
                        "{id} {month} {plan}"
                    );
                    assert_eq!(totals[&plan]["users_with_token"], t[1]);
                    assert_eq!(totals[&plan]["users_with_activity"], t[2]);
                }
            }
        }
    }

    // Offline: the cloud is gone, the cache still answers.
    cloud.server.stop().await.unwrap();
    let out = cli(
        dir.path(),
        None,
        &[
            "usage",
            "--account",
            "acme-eu",
            "--month",
            "2024-04",
            "--scope",
            "children",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.contains("Acme France [acme-fr]") && table.contains("premium"),
        "{table}"
    );
    assert!(
        table.contains("Acme \"Deutschland\" GmbH"),
        "names with quotes print as they are: {table}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tree_and_search_browse_the_cache() {
    let cloud = Cloud::start(&small_fixture()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    assert!(
        cli(dir.path(), Some(&token), &["sync", "--url", &cloud.url()])
            .await
            .status
            .success()
    );

    let out = cli(dir.path(), None, &["accounts", "tree", "--depth", "3"]).await;
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let pos = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} in {text}"))
    };
    assert!(
        pos("[sp-acme]") < pos("[acme-eu]") && pos("[acme-eu]") < pos("[acme-de]"),
        "depth-first: {text}"
    );
    assert!(
        lines[pos("[acme-de-muc]")].starts_with("      "),
        "three levels down is indented three times: {text}"
    );
    assert!(lines[pos("[acme-de-ber]")].contains("(disabled)"));
    assert!(
        lines[pos("[acme-de-muc]")].contains("München Office"),
        "newlines in names are flattened"
    );

    let out = cli(dir.path(), None, &["accounts", "search", "acme-d"]).await;
    let text = stdout(&out);
    let ids: Vec<&str> = text
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["acme-de", "acme-de-ber", "acme-de-muc"],
        "id prefix matches: {text}"
    );
    assert!(
        text.contains("Acme Service Provider › Acme, Europe"),
        "with the path: {text}"
    );

    let out = cli(dir.path(), None, &["accounts", "search", "tokyo"]).await;
    assert!(stdout(&out).contains("no account matches"));
    let out = cli(dir.path(), None, &["accounts", "search", "東京"]).await;
    assert!(stdout(&out).contains("globex-2a"), "{}", stdout(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn mistakes_get_messages_that_say_what_to_do() {
    let cloud = Cloud::start(&small_fixture()).await;
    let dir = tempfile::tempdir().unwrap();

    let out = cli(dir.path(), None, &["sync"]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("login --url"), "{}", stderr(&out));

    let out = cli(
        dir.path(),
        Some("udk_wrong"),
        &["sync", "--url", &cloud.url()],
    )
    .await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("Sign in again"), "{}", stderr(&out));

    let out = cli(
        dir.path(),
        Some("t"),
        &["sync", "--url", "ftp://example.com"],
    )
    .await;
    assert!(
        stderr(&out).contains("must start with https://"),
        "{}",
        stderr(&out)
    );

    let out = cli(
        dir.path(),
        None,
        &["usage", "--account", "x", "--month", "2024-13"],
    )
    .await;
    assert!(stderr(&out).contains("YYYY-MM"), "{}", stderr(&out));

    let out = cli(
        dir.path(),
        None,
        &[
            "usage",
            "--account",
            "x",
            "--month",
            "2024-01",
            "--scope",
            "all",
        ],
    )
    .await;
    assert!(
        stderr(&out).contains("self, children or tree"),
        "{}",
        stderr(&out)
    );

    let out = cli(
        dir.path(),
        None,
        &["usage", "--account", "nobody", "--month", "2024-01"],
    )
    .await;
    assert!(stderr(&out).contains("accounts search"), "{}", stderr(&out));

    let out = cli(dir.path(), None, &["accounts", "tree"]).await;
    assert!(
        stderr(&out).contains("run `usagedesk-cli sync` first"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn export_writes_the_csv_and_its_manifest_offline() {
    let cloud = Cloud::start(&small_fixture()).await;
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), Some(&token), &["sync", "--url", &cloud.url()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    // Offline from here on: the export reads only the cache.
    drop(cloud);

    let file = dir.path().join("acme.csv");
    let file_arg = file.to_str().unwrap();
    let args = [
        "--account",
        "sp-acme",
        "--scope",
        "tree",
        "--from",
        "2024-01",
        "--to",
        "2024-06",
    ];
    let out = cli(
        dir.path(),
        None,
        &[&["export"], &args[..], &["-o", file_arg]].concat(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("wrote 42 rows (7 accounts × 6 months)"),
        "{}",
        stderr(&out)
    );
    let bytes = std::fs::read(&file).unwrap();

    // `-o -`: the same bytes on stdout, and no manifest.
    let piped = cli(
        dir.path(),
        None,
        &[&["export"], &args[..], &["-o", "-"]].concat(),
    )
    .await;
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert_eq!(piped.stdout, bytes, "stdout and file hold the same CSV");

    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("acme.csv.manifest.json")).unwrap())
            .unwrap();
    use sha2::Digest;
    assert_eq!(
        manifest["sha256"],
        hex::encode(sha2::Sha256::digest(&bytes))
    );
    assert_eq!(manifest["rows"], 42);
    assert_eq!(manifest["scope"], "tree");
    assert_eq!(manifest["account_id"], "sp-acme");
    assert_eq!(
        manifest["generator"],
        format!("usagedesk-cli {}", env!("CARGO_PKG_VERSION"))
    );
    let lines = String::from_utf8(bytes).unwrap();
    assert!(
        lines.starts_with("month,account_id,account_name,parent_id,"),
        "{lines}"
    );

    // Refusals say what to do, and write nothing.
    let now = chrono::Utc::now().format("%Y-%m").to_string();
    let refused = [
        (
            vec![
                "--account",
                "sp-acme",
                "--scope",
                "tree",
                "--from",
                "2024-01",
                "--to",
                &now,
            ],
            "not a completed month",
        ),
        (
            vec![
                "--account",
                "sp-acme",
                "--scope",
                "tree",
                "--from",
                "2024-05",
                "--to",
                "2024-01",
            ],
            "swap the two months",
        ),
        (
            vec![
                "--account",
                "nobody",
                "--scope",
                "tree",
                "--from",
                "2024-01",
                "--to",
                "2024-02",
            ],
            "not in the local cache",
        ),
        (
            vec![
                "--account",
                "sp-acme",
                "--scope",
                "all",
                "--from",
                "2024-01",
                "--to",
                "2024-02",
            ],
            "self",
        ),
        (
            vec![
                "--account",
                "sp-acme",
                "--scope",
                "tree",
                "--from",
                "2024-1",
                "--to",
                "2024-02",
            ],
            "YYYY-MM",
        ),
    ];
    let bad = dir.path().join("bad.csv");
    for (args, says) in refused {
        let out = cli(
            dir.path(),
            None,
            &[&["export"], &args[..], &["-o", bad.to_str().unwrap()]].concat(),
        )
        .await;
        assert!(!out.status.success(), "{args:?} should be refused");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(!bad.exists(), "a refused export writes nothing");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn customers_customer_and_instance_report_from_the_cache() {
    use std::sync::Arc;
    let data = usagedesk_testkit::customers_fixture(chrono::Utc::now());
    let cloud = Cloud::start_on(data.path(), Arc::new(usagedesk_domain::SystemClock)).await;
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), Some(&token), &["sync", "--url", &cloud.url()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    drop(cloud); // offline from here

    let out = cli(dir.path(), None, &["customers", "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let ids: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["account_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, ["acme-de", "acme-fr", "globex-2"]);
    // Pages of the stream: --offset and --limit over the same order.
    let ids_of = |out: &std::process::Output| -> Vec<String> {
        stdout(out)
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["account_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let out = cli(dir.path(), None, &["customers", "--json", "--limit", "2"]).await;
    assert_eq!(ids_of(&out), ["acme-de", "acme-fr"]);
    let out = cli(
        dir.path(),
        None,
        &["customers", "--json", "--offset", "1", "--limit", "1"],
    )
    .await;
    assert_eq!(ids_of(&out), ["acme-fr"]);
    let out = cli(dir.path(), None, &["customers", "--json", "--offset", "3"]).await;
    assert!(
        out.status.success() && ids_of(&out).is_empty(),
        "past the end: nothing"
    );
    // Most instances not Ready first: acme-de (1 of 1), globex-2 (1), then acme-fr (0).
    let out = cli(
        dir.path(),
        None,
        &["customers", "--json", "--sort", "attention"],
    )
    .await;
    let attention = ids_of(&out);
    assert_eq!(
        attention.last().map(String::as_str),
        Some("acme-fr"),
        "{attention:?}"
    );
    let out = cli(dir.path(), None, &["customers", "--sort", "size"]).await;
    assert!(!out.status.success() && stderr(&out).contains("name, expiry or attention"));
    let text = stdout(&cli(dir.path(), None, &["customers", "--limit", "1"]).await);
    assert!(text.contains("customers 1–1 of 3"), "{text}");
    let out = cli(dir.path(), None, &["customers", "--license-type", "trial"]).await;
    assert!(
        stdout(&out).contains("acme-de") && !stdout(&out).contains("acme-fr"),
        "{}",
        stdout(&out)
    );
    let out = cli(dir.path(), None, &["customers", "--license-type", "gold"]).await;
    assert!(!out.status.success() && stderr(&out).contains("prod, trial, dev or community"));

    let out = cli(dir.path(), None, &["customer", "acme-fr", "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let page: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(page["time_to_install"]["instance_id"], "inst-fr");
    assert_eq!(
        page["time_to_install"]["license_secs"],
        50 * 3600,
        "2 d 2 h"
    );
    assert_eq!(page["time_to_install"]["instance_secs"], 2 * 3600);
    let text = stdout(&cli(dir.path(), None, &["customer", "acme-fr"]).await);
    assert!(
        text.contains("95.0 %")
            && text.contains("time to install (inst-fr): license 2 d 2 h, instance 2 h 0 min"),
        "{text}"
    );

    let out = cli(dir.path(), None, &["instance", "inst-fr", "--events"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("unavailable") && text.contains("app_version"),
        "the event history: {text}"
    );
    let out = cli(
        dir.path(),
        None,
        &["instance", "inst-fr", "--events", "--limit", "2", "--json"],
    )
    .await;
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["event_count"], 5);
    assert_eq!(
        (
            v["events"]["total"].as_u64(),
            v["events"]["items"].as_array().map(Vec::len)
        ),
        (Some(5), Some(2))
    );
    let out = cli(dir.path(), None, &["instance", "nope"]).await;
    assert!(
        !out.status.success() && stderr(&out).contains("not in the local cache"),
        "{}",
        stderr(&out)
    );
}
