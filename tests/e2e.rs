//! End to end: the real app window (tauri-driver + WebKitWebDriver under Xvfb) against the
//! real cloud service on loopback with a known dataset. The numbers on screen are compared
//! with values computed independently from the dataset's CSV rows.

mod bins;
mod support;

use std::path::Path;

use support::{grouped, Session, TauriDriver};
use usagedesk_cloud::storage::TokenKind;
use usagedesk_testkit::{small_fixture, Cloud, Expected};

fn app() -> &'static Path {
    bins::app()
}

/// One window at a time: screenshots capture the whole X screen, and two apps on a
/// 2-core machine would only slow each other down.
static ONE_WINDOW: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn shots() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

async fn launch(driver: &TauriDriver, data_dir: &Path) -> Session {
    Session::launch(
        driver,
        app(),
        &["--data-dir".into(), data_dir.display().to_string()],
    )
    .await
}

async fn connect(s: &Session, url: &str, token: &str) {
    let u = s.wait("[data-testid=connect-url]").await;
    s.type_text(&u, url).await;
    let t = s.wait("[data-testid=connect-token]").await;
    s.type_text(&t, token).await;
    let submit = s.wait("[data-testid=connect-submit]").await;
    s.click(&submit).await;
}

/// The own and subtree numbers shown for the selected account equal the model's.
async fn assert_numbers(s: &Session, exp: &Expected, id: &str, month: &str, metric: &str) {
    let k = match metric {
        "users_registered" => 0,
        "users_with_token" => 1,
        _ => 2,
    };
    let own = match exp.availability(id, month) {
        "ok" => grouped(exp.month_end[&(id.to_string(), month.to_string())].1[k]),
        "not_available" => "n/a".into(),
        _ => "—".into(),
    };
    let shown = s
        .wait_text(&format!("[data-testid=own-{metric}]"), |t| t == own)
        .await;
    assert_eq!(shown, own, "own {metric} of {id} in {month}");
    for (plan, totals) in exp.totals(id, month) {
        let css = format!("[data-testid=total-{plan}-{metric}]");
        let want = grouped(totals[k]);
        // A plan with no reporting account in the subtree may be shown as n/a rather than 0.
        let fits = |t: &str| t == want || (totals[k] == 0 && (t == "n/a" || t == "—"));
        // The screen updates after a click: wait for it to settle on the expected value.
        let text = s.wait_text(&css, fits).await;
        assert!(
            fits(&text),
            "subtree {plan} {metric} of {id} in {month}: screen '{text}', expected {want}"
        );
    }
}

/// Opens the Export dialog on sp-acme, checks its preview, then runs the command the dialog's
/// Export button runs after the native save dialog (which WebDriver cannot drive), and checks
/// the file holds the bytes `usagedesk-cli export` writes from the same cache.
async fn export_from_the_window(s: &Session, data_dir: &Path) {
    let crumb = s
        .wait("[data-testid=breadcrumb-item][data-account-id=sp-acme]")
        .await;
    s.click(&crumb).await;
    s.wait_text("[data-testid=account-name]", |t| {
        t == "Acme Service Provider"
    })
    .await;
    let open = s.wait("[data-testid=export-open]").await;
    s.click(&open).await;
    let tree = s.wait("[data-testid=export-scope-tree]").await;
    s.click(&tree).await;
    for (field, month) in [("export-from", "2024-01"), ("export-to", "2024-06")] {
        let select = s.wait(&format!("[data-testid={field}]")).await;
        s.script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            vec![serde_json::json!({"element-6066-11e4-a52e-4f735466cecf": select}), month.into()],
        )
        .await;
    }
    // 7 accounts in sp-acme's tree × 6 months.
    let preview = s
        .wait_text("[data-testid=export-preview]", |t| t.contains("42"))
        .await;
    assert!(
        preview.contains("42"),
        "the dialog previews 42 rows: '{preview}'"
    );
    s.screenshot(&shots().join("04-export.png")).await;

    let out = tempfile::tempdir().expect("export folder");
    let from_app = out.path().join("from-app.csv");
    let done = s
        .script_async(
            "const done = arguments[arguments.length - 1];
             window.__TAURI_INTERNALS__.invoke('export_csv', {
               request: { account_id: 'sp-acme', scope: 'tree', from: '2024-01', to: '2024-06' },
               path: arguments[0],
             }).then(done, (e) => done({ error: e }));",
            vec![from_app.display().to_string().into()],
        )
        .await;
    assert_eq!(done["rows"], 42, "the app's export: {done}");

    let from_cli = out.path().join("from-cli.csv");
    let status = std::process::Command::new(cli())
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "export",
            "--account",
            "sp-acme",
            "--scope",
            "tree",
            "--from",
            "2024-01",
        ])
        .args(["--to", "2024-06", "-o"])
        .arg(&from_cli)
        .status()
        .expect("run usagedesk-cli");
    assert!(status.success());
    let (app_bytes, cli_bytes) = (
        std::fs::read(&from_app).expect("the app's CSV"),
        std::fs::read(&from_cli).expect("the CLI's CSV"),
    );
    assert_eq!(
        app_bytes, cli_bytes,
        "app and CLI write the same bytes for the same request"
    );
    // This test's cloud runs on 2024's clock, so the certificate it gave is long over by the
    // app's clock: the export is written unsigned, says why, and verifies as such (exit 3).
    assert_eq!(done["signature"]["status"], "unsigned", "{done}");
    assert!(
        done["signature"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("sync"),
        "the reason says what to do: {done}"
    );
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.path().join("from-app.csv.manifest.json")).expect("manifest"),
    )
    .expect("manifest JSON");
    assert_eq!(manifest["sha256"], done["sha256"]);
    assert_eq!(manifest["unsigned_reason"], done["signature"]["reason"]);
    assert!(manifest["generator"]
        .as_str()
        .unwrap_or("")
        .starts_with("usagedesk "));
    let verified = std::process::Command::new(cli())
        .arg("--data-dir")
        .arg(data_dir)
        .args(["export", "verify"])
        .arg(&from_app)
        .output()
        .expect("run usagedesk-cli export verify");
    assert_eq!(
        verified.status.code(),
        Some(3),
        "intact but unsigned: {}",
        String::from_utf8_lossy(&verified.stdout)
    );
    let close = s.wait("[data-testid=export-close]").await;
    s.click(&close).await;
}

fn cli() -> std::path::PathBuf {
    bins::sibling("usagedesk-cli", "usagedesk-cli")
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_sync_browse_offline_and_bad_token_in_the_real_window() {
    let _one = ONE_WINDOW.lock().await;
    let mut cloud = Cloud::start(&small_fixture()).await;
    let exp = Expected::small();
    let token = cloud.token(None, TokenKind::Manager);
    let driver = TauriDriver::start();
    let data = tempfile::tempdir().expect("data dir");

    // First run: the connect screen; connecting syncs.
    let s = launch(&driver, data.path()).await;
    connect(&s, &cloud.url(), &token).await;
    s.wait("[data-testid=tree-row][data-account-id=sp-acme]")
        .await;
    s.screenshot(&shots().join("01-synced.png")).await;

    // Open an account three levels down through search.
    let search = s.wait("[data-testid=search-input]").await;
    s.type_text(&search, "acme-de-m").await;
    let hit = s
        .wait("[data-testid=search-result][data-account-id=acme-de-muc]")
        .await;
    s.click(&hit).await;
    let name = s
        .wait_text("[data-testid=account-name]", |t| t.starts_with("München"))
        .await;
    assert!(
        name.contains("München") && name.contains("Office"),
        "the name as it was loaded: {name}"
    );
    let crumbs = s.text(&s.wait("[data-testid=breadcrumb]").await).await;
    for ancestor in [
        "Acme Service Provider",
        "Acme, Europe",
        "Acme \"Deutschland\" GmbH",
    ] {
        assert!(
            crumbs.contains(ancestor),
            "breadcrumb '{crumbs}' names {ancestor}"
        );
    }

    // The newest completed month is selected; check it, then switch metric and month.
    assert_numbers(&s, &exp, "acme-de-muc", "2024-07", "users_with_activity").await;
    let token_metric = s.wait("[data-testid=metric-users_with_token]").await;
    s.click(&token_metric).await;
    assert_numbers(&s, &exp, "acme-de-muc", "2024-07", "users_with_token").await;

    let select = s.wait("[data-testid=month-select]").await;
    s.script(
        "arguments[0].value = '2024-02'; arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
        vec![serde_json::json!({"element-6066-11e4-a52e-4f735466cecf": select})],
    )
    .await;
    assert_numbers(&s, &exp, "acme-de-muc", "2024-02", "users_with_token").await;
    let badge = s.wait("[data-testid=availability-badge]").await;
    assert_eq!(
        s.attr(&badge, "data-availability").await.as_deref(),
        Some("non_existent"),
        "created in March 2024"
    );

    // A parent with a plan change and a not-available child.
    let crumb = s
        .wait("[data-testid=breadcrumb-item][data-account-id=sp-acme]")
        .await;
    s.click(&crumb).await;
    s.wait_text("[data-testid=account-name]", |t| {
        t == "Acme Service Provider"
    })
    .await;
    let month = s.wait("[data-testid=month-select]").await;
    s.script(
        "arguments[0].value = '2024-03'; arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
        vec![serde_json::json!({"element-6066-11e4-a52e-4f735466cecf": month})],
    )
    .await;
    assert_numbers(&s, &exp, "sp-acme", "2024-03", "users_with_token").await;
    s.screenshot(&shots().join("02-account.png")).await;

    // The cloud goes away: the same screens still show the same numbers, and sync says offline.
    cloud.server.shutdown().await.expect("stop cloud");
    let sync = s.wait("[data-testid=sync-button]").await;
    s.click(&sync).await;
    s.wait("[data-testid=offline-indicator]").await;
    assert_numbers(&s, &exp, "sp-acme", "2024-03", "users_with_token").await;
    let search = s.wait("[data-testid=search-input]").await;
    s.type_text(&search, "acme-fr").await;
    let hit = s
        .wait("[data-testid=search-result][data-account-id=acme-fr]")
        .await;
    s.click(&hit).await;
    s.wait_text("[data-testid=account-name]", |t| t == "Acme France")
        .await;
    assert_numbers(&s, &exp, "acme-fr", "2024-03", "users_with_token").await;
    s.screenshot(&shots().join("03-offline.png")).await;

    // Still offline: export sp-acme's tree, as the Export dialog does.
    export_from_the_window(&s, data.path()).await;
    s.quit().await;

    // A bad token: a fresh install, the wrong token, the message says what to do.
    cloud.restart().await;
    let fresh = tempfile::tempdir().expect("data dir");
    let s = launch(&driver, fresh.path()).await;
    connect(&s, &cloud.url(), "udk_not-a-valid-token").await;
    let err = s
        .wait_text("[data-testid=connect-error]", |t| !t.is_empty())
        .await;
    assert!(
        err.contains("Sign in again") || err.contains("token"),
        "the error names the token: '{err}'"
    );
    let field = s.wait("[data-testid=connect-error]").await;
    assert_eq!(
        s.attr(&field, "data-field").await.as_deref(),
        Some("token"),
        "shown under the token field"
    );
    s.quit().await;
}

/// A fresh app connected to `cloud` with a manager token for everything, its first sync
/// done (the driver and the data folder live as long as the session is used).
async fn connected(cloud: &Cloud) -> (Session, TauriDriver, tempfile::TempDir) {
    let token = cloud.token(None, TokenKind::Manager);
    let driver = TauriDriver::start();
    let data = tempfile::tempdir().expect("data dir");
    let s = launch(&driver, data.path()).await;
    connect(&s, &cloud.url(), &token).await;
    s.wait("[data-testid=tree-row][data-account-id=sp-acme]")
        .await;
    (s, driver, data)
}

/// Runs a Tauri command from the page, as the UI's handlers do, and returns its answer
/// (`{error}` when it rejects).
async fn invoke(s: &Session, cmd: &str, args: serde_json::Value) -> serde_json::Value {
    s.script_async(
        "const done = arguments[arguments.length - 1];
         window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1]).then(done, (e) => done({ error: e }));",
        vec![cmd.into(), args],
    )
    .await
}

/// Issues a sync key for inst-de through the command the Issue dialog calls after its save
/// dialog, and answers it as the customer's agent does (one record for acme-de, June 30,
/// 2024: 4,321 / 3,210 / 2,109). Returns the paths of the sync key and the usage data file.
async fn answered_sync_key(
    cloud: &Cloud,
    s: &Session,
    dir: &Path,
) -> (std::path::PathBuf, std::path::PathBuf) {
    use usagedesk_domain::exchange_file::{SYNC_KEY_EXTENSION, USAGE_DATA_EXTENSION};
    let sk_path = dir.join(format!("inst-de.{SYNC_KEY_EXTENSION}"));
    let issued = invoke(
        s,
        "airgap_issue_sync_key",
        serde_json::json!({
            "instanceId": "inst-de", "validDays": 30, "path": sk_path.display().to_string()
        }),
    )
    .await;
    assert!(issued.get("error").is_none(), "issued: {issued}");

    let base = cloud.url();
    let vendor: serde_json::Value = reqwest::get(format!(
        "{}/api/v1/airgap/vendor-key",
        base.trim_end_matches('/')
    ))
    .await
    .expect("vendor key")
    .json()
    .await
    .expect("JSON");
    let vendor: usagedesk_airgap::PublicKey = vendor["public_key"]
        .as_str()
        .expect("key")
        .parse()
        .expect("key");
    let now = chrono::Utc::now();
    let sync_key = usagedesk_airgap::SyncKey::parse(&std::fs::read(&sk_path).expect("sync key"))
        .expect("parse")
        .verify(&vendor, now)
        .expect("verify");
    let record = usagedesk_airgap::UsageRecord {
        seq: 1,
        account_id: "acme-de".into(),
        date: "2024-06-30".parse().expect("date"),
        plan: "premium".into(),
        users_registered: 4321,
        users_with_token: 3210,
        users_with_activity: 2109,
    };
    let instance_key = usagedesk_airgap::SigningKey::generate(&mut rand::rngs::OsRng);
    let file = usagedesk_airgap::UsageData::answer(
        &sync_key,
        "inst-de",
        "lic-acme-de",
        &[record],
        &instance_key,
        Some(
            &usagedesk_airgap::LicenseFile::parse(cloud.license_file("inst-de").as_bytes())
                .expect("license file")
                .verify(&vendor, now)
                .expect("the agent accepts its license file")
                .enroll(&instance_key.public_key()),
        ),
        now,
    )
    .expect("answer");
    let usage = dir.join(format!("inst-de.{USAGE_DATA_EXTENSION}"));
    std::fs::write(&usage, file).expect("write");
    (sk_path, usage)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_usage_file_dropped_on_the_window_is_previewed_imported_and_shown() {
    use std::sync::Arc;
    let _one = ONE_WINDOW.lock().await;
    // The cloud on the real clock: the app signs with a certificate the cloud dated.
    let cloud = Cloud::start_on(&small_fixture(), Arc::new(usagedesk_domain::SystemClock)).await;
    let (s, _driver, _data) = connected(&cloud).await;

    // The Air-gapped view lists the synced instances; inst-de never reported: overdue.
    let nav = s.wait("[data-testid=nav-airgap]").await;
    s.click(&nav).await;
    let row = s
        .wait("[data-testid=instance-row][data-instance-id=inst-de]")
        .await;
    assert_eq!(s.attr(&row, "data-overdue").await.as_deref(), Some("true"));

    // A sync key, and the customer's answer to it.
    let files = tempfile::tempdir().expect("files");
    let (_, dropped) = answered_sync_key(&cloud, &s, files.path()).await;

    // The drop: the same event the window raises when a file is dropped on it.
    s.script(
        "window.__TAURI_INTERNALS__.invoke('plugin:event|emit_to', {
           target: { kind: 'Webview', label: 'main' }, event: 'tauri://drag-drop',
           payload: { paths: [arguments[0]], position: { x: 400, y: 300 } } });",
        vec![dropped.display().to_string().into()],
    )
    .await;
    let preview = s.wait("[data-testid=import-preview]").await;
    assert_eq!(
        s.attr(&preview, "data-new").await.as_deref(),
        Some("1"),
        "one new record"
    );
    s.screenshot(&shots().join("05-import-preview.png")).await;

    // Import: through the command the Import button calls after its save dialog.
    let vk_path = files.path().join("inst-de.verificationkey");
    let done = invoke(
        &s,
        "airgap_import",
        serde_json::json!({
            "path": dropped.display().to_string(), "verificationPath": vk_path.display().to_string()
        }),
    )
    .await;
    assert!(done.get("error").is_none(), "imported: {done}");
    assert!(std::fs::read_to_string(&vk_path)
        .expect("verification key")
        .starts_with("-----BEGIN USAGEDESK VERIFICATION KEY-----"));
    let close = s.wait("[data-testid=import-close]").await;
    s.click(&close).await;

    // The numbers show at once in the accounts view, marked pending upload.
    let nav = s.wait("[data-testid=nav-accounts]").await;
    s.click(&nav).await;
    let search = s.wait("[data-testid=search-input]").await;
    s.type_text(&search, "acme-de").await;
    let hit = s
        .wait("[data-testid=search-result][data-account-id=acme-de]")
        .await;
    s.click(&hit).await;
    // The account must be on screen before the month changes, or its load resets the picker.
    s.wait_text("[data-testid=account-name]", |t| t.contains("Deutschland"))
        .await;
    let month = s.wait("[data-testid=month-select]").await;
    s.script(
        "arguments[0].value = '2024-06'; arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
        vec![serde_json::json!({"element-6066-11e4-a52e-4f735466cecf": month})],
    )
    .await;
    let shown = s
        .wait_text("[data-testid=own-users_with_activity]", |t| {
            t == grouped(2109)
        })
        .await;
    assert_eq!(shown, grouped(2109), "the imported value is on screen");
    s.wait("[data-testid=pending-upload]").await;
    s.screenshot(&shots().join("06-pending-upload.png")).await;
    s.quit().await;
}

/// The outbox in the window: a file the cloud refuses for good stays on this computer, shown
/// as refused with the cloud's reason, and goes only when a person confirms the discard.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_the_cloud_refuses_stays_shown_and_goes_only_on_a_confirmed_discard() {
    use std::sync::Arc;
    let _one = ONE_WINDOW.lock().await;
    let cloud = Cloud::start_on(&small_fixture(), Arc::new(usagedesk_domain::SystemClock)).await;
    let (s, _driver, _data) = connected(&cloud).await;
    let nav = s.wait("[data-testid=nav-airgap]").await;
    s.click(&nav).await;
    s.wait("[data-testid=instance-row][data-instance-id=inst-de]")
        .await;

    // Imported under the first token's signing certificate, not yet sent to the cloud.
    let files = tempfile::tempdir().expect("files");
    let (_, usage) = answered_sync_key(&cloud, &s, files.path()).await;
    let vk_path = files.path().join("inst-de.verificationkey");
    let done = invoke(
        &s,
        "airgap_import",
        serde_json::json!({
            "path": usage.display().to_string(), "verificationPath": vk_path.display().to_string()
        }),
    )
    .await;
    assert!(done.get("error").is_none(), "imported: {done}");

    // The vendor revokes that token; the manager signs in again with a new one. The sync
    // that follows sends the file, and the cloud refuses it for good (403: it answers a sync
    // key signed under a revoked token's certificate).
    cloud.revoke_all_tokens();
    let token = cloud.token(None, TokenKind::Manager);
    let status = invoke(
        &s,
        "connect",
        serde_json::json!({ "url": cloud.url(), "token": token, "force": true }),
    )
    .await;
    assert!(status.get("error").is_none(), "signed in again: {status}");

    // The row says refused; the ledger keeps the file with Retry and Discard.
    let nav = s.wait("[data-testid=nav-airgap]").await;
    s.click(&nav).await;
    let badge = s
        .wait("[data-testid=instance-row][data-instance-id=inst-de] [data-testid=instance-refused]")
        .await;
    assert_eq!(s.text(&badge).await.trim(), "refused", "one refused file");
    let row = s
        .wait("[data-testid=instance-row][data-instance-id=inst-de]")
        .await;
    s.click(&row).await;
    s.wait("[data-testid=ledger-retry]").await;
    let discard = s.wait("[data-testid=ledger-discard]").await;
    let upload = s
        .wait("[data-testid=ledger-row][data-event=usage_imported] .badge.danger")
        .await;
    assert_eq!(s.text(&upload).await.trim(), "Refused by the cloud");
    let reason = s.attr(&upload, "title").await.unwrap_or_default();
    assert!(
        reason.contains("was revoked") && reason.contains("Issue a new sync key"),
        "the cloud's reason and what to do are in the badge's title: {reason}"
    );
    let shown = s
        .wait_text("[data-testid=ledger-refusal]", |t| {
            t.contains("was revoked")
        })
        .await;
    assert!(
        shown.contains("(403)") && shown.contains("Issue a new sync key"),
        "and in full under the entry: {shown}"
    );
    s.screenshot(&shots().join("10-refused-file.png")).await;

    // Cancel keeps it; confirm removes it, and the refused badge with it.
    s.click(&discard).await;
    let cancel = s.wait("[data-testid=confirm-cancel]").await;
    s.click(&cancel).await;
    assert_eq!(
        s.find_all("[data-testid=ledger-discard]").await.len(),
        1,
        "cancel keeps the file"
    );
    let discard = s.wait("[data-testid=ledger-discard]").await;
    s.click(&discard).await;
    let ok = s.wait("[data-testid=confirm-ok]").await;
    s.click(&ok).await;
    let deadline = std::time::Instant::now() + support::UI_TIMEOUT;
    while !s.find_all("[data-testid=ledger-discard]").await.is_empty()
        || !s
            .find_all("[data-testid=instance-refused]")
            .await
            .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the discarded file is still shown"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    s.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_page_shows_status_uptime_and_time_to_install() {
    use std::sync::Arc;
    let _one = ONE_WINDOW.lock().await;
    let data = usagedesk_testkit::customers_fixture(chrono::Utc::now());
    let cloud = Cloud::start_on(data.path(), Arc::new(usagedesk_domain::SystemClock)).await;
    let (s, _driver, _dir) = connected(&cloud).await;

    let nav = s.wait("[data-testid=nav-customers]").await;
    s.click(&nav).await;
    // The list reloads once the first sync lands; click again if a reload swallowed a click.
    for _ in 0..20 {
        let open = s
            .wait("[data-testid=customer-row][data-account-id=acme-fr] [data-testid=customer-open]")
            .await;
        s.click(&open).await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        if !s.find_all("[data-testid=customer-name]").await.is_empty() {
            break;
        }
    }

    // The values worked out by hand in `customers_fixture`.
    let card = "[data-testid=instance-card][data-instance-id=inst-fr]";
    let status = s
        .wait(&format!("{card} [data-testid=instance-status]"))
        .await;
    assert_eq!(
        s.attr(&status, "data-status").await.as_deref(),
        Some("ready")
    );
    let ratio = s
        .wait_text(&format!("{card} [data-testid=uptime-ratio]"), |t| {
            t.contains('%')
        })
        .await;
    assert_eq!(ratio, "95.0 %", "9 d 12 h up of the 10 d with data");
    let bars = s
        .find_all(&format!("{card} [data-testid=uptime-bar]"))
        .await;
    assert_eq!(bars.len(), 14, "one bar a day for two weeks");
    let who = s.text(&s.wait("[data-testid=tti-instance-id]").await).await;
    assert_eq!(
        who, "inst-fr",
        "time to install is inst-fr's (short id), not spare-fr2's"
    );
    let license = s.text(&s.wait("[data-testid=tti-license]").await).await;
    assert!(
        license.contains("2 d 2 h"),
        "license time to install: {license}"
    );
    let instance = s.text(&s.wait("[data-testid=tti-instance]").await).await;
    assert!(
        instance.contains("2 h"),
        "instance time to install: {instance}"
    );
    s.screenshot(&shots().join("07-customer.png")).await;
    s.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exchange_files_named_at_launch_are_explained_or_previewed() {
    use std::sync::Arc;
    let _one = ONE_WINDOW.lock().await;
    let cloud = Cloud::start_on(&small_fixture(), Arc::new(usagedesk_domain::SystemClock)).await;
    let (s, driver, data) = connected(&cloud).await;
    let files = tempfile::tempdir().expect("files");
    let (sync_key, usage) = answered_sync_key(&cloud, &s, files.path()).await;
    s.quit().await;

    // As a double-click on each file would (or `usagedesk FILE…`): the sync key, then the
    // usage data file, one after the other.
    let s = Session::launch(
        &driver,
        app(),
        &[
            "--data-dir".into(),
            data.path().display().to_string(),
            sync_key.display().to_string(),
            usage.display().to_string(),
        ],
    )
    .await;
    let dialog = s
        .wait("[data-testid=opened-dialog][data-kind=sync_key]")
        .await;
    let title = s
        .text(&s.wait("[data-testid=opened-dialog] h2").await)
        .await;
    assert_eq!(title, "Sync key for inst-de");
    let lead = s.text(&s.wait("[data-testid=opened-lead]").await).await;
    assert!(
        lead.contains("It goes to the customer’s instance, not into UsageDesk"),
        "the sync key is explained: {lead}"
    );
    assert_eq!(
        s.text(&s.wait("[data-testid=opened-instance]").await).await,
        "inst-de"
    );
    assert!(
        s.find_all("[data-testid=import-dialog]").await.is_empty(),
        "one file at a time: the usage data file waits"
    );
    assert!(
        s.text(&dialog).await.contains("Valid until"),
        "a fresh key is valid"
    );
    s.screenshot(&shots().join("08-opened-sync-key.png")).await;
    let close = s.wait("[data-testid=opened-close]").await;
    s.click(&close).await;

    // The usage data file: the import preview a drop opens, nothing imported yet.
    let preview = s.wait("[data-testid=import-preview]").await;
    assert_eq!(
        s.attr(&preview, "data-new").await.as_deref(),
        Some("1"),
        "one new record"
    );
    assert_eq!(
        s.text(&s.wait("[data-testid=import-instance]").await).await,
        "inst-de"
    );
    let subtitle = s.text(&s.wait("[data-testid=import-dialog]").await).await;
    assert!(subtitle.contains("inst-de.usagedesk-usage"), "{subtitle}");
    s.screenshot(&shots().join("09-opened-usage-file.png"))
        .await;
    let ledger = invoke(
        &s,
        "airgap_ledger",
        serde_json::json!({ "query": { "instance": "inst-de", "kept_only": false, "offset": 0, "limit": 50 } }),
    )
    .await;
    let events: Vec<&str> = ledger["items"]
        .as_array()
        .expect("ledger")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(
        events,
        ["sync_key_issued"],
        "opening a file imports nothing"
    );
    s.quit().await;
}

/// A private D-Bus session bus for one test (the single-instance plugin finds the running app
/// through it), stopped on drop.
struct SessionBus {
    daemon: std::process::Child,
    address: String,
}

impl SessionBus {
    fn start() -> Self {
        use std::io::BufRead;
        let mut daemon = std::process::Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("dbus-daemon (package dbus-daemon; scripts/setup.sh installs it)");
        let mut address = String::new();
        std::io::BufReader::new(daemon.stdout.take().expect("stdout"))
            .read_line(&mut address)
            .expect("bus address");
        let address = address.trim().to_owned();
        assert!(address.starts_with("unix:"), "bus address: {address}");
        Self { daemon, address }
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_launch_hands_its_file_to_the_running_window() {
    let _one = ONE_WINDOW.lock().await;
    let bus = SessionBus::start();
    let driver = TauriDriver::start_with(&[(
        "DBUS_SESSION_BUS_ADDRESS",
        std::ffi::OsStr::new(&bus.address),
    )]);
    // The first launch, on its own data folder under the driver's HOME (no --data-dir: one
    // window per user).
    let s = Session::launch(&driver, app(), &["--demo".into()]).await;
    s.wait("[data-testid=tree-row]").await;

    // A second launch from another folder, with a relative path, as a file manager or a shell
    // would start it.
    let mail = tempfile::tempdir().expect("folder");
    let sample = usagedesk_airgap::samples::samples();
    let name = "from-mail.usagedesk-synckey";
    std::fs::write(mail.path().join(name), &sample.sync_key).expect("write");
    let mut second = std::process::Command::new(app())
        .arg(name)
        .current_dir(mail.path())
        .env("HOME", driver.home())
        .env("XDG_RUNTIME_DIR", driver.home().join("run"))
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .spawn()
        .expect("second launch");
    let deadline = std::time::Instant::now() + support::UI_TIMEOUT;
    let status = loop {
        if let Some(status) = second.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = second.kill();
            panic!("the second launch did not hand over and exit: it opened a window of its own");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        status.success(),
        "the second launch exits cleanly: {status}"
    );

    // The first window shows the file, resolved against the second launch's folder.
    s.wait("[data-testid=opened-dialog][data-kind=sync_key]")
        .await;
    let instance = s.text(&s.wait("[data-testid=opened-instance]").await).await;
    let parsed = usagedesk_airgap::SyncKey::parse(sample.sync_key.as_bytes()).expect("sample");
    assert_eq!(instance, parsed.unverified().instance_id);
    let shown = s.text(&s.wait("[data-testid=opened-dialog]").await).await;
    assert!(shown.contains(name), "{shown}");
    s.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_window_keeps_its_size_and_place_across_restarts() {
    let _one = ONE_WINDOW.lock().await;
    let driver = TauriDriver::start();
    let data = tempfile::tempdir().expect("data dir");
    let s = launch(&driver, data.path()).await;
    s.wait("[data-testid=connect-url]").await;
    let first = s.window_rect().await;
    s.set_window_rect(40, 30, 1000, 700).await;
    let moved = s.window_rect().await;
    assert_eq!((moved.2, moved.3), (1000, 700), "resized from {first:?}");
    // Closed by its close button: the app exits and keeps the window's state. A click the
    // app did not take is clicked again, as a user would; the count is in any failure.
    let state = driver
        .home()
        .join(".config/com.usagedesk.app/.window-state.json");
    let start = std::time::Instant::now();
    let mut closes = 0;
    let mut on_screen = true;
    let mut next_close = start;
    while !state.exists() {
        if on_screen && std::time::Instant::now() >= next_close {
            on_screen = support::close_like_a_window_manager("UsageDesk");
            closes += u32::from(on_screen);
            next_close = std::time::Instant::now() + std::time::Duration::from_secs(5);
        }
        assert!(
            start.elapsed() < support::UI_TIMEOUT,
            "the app did not exit and save its window state at {} after {closes} close \
             request(s); its window is {}on the screen",
            state.display(),
            if on_screen { "still " } else { "no longer " }
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    s.quit().await;

    let s = launch(&driver, data.path()).await;
    s.wait("[data-testid=connect-url]").await;
    assert_eq!(
        s.window_rect().await,
        moved,
        "the window opens where and as large as it was"
    );
    s.quit().await;
}

/// Utilization as the Entitlements card writes it: one decimal under 100 % (".0" dropped),
/// whole percents with `,` separators from 100 % on, "—" when undefined.
fn utilization_text(u: Option<f64>) -> String {
    match u {
        None => "—".into(),
        Some(u) if u * 100.0 >= 100.0 => format!("{} %", grouped((u * 100.0).round() as u64)),
        Some(u) => {
            let one = (u * 1000.0).round() / 10.0;
            if one.fract() == 0.0 {
                format!("{one:.0} %")
            } else {
                format!("{one:.1} %")
            }
        }
    }
}

/// The number in a cell of the card's row `row`, once it reads `want`.
async fn cell(s: &Session, row: &str, id: &str, want: &str) -> String {
    s.wait_text(&format!("{row} [data-testid={id}]"), |t| t == want)
        .await
}

/// Opens an account through the search box and waits for its name in the pane.
async fn open_account(s: &Session, id: &str, name: &str) {
    let search = s.wait("[data-testid=search-input]").await;
    s.type_text(&search, id).await;
    let hit = s
        .wait(&format!(
            "[data-testid=search-result][data-account-id={id}]"
        ))
        .await;
    s.click(&hit).await;
    s.wait_text("[data-testid=account-name]", |t| t == name)
        .await;
}

/// The Entitlements card's numbers for one account and month equal the definitions' (own
/// licenses per plan, and every plan rolled up over the subtree).
async fn assert_entitlements(
    s: &Session,
    exp: &usagedesk_testkit::ExpectedEntitlements,
    id: &str,
    month: &str,
) -> usize {
    let card = format!(
        "[data-testid=entitlements-card][data-state=ready][data-account-id={id}][data-month='{month}']"
    );
    let card = card.as_str();
    s.wait(card).await;
    let mut checked = 0;
    for e in exp.entitlements(id, "self", month) {
        let row = format!(
            "{card} [data-testid=ent-own-row][data-license-id={}][data-plan={}]",
            e.license_id, e.plan
        );
        let seats = e.seats.map_or_else(|| "none".to_string(), grouped);
        for (cell_id, want) in [
            ("ent-seats", seats),
            ("ent-used", grouped(e.used)),
            ("ent-overage", grouped(e.overage)),
            ("ent-utilization", utilization_text(e.utilization)),
        ] {
            let shown = cell(s, &row, cell_id, &want).await;
            assert_eq!(
                shown, want,
                "{cell_id} of {} {} on {id} in {month}",
                e.license_id, e.plan
            );
        }
        let forecast = s
            .text(&s.wait(&format!("{row} [data-testid=ent-forecast]")).await)
            .await;
        match e.forecast_at_expiry {
            Some(f) => {
                // One decimal, `,` thousands separators (the forecast is never negative).
                let text = format!("{f:.1}");
                let (whole, tenth) = text.split_once('.').expect("one decimal");
                let want = format!(
                    "{}.{tenth}",
                    grouped(whole.parse().expect("a whole number"))
                );
                assert_eq!(forecast, want, "forecast of {} {}", e.license_id, e.plan);
            }
            None => assert!(
                forecast == "no forecast" || forecast.starts_with("none"),
                "no forecast for {}: {forecast}",
                e.license_id
            ),
        }
        let over = e
            .forecast_at_expiry
            .is_some_and(|f| f > e.seats.unwrap_or(0) as f64);
        let flagged = s
            .find_all(&format!("{row} [data-testid=ent-forecast-over]"))
            .await;
        assert_eq!(
            !flagged.is_empty(),
            over,
            "over-seats flag of {} {}",
            e.license_id,
            e.plan
        );
        checked += 1;
    }
    let own_rows = s
        .find_all(&format!("{card} [data-testid=ent-own-row]"))
        .await;
    assert_eq!(
        own_rows.len(),
        exp.entitlements(id, "self", month).len(),
        "own rows of {id}"
    );
    let rolled = exp.rollup(id, month);
    for (plan, (seats, used, overage)) in &rolled {
        let row = format!("{card} [data-testid=ent-rollup-row][data-plan={plan}]");
        for (cell_id, want) in [
            ("ent-seats", grouped(*seats)),
            ("ent-used", grouped(*used)),
            ("ent-overage", grouped(*overage)),
        ] {
            let shown = cell(s, &row, cell_id, &want).await;
            assert_eq!(
                shown, want,
                "rolled-up {cell_id} of {plan} on {id} in {month}"
            );
        }
        checked += 1;
    }
    let rows = s
        .find_all(&format!("{card} [data-testid=ent-rollup-row]"))
        .await;
    assert_eq!(
        rows.len(),
        rolled.len(),
        "one rolled-up row per plan of {id}"
    );
    checked
}

#[tokio::test(flavor = "multi_thread")]
async fn the_entitlements_card_shows_the_numbers_of_the_definitions() {
    use std::sync::Arc;
    let _one = ONE_WINDOW.lock().await;
    // The app reads the real clock: the dataset is built around today's month.
    let today = chrono::Utc::now().date_naive();
    let data = usagedesk_testkit::entitlements_fixture(today);
    let exp = usagedesk_testkit::ExpectedEntitlements::from_dir(data.path());
    let cloud = Cloud::start_on(data.path(), Arc::new(usagedesk_domain::SystemClock)).await;
    let token = cloud.token(None, TokenKind::Manager);
    let driver = TauriDriver::start();
    let dir = tempfile::tempdir().expect("data dir");
    let s = launch(&driver, dir.path()).await;
    connect(&s, &cloud.url(), &token).await;
    s.wait("[data-testid=tree-row][data-account-id=root]").await;
    // The month before the last completed one: cust-b reported then (not in the last).
    let month = usagedesk_testkit::month_back(today, 2);

    // cust-b: a license with seats and one without (all of its use is overage).
    open_account(&s, "cust-b", usagedesk_testkit::CUSTOMER_B).await;
    // The account must be on screen before the month changes, or its load resets the picker.
    let select = s.wait("[data-testid=month-select]").await;
    s.script(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
        vec![
            serde_json::json!({"element-6066-11e4-a52e-4f735466cecf": select}),
            month.clone().into(),
        ],
    )
    .await;
    let mut checked = assert_entitlements(&s, &exp, "cust-b", &month).await;
    assert!(
        exp.entitlements("cust-b", "self", &month)
            .iter()
            .any(|e| e.seats.is_none() && e.overage > 0),
        "the dataset shows a plan without seats used"
    );
    let card = s.wait("[data-testid=entitlements-card]").await;
    s.script(
        "arguments[0].scrollIntoView({block: 'start'});",
        vec![serde_json::json!({"element-6066-11e4-a52e-4f735466cecf": card})],
    )
    .await;
    s.screenshot(&shots().join("11-entitlements.png")).await;
    // root: its own license, and every plan rolled up over nested licenses.
    open_account(&s, "root", "Root Holdings").await;
    checked += assert_entitlements(&s, &exp, "root", &month).await;
    // The list of licenses over their seats in root's subtree: as many rows as the definitions
    // give (the fixture has fewer than a page).
    let over: usize = exp
        .entitlements("root", "tree", &month)
        .iter()
        .filter(|e| e.overage > 0)
        .count();
    assert!(over > 0, "some license is over its seats in {month}");
    // Its rows are drawn once it comes near the screen (below the cards): scroll to it.
    let list = s.wait("[data-testid=license-list][data-filter=over]").await;
    s.script(
        "arguments[0].scrollIntoView({block: 'start'});",
        vec![serde_json::json!({"element-6066-11e4-a52e-4f735466cecf": list})],
    )
    .await;
    for _ in 0..50 {
        if s.find_all("[data-testid=license-row]").await.len() == over {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        s.find_all("[data-testid=license-row]").await.len(),
        over,
        "licenses over seats"
    );
    // cust-b's long name is cut with an ellipsis inside its own cell, not clipped mid-letter
    // or pushed off the card: at the default window size every column, Overage last, is
    // inside the list's card and nothing scrolls sideways.
    let fit = s
        .script(
            "const card = arguments[0]; const scroll = card.querySelector('.scroll'); \
             const cell = card.querySelector('[data-testid=license-row][data-license-id^=LIC-B] td.name'); \
             const name = cell.querySelector('button'); \
             const last = card.querySelector('thead th:last-child').getBoundingClientRect(); \
             return {sideways: scroll.scrollWidth - scroll.clientWidth, \
                     overage_inside: Math.round(card.getBoundingClientRect().right - last.right), \
                     name_cut: name.scrollWidth > name.clientWidth, \
                     name_past_cell: Math.round(name.getBoundingClientRect().right - cell.getBoundingClientRect().right)};",
            vec![serde_json::json!({"element-6066-11e4-a52e-4f735466cecf": list})],
        )
        .await;
    assert_eq!(
        fit["sideways"], 0,
        "the license list scrolls sideways: {fit}"
    );
    assert!(
        fit["overage_inside"].as_i64().is_some_and(|px| px >= 0),
        "Overage is off the card: {fit}"
    );
    assert_eq!(
        fit["name_cut"], true,
        "cust-b's long name is cut with an ellipsis: {fit}"
    );
    assert!(
        fit["name_past_cell"].as_i64().is_some_and(|px| px <= 0),
        "the name runs past its cell: {fit}"
    );
    // cust-c holds no license and has no descendant: the card says so.
    open_account(&s, "cust-c", "Customer C").await;
    assert_eq!(exp.rollup("cust-c", &month).len(), 0);
    s.wait("[data-testid=entitlements-none]").await;
    assert!(checked >= 5, "compared {checked} rows");
    s.quit().await;
}
