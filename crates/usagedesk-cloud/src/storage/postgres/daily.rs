//! Daily rows and the month-end rows derived from them, set-based: the rows of a call go in
//! with one statement, and one statement derives every touched month's end, writes the
//! changed ones and moves them to the head of the feed in (account, month) order.

use std::collections::{BTreeSet, HashMap};

use sqlx::postgres::PgConnection;
use usagedesk_domain::YearMonth;

use crate::storage::{DailyRow, StoreError};

/// Inserts or replaces daily rows (of one (account, date) given twice, the later wins);
/// returns the (account, month) pairs they touch.
pub(super) async fn write_daily(
    conn: &mut PgConnection,
    rows: &[&DailyRow],
    touched: &mut BTreeSet<(String, YearMonth)>,
) -> Result<usize, StoreError> {
    let mut last: HashMap<(&str, chrono::NaiveDate), usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        last.insert((r.account_id.as_str(), r.date), i);
        touched.insert((r.account_id.clone(), YearMonth::of(r.date)));
    }
    let keep: Vec<&DailyRow> = rows
        .iter()
        .enumerate()
        .filter(|(i, r)| last.get(&(r.account_id.as_str(), r.date)) == Some(i))
        .map(|(_, r)| *r)
        .collect();
    if keep.is_empty() {
        return Ok(rows.len());
    }
    let n = |f: fn(&DailyRow) -> u64| -> Vec<i64> {
        keep.iter()
            .map(|r| f(r).min(i64::MAX as u64) as i64)
            .collect()
    };
    sqlx::query(
        "INSERT INTO daily_usage
           (account_id, date, plan, users_registered, users_with_token, users_with_activity)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],
                              $6::bigint[])
         ON CONFLICT (account_id, date) DO UPDATE SET plan = excluded.plan,
           users_registered = excluded.users_registered,
           users_with_token = excluded.users_with_token,
           users_with_activity = excluded.users_with_activity",
    )
    .bind(
        keep.iter()
            .map(|r| r.account_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(keep.iter().map(|r| r.date.to_string()).collect::<Vec<_>>())
    .bind(keep.iter().map(|r| r.plan.as_str()).collect::<Vec<_>>())
    .bind(n(|r| r.counts.users_registered))
    .bind(n(|r| r.counts.users_with_token))
    .bind(n(|r| r.counts.users_with_activity))
    .execute(&mut *conn)
    .await?;
    Ok(rows.len())
}

/// Derives the month-end row of every `(account, month)` in the table `keys` (columns
/// `account_id`, `month`) from its latest daily row; writes those that changed and moves them
/// to the head of the feed in (account, month) order. Returns how many changed.
pub(super) fn refresh_sql(keys: &str) -> String {
    month_ends_sql(&format!(
        "SELECT DISTINCT ON (d.account_id, k.month)
                d.account_id, k.month, d.plan, d.date, d.users_registered,
                d.users_with_token, d.users_with_activity
         FROM {keys} k
         JOIN daily_usage d ON d.account_id = k.account_id
              AND d.date >= k.month || '-01' AND d.date <= k.month || '-31'
         ORDER BY d.account_id, k.month, d.date DESC"
    ))
}

/// Writes the month-end rows `latest` selects (account, month, plan, snapshot date, the three
/// counts; one per key) where they differ from the stored ones, and moves those to the head
/// of the feed in (account, month) order; its row count is how many changed.
///
/// The changed rows draw their feed positions in (account, month) order; a month row's
/// position is its `seq` alone (no `feed` entry: pages read month rows by `month_usage_seq`).
pub(super) fn month_ends_sql(latest: &str) -> String {
    format!(
        "WITH latest (account_id, month, plan, snapshot_date, users_registered,
                 users_with_token, users_with_activity) AS ({latest}),
         changed AS (
             SELECT l.* FROM latest l
             LEFT JOIN month_usage m ON m.account_id = l.account_id AND m.month = l.month
             WHERE m.account_id IS NULL
                OR (m.plan, m.snapshot_date, m.users_registered, m.users_with_token,
                    m.users_with_activity)
                   IS DISTINCT FROM (l.plan, l.snapshot_date, l.users_registered,
                    l.users_with_token, l.users_with_activity)),
         placed AS (
             SELECT c.*, nextval('feed_seq') AS seq
             FROM (SELECT * FROM changed ORDER BY account_id, month) c)
         INSERT INTO month_usage AS m (account_id, month, plan, snapshot_date,
             users_registered, users_with_token, users_with_activity, seq)
         SELECT account_id, month, plan, snapshot_date, users_registered,
             users_with_token, users_with_activity, seq FROM placed
         ON CONFLICT (account_id, month) DO UPDATE SET plan = excluded.plan,
             snapshot_date = excluded.snapshot_date,
             users_registered = excluded.users_registered,
             users_with_token = excluded.users_with_token,
             users_with_activity = excluded.users_with_activity,
             seq = excluded.seq"
    )
}

/// [`refresh_sql`] over the pairs of `touched`.
pub(super) async fn refresh_month_usage(
    conn: &mut PgConnection,
    touched: &BTreeSet<(String, YearMonth)>,
) -> Result<usize, StoreError> {
    if touched.is_empty() {
        return Ok(0);
    }
    let keys = "(SELECT * FROM unnest($1::text[], $2::text[]) AS t(account_id, month))";
    let changed = sqlx::query(&refresh_sql(keys))
        .bind(touched.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>())
        .bind(
            touched
                .iter()
                .map(|(_, m)| m.to_string())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(changed as usize)
}
