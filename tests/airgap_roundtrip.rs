//! The air-gapped exchange end to end with the built binaries and real files: the agent at
//! the customer, the manager CLI, and the cloud on loopback (on the real clock, as the
//! binaries read it). Then the agent's online mode against the same cloud.

mod bins;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use usagedesk_cloud::storage::TokenKind;
use usagedesk_domain::SystemClock;
use usagedesk_testkit::{small_fixture, Cloud};

async fn run(bin: &Path, args: &[&str], token: Option<&str>) -> Output {
    run_in(bin, Path::new("."), args, token).await
}

/// Runs `bin` in the working directory `dir`, where it writes files it names itself.
async fn run_in(bin: &Path, dir: &Path, args: &[&str], token: Option<&str>) -> Output {
    let mut cmd = std::process::Command::new(bin);
    cmd.args(args)
        .current_dir(dir)
        .env_remove("USAGEDESK_TOKEN");
    if let Some(t) = token {
        cmd.env("USAGEDESK_TOKEN", t);
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("run"))
        .await
        .expect("join")
}

fn ok(o: &Output) -> String {
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "failed: {out}\n{err}");
    format!("{out}{err}")
}

fn failed(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "should have failed: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The one file in `dir` with extension `ext`, named `inst-de-YYYYMMDD.EXT` by its writer.
fn written(dir: &Path, ext: &str) -> String {
    let found: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one .{ext} file in {}: {found:?}",
        dir.display()
    );
    let name = found[0].file_name().expect("name").to_string_lossy();
    let date = name
        .strip_prefix("inst-de-")
        .and_then(|r| r.strip_suffix(&format!(".{ext}")))
        .unwrap_or_default();
    assert!(
        date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()),
        "named instance-yyyymmdd.{ext}: {name}"
    );
    found[0].display().to_string()
}

/// Rewrites every line end of the file as CRLF, as a Windows mail client may.
fn to_crlf(path: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(!text.contains('\r'), "written with LF line ends");
    std::fs::write(path, text.replace('\n', "\r\n")).expect("write");
}

/// The own month-end `users_registered` of `account` in `month`, from `usage --json`.
async fn registered(cli: &Path, data: &str, account: &str, month: &str) -> Option<u64> {
    let out = run(
        cli,
        &[
            "--data-dir",
            data,
            "usage",
            "--account",
            account,
            "--month",
            month,
            "--json",
        ],
        None,
    )
    .await;
    let line = ok(&out);
    let v: serde_json::Value =
        serde_json::from_str(line.lines().next().expect("a line")).expect("JSON");
    v["own"]["users_registered"].as_u64()
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_cli_and_cloud_exchange_real_files() {
    let cloud = Cloud::start_on(&small_fixture(), Arc::new(SystemClock)).await;
    let token = cloud.token(None, TokenKind::Manager);
    let url = cloud.url();
    let (cli, agent, cloud_bin) = (
        bins::sibling("usagedesk-cli", "usagedesk-cli"),
        bins::sibling("usagedesk-agent", "usagedesk-agent"),
        bins::sibling("usagedesk-cloud", "usagedesk-cloud"),
    );
    let db = cloud.dir.path().join("cloud.db").display().to_string();
    let work = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| work.path().join(name).display().to_string();
    let data = path("manager");

    // The manager syncs: accounts, instances, and a signing certificate.
    ok(&run(
        &cli,
        &["--data-dir", &data, "sync", "--url", &url],
        Some(&token),
    )
    .await);
    let vendor: serde_json::Value = reqwest::get(format!(
        "{}/api/v1/airgap/vendor-key",
        url.trim_end_matches('/')
    ))
    .await
    .expect("vendor key")
    .json()
    .await
    .expect("JSON");
    let vendor = vendor["public_key"]
        .as_str()
        .expect("public key")
        .to_owned();

    // The vendor writes the instance's license file; the customer's instance is set up from
    // it: its own key, its account, and usage recorded for its accounts.
    let license = path("inst-de.license");
    ok(&run(
        &cloud_bin,
        &[
            "license-file",
            "--db",
            &db,
            "--instance",
            "inst-de",
            "-o",
            &license,
        ],
        None,
    )
    .await);
    let state = path("agent");
    ok(&run(
        &agent,
        &[
            "init",
            "--state",
            &state,
            "--license-file",
            &license,
            "--vendor-key",
            &vendor,
        ],
        None,
    )
    .await);
    let csv = path("usage.csv");
    std::fs::write(
        &csv,
        "account_id,date,plan,users_registered,users_with_token,users_with_activity\n\
         acme-de,2024-06-30,premium,900,450,225\n\
         acme-de-ber,2024-06-30,basic,41,20,10\n",
    )
    .expect("csv");
    ok(&run(&agent, &["record", "--state", &state, &csv], None).await);

    // Nobody can claim an air-gapped instance's key over the network, not even the instance.
    let claimed = failed(&run(&agent, &["push", "--state", &state, "--url", &url], None).await);
    assert!(claimed.contains("air-gapped"), "{claimed}");

    // Sync key out, usage data file back, verification key out: each written under the name
    // its writer chooses, and each carried through a Windows mail client that rewrote every
    // line end to CRLF.
    let exchange = work.path().join("exchange");
    std::fs::create_dir(&exchange).expect("exchange folder");
    ok(&run_in(
        &cli,
        &exchange,
        &[
            "--data-dir",
            &data,
            "airgap",
            "issue-sync-key",
            "--instance",
            "inst-de",
        ],
        None,
    )
    .await);
    let sk = written(&exchange, "usagedesk-synckey");
    to_crlf(&sk);
    ok(&run_in(
        &agent,
        &exchange,
        &["airgap", "export", "--state", &state, "--sync-key", &sk],
        None,
    )
    .await);
    let ud = written(&exchange, "usagedesk-usage");
    to_crlf(&ud);
    let dry = ok(&run(
        &cli,
        &["--data-dir", &data, "airgap", "import", &ud, "--dry-run"],
        None,
    )
    .await);
    assert!(dry.contains("2 new"), "{dry}");
    ok(&run_in(
        &cli,
        &exchange,
        &["--data-dir", &data, "airgap", "import", &ud],
        None,
    )
    .await);
    let vk = written(&exchange, "usagedesk-verification");
    to_crlf(&vk);
    // Shown at once, offline.
    assert_eq!(
        registered(&cli, &data, "acme-de", "2024-06").await,
        Some(900)
    );
    ok(&run(
        &agent,
        &[
            "airgap",
            "confirm",
            "--state",
            &state,
            "--verification-key",
            &vk,
        ],
        None,
    )
    .await);

    // The same file again: nothing changes, the verification key is written again.
    let again = failed(
        &run(
            &cli,
            &[
                "--data-dir",
                &data,
                "airgap",
                "import",
                &ud,
                "-o",
                &path("again.vk"),
            ],
            None,
        )
        .await,
    );
    assert!(again.contains("already imported"), "{again}");
    assert_eq!(
        std::fs::read_to_string(path("again.vk")).ok(),
        std::fs::read_to_string(&vk)
            .ok()
            .map(|t| t.replace("\r\n", "\n")),
        "the same verification key, as written (LF)"
    );

    // A flipped byte in transit is refused, and names the reason.
    let mut bytes = std::fs::read(&ud).expect("usage file");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(path("flipped.usage"), &bytes).expect("write");
    failed(
        &run(
            &cli,
            &[
                "--data-dir",
                &data,
                "airgap",
                "import",
                &path("flipped.usage"),
                "-o",
                &path("x.vk"),
            ],
            None,
        )
        .await,
    );
    assert!(
        !Path::new(&path("x.vk")).exists(),
        "a refused file gets no verification key"
    );

    // The next sync pushes the import; a fresh manager sees the cloud's numbers.
    let synced = ok(&run(&cli, &["--data-dir", &data, "sync"], Some(&token)).await);
    assert!(synced.contains("uploaded 1"), "{synced}");
    let fresh = path("fresh");
    ok(&run(
        &cli,
        &["--data-dir", &fresh, "sync", "--url", &url],
        Some(&token),
    )
    .await);
    assert_eq!(
        registered(&cli, &fresh, "acme-de", "2024-06").await,
        Some(900),
        "the cloud has it"
    );
    assert_eq!(
        registered(&cli, &fresh, "acme-de-ber", "2024-06").await,
        Some(41)
    );
    let ledger = ok(&run(
        &cli,
        &["--data-dir", &data, "airgap", "ledger", "--json"],
        None,
    )
    .await);
    assert_eq!(
        ledger
            .lines()
            .filter(|l| l.contains("usage_imported"))
            .count(),
        1,
        "{ledger}"
    );
    assert!(ledger.contains("\"upload\":\"uploaded\""), "{ledger}");

    // Online mode: an instance that can reach the cloud pushes the same kind of records; its
    // first push enrolls its key with its license file.
    let fr_license = path("inst-fr.license");
    ok(&run(
        &cloud_bin,
        &[
            "license-file",
            "--db",
            &db,
            "--instance",
            "inst-fr",
            "-o",
            &fr_license,
        ],
        None,
    )
    .await);
    let online = path("online");
    ok(&run(
        &agent,
        &[
            "init",
            "--state",
            &online,
            "--license-file",
            &fr_license,
            "--vendor-key",
            &vendor,
        ],
        None,
    )
    .await);
    let csv = path("fr.csv");
    std::fs::write(
        &csv,
        "account_id,date,plan,users_registered,users_with_token,users_with_activity\n\
         acme-fr,2024-06-30,standard,77,50,25\n",
    )
    .expect("csv");
    ok(&run(&agent, &["record", "--state", &online, &csv], None).await);
    ok(&run(&agent, &["push", "--state", &online, "--url", &url], None).await);
    ok(&run(&cli, &["--data-dir", &fresh, "sync"], Some(&token)).await);
    assert_eq!(
        registered(&cli, &fresh, "acme-fr", "2024-06").await,
        Some(77),
        "pushed online"
    );
}
