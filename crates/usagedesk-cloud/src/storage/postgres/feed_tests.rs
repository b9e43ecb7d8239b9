//! A feed page on a real server (`USAGEDESK_TEST_POSTGRES_URL`; skipped when unset, failed
//! when `CI` is set too): a page is read by kind, so an entry whose row is missing, or of a
//! kind this build does not know, must fail the page (an internal error: the client did
//! nothing wrong) rather than shorten it silently; and a
//! first load leaves its month rows ready for the first reader (frozen, keys built).

use usagedesk_domain::api::Change;

use usagedesk_domain::customer::InstanceEvent;
use usagedesk_domain::{Account, UsageCounts};

use super::fence_tests::{account, after, dataset, day, fresh, from_env, row};
use super::*;
use super::{feed_copied, feed_page};
use crate::storage::{Feed, Located, Tenants, TokenScope};

/// The feed [`loaded_into`] leaves: two accounts, then one month row of "a" (its two days are
/// in one month) and one of "b".
const LOADED_FEED: [&str; 4] = [
    "account a",
    "account b",
    "month a 2024-01",
    "month b 2024-01",
];

fn loaded(server: &str) -> PgStorage {
    loaded_into(fresh(server))
}

/// `store` with two accounts and their daily rows loaded (a first load).
fn loaded_into(store: PgStorage) -> PgStorage {
    let daily = vec![row("a", 3), row("a", 4), row("b", 5)];
    store
        .load(dataset(&["a", "b"], daily), day(31))
        .expect("load");
    store
}

/// `table`'s pages, and how many are marked visible to all (as of the load's ANALYZE).
fn visible_pages(store: &PgStorage, table: &str) -> (i32, i32) {
    store
        .run(async {
            sqlx::query_as("SELECT relpages, relallvisible FROM pg_class WHERE oid = $1::regclass")
                .bind(table)
                .fetch_one(&store.pool)
                .await
        })
        .expect("pg_class")
}

fn execute(store: &PgStorage, sql: &str) {
    store
        .run(async { sqlx::raw_sql(sql).execute(&store.pool).await })
        .expect(sql);
}

#[test]
fn pages_of_every_size_list_the_feed_in_position_order() {
    let Some(server) = from_env("USAGEDESK_TEST_POSTGRES_URL", "feed page test") else {
        return;
    };
    let store = loaded(&server);
    let whole = store
        .feed_after(&TokenScope::All, 0, 100, false)
        .expect("feed");
    let (names, _) = after(&store, 0);
    assert_eq!(names, LOADED_FEED);
    assert!(!whole.has_more);
    for size in 1..=4 {
        let (mut cursor, mut read) = (0, Vec::new());
        loop {
            let page = store
                .feed_after(&TokenScope::All, cursor, size, false)
                .expect("page");
            assert!(page.changes.len() <= size, "a page holds at most its size");
            read.extend(page.changes);
            cursor = page.last_seq;
            if !page.has_more {
                break;
            }
        }
        assert_eq!(
            read, whole.changes,
            "pages of {size} concatenate to the feed"
        );
    }
    // A subtree's token sees its account's changes only, on a full page and on the last.
    let a = TokenScope::Subtree("a".into());
    let mine: Vec<Change> = whole
        .changes
        .iter()
        .filter(|c| match c {
            Change::Account(x) => x.id == "a",
            Change::MonthUsage(m) => m.account_id == "a",
            _ => false,
        })
        .cloned()
        .collect();
    assert_eq!(mine.len(), 2);
    let all = store.feed_after(&a, 0, 100, false).expect("subtree feed");
    assert_eq!(all.changes, mine);
    assert!(!all.has_more);
    let first = store.feed_after(&a, 0, 1, false).expect("subtree page");
    assert_eq!(first.changes, mine[..1]);
    assert!(first.has_more, "the month row follows");
    let rest = store
        .feed_after(&a, first.last_seq, 1, false)
        .expect("subtree page");
    assert_eq!(rest.changes, mine[1..]);
    assert!(!rest.has_more, "account b's rows are not this scope's");
}

#[test]
fn an_entry_without_its_row_or_of_an_unknown_kind_fails_the_page() {
    let Some(server) = from_env("USAGEDESK_TEST_POSTGRES_URL", "feed page test") else {
        return;
    };
    let store = loaded(&server);
    execute(&store, "DELETE FROM accounts WHERE id = 'b'");
    let err = store
        .feed_after(&TokenScope::All, 0, 100, false)
        .expect_err("an account entry without its row");
    // The page holds both account entries; one row was found for them.
    assert!(
        matches!(&err, StoreError::Other(_))
            && ["2 account entries", "1 rows", "inconsistent"]
                .iter()
                .all(|w| err.to_string().contains(w)),
        "{err}"
    );
    // A month row keeps its position on the row alone: gone, it is simply not listed.
    let store = loaded(&server);
    execute(&store, "DELETE FROM month_usage WHERE account_id = 'b'");
    assert_eq!(
        after(&store, 0).0,
        ["account a", "account b", "month a 2024-01"]
    );

    let store = loaded(&server);
    execute(
        &store,
        "INSERT INTO feed(seq, kind, account_id, key) VALUES (nextval('feed_seq'), 'gizmo', 'a', '')",
    );
    let err = store
        .feed_after(&TokenScope::All, 0, 100, false)
        .expect_err("an entry of an unknown kind");
    assert!(
        matches!(&err, StoreError::Other(_)) && err.to_string().contains("'gizmo'"),
        "{err}"
    );
}

#[test]
fn a_first_load_leaves_month_and_daily_rows_frozen_for_the_first_reader() {
    let Some(server) = from_env("USAGEDESK_TEST_POSTGRES_URL", "feed page test") else {
        return;
    };
    let store = loaded(&server);
    for table in ["month_usage", "daily_usage"] {
        // Every page is marked all-visible in the visibility map (the load's closing ANALYZE
        // counts them): no reader has to look up the load's transaction and mark each row
        // (what made the first full feed read after a 100k load 1.2 s slower than the next).
        let (pages, visible) = visible_pages(&store, table);
        assert!(pages > 0, "{table} has rows");
        assert_eq!(visible, pages, "every page of {table} is visible to all");
    }
    // The frozen copy went through the first-load path, which also built the keys again.
    let keys: i64 = store
        .run(async {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_index
                 WHERE indrelid IN ('month_usage'::regclass, 'daily_usage'::regclass)",
            )
            .fetch_one(&store.pool)
            .await
        })
        .expect("indexes");
    assert_eq!(keys, 3, "month rows: key and position; daily rows: key");
}

#[test]
fn a_first_load_beside_a_long_reader_writes_row_by_row_instead_of_waiting_for_it() {
    let Some(server) = from_env("USAGEDESK_TEST_POSTGRES_URL", "feed page test") else {
        return;
    };
    // The reader's transaction is dropped (on a failed assertion too) in the engine's runtime.
    let _enter = runtime().enter();
    let store = fresh(&server);
    // A reader of the feed and the month rows that stays (a pg_dump, a slow client): it holds
    // their shared locks until its transaction ends.
    let mut reader = store
        .run(async { store.pool.begin().await })
        .expect("begin");
    store
        .run(async {
            sqlx::query("SELECT (SELECT COUNT(*) FROM feed) + (SELECT COUNT(*) FROM month_usage)")
                .execute(&mut *reader)
                .await
        })
        .expect("the reader reads");
    let loaded_beside = loaded_into(store);
    // The load went in without the exclusive lock: the month rows were not copied frozen
    // (that needs the emptied table), and the keys were never dropped.
    let (pages, visible) = visible_pages(&loaded_beside, "month_usage");
    assert!(
        pages > 0 && visible == 0,
        "{visible} of {pages} pages frozen"
    );
    // And it reads as the same feed as a load with the tables to itself.
    let alone = loaded(&server);
    let read = |s: &PgStorage| s.feed_after(&TokenScope::All, 0, 100, false).expect("feed");
    assert_eq!(read(&loaded_beside).changes, read(&alone).changes);
    drop(reader);
}

/// Events whose row does not hold its feed entry's position (none may).
fn events_off_their_position(store: &PgStorage) -> i64 {
    store
        .run(async {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM instance_events e
                 LEFT JOIN feed f ON f.kind = 'event' AND f.key = CAST(e.id AS TEXT)
                 WHERE e.seq IS DISTINCT FROM f.seq",
            )
            .fetch_one(&store.pool)
            .await
        })
        .expect("events")
}

fn event(instance: &str, minute: u32, new: &str) -> Located<InstanceEvent> {
    Located {
        file: "instance_events.csv".into(),
        line: 2,
        row: InstanceEvent {
            instance_id: instance.into(),
            field: "status".into(),
            previous: None,
            new: new.into(),
            received_at: day(2).and_hms_opt(10, minute, 0).expect("time").and_utc(),
        },
    }
}

#[test]
fn events_keep_their_feed_position_through_every_writer() {
    let Some(server) = from_env("USAGEDESK_TEST_POSTGRES_URL", "feed page test") else {
        return;
    };
    let store = loaded(&server);
    execute(
        &store,
        "INSERT INTO instances(id, license_id, account_id, airgapped) VALUES ('i', 'l', 'b', false)",
    );
    let load = |accounts: Vec<Located<Account>>, events: Vec<Located<InstanceEvent>>| {
        let mut d = dataset(&[], Vec::new());
        d.accounts = accounts;
        d.events = Box::new(events.into_iter().map(Ok));
        store.load(d, day(31)).expect("load");
        assert_eq!(events_off_their_position(&store), 0);
    };
    // The events' new values a scope reads, in feed order (the whole vendor's by their
    // positions, a subtree's through their entries).
    let status = |scope: TokenScope| -> Vec<String> {
        store
            .feed_after(&scope, 0, 100, false)
            .expect("feed")
            .changes
            .into_iter()
            .filter_map(|c| match c {
                Change::InstanceEvent(e) => Some(e.new),
                _ => None,
            })
            .collect()
    };
    // Into a table without events: copied, positions drawn with the ids.
    load(
        vec![account("a"), account("b")],
        vec![event("i", 1, "ready"), event("i", 2, "degraded")],
    );
    assert_eq!(status(TokenScope::All), ["ready", "degraded"]);
    // A later load: one event rewritten, one new, both moved to the head (staged path).
    load(
        vec![account("a"), account("b")],
        vec![event("i", 2, "unavailable"), event("i", 3, "ready")],
    );
    assert_eq!(status(TokenScope::All), ["ready", "unavailable", "ready"]);
    // Account b moves under a: its subtree, events included, is sent again (`touch_all`).
    let mut b = account("b");
    b.row.parent_id = Some("a".into());
    load(vec![account("a"), b], Vec::new());
    assert_eq!(status(TokenScope::All), ["ready", "unavailable", "ready"]);
    assert_eq!(
        status(TokenScope::Subtree("b".into())),
        ["ready", "unavailable", "ready"]
    );
}

#[test]
fn a_page_read_by_two_connections_is_the_page_one_reads() {
    let Some(server) = from_env("USAGEDESK_TEST_POSTGRES_URL", "feed page test") else {
        return;
    };
    let store = fresh(&server);
    // Six accounts with two months each: 18 entries of two kinds.
    let names = ["a", "b", "c", "d", "e", "f"];
    let daily = names
        .iter()
        .flat_map(|a| [row(a, 3), row(a, 4)])
        .chain(names.iter().map(|a| {
            let mut r = row(a, 1);
            r.date = chrono::NaiveDate::from_ymd_opt(2024, 2, 1).expect("date");
            r
        }))
        .collect::<Vec<_>>();
    let mut daily = daily;
    daily.sort_by(|x, y| (&x.account_id, x.date).cmp(&(&y.account_id, y.date)));
    store
        .load(
            dataset(&names, daily),
            chrono::NaiveDate::from_ymd_opt(2024, 2, 29).expect("date"),
        )
        .expect("load");
    // Three connections open and idle: the page's own, and two besides it (a page leaves one
    // idle for other calls). A connection goes back to the pool a moment after its
    // transaction ends, so each split read waits for all three.
    let idle = || {
        for _ in 0..200 {
            if store.pool.num_idle() >= 3 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("the pool kept no idle connection");
    };
    store
        .run(async {
            let held = [
                store.pool.acquire().await?,
                store.pool.acquire().await?,
                store.pool.acquire().await?,
            ];
            drop(held);
            Ok::<_, sqlx::Error>(())
        })
        .expect("connections");
    let read = |split: Option<usize>, scope: &TokenScope, after: i64, limit: usize| {
        store
            .run(async {
                let mut tx = store.pool.begin_with(feed_page::begin(scope)).await?;
                let split = split.map(|at_least| feed_page::Split {
                    pool: &store.pool,
                    at_least,
                    opening: &store.opening,
                });
                feed_page::page(&mut tx, split, scope, after, limit).await
            })
            .expect("page")
    };
    for scope in [TokenScope::All, TokenScope::Subtree("c".into())] {
        for limit in [2, 5, 100] {
            let mut after = 0;
            loop {
                let one = read(None, &scope, after, limit);
                idle();
                let two = read(Some(1), &scope, after, limit);
                assert!(!one.split);
                assert!(two.split, "{scope:?}, pages of {limit}: read by one");
                assert_eq!(two.changes, one.changes, "{scope:?}, pages of {limit}");
                assert_eq!((two.last_seq, two.has_more), (one.last_seq, one.has_more));
                after = one.last_seq;
                if !one.has_more {
                    break;
                }
            }
        }
    }
}

#[test]
fn schema_6_keeps_each_month_rows_position_on_the_row_alone() {
    let Some(server) = from_env("USAGEDESK_TEST_POSTGRES_URL", "feed page test") else {
        return;
    };
    let name = format!(
        "months_{}_{:08x}",
        std::process::id(),
        rand::random::<u32>()
    );
    let url = create_database(&server, &name).expect("a database");
    let store = loaded_into(PgStorage::open(&url).expect("open"));
    let before = store
        .feed_after(&TokenScope::All, 0, 100, false)
        .expect("feed")
        .changes;
    let head = |store: &PgStorage| -> i64 {
        store
            .run(async { sqlx::query_scalar(feed::HEAD).fetch_one(&store.pool).await })
            .expect("head")
    };
    let old_head = head(&store);
    // As schema 5 left a database: month rows on the feed too, each with its entry's position
    // (account a's was never copied onto its row), and account b's row never put on the feed.
    execute(
        &store,
        "ALTER TABLE month_usage ALTER COLUMN seq DROP NOT NULL;
         INSERT INTO feed(seq, kind, account_id, key)
             SELECT seq, 'month', account_id, month FROM month_usage WHERE account_id = 'a';
         UPDATE month_usage SET seq = NULL;
         DELETE FROM usagedesk_schema WHERE version = 6;",
    );
    drop(store);
    let store = PgStorage::open(&url).expect("migrated");
    let scalar = |sql: &'static str| -> i64 {
        store
            .run(async { sqlx::query_scalar(sql).fetch_one(&store.pool).await })
            .expect(sql)
    };
    assert_eq!(scalar("SELECT COUNT(*) FROM feed WHERE kind = 'month'"), 0);
    assert_eq!(
        scalar("SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'month_usage' AND column_name = 'seq' AND is_nullable = 'NO'"),
        1,
        "every month row has a position"
    );
    // a's row took its entry's position back; b's, never sent, a new one at the head (so a
    // cache that read up to the old head gets it).
    assert!(scalar("SELECT seq FROM month_usage WHERE account_id = 'b'") > old_head);
    let (names, _) = after(&store, 0);
    assert_eq!(names, LOADED_FEED);
    let (names, _) = after(&store, u64::try_from(old_head).expect("head"));
    assert_eq!(names, ["month b 2024-01"]);
    assert_eq!(
        store
            .feed_after(&TokenScope::All, 0, 100, false)
            .expect("feed")
            .changes,
        before,
        "the same changes in the same order"
    );
}

#[test]
fn a_subtree_root_with_quotes_and_backslashes_reads_its_copied_rows_and_no_others() {
    let Some(server) = from_env("USAGEDESK_TEST_POSTGRES_URL", "feed page test") else {
        return;
    };
    // Month rows and events are read by COPY, whose query holds the root as a literal.
    let root = r"o'b\'; --";
    let store = fresh(&server);
    store
        .load(
            dataset(&[root, "o"], vec![row(root, 3), row("o", 4)]),
            day(31),
        )
        .expect("load");
    execute(
        &store,
        &format!(
            "INSERT INTO instances(id, license_id, account_id, airgapped)
             VALUES ('i', 'l', {}, false), ('j', 'l', 'o', false)",
            feed_copied::literal(root).expect("literal")
        ),
    );
    let mut events = dataset(&[root, "o"], Vec::new());
    events.events = Box::new(
        vec![event("i", 1, "ready"), event("j", 2, "down")]
            .into_iter()
            .map(Ok),
    );
    store.load(events, day(31)).expect("load the events");
    let seen: Vec<String> = store
        .feed_after(&TokenScope::Subtree(root.into()), 0, 100, false)
        .expect("feed")
        .changes
        .into_iter()
        .map(|c| match c {
            Change::Account(a) => format!("account {}", a.id),
            Change::MonthUsage(m) => format!("month {} {}", m.account_id, m.month),
            Change::InstanceEvent(e) => format!("event {} {}", e.instance_id, e.new),
            other => format!("{other:?}"),
        })
        .filter(|s| !s.starts_with("Instance"))
        .collect();
    assert_eq!(
        seen,
        [
            format!("account {root}"),
            format!("month {root} 2024-01"),
            "event i ready".to_owned()
        ],
        "the root's own rows, none of account o's"
    );
    // The literal is the same string whether or not the server reads backslashes in plain
    // strings as escapes.
    for conforming in ["on", "off"] {
        let same: bool = store
            .run(async {
                let mut c = store.pool.acquire().await?;
                sqlx::raw_sql(&format!("SET standard_conforming_strings = {conforming}"))
                    .execute(&mut *c)
                    .await?;
                let same = sqlx::query_scalar(&format!(
                    "SELECT {} = $1",
                    feed_copied::literal(root).expect("literal")
                ))
                .bind(root)
                .fetch_one(&mut *c)
                .await;
                sqlx::raw_sql("RESET standard_conforming_strings")
                    .execute(&mut *c)
                    .await?;
                same
            })
            .expect("compare");
        assert!(same, "standard_conforming_strings = {conforming}");
    }
}

#[test]
fn a_first_load_whose_daily_rows_leave_file_order_stores_each_date_once_with_its_last_row() {
    let Some(server) = from_env("USAGEDESK_TEST_POSTGRES_URL", "feed page test") else {
        return;
    };
    // Copied straight while the rows come by (account, date); from `a` 4 on (an earlier date),
    // the rest goes the staged path, which merges it over what was copied: `a` 5 comes twice
    // and its later row wins.
    let mut again = row("a", 5);
    again.counts = UsageCounts::new(9, 8, 7);
    let daily = vec![
        row("a", 3),
        row("a", 5),
        row("b", 2),
        row("a", 4),
        row("b", 1),
        again,
    ];
    let store = fresh(&server);
    store
        .load(dataset(&["a", "b"], daily), day(31))
        .expect("load");
    let rows = |sql: &str| -> Vec<(String, String, i64, i64, i64)> {
        store
            .run(async { sqlx::query_as(sql).fetch_all(&store.pool).await })
            .expect(sql)
    };
    let daily_rows = rows(
        "SELECT account_id, date, users_registered, users_with_token, users_with_activity
         FROM daily_usage ORDER BY account_id, date",
    );
    let day_row = |a: &str, d: &str, n: (i64, i64, i64)| (a.into(), d.into(), n.0, n.1, n.2);
    assert_eq!(
        daily_rows,
        [
            day_row("a", "2024-01-03", (3, 2, 1)),
            day_row("a", "2024-01-04", (3, 2, 1)),
            day_row("a", "2024-01-05", (9, 8, 7)),
            day_row("b", "2024-01-01", (3, 2, 1)),
            day_row("b", "2024-01-02", (3, 2, 1)),
        ]
    );
    // Each month's row is its last day's (the month is not over on the 31st's eve: the
    // latest day so far), with one position each.
    let months = rows(
        "SELECT account_id, snapshot_date, users_registered, users_with_token,
             users_with_activity FROM month_usage ORDER BY account_id, month",
    );
    assert_eq!(
        months,
        [
            day_row("a", "2024-01-05", (9, 8, 7)),
            day_row("b", "2024-01-02", (3, 2, 1)),
        ]
    );
    // Each once: a's month row, changed by the staged rows, moved past b's, which they left
    // as it was.
    let (names, _) = after(&store, 0);
    assert_eq!(
        names,
        [
            "account a",
            "account b",
            "month b 2024-01",
            "month a 2024-01"
        ]
    );
}

#[test]
fn a_month_row_is_never_put_on_the_feed_alone() {
    let Some(server) = from_env("USAGEDESK_TEST_POSTGRES_URL", "feed page test") else {
        return;
    };
    let store = loaded(&server);
    let refused = store
        .run(async {
            let mut conn = store.pool.acquire().await?;
            Ok::<_, sqlx::Error>(feed::touch(&mut conn, "month", "a", "2024-01").await)
        })
        .expect("a connection");
    assert!(
        refused.is_err(),
        "a month row keeps its position on its row"
    );
    let (names, _) = after(&store, 0);
    assert_eq!(names, LOADED_FEED, "nothing written");
}
