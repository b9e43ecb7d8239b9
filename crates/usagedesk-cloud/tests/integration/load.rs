//! Loading datasets: all or nothing, errors that name file, line and problem, reparenting.

use std::fs;
use std::path::Path;

use usagedesk_cloud::load::read_dataset;
use usagedesk_cloud::storage::{LoadError, TokenScope};
use usagedesk_cloud::Store;
use usagedesk_domain::api::Change;
use usagedesk_domain::load_format::{INSTANCE_REPORTS_HEADER, LICENSES_HEADER};
use usagedesk_testkit::{small_fixture, today};

fn copy_fixture(to: &Path) {
    fs::create_dir_all(to).unwrap();
    for f in ["accounts.csv", "daily_usage.csv"] {
        fs::copy(small_fixture().join(f), to.join(f)).unwrap();
    }
}

fn all_changes(s: &dyn Store, scope: &TokenScope) -> Vec<Change> {
    s.changes(scope, None, 20_000, false).unwrap().changes
}

#[test]
fn a_bad_row_names_its_file_line_and_problem_and_nothing_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let db = usagedesk_testkit::engine::fresh_store(dir.path());
    let cases = [
        (
            "daily_usage.csv",
            "acme-fr,2024-05-01,gold,1,1,1",
            "not in the catalog",
        ),
        (
            "daily_usage.csv",
            "acme-fr,2024-05-01,basic,-1,1,1",
            "0 or more",
        ),
        (
            "daily_usage.csv",
            "acme-fr,2024-07-30,basic,1,1,1",
            "future",
        ),
        (
            "daily_usage.csv",
            "ghost,2024-05-01,basic,1,1,1",
            "not an account",
        ),
        ("daily_usage.csv", "acme-fr,2024-05-01,basic,1,1", "fields"),
        (
            "accounts.csv",
            "orphan,Orphan,missing-parent,active,2024-01-01",
            "parent_id 'missing-parent'",
        ),
        (
            "accounts.csv",
            "x1,X,active,active,2024-01-01",
            "parent_id 'active'",
        ),
        ("accounts.csv", "acme-fr,Again,,active,2024-01-01", "twice"),
        ("accounts.csv", "y1,Y,,sleeping,2024-01-01", "neither"),
        ("accounts.csv", "y2,Y,,active,2024-13-01", "created_at"),
    ];
    for (file, line, needle) in cases {
        let data = dir.path().join("data");
        let _ = fs::remove_dir_all(&data);
        copy_fixture(&data);
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
                Ok(_) => panic!("{line}: must be refused"),
            },
        };
        assert!(err.contains(file), "{err} names the file");
        assert!(err.contains(needle), "'{err}' should say '{needle}'");
        if file == "daily_usage.csv" || needle.contains("twice") || needle.contains("parent") {
            assert!(
                err.contains(&format!("line {line_no}")),
                "'{err}' should name line {line_no}"
            );
        }
        assert!(
            all_changes(db.as_ref(), &TokenScope::All).is_empty(),
            "{line}: nothing was written"
        );
    }
}

#[test]
fn a_parent_cycle_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir_all(&data).unwrap();
    fs::write(
        data.join("accounts.csv"),
        "id,name,parent_id,status,created_at\na,A,b,active,2024-01-01\nb,B,a,active,2024-01-01\n",
    )
    .unwrap();
    fs::write(
        data.join("daily_usage.csv"),
        "account_id,date,plan,users_registered,users_with_token,users_with_activity\n",
    )
    .unwrap();
    let db = usagedesk_testkit::engine::fresh_store(dir.path());
    let err = db
        .load(read_dataset(&data).unwrap(), today())
        .unwrap_err()
        .to_string();
    assert!(err.contains("cycle"), "{err}");
}

#[test]
fn moving_an_account_tombstones_it_for_its_old_scope_and_sends_it_to_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_fixture(&data);
    let db = usagedesk_testkit::engine::fresh_store(dir.path());
    db.load(read_dataset(&data).unwrap(), today()).unwrap();
    let eu = TokenScope::Subtree("acme-eu".into());
    let globex = TokenScope::Subtree("sp-globex".into());
    let eu_cursor = db.changes(&eu, None, 20_000, false).unwrap().next_cursor;
    let globex_cursor = db
        .changes(&globex, None, 20_000, false)
        .unwrap()
        .next_cursor;

    // acme-de (with its two children) moves from acme-eu to sp-globex.
    let text = fs::read_to_string(data.join("accounts.csv"))
        .unwrap()
        .replace(
            "acme-de,\"Acme \"\"Deutschland\"\" GmbH\",acme-eu,",
            "acme-de,\"Acme \"\"Deutschland\"\" GmbH\",sp-globex,",
        );
    fs::write(data.join("accounts.csv"), text).unwrap();
    fs::write(
        data.join("daily_usage.csv"),
        "account_id,date,plan,users_registered,users_with_token,users_with_activity\n",
    )
    .unwrap();
    db.load(read_dataset(&data).unwrap(), today()).unwrap();

    let eu_new = db
        .changes(&eu, Some(&eu_cursor), 20_000, false)
        .unwrap()
        .changes;
    assert_eq!(
        eu_new,
        vec![Change::Tombstone {
            account_id: "acme-de".into()
        }],
        "the old scope learns the subtree left"
    );
    let globex_new = db
        .changes(&globex, Some(&globex_cursor), 20_000, false)
        .unwrap()
        .changes;
    let ids: std::collections::BTreeSet<_> = globex_new
        .iter()
        .map(|c| match c {
            Change::Account(a) => a.id.clone(),
            Change::MonthUsage(m) => m.account_id.clone(),
            Change::Tombstone { account_id } => account_id.clone(),
            Change::Instance(i) => i.account_id.clone(),
            other => panic!("the fixture has no customer data: {other:?}"),
        })
        .collect();
    assert_eq!(
        ids.into_iter().collect::<Vec<_>>(),
        ["acme-de", "acme-de-ber", "acme-de-muc"],
        "the new scope gets the whole subtree"
    );
    assert!(
        globex_new
            .iter()
            .any(|c| matches!(c, Change::MonthUsage(m) if m.account_id == "acme-de-muc")),
        "with its usage"
    );
}

#[test]
fn loading_the_same_folder_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = usagedesk_testkit::engine::fresh_store(dir.path());
    db.load(read_dataset(&small_fixture()).unwrap(), today())
        .unwrap();
    let cursor = db
        .changes(&TokenScope::All, None, 20_000, false)
        .unwrap()
        .next_cursor;
    let stats = db
        .load(read_dataset(&small_fixture()).unwrap(), today())
        .unwrap();
    assert_eq!((stats.accounts_changed, stats.months_changed), (0, 0));
    assert!(db
        .changes(&TokenScope::All, Some(&cursor), 100, false)
        .unwrap()
        .changes
        .is_empty());
}

const INSTANCES_HEADER: &str = "id,license_id,account_id,airgapped,public_key\n";
const KEY: &str = "ed25519:R4uOUH4LsrGMD54IJHaehWLRDfmr4ud0iW+CtLRAUmY=";
const OTHER_KEY: &str = "ed25519:WSW6huIYlESmw7Q3sl0u812uzRq/gsX7NgYPn8CvQow=";

fn instances_of(s: &dyn Store) -> Vec<usagedesk_domain::Instance> {
    all_changes(s, &TokenScope::All)
        .into_iter()
        .filter_map(|c| match c {
            Change::Instance(i) => Some(i),
            _ => None,
        })
        .collect()
}

#[test]
fn a_bad_instance_row_names_its_line_and_nothing_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let db = usagedesk_testkit::engine::fresh_store(dir.path());
    let good = "inst-1,lic-1,acme-de,true,\n";
    let cases = [
        (
            "inst-2,lic-2,ghost,false,",
            "account_id 'ghost' is not an account",
        ),
        (
            "inst-2,lic-2,acme-fr,yes,",
            "airgapped is 'yes'; write true",
        ),
        ("inst-2,lic-2,acme-fr,false,ssh-ed25519 AAAA", "public_key"),
        (
            "inst-2,lic-2,acme-fr,false,ed25519:AAAA",
            "3 bytes long, not 32",
        ),
        (
            "inst-1,lic-1,acme-fr,false,",
            "instance id 'inst-1' appears twice",
        ),
        (" inst-2,lic-2,acme-fr,false,", "surrounding spaces"),
        ("inst-2,,acme-fr,false,", "license_id is empty"),
        ("inst-2,lic-2,acme-fr,false", "4 fields"),
    ];
    for (line, needle) in cases {
        let data = dir.path().join("data");
        let _ = fs::remove_dir_all(&data);
        copy_fixture(&data);
        fs::write(
            data.join("instances.csv"),
            format!("{INSTANCES_HEADER}{good}{line}\n"),
        )
        .unwrap();
        let err = match read_dataset(&data) {
            Err(e) => e.to_string(),
            Ok(ds) => match db.load(ds, today()) {
                Err(LoadError::Row(r)) => r.to_string(),
                Err(e) => panic!("{line}: expected a row error, got {e}"),
                Ok(_) => panic!("{line}: must be refused"),
            },
        };
        assert!(err.contains("instances.csv"), "{err} names the file");
        assert!(
            err.contains("line 3"),
            "{err} names the line of the bad row"
        );
        assert!(err.contains(needle), "'{err}' should say '{needle}'");
        assert!(
            all_changes(db.as_ref(), &TokenScope::All).is_empty(),
            "{line}: nothing was written, accounts and usage included"
        );
    }

    // A wrong header is refused before any row.
    let data = dir.path().join("data");
    fs::write(
        data.join("instances.csv"),
        "id,license,account,airgapped,key\n",
    )
    .unwrap();
    let err = read_dataset(&data).map(|_| ()).unwrap_err().to_string();
    assert!(
        err.contains("id,license_id,account_id,airgapped,public_key"),
        "{err} shows the expected header"
    );
}

/// Of several bad files, the one reported is the first in the order the files would be read
/// one after another (accounts, instances, daily usage's header, licenses, reports), though
/// instances are read on a thread of their own meanwhile: fixing each in turn brings up the
/// next.
#[test]
fn of_several_bad_files_the_first_in_file_order_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_fixture(&data);
    let header = |h: &[&str]| format!("{}\n", h.join(","));
    // Well-formed headers with a row that fails its file's checks; a wrong daily header.
    let accounts = fs::read_to_string(data.join("accounts.csv")).unwrap();
    fs::write(data.join("accounts.csv"), format!("{accounts}acme-xx\n")).unwrap();
    fs::write(
        data.join("instances.csv"),
        format!("{INSTANCES_HEADER}inst-1,lic-1,acme-de,maybe,\n"),
    )
    .unwrap();
    let daily = fs::read_to_string(data.join("daily_usage.csv")).unwrap();
    fs::write(data.join("daily_usage.csv"), "account,day\n").unwrap();
    fs::write(
        data.join("licenses.csv"),
        format!("{}lic-1\n", header(&LICENSES_HEADER)),
    )
    .unwrap();
    fs::write(
        data.join("instance_reports.csv"),
        format!("{}inst-1\n", header(&INSTANCE_REPORTS_HEADER)),
    )
    .unwrap();
    let first = |data: &Path| read_dataset(data).map(|_| ()).unwrap_err().to_string();

    let err = first(&data);
    assert!(err.contains("accounts.csv"), "{err}: accounts come first");
    fs::write(data.join("accounts.csv"), &accounts).unwrap();
    let err = first(&data);
    assert!(err.contains("instances.csv"), "{err}: then instances");
    fs::write(data.join("instances.csv"), INSTANCES_HEADER).unwrap();
    let err = first(&data);
    assert!(
        err.contains("daily_usage.csv"),
        "{err}: then the daily rows' header"
    );
    fs::write(data.join("daily_usage.csv"), &daily).unwrap();
    let err = first(&data);
    assert!(err.contains("licenses.csv"), "{err}: then licenses");
    fs::write(data.join("licenses.csv"), header(&LICENSES_HEADER)).unwrap();
    let err = first(&data);
    assert!(err.contains("instance_reports.csv"), "{err}: then reports");
    fs::write(
        data.join("instance_reports.csv"),
        header(&INSTANCE_REPORTS_HEADER),
    )
    .unwrap();
    assert!(
        read_dataset(&data).is_ok(),
        "and with every file mended it reads"
    );
}

#[test]
fn instances_load_with_the_dataset_and_reloads_keep_what_the_exchange_learnt() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_fixture(&data);
    let db = usagedesk_testkit::engine::fresh_store(dir.path());
    fs::write(
        data.join("instances.csv"),
        format!("{INSTANCES_HEADER}inst-1,lic-1,acme-de,true,\ninst-2,lic-1,acme-fr,false,{KEY}\n"),
    )
    .unwrap();
    let stats = db.load(read_dataset(&data).unwrap(), today()).unwrap();
    assert_eq!(stats.instances_changed, 2);
    let loaded = instances_of(db.as_ref());
    assert_eq!(loaded.len(), 2);
    assert!(
        loaded[0].airgapped && loaded[0].public_key.is_none(),
        "{loaded:?}"
    );
    assert_eq!(loaded[1].public_key.as_deref(), Some(KEY));

    // The same file again changes nothing.
    let cursor = db
        .changes(&TokenScope::All, None, 20_000, false)
        .unwrap()
        .next_cursor;
    let stats = db.load(read_dataset(&data).unwrap(), today()).unwrap();
    assert_eq!(stats.instances_changed, 0);
    assert!(db
        .changes(&TokenScope::All, Some(&cursor), 100, false)
        .unwrap()
        .changes
        .is_empty());

    // An empty key keeps the pinned one; another key replaces it (the vendor's reset).
    fs::write(
        data.join("instances.csv"),
        format!("{INSTANCES_HEADER}inst-2,lic-1,acme-fr,true,\n"),
    )
    .unwrap();
    db.load(read_dataset(&data).unwrap(), today()).unwrap();
    let i2 = instances_of(db.as_ref())
        .into_iter()
        .find(|i| i.id == "inst-2")
        .unwrap();
    assert_eq!((i2.airgapped, i2.public_key.as_deref()), (true, Some(KEY)));
    fs::write(
        data.join("instances.csv"),
        format!("{INSTANCES_HEADER}inst-2,lic-1,acme-fr,true,{OTHER_KEY}\n"),
    )
    .unwrap();
    db.load(read_dataset(&data).unwrap(), today()).unwrap();
    let i2 = instances_of(db.as_ref())
        .into_iter()
        .find(|i| i.id == "inst-2")
        .unwrap();
    assert_eq!(i2.public_key.as_deref(), Some(OTHER_KEY));

    // An instance cannot move to another account.
    fs::write(
        data.join("instances.csv"),
        format!("{INSTANCES_HEADER}inst-2,lic-1,acme-us,true,\n"),
    )
    .unwrap();
    let err = db
        .load(read_dataset(&data).unwrap(), today())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("belongs to account 'acme-fr'"),
        "{err}"
    );
}

#[test]
fn plans_carry_their_seat_metric_and_a_file_without_the_column_counts_users_registered() {
    let dir = tempfile::tempdir().unwrap();
    let db = usagedesk_testkit::engine::fresh_store(dir.path());
    let data = dir.path().join("data");
    copy_fixture(&data);
    fs::write(
        data.join("plans.csv"),
        "id,name,seat_metric\nbasic,Basic,\nstandard,Standard,users_with_token\npremium,Premium,users_with_activity\n",
    )
    .unwrap();
    db.load(read_dataset(&data).unwrap(), today()).unwrap();
    let metrics: Vec<(String, &str)> = db
        .plans()
        .unwrap()
        .0
        .into_iter()
        .map(|p| (p.id, p.seat_metric.as_str()))
        .collect();
    assert_eq!(
        metrics,
        [
            ("basic".to_string(), "users_registered"),
            ("standard".to_string(), "users_with_token"),
            ("premium".to_string(), "users_with_activity"),
        ],
        "an empty seat_metric is users_registered; the others as written"
    );

    // The older two-column file still loads; it sets every plan back to users registered.
    fs::write(
        data.join("plans.csv"),
        "id,name\nbasic,Basic\nstandard,Standard\npremium,Premium\n",
    )
    .unwrap();
    db.load(read_dataset(&data).unwrap(), today()).unwrap();
    assert!(db
        .plans()
        .unwrap()
        .0
        .iter()
        .all(|p| p.seat_metric.as_str() == "users_registered"));
}

#[test]
fn an_unknown_seat_metric_names_file_line_and_value_and_nothing_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let db = usagedesk_testkit::engine::fresh_store(dir.path());
    let data = dir.path().join("data");
    copy_fixture(&data);
    fs::write(
        data.join("plans.csv"),
        "id,name,seat_metric\nbasic,Basic,users_registered\nstandard,Standard,seats\npremium,Premium,\n",
    )
    .unwrap();
    let err = match read_dataset(&data) {
        Err(e) => e.to_string(),
        Ok(ds) => db.load(ds, today()).unwrap_err().to_string(),
    };
    assert!(err.contains("plans.csv"), "{err} names the file");
    assert!(err.contains("line 3"), "{err} names the line");
    assert!(err.contains("'seats'"), "{err} names the value");
    assert!(
        all_changes(db.as_ref(), &TokenScope::All).is_empty(),
        "nothing was written"
    );
    assert!(
        db.plans()
            .unwrap()
            .0
            .iter()
            .all(|p| p.seat_metric.as_str() == "users_registered"),
        "the stored catalog is unchanged"
    );
}
