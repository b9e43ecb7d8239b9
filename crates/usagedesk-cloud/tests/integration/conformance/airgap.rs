//! [`AirGap`] and [`InstanceIdentity`]: keys, delegations, usage files, pins and resets.

use chrono::Duration;
use usagedesk_cloud::storage::{
    Delegation, EnrollmentKeyState, ImportCounts, LicenseFileRecord, NewToken, OnlineSyncKey,
    PinGrant, StoreError, StoredSigner, TokenKind, UsageFile, UsageVia,
};
use usagedesk_cloud::TokenScope;

use super::*;

fn license_file(
    instance_id: &str,
    enrollment_key: &str,
    issued: DateTime<Utc>,
) -> LicenseFileRecord {
    LicenseFileRecord {
        instance_id: instance_id.into(),
        license_id: "lic-a".into(),
        enrollment_key: enrollment_key.into(),
        account_path: vec!["r".into(), "a".into()],
        airgapped: true,
        issued_at: issued,
        expires_at: issued + Duration::days(365),
        issued_by: "operator".into(),
    }
}

fn grant(enrollment_key: &str, now: DateTime<Utc>) -> PinGrant {
    PinGrant {
        enrollment_key: enrollment_key.into(),
        actor: "instance (online)".into(),
        now,
    }
}

pub fn the_root_key_is_created_once(open: Open<'_>) {
    let fresh = open();
    let s = fresh.store.as_ref();
    let first = s.vendor_root_key().unwrap();
    assert_eq!(
        s.vendor_root_key().unwrap().public_key(),
        first.public_key(),
        "asked again: the same key"
    );
    let other = RootKey::generate(&mut ChaCha20Rng::seed_from_u64(7));
    assert_ne!(other.public_key(), first.public_key());
    let kept = s.insert_root_key(&other, at(2026, 3, 1, 0)).unwrap();
    assert_eq!(
        kept.public_key(),
        first.public_key(),
        "a second process storing its own key gets the first one back"
    );
    assert_eq!(
        s.root_key().unwrap().unwrap().public_key(),
        first.public_key()
    );
}

pub fn the_cloud_signer_is_replaced_and_delegations_recorded(open: Open<'_>) {
    let fresh = loaded(open);
    let s = fresh.store.as_ref();
    assert_eq!(
        s.cloud_signer().unwrap(),
        None,
        "a new store has no signer of its own"
    );
    let one = StoredSigner {
        secret: "ed25519-secret:one".into(),
        certificate: "{\"n\":1}".into(),
    };
    let two = StoredSigner {
        secret: "ed25519-secret:two".into(),
        certificate: "{\"n\":2}".into(),
    };
    s.save_cloud_signer(&one, at(2026, 3, 1, 0)).unwrap();
    assert_eq!(s.cloud_signer().unwrap(), Some(one));
    s.save_cloud_signer(&two, at(2026, 3, 2, 0)).unwrap();
    assert_eq!(s.cloud_signer().unwrap(), Some(two), "replaced, not added");

    // A certificate is refused once the token it was issued to is revoked.
    let token = NewToken {
        hash: [4; 32],
        id: "tok-00000000000a".into(),
        scope: TokenScope::Subtree("a".into()),
        kind: TokenKind::Manager,
        name: "alice".into(),
        created_at: at(2026, 3, 1, 0),
        expires_at: None,
    };
    s.add_token(&token).unwrap();
    let sha = "ab".repeat(32);
    s.record_delegation(&Delegation {
        public_key: public_key(1),
        subject: "alice@vendor".into(),
        scope: "r/a".into(),
        token_name: token.name.clone(),
        token_id: token.id.clone(),
        certificate_sha256: sha.clone(),
        issued_at: at(2026, 3, 1, 1),
        expires_at: at(2026, 3, 31, 1),
    })
    .unwrap();
    assert_eq!(
        s.revoked_certificate(&sha).unwrap(),
        None,
        "its token is valid"
    );
    let when = at(2026, 3, 5, 0);
    s.revoke_token(&token.id, when).unwrap();
    let revoked = s
        .revoked_certificate(&sha)
        .unwrap()
        .expect("its token is revoked");
    assert_eq!(
        (
            revoked.token_id.as_str(),
            revoked.subject.as_str(),
            revoked.revoked_at
        ),
        (token.id.as_str(), "alice@vendor", when)
    );
}

/// A usage file of `inst-a` answering `nonce`, with these rows and their seqs 1, 2, ….
fn usage_file(
    sha: &str,
    nonce: &str,
    key: &str,
    pin: Option<PinGrant>,
    rows: Vec<DailyRow>,
) -> UsageFile {
    let seqs: Vec<u64> = (1..=rows.len() as u64).collect();
    UsageFile {
        sha256: sha.into(),
        nonce: nonce.into(),
        instance_id: "inst-a".into(),
        instance_key: key.into(),
        pin,
        highest_seq: seqs.last().copied().unwrap_or(0),
        rows,
        seqs,
        via: UsageVia::Import,
        accepted_by: "alice".into(),
        now: at(2026, 3, 10, 0),
    }
}

pub fn a_usage_file_pins_counts_and_replays(open: Open<'_>) {
    let fresh = with_instance(open);
    let s = fresh.store.as_ref();
    let enrollment = public_key(10);
    let key = public_key(11);
    s.record_license_file(&license_file("inst-a", &enrollment, at(2026, 3, 1, 0)))
        .unwrap();
    assert_eq!(
        s.enrollment_key_state("inst-a", &enrollment).unwrap(),
        EnrollmentKeyState::Usable
    );
    assert_eq!(
        s.enrollment_key_state("inst-a", &public_key(12)).unwrap(),
        EnrollmentKeyState::Unknown
    );
    // Against what the base load holds for account a: the 10 February row unchanged, the
    // 20 January row with other counts, and a day it has no row for.
    let held = tree_rows();
    let same = held
        .iter()
        .find(|r| r.account_id == "a" && r.date == day(2026, 2, 10))
        .unwrap()
        .clone();
    let mut changed = held
        .iter()
        .find(|r| r.account_id == "a" && r.date == day(2026, 1, 20))
        .unwrap()
        .clone();
    changed.counts.users_registered += 100;
    let new = daily("a", day(2026, 3, 1), "basic", 77);
    let rows = vec![same, changed.clone(), new.clone()];
    let sha = "11".repeat(32);
    let nonce = "aa".repeat(32);
    let file = usage_file(
        &sha,
        &nonce,
        &key,
        Some(grant(&enrollment, at(2026, 3, 10, 0))),
        rows.clone(),
    );
    let mut seen = None;
    let accepted = s
        .accept_usage_file(&file, &mut |c: &ImportCounts| {
            seen = Some(*c);
            Ok(format!("verification of {}", c.received))
        })
        .unwrap();
    let want = ImportCounts {
        received: 3,
        new: 1,
        already_present: 1,
        changed: 1,
    };
    assert_eq!(accepted.counts, want);
    assert_eq!(
        seen,
        Some(want),
        "the receipt is written from the same counts"
    );
    assert_eq!(accepted.verification_key, "verification of 3");
    assert_eq!(accepted.high_water_mark, 3, "the file's highest record");
    assert!(!accepted.replay);
    let instance = s.instance(&TokenScope::All, "inst-a").unwrap().unwrap();
    assert_eq!(
        instance.public_key.as_deref(),
        Some(key.as_str()),
        "pinned on first contact"
    );
    assert_eq!(instance.high_water_mark, 3);
    assert!(s
        .instance(&TokenScope::Subtree("b".into()), "inst-a")
        .unwrap()
        .is_none());
    let events = s.instance_key_events("inst-a").unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.event == "enrolled" && e.public_key.as_deref() == Some(key.as_str())),
        "{events:?}"
    );
    let month = s
        .subtree_month_rows("a", YearMonth::of(new.date), YearMonth::of(new.date))
        .unwrap();
    assert_eq!(month.len(), 1);
    assert_eq!(
        month[0].counts, new.counts,
        "the new day is March's month-end"
    );

    // The same file again: a replay, nothing written (the receipt is not asked for).
    let (_, cursor) = read_all(s, &TokenScope::All, None, 1000);
    let again = s
        .accept_usage_file(&file, &mut |_: &ImportCounts| {
            panic!("no receipt for a replay")
        })
        .unwrap();
    assert!(again.replay);
    assert_eq!(
        (again.counts, again.verification_key.as_str()),
        (want, "verification of 3")
    );
    assert_eq!(s.accepted_file(&sha).unwrap().map(|f| f.counts), Some(want));
    // Another file answering the same nonce: refused, nothing written.
    let other = usage_file(
        &"22".repeat(32),
        &nonce,
        &key,
        None,
        vec![daily("a", day(2026, 3, 2), "basic", 1)],
    );
    assert!(matches!(
        s.accept_usage_file(&other, &mut |_: &ImportCounts| Ok(String::new())),
        Err(StoreError::Conflict(_))
    ));
    // A file signed by another key than the pinned one: refused, nothing written.
    let forged = usage_file(
        &"33".repeat(32),
        &"bb".repeat(32),
        &public_key(13),
        None,
        vec![daily("a", day(2026, 3, 3), "basic", 1)],
    );
    assert!(matches!(
        s.accept_usage_file(&forged, &mut |_: &ImportCounts| Ok(String::new())),
        Err(StoreError::Conflict(_))
    ));
    let (after, _) = read_all(s, &TokenScope::All, Some(cursor), 1000);
    assert!(
        after.is_empty(),
        "refusals and replays write nothing: {after:?}"
    );
    assert!(s.accepted_file(&"22".repeat(32)).unwrap().is_none());
}

fn sync_key(nonce: &str, issued: DateTime<Utc>) -> OnlineSyncKey {
    OnlineSyncKey {
        nonce: nonce.into(),
        instance_id: "inst-a".into(),
        sync_key: format!("armored {nonce}"),
        issued_at: issued,
        expires_at: issued + Duration::days(1),
    }
}

pub fn online_sync_keys_pin_once_and_refuse_another_key(open: Open<'_>) {
    let fresh = with_instance(open);
    let s = fresh.store.as_ref();
    let enrollment = public_key(20);
    let key = public_key(21);
    let now = at(2026, 3, 10, 0);
    let first = sync_key(&"01".repeat(32), now);
    assert!(
        matches!(
            s.save_online_sync_key(&first, &key, None),
            Err(StoreError::Conflict(_))
        ),
        "no key pinned and no enrollment: refused"
    );
    assert!(
        matches!(
            s.save_online_sync_key(&first, &key, Some(&grant(&enrollment, now))),
            Err(StoreError::Conflict(_))
        ),
        "an enrollment key never issued for the instance does not pin"
    );
    assert_eq!(
        s.online_sync_key(&first.nonce).unwrap(),
        None,
        "refusals write nothing"
    );
    assert_eq!(
        s.instance(&TokenScope::All, "inst-a")
            .unwrap()
            .unwrap()
            .public_key,
        None
    );

    s.record_license_file(&license_file("inst-a", &enrollment, at(2026, 3, 1, 0)))
        .unwrap();
    s.save_online_sync_key(&first, &key, Some(&grant(&enrollment, now)))
        .unwrap();
    assert_eq!(
        s.online_sync_key(&first.nonce).unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        s.instance(&TokenScope::All, "inst-a")
            .unwrap()
            .unwrap()
            .public_key
            .as_deref(),
        Some(key.as_str())
    );
    // Pinned: the same key needs no enrollment; another key is refused even with one.
    let second = sync_key(&"02".repeat(32), now + Duration::minutes(1));
    s.save_online_sync_key(&second, &key, None).unwrap();
    let third = sync_key(&"03".repeat(32), now + Duration::minutes(2));
    assert!(matches!(
        s.save_online_sync_key(&third, &public_key(22), Some(&grant(&enrollment, now))),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.online_sync_key(&third.nonce).unwrap(), None);
}

pub fn a_reset_revokes_license_files_and_refuses_their_pin(open: Open<'_>) {
    let fresh = with_instance(open);
    let s = fresh.store.as_ref();
    let enrollment = public_key(30);
    let key = public_key(31);
    let now = at(2026, 3, 10, 0);
    s.record_license_file(&license_file("inst-a", &enrollment, at(2026, 3, 1, 0)))
        .unwrap();
    s.save_online_sync_key(
        &sync_key(&"0a".repeat(32), now),
        &key,
        Some(&grant(&enrollment, now)),
    )
    .unwrap();
    let reset_at = now + Duration::hours(1);
    let reset = s
        .reset_instance_key("inst-a", true, "operator", reset_at)
        .unwrap();
    assert_eq!(reset.previous_key.as_deref(), Some(key.as_str()));
    assert_eq!(
        (reset.revoked, reset.usable_license_files),
        (1, 0),
        "its one license file"
    );
    assert_eq!(
        s.instance(&TokenScope::All, "inst-a")
            .unwrap()
            .unwrap()
            .public_key,
        None
    );
    assert_eq!(
        s.online_sync_key(&"0a".repeat(32)).unwrap(),
        None,
        "the sync keys issued to the old key are forgotten"
    );
    assert_eq!(
        s.enrollment_key_state("inst-a", &enrollment).unwrap(),
        EnrollmentKeyState::Revoked(reset_at)
    );
    // The revoked license file no longer pins a key.
    let again = sync_key(&"0b".repeat(32), reset_at + Duration::minutes(1));
    assert!(matches!(
        s.save_online_sync_key(&again, &public_key(32), Some(&grant(&enrollment, reset_at))),
        Err(StoreError::Conflict(_))
    ));
    let history: Vec<String> = s
        .instance_key_events("inst-a")
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        history,
        [
            "license_file_issued",
            "enrolled",
            "reset",
            "license_files_revoked"
        ],
        "in the order they happened"
    );
}
