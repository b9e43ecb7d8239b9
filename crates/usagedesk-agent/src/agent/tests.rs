//! The agent through its facade: set-up, opening, licenses, recording and status.

use std::fs;
use std::io::Read;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use usagedesk_airgap::{PublicKey, SigningKey};

use super::*;
use crate::{DailyUsage, DB_FILE, KEY_FILE, MAX_CSV_BYTES};

fn root() -> usagedesk_airgap::RootKey {
    usagedesk_airgap::RootKey::generate(&mut ChaCha20Rng::seed_from_u64(1))
}

fn vendor() -> PublicKey {
    root().public_key()
}

fn license_file(instance_id: &str) -> String {
    usagedesk_airgap::LicenseFile::issue(
        &root(),
        &usagedesk_airgap::LicenseRequest {
            license_id: "lic-1".into(),
            instance_id: instance_id.into(),
            account_path: vec!["msp".into(), "acme".into()],
            airgapped: true,
            expires_at: now() + chrono::Duration::days(30),
        },
        &mut ChaCha20Rng::seed_from_u64(3),
        now() - chrono::Duration::days(1),
    )
    .unwrap()
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn init(dir: &Path) -> Result<Agent> {
    Agent::init(
        dir,
        license_file("inst-1").as_bytes(),
        &vendor(),
        now(),
        &mut ChaCha20Rng::seed_from_u64(2),
    )
}

fn row(account: &str, date: &str, registered: u64) -> DailyUsage {
    DailyUsage {
        account_id: account.into(),
        date: NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap(),
        plan: "standard".into(),
        users_registered: registered,
        users_with_token: 1,
        users_with_activity: 1,
    }
}

fn today() -> NaiveDate {
    now().date_naive()
}

#[test]
fn init_then_open_gives_the_same_identity_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let created = init(&state).unwrap();
    let opened = Agent::open(&state).unwrap();
    assert_eq!(opened.identity(), created.identity());
    assert_eq!(opened.state.key.to_bytes(), created.state.key.to_bytes());
    assert_eq!(opened.marks().unwrap(), (0, 0));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode(&state.join(KEY_FILE)),
            0o600,
            "the secret is the owner's only"
        );
        assert_eq!(mode(&state), 0o700);
    }
}

#[test]
fn init_refuses_an_initialised_directory_and_keeps_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let first = init(dir.path()).unwrap();
    let key_before = fs::read(dir.path().join(KEY_FILE)).unwrap();
    let e = init(dir.path()).unwrap_err();
    assert_eq!(e.code(), "already_initialised", "{e}");
    assert!(e.to_string().contains("agent.db exists"), "{e}");
    assert_eq!(fs::read(dir.path().join(KEY_FILE)).unwrap(), key_before);
    assert_eq!(
        Agent::open(dir.path()).unwrap().identity(),
        first.identity()
    );
}

#[test]
fn init_refuses_a_license_file_it_cannot_trust_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // Another vendor's root; an expired file; one altered in transit.
    let other = usagedesk_airgap::RootKey::generate(&mut ChaCha20Rng::seed_from_u64(9));
    let e = Agent::init(
        &state,
        license_file("inst-1").as_bytes(),
        &other.public_key(),
        now(),
        &mut ChaCha20Rng::seed_from_u64(2),
    )
    .unwrap_err();
    assert_eq!(e.code(), "untrusted_key", "{e}");
    let e = Agent::init(
        &state,
        license_file("inst-1").as_bytes(),
        &vendor(),
        now() + chrono::Duration::days(30),
        &mut ChaCha20Rng::seed_from_u64(2),
    )
    .unwrap_err();
    assert_eq!(e.code(), "expired", "{e}");
    assert!(e.to_string().contains("license file"), "{e}");
    let altered = license_file("inst-1").replace("\"acme\"", "\"acmf\"");
    let e = Agent::init(
        &state,
        altered.as_bytes(),
        &vendor(),
        now(),
        &mut ChaCha20Rng::seed_from_u64(2),
    )
    .unwrap_err();
    assert_eq!(e.code(), "bad_signature", "{e}");
    assert!(!state.exists(), "nothing was written");
}

#[test]
fn the_license_comes_from_the_file_and_is_checked_on_every_open() {
    let dir = tempfile::tempdir().unwrap();
    let agent = init(dir.path()).unwrap();
    let l = agent.license().unwrap();
    assert_eq!(l.account_path, ["msp", "acme"]);
    assert!(l.airgapped);
    assert_eq!(agent.identity().license_id, "lic-1");
    drop(agent);
    let opened = Agent::open(dir.path()).unwrap();
    assert_eq!(opened.license().unwrap().account_path, ["msp", "acme"]);

    // Editing the stored path without the vendor's key makes the state unusable, not
    // trusting.
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.execute(
        "UPDATE instance SET enrollment = replace(enrollment, '\"acme\"', '\"other\"')",
        [],
    )
    .unwrap();
    drop((opened, conn));
    let e = Agent::open(dir.path()).unwrap_err();
    assert_eq!(e.code(), "corrupt_state", "{e}");
    assert!(e.to_string().contains("license"), "{e}");
}

#[test]
fn a_newer_license_file_replaces_the_license_and_keeps_key_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init(dir.path()).unwrap();
    agent
        .record_rows(&[row("acme", "2026-03-01", 1)], today())
        .unwrap();
    let key = agent.public_key();
    let moved = usagedesk_airgap::LicenseFile::issue(
        &root(),
        &usagedesk_airgap::LicenseRequest {
            license_id: "lic-2".into(),
            instance_id: "inst-1".into(),
            account_path: vec!["msp-2".into(), "acme".into()],
            airgapped: false,
            expires_at: now() + chrono::Duration::days(30),
        },
        &mut ChaCha20Rng::seed_from_u64(4),
        now(),
    )
    .unwrap();
    let change = agent.set_license(moved.as_bytes(), now()).unwrap();
    assert_eq!(change.previous.unwrap().account_path, ["msp", "acme"]);
    assert_eq!(change.current.account_path, ["msp-2", "acme"]);
    drop(agent);
    let agent = Agent::open(dir.path()).unwrap();
    assert_eq!(agent.identity().license_id, "lic-2");
    assert_eq!(agent.public_key(), key, "the instance keeps its key");
    assert_eq!(agent.pending_count().unwrap(), 1, "and its records");
    assert!(!agent.license().unwrap().airgapped);

    // The first file again is older: refused. Another instance's file: refused.
    let mut agent = agent;
    let e = agent
        .set_license(license_file("inst-1").as_bytes(), now())
        .unwrap_err();
    assert_eq!(e.code(), "older_license", "{e}");
    let e = agent
        .set_license(license_file("inst-2").as_bytes(), now())
        .unwrap_err();
    assert_eq!(e.code(), "wrong_instance", "{e}");
    assert_eq!(agent.license().unwrap().account_path, ["msp-2", "acme"]);
}

#[test]
fn open_says_what_is_wrong_with_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let e = Agent::open(dir.path()).unwrap_err();
    assert_eq!(e.code(), "not_initialised");
    assert!(e.to_string().contains("run `usagedesk-agent init"), "{e}");

    drop(init(dir.path()).unwrap());
    let other = SigningKey::generate(&mut ChaCha20Rng::seed_from_u64(9));
    fs::write(dir.path().join(KEY_FILE), other.to_secret_text()).unwrap();
    let e = Agent::open(dir.path()).unwrap_err();
    assert_eq!(
        e.code(),
        "corrupt_state",
        "a key from another state must not sign: {e}"
    );

    fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
    let e = Agent::open(dir.path()).unwrap_err();
    assert!(e.to_string().contains("instance.key is missing"), "{e}");
}

#[test]
fn recording_gives_seqs_skips_identical_values_and_requeues_changed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init(dir.path()).unwrap();
    let s = agent
        .record_rows(
            &[row("a", "2026-03-01", 10), row("b", "2026-03-01", 20)],
            today(),
        )
        .unwrap();
    assert_eq!((s.new, s.changed, s.unchanged), (2, 0, 0));
    assert_eq!((s.first_seq, s.last_seq, s.waiting), (Some(1), Some(2), 2));

    // Same values again: nothing to send. One changed: a new seq, the old one leaves.
    let s = agent
        .record_rows(
            &[row("a", "2026-03-01", 10), row("b", "2026-03-01", 21)],
            today(),
        )
        .unwrap();
    assert_eq!((s.new, s.changed, s.unchanged), (0, 1, 1));
    assert_eq!(s.first_seq, Some(3));
    let pending = agent.pending().unwrap();
    let seqs: Vec<_> = pending
        .iter()
        .map(|r| (r.seq, r.account_id.as_str()))
        .collect();
    assert_eq!(
        seqs,
        [(1, "a"), (3, "b")],
        "one record per account-day waits"
    );
    assert_eq!(pending[1].users_registered, 21);
    assert_eq!(agent.marks().unwrap(), (3, 0));
}

#[test]
fn a_later_row_for_the_same_day_wins_within_one_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init(dir.path()).unwrap();
    let s = agent
        .record_rows(
            &[row("a", "2026-03-01", 10), row("a", "2026-03-01", 11)],
            today(),
        )
        .unwrap();
    assert_eq!((s.rows, s.superseded_in_input, s.new), (2, 1, 1));
    let pending = agent.pending().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].users_registered, 11);
}

#[test]
fn discarding_an_accounts_waiting_records_forgets_those_days_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init_agent_with_rows(dir.path());
    // "typo" was recorded by mistake on two days; "a" is fine.
    assert_eq!(
        agent
            .discard("typo", NaiveDate::from_ymd_opt(2026, 3, 1))
            .unwrap(),
        1
    );
    assert_eq!(agent.discard("typo", None).unwrap(), 1);
    assert_eq!(
        agent.discard("typo", None).unwrap(),
        0,
        "nothing left to discard"
    );
    let left: Vec<_> = agent
        .pending()
        .unwrap()
        .into_iter()
        .map(|r| r.account_id)
        .collect();
    assert_eq!(left, ["a"]);
    // Forgotten, not remembered as sent: recording the day again queues it.
    let s = agent
        .record_rows(&[row("typo", "2026-03-01", 1)], today())
        .unwrap();
    assert_eq!((s.new, s.unchanged), (1, 0));
    // The account's other, kept day is still known.
    let s = agent
        .record_rows(&[row("a", "2026-03-01", 1)], today())
        .unwrap();
    assert_eq!(s.unchanged, 1);
}

fn init_agent_with_rows(dir: &Path) -> Agent {
    let mut agent = init(dir).unwrap();
    agent
        .record_rows(
            &[
                row("a", "2026-03-01", 1),
                row("typo", "2026-02-28", 1),
                row("typo", "2026-03-01", 1),
            ],
            today(),
        )
        .unwrap();
    agent
}

#[test]
fn a_bad_row_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init(dir.path()).unwrap();
    let e = agent
        .record_rows(
            &[row("a", "2026-03-01", 1), row("b", "2026-03-09", 1)],
            today(),
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("line 2: date 2026-03-09 is after today"),
        "{e}"
    );
    assert_eq!(agent.pending_count().unwrap(), 0, "all or nothing");
    assert_eq!(agent.marks().unwrap(), (0, 0));
}

#[test]
fn an_oversized_csv_is_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init(dir.path()).unwrap();
    let huge = std::io::repeat(b'x').take(MAX_CSV_BYTES + 1);
    let e = agent.record("big.csv", huge, today()).unwrap_err();
    assert_eq!(e.code(), "too_large", "{e}");
    assert!(e.to_string().contains("split it into smaller files"), "{e}");
}

#[test]
fn status_reports_what_waits() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init(dir.path()).unwrap();
    agent
        .record_rows(
            &[row("a", "2026-02-27", 1), row("a", "2026-03-01", 1)],
            today(),
        )
        .unwrap();
    let s = agent.status().unwrap();
    assert_eq!(s.instance_id, "inst-1");
    assert_eq!(s.records_waiting, 2);
    assert_eq!(s.waiting_first_date, NaiveDate::from_ymd_opt(2026, 2, 27));
    assert_eq!(s.waiting_last_date, NaiveDate::from_ymd_opt(2026, 3, 1));
    assert_eq!((s.last_seq, s.confirmed_mark), (2, 0));
    assert!(s.last_export.is_none());
    assert!(s.public_key.starts_with("ed25519:"));
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["records_waiting"], 2);
    assert_eq!(json["waiting_first_date"], "2026-02-27");
}
