//! Exports from a cache synced from the real cloud service on loopback, compared with rows
//! computed independently from the loaded CSV files (`usagedesk_testkit::Expected`).

use std::path::Path;
use std::sync::atomic::AtomicBool;

use chrono::{TimeZone, Utc};
use sha2::{Digest, Sha256};
use usagedesk_cache::Cache;
use usagedesk_cloud::storage::TokenKind;
use usagedesk_domain::{Scope, YearMonth};
use usagedesk_export::{
    export_file, manifest_path, plan, signed_manifest_path, verify_export, write_csv, Control,
    ExportErrorKind, ExportReport, ExportRequest, ExportSignature, Manifest, Signing,
    VerifiedStatus,
};
use usagedesk_sync::{sync, Client, SyncOptions};
use usagedesk_testkit::{clock, small_fixture, today, Cloud, Expected};

async fn synced(dataset: &Path, dir: &Path) -> Cache {
    let cloud = Cloud::start(dataset).await;
    let token = cloud.token(None, TokenKind::Manager);
    let mut cache = Cache::open(dir.join("cache.db")).expect("open cache");
    let client = Client::new(&cloud.url(), &token).expect("client");
    sync(
        &mut cache,
        &client,
        &clock(),
        &SyncOptions::default(),
        |_| {},
    )
    .await
    .expect("sync");
    cache
}

fn req(account: &str, scope: Scope, from: &str, to: &str) -> ExportRequest {
    ExportRequest {
        report: ExportReport::Usage,
        account_id: account.into(),
        scope,
        from: from.parse().unwrap(),
        to: to.parse().unwrap(),
    }
}

fn unsigned() -> Signing<'static> {
    Signing::Unsigned {
        reason: "no key in this test".into(),
    }
}

fn quiet() -> Control<'static> {
    Control {
        cancel: None,
        progress: Box::leak(Box::new(|_| {})),
    }
}

fn export_bytes(cache: &Cache, r: &ExportRequest) -> Vec<u8> {
    let p = plan(cache, r, today()).expect("plan");
    let mut out = Vec::new();
    let summary = write_csv(cache, &p, &mut out, &mut quiet()).expect("write");
    assert_eq!(
        summary.rows, p.rows,
        "the preview's row count is what gets written"
    );
    assert_eq!(summary.bytes, out.len() as u64);
    assert_eq!(summary.sha256, hex::encode(Sha256::digest(&out)));
    out
}

/// The same cell neutralisation, written independently: OWASP's formula starts.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// The report the issue describes, computed from the CSV rows: accounts in tree order
/// (depth-first, siblings by name then id), then months.
fn expected_rows(
    exp: &Expected,
    account: &str,
    scope: &str,
    months: &[String],
) -> Vec<Vec<String>> {
    let in_scope = exp.in_scope(account, scope);
    let mut order = Vec::new();
    let mut stack = vec![(account.to_string(), 0usize)];
    while let Some((id, depth)) = stack.pop() {
        order.push((id.clone(), depth));
        let mut kids: Vec<_> = exp
            .accounts
            .values()
            .filter(|a| a.parent_id.as_deref() == Some(id.as_str()) && in_scope.contains(&a.id))
            .collect();
        kids.sort_by(|a, b| {
            (a.name.as_bytes(), a.id.as_bytes()).cmp(&(b.name.as_bytes(), b.id.as_bytes()))
        });
        stack.extend(kids.iter().rev().map(|a| (a.id.clone(), depth + 1)));
    }
    assert_eq!(
        order.len(),
        in_scope.len(),
        "the walk covers exactly the scope"
    );
    let mut rows = Vec::new();
    for (id, depth) in order {
        let a = &exp.accounts[&id];
        let parent = a.parent_id.as_ref().and_then(|p| exp.accounts.get(p));
        for m in months {
            let availability = exp.availability(&id, m);
            let mut row = vec![
                m.clone(),
                cell(&id),
                cell(&a.name),
                a.parent_id.as_deref().map(cell).unwrap_or_default(),
                parent.map(|p| cell(&p.name)).unwrap_or_default(),
                depth.to_string(),
                a.status.clone(),
                availability.to_string(),
            ];
            if availability == "ok" {
                let (plan, c) = &exp.month_end[&(id.clone(), m.clone())];
                row.push(cell(plan));
                row.extend(c.iter().map(u64::to_string));
            } else {
                row.extend(["", "", "", ""].map(String::from));
            }
            for p in &exp.plans {
                row.extend(exp.totals(&id, m)[p].iter().map(u64::to_string));
            }
            rows.push(row);
        }
    }
    rows
}

fn parse(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::str::from_utf8(bytes).expect("UTF-8");
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn months(from: &str, to: &str) -> Vec<String> {
    let (from, to): (YearMonth, YearMonth) = (from.parse().unwrap(), to.parse().unwrap());
    from.through(to).map(|m| m.to_string()).collect()
}

const HEADER: &str =
    "month,account_id,account_name,parent_id,parent_name,depth,status,availability,plan,\
users_registered,users_with_token,users_with_activity,\
basic_users_registered_total,basic_users_with_token_total,basic_users_with_activity_total,\
standard_users_registered_total,standard_users_with_token_total,standard_users_with_activity_total,\
premium_users_registered_total,premium_users_with_token_total,premium_users_with_activity_total";

#[tokio::test]
async fn every_scope_and_range_matches_rows_computed_from_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let cache = synced(&small_fixture(), dir.path()).await;
    let exp = Expected::small();
    let ranges = [
        ("2024-01", "2024-06"),
        ("2024-03", "2024-03"),
        ("2024-04", "2024-05"),
    ];
    let mut checked = 0;
    for account in ["sp-acme", "acme-eu", "acme-de", "acme-de-muc", "sp-globex"] {
        for (scope, name) in [
            (Scope::Own, "self"),
            (Scope::Children, "children"),
            (Scope::Tree, "tree"),
        ] {
            for (from, to) in ranges {
                let bytes = export_bytes(&cache, &req(account, scope, from, to));
                let text = String::from_utf8(bytes.clone()).unwrap();
                assert!(
                    text.starts_with(&format!("{HEADER}\r\n")),
                    "the header is the contract"
                );
                let (_, rows) = parse(&bytes);
                let want = expected_rows(&exp, account, name, &months(from, to));
                assert_eq!(rows, want, "{account} {name} {from}..{to}");
                checked += rows.len();
            }
        }
    }
    assert!(checked > 300, "the comparisons covered {checked} rows");
}

#[tokio::test]
async fn the_fixture_s_hard_cases_come_out_as_a_spreadsheet_needs_them() {
    let dir = tempfile::tempdir().unwrap();
    let cache = synced(&small_fixture(), dir.path()).await;
    let bytes = export_bytes(
        &cache,
        &req("acme-de", Scope::Children, "2024-02", "2024-03"),
    );
    let text = String::from_utf8(bytes).unwrap();
    // A quote inside a name is doubled inside a quoted field; a newline stays in quotes.
    assert!(text.contains("\"Acme \"\"Deutschland\"\" GmbH\""), "{text}");
    assert!(text.contains("\"München\nOffice\""), "{text}");
    // `=Berlin Ops` would run as a formula: it is written as text.
    assert!(
        text.contains(",'=Berlin Ops,") && !text.contains(",=Berlin"),
        "{text}"
    );
    // München was created on 2024-03-10: non-existent in February, its cells empty.
    assert!(text.contains("2024-02,acme-de-muc,\"München\nOffice\",acme-de,\"Acme \"\"Deutschland\"\" GmbH\",1,active,non_existent,,,,,"), "{text}");
    // Disabled accounts are still reported, with their status.
    assert!(text.contains("acme-de-ber,'=Berlin Ops,acme-de,"), "{text}");
    assert!(text.contains(",1,disabled,"), "{text}");
}

#[tokio::test]
async fn a_range_without_data_is_a_header_only_file_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let cache = synced(&small_fixture(), dir.path()).await;
    let r = req("sp-acme", Scope::Tree, "2022-01", "2022-03");
    let p = plan(&cache, &r, today()).unwrap();
    assert_eq!(p.rows, 0);
    assert_eq!(p.months_without_data.len(), 3);
    let bytes = export_bytes(&cache, &r);
    assert_eq!(bytes, format!("{HEADER}\r\n").into_bytes());

    // A range reaching into data keeps only the months with data.
    let p = plan(
        &cache,
        &req("sp-acme", Scope::Tree, "2023-12", "2024-01"),
        today(),
    )
    .unwrap();
    assert_eq!(
        p.months.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["2024-01"]
    );
    assert_eq!(
        p.months_without_data
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["2023-12"]
    );
    assert_eq!(p.accounts, 7, "sp-acme's subtree has 7 accounts");
    assert_eq!(p.rows, 7);
}

#[tokio::test]
async fn a_file_export_writes_csv_and_manifest_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let cache = synced(&small_fixture(), dir.path()).await;
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let path = out.join("report.csv");
    let r = req("sp-acme", Scope::Tree, "2024-01", "2024-06");
    let p = plan(&cache, &r, today()).unwrap();
    let at = Utc.with_ymd_and_hms(2024, 7, 15, 9, 30, 0).unwrap();
    let mut seen = Vec::new();
    let mut progress = |pr| seen.push(pr);
    let outcome = export_file(
        &cache,
        &p,
        &path,
        at,
        "usagedesk-test 1.0",
        unsigned(),
        &mut Control {
            cancel: None,
            progress: &mut progress,
        },
    )
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        bytes,
        export_bytes(&cache, &r),
        "the file holds what the stream writes"
    );
    assert_eq!(
        seen.last().map(|p| p.written),
        Some(p.rows),
        "the last progress is the end"
    );

    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(manifest_path(&path)).unwrap()).unwrap();
    assert_eq!(
        outcome.manifest_path,
        manifest_path(&path).display().to_string()
    );
    assert_eq!(
        manifest.sha256,
        hex::encode(Sha256::digest(&bytes)),
        "finance can check the file"
    );
    assert_eq!(manifest.rows, 42);
    assert_eq!(manifest.bytes, bytes.len() as u64);
    assert_eq!(manifest.csv_file, "report.csv");
    assert_eq!(
        (manifest.account_id.as_str(), manifest.scope),
        ("sp-acme", Scope::Tree)
    );
    assert_eq!(manifest.months.len(), 6);
    assert_eq!(manifest.generated_at, at);
    assert!(manifest.data_synced_at.is_some(), "the cache was synced");
    assert_eq!(manifest.generator, "usagedesk-test 1.0");
    assert_eq!(manifest.columns.join(","), HEADER);
    assert_eq!(
        manifest.unsigned_reason.as_deref(),
        Some("no key in this test"),
        "an unsigned manifest says why"
    );
    assert_eq!(
        outcome.signature,
        ExportSignature::Unsigned {
            reason: "no key in this test".into()
        }
    );
    let listing = |d: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        listing(&out),
        ["report.csv", "report.csv.manifest.json"],
        "no temporary file is left"
    );

    // A cancelled export over an existing file leaves the old file whole and nothing else.
    std::fs::write(&path, "old").unwrap();
    let cancel = AtomicBool::new(true);
    let err = export_file(
        &cache,
        &p,
        &path,
        at,
        "t",
        unsigned(),
        &mut Control {
            cancel: Some(&cancel),
            progress: &mut |_| {},
        },
    )
    .unwrap_err();
    assert_eq!(err.kind(), ExportErrorKind::Cancelled, "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
    assert_eq!(listing(&out), ["report.csv", "report.csv.manifest.json"]);

    // A folder that does not exist: the message names the path.
    let err = export_file(
        &cache,
        &p,
        &out.join("nope/x.csv"),
        at,
        "t",
        unsigned(),
        &mut quiet(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ExportErrorKind::Io);
    assert!(err.to_string().contains("nope"), "{err}");
}

/// The tree scope's bulk path (own rows read once, totals summed in memory) against the
/// independent model on a generated tree with hundreds of accounts and several levels.
#[tokio::test]
async fn a_generated_tree_matches_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let opts = usagedesk_demo::DemoOptions::new(400, 5, 7, today());
    usagedesk_demo::write_demo(&opts, &data).unwrap();
    let cache = synced(&data, dir.path()).await;
    let exp = Expected::from_dir(&data);
    let roots: Vec<String> = exp
        .accounts
        .values()
        .filter(|a| a.parent_id.is_none())
        .map(|a| a.id.clone())
        .collect();
    let deepest = exp
        .accounts
        .values()
        .max_by_key(|a| {
            let mut d = 0;
            let mut at = a.parent_id.clone();
            while let Some(p) = at {
                d += 1;
                at = exp.accounts[&p].parent_id.clone();
            }
            d
        })
        .unwrap();
    let mid = deepest.parent_id.clone().unwrap();
    let exported_months = exp.months();
    let (from, to) = (
        exported_months[0].clone(),
        exported_months[exported_months.len() - 2].clone(),
    );
    for account in roots.iter().take(2).chain([&mid]) {
        for (scope, name) in [(Scope::Tree, "tree"), (Scope::Children, "children")] {
            let (header, rows) = parse(&export_bytes(&cache, &req(account, scope, &from, &to)));
            assert_eq!(header.len(), 12 + 3 * exp.plans.len());
            assert_eq!(
                rows,
                expected_rows(&exp, account, name, &months(&from, &to)),
                "{account} {name}"
            );
        }
    }
}

/// A signed export verifies against its root, replaces an earlier unsigned manifest of the
/// same file, and is refused under another root or after one changed byte.
#[tokio::test(flavor = "multi_thread")]
async fn a_signed_manifest_replaces_the_plain_one_and_verifies() {
    use rand::SeedableRng;
    use usagedesk_airgap::{CertScope, RootKey, SigningKey};

    let dir = tempfile::tempdir().unwrap();
    let cache = synced(&small_fixture(), dir.path()).await;
    let path = dir.path().join("signed.csv");
    let p = plan(
        &cache,
        &req("acme-de", Scope::Children, "2024-01", "2024-06"),
        today(),
    )
    .unwrap();
    let at = Utc.with_ymd_and_hms(2024, 7, 15, 9, 30, 0).unwrap();
    export_file(&cache, &p, &path, at, "t", unsigned(), &mut quiet()).unwrap();
    assert!(manifest_path(&path).exists());

    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
    let root = RootKey::generate(&mut rng);
    let key = SigningKey::generate(&mut rng);
    let cert = root
        .certify(
            &key.public_key(),
            "manager@vendor.example",
            CertScope::Subtree("sp-acme".into()),
            at - chrono::Duration::days(1),
            at + chrono::Duration::days(30),
        )
        .unwrap();
    let signing = Signing::Sign {
        key: &key,
        certificate: &cert,
        account_path: vec!["sp-acme".into(), "acme-de".into()],
    };
    let done = export_file(&cache, &p, &path, at, "t", signing, &mut quiet()).unwrap();
    assert_eq!(
        done.signature,
        ExportSignature::Signed {
            signed_by: "manager@vendor.example".into(),
            scope: "sp-acme".into(),
            certificate_expires_at: at + chrono::Duration::days(30),
            root_fingerprint: root.public_key().fingerprint(),
        }
    );
    assert_eq!(
        done.manifest_path,
        signed_manifest_path(&path).display().to_string()
    );
    assert!(
        !manifest_path(&path).exists(),
        "the earlier unsigned manifest is gone: the one beside the CSV is its own"
    );
    let text = std::fs::read_to_string(signed_manifest_path(&path)).unwrap();
    assert!(text.starts_with("-----BEGIN USAGEDESK USAGE EXPORT-----\nVersion: 1\n{\n  \"manifest\": {\n    \"format\": \"usagedesk-usage-export/1\""), "{text}");

    // Verified a year later: the certificate was in force when the export was written.
    let later = at + chrono::Duration::days(365);
    let v = verify_export(&path, Some(&root.public_key()), later).unwrap();
    assert_eq!(v.status, VerifiedStatus::Verified);
    assert_eq!(v.manifest.sha256, done.sha256);
    assert_eq!(
        v.signer.as_ref().unwrap().account_path,
        ["sp-acme", "acme-de"]
    );

    let other = RootKey::generate(&mut rng);
    let e = verify_export(&path, Some(&other.public_key()), later).unwrap_err();
    assert_eq!(e.code(), "untrusted_key", "{e}");
    let e = verify_export(&path, None, later).unwrap_err();
    assert_eq!((e.code(), e.is_refusal()), ("no_root_key", false), "{e}");

    let mut csv = std::fs::read(&path).unwrap();
    let last = csv.len() - 3;
    csv[last] ^= 1;
    std::fs::write(&path, &csv).unwrap();
    let e = verify_export(&path, Some(&root.public_key()), later).unwrap_err();
    assert_eq!((e.code(), e.is_refusal()), ("csv_altered", true), "{e}");
}
