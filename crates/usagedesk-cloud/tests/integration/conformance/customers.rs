//! [`Customers`]: check-ins written against the state they were judged on, reports and events
//! in scope; and the service's check-in rule over any engine.

use chrono::Duration;
use usagedesk_cloud::customers::check_in;
use usagedesk_cloud::storage::{CheckInRecord, CheckInWrite, CheckInWritten, Conflict, StoreError};
use usagedesk_cloud::TokenScope;
use usagedesk_domain::customer::{ClusterDetails, InstanceEvent, InstanceReport, InstanceStatus};

use super::*;

/// The seed of the key `inst-a` is pinned to.
const KEY: u64 = 7;

fn cluster() -> ClusterDetails {
    ClusterDetails {
        distribution: "k3s".into(),
        kubernetes_version: "1.30".into(),
        embedded_cluster: false,
        nodes_ready: None,
        nodes_total: None,
        agent_version: "1.0.0".into(),
        cloud_provider: None,
        region: None,
    }
}

fn report(
    status: InstanceStatus,
    version: &str,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
) -> InstanceReport {
    InstanceReport {
        instance_id: "inst-a".into(),
        status,
        app_version: version.into(),
        cluster: cluster(),
        first_check_in: first,
        last_check_in: last,
    }
}

fn event(field: &str, previous: Option<&str>, new: &str, at: DateTime<Utc>) -> InstanceEvent {
    InstanceEvent {
        instance_id: "inst-a".into(),
        field: field.into(),
        previous: previous.map(Into::into),
        new: new.into(),
        received_at: at,
    }
}

pub fn check_ins_replace_the_report_and_append_events(open: Open<'_>) {
    let fresh = with_keyed_instance(open, KEY);
    let s = fresh.store.as_ref();
    assert_eq!(s.last_check_in("inst-a").unwrap(), None, "no check-in yet");
    let t1 = at(2026, 3, 10, 9);
    let first = CheckInRecord {
        report: report(InstanceStatus::Ready, "2.0.0", t1, t1),
        events: vec![
            event("status", None, "ready", t1),
            event("app_version", None, "2.0.0", t1),
        ],
        signed_at: t1,
        signed_with: public_key(KEY),
        judged_against: None,
    };
    let (_, cursor) = read_all(s, &TokenScope::All, None, 1000);
    assert_eq!(s.write_check_in(&first).unwrap(), CheckInWritten::Written);
    let last = s.last_check_in("inst-a").unwrap().expect("written");
    assert_eq!((&last.report, last.signed_at), (&first.report, Some(t1)));

    let t2 = t1 + Duration::hours(1);
    let second = CheckInRecord {
        report: report(InstanceStatus::Degraded, "2.0.0", t1, t2),
        events: vec![event("status", Some("ready"), "degraded", t2)],
        signed_at: t2,
        signed_with: public_key(KEY),
        judged_against: Some(last),
    };
    assert_eq!(s.write_check_in(&second).unwrap(), CheckInWritten::Written);
    let events = s.instance_events(&TokenScope::All, "inst-a").unwrap();
    let mut want = first.events.clone();
    want.extend(second.events.clone());
    assert_eq!(events, want, "appended, oldest first");
    assert_eq!(
        s.instance_report(&TokenScope::Subtree("a".into()), "inst-a")
            .unwrap(),
        Some(second.report.clone()),
        "the report is replaced and seen from the instance's account"
    );
    assert_eq!(
        s.instance_report(&TokenScope::Subtree("b".into()), "inst-a")
            .unwrap(),
        None
    );
    assert!(s
        .instance_events(&TokenScope::Subtree("b".into()), "inst-a")
        .unwrap()
        .is_empty());
    // The feed carries the report once (moved to the head) and each event.
    let (after, _) = read_all(s, &TokenScope::Subtree("a".into()), Some(cursor), 1000);
    let reports = after
        .iter()
        .filter(|c| matches!(c, Change::InstanceReport(_)))
        .count();
    let evs = after
        .iter()
        .filter(|c| matches!(c, Change::InstanceEvent(_)))
        .count();
    assert_eq!((reports, evs), (1, 3));
}

pub fn a_stale_or_duplicate_check_in_writes_nothing(open: Open<'_>) {
    let fresh = with_keyed_instance(open, KEY);
    let s = fresh.store.as_ref();
    let t1 = at(2026, 3, 10, 9);
    let first = CheckInRecord {
        report: report(InstanceStatus::Ready, "2.0.0", t1, t1),
        events: vec![event("status", None, "ready", t1)],
        signed_at: t1,
        signed_with: public_key(KEY),
        judged_against: None,
    };
    s.write_check_in(&first).unwrap();
    let (_, cursor) = read_all(s, &TokenScope::All, None, 1000);
    // Judged as a first check-in, but one was written meanwhile: stale.
    let t2 = t1 + Duration::minutes(5);
    let stale = CheckInRecord {
        report: report(InstanceStatus::Missing, "2.1.0", t2, t2),
        events: vec![event("status", None, "missing", t2)],
        signed_at: t2,
        signed_with: public_key(KEY),
        judged_against: None,
    };
    assert_eq!(s.write_check_in(&stale).unwrap(), CheckInWritten::Stale);
    // An event of a field and time already stored: refused whole.
    let duplicate = CheckInRecord {
        report: report(InstanceStatus::Missing, "2.1.0", t1, t1),
        events: vec![
            event("app_version", None, "2.1.0", t1),
            event("status", Some("ready"), "missing", t1),
        ],
        signed_at: t2,
        signed_with: public_key(KEY),
        judged_against: s.last_check_in("inst-a").unwrap(),
    };
    assert!(matches!(
        s.write_check_in(&duplicate),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.last_check_in("inst-a").unwrap().unwrap().report,
        first.report
    );
    assert_eq!(
        s.instance_events(&TokenScope::All, "inst-a").unwrap(),
        first.events
    );
    let (after, _) = read_all(s, &TokenScope::All, Some(cursor), 1000);
    assert!(after.is_empty(), "nothing reached the feed: {after:?}");
}

pub fn the_service_refuses_a_check_in_not_signed_later(open: Open<'_>) {
    let fresh = with_keyed_instance(open, KEY);
    let s = fresh.store.as_ref();
    let t1 = at(2026, 3, 10, 9);
    let write = |version: &str, signed_at: DateTime<Utc>, now: DateTime<Utc>| CheckInWrite {
        instance_id: "inst-a".into(),
        status: InstanceStatus::Ready,
        app_version: version.into(),
        cluster: cluster(),
        signed_at,
        signed_with: public_key(KEY),
        now,
    };
    let first = check_in::record(s, &write("2.0.0", t1, t1)).unwrap();
    // The first check-in starts the status's and the version's history.
    assert_eq!(
        first.events,
        vec![
            event("status", None, "ready", t1),
            event("app_version", None, "2.0.0", t1)
        ]
    );
    let (_, cursor) = read_all(s, &TokenScope::All, None, 1000);
    let err = check_in::record(s, &write("2.1.0", t1, t1 + Duration::minutes(1))).unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "signed at the same time: a replay"
    );
    let (after, _) = read_all(s, &TokenScope::All, Some(cursor.clone()), 1000);
    assert!(after.is_empty(), "a refused check-in writes nothing");
    let t2 = t1 + Duration::minutes(2);
    let second = check_in::record(s, &write("2.1.0", t2, t2)).unwrap();
    assert_eq!(
        second.events,
        vec![event("app_version", Some("2.0.0"), "2.1.0", t2)],
        "only the field that changed"
    );
    assert_eq!(
        (second.report.first_check_in, second.report.last_check_in),
        (t1, t2)
    );
}

pub fn a_check_in_verified_with_a_key_no_longer_pinned_writes_nothing(open: Open<'_>) {
    let fresh = with_keyed_instance(open, KEY);
    let s = fresh.store.as_ref();
    let t1 = at(2026, 3, 10, 9);
    let record = |signed_with: String| CheckInRecord {
        report: report(InstanceStatus::Ready, "2.0.0", t1, t1),
        events: vec![event("status", None, "ready", t1)],
        signed_at: t1,
        signed_with,
        judged_against: None,
    };
    let (_, cursor) = read_all(s, &TokenScope::All, None, 1000);
    // Verified with another key than the one pinned (the pin changed meanwhile).
    assert!(
        matches!(
            s.write_check_in(&record(public_key(KEY + 1))),
            Err(StoreError::Conflict(Conflict::OtherKeyPinned { .. }))
        ),
        "a signature by a key that is not the pinned one records nothing"
    );
    // Verified with the pinned key, which the vendor then reset before the write.
    s.reset_instance_key("inst-a", false, "vendor", t1).unwrap();
    let (_, cursor_after_reset) = read_all(s, &TokenScope::All, Some(cursor.clone()), 1000);
    assert!(
        matches!(
            s.write_check_in(&record(public_key(KEY))),
            Err(StoreError::Conflict(Conflict::KeyReset { .. }))
        ),
        "a reset key voids what it signed before the reset"
    );
    assert_eq!(
        s.last_check_in("inst-a").unwrap(),
        None,
        "no report written"
    );
    assert!(s
        .instance_events(&TokenScope::All, "inst-a")
        .unwrap()
        .is_empty());
    let (after, _) = read_all(s, &TokenScope::All, Some(cursor_after_reset), 1000);
    assert!(after.is_empty(), "nothing reached the feed: {after:?}");
}
