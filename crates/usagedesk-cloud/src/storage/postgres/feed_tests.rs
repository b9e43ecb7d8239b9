//! A feed page on a real server (`USAGEDESK_TEST_POSTGRES_URL`; skipped when unset, failed
//! when `CI` is set too): a page is read by kind, so an entry whose row is missing, or of a
//! kind this build does not know, must fail the page rather than shorten it silently; and a
//! first load leaves its month rows ready for the first reader (frozen, keys built).

use usagedesk_domain::api::Change;

use super::fence_tests::{account, day, fresh, from_env, row};
use super::*;
use crate::storage::{DailyRow, Dataset, Feed, Located, Tenants, TokenScope};

fn loaded(server: &str) -> PgStorage {
    let store = fresh(server);
    let daily: Vec<Located<DailyRow>> = [row("a", 3), row("a", 4), row("b", 5)]
        .into_iter()
        .enumerate()
        .map(|(i, row)| Located {
            file: "daily_usage.csv".into(),
            line: i as u64 + 2,
            row,
        })
        .collect();
    let dataset = Dataset {
        plans: None,
        accounts: vec![account("a"), account("b")],
        instances: Vec::new(),
        daily: Box::new(daily.into_iter().map(Ok)),
        licenses: Vec::new(),
        reports: Vec::new(),
        events: Box::new(std::iter::empty()),
        attempts: Vec::new(),
        steps: Vec::new(),
    };
    store.load(dataset, day(31)).expect("load");
    store
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
    // Two accounts, then one month row of "a" (its two days are in one month) and one of "b".
    let names: Vec<String> = whole
        .changes
        .iter()
        .map(|c| match c {
            Change::Account(a) => format!("account {}", a.id),
            Change::MonthUsage(m) => format!("month {} {}", m.account_id, m.snapshot_date),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        [
            "account a",
            "account b",
            "month a 2024-01-04",
            "month b 2024-01-05"
        ]
    );
    assert!(!whole.has_more);
    for size in 1..=4 {
        let (mut after, mut read) = (0, Vec::new());
        loop {
            let page = store
                .feed_after(&TokenScope::All, after, size, false)
                .expect("page");
            assert!(page.changes.len() <= size, "a page holds at most its size");
            read.extend(page.changes);
            after = page.last_seq;
            if !page.has_more {
                break;
            }
        }
        assert_eq!(
            read, whole.changes,
            "pages of {size} concatenate to the feed"
        );
    }
}

#[test]
fn an_entry_without_its_row_or_of_an_unknown_kind_fails_the_page() {
    let Some(server) = from_env("USAGEDESK_TEST_POSTGRES_URL", "feed page test") else {
        return;
    };
    let store = loaded(&server);
    execute(&store, "DELETE FROM month_usage WHERE account_id = 'b'");
    let err = store
        .feed_after(&TokenScope::All, 0, 100, false)
        .expect_err("a month entry without its row");
    // The page holds both month entries; one row was found for them.
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("2 month entries") && m.contains("1 rows") && m.contains("inconsistent")),
        "{err}"
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
        matches!(&err, StoreError::Invalid(m) if m.contains("'gizmo'")),
        "{err}"
    );
}

#[test]
fn a_first_load_leaves_month_and_daily_rows_frozen_for_the_first_reader() {
    let Some(server) = from_env("USAGEDESK_TEST_POSTGRES_URL", "feed page test") else {
        return;
    };
    let store = loaded(&server);
    execute(&store, "CREATE EXTENSION IF NOT EXISTS pg_visibility");
    for table in ["month_usage", "daily_usage"] {
        // Every page is marked all-frozen in the visibility map: no reader has to look up the
        // load's transaction and mark each row (what made the first full feed read after a
        // 100k load 1.2 s slower than the next).
        let (pages, frozen): (i64, i64) = store
            .run(async {
                sqlx::query_as(
                    "SELECT COUNT(*), COUNT(*) FILTER (WHERE all_frozen)
                     FROM pg_visibility_map($1::text::regclass)",
                )
                .bind(table)
                .fetch_one(&store.pool)
                .await
            })
            .expect("visibility map");
        assert!(pages > 0, "{table} has rows");
        assert_eq!(frozen, pages, "every page of {table} is frozen");
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
