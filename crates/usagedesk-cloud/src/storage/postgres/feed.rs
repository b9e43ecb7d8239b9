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
//! A page is read in one snapshot (a read-only REPEATABLE READ transaction): the entries
//! first, then one query per kind over the page's range, as the SQLite engine does. Month
//! rows, most of the feed, keep their own position (`month_usage.seq`, set by the statement
//! that moves them on the feed), so their query is one range scan of `month_usage_seq`; the
//! other kinds are joined by key, with index lookups only (see `Feed::feed_after`).

use sqlx::postgres::{PgConnection, PgRow};
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
    fn of(name: &str) -> Option<Self> {
        KINDS.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }

    fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("", |(_, n)| n)
    }

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
}

/// Up to `limit` changes after `after` that `scope` may see, in seq order (inside the
/// caller's snapshot).
pub(super) async fn page(
    conn: &mut PgConnection,
    scope: &TokenScope,
    after: i64,
    limit: usize,
) -> Result<Page, StoreError> {
    let filter = scope_filter(scope);
    let root = super::scope_root(scope);
    let mut seqs: Vec<i64> = Vec::with_capacity(limit.min(20_000));
    let mut slots: Vec<Option<Change>> = Vec::with_capacity(limit.min(20_000));
    let mut kinds: Vec<Kind> = Vec::new();
    let sql = format!(
        "SELECT f.seq, f.kind, f.account_id FROM feed f
         WHERE f.seq > $1 AND {filter} ORDER BY f.seq LIMIT $2"
    );
    let mut q = sqlx::query(&sql).bind(after).bind(limit as i64 + 1);
    if let Some(root) = root {
        q = q.bind(root);
    }
    let rows = q.fetch_all(&mut *conn).await?;
    let has_more = rows.len() > limit;
    for r in rows.iter().take(limit) {
        seqs.push(r.try_get(0)?);
        let kind: &str = r.try_get(1)?;
        match Kind::of(kind) {
            Some(k) => {
                if !kinds.contains(&k) {
                    kinds.push(k);
                }
                slots.push(None);
            }
            None => slots.push(Some(Change::Tombstone {
                account_id: r.try_get(2)?,
            })),
        }
    }
    let last_seq = seqs.last().copied().unwrap_or(after);
    for kind in kinds {
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
                 WHERE f.seq > $1 AND f.seq <= $2 AND f.kind = '{}' AND {filter}",
                kind.select(),
                kind.name()
            )
        };
        let mut q = sqlx::query(&sql).bind(after).bind(last_seq);
        if let Some(root) = root {
            q = q.bind(root);
        }
        let rows = q.fetch_all(&mut *conn).await?;
        for r in &rows {
            let seq: i64 = r.try_get(0)?;
            if let Ok(i) = seqs.binary_search(&seq) {
                slots[i] = Some(kind.read(r)?);
            }
        }
    }
    read_steps(conn, &mut slots).await?;
    let mut changes = Vec::with_capacity(slots.len());
    for (slot, seq) in slots.into_iter().zip(&seqs) {
        changes.push(slot.ok_or_else(|| {
            StoreError::Invalid(format!(
                "feed entry {seq} names a row that is not stored; the database is inconsistent"
            ))
        })?);
    }
    Ok(Page {
        changes,
        last_seq,
        has_more,
    })
}

/// Fills in the steps of the page's install attempts, with one query.
async fn read_steps(
    conn: &mut PgConnection,
    slots: &mut [Option<Change>],
) -> Result<(), StoreError> {
    let ids: Vec<&str> = slots
        .iter()
        .filter_map(|s| match s {
            Some(Change::InstallAttempt(a)) => Some(a.id.as_str()),
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
    for slot in slots.iter_mut() {
        if let Some(Change::InstallAttempt(a)) = slot {
            a.steps = steps.remove(&a.id).unwrap_or_default();
        }
    }
    Ok(())
}
