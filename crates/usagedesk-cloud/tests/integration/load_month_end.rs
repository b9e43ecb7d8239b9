//! Month-end rows derived by a load, checked against the definition computed here from the
//! daily rows: for each (account, month), the latest-dated snapshot; of two rows of one
//! account and date, the one loaded last. Files in any order, first loads and loads on top of
//! stored data.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use usagedesk_cloud::load::read_dataset;
use usagedesk_cloud::storage::TokenScope;
use usagedesk_cloud::Store;
use usagedesk_domain::api::Change;
use usagedesk_testkit::today;

const ACCOUNTS: &str = "id,name,parent_id,status,created_at
a,A,,active,2024-01-01
b,B,a,active,2024-01-01
c,C,,disabled,2024-01-01
";

/// (account, date, plan, users_registered, users_with_token, users_with_activity)
type Daily = (&'static str, &'static str, &'static str, u64, u64, u64);

fn write(dir: &Path, daily: &[Daily]) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("accounts.csv"), ACCOUNTS).unwrap();
    let mut text =
        "account_id,date,plan,users_registered,users_with_token,users_with_activity\n".to_string();
    for (a, d, p, r, t, u) in daily {
        text.push_str(&format!("{a},{d},{p},{r},{t},{u}\n"));
    }
    fs::write(dir.join("daily_usage.csv"), text).unwrap();
}

/// (account, month) -> (plan, snapshot date, counts)
type MonthEnds = BTreeMap<(String, String), (String, String, [u64; 3])>;

/// The month-end rows of everything loaded so far, from the definition.
fn expected(loads: &[&[Daily]]) -> MonthEnds {
    // The stored daily rows: one per (account, date), the last loaded wins.
    let mut stored: BTreeMap<(String, String), (String, [u64; 3])> = BTreeMap::new();
    for load in loads {
        for (a, d, p, r, t, u) in *load {
            stored.insert(
                (a.to_string(), d.to_string()),
                (p.to_string(), [*r, *t, *u]),
            );
        }
    }
    let mut out = MonthEnds::new();
    // In (account, date) order, so the last row of a month is its latest date.
    for ((a, d), (p, c)) in stored {
        out.insert((a, d[..7].to_string()), (p, d, c));
    }
    out
}

fn month_rows(changes: &[Change]) -> MonthEnds {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::MonthUsage(m) => Some((
                (m.account_id.clone(), m.month.to_string()),
                (
                    m.plan.clone(),
                    m.snapshot_date.to_string(),
                    [
                        m.counts.users_registered,
                        m.counts.users_with_token,
                        m.counts.users_with_activity,
                    ],
                ),
            )),
            _ => None,
        })
        .collect()
}

fn load(db: &dyn Store, dir: &Path, daily: &[Daily]) -> usize {
    let _ = fs::remove_dir_all(dir);
    write(dir, daily);
    db.load(read_dataset(dir).unwrap(), today())
        .unwrap()
        .months_changed
}

const FIRST: &[Daily] = &[
    ("a", "2024-01-10", "basic", 5, 4, 3),
    ("a", "2024-01-31", "basic", 7, 4, 3),
    ("b", "2024-01-20", "standard", 3, 2, 1),
    // Back to a's January after b: the file is not sorted. Earlier than 01-31: not the end.
    ("a", "2024-01-20", "basic", 6, 4, 3),
    ("a", "2024-02-03", "premium", 1, 1, 1),
    ("b", "2024-02-28", "standard", 9, 9, 9),
    ("c", "2024-03-15", "basic", 2, 2, 2),
    // The same account and date again: this row replaces the one before.
    ("b", "2024-02-28", "standard", 10, 9, 8),
    // a's January once more, later in the month than any before.
    ("a", "2024-01-31", "premium", 8, 4, 3),
];

const SECOND: &[Daily] = &[
    // Earlier than January's stored end: January does not change.
    ("a", "2024-01-15", "basic", 99, 99, 99),
    // Later than February's stored end (02-03): the new end.
    ("a", "2024-02-10", "premium", 2, 2, 2),
    // Same date as February's stored end with other counts: replaced.
    ("b", "2024-02-28", "standard", 11, 9, 8),
    // Same date and same values as March's end: nothing changes.
    ("c", "2024-03-15", "basic", 2, 2, 2),
    // A month a had no row in.
    ("a", "2024-03-05", "basic", 4, 3, 2),
];

#[test]
fn a_first_load_derives_each_month_end_from_the_latest_snapshot_in_any_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = usagedesk_testkit::engine::fresh_store(dir.path());
    let changed = load(db.as_ref(), &dir.path().join("data"), FIRST);
    let want = expected(&[FIRST]);
    let page = db.changes(&TokenScope::All, None, 20_000, false).unwrap();
    assert_eq!(month_rows(&page.changes), want);
    assert_eq!(changed, want.len(), "every month-end row is new");
    assert_eq!(
        want[&("a".into(), "2024-01".into())],
        ("premium".into(), "2024-01-31".into(), [8, 4, 3]),
        "the later of two rows of one date, wherever it stands in the file"
    );
    let months = page
        .changes
        .iter()
        .filter(|c| matches!(c, Change::MonthUsage(_)))
        .count();
    assert_eq!(months, want.len(), "each month-end row is on the feed once");
}

#[test]
fn a_load_on_top_of_stored_rows_changes_only_the_month_ends_it_moves() {
    let dir = tempfile::tempdir().unwrap();
    let db = usagedesk_testkit::engine::fresh_store(dir.path());
    load(db.as_ref(), &dir.path().join("one"), FIRST);
    let cursor = db
        .changes(&TokenScope::All, None, 20_000, false)
        .unwrap()
        .next_cursor;

    let changed = load(db.as_ref(), &dir.path().join("two"), SECOND);
    let before = expected(&[FIRST]);
    let after = expected(&[FIRST, SECOND]);
    let moved: MonthEnds = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(
        moved.keys().cloned().collect::<Vec<_>>(),
        [
            ("a".to_string(), "2024-02".to_string()),
            ("a".to_string(), "2024-03".to_string()),
            ("b".to_string(), "2024-02".to_string()),
        ],
        "the computation here agrees on what moved"
    );
    let new = db
        .changes(&TokenScope::All, Some(&cursor), 20_000, false)
        .unwrap()
        .changes;
    assert_eq!(
        month_rows(&new),
        moved,
        "the feed carries exactly the month-end rows that moved, with their new values"
    );
    assert_eq!(changed, moved.len());
    let all = db.changes(&TokenScope::All, None, 20_000, false).unwrap();
    assert_eq!(
        month_rows(&all.changes),
        after,
        "and the stored month-end rows are those of every row loaded"
    );
    assert_eq!(
        load(db.as_ref(), &dir.path().join("three"), SECOND),
        0,
        "the same rows again change nothing"
    );
}

/// Each of a, b and c with a row a day for half a year, in key order (accounts together,
/// dates rising): many statements' worth of rows.
fn in_key_order() -> Vec<Daily> {
    let mut rows = Vec::new();
    for (n, account) in ["a", "b", "c"].into_iter().enumerate() {
        let mut date = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        while date < chrono::NaiveDate::from_ymd_opt(2024, 7, 1).unwrap() {
            let i = rows.len() as u64;
            let text: &'static str = date.format("%Y-%m-%d").to_string().leak();
            let plan = ["basic", "standard", "premium"][(i as usize / 40 + n) % 3];
            rows.push((account, text, plan, i, i / 2, i / 3));
            date = date.succ_opt().unwrap();
        }
    }
    rows
}

/// After the rows in key order, rows that break it: a date again, an earlier date, an account
/// whose rows were done, and the same date once more.
const OUT_OF_ORDER: &[Daily] = &[
    ("a", "2024-03-31", "premium", 1000, 900, 800),
    ("b", "2024-02-10", "basic", 1001, 901, 801),
    ("c", "2024-07-03", "standard", 1002, 902, 802),
    ("a", "2024-06-30", "basic", 1003, 903, 803),
    ("a", "2024-03-31", "standard", 1004, 904, 804),
];

#[test]
fn a_first_load_in_key_order_and_one_that_breaks_it_later_store_the_same_as_the_definition() {
    let ordered = in_key_order();
    let mut broken = ordered.clone();
    broken.extend_from_slice(OUT_OF_ORDER);
    // A later load reads the stored daily rows: on top of either, its month ends still follow
    // the definition only if the first load stored every daily row as it should.
    let later: &[Daily] = &[
        ("a", "2024-03-30", "basic", 7, 7, 7),
        ("b", "2024-02-11", "basic", 8, 8, 8),
        ("c", "2024-07-02", "basic", 9, 9, 9),
    ];
    // The same account and date twice in a row: the order breaks there too.
    let mut repeated = ordered.clone();
    let (a, date, plan, ..) = repeated[9];
    repeated.insert(10, (a, date, plan, 2000, 2000, 2000));
    for (name, first) in [
        ("in key order", &ordered),
        ("order broken", &broken),
        ("a date repeated at once", &repeated),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let db = usagedesk_testkit::engine::fresh_store(dir.path());
        let changed = load(db.as_ref(), &dir.path().join("one"), first);
        let want = expected(&[first]);
        let page = db.changes(&TokenScope::All, None, 20_000, false).unwrap();
        assert_eq!(month_rows(&page.changes), want, "{name}");
        assert_eq!(changed, want.len(), "{name}: every month-end row is new");
        let on_feed = page
            .changes
            .iter()
            .filter(|c| matches!(c, Change::MonthUsage(_)))
            .count();
        assert_eq!(on_feed, want.len(), "{name}: each month-end row once");

        load(db.as_ref(), &dir.path().join("two"), later);
        let all = db.changes(&TokenScope::All, None, 20_000, false).unwrap();
        assert_eq!(
            month_rows(&all.changes),
            expected(&[first, later]),
            "{name}, then a later load"
        );
    }
    let want = expected(&[&broken]);
    assert_eq!(
        want[&("a".into(), "2024-03".into())],
        ("standard".into(), "2024-03-31".into(), [1004, 904, 804]),
        "the definition here: the last of the rows of one date, after the file's order broke"
    );
    assert_eq!(
        want[&("c".into(), "2024-07".into())].1,
        "2024-07-03",
        "an account whose rows were done gets a new month"
    );
}
