//! [`Feed`] through the service's cursor rules: paging, scopes, tombstones, epochs.

use std::collections::BTreeSet;

use usagedesk_cloud::storage::StoreError;
use usagedesk_cloud::TokenScope;
use usagedesk_domain::api::Change;

use super::*;

/// What a change is about, to compare feeds as sets.
fn key(c: &Change) -> String {
    match c {
        Change::Account(a) => format!("account {}", a.id),
        Change::MonthUsage(m) => format!("month {} {}", m.account_id, m.month),
        Change::Tombstone { account_id } => format!("tombstone {account_id}"),
        Change::Instance(i) => format!("instance {}", i.id),
        Change::License(l) => format!("license {}", l.id),
        Change::InstanceReport(r) => format!("report {}", r.instance_id),
        Change::InstanceEvent(e) => format!("event {} {}", e.instance_id, e.field),
        Change::InstallAttempt(a) => format!("attempt {}", a.id),
    }
}

/// What a first load of [`tree`] and [`tree_rows`] puts on the feed, by definition: every
/// account and every month-end row of the accounts in `ids`.
fn expected(ids: &[&str]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = ids.iter().map(|id| format!("account {id}")).collect();
    for (id, month) in month_ends(&tree_rows()).keys() {
        if ids.contains(&id.as_str()) {
            out.insert(format!("month {id} {month}"));
        }
    }
    out
}

pub fn pages_after_cursors_read_every_change_once(open: Open<'_>) {
    let fresh = loaded(open);
    let (changes, cursor) = read_all(fresh.store.as_ref(), &TokenScope::All, None, 3);
    let keys: Vec<String> = changes.iter().map(key).collect();
    let set: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(
        keys.len(),
        set.len(),
        "no change twice in a first read: {keys:?}"
    );
    assert_eq!(set, expected(&["r", "a", "b", "a1"]));
    // Paged in 3s or read at once: the same changes in the same order.
    let (whole, _) = read_all(fresh.store.as_ref(), &TokenScope::All, None, 1000);
    assert_eq!(whole.iter().map(key).collect::<Vec<_>>(), keys);
    // After the last cursor: nothing, and the cursor stays put.
    let page = fresh
        .store
        .changes(&TokenScope::All, Some(&cursor), 10, false)
        .unwrap();
    assert!(page.changes.is_empty() && !page.has_more);
    assert_eq!(page.next_cursor, cursor);
    // A change moves its entity to the head: only it follows the cursor.
    fresh
        .store
        .ingest(&[daily("a1", day(2026, 2, 28), "basic", 3)])
        .unwrap();
    let (after, _) = read_all(fresh.store.as_ref(), &TokenScope::All, Some(cursor), 10);
    let feb = YearMonth::of(day(2026, 2, 1));
    assert_eq!(
        after.iter().map(key).collect::<Vec<_>>(),
        vec![format!("month a1 {feb}")]
    );
}

pub fn a_scope_reads_only_its_subtree(open: Open<'_>) {
    let fresh = loaded(open);
    let (a, _) = read_all(
        fresh.store.as_ref(),
        &TokenScope::Subtree("a".into()),
        None,
        2,
    );
    assert_eq!(
        a.iter().map(key).collect::<BTreeSet<_>>(),
        expected(&["a", "a1"])
    );
    let (b, _) = read_all(
        fresh.store.as_ref(),
        &TokenScope::Subtree("b".into()),
        None,
        2,
    );
    assert_eq!(b.iter().map(key).collect::<BTreeSet<_>>(), expected(&["b"]));
}

pub fn a_move_tombstones_the_old_scope_and_resends_to_the_new(open: Open<'_>) {
    let fresh = loaded(open);
    let s = fresh.store.as_ref();
    let a = TokenScope::Subtree("a".into());
    let b = TokenScope::Subtree("b".into());
    let (_, a_cursor) = read_all(s, &a, None, 100);
    let (_, b_cursor) = read_all(s, &b, None, 100);
    // a1 moves from a to b.
    s.load(
        dataset(vec![account("a1", "A-one", Some("b"))], Vec::new()),
        today(),
    )
    .unwrap();
    let (a_after, _) = read_all(s, &a, Some(a_cursor), 100);
    assert_eq!(
        a_after.iter().map(key).collect::<Vec<_>>(),
        vec!["tombstone a1".to_string()],
        "a's readers learn a1 left, and see nothing of it any more"
    );
    let (b_after, _) = read_all(s, &b, Some(b_cursor), 100);
    assert_eq!(
        b_after.iter().map(key).collect::<BTreeSet<_>>(),
        expected(&["a1"]),
        "b's readers get a1 and its month-ends in full"
    );
    // Moving back: b's readers get a tombstone, a's get it all again.
    let (_, a_cursor) = read_all(s, &a, None, 100);
    let (_, b_cursor) = read_all(s, &b, None, 100);
    s.load(
        dataset(vec![account("a1", "A-one", Some("a"))], Vec::new()),
        today(),
    )
    .unwrap();
    let (b_after, _) = read_all(s, &b, Some(b_cursor), 100);
    assert_eq!(
        b_after.iter().map(key).collect::<Vec<_>>(),
        vec!["tombstone a1".to_string()]
    );
    let (a_after, _) = read_all(s, &a, Some(a_cursor), 100);
    let keys: Vec<String> = a_after.iter().map(key).collect();
    // a saw a1 leave on the first move; a reader of a that has not read that tombstone yet
    // must still find one, so it may come again, but always before a1 is sent in full.
    let resent: BTreeSet<String> = keys
        .iter()
        .filter(|k| !k.starts_with("tombstone"))
        .cloned()
        .collect();
    assert_eq!(
        resent,
        expected(&["a1"]),
        "a's readers get a1 in full again"
    );
    if let Some(t) = keys.iter().position(|k| k == "tombstone a1") {
        let sent = keys.iter().position(|k| k == "account a1").unwrap();
        assert!(t < sent, "the tombstone comes before the resend: {keys:?}");
    }
}

pub fn cursor_rules_bad_foreign_and_ahead(open: Open<'_>) {
    let fresh = loaded(open);
    let s = fresh.store.as_ref();
    let all = TokenScope::All;
    for bad in [
        "nonsense",
        "abc.1",
        "0123456789abcdef.x",
        "0123456789abcdef.-3",
    ] {
        assert!(
            matches!(
                s.changes(&all, Some(bad), 10, false),
                Err(StoreError::BadCursor(_))
            ),
            "'{bad}' was never issued"
        );
    }
    let epoch = s.feed_epoch().unwrap();
    // The same shape, another epoch: every hex digit flipped.
    let other: String = epoch
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    assert!(matches!(
        s.changes(&all, Some(&format!("{other}.1")), 10, false),
        Err(StoreError::CursorExpired)
    ));
    let (changes, cursor) = read_all(s, &all, None, 1000);
    let head: u64 = cursor.rsplit('.').next().unwrap().parse().unwrap();
    assert!(
        head as usize >= changes.len(),
        "positions are handed out once each"
    );
    assert!(
        matches!(
            s.changes(&all, Some(&format!("{epoch}.{}", head + 1)), 10, false),
            Err(StoreError::CursorAhead)
        ),
        "a position past the head was issued by a later state of the database"
    );
    assert!(s
        .changes(&all, Some(&format!("{epoch}.{head}")), 10, false)
        .is_ok());
}

pub fn remaining_counts_what_follows(open: Open<'_>) {
    let fresh = loaded(open);
    let s = fresh.store.as_ref();
    let total = expected(&["r", "a", "b", "a1"]).len() as u64;
    let page = s.changes(&TokenScope::All, None, 2, true).unwrap();
    assert_eq!(page.remaining, Some(total), "counted from the cursor given");
    let next = s
        .changes(&TokenScope::All, Some(&page.next_cursor), 2, true)
        .unwrap();
    assert_eq!(next.remaining, Some(total - 2));
    let scoped = s
        .changes(&TokenScope::Subtree("b".into()), None, 1, true)
        .unwrap();
    assert_eq!(scoped.remaining, Some(expected(&["b"]).len() as u64));
    assert_eq!(
        s.changes(&TokenScope::All, None, 2, false)
            .unwrap()
            .remaining,
        None
    );
}

/// Month rows and other entries interleaved on the feed (each engine keeps month rows'
/// positions on their rows, apart from the other entries): pages of every size read the
/// same changes in the same order as one read, in every scope, counted alike.
pub fn interleaved_kinds_read_alike_in_pages_of_every_size(open: Open<'_>) {
    let fresh = loaded(open);
    let s = fresh.store.as_ref();
    // After the first load: a month row moves to the head, a new account and its month row
    // follow, another month row moves, then a1 moves from a to b (a tombstone, a1 and its
    // month rows sent again).
    s.ingest(&[daily("a1", day(2026, 2, 28), "basic", 3)])
        .unwrap();
    s.load(
        dataset(
            vec![account("c", "Gamma", Some("a"))],
            vec![daily("c", day(2026, 2, 11), "basic", 7)],
        ),
        today(),
    )
    .unwrap();
    s.ingest(&[daily("r", day(2026, 2, 27), "premium", 40)])
        .unwrap();
    s.load(
        dataset(vec![account("a1", "A-one", Some("b"))], Vec::new()),
        today(),
    )
    .unwrap();
    let (jan, feb) = (
        YearMonth::of(day(2026, 1, 1)),
        YearMonth::of(day(2026, 2, 1)),
    );
    let (all, _) = read_all(s, &TokenScope::All, None, 1000);
    let keys: Vec<String> = all.iter().map(key).collect();
    // Each entity once, at its last change: the first load's others, then in the order of
    // the changes above.
    let tail = [
        "account c".to_string(),
        format!("month c {feb}"),
        format!("month r {feb}"),
        "tombstone a1".to_string(),
        "account a1".to_string(),
        format!("month a1 {jan}"),
        format!("month a1 {feb}"),
    ];
    assert!(
        keys.ends_with(&tail),
        "the changes after the first load come last, in order: {keys:?}"
    );
    let mut first_load: BTreeSet<String> = expected(&["r", "a", "b", "a1"]);
    first_load.retain(|k| !tail.contains(k));
    assert_eq!(
        keys[..keys.len() - tail.len()]
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>(),
        first_load,
        "before them, the rest of the first load, each once"
    );
    for scope in [
        TokenScope::All,
        TokenScope::Subtree("a".into()),
        TokenScope::Subtree("b".into()),
    ] {
        let (whole, _) = read_all(s, &scope, None, 1000);
        let whole: Vec<String> = whole.iter().map(key).collect();
        let counted = s.changes(&scope, None, 1, true).unwrap().remaining;
        assert_eq!(
            counted,
            Some(whole.len() as u64),
            "{scope:?} counts what it reads"
        );
        for limit in 1..=whole.len() + 1 {
            let (paged, _) = read_all(s, &scope, None, limit);
            assert_eq!(
                paged.iter().map(key).collect::<Vec<_>>(),
                whole,
                "pages of {limit} in {scope:?} read what one read does"
            );
        }
    }
}
