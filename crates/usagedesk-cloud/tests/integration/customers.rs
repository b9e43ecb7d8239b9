//! Customer reporting in the load format and on the change feed: licenses, instance reports
//! and events, install attempts and their steps. All or nothing, errors naming file and line,
//! scoped like accounts, moved to a new seq when they change.

use crate::common;
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::common::Harness;
use reqwest::StatusCode;
use serde_json::{json, Value};
use usagedesk_cloud::load::read_dataset;
use usagedesk_cloud::storage::{LoadError, TokenKind, TokenScope};
use usagedesk_cloud::Store;
use usagedesk_domain::api::Change;
use usagedesk_testkit::today;

pub const LICENSES_CSV: &str = "\
id,account_id,type,channel,created_at,expires_at,features,seats
lic-de,acme-de,prod,Stable,2024-01-10T09:00:00Z,2025-01-10T00:00:00Z,gitops;airgap,standard=100
lic-fr,acme-fr,trial,Beta,2024-07-01T08:00:00Z,2024-07-31T00:00:00Z,,
lic-globex,globex-2,community,Stable,2023-02-01T00:00:00+01:00,,snapshots;identity,premium=2;basic=5
";

pub const REPORTS_CSV: &str = "\
instance_id,status,app_version,distribution,kubernetes_version,embedded_cluster,nodes_ready,nodes_total,agent_version,cloud_provider,region,first_check_in,last_check_in
inst-fr,ready,1.4.2,eks,1.30.2,false,,,0.1.0,aws,eu-west-3,2024-07-02T10:00:00Z,2024-07-15T08:00:00Z
inst-globex,degraded,2.0.0,,1.29.5,true,2,3,0.1.0,,,2023-03-01T12:00:00Z,2024-06-30T23:00:00Z
";

pub const EVENTS_CSV: &str = "\
instance_id,field,previous,new,received_at
inst-fr,status,,unavailable,2024-07-02T10:00:00Z
inst-fr,app_version,,1.4.2,2024-07-02T10:00:00Z
inst-fr,status,unavailable,ready,2024-07-02T10:12:00Z
inst-globex,status,ready,degraded,2024-06-30T23:00:00Z
";

pub const ATTEMPTS_CSV: &str = "\
id,license_id,status,started_at,user_email,environment,mode,registry
att-fr-1,lic-fr,failed,2024-07-01T09:00:00Z,ana@acme.fr,EKS,online,online
att-fr-2,lic-fr,succeeded,2024-07-02T09:30:00Z,ana@acme.fr,EKS,online,offline
att-de-1,lic-de,stalled,2024-07-10T14:00:00Z,jo@acme.de,Ubuntu 22.04,airgap,offline
";

pub const STEPS_CSV: &str = "\
attempt_id,name,at
att-fr-1,Started,2024-07-01T09:00:00Z
att-fr-1,Registry accessed,2024-07-01T09:02:00Z
att-fr-1,Failed,2024-07-01T09:20:00Z
att-fr-2,Started,2024-07-02T09:30:00Z
att-fr-2,Registry accessed,2024-07-02T09:31:00Z
att-fr-2,Images pulled,2024-07-02T09:45:00Z
att-fr-2,Completed,2024-07-02T10:00:00Z
att-de-1,Started,2024-07-10T14:00:00Z
att-de-1,Assets downloaded,2024-07-10T14:20:00Z
";

const FILES: [(&str, &str); 5] = [
    ("licenses.csv", LICENSES_CSV),
    ("instance_reports.csv", REPORTS_CSV),
    ("instance_events.csv", EVENTS_CSV),
    ("install_attempts.csv", ATTEMPTS_CSV),
    ("install_steps.csv", STEPS_CSV),
];

/// The small fixture, its three instances and the five customer files.
fn write_dataset(dir: &Path) {
    common::dataset(dir, common::INSTANCES_CSV);
    for (name, text) in FILES {
        fs::write(dir.join(name), text).unwrap();
    }
}

fn kind(c: &Change) -> &'static str {
    match c {
        Change::Account(_) => "account",
        Change::MonthUsage(_) => "month",
        Change::Tombstone { .. } => "tombstone",
        Change::Instance(_) => "instance",
        Change::License(_) => "license",
        Change::InstanceReport(_) => "report",
        Change::InstanceEvent(_) => "event",
        Change::InstallAttempt(_) => "attempt",
    }
}

/// The customer-reporting changes as `kind:key` (events: `event:instance:field@time`).
fn customer_keys(changes: &[Change]) -> BTreeSet<String> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::License(l) => Some(format!("license:{}", l.id)),
            Change::InstanceReport(r) => Some(format!("report:{}", r.instance_id)),
            Change::InstanceEvent(e) => Some(format!(
                "event:{}:{}@{}",
                e.instance_id,
                e.field,
                e.received_at.format("%d %H:%M")
            )),
            Change::InstallAttempt(a) => Some(format!("attempt:{}", a.id)),
            _ => None,
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn changes(db: &dyn Store, scope: &TokenScope, cursor: Option<&str>) -> (Vec<Change>, String) {
    let page = db.changes(scope, cursor, 20_000, false).unwrap();
    assert!(!page.has_more);
    (page.changes, page.next_cursor)
}

fn open(dir: &Path) -> std::sync::Arc<dyn Store> {
    usagedesk_testkit::engine::fresh_store(dir)
}

#[test]
fn the_customer_files_load_and_each_scope_sees_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_dataset(&data);
    let db = open(dir.path());
    let stats = db.load(read_dataset(&data).unwrap(), today()).unwrap();
    assert_eq!(
        (
            stats.licenses_changed,
            stats.reports_changed,
            stats.events_changed,
            stats.attempts_changed
        ),
        (3, 2, 4, 3)
    );

    let eu = customer_keys(&changes(db.as_ref(), &TokenScope::Subtree("acme-eu".into()), None).0);
    assert_eq!(
        eu,
        set(&[
            "attempt:att-de-1",
            "attempt:att-fr-1",
            "attempt:att-fr-2",
            "event:inst-fr:app_version@02 10:00",
            "event:inst-fr:status@02 10:00",
            "event:inst-fr:status@02 10:12",
            "license:lic-de",
            "license:lic-fr",
            "report:inst-fr",
        ])
    );
    let fr = customer_keys(&changes(db.as_ref(), &TokenScope::Subtree("acme-fr".into()), None).0);
    assert!(fr.iter().all(|k| k.contains("fr")), "{fr:?}");
    let globex =
        customer_keys(&changes(db.as_ref(), &TokenScope::Subtree("sp-globex".into()), None).0);
    assert_eq!(
        globex,
        set(&[
            "event:inst-globex:status@30 23:00",
            "license:lic-globex",
            "report:inst-globex",
        ])
    );
    let all = customer_keys(&changes(db.as_ref(), &TokenScope::All, None).0);
    assert_eq!(all.len(), eu.len() + globex.len());
    assert!(
        customer_keys(&changes(db.as_ref(), &TokenScope::Subtree("acme-us".into()), None).0)
            .is_empty()
    );
}

#[tokio::test]
async fn the_feed_sends_the_wire_types_through_the_api() {
    let h = Harness::start().await;
    let data = h.dir.path().join("customers");
    write_dataset(&data);
    h.storage
        .load(read_dataset(&data).unwrap(), today())
        .unwrap();
    let token = h.token(None, TokenKind::Manager);
    let (s, page) = h.get("/api/v1/changes?limit=20000", Some(&token)).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let all = page["changes"].as_array().unwrap().clone();
    let find = |kind: &str, key: &str, value: &str| -> Value {
        all.iter()
            .find(|c| c["kind"] == kind && c[key] == value)
            .unwrap_or_else(|| panic!("no {kind} {value} in {all:?}"))
            .clone()
    };
    assert_eq!(
        find("license", "id", "lic-globex"),
        json!({
            "kind": "license", "id": "lic-globex", "account_id": "globex-2",
            "license_type": "community", "channel": "Stable",
            "created_at": "2023-01-31T23:00:00Z", "expires_at": null,
            "features": {"gitops": false, "airgap": false, "identity": true, "snapshots": true},
            "seats": {"basic": 5, "premium": 2}
        })
    );
    assert_eq!(
        find("instance_report", "instance_id", "inst-globex"),
        json!({
            "kind": "instance_report", "instance_id": "inst-globex", "status": "degraded",
            "app_version": "2.0.0",
            "cluster": {
                "distribution": "", "kubernetes_version": "1.29.5", "embedded_cluster": true,
                "nodes_ready": 2, "nodes_total": 3, "agent_version": "0.1.0",
                "cloud_provider": null, "region": null
            },
            "first_check_in": "2023-03-01T12:00:00Z", "last_check_in": "2024-06-30T23:00:00Z"
        })
    );
    assert_eq!(
        find("instance_event", "instance_id", "inst-globex"),
        json!({
            "kind": "instance_event", "instance_id": "inst-globex", "field": "status",
            "previous": "ready", "new": "degraded", "received_at": "2024-06-30T23:00:00Z"
        })
    );
    let attempt = find("install_attempt", "id", "att-de-1");
    assert_eq!(
        attempt,
        json!({
            "kind": "install_attempt", "id": "att-de-1", "license_id": "lic-de",
            "status": "stalled", "started_at": "2024-07-10T14:00:00Z",
            "user_email": "jo@acme.de", "environment": "Ubuntu 22.04",
            "mode": "offline", "registry": "offline",
            "steps": [
                {"name": "Started", "at": "2024-07-10T14:00:00Z"},
                {"name": "Assets downloaded", "at": "2024-07-10T14:20:00Z"}
            ]
        })
    );
    let fr2 = find("install_attempt", "id", "att-fr-2");
    let steps: Vec<&str> = fr2["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["Started", "Registry accessed", "Images pulled", "Completed"],
        "steps in file order"
    );
    let (s, page) = h
        .get("/api/v1/changes?limit=20000&count=true", Some(&token))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["remaining"], all.len(), "count includes the new kinds");
}

#[test]
fn loading_again_changes_nothing_and_a_changed_row_moves_to_a_new_seq() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_dataset(&data);
    let db = open(dir.path());
    db.load(read_dataset(&data).unwrap(), today()).unwrap();
    let (_, cursor) = changes(db.as_ref(), &TokenScope::All, None);

    let stats = db.load(read_dataset(&data).unwrap(), today()).unwrap();
    assert_eq!(
        (
            stats.licenses_changed,
            stats.reports_changed,
            stats.events_changed,
            stats.attempts_changed
        ),
        (0, 0, 0, 0)
    );
    assert!(changes(db.as_ref(), &TokenScope::All, Some(&cursor))
        .0
        .is_empty());

    // One license renewed, one event corrected, one attempt's steps extended, one report
    // updated: exactly those move.
    let edit = |name: &str, from: &str, to: &str| {
        let text = fs::read_to_string(data.join(name)).unwrap();
        assert!(text.contains(from), "{name}: {from}");
        fs::write(data.join(name), text.replace(from, to)).unwrap();
    };
    edit(
        "licenses.csv",
        "2024-07-31T00:00:00Z",
        "2024-08-31T00:00:00Z",
    );
    edit(
        "instance_events.csv",
        "inst-fr,status,unavailable,ready",
        "inst-fr,status,updating,ready",
    );
    edit(
        "install_steps.csv",
        "att-de-1,Assets downloaded,2024-07-10T14:20:00Z\n",
        "att-de-1,Assets downloaded,2024-07-10T14:20:00Z\natt-de-1,Completed,2024-07-10T15:00:00Z\n",
    );
    edit(
        "instance_reports.csv",
        "2024-07-15T08:00:00Z",
        "2024-07-15T09:00:00Z",
    );
    let stats = db.load(read_dataset(&data).unwrap(), today()).unwrap();
    assert_eq!(
        (
            stats.licenses_changed,
            stats.reports_changed,
            stats.events_changed,
            stats.attempts_changed
        ),
        (1, 1, 1, 1)
    );
    let (moved, _) = changes(db.as_ref(), &TokenScope::All, Some(&cursor));
    assert_eq!(
        customer_keys(&moved),
        set(&[
            "attempt:att-de-1",
            "event:inst-fr:status@02 10:12",
            "license:lic-fr",
            "report:inst-fr",
        ])
    );
    let Some(Change::InstallAttempt(a)) = moved.iter().find(|c| kind(c) == "attempt") else {
        panic!("{moved:?}")
    };
    assert_eq!(a.steps.len(), 3);
    let Some(Change::InstanceEvent(e)) = moved.iter().find(|c| kind(c) == "event") else {
        panic!("{moved:?}")
    };
    assert_eq!(e.previous.as_deref(), Some("updating"));
}

#[test]
fn a_dataset_without_customer_files_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::dataset(&data, common::INSTANCES_CSV);
    let db = open(dir.path());
    let stats = db.load(read_dataset(&data).unwrap(), today()).unwrap();
    assert_eq!(stats.instances_changed, 3);
    assert!(customer_keys(&changes(db.as_ref(), &TokenScope::All, None).0).is_empty());
}

/// Each case: the file, a line appended to it (or `None` with a replacement), and what the
/// error must say.
#[test]
fn a_bad_row_names_its_file_and_line_and_nothing_is_loaded() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "licenses.csv",
            "lic-x,ghost,prod,Stable,2024-01-01T00:00:00Z,,,",
            "account_id 'ghost' is not an account",
        ),
        (
            "licenses.csv",
            "lic-x,acme-fr,gold,Stable,2024-01-01T00:00:00Z,,,",
            "none of prod, trial, dev, community",
        ),
        (
            "licenses.csv",
            "lic-x,acme-fr,prod,,2024-01-01T00:00:00Z,,,",
            "channel is empty",
        ),
        (
            "licenses.csv",
            "lic-x,acme-fr,prod,Stable,2024-01-01,,,",
            "not an RFC 3339 time",
        ),
        (
            "licenses.csv",
            "lic-x,acme-fr,prod,Stable,2024-01-01T00:00:00Z,2023-01-01T00:00:00Z,,",
            "not after created_at",
        ),
        (
            "licenses.csv",
            "lic-x,acme-fr,prod,Stable,2024-01-01T00:00:00Z,,gitops;sso,",
            "'sso' is none of gitops",
        ),
        (
            "licenses.csv",
            "lic-x,acme-fr,prod,Stable,2024-01-01T00:00:00Z,,,gold=3",
            "plan 'gold' is not in the catalog",
        ),
        (
            "licenses.csv",
            "lic-x,acme-fr,prod,Stable,2024-01-01T00:00:00Z,,,basic=many",
            "not a whole number",
        ),
        (
            "licenses.csv",
            "lic-x,acme-fr,prod,Stable,2024-07-16T00:00:00Z,,,",
            "in the future",
        ),
        (
            "licenses.csv",
            "lic-fr,acme-fr,prod,Stable,2024-01-01T00:00:00Z,,,",
            "appears twice",
        ),
        (
            "licenses.csv",
            "lic-x,acme-fr,prod,Stable",
            "found record with 4 fields",
        ),
        (
            "instance_reports.csv",
            "inst-ghost,ready,1.0,,,false,,,,,,2024-07-01T00:00:00Z,2024-07-01T00:00:00Z",
            "'inst-ghost' is not an instance",
        ),
        (
            "instance_reports.csv",
            "inst-de,sleeping,1.0,,,false,,,,,,2024-07-01T00:00:00Z,2024-07-01T00:00:00Z",
            "none of missing",
        ),
        (
            "instance_reports.csv",
            "inst-de,Ready,1.0,,,false,,,,,,2024-07-01T00:00:00Z,2024-07-01T00:00:00Z",
            "lowercase",
        ),
        (
            "instance_reports.csv",
            "inst-de,ready,1.0,,,true,4,3,,,,2024-07-01T00:00:00Z,2024-07-01T00:00:00Z",
            "nodes_ready (4) is more than nodes_total (3)",
        ),
        (
            "instance_reports.csv",
            "inst-de,ready,1.0,,,yes,,,,,,2024-07-01T00:00:00Z,2024-07-01T00:00:00Z",
            "embedded_cluster is 'yes'",
        ),
        (
            "instance_reports.csv",
            "inst-de,ready,1.0,,,false,,,,,,2024-07-02T00:00:00Z,2024-07-01T00:00:00Z",
            "is before first_check_in",
        ),
        (
            "instance_reports.csv",
            "inst-fr,ready,1.0,,,false,,,,,,2024-07-01T00:00:00Z,2024-07-01T00:00:00Z",
            "second report",
        ),
        (
            "instance_reports.csv",
            "inst-de,ready,1.0,,,false,,,,,,2024-07-01T00:00:00Z,2024-07-17T00:00:00Z",
            "in the future",
        ),
        (
            "instance_events.csv",
            "inst-ghost,status,,ready,2024-07-01T00:00:00Z",
            "'inst-ghost' is not an instance",
        ),
        (
            "instance_events.csv",
            "inst-de,colour,,red,2024-07-01T00:00:00Z",
            "field 'colour' is none of status",
        ),
        (
            "instance_events.csv",
            "inst-de,status,ready,sleepy,2024-07-01T00:00:00Z",
            "none of missing",
        ),
        (
            "instance_events.csv",
            "inst-de,status,ready,ready,2024-07-01T00:00:00Z",
            "an event records a change",
        ),
        (
            "instance_events.csv",
            "inst-de,nodes_ready,1,two,2024-07-01T00:00:00Z",
            "not a whole number of nodes",
        ),
        (
            "instance_events.csv",
            "inst-de,status,,ready,2024-07-16T00:00:00Z",
            "in the future",
        ),
        (
            "instance_events.csv",
            "inst-fr,status,ready,degraded,2024-07-02T10:12:00Z",
            "second 'status' event",
        ),
        (
            "install_attempts.csv",
            "att-x,lic-ghost,failed,2024-07-01T00:00:00Z,a@b.c,EKS,online,online",
            "license_id 'lic-ghost' is not a license",
        ),
        (
            "install_attempts.csv",
            "att-x,lic-fr,done,2024-07-01T00:00:00Z,a@b.c,EKS,online,online",
            "none of succeeded, stalled, failed",
        ),
        (
            "install_attempts.csv",
            "att-x,lic-fr,failed,2024-07-01T00:00:00Z,someone,EKS,online,online",
            "not an e-mail address",
        ),
        (
            "install_attempts.csv",
            "att-x,lic-fr,failed,2024-07-01T00:00:00Z,a@b.c,EKS,offline,offline",
            "neither online nor airgap",
        ),
        (
            "install_attempts.csv",
            "att-x,lic-fr,failed,2024-07-01T00:00:00Z,a@b.c,EKS,airgap,online",
            "always uses an offline registry",
        ),
        (
            "install_attempts.csv",
            "att-fr-1,lic-fr,failed,2024-07-01T00:00:00Z,a@b.c,EKS,online,online",
            "appears twice",
        ),
        (
            "install_steps.csv",
            "att-ghost,Started,2024-07-01T00:00:00Z",
            "'att-ghost' is not an install attempt",
        ),
        (
            "install_steps.csv",
            "att-de-1,Completed,2024-07-10T13:00:00Z",
            "before its attempt started",
        ),
        (
            "install_steps.csv",
            "att-de-1,Completed,2024-07-10T14:10:00Z",
            "earlier than the step before it (line 10)",
        ),
        (
            "install_steps.csv",
            "att-de-1,,2024-07-10T15:00:00Z",
            "name is empty",
        ),
        (
            "instances.csv",
            "inst-x,lic-globex,acme-fr,false,",
            "runs under license 'lic-globex', which belongs to account 'globex-2'",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for (file, line, needle) in cases {
        let data = dir.path().join("data");
        let _ = fs::remove_dir_all(&data);
        write_dataset(&data);
        let mut text = fs::read_to_string(data.join(file)).unwrap();
        let line_no = text.lines().count() + 1;
        text.push_str(line);
        text.push('\n');
        fs::write(data.join(file), text).unwrap();
        let err = match read_dataset(&data) {
            Err(e) => e.to_string(),
            Ok(ds) => match db.load(ds, today()) {
                Err(LoadError::Row(r)) => r.to_string(),
                Err(e) => panic!("{line}: expected a row error, got {e}"),
                Ok(_) => panic!("{file}: {line}: must be refused"),
            },
        };
        assert!(
            err.contains(&format!("{file}, line {line_no}: ")),
            "'{err}' names {file} and line {line_no}"
        );
        assert!(err.contains(needle), "'{err}' should say '{needle}'");
        assert!(
            changes(db.as_ref(), &TokenScope::All, None).0.is_empty(),
            "{line}: nothing was written"
        );
    }
}

#[test]
fn a_repeated_event_is_the_refusal_even_when_a_later_event_is_refused_too() {
    // Events are written many per statement; the refusal is still the file's first bad row.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_dataset(&data);
    let mut text = fs::read_to_string(data.join("instance_events.csv")).unwrap();
    let repeated = text.lines().count() + 1;
    text.push_str("inst-fr,status,ready,degraded,2024-07-02T10:12:00Z\n");
    text.push_str("inst-ghost,status,,ready,2024-07-01T00:00:00Z\n");
    fs::write(data.join("instance_events.csv"), text).unwrap();
    let db = open(dir.path());
    let err = match db.load(read_dataset(&data).unwrap(), today()) {
        Err(LoadError::Row(r)) => r.to_string(),
        other => panic!("expected a row error, got {other:?}"),
    };
    assert!(
        err.contains(&format!("instance_events.csv, line {repeated}: "))
            && err.contains("second 'status' event"),
        "'{err}' names the repeated row, which comes first"
    );
    assert!(
        changes(db.as_ref(), &TokenScope::All, None).0.is_empty(),
        "nothing was written"
    );
}

#[test]
fn licenses_and_attempts_keep_their_owner() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_dataset(&data);
    let db = open(dir.path());
    db.load(read_dataset(&data).unwrap(), today()).unwrap();
    let (_, cursor) = changes(db.as_ref(), &TokenScope::All, None);
    for (file, from, to, needle) in [
        (
            "licenses.csv",
            "lic-fr,acme-fr,",
            "lic-fr,acme-de,",
            "license 'lic-fr' belongs to account 'acme-fr'; a license cannot move",
        ),
        (
            "install_attempts.csv",
            "att-de-1,lic-de,",
            "att-de-1,lic-fr,",
            "an attempt keeps its license",
        ),
    ] {
        write_dataset(&data);
        let text = fs::read_to_string(data.join(file)).unwrap();
        fs::write(data.join(file), text.replace(from, to)).unwrap();
        let err = db
            .load(read_dataset(&data).unwrap(), today())
            .unwrap_err()
            .to_string();
        assert!(err.contains(file) && err.contains(needle), "{err}");
    }
    assert!(changes(db.as_ref(), &TokenScope::All, Some(&cursor))
        .0
        .is_empty());
}

#[test]
fn an_account_that_moves_takes_its_customer_data_to_its_new_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_dataset(&data);
    let db = open(dir.path());
    db.load(read_dataset(&data).unwrap(), today()).unwrap();
    let globex = TokenScope::Subtree("sp-globex".into());
    let (_, cursor) = changes(db.as_ref(), &globex, None);

    // acme-fr moves from acme-eu to sp-globex.
    let text = fs::read_to_string(data.join("accounts.csv"))
        .unwrap()
        .replace(
            "acme-fr,Acme France,acme-eu,",
            "acme-fr,Acme France,sp-globex,",
        );
    fs::write(data.join("accounts.csv"), text).unwrap();
    db.load(read_dataset(&data).unwrap(), today()).unwrap();
    assert_eq!(
        customer_keys(&changes(db.as_ref(), &globex, Some(&cursor)).0),
        set(&[
            "attempt:att-fr-1",
            "attempt:att-fr-2",
            "event:inst-fr:app_version@02 10:00",
            "event:inst-fr:status@02 10:00",
            "event:inst-fr:status@02 10:12",
            "license:lic-fr",
            "report:inst-fr",
        ])
    );
}

/// The demo generator and the loader agree: every customer file the demo writes loads, and
/// the feed carries as many of each kind as the demo wrote.
#[test]
fn the_demo_data_loads_and_the_feed_carries_all_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 18).unwrap();
    let summary =
        usagedesk_demo::write_demo(&usagedesk_demo::DemoOptions::new(300, 4, 9, today), &data)
            .unwrap();
    let db = open(dir.path());
    let stats = db.load(read_dataset(&data).unwrap(), today).unwrap();
    assert_eq!(
        (
            stats.licenses_changed,
            stats.reports_changed,
            stats.events_changed,
            stats.attempts_changed
        ),
        (
            summary.licenses,
            summary.instance_reports,
            summary.instance_events,
            summary.install_attempts
        )
    );
    let (all, _) = changes(db.as_ref(), &TokenScope::All, None);
    let count = |k: &str| all.iter().filter(|c| kind(c) == k).count();
    assert_eq!(count("license"), summary.licenses);
    assert_eq!(count("report"), summary.instance_reports);
    assert_eq!(count("event"), summary.instance_events);
    assert_eq!(count("attempt"), summary.install_attempts);
    assert!(summary.install_attempts > 0 && summary.instance_events > summary.instance_reports);
}
