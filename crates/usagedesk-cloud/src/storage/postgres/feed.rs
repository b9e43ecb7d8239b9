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
//! Pages are read in `feed_page.rs`, each kind by the query [`Kind::select`] names.

use sqlx::postgres::{PgConnection, PgRow};
use usagedesk_domain::api::Change;
use usagedesk_domain::Account;

use super::customer_rows::{self, ATTEMPT_COLS, LICENSE_COLS, REPORT_COLS};
use super::{account_status_col, col, date_col, instance_row, INSTANCE_COLS};
use crate::storage::{StoreError, TokenScope};

/// The last position handed out, committed or not (0 before the first).
pub(super) const HEAD: &str = "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM feed_seq";

/// Moves an entity to the head of the feed; returns its new position. `key`: '' for accounts
/// and tombstones, the entity's id for the others. An event takes its new position on its row
/// too, right after. (Month rows have no `feed` entry: they move with [`touch_all`], or when
/// written, by `daily::month_ends_sql`.)
pub(super) async fn touch(
    conn: &mut PgConnection,
    kind: &str,
    account_id: &str,
    key: &str,
) -> Result<i64, StoreError> {
    if kind == "month" {
        return Err(StoreError::other(
            "a month row keeps its feed position on its row alone: moved by touch_all",
        ));
    }
    let seq = touch_entry(conn, kind, account_id, key).await?;
    if kind == "event" {
        let id: i64 = key
            .parse()
            .map_err(|_| StoreError::other(format!("an event's feed key '{key}' is not its id")))?;
        sqlx::query("UPDATE instance_events SET seq = $1 WHERE id = $2")
            .bind(seq)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(seq)
}

async fn touch_entry(
    conn: &mut PgConnection,
    kind: &str,
    account_id: &str,
    key: &str,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO feed(seq, kind, account_id, key) VALUES (nextval('feed_seq'), $1, $2, $3)
         ON CONFLICT (account_id, kind, key) DO UPDATE SET seq = excluded.seq
         RETURNING seq",
    )
    .bind(kind)
    .bind(account_id)
    .bind(key)
    .fetch_one(&mut *conn)
    .await?)
}

/// The touches of `touches` that are each entity's last, in order: where a batch of touches
/// leaves each entity, as the same touches one at a time would.
pub(super) fn last_touches<'t, 'k>(
    touches: &'t [(&'k str, String, String)],
) -> Vec<&'t (&'k str, String, String)> {
    let mut last = std::collections::HashMap::with_capacity(touches.len());
    for (i, (kind, account, key)) in touches.iter().enumerate() {
        last.insert((*kind, account.as_str(), key.as_str()), i);
    }
    touches
        .iter()
        .enumerate()
        .filter(|(i, (kind, account, key))| {
            last.get(&(*kind, account.as_str(), key.as_str())) == Some(i)
        })
        .map(|(_, t)| t)
        .collect()
}

/// Moves many entities to the head of the feed in one statement, in the order given (an
/// entity given twice ends where its last touch puts it), exactly as one [`touch`] each.
/// Month rows take their new positions on their rows alone (a month without a row takes
/// none), events on their rows and their entries, in the same statement.
pub(super) async fn touch_all(
    conn: &mut PgConnection,
    touches: &[(&str, String, String)],
) -> Result<(), StoreError> {
    if touches.is_empty() {
        return Ok(());
    }
    let (mut kinds, mut accounts, mut keys) = (Vec::new(), Vec::new(), Vec::new());
    for (kind, account, key) in last_touches(touches) {
        kinds.push(*kind);
        accounts.push(account.as_str());
        keys.push(key.as_str());
    }
    const INSERT: &str = "INSERT INTO feed(seq, kind, account_id, key)
         SELECT nextval('feed_seq'), k, a, t FROM (
             SELECT k, a, t, n FROM unnest($1::text[], $2::text[], $3::text[])
                 WITH ORDINALITY AS u(k, a, t, n)
             ORDER BY n) s
         ON CONFLICT (account_id, kind, key) DO UPDATE SET seq = excluded.seq";
    // The rows that keep their position: month rows (on the row alone) and events (an
    // event's key is its id; the CASE keeps the cast off other kinds' keys). Positions are
    // drawn once for every touch, in order (`p`, referenced three times, is evaluated once).
    const POSITIONED: &str = "WITH p AS (
             SELECT nextval('feed_seq') AS seq, k, a, t FROM (
                 SELECT k, a, t, n FROM unnest($1::text[], $2::text[], $3::text[])
                     WITH ORDINALITY AS u(k, a, t, n)
                 ORDER BY n) s),
         f AS (INSERT INTO feed(seq, kind, account_id, key)
               SELECT seq, k, a, t FROM p WHERE k <> 'month'
               ON CONFLICT (account_id, kind, key) DO UPDATE SET seq = excluded.seq),
         m AS (UPDATE month_usage m SET seq = p.seq FROM p
               WHERE p.k = 'month' AND m.account_id = p.a AND m.month = p.t)
         UPDATE instance_events e SET seq = p.seq FROM p
         WHERE p.k = 'event' AND e.id = CASE WHEN p.k = 'event' THEN CAST(p.t AS BIGINT) END";
    for chunk in (0..kinds.len()).collect::<Vec<_>>().chunks(50_000) {
        let (a, b) = (chunk[0], chunk[chunk.len() - 1] + 1);
        let positioned = kinds[a..b].iter().any(|k| *k == "month" || *k == "event");
        sqlx::query(if positioned { POSITIONED } else { INSERT })
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
///
/// The subtree's accounts are read once per statement into a hash (`IS TRUE` keeps the
/// planner from turning the `IN` into a join): as an `EXISTS`, the statement's generic plan
/// (which guesses a subtree of 18 accounts) compared every month row with every account of
/// the subtree, 7-9 s a page for a quarter of 100k accounts. (The feed's filter, inside a
/// `CASE`, is hashed the same way.)
pub(super) fn month_scope_filter(scope: &TokenScope) -> &'static str {
    match scope {
        TokenScope::All => "true",
        TokenScope::Subtree(_) => {
            "(m.account_id IN (SELECT c.descendant FROM closure c WHERE c.ancestor = $3)) IS TRUE"
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Account,
    Month,
    Instance,
    License,
    Report,
    Event,
    Attempt,
}

/// Every kind of row on the feed and its name there (tombstones have no row).
pub(super) const KINDS: [(Kind, &str); 7] = [
    (Kind::Account, "account"),
    (Kind::Month, "month"),
    (Kind::Instance, "instance"),
    (Kind::License, "license"),
    (Kind::Report, "report"),
    (Kind::Event, "event"),
    (Kind::Attempt, "attempt"),
];

impl Kind {
    /// The columns after `f.seq, f.account_id, f.key` and the join of this kind's query;
    /// `None` for month rows and events, read by `COPY` (`feed_copied`).
    pub(super) fn select(self) -> Option<String> {
        Some(match self {
            Kind::Account => "a.name, a.parent_id, a.status, a.created_at
                 FROM feed f JOIN accounts a ON a.id = f.account_id"
                .into(),
            Kind::Month | Kind::Event => return None,
            Kind::Instance => {
                format!("{INSTANCE_COLS} FROM feed f JOIN instances i ON i.id = f.key")
            }
            Kind::License => format!("{LICENSE_COLS} FROM feed f JOIN licenses l ON l.id = f.key"),
            Kind::Report => format!(
                "{REPORT_COLS} FROM feed f JOIN instance_reports r ON r.instance_id = f.key"
            ),
            Kind::Attempt => {
                format!("{ATTEMPT_COLS} FROM feed f JOIN install_attempts t ON t.id = f.key")
            }
        })
    }

    /// The change a row of this kind's query holds.
    pub(super) fn read(self, r: &PgRow) -> Result<Change, StoreError> {
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
            Kind::Instance => Change::Instance(instance_row(r, AT)?),
            Kind::License => {
                Change::License(customer_rows::license_row(r, AT, key()?, account_id()?)?)
            }
            Kind::Report => Change::InstanceReport(customer_rows::report_row(r, AT, key()?)?),
            Kind::Month | Kind::Event => {
                return Err(StoreError::other(
                    "month rows and events are read by COPY, not as rows",
                ))
            }
            // Its steps are read for the whole page at once (see `page`).
            Kind::Attempt => Change::InstallAttempt(customer_rows::attempt_row(r, AT, key()?)?),
        })
    }
}
