//! A page of the change feed on PostgreSQL, read in one snapshot (a read-only REPEATABLE READ
//! transaction; why a reader never skips a row: `feed.rs`).
//!
//! 1. **A summary**: how many entries of each kind the page's range holds and its last
//!    position, without sending the entries (a page of 20,000 month rows is one row back),
//!    over one entry more than the page: whether an entry follows it.
//! 2. **Each kind present**, read over that range by its own query ([`Kind::select`]; month
//!    rows and events by binary `COPY`, `feed_copied`) and streamed: rows are decoded while
//!    the server still sends them.
//! 3. **Two readers when one is idle**: for a page of at least [`SPLIT_AT`] entries, if another
//!    of the pool's connections is idle at that moment, the range is cut in two and the
//!    second half is read on it, in the same snapshot (exported by `pg_export_snapshot`,
//!    imported by `SET TRANSACTION SNAPSHOT`), on the engine's runtime while the calling
//!    thread reads the first half: the server's share of a page runs on two backends. A page
//!    never waits for a second connection, and one idle connection is always left for other
//!    calls: with fewer than two idle it is read by one (and, if the pool may grow, one more
//!    is opened in the background, one at a time). Under load, with the connections busy,
//!    pages are read by one each; a second connection that fails to start is dropped (rolled
//!    back) and the page read by one.
//! 4. **Checked**: each kind must yield exactly the entries the summary counted; an entry
//!    whose row is not stored, or of a kind this build does not know, is an inconsistent
//!    database and fails the page (an internal error, logged) rather than shortening it.
//!
//! Measured on the 100k-account dataset (3.2M changes, pages of 20,000, TLS on loopback, one
//! 2-core machine shared by client and server): sending the entries and then joining them
//! kind by kind took 10.0 s; the summary and streamed kinds 5.3–5.9 s; with events read by
//! their position too, 4.7–5.7 s; with the second reader, 4.4–5.1 s in the same runs (more
//! where the database server has cores to spare); later, with month rows off the feed and
//! read, with events, by binary `COPY`, 3.5–3.7 s (SQLite: 2.8–3.0 s).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::TryStreamExt;
use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Row, Transaction};
use usagedesk_domain::api::Change;

use super::feed::{month_scope_filter, scope_filter, HEAD, KINDS};
use super::feed_copied;
use super::{col, scope_root, time_col};
use crate::storage::{StoreError, TokenScope};

/// A page's joins go by index lookups only: a hash or merge join reads the whole table
/// instead, once per page (measured: 16 ms a page of events at 10k accounts, growing with the
/// table, where the lookups take 7 ms), which the planner picks on estimates of the kinds in
/// a range of positions.
const JOIN_SETTINGS: &str = "SET LOCAL enable_hashjoin = off;
     SET LOCAL enable_mergejoin = off;
     SET LOCAL enable_memoize = off";

/// How a page's transaction begins (one round trip), with [`settings`].
pub(super) fn begin(scope: &TokenScope) -> String {
    format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; {}",
        settings(scope)
    )
}

/// The planner's settings of a page's transactions ([`JOIN_SETTINGS`], and by scope):
/// - the whole vendor's pages are planned once per statement and connection (generic plans):
///   the plan of a page's statements is the same whatever its positions (index range scans,
///   index lookups), and planning each page's statements again took 0.2 ms of a page;
/// - a subtree's pages read each side of the page's entries in position order by its index,
///   never gathered another way and sorted: the planner would otherwise collect every month
///   row of the subtree's accounts and sort them (0.3-0.6 s a page of 20,000 for a quarter of
///   100k accounts, against 45-55 ms by the index). Their plans stay made for each page's
///   positions and root: a generic plan guesses the subtree's size.
fn settings(scope: &TokenScope) -> String {
    let by_scope = match scope {
        TokenScope::All => "SET LOCAL plan_cache_mode = force_generic_plan",
        TokenScope::Subtree(_) => "SET LOCAL enable_sort = off",
    };
    format!("{JOIN_SETTINGS}; {by_scope}")
}

/// Pages of at least this many entries are read by two connections when one is idle.
pub(super) const SPLIT_AT: usize = 4_096;

/// Where a second reader may come from: `pool`, for pages of at least `at_least` entries;
/// `opening` is set while a connection is opened for them (one at a time).
#[derive(Clone, Copy)]
pub(super) struct Split<'p> {
    pub pool: &'p PgPool,
    pub at_least: usize,
    pub opening: &'p Arc<AtomicBool>,
}

pub(super) struct Page {
    pub changes: Vec<Change>,
    pub last_seq: i64,
    pub has_more: bool,
    /// Positions handed out, committed or not, when the page was read.
    pub head: i64,
    /// Whether a second connection read part of it.
    pub split: bool,
}

/// Entries of each kind of `KINDS`, then of tombstones.
type Counts = [usize; KINDS.len() + 1];

/// Up to `limit` changes after `after` that `scope` may see, in seq order, read inside the
/// snapshot of `conn`'s transaction (begun with [`begin`]).
pub(super) async fn page(
    conn: &mut PgConnection,
    split: Option<Split<'_>>,
    scope: &TokenScope,
    after: i64,
    limit: usize,
) -> Result<Page, StoreError> {
    let root = scope_root(scope);
    // A page that may be read by two connections exports its snapshot in its summary.
    let split = split.filter(|s| limit >= s.at_least && two_idle(*s));
    let export = if split.is_some() {
        "(SELECT pg_export_snapshot())"
    } else {
        "''"
    };
    // One entry more than the page holds: whether an entry follows it. The positions handed
    // out (and the snapshot) are read in the same statement, once each (as init plans).
    let sql = format!(
        "SELECT p.kind, COUNT(*), MAX(p.seq), ({HEAD}), {export}
         FROM ({} ORDER BY seq LIMIT $2) p
         GROUP BY p.kind",
        entries(scope_filter(scope), month_scope_filter(scope), false)
    );
    let asked = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
    let mut expected: Counts = [0; KINDS.len() + 1];
    // Per kind present: its index in `expected` and its last position.
    let mut lasts: Vec<(usize, i64)> = Vec::with_capacity(KINDS.len() + 1);
    let mut head = None;
    let mut snapshot = String::new();
    for r in bound(&sql, after, asked, root)
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
        lasts.push((i, r.try_get(2)?));
        head = Some(r.try_get::<i64, _>(3)?);
        snapshot = r.try_get(4)?;
    }
    let head: i64 = match head {
        Some(head) => head,
        // Nothing after `after`: the feed's end.
        None => sqlx::query_scalar(HEAD).fetch_one(&mut *conn).await?,
    };
    let has_more = expected.iter().sum::<usize>() > limit;
    let last_seq = match lasts.iter().max_by_key(|(_, seq)| *seq) {
        // The entry after the page is the last one read: the page ends right before it (no
        // entry the scope may see lies between the page's last and it), and is not counted.
        Some(&(i, next)) if has_more => {
            expected[i] -= 1;
            next - 1
        }
        Some(&(_, last)) => last,
        None => after,
    };
    let total: usize = expected.iter().sum();
    let present = expected.map(|n| n > 0);
    let second = match split {
        Some(s) if total >= s.at_least => second_reader(s.pool, &snapshot, scope).await?,
        _ => None,
    };
    let split = second.is_some();
    let (mut rows, read) = match second {
        None => read_kinds(conn, scope, present, total, after, last_seq).await?,
        Some(mut tx) => {
            // Positions are drawn in order: half the range holds about half the entries.
            let mid = after + (last_seq - after) / 2;
            let their_scope = scope.clone();
            let theirs = tokio::spawn(async move {
                // Read only: dropped, it is rolled back as the connection goes back to the
                // pool, without a round trip of the page's own.
                read_kinds(&mut tx, &their_scope, present, total / 2, mid, last_seq).await
            });
            let mine = read_kinds(conn, scope, present, total, after, mid).await;
            let theirs = theirs.await.map_err(|e| {
                StoreError::other(format!("the second reader of a feed page stopped: {e}"))
            })?;
            let (mut rows, mut read) = mine?;
            let (their_rows, their_read) = theirs?;
            rows.extend(their_rows);
            for (n, m) in read.iter_mut().zip(their_read) {
                *n += m;
            }
            (rows, read)
        }
    };
    let names = KINDS
        .iter()
        .map(|(_, name)| *name)
        .chain(std::iter::once("tombstone"));
    for ((name, read), expected) in names.zip(read).zip(expected) {
        if read != expected {
            return Err(inconsistent(format!(
                "the feed lists {expected} {name} entries in a page and {read} rows were found \
                 for them"
            )));
        }
    }
    rows.sort_unstable_by_key(|(seq, _)| *seq);
    let mut changes: Vec<Change> = rows.into_iter().map(|(_, c)| c).collect();
    read_steps(conn, &mut changes).await?;
    Ok(Page {
        changes,
        last_seq,
        has_more,
        head,
        split,
    })
}

/// The first `$2` entries after `$1` that pass the filters, as `seq, kind` (and
/// `account_id` with `with_account`), to be ordered by `seq` and limited to `$2` again: the
/// feed's (`feed_filter` on `feed f`) and the month rows' (`month_filter` on `month_usage m`),
/// which keep their position on the row alone. Each side limited in `seq` order is one index
/// range scan (`feed_pkey`, `month_usage_seq`), merged and read no further than the page
/// needs; without the inner limits PostgreSQL sorted every month row after `$1` (0.6 s a page
/// at 100k accounts). Without the account, the month rows' side reads the index alone.
pub(super) fn entries(feed_filter: &str, month_filter: &str, with_account: bool) -> String {
    let (f_account, m_account) = if with_account {
        (", f.account_id", ", m.account_id")
    } else {
        ("", "")
    };
    format!(
        "(SELECT f.seq, f.kind{f_account} FROM feed f WHERE f.seq > $1 AND {feed_filter}
          ORDER BY f.seq LIMIT $2)
         UNION ALL
         (SELECT m.seq, CAST('month' AS text) COLLATE \"C\"{m_account} FROM month_usage m
          WHERE m.seq > $1 AND {month_filter} ORDER BY m.seq LIMIT $2)"
    )
}

/// Whether two connections of the pool are idle besides the page's: one for a second reader,
/// one left for other calls. When not, and the pool may grow, one more is opened in the
/// background (one at a time).
fn two_idle(split: Split<'_>) -> bool {
    let pool = split.pool;
    if pool.num_idle() >= 2 {
        return true;
    }
    // Two besides this page's, held together so that the second is not the first taken
    // back; both go back to the pool idle. A failure is the next call's to report.
    let room = pool.size() + 2 < pool.options().get_max_connections();
    if room && !split.opening.swap(true, Ordering::AcqRel) {
        let (pool, opening) = (pool.clone(), split.opening.clone());
        tokio::spawn(async move {
            let first = pool.acquire().await;
            let second = pool.acquire().await;
            drop((first, second));
            opening.store(false, Ordering::Release);
        });
    }
    false
}

/// A transaction on another idle connection of `pool` in the snapshot `id` (exported by the
/// page's transaction), with the page's [`settings`]; `None` when no connection is idle any
/// more, or when it cannot start (it is checked less than a connection the pool hands out:
/// the page is read by one).
async fn second_reader(
    pool: &PgPool,
    id: &str,
    scope: &TokenScope,
) -> Result<Option<Transaction<'static, Postgres>>, StoreError> {
    // An identifier such as 00000003-0000001B-1; nothing else is put into SQL.
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(StoreError::other(format!(
            "PostgreSQL named a snapshot '{id}', which is not a snapshot identifier"
        )));
    }
    // Begun first, so that a failure after BEGIN rolls back when the transaction is dropped
    // (a connection in a failed transaction never goes back to the pool).
    let started = async {
        let Some(mut tx) = pool
            .try_begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?
        else {
            // Another call took the idle connection meanwhile.
            return Ok(None);
        };
        sqlx::raw_sql(&format!(
            "SET TRANSACTION SNAPSHOT '{id}'; {}",
            settings(scope)
        ))
        .execute(&mut *tx)
        .await?;
        Ok::<_, sqlx::Error>(Some(tx))
    };
    match started.await {
        Ok(tx) => Ok(tx),
        Err(e) => {
            tracing::warn!(
                "a feed page is read by one connection: the second failed to start: {e}"
            );
            Ok(None)
        }
    }
}

/// The rows of positions `(from, to]` of each kind `present` marks (tombstones last), and how
/// many of each were read (`expected`: about how many in all).
async fn read_kinds(
    conn: &mut PgConnection,
    scope: &TokenScope,
    present: [bool; KINDS.len() + 1],
    expected: usize,
    from: i64,
    to: i64,
) -> Result<(Vec<(i64, Change)>, Counts), StoreError> {
    let filter = scope_filter(scope);
    let root = scope_root(scope);
    let mut rows: Vec<(i64, Change)> = Vec::with_capacity(expected);
    let mut read: Counts = [0; KINDS.len() + 1];
    for (i, &(kind, name)) in KINDS.iter().enumerate() {
        if !present[i] {
            continue;
        }
        let Some(select) = kind.select() else {
            read[i] = feed_copied::read(conn, kind, scope, from, to, &mut rows).await?;
            continue;
        };
        let sql = format!(
            "SELECT f.seq, f.account_id, f.key, {select}
             WHERE f.seq > $1 AND f.seq <= $2 AND f.kind = '{name}' AND {filter}"
        );
        let q = bound(&sql, from, to, root);
        read[i] = read_streamed(conn, q, &mut rows, |r| kind.read(r)).await?;
    }
    if present[KINDS.len()] {
        let sql = format!(
            "SELECT f.seq, f.account_id FROM feed f
             WHERE f.seq > $1 AND f.seq <= $2 AND f.kind = 'tombstone' AND {filter}"
        );
        let q = bound(&sql, from, to, root);
        read[KINDS.len()] = read_streamed(conn, q, &mut rows, |r| {
            Ok(Change::Tombstone {
                account_id: col(r, 1)?,
            })
        })
        .await?;
    }
    Ok((rows, read))
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

/// Not the client's doing: an internal error (500), logged with the message.
fn inconsistent(what: String) -> StoreError {
    StoreError::other(format!("{what}; the database is inconsistent"))
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
                at: time_col(r, 2)?,
            });
    }
    for change in changes.iter_mut() {
        if let Change::InstallAttempt(a) = change {
            a.steps = steps.remove(&a.id).unwrap_or_default();
        }
    }
    Ok(())
}
