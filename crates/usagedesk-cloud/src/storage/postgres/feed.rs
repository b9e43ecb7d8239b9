//! The change feed on PostgreSQL: moving entities to its head, and reading pages.
//!
//! **Why a reader never skips a row.** A sequence hands out positions at insert time, and
//! concurrent transactions would commit them in another order: a reader that saw position 12
//! committed could later miss 11, committed after it. Here every transaction that writes the
//! feed holds the engine's write lock ([`super::WRITE_LOCK`], a transaction-level advisory
//! lock) from before its first position to its commit, and PostgreSQL releases it only once
//! the commit is visible. So the positions of one writer are all visible before the next
//! writer draws any: whenever a reader's snapshot shows a position, it shows every lower
//! position that will ever be committed, and paging on `seq > cursor` is exact. (A fence at
//! `pg_snapshot_xmin` over a per-row transaction id was the alternative; it lets writers run
//! together but needs a column and a filter on every read, and the service's other rules
//! — a check-in judged against the stored report, a nonce answered once — want serialised
//! writes anyway, as on SQLite.)
//!
//! A page is read in one snapshot (a read-only REPEATABLE READ transaction): a summary of the
//! page's range first (its last position and how many entries of each kind it holds, without
//! sending the entries), then one query per kind present over that range, streamed. Month
//! rows, most of the feed, keep their own position (`month_usage.seq`, set by the statement
//! that moves them on the feed), so their query is one range scan of `month_usage_seq`; the
//! other kinds are joined by key, with index lookups only (see `Feed::feed_after`).

use futures_util::TryStreamExt;
use sqlx::postgres::{PgArguments, PgConnection, PgRow};
use sqlx::query::Query;
use sqlx::Postgres;
use sqlx::Row;
use usagedesk_domain::api::{Change, MonthUsage};
use usagedesk_domain::Account;

use super::customer_rows::{self, ATTEMPT_COLS, EVENT_COLS, LICENSE_COLS, REPORT_COLS};
use super::{
    account_status_col, col, counts_cols, date_col, instance_row, month_col, INSTANCE_COLS,
};
use crate::storage::{StoreError, TokenScope};

/// Moves an entity to the head of the feed; returns its new position. `key`: '' for accounts
/// and tombstones, the month for month rows, the entity's id for the others. A month row
/// takes its new position in the same statement.
pub(super) async fn touch(
    conn: &mut PgConnection,
    kind: &str,
    account_id: &str,
    key: &str,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "WITH t AS (
             INSERT INTO feed(seq, kind, account_id, key) VALUES (nextval('feed_seq'), $1, $2, $3)
             ON CONFLICT (account_id, kind, key) DO UPDATE SET seq = excluded.seq
             RETURNING seq),
         m AS (
             UPDATE month_usage SET seq = (SELECT seq FROM t)
             WHERE $1 = 'month' AND account_id = $2 AND month = $3)
         SELECT seq FROM t",
    )
    .bind(kind)
    .bind(account_id)
    .bind(key)
    .fetch_one(&mut *conn)
    .await?)
}

/// Moves many entities to the head of the feed in one statement, in the order given (an
/// entity given twice ends where its last touch puts it), exactly as one [`touch`] each
/// (month rows take their new positions in the same statement).
pub(super) async fn touch_all(
    conn: &mut PgConnection,
    touches: &[(&str, String, String)],
) -> Result<(), StoreError> {
    if touches.is_empty() {
        return Ok(());
    }
    let mut last = std::collections::HashMap::new();
    for (i, (kind, account, key)) in touches.iter().enumerate() {
        last.insert((*kind, account.as_str(), key.as_str()), i);
    }
    let (mut kinds, mut accounts, mut keys) = (Vec::new(), Vec::new(), Vec::new());
    for (i, (kind, account, key)) in touches.iter().enumerate() {
        if last.get(&(*kind, account.as_str(), key.as_str())) == Some(&i) {
            kinds.push(*kind);
            accounts.push(account.as_str());
            keys.push(key.as_str());
        }
    }
    const INSERT: &str = "INSERT INTO feed(seq, kind, account_id, key)
         SELECT nextval('feed_seq'), k, a, t FROM (
             SELECT k, a, t, n FROM unnest($1::text[], $2::text[], $3::text[])
                 WITH ORDINALITY AS u(k, a, t, n)
             ORDER BY n) s
         ON CONFLICT (account_id, kind, key) DO UPDATE SET seq = excluded.seq";
    let with_months = format!(
        "WITH t AS ({INSERT} RETURNING seq, kind, account_id, key)
         UPDATE month_usage m SET seq = t.seq FROM t
         WHERE t.kind = 'month' AND m.account_id = t.account_id AND m.month = t.key"
    );
    for chunk in (0..kinds.len()).collect::<Vec<_>>().chunks(50_000) {
        let (a, b) = (chunk[0], chunk[chunk.len() - 1] + 1);
        let months = kinds[a..b].contains(&"month");
        sqlx::query(if months { &with_months } else { INSERT })
            .bind(&kinds[a..b])
            .bind(&accounts[a..b])
            .bind(&keys[a..b])
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The filter on `feed f` that keeps what a scope may see (`$3`: the scope's root).
pub(super) fn scope_filter(scope: &TokenScope) -> &'static str {
    match scope {
        TokenScope::All => "true",
        TokenScope::Subtree(_) => {
            "CASE WHEN f.kind = 'tombstone'
                THEN EXISTS (SELECT 1 FROM tombstone_scope t WHERE t.ancestor = $3 AND t.seq = f.seq)
                ELSE EXISTS (SELECT 1 FROM closure c WHERE c.ancestor = $3 AND c.descendant = f.account_id)
             END"
        }
    }
}

/// [`scope_filter`] for month rows read from `month_usage m`.
fn month_scope_filter(scope: &TokenScope) -> &'static str {
    match scope {
        TokenScope::All => "true",
        TokenScope::Subtree(_) => {
            "EXISTS (SELECT 1 FROM closure c WHERE c.ancestor = $3 AND c.descendant = m.account_id)"
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Account,
    Month,
    Instance,
    License,
    Report,
    Event,
    Attempt,
}

const KINDS: [(Kind, &str); 7] = [
    (Kind::Account, "account"),
    (Kind::Month, "month"),
    (Kind::Instance, "instance"),
    (Kind::License, "license"),
    (Kind::Report, "report"),
    (Kind::Event, "event"),
    (Kind::Attempt, "attempt"),
];

impl Kind {
    /// The columns after `f.seq, f.account_id, f.key` and the join of this kind's query.
    fn select(self) -> String {
        match self {
            Kind::Account => "a.name, a.parent_id, a.status, a.created_at
                 FROM feed f JOIN accounts a ON a.id = f.account_id"
                .into(),
            // Read from `month_usage` alone (see `page`).
            Kind::Month => String::new(),
            Kind::Instance => {
                format!("{INSTANCE_COLS} FROM feed f JOIN instances i ON i.id = f.key")
            }
            Kind::License => format!("{LICENSE_COLS} FROM feed f JOIN licenses l ON l.id = f.key"),
            Kind::Report => format!(
                "{REPORT_COLS} FROM feed f JOIN instance_reports r ON r.instance_id = f.key"
            ),
            Kind::Event => format!(
                "{EVENT_COLS} FROM feed f JOIN instance_events e ON e.id = CAST(f.key AS BIGINT)"
            ),
            Kind::Attempt => {
                format!("{ATTEMPT_COLS} FROM feed f JOIN install_attempts t ON t.id = f.key")
            }
        }
    }

    fn read(self, r: &PgRow) -> Result<Change, StoreError> {
        const AT: usize = 3;
        let account_id = || col::<String>(r, 1);
        let key = || col::<String>(r, 2);
        Ok(match self {
            Kind::Account => Change::Account(Account {
                id: account_id()?,
                name: col(r, AT)?,
                parent_id: col(r, AT + 1)?,
                status: account_status_col(r, AT + 2)?,
                created_at: date_col(r, AT + 3)?,
            }),
            Kind::Month => Change::MonthUsage(MonthUsage {
                account_id: account_id()?,
                month: month_col(r, AT)?,
                plan: col(r, AT + 1)?,
                snapshot_date: date_col(r, AT + 2)?,
                counts: counts_cols(r, AT + 3)?,
            }),
            Kind::Instance => Change::Instance(instance_row(r, AT)?),
            Kind::License => {
                Change::License(customer_rows::license_row(r, AT, key()?, account_id()?)?)
            }
            Kind::Report => Change::InstanceReport(customer_rows::report_row(r, AT, key()?)?),
            Kind::Event => Change::InstanceEvent(customer_rows::event_row(r, AT)?),
            // Its steps are read for the whole page at once (see `page`).
            Kind::Attempt => Change::InstallAttempt(customer_rows::attempt_row(r, AT, key()?)?),
        })
    }
}

pub(super) struct Page {
    pub changes: Vec<Change>,
    pub last_seq: i64,
    pub has_more: bool,
    /// Positions handed out, committed or not, when the page was read.
    pub head: i64,
}

/// Up to `limit` changes after `after` that `scope` may see, in seq order (inside the
/// caller's snapshot).
///
/// A summary query finds the page's range and how many entries of each kind lie in it,
/// without sending the entries themselves (a page of 20,000 months is one row); a second
/// finds whether more follow. Then one query per kind present reads its rows over that
/// range, decoded while the server is still sending (streamed, not collected first), and the
/// rows are put in position order. Each kind must yield exactly the entries the summary
/// counted: an entry whose row is not stored, or of a kind this build does not know, is an
/// inconsistent database and reported as such.
pub(super) async fn page(
    conn: &mut PgConnection,
    scope: &TokenScope,
    after: i64,
    limit: usize,
) -> Result<Page, StoreError> {
    let filter = scope_filter(scope);
    let root = super::scope_root(scope);
    let sql = format!(
        "SELECT p.kind, COUNT(*), MAX(p.seq)
         FROM (SELECT f.seq, f.kind FROM feed f
               WHERE f.seq > $1 AND {filter} ORDER BY f.seq LIMIT $2) p
         GROUP BY p.kind"
    );
    let limit_arg = i64::try_from(limit).unwrap_or(i64::MAX);
    // Entries of each kind of `KINDS`, then of tombstones.
    let mut expected = [0usize; KINDS.len() + 1];
    let mut last_seq = after;
    for r in bound(&sql, after, limit_arg, root)
        .fetch_all(&mut *conn)
        .await?
    {
        let kind: &str = r.try_get(0)?;
        let i = match KINDS.iter().position(|(_, name)| *name == kind) {
            Some(i) => i,
            None if kind == "tombstone" => KINDS.len(),
            None => {
                return Err(inconsistent(format!(
                    "the feed holds entries of kind '{kind}', which this build does not know"
                )))
            }
        };
        expected[i] = r.try_get::<i64, _>(1)?.max(0) as usize;
        last_seq = last_seq.max(r.try_get(2)?);
    }
    // Whether an entry follows the page, and the positions handed out (committed or not).
    let sql = format!(
        "SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM feed_seq),
             EXISTS (SELECT 1 FROM feed f WHERE f.seq > $1 AND {filter})"
    );
    let mut q = sqlx::query(&sql).bind(last_seq);
    if let Some(root) = root {
        // `$2` is not used; the filter names the root as `$3`.
        q = q.bind(0_i64).bind(root);
    }
    let (head, has_more): (i64, bool) = {
        let r = q.fetch_one(&mut *conn).await?;
        (r.try_get(0)?, r.try_get(1)?)
    };

    let mut rows: Vec<(i64, Change)> = Vec::with_capacity(expected.iter().sum());
    for (i, &(kind, name)) in KINDS.iter().enumerate() {
        if expected[i] == 0 {
            continue;
        }
        let sql = if kind == Kind::Month {
            // Each month row keeps its feed position: one range scan of `month_usage_seq`.
            format!(
                "SELECT m.seq, m.account_id, m.month, m.month, m.plan, m.snapshot_date,
                     m.users_registered, m.users_with_token, m.users_with_activity
                 FROM month_usage m
                 WHERE m.seq > $1 AND m.seq <= $2 AND {}",
                month_scope_filter(scope)
            )
        } else {
            format!(
                "SELECT f.seq, f.account_id, f.key, {}
                 WHERE f.seq > $1 AND f.seq <= $2 AND f.kind = '{name}' AND {filter}",
                kind.select()
            )
        };
        let q = bound(&sql, after, last_seq, root);
        let read = read_streamed(conn, q, &mut rows, |r| kind.read(r)).await?;
        check_count(name, read, expected[i])?;
    }
    let tombstones = expected[KINDS.len()];
    if tombstones > 0 {
        let sql = format!(
            "SELECT f.seq, f.account_id FROM feed f
             WHERE f.seq > $1 AND f.seq <= $2 AND f.kind = 'tombstone' AND {filter}"
        );
        let q = bound(&sql, after, last_seq, root);
        let read = read_streamed(conn, q, &mut rows, |r| {
            Ok(Change::Tombstone {
                account_id: col(r, 1)?,
            })
        })
        .await?;
        check_count("tombstone", read, tombstones)?;
    }
    rows.sort_unstable_by_key(|(seq, _)| *seq);
    let mut changes: Vec<Change> = rows.into_iter().map(|(_, c)| c).collect();
    read_steps(conn, &mut changes).await?;
    Ok(Page {
        changes,
        last_seq,
        has_more,
        head,
    })
}

/// `sql` with its parameters: `$1` and `$2` the two positions, `$3` the scope's root if any.
fn bound<'q>(
    sql: &'q str,
    one: i64,
    two: i64,
    root: Option<&'q str>,
) -> Query<'q, Postgres, PgArguments> {
    let q = sqlx::query(sql).bind(one).bind(two);
    match root {
        Some(root) => q.bind(root),
        None => q,
    }
}

fn inconsistent(what: String) -> StoreError {
    StoreError::Invalid(format!("{what}; the database is inconsistent"))
}

/// A kind's rows must be exactly the entries of that kind in the page.
fn check_count(kind: &str, read: usize, expected: usize) -> Result<(), StoreError> {
    if read == expected {
        return Ok(());
    }
    Err(inconsistent(format!(
        "the feed lists {expected} {kind} entries in a page and {read} rows were found for them"
    )))
}

/// Runs one kind's query, decoding each row (by `read`) as it arrives, into `rows` with its
/// position (column 0); returns how many rows were read.
async fn read_streamed(
    conn: &mut PgConnection,
    q: Query<'_, Postgres, PgArguments>,
    rows: &mut Vec<(i64, Change)>,
    read: impl Fn(&PgRow) -> Result<Change, StoreError>,
) -> Result<usize, StoreError> {
    let mut stream = q.fetch(&mut *conn);
    let mut n = 0;
    while let Some(r) = stream.try_next().await? {
        rows.push((r.try_get(0)?, read(&r)?));
        n += 1;
    }
    Ok(n)
}

/// Fills in the steps of the page's install attempts, with one query.
async fn read_steps(conn: &mut PgConnection, changes: &mut [Change]) -> Result<(), StoreError> {
    let ids: Vec<&str> = changes
        .iter()
        .filter_map(|c| match c {
            Change::InstallAttempt(a) => Some(a.id.as_str()),
            _ => None,
        })
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let rows = sqlx::query(
        "SELECT attempt_id, name, at FROM install_steps WHERE attempt_id = ANY($1)
         ORDER BY attempt_id, position",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut steps: std::collections::HashMap<String, Vec<usagedesk_domain::customer::InstallStep>> =
        std::collections::HashMap::new();
    for r in &rows {
        steps
            .entry(col(r, 0)?)
            .or_default()
            .push(usagedesk_domain::customer::InstallStep {
                name: col(r, 1)?,
                at: super::time_col(r, 2)?,
            });
    }
    for change in changes.iter_mut() {
        if let Change::InstallAttempt(a) = change {
            a.steps = steps.remove(&a.id).unwrap_or_default();
        }
    }
    Ok(())
}
