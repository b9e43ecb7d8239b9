//! Signed exports with the built `usagedesk-cli` against the real cloud on loopback: the
//! manifest is signed with the key the cloud certified at sync, `export verify` accepts it and
//! refuses one changed byte in the CSV or the manifest, a certificate from another root, and
//! says "unsigned" (exit 3) for an export written with an expired certificate. The procedure
//! `docs/export-format.md` gives for checking an export without UsageDesk is run too.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::Value;
use sha2::Digest;
use usagedesk_airgap::{DelegationCertificate, RootKey, SigningKey};
use usagedesk_cloud::storage::TokenKind;
use usagedesk_export::SignedManifest;
use usagedesk_testkit::{small_fixture, Cloud};

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

/// `export verify FILE --json [extra]`: exit code and the JSON object.
async fn verify(data_dir: &Path, csv: &Path, extra: &[&str]) -> (i32, Value) {
    let csv = csv.to_str().unwrap();
    let out = cli(
        data_dir,
        None,
        &[&["export", "verify", csv, "--json"], extra].concat(),
    )
    .await;
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("one JSON object ({e}): {}", text(&out)));
    (out.status.code().expect("exit code"), json)
}

const EXPORT: [&str; 9] = [
    "export",
    "--account",
    "acme-de",
    "--scope",
    "tree",
    "--from",
    "2024-01",
    "--to",
    "2024-06",
];

/// Copies `csv` and its signed manifest into `dir` (same names), for tampering.
fn copy_pair(csv: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let to = dir.join(csv.file_name().unwrap());
    std::fs::copy(csv, &to).unwrap();
    std::fs::copy(
        usagedesk_export::signed_manifest_path(csv),
        usagedesk_export::signed_manifest_path(&to),
    )
    .unwrap();
    to
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_export_verifies_and_any_change_or_foreign_root_is_refused() {
    // The binaries read the real clock: the cloud certifies on it too.
    let cloud = Cloud::start_on(&small_fixture(), Arc::new(usagedesk_domain::SystemClock)).await;
    let root = cloud.storage.vendor_root_key().unwrap();
    let token = cloud.token(Some("sp-acme"), TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = cli(&data, Some(&token), &["sync", "--url", &cloud.url()]).await;
    assert!(out.status.success(), "{}", text(&out));
    drop(cloud); // offline from here: exporting and verifying need no cloud

    let csv = dir.path().join("acme-de.csv");
    let out = cli(
        &data,
        None,
        &[&EXPORT[..], &["-o", csv.to_str().unwrap()]].concat(),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("signed by "), "{}", text(&out));
    let manifest_at = usagedesk_export::signed_manifest_path(&csv);
    assert!(manifest_at.exists() && !usagedesk_export::manifest_path(&csv).exists());
    let manifest_text = std::fs::read_to_string(&manifest_at).unwrap();
    assert!(
        manifest_text.starts_with("-----BEGIN USAGEDESK USAGE EXPORT-----\nVersion: 1\n"),
        "{manifest_text}"
    );

    // Verified against the root key the cache holds from the sync.
    let (code, v) = verify(&data, &csv, &[]).await;
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["status"], "verified");
    let csv_bytes = std::fs::read(&csv).unwrap();
    assert_eq!(
        v["manifest"]["sha256"],
        hex::encode(sha2::Sha256::digest(&csv_bytes)),
        "the manifest names the CSV's real hash"
    );
    assert_eq!(v["manifest"]["bytes"], csv_bytes.len() as u64);
    assert_eq!(v["signer"]["root_key"], root.public_key().to_string());
    assert_eq!(v["signer"]["scope"], "sp-acme", "the token's subtree");
    assert_eq!(
        v["signer"]["account_path"],
        serde_json::json!(["sp-acme", "acme-eu", "acme-de"]),
        "the account's path in the vendor's tree"
    );
    assert!(
        v["signer"]["signed_by"]
            .as_str()
            .unwrap()
            .ends_with("(sp-acme)"),
        "{v}"
    );
    let plain = cli(&data, None, &["export", "verify", csv.to_str().unwrap()]).await;
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain));
    assert!(text(&plain).starts_with("verified: "), "{}", text(&plain));

    // A third party: no cache, the vendor's root key from a file.
    let elsewhere = dir.path().join("third-party");
    let root_file = dir.path().join("vendor-root.pub");
    std::fs::write(&root_file, format!("{}\n", root.public_key())).unwrap();
    let root_arg = root_file.to_str().unwrap();
    let (code, v) = verify(&elsewhere, &csv, &["--root-key", root_arg]).await;
    assert_eq!((code, v["status"].as_str()), (0, Some("verified")), "{v}");
    // Without a root key there is nothing to check the signature against: exit 4.
    let (code, v) = verify(&elsewhere, &csv, &[]).await;
    assert_eq!((code, v["code"].as_str()), (4, Some("no_root_key")), "{v}");

    // One changed byte in the CSV: refused on its hash.
    let altered = copy_pair(&csv, &dir.path().join("csv-flip"));
    let mut bytes = csv_bytes.clone();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&altered, &bytes).unwrap();
    let (code, v) = verify(&data, &altered, &[]).await;
    assert_eq!((code, v["code"].as_str()), (1, Some("csv_altered")), "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("the CSV was changed after it was exported"),
        "{v}"
    );

    // One changed byte in the manifest (a hex digit of the CSV's hash, still well-formed):
    // refused on the signature.
    let edited = copy_pair(&csv, &dir.path().join("manifest-flip"));
    let mut m = manifest_text.clone().into_bytes();
    let at = manifest_text.find("\"sha256\": \"").unwrap() + "\"sha256\": \"".len();
    m[at] = if m[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(usagedesk_export::signed_manifest_path(&edited), &m).unwrap();
    let (code, v) = verify(&data, &edited, &[]).await;
    assert_eq!(
        (code, v["code"].as_str()),
        (1, Some("bad_signature")),
        "{v}"
    );
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("signature does not match"),
        "{v}"
    );

    // The genuine export, checked against another vendor's root key: refused.
    let other_root = RootKey::generate(&mut rand::thread_rng());
    let other_file = dir.path().join("other-root.pub");
    std::fs::write(&other_file, other_root.public_key().to_string()).unwrap();
    let (code, v) = verify(&data, &csv, &["--root-key", other_file.to_str().unwrap()]).await;
    assert_eq!(
        (code, v["code"].as_str()),
        (1, Some("untrusted_key")),
        "{v}"
    );

    // A manifest re-signed under a certificate from another root (same subject and scope,
    // a matching hash): refused against the vendor's root.
    let forged = copy_pair(&csv, &dir.path().join("forged"));
    let genuine = SignedManifest::parse(manifest_text.as_bytes()).unwrap();
    let body = genuine.unverified();
    let key = SigningKey::generate(&mut rand::thread_rng());
    let now = Utc::now();
    let cert = other_root
        .certify(
            &key.public_key(),
            &body.certificate.subject,
            body.certificate.scope.clone(),
            now - Duration::days(1),
            now + Duration::days(30),
        )
        .unwrap();
    let text_forged = SignedManifest::sign(
        body.manifest.clone(),
        body.account_path.clone(),
        &key,
        &cert,
    )
    .unwrap();
    std::fs::write(usagedesk_export::signed_manifest_path(&forged), text_forged).unwrap();
    let (code, v) = verify(&data, &forged, &[]).await;
    assert_eq!(
        (code, v["code"].as_str()),
        (1, Some("untrusted_key")),
        "{v}"
    );
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains(&other_root.public_key().fingerprint()),
        "the reason names the foreign root: {v}"
    );

    // The procedure in docs/export-format.md, with python3, openssl and sha256sum only.
    let script = documented_script();
    let run_doc = |csv: &Path, root: String| {
        let work = csv.parent().unwrap().to_path_buf();
        let script = script.clone();
        let name = csv.file_name().unwrap().to_str().unwrap().to_owned();
        std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("verify-export.sh")
            .arg(name)
            .arg(root)
            .current_dir(work)
            .output()
            .expect("run sh")
    };
    let out = run_doc(&csv, root.public_key().to_string());
    let said = text(&out);
    assert!(out.status.success(), "the documented procedure: {said}");
    assert_eq!(
        said.matches("Signature Verified Successfully").count(),
        2,
        "certificate and manifest: {said}"
    );
    assert!(said.contains("acme-de.csv: OK"), "{said}");
    for (damaged, says) in [
        (&altered, "FAILED"),
        (&edited, "Signature Verification Failure"),
    ] {
        let out = run_doc(damaged, root.public_key().to_string());
        assert!(!out.status.success(), "{}", text(&out));
        assert!(text(&out).contains(says), "{}", text(&out));
    }
    let out = run_doc(&forged, root.public_key().to_string());
    assert!(
        !out.status.success() && text(&out).contains("another root key"),
        "{}",
        text(&out)
    );
}

/// The shell script of `docs/export-format.md` ("Without UsageDesk").
fn documented_script() -> String {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/export-format.md"),
    )
    .unwrap();
    let start = doc
        .find("```sh\n#!/bin/sh\n# Usage: sh verify-export.sh")
        .unwrap();
    let body = &doc[start + "```sh\n".len()..];
    body[..body.find("\n```").unwrap()].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_certificate_gives_an_unsigned_export_that_says_why() {
    let cloud = Cloud::start_on(&small_fixture(), Arc::new(usagedesk_domain::SystemClock)).await;
    let root = cloud.storage.vendor_root_key().unwrap();
    let token = cloud.token(None, TokenKind::Manager);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = cli(&data, Some(&token), &["sync", "--url", &cloud.url()]).await;
    assert!(out.status.success(), "{}", text(&out));
    drop(cloud);

    // Offline for a long while: the certificate fetched at the last sync has ended (the same
    // key, certified by the same root, for a period ten days past).
    let ended = Utc::now() - Duration::days(10);
    {
        let mut cache = usagedesk_cache::Cache::open(data.join("cache.db")).unwrap();
        let current = cache.sync().value("airgap_certificate").unwrap().unwrap();
        let current = DelegationCertificate::from_json(current.as_bytes()).unwrap();
        let old = root
            .certify(
                &current.public_key,
                &current.subject,
                current.scope.clone(),
                ended - Duration::days(90),
                ended,
            )
            .unwrap();
        cache
            .sync_mut()
            .set_value("airgap_certificate", &old.to_json())
            .unwrap();
    }

    // --require-signature: refused, nothing written.
    let csv = dir.path().join("all.csv");
    let o = ["-o", csv.to_str().unwrap()];
    let out = cli(
        &data,
        None,
        &[&EXPORT[..], &o, &["--require-signature"]].concat(),
    )
    .await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("cannot be signed, so nothing was written"));
    assert!(text(&out).contains("expired on"), "{}", text(&out));
    assert!(!csv.exists(), "nothing written");

    // By default the export is written, plainly unsigned, with the reason in the manifest.
    let out = cli(&data, None, &[&EXPORT[..], &o].concat()).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out)
            .contains("warning: the export is NOT signed: the signing certificate expired on"),
        "{}",
        text(&out)
    );
    assert!(!usagedesk_export::signed_manifest_path(&csv).exists());
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(usagedesk_export::manifest_path(&csv)).unwrap())
            .unwrap();
    assert!(
        manifest["unsigned_reason"]
            .as_str()
            .unwrap()
            .contains("sync while online to renew it"),
        "{manifest}"
    );

    // Verify: the CSV matches, but nothing proves who wrote it: exit 3.
    let (code, v) = verify(&data, &csv, &[]).await;
    assert_eq!((code, v["status"].as_str()), (3, Some("unsigned")), "{v}");
    assert!(v["signer"].is_null(), "{v}");
    // And an unsigned export's CSV changed by one byte is still refused on its hash.
    let mut bytes = std::fs::read(&csv).unwrap();
    bytes[10] ^= 0x20;
    std::fs::write(&csv, &bytes).unwrap();
    let (code, v) = verify(&data, &csv, &[]).await;
    assert_eq!((code, v["code"].as_str()), (1, Some("csv_altered")), "{v}");
}
