//! Month rows on the change feed (schema 7): a month row keeps its position on the row,
//! `month_usage.seq`, drawn from the feed's own counter (AUTOINCREMENT's `sqlite_sequence`
//! row), so every entry of `feed` and every month row has its own position and later writes
//! take later ones. A feed page merges the two by position (`feed_read`), and so does its
//! count ([`count`]).
//!
//! A first load at 100k accounts wrote 2M month entries into `feed` besides the rows
//! themselves (1.4 s of the load, the feed and its key index 212 MB of the 724 MB file);
//! now it writes the position with the row, appended to `month_usage_seq`.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::storage::TokenScope;

/// The last position handed out, to entries and month rows alike (0 for a feed never written).
pub(super) fn head(conn: &Connection) -> rusqlite::Result<i64> {
    Ok(conn
        .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'feed'")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Hands out `n` positions after the head; returns the first. The next entry put on `feed`
/// takes a position after them (AUTOINCREMENT takes the larger of the counter and the
/// largest key).
pub(super) fn draw(tx: &Transaction<'_>, n: i64) -> rusqlite::Result<i64> {
    let first = head(tx)? + 1;
    advance_to(tx, first + n - 1)?;
    Ok(first)
}

/// Moves the counter to `last` (positions up to it were written by the caller).
pub(super) fn advance_to(tx: &Transaction<'_>, last: i64) -> rusqlite::Result<()> {
    let moved = tx
        .prepare_cached("UPDATE sqlite_sequence SET seq = MAX(seq, ?1) WHERE name = 'feed'")?
        .execute([last])?;
    if moved == 0 {
        // Schema 7 creates the counter; a database whose counter was deleted gets it back.
        tx.prepare_cached("INSERT INTO sqlite_sequence (name, seq) VALUES ('feed', ?1)")?
            .execute([last])?;
    }
    Ok(())
}

/// Moves every month row of `account_id` to the head of the feed, in month order; returns
/// how many moved.
pub(super) fn move_account(tx: &Transaction<'_>, account_id: &str) -> rusqlite::Result<usize> {
    let n: i64 = tx
        .prepare_cached("SELECT COUNT(*) FROM month_usage WHERE account_id = ?1")?
        .query_row([account_id], |r| r.get(0))?;
    if n == 0 {
        return Ok(0);
    }
    let first = draw(tx, n)?;
    // New positions are all past every stored one: no row takes another's on the way.
    tx.prepare_cached(
        "UPDATE month_usage AS m SET seq = ?2 + k.n - 1
         FROM (SELECT month, row_number() OVER (ORDER BY month) AS n
               FROM month_usage WHERE account_id = ?1) AS k
         WHERE m.account_id = ?1 AND m.month = k.month",
    )?
    .execute(params![account_id, first])
}

/// The condition on a month row `m` that a scope may see it (`?3`: the root of a subtree
/// scope, NULL for the whole vendor), as `super::scope_filter` is for `feed f`.
pub(super) fn scope_filter(scope: &TokenScope) -> &'static str {
    match scope {
        TokenScope::All => "?3 IS NULL",
        TokenScope::Subtree(_) => {
            "EXISTS (SELECT 1 FROM closure c WHERE c.ancestor = ?3 AND c.descendant = m.account_id)"
        }
    }
}

/// How many of the next `most` entries after `after` (of `feed` and month rows together) the
/// scope may see: the count a feed page gives as `remaining`. The whole vendor's counts
/// each side apart (at most `most` each); a subtree's merges both sides by position first.
pub(super) fn count(
    conn: &Connection,
    scope: &TokenScope,
    after: i64,
    most: i64,
) -> rusqlite::Result<i64> {
    match scope {
        TokenScope::All => conn
            .prepare_cached(
                "SELECT MIN(?2,
                     (SELECT COUNT(*) FROM (SELECT 1 FROM feed WHERE seq > ?1 LIMIT ?2))
                     + (SELECT COUNT(*) FROM (SELECT 1 FROM month_usage WHERE seq > ?1 LIMIT ?2)))",
            )?
            .query_row(params![after, most], |r| r.get(0)),
        TokenScope::Subtree(root) => {
            let (filter, _) = super::scope_filter(scope);
            conn.prepare_cached(&format!(
                "SELECT COUNT(*) FROM (
                     SELECT seq, kind, account_id FROM feed WHERE seq > ?1
                     UNION ALL
                     SELECT seq, 'month', account_id FROM month_usage WHERE seq > ?1
                     ORDER BY 1 LIMIT ?2) f
                 WHERE {filter}"
            ))?
            .query_row(params![after, most, root], |r| r.get(0))
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use usagedesk_domain::api::Change;
    use usagedesk_domain::UsageCounts;

    use super::super::{SqliteStorage, MIGRATIONS};
    use crate::storage::{DailyRow, Feed, Tenants, TokenScope};

    /// A change as `kind account [month]`.
    fn named(c: &Change) -> String {
        match c {
            Change::Account(a) => format!("account {}", a.id),
            Change::MonthUsage(m) => format!("month {} {}", m.account_id, m.month),
            other => format!("{other:?}"),
        }
    }

    fn page(
        store: &SqliteStorage,
        scope: &TokenScope,
        after: u64,
        limit: usize,
    ) -> (Vec<String>, u64) {
        let rows = store.feed_after(scope, after, limit, false).unwrap();
        (rows.changes.iter().map(named).collect(), rows.last_seq)
    }

    /// A schema-6 database as its engine wrote it: accounts `a` and its child `b`, month
    /// rows with entries on `feed` (one moved again after the others), and one month row
    /// without an entry.
    fn schema_6(path: &std::path::Path) {
        let mut conn = rusqlite::Connection::open(path).unwrap();
        usagedesk_sqlite::Migrator::new(&MIGRATIONS[..6])
            .migrate(&mut conn)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO accounts VALUES ('a', 'A', NULL, 'active', '2024-01-01'),
                                         ('b', 'B', 'a', 'active', '2024-01-01');
             INSERT INTO closure VALUES ('a', 'a', 0), ('a', 'b', 1), ('b', 'b', 0);
             INSERT INTO month_usage VALUES
                 ('a', '2024-01', 'basic', '2024-01-31', 3, 2, 1),
                 ('a', '2024-02', 'basic', '2024-02-29', 4, 2, 1),
                 ('b', '2024-01', 'basic', '2024-01-31', 1, 1, 1),
                 ('b', '2024-02', 'basic', '2024-02-29', 2, 1, 0);
             INSERT OR REPLACE INTO feed (kind, account_id, key) VALUES
                 ('account', 'a', ''), ('account', 'b', ''),
                 ('month', 'a', '2024-01'), ('month', 'b', '2024-01');
             INSERT OR REPLACE INTO feed (kind, account_id, key) VALUES ('month', 'a', '2024-01');
             INSERT OR REPLACE INTO feed (kind, account_id, key) VALUES ('month', 'a', '2024-02');",
        )
        .unwrap();
    }

    #[test]
    fn schema_7_serves_the_feed_of_schema_6_in_the_same_order_and_later_writes_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cloud.db");
        schema_6(&path);
        let store = SqliteStorage::open(&path).unwrap();

        // Positions 1..=6 as schema 6 handed them out (position 3 was a's January before it
        // moved to 5); the month row without an entry comes after them all, at 7.
        let all = TokenScope::All;
        let expected = [
            "account a",
            "account b",
            "month b 2024-01",
            "month a 2024-01",
            "month a 2024-02",
            "month b 2024-02",
        ];
        assert_eq!(
            page(&store, &all, 0, 100),
            (expected.map(String::from).to_vec(), 7)
        );
        // Pages of three split the merged entries at position 4 with nothing lost.
        assert_eq!(
            page(&store, &all, 0, 3),
            (expected[..3].iter().map(|s| s.to_string()).collect(), 4)
        );
        assert_eq!(
            page(&store, &all, 4, 3),
            (expected[3..].iter().map(|s| s.to_string()).collect(), 7)
        );
        // b's scope sees b's rows only, in the same order.
        let b = TokenScope::Subtree("b".into());
        assert_eq!(
            page(&store, &b, 0, 100).0,
            ["account b", "month b 2024-01", "month b 2024-02"]
        );
        let conn = rusqlite::Connection::open(&path).unwrap();
        let month_entries: i64 = conn
            .query_row("SELECT COUNT(*) FROM feed WHERE kind = 'month'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(
            month_entries, 0,
            "month rows keep their position on the row only"
        );

        // A later change takes the next position, after the migrated ones.
        let day = NaiveDate::from_ymd_opt(2024, 3, 10).unwrap();
        store
            .ingest(&[DailyRow {
                account_id: "b".into(),
                date: day,
                plan: "basic".into(),
                counts: UsageCounts::new(5, 4, 3),
            }])
            .unwrap();
        let rows = store.feed_after(&all, 7, 100, true).unwrap();
        assert_eq!(
            rows.changes.iter().map(named).collect::<Vec<_>>(),
            ["month b 2024-03"]
        );
        assert_eq!((rows.last_seq, rows.head, rows.remaining), (8, 8, Some(1)));
        assert_eq!(
            store.feed_after(&all, 0, 100, true).unwrap().remaining,
            Some(7)
        );
    }
}
