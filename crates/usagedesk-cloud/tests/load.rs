//! Loading datasets: all or nothing, errors that name file, line and problem, reparenting.

use std::fs;
use std::path::Path;

use usagedesk_cloud::load::read_dataset;
use usagedesk_cloud::storage::{LoadError, Storage, TokenScope};
use usagedesk_cloud::SqliteStorage;
use usagedesk_domain::api::Change;
use usagedesk_testkit::{small_fixture, today};

fn copy_fixture(to: &Path) {
    fs::create_dir_all(to).unwrap();
    for f in ["accounts.csv", "daily_usage.csv"] {
        fs::copy(small_fixture().join(f), to.join(f)).unwrap();
    }
}

fn all_changes(s: &SqliteStorage, scope: &TokenScope) -> Vec<Change> {
    s.changes(scope, None, 20_000, false).unwrap().changes
}

#[test]
fn a_bad_row_names_its_file_line_and_problem_and_nothing_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteStorage::open(&dir.path().join("c.db")).unwrap();
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
            all_changes(&db, &TokenScope::All).is_empty(),
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
    let db = SqliteStorage::open(&dir.path().join("c.db")).unwrap();
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
    let db = SqliteStorage::open(&dir.path().join("c.db")).unwrap();
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
    let db = SqliteStorage::open(&dir.path().join("c.db")).unwrap();
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
