//! [`Tenants`]: loads, their refusals, ingest, accounts and their scopes.

use usagedesk_cloud::storage::{InstanceRow, LoadError};
use usagedesk_cloud::TokenScope;
use usagedesk_domain::customer::License;
use usagedesk_domain::YearMonth;

use super::*;

pub fn a_load_writes_accounts_month_ends_and_the_tree(open: Open<'_>) {
    let fresh = open();
    let rows = tree_rows();
    let stats = fresh
        .store
        .load(dataset(tree(), rows.clone()), today())
        .expect("load");
    let expected = month_ends(&rows);
    assert_eq!(stats.accounts_changed, tree().len(), "every account is new");
    assert_eq!(stats.daily_rows, rows.len(), "every daily row is written");
    assert_eq!(
        stats.months_changed,
        expected.len(),
        "one month-end row per (account, month) with data"
    );

    // Tree order: depth-first, siblings by name (Alpha before Beta), depths below the root.
    let subtree: Vec<(String, u32)> = fresh
        .store
        .subtree("r")
        .unwrap()
        .into_iter()
        .map(|s| (s.account.id, s.depth))
        .collect();
    let want: Vec<(String, u32)> = [("r", 0), ("a", 1), ("a1", 2), ("b", 1)]
        .iter()
        .map(|(id, d)| (id.to_string(), *d))
        .collect();
    assert_eq!(subtree, want);

    let jan = YearMonth::of(day(2026, 1, 1));
    let feb = YearMonth::of(day(2026, 2, 1));
    let mut got: Vec<_> = fresh
        .store
        .subtree_month_rows("a", jan, feb)
        .unwrap()
        .into_iter()
        .map(|m| ((m.account_id, m.month), (m.plan, m.counts)))
        .collect();
    got.sort_by(|x, y| x.0.cmp(&y.0));
    let want: Vec<_> = expected
        .iter()
        .filter(|((id, _), _)| id == "a" || id == "a1")
        .map(|(k, (_, plan, counts))| (k.clone(), (plan.clone(), *counts)))
        .collect();
    assert_eq!(
        got, want,
        "a's subtree holds a's and a1's month-ends, the latest day's row"
    );
    assert_eq!(
        fresh.store.account_path("a1").unwrap(),
        vec!["r", "a", "a1"],
        "the path runs from the root down"
    );
    assert!(fresh.store.account_path("nobody").unwrap().is_empty());
}

pub fn a_refused_load_writes_nothing(open: Open<'_>) {
    let fresh = loaded(open);
    let (_, cursor) = read_all(fresh.store.as_ref(), &TokenScope::All, None, 1000);
    let before = fresh
        .store
        .subtree_month_rows(
            "r",
            YearMonth::of(day(2026, 1, 1)),
            YearMonth::of(day(2026, 3, 1)),
        )
        .unwrap()
        .len();

    // A renamed account, a new one, good rows, then a row with a plan not in the catalog.
    let mut accounts = tree();
    accounts[0].name = "Root renamed".into();
    accounts.push(account("c", "Gamma", Some("r")));
    let rows = vec![
        daily("c", day(2026, 3, 1), "basic", 5),
        daily("a", day(2026, 3, 2), "basic", 7),
        daily("b", day(2026, 3, 3), "platinum", 9),
    ];
    let err = fresh
        .store
        .load(dataset(accounts, rows), today())
        .expect_err("an unknown plan is refused");
    match err {
        LoadError::Row(e) => {
            assert_eq!(e.file, "daily_usage.csv");
            assert_eq!(e.line, 4, "the third row, after the header");
            assert!(e.message.contains("platinum"), "{}", e.message);
        }
        other => panic!("a row error, not {other}"),
    }
    let (after, _) = read_all(fresh.store.as_ref(), &TokenScope::All, Some(cursor), 1000);
    assert!(after.is_empty(), "nothing reached the feed: {after:?}");
    assert_eq!(
        fresh
            .store
            .account(&TokenScope::All, "r")
            .unwrap()
            .unwrap()
            .name,
        "Root",
        "the rename was rolled back"
    );
    assert!(fresh
        .store
        .account(&TokenScope::All, "c")
        .unwrap()
        .is_none());
    let now = fresh
        .store
        .subtree_month_rows(
            "r",
            YearMonth::of(day(2026, 1, 1)),
            YearMonth::of(day(2026, 3, 1)),
        )
        .unwrap()
        .len();
    assert_eq!(now, before, "no month-end row was written");

    // A row dated after today, and one before its account was created, are refused too.
    for (row, words) in [
        (daily("a", day(2026, 3, 16), "basic", 1), "future"),
        (daily("a", day(2024, 12, 31), "basic", 1), "before account"),
    ] {
        let err = fresh
            .store
            .load(dataset(Vec::new(), vec![row]), today())
            .expect_err("refused");
        assert!(err.to_string().contains(words), "{err}");
    }
}

pub fn a_cycle_is_refused_and_writes_nothing(open: Open<'_>) {
    let fresh = loaded(open);
    let (_, cursor) = read_all(fresh.store.as_ref(), &TokenScope::All, None, 1000);
    // a under a1 while a1 is under a.
    let err = fresh
        .store
        .load(
            dataset(vec![account("a", "Alpha", Some("a1"))], Vec::new()),
            today(),
        )
        .expect_err("a cycle is refused");
    assert!(err.to_string().contains("cycle"), "{err}");
    let err = fresh
        .store
        .load(
            dataset(vec![account("x", "X", Some("ghost"))], Vec::new()),
            today(),
        )
        .expect_err("an unknown parent is refused");
    assert!(err.to_string().contains("ghost"), "{err}");
    let err = fresh
        .store
        .load(
            dataset(
                vec![account("x", "X", None), account("x", "X", None)],
                Vec::new(),
            ),
            today(),
        )
        .expect_err("a duplicate id is refused");
    assert!(err.to_string().contains("twice"), "{err}");
    let (after, _) = read_all(fresh.store.as_ref(), &TokenScope::All, Some(cursor), 1000);
    assert!(after.is_empty(), "nothing reached the feed: {after:?}");
    assert_eq!(
        fresh
            .store
            .account(&TokenScope::All, "a")
            .unwrap()
            .unwrap()
            .parent_id
            .as_deref(),
        Some("r")
    );
}

pub fn ingest_replaces_a_day_and_keeps_the_latest_as_month_end(open: Open<'_>) {
    let fresh = loaded(open);
    let feb = YearMonth::of(day(2026, 2, 1));
    let later = daily("b", day(2026, 2, 25), "premium", 99);
    let out = fresh.store.ingest(std::slice::from_ref(&later)).unwrap();
    assert_eq!(out.accepted, 1);
    assert_eq!(
        out.months_changed, 1,
        "the 25th is later than the month's end so far (10th)"
    );
    // An earlier day of the same month does not move its month-end.
    let earlier = daily("b", day(2026, 2, 1), "basic", 1);
    let out = fresh.store.ingest(std::slice::from_ref(&earlier)).unwrap();
    assert_eq!((out.accepted, out.months_changed), (1, 0));
    let rows = fresh.store.subtree_month_rows("b", feb, feb).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].plan.as_str(), rows[0].counts),
        ("premium", later.counts)
    );
    // The same day again, other counts: replaced.
    let again = daily("b", day(2026, 2, 25), "premium", 50);
    let out = fresh.store.ingest(std::slice::from_ref(&again)).unwrap();
    assert_eq!(out.months_changed, 1);
    let rows = fresh.store.subtree_month_rows("b", feb, feb).unwrap();
    assert_eq!(rows[0].counts, again.counts);
}

pub fn accounts_are_seen_only_inside_their_scope(open: Open<'_>) {
    let fresh = loaded(open);
    let s = &fresh.store;
    let a = TokenScope::Subtree("a".into());
    assert!(s.account(&a, "a1").unwrap().is_some(), "a1 is below a");
    assert!(
        s.account(&a, "a").unwrap().is_some(),
        "a scope holds its root"
    );
    assert!(
        s.account(&a, "r").unwrap().is_none(),
        "the parent is outside"
    );
    assert!(
        s.account(&a, "b").unwrap().is_none(),
        "a sibling is outside"
    );
    assert!(s.account(&TokenScope::All, "b").unwrap().is_some());
    assert!(s.account(&TokenScope::All, "nobody").unwrap().is_none());
    assert_eq!(
        s.plans()
            .unwrap()
            .0
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>(),
        ["basic", "standard", "premium"],
        "a new store holds the default catalog in order"
    );
}

pub fn refused_instances_and_licenses_write_nothing(open: Open<'_>) {
    let fresh = with_instance(open);
    let s = fresh.store.as_ref();
    let (_, cursor) = read_all(s, &TokenScope::All, None, 1000);
    // Each dataset also carries a good new account, which must not be written either.
    let attempt = |instances: Vec<InstanceRow>, licenses: Vec<License>| {
        let mut data = dataset(vec![account("c", "Gamma", Some("r"))], Vec::new());
        data.instances = located("instances.csv", instances);
        data.licenses = located("licenses.csv", licenses);
        s.load(data, today()).expect_err("refused")
    };
    let err = attempt(vec![instance_row("inst-a", "lic-a", "b")], Vec::new());
    assert!(
        err.to_string().contains("cannot move"),
        "an instance keeps its account: {err}"
    );
    let err = attempt(Vec::new(), vec![license("lic-a", "b")]);
    assert!(
        err.to_string().contains("cannot move"),
        "a license keeps its account: {err}"
    );
    // A license of b cannot serve an instance of a (not b's descendant).
    let err = attempt(
        vec![instance_row("inst-x", "lic-b", "a")],
        vec![license("lic-b", "b")],
    );
    assert!(
        err.to_string().contains("runs under license 'lic-b'"),
        "{err}"
    );
    let err = attempt(vec![instance_row("inst-y", "lic-a", "ghost")], Vec::new());
    assert!(err.to_string().contains("ghost"), "{err}");
    let (after, _) = read_all(s, &TokenScope::All, Some(cursor), 1000);
    assert!(after.is_empty(), "nothing reached the feed: {after:?}");
    assert!(s.account(&TokenScope::All, "c").unwrap().is_none());
    assert!(s.instance(&TokenScope::All, "inst-x").unwrap().is_none());
    assert_eq!(
        s.instance(&TokenScope::All, "inst-a")
            .unwrap()
            .unwrap()
            .account_id,
        "a"
    );
}

/// `instances.csv`'s optional `last_report_at`: stored on both engines, moved forward by a later
/// time, never back by an earlier or empty one, a time after today refused with nothing written;
/// a change of it reaches the feed.
pub fn a_loaded_last_report_moves_forward_only(open: Open<'_>) {
    let fresh = with_instance(open);
    let s = fresh.store.as_ref();
    let last = |s: &dyn usagedesk_cloud::storage::Store| {
        s.instance(&TokenScope::All, "inst-a")
            .unwrap()
            .expect("inst-a is stored")
            .last_report_at
    };
    assert_eq!(last(s), None, "loaded without one: none");
    let load = |at: Option<DateTime<Utc>>| {
        let mut data = dataset(Vec::new(), Vec::new());
        let mut row = instance_row("inst-a", "lic-a", "a");
        row.last_report_at = at;
        data.instances = located("instances.csv", vec![row]);
        s.load(data, today())
    };
    let (_, cursor) = read_all(s, &TokenScope::All, None, 1000);
    load(Some(at(2026, 3, 1, 9))).expect("a past time loads");
    assert_eq!(last(s), Some(at(2026, 3, 1, 9)));
    let (changes, cursor) = read_all(s, &TokenScope::All, Some(cursor), 1000);
    assert!(
        !changes.is_empty(),
        "the instance's new last report is on the feed"
    );
    load(Some(at(2026, 2, 1, 9))).expect("an earlier time loads");
    assert_eq!(last(s), Some(at(2026, 3, 1, 9)), "never moved back");
    load(None).expect("an empty one loads");
    assert_eq!(last(s), Some(at(2026, 3, 1, 9)), "empty keeps it");
    let (changes, cursor) = read_all(s, &TokenScope::All, Some(cursor), 1000);
    assert!(changes.is_empty(), "nothing changed: {changes:?}");
    load(Some(at(2026, 3, 14, 9))).expect("a later time loads");
    assert_eq!(last(s), Some(at(2026, 3, 14, 9)), "moved forward");
    let err = load(Some(at(2026, 3, 16, 9))).expect_err("after today (2026-03-15)");
    assert!(
        err.to_string().contains("last_report_at") && err.to_string().contains("future"),
        "{err}"
    );
    assert_eq!(
        last(s),
        Some(at(2026, 3, 14, 9)),
        "a refusal writes nothing"
    );
    let (changes, _) = read_all(s, &TokenScope::All, Some(cursor), 1000);
    assert_eq!(changes.len(), 1, "only the forward move: {changes:?}");
}
