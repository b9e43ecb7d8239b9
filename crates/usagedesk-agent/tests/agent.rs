//! The agent through its library API and its binary, against a vendor built from the
//! `usagedesk-airgap` crate: record → export → the vendor's checks → verification key →
//! confirm.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use chrono::{Duration, Utc};
use common::*;
use usagedesk_agent::{Agent, AgentError};
use usagedesk_airgap::{FileKind, UsageData};

const NOW: &str = "2026-03-02T09:00:00Z";

fn seqs(agent: &Agent) -> Vec<u64> {
    agent.pending().unwrap().iter().map(|r| r.seq).collect()
}

/// Everything the state shows: equal before and after means nothing was written.
fn snapshot(
    agent: &Agent,
) -> (
    usagedesk_agent::Status,
    Vec<usagedesk_agent::ExportInfo>,
    Vec<u64>,
) {
    (
        agent.status().unwrap(),
        agent.exports(100).unwrap(),
        seqs(agent),
    )
}

#[test]
fn the_round_trip_drops_records_exactly_up_to_the_accepted_mark() {
    let now = t(NOW);
    let today = now.date_naive();
    let mut vendor = Vendor::new(1, now - Duration::days(1));
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init_agent(dir.path(), &mut vendor, now);
    agent
        .record_rows(
            &[
                usage("acme", "2026-02-27", 100),
                usage("acme", "2026-02-28", 101),
                usage("acme-eu", "2026-02-28", 30),
                usage("acme", "2026-03-01", 102),
            ],
            today,
        )
        .unwrap();
    assert_eq!(seqs(&agent), [1, 2, 3, 4]);

    // The vendor holds nothing yet: mark 0.
    let sk = vendor.sync_key(0, now);
    let export = agent
        .export_for(sk.as_bytes(), now + Duration::hours(1))
        .unwrap();
    assert_eq!(
        (
            export.records,
            export.highest_seq_sent,
            export.remaining_records
        ),
        (4, 4, 0)
    );
    assert_eq!(export.above_mark, 0);
    assert!(FileKind::UsageData.max_bytes() >= export.text.len());

    // The vendor's import verifies it and sees exactly what was recorded.
    let (vsk, ud) = vendor.verify_usage(
        &sk,
        &export.text,
        &agent.public_key(),
        now + Duration::hours(2),
    );
    assert_eq!(ud.instance_id, INSTANCE);
    assert_eq!(ud.license_id, LICENSE);
    assert_eq!(
        ud.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(ud.records[2].account_id, "acme-eu");
    assert_eq!(ud.records[2].users_registered, 30);
    assert_eq!(ud.sha256(), export.usage_file_sha256);

    // It accepts only up to seq 3 (say seq 4 named an account it does not know yet).
    let vk = vendor.verification_key(&vsk, &ud, 3, now + Duration::hours(3));
    let c = agent
        .confirm(vk.as_bytes(), now + Duration::hours(4))
        .unwrap();
    assert_eq!(
        (c.accepted_mark, c.confirmed_mark, c.dropped, c.waiting),
        (3, 3, 3, 1)
    );
    assert!(!c.replay);
    assert_eq!(
        seqs(&agent),
        [4],
        "dropped exactly the records up to the accepted mark"
    );
    let status = agent.status().unwrap();
    assert_eq!(
        (
            status.confirmed_mark,
            status.last_seq,
            status.records_waiting
        ),
        (3, 4, 1)
    );
    let last = status.last_export.unwrap();
    assert_eq!(last.accepted_mark, Some(3));
    assert!(last.confirmed_at.is_some());

    // The next sync key follows on from the accepted mark: only seq 4 goes again.
    let sk2 = vendor.sync_key(3, now + Duration::days(1));
    let export2 = agent
        .export_for(sk2.as_bytes(), now + Duration::days(1))
        .unwrap();
    let (vsk2, ud2) = vendor.verify_usage(
        &sk2,
        &export2.text,
        &agent.public_key(),
        now + Duration::days(1),
    );
    assert_eq!(ud2.records.iter().map(|r| r.seq).collect::<Vec<_>>(), [4]);
    let vk2 = vendor.verification_key(&vsk2, &ud2, 4, now + Duration::days(1));
    let c2 = agent
        .confirm(vk2.as_bytes(), now + Duration::days(1))
        .unwrap();
    assert_eq!((c2.confirmed_mark, c2.waiting), (4, 0));
    assert!(agent.pending().unwrap().is_empty());
}

#[test]
fn a_changed_row_goes_out_again_and_an_identical_one_does_not() {
    let now = t(NOW);
    let today = now.date_naive();
    let mut vendor = Vendor::new(2, now - Duration::days(1));
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init_agent(dir.path(), &mut vendor, now);
    let rows = [
        usage("acme", "2026-02-28", 100),
        usage("acme", "2026-03-01", 110),
    ];
    agent.record_rows(&rows, today).unwrap();
    let sk = vendor.sync_key(0, now);
    let export = agent.export_for(sk.as_bytes(), now).unwrap();
    let (vsk, ud) = vendor.verify_usage(&sk, &export.text, &agent.public_key(), now);
    agent
        .confirm(vendor.verification_key(&vsk, &ud, 2, now).as_bytes(), now)
        .unwrap();
    assert!(agent.pending().unwrap().is_empty());

    // The product reports the last two days again; one day was corrected meanwhile.
    let again = [
        usage("acme", "2026-02-28", 100),
        usage("acme", "2026-03-01", 111),
    ];
    let s = agent.record_rows(&again, today).unwrap();
    assert_eq!(
        (s.new, s.changed, s.unchanged),
        (0, 1, 1),
        "the confirmed, identical day is remembered after its values were dropped"
    );
    assert_eq!(
        seqs(&agent),
        [3],
        "the changed day gets a new seq, above the vendor's mark"
    );

    let sk2 = vendor.sync_key(2, now);
    let export2 = agent.export_for(sk2.as_bytes(), now).unwrap();
    let (_, ud2) = vendor.verify_usage(&sk2, &export2.text, &agent.public_key(), now);
    assert_eq!(ud2.records.len(), 1);
    assert_eq!(
        (ud2.records[0].seq, ud2.records[0].users_registered),
        (3, 111)
    );
    assert_eq!(ud2.records[0].date, day("2026-03-01"));
}

#[test]
fn replaying_a_verification_key_changes_nothing() {
    let now = t(NOW);
    let today = now.date_naive();
    let mut vendor = Vendor::new(3, now - Duration::days(1));
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init_agent(dir.path(), &mut vendor, now);
    agent
        .record_rows(
            &[
                usage("acme", "2026-02-28", 1),
                usage("acme", "2026-03-01", 2),
            ],
            today,
        )
        .unwrap();
    let sk = vendor.sync_key(0, now);
    let export = agent.export_for(sk.as_bytes(), now).unwrap();
    let (vsk, ud) = vendor.verify_usage(&sk, &export.text, &agent.public_key(), now);
    let vk = vendor.verification_key(&vsk, &ud, 2, now);
    let first = agent.confirm(vk.as_bytes(), now).unwrap();
    assert_eq!((first.dropped, first.replay), (2, false));

    // New usage arrives, then the same verification key is applied again (a second copy of
    // the e-mail): the new records must stay.
    agent
        .record_rows(&[usage("acme", "2026-03-02", 3)], today)
        .unwrap();
    let before = snapshot(&agent);
    let again = agent
        .confirm(vk.as_bytes(), now + Duration::days(3))
        .unwrap();
    assert!(again.replay);
    assert_eq!(
        (again.dropped, again.confirmed_mark, again.waiting),
        (0, 2, 1)
    );
    assert_eq!(snapshot(&agent), before, "a replay writes nothing");
}

#[test]
fn refused_sync_keys_write_nothing_and_say_why() {
    let now = t(NOW);
    let mut vendor = Vendor::new(4, now - Duration::days(1));
    let mut foreign = Vendor::new(40, now - Duration::days(1));
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init_agent(dir.path(), &mut vendor, now);
    agent
        .record_rows(&[usage("acme", "2026-03-01", 5)], now.date_naive())
        .unwrap();
    let before = snapshot(&agent);

    let other_instance = vendor.sync_key_for("inst-globex-7", None, 0, now);
    let other_license = vendor.sync_key_for(INSTANCE, Some("lic-other"), 0, now);
    let expired = vendor.sync_key(0, now);
    let foreign_root = foreign.sync_key(0, now);
    let mut flipped = vendor.sync_key(0, now).into_bytes();
    flipped[200] ^= 0x01;
    // What, the bytes, when, the error code, what the message says.
    type Case = (
        &'static str,
        Vec<u8>,
        chrono::DateTime<Utc>,
        &'static str,
        &'static str,
    );
    let cases: Vec<Case> =
        vec![
        (
            "another instance",
            other_instance.into_bytes(),
            now,
            "wrong_instance",
            "this sync key is for instance `inst-globex-7`, not this instance `inst-acme-1`: ask \
             the vendor for a sync key for `inst-acme-1`",
        ),
        (
            "another license",
            other_license.into_bytes(),
            now,
            "wrong_instance",
            "runs under license `lic-acme-2026`",
        ),
        (
            "expired",
            expired.into_bytes(),
            now + Duration::days(31),
            "expired",
            "ask the vendor's account manager for a new sync key",
        ),
        (
            "signed under a foreign root",
            foreign_root.into_bytes(),
            now,
            "untrusted_key",
            "check that the vendor key configured here is the one of the cloud",
        ),
        ("altered by one bit", flipped, now, "", ""),
        (
            "a verification key, not a sync key",
            b"-----BEGIN USAGEDESK VERIFICATION KEY-----\n".to_vec(),
            now,
            "wrong_file_kind",
            "pick the sync key instead",
        ),
        (
            "over the size limit",
            vec![b'a'; FileKind::SyncKey.max_bytes() + 1],
            now,
            "too_large",
            "over the 16384-byte limit",
        ),
        ("not UTF-8", vec![0xff, 0xfe, 0x00], now, "not_utf8", "not UTF-8"),
    ];
    for (what, bytes, at, code, says) in cases {
        let e = agent.export_for(&bytes, at).unwrap_err();
        if code.is_empty() {
            // A flipped bit lands in the armor, the JSON or the signature: any refusal will do,
            // as long as it is one.
            assert!(matches!(e, AgentError::Refused(_)), "{what}: {e}");
        } else {
            assert_eq!(e.code(), code, "{what}: {e}");
            assert!(e.to_string().contains(says), "{what}: {e}");
        }
        assert_eq!(snapshot(&agent), before, "{what}: nothing is written");
    }
}

#[test]
fn verification_keys_for_other_files_are_refused() {
    let now = t(NOW);
    let today = now.date_naive();
    let mut vendor = Vendor::new(5, now - Duration::days(1));
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init_agent(dir.path(), &mut vendor, now);
    agent
        .record_rows(&[usage("acme", "2026-02-28", 1)], today)
        .unwrap();

    // The same sync key answered twice (the first file was lost, say), with a record more
    // the second time: each verification key confirms exactly its own file.
    let sk = vendor.sync_key(0, now);
    let first = agent.export_for(sk.as_bytes(), now).unwrap();
    agent
        .record_rows(&[usage("acme", "2026-03-01", 2)], today)
        .unwrap();
    let second = agent
        .export_for(sk.as_bytes(), now + Duration::minutes(5))
        .unwrap();
    assert_ne!(first.usage_file_sha256, second.usage_file_sha256);
    assert_eq!(agent.exports(10).unwrap().len(), 2);
    let (vsk, ud1) = vendor.verify_usage(&sk, &first.text, &agent.public_key(), now);
    let vk1 = vendor.verification_key(&vsk, &ud1, 1, now);
    let c = agent.confirm(vk1.as_bytes(), now).unwrap();
    assert_eq!((c.accepted_mark, c.dropped), (1, 1));
    assert_eq!(seqs(&agent), [2]);

    // A verification key for an export this state never made (another copy of the state).
    let elsewhere_dir = tempfile::tempdir().unwrap();
    let mut elsewhere = init_agent(elsewhere_dir.path(), &mut vendor, now);
    elsewhere
        .record_rows(&[usage("acme", "2026-02-28", 1)], today)
        .unwrap();
    let sk_elsewhere = vendor.sync_key(0, now);
    let e_export = elsewhere.export_for(sk_elsewhere.as_bytes(), now).unwrap();
    let (vsk_e, ud_e) =
        vendor.verify_usage(&sk_elsewhere, &e_export.text, &elsewhere.public_key(), now);
    let vk_elsewhere = vendor.verification_key(&vsk_e, &ud_e, 1, now);
    let before = snapshot(&agent);
    let e = agent.confirm(vk_elsewhere.as_bytes(), now).unwrap_err();
    assert_eq!(e.code(), "unknown_export", "{e}");
    assert!(
        e.to_string()
            .contains("no export of this agent state answered"),
        "{e}"
    );

    // A verification key for another instance.
    let mut vendor2 = Vendor::new(50, now - Duration::days(1));
    let other_dir = tempfile::tempdir().unwrap();
    let other_license = vendor2.license_file_for("inst-globex-7", "lic-globex", now);
    let mut other = Agent::init(
        other_dir.path(),
        other_license.as_bytes(),
        &vendor2.vendor_key(),
        now,
        &mut rand::rngs::OsRng,
    )
    .unwrap();
    other
        .record_rows(&[usage("globex", "2026-02-28", 1)], today)
        .unwrap();
    let sk_other = vendor2.sync_key_for("inst-globex-7", None, 0, now);
    let o_export = other.export_for(sk_other.as_bytes(), now).unwrap();
    let (vsk_o, ud_o) = vendor2.verify_usage(&sk_other, &o_export.text, &other.public_key(), now);
    let vk_other = vendor2.verification_key(&vsk_o, &ud_o, 1, now);
    let e = agent.confirm(vk_other.as_bytes(), now).unwrap_err();
    assert_eq!(e.code(), "wrong_instance", "{e}");
    assert!(e.to_string().contains("inst-globex-7"), "{e}");

    // A verification key altered in transit.
    let mut bad = vk1.clone().into_bytes();
    let at = vk1.find("\"accepted_high_water_mark\": 1").unwrap() + 28;
    bad[at] = b'2';
    let e = agent.confirm(&bad, now).unwrap_err();
    assert_eq!(e.code(), "bad_signature", "{e}");
    assert!(e.to_string().contains("altered in transit"), "{e}");
    assert_eq!(
        snapshot(&agent),
        before,
        "no refused verification key writes anything"
    );
}

#[test]
fn a_file_never_passes_the_size_limit_and_the_rest_follows_in_the_next_exchange() {
    let now = t(NOW);
    let mut vendor = Vendor::new(6, now - Duration::days(1));
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init_agent(dir.path(), &mut vendor, now);
    let total = 15_000u64;
    agent
        .record_rows(&many_rows(total as usize, "2026-03-01"), now.date_naive())
        .unwrap();

    let sk = vendor.sync_key(0, now);
    let first = agent.export_for(sk.as_bytes(), now).unwrap();
    assert!(first.text.len() <= FileKind::UsageData.max_bytes());
    assert!(
        first.records > 10_000 && first.records < total,
        "{}",
        first.records
    );
    assert_eq!(first.records + first.remaining_records, total);
    assert_eq!(
        first.highest_seq_sent, first.records,
        "the lowest seqs go first"
    );
    let (vsk, ud) = vendor.verify_usage(&sk, &first.text, &agent.public_key(), now);
    let vk = vendor.verification_key(&vsk, &ud, ud.highest_seq(), now);
    agent.confirm(vk.as_bytes(), now).unwrap();
    assert_eq!(agent.pending_count().unwrap(), first.remaining_records);

    let sk2 = vendor.sync_key(first.highest_seq_sent, now);
    let second = agent.export_for(sk2.as_bytes(), now).unwrap();
    assert_eq!(
        (second.records, second.remaining_records),
        (first.remaining_records, 0)
    );
    assert_eq!(second.highest_seq_sent, total);
}

#[test]
fn a_sync_key_mark_beyond_what_was_numbered_moves_the_waiting_records_above_it() {
    // The state was restored from an old backup: the vendor already holds seqs up to 100 from
    // this instance, but the restored state numbered only up to 2. Without renumbering, the
    // waiting records (and the next 98) would sit below the mark and never be sent.
    let now = t(NOW);
    let today = now.date_naive();
    let mut vendor = Vendor::new(7, now - Duration::days(1));
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init_agent(dir.path(), &mut vendor, now);
    agent
        .record_rows(
            &[
                usage("acme", "2026-02-28", 1),
                usage("acme", "2026-03-01", 2),
            ],
            today,
        )
        .unwrap();
    let sk = vendor.sync_key(100, now);
    let export = agent.export_for(sk.as_bytes(), now).unwrap();
    assert_eq!(export.renumbered, 2);
    let (vsk, ud) = vendor.verify_usage(&sk, &export.text, &agent.public_key(), now);
    assert_eq!(
        ud.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [101, 102]
    );
    assert_eq!(ud.records[0].date, day("2026-02-28"), "the order is kept");

    // Numbering continues above, and the renumbered days are still known (identical = skip).
    let s = agent
        .record_rows(
            &[
                usage("acme", "2026-03-01", 2),
                usage("acme", "2026-03-02", 3),
            ],
            today,
        )
        .unwrap();
    assert_eq!((s.new, s.unchanged, s.first_seq), (1, 1, Some(103)));
    agent
        .confirm(vendor.verification_key(&vsk, &ud, 102, now).as_bytes(), now)
        .unwrap();
    assert_eq!(seqs(&agent), [103]);
}

#[test]
fn a_sync_key_for_another_account_is_refused_before_anything_is_exported() {
    // The manager's certificate (scope `msp`) covers what the sync key names; but the
    // license says this instance is `msp > acme`, and only that path is answered.
    let now = t(NOW);
    let mut vendor = Vendor::new(8, now - Duration::days(1));
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init_agent(dir.path(), &mut vendor, now);
    agent
        .record_rows(&[usage("acme", "2026-03-01", 5)], now.date_naive())
        .unwrap();
    let before = snapshot(&agent);
    for path in [
        &["msp", "globex"][..],
        &["msp"],
        &["msp", "acme", "acme-eu"],
    ] {
        let sk = vendor.sync_key_at(path, 0, now);
        let e = agent.export_for(sk.as_bytes(), now).unwrap_err();
        assert_eq!(e.code(), "wrong_account", "{path:?}: {e}");
        assert!(
            e.to_string()
                .contains("but the instance belongs under msp > acme"),
            "{e}"
        );
        assert_eq!(snapshot(&agent), before, "{path:?}: nothing was written");
    }
    agent
        .export_for(vendor.sync_key(0, now).as_bytes(), now)
        .expect("its own path is answered");
}

#[test]
fn a_mark_far_beyond_what_was_numbered_is_refused_and_uses_up_no_numbers() {
    let now = t(NOW);
    let today = now.date_naive();
    let mut vendor = Vendor::new(17, now - Duration::days(1));
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init_agent(dir.path(), &mut vendor, now);
    agent
        .record_rows(
            &[
                usage("acme", "2026-02-28", 1),
                usage("acme", "2026-03-01", 2),
            ],
            today,
        )
        .unwrap();
    let before = snapshot(&agent);
    for mark in [
        2 + usagedesk_airgap::MAX_SEQ_ADVANCE + 1,
        i64::MAX as u64,
        u64::MAX,
    ] {
        let sk = vendor.sync_key(mark, now);
        let e = agent.export_for(sk.as_bytes(), now).unwrap_err();
        assert_eq!(e.code(), "mark_ahead", "{mark}: {e}");
        assert!(e.to_string().contains("the sync key is mistaken"), "{e}");
        assert_eq!(snapshot(&agent), before, "{mark}: nothing moved");
    }
    // Exactly one exchange's reach beyond is still a restored backup: renumbered.
    let mark = 2 + usagedesk_airgap::MAX_SEQ_ADVANCE;
    let sk = vendor.sync_key(mark, now);
    let export = agent.export_for(sk.as_bytes(), now).unwrap();
    assert_eq!(export.renumbered, 2);
    assert_eq!(seqs(&agent), [mark + 1, mark + 2]);
    assert_eq!(agent.marks().unwrap().0, mark + 2);
}

#[test]
fn a_state_from_before_license_files_records_but_exchanges_nothing_until_given_one() {
    // A state as the first agent release wrote it: schema version 1, no license.
    let now = t(NOW);
    let mut vendor = Vendor::new(18, now - Duration::days(1));
    let dir = tempfile::tempdir().unwrap();
    let key = usagedesk_airgap::SigningKey::from_bytes(&[18; 32]);
    {
        let conn = rusqlite::Connection::open(dir.path().join("agent.db")).unwrap();
        conn.execute_batch(include_str!("../migrations/0001_init.sql"))
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO instance (id, instance_id, license_id, vendor_key, public_key, created_at)
             VALUES (1, ?1, ?2, ?3, ?4, '2026-01-01T00:00:00Z')",
            rusqlite::params![
                INSTANCE,
                LICENSE,
                vendor.vendor_key().to_string(),
                key.public_key().to_string()
            ],
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("instance.key"), key.to_secret_text()).unwrap();

    let mut agent = Agent::open(dir.path()).unwrap();
    assert_eq!(agent.status().unwrap().license, None);
    agent
        .record_rows(&[usage("acme", "2026-03-01", 5)], now.date_naive())
        .unwrap();
    let e = agent
        .export_for(vendor.sync_key(0, now).as_bytes(), now)
        .unwrap_err();
    assert_eq!(e.code(), "no_license", "{e}");
    assert!(e.to_string().contains("usagedesk-agent license"), "{e}");

    let license = vendor.license_file(now - Duration::hours(1));
    agent.set_license(license.as_bytes(), now).unwrap();
    let export = agent
        .export_for(vendor.sync_key(0, now).as_bytes(), now)
        .unwrap();
    assert!(export.text.contains("\nVersion: 2\n"), "it now enrolls");
    assert_eq!(agent.public_key(), key.public_key(), "with the key it had");
}

#[test]
fn the_exported_file_is_the_answer_the_vendor_expects() {
    // The file text given back is exactly what the vendor parses: canonical, signed by the
    // instance key, answering the sync key's nonce and hash.
    let now = t(NOW);
    let mut vendor = Vendor::new(8, now - Duration::days(1));
    let dir = tempfile::tempdir().unwrap();
    let mut agent = init_agent(dir.path(), &mut vendor, now);
    let sk = vendor.sync_key(0, now);
    let export = agent.export_for(sk.as_bytes(), now).unwrap();
    let parsed = UsageData::parse(export.text.as_bytes()).unwrap();
    assert_eq!(parsed.text(), export.text);
    let body = parsed.unverified();
    assert_eq!(body.instance_key, agent.public_key());
    assert_eq!(body.answers_nonce, export.nonce);
    assert!(
        body.records.is_empty() && body.period.is_none(),
        "nothing recorded, nothing sent"
    );
    assert_eq!(export.highest_seq_sent, 0);
    assert_eq!(
        agent
            .exported_file(&export.nonce.to_hex())
            .unwrap()
            .as_deref(),
        Some(export.text.as_str()),
        "kept until confirmed, to send again if lost"
    );
}

// ---- the binary ---------------------------------------------------------------------------

fn agent_cmd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_usagedesk-agent"))
        .args(args)
        .env_remove("USAGEDESK_AGENT_STATE")
        .env_remove("USAGEDESK_CLOUD_URL")
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = agent_cmd(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let out = agent_cmd(args);
    assert_eq!(out.status.code(), Some(1), "{args:?} must fail");
    String::from_utf8(out.stderr).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn the_binary_runs_the_whole_exchange() {
    // The binary reads the real clock: the vendor issues around "now".
    let now = Utc::now();
    let mut vendor = Vendor::new(9, now - Duration::days(1));
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let vendor_key = vendor.vendor_key().to_string();
    let license = tmp.path().join("inst-acme-1.license");
    std::fs::write(&license, vendor.license_file(now - Duration::hours(1))).unwrap();

    let out = ok(&[
        "init",
        "--state",
        s(&state),
        "--license-file",
        s(&license),
        "--vendor-key",
        &vendor_key,
    ]);
    assert!(
        out.contains("for instance inst-acme-1 (license lic-acme-2026)"),
        "{out}"
    );
    assert!(
        out.contains("account      msp > acme (air-gapped)"),
        "{out}"
    );
    let agent = Agent::open(&state).unwrap();
    let public_key = agent.public_key().to_string();
    drop(agent);
    assert!(
        out.contains(&format!("instance public key: {public_key}")),
        "{out}"
    );
    let err = fails(&[
        "init",
        "--state",
        s(&state),
        "--license-file",
        s(&license),
        "--vendor-key",
        &vendor_key,
    ]);
    assert!(
        err.starts_with("error: ") && err.contains("already holds an agent state"),
        "{err}"
    );

    let yesterday = (now - Duration::days(1)).date_naive();
    let csv = tmp.path().join("daily_usage.csv");
    std::fs::write(
        &csv,
        format!(
            "account_id,date,plan,users_registered,users_with_token,users_with_activity\n\
             acme,{yesterday},standard,120,95,60\nacme-eu,{yesterday},basic,30,12,9\n"
        ),
    )
    .unwrap();
    let out = ok(&["record", "--state", s(&state), s(&csv)]);
    assert!(
        out.contains("2 new, 0 changed, 0 unchanged (seq 1–2)"),
        "{out}"
    );
    let out = ok(&["record", "--state", s(&state), s(&csv)]);
    assert!(out.contains("0 new, 0 changed, 2 unchanged"), "{out}");

    // A row for the wrong account, then discarded: it does not go out.
    let typo = tmp.path().join("typo.csv");
    std::fs::write(
        &typo,
        format!(
            "account_id,date,plan,users_registered,users_with_token,users_with_activity\n\
             acme-typo,{yesterday},standard,1,1,1\n"
        ),
    )
    .unwrap();
    ok(&["record", "--state", s(&state), s(&typo)]);
    let out = ok(&["discard", "--state", s(&state), "--account", "acme-typo"]);
    assert!(
        out.contains("discarded 1 waiting records of account acme-typo; 2 wait"),
        "{out}"
    );

    // A bad file names file and line, and records nothing.
    let bad = tmp.path().join("bad.csv");
    std::fs::write(
        &bad,
        "account_id,date,plan,users_registered,users_with_token,users_with_activity\n\
         acme,2026-01-01,standard,1,1,1\nacme,2026-01-02,standard,-4,1,1\n",
    )
    .unwrap();
    let err = fails(&["record", "--state", s(&state), s(&bad)]);
    assert!(
        err.contains(&format!(
            "{}, line 3: users_registered is -4",
            bad.display()
        )),
        "{err}"
    );

    // A sync key for another instance: refused, and no file written.
    let sk_dir = tmp.path().join("mail");
    std::fs::create_dir(&sk_dir).unwrap();
    let foreign_sk = sk_dir.join("foreign.synckey");
    std::fs::write(
        &foreign_sk,
        vendor.sync_key_for("inst-globex-7", None, 0, now),
    )
    .unwrap();
    let usage_file = sk_dir.join("usage.usagedata");
    let err = fails(&[
        "airgap",
        "export",
        "--state",
        s(&state),
        "--sync-key",
        s(&foreign_sk),
        "-o",
        s(&usage_file),
    ]);
    assert!(
        err.contains("ask the vendor for a sync key for `inst-acme-1`"),
        "{err}"
    );
    assert!(!usage_file.exists());

    let sk_text = vendor.sync_key(0, now);
    let sk_file = sk_dir.join("acme.synckey");
    std::fs::write(&sk_file, &sk_text).unwrap();
    let out = ok(&[
        "airgap",
        "export",
        "--state",
        s(&state),
        "--sync-key",
        s(&sk_file),
        "-o",
        s(&usage_file),
    ]);
    assert!(out.contains("2 records up to seq 2"), "{out}");
    let usage_text = std::fs::read_to_string(&usage_file).unwrap();
    let (vsk, ud) = vendor.verify_usage(
        &sk_text,
        &usage_text,
        &public_key.parse().unwrap(),
        Utc::now(),
    );
    assert_eq!(ud.records.len(), 2);

    let vk_file = sk_dir.join("acme.verificationkey");
    std::fs::write(&vk_file, vendor.verification_key(&vsk, &ud, 2, Utc::now())).unwrap();
    let out = ok(&[
        "airgap",
        "confirm",
        "--state",
        s(&state),
        "--verification-key",
        s(&vk_file),
    ]);
    assert!(
        out.contains("the vendor holds records up to seq 2"),
        "{out}"
    );
    assert!(out.contains("dropped 2 records; 0 wait"), "{out}");
    let out = ok(&[
        "airgap",
        "confirm",
        "--state",
        s(&state),
        "--verification-key",
        s(&vk_file),
    ]);
    assert!(out.contains("applied before: nothing changed"), "{out}");

    let json: serde_json::Value =
        serde_json::from_str(&ok(&["status", "--state", s(&state), "--json"])).unwrap();
    assert_eq!(json["instance_id"], INSTANCE);
    assert_eq!(json["public_key"], public_key.as_str());
    assert_eq!(json["records_waiting"], 0);
    assert_eq!(json["confirmed_mark"], 2);
    assert_eq!(json["last_export"]["accepted_mark"], 2);
    assert_eq!(json["last_export"]["via"], "file");
    let text = ok(&["status", "--state", s(&state)]);
    assert!(text.contains("confirmed    up to seq 2"), "{text}");

    // Online mode refuses what is not http(s) before touching the network.
    let err = fails(&["push", "--state", s(&state), "--url", "ftp://cloud.example"]);
    assert!(err.contains("must start with https://"), "{err}");
    // And an uninitialised directory says how to set one up.
    let err = fails(&["status", "--state", s(&tmp.path().join("nowhere"))]);
    assert!(err.contains("run `usagedesk-agent init"), "{err}");
}
